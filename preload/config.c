/*
 * config.c - parses the shim's configuration (config.h): LOTA_REDIRECT lists, listener
 * addresses, the key=value file, and the CA bundle decision. Runs once per process, in
 * the shim's constructor, before main: it must never abort or print, only say why it
 * refuses (the shim then stays out of the program's way). No allocation: everything lands
 * in the caller's fixed-size config, inputs are (pointer, length) views.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

const char *const lota__preload_ca_vars[LOTA__PRELOAD_CA_VARS] = {
    "SSL_CERT_FILE", "CURL_CA_BUNDLE", "AWS_CA_BUNDLE", "REQUESTS_CA_BUNDLE"};

static int fail(char *why, size_t cap, const char *fmt, ...)
{
	if (why && cap) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(why, cap, fmt, ap);
		va_end(ap);
	}
	return -1;
}

static bool is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

static void trim(const char **s, size_t *len)
{
	while (*len && is_blank(**s)) {
		(*s)++;
		(*len)--;
	}
	while (*len && is_blank((*s)[*len - 1]))
		(*len)--;
}

/* A decimal port 1..65535: digits only. */
static int parse_port(const char *s, size_t len, uint16_t *out)
{
	if (len == 0 || len > 5)
		return -1;
	unsigned v = 0;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (unsigned)(s[i] - '0');
	}
	if (v == 0 || v > 65535)
		return -1;
	*out = (uint16_t)v;
	return 0;
}

/* A literal v4 or v6 address (no brackets) into out (port untouched); v4-mapped v6 is
 * stored as v4. */
static int parse_ip(const char *s, size_t len, lota__preload_addr *out)
{
	char buf[INET6_ADDRSTRLEN];
	if (len == 0 || len >= sizeof(buf))
		return -1;
	memcpy(buf, s, len);
	buf[len] = '\0';
	uint8_t a[16];
	if (memchr(buf, ':', len)) {
		if (inet_pton(AF_INET6, buf, a) != 1)
			return -1;
		static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
		memset(out->addr, 0, sizeof(out->addr));
		if (memcmp(a, mapped, 12) == 0) {
			out->family = AF_INET;
			memcpy(out->addr, a + 12, 4);
		} else {
			out->family = AF_INET6;
			memcpy(out->addr, a, 16);
		}
		return 0;
	}
	if (inet_pton(AF_INET, buf, a) != 1)
		return -1;
	out->family = AF_INET;
	memset(out->addr, 0, sizeof(out->addr));
	memcpy(out->addr, a, 4);
	return 0;
}

/* A host name: dot-separated labels of [A-Za-z0-9_-], none empty, at most 253 bytes (a
 * trailing dot allowed and dropped). Stored lower case. */
static int parse_name(const char *s, size_t len, char *out)
{
	if (len > 0 && s[len - 1] == '.')
		len--;
	if (len == 0 || len > LOTA__PRELOAD_NAME_MAX)
		return -1;
	size_t label = 0;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		if (c == '.') {
			if (label == 0)
				return -1;
			label = 0;
		} else if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
		           c == '_') {
			label++;
		} else if (c >= 'A' && c <= 'Z') {
			c = (char)(c - 'A' + 'a');
			label++;
		} else {
			return -1;
		}
		if (label > 63)
			return -1;
		out[i] = c;
	}
	if (label == 0)
		return -1;
	out[len] = '\0';
	return 0;
}

/* Whether s (len bytes) starts with the scheme prefix lit, in any case. */
static bool has_prefix(const char *s, size_t len, const char *lit)
{
	size_t n = strlen(lit);
	if (len < n)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		if (c != lit[i])
			return false;
	}
	return true;
}

