/*
 * shim.c - liblota-preload.so: sends an unmodified program's connections to a redirected
 * S3 endpoint to the local lotad. LD_PRELOAD it with LOTA_REDIRECT naming the endpoints.
 *
 * How: the resolver hooks (getaddrinfo, gethostbyname, gethostbyname2 and their _r forms)
 * let the real resolver answer, return its answer unchanged, and record the addresses of
 * a redirected name (table.c). connect() to a recorded address on a covered port, or to a
 * literal address of the config, connects to lotad's listener instead (port 443, or the
 * port of an https:// item, to the TLS one). The program's Host header and signature are
 * untouched: lotad takes a request for the upstream's own name as the upstream's.
 *
 * Why names resolve to their real addresses: the program keeps an address that is real
 * and is where it asked to go, so a connect the shim does not see (a raw syscall) or one
 * the shim gives back (lotad down) reaches the real endpoint; a made-up address could leak
 * and lotad's own address on the upstream's port would reach nothing.
 *
 * The program must never break because of the shim: a bad configuration disables it
 * (said only with LOTA_PRELOAD_DEBUG), and when lotad does not answer the connect goes
 * where the program asked. A blocking connect learns it from the refusal; a non-blocking
 * one (curl, Python with a timeout) cannot wait for its own outcome, so lotad's listener
 * is probed with a short connect on a separate socket, and the answer kept for a second.
 *
 * getpeername() on a redirected socket shows the address the program asked for.
 *
 * connect() allocates nothing, takes no lock, and keeps errno as the real call left it.
 * State is per process: the constructor runs again after exec (the environment carries
 * the configuration) and a forked child inherits the table.
 */
#include <arpa/inet.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "table.h"

#define EXPORT __attribute__((visibility("default")))

#define PROBE_TTL_MS     1000 /* how long a probe's answer is trusted */
#define PROBE_TIMEOUT_MS 250  /* lotad is local: a listener answers at once */
#define PEER_FDS         4096 /* getpeername() shows the address asked for below this fd */

typedef int (*getaddrinfo_fn)(const char *, const char *, const struct addrinfo *,
                              struct addrinfo **);
typedef struct hostent *(*gethostbyname_fn)(const char *);
typedef struct hostent *(*gethostbyname2_fn)(const char *, int);
typedef int (*gethostbyname_r_fn)(const char *, struct hostent *, char *, size_t, struct hostent **,
                                  int *);
typedef int (*gethostbyname2_r_fn)(const char *, int, struct hostent *, char *, size_t,
                                   struct hostent **, int *);
typedef int (*connect_fn)(int, const struct sockaddr *, socklen_t);
typedef int (*getpeername_fn)(int, struct sockaddr *, socklen_t *);

/* lotad's listener, as last seen by a probe */
typedef struct {
	atomic_llong until_ms; /* the answer holds until then (0: never probed) */
	atomic_int up;
} probe_cache;

static struct {
	lota__preload_config cfg;
	lota__preload_table table;
	probe_cache probe[2]; /* plain, TLS */
	/* the address a redirected socket asked for, by fd, for getpeername(); set is
	 * cleared by every connect() on the fd, so a reused fd shows its own peer */
	struct {
		atomic_int set;
		struct sockaddr_storage asked;
		socklen_t len;
	} peer[PEER_FDS];
	atomic_bool active;
	bool ready; /* the constructor ran */
} shim;

static getaddrinfo_fn real_getaddrinfo;
static gethostbyname_fn real_gethostbyname;
static gethostbyname2_fn real_gethostbyname2;
static gethostbyname_r_fn real_gethostbyname_r;
static gethostbyname2_r_fn real_gethostbyname2_r;
static connect_fn real_connect;
static getpeername_fn real_getpeername;

/* The next definition of a symbol (libc's). Written once; a second writer stores the
 * same pointer. */
#define REAL(fn) (real_##fn ? real_##fn : (real_##fn = (fn##_fn)(uintptr_t)dlsym(RTLD_NEXT, #fn)))

