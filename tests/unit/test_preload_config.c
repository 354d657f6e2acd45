/*
 * test_preload_config.c - the LD_PRELOAD shim's configuration (preload/config.c) and its
 * address table (preload/table.c), compiled into this suite: LOTA_REDIRECT lists (names,
 * v4, [v6], bare v6, ports) and what they refuse, listener addresses, the key=value file,
 * the environment over the file, which connects are covered, name matching
 * (virtual-hosted, case, trailing dot), the CA bundle export decision, and the table
 * (ports, v4-mapped, reuse when full).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../../preload/config.h"
#include "../../preload/table.h"
#include "unit.h"

static lota__preload_config cfg;
static lota__preload_table tab;
static char why[LOTA__PRELOAD_WHY_MAX];

/* A fake environment: NAME=VALUE strings, NULL-terminated. */
static const char *const *fake_env;
static const char *env_fake(const char *name)
{
	size_t n = strlen(name);
	for (const char *const *e = fake_env; e && *e; e++)
		if (strncmp(*e, name, n) == 0 && (*e)[n] == '=')
			return *e + n + 1;
	return NULL;
}

static int redirect(const char *s)
{
	lota__preload_config_init(&cfg);
	why[0] = '\0';
	return lota__preload_parse_redirect(&cfg, s, strlen(s), why, sizeof(why));
}

static lota__preload_addr v4(const char *ip, uint16_t port)
{
	lota__preload_addr a;
	memset(&a, 0, sizeof(a));
	a.family = AF_INET;
	CU_ASSERT_EQUAL_FATAL(inet_pton(AF_INET, ip, a.addr), 1);
	a.port = port;
	return a;
}

static lota__preload_addr v6(const char *ip, uint16_t port)
{
	lota__preload_addr a;
	memset(&a, 0, sizeof(a));
	a.family = AF_INET6;
	CU_ASSERT_EQUAL_FATAL(inet_pton(AF_INET6, ip, a.addr), 1);
	a.port = port;
	return a;
}

static void test_redirect_forms(void)
{
	CU_ASSERT_EQUAL(redirect("cwobject.com:443, CWObject.com.:80 ,s3.example"), 0);
	CU_ASSERT_EQUAL(cfg.num_targets, 3);
	CU_ASSERT_FALSE(cfg.targets[0].literal);
	CU_ASSERT_STRING_EQUAL(cfg.targets[0].name, "cwobject.com");
	CU_ASSERT_EQUAL(cfg.targets[0].port, 443);
	CU_ASSERT_STRING_EQUAL(cfg.targets[1].name, "cwobject.com"); /* lower, no dot */
	CU_ASSERT_EQUAL(cfg.targets[1].port, 80);
	CU_ASSERT_EQUAL(cfg.targets[2].port, 0); /* no port: 80 and 443 */

	CU_ASSERT_EQUAL(redirect("127.0.0.1:7480,[::1]:8443,fd00::5,[::ffff:10.0.0.9]"), 0);
	CU_ASSERT_EQUAL(cfg.num_targets, 4);
	lota__preload_addr a = v4("127.0.0.1", 7480);
	CU_ASSERT_TRUE(cfg.targets[0].literal);
	CU_ASSERT_TRUE(lota__preload_addr_equal(&cfg.targets[0].addr, &a));
	a = v6("::1", 8443);
	CU_ASSERT_TRUE(lota__preload_addr_equal(&cfg.targets[1].addr, &a));
	a = v6("fd00::5", 0);
	CU_ASSERT_TRUE(lota__preload_addr_equal(&cfg.targets[2].addr, &a));
	a = v4("10.0.0.9", 0); /* v4-mapped is stored as v4 */
	CU_ASSERT_TRUE(lota__preload_addr_equal(&cfg.targets[3].addr, &a));

	CU_ASSERT_EQUAL(redirect(""), 0);
	CU_ASSERT_EQUAL(cfg.num_targets, 0);
	CU_ASSERT_EQUAL(redirect("  "), 0);
	CU_ASSERT_EQUAL(cfg.num_targets, 0);
	CU_ASSERT_EQUAL(redirect("a_b-c.d9:65535"), 0);
}

