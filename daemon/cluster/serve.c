/*
 * serve.c - the peer port, owner side: an acceptor thread and one thread per peer
 * connection (at most LOTAD_CLUSTER_MAX_CONNS threads of the cluster), answering signed
 * requests of members:
 *
 *   GET /peer/health   200 with this node's id, cache figures (its weight) and admin
 *                      address (X-Lota-Peer-Admin, when it has one to advertise)
 *   GET /peer/extent   the byte range (Range, inside the extent) of the extent named by
 *                      X-Lota-Peer-Extent, from this node's store; while the extent is
 *                      being filled the bytes are sent as the fill grows. A miss is
 *                      filled from the upstream with the request's fill ticket (fill.c);
 *                      without a ticket it is a 404 (a member asking "do you hold it?").
 *
 * Every request is verified first (lota_peer_verify: HMAC under the cluster secret, the
 * time window, the replay cache) and must name a known member as its sender; any
 * refusal is a 403 with no body and the connection is closed, so a non-member never gets
 * a byte. The identity of the extent is its full canonical cache key (bucket, key, ETag,
 * size, version id, index), which the store checks against the file on open: the bytes
 * sent are those of exactly that object version.
 *
 * With peer TLS (tls.c) the connection is TLS on a non-blocking socket: the handshake
 * comes first, and a client without a certificate of the cluster CA fails it and gets
 * nothing but the handshake's alert.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>

#include <lota/log.h>

#include "cluster/cluster-internal.h"

#define IO_BUF                (256u * 1024u)
#define IDLE_TIMEOUT          30  /* seconds a peer connection may sit between requests */
#define SEND_TIMEOUT          120 /* seconds a member may take no byte (its client reads slowly) */
#define TLS_HANDSHAKE_TIMEOUT 10  /* seconds for a client to complete the TLS handshake */

typedef struct pconn {
	lotad_cluster *c;
	int fd;
	SSL *ssl;      /* with peer TLS */
	char peer[64]; /* address, for logs */
} pconn;

/* Wait until fd is ready for ev, the timeout passes or the cluster stops. */
static int wait_fd(pconn *pc, short ev, int timeout_ms)
{
	for (;;) {
		struct pollfd p[2] = {{.fd = pc->fd, .events = ev},
		                      {.fd = pc->c->stop_fd, .events = POLLIN}};
		int pr = poll(p, 2, timeout_ms);
		if (pr < 0 && errno == EINTR)
			continue;
		if (pr < 0)
			return -errno;
		if (pr == 0)
			return -ETIMEDOUT;
		if (p[1].revents)
			return -ECANCELED;
		return 0;
	}
}

/* After an SSL call returned r <= 0: wait for what it wants, or the error to give up. */
static int tls_step(pconn *pc, int r, int timeout_ms)
{
	switch (SSL_get_error(pc->ssl, r)) {
	case SSL_ERROR_WANT_READ:
		return wait_fd(pc, POLLIN, timeout_ms);
	case SSL_ERROR_WANT_WRITE:
		return wait_fd(pc, POLLOUT, timeout_ms);
	case SSL_ERROR_ZERO_RETURN:
		return -ECONNRESET;
	case SSL_ERROR_SYSCALL:
		return errno && errno != EAGAIN ? -errno : -ECONNRESET;
	default:
		return -EPROTO;
	}
}

