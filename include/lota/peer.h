/*
 * lota/peer.h - the peer protocol between the lotad nodes of one cluster: how a request
 * on the peer port is framed, the canonical string its HMAC-SHA256 covers, the signer,
 * and the verifier with its time window and replay cache (docs/architecture.md §9.5).
 *
 * Framing. A peer request is an HTTP/1.1 request whose authentication lives in headers:
 *
 *   X-Lota-Peer-Node:      the sender's node id (1..255 bytes, no control byte)
 *   X-Lota-Peer-Time:      the sender's clock, Unix seconds, plain decimal
 *   X-Lota-Peer-Nonce:     32 lowercase hex digits (16 random bytes), new per request
 *   X-Lota-Peer-Extent:    the extent's identity: lowercase hex of its canonical cache
 *                          key (lota/placement.h); absent for requests about no extent
 *   Range:                 "bytes=FIRST-LAST" inside the extent; absent = all of it
 *   X-Lota-Peer-Ticket:    the fill ticket (a presigned GET URL); absent when none
 *   X-Lota-Peer-Signature: 64 lowercase hex digits, the HMAC below
 *
 * Each of these headers appears at most once (a second copy is malformed, so nobody can
 * slip a value past the HMAC). The HMAC-SHA256, keyed with the cluster secret, is over
 * the canonical string, the fields joined by "\n" with no trailing newline:
 *
 *   LOTA-PEER-HMAC-SHA256
 *   METHOD                 (as sent, e.g. GET)
 *   TARGET                 (the request-target exactly as sent, query included)
 *   NODE
 *   TIME                   (the header's exact digits)
 *   NONCE
 *   EXTENT                 (empty line when absent)
 *   RANGE                  (the Range header's exact value; empty when absent)
 *   TICKET                 (empty when absent)
 *
 * No field may hold a control byte (HTTP header values cannot), so the joined string
 * reads back one way only.
 *
 * Verification (lota_peer_verify) refuses, in this order: a missing, duplicated or
 * malformed field (LOTA_E_PEER_MALFORMED) or one above its cap (LOTA_E_TOO_LARGE); a
 * signature that does not verify (LOTA_E_PEER_AUTH, compared in constant time); a time
 * more than LOTA_PEER_WINDOW_S away from the verifier's clock, in the past or the
 * future (LOTA_E_PEER_STALE); a nonce already accepted within the window
 * (LOTA_E_PEER_REPLAY). Only a request that passed the HMAC is remembered, so a
 * non-member cannot fill the replay cache. The cache is bounded: a nonce is kept until
 * its request leaves the window, and when the cache is full of live nonces a request is
 * refused (LOTA_E_PEER_BUSY) rather than let through unchecked.
 *
 * Thread-safety: one lota_peer_auth may be used by any number of threads at once (a
 * mutex guards its HMAC context and replay cache). It is shared on purpose: a replayed
 * request may land on any worker of the peer listener, so the nonces must be one set.
 * The rate is low (one request per extent range, one health probe per member per
 * second), so the lock is not a bottleneck.
 */
#ifndef LOTA_PEER_H
#define LOTA_PEER_H

#include <lota/common.h>
#include <lota/http.h>
#include <lota/placement.h>

