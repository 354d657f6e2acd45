/*
 * serve.c - the client state machine of a cached GET/HEAD (creq): the start (cacheable or
 * handed to the proxy), the decision once authorized (hit, miss, bypass, range), the
 * pump that sends the bytes from the store (published or growing extents), direct ranged
 * GETs for the parts the store cannot give, and the end.
 */
#include "cache/cache-internal.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <lota/log.h>

static void creq_close_reader(creq *q)
{
	cache_fork_detach(q);
	if (!q->r)
		return;
	if (q->watching)
		lotad_reader_unwatch(q->r, &q->watch);
	q->watching = false;
	lotad_reader_close(q->r);
	q->r = NULL;
}

void cache_creq_stop_xfer(creq *q)
{
	if (q->x.easy) {
		lotad_upstream_remove(lotad_worker_upstream(q->w), &q->x);
		curl_easy_cleanup(q->x.easy);
		q->x.easy = NULL;
	}
	curl_slist_free_all(q->hdrs);
	q->hdrs = NULL;
	q->xkind = X_NONE;
	q->recv_paused = false;
}

void cache_creq_free(creq *q)
{
	cache_preread_drop(q);
	creq_close_reader(q);
	cache_creq_stop_xfer(q);
	lotad_timer_stop(q->loop, &q->yield);
	if (q->efd >= 0) {
		lotad_io_stop(q->loop, &q->eio);
		close(q->efd);
	}
	lotad_auth_result_cleanup(&q->auth);
	lotad_auth_result_cleanup(&q->fillcred);
	cache_plan_unref(q->plan);
	cache_obj_unref(q->o);
	lotad_loop_defer_free(q->loop, q);
}

void cache_creq_finish(creq *q, bool ok)
{
	lotad_conn *c = q->c;
	q->c = NULL;
	if (c && q->head_pending) /* failed before its first byte: no head went out yet */
		lotad_conn_send_error(c, 503, "ServiceUnavailable",
		                      "The object could not be read; please retry.", true);
	else if (c)
		lotad_conn_resp_end(c, ok);
	cache_creq_free(q);
}

/* Hand the request to the proxy (the client gets exactly the upstream's answer). */
void cache_creq_to_proxy(creq *q, const char *label)
{
	lotad_cache *ca = q->ca;
	lotad_conn *c = q->c;
	q->c = NULL;
	cache_creq_stop_xfer(q);
	if (!strcmp(label, "bypass"))
		count(&ca->bypasses, 1);
	else
		count(&ca->misses, 1);
	ca->proxy(ca->proxy_ud, c, &q->sr, &q->auth, label, false);
	cache_creq_free(q);
}

static void creq_abort(lotad_handler *h)
{
	creq *q = (creq *)h;
	q->c = NULL;
	cache_creq_free(q);
}

static void creq_on_drain(lotad_handler *h)
{
	creq *q = (creq *)h;
	if (q->xkind == X_DIRECT || q->xkind == X_PEER) {
		if (q->recv_paused && q->x.easy) {
			q->recv_paused = false;
			curl_easy_pause(q->x.easy, CURLPAUSE_CONT);
		}
		return;
	}
	cache_pump(q);
}

static void creq_on_body(lotad_handler *h)
{
	(void)h; /* GET/HEAD bodies are not read */
}

static const lotad_handler_ops creq_ops = {
    .on_body = creq_on_body,
    .on_drain = creq_on_drain,
    .abort = creq_abort,
};

static void yield_cb(lotad_timer *t)
{
	cache_pump(t->ud);
}

static void efd_cb(lotad_io *io, uint32_t events)
{
	creq *q = io->ud;
	uint64_t v;
	(void)events;
	while (read(q->efd, &v, sizeof(v)) == (ssize_t)sizeof(v))
		;
	cache_pump(q);
}

static void watch_fn(void *ud)
{
	creq *q = ud;
	uint64_t one = 1;
	ssize_t n = write(q->efd, &one, sizeof(one));
	(void)n; /* a full counter already wakes the loop */
}

/* --- direct ranged GETs (a part the store cannot give) --- */

