/*
 * cache.c - the cache object (see cache.h): creation and end, the way to the proxy,
 * counters and metrics. The rest of cache/ is one idea a file (cache-internal.h).
 */
#include "cache/cache-internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <lota/log.h>

void lotad_cache_set_proxy(lotad_cache *ca, lotad_cache_proxy_fn fn, void *ud)
{
	ca->proxy = fn;
	ca->proxy_ud = ud;
}

void lotad_cache_set_label_hook(lotad_cache *ca, lotad_cache_label_fn fn, void *ud)
{
	ca->label_hook = fn;
	ca->label_ud = ud;
}

void lotad_cache_set_forward(lotad_cache *ca, lotad_cache_forward_fn fn, void *ud)
{
	ca->forward = fn;
	ca->forward_ud = ud;
}

bool lotad_cache_enabled(const lotad_cache *ca)
{
	return ca->store != NULL || ca->cluster != NULL;
}

void lotad_cache_count_upstream_bytes(lotad_cache *ca, uint64_t n)
{
	atomic_fetch_add_explicit(&ca->served_upstream, n, memory_order_relaxed);
}

size_t lotad_cache_metrics(char *out, size_t cap, void *cache)
{
	const lotad_cache *ca = cache;
#define U(v) ((unsigned long long)atomic_load_explicit(&(v), memory_order_relaxed))
	/* an owner's fills for members are this node's fills too */
	uint64_t cl_started, cl_failed, cl_bytes;
	lotad_cluster_fill_counts(ca->cluster, &cl_started, &cl_failed, &cl_bytes);
	int n = snprintf(
	    out, cap,
	    "# HELP lota_cache_hits_total GET/HEAD requests answered from the cache.\n"
	    "# TYPE lota_cache_hits_total counter\n"
	    "lota_cache_hits_total %llu\n"
	    "# HELP lota_cache_misses_total GET/HEAD requests of cacheable objects not cached.\n"
	    "# TYPE lota_cache_misses_total counter\n"
	    "lota_cache_misses_total %llu\n"
	    "# HELP lota_cache_peer_hits_total GET requests of a cluster node answered first "
	    "from another member's cache (x-lota-cache: peer).\n"
	    "# TYPE lota_cache_peer_hits_total counter\n"
	    "lota_cache_peer_hits_total %llu\n"
	    "# HELP lota_cache_bypass_total GET/HEAD requests proxied without the cache.\n"
	    "# TYPE lota_cache_bypass_total counter\n"
	    "lota_cache_bypass_total %llu\n"
	    "# HELP lota_range_requests_total GET/HEAD requests of cacheable objects with a "
	    "Range.\n"
	    "# TYPE lota_range_requests_total counter\n"
	    "lota_range_requests_total %llu\n"
	    "# HELP lota_bytes_served_total Object bytes sent to clients by source.\n"
	    "# TYPE lota_bytes_served_total counter\n"
	    "lota_bytes_served_total{source=\"cache\"} %llu\n"
	    "lota_bytes_served_total{source=\"upstream\"} %llu\n"
	    "lota_bytes_served_total{source=\"peer\"} %llu\n"
	    "# HELP lota_cache_fills_avoided_total Extents read from the member that owns them "
	    "instead of being filled here.\n"
	    "# TYPE lota_cache_fills_avoided_total counter\n"
	    "lota_cache_fills_avoided_total %llu\n"
	    "# HELP lota_cache_peer_failovers_total Reads from an owner (or the next candidate) "
	    "that "
	    "failed or stalled, finished from the next candidate or the upstream.\n"
	    "# TYPE lota_cache_peer_failovers_total counter\n"
	    "lota_cache_peer_failovers_total %llu\n"
	    "# HELP lota_fill_bytes_total Bytes written into the cache by fills.\n"
	    "# TYPE lota_fill_bytes_total counter\n"
	    "lota_fill_bytes_total %llu\n"
	    "# HELP lota_cache_fills_total Fills started and failed (nothing published).\n"
	    "# TYPE lota_cache_fills_total counter\n"
	    "lota_cache_fills_total{result=\"started\"} %llu\n"
	    "lota_cache_fills_total{result=\"failed\"} %llu\n"
	    "# HELP lota_cache_direct_reads_total Parts of responses read from the upstream "
	    "because the cache could not give them.\n"
	    "# TYPE lota_cache_direct_reads_total counter\n"
	    "lota_cache_direct_reads_total %llu\n"
	    "# HELP lota_cache_fill_transfers Ranged GETs of fills (this node's chains) running "
	    "now.\n"
	    "# TYPE lota_cache_fill_transfers gauge\n"
	    "lota_cache_fill_transfers %llu\n"
	    "# HELP lota_cache_fill_transfers_max The most ranged GETs of fills running at once "
	    "since start.\n"
	    "# TYPE lota_cache_fill_transfers_max gauge\n"
	    "lota_cache_fill_transfers_max %llu\n"
	    "# HELP lota_cache_preread_total Hits whose first bytes were read while the "
	    "authorizing HEAD was in flight: used (the answer named that version) or dropped; "
	    "answered_first: the HEAD was answered during its own send (nothing read).\n"
	    "# TYPE lota_cache_preread_total counter\n"
	    "lota_cache_preread_total{result=\"used\"} %llu\n"
	    "lota_cache_preread_total{result=\"dropped\"} %llu\n"
	    "lota_cache_preread_total{result=\"answered_first\"} %llu\n",
	    U(ca->hits), U(ca->misses), U(ca->peer_hits), U(ca->bypasses), U(ca->range_reqs),
	    U(ca->served_cache), U(ca->served_upstream), U(ca->served_peer), U(ca->fills_avoided),
	    U(ca->peer_failovers), U(ca->fill_bytes) + (unsigned long long)cl_bytes,
	    U(ca->fills_started) + (unsigned long long)cl_started,
	    U(ca->fills_failed) + (unsigned long long)cl_failed, U(ca->direct_reads),
	    U(ca->fill_xfers), U(ca->fill_xfers_max), U(ca->preread[0]), U(ca->preread[1]),
	    U(ca->preread[2]));
#undef U
	if (n < 0 || (size_t)n >= cap)
		return n < 0 ? 0 : (size_t)n;
	return (size_t)n + cache_foreign_metrics(out + n, cap - (size_t)n, ca);
}

