/*
 * rig.h - lotad inside a unit test: one real worker (its loop, its curl multi, lotad's
 * router, proxy and, with a store, cache) whose loop the test drives from its own thread
 * (lotad_loop_run_once), the fake upstream (fakeup.h) on that same loop, a credentials
 * snapshot with a test key, an extent store in a temp dir, and clients that connect to
 * the worker over loopback and send requests signed with the test key
 * (lota_sigv4_sign_header). Everything runs in the test's thread, so a test reads the
 * fake's records, the store and the metrics directly between two turns of the loop.
 *
 * Waiting: RIG_UNTIL drives the loop until a condition holds; its deadline
 * (RIG_DEADLINE_MS) is a safety net only, the condition is the event waited for. A turn
 * of the loop waits at most RIG_TURN_MS for an event, so that what happens on other
 * threads (a fill published by the cache's commit thread) is seen that late at worst.
 */
#ifndef LOTA_RIG_H
#define LOTA_RIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <lota/http.h>

#include "cache/cache.h"
#include "fakeup.h"
#include "net/server.h"
#include "s3/router.h"
#include "store/store.h"
#include "util/clock.h"

#define RIG_AK          "AKIDLOTAUNITTEST"
#define RIG_SK          "unit/test/secret/of/the/rig"
#define RIG_DEADLINE_MS 20000
#define RIG_TURN_MS     10
#define RIG_MAX_CLIENTS 16

typedef struct rig_opts {
	bool cache;                   /* a store in a temp dir and a cache over it (else: no
	                                 cache, object reads are proxied) */
	bool plain;                   /* the store without encryption at rest */
	uint64_t extent_size;         /* 0: 256 KiB */
	uint64_t min_object_size;     /* 0: 1 KiB */
	unsigned fill_streams;        /* 0: 2 */
	size_t client_buffer;         /* 0: 64 KiB */
	uint64_t upstream_timeout_ms; /* 0: none */
	bool no_retries;              /* upstream_retries 0 (else lotad's default, 2) */
	int upstream_port;            /* 0: the fake's; else another port of 127.0.0.1 */
	const char *fill_profile;     /* the cache's fill_credentials ("unit": the test key) */
	bool relay_coalesce;          /* relay_send coalesce (else direct) */
} rig_opts;

typedef struct rig_client rig_client;

typedef struct rig {
	lotad_settings s;
	lotad_store *store; /* NULL without opts.cache */
	lotad_cache *cache;
	lotad_router router;
	lotad_server_hooks hooks;
	lotad_worker *w;
	lotad_loop *loop; /* the worker's */
	fakeup *up;       /* the fake upstream, on the worker's loop */
	int port;         /* lotad's */
	char host[64];    /* "127.0.0.1:<lotad's port>", the Host clients sign */
	char root[256];   /* the store's temp dir */
	rig_client *clients[RIG_MAX_CLIENTS];
	size_t nclients;
} rig;

/* Start r (storage of the caller's). Returns false (with a message) on failure. */
bool rig_start(rig *r, const rig_opts *o);
/* Close the clients, stop the worker (aborting what runs), free everything, remove the
 * temp dir, drop the credentials and the metrics. */
void rig_stop(rig *r);

/* lotad's cache as after a restart: the cache and the store are freed and opened again
 * over the same dir with opts o (the store rescans its files; nothing else of the cache
 * is kept; the metrics start again from zero). Nothing may be running in the cache (wait
 * for the fills first). Returns false (with a message) on failure. */
bool rig_restart_cache(rig *r, const rig_opts *o);

/* One turn of the loop (at most RIG_TURN_MS of waiting). */
void rig_turn(rig *r);

static inline bool rig_turn_before_(rig *r, uint64_t end_ms)
{
	if (lotad_mono_ms() >= end_ms)
		return false;
	rig_turn(r);
	return true;
}

