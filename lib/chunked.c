/*
 * chunked.c - the aws-chunked signature chain and the streaming re-signer (see
 * lota/chunked.h). The signature of one chunk is lota_sigv4_chunk_signature (sigv4.c);
 * this file keeps the chain's state and the framing.
 *
 * The re-signer is a byte-level state machine: HEADER (collecting one header line, capped
 * at LOTA_CHUNK_HEADER_MAX) -> DATA (copying the chunk into the held buffer) -> CR -> LF
 * (the chunk is complete: verify it, sign it for the other side) -> EMIT (write the new
 * header, the data and CRLF as output room allows) -> HEADER again, or DONE after the
 * 0-byte chunk. A chunk's new signature depends on its whole data and its header comes
 * first, so one chunk is held at a time; the buffer grows to the largest chunk seen, never
 * above max_chunk_bytes. Nothing is written for a chunk that did not verify.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lota/chunked.h>
#include <lota/sigv4.h>

#include "crypto-internal.h"
#include "opts-internal.h"

#define SIG_LEN   LOTA_CHUNK_SIGNATURE_HEX_LEN
#define SCOPE_MAX (8 + 1 + 64 + 1 + 64 + sizeof("/aws4_request"))

struct lota_chunk_chain {
	uint8_t key[32];
	char amz_date[LOTA_SIGV4_AMZ_DATE_LEN + 1];
	char scope[SCOPE_MAX];
	size_t scope_len;
	char prev[SIG_LEN + 1];
};

/* ---- the chain ----------------------------------------------------------------------- */

static bool is_lower_hex(lota_str s, size_t n)
{
	if (s.len != n || !s.ptr)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s.ptr[i];
		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
			return false;
	}
	return true;
}

/* A scope part: 1..64 printable ASCII bytes without '/' or space. */
static bool part_ok(lota_str s)
{
	if (s.len == 0 || s.len > 64 || !s.ptr)
		return false;
	for (size_t i = 0; i < s.len; i++) {
		unsigned char c = (unsigned char)s.ptr[i];
		if (c <= 0x20 || c >= 0x7f || c == '/')
			return false;
	}
	return true;
}

/* The caller's params in this library's layout (lota/common.h, "Options structs"); the
 * released size of lota_chunk_chain_params is the end of seed_signature. */
static int params_copy(const lota_chunk_chain_params *in, lota_chunk_chain_params *out)
{
	if (!in) {
		memset(out, 0, sizeof(*out));
		return -EINVAL;
	}
	return lota__opts_load(in, LOTA__OFFSETOFEND(lota_chunk_chain_params, seed_signature),
	                       sizeof(*out), out);
}

static int chain_init(lota_chunk_chain *c, const lota_chunk_chain_params *in)
{
	lota_chunk_chain_params p;
	int rc = params_copy(in, &p);
	if (rc)
		return rc;
	lota_str service = p.service.len ? p.service : LOTA_STR_LIT("s3");
	if (!p.amz_date.ptr || p.amz_date.len != LOTA_SIGV4_AMZ_DATE_LEN || !part_ok(p.region) ||
	    !part_ok(service))
		return -EINVAL;
	lota_str sd = p.scope_date.len ? p.scope_date : (lota_str){p.amz_date.ptr, 8};
	if (!sd.ptr || sd.len != 8)
		return -EINVAL;
	for (size_t i = 0; i < 8; i++)
		if (sd.ptr[i] < '0' || sd.ptr[i] > '9')
			return -EINVAL;
	for (size_t i = 0; i < LOTA_SIGV4_AMZ_DATE_LEN; i++) {
		unsigned char ch = (unsigned char)p.amz_date.ptr[i];
		if (ch <= 0x20 || ch >= 0x7f)
			return -EINVAL;
	}
	if (!is_lower_hex(p.seed_signature, SIG_LEN))
		return LOTA_E_SIGV4_MALFORMED;
	if (p.signing_key) {
		memcpy(c->key, p.signing_key, sizeof(c->key));
	} else {
		if (p.secret_key.len == 0 || !p.secret_key.ptr)
			return -EINVAL;
		if (p.secret_key.len > LOTA_SIGV4_SECRET_MAX)
			return LOTA_E_TOO_LARGE;
		rc = lota_sigv4_signing_key(p.secret_key, sd, p.region, service, c->key);
		if (rc)
			return rc;
	}
	memcpy(c->amz_date, p.amz_date.ptr, LOTA_SIGV4_AMZ_DATE_LEN);
	c->amz_date[LOTA_SIGV4_AMZ_DATE_LEN] = '\0';
	int n = snprintf(c->scope, sizeof(c->scope), "%.8s/%.*s/%.*s/aws4_request", sd.ptr,
	                 (int)p.region.len, p.region.ptr, (int)service.len, service.ptr);
	if (n < 0 || (size_t)n >= sizeof(c->scope))
		return LOTA_E_INTERNAL;
	c->scope_len = (size_t)n;
	memcpy(c->prev, p.seed_signature.ptr, SIG_LEN);
	c->prev[SIG_LEN] = '\0';
	return 0;
}

