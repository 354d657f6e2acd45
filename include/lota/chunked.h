/*
 * lota/chunked.h - aws-chunked bodies (Content-Encoding: aws-chunked, x-amz-content-sha256:
 * STREAMING-AWS4-HMAC-SHA256-PAYLOAD): the chain of chunk signatures, signed and verified
 * one chunk at a time, and a streaming re-signer that verifies a client's chunks against
 * the client's chain and writes the same body signed by another chain (lotad re-signing
 * an upload for the upstream), or only verifies it.
 *
 * The chain. Every chunk carries the signature
 *   HMAC(signing key, "AWS4-HMAC-SHA256-PAYLOAD\n" amz_date "\n" scope "\n" previous "\n"
 *                     hex(sha256("")) "\n" hex(sha256(chunk data)))
 * where previous is the signature of the chunk before, or for the first chunk the seed:
 * the request's own SigV4 signature; scope is "yyyymmdd/region/service/aws4_request". The
 * body ends with a chunk of 0 bytes, signed the same way.
 *
 * The framing, as S3 sends and checks it:
 *   <size in hex, 1..16 digits>;chunk-signature=<64 lowercase hex>\r\n <size bytes> \r\n
 * repeated, the last chunk with size 0 (its data empty, then \r\n). Anything else in a
 * chunk header (other extensions, spaces, upper-case hex signatures, a bare \n) is
 * refused. The trailer forms (STREAMING-*-TRAILER) are not supported.
 *
 * Secrets: the signing keys live in the objects below and are wiped when they are freed;
 * signatures are compared in constant time.
 */
#ifndef LOTA_CHUNKED_H
#define LOTA_CHUNKED_H

#include <lota/common.h>

