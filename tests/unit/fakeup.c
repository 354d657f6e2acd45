/*
 * fakeup.c - the fake S3 upstream of the daemon unit suites (see fakeup.h).
 *
 * A connection reads a request head (lota_http_parse_request), then its body
 * (Content-Length only), records the request, prepares the answer (fakeup_answer), lets
 * the hook change it, and writes it: the head, then the body up to the fault point, the
 * fault, the rest, the bytes "after". Sockets are non-blocking and watched by the loop;
 * EPOLLIN stays armed while a response goes out, so a client that closes its connection
 * is seen at once (peer_closed), also during a stall. Connections are freed through the
 * loop's deferred-free list, since an event for them may still be pending in the batch.
 */
#include "fakeup.h"

#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <lota/http.h>
#include <lota/sigv4.h>

#include "util/list.h"

#define MAX_OBJECTS 8
#define IN_CAP      (64 * 1024)
#define HEAD_OUT    4096
#define MAX_HDRS    128

typedef struct fobj {
	char path[1024];
	const char *data;
	size_t len;
	char etag[128];
} fobj;

enum { ST_HEAD = 0, ST_BODY, ST_WRITE };

typedef struct fconn {
	fakeup *f;
	lotad_io io;
	lotad_list node;
	int id;
	int st;
	size_t req; /* index in f->reqs of the request being answered */
	uint64_t body_left;
	fakeup_resp resp;
	bool send_body, fault_done, stalled;
	lotad_timer stall;
	char head[HEAD_OUT];
	size_t head_len, head_off;
	uint64_t body_off;
	size_t after_off;
	size_t in_len;
	char in[IN_CAP];
} fconn;

struct fakeup {
	lotad_loop *loop;
	int port;
	lotad_io lio;
	lotad_list conns;
	int accepted, open;
	fobj objs[MAX_OBJECTS];
	size_t nobjs;
	char ak[128], sk[128];
	fakeup_hook hook;
	void *hook_ud;
	fakeup_req *reqs;
	size_t nreqs, reqs_cap;
};

static const char xml_no_such_key[] =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>NoSuchKey</Code><Message>The "
    "specified key does not exist.</Message><RequestId>fakeup</RequestId></Error>";
static const char xml_precondition[] =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>PreconditionFailed</Code>"
    "<Message>At least one of the pre-conditions you specified did not hold</Message>"
    "<RequestId>fakeup</RequestId></Error>";
static const char xml_bad_range[] =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>InvalidRange</Code><Message>The "
    "requested range is not satisfiable</Message><RequestId>fakeup</RequestId></Error>";
static const char xml_bad_sig[] =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>SignatureDoesNotMatch</Code>"
    "<Message>The request signature we calculated does not match the signature you "
    "provided.</Message><RequestId>fakeup</RequestId></Error>";

static void conn_write(fconn *c);
static void conn_process(fconn *c);

/* ---------------------------------------------------------------- helpers --- */

static const char *reason(int status)
{
	switch (status) {
	case 200:
		return "OK";
	case 204:
		return "No Content";
	case 206:
		return "Partial Content";
	case 304:
		return "Not Modified";
	case 400:
		return "Bad Request";
	case 403:
		return "Forbidden";
	case 404:
		return "Not Found";
	case 412:
		return "Precondition Failed";
	case 416:
		return "Requested Range Not Satisfiable";
	case 500:
		return "Internal Server Error";
	case 503:
		return "Service Unavailable";
	default:
		return "Status";
	}
}

static fakeup_req *cur_req(fconn *c)
{
	return &c->f->reqs[c->req];
}

/* Parse a recorded request head again (its views point into r->head). */
static bool req_parse(const fakeup_req *r, lota_http_request *req, lota_http_header *hs)
{
	return lota_http_parse_request(r->head, r->head_len, req, hs, MAX_HDRS, NULL) > 0;
}

lota_str fakeup_req_header(const fakeup_req *r, const char *name)
{
	lota_http_request req;
	lota_http_header hs[MAX_HDRS];
	if (!req_parse(r, &req, hs))
		return (lota_str){"", 0};
	const lota_http_header *h = lota_http_find_header(hs, req.num_headers, name, strlen(name));
	return h ? h->value : (lota_str){"", 0};
}

static void set_error(fakeup_resp *resp, int status, const char *xml)
{
	resp->status = status;
	resp->body = xml;
	resp->body_len = resp->length = strlen(xml);
	snprintf(resp->extra, sizeof(resp->extra), "Content-Type: application/xml\r\n");
}

