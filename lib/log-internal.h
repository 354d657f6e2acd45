/*
 * log-internal.h - the JSON string escaper of log.c, shared with its unit test.
 */
#ifndef LOTA_LOG_INTERNAL_H
#define LOTA_LOG_INTERNAL_H

#include <stddef.h>

/* Write s (len bytes, any bytes) into out as the inside of a JSON string (no quotes):
 * '"' and '\\' escaped, control bytes as \n, \t, ... or \u00XX, valid UTF-8 sequences
 * copied, every byte of an invalid sequence as \u00XX (the byte's value, so a line
 * always parses and nothing is silently lost). Stops before an escape or a UTF-8
 * sequence that would not fit in cap (never writes half of one). Returns the bytes
 * written; *consumed (may be NULL) gets how many bytes of s they stand for. */
size_t lota__log_json_escape(const char *s, size_t len, char *out, size_t cap, size_t *consumed);

#endif
