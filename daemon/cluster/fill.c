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
 *
 * Before the upstream, the next candidate in the extent's ranking (neither this node nor
 * the member that asked) is asked for the whole extent, without a ticket: after a
 * membership change that is the previous owner, so a node that just joined takes over
 * warm extents instead of fetching them again. Its bytes must come as a 206 of exactly
 * the extent (the candidate's store checked the full cache key on open); a 404, an error
 * or a stall there ends that source, and the bytes not written yet come from the
 * upstream (Range from the first missing byte), so one fill may use both.
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
	char *extent_hex; /* for the candidate's request */
	lotad_peer_owner cand;
	bool has_cand;
	bool from_peer; /* the source of the current transfer */
	char want_cr[96];
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
	if (n > 12 && strncmp(line, "HTTP/", 5) == 0) {
		/* a new response (after a 100): start over */
		p->etag_ok = p->total_ok = p->vid_seen = false;
		const char *sp = memchr(line, ' ', n);
		p->status = sp ? strtol(sp + 1, NULL, 10) : 0;
		return n;
	}
	if (p->from_peer) {
		p->etag_ok = true; /* the candidate's store checked the whole key */
		if (hdr_is(line, n, "Content-Range", &v, &vl))
			p->total_ok = strlen(p->want_cr) == vl && memcmp(v, p->want_cr, vl) == 0;
		return n;
	}
	if (hdr_is(line, n, "ETag", &v, &vl))
		p->etag_ok = vl == strlen(p->etag) && memcmp(v, p->etag, vl) == 0;
	else if (hdr_is(line, n, "Content-Range", &v, &vl))
		p->total_ok = strlen(p->want_cr) == vl && memcmp(v, p->want_cr, vl) == 0;
	else if (hdr_is(line, n, "x-amz-version-id", &v, &vl)) {
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
	if (p->bad || !p->etag_ok || (p->from_peer && p->status != 206))
		return 0;
	/* a 200 is the whole object: fine only when it is this one extent, from its start */
	if (!p->total_ok && !(!p->from_peer && p->status == 200 && p->first == 0 &&
	                      p->last + 1 == p->size && lotad_fill_written_bytes(p->f) == 0))
		return 0;
	if (lotad_fill_write(p->f, data, n) != 0)
		return 0;
	atomic_fetch_add(&p->c->fill_bytes, n);
	return n;
}

/* Fetch the bytes of the extent not written yet from the candidate (from_peer) or the
 * upstream. Returns curl's result. */
static CURLcode fetch(pfill *p, bool from_peer)
{
	lotad_cluster *c = p->c;
	uint64_t w = lotad_fill_written_bytes(p->f), len = p->last - p->first + 1;
	CURL *e = curl_easy_init();
	struct curl_slist *hl = NULL;
	char *lines = NULL, url[320];
	char h1[LOTA_CACHE_KEY_FIELD_MAX + 16], range[96];
	CURLcode cc = CURLE_OUT_OF_MEMORY;
	p->from_peer = from_peer;
	p->status = 0;
	p->etag_ok = p->total_ok = p->bad = false;
	if (!e)
		goto out;
	if (from_peer) {
		snprintf(range, sizeof(range), "bytes=%" PRIu64 "-%" PRIu64, w, len - 1);
		snprintf(p->want_cr, sizeof(p->want_cr), "bytes %" PRIu64 "-%" PRIu64 "/%" PRIu64,
		         w, len - 1, len);
		lines = malloc(LOTA_PEER_HEAD_MAX);
		int n = lines ? lotad_cluster_extent_headers(
		                    c, (lota_str){p->extent_hex, strlen(p->extent_hex)},
		                    (lota_str){range, strlen(range)}, (lota_str){"", 0}, lines,
		                    LOTA_PEER_HEAD_MAX)
		              : -ENOMEM;
		for (char *q = lines; n > 0 && q < lines + n;) {
			char *eol = memmem(q, (size_t)(lines + n - q), "\r\n", 2);
			if (!eol)
				break;
			*eol = 0;
			struct curl_slist *l = curl_slist_append(hl, q);
			if (!l)
				goto out;
			hl = l;
			q = eol + 2;
		}
		if (n <= 0)
			goto out;
		snprintf(url, sizeof(url),
		         strchr(p->cand.host, ':') ? "http://[%s]:%d/peer/extent"
		                                   : "http://%s:%d/peer/extent",
		         p->cand.host, p->cand.port);
		curl_easy_setopt(e, CURLOPT_URL, url);
	} else {
		snprintf(h1, sizeof(h1), "If-Match: %s", p->etag);
		snprintf(range, sizeof(range), "Range: bytes=%" PRIu64 "-%" PRIu64, p->first + w,
		         p->last);
		snprintf(p->want_cr, sizeof(p->want_cr), "bytes %" PRIu64 "-%" PRIu64 "/%" PRIu64,
		         p->first + w, p->last, p->size);
		struct curl_slist *l = curl_slist_append(hl, h1);
		if (!l)
			goto out;
		hl = l;
		if (!(l = curl_slist_append(hl, range)))
			goto out;
		hl = l;
		curl_easy_setopt(e, CURLOPT_URL, p->url);
		if (c->cfg.upstream_ca_file)
			curl_easy_setopt(e, CURLOPT_CAINFO, c->cfg.upstream_ca_file);
	}
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, hl);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_PROXY, "");
	curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(e, CURLOPT_HEADERDATA, p);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, p);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)c->cfg.timeout_ms);
	curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME, (long)(c->cfg.timeout_ms + 999) / 1000);
	cc = curl_easy_perform(e);