/* One line on stderr, only with LOTA_PRELOAD_DEBUG; a stack buffer and one write(). */
__attribute__((format(printf, 1, 2))) static void dbg(const char *fmt, ...)
{
	if (!shim.cfg.debug)
		return;
	int saved = errno;
	char line[512];
	int n = snprintf(line, sizeof(line), "lota-preload[%d]: ", (int)getpid());
	va_list ap;
	va_start(ap, fmt);
	int m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
	va_end(ap);
	if (m < 0)
		m = 0;
	size_t len =
	    (size_t)n +
	    ((size_t)m < sizeof(line) - (size_t)n - 1 ? (size_t)m : sizeof(line) - (size_t)n - 2);
	line[len++] = '\n';
	ssize_t w = write(2, line, len);
	(void)w;
	errno = saved;
}

static const char *addr_str(const lota__preload_addr *a, char *buf, size_t cap)
{
	char ip[INET6_ADDRSTRLEN];
	if (!inet_ntop(a->family, a->addr, ip, sizeof(ip)))
		snprintf(ip, sizeof(ip), "?");
	snprintf(buf, cap, a->family == AF_INET6 ? "[%s]:%u" : "%s:%u", ip, (unsigned)a->port);
	return buf;
}

static const char *env_get(const char *name)
{
	return getenv(name);
}

/* lotad must never send its own upstream connections to itself, even when a node
 * preloads the shim everywhere. */
static bool is_lotad(void)
{
	extern char *program_invocation_short_name;
	return program_invocation_short_name && strcmp(program_invocation_short_name, "lotad") == 0;
}

static void export_ca_bundle(void)
{
	struct stat st;
	bool exists = stat(shim.cfg.ca_bundle, &st) == 0 && S_ISREG(st.st_mode);
	unsigned bits = lota__preload_ca_exports(&shim.cfg, exists, env_get);
	for (unsigned i = 0; i < LOTA__PRELOAD_CA_VARS; i++) {
		if (!(bits & (1u << i)))
			continue;
		if (setenv(lota__preload_ca_vars[i], shim.cfg.ca_bundle, 0) == 0)
			dbg("%s=%s", lota__preload_ca_vars[i], shim.cfg.ca_bundle);
	}
}

static void record(const char *host, int family, const void *raw);

__attribute__((constructor)) static void shim_init(void)
{
	char why[LOTA__PRELOAD_WHY_MAX];
	(void)REAL(connect);
	(void)REAL(getpeername);
	(void)REAL(getaddrinfo);
	int rc = lota__preload_config_load(&shim.cfg, env_get, why, sizeof(why));
	shim.ready = true;
	if (rc < 0) {
		shim.cfg.debug = env_get("LOTA_PRELOAD_DEBUG") != NULL;
		dbg("disabled: %s", why);
		return;
	}
	if (is_lotad()) {
		dbg("disabled in lotad itself");
		return;
	}
	if (shim.cfg.num_targets == 0) {
		dbg("nothing to redirect (LOTA_REDIRECT is empty)");
		return;
	}
	if (!real_connect) {
		dbg("disabled: no connect() after this library");
		return;
	}
	/* A program may resolve localhost without asking the resolver (curl does, as RFC 6761
	 * allows): a localhost target stands for the loopback addresses from the start. */
	static const uint8_t v6_loopback[16] = {[15] = 1};
	for (size_t i = 0; i < shim.cfg.num_targets; i++) {
		const lota__preload_target *t = &shim.cfg.targets[i];
		if (t->literal || !lota__preload_name_matches(t, "localhost", 9))
			continue;
		record("localhost", AF_INET, (const uint8_t[4]){127, 0, 0, 1});
		record("localhost", AF_INET6, v6_loopback);
	}
	export_ca_bundle();
	atomic_store(&shim.active, true);
	char ep[64];
	dbg("active: %zu endpoint(s) -> %s", shim.cfg.num_targets,
	    addr_str(&shim.cfg.endpoint, ep, sizeof(ep)));
}

