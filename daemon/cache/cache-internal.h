/*
 * cache-internal.h - what the files of cache/ share, and nothing outside cache/ includes:
 * the cache object, the three kinds of objects it runs and the functions the files call
 * in one another (named cache_*).
 *
 *   - objinfo (objtab.c): what one authorized request learned about an object (size,
 *     ETag, version id, the upstream's headers) and a copy of the client's credentials
 *     that sign its fills. Reference counted, shared by a request and its fills; the
 *     secret is wiped when the last reference goes.
 *   - creq (serve.c, authorize.c): one client GET/HEAD. First the authorizing HEAD, then
 *     the byte source of the part being sent: a store reader (a published extent or a
 *     growing fill, followed through an eventfd the store's watch callback writes) or a
 *     direct ranged GET.
 *   - fjob (fill.c): a chain of fills on one worker's curl multi, independent of any
 *     client: it fills one extent after the other, taking each from its plan (fplan),
 *     skipping extents that are cached or being filled elsewhere. A request starts
 *     fill_streams chains over one plan of its extents.
 *   - fplan (fill.c): the extents of one request not yet asked of the store, in order,
 *     shared by its chains and the request itself, so that one request asks the store for
 *     each extent's fill at most once.
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
#ifndef LOTAD_CACHE_INTERNAL_H
#define LOTAD_CACHE_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

#include <lota/extent.h>

#include "cache/cache.h"
#include "cluster/cluster.h"
#include "net/upstream.h"
#include "util/clock.h"
#include "util/list.h"

#define FAR_AHEAD        (16u << 20) /* a reader this far beyond a fill's prefix reads directly */
#define PUMP_BUDGET      (2u << 20)  /* bytes sent per turn before yielding to the loop */
#define SMALL_TTL_MS     30000       /* how long "this object is below the threshold" is trusted */
#define DIRECT_FIRST     (1u << 20) /* cold ranges up to this long are read straight, filled after */
#define LOTAD_PEER_TRIES 2          /* members asked for one extent (owner, next candidate) */
/* objects remembered (direct-mapped; rebuilt from the store at start): a foreign-key read
 * of an object the table lost goes without If-None-Match (foreign.c), so it holds a
 * dataset's worth. 65536 slots of ~560
 * bytes are mapped at start; only the slots used take memory. */
#define OBJ_SLOTS 65536
#define FIELD_MAX 256 /* bytes of an ETag / version id remembered */
#define URL_CAP   (LOTAD_MAX_HEAD_BYTES + 1024)
#define HEAD_CAP  (LOTAD_MAX_HEAD_BYTES + 512)

typedef struct fjob fjob;
typedef struct creq creq;
typedef struct fplan fplan;

/* One slot of the object table (objtab.c). */
struct objent {
	lota_hash128 name; /* hash of bucket, key, version query */
	bool used;
	uint64_t size;
	int64_t seen_ms;
	uint16_t etag_len, vid_len;
	char etag[FIELD_MAX];
	char vid[FIELD_MAX];
};

struct grant; /* authorize.c */

struct lotad_cache {
	lotad_store *store; /* NULL: no cache, every request is proxied */
	lotad_cache_config cfg;
	atomic_uint_fast64_t hits, misses, bypasses, range_reqs;
	atomic_uint_fast64_t served_cache, served_upstream, fill_bytes;
	atomic_uint_fast64_t fills_started, fills_failed, direct_reads;
	atomic_uint_fast64_t fill_xfers, fill_xfers_max; /* fill GETs running now, and most */
	/* the cluster (peer.c): NULL = one node */
	lotad_cluster *cluster;
	atomic_uint_fast64_t served_peer, fills_avoided, peer_failovers, peer_hits;
	atomic_int commits_running;
	pthread_mutex_t mu; /* the job list, the object table and the grants */
	lotad_list jobs;    /* every fjob running, of every worker */
	struct objent *otab;
	struct grant *grants;            /* metadata_ttl > 0 only */
	lotad_cache_proxy_fn proxy;      /* how a request goes to the proxy */
	lotad_cache_label_fn label_hook; /* NULL: none */
	void *label_ud;
	void *proxy_ud;
	lotad_cache_forward_fn forward; /* how a foreign-key read goes (foreign.c) */
	void *forward_ud;
	atomic_uint_fast64_t foreign[4]; /* foreign-key reads by outcome (foreign.c) */
	atomic_uint_fast64_t preread[3]; /* pre-reads used, dropped, HEADs answered first */
};

