/*
 * fill.c - the owner fills an extent it does not hold, for a member, with the member's
 * fill ticket: a presigned GET of the object made by the front node with the client's own
 * key (so this node holds no user secret and fetches only what the upstream has just
 * authorized for that client). The whole extent is fetched (Range of the extent inside
 * the object), pinned with If-Match: <the key's ETag>, and written through the store's
 * fill API, which makes it single-flight (a second request for the same extent joins
 * the growing file instead of fetching again) and lets the asking member read the bytes
 * as they arrive.
 *
 * End-to-end identity: the response must be a 206 (or a 200 of an object that is this
 * one extent) whose ETag, total size and version id are those of the cache key; anything
 * else, a short body, or a stalled transfer (peer_timeout without a byte) aborts the
 * fill, and readers get -ECANCELED: an error, never wrong bytes.
 *
 * A ticket must be a URL of the configured upstream (scheme://host[:port]/...), so a
 * member cannot make this node fetch from anywhere else.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include <lota/extent.h>
#include <lota/log.h>

#include "cluster/cluster-internal.h"

typedef struct pfill {
	lotad_cluster *c;
	lotad_fill *f;
	char *url;
	char etag[LOTA_CACHE_KEY_FIELD_MAX + 1];
	char vid[LOTA_CACHE_KEY_FIELD_MAX + 1];
	uint64_t size, first, last;
	long status;
	bool etag_ok, total_ok, vid_seen, bad;
} pfill;

static bool hdr_is(const char *line, size_t n, const char *name, const char **val, size_t *vlen)
{
	size_t nl = strlen(name);
	if (n < nl + 1 || strncasecmp(line, name, nl) != 0 || line[nl] != ':')
		return false;
	const char *v = line + nl + 1, *e = line + n;
	while (v < e && (*v == ' ' || *v == '\t'))
		v++;
	while (e > v && (e[-1] == '\r' || e[-1] == '\n' || e[-1] == ' '))
		e--;
	*val = v;
	*vlen = (size_t)(e - v);
	return true;
}

static size_t on_header(char *line, size_t sz, size_t nm, void *ud)
{
	pfill *p = ud;
	size_t n = sz * nm;
	const char *v;
	size_t vl;
	if (n > 5 && strncmp(line, "HTTP/", 5) == 0) {
		/* a new response (after a 100): start over */
		p->etag_ok = p->total_ok = p->vid_seen = false;
		return n;
	}
	if (hdr_is(line, n, "ETag", &v, &vl))
		p->etag_ok = vl == strlen(p->etag) && memcmp(v, p->etag, vl) == 0;
	else if (hdr_is(line, n, "Content-Range", &v, &vl)) {
		char want[96];
		int wl = snprintf(want, sizeof(want), "bytes %" PRIu64 "-%" PRIu64 "/%" PRIu64,
		                  p->first, p->last, p->size);
		p->total_ok = (size_t)wl == vl && memcmp(v, want, vl) == 0;
	} else if (hdr_is(line, n, "x-amz-version-id", &v, &vl)) {
		p->vid_seen = true;
		if (p->vid[0] && !(vl == strlen(p->vid) && memcmp(v, p->vid, vl) == 0))
			p->bad = true;
	}
	return n;
}

static size_t on_body(char *data, size_t sz, size_t nm, void *ud)
{
	pfill *p = ud;
	size_t n = sz * nm;
	if (p->bad || !p->etag_ok)
		return 0;
	if (!p->total_ok && !(p->first == 0 && p->last + 1 == p->size))
		return 0;
	if (lotad_fill_write(p->f, data, n) != 0)
		return 0;
	return n;
}