static bool active(void)
{
	return shim.ready && atomic_load_explicit(&shim.active, memory_order_relaxed);
}

/* ---------------------------------------------------------------- resolver hooks */

/* Records addr (raw bytes of family) for each target whose name host is. */
static void record(const char *host, int family, const void *raw)
{
	lota__preload_addr a;
	memset(&a, 0, sizeof(a));
	if (family == AF_INET) {
		a.family = AF_INET;
		memcpy(a.addr, raw, 4);
	} else if (family == AF_INET6) {
		struct sockaddr_in6 in6;
		memset(&in6, 0, sizeof(in6));
		in6.sin6_family = AF_INET6;
		memcpy(&in6.sin6_addr, raw, 16);
		if (lota__preload_addr_from_sockaddr(&in6, sizeof(in6), &a) < 0)
			return;
	} else {
		return;
	}
	size_t host_len = strlen(host);
	for (size_t i = 0; i < shim.cfg.num_targets; i++) {
		const lota__preload_target *t = &shim.cfg.targets[i];
		if (!lota__preload_name_matches(t, host, host_len))
			continue;
		lota__preload_table_add(&shim.table, &a, t->port);
		char ip[INET6_ADDRSTRLEN];
		if (!inet_ntop(a.family, a.addr, ip, sizeof(ip)))
			snprintf(ip, sizeof(ip), "?");
		dbg("%s resolves to %s (target port %u)", host, ip, (unsigned)t->port);
	}
}

static bool is_redirected_name(const char *host)
{
	if (!host || !active())
		return false;
	size_t len = strlen(host);
	for (size_t i = 0; i < shim.cfg.num_targets; i++)
		if (lota__preload_name_matches(&shim.cfg.targets[i], host, len))
			return true;
	return false;
}

static void record_hostent(const char *host, const struct hostent *h)
{
	if (!h || !h->h_addr_list)
		return;
	for (char **p = h->h_addr_list; *p; p++)
		record(host, h->h_addrtype, *p);
}

EXPORT int getaddrinfo(const char *node, const char *service, const struct addrinfo *hints,
                       struct addrinfo **res)
{
	if (!REAL(getaddrinfo))
		return EAI_SYSTEM;
	int rc = real_getaddrinfo(node, service, hints, res);
	if (rc != 0 || !is_redirected_name(node))
		return rc;
	for (const struct addrinfo *ai = *res; ai; ai = ai->ai_next) {
		if (ai->ai_family == AF_INET && ai->ai_addrlen >= sizeof(struct sockaddr_in))
			record(node, AF_INET, &((const struct sockaddr_in *)ai->ai_addr)->sin_addr);
		else if (ai->ai_family == AF_INET6 && ai->ai_addrlen >= sizeof(struct sockaddr_in6))
			record(node, AF_INET6,
			       &((const struct sockaddr_in6 *)ai->ai_addr)->sin6_addr);
	}
	return rc;
}

EXPORT struct hostent *gethostbyname(const char *name)
{
	if (!REAL(gethostbyname)) {
		h_errno = NO_RECOVERY;
		return NULL;
	}
	struct hostent *h = real_gethostbyname(name);
	if (h && is_redirected_name(name))
		record_hostent(name, h);
	return h;
}

EXPORT struct hostent *gethostbyname2(const char *name, int af)
{
	if (!REAL(gethostbyname2)) {
		h_errno = NO_RECOVERY;
		return NULL;
	}
	struct hostent *h = real_gethostbyname2(name, af);
	if (h && is_redirected_name(name))
		record_hostent(name, h);
	return h;
}

EXPORT int gethostbyname_r(const char *name, struct hostent *ret, char *buf, size_t buflen,
                           struct hostent **result, int *h_errnop)
{
	if (!REAL(gethostbyname_r))
		return ENOSYS;
	int rc = real_gethostbyname_r(name, ret, buf, buflen, result, h_errnop);
	if (rc == 0 && result && *result && is_redirected_name(name))
		record_hostent(name, *result);
	return rc;
}