/* ------------------------------------------------------------- objinfo --- */

typedef struct objinfo {
	atomic_int refs;
	uint64_t size;
	lota_str bucket, rkey, dkey, etag, vid, vquery, meta;
	lotad_auth_result cred;   /* access/secret/token views into buf; header form */
	const lotad_settings *up; /* the bucket's region's settings (NULL: the worker's) */
	size_t buf_len;
	char buf[];
} objinfo;

/* The head of the answer to cache_ranged_get(): it must be a 206 of exactly the bytes
 * asked for and of the same ETag, else nothing of its body is used. */
typedef lotad_cache_pinned pinned_head;

enum { HEAD_MORE = 0, HEAD_OK = 1, HEAD_BAD = -1 };

/* ----------------------------------------------------------- fill jobs --- */

/* Extents next..last of an object that one request (a GET, a pre-staging HEAD, a proxied
 * cold read) wants filled and has not asked the store for yet. Its chains take them in
 * order; the request takes the one its reader reaches when the chains are behind
 * (cache_plan_take). Whatever the store answers (started, refused, cached), an extent
 * taken is not asked again for this request: a refusal would only be repeated, and a fill
 * that fails is not retried within the request that started it (the reader gets those
 * bytes by a direct read). Used on one worker's loop thread only (or after it stopped). */
struct fplan {
	unsigned refs; /* the request and each chain */
	uint64_t next, last;
};

struct fjob {
	lotad_xfer x;
	lotad_cache *ca;
	struct curl_slist *hdrs;
	lotad_worker *w;
	lotad_list node; /* in ca->jobs */
	objinfo *o;
	fplan *plan;
	uint64_t k; /* the extent being filled */
	lotad_fill *f;
	lota_hash128 h; /* of the extent being filled */
	uint64_t start, len;
	pinned_head ph;
	bool head_ok;
	lotad_list att; /* requests of this worker fed straight from this fill (the fork) */
	char errbuf[CURL_ERROR_SIZE];
};

/* ------------------------------------------------------- client requests --- */

enum { X_NONE = 0, X_AUTH, X_DIRECT, X_PEER };

struct creq {
	lotad_handler h; /* first */
	lotad_cache *ca;
	lotad_conn *c;
	lotad_worker *w;
	lotad_loop *loop;
	const lotad_settings *s;
	lotad_auth_result auth;
	lotad_s3req sr;
	lota_str vquery;
	objinfo *o;
	fplan *plan; /* the fills this request asked for (NULL: none yet) */
	/* a foreign-key read authorized by a 304 (foreign.c): the key its fills and direct
	 * reads are signed with (fill_profile's; mode 0 when none: nothing is filled) */
	lotad_auth_result fillcred;
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
	fjob *att;           /* the fill feeding us directly, if any */
	lotad_list att_node; /* in att->att */
	/* a read from the extent's owner (peer.c): bytes [a, direct_end] of the object are
	 * bytes [a - peer_base, ...] of the extent */
	lotad_peer_owner peer;
	uint64_t peer_base, peer_from;
	uint64_t ra_next; /* the next extent to read ahead (0: none asked yet) */
	int peer_status;
	bool peer_range_ok;
	bool peer_warm;      /* the owner answered from its store, not from a fill */
	bool peer_no_ticket; /* ask owners only for what they hold (no fill for this read) */
	unsigned peer_tries; /* members asked for extent peer_k */
	uint64_t peer_k;
	char peer_tried[LOTAD_PEER_TRIES][LOTA_PLACEMENT_ID_MAX + 1];
	/* the pre-read of a likely hit (preread.c): extent pre_k of the version pre_o names
	 * opened in pre_r, bytes [pre_a, pre_a + pre_len) of the object in pre_buf, while
	 * the authorizing HEAD is in flight; used only when its 200 names that version
	 * (pre_done of them sent) */
	lotad_store_reader *pre_r;
	objinfo *pre_o;
	uint64_t pre_k, pre_a;
	char *pre_buf;
	size_t pre_len, pre_done;
	/* a cluster read not held here: the head waits for its first byte, whose source
	 * (a warm peer or not) gives the label (label_pending: "miss" until a peer says warm) */
	bool head_pending;
	const char *label;
	size_t rhead_len;
	char rhead[HEAD_CAP];
	char errbuf[CURL_ERROR_SIZE];
};