static size_t direct_header(char *buf, size_t size, size_t nitems, void *ud)
{
	creq *q = ud;
	size_t n = size * nitems;
	if (!q->c)
		return 0;
	int rc = cache_pinned_head_line(&q->ph, buf, n, q->o, q->a, q->direct_end);
	if (rc != HEAD_MORE)
		lotad_xfer_status(&q->x, q->ph.status);
	if (rc == HEAD_BAD) {
		lota_log_warn("cache: direct read of %.*s/%.*s: upstream answered %d%s; the "
		              "response is cut short",
		              (int)q->o->bucket.len, q->o->bucket.ptr, (int)q->o->rkey.len,
		              q->o->rkey.ptr, q->ph.status, cache_pinned_head_why(&q->ph));
		return 0;
	}
	if (rc == HEAD_OK)
		q->head_ok = true;
	return n;
}

static size_t direct_write(char *buf, size_t size, size_t nmemb, void *ud)
{
	creq *q = ud;
	size_t n = size * nmemb;
	if (!q->c || !q->head_ok || n > q->direct_end + 1 - q->a)
		return 0;
	if (lotad_conn_out_room(q->c) < n) {
		q->recv_paused = true;
		lotad_conn_want_drain(q->c);
		return CURL_WRITEFUNC_PAUSE;
	}
	/* counted before they leave (as pump does): a client that has its last byte sees it
	 * counted */
	count(&q->ca->served_upstream, n);
	if (cache_flush_head(q) < 0 || lotad_conn_resp_body(q->c, buf, n) < 0)
		return 0;
	q->a += n;
	return n;
}

static void direct_done(lotad_xfer *x, CURLcode rc)
{
	creq *q = (creq *)((char *)x - offsetof(creq, x));
	cache_creq_stop_xfer(q);
	if (!q->c) {
		cache_creq_free(q);
		return;
	}
	if (rc == CURLE_OK && q->head_ok && q->a == q->direct_end + 1) {
		cache_pump(q);
		return;
	}
	if (rc != CURLE_OK && rc != CURLE_WRITE_ERROR)
		lota_log_warn("cache: direct read failed: %s", curl_easy_strerror(rc));
	cache_creq_finish(q, false);
}

/* Send bytes [q->a, last] by a ranged GET pinned to the ETag. Returns 0, or < 0 after
 * finishing the request (cut short). */
int cache_start_direct(creq *q, uint64_t last)
{
	lotad_cache *ca = q->ca;
	q->direct_end = last;
	memset(&q->ph, 0, sizeof(q->ph));
	q->head_ok = false;
	count(&ca->direct_reads, 1);
	CURL *e = cache_ranged_get(q->s, q->o, q->a, last, &q->hdrs, direct_header, direct_write, q,
	                           q->errbuf);
	if (e) {
		q->x.easy = e;
		q->x.done = direct_done;
		q->xkind = X_DIRECT;
		if (lotad_upstream_add(lotad_worker_upstream(q->w), &q->x) == 0)
			return 0;
	}
	lota_log_error("cache: cannot start a direct read");
	cache_creq_finish(q, false);
	return -1;
}

/* --- the store as the source --- */

/* Open extent k for reading: published, being filled, or filled now by us. Returns 0,
 * 1 when the part was handed to a direct read instead, < 0 when the request is over. */
static int open_extent(creq *q, uint64_t k)
{
	lotad_cache *ca = q->ca;
	uint8_t *key;
	size_t klen;
	lota_hash128 h;
	uint64_t last = cache_ext_last(ca, q->o, k);
	if (last > q->b)
		last = q->b;
	if (cache_ext_key(ca, q->o, k, &key, &klen, &h) < 0)
		return cache_start_direct(q, last) < 0 ? -1 : 1;
	/* no store: a front node of a cluster, which holds nothing and reads from owners */
	int rc = ca->store ? lotad_store_open(ca->store, h, key, klen, &q->r) : -ENOENT;
	bool held = rc == 0; /* in the store before this request asked for it */
	if (ca->cluster)
		cache_cluster_readahead(q, k);
	if (rc == -ENOENT && cache_peer_owned(ca, h, &q->peer)) {
		/* another member owns it: read it from there (it fills it when it must) */
		free(key);
		q->r = NULL;
		return cache_start_peer(q, k, last) < 0 ? -1 : 1;
	}
	if (rc == -ENOENT && ca->cluster && !q->no_fill)
		rc = cache_cluster_fill_local(q, k); /* ours: from the previous owner or upstream */
	if (rc == -ENOENT && ca->store && !q->no_fill && cache_plan_take(q->plan, k)) {
		/* neither cached nor being filled, and not asked for yet by this request (our
		 * chains have not reached it, or it was cached when we decided): fill it now.
		 * One this request asked for already (refused, or its fill failed) is read
		 * directly: asking again would only be refused again. */
		cache_plan_unref(cache_start_fills(ca, q->w, q->o, k, k));
		rc = lotad_store_open(ca->store, h, key, klen, &q->r);
	}
	free(key);
	if (rc < 0) {
		q->r = NULL;
		return cache_start_direct(q, last) < 0 ? -1 : 1;
	}
	q->r_k = k;
	if (lotad_reader_readable(q->r) < (int64_t)lotad_reader_length(q->r))
		cache_fork_attach(q, h);
	else if (held && q->head_pending)
		q->label = "hit"; /* a cluster read whose first byte this node holds whole */
	return 0;
}

