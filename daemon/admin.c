/*
 * admin.c - admin HTTP listener (see admin.h).
 *
 * Requests are tiny, so each connection reads at most ADMIN_BUF bytes of head, answers
 * once and closes. Connections are tracked in a list so that freeing the listener
 * closes them; their memory goes through the loop's deferred-free list.
 */
#include "admin.h"

#include <errno.h>
#include <netdb.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <lota/http.h>
#include <lota/log.h>

#include "metrics.h"
#include "util/list.h"

#define ADMIN_BUF       8192
#define ADMIN_MAX_CONNS 64

typedef struct admin_conn {
	lotad_io io;
	struct lotad_admin *a;
	lotad_list node; /* in the listener's conns */
	char *resp;
	size_t resp_len, resp_off;
	size_t in_len;
	char in[ADMIN_BUF];
} admin_conn;

#define ADMIN_MAX_ROUTES 4

struct lotad_admin {
	struct {
		const char *path, *ctype;
		lotad_admin_render_fn render;
		void *ud;
	} routes[ADMIN_MAX_ROUTES];
	int nroutes;
	lotad_loop *loop;
	lotad_io lio;
	lotad_list conns;
	int nconns;
	bool draining;
};

static void aconn_close(admin_conn *ac)
{
	lotad_admin *a = ac->a;
	lotad_io_stop(a->loop, &ac->io);
	close(ac->io.fd);
	lotad_list_remove(&ac->node);
	a->nconns--;
	free(ac->resp);
	ac->resp = NULL;
	lotad_loop_defer_free(a->loop, ac);
}

static void set_resp(admin_conn *ac, int status, const char *reason, const char *ctype,
                     const char *body, size_t blen)
{
	char head[256];
	int hl = snprintf(head, sizeof(head),
	                  "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
	                  "Connection: close\r\n\r\n",
	                  status, reason, ctype, blen);
	ac->resp = malloc((size_t)hl + blen);
	if (!ac->resp)
		return;
	memcpy(ac->resp, head, (size_t)hl);
	memcpy(ac->resp + hl, body, blen);
	ac->resp_len = (size_t)hl + blen;
	ac->resp_off = 0;
}

static void answer(admin_conn *ac, const lota_http_request *req)
{
	bool get = lota_str_eq_nocase(req->method, "GET", 3);
	bool head = lota_str_eq_nocase(req->method, "HEAD", 4);
	if (!get && !head) {
		set_resp(ac, 405, "Method Not Allowed", "text/plain", "method not allowed\n", 19);
		return;
	}
	if (req->path.len == 8 && memcmp(req->path.ptr, "/healthz", 8) == 0) {
		if (ac->a->draining)
			set_resp(ac, 503, "Service Unavailable", "text/plain", "shutting down\n",
			         14);
		else
			set_resp(ac, 200, "OK", "text/plain", "ok\n", 3);
	} else if (req->path.len == 8 && memcmp(req->path.ptr, "/metrics", 8) == 0) {
		size_t len = 0;
		char *m = lotad_metrics_render(&len);
		if (!m) {
			set_resp(ac, 500, "Internal Server Error", "text/plain", "no memory\n", 10);
			return;
		}
		set_resp(ac, 200, "OK", "text/plain; version=0.0.4", m, len);
		free(m);
	} else {
		int i = 0;
		while (i < ac->a->nroutes &&
		       !(req->path.len == strlen(ac->a->routes[i].path) &&
		         memcmp(req->path.ptr, ac->a->routes[i].path, req->path.len) == 0))
			i++;
		size_t len = 0;
		char *body =
		    i < ac->a->nroutes ? ac->a->routes[i].render(ac->a->routes[i].ud, &len) : NULL;
		if (body)
			set_resp(ac, 200, "OK", ac->a->routes[i].ctype, body, len);
		else if (i < ac->a->nroutes)
			set_resp(ac, 500, "Internal Server Error", "text/plain", "no memory\n", 10);
		else
			set_resp(ac, 404, "Not Found", "text/plain", "not found\n", 10);
		free(body);
	}
	if (head && ac->resp) {
		/* keep the head only */
		char *end = memmem(ac->resp, ac->resp_len, "\r\n\r\n", 4);
		if (end)
			ac->resp_len = (size_t)(end + 4 - ac->resp);
	}
}

