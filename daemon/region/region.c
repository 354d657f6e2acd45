/*
 * region.c - the regions' endpoints, the per-bucket home table and the home probe (see
 * region.h).
 *
 * The home table is direct-mapped (SLOTS slots by a hash of the bucket name): a bucket
 * whose slot another bucket took is simply probed again, so the table needs no eviction
 * and its memory is fixed. A probe is one anonymous HEAD per region, all at once on the
 * worker's curl multi; it ends when the last one does.
 */
#include "region/region.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <lota/log.h>

#include "metrics.h"
#include "util/clock.h"
#include "util/hostport.h"

#define SLOTS      4096
#define BUCKET_MAX 255

typedef struct region_ent {
	char name[LOTAD_REGION_NAME_MAX + 1];
	lotad_settings s;
	atomic_uint_fast64_t requests, bytes, remote_hits;
} region_ent;

typedef struct slot {
	uint64_t until_ms; /* 0: empty */
	uint8_t region;
	uint8_t len;
	char bucket[BUCKET_MAX];
} slot;

struct lotad_regions {
	region_ent r[LOTAD_MAX_REGIONS];
	size_t n;
	uint64_t ttl_ms;
	pthread_mutex_t mu;
	slot *slots;
	atomic_uint_fast64_t learned, forgotten, probes, probes_homeless;
};

/* ------------------------------------------------------------ the spec --- */

static bool region_name_ok(const char *p, size_t n)
{
	if (n == 0 || n > LOTAD_REGION_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = p[i];
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'))
			return false;
	}
	return true;
}

int lotad_region_spec_parse(const char *spec, char *name, char *url, size_t url_cap, char *err,
                            size_t err_cap)
{
	const char *eq = spec ? strchr(spec, '=') : NULL;
	if (!eq) {
		snprintf(err, err_cap, "\"%s\" is not REGION=URL", spec ? spec : "");
		return -EINVAL;
	}
	size_t nl = (size_t)(eq - spec);
	if (!region_name_ok(spec, nl)) {
		snprintf(err, err_cap,
		         "\"%s\": the region must be 1 to %d lowercase letters, digits or '-'",
		         spec, LOTAD_REGION_NAME_MAX);
		return -EINVAL;
	}
	const char *u = eq + 1, *rest;
	if (strncmp(u, "http://", 7) == 0)
		rest = u + 7;
	else if (strncmp(u, "https://", 8) == 0)
		rest = u + 8;
	else {
		snprintf(err, err_cap, "\"%s\": the URL must start with http:// or https://", spec);
		return -EINVAL;
	}
	size_t hl = strcspn(rest, "/?#@ \t");
	if (hl == 0 || (rest[hl] && strcmp(rest + hl, "/") != 0)) {
		snprintf(err, err_cap, "\"%s\": the URL must be scheme://host[:port] (no path)",
		         spec);
		return -EINVAL;
	}
	lota_str host;
	long port;
	if (lotad_hostport_split((lota_str){rest, hl}, &host, &port) < 0 || host.len == 0 ||
	    port == 0) {
		snprintf(err, err_cap,
		         "\"%s\": the URL's host[:port] is not a host and a port "
		         "from 1 to 65535",
		         spec);
		return -EINVAL;
	}
	size_t ul = strlen(u);
	if (ul >= url_cap || ul >= 300) {
		snprintf(err, err_cap, "\"%s\": the URL is too long", spec);
		return -EINVAL;
	}
	memcpy(name, spec, nl);
	name[nl] = 0;
	memcpy(url, u, ul + 1);
	return 0;
}

/* ------------------------------------------------------------ the table --- */

lotad_regions *lotad_regions_new(const lotad_settings *local, const char *local_name,
                                 uint64_t ttl_ms)
{
	lotad_regions *t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	t->slots = calloc(SLOTS, sizeof(*t->slots));
	if (!t->slots) {
		free(t);
		return NULL;
	}
	pthread_mutex_init(&t->mu, NULL);
	t->ttl_ms = ttl_ms;
	snprintf(t->r[0].name, sizeof(t->r[0].name), "%s", local_name ? local_name : "");
	t->r[0].s = *local;
	t->n = 1;
	return t;
}

void lotad_regions_free(lotad_regions *t)
{
	if (!t)
		return;
	pthread_mutex_destroy(&t->mu);
	free(t->slots);
	free(t);
}

int lotad_regions_find(const lotad_regions *t, lota_str name)
{
	for (size_t i = 0; t && i < t->n; i++) {
		if (strlen(t->r[i].name) == name.len &&
		    strncasecmp(t->r[i].name, name.ptr, name.len) == 0)
			return (int)i;
	}
	return -1;
}