static void test_redirect_refused(void)
{
	static const char *const bad[] = {
	    "a,,b",         /* empty item */
	    "a,",           /* trailing comma */
	    ",a",           /* leading comma */
	    "host:0",       /* port 0 */
	    "host:65536",   /* too big */
	    "host:+80",     /* sign */
	    "host:8o",      /* not digits */
	    "host:",        /* empty port */
	    "host:123456",  /* too long */
	    "ho st",        /* blank inside */
	    "a..b",         /* empty label */
	    ".a",           /* empty first label */
	    "a/b",          /* not a name character */
	    "[::1",         /* no ']' */
	    "[::1]x",       /* junk after ']' */
	    "[::1]:",       /* empty port */
	    "[1.2.3.4]:80", /* brackets around v4 */
	    "[host]:80",    /* brackets around a name */
	    "1:2:3",        /* neither v6 nor host:port */
	    "fe80::1:80:x", /* bad v6 */
	    "\xff",         /* not ASCII */
	    ":80",          /* no host */
	    "é.com",        /* not ASCII */
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int rc = redirect(bad[i]);
		if (rc == 0)
			fprintf(stderr, "accepted: '%s'\n", bad[i]);
		CU_ASSERT_EQUAL(rc, -1);
		CU_ASSERT_NOT_EQUAL(why[0], '\0');
	}
	/* a label of 64 bytes, a name of 254 */
	char name[300];
	memset(name, 'a', 64);
	name[64] = '\0';
	CU_ASSERT_EQUAL(redirect(name), -1);
	memset(name, 'a', 63);
	name[63] = '\0';
	CU_ASSERT_EQUAL(redirect(name), 0);
	for (int i = 0; i < 255; i++)
		name[i] = i % 2 ? '.' : 'a';
	name[255] = '\0'; /* 255 bytes */
	CU_ASSERT_EQUAL(redirect(name), -1);
	name[253] = '\0'; /* 253 bytes ending in a label */
	CU_ASSERT_EQUAL(redirect(name), 0);
	/* at most LOTA__PRELOAD_MAX_TARGETS */
	char list[1024] = "";
	for (int i = 0; i < LOTA__PRELOAD_MAX_TARGETS; i++)
		strcat(list, i ? ",h" : "h");
	CU_ASSERT_EQUAL(redirect(list), 0);
	CU_ASSERT_EQUAL(cfg.num_targets, LOTA__PRELOAD_MAX_TARGETS);
	strcat(list, ",h");
	CU_ASSERT_EQUAL(redirect(list), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(why, "more than"));
}