static void reader_failed(creq *q, int64_t rc)
{
	lotad_cache *ca = q->ca;
	uint64_t k = q->r_k;
	uint64_t last = cache_ext_last(ca, q->o, k);
	if (last > q->b)
		last = q->b;
	if (rc != -ECANCELED)
		lota_log_warn("cache: extent %" PRIu64 " of %.*s/%.*s unreadable (%s): reading it "
		              "from the upstream",
		              k, (int)q->o->bucket.len, q->o->bucket.ptr, (int)q->o->rkey.len,
		              q->o->rkey.ptr, lota_strerror((int)rc));
	creq_close_reader(q);
	(void)cache_start_direct(q, last);
}

void cache_pump(creq *q)
{
	lotad_cache *ca = q->ca;
	size_t budget = PUMP_BUDGET;
	while (q->c && q->xkind == X_NONE) {
		if (q->a > q->b) {
			cache_creq_finish(q, true);
			return;
		}
		if (q->pre_buf) { /* the bytes read while the HEAD was in flight go first */
			if (cache_preread_send(q) != 0)
				return; /* on_drain, or the connection is failing */
			continue;
		}
		uint64_t k = cache_ext_of(ca, q->o, q->a);
		if (q->r && q->r_k != k)
			creq_close_reader(q);
		if (!q->r) {
			int rc = open_extent(q, k);
			if (rc != 0)
				return;
		}
		uint64_t off = q->a - cache_ext_first(ca, q->o, k);
		int64_t rd = lotad_reader_readable(q->r);
		if (rd < 0) {
			reader_failed(q, rd);
			return;
		}
		if (off >= (uint64_t)rd) {
			if (off - (uint64_t)rd > FAR_AHEAD) {
				uint64_t last = cache_ext_last(ca, q->o, k);
				creq_close_reader(q);
				(void)cache_start_direct(q, last < q->b ? last : q->b);
				return;
			}
			if (!q->watching) {
				if (q->efd < 0) {
					q->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
					if (q->efd < 0) {
						reader_failed(q, -errno);
						return;
					}
					q->eio = (lotad_io){.fd = q->efd, .fn = efd_cb, .ud = q};
					if (lotad_io_set(q->loop, &q->eio, EPOLLIN) < 0) {
						reader_failed(q, -EIO);
						return;
					}
				}
				if (lotad_reader_watch(q->r, &q->watch, watch_fn, q) == 0)
					q->watching = true;
				continue; /* it may have grown before the watch was set */
			}
			return; /* the watch wakes us */
		}
		if (!budget) {
			lotad_timer_start(q->loop, &q->yield, 0);
			return;
		}
		if (cache_flush_head(q) < 0)
			return; /* the connection is failing: abort follows */
		uint64_t want = (uint64_t)rd - off;
		if (want > q->b - q->a + 1)
			want = q->b - q->a + 1;
		if (want > budget)
			want = budget;
		int pfd;
		uint64_t doff;
		const uint8_t *map;
		bool plain = !lotad_reader_encrypted(q->r);
		/* a RAM copy is sent from where it is; a plain extent whose RAM copy this
		 * read is making goes through the buffer (the copy is made from it) */
		bool ram = lotad_reader_ram(q->r, &map) == 0;
		if (ram || (plain && ca->cfg.plain_hit_io != LOTAD_HIT_IO_PREAD &&
		            !lotad_reader_ram_would_copy(q->r, off))) {
			/* at most one copy: the kernel copies from the RAM tier or the mapping,
			 * or passes the page cache's pages, straight into the socket */
			ssize_t n = -EAGAIN;
			if (ram)
				n = lotad_conn_resp_send(q->c, map + off, (size_t)want);
			else if (ca->cfg.plain_hit_io == LOTAD_HIT_IO_MMAP &&
			         lotad_reader_plain_map(q->r, &map) == 0)
				n = lotad_conn_resp_send(q->c, map + off, (size_t)want);
			else if (ca->cfg.plain_hit_io == LOTAD_HIT_IO_SENDFILE &&
			         lotad_reader_plain_fd(q->r, &pfd, &doff) == 0)
				n = lotad_conn_resp_sendfile(q->c, pfd, doff + off, (size_t)want);
			if (n == 0) {
				lotad_conn_want_drain(q->c);
				return;
			}
			if (n > 0) {
				q->a += (uint64_t)n;
				budget -= (size_t)n < budget ? (size_t)n : budget;
				count(&ca->served_cache, (uint64_t)n);
				continue;
			}
			if (n == -EPIPE)
				return; /* the connection is failing: abort follows */
			if (n == -EIO) {
				reader_failed(q, -EIO);
				return;
			}
			/* -EAGAIN: bytes are buffered (or TLS, or a growing extent not mapped);
			 * this round goes through the buffer */
		}
		size_t room;
		char *dst = lotad_conn_resp_reserve(q->c, &room);
		if (!dst || !room) {
			lotad_conn_want_drain(q->c);
			return;
		}
		if (want > room)
			want = room;
		ssize_t n = lotad_reader_read(q->r, off, dst, (size_t)want);
		if (n == -EAGAIN)
			continue;
		if (n <= 0) {
			reader_failed(q, n < 0 ? n : -EIO);
			return;
		}
		q->a += (uint64_t)n;
		budget -= (size_t)n < budget ? (size_t)n : budget;
		count(&ca->served_cache, (uint64_t)n);
		if (lotad_conn_resp_commit(q->c, (size_t)n) < 0)
			return; /* the connection is failing: abort follows */
	}
}