static int tls_handshake(pconn *pc)
{
	int fl = fcntl(pc->fd, F_GETFL);
	if (fl < 0 || fcntl(pc->fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return -errno;
	pc->ssl = SSL_new(pc->c->tls_srv);
	if (!pc->ssl || SSL_set_fd(pc->ssl, pc->fd) != 1)
		return -ENOMEM;
	for (;;) {
		ERR_clear_error();
		errno = 0;
		int r = SSL_accept(pc->ssl);
		if (r == 1)
			return 0;
		unsigned long e = ERR_peek_last_error();
		int rc = tls_step(pc, r, TLS_HANDSHAKE_TIMEOUT * 1000);
		if (rc) {
			lota_log_warn("peer %s: TLS handshake refused: %s", pc->peer,
			              e ? ERR_reason_error_string(e) : lota_strerror(rc));
			return rc;
		}
	}
}

/* Read what the member sent (at most cap bytes), waiting for the idle timeout. */
static ssize_t recv_in(pconn *pc, char *buf, size_t cap)
{
	if (pc->ssl) {
		for (;;) {
			ERR_clear_error();
			errno = 0;
			int r = SSL_read(pc->ssl, buf, cap > INT32_MAX ? INT32_MAX : (int)cap);
			if (r > 0)
				return r;
			int rc = tls_step(pc, r, IDLE_TIMEOUT * 1000);
			if (rc)
				return rc;
		}
	}
	for (;;) {
		int rc = wait_fd(pc, POLLIN, IDLE_TIMEOUT * 1000);
		if (rc)
			return rc;
		ssize_t n = recv(pc->fd, buf, cap, 0);
		if (n < 0 && errno == EINTR)
			continue;
		return n <= 0 ? -ECONNRESET : n;
	}
}

/* Until the member's socket takes bytes: 0, -ETIMEDOUT after SEND_TIMEOUT seconds,
 * -ECANCELED when the cluster stops, -EINTR to try again, or another -errno. */
static int wait_writable(pconn *pc)
{
	struct pollfd p[2] = {{.fd = pc->fd, .events = POLLOUT},
	                      {.fd = pc->c->stop_fd, .events = POLLIN}};
	int pr = poll(p, 2, SEND_TIMEOUT * 1000);
	if (pr < 0)
		return -errno;
	if (pr == 0)
		return -ETIMEDOUT;
	return p[1].revents ? -ECANCELED : 0;
}

/* Send all of buf to the member, giving up when it takes nothing for SEND_TIMEOUT
 * seconds or the cluster stops (so a stop never waits on a slow member). */
static int send_out(pconn *pc, const char *buf, size_t len)
{
	while (len && pc->ssl) {
		ERR_clear_error();
		errno = 0;
		int r = SSL_write(pc->ssl, buf, len > INT32_MAX ? INT32_MAX : (int)len);
		if (r > 0) {
			buf += r;
			len -= (size_t)r;
			continue;
		}
		int rc = tls_step(pc, r, SEND_TIMEOUT * 1000);
		if (rc)
			return rc;
	}
	while (len) {
		int wr = wait_writable(pc);
		if (wr == -EINTR)
			continue;
		if (wr)
			return wr;
		ssize_t n = send(pc->fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			return -errno;
		}
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Send bytes [off, off + len) of the file fd to the member (plain connections, the
 * socket non-blocking meanwhile): the page cache's pages go to the socket without a copy
 * through user space, with send_out's timeout and stop. */
static int send_file(pconn *pc, int fd, uint64_t off, size_t len)
{
	off_t o = (off_t)off;
	while (len) {
		int wr = wait_writable(pc);
		if (wr == -EINTR)
			continue;
		if (wr)
			return wr;
		ssize_t n = sendfile(pc->fd, fd, &o, len);
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			return -errno;
		}
		if (n == 0)
			return -EIO; /* the file is shorter than its extent says */
		len -= (size_t)n;
	}
	return 0;
}

static int send_simple(pconn *pc, int status, const char *reason, const char *extra, bool close)
{
	char head[1024];
	int n = snprintf(head, sizeof(head), "HTTP/1.1 %d %s\r\nContent-Length: 0\r\n%s%s\r\n",
	                 status, reason, extra ? extra : "", close ? "Connection: close\r\n" : "");
	return send_out(pc, head, (size_t)n);
}

static bool known_member(lotad_cluster *c, lota_str id)
{
	bool ok = false;
	pthread_mutex_lock(&c->lock);
	for (size_t i = 0; i < c->n && !ok; i++)
		ok = strlen(c->members[i].id) == id.len &&
		     memcmp(c->members[i].id, id.ptr, id.len) == 0;
	pthread_mutex_unlock(&c->lock);
	return ok;
}

static int answer_health(pconn *pc)
{
	lotad_cluster *c = pc->c;
	uint64_t used, cap;
	lotad_cluster__own_figures(c, &used, &cap);
	char extra[768]; /* the id (255 bytes), two numbers and the admin address fit */
	int n = snprintf(extra, sizeof(extra),
	                 LOTA_PEER_H_NODE
	                 ": %s\r\nX-Lota-Peer-Capacity: %llu\r\nX-Lota-Peer-Used: %llu\r\n",
	                 c->cfg.node_id, (unsigned long long)cap, (unsigned long long)used);
	if (c->cfg.admin_advertise[0])
		snprintf(extra + n, sizeof(extra) - (size_t)n, LOTAD_PEER_H_ADMIN ": %s\r\n",
		         c->cfg.admin_advertise);
	return send_simple(pc, 200, "OK", extra, false);
}

/* Stream [first, last] of the extent from r: as a node's own hits go (cache/serve.c), a
 * copy in the RAM tier is sent from where it is, a plain extent by sendfile (plain
 * connections), a sealed one read, verified and decrypted into buf. Returns 0, or a
 * negative code once the connection must close (the peer then sees a short body, never
 * a wrong one). */
static int stream_range(pconn *pc, lotad_store_reader *r, uint64_t first, uint64_t last, char *buf)
{
	lotad_cluster *c = pc->c;
	uint64_t off = first;
	const uint8_t *ram = NULL;
	int fd = -1, fl = -1, rc = 0;
	uint64_t doff = 0;
	bool direct = lotad_reader_ram(r, &ram) == 0;
	if (!direct && !pc->ssl && lotad_reader_plain_fd(r, &fd, &doff) == 0 &&
	    (fl = fcntl(pc->fd, F_GETFL)) >= 0 && fcntl(pc->fd, F_SETFL, fl | O_NONBLOCK) == 0) {
		direct = true;
		lotad_reader_ram_off(r); /* its bytes leave by sendfile: no copy to make */
	}
	while (direct && off <= last) {
		size_t want = last - off + 1 < IO_BUF ? (size_t)(last - off + 1) : IO_BUF;
		int64_t rd = lotad_reader_readable(r);
		if (rd < 0) {
			rc = (int)rd;
			break;
		}
		if (off >= (uint64_t)rd) { /* a plain fill still growing */
			int64_t w = lotad_reader_wait(r, off, (int)c->cfg.timeout_ms);
			if (w < 0) {
				rc = (int)w;
				break;
			}
			continue;
		}
		if (want > (uint64_t)rd - off)
			want = (size_t)((uint64_t)rd - off);
		rc = ram ? send_out(pc, (const char *)ram + off, want)
		         : send_file(pc, fd, doff + off, want);
		if (rc)
			break;
		atomic_fetch_add(&c->bytes[DIR_IN], (unsigned long long)want);
		off += want;
	}
	if (fl >= 0)
		(void)fcntl(pc->fd, F_SETFL, fl);
	if (direct)
		return rc;
	while (off <= last) {
		size_t want = last - off + 1 < IO_BUF ? (size_t)(last - off + 1) : IO_BUF;
		ssize_t n = lotad_reader_read(r, off, buf, want);
		if (n == -EAGAIN) {
			int64_t w = lotad_reader_wait(r, off, (int)c->cfg.timeout_ms);
			if (w < 0)
				return (int)w; /* -ETIMEDOUT (a stalled fill) or -ECANCELED */
			continue;
		}
		if (n <= 0)
			return n == 0 ? -EIO : (int)n;
		rc = send_out(pc, buf, (size_t)n);
		if (rc)
			return rc;
		atomic_fetch_add(&c->bytes[DIR_IN], (unsigned long long)n);
		off += (uint64_t)n;
	}
	return 0;
}

static int answer_extent(pconn *pc, const lota_peer_fields *f, char *buf)
{
	lotad_cluster *c = pc->c;
	uint8_t key[LOTA_PEER_EXTENT_MAX / 2];
	lota_cache_key k;
	int kn = lota_peer_extent_decode(f->extent.ptr, f->extent.len, key, sizeof(key), &k);
	if (kn < 0) {
		atomic_fetch_add(&c->requests[DIR_IN][RES_ERROR], 1);
		send_simple(pc, 400, "Bad Request", NULL, true);
		return -EINVAL;
	}
	lota_hash128 h = lota_cache_key_hash_canonical(key, (size_t)kn);
	lotad_store_reader *r = NULL;
	int rc = c->store ? lotad_store_open(c->store, h, key, (size_t)kn, &r) : -ENOENT;
	/* warm: whole in the store now (not a fill, ours or one already running) */
	bool warm = rc == 0 && lotad_reader_readable(r) >= (int64_t)lotad_reader_length(r);
	if (rc == -ENOENT && c->store && f->ticket.len)
		rc = lotad_cluster__fill(c, &k, key, (size_t)kn, f->ticket, f->node, &r);
	if (rc < 0) {
		bool miss = rc == -ENOENT;
		atomic_fetch_add(&c->requests[DIR_IN][miss ? RES_MISS : RES_ERROR], 1);
		if (!miss)
			lota_log_warn("peer %s: extent not served: %s", pc->peer,
			              lota_strerror(rc));
		return send_simple(pc, miss ? 404 : 503, miss ? "Not Found" : "Service Unavailable",
		                   NULL, false);
	}
	uint64_t len = lotad_reader_length(r), first = 0, last = len ? len - 1 : 0;
	if (f->range.len) {
		lota_range rg;
		if (lota_range_parse(f->range.ptr, f->range.len, &rg) != 0 ||
		    lota_range_resolve(&rg, len, &first, &last) != 0) {
			lotad_reader_close(r);
			atomic_fetch_add(&c->requests[DIR_IN][RES_ERROR], 1);
			char extra[64];
			snprintf(extra, sizeof(extra), "Content-Range: bytes */%llu\r\n",
			         (unsigned long long)len);
			return send_simple(pc, 416, "Range Not Satisfiable", extra, false);
		}
	}
	char head[1024];
	int hn = snprintf(head, sizeof(head),
	                  "HTTP/1.1 206 Partial Content\r\nContent-Length: %llu\r\nContent-Range: "
	                  "bytes %llu-%llu/%llu\r\n" LOTA_PEER_H_NODE ": %s\r\n" LOTA_PEER_H_SOURCE
	                  ": %s\r\n\r\n",
	                  (unsigned long long)(len ? last - first + 1 : 0),
	                  (unsigned long long)first, (unsigned long long)last,
	                  (unsigned long long)len, c->cfg.node_id, warm ? "cache" : "fill");
	rc = send_out(pc, head, (size_t)hn);
	if (rc == 0 && len)
		rc = stream_range(pc, r, first, last, buf);
	lotad_reader_close(r);
	atomic_fetch_add(&c->requests[DIR_IN][rc ? RES_ERROR : RES_OK], 1);
	if (rc)
		lota_log_warn("peer %s: extent stream cut: %s", pc->peer, lota_strerror(rc));
	return rc;
}

/* One request. Returns 0 to keep the connection, < 0 to close it. */
static int one_request(pconn *pc, char *in, size_t *have, char *buf)
{
	lotad_cluster *c = pc->c;
	lota_http_request req;
	lota_http_header h[64];
	int hl;
	for (;;) {
		hl = lota_http_parse_request(
		    in, *have, &req, h, 64,
		    &LOTA_OPTS(lota_http_limits, .max_head_bytes = LOTA_PEER_HEAD_MAX));
		if (hl != LOTA_E_INCOMPLETE)
			break;
		if (*have == LOTA_PEER_HEAD_MAX)
			break;
		/* wait for bytes, the idle timeout or the cluster's stop */
		ssize_t n = recv_in(pc, in + *have, LOTA_PEER_HEAD_MAX - *have);
		if (n < 0)
			return (int)n;
		*have += (size_t)n;
	}
	if (hl < 0 || req.body != LOTA_HTTP_BODY_NONE) {
		atomic_fetch_add(&c->requests[DIR_IN][RES_REFUSED], 1);
		send_simple(pc, 400, "Bad Request", NULL, true);
		return -EPROTO;
	}
	lota_peer_fields f;
	int rc = lota_peer_verify(c->auth, &req, time(NULL), &f);
	if (rc == 0 && !known_member(c, f.node))
		rc = LOTA_E_PEER_AUTH;
	if (rc) {
		lota_log_warn("peer %s: request refused: %s", pc->peer, lota_strerror_name(rc));
		atomic_fetch_add(&c->requests[DIR_IN][RES_REFUSED], 1);
		send_simple(pc, 403, "Forbidden", NULL, true);
		return rc;
	}
	if (!lota_str_eq_nocase(req.method, "GET", 3))
		rc = send_simple(pc, 405, "Method Not Allowed", NULL, false);
	else if (req.path.len == 12 && memcmp(req.path.ptr, "/peer/health", 12) == 0)
		rc = answer_health(pc);
	else if (req.path.len == 12 && memcmp(req.path.ptr, "/peer/extent", 12) == 0 &&
	         f.extent.len)
		rc = answer_extent(pc, &f, buf);
	else
		rc = send_simple(pc, 404, "Not Found", NULL, false);
	if (rc == 0 && !req.keep_alive)
		rc = -ECONNRESET; /* Connection: close (or HTTP/1.0): done after this answer */
	/* keep what followed the head (a pipelined request) */
	memmove(in, in + hl, *have - (size_t)hl);
	*have -= (size_t)hl;
	return rc;
}

static void *conn_main(void *arg)
{
	pconn *pc = arg;
	lotad_cluster *c = pc->c;
	char *in = malloc(LOTA_PEER_HEAD_MAX);
	char *buf = malloc(IO_BUF);
	size_t have = 0;
	if (in && buf && (!c->tls_srv || tls_handshake(pc) == 0)) {
		while (!atomic_load(&c->stopping) && one_request(pc, in, &have, buf) == 0) {
		}
	}
	free(in);
	free(buf);
	if (pc->ssl) {
		if (SSL_is_init_finished(pc->ssl))
			SSL_shutdown(
			    pc->ssl); /* the close_notify, without waiting for the member's */
		SSL_free(pc->ssl);
	}
	close(pc->fd);
	free(pc);
	pthread_mutex_lock(&c->conns_lock);
	atomic_fetch_sub(&c->conns, 1);
	pthread_cond_broadcast(&c->conns_cv);
	pthread_mutex_unlock(&c->conns_lock);
	return NULL;
}

void *lotad_cluster__accept_main(void *arg)
{
	lotad_cluster *c = arg;
	while (!atomic_load(&c->stopping)) {
		struct pollfd p[2] = {{.fd = c->listen_fd, .events = POLLIN},
		                      {.fd = c->stop_fd, .events = POLLIN}};
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			lota_log_error("cluster: poll on the peer port: %s", strerror(errno));
			break;
		}
		if (p[1].revents)
			break;
		struct sockaddr_storage sa;
		socklen_t sl = sizeof(sa);
		int fd = accept4(c->listen_fd, (struct sockaddr *)&sa, &sl, SOCK_CLOEXEC);
		if (fd < 0)
			continue;
		if (atomic_load(&c->conns) >= LOTAD_CLUSTER_MAX_CONNS) {
			lota_log_warn("cluster: peer connection refused: %d open already",
			              LOTAD_CLUSTER_MAX_CONNS);
			close(fd);
			continue;
		}
		pconn *pc = calloc(1, sizeof(*pc));
		if (!pc) {
			close(fd);
			continue;
		}
		pc->c = c;
		pc->fd = fd;
		char host[48] = "?", port[8] = "?";
		getnameinfo((struct sockaddr *)&sa, sl, host, sizeof(host), port, sizeof(port),
		            NI_NUMERICHOST | NI_NUMERICSERV);
		snprintf(pc->peer, sizeof(pc->peer), "%s:%s", host, port);
		atomic_fetch_add(&c->conns, 1);
		pthread_t t;
		pthread_attr_t at;
		pthread_attr_init(&at);
		pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
		/* small stacks: the deepest frame holds a request head and an extent key */
		pthread_attr_setstacksize(&at, 512u << 10);
		if (pthread_create(&t, &at, conn_main, pc) != 0) {
			atomic_fetch_sub(&c->conns, 1);
			close(fd);
			free(pc);
		}
		pthread_attr_destroy(&at);
	}
	return NULL;
}