static void test_endpoint(void)
{
	lota__preload_addr ep, want;
	CU_ASSERT_EQUAL(lota__preload_parse_endpoint("127.0.0.1:9000", 14, &ep, why, sizeof(why)),
	                0);
	want = v4("127.0.0.1", 9000);
	CU_ASSERT_TRUE(lota__preload_addr_equal(&ep, &want));
	CU_ASSERT_EQUAL(lota__preload_parse_endpoint(" [::1]:8443 ", 12, &ep, why, sizeof(why)), 0);
	want = v6("::1", 8443);
	CU_ASSERT_TRUE(lota__preload_addr_equal(&ep, &want));
	CU_ASSERT_EQUAL(lota__preload_parse_endpoint("localhost:8080", 14, &ep, why, sizeof(why)),
	                -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(why, "address is needed"));
	CU_ASSERT_EQUAL(lota__preload_parse_endpoint("127.0.0.1", 9, &ep, why, sizeof(why)), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(why, "port is needed"));
	CU_ASSERT_EQUAL(lota__preload_parse_endpoint("::1", 3, &ep, why, sizeof(why)), -1);
	CU_ASSERT_EQUAL(lota__preload_parse_endpoint("", 0, &ep, why, sizeof(why)), -1);
	CU_ASSERT_EQUAL(lota__preload_parse_endpoint("1.2.3.4:99999", 13, &ep, why, sizeof(why)),
	                -1);

	/* defaults */
	lota__preload_config_init(&cfg);
	want = v4("127.0.0.1", 8080);
	CU_ASSERT_TRUE(lota__preload_addr_equal(&cfg.endpoint, &want));
	CU_ASSERT_FALSE(cfg.has_tls_endpoint);
	CU_ASSERT_STRING_EQUAL(cfg.ca_bundle, LOTA__PRELOAD_DEFAULT_CA);
	/* 443 goes to the TLS listener, or nowhere when there is none */
	CU_ASSERT_PTR_NULL(lota__preload_endpoint_for(&cfg, 443));
	CU_ASSERT_PTR_EQUAL(lota__preload_endpoint_for(&cfg, 80), &cfg.endpoint);
	CU_ASSERT_PTR_EQUAL(lota__preload_endpoint_for(&cfg, 7480), &cfg.endpoint);
	cfg.has_tls_endpoint = true;
	CU_ASSERT_PTR_EQUAL(lota__preload_endpoint_for(&cfg, 443), &cfg.tls_endpoint);
}

static int file(const char *text)
{
	lota__preload_config_init(&cfg);
	why[0] = '\0';
	return lota__preload_config_parse_file(&cfg, text, strlen(text), why, sizeof(why));
}

/* http:// and https:// items: a listener chosen by scheme on any port; the plain form
 * keeps the port rule. */
