/*
 * test_chunked.c - the aws-chunked signature chain and the streaming re-signer
 * (lota/chunked.h), against the example of the S3 documentation ("Signature Calculations
 * for the Authorization Header: Transferring Payload in Multiple Chunks": a PUT of 66560
 * bytes of 'a' in a 64 KiB and a 1 KiB chunk and the final empty chunk, Content-Length
 * 66824, seed and chunk signatures as printed there), fed in every split and with every
 * output room; re-signing checked by verifying the output with the other chain; and each
 * framing and parameter error.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lota/chunked.h>
#include <lota/sigv4.h>

#include "unit.h"

#define DOC_SECRET "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
#define DOC_DATE   "20130524T000000Z"
#define DOC_SEED   "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9"
#define DOC_SIG1   "ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648"
#define DOC_SIG2   "0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497"
#define DOC_SIG3   "b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9"

#define UP_SEED "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"

static lota_chunk_chain_params doc_params(void)
{
	return LOTA_OPTS(lota_chunk_chain_params, .secret_key = LOTA_STR_LIT(DOC_SECRET),
	                 .amz_date = LOTA_STR_LIT(DOC_DATE), .region = LOTA_STR_LIT("us-east-1"),
	                 .seed_signature = LOTA_STR_LIT(DOC_SEED));
}

static lota_chunk_chain_params up_params(void)
{
	return LOTA_OPTS(lota_chunk_chain_params, .secret_key = LOTA_STR_LIT("another/secret"),
	                 .amz_date = LOTA_STR_LIT("20240102T030405Z"),
	                 .region = LOTA_STR_LIT("eu-west-1"),
	                 .seed_signature = LOTA_STR_LIT(UP_SEED));
}

/* The documented body: "10000;chunk-signature=..." 64 KiB of 'a', "400;..." 1 KiB, "0;...". */
static char *doc_body(size_t *len)
{
	static const struct {
		const char *size;
		size_t n;
		const char *sig;
	} chunks[] = {{"10000", 65536, DOC_SIG1}, {"400", 1024, DOC_SIG2}, {"0", 0, DOC_SIG3}};
	char *b = malloc(70000), *p = b;
	if (!b)
		return NULL;
	for (size_t i = 0; i < 3; i++) {
		p += sprintf(p, "%s;chunk-signature=%s\r\n", chunks[i].size, chunks[i].sig);
		memset(p, 'a', chunks[i].n);
		p += chunks[i].n;
		memcpy(p, "\r\n", 2);
		p += 2;
	}
	*len = (size_t)(p - b);
	return b;
}

