/*
 * cluster-internal.h - what the files of daemon/cluster/ share: the member table and the
 * cluster object (members.c), the blocking peer-socket helpers (wire.c), the prober
 * (probe.c) and the peer server (serve.c).
 */
#ifndef LOTAD_CLUSTER_INTERNAL_H
#define LOTAD_CLUSTER_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>

#include <openssl/ssl.h>

#include <lota/http.h>
#include <lota/peer.h>

#include "cluster/cluster.h"

typedef struct member {
	char id[LOTA_PLACEMENT_ID_MAX + 1];
	char host[256];
	int port;
	bool self;
	bool up;
	int misses;
	int64_t since_s; /* wall clock of the last change of state */
	uint64_t used_bytes, capacity_bytes;
	bool seen; /* DNS refresh: still in the answer */
	/* the admin address it advertised in its last answer ("" unknown; kept while it is
	 * down), and whether a bad one was logged (once, until it sends a good one) */
	char admin[LOTAD_CLUSTER_ADMIN_MAX + 1];
	bool admin_bad_logged;
} member;

/* The health answer's header of the member's admin address (HOST:PORT). */
#define LOTAD_PEER_H_ADMIN "X-Lota-Peer-Admin"

/* What a member's health answer says. */
typedef struct lotad_probe_answer {
	uint64_t used_bytes, capacity_bytes;
	char admin[LOTAD_CLUSTER_ADMIN_MAX + 1]; /* checked (lotad_cluster_admin_parse), or "" */
	bool admin_bad;                          /* it sent one that is not HOST:PORT */
	char admin_raw[64];                      /* its start, escaped, for the log */
} lotad_probe_answer;

#define LOTAD_CLUSTER_RANK_MAX 8 /* candidates looked at for one extent */

/* Peer request results, for metrics. */
enum { RES_OK, RES_MISS, RES_REFUSED, RES_ERROR, RES__COUNT };
enum { DIR_IN, DIR_OUT, DIR__COUNT };

struct lotad_cluster {
	lotad_cluster_config cfg;
	lotad_store *store;
	lota_peer_auth *auth;
	pthread_mutex_t lock; /* members, n, placement */
	member members[LOTAD_CLUSTER_MAX_MEMBERS];
	size_t n;
	lota_placement *placement; /* members up with capacity > 0 */
	int listen_fd;
	SSL_CTX *tls_srv, *tls_cli; /* peer TLS (tls.c), or NULL for plain HTTP */
	int stop_fd;                /* eventfd: readable once the cluster stops */
	atomic_bool stopping;
	pthread_t prober, acceptor;
	bool started;
	atomic_int conns;
	pthread_mutex_t conns_lock;
	pthread_cond_t conns_cv;
	atomic_ullong requests[DIR__COUNT][RES__COUNT];
	atomic_ullong bytes[DIR__COUNT];
	atomic_ullong fills, fills_from_peer;
	/* owner fills as the cache counts its own: started, failed, bytes written */
	atomic_ullong fills_started, fills_failed, fill_bytes;
};

/* Rebuild the placement from the member table; the caller holds c->lock. */
void lotad_cluster__replace_placement(lotad_cluster *c);
/* The probe result of member `id`: up with what it answered, or a miss (a NULL). */
void lotad_cluster__probe_result(lotad_cluster *c, const char *id, const lotad_probe_answer *a);
/* This node's cache figures (0, 0 without a store). */
void lotad_cluster__own_figures(lotad_cluster *c, uint64_t *used, uint64_t *capacity);

/* --- tls.c: peer TLS --- */
/* The key file must be a regular file of this user that nobody else may read. */
int lotad_cluster__tls_key_check(const char *path, char *err, size_t cap);
/* A context for the listener (server) or this node's peer clients from cfg's files;
 * err names the config key at fault. */
int lotad_cluster__tls_ctx(const lotad_cluster_config *cfg, bool server, SSL_CTX **out, char *err,
                           size_t cap);
/* Make ssl's verification require that the peer's certificate names host. */
int lotad_cluster__tls_verify_host(SSL *ssl, const char *host);

/* --- wire.c: blocking sockets with timeouts --- */
typedef struct lotad_peer_wire {
	int fd;
	SSL *ssl; /* with peer TLS */
} lotad_peer_wire;
/* Connect to host:port within timeout_ms (and, with peer TLS, complete the handshake,
 * the member's certificate checked against host); the socket then has send/receive
 * timeouts of timeout_ms. Returns 0 or -errno (-EPROTO: the handshake failed). */
int lotad_peer_connect(lotad_cluster *c, const char *host, int port, uint64_t timeout_ms,
                       lotad_peer_wire *w);
/* Send all of buf. Returns 0 or -errno (-EAGAIN: the timeout passed). */
int lotad_peer_send_all(lotad_peer_wire *w, const void *buf, size_t len);
/* Read a response head into buf (cap): returns the head's length (bytes after it, up to
 * *have, are body), or -errno / a LOTA_E_HTTP code. */
int lotad_peer_read_response(lotad_peer_wire *w, char *buf, size_t cap, size_t *have,
                             lota_http_response *r, lota_http_header *h, size_t nh);
/* Close w (a no-op on a wire that never connected). */
void lotad_peer_close(lotad_peer_wire *w);
/* The value of header `name` as an unsigned number, or def when absent or bad. */
uint64_t lotad_peer_header_u64(const lota_http_header *h, size_t nh, const char *name,
                               uint64_t def);

/* --- fill.c: the owner fills a missing extent with a member's fill ticket --- */
/* Start (or join: single-flight in the store) the fill of the extent k (canonical key
 * key[0..key_len)) from the upstream with ticket, and open a reader of it. Returns 0 and
 * *out, or a negative code (LOTA_E_PEER_MALFORMED for a ticket that is not a URL of the
 * configured upstream). */
int lotad_cluster__fill(lotad_cluster *c, const lota_cache_key *k, const uint8_t *key,
                        size_t key_len, lota_str ticket, lota_str asker, lotad_store_reader **out);

/* The first member in h's ranking that is neither this node nor `skip` (the member that
 * asked): 1 and *out, or 0 when there is none. The previous owner of an extent after a
 * membership change is found so. */
int lotad_cluster__next_candidate(lotad_cluster *c, lota_hash128 h, lota_str skip,
                                  lotad_peer_owner *out);

/* --- probe.c / serve.c --- */
void *lotad_cluster__probe_main(void *c);
void *lotad_cluster__accept_main(void *c);

#endif
