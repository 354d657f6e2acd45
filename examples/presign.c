/*
 * presign.c - make a presigned S3 GET URL with liblota, the way a data loader hands a
 * URL to a worker that has no credentials.
 *
 *   example_presign ENDPOINT BUCKET KEY [EXPIRES_S]
 *
 * Credentials come from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (and optionally
 * AWS_SESSION_TOKEN), the region from AWS_REGION (default us-east-1). ENDPOINT is
 * http[s]://host[:port]. Prints the URL on stdout.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <lota/sigv4.h>

static lota_str view(const char *s)
{
	return (lota_str){s, s ? strlen(s) : 0};
}

int main(int argc, char **argv)
{
	if (argc < 4 || argc > 5) {
		fprintf(stderr, "usage: %s ENDPOINT BUCKET KEY [EXPIRES_S]\n", argv[0]);
		return 2;
	}
	const char *endpoint = argv[1], *bucket = argv[2], *key = argv[3];
	long expires = argc == 5 ? strtol(argv[4], NULL, 10) : 3600;
	const char *ak = getenv("AWS_ACCESS_KEY_ID"), *sk = getenv("AWS_SECRET_ACCESS_KEY");
	const char *region = getenv("AWS_REGION");
	if (!ak || !sk) {
		fprintf(stderr, "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY\n");
		return 2;
	}
	const char *host = strstr(endpoint, "://");
	if (!host) {
		fprintf(stderr, "endpoint must be http://host[:port] or https://...\n");
		return 2;
	}
	host += 3;

	/* Path-style: /bucket/key, each part URI-encoded (the key keeps its slashes). */
	char path[4096], enc[3072];
	int n = lota_uri_encode(bucket, strlen(bucket), true, enc, sizeof(enc));
	if (n < 0)
		goto toolong;
	int len = snprintf(path, sizeof(path), "/%s/", enc);
	n = lota_uri_encode(key, strlen(key), false, enc, sizeof(enc));
	if (n < 0 || len + n >= (int)sizeof(path))
		goto toolong;
	memcpy(path + len, enc, (size_t)n + 1);

	lota_http_header hdr = {LOTA_STR_LIT("Host"), view(host)};
	lota_sigv4_request req = {
	    .method = LOTA_STR_LIT("GET"),
	    .path = view(path),
	    .headers = &hdr,
	    .num_headers = 1,
	};
	/* an options struct: LOTA_OPTS sets its sz, every field not named is zero */
	lota_sigv4_params p =
	    LOTA_OPTS(lota_sigv4_params, .access_key = view(ak), .secret_key = view(sk),
	              .session_token = view(getenv("AWS_SESSION_TOKEN")),
	              .region = view(region ? region : "us-east-1"), .service = LOTA_STR_LIT("s3"),
	              .time = (int64_t)time(NULL));
	char query[4096];
	int rc = lota_sigv4_presign(&p, &req, expires, query, sizeof(query));
	if (rc < 0) {
		fprintf(stderr, "presign: %s\n", lota_strerror(rc));
		return 1;
	}
	size_t elen = strlen(endpoint);
	while (elen > 0 && endpoint[elen - 1] == '/')
		elen--;
	printf("%.*s%s?%s\n", (int)elen, endpoint, path, query);
	return 0;
toolong:
	fprintf(stderr, "bucket or key too long\n");
	return 2;
}
