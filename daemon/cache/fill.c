/*
 * fill.c - fills: chains of whole-extent ranged GETs pinned to the ETag (fjob) taking the
 * extents of one plan (fplan) in order, written into the store single-flight per extent
 * and published off the loop thread; the fork
 * that feeds requests reading a growing extent straight from its fill; fills started
 * from a proxied cold read's answer; the stop of a worker's fills.
 */
#include "cache/cache-internal.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <lota/log.h>

static void fork_feed_all(fjob *j, uint64_t pos, const char *buf, size_t n);
static void fork_release(fjob *j);
static void fjob_done(lotad_xfer *x, CURLcode rc);

static void fjob_unlist(fjob *j)
{
	lotad_cache *ca = j->ca;
	pthread_mutex_lock(&ca->mu);
	lotad_list_remove(&j->node);
	pthread_mutex_unlock(&ca->mu);
}

static void fjob_stop_xfer(fjob *j)
{
	if (j->x.easy) {
		lotad_upstream_remove(lotad_worker_upstream(j->w), &j->x);
		curl_easy_cleanup(j->x.easy);
		j->x.easy = NULL;
		atomic_fetch_sub_explicit(&j->ca->fill_xfers, 1, memory_order_relaxed);
	}
	curl_slist_free_all(j->hdrs);
	j->hdrs = NULL;
}

static void fjob_free(fjob *j)
{
	fork_release(j);
	fjob_unlist(j);
	fjob_stop_xfer(j);
	lotad_fill_abort(j->f);
	cache_obj_unref(j->o);
	cache_plan_unref(j->plan);
	free(j);
}

bool cache_plan_take(fplan *p, uint64_t k)
{
	if (!p)
		return true;
	if (k < p->next)
		return false;
	p->next = k + 1;
	return true;
}

void cache_plan_unref(fplan *p)
{
	if (p && --p->refs == 0)
		free(p);
}

static size_t fjob_header(char *buf, size_t size, size_t nitems, void *ud)
{
	fjob *j = ud;
	size_t n = size * nitems;
	int rc = cache_pinned_head_line(&j->ph, buf, n, j->o, j->start, j->start + j->len - 1);
	if (rc != HEAD_MORE)
		lotad_xfer_status(&j->x, j->ph.status);
	if (rc == HEAD_BAD) {
		lota_log_warn("fill: extent %" PRIu64 " of %.*s/%.*s: upstream answered %d%s; "
		              "nothing is published",
		              j->k, (int)j->o->bucket.len, j->o->bucket.ptr, (int)j->o->rkey.len,
		              j->o->rkey.ptr, j->ph.status, cache_pinned_head_why(&j->ph));
		return 0;
	}
	if (rc == HEAD_OK)
		j->head_ok = true;
	return n;
}

static size_t fjob_write(char *buf, size_t size, size_t nmemb, void *ud)
{
	fjob *j = ud;
	size_t n = size * nmemb;
	if (!j->head_ok || !j->f)
		return 0;
	uint64_t pos = j->start + lotad_fill_written_bytes(j->f);
	int rc = lotad_fill_write(j->f, buf, n);
	if (rc < 0) {
		lota_log_warn("fill: extent %" PRIu64 ": %s; nothing is published", j->k,
		              lota_strerror(rc));
		return 0;
	}
	count(&j->ca->fill_bytes, n);
	fork_feed_all(j, pos, buf, n);
	return n;
}

struct commit {
	lotad_cache *ca;
	lotad_fill *f;
};

static void *commit_main(void *arg)
{
	struct commit *cm = arg;
	lotad_cache *ca = cm->ca;
	int rc = lotad_fill_commit(cm->f);
	free(cm);
	if (rc < 0)
		lota_log_warn("fill: publishing an extent failed: %s", lota_strerror(rc));
	atomic_fetch_sub(&ca->commits_running, 1);
	return NULL;
}

/* fdatasync + rename off the loop thread. */
void cache_publish(lotad_cache *ca, lotad_fill *f)
{
	pthread_t t;
	pthread_attr_t at;
	struct commit *cm = malloc(sizeof(*cm));
	if (!cm) { /* publish on this thread, as when no thread can be made */
		int rc = lotad_fill_commit(f);
		if (rc < 0)
			lota_log_warn("fill: publishing an extent failed: %s", lota_strerror(rc));
		return;
	}
	*cm = (struct commit){ca, f};
	atomic_fetch_add(&ca->commits_running, 1);
	pthread_attr_init(&at);
	pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
	int rc = pthread_create(&t, &at, commit_main, cm);
	pthread_attr_destroy(&at);
	if (rc != 0)
		commit_main(cm);
}

