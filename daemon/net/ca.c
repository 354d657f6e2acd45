/*
 * ca.c - the node CA (see ca.h): its files, created once and checked at every start,
 * and the leaf certificates issued from it per served name.
 *
 * Files are written to a temporary name and then linked (the key: never replacing one
 * that another process made meanwhile) or renamed (the certificate, the bundle) into
 * place, so a crash leaves either the old file or the new one, never half of one. The
 * key's temporary file is created 0600 before a byte of the key is written.
 *
 * Name constraints are not put in the CA: the names lotad serves change with its
 * configuration (--endpoint-name, --redirect), and a CA constrained to those of its
 * first start would have to be replaced, with every client's bundle, at each change.
 * What guards the CA is that its key never leaves the node and is readable by lotad's
 * user alone (checked at every start).
 */
#include "net/ca.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <lota/log.h>

#define SYSTEM_ROOTS   "/etc/ssl/certs/ca-certificates.crt"
#define CA_VALID_S     (10LL * 365 * 24 * 3600)
#define BACKDATE_S     3600 /* a client's clock a little behind still accepts a leaf */
#define DEFAULT_LEAVES 256
#define PATH_CAP       4096

typedef struct leaf {
	char name[LOTAD_CA_MAX_NAME + 1];
	X509 *cert;
	EVP_PKEY *key;
	int64_t not_after_s;
	uint64_t used; /* LRU tick */
} leaf;

struct lotad_ca {
	char dir[PATH_CAP];
	char key_path[PATH_CAP], cert_path[PATH_CAP], bundle_path[PATH_CAP];
	EVP_PKEY *key;
	X509 *cert;
	pthread_mutex_t mu;
	leaf *leaves;
	size_t max_leaves, num_leaves;
	uint64_t tick, issued;
};

static void seterr(char *err, size_t cap, const char *fmt, const char *a, const char *b)
{
	if (err && cap)
		snprintf(err, cap, fmt, a, b);
}

/* The directory: made (with its parents) when missing; refused when it is not a
 * directory of ours or others may write to it (they could swap the files). */
static int prepare_dir(const char *dir, char *err, size_t cap)
{
	char p[PATH_CAP];
	struct stat st;
	if (snprintf(p, sizeof(p), "%s", dir) >= (int)sizeof(p))
		return -ENAMETOOLONG;
	for (char *q = p + 1; *q; q++) {
		if (*q != '/')
			continue;
		*q = 0;
		if (mkdir(p, 0755) < 0 && errno != EEXIST) {
			int rc = -errno;
			seterr(err, cap, "cannot create %s: %s", p, strerror(-rc));
			return rc;
		}
		*q = '/';
	}
	if (mkdir(p, 0755) < 0 && errno != EEXIST) {
		int rc = -errno;
		seterr(err, cap, "cannot create %s: %s", p, strerror(-rc));
		return rc;
	}
	if (lstat(p, &st) < 0) {
		int rc = -errno;
		seterr(err, cap, "%s: %s", p, strerror(-rc));
		return rc;
	}
	if (!S_ISDIR(st.st_mode)) {
		seterr(err, cap, "%s: %s", p, "not a directory");
		return -ENOTDIR;
	}
	if (st.st_uid != geteuid() || (st.st_mode & 022)) {
		seterr(err, cap, "%s: %s", p,
		       "owned by another user or writable by others (chown it to lotad's user "
		       "and chmod 755 it)");
		return -EACCES;
	}
	return 0;
}

/* ------------------------------------------------------------- certificates --- */

static int random_serial(X509 *x)
{
	unsigned char b[16];
	int rc = -EIO;
	if (RAND_bytes(b, sizeof(b)) != 1)
		return -EIO;
	b[0] &= 0x7f; /* positive */
	b[0] |= 0x01; /* and 16 bytes long: never 0 */
	BIGNUM *bn = BN_bin2bn(b, sizeof(b), NULL);
	if (bn && BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)))
		rc = 0;
	BN_free(bn);
	return rc;
}

