/*
 * test_daemon_redirect.c - the pure part of lotad's eBPF redirect (daemon/redirect/
 * table.c, and the configuration check of redirect.c): endpoint parsing, map keys in
 * the layout the BPF program reads (IPv4 v4-mapped, ports in network order), the
 * listener target, the deduplicating address table, and the /proc/mounts lookup of the
 * cgroup v2 root. The kernel side is covered by tests/integration/test_redirect_ebpf.sh.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/un.h>

#include "redirect/redirect.h"
#include "redirect/table.h"

#include "unit.h"

static void test_endpoint_parse(void)
{
	lotad_redir_endpoint ep;
	CU_ASSERT_EQUAL(lotad_redir_endpoint_parse("s3.example", 80, &ep), 0);
	CU_ASSERT_STRING_EQUAL(ep.host, "s3.example");
	CU_ASSERT_EQUAL(ep.port, 80);
	CU_ASSERT_FALSE(ep.tls);
	CU_ASSERT_EQUAL(lotad_redir_endpoint_parse("s3.example:443", 80, &ep), 0);
	CU_ASSERT_EQUAL(ep.port, 443);
	CU_ASSERT_TRUE(ep.tls);
	CU_ASSERT_EQUAL(lotad_redir_endpoint_parse("[::1]:7480", 80, &ep), 0);
	CU_ASSERT_STRING_EQUAL(ep.host, "::1");
	CU_ASSERT_EQUAL(ep.port, 7480);
	CU_ASSERT_EQUAL(lotad_redir_endpoint_parse("10.0.0.1", 443, &ep), 0);
	CU_ASSERT_TRUE(ep.tls);
	CU_ASSERT_EQUAL(lotad_redir_endpoint_parse("h:65535", 80, &ep), 0);

	const char *bad[] = {"",     ":80",    "h:0",    "h:65536", "h:x",
	                     "[::1", "[::1]x", "a/b:80", "h:",      "h:123456"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CU_ASSERT_EQUAL(lotad_redir_endpoint_parse(bad[i], 80, &ep), -EINVAL);
	char longhost[LOTAD_REDIR_HOST_MAX + 8];
	memset(longhost, 'a', sizeof(longhost) - 1);
	longhost[sizeof(longhost) - 1] = 0;
	CU_ASSERT_EQUAL(lotad_redir_endpoint_parse(longhost, 80, &ep), -EINVAL);
	CU_ASSERT_EQUAL(lotad_redir_endpoint_parse("h", 0, &ep), -EINVAL); /* no port at all */
}

static void test_keys(void)
{
	lota_redir_key k, k2;
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(1)};
	inet_pton(AF_INET, "192.0.2.7", &sin.sin_addr);
	memset(&k, 0xAA, sizeof(k)); /* every byte is rewritten, padding too */
	CU_ASSERT_EQUAL(lotad_redir_key_from_sockaddr((struct sockaddr *)&sin, 7480, &k), 0);
	static const uint8_t mapped[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 0, 2, 7};
	CU_ASSERT_EQUAL(memcmp(k.addr, mapped, 16), 0);
	CU_ASSERT_EQUAL(k.port, htons(7480)); /* the sockaddr's own port is ignored */
	CU_ASSERT_EQUAL(k.pad, 0);
	CU_ASSERT_TRUE(lotad_redir_key_is_v4mapped(&k));

	/* The same address written as a v4-mapped IPv6 literal (an AF_INET6 socket's
	 * connect, seen by connect6) is the same key. */
	CU_ASSERT_EQUAL(lotad_redir_key_from_numeric("::ffff:192.0.2.7", 7480, &k2), 0);
	CU_ASSERT_EQUAL(memcmp(&k, &k2, sizeof(k)), 0);
	CU_ASSERT_EQUAL(lotad_redir_key_from_numeric("192.0.2.7", 7480, &k2), 0);
	CU_ASSERT_EQUAL(memcmp(&k, &k2, sizeof(k)), 0);

	struct sockaddr_in6 sin6 = {.sin6_family = AF_INET6};
	inet_pton(AF_INET6, "2001:db8::5", &sin6.sin6_addr);
	CU_ASSERT_EQUAL(lotad_redir_key_from_sockaddr((struct sockaddr *)&sin6, 80, &k), 0);
	CU_ASSERT_EQUAL(memcmp(k.addr, &sin6.sin6_addr, 16), 0);
	CU_ASSERT_FALSE(lotad_redir_key_is_v4mapped(&k));

	char buf[80];
	lotad_redir_key_format(&k, buf, sizeof(buf));
	CU_ASSERT_STRING_EQUAL(buf, "[2001:db8::5]:80");
	lotad_redir_key_from_numeric("127.0.0.1", 8080, &k);
	lotad_redir_key_format(&k, buf, sizeof(buf));
	CU_ASSERT_STRING_EQUAL(buf, "127.0.0.1:8080");
	lotad_redir_key_format(&k, buf, 4); /* truncated, still terminated */
	CU_ASSERT_STRING_EQUAL(buf, "127");

	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	CU_ASSERT_EQUAL(lotad_redir_key_from_sockaddr((struct sockaddr *)&sun, 80, &k),
	                -EAFNOSUPPORT);
	CU_ASSERT_EQUAL(lotad_redir_key_from_numeric("s3.example", 80, &k), -EINVAL);
	CU_ASSERT_EQUAL(lotad_redir_key_from_numeric("", 80, &k), -EINVAL);
}

