/*
 * lota/http.h - strict, zero-copy HTTP/1.1 message-head parsing, chunked-body decoding
 * and the Range header.
 *
 * The parsers take (ptr, len) and never need a NUL terminator; every string they return
 * is a lota_str view into the caller's buffer, valid as long as that buffer is. They are
 * incremental in the sense that a caller feeds the bytes received so far and gets
 * LOTA_E_INCOMPLETE until the head is complete; the result is the same however the bytes
 * were split.
 *
 * Strictness (request smuggling and desync defences): Content-Length together with
 * Transfer-Encoding, more than one Content-Length (even with equal values), a
 * Content-Length that is not plain decimal, a Transfer-Encoding whose last coding is not
 * `chunked` (or any coding but `chunked` in a request), obs-fold, a bare CR, a NUL or
 * other control byte in a header, whitespace between a header name and the colon, an
 * over-long head or too many headers are all refused, each with its own error code.
 *
 * Details of the strictness:
 * - Lines end with CRLF only. A CR not followed by LF is LOTA_E_HTTP_BARE_CR. A bare LF
 *   is a control byte where it stands and gets the error of that element (METHOD,
 *   TARGET, VERSION, STATUS, HEADER_NAME or HEADER_VALUE).
 * - A header line that starts with SP or HTAB (obs-fold, or whitespace before the first
 *   header) is LOTA_E_HTTP_OBS_FOLD.
 * - Header names are tokens directly followed by ':'; values may hold HTAB, SP, VCHAR
 *   and bytes >= 0x80; NUL, DEL and other control bytes are LOTA_E_HTTP_HEADER_VALUE.
 * - The request-target is 1*VCHAR (raw bytes >= 0x80 are refused: clients
 *   percent-encode), in origin-form ("/path?query") or absolute-form
 *   ("scheme://authority/path?query"); "*" and authority-form are refused.
 * - Content-Length is 1*DIGIT up to 2^63-1. Transfer-Encoding in a request must be
 *   exactly one header "chunked" (case-insensitive); in a response the final coding
 *   decides (chunked -> CHUNKED, otherwise CLOSE) and chunked twice is refused. Any
 *   Transfer-Encoding in an HTTP/1.0 message is LOTA_E_HTTP_BAD_TE (RFC 9112 6.1).
 * - The first error in byte order is the one reported, and every error is decided by the
 *   bytes up to it, so a prefix of any input gives LOTA_E_INCOMPLETE or the same result.
 */
#ifndef LOTA_HTTP_H
#define LOTA_HTTP_H

#include <stdbool.h>
#include <lota/common.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct lota_http_header {
	lota_str name;  /* as sent (case preserved) */
	lota_str value; /* leading and trailing whitespace removed */
} lota_http_header;

/* An options struct (lota/common.h): build it with LOTA_OPTS(lota_http_limits, ...). */
typedef struct lota_http_limits {
	size_t sz;             /* sizeof(lota_http_limits) */
	size_t max_head_bytes; /* request/status line + headers + final CRLF; 0 = 16 KiB */
	size_t max_headers;    /* 0 = the capacity of the caller's header array */
} lota_http_limits;

/* How a message body is delimited. */
typedef enum lota_http_body {
	LOTA_HTTP_BODY_NONE = 0,    /* no body (request without CL/TE, 204, 304, HEAD...) */
	LOTA_HTTP_BODY_LENGTH = 1,  /* content_length bytes follow */
	LOTA_HTTP_BODY_CHUNKED = 2, /* chunked transfer coding */
	LOTA_HTTP_BODY_CLOSE = 3,   /* response only: until the connection closes */
} lota_http_body;

typedef struct lota_http_request {
	lota_str method;
	lota_str target;   /* the raw request-target (origin-form path?query, or absolute) */
	lota_str path;     /* target up to '?' (still percent-encoded); for absolute-form the
			    * path after the authority (may then be empty) */
	lota_str query;    /* after '?', without it; len 0 when absent */
	int minor_version; /* 0 or 1 */
	lota_http_header *headers; /* = the caller's array */
	size_t num_headers;
	/* framing, derived while parsing */
	lota_http_body body;
	uint64_t content_length; /* valid when body == LOTA_HTTP_BODY_LENGTH (may be 0) */
	bool keep_alive;         /* HTTP/1.1 unless "Connection: close"; 1.0 only with keep-alive */
	bool expect_continue;    /* "Expect: 100-continue" */
	lota_str host;           /* the Host header (required for HTTP/1.1, exactly one; may be
				  * empty; bytes: unreserved, pct, sub-delims, ':', '[', ']').
				  * len 0 for HTTP/1.0 without Host. */
} lota_http_request;

typedef struct lota_http_response {
	int status;      /* 100..999 */
	lota_str reason; /* may be empty ("HTTP/1.1 200\r\n" is accepted) */
	int minor_version;
	lota_http_header *headers;
	size_t num_headers;
	lota_http_body body; /* as if the request was not HEAD: see lota_http_response_body();
			      * CLOSE when neither Content-Length nor Transfer-Encoding */
	uint64_t content_length;
	bool keep_alive; /* from the version and Connection only: a CLOSE body ends the
			  * connection anyway */
} lota_http_response;

