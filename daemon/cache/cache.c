/*
 * cache.c - the node cache on the request path (see cache.h).
 *
 * Three kinds of objects:
 *   - objinfo: what one authorized request learned about an object (size, ETag, version
 *     id, the upstream's headers) and a copy of the client's credentials that sign its
 *     fills. Reference counted, shared by a request and its fills; the secret is wiped
 *     when the last reference goes.
 *   - creq: one client GET/HEAD. First the authorizing HEAD, then the byte source of the
 *     part being sent: a store reader (a published extent or a growing fill, followed
 *     through an eventfd the store's watch callback writes) or a direct ranged GET.
 *   - fjob: a chain of fills on one worker's curl multi, independent of any client: it
 *     fills extent k, then k + stride, ... up to `last`, skipping extents that are cached
 *     or being filled elsewhere. A request starts fill_streams chains over its extents.
 * Everything runs in the worker's loop thread, except the store's watch callbacks (any
 * thread: they only write an eventfd) and publication (fdatasync + rename on a short
 * detached thread, so a worker never waits for the disk to flush).
 *
 * Bytes sent to a client come from exactly one source at a time and are counted in
 * q->a (the next byte to send); every source checks that it delivers exactly the bytes
 * asked for (store: per-block tags and the full key in the header; upstream: 206 with the
 * exact Content-Range and the same ETag) or stops, so a response is complete and right
 * or visibly cut short.
 */
#include "cache/cache.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include <lota/log.h>
#include <lota/placement.h>
#include <lota/sigv4.h>

#include "metrics.h"
#include "net/upstream.h"
#include "s3/proxy.h" /* lotad_hop_by_hop */

#define FAR_AHEAD    (16u << 20) /* a reader this far beyond a fill's prefix reads directly */
#define PUMP_BUDGET  (2u << 20)  /* bytes sent per turn before yielding to the loop */
#define SMALL_TTL_MS 30000       /* how long "this object is below the threshold" is trusted */
#define DIRECT_FIRST (1u << 20)  /* cold ranges up to this long are read straight, filled after */
#define OBJ_SLOTS    4096        /* objects remembered (direct-mapped) */
#define FIELD_MAX    256         /* bytes of an ETag / version id remembered */
#define SIGN_CAP     8192
#define URL_CAP      (LOTAD_MAX_HEAD_BYTES + 1024)
#define HEAD_CAP     (LOTAD_MAX_HEAD_BYTES + 512)

/* ------------------------------------------------------------ globals --- */

struct objent {
	lota_hash128 name; /* hash of bucket, key, version query */
	bool used;
	uint64_t size;
	int64_t seen_ms;
	uint16_t etag_len, vid_len;
	char etag[FIELD_MAX];
	char vid[FIELD_MAX];
};

typedef struct fjob fjob;
typedef struct creq creq;

static struct {
	lotad_store *store;
	lotad_cache_config cfg;
	atomic_uint_fast64_t hits, misses, bypasses, range_reqs;
	atomic_uint_fast64_t served_cache, served_upstream, fill_bytes;
	atomic_uint_fast64_t fills_started, fills_failed, direct_reads;
	atomic_int commits_running;
	pthread_mutex_t mu; /* the job list and the object table */
	fjob *jobs;
	struct objent *otab;
	lotad_cache_proxy_fn proxy; /* how a request goes to the proxy */
	void *proxy_ud;
} G = {.mu = PTHREAD_MUTEX_INITIALIZER};

void lotad_cache_set_proxy(lotad_cache_proxy_fn fn, void *ud)
{
	G.proxy = fn;
	G.proxy_ud = ud;
}

void lotad_cache_config_init(lotad_cache_config *c)
{
	memset(c, 0, sizeof(*c));
	c->extent_size = 64ull << 20;
	c->min_object_size = 4ull << 20;
	c->prestage_on_head = true;
	c->fill_streams = 2;
	c->plain_sendfile = false;
}

bool lotad_cache_enabled(void)
{
	return G.store != NULL;
}

void lotad_cache_count_upstream_bytes(uint64_t n)
{
	atomic_fetch_add_explicit(&G.served_upstream, n, memory_order_relaxed);
}

static void count(atomic_uint_fast64_t *v, uint64_t n)
{
	atomic_fetch_add_explicit(v, n, memory_order_relaxed);
}

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static bool name_is(lota_str n, const char *s)
{
	return lota_str_eq_nocase(n, s, strlen(s));
}

static lota_str trim(const char *p, size_t n)
{
	while (n && (*p == ' ' || *p == '\t'))
		p++, n--;
	while (n && (p[n - 1] == ' ' || p[n - 1] == '\t' || p[n - 1] == '\r' || p[n - 1] == '\n'))
		n--;
	return (lota_str){p, n};
}

static bool parse_u64(lota_str s, uint64_t *out)
{
	uint64_t v = 0;
	if (!s.len || s.len > 19)
		return false;
	for (size_t i = 0; i < s.len; i++) {
		if (s.ptr[i] < '0' || s.ptr[i] > '9')
			return false;
		v = v * 10 + (uint64_t)(s.ptr[i] - '0');
	}
	*out = v;
	return true;
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

static bool is_presign_param(lota_str n)
{
	return n.len > 6 && strncasecmp(n.ptr, "x-amz-", 6) == 0;
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
		if (!is_presign_param(name))
			return false;
	}
	return true;
}

/* --------------------------------------------------------- object table --- */

static lota_hash128 obj_name(lota_str bucket, lota_str rkey, lota_str vquery)
{
	/* length-prefixed parts, so that no two triples give the same bytes */
	lota_str parts[3] = {bucket, rkey, vquery};
	size_t cap = bucket.len + rkey.len + vquery.len + 3 * 24;
	char *buf = malloc(cap);
	size_t n = 0;
	if (!buf)
		return (lota_hash128){0, 0};
	for (int i = 0; i < 3; i++) {
		n += (size_t)snprintf(buf + n, cap - n, "%zu:", parts[i].len);
		memcpy(buf + n, parts[i].ptr, parts[i].len);
		n += parts[i].len;
	}
	lota_hash128 h = lotad_store_hash_key((const uint8_t *)buf, n);
	free(buf);
	return h;
}

static struct objent *obj_slot(lota_hash128 h)
{
	return &G.otab[h.lo % OBJ_SLOTS];
}

static void objtab_note(lota_str bucket, lota_str rkey, lota_str vquery, uint64_t size,
                        lota_str etag, lota_str vid)
{
	if (!G.otab || etag.len > FIELD_MAX || vid.len > FIELD_MAX)
		return;
	lota_hash128 h = obj_name(bucket, rkey, vquery);
	pthread_mutex_lock(&G.mu);
	struct objent *e = obj_slot(h);
	e->name = h;
	e->used = true;
	e->size = size;
	e->seen_ms = now_ms();
	e->etag_len = (uint16_t)etag.len;
	if (etag.len)
		memcpy(e->etag, etag.ptr, etag.len);
	e->vid_len = (uint16_t)vid.len;
	if (vid.len)
		memcpy(e->vid, vid.ptr, vid.len);
	pthread_mutex_unlock(&G.mu);
}

/* A copy of what the table remembers of the object (false when nothing); forget: drop it
 * from the table as well. */
static bool objtab_get(lota_str bucket, lota_str rkey, lota_str vquery, struct objent *out,
                       bool forget)
{
	if (!G.otab)
		return false;
	lota_hash128 h = obj_name(bucket, rkey, vquery);
	pthread_mutex_lock(&G.mu);
	struct objent *e = obj_slot(h);
	bool found = e->used && e->name.hi == h.hi && e->name.lo == h.lo;
	if (found) {
		*out = *e;
		e->used = !forget;
	}
	pthread_mutex_unlock(&G.mu);
	return found;
}