/* ------------------------------------------------------- small helpers --- */

static inline void count(atomic_uint_fast64_t *v, uint64_t n)
{
	atomic_fetch_add_explicit(v, n, memory_order_relaxed);
}

static inline bool name_is(lota_str n, const char *s)
{
	return lota_str_eq_nocase(n, s, strlen(s));
}

static inline lota_str trim(const char *p, size_t n)
{
	while (n && (*p == ' ' || *p == '\t'))
		p++, n--;
	while (n && (p[n - 1] == ' ' || p[n - 1] == '\t' || p[n - 1] == '\r' || p[n - 1] == '\n'))
		n--;
	return (lota_str){p, n};
}

static inline bool parse_u64(lota_str s, uint64_t *out)
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

static inline uint64_t ext_size(const lotad_cache *ca)
{
	return ca->cfg.extent_size;
}

/* o as liblota names its extents (lota/extent.h): bucket, decoded key, ETag, version id,
 * size. Views into o. */
static inline lota_object_id cache_obj_id(const objinfo *o)
{
	return (lota_object_id){o->bucket, o->dkey, o->etag, o->vid, o->size};
}

/* The geometry of o's extents (lota_extent_*): their number, the extent holding byte off,
 * and the first and last byte of extent k. Callers pass offsets inside the object and
 * indexes below the count (a request's range is resolved against o->size first, and an
 * object cached here has at least one byte), so liblota never refuses them here; if it
 * did, an invariant is broken and lotad stops rather than name or send the wrong bytes. */
static inline uint64_t cache_ext_count(const lotad_cache *ca, const objinfo *o)
{
	return lota_extent_count(o->size, ext_size(ca));
}
uint64_t cache_ext_of(const lotad_cache *ca, const objinfo *o, uint64_t off);
uint64_t cache_ext_first(const lotad_cache *ca, const objinfo *o, uint64_t k);
uint64_t cache_ext_last(const lotad_cache *ca, const objinfo *o, uint64_t k);

/* --- policy.c: what is cacheable --- */
/* Why a request is not for the cache (NULL: it is). */
const char *cache_not_cacheable(const lota_http_request *req, const lotad_s3req *sr,
                                const lotad_auth_result *a, bool *no_fill, lota_str *vquery);

/* --- objtab.c: the object table, objinfo and extent geometry and keys --- */
lota_hash128 cache_obj_name(lota_str bucket, lota_str rkey, lota_str vquery);
void cache_objtab_note(lotad_cache *ca, lota_str bucket, lota_str rkey, lota_str vquery,
                       uint64_t size, lota_str etag, lota_str vid);
/* Fill the table from what the store holds (lotad_store_objects): after a restart, the
 * objects cached before it are asked for with If-None-Match again. Returns the number of
 * extents seen, or a negative code. */
int cache_objtab_rebuild(lotad_cache *ca);
bool cache_objtab_get(lotad_cache *ca, lota_str bucket, lota_str rkey, lota_str vquery,
                      struct objent *out, bool forget);