EXPORT int gethostbyname2_r(const char *name, int af, struct hostent *ret, char *buf, size_t buflen,
                            struct hostent **result, int *h_errnop)
{
	if (!REAL(gethostbyname2_r))
		return ENOSYS;
	int rc = real_gethostbyname2_r(name, af, ret, buf, buflen, result, h_errnop);
	if (rc == 0 && result && *result && is_redirected_name(name))
		record_hostent(name, *result);
	return rc;
}

/* ---------------------------------------------------------------- connect */

static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ep as a sockaddr for a socket of family: v4 on a v6 socket is v4-mapped; a v6 listener
 * cannot take a v4 socket (0 returned: leave the connect alone). */
static socklen_t endpoint_sockaddr(const lota__preload_addr *ep, int family,
                                   struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (family == AF_INET && ep->family == AF_INET) {
		struct sockaddr_in *in = (struct sockaddr_in *)ss;
		in->sin_family = AF_INET;
		in->sin_port = htons(ep->port);
		memcpy(&in->sin_addr, ep->addr, 4);
		return sizeof(*in);
	}
	if (family == AF_INET6) {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons(ep->port);
		if (ep->family == AF_INET) {
			in6->sin6_addr.s6_addr[10] = 0xff;
			in6->sin6_addr.s6_addr[11] = 0xff;
			memcpy(in6->sin6_addr.s6_addr + 12, ep->addr, 4);
		} else {
			memcpy(in6->sin6_addr.s6_addr, ep->addr, 16);
		}
		return sizeof(*in6);
	}
	return 0;
}

/* Whether lotad's listener ep accepts connections: a connect on a socket of its own,
 * waited for at most PROBE_TIMEOUT_MS; the answer is kept for PROBE_TTL_MS. */
static bool listener_up(const lota__preload_addr *ep, probe_cache *pc)
{
	long long now = now_ms();
	if (atomic_load_explicit(&pc->until_ms, memory_order_acquire) > now)
		return atomic_load_explicit(&pc->up, memory_order_relaxed) != 0;
	struct sockaddr_storage ss;
	socklen_t len = endpoint_sockaddr(ep, ep->family, &ss);
	bool up = false;
	int fd = socket(ep->family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd >= 0) {
		int rc = real_connect(fd, (struct sockaddr *)&ss, len);
		if (rc == 0) {
			up = true;
		} else if (errno == EINPROGRESS) {
			struct pollfd p = {.fd = fd, .events = POLLOUT};
			int err = 0;
			socklen_t el = sizeof(err);
			if (poll(&p, 1, PROBE_TIMEOUT_MS) == 1 &&
			    getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) == 0 && err == 0)
				up = true;
		}
		close(fd);
	}
	atomic_store_explicit(&pc->up, up, memory_order_relaxed);
	atomic_store_explicit(&pc->until_ms, now_ms() + PROBE_TTL_MS, memory_order_release);
	char buf[64];
	dbg("lotad at %s is %s", addr_str(ep, buf, sizeof(buf)), up ? "up" : "down");
	return up;
}

static void mark_down(probe_cache *pc)
{
	atomic_store_explicit(&pc->up, 0, memory_order_relaxed);
	atomic_store_explicit(&pc->until_ms, now_ms() + PROBE_TTL_MS, memory_order_release);
}