/* The response head for the client: status, the upstream's headers, ours. */
static int send_head(creq *q, const char *label, lotad_resp_framing fr)
{
	char *head = malloc(HEAD_CAP + 512);
	if (!head)
		return -ENOMEM;
	uint64_t len = q->cl ? q->b - q->a + 1 : 0;
	int n = snprintf(head, HEAD_CAP + 512, "HTTP/1.1 %s\r\n",
	                 q->ranged ? "206 Partial Content" : "200 OK");
	memcpy(head + n, q->rhead, q->rhead_len);
	n += (int)q->rhead_len;
	n += snprintf(head + n, HEAD_CAP + 512 - (size_t)n, "Content-Length: %" PRIu64 "\r\n", len);
	if (q->ranged)
		n += snprintf(head + n, HEAD_CAP + 512 - (size_t)n,
		              "Content-Range: bytes %" PRIu64 "-%" PRIu64 "/%" PRIu64 "\r\n", q->a,
		              q->b, q->cl);
	n += snprintf(head + n, HEAD_CAP + 512 - (size_t)n, "x-lota-cache: %s\r\n", label);
	if (q->ca->label_hook)
		q->ca->label_hook(q->ca->label_ud, &q->sr, label);
	int rc = lotad_conn_resp_head(q->c, q->ranged ? 206 : 200, head, (size_t)n, fr);
	free(head);
	return rc;
}

int cache_flush_head(creq *q)
{
	if (!q->head_pending)
		return 0;
	q->head_pending = false;
	bool peer = !strcmp(q->label, "peer"), hit = !strcmp(q->label, "hit");
	count(peer ? &q->ca->peer_hits : hit ? &q->ca->hits : &q->ca->misses, 1);
	return send_head(q, q->label, LOTAD_RESP_LENGTH);
}

bool lotad_cache__held(lotad_store *st, lota_hash128 h, uint64_t need)
{
	uint64_t readable = 0;
	int rc = lotad_store_probe(st, h, &readable);
	return rc == 1 || (rc == 0 && readable >= need);
}

/* Whether every byte of [q->a, q->b] is in the store now (published, or in a fill that
 * already holds it): the response is then a hit, not a byte of it waits on an upstream
 * transfer. (An extent that goes away before it is read, evicted or a fill that fails to
 * publish, is then read from the upstream under the label already sent.) */
static bool range_held(creq *q)
{
	lotad_cache *ca = q->ca;
	const objinfo *o = q->o;
	lota_object_id id = cache_obj_id(o);
	for (uint64_t k = cache_ext_of(ca, o, q->a); k <= cache_ext_of(ca, o, q->b); k++) {
		lota_hash128 h;
		uint64_t start = cache_ext_first(ca, o, k), end = cache_ext_last(ca, o, k);
		if (end > q->b)
			end = q->b;
		if (!ca->store || lota_extent_name(&id, ext_size(ca), k, &h) < 0 ||
		    !lotad_cache__held(ca->store, h, end - start + 1))
			return false;
	}
	return true;
}