#ifdef __cplusplus
extern "C" {
#endif

#define LOTA_CHUNK_SIGNATURE_HEX_LEN 64
#define LOTA_CHUNK_HEADER_MAX        128        /* bytes of a chunk header line, CRLF excluded */
#define LOTA_CHUNK_DEFAULT_MAX       (1u << 20) /* max_chunk_bytes 0 means this */

/*
 * One side of a chain: the request's date, scope and seed, and its key. An options
 * struct (lota/common.h): build it with LOTA_OPTS(lota_chunk_chain_params, ...), which
 * sets sz and zeroes every field not named. Fields are only appended; an sz that is not
 * set, above LOTA_OPTS_MAX, or larger than this library knows with a non-zero byte in the
 * part it does not know is LOTA_E_OPTS. All views are read during the call only.
 */
typedef struct lota_chunk_chain_params {
	size_t sz; /* sizeof(lota_chunk_chain_params) */
	/* The key: signing_key (32 bytes, as lota_sigv4_signing_key makes it) if not NULL,
	 * else derived from secret_key (1..LOTA_SIGV4_SECRET_MAX bytes) and the scope. */
	const uint8_t *signing_key;
	lota_str secret_key;
	lota_str amz_date;       /* the request's X-Amz-Date, "20130524T000000Z" */
	lota_str scope_date;     /* yyyymmdd of the credential scope; empty: amz_date's date */
	lota_str region;         /* 1..64 bytes */
	lota_str service;        /* 1..64 bytes; empty: "s3" */
	lota_str seed_signature; /* the request's signature: 64 lowercase hex digits */
} lota_chunk_chain_params;

typedef struct lota_chunk_chain lota_chunk_chain;

/*
 * A chain positioned after the seed. Returns 0 and *out, or LOTA_E_OPTS (a bad
 * params->sz, see above), -EINVAL (NULL argument, no key, amz_date not 16 bytes,
 * scope_date not 8 digits, region or service empty or above 64 bytes or holding '/', a
 * byte outside printable ASCII), LOTA_E_SIGV4_MALFORMED (the seed is not 64 lowercase hex
 * digits), LOTA_E_TOO_LARGE (a secret above LOTA_SIGV4_SECRET_MAX), LOTA_E_CRYPTO,
 * -ENOMEM.
 */
LOTA_API int lota_chunk_chain_new(const lota_chunk_chain_params *params,
                                  lota_chunk_chain **out) LOTA_WUR;

/* Wipe the key and free. NULL is fine. */
LOTA_API void lota_chunk_chain_free(lota_chunk_chain *chain);

/* Sign the next chunk, given the SHA-256 of its data: out gets 64 hex digits and a NUL,
 * and the chain moves on to it. Returns 0, -EINVAL (NULL argument), LOTA_E_CRYPTO. */
LOTA_API int lota_chunk_chain_sign(lota_chunk_chain *chain, const uint8_t chunk_sha256[32],
                                   char out[LOTA_CHUNK_SIGNATURE_HEX_LEN + 1]) LOTA_WUR;

/* The same, hashing data[0..len) first (data may be NULL when len is 0). */
LOTA_API int lota_chunk_chain_sign_data(lota_chunk_chain *chain, const void *data, size_t len,
                                        char out[LOTA_CHUNK_SIGNATURE_HEX_LEN + 1]) LOTA_WUR;

/*
 * Check the signature a peer sent for the next chunk (compared in constant time). Returns
 * 0 and moves the chain on; LOTA_E_SIGV4_MISMATCH (a wrong signature, or one that is not
 * 64 lowercase hex digits) and leaves the chain where it was; -EINVAL; LOTA_E_CRYPTO.
 */
LOTA_API int lota_chunk_chain_verify(lota_chunk_chain *chain, const uint8_t chunk_sha256[32],
                                     lota_str signature) LOTA_WUR;
LOTA_API int lota_chunk_chain_verify_data(lota_chunk_chain *chain, const void *data, size_t len,
                                          lota_str signature) LOTA_WUR;

/* The signature the next chunk chains from (the seed, then the last one signed or
 * verified): 64 hex digits, NUL-terminated, owned by chain. */
LOTA_API const char *lota_chunk_chain_previous(const lota_chunk_chain *chain);

/*
 * The streaming re-signer. It reads an aws-chunked body, verifies every chunk against the
 * client's chain, and writes the same bytes with each chunk-signature replaced by the
 * upstream chain's: chunk boundaries and size texts are kept, so the length of the body
 * does not change. With upstream NULL it verifies only, and writes the body unchanged.
 * A chunk is written out only once it has verified, so at most one chunk (capped by
 * max_chunk_bytes; 0 = LOTA_CHUNK_DEFAULT_MAX) is held in memory.
 */
typedef struct lota_chunk_resigner lota_chunk_resigner;

/* Returns 0 and *out, or the errors of lota_chunk_chain_new for either side. */
LOTA_API int lota_chunk_resigner_new(const lota_chunk_chain_params *client,
                                     const lota_chunk_chain_params *upstream,
                                     size_t max_chunk_bytes, lota_chunk_resigner **out) LOTA_WUR;

/*
 * Feed in[0..in_len) and write into out[0..out_cap); *consumed and *produced (each may be
 * NULL) get the bytes used and written. Returns 1 when the final (0-byte) chunk has been
 * written out entirely (bytes after it are not consumed: they are not part of the body),
 * 0 when it needs more input or more output room (it stops consuming while a chunk is
 * still waiting to be written), or a negative code, after which the stream is dead (later
 * calls return LOTA_E_HTTP_CHUNK): LOTA_E_SIGV4_MISMATCH (a chunk signature is wrong),
 * LOTA_E_SIGV4_MALFORMED (a chunk header other than ";chunk-signature=<64 lowercase
 * hex>"), LOTA_E_HTTP_CHUNK_SIZE (no hex size, or more than 16 digits),
 * LOTA_E_HTTP_BARE_CR (a header line ended by a bare LF), LOTA_E_HTTP_CHUNK (data not
 * followed by CRLF), LOTA_E_TOO_LARGE (a chunk above max_chunk_bytes, or a header line
 * above LOTA_CHUNK_HEADER_MAX), -EINVAL (NULL r, or NULL in / out with a length),
 * -ENOMEM.
 */
LOTA_API int lota_chunk_resigner_feed(lota_chunk_resigner *r, const char *in, size_t in_len,
                                      size_t *consumed, char *out, size_t out_cap,
                                      size_t *produced) LOTA_WUR;

/* Wipe the keys and the held chunk, and free. NULL is fine. */
LOTA_API void lota_chunk_resigner_free(lota_chunk_resigner *r);

#ifdef __cplusplus
}
#endif
#endif
