/*
 * names.c - header and query-parameter names with one meaning in lotad (see names.h).
 */
#include "util/names.h"

#include <string.h>
#include <strings.h>

#include <lota/http.h>

static bool name_is(lota_str n, const char *s)
{
	return lota_str_eq_nocase(n, s, strlen(s));
}

bool lotad_hop_by_hop(lota_str n)
{
	return name_is(n, "connection") || name_is(n, "keep-alive") || name_is(n, "te") ||
	       name_is(n, "trailer") || name_is(n, "transfer-encoding") || name_is(n, "upgrade") ||
	       (n.len >= 6 && strncasecmp(n.ptr, "proxy-", 6) == 0);
}

bool lotad_presign_param(lota_str n)
{
	static const char *const names[] = {
	    "X-Amz-Algorithm",     "X-Amz-Credential", "X-Amz-Date",           "X-Amz-Expires",
	    "X-Amz-SignedHeaders", "X-Amz-Signature",  "X-Amz-Security-Token",
	};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (name_is(n, names[i]))
			return true;
	}
	return false;
}

bool lotad_signature_param(lota_str n)
{
	return lotad_presign_param(n) || name_is(n, "X-Amz-Content-Sha256");
}
