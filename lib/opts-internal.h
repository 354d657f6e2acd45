/*
 * opts-internal.h - reading a caller's options struct (see "Options structs" in
 * lota/common.h): the caller's struct may be older (smaller) or newer (larger) than the
 * one this library was built with, and its first member, size_t sz, says which.
 *
 * Rules for whoever adds a field: append it after the last one, never into what was the
 * struct's tail padding (an older caller's sz covers that padding, whose bytes are not
 * guaranteed zero), and make zero mean "as before". The first released size of each
 * struct stays the minimum its reader passes here.
 */
#ifndef LOTA_OPTS_INTERNAL_H
#define LOTA_OPTS_INTERNAL_H

#include <stddef.h>

#include <lota/common.h>

/* The end of a member: the released size of a struct is the end of its last field. */
#define LOTA__OFFSETOFEND(type, member) (offsetof(type, member) + sizeof(((type *)0)->member))

/*
 * Copy the caller's struct at `opts` into `out` (known_sz bytes, this library's layout):
 * its first sz bytes, the rest zero. Returns 0, or LOTA_E_OPTS (out then all zero) when
 * sz < min_sz (an unset sz is 0), sz > LOTA_OPTS_MAX (not read at all), or sz > known_sz
 * with a non-zero byte in opts[known_sz .. sz). opts must not be NULL.
 */
int lota__opts_load(const void *opts, size_t min_sz, size_t known_sz, void *out) LOTA_WUR;

#endif
