/*
 * proxy.h - the streaming S3 proxy: a client request sent on to the upstream and its
 * answer relayed back, both ways streamed with backpressure, never buffered whole.
 *
 * The proxy names no module above it: what the cache wants to know of the transfers it
 * relays (a write that replaced an object, a cold read whose answer can fill extents,
 * object bytes relayed) it reports through the hooks it is given (the router gives the
 * cache's).
 */
#ifndef LOTAD_PROXY_H
#define LOTAD_PROXY_H

#include <stdbool.h>
#include <stdint.h>

#include "net/server.h"
#include "s3/auth.h"
#include "s3/classify.h"

/* Reports of finished transfers. Each may be NULL; ud is given back. Called on the
 * worker's loop, outside curl callbacks (upstream_bytes: from curl's write callback). */
typedef struct lotad_proxy_hooks {
	/* A PUT, DELETE, CopyObject or CompleteMultipartUpload of bucket/key (percent-encoded
	 * as sent) succeeded. */
	void (*object_written)(void *ud, lota_str bucket, lota_str key);
	/* A cold read started by lotad_proxy_start_filling() got this complete 200/206
	 * (header values as received; query: the request's). */
	void (*filled_response)(void *ud, lotad_worker *w, const lotad_s3req *sr,
	                        const lotad_auth_result *auth, lota_str query, lota_str etag,
	                        lota_str version_id, lota_str content_length,
	                        lota_str content_range);
	/* n body bytes of a 2xx answer to an object read (cache_label set) went to the
	 * client. */
	void (*upstream_bytes)(void *ud, uint64_t n);
	/* The upstream's final status for sr (NULL: not wanted): the regions learn from it
	 * that a bucket is not where they remembered it. */
	void (*upstream_status)(void *ud, const lotad_s3req *sr, int status);
	void *ud;
} lotad_proxy_hooks;

/*
 * A cached GET/HEAD signed with a key lotad does not hold (docs/architecture.md §3.4,
 * second form): the client's own request is forwarded unchanged but for an unsigned
 * If-None-Match lotad adds, and the answer is the cache's to judge. Each function is
 * called on the worker's loop; ud is given back.
 */
typedef struct lotad_proxy_tee {
	/* The head of the final answer is complete (status; header values as received;
	 * fields: its header lines, hop-by-hop ones dropped, each ending in CRLF; query: the
	 * request's; no_store: the client said Cache-Control: no-cache; auth: the client's
	 * authentication, its key when lotad holds it). Returns a sink for
	 * its body bytes, or NULL. */
	void *(*begin)(void *ud, lotad_worker *w, const lotad_s3req *sr,
	               const lotad_auth_result *auth, lota_str query, bool is_head, bool no_store,
	               int status, lota_str etag, lota_str version_id, lota_str content_length,
	               lota_str content_range, lota_str fields);
	/* n body bytes the client was sent, in order. */
	void (*write)(void *sink, const char *buf, size_t n);
	/* The body ended (complete: every byte the upstream announced came), or the transfer
	 * stopped: the sink is done with. */
	void (*end)(void *sink, bool complete);
	/* The upstream answered 304 to the If-None-Match: inm lotad added: the client is
	 * authorized and the copy of that ETag current. Takes over c and *auth (nothing was
	 * sent to the client). */
	void (*not_modified)(void *ud, lotad_conn *c, const lotad_s3req *sr,
	                     lotad_auth_result *auth, lota_str inm);
	void *ud;
} lotad_proxy_tee;

/* Proxy the request on c to the upstream, streaming both ways. Takes over *auth (its
 * reference is released when the request ends). cache_label: the x-lota-cache value
 * added to the response ("bypass", "miss"; NULL for requests that are not object
 * reads). hooks (NULL: none) must outlive the request. */
void lotad_proxy_start(lotad_conn *c, const lotad_s3req *sr, lotad_auth_result *auth,
                       const char *cache_label, const lotad_proxy_hooks *hooks);

/* The same for a cold read the cache sends straight to the upstream (x-lota-cache:
 * miss): the upstream's 200/206 authorizes it and carries its bytes; once it is complete,
 * hooks->filled_response fills the extents it touched. */
void lotad_proxy_start_filling(lotad_conn *c, const lotad_s3req *sr, lotad_auth_result *auth,
                               const lotad_proxy_hooks *hooks);

/* Forward a cached read signed with a key lotad does not hold (auth->mode FORWARD) as
 * the client signed it, adding If-None-Match: if_none_match (unsigned; empty: nothing
 * added), and report its answer to tee (which must outlive the request). x-lota-cache:
 * miss for a 200/206, bypass otherwise. */
void lotad_proxy_start_tee(lotad_conn *c, const lotad_s3req *sr, lotad_auth_result *auth,
                           lota_str if_none_match, bool no_store, const lotad_proxy_tee *tee,
                           const lotad_proxy_hooks *hooks);

#endif
