/*
 * proxy.h - the request path after the HTTP front end: classify, authenticate, then
 * hand the request to a handler: GET/HEAD of an object (lotad_s3req.object_read) goes to
 * the cache (cache.h) when there is one, everything else to the upstream.
 */
#ifndef LOTAD_PROXY_H
#define LOTAD_PROXY_H

#include "net/server.h"
#include "s3/auth.h"
#include "s3/classify.h"

/* Called by the server once a request head is parsed. Attaches a handler to c or
 * answers right away (authentication failure, bad request). */
void lotad_request_start(lotad_conn *c);

/* Proxy the request on c to the upstream, streaming both ways. Takes over *auth (its
 * reference is released when the request ends). cache_label: the x-lota-cache value
 * added to the response ("bypass", "miss"; NULL for requests that are not object
 * reads). */
void lotad_proxy_start(lotad_conn *c, const lotad_s3req *sr, lotad_auth_result *auth,
                       const char *cache_label);

/* The same for a cold read the cache sends straight to the upstream (x-lota-cache:
 * miss): the upstream's 200/206 authorizes it and carries its bytes; once it is complete,
 * lotad_cache_fill_from_response() fills the extents it touched. */
void lotad_proxy_start_filling(lotad_conn *c, const lotad_s3req *sr, lotad_auth_result *auth);

/* Shared by every request lotad makes upstream. */
struct curl_slist;
/* Hop-by-hop headers are never relayed, in either direction. */
bool lotad_hop_by_hop(lota_str name);
/* Append "Name: value" (curl's "Name;" for an empty value) / a raw line to a header list.
 * 0, -E2BIG for a line above LOTAD_MAX_HEAD_BYTES, -ENOMEM. */
int lotad_curl_header(struct curl_slist **l, lota_str name, lota_str value);
int lotad_curl_line(struct curl_slist **l, const char *line);

#endif