static int fjob_launch(fjob *j)
{
	const lotad_settings *s = j->o->up ? j->o->up : lotad_worker_settings(j->w);
	memset(&j->ph, 0, sizeof(j->ph));
	j->head_ok = false;
	CURL *e = cache_ranged_get(s, j->o, j->start, j->start + j->len - 1, &j->hdrs, fjob_header,
	                           fjob_write, j, j->errbuf);
	if (!e)
		return -ENOMEM;
	j->x.easy = e;
	j->x.done = fjob_done;
	if (lotad_upstream_add(lotad_worker_upstream(j->w), &j->x) < 0) {
		curl_easy_cleanup(e);
		j->x.easy = NULL;
		return -EIO;
	}
	uint64_t now = atomic_fetch_add(&j->ca->fill_xfers, 1) + 1;
	uint64_t peak = atomic_load(&j->ca->fill_xfers_max);
	while (now > peak && !atomic_compare_exchange_weak(&j->ca->fill_xfers_max, &peak, now))
		;
	return 0;
}

/* Start the fill of the next extent of the plan that is neither cached nor being filled.
 * Returns false when the chain is over (or cannot go on). */
static bool fjob_advance(fjob *j)
{
	lotad_cache *ca = j->ca;
	while (j->plan->next <= j->plan->last) {
		j->k = j->plan->next++;
		uint8_t *key;
		size_t klen;
		lota_hash128 h;
		if (cache_ext_key(ca, j->o, j->k, &key, &klen, &h) < 0)
			return false;
		if (ca->cluster) {
			/* in a cluster, extents are filled where they belong: by their owner
			 * when a reader (or the read-ahead) asks it (peer.c), never here */
			free(key);
			continue;
		}
		j->start = cache_ext_first(ca, j->o, j->k);
		j->len = cache_ext_last(ca, j->o, j->k) - j->start + 1;
		int rc = lotad_fill_begin(ca->store, key, klen, j->len,
		                          (const uint8_t *)j->o->meta.ptr, j->o->meta.len, &j->f);
		free(key);
		if (rc == -EEXIST)
			continue;
		if (rc < 0) {
			lota_log_debug("fill: extent %" PRIu64 " not cached: %s", j->k,
			               lota_strerror(rc));
			return false;
		}
		count(&ca->fills_started, 1);
		j->h = lotad_fill_hash(j->f);
		if (fjob_launch(j) == 0)
			return true;
		lotad_fill_abort(j->f);
		j->f = NULL;
		return false;
	}
	return false;
}

static void fjob_done(lotad_xfer *x, CURLcode rc)
{
	fjob *j = (fjob *)((char *)x - offsetof(fjob, x));
	lotad_fill *f = j->f;
	j->f = NULL;
	fjob_stop_xfer(j);
	fork_release(j); /* they go on reading the extent from the store */
	bool ok = rc == CURLE_OK && j->head_ok && lotad_fill_written_bytes(f) == j->len;
	if (ok) {
		cache_publish(j->ca, f);
	} else {
		count(&j->ca->fills_failed, 1);
		if (j->head_ok || rc != CURLE_WRITE_ERROR)
			lota_log_warn("fill: extent %" PRIu64 " of %.*s/%.*s failed: %s", j->k,
			              (int)j->o->bucket.len, j->o->bucket.ptr, (int)j->o->rkey.len,
			              j->o->rkey.ptr,
			              rc != CURLE_OK ? curl_easy_strerror(rc) : "short body");
		lotad_fill_abort(f);
	}
	if (!ok || !fjob_advance(j))
		fjob_free(j);
}

fplan *cache_start_fills(lotad_cache *ca, lotad_worker *w, objinfo *o, uint64_t first,
                         uint64_t last)
{
	fplan *p = malloc(sizeof(*p));
	if (!p)
		return NULL;
	*p = (fplan){.refs = 1, .next = first, .last = last};
	uint64_t n = ca->cfg.fill_streams ? ca->cfg.fill_streams : 1;
	if (n > last - first + 1)
		n = last - first + 1;
	/* each chain starts with the plan's next extent; one that cannot start (the store
	 * refused that extent) is dropped, and the next one goes on with the extent after */
	for (uint64_t i = 0; i < n && p->next <= p->last; i++) {
		fjob *j = calloc(1, sizeof(*j));
		if (!j)
			break;
		j->ca = ca;
		lotad_list_init(&j->att);
		j->w = w;
		j->o = cache_obj_ref(o);
		j->plan = p;
		p->refs++;
		if (!fjob_advance(j)) {
			fjob_free(j);
			continue;
		}
		pthread_mutex_lock(&ca->mu);
		lotad_list_insert_head(&ca->jobs, &j->node);
		pthread_mutex_unlock(&ca->mu);
	}
	return p;
}

