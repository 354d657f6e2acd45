/*
 * crypto.c - the project's single OpenSSL wrapper (see crypto-internal.h).
 *
 * The algorithms (SHA-256, HMAC, AES-256-GCM) are fetched once per process. One-shot
 * helpers use per-thread contexts kept in thread-local storage; a pthread key destructor
 * frees them when the thread exits, so a long-lived thread pays the context set-up once.
 * Nothing here logs, and nothing keeps a copy of a key beyond the OpenSSL context that
 * is reset on the next use.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include "crypto-internal.h"

struct lota__sha256_ctx {
	EVP_MD_CTX *md;
};

struct lota__hmac_ctx {
	EVP_MAC_CTX *mac;
};

static pthread_once_t algs_once = PTHREAD_ONCE_INIT;
static int algs_rc; /* what algs_init() ended with; every later algs() returns it */
static EVP_MD *alg_sha256;
static EVP_MAC *alg_hmac;
static EVP_CIPHER *alg_gcm;

static pthread_key_t tls_key;
static _Thread_local struct tls_state {
	bool registered;
	EVP_MD_CTX *md;
	EVP_MAC_CTX *mac;
	EVP_CIPHER_CTX *cipher;
} tls;

static void tls_release(void *p)
{
	struct tls_state *s = p;
	if (!s)
		return;
	EVP_MD_CTX_free(s->md);
	EVP_MAC_CTX_free(s->mac);
	EVP_CIPHER_CTX_free(s->cipher);
	s->md = NULL;
	s->mac = NULL;
	s->cipher = NULL;
	s->registered = false;
}

/*
 * Once per process. The thread-local key comes first: without it the per-thread contexts
 * could not be freed when a thread exits, so crypto is refused (the key's error, -EAGAIN
 * when the process has used up its PTHREAD_KEYS_MAX keys) rather than the host program
 * aborted. The failure is final for the process, like a missing algorithm.
 */
static void algs_init(void)
{
	int rc = pthread_key_create(&tls_key, tls_release);
	if (rc != 0) {
		algs_rc = -rc;
		return;
	}
	alg_sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
	alg_hmac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	alg_gcm = EVP_CIPHER_fetch(NULL, "AES-256-GCM", NULL);
	if (!alg_sha256 || !alg_hmac || !alg_gcm)
		algs_rc = LOTA_E_CRYPTO;
}

static int algs(void)
{
	if (pthread_once(&algs_once, algs_init) != 0)
		return LOTA_E_CRYPTO;
	if (algs_rc)
		return algs_rc;
	if (!tls.registered) {
		if (pthread_setspecific(tls_key, &tls) != 0)
			return -ENOMEM;
		tls.registered = true;
	}
	return 0;
}

/* ---- SHA-256 ---- */

int lota__md5_base64(const void *data, size_t len, char out[25])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;
	if (EVP_Digest(data, len, md, &n, EVP_md5(), NULL) != 1 || n != 16)
		return LOTA_E_CRYPTO;
	return EVP_EncodeBlock((unsigned char *)out, md, 16) == 24 ? 0 : LOTA_E_CRYPTO;
}

int lota__sha256(const void *data, size_t len, uint8_t out[LOTA__SHA256_LEN])
{
	int rc = algs();
	if (rc)
		return rc;
	if (!tls.md && !(tls.md = EVP_MD_CTX_new()))
		return -ENOMEM;
	unsigned int n = 0;
	if (EVP_DigestInit_ex2(tls.md, alg_sha256, NULL) != 1 ||
	    EVP_DigestUpdate(tls.md, data, len) != 1 || EVP_DigestFinal_ex(tls.md, out, &n) != 1 ||
	    n != LOTA__SHA256_LEN)
		return LOTA_E_CRYPTO;
	return 0;
}

lota__sha256_ctx *lota__sha256_new(void)
{
	if (algs())
		return NULL;
	lota__sha256_ctx *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->md = EVP_MD_CTX_new();
	if (!c->md) {
		free(c);
		return NULL;
	}
	return c;
}

void lota__sha256_free(lota__sha256_ctx *ctx)
{
	if (!ctx)
		return;
	EVP_MD_CTX_free(ctx->md);
	free(ctx);
}

