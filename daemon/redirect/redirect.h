/*
 * redirect.h - lotad --redirect-ebpf: the eBPF connect redirect, loaded, filled and
 * attached to a cgroup by lotad (root). The programs are bpf/redirect.bpf.c; this part
 * resolves the redirected endpoints (the upstream's host:port and every
 * redirect endpoint, the config key redirect), keeps the map in step with DNS from a thread of its own, and
 * holds the cgroup attachments as bpf_links whose only reference is lotad's file
 * descriptors: nothing is pinned, so the kernel detaches everything when lotad exits,
 * also after kill -9.
 */
#ifndef LOTAD_REDIRECT_H
#define LOTAD_REDIRECT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct lotad_redirect lotad_redirect;

typedef struct lotad_redirect_config {
	const char *cgroup_path; /* NULL or "" = the cgroup v2 root, found in /proc/mounts */
	/* The upstream's host[:port] as in its URL, the port its scheme implies, and whether
	 * it speaks TLS. Always redirected (unless TLS: see lotad_redirect_new). */
	const char *upstream_hostport;
	int upstream_default_port;
	bool upstream_tls;
	/* More endpoints, "HOST[:PORT]" (port 80 when absent): the config key redirect (the
	 * upstream's other names, whose requests lotad takes as the upstream's own). */
	const char *const *targets;
	size_t num_targets;
	const char *listen_host; /* lotad's plain listener, where redirected connects go */
	int listen_port;
	/* lotad's TLS listener (tls_listen), where the connects to an endpoint that speaks
	 * TLS go; NULL when lotad terminates no TLS (those endpoints are then left alone). */
	const char *tls_listen_host;
	int tls_listen_port;
	uint64_t refresh_ms; /* names are resolved again this often */
} lotad_redirect_config;

/*
 * Check the configuration without touching the kernel (every start, also without
 * redirect_ebpf): with it, the targets parse and fit the map. Returns 0,
 * or -1 with a message naming the config key in err.
 */
int lotad_redirect_check_config(const lotad_redirect_config *c, bool enabled, char *err,
                                size_t cap);

/*
 * Load the programs (exempting this process: its tgid), resolve and fill the map, attach
 * to the cgroup, and start the refresh thread. Clears what an older lotad may have left
 * (pinned objects under a bpf file system's lota/ folder, programs of ours attached
 * without a link). Returns NULL with a precise message in err when it cannot be done:
 * not root, another PID namespace, no BPF support, a bad cgroup path, or a lotad built
 * without eBPF.
 */
lotad_redirect *lotad_redirect_new(const lotad_redirect_config *c, char *err, size_t cap);

/* Detach from the cgroup now (on shutdown: new connects go direct while lotad drains).
 * The map stays until lotad_redirect_free. Idempotent; NULL is fine. */
void lotad_redirect_detach(lotad_redirect *r);

/* Detach, stop the refresh thread, unload. NULL is fine. */
void lotad_redirect_free(lotad_redirect *r);

/* Metrics provider (lotad_metrics_add_provider): attach state and map entries. */
size_t lotad_redirect_metrics(char *out, size_t cap, void *r);

#endif
