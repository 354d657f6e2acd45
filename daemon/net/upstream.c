/*
 * upstream.c - curl multi <-> lotad loop glue (see upstream.h).
 *
 * Each socket curl tells us about gets a small io record (assigned to the socket with
 * curl_multi_assign). Records are freed through the loop's deferred-free list, because
 * curl may drop a socket while an event for it is still pending in the current batch.
 * Finished transfers are collected after every curl_multi_socket_action call.
 *
 * The reuse rule of upstream.h: CURLOPT_FORBID_REUSE is read by curl when a transfer is
 * done (multi_done), so setting it from a header callback or before removing an
 * unfinished transfer closes that transfer's connection. Bytes left on a pooled
 * connection are found by a pre-request callback (CURLOPT_PREREQFUNCTION), which curl
 * calls once a connection is picked, before anything is sent on it; curl tells it the
 * connection's addresses, not its socket, so the sockets of the connections curl kept
 * (learned when a transfer ends: CURLINFO_ACTIVESOCKET) are listed here with their
 * addresses, and dropped from the list when curl closes them (CURLOPT_CLOSESOCKETFUNCTION).
 */
#include "net/upstream.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <lota/log.h>

#include "net/server.h"

/* A plain-http connection that served a transfer, by its addresses. */
typedef struct pooled {
	curl_socket_t fd;
	long local_port, primary_port;
	char primary_ip[64];
} pooled;

struct lotad_upstream {
	lotad_loop *loop;
	CURLM *multi;
	lotad_timer timer;
	int running;
	int in_action; /* depth of curl_multi_socket_action calls */
	pooled *pool;  /* at most one entry per open socket of curl's */
	size_t npool, pool_cap;
};

typedef struct sock_rec {
	lotad_io io;
	lotad_upstream *u;
} sock_rec;

/* ------------------------------------------------------ the reuse rule --- */

void lotad_xfer_status(lotad_xfer *x, int status)
{
	if (status < 200)
		return; /* interim: the final answer decides */
	if (status < 300 || status == 304)
		return; /* the answers to a HEAD that have no body */
	char *method = NULL;
	if (curl_easy_getinfo(x->easy, CURLINFO_EFFECTIVE_METHOD, &method) != CURLE_OK || !method ||
	    strcmp(method, "HEAD") == 0)
		curl_easy_setopt(x->easy, CURLOPT_FORBID_REUSE, 1L);
}

static size_t pool_find(const lotad_upstream *u, curl_socket_t fd)
{
	size_t i = 0;
	while (i < u->npool && u->pool[i].fd != fd)
		i++;
	return i;
}

static void pool_drop(lotad_upstream *u, size_t i)
{
	u->pool[i] = u->pool[--u->npool];
}

/* A transfer ended: list the connection curl kept for it, if any (plain http only). */
static void pool_note(lotad_upstream *u, CURL *e)
{
	curl_socket_t fd = CURL_SOCKET_BAD;
	char *scheme = NULL, *ip = NULL;
	long lport = 0, pport = 0;
	if (curl_easy_getinfo(e, CURLINFO_ACTIVESOCKET, &fd) != CURLE_OK || fd == CURL_SOCKET_BAD)
		return; /* closed, not kept */
	if (curl_easy_getinfo(e, CURLINFO_SCHEME, &scheme) != CURLE_OK || !scheme ||
	    strcasecmp(scheme, "http") != 0)
		return;
	if (curl_easy_getinfo(e, CURLINFO_LOCAL_PORT, &lport) != CURLE_OK ||
	    curl_easy_getinfo(e, CURLINFO_PRIMARY_PORT, &pport) != CURLE_OK ||
	    curl_easy_getinfo(e, CURLINFO_PRIMARY_IP, &ip) != CURLE_OK || !ip ||
	    strlen(ip) >= sizeof(u->pool[0].primary_ip))
		return;
	size_t i = pool_find(u, fd);
	if (i == u->npool) {
		if (u->npool == u->pool_cap) {
			size_t ncap = u->pool_cap ? 2 * u->pool_cap : 64;
			pooled *np = realloc(u->pool, ncap * sizeof(*np));
			if (!np)
				return; /* unchecked, as curl alone would leave it */
			u->pool = np;
			u->pool_cap = ncap;
		}
		u->npool++;
	}
	pooled *p = &u->pool[i];
	p->fd = fd;
	p->local_port = lport;
	p->primary_port = pport;
	strcpy(p->primary_ip, ip);
}

