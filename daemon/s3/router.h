/*
 * router.h - the request path after the HTTP front end: classify, authenticate, then
 * hand the request to a handler: a GET/HEAD of an object (lotad_s3req.object_read) to the
 * cache, everything else to the proxy.
 *
 * The router is the one place that knows both the cache and the proxy: it is the
 * server's request handler (main.c gives lotad_router_request to the workers), it hands
 * the cache the way to start a proxy, and it gives the proxy the cache's hooks (writes
 * that drop extents, answers that fill them, bytes counted).
 */
#ifndef LOTAD_ROUTER_H
#define LOTAD_ROUTER_H

#include "cache/cache.h"
#include "net/server.h"
#include "region/region.h"
#include "s3/proxy.h"

typedef struct lotad_router {
	lotad_cache *cache;            /* object reads go there */
	lotad_proxy_hooks proxy_hooks; /* the proxy's reports, to the cache */
	lotad_proxy_tee tee;           /* foreign-key reads' answers, to the cache */
	/* the regions (NULL or one region: every bucket is the local upstream's); set by
	 * main before the workers run */
	lotad_regions *regions;
} lotad_router;

/* Set up r (storage owned by the caller; it and the cache must outlive the workers) and
 * give the cache the way to start a proxy. */
void lotad_router_init(lotad_router *r, lotad_cache *cache);

/* lotad_server_hooks.request (ud: the router): attaches a handler to c or answers right
 * away (authentication failure, bad request). */
void lotad_router_request(lotad_conn *c, void *router);
/* lotad_server_hooks.worker_stop (ud: the router): stops the cache's background fills of
 * the worker. */
void lotad_router_worker_stop(lotad_worker *w, void *router);

#endif