static int add_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509V3_set_ctx(&ctx, issuer, x, NULL, NULL, 0);
	X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
	if (!e)
		return -EIO;
	int ok = X509_add_ext(x, e, -1);
	X509_EXTENSION_free(e);
	return ok ? 0 : -EIO;
}

/* A v3 certificate of key, valid [now - BACKDATE_S, now + valid_s], with a random
 * serial and the subject's CN (when it fits the CN's 64 characters). */
static X509 *cert_new(EVP_PKEY *key, const char *cn, int64_t now_s, int64_t valid_s)
{
	X509 *x = X509_new();
	time_t now = (time_t)now_s;
	if (!x || !X509_set_version(x, 2) || random_serial(x) < 0 || !X509_set_pubkey(x, key) ||
	    !X509_time_adj_ex(X509_getm_notBefore(x), 0, -BACKDATE_S, &now) ||
	    !X509_time_adj_ex(X509_getm_notAfter(x), (int)(valid_s / 86400),
	                      (long)(valid_s % 86400), &now))
		goto fail;
	if (strlen(cn) <= 64) {
		X509_NAME *n = X509_get_subject_name(x);
		if (!X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)cn,
		                                -1, -1, 0))
			goto fail;
	}
	return x;
fail:
	X509_free(x);
	return NULL;
}

static X509 *ca_cert_make(EVP_PKEY *key, int64_t now_s)
{
	char host[128] = "";
	char cn[200];
	(void)gethostname(host, sizeof(host) - 1);
	host[sizeof(host) - 1] = 0;
	snprintf(cn, sizeof(cn), "lota node CA %.40s", host[0] ? host : "localhost");
	X509 *x = cert_new(key, cn, now_s, CA_VALID_S);
	if (!x)
		return NULL;
	X509_NAME *n = X509_get_subject_name(x);
	if (!X509_NAME_add_entry_by_txt(n, "O", MBSTRING_ASC, (const unsigned char *)"lota", -1, -1,
	                                0) ||
	    !X509_set_issuer_name(x, n) ||
	    add_ext(x, x, NID_basic_constraints, "critical,CA:TRUE,pathlen:0") < 0 ||
	    add_ext(x, x, NID_key_usage, "critical,keyCertSign,cRLSign") < 0 ||
	    add_ext(x, x, NID_subject_key_identifier, "hash") < 0 ||
	    add_ext(x, x, NID_authority_key_identifier, "keyid:always") < 0 ||
	    !X509_sign(x, key, EVP_sha256())) {
		X509_free(x);
		return NULL;
	}
	return x;
}

static bool dns_name_ok(const char *name)
{
	size_t n = strlen(name);
	if (n == 0 || n > LOTAD_CA_MAX_NAME || name[0] == '.' || name[n - 1] == '.')
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = name[i];
		bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
		          (c == '.' && name[i + 1] != '.');
		if (!ok)
			return false;
	}
	return true;
}

static int leaf_make(lotad_ca *ca, const char *name, int64_t now_s, X509 **cert_out,
                     EVP_PKEY **key_out)
{
	char san[LOTAD_CA_MAX_NAME + 8];
	EVP_PKEY *key = EVP_EC_gen("P-256");
	X509 *x = NULL;
	if (!key)
		return -EIO;
	x = cert_new(key, name, now_s, LOTAD_CA_LEAF_VALID_S);
	snprintf(san, sizeof(san), "DNS:%s", name);
	/* SAN critical when the subject is empty (a name too long for the CN) */
	char sanv[LOTAD_CA_MAX_NAME + 20];
	snprintf(sanv, sizeof(sanv), "%s%s", strlen(name) > 64 ? "critical," : "", san);
	if (!x || !X509_set_issuer_name(x, X509_get_subject_name(ca->cert)) ||
	    add_ext(x, ca->cert, NID_basic_constraints, "critical,CA:FALSE") < 0 ||
	    add_ext(x, ca->cert, NID_key_usage, "critical,digitalSignature") < 0 ||
	    add_ext(x, ca->cert, NID_ext_key_usage, "serverAuth") < 0 ||
	    add_ext(x, ca->cert, NID_subject_key_identifier, "hash") < 0 ||
	    add_ext(x, ca->cert, NID_authority_key_identifier, "keyid:always") < 0 ||
	    add_ext(x, ca->cert, NID_subject_alt_name, sanv) < 0 ||
	    !X509_sign(x, ca->key, EVP_sha256())) {
		X509_free(x);
		EVP_PKEY_free(key);
		return -EIO;
	}
	*cert_out = x;
	*key_out = key;
	return 0;
}

