/*
 * main.c - lotad: configuration, start-up checks, workers, signals and shutdown.
 *
 * The main thread owns the admin listener and the signals (through a signalfd; every
 * thread blocks them): SIGTERM/SIGINT drain the workers (no new connections, in-flight
 * requests finish, bounded by shutdown_timeout, then exit 0); SIGHUP reloads the
 * credentials file, keeping the old store when the new file is bad. systemd hears of
 * each step (READY, RELOADING, STOPPING: util/notify.h).
 * Usage errors exit 2, start-up failures (bind, ...) exit 1.
 */
#include <errno.h>
#include <inttypes.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include <lota/config.h>
#include <lota/log.h>

#include "admin.h"
#include "cache/cache.h"
#include "cluster/cluster.h"
#include "metrics.h"
#include "net/ca.h"
#include "net/loop.h"
#include "net/server.h"
#include "redirect/redirect.h"
#include "region/region.h"
#include "net/tls.h"
#include "s3/auth.h"
#include "s3/router.h"
#include "s3/s3err.h"
#include "store/nodesecret.h"
#include "store/store.h"
#include "util/hostport.h"
#include "util/notify.h"

#define MAX_WORKERS 256

static const lota_config_key lotad_keys[] = {
    {"config", LOTA_CONFIG_STRING, NULL, 0, 0, false, false, 'c', "FILE",
     "JSON configuration file (flags override it)"},
    {"listen", LOTA_CONFIG_STRING, "127.0.0.1:8080", 0, 0, false, false, 'l', "HOST:PORT",
     "S3 endpoint address"},
    {"upstream", LOTA_CONFIG_STRING, NULL, 0, 0, true, false, 'u', "URL",
     "the real object store, http://host[:port] or https://host[:port]"},
    {"upstream_ca_file", LOTA_CONFIG_STRING, NULL, 0, 0, false, false, 0, "FILE",
     "CA bundle to verify an https upstream (default: the system's)"},
    {"credentials", LOTA_CONFIG_STRING, "", 0, 0, false, false, 0, "FILE",
     "AWS shared-credentials file of the keys lotad verifies and re-signs with"},
    {"endpoint_name", LOTA_CONFIG_LIST, NULL, 0, 0, false, false, 0, "NAME",
     "lotad's own host name; bucket.NAME is virtual-hosted style"},
    {"upstream_virtual_hosted", LOTA_CONFIG_BOOL, "false", 0, 0, false, false, 0, NULL,
     "the upstream reads Host: bucket.<its own name> as virtual-hosted style (S3 does; "
     "radosgw only with rgw_dns_name): lotad then reads such redirected requests the same "
     "way"},
    {"redirect", LOTA_CONFIG_LIST, NULL, 0, 0, false, false, 0, "HOST[:PORT]",
     "another name of the upstream whose traffic is redirected to lotad: a "
     "request with that Host (or bucket.HOST, as upstream_virtual_hosted says) is the "
     "upstream's own; without a port any port matches; with redirect_ebpf, connects to "
     "HOST:PORT (port 80 when absent) are sent here too"},
    {"region", LOTA_CONFIG_STRING, "us-east-1", 0, 0, false, false, 0, "REGION",
     "region to sign upstream requests for"},
    /* cross-region reads (daemon/region) */
    {"region_upstream", LOTA_CONFIG_LIST, NULL, 0, 0, false, false, 0, "REGION=URL",
     "the endpoint of another region: requests for a bucket homed there go there, and its "
     "objects are cached here like local ones (region is the upstream's own)"},
    {"region_ttl", LOTA_CONFIG_DURATION, "10m", 1000, 7 * 24 * 3600 * 1000LL, false, false, 0,
     "DURATION", "how long a bucket's learned home region is remembered"},
    {"max_skew", LOTA_CONFIG_DURATION, "15m", 1000, 7 * 24 * 3600 * 1000LL, false, false, 0,
     "DURATION", "largest accepted difference between a request's time and now"},
    {"admin_listen", LOTA_CONFIG_STRING, NULL, 0, 0, false, false, 0, "HOST:PORT",
     "admin listener for /healthz and /metrics (off when unset)"},
    {"admin_advertise", LOTA_CONFIG_STRING, NULL, 0, 0, false, false, 0, "HOST:PORT",
     "the admin address this node tells the cluster's members (GET /cluster shows it; "
     "default: admin_listen's, with this node's peer host when it listens on all "
     "addresses)"},
    {"workers", LOTA_CONFIG_INT, "0", 0, MAX_WORKERS, false, false, 'w', "N",
     "worker threads (0 = one per CPU)"},
    {"max_connections", LOTA_CONFIG_INT, "10000", 1, 1000000, false, false, 0, "N",
     "client connections accepted at once (more are closed)"},
    {"client_buffer", LOTA_CONFIG_SIZE, "256KiB", 32 * 1024, 64 * 1024 * 1024, false, false, 0,
     "SIZE", "input and output buffer per client connection"},
    {"idle_timeout", LOTA_CONFIG_DURATION, "60s", 100, 24 * 3600 * 1000LL, false, false, 0,
     "DURATION", "close a connection idle (or not reading/sending) this long"},
    {"header_timeout", LOTA_CONFIG_DURATION, "20s", 100, 3600 * 1000LL, false, false, 0, "DURATION",
     "time a client has to send a complete request head"},
    {"request_timeout", LOTA_CONFIG_DURATION, "0", 0, 7 * 24 * 3600 * 1000LL, false, false, 0,
     "DURATION", "upper bound of a whole upstream transfer (0 = none)"},
    {"upstream_connect_timeout", LOTA_CONFIG_DURATION, "5s", 100, 600 * 1000LL, false, false, 0,
     "DURATION", "time to connect to the upstream"},
    {"upstream_timeout", LOTA_CONFIG_DURATION, "60s", 0, 24 * 3600 * 1000LL, false, false, 0,
     "DURATION", "give up on an upstream that sends nothing this long (0 = never)"},
    {"upstream_retries", LOTA_CONFIG_INT, "2", 0, 10, false, false, 0, "N",
     "retries (with backoff) of a GET or HEAD (or a request without a body that could not "
     "connect) that failed before any response"},
    {"shutdown_timeout", LOTA_CONFIG_DURATION, "30s", 0, 3600 * 1000LL, false, false, 0, "DURATION",
     "on SIGTERM, time in-flight requests get to finish"},
    {"log_level", LOTA_CONFIG_STRING, "info", 0, 0, false, false, 0, "LEVEL",
     "error, warn, info or debug"},
    {"log_format", LOTA_CONFIG_STRING, "text", 0, 0, false, false, 0, "FORMAT",
     "text, or json (one JSON object a line)"},
    {"access_log", LOTA_CONFIG_BOOL, "false", 0, 0, false, false, 0, NULL,
     "log one line per request"},
    {"client_send_buffer", LOTA_CONFIG_SIZE, "4MiB", 0, 64 * 1024 * 1024, false, false, 0, "SIZE",
     "SO_SNDBUF of client sockets (0 = the kernel's autotuning; the kernel caps it at "
     "net.core.wmem_max and doubles it): a large one means fewer wake-ups per byte of a "
     "hit (measured: about half the CPU per GiB of a single sendfile stream)"},
    {"tcp_congestion", LOTA_CONFIG_STRING, "", 0, 0, false, false, 0, "NAME",
     "TCP congestion control for client sockets, e.g. reno (empty = system default)"},
    {"relay_send", LOTA_CONFIG_STRING, "direct", 0, 0, false, false, 0, "HOW",
     "how bytes relayed from the upstream (proxied, or fed from a fill) reach the client: "
     "direct (each 16 KiB piece curl hands over is sent at once) or coalesce (queued and "
     "sent in pieces of half the client buffer)"},
    {"cache_dir", LOTA_CONFIG_LIST, NULL, 0, 0, false, false, 0, "DIR:SIZE",
     "a cache directory on a local disk and the bytes it may hold, e.g. /nvme0/lota:500GiB "
     "(repeat for several disks; none = no cache, lotad only proxies)"},
    {"encrypt", LOTA_CONFIG_BOOL, "true", 0, 0, false, false, 0, NULL,
     "seal cached data with AES-256-GCM under a key derived from the node secret"},
    {"node_secret_file", LOTA_CONFIG_STRING, NULL, 0, 0, false, false, 0, "FILE",
     "32-byte node secret, created 0600 when missing (default: node.secret in the first "
     "cache dir)"},
    {"extent_size", LOTA_CONFIG_SIZE, "64MiB", 1 << 20, 5LL << 30, false, false, 0, "SIZE",
     "objects larger than this are cached as chunks of this size"},
    {"min_object_size", LOTA_CONFIG_SIZE, "4MiB", 1, 5LL << 40, false, false, 0, "SIZE",
     "smaller objects are proxied, not cached"},
    {"prestage_on_head", LOTA_CONFIG_BOOL, "true", 0, 0, false, false, 0, NULL,
     "a HEAD of an object not cached starts filling it (a HEAD with Range: bytes=0-0 "
     "always does)"},
    {"metadata_ttl", LOTA_CONFIG_DURATION, "0", 0, 24 * 3600 * 1000LL, false, false, 0, "DURATION",
     "reuse the upstream's authorization of a key for an object this long (0 = ask on every "
     "request; > 0 relaxes freshness and authorization)"},
    {"fill_credentials", LOTA_CONFIG_STRING, "", 0, 0, false, false, 0, "PROFILE",
     "a profile of the credentials file (an operator's read-only key) that fills whole "
     "extents of reads signed with keys lotad does not hold, once the upstream authorized "
     "them (none: only what their own answers carry is cached)"},
    {"cache_high_watermark", LOTA_CONFIG_INT, "95", 2, 100, false, false, 0, "PCT",
     "background eviction starts when a cache dir is fuller than this"},
    {"cache_low_watermark", LOTA_CONFIG_INT, "90", 1, 99, false, false, 0, "PCT",
     "and stops when it is at most this full"},
    {"fill_streams", LOTA_CONFIG_INT, "2", 1, 16, false, false, 0, "N",
     "extents of one object filled at once"},
    {"plain_hit_io", LOTA_CONFIG_STRING, "sendfile", 0, 0, false, false, 0, "HOW",
     "how unencrypted hits reach the socket: sendfile (the least CPU per byte), pread "
     "(read + send), or mmap (send from a mapping of the extent)"},
    {"sealed_hit_io", LOTA_CONFIG_STRING, "mmap", 0, 0, false, false, 0, "HOW",
     "how encrypted hits read the cache: mmap (decrypt straight from a mapping of the "
     "extent: one copy fewer per byte) or pread (read into a buffer, then decrypt)"},
    {"ram_cache_size", LOTA_CONFIG_SIZE, "0", 0, 1LL << 40, false, false, 0, "SIZE",
     "a RAM tier in front of the cache dirs: plaintext copies of the most recently read "
     "whole extents, at most SIZE bytes (0 = off); saves the disk read and, encrypted, the "
     "decryption of a hot extent"},
    {"fill_io", LOTA_CONFIG_STRING, "buffered", 0, 0, false, false, 0, "HOW",
     "how fills write the cache: buffered (through the page cache), or sync-range (also "
     "start the write-back of every 8 MiB written, without waiting for it)"},
    {"redirect_ebpf", LOTA_CONFIG_BOOL, "false", 0, 0, false, false, 0, NULL,
     "redirect the TCP connects of the processes in redirect_cgroup to the upstream (and to "
     "each redirect endpoint) to this lotad, with eBPF (root; detached when lotad exits)"},
    {"redirect_cgroup", LOTA_CONFIG_STRING, NULL, 0, 0, false, false, 0, "PATH",
     "cgroup v2 directory whose processes (and descendants) redirect_ebpf redirects "
     "(default: the cgroup v2 root, i.e. every process)"},
    {"redirect_refresh", LOTA_CONFIG_DURATION, "30s", 1000, 24 * 3600 * 1000LL, false, false, 0,
     "DURATION", "how often redirect_ebpf resolves the redirected names again"},
    {"tls_listen", LOTA_CONFIG_STRING, NULL, 0, 0, false, false, 0, "HOST:PORT",
     "HTTPS endpoint for the served names (the upstream's host name, each endpoint_name, "
     "each redirect name, and bucket.<each>) with certificates issued by the node CA (off "
     "when unset); redirect_ebpf sends the endpoints that speak TLS here"},
    {"ca_dir", LOTA_CONFIG_STRING, LOTAD_CA_DEFAULT_DIR, 0, 0, false, false, 0, "DIR",
     "the node CA for tls_listen: ca.key (0600, refused when others may read it), ca.pem "
     "and bundle.pem (the system roots + ca.pem, for clients), made at first start"},
    /* the cluster (daemon/cluster/config.c checks these) */
    {"node_id", LOTA_CONFIG_STRING, NULL, 0, 0, false, false, 0, "ID",
     "this node's id in the cluster (default: the host name; with peers_dns, the "
     "peer_listen address)"},
    {"peer_listen", LOTA_CONFIG_STRING, NULL, 0, 0, false, false, 0, "HOST:PORT",
     "this node's peer port (cluster traffic between lotads)"},
    {"peer", LOTA_CONFIG_LIST, NULL, 0, 0, false, false, 0, "ID=HOST:PORT",
     "a member of the cluster and its peer port (repeat for every member, this node "
     "included)"},
    {"peers_dns", LOTA_CONFIG_STRING, NULL, 0, 0, false, false, 0, "NAME:PORT",
     "the members are the addresses of NAME (a headless Service), peer port PORT; a "
     "member's id is its address"},
    {"peers_refresh", LOTA_CONFIG_DURATION, "10s", 1000, 24 * 3600 * 1000LL, false, false, 0,
     "DURATION", "how often peers_dns is resolved again"},
    {"cluster_secret_file", LOTA_CONFIG_STRING, NULL, 0, 0, false, false, 0, "FILE",
     "32 or more random bytes, mode 0600, the same on every node: the key of the peer "
     "protocol's HMAC"},
    {"peer_timeout", LOTA_CONFIG_DURATION, "5s", 100, 600 * 1000LL, false, false, 0, "DURATION",
     "a peer that sends nothing this long has failed (the read goes on elsewhere)"},
    {"peer_readahead", LOTA_CONFIG_INT, "2", 0, 64, false, false, 0, "N",
     "extents read ahead from their owners"},
    {"peer_tls_cert", LOTA_CONFIG_STRING, NULL, 0, 0, false, false, 0, "FILE",
     "mutual TLS on the peer port: this node's certificate (PEM, signed by peer_tls_ca, "
     "naming the node's peer address); needs peer_tls_key and peer_tls_ca"},
    {"peer_tls_key", LOTA_CONFIG_STRING, NULL, 0, 0, false, false, 0, "FILE",
     "the key of peer_tls_cert (PEM, mode 0600)"},
    {"peer_tls_ca", LOTA_CONFIG_STRING, NULL, 0, 0, false, false, 0, "FILE",
     "the cluster CA: peers must present a certificate it signed"},
};

