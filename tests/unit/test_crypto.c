/*
 * test_crypto.c - the OpenSSL wrapper (lib/crypto.c): SHA-256 and HMAC-SHA256 against
 * published test vectors (FIPS 180-2, RFC 4231), streaming = one-shot, AES-256-GCM
 * against the GCM specification's test cases plus tamper detection, random bytes, hex,
 * constant-time comparison and wiping.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <lota/sigv4.h>

#include "crypto-internal.h"
#include "unit.h"

#define NO_KEYS_ARG "--no-pthread-keys"

static void hex_of(const uint8_t *p, size_t n, char *out)
{
	lota__hex_encode(p, n, out);
}

static void test_sha256(void)
{
	uint8_t h[32];
	char hex[65];
	CU_ASSERT_EQUAL(lota__sha256("abc", 3, h), 0);
	hex_of(h, 32, hex);
	CU_ASSERT_STRING_EQUAL(hex,
	                       "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	CU_ASSERT_EQUAL(lota__sha256(NULL, 0, h), 0);
	hex_of(h, 32, hex);
	CU_ASSERT_STRING_EQUAL(hex,
	                       "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	/* streaming in odd pieces equals one-shot, and a context is reusable */
	static const char msg[] = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
	lota__sha256_ctx *c = lota__sha256_new();
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	for (int round = 0; round < 2; round++) {
		CU_ASSERT_EQUAL(lota__sha256_init(c), 0);
		for (size_t i = 0; i < sizeof(msg) - 1; i += 5)
			CU_ASSERT_EQUAL(
			    lota__sha256_update(c, msg + i,
			                        sizeof(msg) - 1 - i < 5 ? sizeof(msg) - 1 - i : 5),
			    0);
		CU_ASSERT_EQUAL(lota__sha256_final(c, h), 0);
		hex_of(h, 32, hex);
		CU_ASSERT_STRING_EQUAL(
		    hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
	}
	lota__sha256_free(c);
	lota__sha256_free(NULL);
}