/* Whether the object was seen below the threshold a moment ago. */
static bool objtab_small(lota_str bucket, lota_str rkey, lota_str vquery)
{
	struct objent e;
	return objtab_get(bucket, rkey, vquery, &e, false) && e.size < G.cfg.min_object_size &&
	       now_ms() - e.seen_ms < SMALL_TTL_MS;
}

/* The decoded object key (cache keys use it, so that every client's spelling of one key
 * names the same extents). */
static int decode_key(lota_str rkey, char *out, size_t cap)
{
	return lota_uri_decode(rkey.ptr, rkey.len, out, cap);
}

/* The name of extent k of an object (bucket, decoded key, ETag, version id, size). */
static int ext_hash(lota_str bucket, lota_str dkey, lota_str etag, lota_str vid, uint64_t size,
                    uint64_t k, lota_hash128 *h)
{
	lota_cache_key ck = {
	    .bucket = bucket,
	    .key = dkey,
	    .etag = etag,
	    .version_id = vid,
	    .size_bytes = size,
	    .extent_index = k,
	};
	return lota_cache_key_hash(&ck, h);
}

/* Whether the last version of the object seen here has the extent holding byte `off` in
 * the store (published or being filled). */
static bool objtab_cached(lota_str bucket, lota_str rkey, lota_str vquery, uint64_t off)
{
	struct objent e;
	char dk[4096];
	int dl;
	lota_hash128 eh;
	if (!objtab_get(bucket, rkey, vquery, &e, false) || off >= e.size ||
	    (dl = decode_key(rkey, dk, sizeof(dk))) < 0 ||
	    ext_hash(bucket, (lota_str){dk, (size_t)dl}, (lota_str){e.etag, e.etag_len},
	             (lota_str){e.vid, e.vid_len}, e.size, off / G.cfg.extent_size, &eh) < 0)
		return false;
	return lotad_store_lookup(G.store, eh) >= 0;
}

/* ------------------------------------------------------------- objinfo --- */

typedef struct objinfo {
	atomic_int refs;
	uint64_t size;
	lota_str bucket, rkey, dkey, etag, vid, vquery, meta;
	lotad_auth_result cred; /* access/secret/token views into buf; header form */
	size_t buf_len;
	char buf[];
} objinfo;

static objinfo *obj_new(lota_str bucket, lota_str rkey, lota_str etag, lota_str vid,
                        lota_str vquery, const lotad_auth_result *a, lota_str meta, uint64_t size)
{
	char dk[4096];
	int dl = decode_key(rkey, dk, sizeof(dk));
	if (dl < 0)
		return NULL;
	if (meta.len > LOTAD_STORE_META_MAX)
		meta = (lota_str){"", 0};
	lota_str parts[] = {bucket, rkey, {dk, (size_t)dl}, etag,          vid,
	                    vquery, meta, a->access_key,    a->secret_key, a->session_token};
	size_t total = 0;
	for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++)
		total += parts[i].len;
	objinfo *o = calloc(1, sizeof(*o) + total + 1);
	if (!o)
		return NULL;
	lota_str *dst[] = {&o->bucket,
	                   &o->rkey,
	                   &o->dkey,
	                   &o->etag,
	                   &o->vid,
	                   &o->vquery,
	                   &o->meta,
	                   &o->cred.access_key,
	                   &o->cred.secret_key,
	                   &o->cred.session_token};
	char *p = o->buf;
	for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++) {
		if (parts[i].len)
			memcpy(p, parts[i].ptr, parts[i].len);
		*dst[i] = (lota_str){p, parts[i].len};
		p += parts[i].len;
	}
	o->buf_len = total;
	o->size = size;
	o->cred.mode = LOTAD_AUTH_RESIGN;
	o->cred.claim.form = LOTA_SIGV4_FORM_HEADER;
	atomic_init(&o->refs, 1);
	return o;
}

static objinfo *obj_ref(objinfo *o)
{
	atomic_fetch_add(&o->refs, 1);
	return o;
}

static void obj_unref(objinfo *o)
{
	if (!o || atomic_fetch_sub(&o->refs, 1) != 1)
		return;
	explicit_bzero(o->buf, o->buf_len);
	free(o);
}

static uint64_t ext_size(void)
{
	return G.cfg.extent_size;
}

static uint64_t ext_count(const objinfo *o)
{
	return (o->size + ext_size() - 1) / ext_size();
}

static uint64_t ext_len(const objinfo *o, uint64_t k)
{
	uint64_t s = k * ext_size();
	return o->size - s < ext_size() ? o->size - s : ext_size();
}

/* The canonical cache key of extent k (malloc'd) and its hash. */
static int ext_key(const objinfo *o, uint64_t k, uint8_t **key, size_t *klen, lota_hash128 *h)
{
	lota_cache_key ck = {
	    .bucket = o->bucket,
	    .key = o->dkey,
	    .etag = o->etag,
	    .version_id = o->vid,
	    .size_bytes = o->size,
	    .extent_index = k,
	};
	size_t n = lota_cache_key_canonical_len(&ck);
	uint8_t *buf = malloc(n ? n : 1);
	if (!buf)
		return -ENOMEM;
	int rc = lota_cache_key_canonical(&ck, buf, n);
	if (rc < 0) {
		free(buf);
		return rc;
	}
	*key = buf;
	*klen = (size_t)rc;
	*h = lotad_store_hash_key(buf, (size_t)rc);
	return 0;
}

/* ------------------------------------------------------ upstream requests --- */

/* The header list of a request to the upstream signed with ar's key: the signature's
 * lines, then the client's headers hs[0..n) (signed only where the client signed them),
 * then lotad's own own[0..nown) (signed), then nothing of curl's own (no Expect, no
 * default Accept). */
