/*
 * redirect.c - lotad --redirect-ebpf (see redirect.h): checks, loading, the map kept in
 * step with DNS, the cgroup attachment and its metrics.
 *
 * Invariants: the map holds exactly the union of the endpoints' last successful
 * resolutions (a failed lookup keeps that endpoint's previous addresses: a DNS hiccup
 * must not send a job's traffic around the cache, nor break it); the links are only
 * referenced by this process's file descriptors (no pin), so the attachment ends with
 * the process however it ends. The refresh thread is the only writer of the map after
 * start; the main thread only detaches and, after joining it, frees.
 */
#include "redirect/redirect.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lota/log.h>

#include "redirect/table.h"

int lotad_redirect_check_config(const lotad_redirect_config *c, bool enabled, char *err, size_t cap)
{
	lotad_redir_endpoint ep;
	/* the targets are the redirect endpoints, which serve without redirect_ebpf too */
	for (size_t i = 0; enabled && i < c->num_targets; i++)
		if (lotad_redir_endpoint_parse(c->targets[i], 80, &ep) < 0) {
			snprintf(err, cap,
			         "config key \"redirect\": \"%s\" is not HOST[:PORT] "
			         "(a name or an address, a port from 1 to 65535)",
			         c->targets[i]);
			return -1;
		}
	if (enabled && c->num_targets > LOTAD_REDIR_MAX_ENDPOINTS - 1) {
		snprintf(err, cap,
		         "config key \"redirect\": at most %d endpoints with redirect_ebpf",
		         LOTAD_REDIR_MAX_ENDPOINTS - 1);
		return -1;
	}
	if (enabled && c->cgroup_path && c->cgroup_path[0] != 0 && c->cgroup_path[0] != '/') {
		snprintf(err, cap, "config key \"redirect_cgroup\": \"%s\" is not an absolute path",
		         c->cgroup_path);
		return -1;
	}
	return 0;
}

#ifndef LOTA_HAVE_EBPF

lotad_redirect *lotad_redirect_new(const lotad_redirect_config *c, char *err, size_t cap)
{
	(void)c;
	snprintf(err, cap,
	         "config key \"redirect_ebpf\": this lotad was built without the eBPF redirect "
	         "(clang, bpftool or libbpf-dev were missing at build time, or LOTA_EBPF=OFF)");
	return NULL;
}

void lotad_redirect_detach(lotad_redirect *r)
{
	(void)r;
}

void lotad_redirect_free(lotad_redirect *r)
{
	(void)r;
}

size_t lotad_redirect_metrics(char *out, size_t cap, void *r)
{
	(void)r;
	if (cap)
		out[0] = 0;
	return 0;
}

#else /* LOTA_HAVE_EBPF */

#include <dirent.h>
#include <netdb.h>
#include <pthread.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <redirect.skel.h> /* generated in the build tree (bpf/CMakeLists.txt) */

#define CGROUP2_MAGIC      0x63677270
#define INIT_PID_NS_INO    0xEFFFFFFCu /* PROC_PID_INIT_INO: the initial PID namespace */
#define ADDRS_PER_ENDPOINT 64

typedef struct endpoint_state {
	lotad_redir_endpoint ep;
	lota_redir_key addrs[ADDRS_PER_ENDPOINT];
	size_t n;
	bool resolved_once;
} endpoint_state;

struct lotad_redirect {
	struct redirect_bpf *skel;
	int cg_fd;
	char cgroup[4096];
	lota_redir_val target;
	lota_redir_val tls_target; /* valid when has_tls_target */
	bool has_tls_target;
	endpoint_state eps[LOTAD_REDIR_MAX_ENDPOINTS];
	size_t neps;
	lotad_redir_table table; /* scratch of the refresh thread */
	uint64_t refresh_ms;
	pthread_t thread;
	bool thread_started;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool stop;
	atomic_int attached;
	atomic_ulong entries;
	atomic_ulong resolve_failures;
	atomic_ulong refreshes;
};

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	char buf[1024];
	vsnprintf(buf, sizeof(buf), fmt, ap);
	size_t n = strlen(buf);
	while (n && buf[n - 1] == '\n')
		buf[--n] = 0;
	if (level == LIBBPF_WARN)
		lota_log_warn("libbpf: %s", buf);
	else
		lota_log_debug("libbpf: %s", buf);
	return 0;
}

