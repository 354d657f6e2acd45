/*
 * server.c - workers, listeners and HTTP/1.1 client connections (see server.h).
 *
 * Connection life: HEAD (waiting for a request head; idle or partial) -> ACTIVE (a
 * handler owns the request; the body, if any, is decoded into the front of the input
 * buffer) -> FLUSH (the response is complete in the output buffer) -> HEAD again once
 * everything is written, or closed. Input buffer layout while a body is read:
 *   in[in_start .. in_start+body_avail)  decoded body bytes ready for the handler
 *   in[in_start+body_avail .. in_end)    raw bytes (the rest of the body's framing or
 *                                        the next pipelined request)
 * A connection is never freed from inside a callback that may still use it: failures
 * mark it dead and queue it; the loop's after-hook closes queued connections (aborting
 * their handler), and the memory goes through the loop's deferred-free list.
 *
 * Memory: a connection holds at most lotad_conn_memory_cap() bytes and max_connections
 * caps their number. Its big buffers are mapped and unmapped whole (main.c fixes the
 * allocator's mmap threshold); the smaller allocations of many connections that closed
 * leave free memory scattered in the workers' heaps, which goes back to the kernel
 * (malloc_trim) once the open connections have dropped to half their peak.
 */
#include "net/server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <malloc.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <lota/log.h>

#include "metrics.h"
#include "net/tls.h"
#include "net/upstream.h"
#include "util/clock.h"
#include "util/list.h"

enum conn_state { C_HEAD = 0, C_ACTIVE, C_FLUSH };

struct lotad_conn {
	lotad_worker *w;
	lotad_io io;
	lotad_list node; /* in the worker's conns */
	lotad_conn *close_next, *run_next;
	bool run_queued;
	bool dead, queued, peer_eof, close_after;
	enum conn_state state;
	char *in, *out, *head;
	size_t cap, in_start, in_end, out_start, out_end;
	uint64_t last_progress_ms, head_start_ms;
	/* the current request */
	lota_http_header hdrs[LOTAD_MAX_HEADERS];
	lota_http_request req;
	lota_http_body body_kind;
	uint64_t body_left;
	size_t body_avail;
	bool body_eof, continue_sent, want_body, want_drain;
	bool want_write; /* EPOLLOUT wanted with an empty buffer (a sendfile that blocked) */
	bool flush_soon; /* coalesced body bytes wait: flush them after this loop turn */
	lota_http_chunked dec;
	lotad_handler *h;
	/* the current response */
	bool resp_started, resp_ended;
	lotad_resp_framing framing;
	int status;
	lotad_op op;
	uint64_t t_start_us, bytes_in, bytes_out;
	char reqid[64];
	char bucket[64];    /* for the access log (S3 names are at most 63 bytes) */
	const char *source; /* where the response came from, for the access log */
	char peer[64];
	/* TLS (a connection of tls_listen; NULL on the plain listener) */
	lotad_tls_conn *tls;
	unsigned tls_want; /* LOTAD_TLS_WANT_*: what the last TLS call waits for */
	bool tls_read_now; /* bytes wait inside the session: read them without an event */
};

struct lotad_worker {
	int id;
	const lotad_settings *s;
	const lotad_server_hooks *hooks;
	lotad_loop *loop;
	lotad_upstream *up;
	pthread_t thr;
	bool started;
	int listen_fd;
	lotad_io listen_io;
	int tls_listen_fd; /* -1: no TLS listener */
	lotad_io tls_listen_io;
	lotad_tls *tls;
	lotad_timer sweep;
	lotad_list conns;
	lotad_conn *close_list;
	lotad_conn *run_list; /* connections to process after this iteration */
	size_t nconns;
	atomic_int shutdown_req; /* 0 none, 1 drain, 2 force */
	int shutdown_done;
	atomic_int idle;
	uint64_t seq;
};

static atomic_llong g_open_conns;
static atomic_llong g_conns_peak; /* most connections open at once since the last trim */

/* Per-connection memory besides the connection's own buffers (lotad_conn_memory_cap):
 * curl's upload buffer (s3/proxy.c, CURLOPT_UPLOAD_BUFFERSIZE), the aws-chunked
 * re-signer's stage (s3/proxy.c, STAGE_CAP) and largest chunk (s3/auth.c, its default
 * max_chunk), and
 * the state of curl and of the handler (the easy handle, a response head line of up to
 * curl's 100 KiB, the handler's copy of the head, the request's URL). */
#define UPLOAD_BUFFER_BYTES (128 * 1024)
#define CHUNK_STAGE_BYTES   (64 * 1024)
#define CHUNK_MAX_BYTES     (1024 * 1024)
#define XFER_STATE_BYTES    (256 * 1024)
/* A cache hit's reading state: a store reader's sealed blocks read at once (256 KiB,
 * store/reader.c READ_SPAN) and the first bytes read during the authorizing HEAD
 * (128 KiB, cache/preread.c). */
#define HIT_READ_BYTES (384 * 1024)
/* A TLS session: its record buffers (released while idle) and its state. */
#define TLS_STATE_BYTES (64 * 1024)
/* Trim only after a real drop: a trim walks every heap. */
#define TRIM_MIN_DROP 16

lotad_loop *lotad_worker_loop(lotad_worker *w)
{
	return w->loop;
}

struct lotad_upstream *lotad_worker_upstream(lotad_worker *w)
{
	return w->up;
}

const lotad_settings *lotad_worker_settings(lotad_worker *w)
{
	return w->s;
}

size_t lotad_conn_memory_cap(const lotad_settings *s)
{
	size_t rx = s->client_buffer < CURL_MAX_READ_SIZE ? s->client_buffer : CURL_MAX_READ_SIZE;
	return sizeof(lotad_conn) + 2 * s->client_buffer + LOTAD_MAX_HEAD_BYTES + rx +
	       UPLOAD_BUFFER_BYTES + CHUNK_STAGE_BYTES + CHUNK_MAX_BYTES + XFER_STATE_BYTES +
	       HIT_READ_BYTES + (s->tls_listen_port > 0 ? TLS_STATE_BYTES : 0);
}