void lotad_cache_worker_stop(lotad_cache *ca, lotad_worker *w)
{
	for (;;) {
		fjob *j = NULL;
		pthread_mutex_lock(&ca->mu);
		for (lotad_list *it = ca->jobs.next; it != &ca->jobs && !j; it = it->next) {
			fjob *x = lotad_list_entry(it, fjob, node);
			if (x->w == w)
				j = x;
		}
		pthread_mutex_unlock(&ca->mu);
		if (!j)
			return;
		fjob_free(j);
	}
}

/* --- the fork: a fill on our worker sends its bytes to the requests at its position ---
 *
 * A request reading an extent that a fill of its own worker is writing is attached to
 * that fill: each block the upstream sends goes to the store and, when the request's
 * next byte is inside it and its output buffer has room, to the client as well (no
 * read-back, no decryption). A client that is slower falls behind the fill and reads the
 * rest from the store at its own pace; one that catches up is fed again. */

void cache_fork_detach(creq *q)
{
	if (!q->att)
		return;
	lotad_list_remove(&q->att_node);
	q->att = NULL;
}

/* Attach q to the fill of extent h on its worker, if there is one. */
void cache_fork_attach(creq *q, lota_hash128 h)
{
	lotad_cache *ca = q->ca;
	fjob *j = NULL;
	pthread_mutex_lock(&ca->mu);
	for (lotad_list *it = ca->jobs.next; it != &ca->jobs && !j; it = it->next) {
		fjob *x = lotad_list_entry(it, fjob, node);
		if (x->w == q->w && x->f && x->h.hi == h.hi && x->h.lo == h.lo)
			j = x;
	}
	pthread_mutex_unlock(&ca->mu);
	if (!j)
		return;
	q->att = j;
	lotad_list_insert_head(&j->att, &q->att_node);
}

static void fork_release(fjob *j)
{
	while (!lotad_list_empty(&j->att)) {
		creq *q = lotad_list_entry(j->att.next, creq, att_node);
		cache_fork_detach(q);
		if (q->c)
			lotad_timer_start(q->loop, &q->yield, 0);
	}
}

static void fork_feed(creq *q, uint64_t pos, const char *buf, size_t n);

static void fork_feed_all(fjob *j, uint64_t pos, const char *buf, size_t n)
{
	for (lotad_list *it = j->att.next, *next; it != &j->att; it = next) {
		next = it->next;
		fork_feed(lotad_list_entry(it, creq, att_node), pos, buf, n);
	}
}

static void fork_feed(creq *q, uint64_t pos, const char *buf, size_t n)
{
	if (!q->c || q->xkind != X_NONE || q->a < pos || q->a >= pos + n || q->a > q->b)
		return;
	size_t off = (size_t)(q->a - pos), len = n - off;
	if (len > q->b - q->a + 1)
		len = (size_t)(q->b - q->a + 1);
	size_t room = lotad_conn_out_room(q->c);
	if (len > room)
		len = room; /* the rest comes from the store */
	if (!len)
		return;
	count(&q->ca->served_upstream, len); /* before they leave, as in direct_write */
	int rc = q->s->relay_coalesce ? lotad_conn_resp_body_coalesced(q->c, buf + off, len)
	                              : lotad_conn_resp_body(q->c, buf + off, len);
	if (rc < 0)
		return;
	q->a += len;
	if (q->a > q->b)
		lotad_timer_start(q->loop, &q->yield, 0); /* finish outside curl's callback */
}

void lotad_cache_fill_from_response(lotad_cache *ca, lotad_worker *w, const lotad_s3req *sr,
                                    const lotad_auth_result *auth, lota_str query, lota_str etag,
                                    lota_str version_id, lota_str content_length,
                                    lota_str content_range)
{
	uint64_t first, last, size;
	lota_str vq;
	if (!ca->store || !etag.len || !lotad_cache__query_ok(query, &vq))
		return;
	if (content_range.len) {
		if (!lotad_cache__parse_content_range(content_range, &first, &last, &size))
			return;
	} else if (parse_u64(content_length, &size) && size) {
		first = 0;
		last = size - 1;
	} else {
		return;
	}
	cache_objtab_note(ca, sr->bucket, sr->key, vq, size, etag, version_id);
	if (size < ca->cfg.min_object_size)
		return;
	objinfo *o =
	    cache_obj_new(sr->bucket, sr->key, etag, version_id, vq, auth, (lota_str){"", 0}, size);
	if (!o)
		return;
	o->up = sr->up;
	cache_plan_unref(
	    cache_start_fills(ca, w, o, cache_ext_of(ca, o, first), cache_ext_of(ca, o, last)));
	cache_obj_unref(o);
}
