/*
 * fuzz_redirect_mounts.c - libFuzzer harness for the parsers of lotad's eBPF redirect
 * (daemon/redirect/table.c): the /proc/mounts lookup that finds the cgroup v2 root and
 * bpf file systems, and the HOST[:PORT] of a redirect endpoint. Checks: a found mount
 * point is terminated and fits its buffer, every call moves the cursor forward within
 * the input (the walk ends), and a parsed endpoint has a non-empty host and a port in
 * 1..65535.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* lotad's sources, compiled into the harness (it links liblota only). */
#include "redirect/table.c"
#include "util/hostport.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data;
	static const char *const types[] = {"cgroup2", "bpf"};
	for (size_t t = 0; t < 2; t++) {
		size_t caps[] = {1, 8, 4096};
		for (size_t c = 0; c < 3; c++) {
			char out[4096];
			size_t from = 0, steps = 0;
			for (;;) {
				size_t before = from;
				int rc = lotad_redir_mount_find(text, size, types[t], &from, out,
				                                caps[c]);
				if (rc == -ENOENT)
					break;
				if (from <= before || from > size || ++steps > size + 1)
					abort();
				if (rc == 0 && strlen(out) >= caps[c])
					abort();
				if (rc != 0 && rc != -ENAMETOOLONG)
					abort();
			}
		}
	}
	char spec[512];
	size_t n = size < sizeof(spec) - 1 ? size : sizeof(spec) - 1;
	memcpy(spec, data, n);
	spec[n] = 0;
	lotad_redir_endpoint ep;
	if (lotad_redir_endpoint_parse(spec, 80, &ep) == 0) {
		if (!ep.host[0] || ep.port < 1 || ep.port > 65535 ||
		    strlen(ep.host) >= sizeof(ep.host))
			abort();
		lota_redir_key k;
		(void)lotad_redir_key_from_numeric(ep.host, ep.port, &k);
	}
	return 0;
}
