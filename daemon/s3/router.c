/*
 * router.c - the request path after the HTTP front end (see router.h), and the glue
 * between the proxy and the cache: the proxy's hooks call the cache, the cache's way to
 * start a proxy calls the proxy.
 */
#include "s3/router.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <lota/log.h>

#include "cache/cache.h"
#include "metrics.h"
#include "util/clock.h"
#include "util/hostport.h"

/* ------------------------------------------------------------ glue --- */

static void hook_object_written(void *ud, lota_str bucket, lota_str key)
{
	lotad_router *r = ud;
	lotad_cache_object_written(r->cache, bucket, key);
}

static void hook_filled_response(void *ud, lotad_worker *w, const lotad_s3req *sr,
                                 const lotad_auth_result *auth, lota_str query, lota_str etag,
                                 lota_str version_id, lota_str content_length,
                                 lota_str content_range)
{
	lotad_router *r = ud;
	lotad_cache_fill_from_response(r->cache, w, sr, auth, query, etag, version_id,
	                               content_length, content_range);
}

static void hook_upstream_bytes(void *ud, uint64_t n)
{
	lotad_router *r = ud;
	lotad_cache_count_upstream_bytes(r->cache, n);
}

/* A 404 (NoSuchBucket, or no such key) or a redirect from the bucket's remembered home:
 * the bucket may have moved, so the next request probes it again (region.h). */
static void hook_upstream_status(void *ud, const lotad_s3req *sr, int status)
{
	lotad_router *r = ud;
	if (r->regions && sr->bucket.len && (status == 404 || status == 301 || status == 307))
		lotad_regions_forget(r->regions, sr->bucket);
}

static void hook_label(void *ud, const lotad_s3req *sr, const char *label)
{
	lotad_router *r = ud;
	if (r->regions && sr->region > 0 && strcmp(label, "hit") == 0)
		lotad_regions_count_remote_hit(r->regions, (size_t)sr->region);
}

static bool route_region(lotad_router *r, lotad_conn *c, lotad_s3req *sr, lotad_auth_result *ar);
static void dispatch(lotad_router *r, lotad_conn *c, lotad_s3req *sr, lotad_auth_result *ar);

/* The cache hands a request to the proxy. */
static void cache_to_proxy(void *ud, lotad_conn *c, const lotad_s3req *sr, lotad_auth_result *auth,
                           const char *cache_label, bool fill_after)
{
	lotad_router *r = ud;
	/* The bucket's remembered home says it has no such bucket (or key) or redirects:
	 * before anything is answered, its home is probed again and the read starts over
	 * there, so a bucket that moved is followed by the very read that found it gone. The
	 * read after the probe is never sent round again (region_remembered is false). */
	if (r->regions && sr->region_remembered && !fill_after &&
	    (sr->auth_status == 404 || sr->auth_status == 301 || sr->auth_status == 307)) {
		lotad_s3req again = *sr;
		again.auth_status = 0;
		lotad_regions_forget(r->regions, sr->bucket);
		if (!route_region(r, c, &again, auth))
			dispatch(r, c, &again, auth);
		return;
	}
	if (fill_after)
		lotad_proxy_start_filling(c, sr, auth, &r->proxy_hooks);
	else
		lotad_proxy_start(c, sr, auth, cache_label, &r->proxy_hooks);
}

/* The cache forwards a read signed with a key lotad does not hold; its answer goes back
 * to the cache. */
static void cache_forward(void *ud, lotad_conn *c, const lotad_s3req *sr, lotad_auth_result *auth,
                          lota_str inm, bool no_store)
{
	lotad_router *r = ud;
	lotad_proxy_start_tee(c, sr, auth, inm, no_store, &r->tee, &r->proxy_hooks);
}