static int sign_request(struct curl_slist **l, const lotad_auth_result *ar, const lotad_settings *s,
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

static int object_url(const lotad_settings *s, lota_str bucket, lota_str rkey, lota_str vquery,
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

static CURL *easy_new(const lotad_settings *s, const char *url, struct curl_slist *hdrs,
                      bool nobody, curl_write_callback hcb, curl_write_callback wcb, void *ud,
                      char *errbuf)
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
static CURL *ranged_get(const lotad_settings *s, const objinfo *o, uint64_t first, uint64_t last,
                        struct curl_slist **hdrs, curl_write_callback hcb, curl_write_callback wcb,
                        void *ud, char *errbuf)
{
	char *url = malloc(URL_CAP), *path = malloc(URL_CAP);
	char range[64];
	lota_str pathv;
	CURL *e = NULL;
	if (!url || !path)
		goto out;
	if (object_url(s, o->bucket, o->rkey, o->vquery, url, URL_CAP, path, URL_CAP, &pathv) < 0)
		goto out;
	int rl = snprintf(range, sizeof(range), "bytes=%" PRIu64 "-%" PRIu64, first, last);
	lota_http_header hs[2] = {
	    {LOTA_STR_LIT("Range"), {range, (size_t)rl}},
	    {LOTA_STR_LIT("If-Match"), o->etag},
	};
	lota_str q = o->vquery;
	if (sign_request(hdrs, &o->cred, s, "GET", pathv, q, NULL, 0, hs, 2) < 0)
		goto out;
	e = easy_new(s, url, *hdrs, false, hcb, wcb, ud, errbuf);
out:
	free(url);
	free(path);
	return e;
}

/* The head of the answer to ranged_get(): it must be a 206 of exactly the bytes asked for
 * and of the same ETag, else nothing of its body is used. */
typedef lotad_cache_pinned pinned_head;

enum { HEAD_MORE = 0, HEAD_OK = 1, HEAD_BAD = -1 };

static int pinned_head_line(pinned_head *ph, const char *buf, size_t n, const objinfo *o,
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

static const char *pinned_head_why(const pinned_head *ph)
{
	if (ph->status != 206)
		return "";
	return !ph->range_ok ? " with another range" : " with another ETag";
}

/* ----------------------------------------------------------- fill jobs --- */

struct fjob {
	lotad_xfer x;
	struct curl_slist *hdrs;
	lotad_worker *w;
	fjob *next, *prev;
	bool listed;
	objinfo *o;
	uint64_t k, last, stride;
	lotad_fill *f;
	lota_hash128 h; /* of the extent being filled */
	uint64_t start, len;
	pinned_head ph;
	bool head_ok;
	creq *att; /* requests of this worker fed straight from this fill (the fork) */
	char errbuf[CURL_ERROR_SIZE];
};

static void fork_feed_all(fjob *j, uint64_t pos, const char *buf, size_t n);
static void fork_release(fjob *j);

static void fjob_unlist(fjob *j)
{
	pthread_mutex_lock(&G.mu);
	if (j->listed) {
		if (j->prev)
			j->prev->next = j->next;
		else
			G.jobs = j->next;
		if (j->next)
			j->next->prev = j->prev;
		j->listed = false;
	}
	pthread_mutex_unlock(&G.mu);
}

static void fjob_stop_xfer(fjob *j)
{
	if (j->x.easy) {
		lotad_upstream_remove(lotad_worker_upstream(j->w), &j->x);
		curl_easy_cleanup(j->x.easy);
		j->x.easy = NULL;
	}
	curl_slist_free_all(j->hdrs);
	j->hdrs = NULL;
}

static void fjob_free(fjob *j)
{
	fork_release(j);
	fjob_unlist(j);
	fjob_stop_xfer(j);
	lotad_fill_abort(j->f);
	obj_unref(j->o);
	free(j);
}

static size_t fjob_header(char *buf, size_t size, size_t nitems, void *ud)
{
	fjob *j = ud;
	size_t n = size * nitems;
	int rc = pinned_head_line(&j->ph, buf, n, j->o, j->start, j->start + j->len - 1);
	if (rc != HEAD_MORE)
		lotad_xfer_status(&j->x, j->ph.status);
	if (rc == HEAD_BAD) {
		lota_log_warn("fill: extent %" PRIu64 " of %.*s/%.*s: upstream answered %d%s; "
		              "nothing is published",
		              j->k, (int)j->o->bucket.len, j->o->bucket.ptr, (int)j->o->rkey.len,
		              j->o->rkey.ptr, j->ph.status, pinned_head_why(&j->ph));
		return 0;
	}
	if (rc == HEAD_OK)
		j->head_ok = true;
	return n;
}

static size_t fjob_write(char *buf, size_t size, size_t nmemb, void *ud)
{
	fjob *j = ud;
	size_t n = size * nmemb;
	if (!j->head_ok || !j->f)
		return 0;
	uint64_t pos = j->start + lotad_fill_written_bytes(j->f);
	int rc = lotad_fill_write(j->f, buf, n);
	if (rc < 0) {
		lota_log_warn("fill: extent %" PRIu64 ": %s; nothing is published", j->k,
		              lota_strerror(rc));
		return 0;
	}
	count(&G.fill_bytes, n);
	fork_feed_all(j, pos, buf, n);
	return n;
}

static void *commit_main(void *arg)
{
	int rc = lotad_fill_commit(arg);
	if (rc < 0)
		lota_log_warn("fill: publishing an extent failed: %s", lota_strerror(rc));
	atomic_fetch_sub(&G.commits_running, 1);
	return NULL;
}

/* fdatasync + rename off the loop thread. */
static void publish(lotad_fill *f)
{
	pthread_t t;
	pthread_attr_t at;
	atomic_fetch_add(&G.commits_running, 1);
	pthread_attr_init(&at);
	pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
	int rc = pthread_create(&t, &at, commit_main, f);
	pthread_attr_destroy(&at);
	if (rc != 0)
		commit_main(f);
}

static void fjob_done(lotad_xfer *x, CURLcode rc);

static int fjob_launch(fjob *j)
{
	const lotad_settings *s = lotad_worker_settings(j->w);
	memset(&j->ph, 0, sizeof(j->ph));
	j->head_ok = false;
	CURL *e = ranged_get(s, j->o, j->start, j->start + j->len - 1, &j->hdrs, fjob_header,
	                     fjob_write, j, j->errbuf);
	if (!e)
		return -ENOMEM;
	j->x.easy = e;
	j->x.done = fjob_done;
	if (lotad_upstream_add(lotad_worker_upstream(j->w), &j->x) < 0) {
		curl_easy_cleanup(e);
		j->x.easy = NULL;
		return -EIO;
	}
	return 0;
}

/* Start the fill of the next extent of the chain that is neither cached nor being filled.
 * Returns false when the chain is over (or cannot go on). */
static bool fjob_advance(fjob *j)
{
	for (; j->k <= j->last; j->k += j->stride) {
		uint8_t *key;
		size_t klen;
		lota_hash128 h;
		if (ext_key(j->o, j->k, &key, &klen, &h) < 0)
			return false;
		j->start = j->k * ext_size();
		j->len = ext_len(j->o, j->k);
		int rc = lotad_fill_begin(G.store, key, klen, j->len,
		                          (const uint8_t *)j->o->meta.ptr, j->o->meta.len, &j->f);
		free(key);
		if (rc == -EEXIST)
			continue;
		if (rc < 0) {
			lota_log_debug("fill: extent %" PRIu64 " not cached: %s", j->k,
			               lota_strerror(rc));
			return false;
		}
		count(&G.fills_started, 1);
		j->h = lotad_fill_hash(j->f);
		if (fjob_launch(j) == 0)
			return true;
		lotad_fill_abort(j->f);
		j->f = NULL;
		return false;
	}
	return false;
}

static void fjob_done(lotad_xfer *x, CURLcode rc)
{
	fjob *j = (fjob *)((char *)x - offsetof(fjob, x));
	lotad_fill *f = j->f;
	j->f = NULL;
	fjob_stop_xfer(j);
	fork_release(j); /* they go on reading the extent from the store */
	bool ok = rc == CURLE_OK && j->head_ok && lotad_fill_written_bytes(f) == j->len;
	if (ok) {
		publish(f);
	} else {
		count(&G.fills_failed, 1);
		if (j->head_ok || rc != CURLE_WRITE_ERROR)
			lota_log_warn("fill: extent %" PRIu64 " of %.*s/%.*s failed: %s", j->k,
			              (int)j->o->bucket.len, j->o->bucket.ptr, (int)j->o->rkey.len,
			              j->o->rkey.ptr,
			              rc != CURLE_OK ? curl_easy_strerror(rc) : "short body");
		lotad_fill_abort(f);
	}
	j->k += j->stride;
	if (!ok || !fjob_advance(j))
		fjob_free(j);
}

/* Fill extents first..last of o in `streams` chains on worker w. */
static void start_fills(lotad_worker *w, objinfo *o, uint64_t first, uint64_t last)
{
	uint64_t n = G.cfg.fill_streams ? G.cfg.fill_streams : 1;
	if (n > last - first + 1)
		n = last - first + 1;
	for (uint64_t i = 0; i < n; i++) {
		fjob *j = calloc(1, sizeof(*j));
		if (!j)
			return;
		j->w = w;
		j->o = obj_ref(o);
		j->k = first + i;
		j->last = last;
		j->stride = n;
		if (!fjob_advance(j)) {
			fjob_free(j);
			continue;
		}
		pthread_mutex_lock(&G.mu);
		j->next = G.jobs;
		if (G.jobs)
			G.jobs->prev = j;
		G.jobs = j;
		j->listed = true;
		pthread_mutex_unlock(&G.mu);
	}
}

void lotad_cache_worker_stop(lotad_worker *w)
{
	for (;;) {
		fjob *j;
		pthread_mutex_lock(&G.mu);
		for (j = G.jobs; j && j->w != w; j = j->next)
			;
		pthread_mutex_unlock(&G.mu);
		if (!j)
			return;
		fjob_free(j);
	}
}

static void grants_free(void);

void lotad_cache_shutdown(void)
{
	for (int i = 0; i < 6000 && atomic_load(&G.commits_running) > 0; i++)
		usleep(5000);
	G.store = NULL;
	free(G.otab);
	G.otab = NULL;
	grants_free();
}

/* ------------------------------------------------------- client requests --- */

enum { X_NONE = 0, X_AUTH, X_DIRECT };

struct creq {
	lotad_handler h; /* first */
	lotad_conn *c;
	lotad_worker *w;
	lotad_loop *loop;
	const lotad_settings *s;
	lotad_auth_result auth;
	lotad_s3req sr;
	lota_str vquery;
	objinfo *o;
	bool is_head, no_fill, ranged;
	/* the upstream transfer (the authorizing HEAD, then direct GETs) */
	lotad_xfer x;
	struct curl_slist *hdrs;
	int xkind;
	int status; /* of the authorizing HEAD */
	bool in_1xx, head_ok, recv_paused, overflow;
	pinned_head ph; /* of a direct read */
	bool have_cl;
	uint64_t cl;
	lota_str etag, vid; /* views into rhead */
	/* what is sent: bytes [a, b] of the object */
	uint64_t a, b, direct_end;
	lotad_store_reader *r;
	uint64_t r_k;
	lotad_fill_watch watch;
	bool watching;
	int efd;
	lotad_io eio;
	lotad_timer yield;
	fjob *att; /* the fill feeding us directly, if any */
	creq *att_next, *att_prev;
	size_t rhead_len;
	char rhead[HEAD_CAP];
	char errbuf[CURL_ERROR_SIZE];
};

/* --- the fork: a fill on our worker sends its bytes to the requests at its position ---
 *
 * A request reading an extent that a fill of its own worker is writing is attached to
 * that fill: each block the upstream sends goes to the store and, when the request's
 * next byte is inside it and its output buffer has room, to the client as well (no
 * read-back, no decryption). A client that is slower falls behind the fill and reads the
 * rest from the store at its own pace; one that catches up is fed again. */

static void fork_detach(creq *q)
{
	fjob *j = q->att;
	if (!j)
		return;
	if (q->att_prev)
		q->att_prev->att_next = q->att_next;
	else
		j->att = q->att_next;
	if (q->att_next)
		q->att_next->att_prev = q->att_prev;
	q->att = NULL;
	q->att_next = q->att_prev = NULL;
}

/* Attach q to the fill of extent h on its worker, if there is one. */
static void fork_attach(creq *q, lota_hash128 h)
{
	fjob *j;
	pthread_mutex_lock(&G.mu);
	for (j = G.jobs; j; j = j->next)
		if (j->w == q->w && j->f && j->h.hi == h.hi && j->h.lo == h.lo)
			break;
	pthread_mutex_unlock(&G.mu);
	if (!j)
		return;
	q->att = j;
	q->att_prev = NULL;
	q->att_next = j->att;
	if (j->att)
		j->att->att_prev = q;
	j->att = q;
}

static void fork_release(fjob *j)
{
	while (j->att) {
		creq *q = j->att;
		fork_detach(q);
		if (q->c)
			lotad_timer_start(q->loop, &q->yield, 0);
	}
}

static void fork_feed(creq *q, uint64_t pos, const char *buf, size_t n);

static void fork_feed_all(fjob *j, uint64_t pos, const char *buf, size_t n)
{
	for (creq *q = j->att, *next; q; q = next) {
		next = q->att_next;
		fork_feed(q, pos, buf, n);
	}
}

static void fork_feed(creq *q, uint64_t pos, const char *buf, size_t n)
{
	if (!q->c || q->xkind != X_NONE || q->a < pos || q->a >= pos + n || q->a > q->b)
		return;
	size_t off = (size_t)(q->a - pos), len = n - off;
	if (len > q->b - q->a + 1)
		len = (size_t)(q->b - q->a + 1);
	size_t room = lotad_conn_out_room(q->c);
	if (len > room)
		len = room; /* the rest comes from the store */
	if (!len || lotad_conn_resp_body(q->c, buf + off, len) < 0)
		return;
	q->a += len;
	count(&G.served_upstream, len);
	if (q->a > q->b)
		lotad_timer_start(q->loop, &q->yield, 0); /* finish outside curl's callback */
}

static void creq_close_reader(creq *q)
{
	fork_detach(q);
	if (!q->r)
		return;
	if (q->watching)
		lotad_reader_unwatch(q->r, &q->watch);
	q->watching = false;
	lotad_reader_close(q->r);
	q->r = NULL;
}

static void creq_stop_xfer(creq *q)
{
	if (q->x.easy) {
		lotad_upstream_remove(lotad_worker_upstream(q->w), &q->x);
		curl_easy_cleanup(q->x.easy);
		q->x.easy = NULL;
	}
	curl_slist_free_all(q->hdrs);
	q->hdrs = NULL;
	q->xkind = X_NONE;
	q->recv_paused = false;
}

static void creq_free(creq *q)
{
	creq_close_reader(q);
	creq_stop_xfer(q);
	lotad_timer_stop(q->loop, &q->yield);
	if (q->efd >= 0) {
		lotad_io_stop(q->loop, &q->eio);
		close(q->efd);
	}
	lotad_auth_result_cleanup(&q->auth);
	obj_unref(q->o);
	lotad_loop_defer_free(q->loop, q);
}

static void creq_finish(creq *q, bool ok)
{
	lotad_conn *c = q->c;
	q->c = NULL;
	if (c)
		lotad_conn_resp_end(c, ok);
	creq_free(q);
}

/* Hand the request to the proxy (the client gets exactly the upstream's answer). */
static void creq_to_proxy(creq *q, const char *label)
{
	lotad_conn *c = q->c;
	q->c = NULL;
	creq_stop_xfer(q);
	if (!strcmp(label, "bypass"))
		count(&G.bypasses, 1);
	else
		count(&G.misses, 1);
	G.proxy(G.proxy_ud, c, &q->sr, &q->auth, label, false);
	creq_free(q);
}

static void creq_abort(lotad_handler *h)
{
	creq *q = (creq *)h;
	q->c = NULL;
	creq_free(q);
}

static void pump(creq *q);

static void creq_on_drain(lotad_handler *h)
{
	creq *q = (creq *)h;
	if (q->xkind == X_DIRECT) {
		if (q->recv_paused && q->x.easy) {
			q->recv_paused = false;
			curl_easy_pause(q->x.easy, CURLPAUSE_CONT);
		}
		return;
	}
	pump(q);
}

static void creq_on_body(lotad_handler *h)
{
	(void)h; /* GET/HEAD bodies are not read */
}

static const lotad_handler_ops creq_ops = {
    .on_body = creq_on_body,
    .on_drain = creq_on_drain,
    .abort = creq_abort,
};

static void yield_cb(lotad_timer *t)
{
	pump(t->ud);
}

static void efd_cb(lotad_io *io, uint32_t events)
{
	creq *q = io->ud;
	uint64_t v;
	(void)events;
	while (read(q->efd, &v, sizeof(v)) == (ssize_t)sizeof(v))
		;
	pump(q);
}

static void watch_fn(void *ud)
{
	creq *q = ud;
	uint64_t one = 1;
	ssize_t n = write(q->efd, &one, sizeof(one));
	(void)n; /* a full counter already wakes the loop */
}

/* --- direct ranged GETs (a part the store cannot give) --- */

static size_t direct_header(char *buf, size_t size, size_t nitems, void *ud)
{
	creq *q = ud;
	size_t n = size * nitems;
	if (!q->c)
		return 0;
	int rc = pinned_head_line(&q->ph, buf, n, q->o, q->a, q->direct_end);
	if (rc != HEAD_MORE)
		lotad_xfer_status(&q->x, q->ph.status);
	if (rc == HEAD_BAD) {
		lota_log_warn("cache: direct read of %.*s/%.*s: upstream answered %d%s; the "
		              "response is cut short",
		              (int)q->o->bucket.len, q->o->bucket.ptr, (int)q->o->rkey.len,
		              q->o->rkey.ptr, q->ph.status, pinned_head_why(&q->ph));
		return 0;
	}
	if (rc == HEAD_OK)
		q->head_ok = true;
	return n;
}

static size_t direct_write(char *buf, size_t size, size_t nmemb, void *ud)
{
	creq *q = ud;
	size_t n = size * nmemb;
	if (!q->c || !q->head_ok || n > q->direct_end + 1 - q->a)
		return 0;
	if (lotad_conn_out_room(q->c) < n) {
		q->recv_paused = true;
		lotad_conn_want_drain(q->c);
		return CURL_WRITEFUNC_PAUSE;
	}
	if (lotad_conn_resp_body(q->c, buf, n) < 0)
		return 0;
	q->a += n;
	count(&G.served_upstream, n);
	return n;
}

static void direct_done(lotad_xfer *x, CURLcode rc)
{
	creq *q = (creq *)((char *)x - offsetof(creq, x));
	creq_stop_xfer(q);
	if (!q->c) {
		creq_free(q);
		return;
	}
	if (rc == CURLE_OK && q->head_ok && q->a == q->direct_end + 1) {
		pump(q);
		return;
	}
	if (rc != CURLE_OK && rc != CURLE_WRITE_ERROR)
		lota_log_warn("cache: direct read failed: %s", curl_easy_strerror(rc));
	creq_finish(q, false);
}

/* Send bytes [q->a, last] by a ranged GET pinned to the ETag. Returns 0, or < 0 after
 * finishing the request (cut short). */
static int start_direct(creq *q, uint64_t last)
{
	q->direct_end = last;
	memset(&q->ph, 0, sizeof(q->ph));
	q->head_ok = false;
	count(&G.direct_reads, 1);
	CURL *e =
	    ranged_get(q->s, q->o, q->a, last, &q->hdrs, direct_header, direct_write, q, q->errbuf);
	if (e) {
		q->x.easy = e;
		q->x.done = direct_done;
		q->xkind = X_DIRECT;
		if (lotad_upstream_add(lotad_worker_upstream(q->w), &q->x) == 0)
			return 0;
	}
	lota_log_error("cache: cannot start a direct read");
	creq_finish(q, false);
	return -1;
}

/* --- the store as the source --- */

/* Open extent k for reading: published, being filled, or filled now by us. Returns 0,
 * 1 when the part was handed to a direct read instead, < 0 when the request is over. */
static int open_extent(creq *q, uint64_t k)
{
	uint8_t *key;
	size_t klen;
	lota_hash128 h;
	uint64_t last = k * ext_size() + ext_len(q->o, k) - 1;
	if (last > q->b)
		last = q->b;
	if (ext_key(q->o, k, &key, &klen, &h) < 0)
		return start_direct(q, last) < 0 ? -1 : 1;
	int rc = lotad_store_open(G.store, h, key, klen, &q->r);
	if (rc == -ENOENT && !q->no_fill) {
		/* neither cached nor being filled (our chains have not reached it, or a fill
		 * failed): fill it now */
		start_fills(q->w, q->o, k, k);
		rc = lotad_store_open(G.store, h, key, klen, &q->r);
	}
	free(key);
	if (rc < 0) {
		q->r = NULL;
		return start_direct(q, last) < 0 ? -1 : 1;
	}
	q->r_k = k;
	if (lotad_reader_readable(q->r) < (int64_t)lotad_reader_length(q->r))
		fork_attach(q, h);
	return 0;
}

static void reader_failed(creq *q, int64_t rc)
{
	uint64_t k = q->r_k;
	uint64_t last = k * ext_size() + ext_len(q->o, k) - 1;
	if (last > q->b)
		last = q->b;
	if (rc != -ECANCELED)
		lota_log_warn("cache: extent %" PRIu64 " of %.*s/%.*s unreadable (%s): reading it "
		              "from the upstream",
		              k, (int)q->o->bucket.len, q->o->bucket.ptr, (int)q->o->rkey.len,
		              q->o->rkey.ptr, lota_strerror((int)rc));
	creq_close_reader(q);
	(void)start_direct(q, last);
}

static void pump(creq *q)
{
	size_t budget = PUMP_BUDGET;
	while (q->c && q->xkind == X_NONE) {
		if (q->a > q->b) {
			creq_finish(q, true);
			return;
		}
		uint64_t k = q->a / ext_size();
		if (q->r && q->r_k != k)
			creq_close_reader(q);
		if (!q->r) {
			int rc = open_extent(q, k);
			if (rc != 0)
				return;
		}
		uint64_t off = q->a - k * ext_size();
		int64_t rd = lotad_reader_readable(q->r);
		if (rd < 0) {
			reader_failed(q, rd);
			return;
		}
		if (off >= (uint64_t)rd) {
			if (off - (uint64_t)rd > FAR_AHEAD) {
				uint64_t last = k * ext_size() + ext_len(q->o, k) - 1;
				creq_close_reader(q);
				(void)start_direct(q, last < q->b ? last : q->b);
				return;
			}
			if (!q->watching) {
				if (q->efd < 0) {
					q->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
					if (q->efd < 0) {
						reader_failed(q, -errno);
						return;
					}
					q->eio = (lotad_io){.fd = q->efd, .fn = efd_cb, .ud = q};
					if (lotad_io_set(q->loop, &q->eio, EPOLLIN) < 0) {
						reader_failed(q, -EIO);
						return;
					}
				}
				if (lotad_reader_watch(q->r, &q->watch, watch_fn, q) == 0)
					q->watching = true;
				continue; /* it may have grown before the watch was set */
			}
			return; /* the watch wakes us */
		}
		if (!budget) {
			lotad_timer_start(q->loop, &q->yield, 0);
			return;
		}
		uint64_t want = (uint64_t)rd - off;
		if (want > q->b - q->a + 1)
			want = q->b - q->a + 1;
		if (want > budget)
			want = budget;
		int pfd;
		uint64_t doff;
		if (G.cfg.plain_sendfile && lotad_reader_plain_fd(q->r, &pfd, &doff) == 0) {
			ssize_t n = lotad_conn_resp_sendfile(q->c, pfd, doff + off, (size_t)want);
			if (n == 0) {
				lotad_conn_want_drain(q->c);
				return;
			}
			if (n > 0) {
				q->a += (uint64_t)n;
				budget -= (size_t)n < budget ? (size_t)n : budget;
				count(&G.served_cache, (uint64_t)n);
				continue;
			}
			if (n == -EPIPE)
				return; /* the connection is failing: abort follows */
			if (n == -EIO) {
				reader_failed(q, -EIO);
				return;
			}
			/* -EAGAIN: bytes are buffered; this round goes through the buffer */
		}
		size_t room;
		char *dst = lotad_conn_resp_reserve(q->c, &room);
		if (!dst || !room) {
			lotad_conn_want_drain(q->c);
			return;
		}
		if (want > room)
			want = room;
		ssize_t n = lotad_reader_read(q->r, off, dst, (size_t)want);
		if (n == -EAGAIN)
			continue;
		if (n <= 0) {
			reader_failed(q, n < 0 ? n : -EIO);
			return;
		}
		q->a += (uint64_t)n;
		budget -= (size_t)n < budget ? (size_t)n : budget;
		count(&G.served_cache, (uint64_t)n);
		if (lotad_conn_resp_commit(q->c, (size_t)n) < 0)
			return; /* the connection is failing: abort follows */
	}
}

/* --- the authorizing HEAD --- */

static void rhead_add(creq *q, const char *s, size_t n)
{
	if (q->rhead_len + n > sizeof(q->rhead)) {
		q->overflow = true;
		return;
	}
	memcpy(q->rhead + q->rhead_len, s, n);
	q->rhead_len += n;
}

static size_t auth_header(char *buf, size_t size, size_t nitems, void *ud)
{
	creq *q = ud;
	size_t n = size * nitems;
	lota_str l = trim(buf, n);
	if (!q->c)
		return 0;
	if (l.len >= 5 && memcmp(l.ptr, "HTTP/", 5) == 0) {
		const char *sp = memchr(l.ptr, ' ', l.len);
		q->status = sp ? atoi(sp + 1) : 0;
		q->in_1xx = q->status >= 100 && q->status < 200;
		q->rhead_len = 0;
		q->have_cl = false;
		q->etag = q->vid = (lota_str){NULL, 0};
		return n;
	}
	if (!l.len) {
		if (!q->in_1xx)
			lotad_xfer_status(&q->x, q->status);
		q->in_1xx = false;
		return n;
	}
	const char *colon = memchr(l.ptr, ':', l.len);
	if (!colon || q->in_1xx)
		return n;
	lota_str name = {l.ptr, (size_t)(colon - l.ptr)};
	lota_str v = trim(colon + 1, (size_t)(l.ptr + l.len - colon - 1));
	if (lotad_hop_by_hop(name))
		return n;
	if (name_is(name, "content-length")) {
		q->have_cl = parse_u64(v, &q->cl);
		return n;
	}
	if (name_is(name, "content-range"))
		return n;
	if (name_is(name, "x-amz-request-id"))
		lotad_conn_set_request_id(q->c, v.ptr, v.len);
	size_t at = q->rhead_len + (size_t)(v.ptr - l.ptr);
	rhead_add(q, l.ptr, l.len);
	rhead_add(q, "\r\n", 2);
	if (!q->overflow && name_is(name, "etag"))
		q->etag = (lota_str){q->rhead + at, v.len};
	if (!q->overflow && name_is(name, "x-amz-version-id"))
		q->vid = (lota_str){q->rhead + at, v.len};
	return n;
}

static size_t auth_write(char *buf, size_t size, size_t nmemb, void *ud)
{
	(void)buf;
	(void)ud;
	return size * nmemb; /* a HEAD has no body */
}

/* The response head for the client: status, the upstream's headers, ours. */
static int send_head(creq *q, const char *label, lotad_resp_framing fr)
{
	char *head = malloc(HEAD_CAP + 512);
	if (!head)
		return -ENOMEM;
	uint64_t len = q->cl ? q->b - q->a + 1 : 0;
	int n = snprintf(head, HEAD_CAP + 512, "HTTP/1.1 %s\r\n",
	                 q->ranged ? "206 Partial Content" : "200 OK");
	memcpy(head + n, q->rhead, q->rhead_len);
	n += (int)q->rhead_len;
	n += snprintf(head + n, HEAD_CAP + 512 - (size_t)n, "Content-Length: %" PRIu64 "\r\n", len);
	if (q->ranged)
		n += snprintf(head + n, HEAD_CAP + 512 - (size_t)n,
		              "Content-Range: bytes %" PRIu64 "-%" PRIu64 "/%" PRIu64 "\r\n", q->a,
		              q->b, q->cl);
	n += snprintf(head + n, HEAD_CAP + 512 - (size_t)n, "x-lota-cache: %s\r\n", label);
	int rc = lotad_conn_resp_head(q->c, q->ranged ? 206 : 200, head, (size_t)n, fr);
	free(head);
	return rc;
}

static void authorized(creq *q);

/* --- metadata_ttl: the upstream's last 200 per (access key, object) --- */

#define GRANT_SLOTS 1024

struct grant {
	lota_hash128 name;
	int64_t until_ms;
	uint64_t size;
	size_t head_len, etag_off, etag_len, vid_off, vid_len;
	char *head; /* the relayed headers (malloc'd) */
};

static struct grant *g_grants;

static lota_hash128 grant_name(const creq *q)
{
	lota_str ak = q->auth.access_key;
	char buf[256];
	int n = snprintf(buf, sizeof(buf), "%zu:%.*s", ak.len, (int)(ak.len < 200 ? ak.len : 200),
	                 ak.ptr);
	lota_hash128 o = obj_name(q->sr.bucket, q->sr.key, q->vquery);
	memcpy(buf + n, &o, sizeof(o));
	return lotad_store_hash_key((const uint8_t *)buf, (size_t)n + sizeof(o));
}

static void grant_note(creq *q)
{
	if (!g_grants || !q->etag.len)
		return;
	char *head = malloc(q->rhead_len ? q->rhead_len : 1);
	if (!head)
		return;
	memcpy(head, q->rhead, q->rhead_len);
	lota_hash128 h = grant_name(q);
	pthread_mutex_lock(&G.mu);
	struct grant *g = &g_grants[h.lo % GRANT_SLOTS];
	free(g->head);
	*g = (struct grant){
	    .name = h,
	    .until_ms = now_ms() + (int64_t)G.cfg.metadata_ttl_ms,
	    .size = q->cl,
	    .head_len = q->rhead_len,
	    .etag_off = (size_t)(q->etag.ptr - q->rhead),
	    .etag_len = q->etag.len,
	    .vid_off = q->vid.len ? (size_t)(q->vid.ptr - q->rhead) : 0,
	    .vid_len = q->vid.len,
	    .head = head,
	};
	pthread_mutex_unlock(&G.mu);
}

/* A grant younger than metadata_ttl for this key and object: fill q as the HEAD would
 * have. Requests with conditionals always ask the upstream. */
static bool grant_use(creq *q)
{
	const lota_http_request *req = lotad_conn_request(q->c);
	if (!g_grants)
		return false;
	for (size_t i = 0; i < req->num_headers; i++)
		if (req->headers[i].name.len > 3 &&
		    strncasecmp(req->headers[i].name.ptr, "if-", 3) == 0)
			return false;
	lota_hash128 h = grant_name(q);
	bool ok = false;
	pthread_mutex_lock(&G.mu);
	struct grant *g = &g_grants[h.lo % GRANT_SLOTS];
	if (g->head && g->name.hi == h.hi && g->name.lo == h.lo && now_ms() < g->until_ms &&
	    g->head_len <= sizeof(q->rhead)) {
		memcpy(q->rhead, g->head, g->head_len);
		q->rhead_len = g->head_len;
		q->cl = g->size;
		q->have_cl = true;
		q->status = 200;
		q->etag = (lota_str){q->rhead + g->etag_off, g->etag_len};
		q->vid = (lota_str){g->vid_len ? q->rhead + g->vid_off : NULL, g->vid_len};
		ok = true;
	}
	pthread_mutex_unlock(&G.mu);
	return ok;
}

static void grants_free(void)
{
	if (!g_grants)
		return;
	for (size_t i = 0; i < GRANT_SLOTS; i++)
		free(g_grants[i].head);
	free(g_grants);
	g_grants = NULL;
}

static void auth_done(lotad_xfer *x, CURLcode rc)
{
	creq *q = (creq *)((char *)x - offsetof(creq, x));
	lotad_upstream_remove(lotad_worker_upstream(q->w), &q->x);
	curl_easy_cleanup(q->x.easy);
	q->x.easy = NULL;
	curl_slist_free_all(q->hdrs);
	q->hdrs = NULL;
	q->xkind = X_NONE;
	if (!q->c) {
		creq_free(q);
		return;
	}
	/* Anything but a usable 200: the proxy asks again with the client's own request and
	 * relays the answer exactly (denials, 304, 412, errors, retries). */
	if (rc != CURLE_OK || q->status != 200 || !q->have_cl || !q->etag.len || q->overflow) {
		creq_to_proxy(q, "bypass");
		return;
	}
	objtab_note(q->sr.bucket, q->sr.key, q->vquery, q->cl, q->etag, q->vid);
	if (G.cfg.metadata_ttl_ms)
		grant_note(q);
	authorized(q);
}

/* The upstream said 200 to this client for this object (now or within metadata_ttl):
 * decide and answer. */
static void authorized(creq *q)
{
	bool small = q->cl < G.cfg.min_object_size || q->cl == 0;
	if (small && !q->is_head) {
		creq_to_proxy(q, "bypass");
		return;
	}
	/* the range */
	const lota_http_request *req = lotad_conn_request(q->c);
	const lota_http_header *rh =
	    lota_http_find_header(req->headers, req->num_headers, "range", 5);
	q->a = 0;
	q->b = q->cl ? q->cl - 1 : 0;
	lota_range rg;
	if (rh && lota_range_parse(rh->value.ptr, rh->value.len, &rg) == 0) {
		if (!small)
			count(&G.range_reqs, 1);
		if (lota_range_resolve(&rg, q->cl, &q->a, &q->b) < 0) {
			/* 416: the upstream's own answer (its body and headers) */
			creq_to_proxy(q, "bypass");
			return;
		}
		q->ranged = true;
	}
	if (small) { /* a HEAD: answered from the upstream's */
		count(&G.bypasses, 1);
		creq_finish(q, send_head(q, "bypass", LOTAD_RESP_NONE) == 0);
		return;
	}
	q->o = obj_new(q->sr.bucket, q->sr.key, q->etag, q->vid, q->vquery, &q->auth,
	               (lota_str){q->rhead, q->rhead_len}, q->cl);
	if (!q->o) {
		creq_to_proxy(q, "bypass");
		return;
	}
	uint64_t first = q->a / ext_size(), last = q->b / ext_size();
	bool cached = true;
	for (uint64_t k = first; k <= last && cached; k++) {
		lota_hash128 h;
		cached = ext_hash(q->o->bucket, q->o->dkey, q->o->etag, q->o->vid, q->o->size, k,
		                  &h) == 0 &&
		         lotad_store_lookup(G.store, h) == 1;
	}
	const char *label = cached ? "hit" : "miss";
	if (q->is_head) {
		count(cached ? &G.hits : &G.misses, 1);
		if (!cached && !q->no_fill && (G.cfg.prestage_on_head || rh))
			start_fills(q->w, q->o, 0, ext_count(q->o) - 1);
		creq_finish(q, send_head(q, label, LOTAD_RESP_NONE) == 0);
		return;
	}
	if (!cached && q->no_fill) {
		creq_to_proxy(q, "miss");
		return;
	}
	count(cached ? &G.hits : &G.misses, 1);
	if (!cached)
		start_fills(q->w, q->o, first, last);
	if (send_head(q, label, LOTAD_RESP_LENGTH) < 0) {
		creq_finish(q, false);
		return;
	}
	pump(q);
}

static int start_auth(creq *q)
{
	const lota_http_request *req = lotad_conn_request(q->c);
	lota_http_header *hs = calloc(LOTAD_MAX_HEADERS, sizeof(*hs));
	char *url = malloc(URL_CAP), *path = malloc(URL_CAP);
	lota_str pathv;
	size_t n = 0;
	int rc = -ENOMEM;
	if (!hs || !url || !path)
		goto out;
	rc = object_url(q->s, q->sr.bucket, q->sr.key, q->vquery, url, URL_CAP, path, URL_CAP,
	                &pathv);
	if (rc < 0)
		goto out;
	for (size_t i = 0; i < req->num_headers; i++) {
		lota_str nm = req->headers[i].name;
		if (lotad_hop_by_hop(nm) || name_is(nm, "host") || name_is(nm, "content-length") ||
		    name_is(nm, "expect") || name_is(nm, "authorization") ||
		    name_is(nm, "x-amz-date") || name_is(nm, "x-amz-security-token") ||
		    name_is(nm, "x-amz-content-sha256") || name_is(nm, "range"))
			continue;
		hs[n++] = req->headers[i];
	}
	rc = sign_request(&q->hdrs, &q->auth, q->s, "HEAD", pathv, q->vquery, hs, n, NULL, 0);
	if (rc < 0)
		goto out;
	rc = -ENOMEM;
	q->x.easy = easy_new(q->s, url, q->hdrs, true, auth_header, auth_write, q, q->errbuf);
	if (!q->x.easy)
		goto out;
	q->x.done = auth_done;
	q->xkind = X_AUTH;
	rc = lotad_upstream_add(lotad_worker_upstream(q->w), &q->x);
	if (rc < 0) {
		curl_easy_cleanup(q->x.easy);
		q->x.easy = NULL;
	}
out:
	free(hs);
	free(url);
	free(path);
	return rc;
}

/* Why a request is not for the cache (NULL: it is). */
static const char *not_cacheable(const lota_http_request *req, const lotad_s3req *sr,
                                 const lotad_auth_result *a, bool *no_fill, lota_str *vquery)
{
	if (!sr->object_read)
		return "not an object read";
	if (a->mode != LOTAD_AUTH_RESIGN)
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

void lotad_cache_start(lotad_conn *c, const lotad_s3req *sr, lotad_auth_result *auth)
{
	const lota_http_request *req = lotad_conn_request(c);
	bool no_fill = false;
	lota_str vq = {"", 0};
	const char *why = G.store ? not_cacheable(req, sr, auth, &no_fill, &vq) : "no cache";
	if (!why && objtab_small(sr->bucket, sr->key, vq))
		why = "small object";
	if (why) {
		count(&G.bypasses, 1);
		G.proxy(G.proxy_ud, c, sr, auth, "bypass", false);
		return;
	}
	/* A short range far into an extent that is not here (a fill would take a while to
	 * reach it): the client's own GET goes to the upstream at once (it authorizes and
	 * carries the bytes, no HEAD first, so the first byte comes as fast as without
	 * lotad) and its answer starts the fill of the extent. Ranges near the start of an
	 * extent are read from the fill as it arrives (the authorizing HEAD, then the fork). */
	const lota_http_header *rh =
	    lota_http_find_header(req->headers, req->num_headers, "range", 5);
	lota_range rg;
	if (rh && !no_fill && !lota_str_eq_nocase(req->method, "HEAD", 4) &&
	    lota_range_parse(rh->value.ptr, rh->value.len, &rg) == 0 &&
	    rg.kind == LOTA_RANGE_FROM_TO && rg.last - rg.first < DIRECT_FIRST &&
	    rg.first % G.cfg.extent_size >= FAR_AHEAD &&
	    !objtab_cached(sr->bucket, sr->key, vq, rg.first)) {
		count(&G.misses, 1);
		count(&G.range_reqs, 1);
		G.proxy(G.proxy_ud, c, sr, auth, "miss", true);
		return;
	}
	creq *q = calloc(1, sizeof(*q));
	if (!q) {
		lotad_auth_result_cleanup(auth);
		lotad_conn_send_error(c, 503, "SlowDown", "Out of memory.", true);
		return;
	}
	q->h.ops = &creq_ops;
	q->c = c;
	q->w = lotad_conn_worker(c);
	q->loop = lotad_worker_loop(q->w);
	q->s = lotad_worker_settings(q->w);
	q->auth = *auth;
	memset(auth, 0, sizeof(*auth));
	q->sr = *sr;
	q->vquery = vq;
	q->is_head = lota_str_eq_nocase(req->method, "HEAD", 4);
	q->no_fill = no_fill;
	q->efd = -1;
	lotad_timer_init(&q->yield, yield_cb, q);
	lotad_conn_attach(c, &q->h);
	if (G.cfg.metadata_ttl_ms && grant_use(q)) {
		authorized(q);
		return;
	}
	if (start_auth(q) < 0) {
		lota_log_warn("cache: cannot start the authorizing request; proxying");
		creq_to_proxy(q, "bypass");
	}
}

void lotad_cache_fill_from_response(lotad_worker *w, const lotad_s3req *sr,
                                    const lotad_auth_result *auth, lota_str query, lota_str etag,
                                    lota_str version_id, lota_str content_length,
                                    lota_str content_range)
{
	uint64_t first, last, size;
	lota_str vq;
	if (!G.store || !etag.len || !lotad_cache__query_ok(query, &vq))
		return;
	if (content_range.len) {
		if (!lotad_cache__parse_content_range(content_range, &first, &last, &size))
			return;
	} else if (parse_u64(content_length, &size) && size) {
		first = 0;
		last = size - 1;
	} else {
		return;
	}
	objtab_note(sr->bucket, sr->key, vq, size, etag, version_id);
	if (size < G.cfg.min_object_size)
		return;
	objinfo *o =
	    obj_new(sr->bucket, sr->key, etag, version_id, vq, auth, (lota_str){"", 0}, size);
	if (!o)
		return;
	start_fills(w, o, first / ext_size(), last / ext_size());
	obj_unref(o);
}

/* ------------------------------------------------------------- writes --- */

void lotad_cache_object_written(lota_str bucket, lota_str key)
{
	struct objent e;
	char dk[4096];
	int dl;
	if (!G.store || !objtab_get(bucket, key, (lota_str){"", 0}, &e, true) ||
	    e.size < G.cfg.min_object_size || (dl = decode_key(key, dk, sizeof(dk))) < 0)
		return;
	size_t dropped = 0;
	for (uint64_t k = 0; k * G.cfg.extent_size < e.size; k++) {
		lota_hash128 eh;
		if (ext_hash(bucket, (lota_str){dk, (size_t)dl}, (lota_str){e.etag, e.etag_len},
		             (lota_str){e.vid, e.vid_len}, e.size, k, &eh) < 0)
			break;
		dropped += lotad_store_drop(G.store, eh) == 0;
	}
	if (dropped)
		lota_log_debug("cache: %zu extents of a rewritten object dropped", dropped);
}

/* ------------------------------------------------------------ metrics --- */

static size_t cache_metrics(char *out, size_t cap, void *ud)
{
	(void)ud;
#define U(v) ((unsigned long long)atomic_load_explicit(&(v), memory_order_relaxed))
	int n = snprintf(
	    out, cap,
	    "# HELP lota_cache_hits_total GET/HEAD requests answered from the cache.\n"
	    "# TYPE lota_cache_hits_total counter\n"
	    "lota_cache_hits_total %llu\n"
	    "# HELP lota_cache_misses_total GET/HEAD requests of cacheable objects not cached.\n"
	    "# TYPE lota_cache_misses_total counter\n"
	    "lota_cache_misses_total %llu\n"
	    "# HELP lota_cache_bypass_total GET/HEAD requests proxied without the cache.\n"
	    "# TYPE lota_cache_bypass_total counter\n"
	    "lota_cache_bypass_total %llu\n"
	    "# HELP lota_range_requests_total GET/HEAD requests of cacheable objects with a "
	    "Range.\n"
	    "# TYPE lota_range_requests_total counter\n"
	    "lota_range_requests_total %llu\n"
	    "# HELP lota_bytes_served_total Object bytes sent to clients by source.\n"
	    "# TYPE lota_bytes_served_total counter\n"
	    "lota_bytes_served_total{source=\"cache\"} %llu\n"
	    "lota_bytes_served_total{source=\"upstream\"} %llu\n"
	    "# HELP lota_fill_bytes_total Bytes written into the cache by fills.\n"
	    "# TYPE lota_fill_bytes_total counter\n"
	    "lota_fill_bytes_total %llu\n"
	    "# HELP lota_cache_fills_total Fills started and failed (nothing published).\n"
	    "# TYPE lota_cache_fills_total counter\n"
	    "lota_cache_fills_total{result=\"started\"} %llu\n"
	    "lota_cache_fills_total{result=\"failed\"} %llu\n"
	    "# HELP lota_cache_direct_reads_total Parts of responses read from the upstream "
	    "because the cache could not give them.\n"
	    "# TYPE lota_cache_direct_reads_total counter\n"
	    "lota_cache_direct_reads_total %llu\n",
	    U(G.hits), U(G.misses), U(G.bypasses), U(G.range_reqs), U(G.served_cache),
	    U(G.served_upstream), U(G.fill_bytes), U(G.fills_started), U(G.fills_failed),
	    U(G.direct_reads));
#undef U
	return n < 0 ? 0 : (size_t)n;
}

void lotad_cache_setup(lotad_store *store, const lotad_cache_config *cfg)
{
	G.store = store;
	G.cfg = *cfg;
	if (!G.cfg.extent_size)
		G.cfg.extent_size = 64ull << 20;
	if (store && !G.otab)
		G.otab = calloc(OBJ_SLOTS, sizeof(*G.otab));
	if (store && G.cfg.metadata_ttl_ms && !g_grants)
		g_grants = calloc(GRANT_SLOTS, sizeof(*g_grants));
	static bool registered;
	if (!registered) {
		registered = true;
		lotad_metrics_add_provider(cache_metrics, NULL);
		if (store)
			lotad_metrics_add_provider(lotad_store_metrics, store);
	}
}