static void test_hmac(void)
{
	uint8_t m[32];
	char hex[65];
	/* RFC 4231 test case 2 */
	CU_ASSERT_EQUAL(lota__hmac_sha256("Jefe", 4, "what do ya want for nothing?", 28, m), 0);
	hex_of(m, 32, hex);
	CU_ASSERT_STRING_EQUAL(hex,
	                       "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
	/* RFC 4231 test case 6: a key longer than the block */
	uint8_t key[131];
	memset(key, 0xaa, sizeof(key));
	static const char d6[] = "Test Using Larger Than Block-Size Key - Hash Key First";
	CU_ASSERT_EQUAL(lota__hmac_sha256(key, sizeof(key), d6, sizeof(d6) - 1, m), 0);
	hex_of(m, 32, hex);
	CU_ASSERT_STRING_EQUAL(hex,
	                       "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
	/* streaming context, reused with another key */
	lota__hmac_ctx *c = lota__hmac_new();
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	CU_ASSERT_EQUAL(lota__hmac_init(c, key, sizeof(key)), 0);
	CU_ASSERT_EQUAL(lota__hmac_update(c, d6, 10), 0);
	CU_ASSERT_EQUAL(lota__hmac_update(c, d6 + 10, sizeof(d6) - 11), 0);
	CU_ASSERT_EQUAL(lota__hmac_final(c, m), 0);
	hex_of(m, 32, hex);
	CU_ASSERT_STRING_EQUAL(hex,
	                       "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
	CU_ASSERT_EQUAL(lota__hmac_init(c, "Jefe", 4), 0);
	CU_ASSERT_EQUAL(lota__hmac_update(c, "what do ya want for nothing?", 28), 0);
	CU_ASSERT_EQUAL(lota__hmac_final(c, m), 0);
	hex_of(m, 32, hex);
	CU_ASSERT_STRING_EQUAL(hex,
	                       "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
	/* a different key gives a different MAC; an empty key works */
	CU_ASSERT_EQUAL(lota__hmac_sha256("Jeff", 4, "what do ya want for nothing?", 28, m), 0);
	hex_of(m, 32, hex);
	CU_ASSERT_STRING_NOT_EQUAL(
	    hex, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
	CU_ASSERT_EQUAL(lota__hmac_sha256(NULL, 0, "", 0, m), 0);
	hex_of(m, 32, hex);
	CU_ASSERT_STRING_EQUAL(hex,
	                       "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad");
	lota__hmac_free(c);
	lota__hmac_free(NULL);
}

static void test_gcm_known_answer(void)
{
	/* GCM specification test cases 13 and 14: zero key and nonce */
	uint8_t key[32] = {0}, nonce[12] = {0}, pt[16] = {0}, ct[16], tag[16];
	char hex[65];
	CU_ASSERT_EQUAL(lota__aead_seal(key, nonce, NULL, 0, NULL, 0, ct, tag), 0);
	hex_of(tag, 16, hex);
	CU_ASSERT_STRING_EQUAL(hex, "530f8afbc74536b9a963b4f1c4cb738b");
	CU_ASSERT_EQUAL(lota__aead_seal(key, nonce, NULL, 0, pt, 16, ct, tag), 0);
	hex_of(ct, 16, hex);
	CU_ASSERT_STRING_EQUAL(hex, "cea7403d4d606b6e074ec5d3baf39d18");
	hex_of(tag, 16, hex);
	CU_ASSERT_STRING_EQUAL(hex, "d0d1c8a799996bf0265b98b5d48ab919");
	uint8_t back[16];
	CU_ASSERT_EQUAL(lota__aead_open(key, nonce, NULL, 0, ct, 16, back, tag), 0);
	CU_ASSERT(memcmp(back, pt, 16) == 0);
}

/* A kept key schedule (lota__aead_key) opens exactly what the one-shot form opens, block
 * after block with new nonces, refuses every change without leaving plaintext, and keeps
 * working after a refusal; another key's context refuses everything. */
static void test_gcm_kept_key(void)
{
	uint8_t key[32], other[32], nonce[12] = {0}, tag[4][16];
	size_t n = 65536;
	uint8_t *pt = malloc(4 * n), *ct = malloc(4 * n), *out = malloc(n);
	CU_ASSERT_FATAL(pt && ct && out);
	CU_ASSERT_EQUAL(lota__random_bytes(key, sizeof(key)), 0);
	memcpy(other, key, sizeof(key));
	other[0] ^= 1;
	CU_ASSERT_EQUAL(lota__random_bytes(pt, 4 * n), 0);
	static const char aad[] = "hash|index|length";
	for (int i = 0; i < 4; i++) {
		nonce[11] = (uint8_t)i;
		CU_ASSERT_EQUAL(lota__aead_seal(key, nonce, aad, sizeof(aad), pt + i * n, n,
		                                ct + i * n, tag[i]),
		                0);
	}
	lota__aead_key *k = lota__aead_key_new(key), *ko = lota__aead_key_new(other);
	CU_ASSERT_FATAL(k && ko);
	for (int round = 0; round < 2; round++) {
		for (int i = 0; i < 4; i++) {
			nonce[11] = (uint8_t)i;
			memset(out, 0, n);
			CU_ASSERT_EQUAL(lota__aead_key_open(k, nonce, aad, sizeof(aad), ct + i * n,
			                                    n, out, tag[i]),
			                0);
			CU_ASSERT(memcmp(out, pt + i * n, n) == 0);
		}
		/* a block under another block's nonce, a flipped byte, a wrong tag, another key */
		nonce[11] = 1;
		memset(out, 0x5a, n);
		CU_ASSERT_EQUAL(lota__aead_key_open(k, nonce, aad, sizeof(aad), ct, n, out, tag[0]),
		                LOTA_E_AUTH_TAG);
		bool zero = true;
		for (size_t i = 0; i < n; i++)
			zero &= out[i] == 0;
		CU_ASSERT(zero);
		nonce[11] = 0;
		ct[100] ^= 4;
		CU_ASSERT_EQUAL(lota__aead_key_open(k, nonce, aad, sizeof(aad), ct, n, out, tag[0]),
		                LOTA_E_AUTH_TAG);
		ct[100] ^= 4;
		CU_ASSERT_EQUAL(lota__aead_key_open(k, nonce, aad, sizeof(aad), ct, n, out, tag[1]),
		                LOTA_E_AUTH_TAG);
		CU_ASSERT_EQUAL(
		    lota__aead_key_open(ko, nonce, aad, sizeof(aad), ct, n, out, tag[0]),
		    LOTA_E_AUTH_TAG);
		/* in place, as a reader decrypts a partial block */
		memcpy(out, ct, n);
		CU_ASSERT_EQUAL(
		    lota__aead_key_open(k, nonce, aad, sizeof(aad), out, n, out, tag[0]), 0);
		CU_ASSERT(memcmp(out, pt, n) == 0);
	}
	lota__aead_key_free(k);
	lota__aead_key_free(ko);
	lota__aead_key_free(NULL);
	free(pt);
	free(ct);
	free(out);
}

static void test_gcm_tamper(void)
{
	uint8_t key[32], nonce[12], tag[16];
	size_t n = 70000; /* not a multiple of the AES block */
	uint8_t *pt = malloc(n), *ct = malloc(n), *out = malloc(n);
	CU_ASSERT_FATAL(pt && ct && out);
	CU_ASSERT_EQUAL(lota__random_bytes(key, sizeof(key)), 0);
	CU_ASSERT_EQUAL(lota__random_bytes(nonce, sizeof(nonce)), 0);
	for (size_t i = 0; i < n; i++)
		pt[i] = (uint8_t)(i * 7);
	static const char aad[] = "bucket/key/etag/extent-3";
	CU_ASSERT_EQUAL(lota__aead_seal(key, nonce, aad, sizeof(aad), pt, n, ct, tag), 0);
	CU_ASSERT(memcmp(ct, pt, n) != 0);
	CU_ASSERT_EQUAL(lota__aead_open(key, nonce, aad, sizeof(aad), ct, n, out, tag), 0);
	CU_ASSERT(memcmp(out, pt, n) == 0);
	/* any change is refused, and nothing of the plaintext is left in out */
	ct[n / 2] ^= 1;
	memset(out, 0x5a, n);
	CU_ASSERT_EQUAL(lota__aead_open(key, nonce, aad, sizeof(aad), ct, n, out, tag),
	                LOTA_E_AUTH_TAG);
	bool zero = true;
	for (size_t i = 0; i < n; i++)
		zero &= out[i] == 0;
	CU_ASSERT(zero);
	ct[n / 2] ^= 1;
	tag[0] ^= 0x80;
	CU_ASSERT_EQUAL(lota__aead_open(key, nonce, aad, sizeof(aad), ct, n, out, tag),
	                LOTA_E_AUTH_TAG);
	tag[0] ^= 0x80;
	CU_ASSERT_EQUAL(lota__aead_open(key, nonce, aad, sizeof(aad) - 1, ct, n, out, tag),
	                LOTA_E_AUTH_TAG);
	nonce[11] ^= 1;
	CU_ASSERT_EQUAL(lota__aead_open(key, nonce, aad, sizeof(aad), ct, n, out, tag),
	                LOTA_E_AUTH_TAG);
	nonce[11] ^= 1;
	key[31] ^= 1;
	CU_ASSERT_EQUAL(lota__aead_open(key, nonce, aad, sizeof(aad), ct, n, out, tag),
	                LOTA_E_AUTH_TAG);
	key[31] ^= 1;
	/* in place */
	memcpy(out, pt, n);
	CU_ASSERT_EQUAL(lota__aead_seal(key, nonce, NULL, 0, out, n, out, tag), 0);
	CU_ASSERT_EQUAL(lota__aead_open(key, nonce, NULL, 0, out, n, out, tag), 0);
	CU_ASSERT(memcmp(out, pt, n) == 0);
	free(pt);
	free(ct);
	free(out);
}

static void test_helpers(void)
{
	uint8_t a[32] = {0}, b[32] = {0};
	CU_ASSERT_EQUAL(lota__random_bytes(a, sizeof(a)), 0);
	CU_ASSERT_EQUAL(lota__random_bytes(b, sizeof(b)), 0);
	CU_ASSERT(memcmp(a, b, sizeof(a)) != 0); /* 2^-256 chance of a false failure */
	CU_ASSERT(lota__ct_equal(a, a, sizeof(a)));
	CU_ASSERT(!lota__ct_equal(a, b, sizeof(a)));
	memcpy(b, a, sizeof(a));
	b[31] ^= 1;
	CU_ASSERT(!lota__ct_equal(a, b, sizeof(a)));
	CU_ASSERT(lota__ct_equal(a, b, 31));
	char hex[9];
	lota__hex_encode((const uint8_t *)"\x00\x9f\xa0\xff", 4, hex);
	CU_ASSERT_STRING_EQUAL(hex, "009fa0ff");
	lota__wipe(a, sizeof(a));
	memset(b, 0, sizeof(b));
	CU_ASSERT(memcmp(a, b, sizeof(a)) == 0);
	lota__wipe(NULL, 10);
}

static void *thread_main(void *arg)
{
	uint8_t h[32];
	int *ok = arg;
	for (int i = 0; i < 200; i++) {
		uint8_t m[32];
		*ok &= lota__sha256("abc", 3, h) == 0 && h[0] == 0xba;
		*ok &= lota__hmac_sha256("Jefe", 4, "what do ya want for nothing?", 28, m) == 0 &&
		       m[0] == 0x5b;
	}
	return NULL;
}

static void test_threads(void)
{
	pthread_t t[4];
	int ok[4] = {1, 1, 1, 1};
	for (int i = 0; i < 4; i++)
		CU_ASSERT_EQUAL_FATAL(pthread_create(&t[i], NULL, thread_main, &ok[i]), 0);
	for (int i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		CU_ASSERT(ok[i]);
	}
}

/*
 * Runs in a fresh process (test_no_pthread_keys re-executes this binary), so that crypto
 * has not been set up yet: use up every pthread key, then ask for crypto. Every call must
 * fail with -EAGAIN, and keep failing, instead of aborting. Exit status 0 when they did,
 * else the number of the first check that did not hold.
 */
static int no_keys_child(void)
{
	pthread_key_t k;
	int rc;
	for (int i = 0; (rc = pthread_key_create(&k, NULL)) == 0 && i < 1 << 20; i++)
		;
	if (rc != EAGAIN)
		return 10;
	uint8_t h[32];
	if (lota__sha256("abc", 3, h) != -EAGAIN)
		return 11;
	if (lota__sha256("abc", 3, h) != -EAGAIN) /* final, not retried into a crash */
		return 12;
	if (lota__hmac_sha256("k", 1, "d", 1, h) != -EAGAIN)
		return 13;
	if (lota__sha256_new() != NULL || lota__hmac_new() != NULL)
		return 14;
	if (lota_sigv4_signing_key(LOTA_STR_LIT("secret"), LOTA_STR_LIT("20150830"),
	                           LOTA_STR_LIT("us-east-1"), LOTA_STR_LIT("s3"), h) != -EAGAIN)
		return 15;
	return 0;
}

static void test_no_pthread_keys(void)
{
	pid_t pid = fork();
	CU_ASSERT_FATAL(pid >= 0);
	if (pid == 0) {
		execl("/proc/self/exe", "test_crypto", NO_KEYS_ARG, (char *)NULL);
		_exit(127);
	}
	int st = 0;
	CU_ASSERT_EQUAL_FATAL(waitpid(pid, &st, 0), pid);
	CU_ASSERT(WIFEXITED(st)); /* not killed by SIGABRT */
	if (WIFEXITED(st) && WEXITSTATUS(st) != 0)
		fprintf(stderr, "\n  no-keys child: check %d failed\n", WEXITSTATUS(st));
	CU_ASSERT_EQUAL(WEXITSTATUS(st), 0);
}

static CU_TestInfo tests[] = {
    {"SHA-256", test_sha256},
    {"HMAC-SHA256", test_hmac},
    {"AES-256-GCM known answers", test_gcm_known_answer},
    {"AES-256-GCM tamper detection", test_gcm_tamper},
    {"AES-256-GCM with a kept key schedule", test_gcm_kept_key},
    {"random, hex, compare, wipe", test_helpers},
    {"per-thread contexts", test_threads},
    {"no pthread key left: -EAGAIN, no abort", test_no_pthread_keys},
    CU_TEST_INFO_NULL,
};

int main(int argc, char **argv)
{
	if (argc == 2 && strcmp(argv[1], NO_KEYS_ARG) == 0)
		return no_keys_child();
	return lota_unit_run("crypto", tests);
}
