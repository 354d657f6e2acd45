/*
 * tls.c - mutual TLS on the peer port (--peer-tls-cert/-key/-ca): the OpenSSL contexts of
 * the owner's listener and of this node's own peer clients (the prober, the pokes), and
 * the check of the key file. Both sides present the node's certificate and accept only a
 * certificate signed by the cluster CA, TLS 1.2 or later; the listener refuses a client
 * without one in the handshake, before any request is read. The HMAC of every request
 * stays on top: TLS keeps non-members off the wire, the HMAC names the member.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <arpa/inet.h>

#include "cluster/cluster-internal.h"

/* The last OpenSSL error as text (for the start-up messages). */
static const char *ssl_reason(void)
{
	unsigned long e = ERR_peek_last_error();
	const char *r = e ? ERR_reason_error_string(e) : NULL;
	return r ? r : "unknown error";
}

int lotad_cluster__tls_key_check(const char *path, char *err, size_t cap)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	struct stat st;
	int rc = -1;
	if (fd < 0) {
		snprintf(err, cap, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) < 0)
		snprintf(err, cap, "%s: %s", path, strerror(errno));
	else if (!S_ISREG(st.st_mode))
		snprintf(err, cap, "%s: not a regular file", path);
	else if (st.st_uid != geteuid())
		snprintf(err, cap, "%s: owned by uid %u, not by lotad's user (uid %u)", path,
		         (unsigned)st.st_uid, (unsigned)geteuid());
	else if (st.st_mode & 077)
		snprintf(err, cap,
		         "%s: mode %04o lets others read it; the peer TLS key must be 0600 (chmod "
		         "600 %s)",
		         path, (unsigned)(st.st_mode & 07777), path);
	else
		rc = 0;
	close(fd);
	return rc;
}

int lotad_cluster__tls_ctx(const lotad_cluster_config *cfg, bool server, SSL_CTX **out, char *err,
                           size_t cap)
{
	*out = NULL;
	ERR_clear_error();
	SSL_CTX *x = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());
	if (!x) {
		snprintf(err, cap, "config key \"peer_tls_cert\": TLS context: %s", ssl_reason());
		return -1;
	}
	if (!SSL_CTX_set_min_proto_version(x, TLS1_2_VERSION)) {
		snprintf(err, cap, "config key \"peer_tls_cert\": TLS 1.2: %s", ssl_reason());
		goto fail;
	}
	if (SSL_CTX_use_certificate_chain_file(x, cfg->tls_cert) != 1) {
		snprintf(err, cap,
		         "config key \"peer_tls_cert\": %s: not a usable PEM certificate: %s",
		         cfg->tls_cert, ssl_reason());
		goto fail;
	}
	if (SSL_CTX_use_PrivateKey_file(x, cfg->tls_key, SSL_FILETYPE_PEM) != 1) {
		snprintf(err, cap, "config key \"peer_tls_key\": %s: not a usable PEM key: %s",
		         cfg->tls_key, ssl_reason());
		goto fail;
	}
	if (SSL_CTX_check_private_key(x) != 1) {
		snprintf(err, cap, "config key \"peer_tls_key\": %s is not the key of %s",
		         cfg->tls_key, cfg->tls_cert);
		goto fail;
	}
	if (SSL_CTX_load_verify_locations(x, cfg->tls_ca, NULL) != 1) {
		snprintf(err, cap, "config key \"peer_tls_ca\": %s: not a usable PEM CA: %s",
		         cfg->tls_ca, ssl_reason());
		goto fail;
	}
	/* the listener asks for a client certificate and fails the handshake without one */
	SSL_CTX_set_verify(x, SSL_VERIFY_PEER | (server ? SSL_VERIFY_FAIL_IF_NO_PEER_CERT : 0),
	                   NULL);
	SSL_CTX_set_options(x, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
	SSL_CTX_set_mode(x, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	if (server) {
		STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(cfg->tls_ca);
		if (names)
			SSL_CTX_set_client_CA_list(x, names);
	}
	*out = x;
	return 0;
fail:
	SSL_CTX_free(x);
	return -1;
}

int lotad_cluster__tls_verify_host(SSL *ssl, const char *host)
{
	/* the member's address as configured is what its certificate must name: an IP
	 * address SAN for a literal address, a DNS SAN for a name (the same check curl makes
	 * on the front node's reads, whose URLs carry that address) */
	unsigned char a[16];
	if (inet_pton(AF_INET, host, a) == 1 || inet_pton(AF_INET6, host, a) == 1)
		return X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host) == 1 ? 0 : -1;
	return SSL_set1_host(ssl, host) == 1 ? 0 : -1;
}
