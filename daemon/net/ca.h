/*
 * ca.h - the node CA: a certificate authority local to one node, with which lotad issues
 * the certificates of the names it serves over TLS (redirected upstream names, its own
 * endpoint names), so that programs redirected to it keep full TLS verification.
 *
 * On disk (one directory, default /var/lib/lota/ca):
 *   ca.key     the CA's EC P-256 private key, PEM, mode 0600, owned by lotad's user;
 *              lotad refuses to start when anyone else may read it or it has another
 *              owner (the key can sign a certificate for any name).
 *   ca.pem     the CA's self-signed certificate (CA:true, pathlen 0, 10 years).
 *   bundle.pem the system roots (/etc/ssl/certs/ca-certificates.crt) followed by ca.pem:
 *              what clients are given (SSL_CERT_FILE replaces the default store, so the
 *              bundle must carry the public roots as well). Rewritten at every start.
 * The directory is created 0755 (programs of every user read bundle.pem; the key file's
 * own mode protects it) and refused when others may write to it.
 *
 * Leaf certificates are issued in memory for one DNS name each (SAN = the name, 7 days,
 * random serial, their own P-256 key), kept in a bounded cache shared by all workers
 * (a mutex), and issued again a day before they expire.
 */
#ifndef LOTAD_CA_H
#define LOTAD_CA_H

#include <stddef.h>
#include <stdint.h>

typedef struct lotad_ca lotad_ca;

#define LOTAD_CA_DEFAULT_DIR  "/var/lib/lota/ca"
#define LOTAD_CA_LEAF_VALID_S (7 * 24 * 3600)
#define LOTAD_CA_LEAF_RENEW_S (24 * 3600) /* reissue when less than this is left */
#define LOTAD_CA_MAX_NAME     253

/* Options of lotad_ca_open; zero them, then set what differs. */
typedef struct lotad_ca_options {
	const char *system_roots; /* NULL: /etc/ssl/certs/ca-certificates.crt */
	size_t max_leaves;        /* leaf cache entries; 0: 256 */
} lotad_ca_options;

/*
 * Open the CA in dir, creating the directory, the key, the certificate and the bundle
 * when there is no key yet. Returns 0 and *out, or a negative code with a sentence in
 * err: -EACCES the key (or the dir) may be read or written by others, or has another
 * owner; -EINVAL a file that is not what it should be (ca.pem not made from ca.key, not
 * a CA); -errno from the file system.
 */
int lotad_ca_open(const char *dir, const lotad_ca_options *opts, lotad_ca **out, char *err,
                  size_t err_cap);
void lotad_ca_free(lotad_ca *ca); /* NULL ok */

/* Paths of ca.pem and bundle.pem (owned by ca). */
const char *lotad_ca_cert_path(const lotad_ca *ca);
const char *lotad_ca_bundle_path(const lotad_ca *ca);

/*
 * The leaf certificate and key for the DNS name (lower case, 1..253 characters of
 * letters, digits, '-' and '.'), issued now or taken from the cache. Thread-safe. On
 * success *cert and *key are new references (an X509 * and an EVP_PKEY *, void here so
 * that this header needs no OpenSSL; free them with X509_free / EVP_PKEY_free) and 0 is
 * returned; -EINVAL for a name that is not a DNS name, -ENOMEM, -EIO when OpenSSL fails.
 * now_s: the wall-clock time (seconds), for validity and reissue.
 */
int lotad_ca_leaf(lotad_ca *ca, const char *name, int64_t now_s, void **cert, void **key);

/* The CA certificate (X509 *, a reference owned by ca): the chain sent with each leaf. */
void *lotad_ca_cert(const lotad_ca *ca);

/* Leaves issued since open (cache misses and renewals), for tests and metrics. */
uint64_t lotad_ca_leaves_issued(const lotad_ca *ca);

#endif