static void test_chain_doc_example(void)
{
	lota_chunk_chain_params p = doc_params();
	lota_chunk_chain *c = NULL;
	char sig[LOTA_CHUNK_SIGNATURE_HEX_LEN + 1];
	char *a = malloc(65536);
	CU_ASSERT_PTR_NOT_NULL_FATAL(a);
	memset(a, 'a', 65536);
	CU_ASSERT_EQUAL_FATAL(lota_chunk_chain_new(&p, &c), 0);
	CU_ASSERT_STRING_EQUAL(lota_chunk_chain_previous(c), DOC_SEED);
	CU_ASSERT_EQUAL(lota_chunk_chain_sign_data(c, a, 65536, sig), 0);
	CU_ASSERT_STRING_EQUAL(sig, DOC_SIG1);
	CU_ASSERT_STRING_EQUAL(lota_chunk_chain_previous(c), DOC_SIG1);
	CU_ASSERT_EQUAL(lota_chunk_chain_sign_data(c, a, 1024, sig), 0);
	CU_ASSERT_STRING_EQUAL(sig, DOC_SIG2);
	CU_ASSERT_EQUAL(lota_chunk_chain_sign_data(c, NULL, 0, sig), 0);
	CU_ASSERT_STRING_EQUAL(sig, DOC_SIG3);
	lota_chunk_chain_free(c);

	/* verifying: a wrong signature leaves the chain where it was */
	CU_ASSERT_EQUAL_FATAL(lota_chunk_chain_new(&p, &c), 0);
	CU_ASSERT_EQUAL(lota_chunk_chain_verify_data(c, a, 65536, LOTA_STR_LIT(DOC_SIG2)),
	                LOTA_E_SIGV4_MISMATCH);
	CU_ASSERT_EQUAL(lota_chunk_chain_verify_data(c, a, 65535, LOTA_STR_LIT(DOC_SIG1)),
	                LOTA_E_SIGV4_MISMATCH);
	CU_ASSERT_EQUAL(lota_chunk_chain_verify_data(c, a, 65536, (lota_str){DOC_SIG1, 63}),
	                LOTA_E_SIGV4_MISMATCH);
	char upper[] = DOC_SIG1;
	upper[1] = 'D'; /* "ad..." -> "aD...": not the signature S3 sends */
	CU_ASSERT_EQUAL(lota_chunk_chain_verify_data(c, a, 65536, LOTA_STR_LIT(upper)),
	                LOTA_E_SIGV4_MISMATCH);
	CU_ASSERT_STRING_EQUAL(lota_chunk_chain_previous(c), DOC_SEED);
	CU_ASSERT_EQUAL(lota_chunk_chain_verify_data(c, a, 65536, LOTA_STR_LIT(DOC_SIG1)), 0);
	CU_ASSERT_EQUAL(lota_chunk_chain_verify_data(c, a, 1024, LOTA_STR_LIT(DOC_SIG2)), 0);
	CU_ASSERT_EQUAL(lota_chunk_chain_verify_data(c, "", 0, LOTA_STR_LIT(DOC_SIG3)), 0);
	CU_ASSERT_STRING_EQUAL(lota_chunk_chain_previous(c), DOC_SIG3);
	lota_chunk_chain_free(c);

	/* a signing key given directly, and an explicit scope date and service */
	uint8_t key[32];
	CU_ASSERT_EQUAL_FATAL(
	    lota_sigv4_signing_key(LOTA_STR_LIT(DOC_SECRET), LOTA_STR_LIT("20130524"),
	                           LOTA_STR_LIT("us-east-1"), LOTA_STR_LIT("s3"), key),
	    0);
	lota_chunk_chain_params k = doc_params();
	k.secret_key = (lota_str){NULL, 0};
	k.signing_key = key;
	k.scope_date = LOTA_STR_LIT("20130524");
	k.service = LOTA_STR_LIT("s3");
	CU_ASSERT_EQUAL_FATAL(lota_chunk_chain_new(&k, &c), 0);
	uint8_t h[32] = {0};
	CU_ASSERT_EQUAL(lota_chunk_chain_sign_data(c, a, 65536, sig), 0);
	CU_ASSERT_STRING_EQUAL(sig, DOC_SIG1);
	/* the hash form */
	CU_ASSERT_EQUAL(lota_chunk_chain_sign(c, h, sig), 0);
	CU_ASSERT_STRING_NOT_EQUAL(sig, DOC_SIG2);
	CU_ASSERT_EQUAL(lota_chunk_chain_sign(NULL, h, sig), -EINVAL);
	CU_ASSERT_EQUAL(lota_chunk_chain_sign(c, NULL, sig), -EINVAL);
	CU_ASSERT_EQUAL(lota_chunk_chain_sign(c, h, NULL), -EINVAL);
	CU_ASSERT_EQUAL(lota_chunk_chain_verify(c, NULL, LOTA_STR_LIT(DOC_SIG1)), -EINVAL);
	CU_ASSERT_EQUAL(lota_chunk_chain_sign_data(c, NULL, 3, sig), -EINVAL);
	CU_ASSERT_PTR_NULL(lota_chunk_chain_previous(NULL));
	lota_chunk_chain_free(c);
	lota_chunk_chain_free(NULL);
	/* another service or scope date signs differently */
	k.service = LOTA_STR_LIT("s3-object-lambda");
	CU_ASSERT_EQUAL_FATAL(lota_chunk_chain_new(&k, &c), 0);
	CU_ASSERT_EQUAL(lota_chunk_chain_sign_data(c, a, 65536, sig), 0);
	CU_ASSERT_STRING_NOT_EQUAL(sig, DOC_SIG1);
	lota_chunk_chain_free(c);
	free(a);
}

