/*
 * upstream.h - a libcurl multi handle driven by a lotad loop: curl's sockets are
 * registered in the loop's epoll (CURLMOPT_SOCKETFUNCTION) and curl's single timeout is
 * a loop timer (CURLMOPT_TIMERFUNCTION). One per worker, so connections to the upstream
 * are reused by every request of that worker.
 *
 * A transfer is an easy handle whose CURLOPT_PRIVATE points at a lotad_xfer; when curl
 * finishes it, xfer->done runs from the loop (never from inside a curl callback), so the
 * done function may remove and clean up the easy handle.
 *
 * The connection pool is shared by every transfer of the worker, whoever the client, so a
 * connection goes back to it only when the end of its last response is certain. The rule
 * (here, for every transfer lotad makes):
 *   - an answer to a HEAD (sent with CURLOPT_NOBODY) other than 2xx or 304 closes the
 *     connection: such answers may carry a body anyway (radosgw sends one with a 400),
 *     and curl, reading no body for a HEAD, would leave it for the next request to read
 *     as its response (lotad_xfer_status, called by every header callback);
 *   - a transfer stopped before curl finished it closes its connection;
 *   - bytes waiting on a pooled connection when a request is about to go out on it are
 *     what an earlier response sent past its framing: the connection is shut down, so
 *     curl's send fails and curl retries the request on a fresh connection (plain http;
 *     with TLS such bytes cannot be told from the protocol's own records).
 * curl (7.88) itself closes a connection when a transfer fails or when excess bytes came
 * in the same read as the end of a body; it keeps it when they come later, or with a
 * HEAD or a chunked body.
 */
#ifndef LOTAD_UPSTREAM_H
#define LOTAD_UPSTREAM_H

#include <curl/curl.h>

#include <lota/common.h>
#include <lota/request.h>

#include "net/loop.h"

typedef struct lotad_upstream lotad_upstream;
typedef struct lotad_xfer lotad_xfer;

struct lotad_xfer {
	CURL *easy;
	void (*done)(lotad_xfer *x, CURLcode rc);
	lotad_upstream *u; /* lotad_upstream's: set while curl runs the transfer */
};

/* The status of a response head of x, from the header callback at the head's blank line
 * (1xx heads are ignored): applies the reuse rule above. */
void lotad_xfer_status(lotad_xfer *x, int status);

lotad_upstream *lotad_upstream_new(lotad_loop *loop);
void lotad_upstream_free(lotad_upstream *u); /* NULL ok; transfers must be removed */

/* Start x->easy (CURLOPT_PRIVATE is set to x here). Returns 0 or -EIO. */
int lotad_upstream_add(lotad_upstream *u, lotad_xfer *x);
/* Have curl start the transfers just added now (send their requests) rather than at the
 * loop's next timer turn, so that work done next overlaps their round trip. Does nothing
 * inside curl's callbacks. A transfer that fails at once may finish (its done function
 * run) before this returns. */
void lotad_upstream_kick(lotad_upstream *u);
/* Stop a transfer (finished or not). Safe outside curl callbacks only. */
void lotad_upstream_remove(lotad_upstream *u, lotad_xfer *x);

/* An observer of every finished transfer of every worker: the URL curl used and the body
 * bytes it received (the regions count the bytes each region's endpoint sent). Process-
 * wide, like the metrics it feeds; set before the workers run. NULL: none. */
typedef void (*lotad_upstream_observer)(void *ud, const char *url, uint64_t body_bytes);
void lotad_upstream_set_observer(lotad_upstream_observer fn, void *ud);

/*
 * The header list curl sends for a request lotad makes upstream (the proxy's, the cache's
 * authorizing HEAD, fills, direct reads), from its description r (lota/request.h): every
 * field as lota_request_header_line gives it ("Name: value", or curl's "Name;" for an
 * empty value), in r's order, but Content-Length, which curl writes itself from the
 * upload size it is given (r carries it only when a signature covers it); then nothing
 * of curl's own: "Expect:" (lotad answers 100-continue itself) and, when r has no Accept,
 * "Accept:". Appends to *l; returns 0 or -ENOMEM.
 */
int lotad_curl_headers(struct curl_slist **l, const lota_request *r);

#endif