bool cache_objtab_small(lotad_cache *ca, lota_str bucket, lota_str rkey, lota_str vquery);
bool cache_objtab_cached(lotad_cache *ca, lota_str bucket, lota_str rkey, lota_str vquery,
                         uint64_t off);
/* Whether the last version of the object seen here has the extent holding byte `off`
 * owned by another member that is up (a cluster). */
bool cache_objtab_peer_owned(lotad_cache *ca, lota_str bucket, lota_str rkey, lota_str vquery,
                             uint64_t off);
int cache_decode_key(lota_str rkey, char *out, size_t cap);
objinfo *cache_obj_new(lota_str bucket, lota_str rkey, lota_str etag, lota_str vid, lota_str vquery,
                       const lotad_auth_result *a, lota_str meta, uint64_t size);
objinfo *cache_obj_ref(objinfo *o);
void cache_obj_unref(objinfo *o);
int cache_ext_key(const lotad_cache *ca, const objinfo *o, uint64_t k, uint8_t **key, size_t *klen,
                  lota_hash128 *h);

/* --- request.c: the requests the cache makes upstream --- */
lota_request *cache_request_new(const char *method, lota_str path, lota_str query);
int cache_request_headers(struct curl_slist **l, lota_request *r, const lotad_auth_result *ar,
                          const lotad_settings *s);
int cache_object_url(const lotad_settings *s, lota_str bucket, lota_str rkey, lota_str vquery,
                     char *url, size_t cap, char *path, size_t pcap, lota_str *pathv);
CURL *cache_easy_new(const lotad_settings *s, const char *url, struct curl_slist *hdrs, bool nobody,
                     curl_write_callback hcb, curl_write_callback wcb, void *ud, char *errbuf);
CURL *cache_ranged_get(const lotad_settings *s, const objinfo *o, uint64_t first, uint64_t last,
                       struct curl_slist **hdrs, curl_write_callback hcb, curl_write_callback wcb,
                       void *ud, char *errbuf);
int cache_pinned_head_line(pinned_head *ph, const char *buf, size_t n, const objinfo *o,
                           uint64_t first, uint64_t last);
const char *cache_pinned_head_why(const pinned_head *ph);

/* --- fill.c: fills and the fork --- */
/* Fill extents first..last of o in up to fill_streams chains on worker w. Returns the
 * plan (a reference for the caller: cache_plan_unref), or NULL when out of memory (then
 * nothing was asked). */
fplan *cache_start_fills(lotad_cache *ca, lotad_worker *w, objinfo *o, uint64_t first,
                         uint64_t last);
/* Whether the request whose plan is p (NULL: none) should ask now for the fill of extent
 * k, which it is about to read and the store does not hold: not when p already took it.
 * Takes k (and every extent before it, which the reader has passed) out of p. */
bool cache_plan_take(fplan *p, uint64_t k);
void cache_plan_unref(fplan *p);
void cache_fork_attach(creq *q, lota_hash128 h);
void cache_fork_detach(creq *q);

/* --- serve.c: the client state machine --- */
void cache_pump(creq *q);
void cache_creq_stop_xfer(creq *q);
/* Send bytes [q->a, last] by a ranged GET of the upstream pinned to the ETag. Returns 0,
 * or < 0 after finishing the request (cut short). */
int cache_start_direct(creq *q, uint64_t last);
void cache_creq_free(creq *q);
void cache_creq_finish(creq *q, bool ok);
void cache_creq_to_proxy(creq *q, const char *label);
/* Send the response head held back for the first byte's source (head_pending); 0 or < 0
 * when the connection is failing. */
int cache_flush_head(creq *q);
void cache_authorized(creq *q);

creq *cache_creq_new(lotad_cache *ca, lotad_conn *c, const lotad_s3req *sr, lotad_auth_result *auth,
                     lota_str vquery, bool no_fill);
