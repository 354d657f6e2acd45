/*
 * test_daemon_cluster.c - lotad's cluster (daemon/cluster/): the --peer parser, the
 * secret file's checks (mode, size, kind), and two clusters in one process that probe
 * each other: each sees the other up in GET /cluster, a request without peer headers on
 * the peer port gets a 403 and no body, and a member that stops is seen down after three
 * missed probes (waited for against a deadline, never for a fixed time); members from a
 * DNS name (localhost) with this node recognised by its address; the peer TLS key file's
 * checks and a certificate file that is not one refused with its key; the admin address
 * a node advertises (from its keys) and how a member's is read (HOST:PORT only, a bad
 * one left out of GET /cluster).
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <lota/config.h>

#include "cluster/cluster-internal.h"
#include "cluster/cluster.h"
#include "util/clock.h"

#include "unit.h"

static void test_parse_member(void)
{
	lotad_cluster_member_spec m;
	CU_ASSERT_EQUAL(lotad_cluster_parse_member("a=127.0.0.1:7001", &m), 0);
	CU_ASSERT_STRING_EQUAL(m.id, "a");
	CU_ASSERT_STRING_EQUAL(m.host, "127.0.0.1");
	CU_ASSERT_EQUAL(m.port, 7001);
	CU_ASSERT_EQUAL(lotad_cluster_parse_member("n-1=[::1]:7", &m), 0);
	CU_ASSERT_STRING_EQUAL(m.host, "::1");
	const char *bad[] = {"=h:1", "a=h", "a=h:0", "a b=h:1", "a=:1", "a=h:70000", "a", ""};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CU_ASSERT_EQUAL(lotad_cluster_parse_member(bad[i], &m), -EINVAL);
}

/* An admin address a member advertises: HOST:PORT only, anything else refused (and
 * never copied). */
static void test_admin_parse(void)
{
	char out[LOTAD_CLUSTER_ADMIN_MAX + 1];
	const char *good[] = {"127.0.0.1:9090", "node-1.example.com:80", "[::1]:9090",
	                      "[fd00::1:2]:1", "h:65535"};
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		CU_ASSERT_EQUAL(lotad_cluster_admin_parse((lota_str){good[i], strlen(good[i])}, out,
		                                          sizeof(out)),
		                0);
		CU_ASSERT_STRING_EQUAL(out, good[i]);
	}
	const char *bad[] = {"",           "h",     "h:0",      "h:65536",     ":9090",
	                     "[]:1",       "h :1",  "h:1 ",     "h\r\nX: y:1", "h\"x:1",
	                     "h\\x:1",     "h/x:1", "[::1]x:1", "[::g]:1",     "h_x:1",
	                     "http://h:1", "h:1:2", "\x80h:1",  "[::1:1"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(out, 'z', sizeof(out));
		CU_ASSERT_EQUAL(
		    lotad_cluster_admin_parse((lota_str){bad[i], strlen(bad[i])}, out, sizeof(out)),
		    -EINVAL);
		CU_ASSERT_EQUAL(out[0], 0);
	}
	/* the length: a host of 255 bytes and a port fit, one more byte does not */
	char big[LOTAD_CLUSTER_ADMIN_MAX + 8];
	memset(big, 'h', 255);
	memcpy(big + 255, ":65535", 7);
	CU_ASSERT_EQUAL(lotad_cluster_admin_parse((lota_str){big, strlen(big)}, out, sizeof(out)),
	                0);
	memset(big, 'h', 256);
	memcpy(big + 256, ":65535", 7);
	CU_ASSERT_EQUAL(lotad_cluster_admin_parse((lota_str){big, strlen(big)}, out, sizeof(out)),
	                -EINVAL);
	/* a view, not a string: the bytes after len are not read */
	CU_ASSERT_EQUAL(lotad_cluster_admin_parse((lota_str){"h:12 junk", 4}, out, sizeof(out)), 0);
	CU_ASSERT_STRING_EQUAL(out, "h:12");
	CU_ASSERT_EQUAL(lotad_cluster_admin_parse((lota_str){"h:12", 4}, out, 4), -EINVAL);
}

static char dir[512];

static const char *file_of(const char *name, size_t bytes, mode_t mode)
{
	static char p[600];
	snprintf(p, sizeof(p), "%s/%s", dir, name);
	FILE *f = fopen(p, "w");
	CU_ASSERT_FATAL(f != NULL);
	for (size_t i = 0; i < bytes; i++)
		fputc((int)(i * 7 + 1), f);
	fclose(f);
	CU_ASSERT_FATAL(chmod(p, mode) == 0);
	return p;
}

