/*
 * metrics.c - lotad's counters, gauges and histograms and their Prometheus text
 * rendering (exposition format 0.0.4).
 *
 * Invariants: every series lives in a fixed array indexed by closed enums (op, status
 * slot, error kind, refusal code), updated with relaxed atomics and never allocated, so
 * the request path takes no lock and the series count never grows. Histograms keep
 * per-bucket (non-cumulative) counts; the renderer reads each bucket once, accumulates,
 * and derives _count from the same reads, so a scrape always shows cumulative buckets
 * with +Inf == _count even while workers update concurrently. Durations are recorded in
 * microseconds and rendered in seconds. Providers (a short fixed table, registered at
 * start under a mutex) append their own lines at the end.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lota/common.h>

#include "metrics.h"

static const char *const op_names[LOTAD_OP__COUNT] = {
    "get_object",   "head_object",  "put_object", "delete_object", "delete_objects", "copy_object",
    "list_objects", "list_buckets", "multipart",  "bucket",        "subresource",    "other",
};

const char *lotad_op_name(lotad_op op)
{
	if ((unsigned)op >= LOTAD_OP__COUNT)
		return "other";
	return op_names[op];
}

/* Status slots: the common exact codes, then one per class. */
static const int exact_status[] = {200, 204, 206, 304, 400, 403, 404,
                                   409, 412, 416, 500, 502, 503, 504};
#define N_EXACT (sizeof(exact_status) / sizeof(exact_status[0]))
static const char *const class_names[] = {"1xx", "2xx", "3xx", "4xx", "5xx", "other"};
#define N_CLASS  (sizeof(class_names) / sizeof(class_names[0]))
#define N_STATUS (N_EXACT + N_CLASS)

static size_t status_slot(int status)
{
	for (size_t i = 0; i < N_EXACT; i++) {
		if (exact_status[i] == status)
			return i;
	}
	if (status >= 100 && status < 600)
		return N_EXACT + (size_t)(status / 100 - 1);
	return N_EXACT + N_CLASS - 1;
}

/* Bucket upper bounds in microseconds (rendered in seconds). */
static const uint64_t bucket_us[] = {500,     1000,     2500,     5000,    10000,   25000,
                                     50000,   100000,   250000,   500000,  1000000, 2500000,
                                     5000000, 10000000, 30000000, 60000000};
#define N_BUCKETS (sizeof(bucket_us) / sizeof(bucket_us[0]))

typedef struct histo {
	atomic_uint_fast64_t bucket[N_BUCKETS + 1]; /* last = beyond every bound (+Inf) */
	atomic_uint_fast64_t sum_us;
} histo;

static const char *const upstream_kinds[] = {"connect", "timeout", "reset", "tls", "other"};
#define N_UPSTREAM_KINDS (sizeof(upstream_kinds) / sizeof(upstream_kinds[0]))

static const char *const refuse_codes[] = {
    "AccessDenied",
    "AuthorizationHeaderMalformed",
    "AuthorizationQueryParametersError",
    "InvalidAccessKeyId",
    "InvalidArgument",
    "InvalidRequest",
    "InvalidToken",
    "RequestTimeTooSkewed",
    "SignatureDoesNotMatch",
    "InternalError",
    "other",
};
#define N_REFUSE (sizeof(refuse_codes) / sizeof(refuse_codes[0]))

#define MAX_PROVIDERS 16

static struct {
	atomic_uint_fast64_t requests[LOTAD_OP__COUNT][N_STATUS];
	histo duration[LOTAD_OP__COUNT];
	atomic_uint_fast64_t upstream_errors[N_UPSTREAM_KINDS];
	histo first_byte;
	atomic_int_fast64_t conns_open;
	atomic_uint_fast64_t bytes_in, bytes_out;
	atomic_uint_fast64_t refused[N_REFUSE];
} M;

/* The authorizing HEADs of the cache: bounds in microseconds. */
static const uint64_t auth_bucket_us[] = {100,  200,  300,   500,   750,   1000,   1500,   2000,
                                          3000, 5000, 10000, 25000, 50000, 100000, 250000, 1000000};
