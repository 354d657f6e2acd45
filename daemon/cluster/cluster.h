/*
 * cluster.h - the nodes of one lota cluster as lotad sees them (docs/architecture.md §9):
 * membership (a static list or a DNS name re-resolved periodically), health probes
 * (/peer/health every second; three misses take a member out of placement, one answer
 * puts it back), placement of extents over the members that are up (weighted HRW, weight
 * = cache capacity), the peer port (the owner side: an authenticated member asks for a
 * byte range of an extent and gets it from this node's store), GET /cluster and metrics.
 *
 * Threads: the cluster runs its own threads with blocking sockets and never touches a
 * worker's loop: one prober (health and DNS), one acceptor on the peer port, and one
 * thread per peer connection (with the fill and read-ahead threads, at most
 * LOTAD_CLUSTER_MAX_CONNS at once). The member table is guarded by one mutex; every
 * function here may be called from any thread.
 */
#ifndef LOTAD_CLUSTER_H
#define LOTAD_CLUSTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <lota/placement.h>

#include "store/store.h"

#define LOTAD_CLUSTER_MAX_MEMBERS 256
#define LOTAD_CLUSTER_MAX_CONNS   256 /* peer connections + fill and read-ahead threads */
#define LOTAD_CLUSTER_PROBE_MS    1000
#define LOTAD_CLUSTER_MISSES      3
/* "HOST:PORT" of an admin listener: a host name of 255 bytes or a bracketed IPv6 literal,
 * and a port */
#define LOTAD_CLUSTER_ADMIN_MAX 263

typedef struct lotad_cluster_member_spec {
	char id[LOTA_PLACEMENT_ID_MAX + 1];
	char host[256];
	int port;
} lotad_cluster_member_spec;

typedef struct lotad_cluster_config {
	char node_id[LOTA_PLACEMENT_ID_MAX + 1];
	char listen_host[256];
	int listen_port;
	lotad_cluster_member_spec members[LOTAD_CLUSTER_MAX_MEMBERS]; /* static list */
	size_t num_members;
	char dns_name[256]; /* or a DNS name (then members is empty) */
	int dns_port;
	uint64_t refresh_ms; /* DNS re-resolution period */
	uint8_t secret[4096];
	size_t secret_len;
	uint64_t timeout_ms;     /* a peer that sends nothing this long has failed */
	unsigned readahead;      /* extents read ahead from their owners */
	uint64_t extent_size;    /* the cache's extent size (the same on every node) */
	char upstream_url[1024]; /* scheme://host[:port]: fill tickets must point there */
	/* the other regions' endpoints (daemon/region), where fill tickets may point too */
	char region_urls[15][1024];
	size_t num_region_urls;
	const char *upstream_ca_file;
	/* mutual TLS on the peer port: this node's certificate chain, its key (0600) and the
	 * cluster CA that signs every member's certificate; all empty: plain HTTP */
	char tls_cert[1024], tls_key[1024], tls_ca[1024];
	/* HOST:PORT of this node's admin listener as members and clients reach it, sent in
	 * the health answer (GET /cluster shows every member's); "" = none */
	char admin_advertise[LOTAD_CLUSTER_ADMIN_MAX + 1];
} lotad_cluster_config;

typedef struct lotad_cluster lotad_cluster;

/*
 * Read the cluster keys of lotad's configuration (node_id, peer_listen, peer, peers_dns,
 * peers_refresh, cluster_secret_file, peer_timeout, peer_readahead, peer TLS, and
 * admin_advertise with admin_listen, already checked by the caller) into out. Returns 1
 * when no cluster is configured (neither peer nor peers_dns), 0 when one is, -1 after
 * printing a message naming the bad key and why to stderr.
 */
struct lota_config;
int lotad_cluster_configure(struct lota_config *cfg, const char *upstream_url, uint64_t extent_size,
                            lotad_cluster_config *out);

/*
 * Parse "ID=HOST:PORT" (the --peer flag). Returns 0 or -EINVAL.
 */
int lotad_cluster_parse_member(const char *s, lotad_cluster_member_spec *out);

/*
 * Check an admin address as a member advertises it (its health answer's
 * X-Lota-Peer-Admin) or admin_advertise gives it: HOST:PORT with a port from 1 to 65535
 * and a host of letters, digits, '-' and '.' (a name or an IPv4 address) or a bracketed
 * IPv6 literal, at most LOTAD_CLUSTER_ADMIN_MAX bytes, nothing else (no space, no control
 * byte). Copies it NUL-terminated into out (cap > LOTAD_CLUSTER_ADMIN_MAX) and returns 0,
 * or -EINVAL (out "").
 */
int lotad_cluster_admin_parse(lota_str v, char *out, size_t cap);

