/*
 * fuzz_sigv4_header.c - arbitrary bytes as the Authorization header value of an otherwise
 * fixed S3 request, through lota_sigv4_parse and, when it parses, lota_sigv4_verify (both
 * flag sets). Must never crash, leak or read outside the input; a random input must never
 * verify.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <lota/sigv4.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* a private copy so that reads past the end are caught */
	char *v = malloc(size ? size : 1);
	if (!v)
		return 0;
	memcpy(v, data, size);
	lota_http_header h[] = {
	    {LOTA_STR_LIT("Host"), LOTA_STR_LIT("127.0.0.1:7480")},
	    {LOTA_STR_LIT("X-Amz-Date"), LOTA_STR_LIT("20240309T170542Z")},
	    {LOTA_STR_LIT("x-amz-content-sha256"), LOTA_STR_LIT(LOTA_SIGV4_UNSIGNED_PAYLOAD)},
	    {LOTA_STR_LIT("Range"), LOTA_STR_LIT("bytes=0-9")},
	    {LOTA_STR_LIT("Authorization"), {v, size}},
	};
	lota_sigv4_request req = {LOTA_STR_LIT("GET"),
	                          LOTA_STR_LIT("/bkt/a%20key//x/"),
	                          LOTA_STR_LIT("versionId=1&acl"),
	                          h,
	                          5,
	                          {NULL, 0}};
	lota_sigv4_auth auth;
	if (lota_sigv4_parse(&req, &auth) == 0) {
		int rc = lota_sigv4_verify(&req, &auth, LOTA_STR_LIT("secret"), 1710003942, 900, 0);
		if (rc == 0)
			abort(); /* no input may forge a signature */
		rc = lota_sigv4_verify(&req, &auth, LOTA_STR_LIT("secret"), 1710003942, 900,
		                       LOTA_SIGV4_NORMALIZE_PATH | LOTA_SIGV4_DOUBLE_ENCODE);
		if (rc == 0)
			abort();
		char creq[4096];
		int n = lota_sigv4_canonical_request(&req, auth.signed_headers, 0, false, creq,
		                                     sizeof(creq));
		if (n >= (int)sizeof(creq))
			abort();
	}
	free(v);
	return 0;
}
