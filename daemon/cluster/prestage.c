/*
 * prestage.c - fills ahead of the reader, where the extents belong: the front node's own
 * extents through the cluster fill (next candidate first, then the upstream), and the
 * extents of other members by asking their owner for the first byte with a fill ticket
 * (the owner then fills the whole extent, single-flight, and the reader that reaches it
 * later finds it warm or growing). One thread per call walks the extents in order, so a
 * large object costs one thread and one fill of this node at a time, not one per extent.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <lota/extent.h>
#include <lota/log.h>

#include "cluster/cluster-internal.h"

typedef struct pjob {
	lotad_cluster *c;
	uint64_t first, last, size;
	char *ticket;
	lota_str bucket, key, etag, vid; /* views into buf */
	char buf[];
} pjob;

unsigned lotad_cluster_readahead(const lotad_cluster *c)
{
	return c ? c->cfg.readahead : 0;
}

int lotad_cluster_fill_local(lotad_cluster *c, const lota_cache_key *k, lota_str ticket,
                             lotad_store_reader **out)
{
	uint8_t key[LOTA_CACHE_KEY_MAX_LEN];
	if (!c->store || !ticket.len)
		return -ENOENT;
	int n = lota_cache_key_canonical(k, key, sizeof(key));
	if (n < 0)
		return n;
	lota_hash128 h = lota_cache_key_hash_canonical(key, (size_t)n);
	int rc = lotad_store_open(c->store, h, key, (size_t)n, out);
	if (rc != -ENOENT)
		return rc;
	return lotad_cluster__fill(c, k, key, (size_t)n, ticket,
	                           (lota_str){c->cfg.node_id, strlen(c->cfg.node_id)}, out);
}

/* Ask owner o for the first byte of the extent (hex), with the ticket: it starts the
 * fill of the whole extent when it does not hold it. */
static void poke(lotad_cluster *c, const lotad_peer_owner *o, const char *hex, lota_str ticket)
{
	char *head = malloc(LOTA_PEER_HEAD_MAX), host[300];
	lota_http_response r;
	lota_http_header h[32];
	size_t have;
	snprintf(host, sizeof(host), strchr(o->host, ':') ? "[%s]:%d" : "%s:%d", o->host, o->port);
	lota_peer_fields f = {.method = LOTA_STR_LIT("GET"),
	                      .target = LOTA_STR_LIT("/peer/extent"),
	                      .node = {c->cfg.node_id, strlen(c->cfg.node_id)},
	                      .time_s = time(NULL),
	                      .extent = {hex, strlen(hex)},
	                      .range = LOTA_STR_LIT("bytes=0-0"),
	                      .ticket = ticket};
	int n = head ? lota_peer_format(c->auth, &f, host, head, LOTA_PEER_HEAD_MAX) : -ENOMEM;
	lotad_peer_wire w = {.fd = -1};
	int rc = n > 0 ? lotad_peer_connect(c, o->host, o->port, c->cfg.timeout_ms, &w) : -1;
	if (rc == 0)
		rc = lotad_peer_send_all(&w, head, (size_t)n);
	if (rc == 0)
		rc = lotad_peer_read_response(&w, head, LOTA_PEER_HEAD_MAX, &have, &r, h, 32);
	lotad_cluster_count_out(c, rc > 0 && r.status == 206 ? RES_OK : RES_ERROR, 0);
	lotad_peer_close(&w);
	free(head);
}

static void *prestage_main(void *arg)
{
	pjob *j = arg;
	lotad_cluster *c = j->c;
	lota_object_id obj = {j->bucket, j->key, j->etag, j->vid, j->size};
	lota_str ticket = {j->ticket, strlen(j->ticket)};
	uint8_t key[LOTA_CACHE_KEY_MAX_LEN];
	char hex[LOTA_PEER_EXTENT_MAX + 1];
	for (uint64_t k = j->first; k <= j->last && !atomic_load(&c->stopping); k++) {
		int n = lota_extent_key(&obj, c->cfg.extent_size, k, key, sizeof(key));
		if (n < 0 || 2 * (size_t)n > LOTA_PEER_EXTENT_MAX)
			break;
		lota_hash128 h = lota_cache_key_hash_canonical(key, (size_t)n);
		if (c->store && lotad_store_lookup(c->store, h) >= 0)
			continue; /* held here (or being filled) */
		lotad_peer_owner o;
		if (lotad_cluster_owner(c, h, &o) == 1) {
			for (int i = 0; i < n; i++)
				snprintf(hex + 2 * i, 3, "%02x", key[i]);
			poke(c, &o, hex, ticket);
			continue;
		}
		lota_cache_key ck = {j->bucket, j->key, j->etag, j->vid, j->size, k};
		lotad_store_reader *r = NULL;
		if (lotad_cluster_fill_local(c, &ck, ticket, &r) == 0) {
			/* one fill of ours at a time: wait for this one (bounded by its stalls) */
			uint64_t len = lotad_reader_length(r);
			int64_t got;
			while ((got = lotad_reader_readable(r)) >= 0 && (uint64_t)got < len &&
			       !atomic_load(&c->stopping))
				if (lotad_reader_wait(r, (uint64_t)got, (int)c->cfg.timeout_ms) < 0)
					break;
			lotad_reader_close(r);
		}
	}
	free(j->ticket);
	free(j);
	pthread_mutex_lock(&c->conns_lock);
	atomic_fetch_sub(&c->conns, 1);
	pthread_cond_broadcast(&c->conns_cv);
	pthread_mutex_unlock(&c->conns_lock);
	return NULL;
}

int lotad_cluster_prestage(lotad_cluster *c, const struct lota_object_id *obj, uint64_t first,
                           uint64_t last, lota_str ticket)
{
	if (!c || first > last || !ticket.len)
		return -EINVAL;
	if (atomic_load(&c->conns) >= LOTAD_CLUSTER_MAX_CONNS)
		return -EBUSY;
	size_t len = obj->bucket.len + obj->key.len + obj->etag.len + obj->version_id.len;
	pjob *j = calloc(1, sizeof(*j) + len);
	if (!j || !(j->ticket = strndup(ticket.ptr, ticket.len))) {
		free(j);
		return -ENOMEM;
	}
	char *p = j->buf;
	lota_str *dst[] = {&j->bucket, &j->key, &j->etag, &j->vid};
	const lota_str src[] = {obj->bucket, obj->key, obj->etag, obj->version_id};
	for (int i = 0; i < 4; i++) {
		if (src[i].len)
			memcpy(p, src[i].ptr, src[i].len);
		*dst[i] = (lota_str){p, src[i].len};
		p += src[i].len;
	}
	j->c = c;
	j->first = first;
	j->last = last;
	j->size = obj->size_bytes;
	atomic_fetch_add(&c->conns, 1);
	pthread_t t;
	pthread_attr_t at;
	pthread_attr_init(&at);
	pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
	int rc = -pthread_create(&t, &at, prestage_main, j);
	pthread_attr_destroy(&at);
	if (rc) {
		pthread_mutex_lock(&c->conns_lock);
		atomic_fetch_sub(&c->conns, 1);
		pthread_cond_broadcast(&c->conns_cv);
		pthread_mutex_unlock(&c->conns_lock);
		free(j->ticket);
		free(j);
	}
	return rc;
}
