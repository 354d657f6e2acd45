/*
 * upstream.c - curl multi <-> lotad loop glue (see upstream.h).
 *
 * Each socket curl tells us about gets a small io record (assigned to the socket with
 * curl_multi_assign). Records are freed through the loop's deferred-free list, because
 * curl may drop a socket while an event for it is still pending in the current batch.
 * Finished transfers are collected after every curl_multi_socket_action call.
 */
#include "upstream.h"

#include <errno.h>
#include <stdlib.h>

#include <lota/log.h>

struct lotad_upstream {
	lotad_loop *loop;
	CURLM *multi;
	lotad_timer timer;
	int running;
	int in_action; /* depth of curl_multi_socket_action calls */
};

typedef struct sock_rec {
	lotad_io io;
	lotad_upstream *u;
} sock_rec;

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
	curl_multi_cleanup(u->multi);
	free(u);
}

int lotad_upstream_add(lotad_upstream *u, lotad_xfer *x)
{
	curl_easy_setopt(x->easy, CURLOPT_PRIVATE, x);
	CURLMcode mc = curl_multi_add_handle(u->multi, x->easy);
	if (mc != CURLM_OK) {
		lota_log_error("upstream: curl_multi_add_handle: %s", curl_multi_strerror(mc));
		return -EIO;
	}
	return 0;
}

void lotad_upstream_remove(lotad_upstream *u, lotad_xfer *x)
{
	if (x && x->easy)
		curl_multi_remove_handle(u->multi, x->easy);
}