int lota__sha256_init(lota__sha256_ctx *ctx)
{
	return EVP_DigestInit_ex2(ctx->md, alg_sha256, NULL) == 1 ? 0 : LOTA_E_CRYPTO;
}

int lota__sha256_update(lota__sha256_ctx *ctx, const void *data, size_t len)
{
	if (len == 0)
		return 0;
	return EVP_DigestUpdate(ctx->md, data, len) == 1 ? 0 : LOTA_E_CRYPTO;
}

int lota__sha256_final(lota__sha256_ctx *ctx, uint8_t out[LOTA__SHA256_LEN])
{
	unsigned int n = 0;
	if (EVP_DigestFinal_ex(ctx->md, out, &n) != 1 || n != LOTA__SHA256_LEN)
		return LOTA_E_CRYPTO;
	return 0;
}

/* ---- HMAC-SHA256 ---- */

static int mac_init(EVP_MAC_CTX *mac, const void *key, size_t key_len)
{
	OSSL_PARAM params[2];
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0);
	params[1] = OSSL_PARAM_construct_end();
	/* OpenSSL refuses a NULL key pointer even with length 0. */
	static const uint8_t empty_key[1];
	if (!key || key_len == 0) {
		key = empty_key;
		key_len = 0;
	}
	return EVP_MAC_init(mac, key, key_len, params) == 1 ? 0 : LOTA_E_CRYPTO;
}

static int mac_final(EVP_MAC_CTX *mac, uint8_t out[LOTA__HMAC_LEN])
{
	size_t n = 0;
	if (EVP_MAC_final(mac, out, &n, LOTA__HMAC_LEN) != 1 || n != LOTA__HMAC_LEN)
		return LOTA_E_CRYPTO;
	return 0;
}

int lota__hmac_sha256(const void *key, size_t key_len, const void *data, size_t len,
                      uint8_t out[LOTA__HMAC_LEN])
{
	int rc = algs();
	if (rc)
		return rc;
	if (!tls.mac && !(tls.mac = EVP_MAC_CTX_new(alg_hmac)))
		return -ENOMEM;
	rc = mac_init(tls.mac, key, key_len);
	if (rc)
		return rc;
	if (len && EVP_MAC_update(tls.mac, data, len) != 1)
		return LOTA_E_CRYPTO;
	return mac_final(tls.mac, out);
}

lota__hmac_ctx *lota__hmac_new(void)
{
	if (algs())
		return NULL;
	lota__hmac_ctx *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->mac = EVP_MAC_CTX_new(alg_hmac);
	if (!c->mac) {
		free(c);
		return NULL;
	}
	return c;
}

void lota__hmac_free(lota__hmac_ctx *ctx)
{
	if (!ctx)
		return;
	EVP_MAC_CTX_free(ctx->mac);
	free(ctx);
}

int lota__hmac_init(lota__hmac_ctx *ctx, const void *key, size_t key_len)
{
	return mac_init(ctx->mac, key, key_len);
}

int lota__hmac_update(lota__hmac_ctx *ctx, const void *data, size_t len)
{
	if (len == 0)
		return 0;
	return EVP_MAC_update(ctx->mac, data, len) == 1 ? 0 : LOTA_E_CRYPTO;
}

int lota__hmac_final(lota__hmac_ctx *ctx, uint8_t out[LOTA__HMAC_LEN])
{
	return mac_final(ctx->mac, out);
}

/* ---- AES-256-GCM ---- */

static int gcm_ctx(EVP_CIPHER_CTX **out)
{
	int rc = algs();
	if (rc)
		return rc;
	if (!tls.cipher && !(tls.cipher = EVP_CIPHER_CTX_new()))
		return -ENOMEM;
	*out = tls.cipher;
	return 0;
}

/* Feed len bytes through EVP_*Update in int-sized steps (OpenSSL lengths are int). */
static int gcm_update(EVP_CIPHER_CTX *c, bool enc, uint8_t *out, const uint8_t *in, size_t len)
{
	while (len > 0) {
		int step = len > (size_t)INT_MAX / 2 ? INT_MAX / 2 : (int)len, n = 0;
		int ok = enc ? EVP_EncryptUpdate(c, out, &n, in, step)
		             : EVP_DecryptUpdate(c, out, &n, in, step);
		if (ok != 1 || (out && n != step))
			return LOTA_E_CRYPTO;
		in += step;
		if (out)
			out += step;
		len -= (size_t)step;
	}
	return 0;
}