static void test_redirect_schemes(void)
{
	CU_ASSERT_EQUAL(redirect("https://localhost:8443,HTTP://s3.example,https://[::1],"
	                         "https://10.0.0.7:9000/,cwobject.com"),
	                0);
	CU_ASSERT_EQUAL(cfg.num_targets, 5);
	CU_ASSERT_EQUAL(cfg.targets[0].scheme, LOTA__PRELOAD_HTTPS);
	CU_ASSERT_STRING_EQUAL(cfg.targets[0].name, "localhost");
	CU_ASSERT_EQUAL(cfg.targets[0].port, 8443);
	CU_ASSERT_EQUAL(cfg.targets[1].scheme, LOTA__PRELOAD_HTTP);
	CU_ASSERT_EQUAL(cfg.targets[1].port, 80); /* the scheme's port when none is given */
	CU_ASSERT_EQUAL(cfg.targets[2].scheme, LOTA__PRELOAD_HTTPS);
	CU_ASSERT_EQUAL(cfg.targets[2].port, 443);
	lota__preload_addr a = v6("::1", 443);
	CU_ASSERT_TRUE(lota__preload_addr_equal(&cfg.targets[2].addr, &a));
	a = v4("10.0.0.7", 9000);
	CU_ASSERT_TRUE(cfg.targets[3].literal);
	CU_ASSERT_TRUE(lota__preload_addr_equal(&cfg.targets[3].addr, &a));
	CU_ASSERT_TRUE(lota__preload_literal_matches(&cfg, &a));
	CU_ASSERT_EQUAL(cfg.targets[4].scheme, LOTA__PRELOAD_BY_PORT);
	CU_ASSERT_EQUAL(cfg.targets[4].port, 0);

	/* which listener: https's port goes to TLS, 443 still does, others stay plain */
	CU_ASSERT_PTR_NULL(lota__preload_endpoint_for(&cfg, 8443)); /* no TLS listener */
	cfg.has_tls_endpoint = true;
	CU_ASSERT_PTR_EQUAL(lota__preload_endpoint_for(&cfg, 8443), &cfg.tls_endpoint);
	CU_ASSERT_PTR_EQUAL(lota__preload_endpoint_for(&cfg, 9000), &cfg.tls_endpoint);
	CU_ASSERT_PTR_EQUAL(lota__preload_endpoint_for(&cfg, 443), &cfg.tls_endpoint);
	CU_ASSERT_PTR_EQUAL(lota__preload_endpoint_for(&cfg, 80), &cfg.endpoint);
	CU_ASSERT_PTR_EQUAL(lota__preload_endpoint_for(&cfg, 8080), &cfg.endpoint);
	/* http:// on 443 is plain; a scheme's port is exact, not 80 and 443 */
	CU_ASSERT_EQUAL(redirect("http://s3.example:443"), 0);
	cfg.has_tls_endpoint = true;
	CU_ASSERT_PTR_EQUAL(lota__preload_endpoint_for(&cfg, 443), &cfg.endpoint);
	CU_ASSERT_FALSE(lota__preload_port_covers(cfg.targets[0].port, 80));
	/* an https item asks for the bundle, on any port */
	fake_env = NULL;
	CU_ASSERT_EQUAL(redirect("https://localhost:8443"), 0);
	cfg.has_tls_endpoint = true;
	CU_ASSERT_EQUAL(lota__preload_ca_exports(&cfg, true, env_fake),
	                (1u << LOTA__PRELOAD_CA_VARS) - 1);
	CU_ASSERT_EQUAL(redirect("http://localhost:8443"), 0);
	cfg.has_tls_endpoint = true;
	CU_ASSERT_EQUAL(lota__preload_ca_exports(&cfg, true, env_fake), 0);

	static const char *const bad[] = {
	    "https://",             /* no host */
	    "http:///",             /* no host */
	    "https://host/path",    /* a path */
	    "https://host:0",       /* port 0 */
	    "https://host:",        /* empty port */
	    "https://::1",          /* a bare v6 address */
	    "https://fd00::1:443",  /* the same, with what looks like a port */
	    "ftp://host",           /* another scheme */
	    "https:/host",          /* one slash */
	    "https://https://host", /* twice */
	    "https://user@host",    /* user info */
	    "https://host:443//",   /* two slashes */
	    "https://[::1]:x",      /* bad port */
	    "https://ho st",        /* blank inside */
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int rc = redirect(bad[i]);
		if (rc == 0)
			fprintf(stderr, "accepted: '%s'\n", bad[i]);
		CU_ASSERT_EQUAL(rc, -1);
		CU_ASSERT_NOT_EQUAL(why[0], '\0');
	}
}

static void test_file(void)
{
	CU_ASSERT_EQUAL(file("# lota shim\n\n  redirect = s3.example:443, 10.1.2.3:80\r\n"
	                     "endpoint=127.0.0.1:9000\ntls_endpoint = 127.0.0.1:9443\n"
	                     "ca_bundle = /etc/lota/bundle.pem\n   # done"),
	                0);
	CU_ASSERT_EQUAL(cfg.num_targets, 2);
	CU_ASSERT_EQUAL(cfg.endpoint.port, 9000);
	CU_ASSERT_TRUE(cfg.has_tls_endpoint);
	CU_ASSERT_EQUAL(cfg.tls_endpoint.port, 9443);
	CU_ASSERT_STRING_EQUAL(cfg.ca_bundle, "/etc/lota/bundle.pem");
	CU_ASSERT_EQUAL(file(""), 0);
	CU_ASSERT_EQUAL(file("redirect = a\nredirect = b:1\n"), 0); /* the last one */
	CU_ASSERT_EQUAL(cfg.num_targets, 1);
	CU_ASSERT_EQUAL(cfg.targets[0].port, 1);
	CU_ASSERT_EQUAL(file("tls_endpoint = 127.0.0.1:1\ntls_endpoint =\n"), 0);
	CU_ASSERT_FALSE(cfg.has_tls_endpoint);

	CU_ASSERT_EQUAL(file("redirect = a\nbogus = 1\n"), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(why, "line 2"));
	CU_ASSERT_PTR_NOT_NULL(strstr(why, "unknown key 'bogus'"));
	CU_ASSERT_EQUAL(file("redirect a\n"), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(why, "line 1: no '='"));
	CU_ASSERT_EQUAL(file("\n\nendpoint = nowhere:1\n"), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(why, "line 3: endpoint:"));
	CU_ASSERT_EQUAL(file("redirect = a,,b\n"), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(why, "redirect: empty item"));
	CU_ASSERT_EQUAL(file("ca_bundle = relative.pem\n"), -1);
	CU_ASSERT_EQUAL(file("ca_bundle =\n"), -1);
	CU_ASSERT_EQUAL(file("Redirect = a\n"), -1); /* keys are lower case */
	CU_ASSERT_EQUAL(file("= a\n"), -1);
	CU_ASSERT_EQUAL(
	    lota__preload_config_parse_file(&cfg, "redirect = a\0b", 14, why, sizeof(why)),
	    -1); /* a NUL byte is no name character */
}