/*
 * Read the cluster secret file into cfg: a regular file owned by this user, mode 0600 or
 * stricter, LOTA_PEER_SECRET_MIN..LOTA_PEER_SECRET_MAX bytes. Returns 0, or -1 with the
 * reason in err (without the key's name).
 */
int lotad_cluster_load_secret(const char *path, lotad_cluster_config *cfg, char *err, size_t cap);

/* A cluster over cfg (copied; the secret in cfg may be wiped afterwards) and this node's
 * store (may be NULL: no cache, this node then owns nothing). Binds the peer port.
 * Returns NULL with the reason in err. */
lotad_cluster *lotad_cluster_new(const lotad_cluster_config *cfg, lotad_store *store, char *err,
                                 size_t cap);
/* Start the prober and the acceptor. Returns 0 or -errno. */
int lotad_cluster_start(lotad_cluster *c);
/* Stop the threads, close the peer port and free. NULL is fine. */
void lotad_cluster_free(lotad_cluster *c);

/* The admin's GET /cluster body (JSON) into a malloc'd buffer; NULL on no memory. */
char *lotad_cluster_json(lotad_cluster *c, size_t *len);

/* A lotad_metrics_provider (ud = the cluster): members and members up, peer requests and
 * bytes by direction and result. */
size_t lotad_cluster_metrics(char *out, size_t cap, void *cluster);

/* Members currently up (self included). */
size_t lotad_cluster_members_up(lotad_cluster *c);

/* --- the front node's side (the cache asks these on a worker's loop: none blocks) --- */

typedef struct lotad_peer_owner {
	char id[LOTA_PLACEMENT_ID_MAX + 1];
	char host[256];
	int port;
} lotad_peer_owner;

/* 1 and *out when the extent named h belongs to another member that is up; 0 when this
 * node owns it (or c is NULL, or nobody is in placement). */
int lotad_cluster_owner(lotad_cluster *c, lota_hash128 h, lotad_peer_owner *out);

/* The first member up in h's ranking that is neither this node nor one of skip[0..nskip)
 * (members that failed to give the extent): 1 and *out, or 0 when there is none. */
int lotad_cluster_candidate(lotad_cluster *c, lota_hash128 h, const char *const *skip, size_t nskip,
                            lotad_peer_owner *out);

/*
 * The header lines ("Name: value\r\n" each) of a signed GET /peer/extent for the extent
 * whose identity (lota_peer_extent_encode) is extent, range ("bytes=A-B" inside the
 * extent) and fill ticket (may be empty), into buf. Returns their length or a negative
 * code.
 */
int lotad_cluster_extent_headers(lotad_cluster *c, lota_str extent, lota_str range, lota_str ticket,
                                 char *buf, size_t cap);

uint64_t lotad_cluster_timeout_ms(const lotad_cluster *c);
/* With peer TLS: 1 and the certificate, key and CA files for a client of the peer port
 * (the front node's reads through curl); 0 for plain HTTP. */
int lotad_cluster_peer_tls(const lotad_cluster *c, const char **cert, const char **key,
                           const char **ca);
unsigned lotad_cluster_readahead(const lotad_cluster *c);

/*
 * An extent this node owns and does not hold: fill it (or join its fill) in this node's
 * store on a cluster thread, taking it from the next candidate in its ranking that holds
 * it (the previous owner after a membership change), else from the upstream with ticket
 * (a presigned GET of the object, pinned by If-Match). Returns 0 and a reader of the
 * growing extent, or a negative code (the caller then reads elsewhere).
 */
int lotad_cluster_fill_local(lotad_cluster *c, const lota_cache_key *k, lota_str ticket,
                             lotad_store_reader **out);

/*
 * Have extents first..last of obj filled where they belong, ahead of the reader, on one
 * cluster thread that takes them in order: an extent another member owns is asked of it
 * (a signed request of its first byte, with ticket: the owner fills the whole extent);
 * one this node owns is filled here (lotad_cluster_fill_local) and waited for before the
 * next. Extents already held are skipped. Returns 0 or a negative code (nothing done).
 */
struct lota_object_id;
int lotad_cluster_prestage(lotad_cluster *c, const struct lota_object_id *obj, uint64_t first,
                           uint64_t last, lota_str ticket);

/* Count a peer request this node made: ok (all bytes came), miss (the owner did not hold
 * it) or error (failed, the rest read elsewhere), and the bytes received. */
/* The fills this node ran as an owner for members (started, failed, bytes written), for
 * the cache's lota_cache_fills_total and lota_fill_bytes_total. */
void lotad_cluster_fill_counts(lotad_cluster *c, uint64_t *started, uint64_t *failed,
                               uint64_t *bytes);
void lotad_cluster_count_out(lotad_cluster *c, int result, uint64_t bytes);
#define LOTAD_PEER_OUT_OK    0
#define LOTAD_PEER_OUT_MISS  1
#define LOTAD_PEER_OUT_ERROR 3

#endif