static char *cluster_json(void *c, size_t *len)
{
	return lotad_cluster_json(c, len);
}

static const char usage[] =
    "lotad --upstream URL [--listen HOST:PORT] [--credentials FILE]\n"
    "             [--config FILE] [--endpoint-name NAME]... [--admin-listen HOST:PORT]\n"
    "             [--workers N] [options]\n"
    "lotad is the LOTA node daemon: an S3 endpoint in front of the object store.\n";

/* HOST:PORT, [V6]:PORT or :PORT (the port is required). */
static int parse_hostport(const char *s, char *host, size_t host_cap, int *port)
{
	lota_str h;
	long p;
	if (lotad_hostport_split((lota_str){s, strlen(s)}, &h, &p) < 0 || p < 0)
		return -1;
	h = lotad_host_unbracket(h);
	if (h.len >= host_cap)
		return -1;
	memcpy(host, h.ptr, h.len);
	host[h.len] = 0;
	*port = (int)p;
	return 0;
}

static int parse_upstream(const char *url, lotad_settings *s)
{
	const char *rest;
	bool tls;
	if (strncmp(url, "http://", 7) == 0) {
		rest = url + 7;
		tls = false;
	} else if (strncmp(url, "https://", 8) == 0) {
		rest = url + 8;
		tls = true;
	} else {
		return -1;
	}
	size_t hl = strcspn(rest, "/?#");
	if (!hl || hl >= sizeof(s->upstream_hostport))
		return -1;
	if (rest[hl] && strcmp(rest + hl, "/") != 0)
		return -1; /* a path prefix is not supported */
	memcpy(s->upstream_hostport, rest, hl);
	s->upstream_hostport[hl] = 0;
	snprintf(s->upstream_url, sizeof(s->upstream_url), "%s%s", tls ? "https://" : "http://",
	         s->upstream_hostport);
	s->auth.upstream_default_port = tls ? 443 : 80;
	return 0;
}