/* HOST[:PORT] of one redirect item into t. */
static int parse_target(const char *s, size_t len, lota__preload_target *t, char *why, size_t cap)
{
	memset(t, 0, sizeof(*t));
	const char *host = s, *port = NULL;
	size_t host_len = len, port_len = 0;
	if (len > 0 && s[0] == '[') {
		const char *close = memchr(s, ']', len);
		if (!close)
			return fail(why, cap, "'%.*s': '[' without ']'", (int)len, s);
		host = s + 1;
		host_len = (size_t)(close - host);
		size_t rest = len - (size_t)(close - s) - 1;
		if (rest > 0) {
			if (close[1] != ':')
				return fail(why, cap, "'%.*s': junk after ']'", (int)len, s);
			port = close + 2;
			port_len = rest - 1;
		}
		if (parse_ip(host, host_len, &t->addr) < 0 || !memchr(host, ':', host_len))
			return fail(why, cap, "'%.*s': not an IPv6 address in brackets", (int)len,
			            s);
		t->literal = true;
	} else {
		const char *c1 = memchr(s, ':', len);
		if (c1 && memchr(c1 + 1, ':', len - (size_t)(c1 - s) - 1)) {
			/* two colons or more: a bare v6 address, which cannot carry a port */
			if (parse_ip(s, len, &t->addr) < 0)
				return fail(why, cap,
				            "'%.*s': not an IPv6 address (write [ADDRESS]:PORT "
				            "for a port)",
				            (int)len, s);
			t->literal = true;
		} else {
			if (c1) {
				host_len = (size_t)(c1 - s);
				port = c1 + 1;
				port_len = len - host_len - 1;
			}
			if (parse_ip(host, host_len, &t->addr) == 0)
				t->literal = true;
			else if (parse_name(host, host_len, t->name) < 0)
				return fail(why, cap, "'%.*s': not a host name or address",
				            (int)len, s);
		}
	}
	if (port && parse_port(port, port_len, &t->port) < 0)
		return fail(why, cap, "'%.*s': port must be 1-65535", (int)len, s);
	t->addr.port = t->port;
	return 0;
}

void lota__preload_config_init(lota__preload_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->endpoint.family = AF_INET;
	cfg->endpoint.addr[0] = 127;
	cfg->endpoint.addr[3] = 1;
	cfg->endpoint.port = 8080;
	snprintf(cfg->ca_bundle, sizeof(cfg->ca_bundle), "%s", LOTA__PRELOAD_DEFAULT_CA);
}

/* One redirect item: [http://|https://]HOST[:PORT]. A scheme fixes the listener (and the
 * port, 80 or 443, when none is given); a bare v6 address needs brackets after it. */
static int parse_item(const char *s, size_t len, lota__preload_target *t, char *why, size_t cap)
{
	lota__preload_scheme scheme = LOTA__PRELOAD_BY_PORT;
	size_t skip = 0;
	if (has_prefix(s, len, "https://")) {
		scheme = LOTA__PRELOAD_HTTPS;
		skip = 8;
	} else if (has_prefix(s, len, "http://")) {
		scheme = LOTA__PRELOAD_HTTP;
		skip = 7;
	}
	if (skip == 0)
		return parse_target(s, len, t, why, cap);
	const char *rest = s + skip;
	size_t n = len - skip;
	if (n > 0 && rest[n - 1] == '/')
		n--; /* https://host/ is how a URL is often written: no path beyond it */
	if (n == 0 || memchr(rest, '/', n))
		return fail(why, cap, "'%.*s': a scheme takes HOST[:PORT] and no path", (int)len,
		            s);
	const char *c1 = rest[0] == '[' ? NULL : memchr(rest, ':', n);
	if (c1 && memchr(c1 + 1, ':', n - (size_t)(c1 - rest) - 1))
		return fail(why, cap, "'%.*s': write an IPv6 address as [ADDRESS]", (int)len, s);
	if (parse_target(rest, n, t, why, cap) < 0)
		return -1;
	t->scheme = scheme;
	if (t->port == 0)
		t->port = scheme == LOTA__PRELOAD_HTTPS ? 443 : 80;
	t->addr.port = t->port;
	return 0;
}