#define N_AUTH_BUCKETS (sizeof(auth_bucket_us) / sizeof(auth_bucket_us[0]))
static struct {
	atomic_uint_fast64_t bucket[N_AUTH_BUCKETS + 1];
	atomic_uint_fast64_t sum_us, opened;
} A;

void lotad_metrics_authorize(uint64_t us, bool new_connection)
{
	size_t i = 0;
	while (i < N_AUTH_BUCKETS && us > auth_bucket_us[i])
		i++;
	atomic_fetch_add_explicit(&A.bucket[i], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&A.sum_us, us, memory_order_relaxed);
	if (new_connection)
		atomic_fetch_add_explicit(&A.opened, 1, memory_order_relaxed);
}

static pthread_mutex_t prov_lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
	lotad_metrics_provider fn;
	void *ud;
} providers[MAX_PROVIDERS];
static size_t num_providers;

static void histo_observe(histo *h, uint64_t us)
{
	size_t i = 0;
	while (i < N_BUCKETS && us > bucket_us[i])
		i++;
	atomic_fetch_add_explicit(&h->bucket[i], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&h->sum_us, us, memory_order_relaxed);
}

void lotad_metrics_request(lotad_op op, int http_status, uint64_t latency_us)
{
	if ((unsigned)op >= LOTAD_OP__COUNT)
		op = LOTAD_OP_OTHER;
	atomic_fetch_add_explicit(&M.requests[op][status_slot(http_status)], 1,
	                          memory_order_relaxed);
	histo_observe(&M.duration[op], latency_us);
}

void lotad_metrics_bytes_in(uint64_t n)
{
	atomic_fetch_add_explicit(&M.bytes_in, n, memory_order_relaxed);
}

void lotad_metrics_bytes_out(uint64_t n)
{
	atomic_fetch_add_explicit(&M.bytes_out, n, memory_order_relaxed);
}

static size_t name_index(const char *const *names, size_t n, const char *s)
{
	if (s) {
		for (size_t i = 0; i + 1 < n; i++) {
			if (strcmp(names[i], s) == 0)
				return i;
		}
	}
	return n - 1; /* the last entry is the catch-all "other" */
}

void lotad_metrics_upstream_error(const char *kind)
{
	size_t i = name_index(upstream_kinds, N_UPSTREAM_KINDS, kind);
	atomic_fetch_add_explicit(&M.upstream_errors[i], 1, memory_order_relaxed);
}

void lotad_metrics_upstream_latency(uint64_t first_byte_us)
{
	histo_observe(&M.first_byte, first_byte_us);
}

void lotad_metrics_conn_open(int delta)
{
	atomic_fetch_add_explicit(&M.conns_open, delta, memory_order_relaxed);
}

void lotad_metrics_auth_refused(const char *s3_code)
{
	size_t i = name_index(refuse_codes, N_REFUSE, s3_code);
	atomic_fetch_add_explicit(&M.refused[i], 1, memory_order_relaxed);
}

void lotad_metrics_add_provider(lotad_metrics_provider fn, void *ud)
{
	if (!fn)
		return;
	pthread_mutex_lock(&prov_lock);
	if (num_providers < MAX_PROVIDERS) {
		providers[num_providers].fn = fn;
		providers[num_providers].ud = ud;
		num_providers++;
	}
	pthread_mutex_unlock(&prov_lock);
}

void lotad_metrics__reset(void)
{
	pthread_mutex_lock(&prov_lock);
	num_providers = 0;
	pthread_mutex_unlock(&prov_lock);
	memset(&M, 0, sizeof(M));
	memset(&A, 0, sizeof(A));
}

/* A growing output buffer for the renderer (the scrape is off the request path). */
typedef struct buf {
	char *p;
	size_t len, cap;
	bool oom;
} buf;