/* The regions of region_upstream beside the local one (region.h). Returns 0 (*out NULL
 * when there is no other region) or -1 after a message naming the key and the reason. */
static int configure_regions(lota_config *cfg, const lotad_settings *s, lotad_regions **out)
{
	const char *const *specs = NULL;
	size_t n = lota_config_get_list(cfg, "region_upstream", &specs);
	*out = NULL;
	if (n == 0)
		return 0;
	if (n >= LOTAD_MAX_REGIONS) {
		fprintf(stderr, "lotad: config key \"region_upstream\": at most %d regions\n",
		        LOTAD_MAX_REGIONS - 1);
		return -1;
	}
	lotad_regions *t = lotad_regions_new(
	    s, s->region, (uint64_t)lota_config_get_duration_ms(cfg, "region_ttl"));
	if (!t) {
		fprintf(stderr, "lotad: out of memory\n");
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		char name[LOTAD_REGION_NAME_MAX + 1], url[1024], err[512] = "";
		static lotad_settings up;
		up = *s;
		if (lotad_region_spec_parse(specs[i], name, url, sizeof(url), err, sizeof(err)) <
		        0 ||
		    parse_upstream(url, &up) < 0) {
			if (!err[0] || strncmp(err, "\"", 1) != 0)
				snprintf(err, sizeof(err),
				         "\"%s\": the URL is not http[s]://host[:port]", specs[i]);
			fprintf(stderr, "lotad: config key \"region_upstream\": %s\n", err);
			goto fail;
		}
		if (strcmp(name, s->region) == 0) {
			if (strcmp(up.upstream_url, s->upstream_url) == 0)
				continue; /* the local region, as upstream says */
			fprintf(
			    stderr,
			    "lotad: config key \"region_upstream\": \"%s\": %s is the local region "
			    "(region), whose endpoint is upstream %s\n",
			    specs[i], name, s->upstream_url);
			goto fail;
		}
		if (lotad_regions_add(t, name, &up) < 0) {
			fprintf(stderr,
			        "lotad: config key \"region_upstream\": \"%s\": region %s is given "
			        "twice\n",
			        specs[i], name);
			goto fail;
		}
	}
	if (lotad_regions_count(t) < 2) {
		lotad_regions_free(t);
		return 0;
	}
	lotad_regions_metrics(t);
	*out = t;
	return 0;
fail:
	lotad_regions_free(t);
	return -1;
}