static void test_load(void)
{
	char dir[256], path[300];
	CU_ASSERT_TRUE_FATAL(lota_unit_tmpdir("preload", dir, sizeof(dir)));
	snprintf(path, sizeof(path), "%s/shim.conf", dir);
	FILE *f = fopen(path, "w");
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	fputs("redirect = from-file:80\nendpoint = 127.0.0.1:1111\n", f);
	fclose(f);
	char cfgvar[320];
	snprintf(cfgvar, sizeof(cfgvar), "LOTA_PRELOAD_CONFIG=%s", path);

	const char *const only_file[] = {cfgvar, NULL};
	fake_env = only_file;
	CU_ASSERT_EQUAL(lota__preload_config_load(&cfg, env_fake, why, sizeof(why)), 0);
	CU_ASSERT_EQUAL(cfg.num_targets, 1);
	CU_ASSERT_STRING_EQUAL(cfg.targets[0].name, "from-file");
	CU_ASSERT_EQUAL(cfg.endpoint.port, 1111);
	CU_ASSERT_FALSE(cfg.debug);

	/* the environment overrides the file, key by key */
	const char *const both[] = {cfgvar, "LOTA_REDIRECT=from-env:81,x", "LOTA_PRELOAD_DEBUG=1",
	                            "LOTA_TLS_ENDPOINT=[::1]:2222", NULL};
	fake_env = both;
	CU_ASSERT_EQUAL(lota__preload_config_load(&cfg, env_fake, why, sizeof(why)), 0);
	CU_ASSERT_EQUAL(cfg.num_targets, 2);
	CU_ASSERT_STRING_EQUAL(cfg.targets[0].name, "from-env");
	CU_ASSERT_EQUAL(cfg.endpoint.port, 1111);
	CU_ASSERT_TRUE(cfg.has_tls_endpoint);
	CU_ASSERT_TRUE(cfg.debug);

	/* nothing set: defaults, no target */
	fake_env = NULL;
	CU_ASSERT_EQUAL(lota__preload_config_load(&cfg, env_fake, why, sizeof(why)), 0);
	CU_ASSERT_EQUAL(cfg.num_targets, 0);
	const char *const dbg0[] = {"LOTA_PRELOAD_DEBUG=0", NULL};
	fake_env = dbg0;
	CU_ASSERT_EQUAL(lota__preload_config_load(&cfg, env_fake, why, sizeof(why)), 0);
	CU_ASSERT_FALSE(cfg.debug);

	/* refusals name the variable or the file */
	const char *const bad_env[] = {"LOTA_ENDPOINT=somewhere", NULL};
	fake_env = bad_env;
	CU_ASSERT_EQUAL(lota__preload_config_load(&cfg, env_fake, why, sizeof(why)), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(why, "LOTA_ENDPOINT: "));
	const char *const missing[] = {"LOTA_PRELOAD_CONFIG=/nonexistent/lota.conf", NULL};
	fake_env = missing;
	CU_ASSERT_EQUAL(lota__preload_config_load(&cfg, env_fake, why, sizeof(why)), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(why, "/nonexistent/lota.conf"));
	f = fopen(path, "w");
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	fputs("redirect = ok\nwhat\n", f);
	fclose(f);
	fake_env = only_file;
	CU_ASSERT_EQUAL(lota__preload_config_load(&cfg, env_fake, why, sizeof(why)), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(why, "line 2"));
	CU_ASSERT_PTR_NOT_NULL(strstr(why, path));
	/* too big a file */
	f = fopen(path, "w");
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	for (int i = 0; i < LOTA__PRELOAD_FILE_MAX / 10 + 1; i++)
		fputs("#########\n", f);
	fclose(f);
	CU_ASSERT_EQUAL(lota__preload_config_load(&cfg, env_fake, why, sizeof(why)), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(why, "larger than"));
	fake_env = NULL;
	lota_unit_rmtree(dir);
}

