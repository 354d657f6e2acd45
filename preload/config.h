/*
 * config.h - the LD_PRELOAD shim's configuration as data: which endpoints are redirected
 * (LOTA_REDIRECT, names or literal addresses with an optional port), where lotad listens
 * (LOTA_ENDPOINT, LOTA_TLS_ENDPOINT), the CA bundle to export, read from the environment
 * and from a key=value file (LOTA_PRELOAD_CONFIG). Pure functions over fixed-size storage:
 * no allocation, so the unit tests and the fuzzer compile this file alone.
 *
 * Invariants of a parsed config: at most LOTA__PRELOAD_MAX_TARGETS targets; a name target
 * is lower case, without a trailing dot, made of [a-z0-9._-] labels; an address is a v4
 * address, or a v6 one that is not v4-mapped (those are stored as v4, so one comparison
 * covers both spellings of an address).
 */
#ifndef LOTA_PRELOAD_CONFIG_H
#define LOTA_PRELOAD_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LOTA__PRELOAD_MAX_TARGETS 32
#define LOTA__PRELOAD_NAME_MAX    253
#define LOTA__PRELOAD_PATH_MAX    1024
#define LOTA__PRELOAD_FILE_MAX    65536 /* a bigger config file is refused */
#define LOTA__PRELOAD_WHY_MAX     160   /* room for the reason of a refusal */
#define LOTA__PRELOAD_DEFAULT_CA  "/var/lib/lota/ca/bundle.pem"

/* An endpoint address: family AF_INET (addr[0..3]) or AF_INET6; port in host order. */
typedef struct {
	int family;
	uint8_t addr[16];
	uint16_t port;
} lota__preload_addr;

/* Which lotad listener a redirected endpoint's connects go to. */
typedef enum {
	LOTA__PRELOAD_BY_PORT = 0, /* HOST[:PORT]: 443 to the TLS listener, others plain */
	LOTA__PRELOAD_HTTP,        /* http://HOST[:PORT]: the plain listener */
	LOTA__PRELOAD_HTTPS,       /* https://HOST[:PORT]: the TLS listener, on any port */
} lota__preload_scheme;

/* One redirected endpoint. port 0 (none given) stands for both 80 and 443; an item with
 * a scheme always has a port (80 or 443 when it names none). */
typedef struct {
	bool literal; /* an address (addr) rather than a name (name) */
	lota__preload_scheme scheme;
	char name[LOTA__PRELOAD_NAME_MAX + 1];
	lota__preload_addr addr; /* when literal; addr.port == port */
	uint16_t port;
} lota__preload_target;

typedef struct {
	lota__preload_target targets[LOTA__PRELOAD_MAX_TARGETS];
	size_t num_targets;
	lota__preload_addr endpoint; /* lotad's plain listener */
	lota__preload_addr tls_endpoint;
	bool has_tls_endpoint;
	char ca_bundle[LOTA__PRELOAD_PATH_MAX];
	bool debug;
} lota__preload_config;

/* The names the CA bundle is exported through, in the order they are set. */
#define LOTA__PRELOAD_CA_VARS 4
extern const char *const lota__preload_ca_vars[LOTA__PRELOAD_CA_VARS];

/* Defaults: no target, endpoint 127.0.0.1:8080, no TLS endpoint, the default bundle. */
void lota__preload_config_init(lota__preload_config *cfg);

/* A comma-separated HOST[:PORT] list (HOST a name, a v4 address, [v6] or a bare v6
 * address without port), each item maybe prefixed by http:// or https:// (then HOST is
 * not a bare v6 address and no path follows), replacing the targets. Blanks around items are ignored; an empty
 * list is no target. 0, or -1 with the reason in why (cfg's targets then undefined). */
int lota__preload_parse_redirect(lota__preload_config *cfg, const char *s, size_t len, char *why,
                                 size_t why_cap);

/* A listener ADDRESS:PORT (v4, or [v6]:PORT): 0, or -1 with the reason. */
int lota__preload_parse_endpoint(const char *s, size_t len, lota__preload_addr *out, char *why,
                                 size_t why_cap);

/* One setting by key (redirect, endpoint, tls_endpoint, ca_bundle): 0 or -1 + reason. */
int lota__preload_config_set(lota__preload_config *cfg, const char *key, size_t key_len,
                             const char *val, size_t val_len, char *why, size_t why_cap);

/* The text of a config file: `key = value` lines, blank lines and `#` comment lines.
 * An unknown key, a line without '=' or a bad value refuses the whole file (-1 + reason,
 * naming the line). A repeated key: the last one counts. */
int lota__preload_config_parse_file(lota__preload_config *cfg, const char *text, size_t len,
                                    char *why, size_t why_cap);

/* The whole configuration of a process: defaults, then the file named by
 * LOTA_PRELOAD_CONFIG, then LOTA_REDIRECT, LOTA_ENDPOINT, LOTA_TLS_ENDPOINT and
 * LOTA_CA_BUNDLE from env() (getenv in the shim, a table in the tests), each overriding
 * the file's. 0, or -1 with the reason. */
int lota__preload_config_load(lota__preload_config *cfg, const char *(*env)(const char *name),
                              char *why, size_t why_cap);

/* The listener a connect to a redirected endpoint on port goes to: when a target with a
 * scheme names that port, its scheme decides (https: the TLS one, http: the plain one);
 * otherwise the TLS one for 443, the plain one for any other port. NULL when TLS is
 * wanted and there is no TLS listener: such connects are left alone. The decision is by
 * port: endpoints on one port share one scheme. */
const lota__preload_addr *lota__preload_endpoint_for(const lota__preload_config *cfg,
                                                     uint16_t port);

/* Whether a target's port (0 = 80 and 443) covers a connect to port. */
bool lota__preload_port_covers(uint16_t target_port, uint16_t port);

/* Whether host (as a program passed it to the resolver, any case, maybe a trailing dot)
 * is target t's name or a virtual-hosted `<bucket>.` in front of it. */
bool lota__preload_name_matches(const lota__preload_target *t, const char *host, size_t host_len);

/* Whether addr:port is one of the literal targets. */
bool lota__preload_literal_matches(const lota__preload_config *cfg, const lota__preload_addr *addr);

/* Which of lota__preload_ca_vars to set to cfg->ca_bundle: only when a target covers 443
 * or is https://,
 * a TLS endpoint is configured, the bundle exists (bundle_exists) and the user has not
 * set the variable (env returns NULL). Bit i of the result stands for variable i. */
unsigned lota__preload_ca_exports(const lota__preload_config *cfg, bool bundle_exists,
                                  const char *(*env)(const char *name));

/* addr from a sockaddr_in / sockaddr_in6 (v4-mapped v6 becomes v4): 0, or -1 for another
 * family or a short length. */
int lota__preload_addr_from_sockaddr(const void *sa, size_t sa_len, lota__preload_addr *out);

bool lota__preload_addr_equal(const lota__preload_addr *a, const lota__preload_addr *b);

#endif
