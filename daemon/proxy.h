/*
 * proxy.h - the request path after the HTTP front end: classify, authenticate, then
 * hand the request to a handler. Today every request is proxied to the upstream;
 * lotad_request_start is the single point where GET/HEAD of an object
 * (lotad_s3req.object_read) will be handed to the cache instead.
 */
#ifndef LOTAD_PROXY_H
#define LOTAD_PROXY_H

#include "auth.h"
#include "classify.h"
#include "server.h"

/* Called by the server once a request head is parsed. Attaches a handler to c or
 * answers right away (authentication failure, bad request). */
void lotad_request_start(lotad_conn *c);

/* Proxy the request on c to the upstream, streaming both ways. Takes over *auth (its
 * reference is released when the request ends). Used for every request today and by
 * the cache for misses and bypasses later. */
void lotad_proxy_start(lotad_conn *c, const lotad_s3req *sr, lotad_auth_result *auth);

#endif