static bool buf_reserve(buf *b, size_t more)
{
	if (b->oom)
		return false;
	if (b->len + more + 1 <= b->cap)
		return true;
	size_t ncap = b->cap ? b->cap : 4096;
	while (ncap < b->len + more + 1)
		ncap *= 2;
	char *np = realloc(b->p, ncap);
	if (!np) {
		b->oom = true;
		return false;
	}
	b->p = np;
	b->cap = ncap;
	return true;
}

LOTA_PRINTF(2, 3)
static void bprintf(buf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char tmp[512];
	int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(tmp) || !buf_reserve(b, (size_t)n))
		return;
	memcpy(b->p + b->len, tmp, (size_t)n + 1);
	b->len += (size_t)n;
}

static void header(buf *b, const char *name, const char *type, const char *help)
{
	bprintf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* Seconds from microseconds, exactly (no float rounding): "0.0025". */
static void fmt_seconds(uint64_t us, char *out, size_t cap)
{
	uint64_t s = us / 1000000, frac = us % 1000000;
	if (frac == 0) {
		snprintf(out, cap, "%llu", (unsigned long long)s);
		return;
	}
	char f[8];
	snprintf(f, sizeof(f), "%06llu", (unsigned long long)frac);
	size_t k = 6;
	while (k > 0 && f[k - 1] == '0')
		k--;
	f[k] = '\0';
	snprintf(out, cap, "%llu.%s", (unsigned long long)s, f);
}

static void render_histo(buf *b, const char *name, const char *labels, histo *h)
{
	const char *sep = labels[0] ? "," : "";
	uint64_t cum = 0;
	char le[32];
	for (size_t i = 0; i <= N_BUCKETS; i++) {
		cum += atomic_load_explicit(&h->bucket[i], memory_order_relaxed);
		if (i < N_BUCKETS)
			fmt_seconds(bucket_us[i], le, sizeof(le));
		else
			snprintf(le, sizeof(le), "+Inf");
		bprintf(b, "%s_bucket{%s%sle=\"%s\"} %llu\n", name, labels, sep, le,
		        (unsigned long long)cum);
	}
	char sum[32];
	fmt_seconds(atomic_load_explicit(&h->sum_us, memory_order_relaxed), sum, sizeof(sum));
	if (labels[0]) {
		bprintf(b, "%s_sum{%s} %s\n", name, labels, sum);
		bprintf(b, "%s_count{%s} %llu\n", name, labels, (unsigned long long)cum);
	} else {
		bprintf(b, "%s_sum %s\n", name, sum);
		bprintf(b, "%s_count %llu\n", name, (unsigned long long)cum);
	}
}

static void status_label(size_t slot, char *out, size_t cap)
{
	if (slot < N_EXACT)
		snprintf(out, cap, "%d", exact_status[slot]);
	else
		snprintf(out, cap, "%s", class_names[slot - N_EXACT]);
}

char *lotad_metrics_render(size_t *len)
{
	buf b = {0};
	char lab[128];

	header(&b, "lota_requests_total", "counter",
	       "Client requests answered, by operation and status.");
	for (size_t op = 0; op < LOTAD_OP__COUNT; op++) {
		for (size_t s = 0; s < N_STATUS; s++) {
			uint64_t v = atomic_load_explicit(&M.requests[op][s], memory_order_relaxed);
			if (v == 0)
				continue;
			char st[16];
			status_label(s, st, sizeof(st));
			bprintf(&b, "lota_requests_total{op=\"%s\",status=\"%s\"} %llu\n",
			        op_names[op], st, (unsigned long long)v);
		}
	}

	header(&b, "lota_request_duration_seconds", "histogram",
	       "Time from the request head to the last response byte, by operation.");
	for (size_t op = 0; op < LOTAD_OP__COUNT; op++) {
		snprintf(lab, sizeof(lab), "op=\"%s\"", op_names[op]);
		render_histo(&b, "lota_request_duration_seconds", lab, &M.duration[op]);
	}

	header(&b, "lota_upstream_errors_total", "counter",
	       "Failed exchanges with the upstream, by kind.");
	for (size_t i = 0; i < N_UPSTREAM_KINDS; i++) {
		bprintf(&b, "lota_upstream_errors_total{kind=\"%s\"} %llu\n", upstream_kinds[i],
		        (unsigned long long)atomic_load_explicit(&M.upstream_errors[i],
		                                                 memory_order_relaxed));
	}

	header(&b, "lota_upstream_first_byte_seconds", "histogram",
	       "Time from sending an upstream request to its first response byte.");
	render_histo(&b, "lota_upstream_first_byte_seconds", "", &M.first_byte);

	header(&b, "lota_cache_authorize_seconds", "histogram",
	       "Time of the cache's authorizing HEADs, from their start to their answer's end.");
	uint64_t cum = 0;
	char le[32];
	for (size_t i = 0; i <= N_AUTH_BUCKETS; i++) {
		cum += atomic_load_explicit(&A.bucket[i], memory_order_relaxed);
		if (i < N_AUTH_BUCKETS)
			fmt_seconds(auth_bucket_us[i], le, sizeof(le));
		else
			snprintf(le, sizeof(le), "+Inf");
		bprintf(&b, "lota_cache_authorize_seconds_bucket{le=\"%s\"} %llu\n", le,
		        (unsigned long long)cum);
	}
	fmt_seconds(atomic_load_explicit(&A.sum_us, memory_order_relaxed), le, sizeof(le));
	bprintf(&b, "lota_cache_authorize_seconds_sum %s\n", le);
	bprintf(&b, "lota_cache_authorize_seconds_count %llu\n", (unsigned long long)cum);
	header(&b, "lota_cache_authorize_requests_total", "counter",
	       "Authorizing HEADs the cache sent upstream.");
	bprintf(&b, "lota_cache_authorize_requests_total %llu\n", (unsigned long long)cum);
	header(&b, "lota_cache_authorize_connections_opened_total", "counter",
	       "Authorizing HEADs for which a new upstream connection was opened (the others "
	       "reused one).");
	bprintf(&b, "lota_cache_authorize_connections_opened_total %llu\n",
	        (unsigned long long)atomic_load_explicit(&A.opened, memory_order_relaxed));

	header(&b, "lota_connections_open", "gauge", "Client connections currently open.");
	bprintf(&b, "lota_connections_open %lld\n",
	        (long long)atomic_load_explicit(&M.conns_open, memory_order_relaxed));

	header(&b, "lota_bytes_in_total", "counter", "Request body bytes received from clients.");
	bprintf(&b, "lota_bytes_in_total %llu\n",
	        (unsigned long long)atomic_load_explicit(&M.bytes_in, memory_order_relaxed));
	header(&b, "lota_bytes_out_total", "counter", "Response body bytes sent to clients.");
	bprintf(&b, "lota_bytes_out_total %llu\n",
	        (unsigned long long)atomic_load_explicit(&M.bytes_out, memory_order_relaxed));

	header(&b, "lota_auth_refused_total", "counter",
	       "Requests refused by local authentication, by S3 error code.");
	for (size_t i = 0; i < N_REFUSE; i++) {
		bprintf(
		    &b, "lota_auth_refused_total{code=\"%s\"} %llu\n", refuse_codes[i],
		    (unsigned long long)atomic_load_explicit(&M.refused[i], memory_order_relaxed));
	}

	pthread_mutex_lock(&prov_lock);
	size_t np = num_providers;
	pthread_mutex_unlock(&prov_lock);
	for (size_t i = 0; i < np && !b.oom; i++) {
		size_t room = 4096;
		for (int attempt = 0; attempt < 2; attempt++) {
			if (!buf_reserve(&b, room))
				break;
			size_t n = providers[i].fn(b.p + b.len, room + 1, providers[i].ud);
			if (n <= room) {
				b.len += n;
				b.p[b.len] = '\0';
				break;
			}
			room = n; /* told how much it needs: retry with that much */
		}
	}

	if (b.oom || !buf_reserve(&b, 0)) {
		free(b.p);
		return NULL;
	}
	b.p[b.len] = '\0';
	if (len)
		*len = b.len;
	return b.p;
}