/* ------------------------------------------------------------------- files --- */

/* Write a PEM object to a new temporary file next to path (mode), fsync it, and put it
 * in place: by link (never replacing an existing file: -EEXIST) or by rename. */
static int write_pem(const char *path, mode_t mode, bool replace, EVP_PKEY *key, X509 *cert,
                     const char *prefix_file)
{
	char tmp[PATH_CAP + 16];
	int rc = -EIO, fd;
	FILE *f = NULL;
	if (snprintf(tmp, sizeof(tmp), "%s.XXXXXX", path) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	fd = mkstemp(tmp); /* 0600 from the start */
	if (fd < 0)
		return -errno;
	if (fchmod(fd, mode) < 0) {
		rc = -errno;
		close(fd);
		goto out;
	}
	f = fdopen(fd, "w");
	if (!f) {
		rc = -errno;
		close(fd);
		goto out;
	}
	if (prefix_file) {
		FILE *in = fopen(prefix_file, "r");
		if (!in) /* still a bundle: clients then trust the node CA alone */
			lota_log_warn("ca: system roots %s: %s; %s holds the node CA only",
			              prefix_file, strerror(errno), path);
		if (in) {
			char buf[8192];
			size_t n;
			while ((n = fread(buf, 1, sizeof(buf), in)) > 0)
				if (fwrite(buf, 1, n, f) != n)
					break;
			bool bad = ferror(in);
			fclose(in);
			if (bad || ferror(f))
				goto out;
		}
	}
	if (key && !PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL))
		goto out;
	if (cert && !PEM_write_X509(f, cert))
		goto out;
	if (fflush(f) != 0 || fsync(fileno(f)) < 0) {
		rc = -errno;
		goto out;
	}
	if (replace) {
		if (rename(tmp, path) < 0) {
			rc = -errno;
			goto out;
		}
		tmp[0] = 0;
	} else if (link(tmp, path) < 0) {
		rc = -errno;
		goto out;
	}
	rc = 0;
out:
	if (f)
		fclose(f);
	if (tmp[0])
		unlink(tmp);
	return rc;
}

/* Read the key, refusing a file others may read or that another user owns. */
static int load_key(const char *path, EVP_PKEY **out, char *err, size_t cap)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		seterr(err, cap, "%s: %s", path, "not a regular file");
		return -EINVAL;
	}
	if (st.st_uid != geteuid() || (st.st_mode & 077)) {
		close(fd);
		seterr(err, cap, "%s: %s", path,
		       "readable by others or owned by another user (chmod 600 it and chown it "
		       "to lotad's user, or remove the CA directory to make a new CA)");
		return -EACCES;
	}
	FILE *f = fdopen(fd, "r");
	if (!f) {
		close(fd);
		return -ENOMEM;
	}
	EVP_PKEY *k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	if (!k || EVP_PKEY_get_base_id(k) != EVP_PKEY_EC) {
		EVP_PKEY_free(k);
		seterr(err, cap, "%s: %s", path, "not a PEM EC private key");
		return -EINVAL;
	}
	*out = k;
	return 0;
}

