/*
 * tls.c - lotad's TLS server side (see tls.h): one SSL_CTX for every worker (OpenSSL
 * makes sessions from it on any thread), the SNI check that chooses or refuses a name,
 * and recv/send-shaped wrappers of SSL_read / SSL_write for non-blocking sockets.
 *
 * The certificate is chosen in the servername callback, which OpenSSL calls for every
 * ClientHello (also a resumption, also one without SNI) before it picks the certificate:
 * so a name not served, or no name, never gets past it. The context itself holds no
 * certificate, so nothing can be presented for a ClientHello the callback did not
 * accept.
 *
 * Writes use partial-write mode (SSL_write returns after each record it could send) and
 * accept a moved buffer: server.c retries a write that would block from its output
 * buffer, which starts with the same bytes. Idle sessions release their buffers, so a
 * kept-alive connection holds little beyond the session itself.
 */
#include "net/tls.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <lota/log.h>

struct lotad_tls {
	SSL_CTX *ctx;
	lotad_ca *ca;
	char **names;
	size_t num_names;
	atomic_ullong hs_ok, hs_refused, hs_failed;
};

static char lower(char c)
{
	return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

static int sni_cb(SSL *ssl, int *alert, void *arg)
{
	lotad_tls *t = arg;
	const char *sni = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
	size_t len = sni ? strlen(sni) : 0;
	char name[LOTAD_CA_MAX_NAME + 1];
	void *cert = NULL, *key = NULL;
	if (!lotad_tls_name_served((const char *const *)t->names, t->num_names, sni, len)) {
		atomic_fetch_add(&t->hs_refused, 1);
		lota_log_debug("tls: refused a handshake for %s%.*s%s", sni ? "\"" : "",
		               (int)(len > 64 ? 64 : len), sni ? sni : "no name", sni ? "\"" : "");
		*alert = SSL_AD_UNRECOGNIZED_NAME;
		return SSL_TLSEXT_ERR_ALERT_FATAL;
	}
	for (size_t i = 0; i < len; i++)
		name[i] = lower(sni[i]);
	name[len] = 0;
	int rc = lotad_ca_leaf(t->ca, name, (int64_t)time(NULL), &cert, &key);
	if (rc < 0 || SSL_use_cert_and_key(ssl, cert, key, NULL, 1) != 1) {
		lota_log_warn("tls: no certificate for \"%s\": %s", name,
		              rc < 0 ? lota_strerror(rc) : "SSL_use_cert_and_key failed");
		X509_free(cert);
		EVP_PKEY_free(key);
		*alert = SSL_AD_INTERNAL_ERROR;
		return SSL_TLSEXT_ERR_ALERT_FATAL;
	}
	X509_free(cert);
	EVP_PKEY_free(key);
	return SSL_TLSEXT_ERR_OK;
}

int lotad_tls_new(lotad_ca *ca, const char *const *names, size_t n, lotad_tls **out, char *err,
                  size_t err_cap)
{
	lotad_tls *t = calloc(1, sizeof(*t));
	*out = NULL;
	if (!t || !(t->names = calloc(n ? n : 1, sizeof(char *))))
		goto nomem;
	t->ca = ca;
	for (size_t i = 0; i < n; i++) {
		if (!(t->names[i] = strdup(names[i])))
			goto nomem;
		t->num_names++;
	}
	t->ctx = SSL_CTX_new(TLS_server_method());
	if (!t->ctx || !SSL_CTX_set_min_proto_version(t->ctx, TLS1_2_VERSION))
		goto ssl_fail;
	SSL_CTX_set_options(t->ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE |
	                                SSL_OP_IGNORE_UNEXPECTED_EOF | SSL_OP_NO_COMPRESSION);
	SSL_CTX_set_mode(t->ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
	                             SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
	                             SSL_MODE_RELEASE_BUFFERS);
	SSL_CTX_set_tlsext_servername_callback(t->ctx, sni_cb);
	SSL_CTX_set_tlsext_servername_arg(t->ctx, t);
	SSL_CTX_set_app_data(t->ctx, t);
	*out = t;
	return 0;
ssl_fail:
	if (err && err_cap)
		snprintf(err, err_cap, "TLS context: %s", ERR_reason_error_string(ERR_get_error()));
	lotad_tls_free(t);
	return -EIO;
nomem:
	if (err && err_cap)
		snprintf(err, err_cap, "out of memory");
	lotad_tls_free(t);
	return -ENOMEM;
}

void lotad_tls_free(lotad_tls *t)
{
	if (!t)
		return;
	SSL_CTX_free(t->ctx);
	for (size_t i = 0; t->names && i < t->num_names; i++)
		free(t->names[i]);
	free(t->names);
	free(t);
}

size_t lotad_tls_metrics(char *out, size_t cap, void *ud)
{
	lotad_tls *t = ud;
	int n = snprintf(out, cap,
	                 "# HELP lota_tls_handshakes_total TLS handshakes on tls_listen by result "
	                 "(refused: no SNI or a name lotad does not serve).\n"
	                 "# TYPE lota_tls_handshakes_total counter\n"
	                 "lota_tls_handshakes_total{result=\"ok\"} %llu\n"
	                 "lota_tls_handshakes_total{result=\"refused\"} %llu\n"
	                 "lota_tls_handshakes_total{result=\"failed\"} %llu\n",
	                 (unsigned long long)atomic_load(&t->hs_ok),
	                 (unsigned long long)atomic_load(&t->hs_refused),
	                 (unsigned long long)atomic_load(&t->hs_failed));
	return n < 0 ? 0 : (size_t)n;
}

/* ---------------------------------------------------------------- sessions --- */

lotad_tls_conn *lotad_tls_conn_new(lotad_tls *t, int fd)
{
	SSL *ssl = SSL_new(t->ctx);
	if (!ssl)
		return NULL;
	if (SSL_set_fd(ssl, fd) != 1) {
		SSL_free(ssl);
		return NULL;
	}
	SSL_set_accept_state(ssl);
	return (lotad_tls_conn *)ssl;
}

void lotad_tls_conn_free(lotad_tls_conn *tc)
{
	SSL *ssl = (SSL *)tc;
	if (!ssl)
		return;
	if (SSL_is_init_finished(ssl)) {
		ERR_clear_error();
		(void)SSL_shutdown(ssl); /* one try: a close_notify if the socket takes it */
	}
	ERR_clear_error();
	SSL_free(ssl);
}

bool lotad_tls_handshake_done(const lotad_tls_conn *tc)
{
	return SSL_is_init_finished((const SSL *)tc);
}

/* -EAGAIN with *want, or the error to return for a failed call. */
static int want_of(SSL *ssl, int ret, unsigned *want, int fail)
{
	switch (SSL_get_error(ssl, ret)) {
	case SSL_ERROR_WANT_READ:
		*want = LOTAD_TLS_WANT_READ;
		return -EAGAIN;
	case SSL_ERROR_WANT_WRITE:
		*want = LOTAD_TLS_WANT_WRITE;
		return -EAGAIN;
	default:
		ERR_clear_error();
		return fail;
	}
}

int lotad_tls_handshake(lotad_tls_conn *tc, unsigned *want)
{
	SSL *ssl = (SSL *)tc;
	lotad_tls *t = SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl));
	*want = 0;
	ERR_clear_error();
	int r = SSL_do_handshake(ssl);
	if (r == 1) {
		atomic_fetch_add(&t->hs_ok, 1);
		return 1;
	}
	int e = SSL_get_error(ssl, r);
	if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
		return want_of(ssl, r, want, -EPROTO);
	/* the servername callback counted its refusals */
	unsigned long code = ERR_peek_error();
	if (ERR_GET_REASON(code) != SSL_R_CALLBACK_FAILED) {
		atomic_fetch_add(&t->hs_failed, 1);
		lota_log_debug("tls: handshake failed: %s",
		               code ? ERR_reason_error_string(code) : "connection closed");
	}
	ERR_clear_error();
	return -EPROTO;
}

