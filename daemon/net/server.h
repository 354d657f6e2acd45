/*
 * server.h - lotad's S3 front end: listeners, workers and client connections speaking
 * HTTP/1.1, and the interface between a connection and the handler that answers the
 * request on it (the proxy, or the cache for GET/HEAD of objects).
 *
 * The server names nothing above net/: what it calls above it (the request handler, the
 * worker-stop hook, the error renderer) is given to each worker at set-up
 * (lotad_server_hooks; main.c gives the router's).
 *
 * A worker is one thread with its own loop, listening socket (SO_REUSEPORT) and
 * upstream client. A connection answers one request at a time: the next pipelined
 * request is parsed only once the current response has been flushed, so responses go
 * out in order. Buffers have fixed caps (client_buffer): when the input buffer is full
 * the socket is not read; when the output buffer is full the handler is told to stop
 * (and is called back through on_drain when there is room again).
 */
#ifndef LOTAD_SERVER_H
#define LOTAD_SERVER_H

#include <stdbool.h>
#include <stdint.h>

#include <lota/http.h>

#include "metrics.h"
#include "net/loop.h"
#include "settings.h"

#define LOTAD_MAX_HEADERS    128
#define LOTAD_MAX_HEAD_BYTES (16 * 1024)

typedef struct lotad_worker lotad_worker;
typedef struct lotad_conn lotad_conn;
typedef struct lotad_handler lotad_handler;

/* A request handler. The server calls these; the handler calls the lotad_conn_* API. */
typedef struct lotad_handler_ops {
	/* Decoded request body bytes are available (or the body ended). */
	void (*on_body)(lotad_handler *h);
	/* The output buffer has room again. */
	void (*on_drain)(lotad_handler *h);
	/* The client is gone (or the server is shutting down hard): stop all work and
	 * free the handler now. The handler must not call lotad_conn_* afterwards. */
	void (*abort)(lotad_handler *h);
} lotad_handler_ops;

struct lotad_handler {
	const lotad_handler_ops *ops;
};

/* The most memory one client connection holds at once, whatever its clients and the
 * upstream send (README "Memory"): its buffers (2 x client_buffer + the head), its
 * upstream transfer's (curl's receive buffer, an upload's send buffer, a re-signed
 * aws-chunked upload's stage and chunk) and the bookkeeping of both. max_connections
 * times this bounds lotad's memory for clients. */
size_t lotad_conn_memory_cap(const lotad_settings *s);

/* What a worker calls above net/. ud is given back to each. */
typedef struct lotad_server_hooks {
	/* A request head is parsed: attach a handler to c (lotad_conn_attach) or answer
	 * right away (lotad_conn_send_error). */
	void (*request)(lotad_conn *c, void *ud);
	/* The worker's loop has ended and its upstream is about to be freed: stop the work
	 * that still uses it (background fills). NULL: nothing to stop. */
	void (*worker_stop)(lotad_worker *w, void *ud);
	/* A complete error response (status line, headers, body; S3's XML for lotad) of
	 * the errors the server sends itself and of lotad_conn_send_error, written into
	 * out[0..cap); returns its length. close: it carries Connection: close. */
	size_t (*error_response)(int status, const char *code, const char *message,
	                         lota_str resource, const char *request_id, int close, char *out,
	                         size_t cap);
	void *ud;
} lotad_server_hooks;

/* --- workers --- */
/* One SO_REUSEPORT socket of a worker. first: the first of them, which fails with
 * -EADDRINUSE when any other socket is bound to the address (another lotad too). */
int lotad_server_listen(const lotad_settings *s, bool first, int *fd_out);
/* The same on host:port (tls_listen). */
int lotad_server_listen_at(const char *host, int port, bool first, int *fd_out);
/* s and hooks must outlive the worker. */
lotad_worker *lotad_worker_new(int id, const lotad_settings *s, const lotad_server_hooks *hooks,
                               int listen_fd);
/* Before lotad_worker_start: also accept TLS connections on listen_fd (the worker owns it
 * once this returns 0), served with tls (which must outlive the worker). */
struct lotad_tls;
int lotad_worker_add_tls(lotad_worker *w, int listen_fd, struct lotad_tls *tls);
int lotad_worker_start(lotad_worker *w);
/* From any thread: drain (stop accepting, finish in-flight requests). force: abort
 * everything still open. */
void lotad_worker_shutdown(lotad_worker *w, bool force);
bool lotad_worker_idle(lotad_worker *w); /* no connection left */
void lotad_worker_join_free(lotad_worker *w);

lotad_loop *lotad_worker_loop(lotad_worker *w);
struct lotad_upstream *lotad_worker_upstream(lotad_worker *w);
const lotad_settings *lotad_worker_settings(lotad_worker *w);

