/*
 * hostport.c - "host[:port]" parsing (see hostport.h).
 */
#include "util/hostport.h"

#include <errno.h>
#include <string.h>

int lotad_hostport_split(lota_str hp, lota_str *host, long *port)
{
	const char *p = hp.ptr;
	size_t n = hp.len, hlen = n;
	*port = -1;
	if (n > 0 && p[0] == '[') {
		const char *rb = memchr(p, ']', n);
		if (!rb) {
			*host = hp;
			return -EINVAL;
		}
		hlen = (size_t)(rb - p) + 1;
	} else {
		const char *colon = memchr(p, ':', n);
		if (colon)
			hlen = (size_t)(colon - p);
	}
	*host = (lota_str){p, hlen};
	if (hlen == n)
		return 0;
	if (p[hlen] != ':' || hlen + 1 == n || n - hlen - 1 > 5)
		return -EINVAL;
	long v = 0;
	for (size_t i = hlen + 1; i < n; i++) {
		if (p[i] < '0' || p[i] > '9')
			return -EINVAL;
		v = v * 10 + (p[i] - '0');
	}
	if (v > 65535)
		return -EINVAL;
	*port = v;
	return 0;
}

lota_str lotad_host_unbracket(lota_str host)
{
	if (host.len >= 2 && host.ptr[0] == '[' && host.ptr[host.len - 1] == ']')
		return (lota_str){host.ptr + 1, host.len - 2};
	return host;
}