static void test_matching(void)
{
	CU_ASSERT_TRUE(lota__preload_port_covers(0, 80));
	CU_ASSERT_TRUE(lota__preload_port_covers(0, 443));
	CU_ASSERT_FALSE(lota__preload_port_covers(0, 8080));
	CU_ASSERT_TRUE(lota__preload_port_covers(7480, 7480));
	CU_ASSERT_FALSE(lota__preload_port_covers(7480, 80));

	CU_ASSERT_EQUAL(redirect("cwobject.com:443,10.0.0.1:80,[fd00::1]"), 0);
	const lota__preload_target *t = &cfg.targets[0];
	CU_ASSERT_TRUE(lota__preload_name_matches(t, "cwobject.com", 12));
	CU_ASSERT_TRUE(lota__preload_name_matches(t, "CWOBJECT.COM.", 13));
	CU_ASSERT_TRUE(lota__preload_name_matches(t, "bucket.cwobject.com", 19));
	CU_ASSERT_FALSE(lota__preload_name_matches(t, "xcwobject.com", 13));
	CU_ASSERT_FALSE(lota__preload_name_matches(t, ".cwobject.com", 13));
	CU_ASSERT_FALSE(lota__preload_name_matches(t, "cwobject.co", 11));
	CU_ASSERT_FALSE(lota__preload_name_matches(t, "cwobject.com.evil", 17));
	CU_ASSERT_FALSE(lota__preload_name_matches(&cfg.targets[1], "10.0.0.1", 8));

	lota__preload_addr a = v4("10.0.0.1", 80);
	CU_ASSERT_TRUE(lota__preload_literal_matches(&cfg, &a));
	a.port = 443;
	CU_ASSERT_FALSE(lota__preload_literal_matches(&cfg, &a));
	a = v4("10.0.0.2", 80);
	CU_ASSERT_FALSE(lota__preload_literal_matches(&cfg, &a));
	a = v6("fd00::1", 443);
	CU_ASSERT_TRUE(lota__preload_literal_matches(&cfg, &a));
	a.port = 8443;
	CU_ASSERT_FALSE(lota__preload_literal_matches(&cfg, &a));

	/* sockaddrs: v4, v6, v4-mapped v6 as v4, other families and short lengths refused */
	struct sockaddr_in in = {.sin_family = AF_INET, .sin_port = htons(80)};
	inet_pton(AF_INET, "10.0.0.1", &in.sin_addr);
	CU_ASSERT_EQUAL(lota__preload_addr_from_sockaddr(&in, sizeof(in), &a), 0);
	CU_ASSERT_TRUE(lota__preload_literal_matches(&cfg, &a));
	CU_ASSERT_EQUAL(lota__preload_addr_from_sockaddr(&in, sizeof(in) - 1, &a), -1);
	struct sockaddr_in6 in6 = {.sin6_family = AF_INET6, .sin6_port = htons(80)};
	inet_pton(AF_INET6, "::ffff:10.0.0.1", &in6.sin6_addr);
	CU_ASSERT_EQUAL(lota__preload_addr_from_sockaddr(&in6, sizeof(in6), &a), 0);
	CU_ASSERT_EQUAL(a.family, AF_INET);
	CU_ASSERT_TRUE(lota__preload_literal_matches(&cfg, &a));
	struct sockaddr un = {.sa_family = AF_UNIX};
	CU_ASSERT_EQUAL(lota__preload_addr_from_sockaddr(&un, sizeof(un), &a), -1);
	CU_ASSERT_EQUAL(lota__preload_addr_from_sockaddr(NULL, 0, &a), -1);
}