out:
	curl_slist_free_all(hl);
	curl_easy_cleanup(e);
	free(lines);
	return cc;
}

static void *fill_main(void *arg)
{
	pfill *p = arg;
	lotad_cluster *c = p->c;
	uint64_t want = p->last - p->first + 1, from_peer = 0;
	CURLcode cc = CURLE_OK;
	if (p->has_cand) {
		cc = fetch(p, true);
		from_peer = lotad_fill_written_bytes(p->f);
		if (from_peer < want)
			lota_log_debug("cluster: candidate %s gave %" PRIu64 " of %" PRIu64
			               " bytes (HTTP %ld, %s); the rest from the upstream",
			               p->cand.id, from_peer, want, p->status,
			               curl_easy_strerror(cc));
	}
	if (lotad_fill_written_bytes(p->f) < want)
		cc = fetch(p, false);
	/* a versioned key must come back with its version id from the upstream */
	bool ok = lotad_fill_written_bytes(p->f) == want &&
	          (from_peer == want || !p->vid[0] || p->vid_seen);
	lota_hash128 h = lotad_fill_hash(p->f);
	char name[LOTA_HASH128_HEX_LEN + 1];
	lota_hash128_format(h, name);
	if (ok) {
		int rc = lotad_fill_commit(p->f);
		if (rc == 0) {
			atomic_fetch_add(from_peer == want ? &c->fills_from_peer : &c->fills, 1);
			lota_log_info("cluster: filled extent %s (%" PRIu64
			              " bytes) for a member%s%s",
			              name, want, from_peer == want ? " from " : "",
			              from_peer == want ? p->cand.id : "");
		} else {
			atomic_fetch_add(&c->fills_failed, 1);
			lota_log_warn("cluster: fill of extent %s not published: %s", name,
			              lota_strerror(rc));
		}
	} else {
		atomic_fetch_add(&c->fills_failed, 1);
		lota_log_warn("cluster: fill of extent %s failed: %s, HTTP %ld%s%s", name,
		              curl_easy_strerror(cc), p->status,
		              p->etag_ok ? "" : ", ETag differs from the key's",
		              p->bad ? ", version id differs" : "");
		lotad_fill_abort(p->f);
	}
	free(p->url);
	free(p->extent_hex);
	free(p);
	pthread_mutex_lock(&c->conns_lock);
	atomic_fetch_sub(&c->conns, 1);
	pthread_cond_broadcast(&c->conns_cv);
	pthread_mutex_unlock(&c->conns_lock);
	return NULL;
}

/* Whether a fill ticket is a URL of the upstream (or of another region's endpoint). */
static bool ticket_points_upstream(const lotad_cluster *c, lota_str ticket)
{
	for (size_t i = 0; i <= c->cfg.num_region_urls; i++) {
		const char *base = i == 0 ? c->cfg.upstream_url : c->cfg.region_urls[i - 1];
		size_t ul = strlen(base);
		if (ul && ticket.len > ul && memcmp(ticket.ptr, base, ul) == 0 &&
		    ticket.ptr[ul] == '/')
			return true;
	}
	return false;
}

int lotad_cluster__fill(lotad_cluster *c, const lota_cache_key *k, const uint8_t *key,
                        size_t key_len, lota_str ticket, lota_str asker, lotad_store_reader **out)
{
	if (!ticket_points_upstream(c, ticket))
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
	if (!p || !(p->url = strndup(ticket.ptr, ticket.len)) ||
	    !(p->extent_hex = malloc(2 * key_len + 1))) {
		if (p)
			free(p->url);
		free(p);
		lotad_fill_abort(f);
		return -ENOMEM;
	}
	for (size_t i = 0; i < key_len; i++)
		snprintf(p->extent_hex + 2 * i, 3, "%02x", key[i]);
	p->has_cand = lotad_cluster__next_candidate(c, lotad_fill_hash(f), asker, &p->cand) == 1;
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
		free(p->extent_hex);
		free(p);
		return rc;
	}
	atomic_fetch_add(&c->conns, 1);
	atomic_fetch_add(&c->fills_started, 1);
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
		free(p->extent_hex);
		free(p);
	}
	return rc;
}

void lotad_cluster_fill_counts(lotad_cluster *c, uint64_t *started, uint64_t *failed,
                               uint64_t *bytes)
{
	*started = c ? atomic_load(&c->fills_started) : 0;
	*failed = c ? atomic_load(&c->fills_failed) : 0;
	*bytes = c ? atomic_load(&c->fill_bytes) : 0;
}
