/*
 * request.c - the requests the cache makes upstream (the authorizing HEAD, fills and
 * direct reads): described as lota_request data, signed in place with the client's key
 * and handed to curl field by field; path-style URLs, curl easy handles, and
 * the check of a pinned ranged GET's answer (a 206 of exactly the bytes asked for, of
 * the same ETag).
 */
#include "cache/cache-internal.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lota/sigv4.h>

/* The cache's upstream requests as data (lota/request.h): the request line, path-style.
 * The caller adds the client's fields (lotad_auth_request_add_client) or lotad's own. */
lota_request *cache_request_new(const char *method, lota_str path, lota_str query)
{
	lota_request *r = lota_request_new();
	if (r && lota_request_reset(r, (lota_str){method, strlen(method)}, path, query) < 0) {
		lota_request_free(r);
		r = NULL;
	}
	return r;
}

/* Sign r with ar's key for the upstream (payload: the form's default; these requests
 * have no body) and give its fields to curl as they are. */
int cache_request_headers(struct curl_slist **l, lota_request *r, const lotad_auth_result *ar,
                          const lotad_settings *s)
{
	int rc = lotad_auth_request_sign(ar, &s->auth, r, (lota_str){NULL, 0}, (int64_t)time(NULL),
	                                 NULL);
	return rc < 0 ? rc : lotad_curl_headers(l, r);
}

int cache_object_url(const lotad_settings *s, lota_str bucket, lota_str rkey, lota_str vquery,
                     char *url, size_t cap, char *path, size_t pcap, lota_str *pathv)
{
	int pl = snprintf(path, pcap, "/%.*s/%.*s", (int)bucket.len, bucket.ptr, (int)rkey.len,
	                  rkey.ptr);
	if (pl < 0 || (size_t)pl >= pcap)
		return -E2BIG;
	*pathv = (lota_str){path, (size_t)pl};
	int n = snprintf(url, cap, "%s%s%s%.*s", s->upstream_url, path, vquery.len ? "?" : "",
	                 (int)vquery.len, vquery.ptr);
	if (n < 0 || (size_t)n >= cap)
		return -E2BIG;
	return 0;
}

CURL *cache_easy_new(const lotad_settings *s, const char *url, struct curl_slist *hdrs, bool nobody,
                     curl_write_callback hcb, curl_write_callback wcb, void *ud, char *errbuf)
{
	CURL *e = curl_easy_init();
	if (!e)
		return NULL;
	curl_easy_setopt(e, CURLOPT_URL, url);
	curl_easy_setopt(e, CURLOPT_PATH_AS_IS, 1L);
	curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_PROXY, "");
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, hcb);
	curl_easy_setopt(e, CURLOPT_HEADERDATA, ud);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, wcb);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, ud);
	curl_easy_setopt(e, CURLOPT_HTTP_CONTENT_DECODING, 0L);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(
	    e, CURLOPT_BUFFERSIZE,
	    (long)(s->client_buffer < CURL_MAX_READ_SIZE ? s->client_buffer : CURL_MAX_READ_SIZE));
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)s->upstream_connect_timeout_ms);
	if (s->upstream_timeout_ms) {
		curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, 1L);
		curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME,
		                 (long)((s->upstream_timeout_ms + 999) / 1000));
	}
	if (s->upstream_ca_file && s->upstream_ca_file[0])
		curl_easy_setopt(e, CURLOPT_CAINFO, s->upstream_ca_file);
	if (nobody)
		curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
	return e;
}

/* A ranged GET of o's bytes [first, last] pinned to its ETag, signed with the client's
 * key. */
CURL *cache_ranged_get(const lotad_settings *s, const objinfo *o, uint64_t first, uint64_t last,
                       struct curl_slist **hdrs, curl_write_callback hcb, curl_write_callback wcb,
                       void *ud, char *errbuf)
{
	char *url = malloc(URL_CAP), *path = malloc(URL_CAP);
	char range[64];
	lota_str pathv;
	lota_request *r = NULL;
	CURL *e = NULL;
	if (!url || !path)
		goto out;
	if (cache_object_url(s, o->bucket, o->rkey, o->vquery, url, URL_CAP, path, URL_CAP,
	                     &pathv) < 0)
		goto out;
	int rl = snprintf(range, sizeof(range), "bytes=%" PRIu64 "-%" PRIu64, first, last);
	/* lotad's own fields: signed */
	if (!(r = cache_request_new("GET", pathv, o->vquery)) ||
	    lota_request_header_add(r, LOTA_STR_LIT("Range"), (lota_str){range, (size_t)rl}, 0) <
	        0 ||
	    lota_request_header_add(r, LOTA_STR_LIT("If-Match"), o->etag, 0) < 0 ||
	    cache_request_headers(hdrs, r, &o->cred, s) < 0)
		goto out;
	e = cache_easy_new(s, url, *hdrs, false, hcb, wcb, ud, errbuf);
out:
	lota_request_free(r);
	free(url);
	free(path);
	return e;
}

int cache_pinned_head_line(pinned_head *ph, const char *buf, size_t n, const objinfo *o,
                           uint64_t first, uint64_t last)
{
	return lotad_cache__pinned_line(ph, (lota_str){buf, n}, o->etag, o->vid, o->size, first,
	                                last);
}

int lotad_cache__pinned_line(lotad_cache_pinned *ph, lota_str line, lota_str etag, lota_str vid,
                             uint64_t size, uint64_t first, uint64_t last)
{
	const char *buf = line.ptr;
	size_t n = line.len;
	lota_str l = trim(buf, n);
	if (l.len >= 5 && memcmp(l.ptr, "HTTP/", 5) == 0) {
		const char *sp = memchr(l.ptr, ' ', l.len);
		ph->status = sp ? atoi(sp + 1) : 0;
		ph->in_1xx = ph->status >= 100 && ph->status < 200;
		ph->range_ok = ph->etag_ok = ph->vid_ok = false;
		return HEAD_MORE;
	}
	if (!l.len) {
		if (ph->in_1xx) {
			ph->in_1xx = false;
			return HEAD_MORE;
		}
		/* the version authorized, where the object has versions: an ETag alone does
		 * not tell two versions of the same bytes apart, and lotad pins the one the
		 * upstream named */
		return ph->status == 206 && ph->range_ok && ph->etag_ok && (ph->vid_ok || !vid.len)
		           ? HEAD_OK
		           : HEAD_BAD;
	}
	const char *colon = memchr(l.ptr, ':', l.len);
	if (!colon || ph->in_1xx)
		return HEAD_MORE;
	lota_str name = {l.ptr, (size_t)(colon - l.ptr)};
	lota_str v = trim(colon + 1, (size_t)(l.ptr + l.len - colon - 1));
	if (name_is(name, "content-range"))
		ph->range_ok = lotad_cache__content_range_is(v, first, last, size);
	else if (name_is(name, "etag"))
		ph->etag_ok = v.len == etag.len && memcmp(v.ptr, etag.ptr, v.len) == 0;
	else if (name_is(name, "x-amz-version-id"))
		ph->vid_ok = vid.len && v.len == vid.len && memcmp(v.ptr, vid.ptr, v.len) == 0;
	return HEAD_MORE;
}

const char *cache_pinned_head_why(const pinned_head *ph)
{
	if (ph->status != 206)
		return "";
	return !ph->range_ok ? " with another range" : " with another ETag";
}