lotad_cache *lotad_cache_new(lotad_store *store, const lotad_cache_config *cfg)
{
	lotad_cache *ca = calloc(1, sizeof(*ca));
	if (!ca)
		return NULL;
	pthread_mutex_init(&ca->mu, NULL);
	lotad_list_init(&ca->jobs);
	ca->store = store;
	ca->cfg = *cfg;
	if (!ca->cfg.extent_size)
		ca->cfg.extent_size = 64ull << 20;
	/* Without the table (or the grants) the cache still works, only less well. */
	if (store)
		ca->otab = calloc(OBJ_SLOTS, sizeof(*ca->otab));
	if (ca->otab) {
		int n = cache_objtab_rebuild(ca);
		if (n > 0)
			lota_log_info("cache: %d extents on disk name the objects remembered", n);
	}
	if (store && ca->cfg.metadata_ttl_ms)
		(void)cache_grants_new(ca);
	return ca;
}

void lotad_cache_set_cluster(lotad_cache *ca, struct lotad_cluster *cl)
{
	ca->cluster = cl;
	/* a front node without a store reads through the cluster: it needs the table too */
	if (cl && !ca->otab)
		ca->otab = calloc(OBJ_SLOTS, sizeof(*ca->otab));
}

void lotad_cache_free(lotad_cache *ca)
{
	if (!ca)
		return;
	for (int i = 0; i < 6000 && atomic_load(&ca->commits_running) > 0; i++)
		usleep(5000);
	free(ca->otab);
	cache_grants_free(ca);
	pthread_mutex_destroy(&ca->mu);
	free(ca);
}