int lota_chunk_chain_new(const lota_chunk_chain_params *params, lota_chunk_chain **out)
{
	if (!out)
		return -EINVAL;
	*out = NULL;
	lota_chunk_chain *c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	int rc = chain_init(c, params);
	if (rc) {
		lota_chunk_chain_free(c);
		return rc;
	}
	*out = c;
	return 0;
}

void lota_chunk_chain_free(lota_chunk_chain *c)
{
	if (!c)
		return;
	lota__wipe(c, sizeof(*c));
	free(c);
}

/* The signature of the chunk after c->prev, without moving on. */
static int next_sig(const lota_chunk_chain *c, const uint8_t h[32], char out[SIG_LEN + 1])
{
	return lota_sigv4_chunk_signature(c->key, (lota_str){c->amz_date, LOTA_SIGV4_AMZ_DATE_LEN},
	                                  (lota_str){c->scope, c->scope_len},
	                                  (lota_str){c->prev, SIG_LEN}, h, out);
}

int lota_chunk_chain_sign(lota_chunk_chain *c, const uint8_t chunk_sha256[32],
                          char out[LOTA_CHUNK_SIGNATURE_HEX_LEN + 1])
{
	char sig[SIG_LEN + 1];
	if (!c || !chunk_sha256 || !out)
		return -EINVAL;
	int rc = next_sig(c, chunk_sha256, sig);
	if (rc)
		return rc;
	memcpy(c->prev, sig, SIG_LEN + 1);
	memcpy(out, sig, SIG_LEN + 1);
	return 0;
}

int lota_chunk_chain_verify(lota_chunk_chain *c, const uint8_t chunk_sha256[32], lota_str signature)
{
	char want[SIG_LEN + 1];
	if (!c || !chunk_sha256 || (signature.len && !signature.ptr))
		return -EINVAL;
	int rc = next_sig(c, chunk_sha256, want);
	if (rc)
		return rc;
	/* the length is public; the bytes are compared in constant time */
	if (signature.len != SIG_LEN || !lota__ct_equal(want, signature.ptr, SIG_LEN))
		return LOTA_E_SIGV4_MISMATCH;
	memcpy(c->prev, want, SIG_LEN + 1);
	return 0;
}

static int hash_data(const void *data, size_t len, uint8_t h[32])
{
	if (len && !data)
		return -EINVAL;
	return lota__sha256(len ? data : "", len, h);
}

int lota_chunk_chain_sign_data(lota_chunk_chain *c, const void *data, size_t len,
                               char out[LOTA_CHUNK_SIGNATURE_HEX_LEN + 1])
{
	uint8_t h[32];
	int rc = hash_data(data, len, h);
	return rc ? rc : lota_chunk_chain_sign(c, h, out);
}

int lota_chunk_chain_verify_data(lota_chunk_chain *c, const void *data, size_t len,
                                 lota_str signature)
{
	uint8_t h[32];
	int rc = hash_data(data, len, h);
	return rc ? rc : lota_chunk_chain_verify(c, h, signature);
}