/* The SigV4 verdict on a request: 1 verified, 0 not signed (or no key set), -1 bad. */
static int check_sig(const fakeup *f, const lota_http_request *req)
{
	if (!f->ak[0] ||
	    !lota_http_find_header(req->headers, req->num_headers, "authorization", 13))
		return 0;
	lota_sigv4_request sr = {req->method,  req->path,        req->query,
	                         req->headers, req->num_headers, {NULL, 0}};
	lota_sigv4_auth a;
	if (lota_sigv4_parse(&sr, &a) < 0 || a.form != LOTA_SIGV4_FORM_HEADER ||
	    !lota_str_eq_nocase(a.access_key, f->ak, strlen(f->ak)))
		return -1;
	lota_str sk = {f->sk, strlen(f->sk)};
	return lota_sigv4_verify(&sr, &a, sk, (int64_t)time(NULL), 900, 0) == 0 ? 1 : -1;
}

void fakeup_answer(fakeup *f, const fakeup_req *r, fakeup_resp *resp)
{
	lota_http_request req;
	lota_http_header hs[MAX_HDRS];
	memset(resp, 0, sizeof(*resp));
	if (!req_parse(r, &req, hs)) {
		resp->status = 400;
		return;
	}
	if (r->sig < 0) {
		set_error(resp, 403, xml_bad_sig);
		return;
	}
	if (!strcmp(r->method, "PUT") || !strcmp(r->method, "POST") ||
	    !strcmp(r->method, "DELETE")) {
		resp->status = !strcmp(r->method, "DELETE") ? 204 : 200;
		snprintf(resp->etag, sizeof(resp->etag), "\"fakeup-put\"");
		return;
	}
	const fobj *o = NULL;
	for (size_t i = 0; i < f->nobjs && !o; i++)
		if (req.path.len == strlen(f->objs[i].path) &&
		    memcmp(req.path.ptr, f->objs[i].path, req.path.len) == 0)
			o = &f->objs[i];
	if (!o) {
		set_error(resp, 404, xml_no_such_key);
		return;
	}
	lota_str etag = {o->etag, strlen(o->etag)};
	const lota_http_header *im = lota_http_find_header(hs, req.num_headers, "if-match", 8);
	const lota_http_header *inm =
	    lota_http_find_header(hs, req.num_headers, "if-none-match", 13);
	const lota_http_header *rh = lota_http_find_header(hs, req.num_headers, "range", 5);
	if (im && !lota_str_eq_nocase(im->value, "*", 1) &&
	    !(im->value.len == etag.len && memcmp(im->value.ptr, etag.ptr, etag.len) == 0)) {
		set_error(resp, 412, xml_precondition);
		return;
	}
	snprintf(resp->extra, sizeof(resp->extra),
	         "Last-Modified: Tue, 01 Jul 2025 10:00:00 GMT\r\n"
	         "Content-Type: application/octet-stream\r\n"
	         "x-amz-request-id: fakeup-%zu\r\n",
	         f->nreqs);
	snprintf(resp->etag, sizeof(resp->etag), "%s", o->etag);
	if (inm &&
	    (lota_str_eq_nocase(inm->value, "*", 1) ||
	     (inm->value.len == etag.len && memcmp(inm->value.ptr, etag.ptr, etag.len) == 0))) {
		resp->status = 304;
		return;
	}
	uint64_t first = 0, last = o->len ? o->len - 1 : 0;
	lota_range rg;
	resp->status = 200;
	if (rh && lota_range_parse(rh->value.ptr, rh->value.len, &rg) == 0) {
		if (lota_range_resolve(&rg, o->len, &first, &last) < 0) {
			set_error(resp, 416, xml_bad_range);
			snprintf(resp->content_range, sizeof(resp->content_range), "bytes */%zu",
			         o->len);
			return;
		}
		resp->status = 206;
		snprintf(resp->content_range, sizeof(resp->content_range),
		         "bytes %" PRIu64 "-%" PRIu64 "/%zu", first, last, o->len);
	}
	resp->body = o->data + first;
	resp->body_len = resp->length = o->len ? last - first + 1 : 0;
}

/* ------------------------------------------------------------ connections --- */

static void conn_set_io(fconn *c)
{
	uint32_t ev = 0;
	if (c->in_len < IN_CAP)
		ev |= EPOLLIN | EPOLLRDHUP;
	if (c->st == ST_WRITE && !c->stalled)
		ev |= EPOLLOUT;
	(void)lotad_io_set(c->f->loop, &c->io, ev ? ev : EPOLLERR);
}

