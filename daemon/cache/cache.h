/*
 * cache.h - the node cache on the request path (docs/architecture.md §3.4-§3.8): GET and
 * HEAD of objects answered from the local extent store (store/store.h), every one
 * authorized by the upstream. The router hands it object reads; the files of cache/ are
 * one idea each (policy, objtab, request, authorize, serve, fill, invalidate;
 * cache-internal.h).
 *
 * For a cacheable request (a GET/HEAD of an object, signed with a key lotad knows, without
 * Cache-Control: no-store / Pragma: no-cache, SSE-C, If-Range or a query other than
 * versionId):
 *   1. authorize: a HEAD of the object re-signed with the client's own key and carrying the
 *      client's headers (conditionals included) goes to the upstream. Anything but a 200
 *      (403, 404, 304, 412, ...) hands the client's request to the proxy, so the client
 *      gets exactly the upstream's answer. The 200 gives size, ETag, version id and the
 *      headers relayed to the client.
 *   2. decide: objects below min_object_size are proxied (x-lota-cache: bypass); a Range
 *      is resolved against the size (416 when unsatisfiable).
 *   3. serve: the object is cut into extents of extent_size bytes, each keyed by (bucket,
 *      key, ETag, size, version id, index) (lota/placement.h). A cached extent is read from
 *      the store; a missing one is filled whole from the upstream by a ranged GET pinned
 *      with If-Match: <ETag> and signed with the client's key, and the client reads the
 *      growing file (store readers follow a fill block by block). One fill per extent
 *      (single-flight across workers); the fill runs on its own, so a slow client never
 *      slows it and a fast fill never piles up in memory for a slow client. A reader
 *      that the fill cannot serve (the fill failed, the disk failed, the range is far
 *      ahead of the fill) gets those bytes by a direct ranged GET pinned with If-Match;
 *      a response that cannot be completed with the right bytes is cut short (the client
 *      sees a truncated transfer and retries), never completed with wrong ones.
 *   4. HEAD answers from the upstream's HEAD and, for an object not cached, pre-stages it:
 *      a background fill of all its extents (Range: bytes=0-0 always does; a plain HEAD
 *      unless prestage_on_head is off).
 * Every GET/HEAD of an object gets x-lota-cache: hit (all bytes from the store: published
 * extents, or fills that already hold every byte asked for, published or not), miss (some
 * byte waits on an upstream transfer: a fill in progress, or fetched) or bypass (proxied);
 * lota_cache_hits_total and lota_cache_misses_total count the same way. A successful PUT, DELETE, CopyObject or
 * CompleteMultipartUpload through lotad drops the extents of the key's last known version
 * (space only: correctness rests on step 1).
 *
 * metadata_ttl > 0 relaxes step 1: the upstream's 200 for (access key, object) is reused
 * for that long without asking again. That is a relaxation of freshness (an overwrite is
 * seen up to metadata_ttl late) and of authorization (a revoked permission too).
 */
#ifndef LOTAD_CACHE_H
#define LOTAD_CACHE_H

#include <stdbool.h>
#include <stdint.h>

#include "net/server.h"
#include "s3/auth.h"
#include "s3/classify.h"
#include "store/store.h"

typedef struct lotad_cache_config {
	uint64_t extent_size;     /* bytes per extent (default 64 MiB) */
	uint64_t min_object_size; /* smaller objects are proxied (default 4 MiB) */
	bool prestage_on_head;    /* a plain HEAD pre-stages (default true) */
	uint64_t metadata_ttl_ms; /* 0 = authorize every request (default) */
	unsigned fill_streams;    /* fills of one request running at once (default 2) */
	/* how unencrypted hits reach the socket (plain_hit_io): sendfile(2) from the extent
	 * file (the default: the least CPU per byte measured, page-cache pages handed to the
	 * socket), pread into the connection's buffer + send (two copies), or send(2) from a
	 * mapping of the extent (one copy, and page-table work per reader) */
	enum { LOTAD_HIT_IO_PREAD = 0, LOTAD_HIT_IO_SENDFILE, LOTAD_HIT_IO_MMAP } plain_hit_io;
	/* fill_credentials: the profile (a [section] of the credentials file) whose key fills
	 * misses of reads signed with keys lotad does not hold, once the upstream authorized
	 * the client (NULL or "": none; only what the client's own answers carry is stored) */
	const char *fill_profile;
} lotad_cache_config;

