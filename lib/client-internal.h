/*
 * client-internal.h - what the files of the S3 client (lib/client*.c) share: the handle,
 * one HTTP transfer (lota__xfer), the batch runner that drives many transfers on a curl
 * multi handle in the caller's thread, and the small XML reader for S3's answers.
 *
 * A transfer is described as data (method, bucket, key, query, a few headers, an upload
 * source, a download sink) and is signed afresh each time it is started, so a retry is
 * only "start it again". The runner knows nothing of gets or puts: an operation gives it
 * a `next` callback (the next transfer ready to go, or NULL) and a `done` callback (a
 * transfer finished; decide: retry, go on, or stop everything).
 */
#ifndef LOTA_CLIENT_INTERNAL_H
#define LOTA_CLIENT_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include <lota/client.h>

#define LOTA__XFER_MAX_HDRS  6
#define LOTA__ERRBODY_MAX    (64u * 1024)
#define LOTA__SAVEBODY_MAX   (32u << 20) /* a listing page, an upload's answer */
#define LOTA__BACKOFF_CAP_MS 5000u

enum { LOTA__ADDR_PATH, LOTA__ADDR_VIRTUAL, LOTA__ADDR_AUTO };

struct lota_client {
	char *endpoint; /* "http://host:port", no trailing slash */
	char *host;     /* host[:port] as in the Host header */
	char *region;
	char *access_key; /* NULL: anonymous */
	char *secret_key;
	char *session_token;
	char *admin_url; /* NULL: none */
	char *ca_bundle;
	uint64_t part_size, mp_threshold, mp_part_size, extent_size;
	unsigned concurrency, max_attempts;
	int addressing; /* LOTA__ADDR_* */
	uint64_t connect_timeout_ms, stall_timeout_ms, retry_base_ms;
	void *share; /* CURLSH: connections and DNS shared by every transfer */
	pthread_mutex_t locks[8];
	pthread_mutex_t pool_mu;
	void **pool; /* idle CURL easy handles */
	size_t npool, pool_cap;
};

typedef struct lota__xfer lota__xfer;
/* Called once the head of a 2xx answer is in: return 0, or a negative code to stop the
 * transfer (it then fails with that code, not retried). */
typedef int (*lota__xfer_head_fn)(lota__xfer *x);
/* Body bytes of a 2xx answer. Same return rule. */
typedef int (*lota__xfer_data_fn)(lota__xfer *x, const char *data, size_t len);

struct lota__xfer {
	/* the request */
	const char *method;
	const char *bucket; /* NULL: the service ("/") */
	const char *key;    /* NULL: the bucket itself */
	char *query;        /* owned, S3-encoded, no '?'; NULL: none */
	const char *url;    /* a full URL instead (admin endpoint), unsigned */
	const char *hname[LOTA__XFER_MAX_HDRS];
	char hval[LOTA__XFER_MAX_HDRS][160];
	size_t nh;
	/* the upload: a buffer, or an fd read with pread; none when both are unset */
	const uint8_t *up_buf;
	int up_fd;
	uint64_t up_off, up_len, up_pos;
	bool upload;
	char payload_hash[65]; /* "" : UNSIGNED-PAYLOAD */
	/* the answer */
	lota__xfer_head_fn on_head;
	lota__xfer_data_fn on_data;
	bool save_body; /* keep a 2xx body in body/body_len (up to LOTA__SAVEBODY_MAX) */
	bool is_head;
	int status;
	bool head_done;
	char etag[LOTA_CLIENT_ETAG_MAX];
	char request_id[128];
	char content_type[128];
	char cache_status[16];
	char version_id[128];
	int64_t last_modified;
	bool has_length, has_range;
	uint64_t content_length;
	uint64_t range_first, range_last, range_total; /* Content-Range */
	char *body;                                    /* a saved 2xx body, or an error body */
	size_t body_len, body_cap;
	uint64_t received; /* 2xx body bytes received */
	/* the outcome */
	int curl_code; /* CURLcode */
	int fail;      /* a callback's code, or LOTA_E_TOO_LARGE for a body past its cap */
	char curl_err[256];
	/* the runner's and the operation's */
	void *easy;
	void *hdr_list;
	void *ud;
	size_t idx;
	unsigned attempt;
	uint64_t not_before_ms;
	uint64_t last_io_ms; /* the last byte either way (the runner's stall check) */
	bool running;
};