static char *read_small_file(const char *path, size_t *len)
{
	size_t cap = 64 * 1024, n = 0;
	char *buf = malloc(cap);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (!buf || fd < 0)
		goto fail;
	for (;;) {
		if (n == cap) {
			char *nb = realloc(buf, cap * 2);
			if (!nb || cap > (8u << 20))
				goto fail;
			buf = nb;
			cap *= 2;
		}
		ssize_t r = read(fd, buf + n, cap - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			goto fail;
		if (r == 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	*len = n;
	return buf;
fail:
	if (fd >= 0)
		close(fd);
	free(buf);
	return NULL;
}

/* Resolve one endpoint into st (kept as it was when the lookup fails). */
static int resolve(endpoint_state *st)
{
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
	struct addrinfo *res = NULL;
	int rc = getaddrinfo(st->ep.host, NULL, &hints, &res);
	if (rc != 0) {
		lota_log_warn("redirect: cannot resolve %s: %s%s", st->ep.host, gai_strerror(rc),
		              st->resolved_once ? " (keeping its previous addresses)" : "");
		return -1;
	}
	size_t n = 0;
	for (struct addrinfo *ai = res; ai && n < ADDRS_PER_ENDPOINT; ai = ai->ai_next) {
		lota_redir_key k;
		if (lotad_redir_key_from_sockaddr(ai->ai_addr, st->ep.port, &k) < 0)
			continue;
		bool dup = false;
		for (size_t i = 0; i < n && !dup; i++)
			dup = memcmp(&st->addrs[i], &k, sizeof(k)) == 0;
		if (!dup)
			st->addrs[n++] = k;
	}
	freeaddrinfo(res);
	st->n = n;
	st->resolved_once = true;
	return 0;
}

/* The listener an address's connects go to: the TLS one when an endpoint that speaks
 * TLS resolved to it (its port is then that endpoint's: 443 or the https upstream's). */
static const lota_redir_val *target_of(const lotad_redirect *r, const lota_redir_key *k)
{
	for (size_t i = 0; r->has_tls_target && i < r->neps; i++)
		for (size_t j = 0; r->eps[i].ep.tls && j < r->eps[i].n; j++)
			if (memcmp(&r->eps[i].addrs[j], k, sizeof(*k)) == 0)
				return &r->tls_target;
	return &r->target;
}

/* Resolve every endpoint and make the map hold exactly their addresses. */
static void refresh(lotad_redirect *r, bool first)
{
	int fd = bpf_map__fd(r->skel->maps.redirects);
	lota_redir_key k, next, *prev = NULL;
	lota_redir_key stale[64];
	size_t nstale;
	unsigned added = 0, removed = 0;
	lotad_redir_table_init(&r->table);
	for (size_t i = 0; i < r->neps; i++) {
		if (resolve(&r->eps[i]) < 0)
			atomic_fetch_add(&r->resolve_failures, 1);
		for (size_t j = 0; j < r->eps[i].n; j++)
			if (lotad_redir_table_add(&r->table, &r->eps[i].addrs[j]) < 0) {
				lota_log_warn("redirect: more than %d addresses: %s:%d not all "
				              "redirected",
				              LOTA_REDIR_MAX_ENTRIES, r->eps[i].ep.host,
				              r->eps[i].ep.port);
				break;
			}
	}
	for (size_t i = 0; i < r->table.n; i++) {
		lota_redir_val old;
		bool had = bpf_map_lookup_elem(fd, &r->table.keys[i], &old) == 0;
		if (bpf_map_update_elem(fd, &r->table.keys[i], target_of(r, &r->table.keys[i]),
		                        BPF_ANY) < 0) {
			char a[80];
			lotad_redir_key_format(&r->table.keys[i], a, sizeof(a));
			lota_log_error("redirect: cannot add %s to the map: %s", a,
			               strerror(errno));
			continue;
		}
		if (!had) {
			char a[80];
			lotad_redir_key_format(&r->table.keys[i], a, sizeof(a));
			if (!first)
				lota_log_info("redirect: now redirecting %s", a);
			added++;
		}
	}
	/* Entries no endpoint resolves to any more, in rounds (deleting while walking
	 * would restart the walk). */
	do {
		nstale = 0;
		prev = NULL;
		while (nstale < sizeof(stale) / sizeof(stale[0]) &&
		       bpf_map_get_next_key(fd, prev, &next) == 0) {
			k = next;
			prev = &k;
			if (!lotad_redir_table_has(&r->table, &k))
				stale[nstale++] = k;
		}
		for (size_t i = 0; i < nstale; i++) {
			char a[80];
			lotad_redir_key_format(&stale[i], a, sizeof(a));
			if (bpf_map_delete_elem(fd, &stale[i]) == 0) {
				lota_log_info("redirect: no longer redirecting %s", a);
				removed++;
			}
		}
	} while (nstale == sizeof(stale) / sizeof(stale[0]));
	atomic_store(&r->entries, r->table.n);
	atomic_fetch_add(&r->refreshes, 1);
	if (added || removed)
		lota_log_debug("redirect: map refreshed: %zu entries (+%u -%u)", r->table.n, added,
		               removed);
}

static void *refresh_main(void *arg)
{
	lotad_redirect *r = arg;
	pthread_mutex_lock(&r->mu);
	while (!r->stop) {
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_sec += (time_t)(r->refresh_ms / 1000);
		ts.tv_nsec += (long)(r->refresh_ms % 1000) * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		while (!r->stop && pthread_cond_timedwait(&r->cv, &r->mu, &ts) != ETIMEDOUT)
			;
		if (r->stop)
			break;
		pthread_mutex_unlock(&r->mu);
		refresh(r, false);
		pthread_mutex_lock(&r->mu);
	}
	pthread_mutex_unlock(&r->mu);
	return NULL;
}

/* The cgroup to attach to: opened, and checked to be a cgroup v2 directory. */
static int open_cgroup(lotad_redirect *r, const char *path, char *err, size_t cap)
{
	char root[4096] = "";
	size_t len = 0, from = 0;
	char *mounts = read_small_file("/proc/mounts", &len);
	if (mounts && lotad_redir_mount_find(mounts, len, "cgroup2", &from, root, sizeof(root)) < 0)
		root[0] = 0;
	free(mounts);
	if (!path || !path[0]) {
		if (!root[0]) {
			snprintf(err, cap,
			         "config key \"redirect_cgroup\": no cgroup v2 file system is "
			         "mounted (/proc/mounts has no cgroup2): mount one, e.g. mount -t "
			         "cgroup2 none /sys/fs/cgroup/unified, or name one");
			return -1;
		}
		path = root;
	}
	snprintf(r->cgroup, sizeof(r->cgroup), "%s", path);
	r->cg_fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (r->cg_fd < 0) {
		snprintf(err, cap, "config key \"redirect_cgroup\": %s: %s", path, strerror(errno));
		return -1;
	}
	struct statfs sf;
	if (fstatfs(r->cg_fd, &sf) < 0 || sf.f_type != CGROUP2_MAGIC) {
		snprintf(err, cap,
		         "config key \"redirect_cgroup\": %s is not a cgroup v2 directory%s%s%s",
		         path, root[0] ? " (cgroup v2 is mounted at " : "", root,
		         root[0] ? ")" : "");
		return -1;
	}
	return 0;
}

/* What an older lotad may have left: it pins nothing and attaches through links, so
 * this finds nothing unless something else went wrong. Never touches a live lotad's
 * links (a program attached by a link cannot be detached by BPF_PROG_DETACH). */
static void clean_leftovers(lotad_redirect *r)
{
	size_t len = 0, from = 0;
	char mnt[4096], dir[4200];
	char *mounts = read_small_file("/proc/mounts", &len);
	while (mounts && lotad_redir_mount_find(mounts, len, "bpf", &from, mnt, sizeof(mnt)) == 0) {
		snprintf(dir, sizeof(dir), "%s/lota", mnt);
		DIR *d = opendir(dir);
		if (!d)
			continue;
		struct dirent *e;
		while ((e = readdir(d))) {
			if (e->d_name[0] == '.')
				continue;
			if (unlinkat(dirfd(d), e->d_name, 0) == 0)
				lota_log_warn("redirect: removed a pinned leftover %s/%s", dir,
				              e->d_name);
		}
		closedir(d);
		rmdir(dir); /* only when empty */
	}
	free(mounts);
	static const enum bpf_attach_type types[] = {
	    BPF_CGROUP_INET4_CONNECT, BPF_CGROUP_INET6_CONNECT, BPF_CGROUP_INET4_GETPEERNAME,
	    BPF_CGROUP_INET6_GETPEERNAME};
	for (size_t t = 0; t < sizeof(types) / sizeof(types[0]); t++) {
		__u32 ids[64], cnt = 64, flags = 0;
		if (bpf_prog_query(r->cg_fd, types[t], 0, &flags, ids, &cnt) < 0)
			continue;
		for (__u32 i = 0; i < cnt; i++) {
			struct bpf_prog_info info;
			__u32 ilen = sizeof(info);
			int pfd = bpf_prog_get_fd_by_id(ids[i]);
			if (pfd < 0)
				continue;
			memset(&info, 0, sizeof(info));
			if (bpf_obj_get_info_by_fd(pfd, &info, &ilen) == 0 &&
			    strncmp(info.name, "lota_", 5) == 0 &&
			    bpf_prog_detach2(pfd, r->cg_fd, types[t]) == 0)
				lota_log_warn("redirect: detached a leftover program %s (id %u) "
				              "from %s",
				              info.name, ids[i], r->cgroup);
			close(pfd);
		}
	}
}

/* Where redirected connects go: lotad's listener; a name is resolved once (an IPv4
 * address first: both AF_INET and AF_INET6 sockets reach it, the latter v4-mapped). */
static int listener_target(const char *host, int port, lota_redir_val *out)
{
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
	struct addrinfo *res = NULL, *pick = NULL;
	lota_redir_key k;
	if (lotad_redir_target_for_listener(host, port, out) == 0)
		return 0;
	if (getaddrinfo(host, NULL, &hints, &res) != 0)
		return -1;
	for (struct addrinfo *ai = res; ai; ai = ai->ai_next)
		if (!pick || (ai->ai_family == AF_INET && pick->ai_family != AF_INET))
			pick = ai;
	int rc = pick ? lotad_redir_key_from_sockaddr(pick->ai_addr, port, &k) : -1;
	freeaddrinfo(res);
	if (rc < 0)
		return -1;
	memset(out, 0, sizeof(*out));
	memcpy(out->addr, k.addr, sizeof(out->addr));
	out->port = k.port;
	return 0;
}

static int add_endpoint(lotad_redirect *r, const char *spec, int default_port, bool tls,
                        const char *key, char *err, size_t cap)
{
	lotad_redir_endpoint ep;
	if (lotad_redir_endpoint_parse(spec, default_port, &ep) < 0) {
		snprintf(err, cap, "config key \"%s\": \"%s\" is not HOST[:PORT]", key, spec);
		return -1;
	}
	ep.tls = ep.tls || tls;
	if (ep.tls && !r->has_tls_target) {
		/* A TLS client sent to the plain listener would fail its handshake: redirect
		 * such endpoints only when lotad terminates TLS for them (tls_listen). */
		lota_log_warn("redirect: %s:%d speaks TLS, which this lotad does not terminate: "
		              "its connects are not redirected",
		              ep.host, ep.port);
		return 0;
	}
	r->eps[r->neps++].ep = ep;
	return 0;
}

lotad_redirect *lotad_redirect_new(const lotad_redirect_config *c, char *err, size_t cap)
{
	lotad_redirect *r = NULL;
	struct stat st;
	int rc;
	if (lotad_redirect_check_config(c, true, err, cap) < 0)
		return NULL;
	if (geteuid() != 0) {
		snprintf(err, cap,
		         "config key \"redirect_ebpf\": needs root (lotad loads BPF programs and "
		         "attaches them to a cgroup)");
		return NULL;
	}
	if (stat("/proc/self/ns/pid", &st) == 0 && st.st_ino != INIT_PID_NS_INO) {
		snprintf(err, cap,
		         "config key \"redirect_ebpf\": lotad runs in a PID namespace of its own "
		         "(a container without hostPID): the BPF program could not tell lotad's "
		         "own upstream connections from the ones it redirects");
		return NULL;
	}
	r = calloc(1, sizeof(*r));
	if (!r) {
		snprintf(err, cap, "out of memory");
		return NULL;
	}
	r->cg_fd = -1;
	r->refresh_ms = c->refresh_ms ? c->refresh_ms : 30000;
	pthread_mutex_init(&r->mu, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&r->cv, &ca);
	pthread_condattr_destroy(&ca);
	if (listener_target(c->listen_host, c->listen_port, &r->target) < 0) {
		snprintf(err, cap,
		         "config key \"redirect_ebpf\": lotad's listener \"%s\" does not resolve "
		         "to an address (redirected connects are sent to it)",
		         c->listen_host);
		goto fail;
	}
	if (c->tls_listen_host) {
		if (listener_target(c->tls_listen_host, c->tls_listen_port, &r->tls_target) < 0) {
			snprintf(err, cap,
			         "config key \"tls_listen\": \"%s\" does not resolve to an address "
			         "(redirected TLS connects are sent to it)",
			         c->tls_listen_host);
			goto fail;
		}
		r->has_tls_target = true;
	}
	if (add_endpoint(r, c->upstream_hostport, c->upstream_default_port, c->upstream_tls,
	                 "upstream", err, cap) < 0)
		goto fail;
	for (size_t i = 0; i < c->num_targets; i++)
		if (add_endpoint(r, c->targets[i], 80, false, "redirect", err, cap) < 0)
			goto fail;
	if (open_cgroup(r, c->cgroup_path, err, cap) < 0)
		goto fail;
	libbpf_set_print(libbpf_print);
	clean_leftovers(r);

	r->skel = redirect_bpf__open();
	if (!r->skel) {
		snprintf(err, cap, "config key \"redirect_ebpf\": cannot open the BPF object: %s",
		         strerror(errno));
		goto fail;
	}
	r->skel->rodata->lotad_tgid = (__u32)getpid();
	rc = redirect_bpf__load(r->skel);
	if (rc < 0) {
		snprintf(err, cap,
		         "config key \"redirect_ebpf\": the kernel refused the BPF programs (%s): "
		         "lotad needs BPF cgroup socket-address hooks and socket storage "
		         "(CONFIG_CGROUP_BPF, Linux 5.10 or later)",
		         strerror(-rc));
		goto fail;
	}
	refresh(r, true);
	for (size_t i = 0; i < r->table.n; i++) {
		char a[80];
		lotad_redir_key_format(&r->table.keys[i], a, sizeof(a));
		lota_log_info("redirect: %s -> this lotad%s", a,
		              target_of(r, &r->table.keys[i]) == &r->tls_target ? " (TLS)" : "");
	}

	struct {
		struct bpf_program *prog;
		struct bpf_link **link;
	} att[] = {
	    {r->skel->progs.lota_connect4, &r->skel->links.lota_connect4},
	    {r->skel->progs.lota_connect6, &r->skel->links.lota_connect6},
	    {r->skel->progs.lota_getpeername4, &r->skel->links.lota_getpeername4},
	    {r->skel->progs.lota_getpeername6, &r->skel->links.lota_getpeername6},
	};
	for (size_t i = 0; i < sizeof(att) / sizeof(att[0]); i++) {
		*att[i].link = bpf_program__attach_cgroup(att[i].prog, r->cg_fd);
		if (!*att[i].link) {
			snprintf(err, cap,
			         "config key \"redirect_cgroup\": cannot attach %s to %s: %s",
			         bpf_program__name(att[i].prog), r->cgroup, strerror(errno));
			goto fail;
		}
	}
	atomic_store(&r->attached, 1);
	if (pthread_create(&r->thread, NULL, refresh_main, r) != 0) {
		snprintf(err, cap, "redirect: cannot start the refresh thread");
		goto fail;
	}
	r->thread_started = true;
	lota_log_info("redirect: eBPF connect redirect attached to %s: %zu address(es) -> "
	              "this lotad, names resolved every %llu s",
	              r->cgroup, (size_t)atomic_load(&r->entries),
	              (unsigned long long)(r->refresh_ms / 1000));
	return r;
fail:
	lotad_redirect_free(r);
	return NULL;
}

void lotad_redirect_detach(lotad_redirect *r)
{
	if (!r || !r->skel || !atomic_load(&r->attached))
		return;
	redirect_bpf__detach(r->skel); /* destroys the links: the kernel detaches them */
	atomic_store(&r->attached, 0);
	lota_log_info("redirect: detached from %s", r->cgroup);
}

void lotad_redirect_free(lotad_redirect *r)
{
	if (!r)
		return;
	lotad_redirect_detach(r);
	if (r->thread_started) {
		pthread_mutex_lock(&r->mu);
		r->stop = true;
		pthread_cond_signal(&r->cv);
		pthread_mutex_unlock(&r->mu);
		pthread_join(r->thread, NULL);
	}
	redirect_bpf__destroy(r->skel);
	if (r->cg_fd >= 0)
		close(r->cg_fd);
	pthread_cond_destroy(&r->cv);
	pthread_mutex_destroy(&r->mu);
	free(r);
}

size_t lotad_redirect_metrics(char *out, size_t cap, void *arg)
{
	lotad_redirect *r = arg;
	int n = snprintf(
	    out, cap,
	    "# HELP lota_redirect_ebpf_attached 1 while the eBPF connect redirect is attached "
	    "to its cgroup\n"
	    "# TYPE lota_redirect_ebpf_attached gauge\n"
	    "lota_redirect_ebpf_attached %d\n"
	    "# HELP lota_redirect_ebpf_entries Redirected endpoint addresses in the eBPF map\n"
	    "# TYPE lota_redirect_ebpf_entries gauge\n"
	    "lota_redirect_ebpf_entries %lu\n"
	    "# HELP lota_redirect_ebpf_refreshes_total Resolutions of the redirected names\n"
	    "# TYPE lota_redirect_ebpf_refreshes_total counter\n"
	    "lota_redirect_ebpf_refreshes_total %lu\n"
	    "# HELP lota_redirect_ebpf_resolve_failures_total Failed resolutions of a "
	    "redirected name (its previous addresses were kept)\n"
	    "# TYPE lota_redirect_ebpf_resolve_failures_total counter\n"
	    "lota_redirect_ebpf_resolve_failures_total %lu\n",
	    atomic_load(&r->attached), atomic_load(&r->entries), atomic_load(&r->refreshes),
	    atomic_load(&r->resolve_failures));
	return n < 0 ? 0 : (size_t)n;
}

#endif /* LOTA_HAVE_EBPF */