EXPORT int connect(int fd, const struct sockaddr *addr, socklen_t len)
{
	if (!REAL(connect)) {
		errno = ENOSYS;
		return -1;
	}
	lota__preload_addr dst;
	if (fd >= 0 && fd < PEER_FDS)
		atomic_store_explicit(&shim.peer[fd].set, 0, memory_order_relaxed);
	if (!active() || lota__preload_addr_from_sockaddr(addr, len, &dst) < 0)
		return real_connect(fd, addr, len);
	if (!lota__preload_literal_matches(&shim.cfg, &dst) &&
	    !lota__preload_table_has(&shim.table, &dst))
		return real_connect(fd, addr, len);

	int saved = errno;
	const lota__preload_addr *ep = lota__preload_endpoint_for(&shim.cfg, dst.port);
	probe_cache *pc = &shim.probe[ep == &shim.cfg.tls_endpoint];
	int type = 0, flags;
	socklen_t tl = sizeof(type);
	struct sockaddr_storage ss;
	socklen_t ss_len = ep ? endpoint_sockaddr(ep, addr->sa_family, &ss) : 0;
	if (!ep || ss_len == 0 || lota__preload_addr_equal(ep, &dst) ||
	    getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tl) < 0 || type != SOCK_STREAM ||
	    (flags = fcntl(fd, F_GETFL)) < 0) {
		errno = saved;
		return real_connect(fd, addr, len);
	}
	char a1[64], a2[64];
	bool nonblocking = (flags & O_NONBLOCK) != 0;
	/* A blocking connect learns of a dead lotad from its own refusal; a non-blocking
	 * one asks the probe (a known-dead lotad is skipped by both). */
	long long until = atomic_load_explicit(&pc->until_ms, memory_order_acquire);
	bool known_down = until > now_ms() && !atomic_load_explicit(&pc->up, memory_order_relaxed);
	if (known_down || (nonblocking && !listener_up(ep, pc))) {
		dbg("lotad down: %s connects directly", addr_str(&dst, a1, sizeof(a1)));
		errno = saved;
		return real_connect(fd, addr, len);
	}
	errno = saved;
	int rc = real_connect(fd, (struct sockaddr *)&ss, ss_len);
	if (rc == 0 || errno == EINPROGRESS || errno == EINTR || errno == EALREADY ||
	    errno == EISCONN) {
		int keep = errno;
		if (fd < PEER_FDS && len <= sizeof(shim.peer[fd].asked)) {
			memcpy(&shim.peer[fd].asked, addr, len);
			shim.peer[fd].len = len;
			atomic_store_explicit(&shim.peer[fd].set, 1, memory_order_release);
		}
		dbg("%s -> %s%s", addr_str(&dst, a1, sizeof(a1)), addr_str(ep, a2, sizeof(a2)),
		    rc == 0 ? "" : " (in progress)");
		errno = keep;
		return rc;
	}
	/* Refused (or any other immediate failure): the program connects where it asked. A
	 * TCP socket whose connect failed may connect again. */
	dbg("%s: lotad at %s refused (%s): connecting directly", addr_str(&dst, a1, sizeof(a1)),
	    addr_str(ep, a2, sizeof(a2)), strerror(errno));
	if (errno == ECONNREFUSED)
		mark_down(pc); /* not for a failure of this socket alone (a v6-only socket) */
	errno = saved;
	return real_connect(fd, addr, len);
}

/* A redirected socket's peer is lotad; the program is shown the address it asked for. */
EXPORT int getpeername(int fd, struct sockaddr *addr, socklen_t *len)
{
	if (!REAL(getpeername)) {
		errno = ENOSYS;
		return -1;
	}
	int rc = real_getpeername(fd, addr, len);
	if (rc != 0 || fd < 0 || fd >= PEER_FDS || !addr || !len ||
	    !atomic_load_explicit(&shim.peer[fd].set, memory_order_acquire))
		return rc;
	lota__preload_addr got;
	if (lota__preload_addr_from_sockaddr(addr, *len, &got) < 0)
		return rc;
	const lota__preload_addr *plain = &shim.cfg.endpoint, *tls = &shim.cfg.tls_endpoint;
	if (!lota__preload_addr_equal(&got, plain) &&
	    !(shim.cfg.has_tls_endpoint && lota__preload_addr_equal(&got, tls)))
		return rc;
	socklen_t want = shim.peer[fd].len;
	memcpy(addr, &shim.peer[fd].asked, want < *len ? want : *len);
	*len = want;
	return rc;
}
