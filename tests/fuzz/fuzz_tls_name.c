/*
 * fuzz_tls_name.c - lotad_tls_name_served (daemon/net/tlsname.c, compiled into the
 * harness): the check of a client's SNI against the names lotad serves, on arbitrary
 * bytes. The first byte picks the served names; the rest is the SNI. Whatever it says must
 * agree with a plain reference: served = a DNS name (letters, digits, '-', single dots,
 * no dot at either end, a last label not all digits, at most 253 bytes) that equals a
 * served name or ends in "." + one (case-insensitive).
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../../daemon/net/tlsname.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool reference(const char *const *names, size_t n, const char *s, size_t len)
{
	if (len == 0 || len > 253 || s[0] == '.' || s[len - 1] == '.')
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		          (c >= '0' && c <= '9') || c == '-' || (c == '.' && s[i + 1] != '.');
		if (!ok)
			return false;
	}
	size_t last = len;
	while (last && s[last - 1] != '.')
		last--;
	if (strspn(s + last, "0123456789") >= len - last)
		return false;
	for (size_t i = 0; i < n; i++) {
		size_t nl = strlen(names[i]);
		if (nl == len && strncasecmp(s, names[i], len) == 0)
			return true;
		if (len > nl + 1 && s[len - nl - 1] == '.' &&
		    strncasecmp(s + len - nl, names[i], nl) == 0)
			return true;
	}
	return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const sets[][3] = {
	    {"s3.example.com", "cwlota.com", "localhost"},
	    {"a", "b.c", "x-y.z"},
	    {"", "1.example", "example"},
	};
	if (size < 1)
		return 0;
	const char *const *names = sets[data[0] % 3];
	size_t n = (size_t)(data[0] / 3) % 4;
	if (n > 3)
		n = 3;
	/* the SNI as an exact-size heap copy, so a read past its end is caught */
	size_t len = size - 1;
	char *sni = malloc(len ? len : 1);
	if (!sni)
		return 0;
	memcpy(sni, data + 1, len);
	bool got = lotad_tls_name_served(names, n, sni, len);
	bool want = false;
	/* the reference reads s[i + 1] at a dot: give it a terminated copy */
	char *z = malloc(len + 1);
	if (z) {
		memcpy(z, sni, len);
		z[len] = 0;
		want = memchr(z, 0, len) == NULL && reference(names, n, z, len);
		free(z);
	}
	if (got != want)
		abort();
	free(sni);
	return 0;
}