/* --- the connection API for handlers --- */
const lota_http_request *lotad_conn_request(lotad_conn *c);
lotad_worker *lotad_conn_worker(lotad_conn *c);
/* Copy up to cap decoded body bytes. Returns the count; 0 with *eof false means "none
 * buffered now" (on_body follows when more arrive). */
size_t lotad_conn_body_read(lotad_conn *c, char *dst, size_t cap, bool *eof);
bool lotad_conn_body_done(const lotad_conn *c);
/* Send "100 Continue" if the client asked for it and it was not sent yet. */
void lotad_conn_send_continue(lotad_conn *c);

/* Response: the head (status line + headers, without the final CRLF; lotad adds
 * framing and Connection headers), then body bytes, then end. */
typedef enum lotad_resp_framing {
	LOTAD_RESP_NONE = 0,    /* no body (HEAD, 204, 304) */
	LOTAD_RESP_LENGTH = 1,  /* the head carries Content-Length */
	LOTAD_RESP_CHUNKED = 2, /* lotad frames chunks (HTTP/1.1 clients) */
} lotad_resp_framing;
/* Room for head bytes / body bytes in the output buffer right now. */
size_t lotad_conn_out_room(const lotad_conn *c);
/* Commit a response head; head[0..len) is "HTTP/1.1 ...\r\n" + header lines. The
 * framing decides Transfer-Encoding; with LENGTH the head must carry Content-Length.
 * Returns 0 or -ENOSPC. */
int lotad_conn_resp_head(lotad_conn *c, int status, const char *head, size_t len,
                         lotad_resp_framing framing);
/* Body bytes; len must be <= lotad_conn_out_room(). Returns 0 or -ENOSPC. */
int lotad_conn_resp_body(lotad_conn *c, const char *data, size_t len);
/* As lotad_conn_resp_body, but the bytes are only queued: they leave with the next ones
 * in one send, once half the output buffer is queued or, at the latest, after this turn
 * of the loop. For producers that hand a body over in small pieces (curl delivers 16 KiB
 * per write callback): one send per piece costs more than the copy. */
int lotad_conn_resp_body_coalesced(lotad_conn *c, const char *data, size_t len);
/* Body bytes produced in place (Content-Length framing only): a pointer to *len free
 * contiguous bytes at the end of the output buffer (NULL, *len = 0 when there is none or
 * the response is chunked). Write up to *len bytes there, then lotad_conn_resp_commit(n)
 * queues and sends them. Saves the copy of lotad_conn_resp_body for data read from disk. */
char *lotad_conn_resp_reserve(lotad_conn *c, size_t *len);
int lotad_conn_resp_commit(lotad_conn *c, size_t n);
/* Body bytes straight from a file (Content-Length framing, nothing buffered): sendfile(2)
 * of up to len bytes of fd from off. Returns the bytes sent (0 when the socket is full:
 * ask for on_drain, which comes when it is writable again), -EAGAIN when the buffer is
 * not empty or the response is chunked (use the buffer), -EPIPE, -EIO for a short file. */
ssize_t lotad_conn_resp_sendfile(lotad_conn *c, int fd, uint64_t off, size_t len);
/* Body bytes straight from the caller's memory (a mapping of a file), nothing buffered:
 * as lotad_conn_resp_sendfile, send(2) of up to len bytes of data (0 when the socket is
 * full, -EAGAIN when the buffer is not empty, the response is chunked or the connection
 * is TLS, -EPIPE). */
ssize_t lotad_conn_resp_send(lotad_conn *c, const void *data, size_t len);
/* The handler is done. ok = the response is complete (else the connection is closed
 * after what was buffered, so the client sees a truncated transfer, never a silently
 * short one). The handler must not touch c afterwards. Metrics info for the log. */
void lotad_conn_resp_end(lotad_conn *c, bool ok);
/* Whether any response byte was committed. */
bool lotad_conn_resp_started(const lotad_conn *c);
/* Send a complete lotad-generated S3 error and finish (closes when close). */
void lotad_conn_send_error(lotad_conn *c, int status, const char *code, const char *msg,
                           bool close);
/* The handler that answers the current request (set by the request hook). */
void lotad_conn_attach(lotad_conn *c, lotad_handler *h);
/* Ask for on_drain once the output buffer is at least half empty. */
void lotad_conn_want_drain(lotad_conn *c);
/* The operation, for metrics and the access log. */
void lotad_conn_set_op(lotad_conn *c, lotad_op op);
/* Information the access log prints. */
void lotad_conn_set_request_id(lotad_conn *c, const char *id, size_t len);
/* The request's bucket (empty for ListBuckets), for the access log. */
void lotad_conn_set_bucket(lotad_conn *c, const char *bucket, size_t len);

#endif