static void test_ca_exports(void)
{
	const unsigned all = (1u << LOTA__PRELOAD_CA_VARS) - 1;
	fake_env = NULL;
	CU_ASSERT_EQUAL(redirect("cwobject.com:443"), 0);
	CU_ASSERT_EQUAL(lota__preload_ca_exports(&cfg, true, env_fake), 0); /* no TLS listener */
	cfg.has_tls_endpoint = true;
	CU_ASSERT_EQUAL(lota__preload_ca_exports(&cfg, true, env_fake), all);
	CU_ASSERT_EQUAL(lota__preload_ca_exports(&cfg, false, env_fake), 0); /* no bundle */
	/* a variable the user set is left alone, even empty */
	const char *const user[] = {"AWS_CA_BUNDLE=/mine.pem", "SSL_CERT_FILE=", NULL};
	fake_env = user;
	CU_ASSERT_EQUAL(lota__preload_ca_exports(&cfg, true, env_fake), all & ~1u & ~4u);
	CU_ASSERT_STRING_EQUAL(lota__preload_ca_vars[0], "SSL_CERT_FILE");
	CU_ASSERT_STRING_EQUAL(lota__preload_ca_vars[2], "AWS_CA_BUNDLE");
	fake_env = NULL;
	/* no target on 443: nothing to trust */
	CU_ASSERT_EQUAL(redirect("cwobject.com:80,10.0.0.1:8443"), 0);
	cfg.has_tls_endpoint = true;
	CU_ASSERT_EQUAL(lota__preload_ca_exports(&cfg, true, env_fake), 0);
	/* a target without a port covers 443 */
	CU_ASSERT_EQUAL(redirect("cwobject.com"), 0);
	cfg.has_tls_endpoint = true;
	CU_ASSERT_EQUAL(lota__preload_ca_exports(&cfg, true, env_fake), all);
	CU_ASSERT_EQUAL(redirect(""), 0);
	cfg.has_tls_endpoint = true;
	CU_ASSERT_EQUAL(lota__preload_ca_exports(&cfg, true, env_fake), 0);
}

static void test_table(void)
{
	memset(&tab, 0, sizeof(tab));
	lota__preload_addr a = v4("192.0.2.10", 0);
	lota__preload_addr q = a;
	q.port = 7480;
	CU_ASSERT_FALSE(lota__preload_table_has(&tab, &q));
	lota__preload_table_add(&tab, &a, 7480);
	CU_ASSERT_TRUE(lota__preload_table_has(&tab, &q));
	q.port = 7481;
	CU_ASSERT_FALSE(lota__preload_table_has(&tab, &q));
	q.port = 80;
	CU_ASSERT_FALSE(lota__preload_table_has(&tab, &q));
	lota__preload_table_add(&tab, &a, 0); /* the same address, for 80 and 443 */
	CU_ASSERT_TRUE(lota__preload_table_has(&tab, &q));
	q.port = 443;
	CU_ASSERT_TRUE(lota__preload_table_has(&tab, &q));
	lota__preload_table_add(&tab, &a, 0); /* again: no second slot */
	CU_ASSERT_EQUAL(atomic_load(&tab.next), 2);

	lota__preload_addr b = v6("2001:db8::7", 0);
	lota__preload_table_add(&tab, &b, 443);
	lota__preload_addr qb = b;
	qb.port = 443;
	CU_ASSERT_TRUE(lota__preload_table_has(&tab, &qb));
	qb.family = AF_INET; /* the same first bytes in another family */
	CU_ASSERT_FALSE(lota__preload_table_has(&tab, &qb));

	/* full: the oldest slots are reused, the newest addresses are found */
	for (unsigned i = 0; i < 2 * LOTA__PRELOAD_TABLE_SLOTS; i++) {
		lota__preload_addr x = v4("10.0.0.0", 0);
		x.addr[2] = (uint8_t)(i >> 8);
		x.addr[3] = (uint8_t)i;
		lota__preload_table_add(&tab, &x, 80);
	}
	lota__preload_addr last = v4("10.0.1.255", 80);
	CU_ASSERT_TRUE(lota__preload_table_has(&tab, &last));
	lota__preload_addr first = v4("10.0.0.0", 80);
	CU_ASSERT_FALSE(lota__preload_table_has(&tab, &first));
	q.port = 443;
	CU_ASSERT_FALSE(lota__preload_table_has(&tab, &q)); /* reused long ago */
}