static void test_secret(void)
{
	CU_ASSERT_FATAL(lota_unit_tmpdir("lota-cluster", dir, sizeof(dir)));
	static lotad_cluster_config cfg;
	char err[512];
	CU_ASSERT_EQUAL(lotad_cluster_load_secret(file_of("ok", 32, 0600), &cfg, err, sizeof(err)),
	                0);
	CU_ASSERT_EQUAL(cfg.secret_len, 32);
	CU_ASSERT_EQUAL(lotad_cluster_load_secret(file_of("ro", 64, 0400), &cfg, err, sizeof(err)),
	                0);
	CU_ASSERT_EQUAL(
	    lotad_cluster_load_secret(file_of("open", 32, 0644), &cfg, err, sizeof(err)), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "must be 0600"));
	CU_ASSERT_EQUAL(
	    lotad_cluster_load_secret(file_of("group", 32, 0640), &cfg, err, sizeof(err)), -1);
	CU_ASSERT_EQUAL(
	    lotad_cluster_load_secret(file_of("short", 31, 0600), &cfg, err, sizeof(err)), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "31 bytes"));
	CU_ASSERT_EQUAL(lotad_cluster_load_secret(dir, &cfg, err, sizeof(err)), -1);
	char missing[600];
	snprintf(missing, sizeof(missing), "%s/none", dir);
	CU_ASSERT_EQUAL(lotad_cluster_load_secret(missing, &cfg, err, sizeof(err)), -1);
	char link[600];
	snprintf(link, sizeof(link), "%s/link", dir);
	CU_ASSERT_EQUAL(symlink("ok", link), 0);
	CU_ASSERT_EQUAL(lotad_cluster_load_secret(link, &cfg, err, sizeof(err)), -1);
	lota_unit_rmtree(dir);
}

/* A port nobody listens on right now. */
static int free_port(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t sl = sizeof(sa);
	int port = -1;
	if (fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&sa, &sl) == 0)
		port = ntohs(sa.sin_port);
	if (fd >= 0)
		close(fd);
	return port;
}

static void config(lotad_cluster_config *c, const char *self, int pa, int pb)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->node_id, sizeof(c->node_id), "%s", self);
	snprintf(c->listen_host, sizeof(c->listen_host), "127.0.0.1");
	c->listen_port = self[0] == 'a' ? pa : pb;
	c->num_members = 2;
	CU_ASSERT_EQUAL(lotad_cluster_parse_member("a=127.0.0.1:0", &c->members[0]), -EINVAL);
	snprintf(c->members[0].id, sizeof(c->members[0].id), "a");
	snprintf(c->members[0].host, sizeof(c->members[0].host), "127.0.0.1");
	c->members[0].port = pa;
	snprintf(c->members[1].id, sizeof(c->members[1].id), "b");
	snprintf(c->members[1].host, sizeof(c->members[1].host), "127.0.0.1");
	c->members[1].port = pb;
	memset(c->secret, 0x5a, 32);
	c->secret_len = 32;
	c->timeout_ms = 500;
	c->refresh_ms = 10000;
	c->extent_size = 1 << 20;
	snprintf(c->upstream_url, sizeof(c->upstream_url), "http://127.0.0.1:9");
}

/* Whether a's GET /cluster shows member "b" in state st. */
static bool b_is(lotad_cluster *a, const char *st)
{
	size_t len;
	char *j = lotad_cluster_json(a, &len);
	char want[64];
	snprintf(want, sizeof(want), "\"id\":\"b\",\"address\":\"127.0.0.1:");
	char *p = j ? strstr(j, want) : NULL;
	snprintf(want, sizeof(want), "\"state\":\"%s\"", st);
	bool ok = p && strstr(p, want) && strstr(p, want) < strstr(p, "}");
	free(j);
	return ok;
}

static bool wait_b(lotad_cluster *a, const char *st, uint64_t ms)
{
	uint64_t end = lotad_mono_ms() + ms;
	while (!b_is(a, st)) {
		if (lotad_mono_ms() > end)
			return false;
		usleep(50 * 1000);
	}
	return true;
}