static void test_chain_params(void)
{
	lota_chunk_chain *c = (lota_chunk_chain *)&c;
	lota_chunk_chain_params p;
#define BAD(field_change, code)                                      \
	do {                                                         \
		p = doc_params();                                    \
		field_change;                                        \
		CU_ASSERT_EQUAL(lota_chunk_chain_new(&p, &c), code); \
		CU_ASSERT_PTR_NULL(c);                               \
	} while (0)
	BAD(p.sz = 0, LOTA_E_OPTS);                                                 /* sz not set */
	BAD(p.sz = offsetof(lota_chunk_chain_params, seed_signature), LOTA_E_OPTS); /* too small */
	BAD(p.amz_date = LOTA_STR_LIT("20130524T000000"), -EINVAL);
	BAD(p.amz_date = LOTA_STR_LIT("20130524T00000\n0"), -EINVAL);
	BAD(p.scope_date = LOTA_STR_LIT("2013052"), -EINVAL);
	BAD(p.scope_date = LOTA_STR_LIT("2013052x"), -EINVAL);
	BAD(p.region = ((lota_str){NULL, 0}), -EINVAL);
	BAD(p.region = LOTA_STR_LIT("us/east"), -EINVAL);
	BAD(p.region = LOTA_STR_LIT("us east"), -EINVAL);
	BAD(p.region =
	        LOTA_STR_LIT("r123456789012345678901234567890123456789012345678901234567890123"
	                     "4"),
	    -EINVAL);
	BAD(p.service = LOTA_STR_LIT("s/3"), -EINVAL);
	BAD(p.secret_key = ((lota_str){NULL, 0}), -EINVAL);
	BAD(p.seed_signature =
	        LOTA_STR_LIT("4F232C4386841EF735655705268965C44A0E4690BAA4ADEA153F7DB9"
	                     "FA80A0A9"),
	    LOTA_E_SIGV4_MALFORMED);
	BAD(p.seed_signature = LOTA_STR_LIT("4f23"), LOTA_E_SIGV4_MALFORMED);
	BAD(p.seed_signature = ((lota_str){NULL, 0}), LOTA_E_SIGV4_MALFORMED);
	char longsecret[LOTA_SIGV4_SECRET_MAX + 1];
	memset(longsecret, 's', sizeof(longsecret));
	BAD(p.secret_key = ((lota_str){longsecret, sizeof(longsecret)}), LOTA_E_TOO_LARGE);
#undef BAD
	CU_ASSERT_EQUAL(lota_chunk_chain_new(NULL, &c), -EINVAL);
	p = doc_params();
	CU_ASSERT_EQUAL(lota_chunk_chain_new(&p, NULL), -EINVAL);
	/* a region of exactly 64 bytes is fine */
	p.region = LOTA_STR_LIT("r123456789012345678901234567890123456789012345678901234567890123");
	CU_ASSERT_EQUAL(lota_chunk_chain_new(&p, &c), 0);
	lota_chunk_chain_free(c);
	/* a larger params struct: zero extra bytes are fine, others are not */
	struct {
		lota_chunk_chain_params p;
		char extra[8];
	} big;
	memset(&big, 0, sizeof(big));
	big.p = doc_params();
	big.p.sz = sizeof(big);
	CU_ASSERT_EQUAL(lota_chunk_chain_new(&big.p, &c), 0);
	lota_chunk_chain_free(c);
	big.extra[7] = 1;
	CU_ASSERT_EQUAL(lota_chunk_chain_new(&big.p, &c), LOTA_E_OPTS);
	CU_ASSERT_PTR_NULL(c);
	big.extra[7] = 0;
	big.p.sz = LOTA_OPTS_MAX + 1; /* refused unread */
	CU_ASSERT_EQUAL(lota_chunk_chain_new(&big.p, &c), LOTA_E_OPTS);
	/* either side of a re-signer */
	lota_chunk_chain_params good = doc_params(), unset = doc_params();
	unset.sz = 0;
	lota_chunk_resigner *r = (lota_chunk_resigner *)&r;
	CU_ASSERT_EQUAL(lota_chunk_resigner_new(&unset, NULL, 0, &r), LOTA_E_OPTS);
	CU_ASSERT_PTR_NULL(r);
	CU_ASSERT_EQUAL(lota_chunk_resigner_new(&good, &unset, 0, &r), LOTA_E_OPTS);
	CU_ASSERT_PTR_NULL(r);
}

