/*
 * probe.c - the prober thread: every LOTAD_CLUSTER_PROBE_MS it asks each other member
 * for GET /peer/health (signed like every peer request) and records the answer (up, with
 * the member's cache figures, which are its placement weight) or a miss; with
 * --peers-dns it re-resolves the name every refresh period first, adding the new
 * addresses as members (down until they answer) and dropping the ones that left.
 * The answer also names the member's admin address (X-Lota-Peer-Admin, HOST:PORT), checked
 * here: a bad one is left out (GET /cluster then shows none), never copied.
 *
 * One member at a time, each bounded by min(peer_timeout, the probe period), so one dead
 * member slows a round but never stops it; a member that refuses connections costs
 * nothing.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <lota/log.h>

#include "cluster/cluster-internal.h"
#include "util/clock.h"

/* The admin address of a health answer into a (a->admin "" when there is none; a bad
 * one is left out, a->admin_bad set, and its start kept escaped for the log). */
static void read_admin(const lota_http_response *r, lotad_probe_answer *a)
{
	const lota_http_header *h = lota_http_find_header(
	    r->headers, r->num_headers, LOTAD_PEER_H_ADMIN, strlen(LOTAD_PEER_H_ADMIN));
	a->admin[0] = 0;
	if (!h || lotad_cluster_admin_parse(h->value, a->admin, sizeof(a->admin)) == 0)
		return;
	a->admin_bad = true;
	size_t o = 0;
	for (size_t i = 0; i < h->value.len && o + 5 < sizeof(a->admin_raw); i++) {
		unsigned char ch = (unsigned char)h->value.ptr[i];
		o += (size_t)snprintf(
		    a->admin_raw + o, sizeof(a->admin_raw) - o,
		    ch > 0x20 && ch < 0x7f && ch != '\\' && ch != '"' ? "%c" : "\\x%02x", ch);
	}
	a->admin_raw[o] = 0;
}

/* Ask one member for its health. Returns 0 and what it answered, or a negative code. */
static int probe_one(lotad_cluster *c, const member *m, lotad_probe_answer *a)
{
	uint64_t t =
	    c->cfg.timeout_ms < LOTAD_CLUSTER_PROBE_MS ? c->cfg.timeout_ms : LOTAD_CLUSTER_PROBE_MS;
	char head[2048], host[300];
	snprintf(host, sizeof(host), strchr(m->host, ':') ? "[%s]:%d" : "%s:%d", m->host, m->port);
	lota_peer_fields f = {.method = LOTA_STR_LIT("GET"),
	                      .target = LOTA_STR_LIT("/peer/health"),
	                      .node = {c->cfg.node_id, strlen(c->cfg.node_id)},
	                      .time_s = time(NULL)};
	int n = lota_peer_format(c->auth, &f, host, head, sizeof(head));
	if (n < 0)
		return n;
	lotad_peer_wire w;
	int rc = lotad_peer_connect(c, m->host, m->port, t, &w);
	if (rc < 0)
		return rc;
	rc = lotad_peer_send_all(&w, head, (size_t)n);
	if (rc == 0) {
		size_t have = 0;
		lota_http_response r;
		lota_http_header h[32];
		rc = lotad_peer_read_response(&w, head, sizeof(head), &have, &r, h, 32);
		if (rc > 0) {
			rc = r.status == 200 ? 0 : -EPROTO;
			a->capacity_bytes = lotad_peer_header_u64(r.headers, r.num_headers,
			                                          "X-Lota-Peer-Capacity", 0);
			a->used_bytes =
			    lotad_peer_header_u64(r.headers, r.num_headers, "X-Lota-Peer-Used", 0);
			read_admin(&r, a);
			const lota_http_header *id = lota_http_find_header(
			    r.headers, r.num_headers, LOTA_PEER_H_NODE, strlen(LOTA_PEER_H_NODE));
			/* a static member must be the node it is named after (a DNS member's id
			 * is its address, whatever its own --node-id) */
			if (rc == 0 && !c->cfg.dns_name[0] &&
			    (!id || id->value.len != strlen(m->id) ||
			     memcmp(id->value.ptr, m->id, id->value.len) != 0)) {
				lota_log_warn("cluster: %s answers as another node id", host);
				rc = -EPROTO;
			}
		}
	}
	lotad_peer_close(&w);
	return rc;
}