void lotad_router_init(lotad_router *r, lotad_cache *cache)
{
	memset(r, 0, sizeof(*r));
	r->cache = cache;
	r->proxy_hooks = (lotad_proxy_hooks){
	    .object_written = hook_object_written,
	    .filled_response = hook_filled_response,
	    .upstream_bytes = hook_upstream_bytes,
	    .upstream_status = hook_upstream_status,
	    .ud = r,
	};
	lotad_cache_set_proxy(cache, cache_to_proxy, r);
	r->tee = (lotad_proxy_tee){
	    .begin = lotad_cache_tee_begin,
	    .write = lotad_cache_tee_write,
	    .end = lotad_cache_tee_end,
	    .not_modified = lotad_cache_not_modified,
	    .ud = cache,
	};
	lotad_cache_set_forward(cache, cache_forward, r);
	lotad_cache_set_label_hook(cache, hook_label, r);
}

void lotad_router_worker_stop(lotad_worker *w, void *router)
{
	lotad_router *r = router;
	lotad_cache_worker_stop(r->cache, w);
}

/* ------------------------------------------------------- regions --- */

static void dispatch(lotad_router *r, lotad_conn *c, lotad_s3req *sr, lotad_auth_result *ar)
{
	if (r->regions)
		lotad_regions_count_request(r->regions, (size_t)sr->region);
	if (sr->object_read)
		lotad_cache_start(r->cache, c, sr, ar);
	else
		lotad_proxy_start(c, sr, ar, NULL, &r->proxy_hooks);
}

/* A request waiting for its bucket's home (a probe): the connection's handler meanwhile,
 * so a client that goes away cancels the probe. Body bytes wait in the connection's
 * buffer (bounded: the socket is not read when it is full) for the handler that follows. */
typedef struct region_wait {
	lotad_handler h; /* first */
	lotad_router *r;
	lotad_conn *c;
	lotad_s3req sr;
	lotad_auth_result ar;
	lotad_region_probe *probe;
} region_wait;

static void wait_nothing(lotad_handler *h)
{
	(void)h;
}

static void wait_abort(lotad_handler *h)
{
	region_wait *w = (region_wait *)h;
	lotad_region_probe_cancel(w->probe);
	lotad_auth_result_cleanup(&w->ar);
	free(w);
}

static const lotad_handler_ops wait_ops = {
    .on_body = wait_nothing,
    .on_drain = wait_nothing,
    .abort = wait_abort,
};

static void set_region(lotad_router *r, lotad_s3req *sr, int home)
{
	sr->region = home > 0 ? home : 0;
	sr->up = home > 0 ? lotad_regions_settings(r->regions, (size_t)home) : NULL;
}

static void probe_done(void *ud, int home)
{
	region_wait *w = ud;
	w->probe = NULL; /* freed by the probe itself */
	set_region(w->r, &w->sr, home);
	lotad_conn_attach(w->c, NULL);
	dispatch(w->r, w->c, &w->sr, &w->ar); /* takes w->ar over */
	free(w);
}

/* The region whose endpoint a Host names (0: none, or the local one). */
static int region_of_host(const lotad_regions *t, lota_str host)
{
	for (size_t i = 1; i < lotad_regions_count(t); i++) {
		const lotad_settings *rs = lotad_regions_settings(t, i);
		if (lotad_auth_host_is(rs->upstream_hostport, rs->auth.upstream_default_port, host))
			return (int)i;
	}
	return 0;
}

/* Route sr to its bucket's home region (daemon/region). Only requests lotad may send
 * anywhere are routed by their bucket: anonymous ones, and those it re-signs with the
 * client's key (RESIGN). A request signed by the client for an endpoint's own name
 * (FORWARD: redirected traffic) carries a signature only that host can check: it goes,
 * as it is, to the region whose endpoint its Host names (listed in redirect), else to
 * the local upstream; so does one relayed for the upstream's verdict (RELAY). Returns
 * true when a probe was started (dispatch follows from its end). */
