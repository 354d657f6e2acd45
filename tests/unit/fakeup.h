/*
 * fakeup.h - an in-process fake S3 upstream for the daemon unit suites: an HTTP/1.1
 * server on 127.0.0.1 (a port of its own) driven by a lotad loop, normally the loop of
 * the worker under test, so that lotad, the fake and the test's clients run in one
 * thread and a test drives them until an event, never for a time.
 *
 * It answers GET, HEAD and PUT of the objects it is given as S3 does (ETag, Range with
 * 206 and Content-Range, 416, If-Match -> 412, If-None-Match -> 304, 404 NoSuchKey),
 * verifies the SigV4 signature of requests signed with the key it is given (403
 * SignatureDoesNotMatch otherwise), and records every request (method, target, head,
 * status sent, body bytes sent, whether the client closed the connection before the
 * response was over). A test scripts any answer through a hook that sees each request
 * and the answer prepared for it, and may change it: another status, ETag or
 * Content-Range, a body shorter than its Content-Length, bytes after the response, and
 * faults at a chosen body offset (close, reset, stall until released or for a while).
 *
 * Not thread-safe: everything, the test included, runs on the loop's thread.
 */
#ifndef LOTA_FAKEUP_H
#define LOTA_FAKEUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <lota/common.h>

#include "net/loop.h"

typedef struct fakeup fakeup;

/* What happens at a response's fault point. */
typedef enum fakeup_fault {
	FAKEUP_NONE = 0, /* nothing: the whole response goes out, the connection stays open */
	FAKEUP_CLOSE,    /* the connection is closed there (FIN): a short body */
	FAKEUP_RESET,    /* the connection is reset there (RST) */
	FAKEUP_STALL,    /* nothing more is sent until fakeup_release() (or stall_ms) */
} fakeup_fault;

typedef struct fakeup_resp {
	int status;              /* 200, 206, 304, 403, ... (the reason phrase is the fake's) */
	char etag[128];          /* the ETag value sent ("" = none) */
	char content_range[128]; /* the Content-Range value sent ("" = none) */
	char extra[1024];        /* more header lines, each "Name: value\r\n" */
	const char *body;        /* not copied: must live as long as the fake */
	size_t body_len;         /* body bytes sent (none for a HEAD, a 204 or a 304) */
	uint64_t length;         /* the Content-Length sent (body_len; a HEAD's: the GET's) */
	bool no_length;          /* no Content-Length: the body ends when the connection does */
	fakeup_fault fault;
	int64_t at;        /* body bytes sent before the fault; -1: before the status line */
	uint64_t stall_ms; /* FAKEUP_STALL: go on by itself after this long (0: on release) */
	const char *after; /* bytes nobody asked for, sent right after the response */
	size_t after_len;
} fakeup_resp;

/* One request the fake received, and what became of its response. */
typedef struct fakeup_req {
	int conn; /* the connection it came on: 1, 2, ... in accept order */
	char method[16];
	char target[2048];
	char head[8192]; /* the request head as received */
	size_t head_len;
	uint64_t body_len; /* request body bytes received */
	int sig;           /* 1 signature verified, 0 anonymous or no key set, -1 refused */
	int status;        /* the status sent (0: nothing sent yet) */
	uint64_t sent;     /* response body bytes sent */
	bool done;         /* the whole response went out */
	bool blocked;      /* the client's side was full once: a send had to wait */
	bool peer_closed;  /* the client closed the connection before that (mid-body too) */
} fakeup_req;

/* A hook sees each request (its head and body received) and the answer prepared for it,
 * and may change the answer. */
typedef void (*fakeup_hook)(fakeup *f, const fakeup_req *req, fakeup_resp *resp, void *ud);

/* A fake listening on 127.0.0.1 (a free port), driven by loop. NULL on failure. */
fakeup *fakeup_new(lotad_loop *loop);
/* Closes every connection and the listener (before the loop is freed). NULL is fine. */
void fakeup_free(fakeup *f);
int fakeup_port(const fakeup *f);

/* Serve data[0..len) (not copied) at path ("/bucket/key" as sent) with that ETag value
 * (quotes included). Up to 8 objects; the same path again replaces it. */
void fakeup_object(fakeup *f, const char *path, const void *data, size_t len, const char *etag);
/* Verify requests signed (header form) with this key; region us-east-1, service s3. */
void fakeup_key(fakeup *f, const char *access_key, const char *secret_key);
void fakeup_hook_set(fakeup *f, fakeup_hook hook, void *ud);

/* Every stalled response goes on: then = FAKEUP_NONE sends the rest, FAKEUP_CLOSE or
 * FAKEUP_RESET ends its connection where it stalled. Returns how many were stalled. */
size_t fakeup_release(fakeup *f, fakeup_fault then);

/* The requests received so far, in order of arrival. */
size_t fakeup_nreqs(const fakeup *f);
const fakeup_req *fakeup_req_at(const fakeup *f, size_t i);
/* Requests received with that method (NULL: all). */
size_t fakeup_count(const fakeup *f, const char *method);
/* Connections accepted so far; connections open now. */
int fakeup_conns(const fakeup *f);
int fakeup_conns_open(const fakeup *f);
/* Responses stalled now. */
size_t fakeup_stalled(const fakeup *f);
/* Every byte the fake wrote has been acknowledged by the client's kernel (it waits in
 * the client's receive queue, or was read): no response is being written or stalled,
 * and the send queues of the open connections are empty. */
bool fakeup_flushed(const fakeup *f);

/* The value of a request header (case-insensitive name; empty when absent). */
lota_str fakeup_req_header(const fakeup_req *r, const char *name);

/* The answer the fake gives to req by itself (what a hook receives). */
void fakeup_answer(fakeup *f, const fakeup_req *req, fakeup_resp *resp);

#endif