int lotad_regions_add(lotad_regions *t, const char *name, const lotad_settings *up)
{
	if (lotad_regions_find(t, (lota_str){name, strlen(name)}) >= 0)
		return -EEXIST;
	if (t->n == LOTAD_MAX_REGIONS)
		return -ENOSPC;
	region_ent *r = &t->r[t->n++];
	snprintf(r->name, sizeof(r->name), "%s", name);
	r->s = *up;
	/* the signing fields of the copy point into the copy */
	r->s.region = r->name;
	r->s.auth.region = r->name;
	r->s.auth.upstream_host = r->s.upstream_hostport;
	r->s.auth.endpoint_names = r->s.endpoint_names;
	r->s.auth.redirect_names = r->s.redirect_names;
	return 0;
}

size_t lotad_regions_count(const lotad_regions *t)
{
	return t ? t->n : 0;
}

const char *lotad_regions_name(const lotad_regions *t, size_t i)
{
	return t && i < t->n ? t->r[i].name : "";
}

const lotad_settings *lotad_regions_settings(const lotad_regions *t, size_t i)
{
	return t && i < t->n ? &t->r[i].s : NULL;
}

static slot *slot_of(lotad_regions *t, lota_str b)
{
	uint64_t h = 1469598103934665603ULL; /* FNV-1a */
	for (size_t i = 0; i < b.len; i++) {
		h ^= (unsigned char)b.ptr[i];
		h *= 1099511628211ULL;
	}
	return &t->slots[h % SLOTS];
}

static bool slot_is(const slot *s, lota_str b)
{
	return s->until_ms && s->len == b.len && memcmp(s->bucket, b.ptr, b.len) == 0;
}

int lotad_regions_lookup(lotad_regions *t, lota_str bucket, uint64_t now_ms)
{
	if (!t || bucket.len == 0 || bucket.len > BUCKET_MAX)
		return -1;
	int out = -1;
	pthread_mutex_lock(&t->mu);
	slot *s = slot_of(t, bucket);
	if (slot_is(s, bucket) && now_ms < s->until_ms && s->region < t->n)
		out = s->region;
	pthread_mutex_unlock(&t->mu);
	return out;
}

void lotad_regions_learn(lotad_regions *t, lota_str bucket, size_t region, uint64_t now_ms)
{
	if (!t || bucket.len == 0 || bucket.len > BUCKET_MAX || region >= t->n)
		return;
	pthread_mutex_lock(&t->mu);
	slot *s = slot_of(t, bucket);
	s->until_ms = now_ms + (t->ttl_ms ? t->ttl_ms : 1);
	s->region = (uint8_t)region;
	s->len = (uint8_t)bucket.len;
	memcpy(s->bucket, bucket.ptr, bucket.len);
	pthread_mutex_unlock(&t->mu);
	atomic_fetch_add_explicit(&t->learned, 1, memory_order_relaxed);
}

void lotad_regions_forget(lotad_regions *t, lota_str bucket)
{
	if (!t || bucket.len == 0 || bucket.len > BUCKET_MAX)
		return;
	bool dropped = false;
	pthread_mutex_lock(&t->mu);
	slot *s = slot_of(t, bucket);
	if (slot_is(s, bucket)) {
		s->until_ms = 0;
		dropped = true;
	}
	pthread_mutex_unlock(&t->mu);
	if (dropped)
		atomic_fetch_add_explicit(&t->forgotten, 1, memory_order_relaxed);
}

/* ------------------------------------------------------------ metrics --- */

void lotad_regions_count_request(lotad_regions *t, size_t i)
{
	if (t && i < t->n)
		atomic_fetch_add_explicit(&t->r[i].requests, 1, memory_order_relaxed);
}

void lotad_regions_count_bytes(lotad_regions *t, size_t i, uint64_t n)
{
	if (t && i < t->n)
		atomic_fetch_add_explicit(&t->r[i].bytes, n, memory_order_relaxed);
}

void lotad_regions_count_remote_hit(lotad_regions *t, size_t i)
{
	if (t && i < t->n)
		atomic_fetch_add_explicit(&t->r[i].remote_hits, 1, memory_order_relaxed);
}

static unsigned long long ld(atomic_uint_fast64_t *v)
{
	return (unsigned long long)atomic_load_explicit(v, memory_order_relaxed);
}