int lota__preload_parse_redirect(lota__preload_config *cfg, const char *s, size_t len, char *why,
                                 size_t cap)
{
	cfg->num_targets = 0;
	size_t i = 0;
	if (len > 0 && s[len - 1] == ',')
		return fail(why, cap, "empty item at the end of the list");
	while (i < len) {
		const char *item = s + i;
		const char *comma = memchr(item, ',', len - i);
		size_t n = comma ? (size_t)(comma - item) : len - i;
		i += n + (comma ? 1 : 0);
		trim(&item, &n);
		if (n == 0) {
			if (!comma && cfg->num_targets == 0 && i == len)
				break; /* the whole list is blank */
			return fail(why, cap, "empty item in the list");
		}
		if (cfg->num_targets == LOTA__PRELOAD_MAX_TARGETS)
			return fail(why, cap, "more than %d endpoints", LOTA__PRELOAD_MAX_TARGETS);
		if (parse_item(item, n, &cfg->targets[cfg->num_targets], why, cap) < 0)
			return -1;
		cfg->num_targets++;
	}
	return 0;
}

int lota__preload_parse_endpoint(const char *s, size_t len, lota__preload_addr *out, char *why,
                                 size_t cap)
{
	lota__preload_target t;
	trim(&s, &len);
	if (parse_target(s, len, &t, why, cap) < 0)
		return -1;
	if (!t.literal)
		return fail(why, cap, "'%.*s': an address is needed (no name lookup here)",
		            (int)len, s);
	if (t.port == 0)
		return fail(why, cap, "'%.*s': a port is needed (ADDRESS:PORT)", (int)len, s);
	*out = t.addr;
	return 0;
}

static bool key_is(const char *key, size_t key_len, const char *lit)
{
	return strlen(lit) == key_len && memcmp(key, lit, key_len) == 0;
}

int lota__preload_config_set(lota__preload_config *cfg, const char *key, size_t key_len,
                             const char *val, size_t val_len, char *why, size_t cap)
{
	char sub[LOTA__PRELOAD_WHY_MAX];
	sub[0] = '\0';
	int rc = 0;
	if (key_is(key, key_len, "redirect")) {
		rc = lota__preload_parse_redirect(cfg, val, val_len, sub, sizeof(sub));
	} else if (key_is(key, key_len, "endpoint")) {
		rc = lota__preload_parse_endpoint(val, val_len, &cfg->endpoint, sub, sizeof(sub));
	} else if (key_is(key, key_len, "tls_endpoint")) {
		trim(&val, &val_len);
		if (val_len == 0) {
			cfg->has_tls_endpoint = false;
		} else {
			rc = lota__preload_parse_endpoint(val, val_len, &cfg->tls_endpoint, sub,
			                                  sizeof(sub));
			cfg->has_tls_endpoint = rc == 0;
		}
	} else if (key_is(key, key_len, "ca_bundle")) {
		trim(&val, &val_len);
		if (val_len == 0 || val[0] != '/')
			snprintf(sub, sizeof(sub), "an absolute path is needed");
		else if (val_len >= sizeof(cfg->ca_bundle) || memchr(val, '\0', val_len))
			snprintf(sub, sizeof(sub), "path too long or with a NUL byte");
		if (sub[0])
			rc = -1;
		else {
			memcpy(cfg->ca_bundle, val, val_len);
			cfg->ca_bundle[val_len] = '\0';
		}
	} else {
		return fail(why, cap, "unknown key '%.*s'", (int)(key_len > 40 ? 40 : key_len),
		            key);
	}
	if (rc < 0)
		return fail(why, cap, "%.*s: %s", (int)key_len, key, sub);
	return 0;
}

