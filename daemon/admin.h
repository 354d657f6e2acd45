/*
 * admin.h - the admin listener: GET /healthz and GET /metrics (Prometheus text) on a
 * separate address, served from the main thread's loop. One request per connection.
 */
#ifndef LOTAD_ADMIN_H
#define LOTAD_ADMIN_H

#include "net/loop.h"

typedef struct lotad_admin lotad_admin;

/* Listen on host:port (already parsed). NULL with a logged reason on failure. */
lotad_admin *lotad_admin_new(lotad_loop *loop, const char *host, int port);
void lotad_admin_free(lotad_admin *a); /* NULL ok */
/* After a shutdown starts /healthz answers 503 "shutting down". */
void lotad_admin_set_draining(lotad_admin *a);

#endif