static void test_listener_target(void)
{
	lota_redir_val v;
	lota_redir_key lo;
	lotad_redir_key_from_numeric("127.0.0.1", 8080, &lo);
	const char *wild[] = {"", "0.0.0.0", "::", "127.0.0.1"};
	for (size_t i = 0; i < sizeof(wild) / sizeof(wild[0]); i++) {
		CU_ASSERT_EQUAL(lotad_redir_target_for_listener(wild[i], 8080, &v), 0);
		CU_ASSERT_EQUAL(memcmp(v.addr, lo.addr, 16), 0);
		CU_ASSERT_EQUAL(v.port, htons(8080));
		CU_ASSERT_EQUAL(v.pad, 0);
	}
	CU_ASSERT_EQUAL(lotad_redir_target_for_listener("::1", 9000, &v), 0);
	CU_ASSERT_EQUAL(((const uint8_t *)v.addr)[15], 1);
	CU_ASSERT_EQUAL(lotad_redir_target_for_listener("localhost", 8080, &v), -EINVAL);
	CU_ASSERT_EQUAL(lotad_redir_target_for_listener("127.0.0.1", 0, &v), -EINVAL);
	CU_ASSERT_EQUAL(lotad_redir_target_for_listener("127.0.0.1", 65536, &v), -EINVAL);
}

static void test_table(void)
{
	static lotad_redir_table t;
	lota_redir_key a, b;
	lotad_redir_table_init(&t);
	lotad_redir_key_from_numeric("10.0.0.1", 80, &a);
	lotad_redir_key_from_numeric("10.0.0.1", 81, &b); /* another port: another key */
	CU_ASSERT_FALSE(lotad_redir_table_has(&t, &a));
	CU_ASSERT_EQUAL(lotad_redir_table_add(&t, &a), 1);
	CU_ASSERT_EQUAL(lotad_redir_table_add(&t, &a), 0);
	CU_ASSERT_EQUAL(lotad_redir_table_add(&t, &b), 1);
	CU_ASSERT_EQUAL(t.n, 2);
	CU_ASSERT_TRUE(lotad_redir_table_has(&t, &b));
	for (int i = 0; t.n < LOTA_REDIR_MAX_ENTRIES; i++) {
		lota_redir_key k;
		lotad_redir_key_from_numeric("10.1.0.1", 1000 + i, &k);
		CU_ASSERT_EQUAL_FATAL(lotad_redir_table_add(&t, &k), 1);
	}
	lota_redir_key more;
	lotad_redir_key_from_numeric("10.2.0.1", 80, &more);
	CU_ASSERT_EQUAL(lotad_redir_table_add(&t, &more), -ENOSPC);
	CU_ASSERT_EQUAL(lotad_redir_table_add(&t, &a), 0); /* present: no error when full */
	lotad_redir_table_init(&t);
	CU_ASSERT_EQUAL(t.n, 0);
}