/* The upstream said 200 to this client for this object (now or within metadata_ttl):
 * decide and answer. */
void cache_authorized(creq *q)
{
	lotad_cache *ca = q->ca;
	bool small = q->cl < ca->cfg.min_object_size || q->cl == 0;
	if (small && !q->is_head) {
		cache_creq_to_proxy(q, "bypass");
		return;
	}
	/* the range */
	const lota_http_request *req = lotad_conn_request(q->c);
	const lota_http_header *rh =
	    lota_http_find_header(req->headers, req->num_headers, "range", 5);
	q->a = 0;
	q->b = q->cl ? q->cl - 1 : 0;
	lota_range rg;
	if (rh && lota_range_parse(rh->value.ptr, rh->value.len, &rg) == 0) {
		if (!small)
			count(&ca->range_reqs, 1);
		if (lota_range_resolve(&rg, q->cl, &q->a, &q->b) < 0) {
			/* 416: the upstream's own answer (its body and headers) */
			cache_creq_to_proxy(q, "bypass");
			return;
		}
		q->ranged = true;
	}
	if (small) { /* a HEAD: answered from the upstream's */
		count(&ca->bypasses, 1);
		cache_creq_finish(q, send_head(q, "bypass", LOTAD_RESP_NONE) == 0);
		return;
	}
	/* fills and direct reads are signed with the client's key, or for a foreign key
	 * (foreign.c) with the fill credential */
	const lotad_auth_result *fc = q->auth.mode == LOTAD_AUTH_RESIGN ? &q->auth : &q->fillcred;
	q->o = cache_obj_new(q->sr.bucket, q->sr.key, q->etag, q->vid, q->vquery, fc,
	                     (lota_str){q->rhead, q->rhead_len}, q->cl);
	if (!q->o) {
		cache_creq_to_proxy(q, "bypass");
		return;
	}
	q->o->up = q->sr.up;
	uint64_t first = cache_ext_of(ca, q->o, q->a), last = cache_ext_of(ca, q->o, q->b);
	bool cached = range_held(q);
	const char *label = cached ? "hit" : "miss";
	if (!cached || !cache_preread_take(q))
		cache_preread_drop(q);
	if (q->is_head) {
		count(cached ? &ca->hits : &ca->misses, 1);
		if (!cached && !q->no_fill && (ca->cfg.prestage_on_head || rh) && ca->cluster)
			cache_cluster_prestage(q, 0, cache_ext_count(ca, q->o) - 1);
		else if (!cached && !q->no_fill && (ca->cfg.prestage_on_head || rh))
			cache_plan_unref(
			    cache_start_fills(ca, q->w, q->o, 0, cache_ext_count(ca, q->o) - 1));
		cache_creq_finish(q, send_head(q, label, LOTAD_RESP_NONE) == 0);
		return;
	}
	if (!cached && q->no_fill) {
		cache_creq_to_proxy(q, "miss");
		return;
	}
	if (!cached && ca->cluster) {
		/* the label waits for the first byte: "peer" when it comes from a member's
		 * store (peer_header), "hit" from this node's (open_extent), else "miss" */
		q->head_pending = true;
		q->label = "miss";
		cache_pump(q);
		return;
	}
	count(cached ? &ca->hits : &ca->misses, 1);
	if (!cached)
		q->plan = cache_start_fills(ca, q->w, q->o, first, last);
	if (send_head(q, label, LOTAD_RESP_LENGTH) < 0) {
		cache_creq_finish(q, false);
		return;
	}
	cache_pump(q);
}