const char *lota_chunk_chain_previous(const lota_chunk_chain *c)
{
	return c ? c->prev : NULL;
}

/* ---- the re-signer ------------------------------------------------------------------- */

#define SIG_KEY ";chunk-signature="

enum { CK_HEADER, CK_DATA, CK_CR, CK_LF, CK_EMIT, CK_DONE, CK_FAILED };

struct lota_chunk_resigner {
	lota_chunk_chain in, out;
	bool resign; /* false: verify only, the output is the input */
	int state;
	size_t max_chunk;
	char hdr[LOTA_CHUNK_HEADER_MAX];
	size_t hdr_len;
	size_t size_len; /* hex digits of the size, as the client wrote them */
	char sent_sig[SIG_LEN];
	uint64_t size, have;
	char *data;
	size_t data_cap;
	char ohdr[LOTA_CHUNK_HEADER_MAX + 2];
	size_t ohdr_len, emitted;
};

int lota_chunk_resigner_new(const lota_chunk_chain_params *client,
                            const lota_chunk_chain_params *upstream, size_t max_chunk_bytes,
                            lota_chunk_resigner **out)
{
	if (!out)
		return -EINVAL;
	*out = NULL;
	lota_chunk_resigner *r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	int rc = chain_init(&r->in, client);
	if (rc == 0 && upstream)
		rc = chain_init(&r->out, upstream);
	if (rc) {
		lota_chunk_resigner_free(r);
		return rc;
	}
	r->resign = upstream != NULL;
	r->max_chunk = max_chunk_bytes ? max_chunk_bytes : LOTA_CHUNK_DEFAULT_MAX;
	r->state = CK_HEADER;
	*out = r;
	return 0;
}

void lota_chunk_resigner_free(lota_chunk_resigner *r)
{
	if (!r)
		return;
	if (r->data) {
		lota__wipe(r->data, r->data_cap);
		free(r->data);
	}
	lota__wipe(r, sizeof(*r));
	free(r);
}

/* "<hex>;chunk-signature=<64 hex>" (without the CRLF). */
static int parse_chunk_header(lota_chunk_resigner *r)
{
	size_t i = 0;
	uint64_t v = 0;
	while (i < r->hdr_len && lota__hex_value((unsigned char)r->hdr[i]) >= 0) {
		if (i == 16)
			return LOTA_E_HTTP_CHUNK_SIZE;
		v = v * 16 + (uint64_t)lota__hex_value((unsigned char)r->hdr[i]);
		i++;
	}
	if (i == 0)
		return LOTA_E_HTTP_CHUNK_SIZE;
	size_t kl = strlen(SIG_KEY);
	if (r->hdr_len != i + kl + SIG_LEN || memcmp(r->hdr + i, SIG_KEY, kl) != 0 ||
	    !is_lower_hex((lota_str){r->hdr + i + kl, SIG_LEN}, SIG_LEN))
		return LOTA_E_SIGV4_MALFORMED;
	if (v > r->max_chunk)
		return LOTA_E_TOO_LARGE;
	r->size_len = i;
	r->size = v;
	r->have = 0;
	memcpy(r->sent_sig, r->hdr + i + kl, SIG_LEN);
	if (v > r->data_cap) {
		char *nd = malloc((size_t)v);
		if (!nd)
			return -ENOMEM;
		if (r->data) {
			lota__wipe(r->data, r->data_cap);
			free(r->data);
		}
		r->data = nd;
		r->data_cap = (size_t)v;
	}
	return 0;
}

/* The whole chunk is in: check the client's signature, compute the upstream's, and lay
 * out the header to write. */