int lota__preload_config_parse_file(lota__preload_config *cfg, const char *text, size_t len,
                                    char *why, size_t cap)
{
	size_t i = 0;
	unsigned line_no = 0;
	while (i < len) {
		const char *line = text + i;
		const char *nl = memchr(line, '\n', len - i);
		size_t n = nl ? (size_t)(nl - line) : len - i;
		i += n + (nl ? 1 : 0);
		line_no++;
		trim(&line, &n);
		if (n == 0 || line[0] == '#')
			continue;
		const char *eq = memchr(line, '=', n);
		if (!eq)
			return fail(why, cap, "line %u: no '=' (key = value)", line_no);
		const char *key = line, *val = eq + 1;
		size_t key_len = (size_t)(eq - line), val_len = n - key_len - 1;
		trim(&key, &key_len);
		trim(&val, &val_len);
		char sub[LOTA__PRELOAD_WHY_MAX];
		if (lota__preload_config_set(cfg, key, key_len, val, val_len, sub, sizeof(sub)) < 0)
			return fail(why, cap, "line %u: %s", line_no, sub);
	}
	return 0;
}

/* Reads at most LOTA__PRELOAD_FILE_MAX bytes of path into buf: length, or -1 + reason. */
static ssize_t read_file(const char *path, char *buf, size_t cap, char *why, size_t why_cap)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return fail(why, why_cap, "%s: %s", path, strerror(errno));
	size_t got = 0;
	ssize_t rc = -1;
	for (;;) {
		ssize_t n = read(fd, buf + got, cap - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			fail(why, why_cap, "%s: %s", path, strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		got += (size_t)n;
		if (got == cap) {
			fail(why, why_cap, "%s: larger than %d bytes", path,
			     LOTA__PRELOAD_FILE_MAX);
			goto out;
		}
	}
	rc = (ssize_t)got;
out:
	close(fd);
	return rc;
}

int lota__preload_config_load(lota__preload_config *cfg, const char *(*env)(const char *name),
                              char *why, size_t cap)
{
	static const struct {
		const char *var, *key;
	} vars[] = {
	    {"LOTA_REDIRECT", "redirect"},
	    {"LOTA_ENDPOINT", "endpoint"},
	    {"LOTA_TLS_ENDPOINT", "tls_endpoint"},
	    {"LOTA_CA_BUNDLE", "ca_bundle"},
	};
	lota__preload_config_init(cfg);
	const char *dbg = env("LOTA_PRELOAD_DEBUG");
	cfg->debug = dbg && dbg[0] && strcmp(dbg, "0") != 0;
	const char *path = env("LOTA_PRELOAD_CONFIG");
	if (path && path[0]) {
		char text[LOTA__PRELOAD_FILE_MAX];
		char sub[LOTA__PRELOAD_WHY_MAX];
		ssize_t n = read_file(path, text, sizeof(text), why, cap);
		if (n < 0)
			return -1;
		if (lota__preload_config_parse_file(cfg, text, (size_t)n, sub, sizeof(sub)) < 0)
			return fail(why, cap, "%s: %s", path, sub);
	}
	for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++) {
		const char *v = env(vars[i].var);
		if (!v)
			continue;
		char sub[LOTA__PRELOAD_WHY_MAX];
		if (lota__preload_config_set(cfg, vars[i].key, strlen(vars[i].key), v, strlen(v),
		                             sub, sizeof(sub)) < 0)
			return fail(why, cap, "%s: %s", vars[i].var, sub + strlen(vars[i].key) + 2);
	}
	return 0;
}

const lota__preload_addr *lota__preload_endpoint_for(const lota__preload_config *cfg, uint16_t port)
{
	bool tls = port == 443;
	for (size_t i = 0; i < cfg->num_targets; i++)
		if (cfg->targets[i].scheme != LOTA__PRELOAD_BY_PORT && cfg->targets[i].port == port)
			tls = cfg->targets[i].scheme == LOTA__PRELOAD_HTTPS;
	if (tls)
		return cfg->has_tls_endpoint ? &cfg->tls_endpoint : NULL;
	return &cfg->endpoint;
}