/* Feed body through r in steps of `step` input bytes and `room` output bytes. Returns the
 * final code; the output is appended to out (capacity cap), *olen its length. */
static int run(lota_chunk_resigner *r, const char *body, size_t len, size_t step, size_t room,
               char *out, size_t cap, size_t *olen, size_t *used_total)
{
	size_t ip = 0, op = 0;
	int rc = 0;
	for (int guard = 0; guard < 10000000; guard++) {
		size_t n = len - ip < step ? len - ip : step;
		size_t o = cap - op < room ? cap - op : room;
		size_t used = 0, made = 0;
		rc = lota_chunk_resigner_feed(r, body + ip, n, &used, out + op, o, &made);
		ip += used;
		op += made;
		if (rc != 0 || (used == 0 && made == 0 && ip == len))
			break;
	}
	*olen = op;
	if (used_total)
		*used_total = ip;
	return rc;
}

static void test_resigner_doc_body(void)
{
	size_t len, olen, used;
	char *body = doc_body(&len);
	char *out = malloc(len + 16);
	CU_ASSERT_PTR_NOT_NULL_FATAL(body);
	CU_ASSERT_PTR_NOT_NULL_FATAL(out);
	CU_ASSERT_EQUAL(len, 66824); /* the documented Content-Length */
	lota_chunk_chain_params cp = doc_params(), up = up_params();
	const size_t steps[][2] = {{1, 1 << 20}, {7, 3},      {100, 1},  {65536, 4096},
	                           {len, len},   {4096, 100}, {3, 65536}};
	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		/* verify only: the output is the input */
		lota_chunk_resigner *r = NULL;
		CU_ASSERT_EQUAL_FATAL(lota_chunk_resigner_new(&cp, NULL, 0, &r), 0);
		CU_ASSERT_EQUAL(
		    run(r, body, len, steps[i][0], steps[i][1], out, len + 16, &olen, &used), 1);
		CU_ASSERT_EQUAL(used, len);
		CU_ASSERT(olen == len && memcmp(out, body, len) == 0);
		lota_chunk_resigner_free(r);

		/* re-signed: same length and data, signatures of the upstream chain */
		CU_ASSERT_EQUAL_FATAL(lota_chunk_resigner_new(&cp, &up, 0, &r), 0);
		CU_ASSERT_EQUAL(
		    run(r, body, len, steps[i][0], steps[i][1], out, len + 16, &olen, &used), 1);
		lota_chunk_resigner_free(r);
		CU_ASSERT_EQUAL_FATAL(olen, len);
		CU_ASSERT_PTR_NULL(strstr(out, DOC_SIG1));
		/* the upstream accepts it: verify with its chain */
		char *again = malloc(len);
		CU_ASSERT_PTR_NOT_NULL_FATAL(again);
		CU_ASSERT_EQUAL_FATAL(lota_chunk_resigner_new(&up, NULL, 0, &r), 0);
		CU_ASSERT_EQUAL(run(r, out, olen, len, len, again, len, &olen, NULL), 1);
		CU_ASSERT(olen == len && memcmp(again, out, len) == 0);
		lota_chunk_resigner_free(r);
		free(again);
	}
	/* the re-signed signatures are the upstream chain's, computed independently */
	lota_chunk_chain *c = NULL;
	char sig[LOTA_CHUNK_SIGNATURE_HEX_LEN + 1], want[128];
	CU_ASSERT_EQUAL_FATAL(lota_chunk_chain_new(&up, &c), 0);
	CU_ASSERT_EQUAL(lota_chunk_chain_sign_data(c, body + 88, 65536, sig), 0);
	snprintf(want, sizeof(want), "10000;chunk-signature=%s\r\n", sig);
	CU_ASSERT_EQUAL(memcmp(out, want, strlen(want)), 0);
	lota_chunk_chain_free(c);
	/* bytes after the final chunk are not consumed; later feeds return 1 at once */
	lota_chunk_resigner *r = NULL;
	char *more = malloc(len + 5);
	CU_ASSERT_PTR_NOT_NULL_FATAL(more);
	memcpy(more, body, len);
	memcpy(more + len, "GET /", 5);
	CU_ASSERT_EQUAL_FATAL(lota_chunk_resigner_new(&cp, &up, 0, &r), 0);
	CU_ASSERT_EQUAL(run(r, more, len + 5, len + 5, len + 16, out, len + 16, &olen, &used), 1);
	CU_ASSERT_EQUAL(used, len);
	size_t u = 9, m = 9;
	CU_ASSERT_EQUAL(lota_chunk_resigner_feed(r, "x", 1, &u, out, 10, &m), 1);
	CU_ASSERT(u == 0 && m == 0);
	lota_chunk_resigner_free(r);
	lota_chunk_resigner_free(NULL);
	free(more);
	free(out);
	free(body);
}