static void test_mounts(void)
{
	static const char m[] = "sysfs /sys sysfs rw,nosuid 0 0\n"
	                        "cgroup /sys/fs/cgroup/pids cgroup rw,pids 0 0\n"
	                        "cgroup2 /sys/fs/cgroup/my\\040root cgroup2 rw,relatime 0 0\n"
	                        "bpf /sys/fs/bpf bpf rw 0 0\n"
	                        "bpf /run/bpf2 bpf rw 0 0";
	char out[64];
	size_t from = 0;
	CU_ASSERT_EQUAL(lotad_redir_mount_find(m, strlen(m), "cgroup2", &from, out, sizeof(out)),
	                0);
	CU_ASSERT_STRING_EQUAL(out, "/sys/fs/cgroup/my root");
	CU_ASSERT_EQUAL(lotad_redir_mount_find(m, strlen(m), "cgroup2", &from, out, sizeof(out)),
	                -ENOENT);
	from = 0;
	CU_ASSERT_EQUAL(lotad_redir_mount_find(m, strlen(m), "bpf", &from, out, sizeof(out)), 0);
	CU_ASSERT_STRING_EQUAL(out, "/sys/fs/bpf");
	CU_ASSERT_EQUAL(lotad_redir_mount_find(m, strlen(m), "bpf", &from, out, sizeof(out)), 0);
	CU_ASSERT_STRING_EQUAL(out, "/run/bpf2"); /* the last line has no newline */
	CU_ASSERT_EQUAL(lotad_redir_mount_find(m, strlen(m), "bpf", &from, out, sizeof(out)),
	                -ENOENT);
	from = 0; /* "cgroup" is not "cgroup2", nor a prefix match */
	CU_ASSERT_EQUAL(lotad_redir_mount_find(m, strlen(m), "cgroup", &from, out, sizeof(out)), 0);
	CU_ASSERT_STRING_EQUAL(out, "/sys/fs/cgroup/pids");
	from = 0;
	CU_ASSERT_EQUAL(lotad_redir_mount_find(m, strlen(m), "cgroup2", &from, out, 10),
	                -ENAMETOOLONG);
	from = 0;
	CU_ASSERT_EQUAL(lotad_redir_mount_find("", 0, "cgroup2", &from, out, sizeof(out)), -ENOENT);
	/* A truncated escape and short lines are taken as they are, never read past. */
	static const char odd[] = "x /a\\04 cgroup2 rw\nnofields\n\n y";
	from = 0;
	CU_ASSERT_EQUAL(
	    lotad_redir_mount_find(odd, strlen(odd), "cgroup2", &from, out, sizeof(out)), 0);
	CU_ASSERT_STRING_EQUAL(out, "/a\\04");
	CU_ASSERT_EQUAL(
	    lotad_redir_mount_find(odd, strlen(odd), "cgroup2", &from, out, sizeof(out)), -ENOENT);
}

static void test_check_config(void)
{
	char err[256];
	const char *good[] = {"s3.example", "10.0.0.1:9000", "[::1]:80"};
	const char *bad[] = {"s3.example:0"};
	lotad_redirect_config c = {.targets = good, .num_targets = 3};
	CU_ASSERT_EQUAL(lotad_redirect_check_config(&c, true, err, sizeof(err)), 0);
	/* the redirect endpoints serve without redirect_ebpf too */
	CU_ASSERT_EQUAL(lotad_redirect_check_config(&c, false, err, sizeof(err)), 0);
	c.targets = bad;
	c.num_targets = 1;
	CU_ASSERT_EQUAL(lotad_redirect_check_config(&c, true, err, sizeof(err)), -1);
	CU_ASSERT_PTR_NOT_NULL(
	    strstr(err, "config key \"redirect\": \"s3.example:0\" is not HOST[:PORT]"));
	c.num_targets = 0;
	CU_ASSERT_EQUAL(lotad_redirect_check_config(&c, false, err, sizeof(err)), 0);
	c.cgroup_path = "sys/fs/cgroup";
	CU_ASSERT_EQUAL(lotad_redirect_check_config(&c, true, err, sizeof(err)), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "\"redirect_cgroup\""));
	c.cgroup_path = "/sys/fs/cgroup/unified/x";
	CU_ASSERT_EQUAL(lotad_redirect_check_config(&c, true, err, sizeof(err)), 0);
	const char *many[LOTAD_REDIR_MAX_ENDPOINTS];
	for (size_t i = 0; i < LOTAD_REDIR_MAX_ENDPOINTS; i++)
		many[i] = "h";
	c.targets = many;
	c.num_targets = LOTAD_REDIR_MAX_ENDPOINTS;
	CU_ASSERT_EQUAL(lotad_redirect_check_config(&c, true, err, sizeof(err)), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "at most"));
}

int main(void)
{
	CU_TestInfo tests[] = {
	    {"endpoint HOST[:PORT]", test_endpoint_parse},
	    {"map keys (v4-mapped, network order)", test_keys},
	    {"listener target", test_listener_target},
	    {"address table", test_table},
	    {"/proc/mounts lookup", test_mounts},
	    {"configuration check", test_check_config},
	    CU_TEST_INFO_NULL,
	};
	return lota_unit_run("daemon_redirect", tests);
}