/* ca.pem: read and checked against the key. A missing one (a crash between the key
 * and the certificate at first start) is made again from the key: same key, same
 * subject, so leaves verify against either. */
static int load_cert(lotad_ca *ca, char *err, size_t cap)
{
	FILE *f = fopen(ca->cert_path, "re");
	if (!f && errno == ENOENT) {
		ca->cert = ca_cert_make(ca->key, (int64_t)time(NULL));
		if (!ca->cert)
			return -EIO;
		int rc = write_pem(ca->cert_path, 0644, true, NULL, ca->cert, NULL);
		if (rc < 0)
			seterr(err, cap, "cannot write %s: %s", ca->cert_path, strerror(-rc));
		return rc;
	}
	if (!f) {
		int rc = -errno;
		seterr(err, cap, "%s: %s", ca->cert_path, strerror(-rc));
		return rc;
	}
	ca->cert = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	if (!ca->cert || X509_check_ca(ca->cert) < 1 ||
	    !X509_check_private_key(ca->cert, ca->key)) {
		seterr(err, cap, "%s: %s", ca->cert_path,
		       "not a CA certificate made from ca.key (remove both to make a new CA)");
		return -EINVAL;
	}
	return 0;
}

/* First start (no ca.key): a new key, linked into place only if no other process made
 * one meanwhile (-EEXIST: the caller loads that one), then its certificate. */
static int create_ca(lotad_ca *ca, char *err, size_t cap)
{
	ca->key = EVP_EC_gen("P-256");
	if (!ca->key)
		return -EIO;
	int rc = write_pem(ca->key_path, 0600, false, ca->key, NULL, NULL);
	if (rc == -EEXIST)
		return rc;
	if (rc < 0) {
		seterr(err, cap, "cannot write %s: %s", ca->key_path, strerror(-rc));
		return rc;
	}
	ca->cert = ca_cert_make(ca->key, (int64_t)time(NULL));
	if (!ca->cert)
		return -EIO;
	rc = write_pem(ca->cert_path, 0644, true, NULL, ca->cert, NULL);
	if (rc < 0)
		seterr(err, cap, "cannot write %s: %s", ca->cert_path, strerror(-rc));
	return rc;
}

int lotad_ca_open(const char *dir, const lotad_ca_options *opts, lotad_ca **out, char *err,
                  size_t err_cap)
{
	lotad_ca_options o = opts ? *opts : (lotad_ca_options){0};
	lotad_ca *ca = calloc(1, sizeof(*ca));
	int rc = -ENOMEM;
	if (err && err_cap)
		err[0] = 0;
	*out = NULL;
	if (!ca)
		goto fail;
	pthread_mutex_init(&ca->mu, NULL);
	ca->max_leaves = o.max_leaves ? o.max_leaves : DEFAULT_LEAVES;
	ca->leaves = calloc(ca->max_leaves, sizeof(*ca->leaves));
	if (!ca->leaves)
		goto fail;
	rc = -ENAMETOOLONG;
	if (snprintf(ca->dir, sizeof(ca->dir), "%s", dir) >= (int)sizeof(ca->dir) ||
	    snprintf(ca->key_path, sizeof(ca->key_path), "%s/ca.key", dir) >= PATH_CAP ||
	    snprintf(ca->cert_path, sizeof(ca->cert_path), "%s/ca.pem", dir) >= PATH_CAP ||
	    snprintf(ca->bundle_path, sizeof(ca->bundle_path), "%s/bundle.pem", dir) >= PATH_CAP) {
		seterr(err, err_cap, "%s: %s", dir, "path too long");
		goto fail;
	}
	if ((rc = prepare_dir(dir, err, err_cap)) < 0)
		goto fail;
	rc = load_key(ca->key_path, &ca->key, err, err_cap);
	if (rc == -ENOENT) {
		rc = create_ca(ca, err, err_cap);
		if (rc == -EEXIST) { /* made by another process meanwhile: use that one */
			EVP_PKEY_free(ca->key);
			X509_free(ca->cert);
			ca->key = NULL;
			ca->cert = NULL;
			rc = load_key(ca->key_path, &ca->key, err, err_cap);
			if (rc == 0)
				rc = load_cert(ca, err, err_cap);
		}
	} else if (rc == 0) {
		rc = load_cert(ca, err, err_cap);
	} else if (err && err_cap && !err[0]) {
		seterr(err, err_cap, "%s: %s", ca->key_path, strerror(-rc));
	}
	if (rc < 0)
		goto fail;
	/* The bundle follows the system's roots as they are now. */
	rc = write_pem(ca->bundle_path, 0644, true, NULL, ca->cert,
	               o.system_roots ? o.system_roots : SYSTEM_ROOTS);
	if (rc < 0) {
		seterr(err, err_cap, "cannot write %s: %s", ca->bundle_path, strerror(-rc));
		goto fail;
	}
	*out = ca;
	return 0;
fail:
	if (rc == -ENOMEM && err && err_cap && !err[0])
		seterr(err, err_cap, "%s%s", "out of memory", "");
	lotad_ca_free(ca);
	return rc;
}