/* End the connection (reset: with a RST). peer: it was the client that closed it. */
static void conn_end(fconn *c, bool reset, bool peer)
{
	fakeup *f = c->f;
	if (c->st != ST_HEAD && peer && !cur_req(c)->done)
		cur_req(c)->peer_closed = true; /* mid-upload or mid-response */
	if (reset) {
		struct linger lg = {.l_onoff = 1, .l_linger = 0};
		(void)setsockopt(c->io.fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	}
	lotad_timer_stop(f->loop, &c->stall);
	lotad_io_stop(f->loop, &c->io);
	close(c->io.fd);
	c->io.fd = -1;
	lotad_list_remove(&c->node);
	f->open--;
	lotad_loop_defer_free(f->loop, c);
}

static void stall_cb(lotad_timer *t)
{
	fconn *c = t->ud;
	c->stalled = false;
	conn_write(c);
}

/* The fault point is reached. Returns false when the connection is gone or waits. */
static bool apply_fault(fconn *c)
{
	c->fault_done = true;
	switch (c->resp.fault) {
	case FAKEUP_CLOSE:
		conn_end(c, false, false);
		return false;
	case FAKEUP_RESET:
		conn_end(c, true, false);
		return false;
	case FAKEUP_STALL:
		c->stalled = true;
		if (c->resp.stall_ms)
			lotad_timer_start(c->f->loop, &c->stall, c->resp.stall_ms);
		conn_set_io(c);
		return false;
	default:
		return true;
	}
}

/* Send what the socket takes of p[0..n). Returns the count, or -1 when the client is
 * gone (the connection is then ended). */
static ssize_t send_some(fconn *c, const char *p, size_t n)
{
	size_t off = 0;
	while (off < n) {
		ssize_t w = send(c->io.fd, p + off, n - off, MSG_NOSIGNAL);
		if (w > 0) {
			off += (size_t)w;
			continue;
		}
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			cur_req(c)->blocked = true;
			break;
		}
		conn_end(c, false, true);
		return -1;
	}
	return (ssize_t)off;
}

static void conn_write(fconn *c)
{
	fakeup_resp *r = &c->resp;
	fakeup_req *q = cur_req(c);
	if (c->stalled || c->st != ST_WRITE)
		return;
	if (r->fault && r->at < 0 && !c->fault_done && !apply_fault(c))
		return;
	if (c->head_off < c->head_len) {
		if (!q->status)
			q->status = r->status;
		ssize_t n = send_some(c, c->head + c->head_off, c->head_len - c->head_off);
		if (n < 0)
			return;
		c->head_off += (size_t)n;
		if (c->head_off < c->head_len) {
			conn_set_io(c);
			return;
		}
	}
	uint64_t blen = c->send_body ? r->body_len : 0;
	while (c->body_off < blen ||
	       (r->fault && !c->fault_done && c->body_off == (uint64_t)r->at)) {
		if (r->fault && !c->fault_done && r->at >= 0 && c->body_off == (uint64_t)r->at) {
			if (!apply_fault(c))
				return;
			continue;
		}
		uint64_t end = blen;
		if (r->fault && !c->fault_done && r->at >= 0 && (uint64_t)r->at < end)
			end = (uint64_t)r->at;
		size_t chunk = end - c->body_off > 65536 ? 65536 : (size_t)(end - c->body_off);
		ssize_t n = send_some(c, r->body + c->body_off, chunk);
		if (n < 0)
			return;
		c->body_off += (uint64_t)n;
		q->sent = c->body_off;
		if ((size_t)n < chunk) {
			conn_set_io(c);
			return;
		}
	}
	q->done = true;
	if (c->after_off < r->after_len) {
		ssize_t n = send_some(c, r->after + c->after_off, r->after_len - c->after_off);
		if (n < 0)
			return;
		c->after_off += (size_t)n;
		if (c->after_off < r->after_len) {
			conn_set_io(c);
			return;
		}
	}
	if (r->no_length) { /* the body ended with the connection */
		conn_end(c, false, false);
		return;
	}
	c->st = ST_HEAD;
	conn_process(c); /* a request already waiting */
}

