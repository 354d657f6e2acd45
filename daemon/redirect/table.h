/*
 * table.h - the pure part of the eBPF redirect: redirected endpoints ("host[:port]")
 * and the address table they resolve to, in the maps' layout (bpf/redirect-abi.h).
 * Nothing here touches the kernel or the network, so the unit suite checks it all.
 */
#ifndef LOTAD_REDIRECT_TABLE_H
#define LOTAD_REDIRECT_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include "../../bpf/redirect-abi.h"

#define LOTAD_REDIR_HOST_MAX      256
#define LOTAD_REDIR_MAX_ENDPOINTS 17 /* the upstream and 16 more */

/* A redirected endpoint as configured: a name or an address, and a port. tls: the
 * endpoint speaks TLS (port 443, or an https upstream), so its connects may only go to
 * a TLS listener of lotad. */
typedef struct lotad_redir_endpoint {
	char host[LOTAD_REDIR_HOST_MAX]; /* without IPv6 brackets */
	int port;
	bool tls;
} lotad_redir_endpoint;

/*
 * Parse "host", "host:port", "[v6]" or "[v6]:port" (port 1..65535; default_port when
 * absent). tls is set for port 443. Returns 0, or -EINVAL (empty host, port 0, bad
 * syntax, host too long).
 */
int lotad_redir_endpoint_parse(const char *spec, int default_port, lotad_redir_endpoint *out);

/*
 * An address as the maps store it: 16 bytes, IPv4 v4-mapped, and the port (host order
 * in, network order out). sa is an AF_INET or AF_INET6 sockaddr (its own port is
 * ignored). Returns 0, or -EAFNOSUPPORT.
 */
int lotad_redir_key_from_sockaddr(const struct sockaddr *sa, int port, lota_redir_key *out);

/* The same for a numeric address ("127.0.0.1", "::1"); -EINVAL when it is not one. */
int lotad_redir_key_from_numeric(const char *addr, int port, lota_redir_key *out);

/* Where redirected connects go for a listener bound to host:port: the address itself,
 * or the loopback for a wildcard ("", "0.0.0.0", "::": 127.0.0.1, which an AF_INET6
 * socket reaches v4-mapped). -EINVAL when host is not numeric (resolve it first). */
int lotad_redir_target_for_listener(const char *host, int port, lota_redir_val *out);

bool lotad_redir_key_is_v4mapped(const lota_redir_key *k);

/* "1.2.3.4:80" or "[::1]:80" (for logs); always NUL-terminated. */
void lotad_redir_key_format(const lota_redir_key *k, char *out, size_t cap);

/* A set of keys (the map's desired contents): no duplicates, at most
 * LOTA_REDIR_MAX_ENTRIES. Caller-owned storage. */
typedef struct lotad_redir_table {
	lota_redir_key keys[LOTA_REDIR_MAX_ENTRIES];
	size_t n;
} lotad_redir_table;

void lotad_redir_table_init(lotad_redir_table *t);
/* 1 added, 0 already there, -ENOSPC full. */
int lotad_redir_table_add(lotad_redir_table *t, const lota_redir_key *k);
bool lotad_redir_table_has(const lotad_redir_table *t, const lota_redir_key *k);

/*
 * The mount point of the first file system of type fstype ("cgroup2", "bpf") in the text
 * of /proc/mounts (len bytes, need not be NUL-terminated), with its octal escapes
 * (\040 for a space) decoded. Returns 0, -ENOENT when there is none, -ENAMETOOLONG when
 * it does not fit in cap (with its NUL). *from is where to start and is moved past the
 * line found, so a caller can walk every match; start with 0.
 */
int lotad_redir_mount_find(const char *text, size_t len, const char *fstype, size_t *from,
                           char *out, size_t cap);

#endif