void lota__xfer_init(lota__xfer *x, const char *method, const char *bucket, const char *key);
/* Add a header (name must be a literal or outlive the transfer). -E2BIG when full. */
int lota__xfer_header(lota__xfer *x, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Forget the answer (before a retry); the request stays. */
void lota__xfer_reset_answer(lota__xfer *x);
/* Free what the transfer owns (query, bodies). */
void lota__xfer_cleanup(lota__xfer *x);

/* The outcome of a finished transfer: 0 for a 2xx, else its code, with err filled (may
 * be NULL). *retry says whether another attempt may succeed (5xx, SlowDown, a transport
 * failure), never for a callback's own code. */
int lota__xfer_result(const lota__xfer *x, lota_client_error *err, bool *retry);
/* The delay before attempt n (1 = the first retry): exponential, jittered, capped. */
uint64_t lota__backoff_ms(const lota_client *c, unsigned n);
uint64_t lota__now_ms(void);

typedef struct lota__batch lota__batch;
struct lota__batch {
	lota_client *c;
	unsigned concurrency;
	/* the next transfer to start now, or NULL (nothing ready now; set wake_ms for when
	 * one will be) */
	lota__xfer *(*next)(lota__batch *b);
	/* a transfer ended (x->running is false again): 0 to go on, a negative code to
	 * stop every transfer and return it */
	int (*done)(lota__batch *b, lota__xfer *x);
	/* after every round: 0 to go on (progress reports), or a code to stop */
	int (*tick)(lota__batch *b);
	uint64_t wake_ms;
	void *ud;
};
/* Run until next gives nothing, nothing runs and nothing waits (0), or a callback
 * stops it (its code). Every transfer started has ended when it returns. */
int lota__batch_run(lota__batch *b);
/* One transfer with retries (max_attempts): 0 or its error in err. */
int lota__perform(lota_client *c, lota__xfer *x, lota_client_error *err);

/* info (may be NULL) from an answer's headers, with the object's size. */
void lota__fill_info(const lota__xfer *x, lota_object_info *info, uint64_t size);
/* Fill err (may be NULL) with a code and a message of the library. */
void lota__client_err(lota_client_error *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int lota__status_code(int status);

/* ---- XML (client_xml.c) ------------------------------------------------------------ */

typedef enum { LOTA__XML_START, LOTA__XML_END, LOTA__XML_TEXT } lota__xml_event;
/* stack[0..depth) are the names of the open elements, the current one last (for END
 * still included). Return 0 to go on, non-zero to stop (returned by the parser). */
typedef int (*lota__xml_fn)(void *ud, lota__xml_event ev, const lota_str *stack, size_t depth,
                            lota_str text);
#define LOTA__XML_MAX_DEPTH 32
/* A careful reader of the XML S3 answers with: elements, text with the five entities
 * and numeric references, CDATA; declarations, comments and attributes skipped. A
 * malformed document (unbalanced tags, a bad entity, '<' in a name, too deep) is
 * LOTA_E_CLIENT_PROTOCOL. Never reads past len. */
int lota__xml_parse(const char *buf, size_t len, lota__xml_fn fn, void *ud);
/* The text of the first element at path ("Error/Code") into out (cap, NUL-terminated,
 * truncated). 1 found, 0 not, or LOTA_E_CLIENT_PROTOCOL. */
int lota__xml_text(const char *buf, size_t len, const char *path, char *out, size_t cap);

/* A ListObjectsV2 page. Strings live in the arena. */
typedef struct lota__list_page {
	lota_list_entry *entries;
	size_t n, cap;
	char *arena;
	size_t arena_len, arena_cap;
	bool truncated;
	char *next_token; /* in the arena; NULL when none */
} lota__list_page;
int lota__xml_list(const char *buf, size_t len, lota__list_page *page);
void lota__list_page_cleanup(lota__list_page *page);

/* The first <Error> of a DeleteResult: key and code (empty when every key went). */
int lota__xml_delete_result(const char *buf, size_t len, char *key, size_t key_cap, char *code,
                            size_t code_cap, size_t *nerrors);

/* ---- Prometheus text (client_cluster.c) -------------------------------------------- */

/* Add up the series of lotad's /metrics page buf[0..len) that lota_client_node_stats
 * holds. 0, or LOTA_E_CLIENT_PROTOCOL for a line that is neither a comment nor
 * "name[{labels}] value". */
int lota__metrics_parse(const char *buf, size_t len, lota_client_node_stats *out);

#endif
