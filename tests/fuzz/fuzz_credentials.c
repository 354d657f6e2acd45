/*
 * fuzz_credentials.c - lotad's credentials store as built from a file (lotad_creds_parse,
 * over liblota's strict reader, lota_aws_credentials_foreach; fuzz_awsconf.c fuzzes that
 * reader alone).
 *
 * The daemon's auth.c (with the helpers of util/ it calls) is compiled into the harness
 * itself (it is not part of liblota, which is all the fuzz targets link), which also
 * lets the harness check the parsed snapshot's invariants: entries sorted by access key
 * id with no duplicates, every key found again by lotad_creds_lookup with its own secret,
 * and on failure a terminated message that starts with the name given.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../daemon/s3/auth.c"
#include "../../daemon/util/hostport.c"
#include "../../daemon/util/names.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[256];
	memset(err, 'x', sizeof(err));
	lotad_creds *c = lotad_creds_parse((const char *)data, size, "fuzz", err, sizeof(err));
	if (!c) {
		if (!memchr(err, '\0', sizeof(err)) || strncmp(err, "fuzz", 4) != 0)
			abort();
		return 0;
	}
	for (size_t i = 0; i < c->n; i++) {
		const cred *e = &c->v[i];
		if (e->ak_len == 0 || e->sk_len == 0)
			abort();
		if (i > 0 && keycmp(c->v[i - 1].ak, c->v[i - 1].ak_len, e->ak, e->ak_len) >= 0)
			abort();
		lota_str s, t;
		if (!lotad_creds_lookup(c, (lota_str){e->ak, e->ak_len}, &s, &t))
			abort();
		if (s.ptr != e->sk || s.len != e->sk_len || t.len != e->tok_len)
			abort();
	}
	lotad_creds_ref(c);
	lotad_creds_unref(c);
	lotad_creds_unref(c);
	return 0;
}