/* The request is complete: record the answer and start sending it. */
static void conn_answer(fconn *c)
{
	fakeup *f = c->f;
	fakeup_req *q = cur_req(c);
	fakeup_answer(f, q, &c->resp);
	if (f->hook)
		f->hook(f, q, &c->resp, f->hook_ud);
	fakeup_resp *r = &c->resp;
	bool head = !strcmp(q->method, "HEAD");
	c->send_body = !head && r->status != 204 && r->status != 304;
	int n =
	    snprintf(c->head, sizeof(c->head), "HTTP/1.1 %d %s\r\n", r->status, reason(r->status));
	if (r->etag[0])
		n += snprintf(c->head + n, sizeof(c->head) - (size_t)n, "ETag: %s\r\n", r->etag);
	if (r->content_range[0])
		n += snprintf(c->head + n, sizeof(c->head) - (size_t)n, "Content-Range: %s\r\n",
		              r->content_range);
	if (!r->no_length && r->status != 204 && r->status != 304)
		n += snprintf(c->head + n, sizeof(c->head) - (size_t)n,
		              "Content-Length: %" PRIu64 "\r\n", r->length);
	n += snprintf(c->head + n, sizeof(c->head) - (size_t)n, "%s%s\r\n", r->extra,
	              r->no_length ? "Connection: close\r\n" : "");
	c->head_len = (size_t)n < sizeof(c->head) ? (size_t)n : sizeof(c->head);
	c->head_off = 0;
	c->body_off = 0;
	c->after_off = 0;
	c->fault_done = false;
	c->stalled = false;
	c->st = ST_WRITE;
	conn_write(c);
}

static void conn_process(fconn *c)
{
	fakeup *f = c->f;
	while (c->st != ST_WRITE) {
		if (c->st == ST_HEAD) {
			lota_http_request req;
			lota_http_header hs[MAX_HDRS];
			int rc =
			    lota_http_parse_request(c->in, c->in_len, &req, hs, MAX_HDRS, NULL);
			if (rc == LOTA_E_INCOMPLETE && c->in_len < IN_CAP)
				break;
			if (rc < 0 || (size_t)rc > sizeof(f->reqs[0].head) ||
			    req.body == LOTA_HTTP_BODY_CHUNKED) {
				conn_end(c, false, false); /* nothing lotad sends */
				return;
			}
			if (f->nreqs == f->reqs_cap) {
				size_t ncap = f->reqs_cap ? 2 * f->reqs_cap : 16;
				fakeup_req *nr = realloc(f->reqs, ncap * sizeof(*nr));
				if (!nr) {
					conn_end(c, false, false);
					return;
				}
				f->reqs = nr;
				f->reqs_cap = ncap;
			}
			fakeup_req *q = &f->reqs[f->nreqs];
			memset(q, 0, sizeof(*q));
			q->conn = c->id;
			snprintf(q->method, sizeof(q->method), "%.*s", (int)req.method.len,
			         req.method.ptr);
			snprintf(q->target, sizeof(q->target), "%.*s", (int)req.target.len,
			         req.target.ptr);
			q->sig = check_sig(f, &req);
			memcpy(q->head, c->in, (size_t)rc);
			q->head_len = (size_t)rc;
			c->req = f->nreqs++;
			c->body_left = req.body == LOTA_HTTP_BODY_LENGTH ? req.content_length : 0;
			memmove(c->in, c->in + rc, c->in_len - (size_t)rc);
			c->in_len -= (size_t)rc;
			c->st = ST_BODY;
			continue;
		}
		/* ST_BODY: take what is here of the request body */
		uint64_t take = c->body_left < c->in_len ? c->body_left : c->in_len;
		memmove(c->in, c->in + take, c->in_len - take);
		c->in_len -= (size_t)take;
		c->body_left -= take;
		cur_req(c)->body_len += take;
		if (c->body_left)
			break;
		conn_answer(c);
		return; /* conn_write goes on, or c is gone */
	}
	conn_set_io(c);
}

static void conn_io(lotad_io *io, uint32_t events)
{
	fconn *c = io->ud;
	if (events & (EPOLLIN | EPOLLRDHUP | EPOLLERR | EPOLLHUP)) {
		for (;;) {
			if (c->in_len == IN_CAP)
				break;
			ssize_t n = recv(io->fd, c->in + c->in_len, IN_CAP - c->in_len, 0);
			if (n > 0) {
				c->in_len += (size_t)n;
				continue;
			}
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
				break;
			conn_end(c, false, true); /* EOF or reset: the client is gone */
			return;
		}
		if (c->st != ST_WRITE) {
			conn_process(c);
			return;
		}
	}
	if (events & EPOLLOUT)
		conn_write(c);
	else
		conn_set_io(c);
}