int lota__aead_seal(const uint8_t key[LOTA__GCM_KEY_LEN], const uint8_t nonce[LOTA__GCM_NONCE_LEN],
                    const void *aad, size_t aad_len, const void *in, size_t len, void *out,
                    uint8_t tag[LOTA__GCM_TAG_LEN])
{
	EVP_CIPHER_CTX *c;
	int rc = gcm_ctx(&c), n = 0;
	if (rc)
		return rc;
	rc = LOTA_E_CRYPTO;
	if (EVP_EncryptInit_ex2(c, alg_gcm, key, nonce, NULL) != 1)
		goto out;
	if (aad_len && gcm_update(c, true, NULL, aad, aad_len))
		goto out;
	if (gcm_update(c, true, out, in, len))
		goto out;
	if (EVP_EncryptFinal_ex(c, (uint8_t *)out + len, &n) != 1 || n != 0)
		goto out;
	if (EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, LOTA__GCM_TAG_LEN, tag) != 1)
		goto out;
	rc = 0;
out:
	EVP_CIPHER_CTX_reset(c); /* drops the expanded key */
	return rc;
}

int lota__aead_open(const uint8_t key[LOTA__GCM_KEY_LEN], const uint8_t nonce[LOTA__GCM_NONCE_LEN],
                    const void *aad, size_t aad_len, const void *in, size_t len, void *out,
                    const uint8_t tag[LOTA__GCM_TAG_LEN])
{
	EVP_CIPHER_CTX *c;
	int rc = gcm_ctx(&c), n = 0;
	if (rc)
		return rc;
	rc = LOTA_E_CRYPTO;
	if (EVP_DecryptInit_ex2(c, alg_gcm, key, nonce, NULL) != 1)
		goto out;
	if (aad_len && gcm_update(c, false, NULL, aad, aad_len))
		goto out;
	if (gcm_update(c, false, out, in, len))
		goto out;
	if (EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, LOTA__GCM_TAG_LEN, (void *)tag) != 1)
		goto out;
	if (EVP_DecryptFinal_ex(c, (uint8_t *)out + len, &n) != 1) {
		lota__wipe(out, len); /* never hand out unauthenticated plaintext */
		rc = LOTA_E_AUTH_TAG;
		goto out;
	}
	rc = 0;
out:
	EVP_CIPHER_CTX_reset(c);
	return rc;
}

/* ---- AES-256-GCM with a kept key schedule ---- */

struct lota__aead_key {
	EVP_CIPHER_CTX *c;
	bool bad; /* the last open failed: the context is keyed again before the next */
	uint8_t key[LOTA__GCM_KEY_LEN];
};

lota__aead_key *lota__aead_key_new(const uint8_t key[LOTA__GCM_KEY_LEN])
{
	if (algs())
		return NULL;
	lota__aead_key *k = calloc(1, sizeof(*k));
	if (!k)
		return NULL;
	k->c = EVP_CIPHER_CTX_new();
	memcpy(k->key, key, LOTA__GCM_KEY_LEN);
	/* the key alone: each block gives its nonce (OpenSSL keeps the schedule) */
	if (!k->c || EVP_DecryptInit_ex2(k->c, alg_gcm, key, NULL, NULL) != 1) {
		lota__aead_key_free(k);
		return NULL;
	}
	return k;
}

void lota__aead_key_free(lota__aead_key *k)
{
	if (!k)
		return;
	EVP_CIPHER_CTX_free(k->c); /* clears the expanded key */
	lota__wipe(k->key, sizeof(k->key));
	free(k);
}

