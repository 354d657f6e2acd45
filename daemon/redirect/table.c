/*
 * table.c - redirected endpoints and their address table (see table.h). The map key is
 * compared byte for byte by the kernel, so every key is built here, zeroed first, in one
 * form: 16 address bytes (IPv4 v4-mapped) and the port in network order.
 */
#include "redirect/table.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "util/hostport.h"

int lotad_redir_endpoint_parse(const char *spec, int default_port, lotad_redir_endpoint *out)
{
	lota_str h;
	long port;
	if (lotad_hostport_split((lota_str){spec, strlen(spec)}, &h, &port) < 0)
		return -EINVAL;
	h = lotad_host_unbracket(h);
	if (h.len == 0 || h.len >= sizeof(out->host) || memchr(h.ptr, '/', h.len) ||
	    (h.ptr[0] == '[') || memchr(h.ptr, ']', h.len))
		return -EINVAL;
	if (port < 0)
		port = default_port;
	if (port <= 0 || port > 65535)
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	memcpy(out->host, h.ptr, h.len);
	out->port = (int)port;
	out->tls = port == 443;
	return 0;
}

static void set_v4(__u32 addr[4], const struct in_addr *a)
{
	addr[0] = addr[1] = 0;
	addr[2] = htonl(0xffff);
	memcpy(&addr[3], a, 4);
}

int lotad_redir_key_from_sockaddr(const struct sockaddr *sa, int port, lota_redir_key *out)
{
	memset(out, 0, sizeof(*out));
	if (sa->sa_family == AF_INET)
		set_v4(out->addr, &((const struct sockaddr_in *)(const void *)sa)->sin_addr);
	else if (sa->sa_family == AF_INET6)
		memcpy(out->addr, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, 16);
	else
		return -EAFNOSUPPORT;
	out->port = htons((uint16_t)port);
	return 0;
}

int lotad_redir_key_from_numeric(const char *addr, int port, lota_redir_key *out)
{
	struct in_addr a4;
	struct in6_addr a6;
	memset(out, 0, sizeof(*out));
	if (inet_pton(AF_INET, addr, &a4) == 1)
		set_v4(out->addr, &a4);
	else if (inet_pton(AF_INET6, addr, &a6) == 1)
		memcpy(out->addr, &a6, 16);
	else
		return -EINVAL;
	out->port = htons((uint16_t)port);
	return 0;
}

int lotad_redir_target_for_listener(const char *host, int port, lota_redir_val *out)
{
	lota_redir_key k;
	if (!host[0] || strcmp(host, "0.0.0.0") == 0 || strcmp(host, "::") == 0)
		host = "127.0.0.1";
	if (port <= 0 || port > 65535 || lotad_redir_key_from_numeric(host, port, &k) < 0)
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	memcpy(out->addr, k.addr, sizeof(out->addr));
	out->port = k.port;
	return 0;
}

bool lotad_redir_key_is_v4mapped(const lota_redir_key *k)
{
	return k->addr[0] == 0 && k->addr[1] == 0 && k->addr[2] == htonl(0xffff);
}

void lotad_redir_key_format(const lota_redir_key *k, char *out, size_t cap)
{
	char a[INET6_ADDRSTRLEN] = "?";
	if (!cap)
		return;
	if (lotad_redir_key_is_v4mapped(k)) {
		inet_ntop(AF_INET, &k->addr[3], a, sizeof(a));
		snprintf(out, cap, "%s:%u", a, ntohs(k->port));
	} else {
		inet_ntop(AF_INET6, k->addr, a, sizeof(a));
		snprintf(out, cap, "[%s]:%u", a, ntohs(k->port));
	}
}

void lotad_redir_table_init(lotad_redir_table *t)
{
	t->n = 0;
}

bool lotad_redir_table_has(const lotad_redir_table *t, const lota_redir_key *k)
{
	for (size_t i = 0; i < t->n; i++)
		if (memcmp(&t->keys[i], k, sizeof(*k)) == 0)
			return true;
	return false;
}

int lotad_redir_table_add(lotad_redir_table *t, const lota_redir_key *k)
{
	if (lotad_redir_table_has(t, k))
		return 0;
	if (t->n >= LOTA_REDIR_MAX_ENTRIES)
		return -ENOSPC;
	t->keys[t->n++] = *k;
	return 1;
}

/* Field i (0-based, space-separated) of line [p, end): start and length. */
static bool field(const char *p, const char *end, int i, const char **f, size_t *flen)
{
	for (;;) {
		while (p < end && *p == ' ')
			p++;
		const char *s = p;
		while (p < end && *p != ' ')
			p++;
		if (s == p)
			return false;
		if (i-- == 0) {
			*f = s;
			*flen = (size_t)(p - s);
			return true;
		}
	}
}

int lotad_redir_mount_find(const char *text, size_t len, const char *fstype, size_t *from,
                           char *out, size_t cap)
{
	size_t tl = strlen(fstype);
	while (*from < len) {
		const char *line = text + *from;
		const char *nl = memchr(line, '\n', len - *from);
		const char *end = nl ? nl : text + len;
		const char *mp, *ty;
		size_t mlen, tlen;
		*from = (size_t)(end - text) + (nl ? 1 : 0);
		if (!field(line, end, 1, &mp, &mlen) || !field(line, end, 2, &ty, &tlen) ||
		    tlen != tl || memcmp(ty, fstype, tl) != 0)
			continue;
		size_t o = 0;
		for (size_t i = 0; i < mlen; i++) {
			char c = mp[i];
			if (c == '\\' && i + 3 < mlen && mp[i + 1] >= '0' && mp[i + 1] <= '3' &&
			    mp[i + 2] >= '0' && mp[i + 2] <= '7' && mp[i + 3] >= '0' &&
			    mp[i + 3] <= '7') {
				c = (char)((mp[i + 1] - '0') * 64 + (mp[i + 2] - '0') * 8 +
				           (mp[i + 3] - '0'));
				i += 3;
			}
			if (o + 1 >= cap)
				return -ENAMETOOLONG;
			out[o++] = c;
		}
		out[o] = 0;
		return 0;
	}
	return -ENOENT;
}