typedef struct main_state {
	lotad_loop *loop;
	lotad_io sig_io;
	lotad_timer poll;
	lotad_timer deadline;
	lotad_worker *workers[MAX_WORKERS];
	int nworkers;
	lotad_admin *admin;
	lotad_redirect *redirect;
	const char *creds_path;
	bool stopping;
	bool forced;
} main_state;

static void reload_creds(main_state *m)
{
	char err[512];
	lotad_notify("RELOADING=1");
	lotad_creds *c = lotad_creds_load(m->creds_path ? m->creds_path : "", err, sizeof(err));
	if (!c) {
		lota_log_error("SIGHUP: credentials not reloaded, keeping the old ones: %s", err);
		lotad_notify("READY=1\nSTATUS=serving (the last credentials reload failed)");
		return;
	}
	lotad_creds_set_current(c);
	lota_log_info("SIGHUP: credentials reloaded (%zu keys)", lotad_creds_count(c));
	lotad_notify("READY=1\nSTATUS=serving");
	lotad_creds_unref(c);
}

static void poll_cb(lotad_timer *t)
{
	main_state *m = t->ud;
	int idle = 0;
	for (int i = 0; i < m->nworkers; i++)
		idle += lotad_worker_idle(m->workers[i]);
	if (idle == m->nworkers) {
		lotad_loop_stop(m->loop);
		return;
	}
	lotad_timer_start(m->loop, &m->poll, 20);
}

static void deadline_cb(lotad_timer *t)
{
	main_state *m = t->ud;
	lota_log_warn("shutdown: timeout reached, aborting the requests still in flight");
	m->forced = true;
	for (int i = 0; i < m->nworkers; i++)
		lotad_worker_shutdown(m->workers[i], true);
}

static void start_shutdown(main_state *m, const char *why, uint64_t timeout_ms)
{
	if (m->stopping)
		return;
	m->stopping = true;
	lotad_notify("STOPPING=1");
	lota_log_info("%s: stopping: no new connections, finishing requests in flight", why);
	lotad_admin_set_draining(m->admin);
	lotad_redirect_detach(m->redirect); /* new connects go direct while lotad drains */
	for (int i = 0; i < m->nworkers; i++)
		lotad_worker_shutdown(m->workers[i], false);
	lotad_timer_start(m->loop, &m->poll, 10);
	lotad_timer_start(m->loop, &m->deadline, timeout_ms);
}

static uint64_t g_shutdown_ms;