#ifdef __cplusplus
extern "C" {
#endif

#define LOTA_PEER_WINDOW_S       30     /* accepted clock distance, either direction */
#define LOTA_PEER_SECRET_MIN     32u    /* bytes of cluster secret, at least */
#define LOTA_PEER_SECRET_MAX     4096u  /* bytes of cluster secret, at most */
#define LOTA_PEER_NONCE_HEX_LEN  32u    /* 16 random bytes */
#define LOTA_PEER_SIG_HEX_LEN    64u    /* HMAC-SHA256 */
#define LOTA_PEER_TICKET_MAX     8192u  /* bytes of a fill ticket */
#define LOTA_PEER_EXTENT_MAX     8192u  /* hex digits of an extent identity */
#define LOTA_PEER_TARGET_MAX     1024u  /* bytes of the request-target */
#define LOTA_PEER_HEAD_MAX       32768u /* a whole request head, as lota_peer_format makes */
#define LOTA_PEER_REPLAY_DEFAULT 65536u /* nonces remembered at most (0 in _new) */

#define LOTA_PEER_H_NODE      "X-Lota-Peer-Node"
#define LOTA_PEER_H_TIME      "X-Lota-Peer-Time"
#define LOTA_PEER_H_NONCE     "X-Lota-Peer-Nonce"
#define LOTA_PEER_H_EXTENT    "X-Lota-Peer-Extent"
#define LOTA_PEER_H_TICKET    "X-Lota-Peer-Ticket"
#define LOTA_PEER_H_SIGNATURE "X-Lota-Peer-Signature"
/* In an owner's 206 (not signed, a hint for metrics and labels): "cache" when the extent
 * was whole in its store when asked, "fill" when its bytes come from a fill. */
#define LOTA_PEER_H_SOURCE "X-Lota-Peer-Source"

/* The signed fields of one peer request. Views are borrowed; an absent field is {NULL,
 * 0}. After lota_peer_verify() they point into the parsed request's buffer. */
typedef struct lota_peer_fields {
	lota_str method;
	lota_str target;
	lota_str node;
	int64_t time_s;
	lota_str time; /* the digits as sent; lota_peer_format fills it from time_s */
	lota_str nonce;
	lota_str extent; /* hex of the canonical cache key */
	lota_str range;  /* the Range header value, e.g. "bytes=0-1023" */
	lota_str ticket;
} lota_peer_fields;

/* The cluster secret, a signing context and the replay cache. */
typedef struct lota_peer_auth lota_peer_auth;

/*
 * A new context for `secret` (copied; LOTA_PEER_SECRET_MIN..LOTA_PEER_SECRET_MAX bytes,
 * else LOTA_E_PEER_SECRET) remembering at most replay_capacity nonces (0 = the default).
 * Returns 0 and *out, or LOTA_E_PEER_SECRET, -EINVAL, -ENOMEM, LOTA_E_CRYPTO.
 */
LOTA_API int lota_peer_auth_new(const void *secret, size_t secret_len, size_t replay_capacity,
                                lota_peer_auth **out) LOTA_WUR;
/* Wipes the secret. Accepts NULL. */
LOTA_API void lota_peer_auth_free(lota_peer_auth *a);

/*
 * The canonical string of f (time taken from f->time when set, else from f->time_s) into
 * buf (capacity cap). Returns its length, -ENOBUFS when cap is too small, or
 * LOTA_E_PEER_MALFORMED when a field holds a control byte or the method/target/node/
 * nonce is empty.
 */
LOTA_API int lota_peer_canonical(const lota_peer_fields *f, char *buf, size_t cap) LOTA_WUR;

/* The HMAC of f's canonical string as 64 lowercase hex digits plus a NUL. Returns 0 or
 * the errors of lota_peer_canonical(), LOTA_E_TOO_LARGE, LOTA_E_CRYPTO. */
LOTA_API int lota_peer_sign(lota_peer_auth *a, const lota_peer_fields *f,
                            char out[LOTA_PEER_SIG_HEX_LEN + 1]) LOTA_WUR;

/* A fresh random nonce: 32 lowercase hex digits plus a NUL. Returns 0 or LOTA_E_CRYPTO. */
LOTA_API int lota_peer_nonce(char out[LOTA_PEER_NONCE_HEX_LEN + 1]) LOTA_WUR;

/*
 * Write a whole signed request head into buf (capacity cap): the request line, Host
 * (host, e.g. "10.0.0.2:7480"), the peer headers of f, `Connection: keep-alive` and the
 * final empty line. f->method, f->target, f->node and f->time_s are required; f->nonce
 * is used when set, else a fresh one is made; extent, range and ticket when set.
 * Returns the head's length, -ENOBUFS, LOTA_E_TOO_LARGE (a field above its cap), or the
 * errors of lota_peer_sign().
 */
LOTA_API int lota_peer_format(lota_peer_auth *a, const lota_peer_fields *f, const char *host,
                              char *buf, size_t cap) LOTA_WUR;

/*
 * Authenticate a parsed request head (lota_http_parse_request) at time now_s (Unix
 * seconds). Returns 0 and the fields in *out (views into the request's buffer), or one
 * of the refusals listed at the top of this header; *out is then undefined.
 */
LOTA_API int lota_peer_verify(lota_peer_auth *a, const lota_http_request *req, int64_t now_s,
                              lota_peer_fields *out) LOTA_WUR;

/* Encode an extent's identity for X-Lota-Peer-Extent: lowercase hex of the canonical
 * cache key of k into out (capacity cap, a NUL is added). Returns the number of hex
 * digits, or -ENOBUFS, LOTA_E_TOO_LARGE (above LOTA_PEER_EXTENT_MAX) and the errors of
 * lota_cache_key_canonical(). */
LOTA_API int lota_peer_extent_encode(const lota_cache_key *k, char *out, size_t cap) LOTA_WUR;

/*
 * Decode X-Lota-Peer-Extent: hex digits of a canonical cache key into its bytes (buf,
 * capacity cap) and *k, whose views point into buf. Returns the number of key bytes, or
 * LOTA_E_PEER_MALFORMED (odd length, not hex, not a well-formed canonical key: wrong tag,
 * a length running past the end, trailing bytes), LOTA_E_TOO_LARGE, -ENOBUFS.
 */
LOTA_API int lota_peer_extent_decode(const char *hex, size_t len, uint8_t *buf, size_t cap,
                                     lota_cache_key *k) LOTA_WUR;

#ifdef __cplusplus
}
#endif
#endif