/* Drive r's loop until cond holds (or the deadline passes: check cond afterwards). */
#define RIG_UNTIL(r, cond)                                             \
	do {                                                           \
		uint64_t rig_end_ = lotad_mono_ms() + RIG_DEADLINE_MS; \
		while (!(cond) && rig_turn_before_((r), rig_end_)) {   \
		}                                                      \
	} while (0)

/* The same, then a CUnit assertion that it holds. */
#define RIG_WAIT(r, cond)           \
	do {                        \
		RIG_UNTIL(r, cond); \
		CU_ASSERT(cond);    \
	} while (0)

/* ------------------------------------------------------------------ clients --- */

struct rig_client {
	rig *r;
	lotad_io io;
	char *in; /* every byte received */
	size_t in_len, in_cap;
	char *out; /* bytes still to send */
	size_t out_len, out_off;
	bool ended; /* the connection ended: lotad closed it (FIN or RST), or the test did */
	bool reset; /* it ended with a reset */
	bool head_req;
	bool paused; /* not reading (rig_client_pause) */
	char *dec;   /* a chunked body, decoded (rig_resp_get) */
	size_t dec_cap;
};

/* A client connected to the worker (registered in its loop). Freed by rig_stop. */
rig_client *rig_client_new(rig *r);
/* The client vanishes: its socket is closed (reset: with a RST). */
void rig_client_close(rig_client *c, bool reset);
/* Stop reading (a slow client: its receive buffer is small, 64 KiB) or read again. */
void rig_client_pause(rig_client *c, bool paused);

/* Send a request: method, target ("/bucket/key[?query]"), extra header lines
 * ("Name: value", NULL-terminated list, may be NULL) and a body. Content-Length is
 * body_len unless the header lines give one (then body_len bytes of it are sent: an
 * upload cut short). sign: with the test key (header form; every header signed); else
 * anonymous. */
void rig_request(rig_client *c, const char *method, const char *target, const char *const *headers,
                 const char *body, size_t body_len, bool sign);

/* The same, signed (header form) with the key ak/sk for the Host host: a request signed
 * for the upstream's own name (host = r->s.upstream_hostport) with a key lotad may not
 * hold. */
void rig_request_as(rig_client *c, const char *method, const char *target,
                    const char *const *headers, const char *host, const char *ak, const char *sk);

typedef struct rig_resp {
	bool have_head; /* a whole response head arrived */
	int status;
	lota_http_header hdrs[64];
	size_t nhdrs;
	bool has_length;
	uint64_t length;  /* Content-Length */
	bool chunked;     /* Transfer-Encoding: chunked */
	const char *body; /* body bytes received so far (a view into the client's buffers;
	                     a chunked body decoded) */
	size_t body_len;
	bool complete; /* the whole body (by its framing) arrived */
} rig_resp;

/* Parse what the client received so far. */
void rig_resp_get(rig_client *c, rig_resp *out);
/* Drive the loop until the response is complete or the connection ended; parse it. */
void rig_resp_wait(rig_client *c, rig_resp *out);
/* A header of the response (empty when absent). */
lota_str rig_resp_header(const rig_resp *p, const char *name);
/* Whether a header of the response equals value. */
bool rig_resp_header_is(const rig_resp *p, const char *name, const char *value);

/* ----------------------------------------------------------------- inspection --- */

/* The value of a metrics series as rendered ("lota_cache_hits_total",
 * "lota_requests_total{op=\"get_object\",status=\"499\"}"); -1 when absent. */
double rig_metric(const char *series);
/* The store's counters (zeroed without a store). */
lotad_store_stats rig_store_stats(rig *r);
/* Whether the store holds extent k of bucket/key (decoded) with that ETag and size:
 * 1 published, 0 being filled, -1 absent. With data non-NULL and a published extent,
 * its bytes are also compared with data[0..len) (-2 when they differ). */
int rig_store_extent(rig *r, const char *bucket, const char *key, const char *etag, uint64_t size,
                     uint64_t k, const void *data, size_t len);

#endif
