/*
 * get_range.c - read an object (lota_client_get_cb, streamed in order) or a byte range of
 * it (lota_client_get_buffer, parts in parallel) and write it to stdout: the smallest
 * complete use of the client API.
 *
 *   example_get_range BUCKET KEY [OFFSET LENGTH]
 *
 * The endpoint and credentials come from the usual places (LOTA_ENDPOINT, AWS_PROFILE,
 * AWS_ENDPOINT_URL, the AWS files). Exit status 0, 1 (the S3 error is printed), 2 usage.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lota/client.h>

static int to_stdout(void *ud, uint64_t offset, const void *data, size_t len)
{
	(void)ud;
	(void)offset;
	return fwrite(data, 1, len, stdout) == len ? 0 : -5;
}

int main(int argc, char **argv)
{
	if (argc != 3 && argc != 5) {
		fprintf(stderr, "usage: %s BUCKET KEY [OFFSET LENGTH]\n", argv[0]);
		return 2;
	}
	lota_client *c = NULL;
	lota_client_error e;
	lota_client_opts o = LOTA_OPTS(lota_client_opts, .err = &e);
	if (lota_client_new(&o, &c) != 0) {
		fprintf(stderr, "%s\n", e.message);
		return 1;
	}
	int rc;
	char *buf = NULL;
	if (argc == 5) {
		/* a range: into a buffer of its size, read in parallel parts */
		size_t len = (size_t)strtoull(argv[4], NULL, 10), got = 0;
		lota_get_opts go =
		    LOTA_OPTS(lota_get_opts, .range_offset = strtoull(argv[3], NULL, 10),
		              .range_length = len);
		buf = malloc(len ? len : 1);
		rc =
		    buf ? lota_client_get_buffer(c, argv[1], argv[2], buf, len, &go, &got, NULL, &e)
		        : -12;
		if (rc == 0 && fwrite(buf, 1, got, stdout) != got)
			rc = -5;
	} else {
		/* the whole object, streamed: one part at a time, so the bytes come in order */
		lota_get_opts go = LOTA_OPTS(lota_get_opts, .concurrency = 1);
		rc = lota_client_get_cb(c, argv[1], argv[2], to_stdout, NULL, &go, NULL, &e);
	}
	if (rc != 0) {
		char msg[1024];
		fprintf(stderr, "%s\n", lota_client_error_format(&e, msg, sizeof(msg)));
	}
	free(buf);
	lota_client_free(c);
	return rc == 0 ? 0 : 1;
}
