/*
 * fuzz_preload_config.c - libFuzzer harness for the LD_PRELOAD shim's configuration
 * parser (preload/config.c, compiled in): the input is a config file's text, and the
 * same bytes as a LOTA_REDIRECT list and as a listener address. Whatever is accepted
 * keeps config.h's invariants: at most LOTA__PRELOAD_MAX_TARGETS targets, names lower
 * case of [a-z0-9._-] without empty labels or a trailing dot, addresses of a known
 * family (v4-mapped stored as v4), an http:// or https:// item has a port, a refusal
 * always says why.
 */
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "../../preload/config.h"

static void check_target(const lota__preload_target *t)
{
	/* an http:// or https:// item always names its port (80 or 443 by default) */
	if (t->scheme != LOTA__PRELOAD_BY_PORT && (t->port == 0 || t->addr.port != t->port))
		abort();
	if (t->scheme > LOTA__PRELOAD_HTTPS)
		abort();
	if (t->literal) {
		if (t->addr.family != AF_INET && t->addr.family != AF_INET6)
			abort();
		static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
		if (t->addr.family == AF_INET6 && memcmp(t->addr.addr, mapped, 12) == 0)
			abort();
		if (t->addr.port != t->port)
			abort();
		return;
	}
	size_t n = strnlen(t->name, sizeof(t->name));
	if (n == 0 || n > LOTA__PRELOAD_NAME_MAX || t->name[0] == '.' || t->name[n - 1] == '.')
		abort();
	for (size_t i = 0; i < n; i++) {
		char c = t->name[i];
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
		      c == '.'))
			abort();
		if (c == '.' && t->name[i + 1] == '.')
			abort();
	}
	/* a name matches itself, in upper case too, and as a bucket's name */
	if (!lota__preload_name_matches(t, t->name, n))
		abort();
	char v[LOTA__PRELOAD_NAME_MAX + 8] = "b.";
	memcpy(v + 2, t->name, n);
	if (!lota__preload_name_matches(t, v, n + 2))
		abort();
}

static void check(const lota__preload_config *cfg)
{
	if (cfg->num_targets > LOTA__PRELOAD_MAX_TARGETS)
		abort();
	for (size_t i = 0; i < cfg->num_targets; i++)
		check_target(&cfg->targets[i]);
	if (cfg->endpoint.port == 0 || (cfg->has_tls_endpoint && cfg->tls_endpoint.port == 0))
		abort();
	if (memchr(cfg->ca_bundle, '\0', sizeof(cfg->ca_bundle)) == NULL ||
	    cfg->ca_bundle[0] != '/')
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static lota__preload_config cfg;
	char why[LOTA__PRELOAD_WHY_MAX];
	const char *s = (const char *)data;

	lota__preload_config_init(&cfg);
	why[0] = '\0';
	if (lota__preload_config_parse_file(&cfg, s, size, why, sizeof(why)) == 0)
		check(&cfg);
	else if (why[0] == '\0')
		abort();

	lota__preload_config_init(&cfg);
	why[0] = '\0';
	if (lota__preload_parse_redirect(&cfg, s, size, why, sizeof(why)) == 0)
		check(&cfg);
	else if (why[0] == '\0')
		abort();

	lota__preload_addr ep;
	why[0] = '\0';
	if (lota__preload_parse_endpoint(s, size, &ep, why, sizeof(why)) == 0) {
		if ((ep.family != AF_INET && ep.family != AF_INET6) || ep.port == 0)
			abort();
	} else if (why[0] == '\0') {
		abort();
	}
	return 0;
}
