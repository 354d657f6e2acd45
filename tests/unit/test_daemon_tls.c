/*
 * test_daemon_tls.c - the node CA (daemon/net/ca.c) and lotad's TLS server side
 * (daemon/net/tls.c): the CA's files made at first start and checked at every start
 * (modes, owner, a certificate from another key), leaves per name (SAN, validity, the
 * chain verified by OpenSSL against ca.pem, the cache, renewal, eviction), the served
 * names, and handshakes over a socketpair: a served name verifies, a name not served
 * and no name get an alert and no certificate; records split by the network and writes
 * retried from a moved buffer.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "net/ca.h"
#include "net/tls.h"

#include "unit.h"

static char g_dir[512];

static void path_of(char *out, size_t cap, const char *name)
{
	snprintf(out, cap, "%s/ca/%s", g_dir, name);
}

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	char *buf = malloc(1 << 20);
	size_t n = buf ? fread(buf, 1, (1 << 20) - 1, f) : 0;
	fclose(f);
	if (buf)
		buf[n] = 0;
	*len = n;
	return buf;
}

static lotad_ca *open_ok(const char *roots)
{
	char dir[600], err[512];
	lotad_ca *ca = NULL;
	lotad_ca_options o = {.system_roots = roots};
	snprintf(dir, sizeof(dir), "%s/ca", g_dir);
	int rc = lotad_ca_open(dir, &o, &ca, err, sizeof(err));
	CU_ASSERT_EQUAL(rc, 0);
	if (rc)
		fprintf(stderr, "lotad_ca_open: %s\n", err);
	return ca;
}

static int open_rc(char *err, size_t cap)
{
	char dir[600];
	lotad_ca *ca = NULL;
	snprintf(dir, sizeof(dir), "%s/ca", g_dir);
	int rc = lotad_ca_open(dir, NULL, &ca, err, cap);
	CU_ASSERT_EQUAL(rc == 0, ca != NULL);
	lotad_ca_free(ca);
	return rc;
}

static int setup(void)
{
	return lota_unit_tmpdir("lota-tls", g_dir, sizeof(g_dir)) ? 0 : 1;
}

static int teardown(void)
{
	lota_unit_rmtree(g_dir);
	return 0;
}

static void fresh(void)
{
	char p[600];
	snprintf(p, sizeof(p), "%s/ca", g_dir);
	lota_unit_rmtree(p);
}

/* ------------------------------------------------------------------ the CA --- */

