/*
 * lota/client.h - the S3 client of liblota: what C and C++ data loaders link to read and
 * write objects through lotad (or any S3 endpoint), fast.
 *
 *   lota_client *c;
 *   lota_client_opts o = LOTA_OPTS(lota_client_opts, .endpoint_url = "http://127.0.0.1:8080");
 *   if (lota_client_new(&o, &c) == 0) {
 *           lota_client_error e;
 *           size_t got;
 *           int rc = lota_client_get_buffer(c, "datasets", "shard-0001.tar", buf, cap,
 *                                           NULL, &got, NULL, &e);
 *           lota_client_free(c);
 *   }
 *
 * Configuration, highest first: the fields of lota_client_opts; LOTA_ENDPOINT (the
 * node's lotad) for the endpoint; then the AWS environment and shared files exactly as
 * lota/awsconf.h resolves them (AWS_PROFILE, AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL,
 * AWS_REGION, session tokens, s3 addressing_style, ...). Without any endpoint:
 * https://s3.REGION.amazonaws.com; without a region: us-east-1; without keys: anonymous
 * requests. Requests are path-style (http://endpoint/bucket/key) unless addressing_style
 * says otherwise, signed with SigV4 (lota/sigv4.h), payload UNSIGNED.
 *
 * Threads. A handle is thread-safe: any number of threads may run operations on one
 * handle at once. Each operation runs its transfers in the calling thread (a libcurl
 * multi handle of its own); connections are pooled in the handle and reused across
 * operations and threads. Callbacks (write, progress) are called in the calling thread,
 * never two at once for one operation. No global initialisation is needed.
 *
 * Errors. Operations return 0 (or a count) or a negative code (lota/common.h):
 * LOTA_E_CLIENT_* below, -errno from the system (a write to an fd), LOTA_E_OPTS for a bad
 * options struct, -EINVAL for bad arguments. When the server answered with an error, or
 * the transfer failed, the lota_client_error the caller passed (may be NULL) gets the
 * details: S3's error code ("NoSuchKey"), the HTTP status, the message and the request
 * id. The library never prints and never exits.
 *
 * Large objects. A get is split into ranged GETs of part_size (16 MiB) run
 * `concurrency` (16) at a time; the first answer's ETag pins every other part
 * (If-Match), so a part of another version of the object is never mixed in: an object
 * changed during the read is LOTA_E_CLIENT_CHANGED. A part that fails with a 5xx, a
 * SlowDown, a reset or a timeout is retried with exponential backoff (max_attempts in
 * all), from the byte it had reached. A put above multipart_threshold is a multipart
 * upload of multipart_part_size parts in parallel; on any failure the upload is aborted,
 * so no unfinished upload is left behind.
 */
#ifndef LOTA_CLIENT_H
#define LOTA_CLIENT_H

#include <stdbool.h>
#include <stdint.h>
#include <lota/common.h>