static void test_two_nodes(void)
{
	static lotad_cluster_config ca, cb;
	int pa = free_port(), pb = free_port();
	CU_ASSERT_FATAL(pa > 0 && pb > 0 && pa != pb);
	config(&ca, "a", pa, pb);
	config(&cb, "b", pa, pb);
	snprintf(ca.admin_advertise, sizeof(ca.admin_advertise), "a.example:9091");
	snprintf(cb.admin_advertise, sizeof(cb.admin_advertise), "127.0.0.1:9092");
	char err[256];
	lotad_cluster *a = lotad_cluster_new(&ca, NULL, err, sizeof(err));
	lotad_cluster *b = lotad_cluster_new(&cb, NULL, err, sizeof(err));
	CU_ASSERT_FATAL(a && b);
	/* before b ever answered: a's own admin address, none for b */
	size_t len;
	char *j = lotad_cluster_json(a, &len);
	CU_ASSERT(j && strstr(j, "\"self\":true,\"admin\":\"a.example:9091\"}"));
	CU_ASSERT(j && strstr(j, "\"self\":false,\"admin\":null}"));
	free(j);
	/* a second cluster on a's peer port cannot bind it */
	CU_ASSERT_PTR_NULL(lotad_cluster_new(&ca, NULL, err, sizeof(err)));
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "cannot listen"));
	CU_ASSERT_EQUAL(lotad_cluster_start(a), 0);
	CU_ASSERT_EQUAL(lotad_cluster_start(b), 0);
	CU_ASSERT(wait_b(a, "up", 10000));
	CU_ASSERT_EQUAL(lotad_cluster_members_up(a), 2);
	j = lotad_cluster_json(a, &len);
	/* b's admin address, from its health answer */
	CU_ASSERT(j && strstr(j, "\"self\":false,\"admin\":\"127.0.0.1:9092\"}"));
	CU_ASSERT(j && strncmp(j, "{\"node\":\"a\",\"extent_size_bytes\":", 32) == 0);
	CU_ASSERT(j && strstr(j, ",\"members\":[{\"id\":"));
	CU_ASSERT(j && strstr(j, "\"self\":true") && strstr(j, "\"self\":false"));
	free(j);
	/* no cache anywhere: nobody is in placement, every extent is "this node's" */
	lotad_peer_owner o;
	CU_ASSERT_EQUAL(lotad_cluster_owner(a, (lota_hash128){1, 2}, &o), 0);
	CU_ASSERT_EQUAL(lotad_cluster_owner(NULL, (lota_hash128){1, 2}, &o), 0);
	/* ... and no failover candidate either, with or without members to skip */
	const char *skip[] = {"b"};
	CU_ASSERT_EQUAL(lotad_cluster_candidate(a, (lota_hash128){1, 2}, NULL, 0, &o), 0);
	CU_ASSERT_EQUAL(lotad_cluster_candidate(a, (lota_hash128){1, 2}, skip, 1, &o), 0);
	CU_ASSERT_EQUAL(lotad_cluster_candidate(NULL, (lota_hash128){1, 2}, skip, 1, &o), 0);

	/* the peer port: no peer headers = 403, no body */
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET,
	                         .sin_port = htons((uint16_t)pb),
	                         .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	CU_ASSERT_FATAL(connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
	static const char req[] = "GET /peer/extent HTTP/1.1\r\nHost: x\r\n\r\n";
	CU_ASSERT_EQUAL(write(fd, req, sizeof(req) - 1), (ssize_t)sizeof(req) - 1);
	char buf[1024];
	size_t got = 0;
	ssize_t n;
	while ((n = read(fd, buf + got, sizeof(buf) - 1 - got)) > 0)
		got += (size_t)n;
	buf[got] = 0;
	close(fd);
	CU_ASSERT(strncmp(buf, "HTTP/1.1 403 ", 13) == 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(buf, "Content-Length: 0\r\n"));
	CU_ASSERT(got > 4 && strcmp(buf + got - 4, "\r\n\r\n") == 0);

	/* b stops: a sees it down after three missed probes */
	lotad_cluster_free(b);
	CU_ASSERT(wait_b(a, "down", 10000));
	CU_ASSERT_EQUAL(lotad_cluster_members_up(a), 1);
	lotad_cluster_free(a);
}

/* A member that advertises an admin address that is not HOST:PORT (here one with a
 * quote, which copied into JSON would end the string) is up, with no admin address. */