/* Feed text (NUL-terminated) in one go to a verify-only re-signer of the doc chain. */
static int feed_text(const char *text, size_t max_chunk, size_t *produced)
{
	lota_chunk_chain_params cp = doc_params();
	lota_chunk_resigner *r = NULL;
	char out[512];
	size_t used = 0, made = 0;
	int rc = lota_chunk_resigner_new(&cp, NULL, max_chunk, &r);
	if (rc)
		return rc;
	rc = lota_chunk_resigner_feed(r, text, strlen(text), &used, out, sizeof(out), &made);
	if (rc < 0) {
		/* dead after an error */
		int again = lota_chunk_resigner_feed(r, "0", 1, &used, out, sizeof(out), &made);
		CU_ASSERT_EQUAL(again, LOTA_E_HTTP_CHUNK);
	}
	if (produced)
		*produced = made;
	lota_chunk_resigner_free(r);
	return rc;
}

static void test_resigner_errors(void)
{
	size_t made = 99;
	/* a wrong signature: nothing of that chunk is written */
	CU_ASSERT_EQUAL(feed_text("3;chunk-signature=" DOC_SIG1 "\r\nabc\r\n", 0, &made),
	                LOTA_E_SIGV4_MISMATCH);
	CU_ASSERT_EQUAL(made, 0);
	/* framing */
	CU_ASSERT_EQUAL(feed_text("3;chunk-signature=" DOC_SIG1 "\n", 0, NULL),
	                LOTA_E_HTTP_BARE_CR);
	CU_ASSERT_EQUAL(feed_text("\n", 0, NULL), LOTA_E_HTTP_BARE_CR);
	CU_ASSERT_EQUAL(feed_text("3;chunk-signature=" DOC_SIG1 ";x=y\r\n", 0, NULL),
	                LOTA_E_SIGV4_MALFORMED);
	CU_ASSERT_EQUAL(feed_text("3 ;chunk-signature=" DOC_SIG1 "\r\n", 0, NULL),
	                LOTA_E_SIGV4_MALFORMED);
	CU_ASSERT_EQUAL(feed_text("3;chunk-signature=AD80C730A21E5B8D04586A2213DD63B9A0E99E0E230"
	                          "7B0ADE35A65485A288648\r\n",
	                          0, NULL),
	                LOTA_E_SIGV4_MALFORMED);
	CU_ASSERT_EQUAL(feed_text("3;chunk-signature=abc\r\n", 0, NULL), LOTA_E_SIGV4_MALFORMED);
	CU_ASSERT_EQUAL(feed_text("3\r\n", 0, NULL), LOTA_E_SIGV4_MALFORMED);
	CU_ASSERT_EQUAL(feed_text(";chunk-signature=" DOC_SIG1 "\r\n", 0, NULL),
	                LOTA_E_HTTP_CHUNK_SIZE);
	CU_ASSERT_EQUAL(feed_text("00000000000000001;chunk-signature=" DOC_SIG1 "\r\n", 0, NULL),
	                LOTA_E_HTTP_CHUNK_SIZE);
	/* 16 digits are fine (then too large for the cap) */
	CU_ASSERT_EQUAL(feed_text("0000000000000401;chunk-signature=" DOC_SIG1 "\r\n", 1024, NULL),
	                LOTA_E_TOO_LARGE);
	CU_ASSERT_EQUAL(feed_text("0000000000000400;chunk-signature=" DOC_SIG1 "\r\n", 1024, NULL),
	                0);
	CU_ASSERT_EQUAL(feed_text("100001;chunk-signature=" DOC_SIG1 "\r\n", 0, NULL),
	                LOTA_E_TOO_LARGE); /* above the 1 MiB default */
	char longhdr[LOTA_CHUNK_HEADER_MAX + 8];
	memset(longhdr, '0', sizeof(longhdr) - 1);
	longhdr[sizeof(longhdr) - 1] = '\0';
	CU_ASSERT_EQUAL(feed_text(longhdr, 0, NULL), LOTA_E_TOO_LARGE);
	/* data not followed by CRLF */
	CU_ASSERT_EQUAL(feed_text("1;chunk-signature=" DOC_SIG1 "\r\nab\r\n", 0, NULL),
	                LOTA_E_HTTP_CHUNK);
	CU_ASSERT_EQUAL(feed_text("1;chunk-signature=" DOC_SIG1 "\r\na\rx", 0, NULL),
	                LOTA_E_HTTP_CHUNK);
	CU_ASSERT_EQUAL(feed_text("0;chunk-signature=" DOC_SIG1 "\r\nx", 0, NULL),
	                LOTA_E_HTTP_CHUNK);
	/* incomplete input is not an error */
	CU_ASSERT_EQUAL(feed_text("10000;chunk-signature=" DOC_SIG1 "\r\naaaa", 0, NULL), 0);
	CU_ASSERT_EQUAL(feed_text("", 0, NULL), 0);
	/* arguments */
	lota_chunk_chain_params cp = doc_params(), bad = doc_params();
	bad.region = (lota_str){NULL, 0};
	lota_chunk_resigner *r = (lota_chunk_resigner *)&r;
	CU_ASSERT_EQUAL(lota_chunk_resigner_new(&bad, NULL, 0, &r), -EINVAL);
	CU_ASSERT_PTR_NULL(r);
	CU_ASSERT_EQUAL(lota_chunk_resigner_new(&cp, &bad, 0, &r), -EINVAL);
	CU_ASSERT_EQUAL(lota_chunk_resigner_new(NULL, NULL, 0, &r), -EINVAL);
	CU_ASSERT_EQUAL(lota_chunk_resigner_new(&cp, NULL, 0, NULL), -EINVAL);
	CU_ASSERT_EQUAL_FATAL(lota_chunk_resigner_new(&cp, NULL, 0, &r), 0);
	char o[4];
	CU_ASSERT_EQUAL(lota_chunk_resigner_feed(r, NULL, 1, NULL, o, 4, NULL), -EINVAL);
	CU_ASSERT_EQUAL(lota_chunk_resigner_feed(r, "0", 1, NULL, NULL, 4, NULL), -EINVAL);
	CU_ASSERT_EQUAL(lota_chunk_resigner_feed(NULL, "0", 1, NULL, o, 4, NULL), -EINVAL);
	lota_chunk_resigner_free(r);
}