/* Publish a complete fill off the loop thread (fill.c). */
void cache_publish(lotad_cache *ca, lotad_fill *f);

/* --- foreign.c: reads signed with keys lotad does not hold --- */
/* Whether a read authenticated as a is one for foreign.c (signed, forwarded as is). */
bool cache_foreign_eligible(const lotad_auth_result *a);
/* Hand such a cacheable read to the proxy (with If-None-Match when the copy is held). */
void cache_foreign_start(lotad_cache *ca, lotad_conn *c, const lotad_s3req *sr,
                         lotad_auth_result *auth, lota_str vquery, bool no_fill);
/* ca->foreign[]: the upstream's answers to foreign-key reads (304 served from the store,
 * 200/206 relayed and stored, anything else relayed) and those proxied without asking
 * (a conditional or Range of the client's own). */
enum { F_NOT_MODIFIED = 0, F_FETCHED = 1, F_OTHER = 2, F_PROXIED = 3 };
size_t cache_foreign_metrics(char *out, size_t cap, const lotad_cache *ca);
/* The fill credential (fill_profile's key from the current credentials) as a result
 * that signs like a client's; false when there is none. */
bool cache_fill_cred(const lotad_cache *ca, lotad_auth_result *out);
/* --- peer.c: extents owned by another member of the cluster --- */
/* Whether another member that is up owns the extent named h (then *out names it). */
bool cache_peer_owned(lotad_cache *ca, lota_hash128 h, lotad_peer_owner *out);
/* Send bytes [q->a, last] (inside extent k) from the extent's owner q->peer, handing it a
 * fill ticket (none with q->peer_no_ticket); when the owner fails, stalls or does not
 * answer, the rest comes from the next candidate in the extent's ranking that is up,
 * then from the upstream (cache_start_direct). Returns 0, or < 0 after finishing the
 * request. */
int cache_start_peer(creq *q, uint64_t k, uint64_t last);
/* Extent k, which this node owns and does not hold: fill it through the cluster (from the
 * next candidate that holds it, else the upstream with a ticket) and open it in q->r.
 * Returns 0, or a negative code (q->r NULL: read it elsewhere). */
int cache_cluster_fill_local(creq *q, uint64_t k);
/* Read ahead: have the request's extents up to k + peer_readahead (and not beyond its
 * range) filled where they belong, each asked once per request. */
void cache_cluster_readahead(creq *q, uint64_t k);
/* Pre-stage extents first..last of q's object where they belong (a HEAD). */
void cache_cluster_prestage(creq *q, uint64_t first, uint64_t last);
/* The key that fills the extents of a foreign read the upstream just authorized: the
 * client's own when lotad holds it (client: FORWARD with its key verified), else the fill
 * credential; false when neither (then only what the answers carry is stored). */
bool cache_foreign_cred(const lotad_cache *ca, const lotad_auth_result *client,
                        lotad_auth_result *out);

/* --- preread.c: the first bytes of a likely hit, read during the authorizing HEAD --- */
/* After the HEAD was sent: open and read the first bytes of the range of the version the
 * object table names, when the store holds that extent whole. */
void cache_preread_start(creq *q);
/* Once authorized (q->o and the range set): whether the pre-read is of exactly this
 * version and range; then its reader becomes q->r (extent q->r_k) and its bytes are sent
 * first (cache_preread_send); else everything of it is dropped. */
bool cache_preread_take(creq *q);
/* Send the pre-read bytes (after the head): 0 done (or nothing to send), 1 wait for
 * on_drain, < 0 the connection is failing. */
int cache_preread_send(creq *q);
/* Drop the pre-read, wiped (any time; nothing of it was sent). */
void cache_preread_drop(creq *q);

/* --- authorize.c: the authorizing HEAD and metadata_ttl grants --- */
int cache_start_auth(creq *q);
bool cache_grant_use(creq *q);
int cache_grants_new(lotad_cache *ca);
void cache_grants_free(lotad_cache *ca);

#endif
