/*
 * wire.c - blocking sockets with timeouts for the cluster's own threads (the prober and,
 * on the front node, peer fetches): connect within a deadline, send everything, read a
 * response head with liblota's strict parser; over TLS with peer TLS on (tls.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <openssl/err.h>

#include <lota/log.h>

#include "cluster/cluster-internal.h"

static int connect_one(const struct addrinfo *ai, uint64_t timeout_ms)
{
	int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	int rc = connect(fd, ai->ai_addr, ai->ai_addrlen);
	if (rc < 0 && errno == EINPROGRESS) {
		struct pollfd p = {.fd = fd, .events = POLLOUT};
		rc = poll(&p, 1, (int)timeout_ms);
		if (rc == 0) {
			close(fd);
			return -ETIMEDOUT;
		}
		int soerr = 0;
		socklen_t sl = sizeof(soerr);
		if (rc < 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0 || soerr) {
			close(fd);
			return soerr ? -soerr : -errno;
		}
	} else if (rc < 0) {
		rc = -errno;
		close(fd);
		return rc;
	}
	int fl = fcntl(fd, F_GETFL);
	struct timeval tv = {.tv_sec = (time_t)(timeout_ms / 1000),
	                     .tv_usec = (suseconds_t)(timeout_ms % 1000) * 1000};
	int one = 1;
	if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0 ||
	    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) < 0) {
		rc = -errno;
		close(fd);
		return rc;
	}
	return fd;
}

static int connect_fd(const char *host, int port, uint64_t timeout_ms)
{
	struct addrinfo hints = {
	    .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV};
	struct addrinfo *ai = NULL;
	char ps[16];
	snprintf(ps, sizeof(ps), "%d", port);
	if (getaddrinfo(host, ps, &hints, &ai) != 0)
		return -EHOSTUNREACH;
	int fd = -EHOSTUNREACH;
	for (struct addrinfo *p = ai; p; p = p->ai_next) {
		fd = connect_one(p, timeout_ms);
		if (fd >= 0)
			break;
	}
	freeaddrinfo(ai);
	return fd;
}

/* An OpenSSL I/O failure as -errno: the socket's timeouts show as EAGAIN. */
static int ssl_errno(SSL *ssl, int r)
{
	int e = SSL_get_error(ssl, r);
	if (e == SSL_ERROR_ZERO_RETURN)
		return -ECONNRESET;
	if (e == SSL_ERROR_SYSCALL || e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return -ETIMEDOUT;
		return errno ? -errno : -ECONNRESET;
	}
	return -EPROTO;
}

int lotad_peer_connect(lotad_cluster *c, const char *host, int port, uint64_t timeout_ms,
                       lotad_peer_wire *w)
{
	w->ssl = NULL;
	w->fd = connect_fd(host, port, timeout_ms);
	if (w->fd < 0)
		return w->fd;
	if (!c->tls_cli)
		return 0;
	ERR_clear_error();
	w->ssl = SSL_new(c->tls_cli);
	if (!w->ssl || SSL_set_fd(w->ssl, w->fd) != 1 ||
	    lotad_cluster__tls_verify_host(w->ssl, host) < 0) {
		lotad_peer_close(w);
		return -ENOMEM;
	}
	errno = 0;
	int r = SSL_connect(w->ssl);
	if (r != 1) {
		int rc = ssl_errno(w->ssl, r);
		unsigned long e = ERR_peek_last_error();
		lota_log_warn("cluster: TLS handshake with %s:%d failed: %s", host, port,
		              e ? ERR_reason_error_string(e) : lota_strerror(rc));
		lotad_peer_close(w);
		return rc == -ETIMEDOUT ? rc : -EPROTO;
	}
	return 0;
}

void lotad_peer_close(lotad_peer_wire *w)
{
	if (w->ssl) {
		SSL_free(w->ssl);
		w->ssl = NULL;
	}
	if (w->fd >= 0)
		close(w->fd);
	w->fd = -1;
}

int lotad_peer_send_all(lotad_peer_wire *w, const void *buf, size_t len)
{
	const char *p = buf;
	while (len) {
		ssize_t n;
		if (w->ssl) {
			ERR_clear_error();
			errno = 0;
			int r = SSL_write(w->ssl, p, len > INT32_MAX ? INT32_MAX : (int)len);
			if (r <= 0) {
				int rc = ssl_errno(w->ssl, r);
				return rc == -ETIMEDOUT ? -EAGAIN : rc;
			}
			n = r;
		} else {
			n = send(w->fd, p, len, MSG_NOSIGNAL);
			if (n < 0) {
				if (errno == EINTR)
					continue;
				return errno == EWOULDBLOCK ? -EAGAIN : -errno;
			}
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int lotad_peer_read_response(lotad_peer_wire *w, char *buf, size_t cap, size_t *have,
                             lota_http_response *r, lota_http_header *h, size_t nh)
{
	*have = 0;
	for (;;) {
		int rc = lota_http_parse_response(buf, *have, r, h, nh, NULL);
		if (rc != LOTA_E_INCOMPLETE)
			return rc;
		if (*have == cap)
			return LOTA_E_HTTP_HEAD_TOO_LONG;
		if (w->ssl) {
			ERR_clear_error();
			errno = 0;
			int n = SSL_read(w->ssl, buf + *have,
			                 cap - *have > INT32_MAX ? INT32_MAX : (int)(cap - *have));
			if (n <= 0)
				return ssl_errno(w->ssl, n);
			*have += (size_t)n;
			continue;
		}
		ssize_t n = recv(w->fd, buf + *have, cap - *have, 0);
		if (n == 0)
			return -ECONNRESET;
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return errno == EWOULDBLOCK ? -ETIMEDOUT : -errno;
		}
		*have += (size_t)n;
	}
}

uint64_t lotad_peer_header_u64(const lota_http_header *h, size_t nh, const char *name, uint64_t def)
{
	const lota_http_header *x = lota_http_find_header(h, nh, name, strlen(name));
	if (!x || !x->value.len || x->value.len > 19)
		return def;
	uint64_t v = 0;
	for (size_t i = 0; i < x->value.len; i++) {
		if (x->value.ptr[i] < '0' || x->value.ptr[i] > '9')
			return def;
		v = v * 10 + (uint64_t)(x->value.ptr[i] - '0');
	}
	return v;
}
