/*
 * region.h - cross-region reads: the upstream endpoints of lotad's regions and the home
 * region of each bucket (docs/architecture.md "Cross-region").
 *
 * lotad knows one endpoint per region: the local one (--upstream, whose region is
 * --region) and each --region-upstream REGION=URL. Every region has its own copy of the
 * process settings in which the upstream (URL, host, signing region) is that region's,
 * so the cache and the proxy, given a region's settings, send, sign and presign for that
 * region without knowing regions exist.
 *
 * A bucket's home region is learned by a probe: an anonymous HEAD /BUCKET to every
 * region at once (nothing is signed, so lotad vouches for nothing): the region named by
 * an x-amz-bucket-region header in any answer wins (S3 names the home region there, also
 * on 301 and 403); otherwise the first region (the local one first, then in the order
 * configured) whose answer is not 404 holds the bucket. When every region answers 404
 * (or fails), the bucket has no home: its requests go to the local region, which gives
 * its own answer (NoSuchBucket), and nothing is remembered. A home is remembered for
 * ttl_ms; lotad_regions_forget drops it when an answer says the bucket is not (or no
 * longer) there, so a bucket that moved is found again by the next request.
 *
 * Thread safety: the table is shared by the workers (one mutex); a probe belongs to the
 * worker whose upstream runs it.
 */
#ifndef LOTAD_REGION_H
#define LOTAD_REGION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <lota/common.h>

#include "net/upstream.h"
#include "settings.h"

#define LOTAD_MAX_REGIONS     16
#define LOTAD_REGION_NAME_MAX 63

typedef struct lotad_regions lotad_regions;

/*
 * Parse one region_upstream value "REGION=URL": REGION 1..63 of [a-z0-9-] (the form of S3
 * region names), URL http:// or https:// host[:port] with no path. name (64 bytes) and url
 * (url_cap) get the two parts. Returns 0, or -EINVAL with the reason in err.
 */
int lotad_region_spec_parse(const char *spec, char *name, char *url, size_t url_cap, char *err,
                            size_t err_cap) LOTA_WUR;

/* A table whose region 0 is the local one: local (copied) and its name. NULL on ENOMEM. */
lotad_regions *lotad_regions_new(const lotad_settings *local, const char *local_name,
                                 uint64_t ttl_ms);
void lotad_regions_free(lotad_regions *t); /* NULL ok */

/* Add a region whose settings up (copied; its upstream is the region's endpoint) and name.
 * Returns 0, -EEXIST (that name is there), -ENOSPC (LOTAD_MAX_REGIONS). Before the workers
 * run only. */
int lotad_regions_add(lotad_regions *t, const char *name, const lotad_settings *up) LOTA_WUR;

size_t lotad_regions_count(const lotad_regions *t);
const char *lotad_regions_name(const lotad_regions *t, size_t i);
/* The settings to reach region i (0: the local one). */
const lotad_settings *lotad_regions_settings(const lotad_regions *t, size_t i);

/* The remembered home of bucket at now_ms: its region index, or -1 when unknown or
 * expired. */
int lotad_regions_lookup(lotad_regions *t, lota_str bucket, uint64_t now_ms);
/* Remember (or refresh) bucket's home. */
void lotad_regions_learn(lotad_regions *t, lota_str bucket, size_t region, uint64_t now_ms);
/* Forget bucket's home (an answer said it is not there). */
void lotad_regions_forget(lotad_regions *t, lota_str bucket);

/* Counters of region i: a request routed there, bytes received from it. */
void lotad_regions_count_request(lotad_regions *t, size_t i);
void lotad_regions_count_bytes(lotad_regions *t, size_t i, uint64_t n);
void lotad_regions_count_remote_hit(lotad_regions *t, size_t i);
/* Register the table's lines with /metrics (lotad_metrics_add_provider), and count the
 * body bytes of every finished upstream transfer for the region its URL names
 * (lotad_upstream_set_observer). */
void lotad_regions_metrics(lotad_regions *t);

/*
 * The decision of a probe from the regions' answers (exposed for tests): status[i] the
 * HTTP status region i answered (0: no answer), named[i] the region index its
 * x-amz-bucket-region header named (-1: none, or not a configured region). Returns the
 * home's index, or -1 when no region holds the bucket.
 */
int lotad_regions__decide(const int *status, const int *named, size_t n);

/* The index of the region called name (a view), or -1. */
int lotad_regions_find(const lotad_regions *t, lota_str name);

/*
 * Probe bucket's home (see above) on the worker's upstream u. done(ud, region) runs from
 * the loop once every region answered: region is the home's index (learned in the table)
 * or -1. Returns the probe (cancel it with lotad_region_probe_cancel before done ran;
 * after done it is freed by itself), or NULL when it cannot start.
 */
typedef struct lotad_region_probe lotad_region_probe;
lotad_region_probe *lotad_region_probe_start(lotad_regions *t, lotad_upstream *u, lota_str bucket,
                                             void (*done)(void *ud, int region), void *ud);
void lotad_region_probe_cancel(lotad_region_probe *p); /* NULL ok; done never runs */

#endif