/*
 * Parse a request head from buf[0..len). `headers` is caller storage for `max_headers`
 * entries. Returns the number of bytes of the head (> 0, including the final CRLF) on
 * success, LOTA_E_INCOMPLETE when more bytes are needed (and the bytes so far are valid),
 * or another negative LOTA_E_HTTP_* code. limits may be NULL (defaults); LOTA_E_OPTS for
 * limits with a bad sz.
 */
LOTA_API int lota_http_parse_request(const char *buf, size_t len, lota_http_request *req,
                                     lota_http_header *headers, size_t max_headers,
                                     const lota_http_limits *limits) LOTA_WUR;

/* The same for a response head (no Host rules; Expect is not looked at). */
LOTA_API int lota_http_parse_response(const char *buf, size_t len, lota_http_response *resp,
                                      lota_http_header *headers, size_t max_headers,
                                      const lota_http_limits *limits) LOTA_WUR;

/* The body framing of a response given the request method: none for HEAD, 1xx, 204,
 * 304; otherwise resp->body. */
LOTA_API lota_http_body lota_http_response_body(const lota_http_response *resp,
                                                bool request_was_head);

/* Case-insensitive lookup of the first header named `name`; NULL when absent. */
LOTA_API const lota_http_header *lota_http_find_header(const lota_http_header *headers,
                                                       size_t num_headers, const char *name,
                                                       size_t name_len);

/* Case-insensitive ASCII comparison of two views (for header names and tokens). */
LOTA_API bool lota_str_eq_nocase(lota_str a, const char *b, size_t b_len);

/*
 * Chunked transfer-coding decoder. Caller-owned state (init with _init). Decodes in
 * place: on each call buf[0..*len) holds received bytes; on return buf[0..*len) holds
 * only the decoded payload bytes of this call. Returns LOTA_E_INCOMPLETE when the body
 * is not finished, a non-negative count of bytes that follow the end of the body (they
 * are left at buf[*len .. *len + count) for the next message) when the last chunk and
 * the trailer section have been consumed, or LOTA_E_HTTP_CHUNK_SIZE / LOTA_E_HTTP_CHUNK /
 * LOTA_E_HTTP_BARE_CR / LOTA_E_TOO_LARGE (a chunk-size line or the trailers exceed
 * max_line_bytes). Chunk extensions are accepted and ignored.
 * Details: chunk-size is 1*HEXDIG up to 2^63-1 (no sign, no leading whitespace; BWS
 * before ';' or CR is allowed). The trailer section (all its lines together) is bounded
 * by max_line_bytes. Errors are sticky: once one is returned, later calls return it
 * again with *len = 0. After the end of the body, a call decodes nothing and returns
 * *len (all bytes follow the body). *len above INT_MAX is -EINVAL. Set max_line_bytes
 * before or after _init (init keeps it).
 */
typedef struct lota_http_chunked {
	uint64_t remaining; /* bytes left in the current chunk */
	int state;
	size_t line_bytes;     /* length of the size line / trailer seen so far */
	size_t max_line_bytes; /* 0 = 4096 */
	bool hex_seen;
} lota_http_chunked;

LOTA_API void lota_http_chunked_init(lota_http_chunked *dec);
LOTA_API int lota_http_chunked_decode(lota_http_chunked *dec, char *buf, size_t *len) LOTA_WUR;

/*
 * Range header (RFC 9110 byte ranges as S3 answers them). S3 honours only one range;
 * an invalid or multi-range header is ignored (the whole object is returned, 200), and
 * a syntactically valid range that starts at or beyond the end of the object gives 416.
 */
typedef enum lota_range_kind {
	LOTA_RANGE_FROM_TO = 0, /* bytes=a-b */
	LOTA_RANGE_FROM = 1,    /* bytes=a- */
	LOTA_RANGE_SUFFIX = 2,  /* bytes=-n */
} lota_range_kind;

typedef struct lota_range {
	lota_range_kind kind;
	uint64_t first; /* a (FROM_TO, FROM) */
	uint64_t last;  /* b (FROM_TO), or n (SUFFIX) */
} lota_range;

/* Parse a Range header value. 0 on success; LOTA_E_RANGE_MALFORMED for anything that is
 * not exactly one byte range (the caller then serves the whole object): several ranges,
 * last < first, another unit, whitespace inside, signs. The unit is case-insensitive;
 * numbers too large for 64 bits saturate. `bytes=-0` parses (and resolves to 416). */
LOTA_API int lota_range_parse(const char *value, size_t len, lota_range *out) LOTA_WUR;

/* Resolve a parsed range against an object size into the inclusive byte interval
 * [*first, *last]. 0 on success; LOTA_E_RANGE_UNSATISFIABLE when it selects no byte
 * (first >= size, a zero-length suffix, or any range of an empty object). b beyond the
 * end is clamped to size - 1; a suffix longer than the object selects all of it.
 * lib/range.c explains, case by case, how S3 answers each form. */
LOTA_API int lota_range_resolve(const lota_range *r, uint64_t size, uint64_t *first,
                                uint64_t *last) LOTA_WUR;

#ifdef __cplusplus
}
#endif
#endif