static int finish_chunk(lota_chunk_resigner *r)
{
	uint8_t h[32];
	char mine[SIG_LEN + 1];
	int rc = lota__sha256(r->size ? r->data : "", (size_t)r->size, h);
	if (rc)
		return rc;
	rc = lota_chunk_chain_verify(&r->in, h, (lota_str){r->sent_sig, SIG_LEN});
	if (rc)
		return rc;
	if (r->resign) {
		rc = lota_chunk_chain_sign(&r->out, h, mine);
		if (rc)
			return rc;
	} else {
		memcpy(mine, r->sent_sig, SIG_LEN);
	}
	size_t n = r->size_len, kl = strlen(SIG_KEY);
	memcpy(r->ohdr, r->hdr, n);
	memcpy(r->ohdr + n, SIG_KEY, kl);
	n += kl;
	memcpy(r->ohdr + n, mine, SIG_LEN);
	n += SIG_LEN;
	memcpy(r->ohdr + n, "\r\n", 2);
	r->ohdr_len = n + 2;
	r->emitted = 0;
	return 0;
}

int lota_chunk_resigner_feed(lota_chunk_resigner *r, const char *in, size_t in_len,
                             size_t *consumed, char *out, size_t out_cap, size_t *produced)
{
	size_t ci = 0, po = 0;
	int rc = 0;
	if (!r || (in_len && !in) || (out_cap && !out)) {
		rc = -EINVAL;
		goto out;
	}
	if (r->state == CK_FAILED) {
		rc = LOTA_E_HTTP_CHUNK;
		goto out;
	}
	while (r->state != CK_DONE) {
		if (r->state == CK_EMIT) {
			/* virtual output: ohdr, data, CRLF */
			size_t total = r->ohdr_len + (size_t)r->size + 2;
			while (r->emitted < total && po < out_cap) {
				size_t e = r->emitted, n;
				const char *src;
				if (e < r->ohdr_len) {
					src = r->ohdr + e;
					n = r->ohdr_len - e;
				} else if (e < r->ohdr_len + r->size) {
					src = r->data + (e - r->ohdr_len);
					n = (size_t)(r->ohdr_len + r->size - e);
				} else {
					src = &"\r\n"[e - r->ohdr_len - (size_t)r->size];
					n = total - e;
				}
				if (n > out_cap - po)
					n = out_cap - po;
				memcpy(out + po, src, n);
				po += n;
				r->emitted += n;
			}
			if (r->emitted < total)
				break; /* output full: backpressure */
			r->state = r->size == 0 ? CK_DONE : CK_HEADER;
			r->hdr_len = 0;
			continue;
		}
		if (ci == in_len)
			break;
		char c = in[ci];
		switch (r->state) {
		case CK_HEADER:
			if (c == '\n') {
				if (r->hdr_len == 0 || r->hdr[r->hdr_len - 1] != '\r') {
					rc = LOTA_E_HTTP_BARE_CR;
					goto fail;
				}
				r->hdr_len--;
				ci++;
				if ((rc = parse_chunk_header(r)) < 0)
					goto fail;
				r->state = r->size ? CK_DATA : CK_CR;
				break;
			}
			if (r->hdr_len == LOTA_CHUNK_HEADER_MAX) {
				rc = LOTA_E_TOO_LARGE;
				goto fail;
			}
			r->hdr[r->hdr_len++] = c;
			ci++;
			break;
		case CK_DATA: {
			size_t n = in_len - ci;
			if (n > r->size - r->have)
				n = (size_t)(r->size - r->have);
			memcpy(r->data + r->have, in + ci, n);
			r->have += n;
			ci += n;
			if (r->have == r->size)
				r->state = CK_CR;
			break;
		}
		case CK_CR:
			if (c != '\r') {
				rc = LOTA_E_HTTP_CHUNK;
				goto fail;
			}
			ci++;
			r->state = CK_LF;
			break;
		case CK_LF:
			if (c != '\n') {
				rc = LOTA_E_HTTP_CHUNK;
				goto fail;
			}
			ci++;
			if ((rc = finish_chunk(r)) < 0)
				goto fail;
			r->state = CK_EMIT;
			break;
		default:
			rc = LOTA_E_INTERNAL;
			goto fail;
		}
	}
	rc = r->state == CK_DONE ? 1 : 0;
	goto out;
fail:
	r->state = CK_FAILED;
out:
	if (consumed)
		*consumed = ci;
	if (produced)
		*produced = po;
	return rc;
}
