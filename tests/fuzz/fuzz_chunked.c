/*
 * fuzz_chunked.c - libFuzzer harness for the aws-chunked re-signer (lota/chunked.h).
 *
 * Byte 0 picks the mode, byte 1 the input split and byte 2 the output room.
 * Raw mode: the rest is fed as a body, to a verifying and a re-signing re-signer.
 * Built mode: the rest describes chunks (sizes and data), which are signed with the
 * client chain into a valid body; one byte of it may then be flipped (byte 3). A valid
 * body must come out whole; anything that comes out whole must verify with the upstream
 * chain. Always: counts stay within the buffers, a finished stream has written exactly as
 * many bytes as it consumed, and a verifying stream writes what it read.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lota/chunked.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define SEED_IN  "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9"
#define SEED_OUT "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
#define MAX_BODY (1 << 17)

static lota_chunk_chain_params side(int upstream)
{
	return LOTA_OPTS(
	    lota_chunk_chain_params,
	    .secret_key = upstream ? LOTA_STR_LIT("up") : LOTA_STR_LIT("client"),
	    .amz_date = LOTA_STR_LIT("20130524T000000Z"), .region = LOTA_STR_LIT("us-east-1"),
	    .seed_signature = upstream ? LOTA_STR_LIT(SEED_OUT) : LOTA_STR_LIT(SEED_IN));
}

/* Run body through a re-signer in steps; returns the final code, *olen the output. */
static int run(const lota_chunk_chain_params *in, const lota_chunk_chain_params *out_side,
               const char *body, size_t len, size_t step, size_t room, char *out, size_t cap,
               size_t *olen, size_t *used_total)
{
	lota_chunk_resigner *r = NULL;
	if (lota_chunk_resigner_new(in, out_side, 4096, &r) != 0)
		abort();
	size_t ip = 0, op = 0;
	int rc = 0;
	for (;;) {
		size_t n = len - ip < step ? len - ip : step;
		size_t o = cap - op < room ? cap - op : room;
		size_t used = 0, made = 0;
		rc = lota_chunk_resigner_feed(r, body + ip, n, &used, out + op, o, &made);
		if (used > n || made > o)
			abort();
		ip += used;
		op += made;
		if (rc != 0 || (used == 0 && made == 0))
			break;
	}
	lota_chunk_resigner_free(r);
	if (rc == 1 && op != ip)
		abort(); /* the body keeps its length */
	*olen = op;
	*used_total = ip;
	return rc;
}

static void check(const char *body, size_t len, size_t step, size_t room, int must_pass)
{
	static char out[MAX_BODY], again[MAX_BODY];
	lota_chunk_chain_params cp = side(0), up = side(1);
	size_t olen, used, alen, aused;
	/* verifying: what comes out is what went in */
	int rc = run(&cp, NULL, body, len, step, room, out, sizeof(out), &olen, &used);
	if (olen > used || memcmp(out, body, olen) != 0)
		abort();
	if (must_pass && rc != 1)
		abort();
	/* re-signing: a finished body verifies with the upstream chain */
	int rc2 = run(&cp, &up, body, len, step, room, out, sizeof(out), &olen, &used);
	if ((rc == 1) != (rc2 == 1))
		abort();
	if (rc2 == 1) {
		if (run(&up, NULL, out, olen, olen, olen, again, sizeof(again), &alen, &aused) !=
		        1 ||
		    alen != olen || memcmp(again, out, olen) != 0)
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 4)
		return 0;
	size_t step = (size_t)data[1] * 37 + 1, room = (size_t)data[2] * 53 + 1;
	if (data[0] & 1) {
		check((const char *)data + 4, size - 4, step, room, 0);
		return 0;
	}
	/* built: each chunk is a length byte pair (size up to 4095) and that many bytes */
	static char body[MAX_BODY];
	size_t len = 0, i = 4;
	lota_chunk_chain_params cp = side(0);
	lota_chunk_chain *c = NULL;
	if (lota_chunk_chain_new(&cp, &c) != 0)
		abort();
	for (int chunk = 0; chunk < 16; chunk++) {
		size_t n = 0;
		if (chunk < 15 && i + 2 <= size) {
			n = (((size_t)data[i] << 8) | data[i + 1]) & 0xfff;
			i += 2;
		}
		if (n > size - i)
			n = size - i;
		char sig[LOTA_CHUNK_SIGNATURE_HEX_LEN + 1];
		if (lota_chunk_chain_sign_data(c, data + i, n, sig) != 0)
			abort();
		len += (size_t)snprintf(body + len, sizeof(body) - len,
		                        "%zx;chunk-signature=%s\r\n", n, sig);
		memcpy(body + len, data + i, n);
		len += n;
		memcpy(body + len, "\r\n", 2);
		len += 2;
		i += n;
		if (n == 0)
			break;
	}
	lota_chunk_chain_free(c);
	int flip = data[0] & 2;
	if (flip && len)
		body[((size_t)data[3] * 257 + size) % len] ^= (char)(1u << (data[0] >> 5));
	check(body, len, step, room, !flip);
	return 0;
}