void lotad_cache_config_init(lotad_cache_config *c);

/* The cache: an object made by main and handed to the router (tests may make several). */
typedef struct lotad_cache lotad_cache;

/* A cache over store (owned by the caller, NULL = no cache: every request is proxied)
 * with the settings cfg (copied). Returns NULL when out of memory. */
lotad_cache *lotad_cache_new(lotad_store *store, const lotad_cache_config *cfg);
/* After the workers are gone: wait for the fills being published by background threads,
 * then free the cache (the store is the caller's: free it afterwards). NULL is fine. */
void lotad_cache_free(lotad_cache *ca);
bool lotad_cache_enabled(const lotad_cache *ca);
/* Read the extents other members own from them (before the workers start). NULL: this
 * node alone. */
struct lotad_cluster;
void lotad_cache_set_cluster(lotad_cache *ca, struct lotad_cluster *cl);

/* How the cache hands a request to the proxy (the client then gets exactly the upstream's
 * answer): given by the router, which owns both. Takes over *auth; cache_label is the
 * x-lota-cache value; fill_after: a cold read whose complete 200/206 fills the extents it
 * covers (lotad_cache_fill_from_response). Must be set before the workers start. */
typedef void (*lotad_cache_proxy_fn)(void *ud, lotad_conn *c, const lotad_s3req *sr,
                                     lotad_auth_result *auth, const char *cache_label,
                                     bool fill_after);
void lotad_cache_set_proxy(lotad_cache *ca, lotad_cache_proxy_fn fn, void *ud);

/* Told the label (x-lota-cache: hit, peer, miss, bypass) of every response the cache
 * answers itself, with its request (the regions count hits of remote objects). */
typedef void (*lotad_cache_label_fn)(void *ud, const lotad_s3req *sr, const char *label);
void lotad_cache_set_label_hook(lotad_cache *ca, lotad_cache_label_fn fn, void *ud);

/*
 * Reads signed with a key lotad does not hold (auth->mode FORWARD: signed for the
 * upstream's own name; cache/foreign.c, docs/architecture.md §3.4 second form). The
 * cache hands such a read to the proxy with lotad_cache_forward_fn: the client's own
 * request, plus If-None-Match: <ETag of the copy held> when every byte asked for is held
 * and the client sent no conditional of its own (inm empty otherwise). The proxy reports
 * the answer to the lotad_proxy_tee functions below (the router wires them):
 *   304 -> lotad_cache_not_modified: the upstream authorized the client and the copy is
 *          current: served from the store (200 or 206 as asked, the stored headers).
 *   200/206 -> lotad_cache_tee_begin gives a sink: the whole extents the body carries
 *          are stored as it streams to the client (a full 200: the whole object); when
 *          lotad holds the client's key (auth), or else with fill_profile, the extents it
 *          touches are filled whole with that key instead.
 *   anything else -> relayed verbatim, nothing stored.
 */
typedef void (*lotad_cache_forward_fn)(void *ud, lotad_conn *c, const lotad_s3req *sr,
                                       lotad_auth_result *auth, lota_str inm, bool no_store);
void lotad_cache_set_forward(lotad_cache *ca, lotad_cache_forward_fn fn, void *ud);
void *lotad_cache_tee_begin(void *cache, lotad_worker *w, const lotad_s3req *sr,
                            const lotad_auth_result *auth, lota_str query, bool is_head,
                            bool no_store, int status, lota_str etag, lota_str version_id,
                            lota_str content_length, lota_str content_range, lota_str fields);
void lotad_cache_tee_write(void *sink, const char *buf, size_t n);
void lotad_cache_tee_end(void *sink, bool complete);
void lotad_cache_not_modified(void *cache, lotad_conn *c, const lotad_s3req *sr,
                              lotad_auth_result *auth, lota_str inm);

/* Answer a GET/HEAD of an object (sr->object_read). Takes over *auth. */
void lotad_cache_start(lotad_cache *ca, lotad_conn *c, const lotad_s3req *sr,
                       lotad_auth_result *auth);