/* Writers add 64 addresses over and over (bytes all k) while readers ask for addresses
 * made of two of them (a torn copy would match one); afterwards all 64 are found. */
static atomic_int stop_readers;
static atomic_int torn;

static void *writer(void *arg)
{
	(void)arg;
	for (int round = 0; round < 200; round++)
		for (int k = 1; k <= 64; k++) {
			lota__preload_addr a;
			memset(&a, 0, sizeof(a));
			a.family = AF_INET6;
			memset(a.addr, k, 16);
			lota__preload_table_add(&tab, &a, 443);
		}
	return NULL;
}

static void *reader(void *arg)
{
	(void)arg;
	while (!atomic_load(&stop_readers))
		for (int k = 1; k < 64; k++) {
			lota__preload_addr a;
			memset(&a, 0, sizeof(a));
			a.family = AF_INET6;
			a.port = 443;
			memset(a.addr, k, 8);
			memset(a.addr + 8, k + 1, 8);
			if (lota__preload_table_has(&tab, &a))
				atomic_store(&torn, 1);
		}
	return NULL;
}

static void test_table_threads(void)
{
	memset(&tab, 0, sizeof(tab));
	pthread_t w[4], r[2];
	for (long i = 0; i < 4; i++)
		CU_ASSERT_EQUAL_FATAL(pthread_create(&w[i], NULL, writer, (void *)i), 0);
	for (long i = 0; i < 2; i++)
		CU_ASSERT_EQUAL_FATAL(pthread_create(&r[i], NULL, reader, NULL), 0);
	for (int i = 0; i < 4; i++)
		pthread_join(w[i], NULL);
	atomic_store(&stop_readers, 1);
	for (int i = 0; i < 2; i++)
		pthread_join(r[i], NULL);
	CU_ASSERT_EQUAL(atomic_load(&torn), 0);
	int found = 0;
	for (int k = 1; k <= 64; k++) {
		lota__preload_addr a;
		memset(&a, 0, sizeof(a));
		a.family = AF_INET6;
		a.port = 443;
		memset(a.addr, k, 16);
		found += lota__preload_table_has(&tab, &a);
	}
	CU_ASSERT_EQUAL(found, 64);
}

int main(void)
{
	CU_TestInfo tests[] = {
	    {"redirect: names, addresses, ports", test_redirect_forms},
	    {"redirect: refused forms", test_redirect_refused},
	    {"listener addresses and which one a port takes", test_endpoint},
	    {"redirect: http:// and https:// items", test_redirect_schemes},
	    {"key=value file", test_file},
	    {"environment over the file; refusals", test_load},
	    {"matching names, literals and sockaddrs", test_matching},
	    {"CA bundle export decision", test_ca_exports},
	    {"resolved-address table", test_table},
	    {"resolved-address table under threads", test_table_threads},
	    CU_TEST_INFO_NULL,
	};
	return lota_unit_run("preload_config", tests);
}