static void sig_cb(lotad_io *io, uint32_t events)
{
	main_state *m = io->ud;
	struct signalfd_siginfo si;
	(void)events;
	while (read(io->fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		if (si.ssi_signo == SIGHUP)
			reload_creds(m);
		else if (m->stopping && si.ssi_signo == SIGINT)
			deadline_cb(&m->deadline); /* a second ^C: do not wait */
		else
			start_shutdown(m, si.ssi_signo == SIGINT ? "SIGINT" : "SIGTERM",
			               g_shutdown_ms);
	}
}

static int mkdir_parents(const char *path)
{
	char p[LOTAD_STORE_DIR_PATH_MAX];
	snprintf(p, sizeof(p), "%s", path);
	for (char *q = p + 1; *q; q++) {
		if (*q != '/')
			continue;
		*q = 0;
		if (mkdir(p, 0755) < 0 && errno != EEXIST)
			return -errno;
		*q = '/';
	}
	if (mkdir(p, 0700) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

/* The store and the cache from the configuration; a precise message and -1 on a bad key.
 */
static int setup_cache(lota_config *cfg, lotad_store **out, lotad_cache **cache_out)
{
	static lotad_store_dir_spec dirs[LOTAD_STORE_MAX_DIRS];
	const char *const *specs = NULL;
	size_t nd = lota_config_get_list(cfg, "cache_dir", &specs);
	lotad_cache_config cc;
	lotad_cache_config_init(&cc);
	cc.extent_size = lota_config_get_size(cfg, "extent_size");
	cc.min_object_size = lota_config_get_size(cfg, "min_object_size");
	cc.prestage_on_head = lota_config_get_bool(cfg, "prestage_on_head");
	cc.metadata_ttl_ms = (uint64_t)lota_config_get_duration_ms(cfg, "metadata_ttl");
	cc.fill_streams = (unsigned)lota_config_get_int(cfg, "fill_streams");
	const char *hio = lota_config_get_string(cfg, "plain_hit_io");
	if (strcmp(hio, "sendfile") != 0 && strcmp(hio, "pread") != 0 && strcmp(hio, "mmap") != 0) {
		fprintf(
		    stderr,
		    "lotad: config key \"plain_hit_io\": \"%s\" is not pread, sendfile or mmap\n",
		    hio);
		return -1;
	}
	cc.plain_hit_io = !strcmp(hio, "sendfile") ? LOTAD_HIT_IO_SENDFILE
	                  : !strcmp(hio, "mmap")   ? LOTAD_HIT_IO_MMAP
	                                           : LOTAD_HIT_IO_PREAD;
	const char *fio = lota_config_get_string(cfg, "fill_io");
	if (strcmp(fio, "buffered") != 0 && strcmp(fio, "sync-range") != 0) {
		fprintf(stderr,
		        "lotad: config key \"fill_io\": \"%s\" is not buffered or sync-range\n",
		        fio);
		return -1;
	}
	const char *sio = lota_config_get_string(cfg, "sealed_hit_io");
	if (strcmp(sio, "mmap") != 0 && strcmp(sio, "pread") != 0) {
		fprintf(stderr,
		        "lotad: config key \"sealed_hit_io\": \"%s\" is not mmap or pread\n", sio);
		return -1;
	}
	cc.fill_profile = lota_config_get_string(cfg, "fill_credentials");
	if (cc.fill_profile && cc.fill_profile[0]) {
		lotad_creds *cur = lotad_creds_current();
		lota_str ak, sk, tok;
		bool found = lotad_creds_lookup_profile(cur, cc.fill_profile, &ak, &sk, &tok);
		lotad_creds_unref(cur);
		if (!found) {
			fprintf(stderr,
			        "lotad: config key \"fill_credentials\": no profile \"%s\" in the "
			        "credentials file\n",
			        cc.fill_profile);
			return -1;
		}
	}
	*out = NULL;
	if (nd == 0) {
		*cache_out = lotad_cache_new(NULL, &cc);
		return *cache_out ? 0 : -1;
	}
	if (nd > LOTAD_STORE_MAX_DIRS) {
		fprintf(stderr, "lotad: config key \"cache_dir\": at most %d dirs\n",
		        LOTAD_STORE_MAX_DIRS);
		return -1;
	}
	for (size_t i = 0; i < nd; i++) {
		if (lotad_store_parse_dir_spec(specs[i], strlen(specs[i]), &dirs[i]) < 0) {
			fprintf(stderr,
			        "lotad: config key \"cache_dir\": \"%s\" is not DIR:SIZE (an "
			        "absolute or relative directory and a size above 0, e.g. "
			        "/nvme0/lota:500GiB)\n",
			        specs[i]);
			return -1;
		}
		for (size_t j = 0; j < i; j++)
			if (strcmp(dirs[i].path, dirs[j].path) == 0) {
				fprintf(stderr,
				        "lotad: config key \"cache_dir\": \"%s\" is given twice\n",
				        dirs[i].path);
				return -1;
			}
	}
	unsigned hi = (unsigned)lota_config_get_int(cfg, "cache_high_watermark");
	unsigned lo = (unsigned)lota_config_get_int(cfg, "cache_low_watermark");
	if (lo >= hi) {
		fprintf(stderr,
		        "lotad: config key \"cache_low_watermark\": %u must be below "
		        "cache_high_watermark (%u)\n",
		        lo, hi);
		return -1;
	}
	char secret_path[LOTAD_STORE_DIR_PATH_MAX + 16];
	const char *sp = lota_config_get_string(cfg, "node_secret_file");
	if (sp && sp[0]) {
		snprintf(secret_path, sizeof(secret_path), "%s", sp);
	} else {
		int rc = mkdir_parents(dirs[0].path);
		if (rc < 0) {
			fprintf(stderr, "lotad: config key \"cache_dir\": cannot create %s: %s\n",
			        dirs[0].path, strerror(-rc));
			return -1;
		}
		snprintf(secret_path, sizeof(secret_path), "%s/node.secret", dirs[0].path);
	}
	uint8_t secret[LOTAD_NODESECRET_LEN];
	int rc = lotad_nodesecret_load_or_create(secret_path, secret);
	if (rc < 0) {
		fprintf(stderr, "lotad: config key \"node_secret_file\": %s: %s\n", secret_path,
		        rc == -EACCES
		            ? "readable by others or owned by another user (chmod 600 it, or "
		              "remove it to make a new one: the cache is then refilled)"
		        : rc == -EINVAL ? "not a regular file of exactly 32 bytes"
		                        : lota_strerror(rc));
		return -1;
	}
	lotad_store_config sc;
	lotad_store_config_init(&sc);
	sc.dirs = dirs;
	sc.num_dirs = nd;
	sc.node_secret = secret;
	sc.encrypt = lota_config_get_bool(cfg, "encrypt");
	sc.fill_io =
	    strcmp(fio, "sync-range") == 0 ? LOTAD_FILL_IO_SYNC_RANGE : LOTAD_FILL_IO_BUFFERED;
	sc.ram_bytes = lota_config_get_size(cfg, "ram_cache_size");
	sc.sealed_io = strcmp(sio, "pread") == 0 ? LOTAD_SEALED_IO_PREAD : LOTAD_SEALED_IO_MMAP;
	sc.high_watermark_pct = hi;
	sc.low_watermark_pct = lo;
	for (size_t i = 0; i < nd && rc == 0; i++)
		rc = mkdir_parents(dirs[i].path);
	if (rc == 0)
		rc = lotad_store_new(&sc, out);
	explicit_bzero(secret, sizeof(secret));
	if (rc < 0) {
		fprintf(stderr, "lotad: config key \"cache_dir\": cannot open the cache: %s\n",
		        lota_strerror(rc));
		return -1;
	}
	lotad_store_stats st;
	lotad_store_get_stats(*out, &st);
	char cap[32];
	lota_format_size(st.capacity_bytes, cap, sizeof(cap));
	lota_log_info("cache: %zu dir(s), %s, %" PRIu64 " extents found, encryption %s, extents "
	              "of %" PRIu64 " MiB, objects from %" PRIu64 " bytes, RAM tier %" PRIu64
	              " MiB",
	              nd, cap, st.extents, sc.encrypt ? "on" : "OFF", cc.extent_size >> 20,
	              cc.min_object_size, sc.ram_bytes >> 20);
	*cache_out = lotad_cache_new(*out, &cc);
	if (!*cache_out) {
		fprintf(stderr, "lotad: out of memory\n");
		return -1;
	}
	return 0;
}

/* tls_listen: the node CA and the TLS context for the served names; a precise message
 * and -1 on a bad key. Nothing to do (0, *tls NULL) when tls_listen is unset. */
static int setup_tls(lota_config *cfg, lotad_settings *s, lotad_ca **ca, lotad_tls **tls)
{
	const char *tl = lota_config_get_string(cfg, "tls_listen");
	const char *names[2 * LOTAD_MAX_NAMES + 1];
	char up_host[300];
	char redir_hosts[LOTAD_MAX_NAMES][300];
	size_t nn = 0;
	char err[512];
	*ca = NULL;
	*tls = NULL;
	if (!tl || !tl[0])
		return 0;
	if (parse_hostport(tl, s->tls_listen_host, sizeof(s->tls_listen_host),
	                   &s->tls_listen_port) < 0 ||
	    s->tls_listen_port == 0) {
		fprintf(stderr, "lotad: config key \"tls_listen\": \"%s\" is not HOST:PORT\n", tl);
		return -1;
	}
	s->ca_dir = lota_config_get_string(cfg, "ca_dir");
	if (!s->ca_dir || !s->ca_dir[0]) {
		fprintf(stderr, "lotad: config key \"ca_dir\": empty\n");
		return -1;
	}
	int rc = lotad_ca_open(s->ca_dir, NULL, ca, err, sizeof(err));
	if (rc < 0) {
		fprintf(stderr, "lotad: config key \"ca_dir\": %s\n", err);
		return -1;
	}
	/* The served names: the upstream's host (a name, not an address: TLS carries no
	 * address as SNI), lotad's endpoint names and the --redirect names' hosts. */
	if (parse_hostport(s->upstream_hostport, up_host, sizeof(up_host), &(int){0}) < 0)
		snprintf(up_host, sizeof(up_host), "%s", s->upstream_hostport);
	if (up_host[0] && !strchr(up_host, ':') &&
	    strspn(up_host, "0123456789.") != strlen(up_host))
		names[nn++] = up_host;
	for (size_t i = 0; i < s->num_endpoint_names; i++)
		names[nn++] = s->endpoint_names[i];
	for (size_t i = 0; i < s->num_redirect_names; i++) {
		lota_str rh;
		long rport;
		const char *r = s->redirect_names[i];
		if (lotad_hostport_split((lota_str){r, strlen(r)}, &rh, &rport) < 0)
			continue; /* refused earlier */
		rh = lotad_host_unbracket(rh);
		if (rh.len == 0 || rh.len >= sizeof(redir_hosts[i]) ||
		    memchr(rh.ptr, ':', rh.len) || strspn(rh.ptr, "0123456789.") >= rh.len)
			continue; /* an address: no SNI names it */
		memcpy(redir_hosts[i], rh.ptr, rh.len);
		redir_hosts[i][rh.len] = 0;
		names[nn++] = redir_hosts[i];
	}
	rc = lotad_tls_new(*ca, names, nn, tls, err, sizeof(err));
	if (rc < 0) {
		fprintf(stderr, "lotad: config key \"tls_listen\": %s\n", err);
		return -1;
	}
	lota_log_info("tls: node CA %s, bundle for clients %s", lotad_ca_cert_path(*ca),
	              lotad_ca_bundle_path(*ca));
	return 0;
}

int main(int argc, char **argv)
{
	static lotad_settings s;
	static main_state m;
	static lotad_router router;
	static lotad_server_hooks hooks;
	lotad_store *store = NULL;
	lotad_cache *cache = NULL;
	lotad_ca *ca = NULL;
	lotad_tls *tls = NULL;
	int tls_fds[MAX_WORKERS];
	int ntls = 0;
	lotad_cluster *cluster = NULL;
	static lotad_cluster_config ccfg;
	lotad_regions *regions = NULL;
	lota_config *cfg = NULL;
	bool help = false;
	int rc, exit_code = 1, sfd = -1;
	int listen_fds[MAX_WORKERS];
	int nfds = 0;
	char err[512];

	/* Buffers of 128 KiB and more (a connection's 2 x client_buffer, curl's receive and
	 * upload buffers, aws-chunked chunks) are mapped on their own and unmapped when
	 * freed. glibc's default threshold moves: freeing the first such buffer raises it to
	 * that buffer's size, and every later one then comes from a worker's heap, where the
	 * freed buffers stay (each round of 1,000 uploads aborted at once left ~120 MB more
	 * RSS behind). */
	bool mmap_threshold_set = mallopt(M_MMAP_THRESHOLD, 128 * 1024) != 0;
	cfg = lota_config_new(lotad_keys, sizeof(lotad_keys) / sizeof(lotad_keys[0]));
	if (!cfg) {
		fprintf(stderr, "lotad: out of memory\n");
		return 1;
	}
	rc = lota_config_parse_args(cfg, argc, argv, "config", &help, NULL);
	if (rc == 0 && help) {
		lota_config_print_help(cfg, stdout, usage);
		lota_config_free(cfg);
		return 0;
	}
	if (rc == 0)
		rc = lota_config_validate(cfg);
	if (rc < 0) {
		fprintf(stderr, "lotad: %s\n", lota_config_error(cfg));
		fprintf(stderr, "Try 'lotad --help'.\n");
		lota_config_free(cfg);
		return 2;
	}

	/* --- settings, each checked with a precise message --- */
	const char *lvl = lota_config_get_string(cfg, "log_level");
	lota_log_level level;
	if (lota_log_level_parse(lvl, strlen(lvl), &level) < 0) {
		fprintf(stderr,
		        "lotad: config key \"log_level\": \"%s\" is not one of error, warn, "
		        "info, debug\n",
		        lvl);
		goto usage_error;
	}
	lota_log_set_level(level);
	const char *lfmt = lota_config_get_string(cfg, "log_format");
	lota_log_format format;
	if (lota_log_format_parse(lfmt, strlen(lfmt), &format) < 0) {
		fprintf(stderr, "lotad: config key \"log_format\": \"%s\" is not text or json\n",
		        lfmt);
		goto usage_error;
	}
	lota_log_set_format(format);
	/* logged once the format is known: every line of a json log is json */
	if (!mmap_threshold_set)
		lota_log_warn("mallopt(M_MMAP_THRESHOLD) failed: freed buffers may stay in RSS");
	const char *listen = lota_config_get_string(cfg, "listen");
	if (parse_hostport(listen, s.listen_host, sizeof(s.listen_host), &s.listen_port) < 0 ||
	    s.listen_port == 0) {
		fprintf(stderr, "lotad: config key \"listen\": \"%s\" is not HOST:PORT\n", listen);
		goto usage_error;
	}
	const char *up = lota_config_get_string(cfg, "upstream");
	if (parse_upstream(up, &s) < 0) {
		fprintf(stderr,
		        "lotad: config key \"upstream\": \"%s\" is not http://host[:port] or "
		        "https://host[:port]\n",
		        up);
		goto usage_error;
	}
	const char *const *names = NULL;
	size_t nn = lota_config_get_list(cfg, "endpoint_name", &names);
	if (nn > LOTAD_MAX_NAMES) {
		fprintf(stderr, "lotad: config key \"endpoint_name\": at most %d names\n",
		        LOTAD_MAX_NAMES);
		goto usage_error;
	}
	for (size_t i = 0; i < nn; i++) {
		if (!names[i][0] || strchr(names[i], '/') || strchr(names[i], ':')) {
			fprintf(stderr,
			        "lotad: config key \"endpoint_name\": \"%s\" is not a host name\n",
			        names[i]);
			goto usage_error;
		}
		s.endpoint_names[s.num_endpoint_names++] = names[i];
	}
	const char *const *redirs = NULL;
	size_t nr = lota_config_get_list(cfg, "redirect", &redirs);
	if (nr > LOTAD_MAX_NAMES) {
		fprintf(stderr, "lotad: config key \"redirect\": at most %d names\n",
		        LOTAD_MAX_NAMES);
		goto usage_error;
	}
	for (size_t i = 0; i < nr; i++) {
		lota_str rh;
		long rport;
		if (lotad_hostport_split((lota_str){redirs[i], strlen(redirs[i])}, &rh, &rport) <
		        0 ||
		    rh.len == 0 || strchr(redirs[i], '/') || rport == 0) {
			fprintf(stderr,
			        "lotad: config key \"redirect\": \"%s\" is not HOST[:PORT] (a host "
			        "name or address, and a port from 1 to 65535)\n",
			        redirs[i]);
			goto usage_error;
		}
		s.redirect_names[s.num_redirect_names++] = redirs[i];
	}
	s.upstream_ca_file = lota_config_get_string(cfg, "upstream_ca_file");
	if (s.upstream_ca_file && access(s.upstream_ca_file, R_OK) < 0) {
		fprintf(stderr, "lotad: config key \"upstream_ca_file\": %s: %s\n",
		        s.upstream_ca_file, strerror(errno));
		goto usage_error;
	}
	s.region = lota_config_get_string(cfg, "region");
	s.max_skew_s = lota_config_get_duration_ms(cfg, "max_skew") / 1000;
	s.workers = (int)lota_config_get_int(cfg, "workers");
	if (s.workers == 0) {
		long n = sysconf(_SC_NPROCESSORS_ONLN);
		s.workers = n > 0 ? (int)(n > MAX_WORKERS ? MAX_WORKERS : n) : 1;
	}
	s.max_connections = lota_config_get_int(cfg, "max_connections");
	s.client_buffer = (size_t)lota_config_get_size(cfg, "client_buffer");
	s.idle_timeout_ms = (uint64_t)lota_config_get_duration_ms(cfg, "idle_timeout");
	s.header_timeout_ms = (uint64_t)lota_config_get_duration_ms(cfg, "header_timeout");
	s.request_timeout_ms = (uint64_t)lota_config_get_duration_ms(cfg, "request_timeout");
	s.upstream_connect_timeout_ms =
	    (uint64_t)lota_config_get_duration_ms(cfg, "upstream_connect_timeout");
	s.upstream_timeout_ms = (uint64_t)lota_config_get_duration_ms(cfg, "upstream_timeout");
	s.upstream_retries = (int)lota_config_get_int(cfg, "upstream_retries");
	s.shutdown_timeout_ms = (uint64_t)lota_config_get_duration_ms(cfg, "shutdown_timeout");
	g_shutdown_ms = s.shutdown_timeout_ms;
	s.access_log = lota_config_get_bool(cfg, "access_log");
	s.upstream_vhost = lota_config_get_bool(cfg, "upstream_virtual_hosted");
	s.tcp_congestion = lota_config_get_string(cfg, "tcp_congestion");
	const char *rs = lota_config_get_string(cfg, "relay_send");
	if (strcmp(rs, "direct") != 0 && strcmp(rs, "coalesce") != 0) {
		fprintf(stderr,
		        "lotad: config key \"relay_send\": \"%s\" is not direct or coalesce\n", rs);
		goto usage_error;
	}
	s.relay_coalesce = strcmp(rs, "coalesce") == 0;
	s.client_sndbuf = (size_t)lota_config_get_size(cfg, "client_send_buffer");
	s.auth.endpoint_names = s.endpoint_names;
	s.auth.num_endpoint_names = s.num_endpoint_names;
	s.auth.upstream_host = s.upstream_hostport;
	s.auth.redirect_names = s.redirect_names;
	s.auth.num_redirect_names = s.num_redirect_names;
	s.auth.region = s.region;
	s.auth.max_skew_s = s.max_skew_s;
	if (configure_regions(cfg, &s, &regions) < 0)
		goto usage_error;

	char admin_host[256] = "";
	int admin_port = -1;
	const char *admin = lota_config_get_string(cfg, "admin_listen");
	if (admin && admin[0] &&
	    (parse_hostport(admin, admin_host, sizeof(admin_host), &admin_port) < 0 ||
	     admin_port == 0)) {
		fprintf(stderr, "lotad: config key \"admin_listen\": \"%s\" is not HOST:PORT\n",
		        admin);
		goto usage_error;
	}

	/* the eBPF map: the upstream's host:port and every redirect endpoint */
	lotad_redirect_config rc_cfg = {
	    .cgroup_path = lota_config_get_string(cfg, "redirect_cgroup"),
	    .upstream_hostport = s.upstream_hostport,
	    .upstream_default_port = s.auth.upstream_default_port,
	    .upstream_tls = s.auth.upstream_default_port == 443,
	    .targets = s.redirect_names,
	    .num_targets = s.num_redirect_names,
	    .listen_host = s.listen_host,
	    .listen_port = s.listen_port,
	    .refresh_ms = (uint64_t)lota_config_get_duration_ms(cfg, "redirect_refresh"),
	};
	bool redirect_ebpf = lota_config_get_bool(cfg, "redirect_ebpf");
	if (lotad_redirect_check_config(&rc_cfg, redirect_ebpf, err, sizeof(err)) < 0) {
		fprintf(stderr, "lotad: %s\n", err);
		goto usage_error;
	}

	m.creds_path = lota_config_get_string(cfg, "credentials");
	lotad_creds *creds = lotad_creds_load(m.creds_path ? m.creds_path : "", err, sizeof(err));
	if (!creds) {
		fprintf(stderr, "lotad: config key \"credentials\": %s\n", err);
		goto usage_error;
	}
	lotad_creds_set_current(creds);
	lotad_creds_unref(creds);

	/* Signals go to the signalfd only: block them before any thread (the store's
	 * eviction thread, the workers) is started, so every thread inherits the mask. */
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	if (setup_cache(cfg, &store, &cache) < 0)
		goto usage_error;
	if (setup_tls(cfg, &s, &ca, &tls) < 0)
		goto usage_error;
	if (tls)
		lotad_metrics_add_provider(lotad_tls_metrics, tls);
	lotad_metrics_add_provider(lotad_cache_metrics, cache);
	if (store)
		lotad_metrics_add_provider(lotad_store_metrics, store);
	rc = lotad_cluster_configure(cfg, s.upstream_url,
	                             (uint64_t)lota_config_get_size(cfg, "extent_size"), &ccfg);
	if (rc < 0)
		goto usage_error;
	ccfg.upstream_ca_file = s.upstream_ca_file;
	for (size_t i = 1; i < lotad_regions_count(regions) && i <= 15; i++)
		snprintf(ccfg.region_urls[ccfg.num_region_urls++], sizeof(ccfg.region_urls[0]),
		         "%s", lotad_regions_settings(regions, i)->upstream_url);
	if (rc == 0) {
		cluster = lotad_cluster_new(&ccfg, store, err, sizeof(err));
		explicit_bzero(ccfg.secret, sizeof(ccfg.secret));
		if (!cluster) {
			fprintf(stderr, "lotad: config key \"peer_listen\": %s\n", err);
			goto usage_error;
		}
		lotad_metrics_add_provider(lotad_cluster_metrics, cluster);
		lotad_cache_set_cluster(cache, cluster);
	}

	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		fprintf(stderr, "lotad: curl_global_init failed\n");
		goto out;
	}

	/* --- sockets (failures here are reported before anything runs) --- */
	for (int i = 0; i < s.workers; i++) {
		if ((rc = lotad_server_listen(&s, i == 0, &listen_fds[i])) < 0) {
			fprintf(stderr, "lotad: cannot listen on %s: %s\n", listen,
			        lota_strerror(rc));
			goto out;
		}
		nfds++;
	}
	for (int i = 0; tls && i < s.workers; i++) {
		if ((rc = lotad_server_listen_at(s.tls_listen_host, s.tls_listen_port, i == 0,
		                                 &tls_fds[i])) < 0) {
			fprintf(stderr, "lotad: cannot listen on %s: %s\n",
			        lota_config_get_string(cfg, "tls_listen"), lota_strerror(rc));
			goto out;
		}
		ntls++;
	}
	m.loop = lotad_loop_new();
	if (!m.loop)
		goto out;
	if (admin_port > 0) {
		m.admin = lotad_admin_new(m.loop, admin_host, admin_port);
		if (!m.admin) {
			fprintf(stderr, "lotad: cannot listen on admin address %s\n", admin);
			goto out;
		}
	}

	if (cluster) {
		lotad_admin_add_route(m.admin, "/cluster", "application/json", cluster_json,
		                      cluster);
		if ((rc = lotad_cluster_start(cluster)) < 0) {
			fprintf(stderr, "lotad: cannot start the cluster: %s\n", lota_strerror(rc));
			goto out;
		}
	}

	sigdelset(&set, SIGPIPE);
	sfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (sfd < 0)
		goto out;
	m.sig_io = (lotad_io){.fd = sfd, .fn = sig_cb, .ud = &m};
	if (lotad_io_set(m.loop, &m.sig_io, EPOLLIN) < 0)
		goto out;
	lotad_timer_init(&m.poll, poll_cb, &m);
	lotad_timer_init(&m.deadline, deadline_cb, &m);

	lotad_router_init(&router, cache);
	router.regions = regions;
	hooks = (lotad_server_hooks){
	    .request = lotad_router_request,
	    .worker_stop = lotad_router_worker_stop,
	    .error_response = lotad_s3err_response,
	    .ud = &router,
	};
	for (int i = 0; i < s.workers; i++) {
		m.workers[i] = lotad_worker_new(i, &s, &hooks, listen_fds[i]);
		if (!m.workers[i])
			goto out;
		listen_fds[i] = -1;
		m.nworkers++;
		if (tls) {
			if (lotad_worker_add_tls(m.workers[i], tls_fds[i], tls) < 0)
				goto out;
			tls_fds[i] = -1;
		}
		if (lotad_worker_start(m.workers[i]) < 0)
			goto out;
	}
	/* After the listeners exist, so that no redirected connect is refused. */
	if (redirect_ebpf) {
		if (tls) { /* endpoints that speak TLS go to the TLS listener */
			rc_cfg.tls_listen_host = s.tls_listen_host;
			rc_cfg.tls_listen_port = s.tls_listen_port;
		}
		m.redirect = lotad_redirect_new(&rc_cfg, err, sizeof(err));
		if (!m.redirect) {
			fprintf(stderr, "lotad: %s\n", err);
			goto out;
		}
		lotad_metrics_add_provider(lotad_redirect_metrics, m.redirect);
	}
	lota_log_info("lotad %s listening on %s (%d workers), upstream %s%s%s%s%s",
	              LOTA_VERSION_STRING, listen, s.workers, s.upstream_url,
	              admin ? ", admin on " : "", admin ? admin : "", tls ? ", TLS on " : "",
	              tls ? lota_config_get_string(cfg, "tls_listen") : "");
	size_t per_conn = lotad_conn_memory_cap(&s);
	lota_log_info("memory for clients: at most %lld connections x %zu KiB = %llu MiB "
	              "(max_connections, client_buffer)",
	              (long long)s.max_connections, per_conn / 1024,
	              (unsigned long long)s.max_connections * per_conn >> 20);
	lotad_notify("READY=1\nSTATUS=serving");
	lotad_loop_run(m.loop);
	exit_code = 0;
	lota_log_info("lotad stopped%s", m.forced ? " (requests aborted at the deadline)" : "");
out:
	lotad_redirect_free(m.redirect);
	if (m.nworkers && !m.stopping) {
		for (int i = 0; i < m.nworkers; i++)
			lotad_worker_shutdown(m.workers[i], true);
	}
	for (int i = 0; i < m.nworkers; i++)
		lotad_worker_join_free(m.workers[i]);
	lotad_cluster_free(cluster);
	lotad_cache_free(cache);
	lotad_store_free(store);
	lotad_regions_free(regions);
	for (int i = m.nworkers; i < nfds; i++)
		if (listen_fds[i] >= 0)
			close(listen_fds[i]);
	for (int i = 0; i < ntls; i++)
		if (tls_fds[i] >= 0)
			close(tls_fds[i]);
	lotad_tls_free(tls);
	lotad_ca_free(ca);
	lotad_admin_free(m.admin);
	if (sfd >= 0)
		close(sfd);
	lotad_loop_free(m.loop);
	lotad_creds_set_current(NULL);
	curl_global_cleanup();
	lota_config_free(cfg);
	return exit_code;
usage_error:
	fprintf(stderr, "Try 'lotad --help'.\n");
	lotad_tls_free(tls);
	lotad_ca_free(ca);
	lotad_cluster_free(cluster);
	lotad_cache_free(cache);
	lotad_store_free(store);
	lotad_regions_free(regions);
	lota_config_free(cfg);
	return 2;
}
