/*
 * router.c - the request path after the HTTP front end (see router.h), and the glue
 * between the proxy and the cache: the proxy's hooks call the cache, the cache's way to
 * start a proxy calls the proxy.
 */
#include "s3/router.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include <lota/log.h>

#include "cache/cache.h"
#include "metrics.h"
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

/* The cache hands a request to the proxy. */
static void cache_to_proxy(void *ud, lotad_conn *c, const lotad_s3req *sr, lotad_auth_result *auth,
                           const char *cache_label, bool fill_after)
{
	lotad_router *r = ud;
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
}

void lotad_router_worker_stop(lotad_worker *w, void *router)
{
	lotad_router *r = router;
	lotad_cache_worker_stop(r->cache, w);
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
	if (sr.object_read)
		lotad_cache_start(r->cache, c, &sr, &ar);
	else
		lotad_proxy_start(c, &sr, &ar, NULL, &r->proxy_hooks);
}