static void test_bad_admin(void)
{
	static lotad_cluster_config ca, cb;
	int pa = free_port(), pb = free_port();
	CU_ASSERT_FATAL(pa > 0 && pb > 0 && pa != pb);
	config(&ca, "a", pa, pb);
	config(&cb, "b", pa, pb);
	snprintf(cb.admin_advertise, sizeof(cb.admin_advertise), "b\",\"x\":\"y:1");
	char err[256];
	lotad_cluster *a = lotad_cluster_new(&ca, NULL, err, sizeof(err));
	lotad_cluster *b = lotad_cluster_new(&cb, NULL, err, sizeof(err));
	CU_ASSERT_FATAL(a && b);
	CU_ASSERT_EQUAL(lotad_cluster_start(a), 0);
	CU_ASSERT_EQUAL(lotad_cluster_start(b), 0);
	CU_ASSERT(wait_b(a, "up", 10000));
	size_t len;
	char *j = lotad_cluster_json(a, &len);
	CU_ASSERT(j && strstr(j, "\"self\":false,\"admin\":null}"));
	CU_ASSERT(j && !strstr(j, "\"x\""));
	/* a, which advertises none, is shown so by itself */
	CU_ASSERT(j && strstr(j, "\"self\":true,\"admin\":null}"));
	free(j);
	lotad_cluster_free(b);
	lotad_cluster_free(a);
}

/* The admin address this node advertises, from lotad's keys (config.c): admin_advertise
 * when given (checked), else admin_listen's, with this node's peer host in place of an
 * address of all; a loopback listener as it is; none without an admin listener. */
static const lota_config_key keys[] = {
    {.name = "node_id", .type = LOTA_CONFIG_STRING},
    {.name = "peer_listen", .type = LOTA_CONFIG_STRING},
    {.name = "peer", .type = LOTA_CONFIG_LIST},
    {.name = "peers_dns", .type = LOTA_CONFIG_STRING},
    {.name = "peers_refresh", .type = LOTA_CONFIG_DURATION, .def = "10s"},
    {.name = "cluster_secret_file", .type = LOTA_CONFIG_STRING},
    {.name = "peer_timeout", .type = LOTA_CONFIG_DURATION, .def = "5s"},
    {.name = "peer_readahead", .type = LOTA_CONFIG_INT, .def = "2"},
    {.name = "peer_tls_cert", .type = LOTA_CONFIG_STRING},
    {.name = "peer_tls_key", .type = LOTA_CONFIG_STRING},
    {.name = "peer_tls_ca", .type = LOTA_CONFIG_STRING},
    {.name = "admin_listen", .type = LOTA_CONFIG_STRING},
    {.name = "admin_advertise", .type = LOTA_CONFIG_STRING},
};

/* lotad_cluster_configure over the flags args (NULL-terminated) and a node a of peers a and
 * b; returns its result, the advertised address in out. */
static int configure(const char *secret, const char *const *args, lotad_cluster_config *out)
{
	char *argv[16] = {"lotad", "--node-id", "a", "--cluster-secret-file", (char *)secret};
	int argc = 5;
	for (; *args && argc < 15; args++)
		argv[argc++] = (char *)*args;
	lota_config *cfg = lota_config_new(keys, sizeof(keys) / sizeof(keys[0]));
	CU_ASSERT_FATAL(cfg != NULL);
	bool help = false;
	int rc = lota_config_parse_args(cfg, argc, argv, NULL, &help, NULL);
	CU_ASSERT_EQUAL(rc, 0);
	if (rc == 0)
		rc = lotad_cluster_configure(cfg, "http://127.0.0.1:9", 1 << 20, out);
	lota_config_free(cfg);
	return rc;
}

