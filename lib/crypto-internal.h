/*
 * crypto-internal.h - the only door to OpenSSL for the whole project: SHA-256 (one-shot
 * and streaming), HMAC-SHA256, AES-256-GCM sealing of one block, random bytes, hex
 * encoding, constant-time comparison and secure wiping.
 *
 * Invariants: no OpenSSL type crosses this header (contexts are opaque); every function
 * returns 0 or LOTA_E_CRYPTO / LOTA_E_AUTH_TAG / -ENOMEM, or -EAGAIN when the process
 * has no pthread key left for the per-thread contexts on the first use (then every later
 * call fails the same way; nothing aborts). The one-shot helpers reuse
 * per-thread OpenSSL contexts (created on first use, freed at thread exit), so the hot
 * paths (SigV4, peer HMAC, store blocks) do not allocate per call.
 */
#ifndef LOTA_CRYPTO_INTERNAL_H
#define LOTA_CRYPTO_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <lota/common.h>

#define LOTA__SHA256_LEN    32
#define LOTA__HMAC_LEN      32
#define LOTA__GCM_KEY_LEN   32
#define LOTA__GCM_NONCE_LEN 12
#define LOTA__GCM_TAG_LEN   16

/* One-shot SHA-256 of data[0..len). */
int lota__sha256(const void *data, size_t len, uint8_t out[LOTA__SHA256_LEN]) LOTA_WUR;

/* Content-MD5 of data[0..len): base64 of its MD5 (24 characters and a NUL). S3's
 * DeleteObjects requires it; MD5 is used for nothing else. */
int lota__md5_base64(const void *data, size_t len, char out[25]) LOTA_WUR;

/* Streaming SHA-256: _new, then (_init, _update..., _final) any number of times, _free.
 * A context is used by one thread at a time. _free accepts NULL. */
typedef struct lota__sha256_ctx lota__sha256_ctx;
lota__sha256_ctx *lota__sha256_new(void);
void lota__sha256_free(lota__sha256_ctx *ctx);
int lota__sha256_init(lota__sha256_ctx *ctx) LOTA_WUR;
int lota__sha256_update(lota__sha256_ctx *ctx, const void *data, size_t len) LOTA_WUR;
int lota__sha256_final(lota__sha256_ctx *ctx, uint8_t out[LOTA__SHA256_LEN]) LOTA_WUR;

/* One-shot HMAC-SHA256 (a per-thread MAC context is reused). */
int lota__hmac_sha256(const void *key, size_t key_len, const void *data, size_t len,
                      uint8_t out[LOTA__HMAC_LEN]) LOTA_WUR;

/* Streaming HMAC-SHA256 with a caller-owned, reusable context. */
typedef struct lota__hmac_ctx lota__hmac_ctx;
lota__hmac_ctx *lota__hmac_new(void);
void lota__hmac_free(lota__hmac_ctx *ctx);
int lota__hmac_init(lota__hmac_ctx *ctx, const void *key, size_t key_len) LOTA_WUR;
int lota__hmac_update(lota__hmac_ctx *ctx, const void *data, size_t len) LOTA_WUR;
int lota__hmac_final(lota__hmac_ctx *ctx, uint8_t out[LOTA__HMAC_LEN]) LOTA_WUR;

/*
 * AES-256-GCM of one block. Seal encrypts in[0..len) into out (same length; out may
 * equal in) and writes the 16-byte tag; aad (may be NULL/0) is authenticated, not
 * encrypted. The caller supplies a 12-byte nonce that must never repeat under one key
 * (lota__random_bytes is fine for that). Open checks the tag before trusting anything:
 * LOTA_E_AUTH_TAG when it fails (out is then wiped).
 */
int lota__aead_seal(const uint8_t key[LOTA__GCM_KEY_LEN], const uint8_t nonce[LOTA__GCM_NONCE_LEN],
                    const void *aad, size_t aad_len, const void *in, size_t len, void *out,
                    uint8_t tag[LOTA__GCM_TAG_LEN]) LOTA_WUR;
int lota__aead_open(const uint8_t key[LOTA__GCM_KEY_LEN], const uint8_t nonce[LOTA__GCM_NONCE_LEN],
                    const void *aad, size_t aad_len, const void *in, size_t len, void *out,
                    const uint8_t tag[LOTA__GCM_TAG_LEN]) LOTA_WUR;

/*
 * AES-256-GCM opening of many blocks under one key: the key schedule (AES round keys and
 * the GHASH table) is computed once by _new and kept in the context, so each block costs
 * only its nonce set-up, the cipher and the tag check (the one-shot lota__aead_open
 * expands the key again for every block). One context is used by one thread at a time;
 * _free wipes it and accepts NULL. _open behaves exactly as lota__aead_open.
 */
typedef struct lota__aead_key lota__aead_key;
lota__aead_key *lota__aead_key_new(const uint8_t key[LOTA__GCM_KEY_LEN]);
void lota__aead_key_free(lota__aead_key *k);
int lota__aead_key_open(lota__aead_key *k, const uint8_t nonce[LOTA__GCM_NONCE_LEN],
                        const void *aad, size_t aad_len, const void *in, size_t len, void *out,
                        const uint8_t tag[LOTA__GCM_TAG_LEN]) LOTA_WUR;

/* Cryptographically secure random bytes. */
int lota__random_bytes(void *buf, size_t len) LOTA_WUR;

/* The value of one hex digit (either case), or -1. */
static inline int lota__hex_value(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Lower-case hex of in[0..len) into out (2 * len chars plus a NUL). */
void lota__hex_encode(const uint8_t *in, size_t len, char *out);

/* Constant-time equality of two equal-length buffers (time depends on len only). */
bool lota__ct_equal(const void *a, const void *b, size_t len);

/* Overwrite a secret so that the compiler cannot drop the store. NULL is fine. */
void lota__wipe(void *p, size_t len);

/* HKDF-SHA256 (RFC 5869, extract then expand): derive out_len bytes (1..8160) from the
 * input keying material ikm with an optional salt and context info (both may be NULL/0).
 * Used to turn one node secret into independent keys per purpose. */
int lota__hkdf_sha256(const void *ikm, size_t ikm_len, const void *salt, size_t salt_len,
                      const void *info, size_t info_len, void *out, size_t out_len) LOTA_WUR;

#endif
