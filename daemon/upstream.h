/*
 * upstream.h - a libcurl multi handle driven by a lotad loop: curl's sockets are
 * registered in the loop's epoll (CURLMOPT_SOCKETFUNCTION) and curl's single timeout is
 * a loop timer (CURLMOPT_TIMERFUNCTION). One per worker, so connections to the upstream
 * are reused by every request of that worker.
 *
 * A transfer is an easy handle whose CURLOPT_PRIVATE points at a lotad_xfer; when curl
 * finishes it, xfer->done runs from the loop (never from inside a curl callback), so the
 * done function may remove and clean up the easy handle.
 */
#ifndef LOTAD_UPSTREAM_H
#define LOTAD_UPSTREAM_H

#include <curl/curl.h>

#include "loop.h"

typedef struct lotad_upstream lotad_upstream;
typedef struct lotad_xfer lotad_xfer;

struct lotad_xfer {
	CURL *easy;
	void (*done)(lotad_xfer *x, CURLcode rc);
};

lotad_upstream *lotad_upstream_new(lotad_loop *loop);
void lotad_upstream_free(lotad_upstream *u); /* NULL ok; transfers must be removed */

/* Start x->easy (CURLOPT_PRIVATE is set to x here). Returns 0 or -EIO. */
int lotad_upstream_add(lotad_upstream *u, lotad_xfer *x);
/* Stop a transfer (finished or not). Safe outside curl callbacks only. */
void lotad_upstream_remove(lotad_upstream *u, lotad_xfer *x);

#endif
