/*
 * request.c - the requests the cache makes upstream (the authorizing HEAD, fills and
 * direct reads): signed with the client's key, path-style URLs, curl easy handles, and
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

/* The header list of a request to the upstream signed with ar's key: the signature's
 * lines, then the client's headers hs[0..n) (signed only where the client signed them),
 * then lotad's own own[0..nown) (signed), then nothing of curl's own (no Expect, no
 * default Accept). */
int cache_sign_request(struct curl_slist **l, const lotad_auth_result *ar, const lotad_settings *s,
                       const char *method, lota_str path, lota_str query,
                       const lota_http_header *hs, size_t n, const lota_http_header *own,
                       size_t nown)
{
	char *out = malloc(SIGN_CAP);
	if (!out)
		return -ENOMEM;
	int al = lotad_auth_resign_sig(ar, &s->auth, (lota_str){method, strlen(method)}, path,
	                               query, hs, n, own, nown, (lota_str){NULL, 0},
	                               (int64_t)time(NULL), out, SIGN_CAP, NULL);
	int rc = al < 0 ? al : 0;
	char *line = out, *end = out + (al > 0 ? al : 0);
	while (rc == 0 && line < end) {
		char *eol = memmem(line, (size_t)(end - line), "\r\n", 2);
		if (!eol)
			eol = end;
		*eol = 0;
		if (eol > line)
			rc = lotad_curl_line(l, line);
		line = eol + 2;
	}
	explicit_bzero(out, SIGN_CAP);
	free(out);
	bool accept = false;
	for (size_t i = 0; rc == 0 && i < n; i++) {
		accept |= name_is(hs[i].name, "accept");
		rc = lotad_curl_header(l, hs[i].name, hs[i].value);
	}
	for (size_t i = 0; rc == 0 && i < nown; i++) {
		accept |= name_is(own[i].name, "accept");
		rc = lotad_curl_header(l, own[i].name, own[i].value);
	}
	if (rc == 0)
		rc = lotad_curl_line(l, "Expect:");
	if (rc == 0 && !accept)
		rc = lotad_curl_line(l, "Accept:");
	return rc;
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
	CURL *e = NULL;
	if (!url || !path)
		goto out;
	if (cache_object_url(s, o->bucket, o->rkey, o->vquery, url, URL_CAP, path, URL_CAP,
	                     &pathv) < 0)
		goto out;
	int rl = snprintf(range, sizeof(range), "bytes=%" PRIu64 "-%" PRIu64, first, last);
	lota_http_header hs[2] = {
	    {LOTA_STR_LIT("Range"), {range, (size_t)rl}},
	    {LOTA_STR_LIT("If-Match"), o->etag},
	};
	lota_str q = o->vquery;
	if (cache_sign_request(hdrs, &o->cred, s, "GET", pathv, q, NULL, 0, hs, 2) < 0)
		goto out;
	e = cache_easy_new(s, url, *hdrs, false, hcb, wcb, ud, errbuf);
out:
	free(url);
	free(path);
	return e;
}

int cache_pinned_head_line(pinned_head *ph, const char *buf, size_t n, const objinfo *o,
                           uint64_t first, uint64_t last)
{
	return lotad_cache__pinned_line(ph, (lota_str){buf, n}, o->etag, o->size, first, last);
}

int lotad_cache__pinned_line(lotad_cache_pinned *ph, lota_str line, lota_str etag, uint64_t size,
                             uint64_t first, uint64_t last)
{
	const char *buf = line.ptr;
	size_t n = line.len;
	lota_str l = trim(buf, n);
	if (l.len >= 5 && memcmp(l.ptr, "HTTP/", 5) == 0) {
		const char *sp = memchr(l.ptr, ' ', l.len);
		ph->status = sp ? atoi(sp + 1) : 0;
		ph->in_1xx = ph->status >= 100 && ph->status < 200;
		ph->range_ok = ph->etag_ok = false;
		return HEAD_MORE;
	}
	if (!l.len) {
		if (ph->in_1xx) {
			ph->in_1xx = false;
			return HEAD_MORE;
		}
		return ph->status == 206 && ph->range_ok && ph->etag_ok ? HEAD_OK : HEAD_BAD;
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
	return HEAD_MORE;
}

const char *cache_pinned_head_why(const pinned_head *ph)
{
	if (ph->status != 206)
		return "";
	return !ph->range_ok ? " with another range" : " with another ETag";
}