bool lota__preload_port_covers(uint16_t target_port, uint16_t port)
{
	if (target_port == 0)
		return port == 80 || port == 443;
	return target_port == port;
}

static bool eq_nocase(const char *a, const char *b, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char x = a[i], y = b[i];
		if (x >= 'A' && x <= 'Z')
			x = (char)(x - 'A' + 'a');
		if (x != y) /* b is lower case */
			return false;
	}
	return true;
}

bool lota__preload_name_matches(const lota__preload_target *t, const char *host, size_t host_len)
{
	if (t->literal || !host)
		return false;
	if (host_len > 0 && host[host_len - 1] == '.')
		host_len--;
	size_t n = strlen(t->name);
	if (host_len == n)
		return eq_nocase(host, t->name, n);
	/* <bucket>.NAME: virtual-hosted style names the same endpoint */
	return host_len > n + 1 && host[host_len - n - 1] == '.' &&
	       eq_nocase(host + host_len - n, t->name, n);
}

bool lota__preload_addr_equal(const lota__preload_addr *a, const lota__preload_addr *b)
{
	return a->family == b->family && a->port == b->port &&
	       memcmp(a->addr, b->addr, a->family == AF_INET ? 4 : 16) == 0;
}

bool lota__preload_literal_matches(const lota__preload_config *cfg, const lota__preload_addr *addr)
{
	for (size_t i = 0; i < cfg->num_targets; i++) {
		const lota__preload_target *t = &cfg->targets[i];
		if (t->literal && t->addr.family == addr->family &&
		    memcmp(t->addr.addr, addr->addr, addr->family == AF_INET ? 4 : 16) == 0 &&
		    lota__preload_port_covers(t->port, addr->port))
			return true;
	}
	return false;
}

unsigned lota__preload_ca_exports(const lota__preload_config *cfg, bool bundle_exists,
                                  const char *(*env)(const char *name))
{
	if (!cfg->has_tls_endpoint || !bundle_exists)
		return 0;
	bool tls = false;
	for (size_t i = 0; i < cfg->num_targets; i++)
		tls = tls || lota__preload_port_covers(cfg->targets[i].port, 443) ||
		      cfg->targets[i].scheme == LOTA__PRELOAD_HTTPS;
	if (!tls)
		return 0;
	unsigned bits = 0;
	for (unsigned i = 0; i < LOTA__PRELOAD_CA_VARS; i++)
		if (!env(lota__preload_ca_vars[i]))
			bits |= 1u << i;
	return bits;
}

int lota__preload_addr_from_sockaddr(const void *sa, size_t sa_len, lota__preload_addr *out)
{
	sa_family_t fam;
	if (!sa || sa_len < sizeof(fam))
		return -1;
	memcpy(&fam, sa, sizeof(fam));
	memset(out, 0, sizeof(*out));
	if (fam == AF_INET && sa_len >= sizeof(struct sockaddr_in)) {
		struct sockaddr_in in;
		memcpy(&in, sa, sizeof(in));
		out->family = AF_INET;
		memcpy(out->addr, &in.sin_addr, 4);
		out->port = ntohs(in.sin_port);
		return 0;
	}
	if (fam == AF_INET6 && sa_len >= sizeof(struct sockaddr_in6)) {
		struct sockaddr_in6 in6;
		memcpy(&in6, sa, sizeof(in6));
		out->port = ntohs(in6.sin6_port);
		if (IN6_IS_ADDR_V4MAPPED(&in6.sin6_addr)) {
			out->family = AF_INET;
			memcpy(out->addr, in6.sin6_addr.s6_addr + 12, 4);
		} else {
			out->family = AF_INET6;
			memcpy(out->addr, in6.sin6_addr.s6_addr, 16);
		}
		return 0;
	}
	return -1;
}