static void *fill_main(void *arg)
{
	pfill *p = arg;
	lotad_cluster *c = p->c;
	CURL *e = curl_easy_init();
	struct curl_slist *hl = NULL;
	char h1[LOTA_CACHE_KEY_FIELD_MAX + 16], h2[96];
	snprintf(h1, sizeof(h1), "If-Match: %s", p->etag);
	snprintf(h2, sizeof(h2), "Range: bytes=%" PRIu64 "-%" PRIu64, p->first, p->last);
	CURLcode cc = CURLE_OUT_OF_MEMORY;
	if (e && (hl = curl_slist_append(hl, h1)) && (hl = curl_slist_append(hl, h2))) {
		curl_easy_setopt(e, CURLOPT_URL, p->url);
		curl_easy_setopt(e, CURLOPT_HTTPHEADER, hl);
		curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
		curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
		curl_easy_setopt(e, CURLOPT_HEADERDATA, p);
		curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
		curl_easy_setopt(e, CURLOPT_WRITEDATA, p);
		curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)c->cfg.timeout_ms);
		curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, 1L);
		curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME, (long)(c->cfg.timeout_ms + 999) / 1000);
		if (c->cfg.upstream_ca_file)
			curl_easy_setopt(e, CURLOPT_CAINFO, c->cfg.upstream_ca_file);
		cc = curl_easy_perform(e);
		curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &p->status);
	}
	uint64_t want = p->last - p->first + 1;
	bool ok = cc == CURLE_OK && (p->status == 206 || p->status == 200) && p->etag_ok &&
	          !p->bad && lotad_fill_written_bytes(p->f) == want;
	lota_hash128 h = lotad_fill_hash(p->f);
	char name[LOTA_HASH128_HEX_LEN + 1];
	lota_hash128_format(h, name);
	if (ok) {
		int rc = lotad_fill_commit(p->f);
		if (rc == 0) {
			atomic_fetch_add(&c->fills, 1);
			lota_log_info("cluster: filled extent %s (%" PRIu64 " bytes) for a member",
			              name, want);
		} else {
			lota_log_warn("cluster: fill of extent %s not published: %s", name,
			              lota_strerror(rc));
		}
	} else {
		lota_log_warn("cluster: fill of extent %s failed: %s, HTTP %ld%s%s", name,
		              curl_easy_strerror(cc), p->status,
		              p->etag_ok ? "" : ", ETag differs from the key's",
		              p->bad ? ", version id differs" : "");
		lotad_fill_abort(p->f);
	}
	curl_slist_free_all(hl);
	curl_easy_cleanup(e);
	free(p->url);
	free(p);
	pthread_mutex_lock(&c->conns_lock);
	atomic_fetch_sub(&c->conns, 1);
	pthread_cond_broadcast(&c->conns_cv);
	pthread_mutex_unlock(&c->conns_lock);
	return NULL;
}

int lotad_cluster__fill(lotad_cluster *c, const lota_cache_key *k, const uint8_t *key,
                        size_t key_len, lota_str ticket, lotad_store_reader **out)
{
	size_t ul = strlen(c->cfg.upstream_url);
	if (ticket.len <= ul || memcmp(ticket.ptr, c->cfg.upstream_url, ul) != 0 ||
	    ticket.ptr[ul] != '/')
		return LOTA_E_PEER_MALFORMED;
	if (!c->cfg.extent_size || k->etag.len == 0)
		return -EINVAL;
	uint64_t first, last;
	int rc =
	    lota_extent_range(k->size_bytes, c->cfg.extent_size, k->extent_index, &first, &last);
	if (rc)
		return rc;
	lotad_fill *f = NULL;
	rc = lotad_fill_begin(c->store, key, key_len, last - first + 1, NULL, 0, &f);
	if (rc == -EEXIST) /* being filled or just published: join it */
		return lotad_store_open(c->store, lota_cache_key_hash_canonical(key, key_len), key,
		                        key_len, out);
	if (rc)
		return rc;
	pfill *p = calloc(1, sizeof(*p));
	if (!p || !(p->url = strndup(ticket.ptr, ticket.len))) {
		free(p);
		lotad_fill_abort(f);
		return -ENOMEM;
	}
	p->c = c;
	p->f = f;
	snprintf(p->etag, sizeof(p->etag), "%.*s", (int)k->etag.len, k->etag.ptr);
	snprintf(p->vid, sizeof(p->vid), "%.*s", (int)k->version_id.len,
	         k->version_id.len ? k->version_id.ptr : "");
	p->size = k->size_bytes;
	p->first = first;
	p->last = last;
	rc = lotad_fill_open_reader(f, out);
	if (rc) {
		lotad_fill_abort(f);
		free(p->url);
		free(p);
		return rc;
	}
	atomic_fetch_add(&c->conns, 1);
	pthread_t t;
	pthread_attr_t at;
	pthread_attr_init(&at);
	pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
	rc = -pthread_create(&t, &at, fill_main, p);
	pthread_attr_destroy(&at);
	if (rc) {
		atomic_fetch_sub(&c->conns, 1);
		lotad_reader_close(*out);
		*out = NULL;
		lotad_fill_abort(f);
		free(p->url);
		free(p);
	}
	return rc;
}
