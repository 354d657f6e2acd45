/*
 * lota/log.h - leveled, line-oriented logging shared by the library and its users.
 *
 * One event = one line. By default lines go to stderr as text
 *   2026-11-21T12:00:00.123Z info  msg... key=value...
 * or, with lota_log_set_format(LOTA_LOG_JSON), as one JSON object a line
 *   {"ts":"2026-11-21T12:00:00.123Z","level":"info","msg":"...","key":value,...}
 * (strings escaped so that every line parses whatever bytes it carries).
 * A program may install its own sink. Nothing that is a secret (secret keys, signatures,
 * session tokens, HMACs) may be passed to these functions; lota_log_redact_uri() and
 * lota_log_redact_header() produce loggable forms of URIs and header values that may
 * carry one.
 */
#ifndef LOTA_LOG_H
#define LOTA_LOG_H

#include <stdarg.h>
#include <lota/common.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum lota_log_level {
	LOTA_LOG_ERROR = 0,
	LOTA_LOG_WARN = 1,
	LOTA_LOG_INFO = 2,
	LOTA_LOG_DEBUG = 3,
} lota_log_level;

/* Receives one complete line, without a trailing newline. Must be thread-safe. */
typedef void (*lota_log_sink)(lota_log_level level, const char *line, size_t len, void *ud);

/* Lines above `level` are dropped (default LOTA_LOG_INFO). Thread-safe. */
LOTA_API void lota_log_set_level(lota_log_level level);
LOTA_API lota_log_level lota_log_get_level(void);

/* Install a sink (NULL restores the stderr sink). Not to be called while logging. */
LOTA_API void lota_log_set_sink(lota_log_sink sink, void *ud);

/* Parse "error", "warn", "info" or "debug" (as (ptr,len)). Returns 0 and sets *out,
 * or LOTA_E_CONFIG_VALUE. */
LOTA_API int lota_log_level_parse(const char *s, size_t len, lota_log_level *out) LOTA_WUR;
LOTA_API const char *lota_log_level_name(lota_log_level level);

LOTA_API void lota_log(lota_log_level level, const char *fmt, ...) LOTA_PRINTF(2, 3);
LOTA_API void lota_logv(lota_log_level level, const char *fmt, va_list ap);

/* The shape of a line: text (the default) or one JSON object. Thread-safe. */
typedef enum lota_log_format {
	LOTA_LOG_TEXT = 0,
	LOTA_LOG_JSON = 1,
} lota_log_format;

LOTA_API void lota_log_set_format(lota_log_format format);
LOTA_API lota_log_format lota_log_get_format(void);
/* Parse "text" or "json" (as (ptr,len)). Returns 0 and sets *out, or
 * LOTA_E_CONFIG_VALUE. */
LOTA_API int lota_log_format_parse(const char *s, size_t len, lota_log_format *out) LOTA_WUR;

/* One named value of an event: a string when str is non-NULL, else the number num. The
 * caller keeps both; fields are copied into the line. */
typedef struct lota_log_field {
	const char *key;
	const char *str;
	long long num;
} lota_log_field;

/* Log the event msg with n fields: in text, "msg key=value ..." (an empty string shows
 * as "-"); in JSON, each field is a member of the line's object (a number unquoted).
 * Values are logged as given: redact them first (lota_log_redact_uri). */
LOTA_API void lota_log_fields(lota_log_level level, const char *msg, const lota_log_field *fields,
                              size_t n);

/*
 * Copy `uri` into out (capacity out_cap, always NUL-terminated when out_cap > 0) with the
 * value of every NAME=value whose NAME ends with Signature, Security-Token, Credential,
 * AWSAccessKeyId or x-lota-ticket (case-insensitive; X-Amz-Signature, X-Amz-Credential,
 * X-Amz-Security-Token, SigV2's Signature ...) replaced by "REDACTED", wherever it
 * stands: in the query or in the path, with '=' raw or as %3D. A value runs to the next
 * '&', '?', '#', ';' or space. Returns the length written (truncated to fit).
 */
LOTA_API size_t lota_log_redact_uri(const char *uri, size_t len, char *out, size_t out_cap);

/* Nonzero when a header of that name must never be logged verbatim (Authorization,
 * X-Amz-Security-Token, Cookie, X-Lota-Peer-Auth, ...). Case-insensitive. */
LOTA_API int lota_log_header_is_secret(const char *name, size_t len);

#define lota_log_error(...) lota_log(LOTA_LOG_ERROR, __VA_ARGS__)
#define lota_log_warn(...)  lota_log(LOTA_LOG_WARN, __VA_ARGS__)
#define lota_log_info(...)  lota_log(LOTA_LOG_INFO, __VA_ARGS__)
#define lota_log_debug(...)                                    \
	do {                                                   \
		if (lota_log_get_level() >= LOTA_LOG_DEBUG)    \
			lota_log(LOTA_LOG_DEBUG, __VA_ARGS__); \
	} while (0)

#ifdef __cplusplus
}
#endif
#endif