/* A cold read handed to the proxy with fill_after got this 200/206 (header values as
 * received; query: the request's): fill the extents of the bytes it covered, signed with
 * auth's key. Called on the worker's loop, outside curl callbacks. */
void lotad_cache_fill_from_response(lotad_cache *ca, lotad_worker *w, const lotad_s3req *sr,
                                    const lotad_auth_result *auth, lota_str query, lota_str etag,
                                    lota_str version_id, lota_str content_length,
                                    lota_str content_range);

/* Whether the store gives bytes [0, need) of extent h now, without waiting on an upstream
 * transfer: the extent is published, or its fill already holds that prefix (a fill that
 * has every byte but is still being published included). A request whose every extent
 * is so held is a hit. */
bool lotad_cache__held(lotad_store *st, lota_hash128 h, uint64_t need);

/* Parse "bytes FIRST-LAST/TOTAL" (decimal, FIRST <= LAST < TOTAL). */
bool lotad_cache__parse_content_range(lota_str v, uint64_t *first, uint64_t *last, uint64_t *total);

/* A write of bucket/key (percent-encoded as sent) succeeded through lotad: drop the
 * extents of its last known version. */
void lotad_cache_object_written(lotad_cache *ca, lota_str bucket, lota_str key);

/* Stop and abort the background fills of a worker (before its upstream is freed). */
void lotad_cache_worker_stop(lotad_cache *ca, lotad_worker *w);

/* Counters (the proxy reports the bytes it relays for object reads). */
void lotad_cache_count_upstream_bytes(lotad_cache *ca, uint64_t n);
/* A lotad_metrics_provider (daemon/metrics.h; ud = the cache): lota_cache_hits_total,
 * lota_cache_misses_total, lota_cache_bypass_total, lota_range_requests_total,
 * lota_bytes_served_total{source}, lota_fill_bytes_total, lota_cache_fills_total{result}
 * and lota_cache_direct_reads_total. */
size_t lotad_cache_metrics(char *out, size_t cap, void *cache);

/* Internal, exposed for tests and fuzzing. */
/* The versionId of a query ("" when absent) if every other parameter is a presign one;
 * false when the query has anything else (the request is then not cacheable). */
bool lotad_cache__query_ok(lota_str query, lota_str *version_id);

/* The request directives of a Cache-Control or Pragma header (0 for other headers):
 * LOTAD_CACHE_NO_STORE for Cache-Control: no-store and Pragma: no-cache (proxy, no
 * lookup, nothing stored), LOTAD_CACHE_NO_CACHE for Cache-Control: no-cache (a hit is
 * served, a miss is not stored). Tokens are comma-separated, case-insensitive. */
#define LOTAD_CACHE_NO_STORE 1
#define LOTAD_CACHE_NO_CACHE 2
int lotad_cache__directives(lota_str name, lota_str value);
/* The head of a fill's (or a direct read's) ranged GET of bytes [first, last] of an object
 * of `size` bytes pinned with If-Match: etag. Fed one header line at a time (status line,
 * header lines, the blank line; CRLF allowed): returns 0 before the end of the head (1xx
 * heads are skipped), then 1 when it is a 206 of exactly those bytes with that ETag and,
 * when vid is not empty, with x-amz-version-id vid; -1 for anything else (a 200 for the
 * range, another range, another ETag or version, an error status): nothing of that body
 * may be used. */
typedef struct lotad_cache_pinned {
	int status;
	bool in_1xx, range_ok, etag_ok, vid_ok;
} lotad_cache_pinned;
int lotad_cache__pinned_line(lotad_cache_pinned *ph, lota_str line, lota_str etag, lota_str vid,
                             uint64_t size, uint64_t first, uint64_t last);
/* The headers stored with extents a foreign-key answer carries (tee.c): its header lines
 * (fields, each ending in LF) but Content-Length, Content-Range and x-lota-cache, copied
 * to out; 0 when they do not fit cap (or there are none). */
size_t lotad_cache__tee_meta(lota_str fields, char *out, size_t cap);
/* Whether a Content-Range value is exactly "bytes FIRST-LAST/TOTAL". */
bool lotad_cache__content_range_is(lota_str value, uint64_t first, uint64_t last, uint64_t total);

#endif
