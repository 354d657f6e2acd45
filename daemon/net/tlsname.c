/*
 * tlsname.c - which names lotad's TLS listener serves (lotad_tls_name_served, tls.h): the
 * one check between a client's SNI and the certificate lotad issues for it. Pure string
 * work, no OpenSSL, so the fuzz harness compiles this file alone.
 */
#include <string.h>

#include "net/tls.h"

static char lower(char c)
{
	return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

static bool label_char(char c)
{
	c = lower(c);
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
}

static bool eq_nocase(const char *a, const char *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (lower(a[i]) != lower(b[i]))
			return false;
	return true;
}

bool lotad_tls_name_served(const char *const *names, size_t n, const char *sni, size_t len)
{
	if (!sni || len == 0 || len > LOTAD_CA_MAX_NAME)
		return false;
	/* only DNS names: labels of letters, digits and '-', no empty label, no trailing dot */
	for (size_t i = 0; i < len; i++) {
		if (sni[i] == '.') {
			if (i == 0 || i + 1 == len || sni[i + 1] == '.')
				return false;
		} else if (!label_char(sni[i])) {
			return false;
		}
	}
	/* an IPv4 literal is not a host name (nor any name whose last label is numeric) */
	size_t last = len;
	while (last > 0 && sni[last - 1] != '.')
		last--;
	bool numeric = true;
	for (size_t i = last; i < len && numeric; i++)
		numeric = sni[i] >= '0' && sni[i] <= '9';
	if (numeric)
		return false;
	for (size_t i = 0; i < n; i++) {
		size_t nl = strlen(names[i]);
		if (nl == 0)
			continue;
		if (nl == len && eq_nocase(sni, names[i], len))
			return true;
		/* <bucket>.<name>: a non-empty prefix ending in a dot */
		if (len > nl + 1 && sni[len - nl - 1] == '.' &&
		    eq_nocase(sni + len - nl, names[i], nl))
			return true;
	}
	return false;
}
