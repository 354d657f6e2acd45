/*
 * metrics.h - lotad's counters, gauges and histograms, rendered as Prometheus text.
 *
 * All updates are lock-free (relaxed atomics on fixed arrays, no allocation), so any
 * worker thread may call them on the request path. Label sets are closed enums, which
 * keeps the series count fixed.
 */
#ifndef LOTAD_METRICS_H
#define LOTAD_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum lotad_op {
	LOTAD_OP_GET_OBJECT = 0,
	LOTAD_OP_HEAD_OBJECT,
	LOTAD_OP_PUT_OBJECT,
	LOTAD_OP_DELETE_OBJECT,
	LOTAD_OP_DELETE_OBJECTS, /* POST ?delete */
	LOTAD_OP_COPY_OBJECT,
	LOTAD_OP_LIST_OBJECTS,
	LOTAD_OP_LIST_BUCKETS,
	LOTAD_OP_MULTIPART,   /* create, upload part, complete, abort, list parts/uploads */
	LOTAD_OP_BUCKET,      /* create/delete/head bucket, bucket subresources */
	LOTAD_OP_SUBRESOURCE, /* object ?acl, ?tagging, ... */
	LOTAD_OP_OTHER,
	LOTAD_OP__COUNT
} lotad_op;

const char *lotad_op_name(lotad_op op); /* "get_object", ... */

/* Status classes are kept per exact code for the common ones, else by class. */
void lotad_metrics_request(lotad_op op, int http_status, uint64_t latency_us);
void lotad_metrics_bytes_in(uint64_t n);  /* from clients (request bodies) */
void lotad_metrics_bytes_out(uint64_t n); /* to clients (response bodies) */
void lotad_metrics_upstream_error(
    const char *kind); /* "connect", "timeout", "reset", "tls", "other" */
void lotad_metrics_upstream_latency(uint64_t first_byte_us);
void lotad_metrics_conn_open(int delta); /* +1 on accept, -1 on close */
void lotad_metrics_auth_refused(const char *s3_code);

/* The cache's authorizing HEADs (cache/authorize.c): each one's time from its start to
 * the end of its answer, and whether curl opened a new connection for it (else it reused
 * one of the worker's pool): lota_cache_authorize_seconds (a histogram finer than the
 * others: these take about a millisecond), lota_cache_authorize_requests_total and
 * lota_cache_authorize_connections_opened_total. */
void lotad_metrics_authorize(uint64_t us, bool new_connection);

/* Extra gauge/counter providers (the cache adds its own lines later). A provider writes
 * complete lines (with their # HELP / # TYPE) into out (capacity cap, including a NUL)
 * and returns the length of its text; a return >= cap means it did not fit, and it is
 * called once more with cap = that length + 1 (so it must be deterministic between the
 * two calls, snprintf style). At most 16 providers; register them at start. */
typedef size_t (*lotad_metrics_provider)(char *out, size_t cap, void *ud);
void lotad_metrics_add_provider(lotad_metrics_provider fn, void *ud);

/* Tests only: zero every series and drop the providers. Not thread-safe. */
void lotad_metrics__reset(void);

/* Render everything in Prometheus text exposition format 0.0.4 into a malloc'd buffer.
 * Returns NULL on allocation failure; *len gets the length. */
char *lotad_metrics_render(size_t *len);

#endif
