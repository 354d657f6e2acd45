/*
 * tls.h - TLS towards clients (--tls-listen): the server context shared by the workers,
 * which names it serves, and non-blocking TLS I/O on one client connection, in the
 * shape of recv/send so that server.c's connection code reads the same for both.
 *
 * A name is served when it is one of the served names or <bucket>.<one of them> (the
 * virtual-hosted style): the upstream's own host name, lotad's --endpoint-name names,
 * and the redirected names. The certificate for it is issued by the node CA (net/ca.h)
 * during the handshake. A client that sends no SNI, or a name not served, gets a fatal
 * unrecognized_name alert and no certificate at all: lotad never presents a certificate
 * for a name it was not told to serve.
 *
 * No OpenSSL type appears here: server.c holds an opaque lotad_tls_conn.
 */
#ifndef LOTAD_TLS_H
#define LOTAD_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "net/ca.h"

typedef struct lotad_tls lotad_tls;
typedef struct lotad_tls_conn lotad_tls_conn;

/* What an operation that returned -EAGAIN waits for. */
#define LOTAD_TLS_WANT_READ  1u
#define LOTAD_TLS_WANT_WRITE 2u

/*
 * Whether sni[0..len) is served: equal (ignoring case) to one of names[0..n), or
 * <label(s)>.<name> with a non-empty prefix of letters, digits, '-' and '.' (a bucket of
 * a virtual-hosted name). A trailing dot, an empty label, an IP literal or any other
 * character matches nothing.
 */
bool lotad_tls_name_served(const char *const *names, size_t n, const char *sni, size_t len);

/* The server context: TLS 1.2 and 1.3, certificates from ca (which must outlive it),
 * for names[0..n) (copied). Returns 0 or a negative code with a sentence in err. */
int lotad_tls_new(lotad_ca *ca, const char *const *names, size_t n, lotad_tls **out, char *err,
                  size_t err_cap);
void lotad_tls_free(lotad_tls *t); /* NULL ok */

/* Metrics provider (lotad_metrics_add_provider): handshakes by result. */
size_t lotad_tls_metrics(char *out, size_t cap, void *ud);

/* A server-side TLS session on the connected socket fd (not owned). NULL: no memory. */
lotad_tls_conn *lotad_tls_conn_new(lotad_tls *t, int fd);
/* Sends close_notify when the handshake was done (once, without waiting), frees. */
void lotad_tls_conn_free(lotad_tls_conn *tc); /* NULL ok */

/* Drive the handshake: 1 done, -EAGAIN (*want says for what), -EPROTO refused or
 * failed (the socket is then to be closed). */
int lotad_tls_handshake(lotad_tls_conn *tc, unsigned *want);
bool lotad_tls_handshake_done(const lotad_tls_conn *tc);
/* Like recv: > 0 bytes, 0 the peer closed, -EAGAIN (*want), -EIO. */
ssize_t lotad_tls_read(lotad_tls_conn *tc, void *buf, size_t len, unsigned *want);
/* Like send: > 0 bytes taken, -EAGAIN (*want), -EPIPE. After -EAGAIN the next call must
 * start with the same bytes (it may be given more, from elsewhere in memory). */
ssize_t lotad_tls_write(lotad_tls_conn *tc, const void *buf, size_t len, unsigned *want);
/* Decrypted bytes wait inside the session (a read left part of a record): the socket may
 * never become readable for them, so the caller reads again without waiting for it.
 * False for a partial record, which waits for the socket like any read. */
bool lotad_tls_pending(const lotad_tls_conn *tc);

#endif