static size_t render(char *out, size_t cap, void *ud)
{
	lotad_regions *t = ud;
	size_t n = 0;
#define PUT(...)                                                                                  \
	do {                                                                                      \
		int k_ = snprintf(out + (n < cap ? n : cap), n < cap ? cap - n : 0, __VA_ARGS__); \
		if (k_ > 0)                                                                       \
			n += (size_t)k_;                                                          \
	} while (0)
	PUT("# HELP lota_region_requests_total Requests sent to each region's endpoint.\n"
	    "# TYPE lota_region_requests_total counter\n");
	for (size_t i = 0; i < t->n; i++)
		PUT("lota_region_requests_total{region=\"%s\"} %llu\n", t->r[i].name,
		    ld(&t->r[i].requests));
	PUT("# HELP lota_region_bytes_total Body bytes received from each region's endpoint.\n"
	    "# TYPE lota_region_bytes_total counter\n");
	for (size_t i = 0; i < t->n; i++)
		PUT("lota_region_bytes_total{region=\"%s\"} %llu\n", t->r[i].name,
		    ld(&t->r[i].bytes));
	PUT("# HELP lota_region_remote_hits_total Cache hits of objects homed in another "
	    "region.\n# TYPE lota_region_remote_hits_total counter\n");
	for (size_t i = 1; i < t->n; i++)
		PUT("lota_region_remote_hits_total{region=\"%s\"} %llu\n", t->r[i].name,
		    ld(&t->r[i].remote_hits));
	PUT("# HELP lota_region_probes_total Probes of a bucket's home region.\n"
	    "# TYPE lota_region_probes_total counter\nlota_region_probes_total %llu\n",
	    ld(&t->probes));
	PUT("# HELP lota_region_homeless_total Probes no region answered as the bucket's home.\n"
	    "# TYPE lota_region_homeless_total counter\nlota_region_homeless_total %llu\n",
	    ld(&t->probes_homeless));
	PUT("# HELP lota_region_forgotten_total Remembered homes dropped because an answer "
	    "said the bucket was not there.\n# TYPE lota_region_forgotten_total counter\n"
	    "lota_region_forgotten_total %llu\n",
	    ld(&t->forgotten));
#undef PUT
	return n;
}

/* A finished upstream transfer: its bytes are the region's whose endpoint its URL names. */
static void observe(void *ud, const char *url, uint64_t n)
{
	lotad_regions *t = ud;
	for (size_t i = 0; i < t->n; i++) {
		const char *base = t->r[i].s.upstream_url;
		size_t bl = strlen(base);
		if (strncmp(url, base, bl) == 0 && (url[bl] == '/' || url[bl] == '\0')) {
			lotad_regions_count_bytes(t, i, n);
			return;
		}
	}
}

void lotad_regions_metrics(lotad_regions *t)
{
	if (!t)
		return;
	lotad_metrics_add_provider(render, t);
	lotad_upstream_set_observer(observe, t);
}

/* ------------------------------------------------------------ the probe --- */

int lotad_regions__decide(const int *status, const int *named, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (status[i] > 0 && named[i] >= 0 && (size_t)named[i] < n)
			return named[i];
	}
	for (size_t i = 0; i < n; i++) {
		/* 404: not here; 0: no answer; 5xx: the region cannot tell */
		if (status[i] >= 200 && status[i] < 500 && status[i] != 404)
			return (int)i;
	}
	return -1;
}

typedef struct probe_leg {
	lotad_xfer x;
	struct lotad_region_probe *p;
	int status, named;
	bool running;
	struct curl_slist *hdrs;
	char errbuf[CURL_ERROR_SIZE];
} probe_leg;

struct lotad_region_probe {
	lotad_regions *t;
	lotad_upstream *u;
	void (*done)(void *ud, int region);
	void *ud;
	size_t left;
	char bucket[BUCKET_MAX + 1];
	size_t blen;
	probe_leg leg[LOTAD_MAX_REGIONS];
};

static lota_str trim(const char *p, size_t n)
{
	while (n && (*p == ' ' || *p == '\t')) {
		p++;
		n--;
	}
	while (n && (p[n - 1] == ' ' || p[n - 1] == '\t' || p[n - 1] == '\r' || p[n - 1] == '\n'))
		n--;
	return (lota_str){p, n};
}

static size_t leg_header(char *buf, size_t size, size_t nitems, void *ud)
{
	probe_leg *l = ud;
	size_t n = size * nitems;
	if (n > 9 && memcmp(buf, "HTTP/", 5) == 0) {
		const char *sp = memchr(buf, ' ', n);
		l->status = sp ? atoi(sp + 1) : 0;
		l->named = -1;
		return n;
	}
	static const char h[] = "x-amz-bucket-region:";
	if (n > sizeof(h) - 1 && strncasecmp(buf, h, sizeof(h) - 1) == 0) {
		l->named =
		    lotad_regions_find(l->p->t, trim(buf + sizeof(h) - 1, n - (sizeof(h) - 1)));
		return n;
	}
	if (n <= 2)
		lotad_xfer_status(&l->x, l->status);
	return n;
}

static size_t leg_write(char *buf, size_t size, size_t nmemb, void *ud)
{
	(void)buf;
	(void)ud;
	return size * nmemb; /* a HEAD: nothing */
}