int lota__aead_key_open(lota__aead_key *k, const uint8_t nonce[LOTA__GCM_NONCE_LEN],
                        const void *aad, size_t aad_len, const void *in, size_t len, void *out,
                        const uint8_t tag[LOTA__GCM_TAG_LEN])
{
	int n = 0;
	EVP_CIPHER_CTX *c = k->c;
	/* after a failure OpenSSL's state is not trusted: start again from the key */
	if (k->bad) {
		if (EVP_CIPHER_CTX_reset(c) != 1 ||
		    EVP_DecryptInit_ex2(c, alg_gcm, k->key, NULL, NULL) != 1)
			return LOTA_E_CRYPTO;
		k->bad = false;
	}
	int rc = LOTA_E_CRYPTO;
	k->bad = true;
	if (EVP_DecryptInit_ex2(c, NULL, NULL, nonce, NULL) != 1)
		goto fail;
	if (aad_len && gcm_update(c, false, NULL, aad, aad_len))
		goto fail;
	if (gcm_update(c, false, out, in, len))
		goto fail;
	if (EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, LOTA__GCM_TAG_LEN, (void *)tag) != 1)
		goto fail;
	if (EVP_DecryptFinal_ex(c, (uint8_t *)out + len, &n) != 1) {
		rc = LOTA_E_AUTH_TAG;
		goto fail;
	}
	k->bad = false;
	return 0;
fail:
	lota__wipe(out, len); /* never hand out unauthenticated plaintext */
	return rc;
}

/* ---- small helpers ---- */

int lota__random_bytes(void *buf, size_t len)
{
	uint8_t *p = buf;
	while (len > 0) {
		int step = len > (size_t)INT_MAX ? INT_MAX : (int)len;
		if (RAND_bytes(p, step) != 1)
			return LOTA_E_CRYPTO;
		p += step;
		len -= (size_t)step;
	}
	return 0;
}

void lota__hex_encode(const uint8_t *in, size_t len, char *out)
{
	static const char digits[] = "0123456789abcdef";
	for (size_t i = 0; i < len; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 0xf];
	}
	out[2 * len] = '\0';
}

bool lota__ct_equal(const void *a, const void *b, size_t len)
{
	return CRYPTO_memcmp(a, b, len) == 0;
}

void lota__wipe(void *p, size_t len)
{
	if (p && len)
		OPENSSL_cleanse(p, len);
}

/* ---- HKDF-SHA256 ---- */

/* Built on the HMAC helper (RFC 5869 directly): no extra OpenSSL algorithm to fetch, and
 * the intermediate PRK and T(i) blocks are wiped before returning. */
int lota__hkdf_sha256(const void *ikm, size_t ikm_len, const void *salt, size_t salt_len,
                      const void *info, size_t info_len, void *out, size_t out_len)
{
	static const uint8_t zero_salt[LOTA__HMAC_LEN];
	uint8_t prk[LOTA__HMAC_LEN], t[LOTA__HMAC_LEN];
	lota__hmac_ctx *c = NULL;
	int rc = -EINVAL;
	if (!out || out_len == 0 || out_len > 255u * LOTA__HMAC_LEN || (!ikm && ikm_len) ||
	    (!salt && salt_len) || (!info && info_len))
		return rc;
	if (!salt || salt_len == 0) {
		salt = zero_salt;
		salt_len = sizeof(zero_salt);
	}
	rc = lota__hmac_sha256(salt, salt_len, ikm, ikm_len, prk);
	if (rc)
		goto out;
	rc = -ENOMEM;
	if (!(c = lota__hmac_new()))
		goto out;
	uint8_t *o = out;
	size_t done = 0, tlen = 0;
	for (uint8_t i = 1; done < out_len; i++) {
		size_t n = out_len - done < sizeof(t) ? out_len - done : sizeof(t);
		if ((rc = lota__hmac_init(c, prk, sizeof(prk))) ||
		    (rc = lota__hmac_update(c, t, tlen)) ||
		    (rc = lota__hmac_update(c, info, info_len)) ||
		    (rc = lota__hmac_update(c, &i, 1)) || (rc = lota__hmac_final(c, t)))
			goto out;
		tlen = sizeof(t);
		memcpy(o + done, t, n);
		done += n;
	}
	rc = 0;
out:
	if (rc)
		lota__wipe(out, out_len);
	lota__hmac_free(c);
	lota__wipe(prk, sizeof(prk));
	lota__wipe(t, sizeof(t));
	return rc;
}
