/*
 * fuzz_peer.c - libFuzzer harness for the peer protocol's verifier (lota_peer_verify on
 * whatever lota_http_parse_request accepts) and the extent identity decoder. The input
 * is a request head; its first byte also picks the verifier's clock so both sides of the
 * window are reached. Invariants: a verified request's fields re-sign to the signature
 * it carried (a forged HMAC cannot pass), the same head is refused as a replay the
 * second time, and a decoded extent re-encodes to the same hex.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <lota/peer.h>

static lota_peer_auth *auth;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!auth) {
		uint8_t secret[32];
		for (size_t i = 0; i < sizeof(secret); i++)
			secret[i] = (uint8_t)i;
		if (lota_peer_auth_new(secret, sizeof(secret), 1024, &auth))
			abort();
	}
	lota_http_request req;
	lota_http_header h[64];
	int n = lota_http_parse_request(
	    (const char *)data, size, &req, h, 64,
	    &LOTA_OPTS(lota_http_limits, .max_head_bytes = LOTA_PEER_HEAD_MAX));
	if (n > 0) {
		int64_t now = 1700000000 + (size ? (int64_t)(data[0] % 80) - 40 : 0);
		lota_peer_fields f;
		int rc = lota_peer_verify(auth, &req, now, &f);
		if (rc == 0) {
			char sig[LOTA_PEER_SIG_HEX_LEN + 1];
			const lota_http_header *s = lota_http_find_header(
			    req.headers, req.num_headers, LOTA_PEER_H_SIGNATURE,
			    strlen(LOTA_PEER_H_SIGNATURE));
			if (!s || lota_peer_sign(auth, &f, sig) ||
			    memcmp(sig, s->value.ptr, LOTA_PEER_SIG_HEX_LEN))
				abort();
			if (lota_peer_verify(auth, &req, now, &f) != LOTA_E_PEER_REPLAY &&
			    lota_peer_verify(auth, &req, now, &f) != LOTA_E_PEER_BUSY)
				abort();
		} else if (rc != LOTA_E_PEER_MALFORMED && rc != LOTA_E_PEER_AUTH &&
		           rc != LOTA_E_PEER_STALE && rc != LOTA_E_PEER_REPLAY &&
		           rc != LOTA_E_PEER_BUSY && rc != LOTA_E_TOO_LARGE) {
			abort();
		}
	}
	/* the whole input as an extent identity */
	static uint8_t buf[LOTA_PEER_EXTENT_MAX / 2];
	lota_cache_key k;
	int kn = lota_peer_extent_decode((const char *)data, size, buf, sizeof(buf), &k);
	if (kn > 0) {
		static char hex[LOTA_PEER_EXTENT_MAX + 1];
		int hn = lota_peer_extent_encode(&k, hex, sizeof(hex));
		if (hn != 2 * kn)
			abort();
		for (int i = 0; i < hn; i++) {
			char c = (char)data[i];
			if (c >= 'A' && c <= 'F')
				c = (char)(c - 'A' + 'a');
			if (c != hex[i])
				abort();
		}
	}
	return 0;
}