static void conns_opened(void)
{
	long long n = atomic_fetch_add(&g_open_conns, 1) + 1;
	long long peak = atomic_load(&g_conns_peak);
	while (n > peak && !atomic_compare_exchange_weak(&g_conns_peak, &peak, n))
		;
}

/* The load dropped (to half the peak, by TRIM_MIN_DROP connections at least): give the
 * free memory of the heaps back to the kernel. Any worker may find it; one trims. */
static void trim_after_load(void)
{
	long long open = atomic_load(&g_open_conns), peak = atomic_load(&g_conns_peak);
	if (peak - open < TRIM_MIN_DROP || open > peak / 2)
		return;
	if (atomic_compare_exchange_strong(&g_conns_peak, &peak, open))
		malloc_trim(0);
}

/* ---------------------------------------------------------------- listeners --- */

int lotad_server_listen(const lotad_settings *s, bool first, int *fd_out)
{
	return lotad_server_listen_at(s->listen_host, s->listen_port, first, fd_out);
}

/* The workers share their address through SO_REUSEPORT, which would as well let a
 * second lotad of the same user bind it and silently take half of the connections. A
 * socket bound without SO_REUSEPORT finds any other holder: 0 when the address is free,
 * else -errno (EADDRINUSE). */
static int listen_address_free(const struct addrinfo *ai)
{
	int one = 1, rc = 0;
	int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0)
		rc = -errno;
	close(fd);
	return rc;
}

int lotad_server_listen_at(const char *host, int listen_port, bool first, int *fd_out)
{
	struct addrinfo hints = {.ai_family = AF_UNSPEC,
	                         .ai_socktype = SOCK_STREAM,
	                         .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
	struct addrinfo *res = NULL;
	char port[16];
	int fd = -1, rc, one = 1;
	snprintf(port, sizeof(port), "%d", listen_port);
	rc = getaddrinfo(host[0] ? host : NULL, port, &hints, &res);
	if (rc != 0) {
		lota_log_error("listen: cannot resolve \"%s\": %s", host, gai_strerror(rc));
		return -EINVAL;
	}
	if (first && listen_port > 0 && (rc = listen_address_free(res)) < 0) {
		lota_log_error("listen: %s:%d: %s (another process is bound there)", host,
		               listen_port, strerror(-rc));
		goto out;
	}
	fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		rc = -errno;
		goto out;
	}
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0 ||
	    bind(fd, res->ai_addr, res->ai_addrlen) < 0 || listen(fd, 1024) < 0) {
		rc = -errno;
		lota_log_error("listen: %s:%d: %s", host, listen_port, strerror(errno));
		close(fd);
		goto out;
	}
	*fd_out = fd;
	rc = 0;
out:
	freeaddrinfo(res);
	return rc;
}

/* ------------------------------------------------------------- connections --- */

static void conn_update_io(lotad_conn *c);
static void conn_process(lotad_conn *c);

static void conn_kill(lotad_conn *c)
{
	if (c->queued)
		return;
	c->dead = true;
	c->queued = true;
	c->close_next = c->w->close_list;
	c->w->close_list = c;
}

static void access_log(lotad_conn *c, uint64_t dur_us);

/* Run conn_process(c) from the loop's after-hook (outside any curl callback). */
static void conn_schedule(lotad_conn *c)
{
	if (c->run_queued || c->dead)
		return;
	c->run_queued = true;
	c->run_next = c->w->run_list;
	c->w->run_list = c;
}

static void conn_close_now(lotad_conn *c)
{
	lotad_worker *w = c->w;
	if (c->h) {
		lotad_handler *h = c->h;
		c->h = NULL;
		h->ops->abort(h);
		/* 499: the client went away before the response was complete. */
		uint64_t dur = lotad_mono_us() - c->t_start_us;
		lotad_metrics_request(c->op, 499, dur);
		c->status = 499;
		access_log(c, dur);
	}
	lotad_io_stop(w->loop, &c->io);
	lotad_tls_conn_free(c->tls);
	c->tls = NULL;
	if (c->in_end > c->in_start)
		(void)shutdown(c->io.fd, SHUT_WR);
	close(c->io.fd);
	c->io.fd = -1;
	lotad_list_remove(&c->node);
	w->nconns--;
	atomic_fetch_sub(&g_open_conns, 1);
	lotad_metrics_conn_open(-1);
	lotad_loop_defer_free(w->loop, c->in);
	lotad_loop_defer_free(w->loop, c);
}

/* recv(2) and send(2) of a TLS connection: the same results, errno included. */
static ssize_t tls_recv(lotad_conn *c, void *buf, size_t len)
{
	ssize_t n = lotad_tls_read(c->tls, buf, len, &c->tls_want);
	if (n >= 0)
		return n;
	errno = -(int)n;
	return -1;
}

static ssize_t tls_send(lotad_conn *c, const void *buf, size_t len)
{
	ssize_t n = lotad_tls_write(c->tls, buf, len, &c->tls_want);
	if (n >= 0)
		return n;
	errno = -(int)n;
	return -1;
}

/* Send as much of data[0..len) as the socket takes now. Returns the bytes sent, or -1
 * when the connection failed (it is then killed). */