ssize_t lotad_tls_read(lotad_tls_conn *tc, void *buf, size_t len, unsigned *want)
{
	SSL *ssl = (SSL *)tc;
	size_t got = 0;
	*want = 0;
	ERR_clear_error();
	int r = SSL_read_ex(ssl, buf, len, &got);
	if (r == 1)
		return (ssize_t)got;
	int e = SSL_get_error(ssl, r);
	if (e == SSL_ERROR_ZERO_RETURN) {
		ERR_clear_error();
		return 0;
	}
	return want_of(ssl, r, want, -EIO);
}

ssize_t lotad_tls_write(lotad_tls_conn *tc, const void *buf, size_t len, unsigned *want)
{
	SSL *ssl = (SSL *)tc;
	size_t put = 0;
	*want = 0;
	ERR_clear_error();
	int r = SSL_write_ex(ssl, buf, len, &put);
	if (r == 1)
		return (ssize_t)put;
	return want_of(ssl, r, want, -EPIPE);
}

bool lotad_tls_pending(const lotad_tls_conn *tc)
{
	/* SSL_pending, not SSL_has_pending: the latter is true for a partial record too,
	 * which only more bytes from the socket complete (an event will come for them);
	 * reading again at once would turn around in the loop until they do. Without read
	 * ahead, the session never holds a whole record beyond the one being read. */
	return SSL_pending((const SSL *)tc) > 0;
}