void lotad_cache_start(lotad_cache *ca, lotad_conn *c, const lotad_s3req *sr,
                       lotad_auth_result *auth)
{
	const lota_http_request *req = lotad_conn_request(c);
	bool no_fill = false;
	lota_str vq = {"", 0};
	/* A key lotad holds, its signature verified here, on a request signed for the
	 * upstream's own name (a redirected program): in a cluster it is read as one signed
	 * for lotad's name is (re-signed with that key, authorized by the upstream's HEAD), so
	 * that its extents are filled once in the cluster, where they belong, and read from
	 * their owners. On a single node foreign.c forwards it as it is. */
	if (ca->cluster && cache_foreign_eligible(auth) && auth->secret_key.len && auth->creds)
		auth->mode = LOTAD_AUTH_RESIGN;
	/* without a store, a cluster member still reads through the cluster (from the
	 * owners); a read signed with a key lotad does not hold needs a store (foreign.c) */
	const char *why = !ca->store && (!ca->cluster || auth->mode != LOTAD_AUTH_RESIGN)
	                      ? "no cache"
	                      : cache_not_cacheable(req, sr, auth, &no_fill, &vq);
	if (!why && cache_objtab_small(ca, sr->bucket, sr->key, vq))
		why = "small object";
	if (why) {
		count(&ca->bypasses, 1);
		ca->proxy(ca->proxy_ud, c, sr, auth, "bypass", false);
		return;
	}
	if (auth->mode != LOTAD_AUTH_RESIGN) { /* a key lotad does not hold */
		cache_foreign_start(ca, c, sr, auth, vq, no_fill);
		return;
	}
	/* A short range far into an extent that is not here (a fill would take a while to
	 * reach it): the client's own GET goes to the upstream at once (it authorizes and
	 * carries the bytes, no HEAD first, so the first byte comes as fast as without
	 * lotad) and its answer starts the fill of the extent. Ranges near the start of an
	 * extent are read from the fill as it arrives (the authorizing HEAD, then the fork).
	 * In a cluster, such a range of an extent another member owns is asked of it without a
	 * ticket (it answers from what it holds, else the range is read from the upstream). */
	const lota_http_header *rh =
	    lota_http_find_header(req->headers, req->num_headers, "range", 5);
	lota_range rg;
	bool peer_only = false;
	if (rh && !no_fill && !lota_str_eq_nocase(req->method, "HEAD", 4) &&
	    lota_range_parse(rh->value.ptr, rh->value.len, &rg) == 0 &&
	    rg.kind == LOTA_RANGE_FROM_TO && rg.last - rg.first < DIRECT_FIRST &&
	    rg.first % ca->cfg.extent_size >= FAR_AHEAD &&
	    !cache_objtab_cached(ca, sr->bucket, sr->key, vq, rg.first)) {
		peer_only = cache_objtab_peer_owned(ca, sr->bucket, sr->key, vq, rg.first);
		if (!peer_only) {
			count(&ca->misses, 1);
			count(&ca->range_reqs, 1);
			ca->proxy(ca->proxy_ud, c, sr, auth, "miss", true);
			return;
		}
	}
	creq *q = cache_creq_new(ca, c, sr, auth, vq, no_fill);
	if (!q)
		return;
	q->peer_no_ticket = peer_only;
	if (ca->cfg.metadata_ttl_ms && cache_grant_use(q)) {
		cache_authorized(q);
		return;
	}
	if (cache_start_auth(q) < 0) {
		lota_log_warn("cache: cannot start the authorizing request; proxying");
		cache_creq_to_proxy(q, "bypass");
		return;
	}
	/* the HEAD goes out now; the first bytes are read during its round trip (q stays
	 * allocated until the loop's deferred frees even if the HEAD failed at once) */
	lotad_upstream_kick(lotad_worker_upstream(q->w));
	cache_preread_start(q);
}

/* A client request attached to c, taking over *auth; NULL (the client answered 503)
 * when out of memory. */
creq *cache_creq_new(lotad_cache *ca, lotad_conn *c, const lotad_s3req *sr, lotad_auth_result *auth,
                     lota_str vq, bool no_fill)
{
	const lota_http_request *req = lotad_conn_request(c);
	creq *q = calloc(1, sizeof(*q));
	if (!q) {
		lotad_auth_result_cleanup(auth);
		lotad_conn_send_error(c, 503, "SlowDown", "Out of memory.", true);
		return NULL;
	}
	q->h.ops = &creq_ops;
	q->ca = ca;
	q->c = c;
	q->w = lotad_conn_worker(c);
	q->loop = lotad_worker_loop(q->w);
	/* the bucket's region's upstream (region.h), else the worker's */
	q->s = sr->up ? sr->up : lotad_worker_settings(q->w);
	q->auth = *auth;
	memset(auth, 0, sizeof(*auth));
	q->sr = *sr;
	q->vquery = vq;
	q->is_head = lota_str_eq_nocase(req->method, "HEAD", 4);
	q->no_fill = no_fill;
	q->efd = -1;
	lotad_timer_init(&q->yield, yield_cb, q);
	lotad_conn_attach(c, &q->h);
	return q;
}