static ssize_t send_some(lotad_conn *c, const char *data, size_t len)
{
	size_t off = 0;
	while (off < len) {
		ssize_t n = c->tls ? tls_send(c, data + off, len - off)
		                   : send(c->io.fd, data + off, len - off, MSG_NOSIGNAL);
		if (n > 0) {
			off += (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		conn_kill(c);
		return -1;
	}
	if (off)
		c->last_progress_ms = lotad_loop_now_ms(c->w->loop);
	return (ssize_t)off;
}

static bool conn_flush(lotad_conn *c)
{
	if (c->out_end > c->out_start) {
		ssize_t n = send_some(c, c->out + c->out_start, c->out_end - c->out_start);
		if (n < 0)
			return false;
		c->out_start += (size_t)n;
	}
	if (c->out_start == c->out_end)
		c->out_start = c->out_end = 0;
	conn_update_io(c); /* EPOLLOUT exactly while something is left to write */
	return true;
}

static size_t out_free(const lotad_conn *c)
{
	return c->cap - c->out_end + c->out_start;
}

static int out_append(lotad_conn *c, const char *p, size_t n)
{
	if (n > out_free(c))
		return -ENOSPC;
	if (c->cap - c->out_end < n) {
		memmove(c->out, c->out + c->out_start, c->out_end - c->out_start);
		c->out_end -= c->out_start;
		c->out_start = 0;
	}
	memcpy(c->out + c->out_end, p, n);
	c->out_end += n;
	return 0;
}

static void conn_reset_request(lotad_conn *c)
{
	c->state = C_HEAD;
	c->body_kind = LOTA_HTTP_BODY_NONE;
	c->body_left = 0;
	c->body_avail = 0;
	c->body_eof = true;
	c->continue_sent = false;
	c->want_body = c->want_drain = false;
	c->h = NULL;
	c->resp_started = c->resp_ended = false;
	c->framing = LOTAD_RESP_NONE;
	c->status = 0;
	c->op = LOTAD_OP_OTHER;
	c->bytes_in = c->bytes_out = 0;
	c->reqid[0] = 0;
	c->bucket[0] = 0;
	c->source = NULL;
	c->head_start_ms = 0;
}

/* Decode newly arrived raw bytes of a chunked body. */
static bool conn_decode_chunked(lotad_conn *c)
{
	if (c->body_kind != LOTA_HTTP_BODY_CHUNKED || c->body_eof)
		return true;
	size_t raw_start = c->in_start + c->body_avail;
	size_t len = c->in_end - raw_start;
	if (!len)
		return true;
	int rc = lota_http_chunked_decode(&c->dec, c->in + raw_start, &len);
	if (rc == LOTA_E_INCOMPLETE) {
		c->body_avail += len;
		c->in_end = raw_start + len;
		return true;
	}
	if (rc < 0)
		return false;
	c->body_avail += len;
	c->in_end = raw_start + len + (size_t)rc;
	c->body_eof = true;
	return true;
}

static void conn_body_update(lotad_conn *c)
{
	if (c->body_kind == LOTA_HTTP_BODY_LENGTH) {
		uint64_t have = c->in_end - c->in_start;
		c->body_avail = (size_t)(have < c->body_left ? have : c->body_left);
	}
}

static void conn_on_read(lotad_conn *c)
{
	for (;;) {
		if (c->in_start == c->in_end)
			c->in_start = c->in_end = 0;
		if (c->in_end == c->cap && c->in_start > 0) {
			memmove(c->in, c->in + c->in_start, c->in_end - c->in_start);
			c->in_end -= c->in_start;
			c->in_start = 0;
		}
		if (c->in_end == c->cap)
			break;
		ssize_t n = c->tls ? tls_recv(c, c->in + c->in_end, c->cap - c->in_end)
		                   : recv(c->io.fd, c->in + c->in_end, c->cap - c->in_end, 0);
		if (n > 0) {
			if (c->state == C_HEAD && c->in_end == c->in_start)
				c->head_start_ms = lotad_loop_now_ms(c->w->loop);
			c->in_end += (size_t)n;
			c->last_progress_ms = lotad_loop_now_ms(c->w->loop);
			if (c->state == C_ACTIVE && !c->body_eof) {
				if (!conn_decode_chunked(c)) {
					/* A broken upload: the handler aborts the upstream. */
					conn_kill(c);
					return;
				}
			}
			if ((size_t)n < 4096 && !(c->tls && lotad_tls_pending(c->tls)))
				break;
			continue;
		}
		if (n == 0) {
			c->peer_eof = true;
			break;
		}
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			break;
		conn_kill(c);
		return;
	}
}

/* A TLS connection's event: drive its handshake, and turn "a read waits for the socket
 * to be writable" (or a write for readable) into the event that retries it. Returns
 * whether the event is consumed (the handshake goes on, or failed). */
static bool tls_io(lotad_conn *c, uint32_t *events)
{
	if (!lotad_tls_handshake_done(c->tls)) {
		int rc = lotad_tls_handshake(c->tls, &c->tls_want);
		if (rc < 0 && rc != -EAGAIN) {
			conn_kill(c);
			return true;
		}
		if (rc == -EAGAIN) {
			conn_update_io(c);
			return true;
		}
		c->tls_want = 0;
		c->last_progress_ms = lotad_loop_now_ms(c->w->loop);
		*events |= EPOLLIN; /* the request may have come with the last flight */
		return false;
	}
	if ((c->tls_want & LOTAD_TLS_WANT_WRITE) && (*events & EPOLLOUT))
		*events |= EPOLLIN; /* a read that waited for room to write */
	if ((c->tls_want & LOTAD_TLS_WANT_READ) && (*events & EPOLLIN))
		*events |= EPOLLOUT; /* a write that waited for bytes to read */
	c->tls_want = 0;
	return false;
}

static void conn_io(lotad_io *io, uint32_t events)
{
	lotad_conn *c = io->ud;
	if (c->dead)
		return;
	if (events & (EPOLLERR | EPOLLHUP)) {
		/* Reset by the peer: nothing can be delivered any more. */
		conn_kill(c);
		return;
	}
	if (c->tls && tls_io(c, &events))
		return;
	if (events & (EPOLLIN | EPOLLRDHUP)) {
		conn_on_read(c);
		if (c->dead)
			return;
	}
	if (events & EPOLLOUT) {
		c->want_write = false;
		if (!conn_flush(c))
			return;
	}
	conn_process(c);
}

static void conn_update_io(lotad_conn *c)
{
	if (c->dead)
		return;
	uint32_t ev = 0;
	bool room = c->in_end < c->cap || c->in_start > 0;
	if (room && !c->peer_eof)
		ev |= EPOLLIN | EPOLLRDHUP;
	if (c->out_end > c->out_start || c->want_write)
		ev |= EPOLLOUT;
	if (c->tls) {
		bool hs = lotad_tls_handshake_done(c->tls);
		if (!hs)
			ev = EPOLLRDHUP; /* only what the handshake waits for */
		if (c->tls_want & LOTAD_TLS_WANT_READ)
			ev |= EPOLLIN;
		if (c->tls_want & LOTAD_TLS_WANT_WRITE)
			ev |= EPOLLOUT;
		if (hs && (ev & EPOLLIN) && lotad_tls_pending(c->tls)) {
			c->tls_read_now = true; /* no event will come for these bytes */
			conn_schedule(c);
		}
	}
	if (!ev)
		ev = EPOLLERR; /* always reported anyway; keeps the fd registered */
	if (lotad_io_set(c->w->loop, &c->io, ev) < 0)
		conn_kill(c);
}

/* The length of an error response to send: a HEAD gets the head alone (its
 * Content-Length still says what a GET would carry), as HTTP wants. */
static size_t error_len(const lotad_conn *c, const char *buf, size_t n)
{
	if (c->state != C_ACTIVE || !lota_str_eq_nocase(c->req.method, "HEAD", 4))
		return n;
	const char *end = memmem(buf, n, "\r\n\r\n", 4);
	return end ? (size_t)(end - buf) + 4 : n;
}

static void conn_send_error_raw(lotad_conn *c, int status, const char *code, const char *msg)
{
	char buf[2048];
	lota_str res = c->state == C_ACTIVE ? c->req.path : (lota_str){"", 0};
	size_t n =
	    c->w->hooks->error_response(status, code, msg, res, c->reqid, 1, buf, sizeof(buf));
	n = error_len(c, buf, n);
	c->out_start = c->out_end = 0;
	(void)out_append(c, buf, n);
	c->close_after = true;
	c->status = status;
}

static int parse_error_status(int rc, const char **code, const char **msg)
{
	switch (rc) {
	case LOTA_E_HTTP_HEAD_TOO_LONG:
	case LOTA_E_HTTP_TOO_MANY_HEADERS:
		*code = "RequestHeaderSectionTooLarge";
		*msg = "Your request header section exceeds the maximum allowed size.";
		return 400;
	case LOTA_E_HTTP_VERSION:
		*code = "HttpVersionNotSupported";
		*msg = "The HTTP version specified is not supported.";
		return 505;
	case LOTA_E_HTTP_BAD_TE:
		*code = "NotImplemented";
		*msg = "A header you provided implies functionality that is not implemented.";
		return 501;
	default:
		*code = "BadRequest";
		*msg = "An error occurred when parsing the HTTP request.";
		return 400;
	}
}

static void make_reqid(lotad_conn *c)
{
	lotad_worker *w = c->w;
	snprintf(c->reqid, sizeof(c->reqid), "lota-%x-%llx-%llx", w->id,
	         (unsigned long long)time(NULL), (unsigned long long)++w->seq);
}

/* Try to start the next request from the input buffer. */
static void conn_try_head(lotad_conn *c)
{
	size_t avail = c->in_end - c->in_start;
	if (!avail)
		return;
	lota_http_limits lim = {.sz = sizeof(lim),
	                        .max_head_bytes = LOTAD_MAX_HEAD_BYTES,
	                        .max_headers = LOTAD_MAX_HEADERS};
	int rc = lota_http_parse_request(c->in + c->in_start, avail, &c->req, c->hdrs,
	                                 LOTAD_MAX_HEADERS, &lim);
	if (rc == LOTA_E_INCOMPLETE) {
		if (avail >= LOTAD_MAX_HEAD_BYTES)
			rc = LOTA_E_HTTP_HEAD_TOO_LONG;
		else
			return;
	}
	c->t_start_us = lotad_mono_us();
	make_reqid(c);
	if (rc < 0) {
		const char *code, *msg;
		int st = parse_error_status(rc, &code, &msg);
		lota_log_info("client %s: malformed request: %s", c->peer, lota_strerror(rc));
		c->in_start = c->in_end = 0;
		conn_send_error_raw(c, st, code, msg);
		c->state = C_FLUSH;
		c->resp_ended = true;
		lotad_metrics_request(LOTAD_OP_OTHER, st, lotad_mono_us() - c->t_start_us);
		return;
	}
	/* Keep the head for the whole request: handlers hold views into it. */
	memcpy(c->head, c->in + c->in_start, (size_t)rc);
	c->in_start += (size_t)rc;
	int rc2 =
	    lota_http_parse_request(c->head, (size_t)rc, &c->req, c->hdrs, LOTAD_MAX_HEADERS, &lim);
	if (rc2 != rc) {
		conn_kill(c);
		return;
	}
	c->state = C_ACTIVE;
	c->body_kind = c->req.body;
	c->body_eof = true;
	c->body_avail = 0;
	if (c->body_kind == LOTA_HTTP_BODY_LENGTH && c->req.content_length > 0) {
		c->body_left = c->req.content_length;
		c->body_eof = false;
		conn_body_update(c);
	} else if (c->body_kind == LOTA_HTTP_BODY_CHUNKED) {
		lota_http_chunked_init(&c->dec);
		c->body_eof = false;
		if (!conn_decode_chunked(c)) {
			conn_send_error_raw(c, 400, "IncompleteBody", "Bad chunked encoding.");
			c->state = C_FLUSH;
			c->resp_ended = true;
			return;
		}
	}
	if (!c->req.keep_alive)
		c->close_after = true;
	c->w->hooks->request(c, c->w->hooks->ud);
}

static void conn_process(lotad_conn *c)
{
	if (c->tls_read_now) {
		c->tls_read_now = false;
		conn_on_read(c);
	}
	if (c->flush_soon) {
		c->flush_soon = false;
		if (!conn_flush(c))
			return;
	}
	for (int guard = 0; guard < 64 && !c->dead; guard++) {
		if (c->state == C_HEAD) {
			if (atomic_load(&c->w->shutdown_req) && c->in_end == c->in_start) {
				conn_kill(c);
				return;
			}
			conn_try_head(c);
			if (c->state == C_HEAD) {
				if (c->peer_eof) {
					conn_kill(c); /* a head that can never complete */
					return;
				}
				break;
			}
			continue;
		}
		if (c->state == C_ACTIVE) {
			conn_body_update(c);
			if (c->peer_eof && !c->body_eof &&
			    (c->body_kind == LOTA_HTTP_BODY_CHUNKED ||
			     c->in_end - c->in_start < c->body_left)) {
				conn_kill(c); /* upload cut short: the handler aborts */
				return;
			}
			if (c->h && c->want_body && (c->body_avail || c->body_eof)) {
				c->want_body = false;
				c->h->ops->on_body(c->h);
				continue;
			}
			if (c->h && c->want_drain && out_free(c) >= c->cap / 2) {
				c->want_drain = false;
				c->h->ops->on_drain(c->h);
				continue;
			}
			break;
		}
		/* C_FLUSH */
		if (!conn_flush(c))
			return;
		if (c->out_end > c->out_start)
			break;
		if (c->close_after || c->peer_eof || !c->body_eof ||
		    atomic_load(&c->w->shutdown_req)) {
			conn_kill(c);
			return;
		}
		conn_reset_request(c);
	}
	conn_update_io(c);
}

/* Accept what waits on listen_fd; with tls, each connection starts with a handshake. */
static void accept_conns(lotad_worker *w, int listen_fd, lotad_tls *tls)
{
	for (int i = 0; i < 64; i++) {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);
		int fd =
		    accept4(listen_fd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				lota_log_warn("accept: %s", strerror(errno));
			return;
		}
		if (w->s->max_connections > 0 &&
		    atomic_load(&g_open_conns) >= w->s->max_connections) {
			close(fd);
			lota_log_warn("accept: max_connections (%lld) reached, refusing",
			              (long long)w->s->max_connections);
			continue;
		}
		int one = 1;
		(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		if (w->s->client_sndbuf) {
			int sb = (int)w->s->client_sndbuf;
			(void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sb, sizeof(sb));
		}
		if (w->s->tcp_congestion && w->s->tcp_congestion[0])
			(void)setsockopt(fd, IPPROTO_TCP, TCP_CONGESTION, w->s->tcp_congestion,
			                 (socklen_t)strlen(w->s->tcp_congestion));
		size_t cap = w->s->client_buffer;
		lotad_conn *c = calloc(1, sizeof(*c));
		char *bufs = malloc(2 * cap + LOTAD_MAX_HEAD_BYTES);
		if (!c || !bufs) {
			free(c);
			free(bufs);
			close(fd);
			continue;
		}
		if (tls && !(c->tls = lotad_tls_conn_new(tls, fd))) {
			free(c);
			free(bufs);
			close(fd);
			continue;
		}
		c->w = w;
		c->in = bufs;
		c->out = bufs + cap;
		c->head = bufs + 2 * cap;
		c->cap = cap;
		c->io = (lotad_io){.fd = fd, .fn = conn_io, .ud = c};
		c->last_progress_ms = lotad_loop_now_ms(w->loop);
		if (ss.ss_family == AF_INET) {
			struct sockaddr_in *a = (struct sockaddr_in *)&ss;
			char ip[INET_ADDRSTRLEN];
			inet_ntop(AF_INET, &a->sin_addr, ip, sizeof(ip));
			snprintf(c->peer, sizeof(c->peer), "%s:%u", ip, ntohs(a->sin_port));
		} else if (ss.ss_family == AF_INET6) {
			struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
			char ip[INET6_ADDRSTRLEN];
			inet_ntop(AF_INET6, &a->sin6_addr, ip, sizeof(ip));
			snprintf(c->peer, sizeof(c->peer), "[%s]:%u", ip, ntohs(a->sin6_port));
		}
		conn_reset_request(c);
		if (c->tls) {
			c->head_start_ms = c->last_progress_ms; /* the handshake's deadline */
			c->tls_want = LOTAD_TLS_WANT_READ;      /* the ClientHello */
		}
		lotad_list_insert_head(&w->conns, &c->node);
		w->nconns++;
		conns_opened();
		lotad_metrics_conn_open(1);
		conn_update_io(c);
	}
}

static void listen_io(lotad_io *io, uint32_t events)
{
	lotad_worker *w = io->ud;
	(void)events;
	accept_conns(w, w->listen_fd, NULL);
}

static void tls_listen_io(lotad_io *io, uint32_t events)
{
	lotad_worker *w = io->ud;
	(void)events;
	accept_conns(w, w->tls_listen_fd, w->tls);
}

/* ---------------------------------------------------------- handler API --- */

const lota_http_request *lotad_conn_request(lotad_conn *c)
{
	return &c->req;
}

lotad_worker *lotad_conn_worker(lotad_conn *c)
{
	return c->w;
}

size_t lotad_conn_body_read(lotad_conn *c, char *dst, size_t cap, bool *eof)
{
	conn_body_update(c);
	size_t n = c->body_avail < cap ? c->body_avail : cap;
	if (n) {
		memcpy(dst, c->in + c->in_start, n);
		c->in_start += n;
		c->body_avail -= n;
		c->bytes_in += n;
		lotad_metrics_bytes_in(n);
		if (c->body_kind == LOTA_HTTP_BODY_LENGTH) {
			c->body_left -= n;
			if (!c->body_left)
				c->body_eof = true;
		}
		if (!c->dead)
			conn_update_io(c); /* there is room to read again */
	}
	*eof = c->body_eof && c->body_avail == 0;
	if (!n && !*eof)
		c->want_body = true;
	return n;
}

bool lotad_conn_body_done(const lotad_conn *c)
{
	return c->body_eof && c->body_avail == 0;
}

void lotad_conn_send_continue(lotad_conn *c)
{
	static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
	if (c->dead || c->continue_sent || !c->req.expect_continue || c->body_eof)
		return;
	c->continue_sent = true;
	if (out_append(c, cont, sizeof(cont) - 1) == 0)
		(void)conn_flush(c);
}

size_t lotad_conn_out_room(const lotad_conn *c)
{
	size_t f = out_free(c);
	size_t overhead = c->framing == LOTAD_RESP_CHUNKED ? 32 : 0;
	return f > overhead ? f - overhead : 0;
}

void lotad_conn_want_drain(lotad_conn *c)
{
	c->want_drain = true;
}

bool lotad_conn_resp_started(const lotad_conn *c)
{
	return c->resp_started;
}

void lotad_conn_set_request_id(lotad_conn *c, const char *id, size_t len)
{
	if (len >= sizeof(c->reqid))
		len = sizeof(c->reqid) - 1;
	memcpy(c->reqid, id, len);
	c->reqid[len] = 0;
}

void lotad_conn_set_op(lotad_conn *c, lotad_op op)
{
	c->op = op;
}

void lotad_conn_set_bucket(lotad_conn *c, const char *bucket, size_t len)
{
	if (len >= sizeof(c->bucket))
		len = sizeof(c->bucket) - 1;
	if (len)
		memcpy(c->bucket, bucket, len);
	c->bucket[len] = 0;
}

/* The source of a response for the access log, from the x-lota-cache header lotad
 * writes on every cacheable GET/HEAD (the label of the first byte, as
 * lota_bytes_served_total{source} counts it): hit = cache, peer, miss = upstream (a
 * fill or a direct read); bypass or no label: the request was proxied. */
static const char *head_source(const char *head, size_t len)
{
	static const char name[] = "\r\nx-lota-cache: ";
	const char *p = memmem(head, len, name, sizeof(name) - 1);
	if (!p)
		return "proxy";
	p += sizeof(name) - 1;
	size_t left = len - (size_t)(p - head);
	if (left >= 3 && memcmp(p, "hit", 3) == 0)
		return "cache";
	if (left >= 4 && memcmp(p, "peer", 4) == 0)
		return "peer";
	if (left >= 4 && memcmp(p, "miss", 4) == 0)
		return "upstream";
	return "proxy";
}

int lotad_conn_resp_head(lotad_conn *c, int status, const char *head, size_t len,
                         lotad_resp_framing framing)
{
	char tail[128];
	size_t tl = 0;
	if (c->dead)
		return -EPIPE;
	if (framing == LOTAD_RESP_CHUNKED && c->req.minor_version == 0) {
		/* HTTP/1.0 has no chunked coding: delimit by closing. */
		c->close_after = true;
		framing = LOTAD_RESP_NONE;
		c->framing = LOTAD_RESP_LENGTH; /* body bytes pass through unframed */
	} else {
		c->framing = framing;
	}
	if (framing == LOTAD_RESP_CHUNKED)
		tl += (size_t)snprintf(tail + tl, sizeof(tail) - tl,
		                       "Transfer-Encoding: chunked\r\n");
	if (c->close_after || atomic_load(&c->w->shutdown_req))
		tl += (size_t)snprintf(tail + tl, sizeof(tail) - tl, "Connection: close\r\n");
	else if (c->req.minor_version == 0)
		tl += (size_t)snprintf(tail + tl, sizeof(tail) - tl, "Connection: keep-alive\r\n");
	tl += (size_t)snprintf(tail + tl, sizeof(tail) - tl, "\r\n");
	if (len + tl > out_free(c))
		return -ENOSPC;
	(void)out_append(c, head, len);
	(void)out_append(c, tail, tl);
	c->resp_started = true;
	c->status = status;
	c->source = head_source(head, len);
	(void)conn_flush(c);
	return 0;
}

int lotad_conn_resp_body(lotad_conn *c, const char *data, size_t len)
{
	if (c->dead)
		return -EPIPE;
	if (!len)
		return 0;
	if (c->framing == LOTAD_RESP_CHUNKED) {
		char pre[24];
		int pl = snprintf(pre, sizeof(pre), "%zx\r\n", len);
		if (len + (size_t)pl + 2 > out_free(c))
			return -ENOSPC;
		(void)out_append(c, pre, (size_t)pl);
		(void)out_append(c, data, len);
		(void)out_append(c, "\r\n", 2);
	} else if (c->out_end == c->out_start) {
		/* Nothing queued: send straight from the caller's buffer and keep only what
		 * the socket did not take (saves a copy and a loop turn per block). */
		ssize_t sent = send_some(c, data, len);
		if (sent < 0)
			return -EPIPE;
		size_t off = (size_t)sent;
		if (off < len && out_append(c, data + off, len - off) < 0)
			return -ENOSPC; /* cannot happen: the caller checked the room */
	} else {
		if (out_append(c, data, len) < 0)
			return -ENOSPC;
	}
	c->bytes_out += len;
	lotad_metrics_bytes_out(len);
	if (!conn_flush(c))
		return -EPIPE;
	return 0;
}

int lotad_conn_resp_body_coalesced(lotad_conn *c, const char *data, size_t len)
{
	if (c->dead)
		return -EPIPE;
	if (c->framing == LOTAD_RESP_CHUNKED)
		return lotad_conn_resp_body(c, data, len);
	if (!len)
		return 0;
	if (out_append(c, data, len) < 0)
		return -ENOSPC;
	c->bytes_out += len;
	lotad_metrics_bytes_out(len);
	if (c->out_end - c->out_start >= c->cap / 2)
		return conn_flush(c) ? 0 : -EPIPE;
	c->flush_soon = true;
	conn_schedule(c);
	return 0;
}

char *lotad_conn_resp_reserve(lotad_conn *c, size_t *len)
{
	*len = 0;
	if (c->dead || c->framing == LOTAD_RESP_CHUNKED)
		return NULL;
	if (c->out_start == c->out_end) {
		c->out_start = c->out_end = 0;
	} else if (c->out_start && c->cap - c->out_end < out_free(c) / 2) {
		memmove(c->out, c->out + c->out_start, c->out_end - c->out_start);
		c->out_end -= c->out_start;
		c->out_start = 0;
	}
	*len = c->cap - c->out_end;
	return c->out + c->out_end;
}

ssize_t lotad_conn_resp_sendfile(lotad_conn *c, int fd, uint64_t off, size_t len)
{
	if (c->dead)
		return -EPIPE;
	if (c->framing == LOTAD_RESP_CHUNKED || c->out_end > c->out_start || c->tls)
		return -EAGAIN; /* the buffer goes first; TLS encrypts in user space */
	off_t o = (off_t)off;
	size_t done = 0;
	while (done < len) {
		ssize_t n = sendfile(c->io.fd, fd, &o, len - done);
		if (n > 0) {
			done += (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (n == 0)
			return done ? (ssize_t)done : -EIO; /* the file is shorter than said */
		conn_kill(c);
		return -EPIPE;
	}
	if (done) {
		c->last_progress_ms = lotad_loop_now_ms(c->w->loop);
		c->bytes_out += done;
		lotad_metrics_bytes_out(done);
	}
	if (done < len) {
		c->want_write = true;
		conn_update_io(c);
	}
	return (ssize_t)done;
}

ssize_t lotad_conn_resp_send(lotad_conn *c, const void *data, size_t len)
{
	if (c->dead)
		return -EPIPE;
	if (c->framing == LOTAD_RESP_CHUNKED || c->out_end > c->out_start || c->tls)
		return -EAGAIN; /* the buffer goes first; TLS encrypts in user space */
	ssize_t n = send_some(c, data, len);
	if (n < 0)
		return -EPIPE;
	if (n) {
		c->bytes_out += (uint64_t)n;
		lotad_metrics_bytes_out((uint64_t)n);
	}
	if ((size_t)n < len) {
		c->want_write = true;
		conn_update_io(c);
	}
	return n;
}

int lotad_conn_resp_commit(lotad_conn *c, size_t n)
{
	if (c->dead)
		return -EPIPE;
	if (n > c->cap - c->out_end)
		return -EINVAL;
	c->out_end += n;
	c->bytes_out += n;
	lotad_metrics_bytes_out(n);
	if (!conn_flush(c))
		return -EPIPE;
	return 0;
}

/* One line per request (access_log): the fields operators grep for, as key=value in
 * text and as members of the line's object in JSON (lota_log_fields). The target is
 * redacted (signatures, credentials, tokens) before it is logged. */
static void access_log(lotad_conn *c, uint64_t dur_us)
{
	char target[1024], method[32];
	if (!c->w->s->access_log)
		return;
	if (c->state != C_ACTIVE) {
		lota_log_field f[] = {{"client", c->peer, 0}, {"status", NULL, c->status}};
		lota_log_fields(LOTA_LOG_INFO, "access", f, sizeof(f) / sizeof(f[0]));
		return;
	}
	lota_log_redact_uri(c->req.target.ptr, c->req.target.len, target, sizeof(target));
	snprintf(method, sizeof(method), "%.*s", (int)c->req.method.len, c->req.method.ptr);
	lota_log_field f[] = {
	    {"req_id", c->reqid, 0},
	    {"client", c->peer, 0},
	    {"method", method, 0},
	    {"op", lotad_op_name(c->op), 0},
	    {"bucket", c->bucket, 0},
	    {"target", target, 0},
	    {"status", NULL, c->status},
	    {"source", c->source ? c->source : "lotad", 0},
	    {"bytes_in", NULL, (long long)c->bytes_in},
	    {"bytes_out", NULL, (long long)c->bytes_out},
	    {"duration_us", NULL, (long long)dur_us},
	};
	lota_log_fields(LOTA_LOG_INFO, "access", f, sizeof(f) / sizeof(f[0]));
}

void lotad_conn_resp_end(lotad_conn *c, bool ok)
{
	uint64_t dur = lotad_mono_us() - c->t_start_us;
	c->h = NULL;
	c->want_body = c->want_drain = c->want_write = false;
	if (c->dead) {
		/* The client went away before the handler finished: counted here, as 499
		 * (conn_close_now counts only a request whose handler is still attached). */
		lotad_metrics_request(c->op, 499, dur);
		c->status = 499;
		access_log(c, dur);
		return;
	}
	if (!ok) {
		c->close_after = true;
	} else if (c->framing == LOTAD_RESP_CHUNKED) {
		if (out_append(c, "0\r\n\r\n", 5) < 0)
			c->close_after = true; /* cannot happen: room is checked per chunk */
	}
	if (!c->resp_started && !c->status)
		c->status = 500;
	lotad_metrics_request(c->op, c->status, dur);
	access_log(c, dur);
	c->resp_ended = true;
	c->state = C_FLUSH;
	if (!ok) {
		/* Whatever was buffered is discarded: a truncated body must not look
		 * complete to the client, so close right away. */
		conn_kill(c);
		return;
	}
	if (conn_flush(c))
		conn_schedule(c); /* on to the next pipelined request */
}

void lotad_conn_send_error(lotad_conn *c, int status, const char *code, const char *msg, bool close)
{
	char buf[2048];
	if (c->dead) {
		lotad_conn_resp_end(c, false);
		return;
	}
	size_t n = c->w->hooks->error_response(status, code, msg, c->req.path, c->reqid,
	                                       close ? 1 : 0, buf, sizeof(buf));
	n = error_len(c, buf, n);
	c->out_start = c->out_end = 0;
	(void)out_append(c, buf, n);
	c->resp_started = true;
	c->status = status;
	c->source = "lotad"; /* answered by lotad itself */
	c->framing = LOTAD_RESP_NONE;
	if (close)
		c->close_after = true;
	lotad_conn_resp_end(c, true);
}

void lotad_conn_attach(lotad_conn *c, lotad_handler *h)
{
	c->h = h;
}

/* --------------------------------------------------------------- workers --- */

static void close_queued(lotad_worker *w)
{
	while (w->close_list) {
		lotad_conn *c = w->close_list;
		w->close_list = c->close_next;
		conn_close_now(c);
	}
}

static void run_queued(lotad_worker *w)
{
	while (w->run_list) { /* drained fully: entries must not outlive this iteration */
		lotad_conn *list = w->run_list;
		w->run_list = NULL;
		while (list) {
			lotad_conn *c = list;
			list = c->run_next;
			c->run_queued = false;
			if (!c->dead)
				conn_process(c);
		}
	}
}

static void after_iter(lotad_loop *loop, void *ud)
{
	lotad_worker *w = ud;
	run_queued(w);
	close_queued(w);
	if (w->shutdown_done && w->nconns == 0) {
		atomic_store(&w->idle, 1);
		lotad_loop_stop(loop);
	}
}

static void sweep_cb(lotad_timer *t)
{
	lotad_worker *w = t->ud;
	const lotad_settings *s = w->s;
	uint64_t now = lotad_loop_update_now(w->loop);
	for (lotad_list *it = w->conns.next; it != &w->conns; it = it->next) {
		lotad_conn *c = lotad_list_entry(it, lotad_conn, node);
		if (c->dead)
			continue;
		uint64_t quiet = now - c->last_progress_ms;
		if (c->tls && !lotad_tls_handshake_done(c->tls)) {
			if (now - c->head_start_ms >= s->header_timeout_ms)
				conn_kill(c); /* a handshake gets the time of a request head */
			continue;
		}
		if (c->state == C_HEAD) {
			if (c->in_end > c->in_start) {
				if (now - c->head_start_ms >= s->header_timeout_ms) {
					c->t_start_us = lotad_mono_us();
					conn_send_error_raw(c, 400, "RequestTimeout",
					                    "Your socket connection to the server "
					                    "was not read from or written to "
					                    "within the timeout period.");
					c->in_start = c->in_end = 0;
					c->state = C_FLUSH;
					c->resp_ended = true;
					conn_process(c);
				}
			} else if (quiet >= s->idle_timeout_ms) {
				conn_kill(c);
			}
			continue;
		}
		bool waiting_client = c->out_end > c->out_start ||
		                      (c->state == C_ACTIVE && !c->body_eof && c->want_body);
		if (waiting_client && quiet >= s->idle_timeout_ms) {
			lota_log_info("client %s: no progress for %llu ms, closing", c->peer,
			              (unsigned long long)quiet);
			conn_kill(c);
		}
	}
	close_queued(w);
	trim_after_load();
	lotad_timer_start(w->loop, &w->sweep, 1000);
}

static void wake_fn(lotad_loop *loop, void *ud)
{
	lotad_worker *w = ud;
	int req = atomic_load(&w->shutdown_req);
	(void)loop;
	if (!req)
		return;
	if (w->listen_fd >= 0) {
		lotad_io_stop(w->loop, &w->listen_io);
		close(w->listen_fd);
		w->listen_fd = -1;
	}
	if (w->tls_listen_fd >= 0) {
		lotad_io_stop(w->loop, &w->tls_listen_io);
		close(w->tls_listen_fd);
		w->tls_listen_fd = -1;
	}
	w->shutdown_done = 1;
	for (lotad_list *it = w->conns.next; it != &w->conns; it = it->next) {
		lotad_conn *c = lotad_list_entry(it, lotad_conn, node);
		if (req == 2 || (c->state == C_HEAD && c->in_end == c->in_start))
			conn_kill(c);
		else
			c->close_after = true;
	}
}

static void *worker_main(void *arg)
{
	lotad_worker *w = arg;
	lotad_loop_run(w->loop);
	/* Anything left (forced stop): abort handlers before the upstream goes away. */
	for (lotad_list *it = w->conns.next; it != &w->conns; it = it->next) {
		lotad_conn *c = lotad_list_entry(it, lotad_conn, node);
		conn_kill(c);
	}
	close_queued(w);
	return NULL;
}

lotad_worker *lotad_worker_new(int id, const lotad_settings *s, const lotad_server_hooks *hooks,
                               int listen_fd)
{
	lotad_worker *w = calloc(1, sizeof(*w));
	if (!w)
		return NULL;
	w->id = id;
	w->s = s;
	lotad_list_init(&w->conns);
	w->hooks = hooks;
	w->listen_fd = listen_fd;
	w->tls_listen_fd = -1;
	w->loop = lotad_loop_new();
	if (!w->loop)
		goto fail;
	w->up = lotad_upstream_new(w->loop);
	if (!w->up)
		goto fail;
	w->listen_io = (lotad_io){.fd = listen_fd, .fn = listen_io, .ud = w};
	if (lotad_io_set(w->loop, &w->listen_io, EPOLLIN) < 0)
		goto fail;
	lotad_timer_init(&w->sweep, sweep_cb, w);
	lotad_timer_start(w->loop, &w->sweep, 1000);
	lotad_loop_set_after(w->loop, after_iter, w);
	lotad_loop_set_wake(w->loop, wake_fn, w);
	return w;
fail:
	lotad_upstream_free(w->up);
	lotad_loop_free(w->loop);
	free(w);
	return NULL;
}

int lotad_worker_add_tls(lotad_worker *w, int listen_fd, lotad_tls *tls)
{
	w->tls = tls;
	w->tls_listen_fd = listen_fd;
	w->tls_listen_io = (lotad_io){.fd = listen_fd, .fn = tls_listen_io, .ud = w};
	int rc = lotad_io_set(w->loop, &w->tls_listen_io, EPOLLIN);
	if (rc < 0)
		w->tls_listen_fd = -1; /* still the caller's */
	return rc;
}

int lotad_worker_start(lotad_worker *w)
{
	int rc = pthread_create(&w->thr, NULL, worker_main, w);
	if (rc)
		return -rc;
	w->started = true;
	return 0;
}

void lotad_worker_shutdown(lotad_worker *w, bool force)
{
	atomic_store(&w->shutdown_req, force ? 2 : 1);
	lotad_loop_wake(w->loop);
}

bool lotad_worker_idle(lotad_worker *w)
{
	return atomic_load(&w->idle) != 0;
}

void lotad_worker_join_free(lotad_worker *w)
{
	if (!w)
		return;
	if (w->started)
		pthread_join(w->thr, NULL);
	if (w->hooks->worker_stop) /* e.g. background fills: they use its upstream */
		w->hooks->worker_stop(w, w->hooks->ud);
	if (w->listen_fd >= 0)
		close(w->listen_fd);
	if (w->tls_listen_fd >= 0)
		close(w->tls_listen_fd);
	lotad_upstream_free(w->up);
	lotad_loop_free(w->loop);
	free(w);
}