static void test_create_and_reload(void)
{
	char p[700], roots[700];
	struct stat st;
	size_t n1 = 0, n2 = 0, nb = 0;
	fresh();
	snprintf(roots, sizeof(roots), "%s/roots.pem", g_dir);
	FILE *f = fopen(roots, "w");
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	fputs("# system roots stand-in\n", f);
	fclose(f);

	lotad_ca *ca = open_ok(roots);
	CU_ASSERT_PTR_NOT_NULL_FATAL(ca);
	path_of(p, sizeof(p), "ca.key");
	CU_ASSERT_EQUAL(stat(p, &st), 0);
	CU_ASSERT_EQUAL(st.st_mode & 0777, 0600);
	CU_ASSERT_EQUAL(st.st_uid, geteuid());
	path_of(p, sizeof(p), "ca.pem");
	CU_ASSERT_EQUAL(stat(p, &st), 0);
	CU_ASSERT_EQUAL(st.st_mode & 0777, 0644);
	CU_ASSERT_STRING_EQUAL(lotad_ca_cert_path(ca), p);
	snprintf(p, sizeof(p), "%s/ca", g_dir);
	CU_ASSERT_EQUAL(stat(p, &st), 0);
	CU_ASSERT_EQUAL(st.st_mode & 0777, 0755);

	/* the certificate: a CA, path length 0, made from ca.key */
	X509 *cert = lotad_ca_cert(ca);
	CU_ASSERT_EQUAL(X509_check_ca(cert), 1);
	BASIC_CONSTRAINTS *bc = X509_get_ext_d2i(cert, NID_basic_constraints, NULL, NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(bc);
	CU_ASSERT(bc->ca);
	CU_ASSERT_EQUAL(ASN1_INTEGER_get(bc->pathlen), 0);
	BASIC_CONSTRAINTS_free(bc);
	CU_ASSERT(X509_get_key_usage(cert) & KU_KEY_CERT_SIGN);

	/* bundle = roots + ca.pem */
	char *pem = slurp(lotad_ca_cert_path(ca), &n1);
	char *bundle = slurp(lotad_ca_bundle_path(ca), &nb);
	CU_ASSERT_PTR_NOT_NULL_FATAL(pem);
	CU_ASSERT_PTR_NOT_NULL_FATAL(bundle);
	CU_ASSERT(strncmp(bundle, "# system roots stand-in\n", 24) == 0);
	CU_ASSERT(nb == 24 + n1 && memcmp(bundle + 24, pem, n1) == 0);
	lotad_ca_free(ca);

	/* reload: the same CA, and the bundle made again */
	path_of(p, sizeof(p), "bundle.pem");
	CU_ASSERT_EQUAL(unlink(p), 0);
	ca = open_ok(roots);
	CU_ASSERT_PTR_NOT_NULL_FATAL(ca);
	char *pem2 = slurp(lotad_ca_cert_path(ca), &n2);
	CU_ASSERT(pem2 && n1 == n2 && memcmp(pem, pem2, n1) == 0);
	CU_ASSERT_EQUAL(access(lotad_ca_bundle_path(ca), R_OK), 0);
	lotad_ca_free(ca);
	free(pem);
	free(pem2);
	free(bundle);
}

static void test_key_permissions_refused(void)
{
	char key[700], err[512];
	fresh();
	lotad_ca_free(open_ok(NULL));
	path_of(key, sizeof(key), "ca.key");
	static const mode_t bad[] = {0644, 0640, 0604, 0660, 0610};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CU_ASSERT_EQUAL(chmod(key, bad[i]), 0);
		CU_ASSERT_EQUAL(open_rc(err, sizeof(err)), -EACCES);
		CU_ASSERT_PTR_NOT_NULL(strstr(err, "ca.key"));
		CU_ASSERT_PTR_NOT_NULL(strstr(err, "chmod 600"));
	}
	CU_ASSERT_EQUAL(chmod(key, 0400), 0); /* read-only for the owner is fine */
	CU_ASSERT_EQUAL(open_rc(err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(chmod(key, 0600), 0);
	if (geteuid() == 0) { /* another owner */
		CU_ASSERT_EQUAL(chown(key, 65534, 65534), 0);
		CU_ASSERT_EQUAL(open_rc(err, sizeof(err)), -EACCES);
		CU_ASSERT_EQUAL(chown(key, 0, 0), 0);
	}
	CU_ASSERT_EQUAL(open_rc(err, sizeof(err)), 0);

	/* a directory others may write to */
	char dir[600];
	snprintf(dir, sizeof(dir), "%s/ca", g_dir);
	CU_ASSERT_EQUAL(chmod(dir, 0775), 0);
	CU_ASSERT_EQUAL(open_rc(err, sizeof(err)), -EACCES);
	CU_ASSERT_EQUAL(chmod(dir, 0755), 0);

	/* a symlink in place of the key is not followed */
	char moved[700];
	path_of(moved, sizeof(moved), "moved.key");
	CU_ASSERT_EQUAL(rename(key, moved), 0);
	CU_ASSERT_EQUAL(symlink(moved, key), 0);
	CU_ASSERT_NOT_EQUAL(open_rc(err, sizeof(err)), 0);
	unlink(key);
	CU_ASSERT_EQUAL(rename(moved, key), 0);
	CU_ASSERT_EQUAL(open_rc(err, sizeof(err)), 0);
}

static void test_bad_files(void)
{
	char key[700], pem[700], err[512];
	fresh();
	lotad_ca_free(open_ok(NULL));
	path_of(key, sizeof(key), "ca.key");
	path_of(pem, sizeof(pem), "ca.pem");
	/* ca.pem of another CA (another key) */
	size_t n = 0;
	char *mine = slurp(pem, &n);
	fresh();
	lotad_ca_free(open_ok(NULL));
	FILE *f = fopen(pem, "w");
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	fwrite(mine, 1, n, f);
	fclose(f);
	CU_ASSERT_EQUAL(open_rc(err, sizeof(err)), -EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "ca.pem"));
	/* a missing ca.pem is made again from the key */
	unlink(pem);
	CU_ASSERT_EQUAL(open_rc(err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(access(pem, R_OK), 0);
	/* a key file that is no key */
	f = fopen(key, "w");
	fputs("not a key\n", f);
	fclose(f);
	CU_ASSERT_EQUAL(open_rc(err, sizeof(err)), -EINVAL);
	free(mine);
	/* a CA dir that is a file */
	fresh();
	char dir[600];
	snprintf(dir, sizeof(dir), "%s/ca", g_dir);
	f = fopen(dir, "w");
	fclose(f);
	CU_ASSERT_EQUAL(open_rc(err, sizeof(err)), -ENOTDIR);
	unlink(dir);
	/* no system roots: the bundle is the node CA alone (a warning), not a failure */
	lotad_ca *ca = open_ok("/nonexistent/roots.pem");
	CU_ASSERT_PTR_NOT_NULL_FATAL(ca);
	size_t nb = 0, nc = 0;
	char *b = slurp(lotad_ca_bundle_path(ca), &nb);
	char *c = slurp(lotad_ca_cert_path(ca), &nc);
	CU_ASSERT(b && c && nb == nc && memcmp(b, c, nb) == 0);
	free(b);
	free(c);
	lotad_ca_free(ca);
}

/* Verify leaf against ca.pem alone, as a TLS client would for name. */
static int verify_leaf(lotad_ca *ca, X509 *leaf, const char *name)
{
	X509_STORE *st = X509_STORE_new();
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	int ok = -1;
	if (!st || !ctx || X509_STORE_load_file(st, lotad_ca_cert_path(ca)) != 1 ||
	    X509_STORE_CTX_init(ctx, st, leaf, NULL) != 1)
		goto out;
	X509_VERIFY_PARAM *vp = X509_STORE_CTX_get0_param(ctx);
	X509_VERIFY_PARAM_set_purpose(vp, X509_PURPOSE_SSL_SERVER);
	X509_VERIFY_PARAM_set1_host(vp, name, 0);
	ok = X509_verify_cert(ctx) == 1 ? 0 : X509_STORE_CTX_get_error(ctx);
out:
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(st);
	return ok;
}

static void test_leaf(void)
{
	fresh();
	lotad_ca *ca = open_ok(NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(ca);
	int64_t now = (int64_t)time(NULL);
	void *c = NULL, *k = NULL;
	CU_ASSERT_EQUAL_FATAL(lotad_ca_leaf(ca, "bucket.s3.example.com", now, &c, &k), 0);
	X509 *x = c;
	CU_ASSERT_EQUAL(X509_check_host(x, "bucket.s3.example.com", 0, 0, NULL), 1);
	CU_ASSERT_NOT_EQUAL(X509_check_host(x, "other.s3.example.com", 0, 0, NULL), 1);
	CU_ASSERT_NOT_EQUAL(X509_check_host(x, "s3.example.com", 0, 0, NULL), 1);
	CU_ASSERT_EQUAL(X509_check_private_key(x, k), 1);
	CU_ASSERT_EQUAL(X509_check_ca(x), 0);
	/* SAN is exactly that one name */
	GENERAL_NAMES *san = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(san);
	CU_ASSERT_EQUAL(sk_GENERAL_NAME_num(san), 1);
	GENERAL_NAME *g = sk_GENERAL_NAME_value(san, 0);
	CU_ASSERT_EQUAL(g->type, GEN_DNS);
	CU_ASSERT_STRING_EQUAL((const char *)ASN1_STRING_get0_data(g->d.dNSName),
	                       "bucket.s3.example.com");
	GENERAL_NAMES_free(san);
	/* validity: about 7 days from now */
	int day, sec;
	CU_ASSERT_EQUAL(ASN1_TIME_diff(&day, &sec, NULL, X509_get0_notAfter(x)), 1);
	CU_ASSERT(day == 6 || day == 7);
	CU_ASSERT(X509_cmp_current_time(X509_get0_notBefore(x)) < 0);
	/* the chain verifies against ca.pem, for that name only */
	CU_ASSERT_EQUAL(verify_leaf(ca, x, "bucket.s3.example.com"), 0);
	CU_ASSERT_EQUAL(verify_leaf(ca, x, "evil.example.com"), X509_V_ERR_HOSTNAME_MISMATCH);
	/* a long name (no room in a CN) still gets its SAN */
	char longname[250];
	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = 0;
	for (size_t i = 60; i < sizeof(longname) - 2; i += 61)
		longname[i] = '.';
	void *lc = NULL, *lk = NULL;
	CU_ASSERT_EQUAL_FATAL(lotad_ca_leaf(ca, longname, now, &lc, &lk), 0);
	CU_ASSERT_EQUAL(verify_leaf(ca, lc, longname), 0);
	X509_free(lc);
	EVP_PKEY_free(lk);

	/* serials differ between leaves */
	void *c2 = NULL, *k2 = NULL;
	CU_ASSERT_EQUAL_FATAL(lotad_ca_leaf(ca, "other.example.com", now, &c2, &k2), 0);
	CU_ASSERT_NOT_EQUAL(ASN1_INTEGER_cmp(X509_get0_serialNumber(x), X509_get0_serialNumber(c2)),
	                    0);
	X509_free(c2);
	EVP_PKEY_free(k2);
	X509_free(c);
	EVP_PKEY_free(k);

	/* names that are no DNS names get nothing */
	static const char *const bad[] = {"",    ".a",        "a.",          "a..b",         "a b",
	                                  "a/b", "A.example", "a_b.example", "*.example.com"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		void *bc = NULL, *bk = NULL;
		CU_ASSERT_EQUAL(lotad_ca_leaf(ca, bad[i], now, &bc, &bk), -EINVAL);
		CU_ASSERT_PTR_NULL(bc);
	}
	lotad_ca_free(ca);
}

static void test_leaf_cache(void)
{
	char dir[600], err[512];
	lotad_ca *ca = NULL;
	lotad_ca_options o = {.max_leaves = 2};
	fresh();
	snprintf(dir, sizeof(dir), "%s/ca", g_dir);
	CU_ASSERT_EQUAL_FATAL(lotad_ca_open(dir, &o, &ca, err, sizeof(err)), 0);
	int64_t now = (int64_t)time(NULL);
	void *a1, *a2, *k;
	CU_ASSERT_EQUAL(lotad_ca_leaf(ca, "a.example", now, &a1, &k), 0);
	EVP_PKEY_free(k);
	CU_ASSERT_EQUAL(lotad_ca_leaf(ca, "a.example", now + 60, &a2, &k), 0);
	EVP_PKEY_free(k);
	CU_ASSERT_PTR_EQUAL(a1, a2); /* from the cache */
	CU_ASSERT_EQUAL(lotad_ca_leaves_issued(ca), 1);
	X509_free(a2);
	/* renewed a day before it expires */
	int64_t later = now + LOTAD_CA_LEAF_VALID_S - LOTAD_CA_LEAF_RENEW_S + 1;
	CU_ASSERT_EQUAL(lotad_ca_leaf(ca, "a.example", later, &a2, &k), 0);
	EVP_PKEY_free(k);
	CU_ASSERT_PTR_NOT_EQUAL(a1, a2);
	CU_ASSERT_EQUAL(lotad_ca_leaves_issued(ca), 2);
	/* the old one is still whole for whoever holds it */
	CU_ASSERT_EQUAL(verify_leaf(ca, a1, "a.example"), 0);
	X509_free(a1);
	X509_free(a2);
	/* bounded: a third name evicts the least recently used */
	void *x;
	CU_ASSERT_EQUAL(lotad_ca_leaf(ca, "b.example", later, &x, &k), 0);
	X509_free(x);
	EVP_PKEY_free(k);
	CU_ASSERT_EQUAL(lotad_ca_leaf(ca, "a.example", later, &x, &k), 0); /* a: recent */
	X509_free(x);
	EVP_PKEY_free(k);
	CU_ASSERT_EQUAL(lotad_ca_leaves_issued(ca), 3);
	CU_ASSERT_EQUAL(lotad_ca_leaf(ca, "c.example", later, &x, &k), 0); /* evicts b */
	X509_free(x);
	EVP_PKEY_free(k);
	CU_ASSERT_EQUAL(lotad_ca_leaf(ca, "a.example", later, &x, &k), 0);
	X509_free(x);
	EVP_PKEY_free(k);
	CU_ASSERT_EQUAL(lotad_ca_leaves_issued(ca), 4);
	CU_ASSERT_EQUAL(lotad_ca_leaf(ca, "b.example", later, &x, &k), 0);
	X509_free(x);
	EVP_PKEY_free(k);
	CU_ASSERT_EQUAL(lotad_ca_leaves_issued(ca), 5);
	lotad_ca_free(ca);
}

/* ------------------------------------------------------------ served names --- */

static void test_name_served(void)
{
	const char *names[] = {"s3.example.com", "cwlota.com"};
	struct {
		const char *sni;
		bool ok;
	} cases[] = {
	    {"s3.example.com", true},
	    {"S3.Example.COM", true},
	    {"bucket.s3.example.com", true},
	    {"my.dotted.bucket.s3.example.com", true},
	    {"cwlota.com", true},
	    {"b-1.cwlota.com", true},
	    {"example.com", false},
	    {"xs3.example.com", false},
	    {".s3.example.com", false},
	    {"a..s3.example.com", false},
	    {"s3.example.com.", false},
	    {"s3.example.com.evil.org", false},
	    {"b_x.cwlota.com", false},
	    {"b x.cwlota.com", false},
	    {"127.0.0.1", false},
	    {"", false},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		bool got = lotad_tls_name_served(names, 2, cases[i].sni, strlen(cases[i].sni));
		if (got != cases[i].ok)
			fprintf(stderr, "name_served(%s) = %d\n", cases[i].sni, got);
		CU_ASSERT_EQUAL(got, cases[i].ok);
	}
	CU_ASSERT_FALSE(lotad_tls_name_served(names, 2, NULL, 0));
	CU_ASSERT_FALSE(lotad_tls_name_served(NULL, 0, "s3.example.com", 14));
	/* an address in the list matches nothing (no SNI carries one) */
	const char *ip[] = {"127.0.0.1"};
	CU_ASSERT_FALSE(lotad_tls_name_served(ip, 1, "127.0.0.1", 9));
	/* the length is what counts, not a NUL */
	CU_ASSERT_FALSE(lotad_tls_name_served(names, 2, "cwlota.com\0x", 12));
	CU_ASSERT_TRUE(lotad_tls_name_served(names, 2, "cwlota.comXX", 10));
}

/* ------------------------------------------------------------- handshakes --- */

typedef struct hs_result {
	int client_ok;   /* 1 handshake done and verified */
	int server_rc;   /* lotad_tls_handshake's last result */
	long verify;     /* the client's verify result */
	int got_cert;    /* the server presented a certificate */
	char echoed[64]; /* what came back through the session */
} hs_result;

/* A client (sni, or none) verifying with ca.pem, against lotad's server side, both
 * non-blocking on a socketpair, driven in turn. */
static void handshake(lotad_ca *ca, const char *sni, hs_result *r)
{
	const char *names[] = {"s3.example.com"};
	lotad_tls *t = NULL;
	char err[256];
	int sv[2];
	memset(r, 0, sizeof(*r));
	CU_ASSERT_EQUAL_FATAL(lotad_tls_new(ca, names, 1, &t, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL_FATAL(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
	SSL_CTX *cctx = SSL_CTX_new(TLS_client_method());
	SSL_CTX_load_verify_file(cctx, lotad_ca_cert_path(ca));
	SSL_CTX_set_verify(cctx, SSL_VERIFY_PEER, NULL);
	SSL *cl = SSL_new(cctx);
	SSL_set_fd(cl, sv[0]);
	if (sni) {
		SSL_set_tlsext_host_name(cl, sni);
		SSL_set1_host(cl, sni);
	}
	SSL_set_connect_state(cl);
	lotad_tls_conn *sc = lotad_tls_conn_new(t, sv[1]);
	CU_ASSERT_PTR_NOT_NULL_FATAL(sc);
	int crc = 0, src = -EAGAIN;
	unsigned want;
	for (int i = 0; i < 200; i++) {
		if (crc != 1) {
			crc = SSL_do_handshake(cl);
			if (crc <= 0) {
				int e = SSL_get_error(cl, crc);
				if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE)
					break;
			}
		}
		if (src == -EAGAIN)
			src = lotad_tls_handshake(sc, &want);
		if (crc == 1 && src == 1)
			break;
		/* a server that refused goes on looping until the client has read the alert */
	}
	ERR_clear_error();
	r->client_ok = crc == 1;
	r->server_rc = src;
	r->verify = SSL_get_verify_result(cl);
	X509 *peer = SSL_get1_peer_certificate(cl);
	r->got_cert = peer != NULL;
	X509_free(peer);
	if (r->client_ok && src == 1) {
		/* bytes both ways through the wrappers */
		CU_ASSERT_EQUAL(SSL_write(cl, "GET / HTTP/1.1\r\n", 16), 16);
		char buf[64];
		ssize_t n = -EAGAIN;
		for (int i = 0; i < 50 && n == -EAGAIN; i++)
			n = lotad_tls_read(sc, buf, sizeof(buf), &want);
		CU_ASSERT_EQUAL(n, 16);
		CU_ASSERT_EQUAL(lotad_tls_write(sc, "pong", 4, &want), 4);
		int m = -1;
		for (int i = 0; i < 50 && m <= 0; i++)
			m = SSL_read(cl, r->echoed, sizeof(r->echoed) - 1);
		if (m > 0)
			r->echoed[m] = 0;
		ERR_clear_error();
		/* the client goes away: the server reads end of stream */
		SSL_shutdown(cl);
		n = -EAGAIN;
		for (int i = 0; i < 50 && n == -EAGAIN; i++)
			n = lotad_tls_read(sc, buf, sizeof(buf), &want);
		CU_ASSERT_EQUAL(n, 0);
	}
	lotad_tls_conn_free(sc);
	SSL_free(cl);
	SSL_CTX_free(cctx);
	close(sv[0]);
	close(sv[1]);
	char metrics[1024];
	CU_ASSERT(lotad_tls_metrics(metrics, sizeof(metrics), t) < sizeof(metrics));
	CU_ASSERT_PTR_NOT_NULL(strstr(metrics, "lota_tls_handshakes_total{result=\"ok\"} "));
	if (r->client_ok && src == 1)
		CU_ASSERT_PTR_NOT_NULL(strstr(metrics, "{result=\"ok\"} 1\n"));
	if (src == -EPROTO && !r->got_cert)
		CU_ASSERT_PTR_NOT_NULL(strstr(metrics, "{result=\"refused\"} 1\n"));
	lotad_tls_free(t);
	ERR_clear_error();
}

static void test_handshakes(void)
{
	fresh();
	lotad_ca *ca = open_ok(NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(ca);
	hs_result r;

	handshake(ca, "bucket.s3.example.com", &r);
	CU_ASSERT_EQUAL(r.client_ok, 1);
	CU_ASSERT_EQUAL(r.server_rc, 1);
	CU_ASSERT_EQUAL(r.verify, X509_V_OK);
	CU_ASSERT_STRING_EQUAL(r.echoed, "pong");

	handshake(ca, "S3.EXAMPLE.COM", &r); /* SNI is case-insensitive */
	CU_ASSERT_EQUAL(r.client_ok, 1);
	CU_ASSERT_EQUAL(r.verify, X509_V_OK);

	handshake(ca, "evil.example.org", &r); /* not served: alert, no certificate */
	CU_ASSERT_EQUAL(r.client_ok, 0);
	CU_ASSERT_EQUAL(r.server_rc, -EPROTO);
	CU_ASSERT_EQUAL(r.got_cert, 0);

	handshake(ca, NULL, &r); /* no SNI at all */
	CU_ASSERT_EQUAL(r.client_ok, 0);
	CU_ASSERT_EQUAL(r.server_rc, -EPROTO);
	CU_ASSERT_EQUAL(r.got_cert, 0);
	lotad_ca_free(ca);
}

/* A client that does not trust the node CA fails its own verification. */
static void test_untrusted_client_fails(void)
{
	fresh();
	lotad_ca *ca = open_ok(NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(ca);
	/* another CA's certificate as the client's only trust anchor */
	char dir2[600], err[256];
	lotad_ca *other = NULL;
	snprintf(dir2, sizeof(dir2), "%s/other", g_dir);
	CU_ASSERT_EQUAL_FATAL(lotad_ca_open(dir2, NULL, &other, err, sizeof(err)), 0);
	hs_result r;
	/* server uses ca, client trusts other: swap the paths by verifying against other */
	const char *names[] = {"s3.example.com"};
	lotad_tls *t = NULL;
	int sv[2];
	CU_ASSERT_EQUAL_FATAL(lotad_tls_new(ca, names, 1, &t, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL_FATAL(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
	SSL_CTX *cctx = SSL_CTX_new(TLS_client_method());
	SSL_CTX_load_verify_file(cctx, lotad_ca_cert_path(other));
	SSL_CTX_set_verify(cctx, SSL_VERIFY_PEER, NULL);
	SSL *cl = SSL_new(cctx);
	SSL_set_fd(cl, sv[0]);
	SSL_set_tlsext_host_name(cl, "s3.example.com");
	SSL_set_connect_state(cl);
	lotad_tls_conn *sc = lotad_tls_conn_new(t, sv[1]);
	int crc = 0, src = -EAGAIN;
	unsigned want;
	for (int i = 0; i < 200; i++) {
		crc = SSL_do_handshake(cl);
		if (crc <= 0) {
			int e = SSL_get_error(cl, crc);
			if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE)
				break;
		}
		if (src == -EAGAIN)
			src = lotad_tls_handshake(sc, &want);
		if (crc == 1)
			break;
	}
	r.verify = SSL_get_verify_result(cl);
	CU_ASSERT_NOT_EQUAL(crc, 1);
	CU_ASSERT_EQUAL(r.verify, X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY);
	ERR_clear_error();
	lotad_tls_conn_free(sc);
	SSL_free(cl);
	SSL_CTX_free(cctx);
	close(sv[0]);
	close(sv[1]);
	lotad_tls_free(t);
	lotad_ca_free(other);
	lotad_ca_free(ca);
	ERR_clear_error();
}

/* Move up to max bytes from one socket to another (the relay between a client and the
 * server side, so that a test decides how records arrive). Returns the bytes moved. */
static size_t relay(int from, int to, size_t max)
{
	char buf[65536];
	size_t moved = 0;
	while (moved < max) {
		size_t want = max - moved < sizeof(buf) ? max - moved : sizeof(buf);
		ssize_t n = recv(from, buf, want, MSG_PEEK); /* take only what `to` accepts */
		if (n <= 0)
			break;
		ssize_t sent = send(to, buf, (size_t)n, 0);
		if (sent <= 0)
			break;
		CU_ASSERT_EQUAL(recv(from, buf, (size_t)sent, 0), sent);
		moved += (size_t)sent;
	}
	return moved;
}

/* Records split by the network, and records read in pieces: pending says "read again now"
 * only for decrypted bytes, never for a partial record (which waits for the socket). */
static void test_partial_records(void)
{
	fresh();
	lotad_ca *ca = open_ok(NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(ca);
	const char *names[] = {"s3.example.com"};
	lotad_tls *t = NULL;
	char err[256];
	int a[2], b[2]; /* client a[0] <-> relay a[1] / b[0] <-> server b[1] */
	CU_ASSERT_EQUAL_FATAL(lotad_tls_new(ca, names, 1, &t, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL_FATAL(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, a), 0);
	CU_ASSERT_EQUAL_FATAL(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, b), 0);
	SSL_CTX *cctx = SSL_CTX_new(TLS_client_method());
	SSL_CTX_load_verify_file(cctx, lotad_ca_cert_path(ca));
	SSL_CTX_set_verify(cctx, SSL_VERIFY_PEER, NULL);
	SSL *cl = SSL_new(cctx);
	SSL_set_fd(cl, a[0]);
	SSL_set_tlsext_host_name(cl, "s3.example.com");
	SSL_set_connect_state(cl);
	lotad_tls_conn *sc = lotad_tls_conn_new(t, b[1]);
	int crc = 0, src = -EAGAIN;
	unsigned want;
	for (int i = 0; i < 200 && !(crc == 1 && src == 1); i++) {
		if (crc != 1)
			crc = SSL_do_handshake(cl);
		relay(a[1], b[0], SIZE_MAX);
		if (src == -EAGAIN)
			src = lotad_tls_handshake(sc, &want);
		relay(b[0], a[1], SIZE_MAX);
	}
	CU_ASSERT_EQUAL_FATAL(crc, 1);
	CU_ASSERT_EQUAL_FATAL(src, 1);
	/* the server's session tickets (TLS 1.3) reach the client with its first read */
	char big[3000], got[3000];
	lota_unit_pattern(big, sizeof(big), 7);
	CU_ASSERT_EQUAL(SSL_write(cl, big, sizeof(big)), (int)sizeof(big)); /* one record */
	/* 10 bytes of it: nothing to read, nothing pending */
	CU_ASSERT_EQUAL(relay(a[1], b[0], 10), 10);
	CU_ASSERT_EQUAL(lotad_tls_read(sc, got, sizeof(got), &want), -EAGAIN);
	CU_ASSERT_EQUAL(want, LOTAD_TLS_WANT_READ);
	CU_ASSERT_FALSE(lotad_tls_pending(sc));
	/* the rest: read in pieces, pending while part of the record is left */
	relay(a[1], b[0], SIZE_MAX);
	CU_ASSERT_EQUAL(lotad_tls_read(sc, got, 100, &want), 100);
	CU_ASSERT_TRUE(lotad_tls_pending(sc));
	CU_ASSERT_EQUAL(lotad_tls_read(sc, got + 100, sizeof(got) - 100, &want),
	                (ssize_t)sizeof(got) - 100);
	CU_ASSERT_FALSE(lotad_tls_pending(sc));
	CU_ASSERT_EQUAL(memcmp(big, got, sizeof(big)), 0);
	CU_ASSERT_EQUAL(lotad_tls_read(sc, got, sizeof(got), &want), -EAGAIN);

	/* a write the socket cannot take: -EAGAIN (want write), then the same bytes again
	 * from another buffer (lotad moves them into its output buffer) go through whole */
	static char out[1 << 20], copy[1 << 20], in[1 << 20];
	lota_unit_pattern(out, sizeof(out), 9);
	size_t off = 0, recvd = 0;
	ssize_t n;
	while ((n = lotad_tls_write(sc, out + off, sizeof(out) - off, &want)) > 0)
		off += (size_t)n;
	CU_ASSERT_EQUAL(n, -EAGAIN);
	CU_ASSERT_EQUAL(want, LOTAD_TLS_WANT_WRITE);
	CU_ASSERT(off < sizeof(out));
	size_t off0 = off;
	memcpy(copy, out + off0, sizeof(out) - off0);
	for (int i = 0; i < 100000 && recvd < sizeof(in); i++) {
		relay(b[0], a[1], SIZE_MAX);
		int r = SSL_read(cl, in + recvd, (int)(sizeof(in) - recvd));
		if (r > 0)
			recvd += (size_t)r;
		if (off < sizeof(out)) {
			n = lotad_tls_write(sc, copy + (off - off0), sizeof(out) - off, &want);
			if (n > 0)
				off += (size_t)n;
		}
	}
	ERR_clear_error();
	CU_ASSERT_EQUAL(off, sizeof(out));
	CU_ASSERT_EQUAL(recvd, sizeof(in));
	CU_ASSERT_EQUAL(memcmp(in, out, sizeof(in)), 0);

	lotad_tls_conn_free(sc);
	SSL_free(cl);
	SSL_CTX_free(cctx);
	close(a[0]);
	close(a[1]);
	close(b[0]);
	close(b[1]);
	lotad_tls_free(t);
	lotad_ca_free(ca);
	ERR_clear_error();
}

int main(void)
{
	CU_TestInfo tests[] = {
	    {"CA created, then reloaded", test_create_and_reload},
	    {"CA key readable by others or not ours: refused", test_key_permissions_refused},
	    {"CA files that are not what they should be", test_bad_files},
	    {"leaf per name: SAN, validity, chain, refusals", test_leaf},
	    {"leaf cache: reuse, renewal, bound", test_leaf_cache},
	    {"served names", test_name_served},
	    {"handshakes: served, case, not served, no SNI", test_handshakes},
	    {"a client without the node CA fails", test_untrusted_client_fails},
	    {"records split and read in pieces; writes retried", test_partial_records},
	    CU_TEST_INFO_NULL,
	};
	if (setup())
		return 1;
	int rc = lota_unit_run("daemon_tls", tests);
	teardown();
	return rc;
}