/* A body of many chunks of varied sizes, signed by hand, re-signed in random splits. */
static void test_resigner_many_chunks(void)
{
	lota_chunk_chain_params cp = doc_params(), up = up_params();
	lota_chunk_chain *c = NULL;
	size_t cap = 1 << 20, len = 0;
	char *body = malloc(cap), *out = malloc(cap), *again = malloc(cap);
	CU_ASSERT_FATAL(body && out && again);
	CU_ASSERT_EQUAL_FATAL(lota_chunk_chain_new(&cp, &c), 0);
	unsigned seed = 12345;
	for (int i = 0; i <= 40; i++) {
		size_t n = i == 40 ? 0 : (seed = seed * 1103515245u + 12345u) % 9000;
		char *data = body + len + 200; /* room for the header before it */
		for (size_t k = 0; k < n; k++)
			data[k] = (char)(k * 7 + (size_t)i);
		char sig[LOTA_CHUNK_SIGNATURE_HEX_LEN + 1], hdr[128];
		CU_ASSERT_EQUAL_FATAL(lota_chunk_chain_sign_data(c, data, n, sig), 0);
		int hl = snprintf(hdr, sizeof(hdr), "%zx;chunk-signature=%s\r\n", n, sig);
		memmove(body + len + (size_t)hl, data, n);
		memcpy(body + len, hdr, (size_t)hl);
		len += (size_t)hl + n;
		memcpy(body + len, "\r\n", 2);
		len += 2;
	}
	lota_chunk_chain_free(c);
	for (size_t step = 1; step < 20000; step = step * 3 + 1) {
		lota_chunk_resigner *r = NULL;
		size_t olen, alen;
		CU_ASSERT_EQUAL_FATAL(lota_chunk_resigner_new(&cp, &up, 9000, &r), 0);
		CU_ASSERT_EQUAL(run(r, body, len, step, step / 2 + 1, out, cap, &olen, NULL), 1);
		lota_chunk_resigner_free(r);
		CU_ASSERT_EQUAL(olen, len);
		CU_ASSERT_EQUAL_FATAL(lota_chunk_resigner_new(&up, NULL, 9000, &r), 0);
		CU_ASSERT_EQUAL(run(r, out, olen, olen, olen, again, cap, &alen, NULL), 1);
		CU_ASSERT(alen == olen && memcmp(again, out, olen) == 0);
		lota_chunk_resigner_free(r);
	}
	/* one flipped data byte anywhere fails, and nothing after it is written */
	body[len / 2] ^= 1;
	lota_chunk_resigner *r = NULL;
	size_t olen;
	CU_ASSERT_EQUAL_FATAL(lota_chunk_resigner_new(&cp, &up, 9000, &r), 0);
	int rc = run(r, body, len, 1000, cap, out, cap, &olen, NULL);
	CU_ASSERT(rc == LOTA_E_SIGV4_MISMATCH || rc == LOTA_E_SIGV4_MALFORMED ||
	          rc == LOTA_E_HTTP_CHUNK || rc == LOTA_E_HTTP_CHUNK_SIZE);
	CU_ASSERT(olen < len / 2);
	lota_chunk_resigner_free(r);
	free(body);
	free(out);
	free(again);
}

int main(void)
{
	CU_TestInfo tests[] = {
	    {"chain: the S3 documentation's example", test_chain_doc_example},
	    {"chain: parameters", test_chain_params},
	    {"re-signer: the documented body, every split", test_resigner_doc_body},
	    {"re-signer: errors", test_resigner_errors},
	    {"re-signer: many chunks", test_resigner_many_chunks},
	    CU_TEST_INFO_NULL,
	};
	return lota_unit_run("chunked", tests);
}
