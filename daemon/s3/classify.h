/*
 * classify.h - what an S3 request is: bucket and key (path-style or virtual-hosted),
 * the operation (for metrics), and whether it is a plain GET/HEAD of an object, the
 * only kind the cache will ever serve (docs/architecture.md §3.3).
 *
 * Pure functions over views into the request; nothing is allocated.
 */
#ifndef LOTAD_CLASSIFY_H
#define LOTAD_CLASSIFY_H

#include <stdbool.h>

#include <lota/http.h>

#include "metrics.h"

typedef struct lotad_s3req {
	lotad_op op;
	lota_str bucket;  /* empty for ListBuckets */
	lota_str key;     /* percent-encoded as sent, without the leading '/' */
	bool vhost;       /* the bucket came from the Host header */
	bool object_read; /* GET/HEAD of an object without a subresource */
	/* The upstream of the bucket's home region (daemon/region), set by the router; NULL:
	 * the local one (the worker's settings). */
	const struct lotad_settings *up;
	int region; /* its index (0: local) */
	/* the home was remembered (not probed for this request): an answer that the bucket
	 * is not there may mean it moved */
	bool region_remembered;
	int auth_status; /* the cache's authorizing HEAD's status when it was not a 200 */
} lotad_s3req;

/* host: the Host header value (port allowed); names: lotad's endpoint names plus the
 * upstream's host name (for redirected virtual-hosted requests). */
void lotad_classify(const lota_http_request *req, const char *const *names, size_t num_names,
                    lotad_s3req *out);

/* The bucket of a virtual-hosted Host ("b.name[:port]" for one of names), or an empty
 * view when the Host is one of the names itself or no name matches. */
lota_str lotad_vhost_bucket(lota_str host, const char *const *names, size_t num_names);

#endif