#ifdef __cplusplus
extern "C" {
#endif

#define LOTA_CLIENT_DEFAULT_PART_SIZE    (16ull << 20)
#define LOTA_CLIENT_DEFAULT_CONCURRENCY  16u
#define LOTA_CLIENT_DEFAULT_MP_THRESHOLD (64ull << 20)
#define LOTA_CLIENT_DEFAULT_MP_PART_SIZE (50ull << 20)
#define LOTA_CLIENT_DEFAULT_MAX_ATTEMPTS 5u
#define LOTA_CLIENT_DEFAULT_EXTENT_SIZE  (64ull << 20)
#define LOTA_CLIENT_MIN_MP_PART_SIZE     (5ull << 20) /* S3's smallest part but the last */
#define LOTA_CLIENT_MAX_PARTS            10000u       /* S3's limit of a multipart upload */
#define LOTA_CLIENT_MAX_CONCURRENCY      256u
#define LOTA_CLIENT_ETAG_MAX             128u
#define LOTA_CLIENT_HASHED_KEY_DIGITS    4u

/* What went wrong, in S3's words when the server said it. Strings are NUL-terminated
 * (empty when unknown) and truncated to fit. */
typedef struct lota_client_error {
	int code;             /* the code the function returned */
	int http_status;      /* 0 when no answer came */
	char s3_code[64];     /* "NoSuchKey", "SignatureDoesNotMatch", "SlowDown", ... */
	char message[512];    /* S3's <Message>, or what the library or transport says */
	char request_id[128]; /* x-amz-request-id (or <RequestId>) */
} lota_client_error;

/* "NoSuchKey (HTTP 404): The specified key does not exist. [request id ...]" into buf.
 * Returns buf. */
LOTA_API const char *lota_client_error_format(const lota_client_error *e, char *buf, size_t cap);

/*
 * Settings of a handle, an options struct (lota/common.h): LOTA_OPTS(lota_client_opts,
 * ...). Every field 0 / NULL is its default.
 */
typedef struct lota_client_opts {
	size_t sz;                 /* sizeof(lota_client_opts) */
	const char *endpoint_url;  /* http[s]://host[:port]; over LOTA_ENDPOINT and AWS */
	const char *profile;       /* like aws --profile */
	const char *region;        /* over AWS_REGION and the profile */
	const char *access_key_id; /* with secret_access_key: over the environment/files */
	const char *secret_access_key;
	const char *session_token;
	bool anonymous;                     /* sign nothing, whatever the environment holds */
	uint64_t part_size_bytes;           /* ranged GET size; 16 MiB */
	unsigned concurrency;               /* parts in flight per operation; 16 (<= 256) */
	uint64_t multipart_threshold_bytes; /* put: multipart at and above; 64 MiB */
	uint64_t multipart_part_size_bytes; /* 50 MiB (>= 5 MiB) */
	unsigned max_attempts;              /* tries per request, first included; 5 */
	uint64_t connect_timeout_ms;        /* 10 s */
	uint64_t stall_timeout_ms;  /* a transfer that moves no byte this long fails; 30 s */
	uint64_t retry_base_ms;     /* first backoff (doubles, jittered, capped 5 s); 100 ms */
	const char *admin_url;      /* lotad's admin endpoint for owner(); LOTA_ADMIN_URL */
	uint64_t extent_size_bytes; /* the cluster's extent size, for owner(); 64 MiB */
	const char *ca_bundle;      /* a CA file for https (else the system's) */
	lota_client_error *err;     /* optional: why lota_client_new failed */
	/* "path" (http://endpoint/bucket/key), "virtual" (http://bucket.endpoint/key) or
	 * "auto" (virtual when the bucket can be a host label and the endpoint is a name,
	 * not an address; path otherwise), like the AWS config's s3 addressing_style, over
	 * the profile's. Default: path (what lotad and most S3-compatible stores expect
	 * without a DNS name per bucket). */
	const char *addressing_style;
} lota_client_opts;

typedef struct lota_client lota_client;

/*
 * A new handle. opts may be NULL (all defaults). Returns 0 and *out, or LOTA_E_OPTS,
 * LOTA_E_CONFIG_* (the AWS files or variables, with opts->err's message naming the file
 * and line), LOTA_E_CLIENT_URI (an endpoint that is not http[s]://host[:port][/]; an
 * addressing_style that is not path, virtual or auto, the message naming where it came
 * from),
 * -EINVAL (NULL out, a key id without its secret, a value out of range), -ENOMEM,
 * LOTA_E_CLIENT_TRANSPORT (libcurl failed to initialise).
 */
LOTA_API int lota_client_new(const lota_client_opts *opts, lota_client **out) LOTA_WUR;
/* Free a handle no operation is using. NULL is fine. Secrets are wiped. */
LOTA_API void lota_client_free(lota_client *c);
/* The endpoint and region the handle uses (owned by it). */
LOTA_API const char *lota_client_endpoint(const lota_client *c);
LOTA_API const char *lota_client_region(const lota_client *c);

/* What an answer said about an object. */
typedef struct lota_object_info {
	uint64_t size_bytes;             /* the whole object's size */
	char etag[LOTA_CLIENT_ETAG_MAX]; /* quotes included, as sent */
	int64_t last_modified;           /* seconds since the epoch, 0 if unknown */
	char content_type[128];
	char cache_status[16]; /* lotad's x-lota-cache: "hit", "miss", "bypass" or "" */
	char version_id[128];  /* x-amz-version-id, "" when none */
} lota_object_info;

/* Progress: bytes done so far of total (total 0 when not known yet). Return 0 to go on,
 * anything else to stop the operation (LOTA_E_CLIENT_ABORTED). */
typedef int (*lota_client_progress_fn)(void *ud, uint64_t done_bytes, uint64_t total_bytes);

/* The data of a get: len bytes at object offset `offset`. Parts arrive out of order, but
 * in order with a concurrency of 1 (a writer to a pipe sets it); no byte is given twice
 * (a retried part goes on from the byte it reached). Return 0 to go on, or a negative
 * code to fail the get with it. */
typedef int (*lota_client_write_fn)(void *ud, uint64_t offset, const void *data, size_t len);

/* Options of a get, an options struct: LOTA_OPTS(lota_get_opts, ...). */
typedef struct lota_get_opts {
	size_t sz;
	uint64_t range_offset;    /* first byte */
	uint64_t range_length;    /* bytes from range_offset; 0: to the end of the object */
	const char *if_match;     /* an ETag the object must have (else LOTA_E_CLIENT_CHANGED) */
	uint64_t part_size_bytes; /* over the handle's */
	unsigned concurrency;     /* over the handle's */
	lota_client_progress_fn progress;
	void *progress_ud;
} lota_get_opts;

/*
 * Read an object (or the range of opts) into buf[0..cap). *got gets the bytes read (may
 * be NULL), info (may be NULL) what the answer said. An object (range) larger than cap is
 * LOTA_E_TOO_LARGE, known from the first answer. Errors: LOTA_E_CLIENT_NOT_FOUND (404),
 * LOTA_E_CLIENT_DENIED (403), LOTA_E_RANGE_UNSATISFIABLE (416), LOTA_E_CLIENT_CHANGED
 * (412, or the ETag changed between parts), LOTA_E_CLIENT_HTTP (any other error
 * answer), LOTA_E_CLIENT_TRANSPORT (no answer after every attempt),
 * LOTA_E_CLIENT_PROTOCOL (an answer that breaks S3's rules: a wrong range, a short body
 * retried in vain), LOTA_E_CLIENT_ABORTED.
 */
LOTA_API int lota_client_get_buffer(lota_client *c, const char *bucket, const char *key, void *buf,
                                    size_t cap, const lota_get_opts *opts, size_t *got,
                                    lota_object_info *info, lota_client_error *err) LOTA_WUR;
/* The same into fd with positioned writes: the byte at object offset X goes to file
 * offset X - range_offset (the fd must be seekable; a failing pwrite is -errno). */
LOTA_API int lota_client_get_fd(lota_client *c, const char *bucket, const char *key, int fd,
                                const lota_get_opts *opts, lota_object_info *info,
                                lota_client_error *err) LOTA_WUR;
/* The same through a callback (see lota_client_write_fn). */
LOTA_API int lota_client_get_cb(lota_client *c, const char *bucket, const char *key,
                                lota_client_write_fn fn, void *ud, const lota_get_opts *opts,
                                lota_object_info *info, lota_client_error *err) LOTA_WUR;

/* HEAD an object. Errors as for a get (a HEAD error has no body: s3_code is derived from
 * the status: "NotFound" for a 404, "Forbidden" for a 403, as the AWS CLI says). */
LOTA_API int lota_client_head(lota_client *c, const char *bucket, const char *key,
                              lota_object_info *info, lota_client_error *err) LOTA_WUR;

/* Options of a put, an options struct: LOTA_OPTS(lota_put_opts, ...). */
typedef struct lota_put_opts {
	size_t sz;
	const char *content_type;
	uint64_t multipart_threshold_bytes; /* over the handle's */
	uint64_t part_size_bytes;           /* multipart part size, over the handle's */
	unsigned concurrency;
	lota_client_progress_fn progress;
	void *progress_ud;
} lota_put_opts;

/* Write an object from data[0..len). info (may be NULL) gets the new ETag and size.
 * Errors as for a get; a multipart upload that fails is aborted before returning. */
LOTA_API int lota_client_put_buffer(lota_client *c, const char *bucket, const char *key,
                                    const void *data, size_t len, const lota_put_opts *opts,
                                    lota_object_info *info, lota_client_error *err) LOTA_WUR;
/* The same from the regular file fd (its whole size at the call, read with pread). */
LOTA_API int lota_client_put_fd(lota_client *c, const char *bucket, const char *key, int fd,
                                const lota_put_opts *opts, lota_object_info *info,
                                lota_client_error *err) LOTA_WUR;

/*
 * Write an object from a stream read in order (a pipe, a socket, stdin), without knowing
 * its size and without a temp file. The first part_size bytes decide: a stream that ends
 * below the multipart threshold is one PUT; anything longer is a multipart upload whose
 * parts are read one after the other (by a thread of the call) and uploaded
 * `concurrency` at a time, each retried from its buffer. Memory: at most concurrency + 1
 * buffers of part_size, concurrency lowered to keep them near 512 MiB. The progress
 * callback gets total 0 (unknown) and is called at least every 100 ms, even while the
 * stream is silent, so that a caller can stop (LOTA_E_CLIENT_ABORTED). Any failure (a
 * read error, a stop, a part that fails every attempt, more than 10,000 parts:
 * LOTA_E_TOO_LARGE) aborts the upload before returning. The fd is not closed; what was
 * read of it is consumed. -EBADF for a bad fd.
 */
LOTA_API int lota_client_put_stream(lota_client *c, const char *bucket, const char *key, int fd,
                                    const lota_put_opts *opts, lota_object_info *info,
                                    lota_client_error *err) LOTA_WUR;

/* Delete one object (S3 answers 204 for a key that does not exist too). */
LOTA_API int lota_client_delete(lota_client *c, const char *bucket, const char *key,
                                lota_client_error *err) LOTA_WUR;
/* Delete keys[0..n) with DeleteObjects (1,000 per request). Returns 0, or the first
 * failure: LOTA_E_CLIENT_HTTP with err naming the S3 code and the key that failed. */
LOTA_API int lota_client_delete_batch(lota_client *c, const char *bucket, const char *const *keys,
                                      size_t n, lota_client_error *err) LOTA_WUR;

/* Options of a listing, an options struct: LOTA_OPTS(lota_list_opts, ...). */
typedef struct lota_list_opts {
	size_t sz;
	const char *prefix;
	const char *delimiter;   /* e.g. "/": keys below it come as common prefixes */
	const char *start_after; /* list keys after this one */
	unsigned max_keys;       /* per page, 1..1000; 0: 1000 */
} lota_list_opts;

/* One entry of a page. A common prefix has is_prefix set and only key. */
typedef struct lota_list_entry {
	const char *key;
	uint64_t size_bytes;
	const char *etag;
	int64_t last_modified;
	bool is_prefix;
} lota_list_entry;

typedef struct lota_client_list lota_client_list;

/* A ListObjectsV2 iterator over bucket. Nothing is sent until the first _next. */
LOTA_API int lota_client_list_new(lota_client *c, const char *bucket, const lota_list_opts *opts,
                                  lota_client_list **out) LOTA_WUR;
/*
 * The next page: *entries / *n point to its entries, valid until the next call or the
 * free. Returns 1 with a page (n may be 0 on an empty bucket's one page), 0 when every
 * page was given, or a negative code (LOTA_E_CLIENT_PROTOCOL for a listing that does not
 * parse; the errors of a get). After an error the iterator may be called again: it asks
 * for the same page.
 */
LOTA_API int lota_client_list_next(lota_client_list *it, const lota_list_entry **entries, size_t *n,
                                   lota_client_error *err) LOTA_WUR;
LOTA_API void lota_client_list_free(lota_client_list *it);

/* Options of a pre-stage, an options struct: LOTA_OPTS(lota_prestage_opts, ...). */
typedef struct lota_prestage_opts {
	size_t sz;
	bool prefix;                      /* key is a prefix: every object under it */
	unsigned concurrency;             /* HEADs in flight; over the handle's */
	lota_client_progress_fn progress; /* objects done of objects known */
	void *progress_ud;
} lota_prestage_opts;

/*
 * Ask lotad to fill its cache with an object, or every object under a prefix: a HEAD
 * with Range: bytes=0-0 each (lotad's pre-stage; a plain S3 endpoint just answers).
 * Returns the number of objects pre-staged, or the first error (the others still run).
 */
LOTA_API int64_t lota_client_prestage(lota_client *c, const char *bucket, const char *key,
                                      const lota_prestage_opts *opts,
                                      lota_client_error *err) LOTA_WUR;

/*
 * The hashed-prefix form of a key: the first `digits` hex digits (1..16; 0:
 * LOTA_CLIENT_HASHED_KEY_DIGITS) of XXH3-64 of the key, '/', the key. Sequential names
 * ("shard-0001", "shard-0002") so spread over an object store's partitions. Writes into
 * out (NUL-terminated) and returns its length, or -EINVAL, LOTA_E_TOO_LARGE (cap).
 */
LOTA_API int lota_client_hashed_key(const char *key, size_t len, unsigned digits, char *out,
                                    size_t cap) LOTA_WUR;

/* A cluster node, as lotad's admin GET /cluster gives it. */
typedef struct lota_client_node {
	char id[128];
	char address[128]; /* host:port */
	bool up;
	bool self;     /* the node whose admin endpoint answered */
	double weight; /* its placement weight (lotad: capacity bytes); 0: not placed yet */
	uint64_t cache_used_bytes;
	uint64_t cache_capacity_bytes;
	int64_t since; /* state since, seconds since the epoch */
} lota_client_node;

/*
 * The cluster's members from the admin endpoint admin_url (NULL: the handle's) into
 * nodes[0..cap). Returns the number of members (which may exceed cap: only cap are
 * written), or LOTA_E_CLIENT_URI (no admin endpoint), LOTA_E_CLIENT_PROTOCOL (not the
 * /cluster JSON), the transport and HTTP errors.
 */
LOTA_API int lota_client_cluster(lota_client *c, const char *admin_url, lota_client_node *nodes,
                                 size_t cap, lota_client_error *err) LOTA_WUR;

/*
 * A cluster node with its admin endpoint, as lotad's GET /cluster gives it. (A struct of
 * its own: lota_client_node's layout is fixed, see lota/common.h.)
 */
typedef struct lota_client_member {
	lota_client_node node;
	/* host:port of its admin listener as the member advertises it (http://<admin>/ has
	 * its /metrics), "" when not known (a member down since before it ever answered, or
	 * one without an admin listener) */
	char admin[264];
	/* admin is a loopback address (127.0.0.0/8, ::1, localhost): only a client on that
	 * member's own host reaches it */
	bool admin_loopback;
} lota_client_member;

/*
 * lota_client_cluster with each member's admin endpoint: the members from the admin
 * endpoint admin_url (NULL: the handle's) into members[0..cap). Returns the number of
 * members (only cap are written) or the errors of lota_client_cluster.
 */
LOTA_API int lota_client_cluster_members(lota_client *c, const char *admin_url,
                                         lota_client_member *members, size_t cap,
                                         lota_client_error *err) LOTA_WUR;

/* What one node's admin /metrics says of its cache (sums over every series of a name;
 * 0 for a series the node does not print). */
typedef struct lota_client_node_stats {
	uint64_t cache_hits;
	uint64_t cache_misses;
	uint64_t cache_bypass;
	uint64_t bytes_from_cache;    /* lota_bytes_served_total{source="cache"} */
	uint64_t bytes_from_upstream; /* lota_bytes_served_total{source="upstream"} */
	uint64_t cache_used_bytes;    /* sum of lota_cache_bytes{dir} */
	uint64_t cache_capacity_bytes;
} lota_client_node_stats;

/*
 * The cache counters of the node whose admin endpoint is admin_url (NULL: the handle's),
 * from its GET /metrics (Prometheus text). Returns 0, or LOTA_E_CLIENT_URI (no admin
 * endpoint), LOTA_E_CLIENT_PROTOCOL (a page that is not Prometheus text), the transport
 * and HTTP errors.
 */
LOTA_API int lota_client_node_stats_get(lota_client *c, const char *admin_url,
                                        lota_client_node_stats *out,
                                        lota_client_error *err) LOTA_WUR;

/*
 * Which node holds the extent of bucket/key containing byte `offset`: the object is
 * HEADed for its ETag and size, the members come from lota_client_cluster, and the
 * extent is placed as lotad places it (lota/placement.h, members up with a weight). *owner
 * gets that node. Returns 0, -ERANGE (offset beyond the object; a 0-byte object has no
 * extent), LOTA_E_PLACEMENT_NO_NODES (no member up), or the errors above.
 */
LOTA_API int lota_client_owner(lota_client *c, const char *bucket, const char *key, uint64_t offset,
                               lota_client_node *owner, lota_client_error *err) LOTA_WUR;

#ifdef __cplusplus
}
#endif
#endif