static void test_admin_config(void)
{
	CU_ASSERT_FATAL(lota_unit_tmpdir("lota-cluster", dir, sizeof(dir)));
	char secret[600];
	snprintf(secret, sizeof(secret), "%s", file_of("secret", 32, 0600));
	static lotad_cluster_config out;
#define PEERS "--peer", "a=10.1.2.3:7000", "--peer", "b=10.1.2.4:7000"
	struct {
		const char *args[12];
		const char *want;
	} ok[] = {
	    {{"--peer-listen", "0.0.0.0:7000", PEERS, "--admin-listen", "127.0.0.1:9090"},
	     "127.0.0.1:9090"},
	    {{"--peer-listen", "0.0.0.0:7000", PEERS, "--admin-listen", "0.0.0.0:9090"},
	     "10.1.2.3:9090"},
	    {{"--peer-listen", "0.0.0.0:7000", PEERS, "--admin-listen", ":9090"}, "10.1.2.3:9090"},
	    {{"--peer-listen", "[::]:7000", "--peer", "a=[fd00::1]:7000", "--admin-listen",
	      "[::]:9090"},
	     "[fd00::1]:9090"},
	    {{"--peer-listen", "10.1.2.3:7000", PEERS, "--admin-listen", "0.0.0.0:9090",
	      "--admin-advertise", "n1.example:80"},
	     "n1.example:80"},
	    {{"--peer-listen", "10.1.2.3:7000", PEERS}, ""},
	};
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		CU_ASSERT_EQUAL(configure(secret, ok[i].args, &out), 0);
		CU_ASSERT_STRING_EQUAL(out.admin_advertise, ok[i].want);
	}
	const char *bad[][12] = {
	    {"--peer-listen", "10.1.2.3:7000", PEERS, "--admin-listen", "0.0.0.0:9090",
	     "--admin-advertise", "n1 example:80"},
	    {"--peer-listen", "10.1.2.3:7000", PEERS, "--admin-listen", "0.0.0.0:9090",
	     "--admin-advertise", "n1.example"},
	    {"--peer-listen", "10.1.2.3:7000", PEERS, "--admin-advertise", "n1.example:80"},
	    {"--admin-advertise", "n1.example:80"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CU_ASSERT_EQUAL(configure(secret, bad[i], &out), -1);
#undef PEERS
	lota_unit_rmtree(dir);
}

/* --peers-dns: the members are the name's addresses, a member's id is its address, and
 * this node is the one whose address is its id. */
static void test_dns(void)
{
	static lotad_cluster_config cd;
	int pa = free_port();
	CU_ASSERT_FATAL(pa > 0);
	config(&cd, "a", pa, pa);
	cd.num_members = 0;
	snprintf(cd.node_id, sizeof(cd.node_id), "127.0.0.1");
	snprintf(cd.dns_name, sizeof(cd.dns_name), "localhost");
	cd.dns_port = pa;
	char err[256];
	lotad_cluster *c = lotad_cluster_new(&cd, NULL, err, sizeof(err));
	CU_ASSERT_FATAL(c != NULL);
	CU_ASSERT_EQUAL(lotad_cluster_start(c), 0);
	uint64_t end = lotad_mono_ms() + 10000;
	bool seen = false;
	while (!seen && lotad_mono_ms() < end) {
		size_t len;
		char *j = lotad_cluster_json(c, &len);
		seen = j && strstr(j, "{\"id\":\"127.0.0.1\",\"address\":\"127.0.0.1:") &&
		       strstr(j, "\"self\":true");
		free(j);
		if (!seen)
			usleep(50 * 1000);
	}
	CU_ASSERT(seen);
	lotad_cluster_free(c);
}

static void test_tls_files(void)
{
	CU_ASSERT_FATAL(lota_unit_tmpdir("lota-cluster", dir, sizeof(dir)));
	char err[1024];
	CU_ASSERT_EQUAL(lotad_cluster__tls_key_check(file_of("key", 64, 0600), err, sizeof(err)),
	                0);
	CU_ASSERT_EQUAL(lotad_cluster__tls_key_check(file_of("open", 64, 0644), err, sizeof(err)),
	                -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "must be 0600"));
	CU_ASSERT_EQUAL(lotad_cluster__tls_key_check(file_of("group", 64, 0640), err, sizeof(err)),
	                -1);
	CU_ASSERT_EQUAL(lotad_cluster__tls_key_check(dir, err, sizeof(err)), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "not a regular file"));
	char missing[600];
	snprintf(missing, sizeof(missing), "%s/none", dir);
	CU_ASSERT_EQUAL(lotad_cluster__tls_key_check(missing, err, sizeof(err)), -1);
	/* random bytes are no certificate: refused with the key named */
	static lotad_cluster_config cfg;
	snprintf(cfg.tls_cert, sizeof(cfg.tls_cert), "%s", file_of("cert", 64, 0644));
	snprintf(cfg.tls_key, sizeof(cfg.tls_key), "%s", file_of("key", 64, 0600));
	snprintf(cfg.tls_ca, sizeof(cfg.tls_ca), "%s", file_of("ca", 64, 0644));
	SSL_CTX *x = (SSL_CTX *)1;
	CU_ASSERT_EQUAL(lotad_cluster__tls_ctx(&cfg, true, &x, err, sizeof(err)), -1);
	CU_ASSERT_PTR_NULL(x);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "config key \"peer_tls_cert\""));
	lota_unit_rmtree(dir);
}

int main(void)
{
	CU_TestInfo tests[] = {
	    {"--peer ID=HOST:PORT", test_parse_member},
	    {"an advertised admin address is HOST:PORT", test_admin_parse},
	    {"the admin address a node advertises", test_admin_config},
	    {"a member's bad admin address is left out", test_bad_admin},
	    {"cluster secret file checks", test_secret},
	    {"two members probe each other", test_two_nodes},
	    {"members from a DNS name", test_dns},
	    {"peer TLS file checks", test_tls_files},
	    CU_TEST_INFO_NULL,
	};
	return lota_unit_run("daemon_cluster", tests);
}
