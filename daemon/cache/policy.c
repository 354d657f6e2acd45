/*
 * policy.c - what the cache takes: the request directives (Cache-Control, Pragma), which
 * queries a cached read may carry, which requests are cacheable at all, and the
 * configuration defaults.
 */
#include "cache/cache-internal.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "util/names.h"

void lotad_cache_config_init(lotad_cache_config *c)
{
	memset(c, 0, sizeof(*c));
	c->extent_size = 64ull << 20;
	c->min_object_size = 4ull << 20;
	c->prestage_on_head = true;
	c->fill_streams = 2;
	c->plain_hit_io = LOTAD_HIT_IO_SENDFILE;
}

bool lotad_cache__parse_content_range(lota_str v, uint64_t *first, uint64_t *last, uint64_t *total)
{
	if (v.len < 6 || memcmp(v.ptr, "bytes ", 6) != 0)
		return false;
	const char *p = v.ptr + 6, *end = v.ptr + v.len;
	const char *dash = memchr(p, '-', (size_t)(end - p));
	const char *slash = dash ? memchr(dash, '/', (size_t)(end - dash)) : NULL;
	if (!dash || !slash)
		return false;
	if (!parse_u64((lota_str){p, (size_t)(dash - p)}, first) ||
	    !parse_u64((lota_str){dash + 1, (size_t)(slash - dash - 1)}, last) ||
	    !parse_u64((lota_str){slash + 1, (size_t)(end - slash - 1)}, total))
		return false;
	return *first <= *last && *last < *total;
}

int lotad_cache__directives(lota_str name, lota_str value)
{
	bool pragma = name_is(name, "pragma");
	if (!pragma && !name_is(name, "cache-control"))
		return 0;
	int d = 0;
	size_t j = 0;
	while (j < value.len) {
		const char *p = value.ptr + j;
		const char *comma = memchr(p, ',', value.len - j);
		size_t len = comma ? (size_t)(comma - p) : value.len - j;
		j += len + 1;
		lota_str tok = trim(p, len);
		if (lota_str_eq_nocase(tok, "no-store", 8) ||
		    (pragma && lota_str_eq_nocase(tok, "no-cache", 8)))
			d |= LOTAD_CACHE_NO_STORE;
		else if (lota_str_eq_nocase(tok, "no-cache", 8))
			d |= LOTAD_CACHE_NO_CACHE;
	}
	return d;
}

/* "bytes FIRST-LAST/TOTAL" equal to the given numbers. */
bool lotad_cache__content_range_is(lota_str v, uint64_t first, uint64_t last, uint64_t total)
{
	char want[96];
	int n = snprintf(want, sizeof(want), "bytes %" PRIu64 "-%" PRIu64 "/%" PRIu64, first, last,
	                 total);
	return n > 0 && v.len == (size_t)n && memcmp(v.ptr, want, (size_t)n) == 0;
}

bool lotad_cache__query_ok(lota_str query, lota_str *version_id)
{
	*version_id = (lota_str){"", 0};
	size_t i = 0;
	while (i < query.len) {
		const char *p = query.ptr + i;
		const char *amp = memchr(p, '&', query.len - i);
		size_t len = amp ? (size_t)(amp - p) : query.len - i;
		i += len + 1;
		if (!len)
			continue;
		const char *eq = memchr(p, '=', len);
		lota_str name = {p, eq ? (size_t)(eq - p) : len};
		if (name.len == 9 && memcmp(name.ptr, "versionId", 9) == 0) {
			if (version_id->len || !eq)
				return false;             /* twice, or without a value */
			*version_id = (lota_str){p, len}; /* the whole "versionId=..." */
			continue;
		}
		if (!lotad_signature_param(name))
			return false;
	}
	return true;
}

/* Why a request is not for the cache (NULL: it is). */
const char *cache_not_cacheable(const lota_http_request *req, const lotad_s3req *sr,
                                const lotad_auth_result *a, bool *no_fill, lota_str *vquery)
{
	if (!sr->object_read)
		return "not an object read";
	if (a->mode != LOTAD_AUTH_RESIGN && !cache_foreign_eligible(a))
		return "credentials lotad does not hold";
	if (req->body != LOTA_HTTP_BODY_NONE &&
	    !(req->body == LOTA_HTTP_BODY_LENGTH && req->content_length == 0))
		return "a request body";
	if (!lotad_cache__query_ok(req->query, vquery))
		return "a query parameter";
	for (size_t i = 0; i < req->num_headers; i++) {
		lota_str nm = req->headers[i].name, v = req->headers[i].value;
		int d = lotad_cache__directives(nm, v);
		if (d & LOTAD_CACHE_NO_STORE)
			return "no-store";
		if (d & LOTAD_CACHE_NO_CACHE)
			*no_fill = true;
		if (d)
			continue;
		if (name_is(nm, "if-range")) {
			return "If-Range";
		} else if (nm.len > 37 &&
		           strncasecmp(nm.ptr, "x-amz-server-side-encryption-customer-", 38) == 0) {
			return "SSE-C";
		}
	}
	return NULL;
}
