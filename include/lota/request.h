/*
 * lota/request.h - one outgoing HTTP request, described as data: method, path, query and
 * an ordered list of header fields, in storage the object owns. lota_sigv4_sign_request
 * (lota/sigv4.h) signs it in place, adding Host, X-Amz-Date, X-Amz-Content-Sha256,
 * X-Amz-Security-Token and Authorization, so a program hands the fields to its HTTP
 * client one by one (lota_request_header_line gives each in the "Name: value" form that
 * libcurl's header list takes) with no text to format and split again.
 *
 * Bounds: at most LOTA_REQUEST_MAX_HEADERS header fields (SigV4's own limit) and
 * LOTA_REQUEST_MAX_BYTES bytes of method, path, query, names and values together; a
 * change that would pass either is refused and leaves the request as it was.
 *
 * Validity, checked on every change, so that nothing set here can split a request line
 * or smuggle a header: the method is a token; the path starts with '/' and, like the
 * query, holds visible ASCII only (no '#', and no '?' in the path: percent-encode); a
 * header name is a token; a value holds no control byte but HTAB (bytes >= 0x80 are
 * allowed) and does not start or end with SP or HTAB.
 *
 * Views and pointers returned by the getters are valid until the next change of the
 * request. Names compare case-insensitively. The object is not locked: one thread at a
 * time. Its storage is wiped when freed or reset (it may hold tokens and signatures).
 */
#ifndef LOTA_REQUEST_H
#define LOTA_REQUEST_H

#include <lota/common.h>
#include <lota/http.h>

#ifdef __cplusplus
extern "C" {
#endif

#define LOTA_REQUEST_MAX_HEADERS 128   /* = LOTA_SIGV4_MAX_HEADERS */
#define LOTA_REQUEST_MAX_BYTES   65536 /* method + path + query + every name and value */

/* Header flag: send this field but leave it out of the signature (a header the client
 * did not sign, a hop-by-hop header). */
#define LOTA_REQUEST_UNSIGNED 0x1u

typedef struct lota_request lota_request;

/* An empty request ("GET /", no header). NULL only when out of memory. */
LOTA_API lota_request *lota_request_new(void);

/* Wipe and free. NULL is fine. */
LOTA_API void lota_request_free(lota_request *r);

/*
 * Start over: the given request line and no header. path is as sent on the wire
 * (percent-encoded); query without the '?' (empty: none). Returns 0, -EINVAL (NULL r, a
 * NULL view with a length), LOTA_E_HTTP_METHOD, LOTA_E_HTTP_TARGET (path or query),
 * LOTA_E_TOO_LARGE; on failure r is unchanged.
 */
LOTA_API int lota_request_reset(lota_request *r, lota_str method, lota_str path,
                                lota_str query) LOTA_WUR;

/* Replace only the query (e.g. after removing presign parameters). Same errors. */
LOTA_API int lota_request_set_query(lota_request *r, lota_str query) LOTA_WUR;

/* The request line's parts (NUL-terminated views). */
LOTA_API lota_str lota_request_method(const lota_request *r);
LOTA_API lota_str lota_request_path(const lota_request *r);
LOTA_API lota_str lota_request_query(const lota_request *r);
/* "path?query" (or "path" with no query), NUL-terminated: what follows the authority in
 * the URL. */
LOTA_API const char *lota_request_target(const lota_request *r);

/*
 * Append a header field (a name may repeat). flags: 0 or LOTA_REQUEST_UNSIGNED. Returns
 * its index, or -EINVAL (NULL r, NULL view with a length, unknown flags),
 * LOTA_E_HTTP_HEADER_NAME, LOTA_E_HTTP_HEADER_VALUE, LOTA_E_HTTP_TOO_MANY_HEADERS,
 * LOTA_E_TOO_LARGE, -ENOMEM; on failure r is unchanged.
 */
LOTA_API int lota_request_header_add(lota_request *r, lota_str name, lota_str value,
                                     unsigned flags) LOTA_WUR;

/* Set a header to one field: the first field of that name takes the value (and flags,
 * and the name's spelling) where it stands, the others are removed; with none, it is
 * appended. Returns its index or the errors of lota_request_header_add. */
LOTA_API int lota_request_header_set(lota_request *r, lota_str name, lota_str value,
                                     unsigned flags) LOTA_WUR;

/* Remove every field of that name. Returns how many were removed (0 or more), or
 * -EINVAL. The fields after them move down. */
LOTA_API int lota_request_header_remove(lota_request *r, lota_str name);

/* Index of the first field of that name, or -ENOENT (-EINVAL for NULL r). */
LOTA_API int lota_request_header_find(const lota_request *r, lota_str name);

/* Number of header fields (0 for NULL). */
LOTA_API size_t lota_request_header_count(const lota_request *r);

/* Field `index` (0 <= index < count): its name and value views, and its flags (flags may
 * be NULL). Returns 0 or -ERANGE (-EINVAL for NULL r or out). */
LOTA_API int lota_request_header_get(const lota_request *r, size_t index, lota_http_header *out,
                                     unsigned *flags) LOTA_WUR;

/* Field `index` as one NUL-terminated line, "Name: value", or "Name;" when the value is
 * empty (libcurl's spelling of an empty header; "Name:" would remove it). NULL when
 * index is out of range. */
LOTA_API const char *lota_request_header_line(const lota_request *r, size_t index);

#ifdef __cplusplus
}
#endif
#endif