static void leg_stop(probe_leg *l)
{
	if (l->x.easy) {
		lotad_upstream_remove(l->p->u, &l->x);
		curl_easy_cleanup(l->x.easy);
		l->x.easy = NULL;
	}
	curl_slist_free_all(l->hdrs);
	l->hdrs = NULL;
}

static void probe_free(lotad_region_probe *p)
{
	for (size_t i = 0; i < p->t->n; i++)
		leg_stop(&p->leg[i]);
	free(p);
}

static void probe_finish(lotad_region_probe *p)
{
	int st[LOTAD_MAX_REGIONS], nm[LOTAD_MAX_REGIONS];
	for (size_t i = 0; i < p->t->n; i++) {
		st[i] = p->leg[i].status;
		nm[i] = p->leg[i].named;
	}
	int home = lotad_regions__decide(st, nm, p->t->n);
	lota_str b = {p->bucket, p->blen};
	if (home >= 0) {
		lotad_regions_learn(p->t, b, (size_t)home, lotad_mono_ms());
		lota_log_debug("region: bucket %.*s is homed in %s", (int)b.len, b.ptr,
		               p->t->r[home].name);
	} else {
		atomic_fetch_add_explicit(&p->t->probes_homeless, 1, memory_order_relaxed);
	}
	void (*done)(void *, int) = p->done;
	void *ud = p->ud;
	probe_free(p);
	done(ud, home);
}

static void leg_done(lotad_xfer *x, CURLcode rc)
{
	probe_leg *l = (probe_leg *)x;
	lotad_region_probe *p = l->p;
	if (rc != CURLE_OK) {
		lota_log_debug("region: probe of %s: %s", p->t->r[l - p->leg].name,
		               l->errbuf[0] ? l->errbuf : curl_easy_strerror(rc));
		l->status = 0;
	}
	leg_stop(l);
	if (--p->left == 0)
		probe_finish(p);
}

static bool bucket_plain(lota_str b)
{
	if (b.len == 0 || b.len > BUCKET_MAX)
		return false;
	for (size_t i = 0; i < b.len; i++) {
		char c = b.ptr[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '.' || c == '_'))
			return false;
	}
	return true;
}

static int leg_start(lotad_region_probe *p, size_t i)
{
	probe_leg *l = &p->leg[i];
	const lotad_settings *s = &p->t->r[i].s;
	char url[1400];
	l->p = p;
	l->named = -1;
	int n = snprintf(url, sizeof(url), "%s/%.*s", s->upstream_url, (int)p->blen, p->bucket);
	if (n < 0 || (size_t)n >= sizeof(url))
		return -E2BIG;
	struct curl_slist *h = curl_slist_append(NULL, "Expect:");
	if (!h)
		return -ENOMEM;
	l->hdrs = h;
	CURL *e = curl_easy_init();
	if (!e)
		return -ENOMEM;
	curl_easy_setopt(e, CURLOPT_URL, url);
	curl_easy_setopt(e, CURLOPT_PATH_AS_IS, 1L);
	curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_PROXY, "");
	curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, l->hdrs);
	curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, leg_header);
	curl_easy_setopt(e, CURLOPT_HEADERDATA, l);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, leg_write);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, l);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, l->errbuf);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)s->upstream_connect_timeout_ms);
	/* a region that does not answer must not hold its bucket's requests for long */
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)s->upstream_connect_timeout_ms + 10000L);
	if (s->upstream_ca_file && s->upstream_ca_file[0])
		curl_easy_setopt(e, CURLOPT_CAINFO, s->upstream_ca_file);
	l->x.easy = e;
	l->x.done = leg_done;
	if (lotad_upstream_add(p->u, &l->x) < 0) {
		curl_easy_cleanup(e);
		l->x.easy = NULL;
		return -EIO;
	}
	return 0;
}

lotad_region_probe *lotad_region_probe_start(lotad_regions *t, lotad_upstream *u, lota_str bucket,
                                             void (*done)(void *ud, int region), void *ud)
{
	if (!t || !u || !done || !bucket_plain(bucket))
		return NULL;
	lotad_region_probe *p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->t = t;
	p->u = u;
	p->done = done;
	p->ud = ud;
	memcpy(p->bucket, bucket.ptr, bucket.len);
	p->blen = bucket.len;
	for (size_t i = 0; i < t->n; i++) {
		if (leg_start(p, i) < 0) {
			probe_free(p);
			return NULL;
		}
		p->left++;
	}
	atomic_fetch_add_explicit(&t->probes, 1, memory_order_relaxed);
	return p;
}

void lotad_region_probe_cancel(lotad_region_probe *p)
{
	if (p)
		probe_free(p);
}