void lotad_ca_free(lotad_ca *ca)
{
	if (!ca)
		return;
	for (size_t i = 0; ca->leaves && i < ca->num_leaves; i++) {
		X509_free(ca->leaves[i].cert);
		EVP_PKEY_free(ca->leaves[i].key);
	}
	free(ca->leaves);
	EVP_PKEY_free(ca->key);
	X509_free(ca->cert);
	pthread_mutex_destroy(&ca->mu);
	free(ca);
}

const char *lotad_ca_cert_path(const lotad_ca *ca)
{
	return ca->cert_path;
}

const char *lotad_ca_bundle_path(const lotad_ca *ca)
{
	return ca->bundle_path;
}

void *lotad_ca_cert(const lotad_ca *ca)
{
	return ca->cert;
}

uint64_t lotad_ca_leaves_issued(const lotad_ca *ca)
{
	lotad_ca *m = (lotad_ca *)ca;
	pthread_mutex_lock(&m->mu);
	uint64_t n = m->issued;
	pthread_mutex_unlock(&m->mu);
	return n;
}

int lotad_ca_leaf(lotad_ca *ca, const char *name, int64_t now_s, void **cert, void **key)
{
	if (!dns_name_ok(name))
		return -EINVAL;
	int rc = 0;
	pthread_mutex_lock(&ca->mu);
	leaf *e = NULL, *lru = NULL;
	for (size_t i = 0; i < ca->num_leaves; i++) {
		leaf *l = &ca->leaves[i];
		if (strcmp(l->name, name) == 0) {
			e = l;
			break;
		}
		if (!lru || l->used < lru->used)
			lru = l;
	}
	if (!e || e->not_after_s - now_s < LOTAD_CA_LEAF_RENEW_S) {
		X509 *x;
		EVP_PKEY *k;
		rc = leaf_make(ca, name, now_s, &x, &k);
		if (rc < 0)
			goto out;
		if (!e) {
			/* a new entry, or the least recently used one when the cache is full */
			e = ca->num_leaves < ca->max_leaves ? &ca->leaves[ca->num_leaves++] : lru;
			snprintf(e->name, sizeof(e->name), "%s", name);
		}
		X509_free(e->cert); /* connections using them hold their own references */
		EVP_PKEY_free(e->key);
		e->cert = x;
		e->key = k;
		e->not_after_s = now_s + LOTAD_CA_LEAF_VALID_S;
		ca->issued++;
	}
	e->used = ++ca->tick;
	X509_up_ref(e->cert);
	EVP_PKEY_up_ref(e->key);
	*cert = e->cert;
	*key = e->key;
out:
	pthread_mutex_unlock(&ca->mu);
	return rc;
}