static void listen_io(lotad_io *io, uint32_t events)
{
	fakeup *f = io->ud;
	(void)events;
	for (;;) {
		int fd = accept4(io->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			return;
		fconn *c = calloc(1, sizeof(*c));
		if (!c) {
			close(fd);
			continue;
		}
		c->f = f;
		c->id = ++f->accepted;
		c->io = (lotad_io){.fd = fd, .fn = conn_io, .ud = c};
		lotad_timer_init(&c->stall, stall_cb, c);
		lotad_list_insert_head(&f->conns, &c->node);
		f->open++;
		conn_set_io(c);
	}
}

/* -------------------------------------------------------------------- API --- */

fakeup *fakeup_new(lotad_loop *loop)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t al = sizeof(a);
	fakeup *f = calloc(1, sizeof(*f));
	if (!f)
		return NULL;
	f->loop = loop;
	lotad_list_init(&f->conns);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(fd, 64) < 0 ||
	    getsockname(fd, (struct sockaddr *)&a, &al) < 0)
		goto fail;
	f->port = ntohs(a.sin_port);
	f->lio = (lotad_io){.fd = fd, .fn = listen_io, .ud = f};
	if (lotad_io_set(loop, &f->lio, EPOLLIN) < 0)
		goto fail;
	return f;
fail:
	if (fd >= 0)
		close(fd);
	free(f);
	return NULL;
}

void fakeup_free(fakeup *f)
{
	if (!f)
		return;
	while (!lotad_list_empty(&f->conns))
		conn_end(lotad_list_entry(f->conns.next, fconn, node), false, false);
	lotad_io_stop(f->loop, &f->lio);
	close(f->lio.fd);
	free(f->reqs);
	free(f);
}

int fakeup_port(const fakeup *f)
{
	return f->port;
}

void fakeup_object(fakeup *f, const char *path, const void *data, size_t len, const char *etag)
{
	fobj *o = NULL;
	for (size_t i = 0; i < f->nobjs && !o; i++)
		if (!strcmp(f->objs[i].path, path))
			o = &f->objs[i];
	if (!o) {
		if (f->nobjs == MAX_OBJECTS)
			return;
		o = &f->objs[f->nobjs++];
	}
	snprintf(o->path, sizeof(o->path), "%s", path);
	snprintf(o->etag, sizeof(o->etag), "%s", etag);
	o->data = data;
	o->len = len;
}

void fakeup_key(fakeup *f, const char *access_key, const char *secret_key)
{
	snprintf(f->ak, sizeof(f->ak), "%s", access_key);
	snprintf(f->sk, sizeof(f->sk), "%s", secret_key);
}

void fakeup_hook_set(fakeup *f, fakeup_hook hook, void *ud)
{
	f->hook = hook;
	f->hook_ud = ud;
}

size_t fakeup_release(fakeup *f, fakeup_fault then)
{
	size_t n = 0;
	for (lotad_list *it = f->conns.next, *next; it != &f->conns; it = next) {
		next = it->next;
		fconn *c = lotad_list_entry(it, fconn, node);
		if (!c->stalled)
			continue;
		n++;
		c->stalled = false;
		lotad_timer_stop(f->loop, &c->stall);
		if (then == FAKEUP_CLOSE || then == FAKEUP_RESET)
			conn_end(c, then == FAKEUP_RESET, false);
		else
			conn_write(c);
	}
	return n;
}

size_t fakeup_nreqs(const fakeup *f)
{
	return f->nreqs;
}

const fakeup_req *fakeup_req_at(const fakeup *f, size_t i)
{
	return i < f->nreqs ? &f->reqs[i] : NULL;
}

size_t fakeup_count(const fakeup *f, const char *method)
{
	size_t n = 0;
	for (size_t i = 0; i < f->nreqs; i++)
		n += !method || !strcmp(f->reqs[i].method, method);
	return n;
}

int fakeup_conns(const fakeup *f)
{
	return f->accepted;
}

int fakeup_conns_open(const fakeup *f)
{
	return f->open;
}

size_t fakeup_stalled(const fakeup *f)
{
	size_t n = 0;
	for (const lotad_list *it = f->conns.next; it != &f->conns; it = it->next)
		n += lotad_list_entry(it, fconn, node)->stalled;
	return n;
}

bool fakeup_flushed(const fakeup *f)
{
	for (const lotad_list *it = f->conns.next; it != &f->conns; it = it->next) {
		const fconn *c = lotad_list_entry(it, fconn, node);
		int unacked = 0;
		if (c->st == ST_WRITE || ioctl(c->io.fd, SIOCOUTQ, &unacked) < 0 || unacked > 0)
			return false;
	}
	return true;
}