static void aconn_io(lotad_io *io, uint32_t events)
{
	admin_conn *ac = io->ud;
	if (events & (EPOLLERR | EPOLLHUP)) {
		aconn_close(ac);
		return;
	}
	if (!ac->resp) {
		ssize_t n = recv(io->fd, ac->in + ac->in_len, sizeof(ac->in) - ac->in_len, 0);
		if (n <= 0) {
			if (n < 0 && (errno == EAGAIN || errno == EINTR))
				return;
			aconn_close(ac);
			return;
		}
		ac->in_len += (size_t)n;
		lota_http_header hdrs[64];
		lota_http_request req;
		int rc = lota_http_parse_request(ac->in, ac->in_len, &req, hdrs, 64, NULL);
		if (rc == LOTA_E_INCOMPLETE && ac->in_len < sizeof(ac->in))
			return;
		if (rc < 0)
			set_resp(ac, 400, "Bad Request", "text/plain", "bad request\n", 12);
		else
			answer(ac, &req);
		if (!ac->resp) {
			aconn_close(ac);
			return;
		}
		(void)lotad_io_set(ac->a->loop, &ac->io, EPOLLOUT);
	}
	while (ac->resp_off < ac->resp_len) {
		ssize_t n = send(io->fd, ac->resp + ac->resp_off, ac->resp_len - ac->resp_off,
		                 MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				return;
			break;
		}
		ac->resp_off += (size_t)n;
	}
	aconn_close(ac);
}

static void listen_cb(lotad_io *io, uint32_t events)
{
	lotad_admin *a = io->ud;
	(void)events;
	for (;;) {
		int fd = accept4(io->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			return;
		admin_conn *ac = a->nconns < ADMIN_MAX_CONNS ? calloc(1, sizeof(*ac)) : NULL;
		if (!ac) {
			close(fd);
			continue;
		}
		ac->a = a;
		ac->io = (lotad_io){.fd = fd, .fn = aconn_io, .ud = ac};
		lotad_list_insert_head(&a->conns, &ac->node);
		a->nconns++;
		if (lotad_io_set(a->loop, &ac->io, EPOLLIN) < 0)
			aconn_close(ac);
	}
}

lotad_admin *lotad_admin_new(lotad_loop *loop, const char *host, int port)
{
	struct addrinfo hints = {.ai_family = AF_UNSPEC,
	                         .ai_socktype = SOCK_STREAM,
	                         .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
	struct addrinfo *res = NULL;
	char ps[16];
	int one = 1, fd = -1;
	snprintf(ps, sizeof(ps), "%d", port);
	int rc = getaddrinfo(host && host[0] ? host : NULL, ps, &hints, &res);
	if (rc) {
		lota_log_error("admin: cannot resolve \"%s\": %s", host, gai_strerror(rc));
		return NULL;
	}
	fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(fd, res->ai_addr, res->ai_addrlen) < 0 || listen(fd, 64) < 0) {
		lota_log_error("admin: listen %s:%d: %s", host, port, strerror(errno));
		if (fd >= 0)
			close(fd);
		freeaddrinfo(res);
		return NULL;
	}
	freeaddrinfo(res);
	lotad_admin *a = calloc(1, sizeof(*a));
	if (!a) {
		close(fd);
		return NULL;
	}
	a->loop = loop;
	lotad_list_init(&a->conns);
	a->lio = (lotad_io){.fd = fd, .fn = listen_cb, .ud = a};
	if (lotad_io_set(loop, &a->lio, EPOLLIN) < 0) {
		close(fd);
		free(a);
		return NULL;
	}
	return a;
}

void lotad_admin_add_route(lotad_admin *a, const char *path, const char *ctype,
                           lotad_admin_render_fn render, void *ud)
{
	if (!a || a->nroutes == ADMIN_MAX_ROUTES)
		return;
	a->routes[a->nroutes].path = path;
	a->routes[a->nroutes].ctype = ctype;
	a->routes[a->nroutes].render = render;
	a->routes[a->nroutes].ud = ud;
	a->nroutes++;
}

void lotad_admin_set_draining(lotad_admin *a)
{
	if (a)
		a->draining = true;
}

void lotad_admin_free(lotad_admin *a)
{
	if (!a)
		return;
	while (!lotad_list_empty(&a->conns))
		aconn_close(lotad_list_entry(a->conns.next, admin_conn, node));
	lotad_io_stop(a->loop, &a->lio);
	close(a->lio.fd);
	free(a);
}
