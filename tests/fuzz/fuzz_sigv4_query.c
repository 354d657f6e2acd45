/*
 * fuzz_sigv4_query.c - arbitrary bytes as a request's path and query string (split at the
 * first '\n'; path empty when there is none) through lota_sigv4_parse, lota_sigv4_verify,
 * the canonical request in both forms, presigning on top of the query and signing it in
 * the header form. Must never crash or leak; a random input must never verify; whatever
 * a signer accepts to sign, the parser and the verifier accept as it is sent.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <lota/sigv4.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *v = malloc(size ? size : 1);
	if (!v)
		return 0;
	memcpy(v, data, size);
	char *nl = memchr(v, '\n', size);
	lota_str path = {v, 0}, query = {v, size};
	if (nl) {
		path.len = (size_t)(nl - v);
		query = (lota_str){nl + 1, size - path.len - 1};
	}
	lota_http_header h[] = {
	    {LOTA_STR_LIT("Host"), LOTA_STR_LIT("127.0.0.1:7480")},
	    {LOTA_STR_LIT("x-amz-meta-a"), LOTA_STR_LIT("  folded   value ")},
	};
	lota_sigv4_request req = {LOTA_STR_LIT("GET"), path, query, h, 2, {NULL, 0}};
	unsigned flags = size ? (data[0] & 7u) : 0;
	lota_sigv4_auth auth;
	if (lota_sigv4_parse(&req, &auth) == 0 && auth.form == LOTA_SIGV4_FORM_QUERY) {
		if (lota_sigv4_verify(&req, &auth, LOTA_STR_LIT("secret"), auth.time, 900, flags) ==
		    0)
			abort(); /* no input may forge a signature */
	}
	static char out[32768];
	/* results are either a length that fits or a negative code, never anything else */
	int c1 =
	    lota_sigv4_canonical_request(&req, (lota_str){NULL, 0}, flags, true, out, sizeof(out));
	int c2 = lota_sigv4_canonical_request(&req, LOTA_STR_LIT("host;x-amz-meta-a"), flags, false,
	                                      out, sizeof(out));
	if (c1 >= (int)sizeof(out) || c2 >= (int)sizeof(out))
		abort();
	lota_sigv4_params p =
	    LOTA_OPTS(lota_sigv4_params, .access_key = LOTA_STR_LIT("AKID"),
	              .secret_key = LOTA_STR_LIT("secret"), .region = LOTA_STR_LIT("us-east-1"),
	              .service = LOTA_STR_LIT("s3"), .time = 1710003942, .flags = flags);
	int n = lota_sigv4_presign(&p, &req, 3600, out, sizeof(out));
	if (n > 0) {
		/* what we presign, we parse and verify */
		lota_sigv4_request sent = req;
		sent.query = (lota_str){out, (size_t)n};
		if (lota_sigv4_parse(&sent, &auth) != 0 || auth.form != LOTA_SIGV4_FORM_QUERY ||
		    lota_sigv4_verify(&sent, &auth, LOTA_STR_LIT("secret"), 1710003942, 900,
		                      flags) != 0)
			abort();
	}
	/* the same in the header form: what we sign, we parse and verify */
	lota_http_header hs[] = {
	    h[0],
	    h[1],
	    {LOTA_STR_LIT("X-Amz-Date"), LOTA_STR_LIT("20240309T170542Z")},
	    {LOTA_STR_LIT("Authorization"), {NULL, 0}},
	};
	lota_sigv4_request hreq = req;
	hreq.headers = hs;
	hreq.num_headers = 3;
	static lota_sigv4_signature sig;
	if (lota_sigv4_sign_header(&p, &hreq, &sig) == 0) {
		hs[3].value = (lota_str){sig.authorization, strlen(sig.authorization)};
		hreq.num_headers = 4;
		if (lota_sigv4_parse(&hreq, &auth) != 0 || auth.form != LOTA_SIGV4_FORM_HEADER ||
		    lota_sigv4_verify(&hreq, &auth, LOTA_STR_LIT("secret"), 1710003942, 900,
		                      flags) != 0)
			abort();
	}
	char enc[512];
	int e = lota_uri_encode(v, size < 100 ? size : 100, size & 1, enc, sizeof(enc));
	if (e >= (int)sizeof(enc) || (e >= 0 && enc[e] != '\0'))
		abort();
	int d = lota_uri_decode(v, size, v, size);
	if (d > (int)size)
		abort();
	free(v);
	return 0;
}