static bool route_region(lotad_router *r, lotad_conn *c, lotad_s3req *sr, lotad_auth_result *ar)
{
	sr->up = NULL;
	sr->region = 0;
	sr->region_remembered = false;
	if (!r->regions || lotad_regions_count(r->regions) < 2)
		return false;
	if (ar->mode == LOTAD_AUTH_FORWARD) {
		set_region(r, sr, region_of_host(r->regions, lotad_conn_request(c)->host));
		return false;
	}
	if (!sr->bucket.len || (ar->mode != LOTAD_AUTH_RESIGN && ar->mode != LOTAD_AUTH_ANONYMOUS))
		return false;
	int home = lotad_regions_lookup(r->regions, sr->bucket, lotad_mono_ms());
	if (home >= 0) {
		set_region(r, sr, home);
		sr->region_remembered = true;
		return false;
	}
	region_wait *w = calloc(1, sizeof(*w));
	if (!w)
		return false; /* the local region answers */
	w->h.ops = &wait_ops;
	w->r = r;
	w->c = c;
	w->sr = *sr;
	w->probe = lotad_region_probe_start(r->regions, lotad_worker_upstream(lotad_conn_worker(c)),
	                                    sr->bucket, probe_done, w);
	if (!w->probe) {
		free(w);
		return false;
	}
	w->ar = *ar;
	memset(ar, 0, sizeof(*ar)); /* taken over */
	lotad_conn_attach(c, &w->h);
	return true;
}

/* ------------------------------------------------------- request start --- */

void lotad_router_request(lotad_conn *c, void *router)
{
	lotad_router *r = router;
	const lota_http_request *req = lotad_conn_request(c);
	const lotad_settings *s = lotad_worker_settings(lotad_conn_worker(c));
	lotad_s3req sr;
	const char *names[2 * LOTAD_MAX_NAMES + 1];
	size_t nn = 0;
	char uphost[LOTAD_MAX_NAMES + 1][300];

	if (!req->path.len || req->path.ptr[0] != '/') {
		lotad_conn_set_op(c, LOTAD_OP_OTHER);
		lotad_conn_send_error(c, 400, "InvalidURI", "Couldn't parse the specified URI.",
		                      true);
		return;
	}
	for (size_t i = 0; i < s->num_endpoint_names && nn < LOTAD_MAX_NAMES; i++)
		names[nn++] = s->endpoint_names[i];
	/* The upstream's own host names (without port: its URL's and the redirect names),
	 * for redirected virtual-hosted requests, only where the upstream reads them so:
	 * lotad must read a request as the upstream does, or a write to one bucket would be
	 * taken for a write to another. */
	if (s->upstream_vhost) {
		for (size_t i = 0; i <= s->num_redirect_names && i <= LOTAD_MAX_NAMES; i++) {
			const char *n = i == 0 ? s->upstream_hostport : s->redirect_names[i - 1];
			lota_str up = {n, strlen(n)}, h;
			long port;
			(void)lotad_hostport_split(up, &h, &port);
			snprintf(uphost[i], sizeof(uphost[i]), "%.*s", (int)h.len, h.ptr);
			names[nn++] = uphost[i];
		}
	}
	lotad_classify(req, names, nn, &sr);
	lotad_conn_set_op(c, sr.op);
	lotad_conn_set_bucket(c, sr.bucket.ptr, sr.bucket.len);

	lotad_auth_result ar;
	memset(&ar, 0, sizeof(ar));
	int rc = lotad_auth_check(&s->auth, req, (int64_t)time(NULL), &ar);
	if (rc < 0 && ar.mode != LOTAD_AUTH_REFUSED) {
		ar.mode = LOTAD_AUTH_REFUSED;
		ar.http_status = 500;
		ar.s3_code = "InternalError";
		ar.message = "We encountered an internal error. Please try again.";
	}
	if (ar.mode == LOTAD_AUTH_REFUSED) {
		lotad_metrics_auth_refused(ar.s3_code ? ar.s3_code : "AccessDenied");
		lota_log_info("auth: refused %.*s: %s", (int)req->method.len, req->method.ptr,
		              ar.s3_code ? ar.s3_code : "?");
		lotad_conn_send_error(c, ar.http_status ? ar.http_status : 403,
		                      ar.s3_code ? ar.s3_code : "AccessDenied",
		                      ar.message ? ar.message : "Access Denied",
		                      !lotad_conn_body_done(c));
		lotad_auth_result_cleanup(&ar);
		return;
	}
	if (route_region(r, c, &sr, &ar))
		return; /* the bucket's home is being probed: dispatch follows */
	dispatch(r, c, &sr, &ar);
}
