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
/* Answer GET `path` (a static string) with what render returns (a malloc'd body of *len
 * bytes, freed by the admin; NULL = 500) as content type ctype. The parts above the
 * admin (the cluster's GET /cluster) register here at start; at most 4 routes. */
typedef char *(*lotad_admin_render_fn)(void *ud, size_t *len);
void lotad_admin_add_route(lotad_admin *a, const char *path, const char *ctype,
                           lotad_admin_render_fn render, void *ud);

#endif