/* curl picked a connection for x and is about to send the request on it. */
static int prereq_fn(void *ud, char *primary_ip, char *local_ip, int primary_port, int local_port)
{
	lotad_xfer *x = ud;
	lotad_upstream *u = x->u;
	(void)local_ip;
	if (!u)
		return CURL_PREREQFUNC_OK;
	for (size_t i = 0; i < u->npool; i++) {
		pooled *p = &u->pool[i];
		if (p->local_port != local_port || p->primary_port != primary_port ||
		    strcmp(p->primary_ip, primary_ip) != 0)
			continue;
		/* A connection that served an earlier transfer: nothing may be waiting on it
		 * before this request is even sent. */
		char b;
		if (recv(p->fd, &b, 1, MSG_PEEK | MSG_DONTWAIT) > 0) {
			lota_log_warn("upstream: %s:%d sent bytes after the end of a response; "
			              "closing that connection",
			              primary_ip, primary_port);
			/* curl's send now fails on a reused connection, so curl closes it and
			 * sends the request again on a new one. */
			(void)shutdown(p->fd, SHUT_RDWR);
			pool_drop(u, i);
		}
		break;
	}
	return CURL_PREREQFUNC_OK;
}

static int closesocket_fn(void *ud, curl_socket_t fd)
{
	lotad_upstream *u = ud;
	size_t i = pool_find(u, fd);
	if (i < u->npool)
		pool_drop(u, i);
	return close(fd);
}

/* ------------------------------------------------------------ the glue --- */

static lotad_upstream_observer g_observer;
static void *g_observer_ud;

void lotad_upstream_set_observer(lotad_upstream_observer fn, void *ud)
{
	g_observer = fn;
	g_observer_ud = ud;
}

static void observe(CURL *e)
{
	char *url = NULL;
	curl_off_t n = 0;
	if (g_observer && curl_easy_getinfo(e, CURLINFO_EFFECTIVE_URL, &url) == CURLE_OK && url &&
	    curl_easy_getinfo(e, CURLINFO_SIZE_DOWNLOAD_T, &n) == CURLE_OK && n > 0)
		g_observer(g_observer_ud, url, (uint64_t)n);
}

static void check_done(lotad_upstream *u)
{
	CURLMsg *msg;
	int left;
	while ((msg = curl_multi_info_read(u->multi, &left))) {
		if (msg->msg != CURLMSG_DONE)
			continue;
		lotad_xfer *x = NULL;
		CURLcode rc = msg->data.result;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&x);
		pool_note(u, msg->easy_handle);
		observe(msg->easy_handle);
		if (x)
			x->u = NULL; /* finished by curl */
		if (x && x->done)
			x->done(x, rc);
	}
}

static void action(lotad_upstream *u, curl_socket_t s, int ev)
{
	u->in_action++;
	CURLMcode mc = curl_multi_socket_action(u->multi, s, ev, &u->running);
	u->in_action--;
	if (mc != CURLM_OK)
		lota_log_error("upstream: curl_multi_socket_action: %s", curl_multi_strerror(mc));
	if (!u->in_action)
		check_done(u);
}

static void sock_cb_io(lotad_io *io, uint32_t events)
{
	sock_rec *r = io->ud;
	int ev = 0;
	if (events & EPOLLIN)
		ev |= CURL_CSELECT_IN;
	if (events & EPOLLOUT)
		ev |= CURL_CSELECT_OUT;
	if (events & (EPOLLERR | EPOLLHUP))
		ev |= CURL_CSELECT_ERR;
	action(r->u, io->fd, ev);
}

static int socket_fn(CURL *easy, curl_socket_t s, int what, void *userp, void *socketp)
{
	lotad_upstream *u = userp;
	sock_rec *r = socketp;
	(void)easy;
	if (what == CURL_POLL_REMOVE) {
		if (r) {
			lotad_io_stop(u->loop, &r->io);
			curl_multi_assign(u->multi, s, NULL);
			lotad_loop_defer_free(u->loop, r);
		}
		return 0;
	}
	if (!r) {
		r = calloc(1, sizeof(*r));
		if (!r)
			return -1;
		r->u = u;
		r->io = (lotad_io){.fd = s, .fn = sock_cb_io, .ud = r};
		curl_multi_assign(u->multi, s, r);
	}
	uint32_t ev = 0;
	if (what == CURL_POLL_IN || what == CURL_POLL_INOUT)
		ev |= EPOLLIN;
	if (what == CURL_POLL_OUT || what == CURL_POLL_INOUT)
		ev |= EPOLLOUT;
	int rc = lotad_io_set(u->loop, &r->io, ev);
	if (rc < 0) {
		lota_log_error("upstream: epoll on socket %d: %s", (int)s, lota_strerror(rc));
		return -1;
	}
	return 0;
}

