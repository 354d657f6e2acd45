/*
 * fuzz_cache_host.c - which Host names the upstream (daemon/s3/auth.c
 * lotad_auth__host_is_upstream, with redirect names) and which header lines a foreign-key
 * answer leaves with its extents (daemon/cache/tee.c lotad_cache__tee_meta). The input is
 * split at NULs: the upstream host, up to four redirect names, the client's Host; the
 * whole input is also read as header lines. Invariants: nothing crashes; a Host equal
 * to the upstream host or to a redirect name names the upstream; more redirect names
 * never take a match away; the stored headers are a subsequence of the input's lines,
 * never longer, without Content-Length or Content-Range.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cache/cache.h"
#include "s3/auth.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char buf[1024];
	if (size >= sizeof(buf))
		return 0;
	memcpy(buf, data, size);
	buf[size] = '\0';
	/* fields: up, r0..r3, host (a missing one is empty) */
	const char *f[6] = {"", "", "", "", "", ""};
	size_t nf = 0;
	for (char *p = buf; nf < 6 && p <= buf + size; nf++) {
		f[nf] = p;
		p += strlen(p) + 1;
	}
	const char *redirs[4] = {f[1], f[2], f[3], f[4]};
	lota_str host = {f[5], strlen(f[5])};
	lotad_auth_config none = {.upstream_host = f[0], .upstream_default_port = 80};
	lotad_auth_config with = none;
	with.redirect_names = redirs;
	with.num_redirect_names = 4;
	bool m0 = lotad_auth__host_is_upstream(&none, host);
	bool m1 = lotad_auth__host_is_upstream(&with, host);
	if (m0 && !m1)
		abort(); /* a redirect name took a match away */
	lota_str up = {f[0], strlen(f[0])};
	if (up.len && !strchr(f[0], '[') &&
	    lotad_auth__host_is_upstream(&none, up) != lotad_auth__host_is_upstream(&with, up))
		abort();

	/* the stored headers */
	char out[1024];
	lota_str fields = {(const char *)data, size};
	size_t n = lotad_cache__tee_meta(fields, out, sizeof(out));
	if (n > size)
		abort();
	size_t i = 0, j = 0; /* out is made of whole lines of the input, in order */
	while (i < n) {
		const char *nl = memchr(out + i, '\n', n - i);
		size_t len = nl ? (size_t)(nl - (out + i)) + 1 : n - i;
		if (len >= 14 && strncasecmp(out + i, "content-length", 14) == 0 &&
		    out[i + 14] == ':')
			abort();
		if (len >= 13 && strncasecmp(out + i, "content-range", 13) == 0 &&
		    out[i + 13] == ':')
			abort();
		const char *at = NULL;
		while (j + len <= size) {
			if (memcmp((const char *)data + j, out + i, len) == 0) {
				at = (const char *)data + j;
				break;
			}
			j++;
		}
		if (!at)
			abort();
		j += len;
		i += len;
	}
	return 0;
}