/* Re-resolve the DNS name and update the member table. */
static void refresh_dns(lotad_cluster *c)
{
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
	struct addrinfo *ai = NULL;
	int rc = getaddrinfo(c->cfg.dns_name, NULL, &hints, &ai);
	if (rc) {
		lota_log_warn("cluster: cannot resolve %s: %s (members kept)", c->cfg.dns_name,
		              gai_strerror(rc));
		return;
	}
	pthread_mutex_lock(&c->lock);
	for (size_t i = 0; i < c->n; i++)
		c->members[i].seen = c->members[i].self;
	for (struct addrinfo *p = ai; p; p = p->ai_next) {
		char addr[INET6_ADDRSTRLEN];
		const void *a = p->ai_family == AF_INET
		                    ? (const void *)&((struct sockaddr_in *)p->ai_addr)->sin_addr
		                    : (const void *)&((struct sockaddr_in6 *)p->ai_addr)->sin6_addr;
		if (!inet_ntop(p->ai_family, a, addr, sizeof(addr)))
			continue;
		size_t i = 0;
		while (i < c->n && strcmp(c->members[i].id, addr) != 0)
			i++;
		if (i < c->n) {
			c->members[i].seen = true;
			continue;
		}
		if (c->n == LOTAD_CLUSTER_MAX_MEMBERS)
			break;
		member *m = &c->members[c->n++];
		memset(m, 0, sizeof(*m));
		snprintf(m->id, sizeof(m->id), "%s", addr);
		snprintf(m->host, sizeof(m->host), "%s", addr);
		m->port = c->cfg.dns_port;
		m->self = strcmp(addr, c->cfg.node_id) == 0;
		m->up = m->self;
		m->seen = true;
		m->since_s = time(NULL);
		if (m->self)
			lotad_cluster__own_figures(c, &m->used_bytes, &m->capacity_bytes);
		lota_log_info("cluster: member %s joins (from %s)", addr, c->cfg.dns_name);
	}
	size_t o = 0;
	for (size_t i = 0; i < c->n; i++) {
		if (c->members[i].seen)
			c->members[o++] = c->members[i];
		else
			lota_log_info("cluster: member %s leaves (not in %s any more)",
			              c->members[i].id, c->cfg.dns_name);
	}
	c->n = o;
	lotad_cluster__replace_placement(c);
	pthread_mutex_unlock(&c->lock);
	freeaddrinfo(ai);
}

void *lotad_cluster__probe_main(void *arg)
{
	lotad_cluster *c = arg;
	uint64_t next_dns = 0;
	while (!atomic_load(&c->stopping)) {
		uint64_t start = lotad_mono_ms();
		if (c->cfg.dns_name[0] && start >= next_dns) {
			refresh_dns(c);
			next_dns = start + c->cfg.refresh_ms;
		}
		/* this node's own figures (its weight for the others is in its health answer) */
		pthread_mutex_lock(&c->lock);
		for (size_t i = 0; i < c->n; i++)
			if (c->members[i].self) {
				uint64_t used, cap;
				lotad_cluster__own_figures(c, &used, &cap);
				c->members[i].used_bytes = used;
				if (cap != c->members[i].capacity_bytes) {
					c->members[i].capacity_bytes = cap;
					lotad_cluster__replace_placement(c);
				}
			}
		pthread_mutex_unlock(&c->lock);
		for (size_t i = 0;; i++) {
			member m;
			pthread_mutex_lock(&c->lock);
			bool more = i < c->n;
			if (more)
				m = c->members[i];
			pthread_mutex_unlock(&c->lock);
			if (!more || atomic_load(&c->stopping))
				break;
			if (m.self)
				continue;
			lotad_probe_answer a = {0};
			int rc = probe_one(c, &m, &a);
			if (rc < 0)
				lota_log_debug("cluster: probe of %s failed: %s", m.id,
				               lota_strerror(rc));
			lotad_cluster__probe_result(c, m.id, rc == 0 ? &a : NULL);
		}
		uint64_t spent = lotad_mono_ms() - start;
		if (spent < LOTAD_CLUSTER_PROBE_MS) {
			struct pollfd p = {.fd = c->stop_fd, .events = POLLIN};
			if (poll(&p, 1, (int)(LOTAD_CLUSTER_PROBE_MS - spent)) < 0 &&
			    errno != EINTR)
				break;
		}
	}
	return NULL;
}