static void timer_cb(lotad_timer *t)
{
	lotad_upstream *u = t->ud;
	action(u, CURL_SOCKET_TIMEOUT, 0);
}

static int timer_fn(CURLM *multi, long timeout_ms, void *userp)
{
	lotad_upstream *u = userp;
	(void)multi;
	if (timeout_ms < 0)
		lotad_timer_stop(u->loop, &u->timer);
	else
		lotad_timer_start(u->loop, &u->timer, (uint64_t)timeout_ms);
	return 0;
}

lotad_upstream *lotad_upstream_new(lotad_loop *loop)
{
	lotad_upstream *u = calloc(1, sizeof(*u));
	if (!u)
		return NULL;
	u->loop = loop;
	u->multi = curl_multi_init();
	if (!u->multi) {
		free(u);
		return NULL;
	}
	lotad_timer_init(&u->timer, timer_cb, u);
	curl_multi_setopt(u->multi, CURLMOPT_SOCKETFUNCTION, socket_fn);
	curl_multi_setopt(u->multi, CURLMOPT_SOCKETDATA, u);
	curl_multi_setopt(u->multi, CURLMOPT_TIMERFUNCTION, timer_fn);
	curl_multi_setopt(u->multi, CURLMOPT_TIMERDATA, u);
	curl_multi_setopt(u->multi, CURLMOPT_MAXCONNECTS, 256L);
	return u;
}

void lotad_upstream_free(lotad_upstream *u)
{
	if (!u)
		return;
	lotad_timer_stop(u->loop, &u->timer);
	curl_multi_cleanup(u->multi); /* closes the pooled connections: u is still valid */
	free(u->pool);
	free(u);
}

int lotad_upstream_add(lotad_upstream *u, lotad_xfer *x)
{
	CURL *e = x->easy;
	curl_easy_setopt(e, CURLOPT_PRIVATE, x);
	/* A handle may be added again (a retry): the rule applies per transfer. */
	curl_easy_setopt(e, CURLOPT_FORBID_REUSE, 0L);
	curl_easy_setopt(e, CURLOPT_PREREQFUNCTION, prereq_fn);
	curl_easy_setopt(e, CURLOPT_PREREQDATA, x);
	/* A connection keeps the close callback of the transfer that opened it. */
	curl_easy_setopt(e, CURLOPT_CLOSESOCKETFUNCTION, closesocket_fn);
	curl_easy_setopt(e, CURLOPT_CLOSESOCKETDATA, u);
	x->u = u;
	CURLMcode mc = curl_multi_add_handle(u->multi, e);
	if (mc != CURLM_OK) {
		x->u = NULL;
		lota_log_error("upstream: curl_multi_add_handle: %s", curl_multi_strerror(mc));
		return -EIO;
	}
	return 0;
}

void lotad_upstream_kick(lotad_upstream *u)
{
	if (!u->in_action)
		action(u, CURL_SOCKET_TIMEOUT, 0);
}

void lotad_upstream_remove(lotad_upstream *u, lotad_xfer *x)
{
	if (!x || !x->easy)
		return;
	if (x->u) {
		/* Stopped before curl finished it: the connection holds what is left of the
		 * exchange, so it is closed, never pooled. */
		curl_easy_setopt(x->easy, CURLOPT_FORBID_REUSE, 1L);
		x->u = NULL;
	}
	curl_multi_remove_handle(u->multi, x->easy);
}

/* ------------------------------------------------------- header lists --- */

static int append(struct curl_slist **l, const char *line)
{
	struct curl_slist *nl = curl_slist_append(*l, line);
	if (!nl)
		return -ENOMEM;
	*l = nl;
	return 0;
}

int lotad_curl_headers(struct curl_slist **l, const lota_request *r)
{
	size_t n = lota_request_header_count(r);
	int rc = 0;
	for (size_t i = 0; rc == 0 && i < n; i++) {
		lota_http_header h;
		if (lota_request_header_get(r, i, &h, NULL) < 0)
			return -EINVAL;
		if (lota_str_eq_nocase(h.name, "content-length", 14))
			continue;
		rc = append(l, lota_request_header_line(r, i));
	}
	if (rc == 0)
		rc = append(l, "Expect:");
	if (rc == 0 && lota_request_header_find(r, LOTA_STR_LIT("Accept")) < 0)
		rc = append(l, "Accept:");
	return rc;
}
