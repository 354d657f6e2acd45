/*
 * members.c - the cluster object: its configuration checks (a member spec, the secret
 * file), the member table and its states (up / down / since), the placement over the
 * members that are up, the peer port's socket, GET /cluster and the metrics.
 *
 * A member starts down (self excepted) and comes up with its first answer to a probe, so
 * a node never sends work to a peer it has not heard from. The placement is rebuilt from
 * the table at each change of state or weight; weights are cache capacities in bytes, and
 * a member without a cache (capacity 0) owns nothing.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <lota/log.h>

#include "cluster/cluster-internal.h"
#include "util/hostport.h"

int lotad_cluster_parse_member(const char *s, lotad_cluster_member_spec *out)
{
	const char *eq = strchr(s, '=');
	if (!eq || eq == s || (size_t)(eq - s) > LOTA_PLACEMENT_ID_MAX)
		return -EINVAL;
	for (const char *p = s; p < eq; p++)
		if ((unsigned char)*p <= 0x20 || *p == 0x7f || *p == '"' || *p == '\\')
			return -EINVAL;
	lota_str h;
	long port;
	if (lotad_hostport_split((lota_str){eq + 1, strlen(eq + 1)}, &h, &port) < 0 || port <= 0)
		return -EINVAL;
	h = lotad_host_unbracket(h);
	if (!h.len || h.len >= sizeof(out->host))
		return -EINVAL;
	memcpy(out->id, s, (size_t)(eq - s));
	out->id[eq - s] = 0;
	memcpy(out->host, h.ptr, h.len);
	out->host[h.len] = 0;
	out->port = (int)port;
	return 0;
}

int lotad_cluster_admin_parse(lota_str v, char *out, size_t cap)
{
	lota_str h;
	long port;
	if (cap)
		out[0] = 0;
	if (v.len == 0 || v.len > LOTAD_CLUSTER_ADMIN_MAX || v.len >= cap ||
	    lotad_hostport_split(v, &h, &port) < 0 || port <= 0)
		return -EINVAL;
	lota_str u = lotad_host_unbracket(h);
	bool v6 = u.len != h.len;
	if (u.len == 0 || u.len > 255)
		return -EINVAL;
	for (size_t i = 0; i < u.len; i++) {
		unsigned char ch = (unsigned char)u.ptr[i];
		bool ok = v6 ? isxdigit(ch) || ch == ':' || ch == '.'
		             : isalnum(ch) || ch == '-' || ch == '.';
		if (!ok)
			return -EINVAL;
	}
	memcpy(out, v.ptr, v.len);
	out[v.len] = 0;
	return 0;
}

int lotad_cluster_load_secret(const char *path, lotad_cluster_config *cfg, char *err, size_t cap)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	struct stat st;
	int rc = -1;
	if (fd < 0) {
		snprintf(err, cap, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) < 0) {
		snprintf(err, cap, "%s: %s", path, strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(err, cap, "%s: not a regular file", path);
		goto out;
	}
	if (st.st_uid != geteuid()) {
		snprintf(err, cap, "%s: owned by uid %u, not by lotad's user (uid %u)", path,
		         (unsigned)st.st_uid, (unsigned)geteuid());
		goto out;
	}
	if (st.st_mode & 077) {
		snprintf(err, cap,
		         "%s: mode %04o lets others read it; the cluster secret must be 0600 "
		         "(chmod 600 %s)",
		         path, (unsigned)(st.st_mode & 07777), path);
		goto out;
	}
	if (st.st_size < (off_t)LOTA_PEER_SECRET_MIN || st.st_size > (off_t)LOTA_PEER_SECRET_MAX) {
		snprintf(err, cap,
		         "%s: %lld bytes; the cluster secret must hold %u to %u bytes (e.g. head "
		         "-c 32 /dev/urandom > FILE)",
		         path, (long long)st.st_size, LOTA_PEER_SECRET_MIN, LOTA_PEER_SECRET_MAX);
		goto out;
	}
	ssize_t n = read(fd, cfg->secret, sizeof(cfg->secret));
	if (n != st.st_size) {
		snprintf(err, cap, "%s: short read", path);
		goto out;
	}
	cfg->secret_len = (size_t)n;
	rc = 0;
out:
	close(fd);
	return rc;
}

void lotad_cluster__own_figures(lotad_cluster *c, uint64_t *used, uint64_t *capacity)
{
	*used = *capacity = 0;
	if (!c->store)
		return;
	lotad_store_stats st;
	lotad_store_get_stats(c->store, &st);
	*used = st.used_bytes;
	*capacity = st.capacity_bytes;
}

void lotad_cluster__replace_placement(lotad_cluster *c)
{
	lota_placement *p = lota_placement_new();
	if (!p) {
		lota_log_error("cluster: no memory for the placement; keeping the old one");
		return;
	}
	for (size_t i = 0; i < c->n; i++) {
		member *m = &c->members[i];
		if (!m->up || m->capacity_bytes == 0)
			continue;
		if (lota_placement_add_node(p, m->id, strlen(m->id), (double)m->capacity_bytes))
			lota_log_warn("cluster: member %s left out of placement", m->id);
	}
	lota_placement_free(c->placement);
	c->placement = p;
}

void lotad_cluster__probe_result(lotad_cluster *c, const char *id, const lotad_probe_answer *a)
{
	pthread_mutex_lock(&c->lock);
	for (size_t i = 0; i < c->n; i++) {
		member *m = &c->members[i];
		if (strcmp(m->id, id) != 0)
			continue;
		bool changed = false;
		if (a) {
			m->misses = 0;
			m->used_bytes = a->used_bytes;
			if (!m->up || m->capacity_bytes != a->capacity_bytes) {
				if (!m->up) {
					m->up = true;
					m->since_s = time(NULL);
					lota_log_info("cluster: member %s (%s:%d) is up", m->id,
					              m->host, m->port);
				}
				m->capacity_bytes = a->capacity_bytes;
				changed = true;
			}
			/* what it says now: a bad or absent address is no address */
			snprintf(m->admin, sizeof(m->admin), "%s", a->admin);
			if (a->admin_bad && !m->admin_bad_logged)
				lota_log_warn(
				    "cluster: member %s advertises an admin address that is "
				    "not HOST:PORT (\"%s\"): ignored",
				    m->id, a->admin_raw);
			m->admin_bad_logged = a->admin_bad;
		} else if (m->up && ++m->misses >= LOTAD_CLUSTER_MISSES) {
			m->up = false;
			m->since_s = time(NULL);
			changed = true;
			lota_log_warn("cluster: member %s (%s:%d) is down (%d probes missed)",
			              m->id, m->host, m->port, m->misses);
		}
		if (changed)
			lotad_cluster__replace_placement(c);
		break;
	}
	pthread_mutex_unlock(&c->lock);
}

static int bind_listener(const char *host, int port, char *err, size_t cap)
{
	struct addrinfo hints = {.ai_family = AF_UNSPEC,
	                         .ai_socktype = SOCK_STREAM,
	                         .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
	struct addrinfo *ai = NULL;
	char ps[16];
	snprintf(ps, sizeof(ps), "%d", port);
	int rc = getaddrinfo(host[0] ? host : NULL, ps, &hints, &ai);
	if (rc) {
		snprintf(err, cap, "cannot resolve %s: %s", host, gai_strerror(rc));
		return -1;
	}
	int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int one = 1;
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, 128) < 0) {
		snprintf(err, cap, "cannot listen on %s:%d: %s", host, port, strerror(errno));
		if (fd >= 0)
			close(fd);
		fd = -1;
	}
	freeaddrinfo(ai);
	return fd;
}

lotad_cluster *lotad_cluster_new(const lotad_cluster_config *cfg, lotad_store *store, char *err,
                                 size_t cap)
{
	lotad_cluster *c = calloc(1, sizeof(*c));
	if (!c) {
		snprintf(err, cap, "out of memory");
		return NULL;
	}
	c->cfg = *cfg;
	c->store = store;
	c->listen_fd = c->stop_fd = -1;
	pthread_mutex_init(&c->lock, NULL);
	pthread_mutex_init(&c->conns_lock, NULL);
	pthread_cond_init(&c->conns_cv, NULL);
	int rc = lota_peer_auth_new(cfg->secret, cfg->secret_len, 0, &c->auth);
	if (rc) {
		snprintf(err, cap, "cluster secret: %s", lota_strerror(rc));
		goto fail;
	}
	for (size_t i = 0; i < cfg->num_members; i++) {
		member *m = &c->members[c->n++];
		snprintf(m->id, sizeof(m->id), "%s", cfg->members[i].id);
		snprintf(m->host, sizeof(m->host), "%s", cfg->members[i].host);
		m->port = cfg->members[i].port;
		m->self = strcmp(m->id, cfg->node_id) == 0;
		m->up = m->self;
		m->since_s = time(NULL);
		if (m->self)
			lotad_cluster__own_figures(c, &m->used_bytes, &m->capacity_bytes);
	}
	lotad_cluster__replace_placement(c);
	if (!c->placement) {
		snprintf(err, cap, "out of memory");
		goto fail;
	}
	c->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (c->stop_fd < 0) {
		snprintf(err, cap, "eventfd: %s", strerror(errno));
		goto fail;
	}
	if (cfg->tls_cert[0] && (lotad_cluster__tls_ctx(cfg, true, &c->tls_srv, err, cap) < 0 ||
	                         lotad_cluster__tls_ctx(cfg, false, &c->tls_cli, err, cap) < 0))
		goto fail;
	c->listen_fd = bind_listener(cfg->listen_host, cfg->listen_port, err, cap);
	if (c->listen_fd < 0)
		goto fail;
	return c;
fail:
	lotad_cluster_free(c);
	return NULL;
}

int lotad_cluster_start(lotad_cluster *c)
{
	int rc = -pthread_create(&c->prober, NULL, lotad_cluster__probe_main, c);
	if (rc)
		return rc;
	rc = -pthread_create(&c->acceptor, NULL, lotad_cluster__accept_main, c);
	if (rc) {
		atomic_store(&c->stopping, true);
		uint64_t one = 1;
		if (write(c->stop_fd, &one, sizeof(one)) < 0) {
			/* the prober also checks the flag each round */
		}
		pthread_join(c->prober, NULL);
		return rc;
	}
	c->started = true;
	lota_log_info("cluster: node %s, peer port %s:%d, %zu member(s)%s%s", c->cfg.node_id,
	              c->cfg.listen_host, c->cfg.listen_port, c->n,
	              c->cfg.dns_name[0] ? " from DNS name " : "", c->cfg.dns_name);
	return 0;
}

void lotad_cluster_free(lotad_cluster *c)
{
	if (!c)
		return;
	if (c->started) {
		atomic_store(&c->stopping, true);
		uint64_t one = 1;
		if (write(c->stop_fd, &one, sizeof(one)) < 0)
			lota_log_warn("cluster: cannot signal the threads to stop");
		pthread_join(c->prober, NULL);
		pthread_join(c->acceptor, NULL);
		/* connection threads see the stop flag at their next request or timeout */
		pthread_mutex_lock(&c->conns_lock);
		while (atomic_load(&c->conns) > 0)
			pthread_cond_wait(&c->conns_cv, &c->conns_lock);
		pthread_mutex_unlock(&c->conns_lock);
	}
	if (c->listen_fd >= 0)
		close(c->listen_fd);
	if (c->stop_fd >= 0)
		close(c->stop_fd);
	lota_placement_free(c->placement);
	lota_peer_auth_free(c->auth);
	SSL_CTX_free(c->tls_srv);
	SSL_CTX_free(c->tls_cli);
	explicit_bzero(c->cfg.secret, sizeof(c->cfg.secret));
	pthread_mutex_destroy(&c->lock);
	pthread_mutex_destroy(&c->conns_lock);
	pthread_cond_destroy(&c->conns_cv);
	free(c);
}

size_t lotad_cluster_members_up(lotad_cluster *c)
{
	size_t up = 0;
	pthread_mutex_lock(&c->lock);
	for (size_t i = 0; i < c->n; i++)
		up += c->members[i].up;
	pthread_mutex_unlock(&c->lock);
	return up;
}

/* A JSON string of bytes that are printable ASCII without '"' or '\\' (ids and hosts are
 * checked so at parse time; anything else is escaped as \u00XX). */
static size_t json_str(char *out, size_t cap, const char *s)
{
	size_t o = 0;
#define PUT(ch)                        \
	do {                           \
		if (o + 1 < cap)       \
			out[o] = (ch); \
		o++;                   \
	} while (0)
	PUT('"');
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;
		if (ch < 0x20 || ch >= 0x7f || ch == '"' || ch == '\\') {
			char esc[8];
			snprintf(esc, sizeof(esc), "\\u%04x", ch);
			for (char *e = esc; *e; e++)
				PUT(*e);
		} else {
			PUT((char)ch);
		}
	}
	PUT('"');
#undef PUT
	if (cap)
		out[o < cap ? o : cap - 1] = 0;
	return o;
}

char *lotad_cluster_json(lotad_cluster *c, size_t *len)
{
	size_t cap = 256 + LOTAD_CLUSTER_MAX_MEMBERS * (1400 + 16 + LOTAD_CLUSTER_ADMIN_MAX);
	char *out = malloc(cap);
	if (!out)
		return NULL;
	uint64_t used, capb;
	lotad_cluster__own_figures(c, &used, &capb);
	size_t o = 0;
	o += (size_t)snprintf(out + o, cap - o, "{\"node\":");
	o += json_str(out + o, cap - o, c->cfg.node_id);
	/* the extent size: a client computing owners needs the one the cluster cuts by */
	o += (size_t)snprintf(out + o, cap - o, ",\"extent_size_bytes\":%" PRIu64 ",\"members\":[",
	                      c->cfg.extent_size);
	pthread_mutex_lock(&c->lock);
	for (size_t i = 0; i < c->n; i++) {
		member *m = &c->members[i];
		if (m->self) {
			m->used_bytes = used;
			m->capacity_bytes = capb;
		}
		char addr[300];
		snprintf(addr, sizeof(addr), strchr(m->host, ':') ? "[%s]:%d" : "%s:%d", m->host,
		         m->port);
		o += (size_t)snprintf(out + o, cap - o, "%s{\"id\":", i ? "," : "");
		o += json_str(out + o, cap - o, m->id);
		o += (size_t)snprintf(out + o, cap - o, ",\"address\":");
		o += json_str(out + o, cap - o, addr);
		o += (size_t)snprintf(out + o, cap - o,
		                      ",\"state\":\"%s\",\"since\":%" PRId64 ",\"weight\":%" PRIu64
		                      ",\"cache_used_bytes\":%" PRIu64
		                      ",\"cache_capacity_bytes\":%" PRIu64 ",\"self\":%s",
		                      m->up ? "up" : "down", m->since_s, m->capacity_bytes,
		                      m->used_bytes, m->capacity_bytes, m->self ? "true" : "false");
		/* the admin address: this node's own, another's as it last advertised it */
		const char *admin = m->self ? c->cfg.admin_advertise : m->admin;
		o += (size_t)snprintf(out + o, cap - o, ",\"admin\":");
		if (admin[0])
			o += json_str(out + o, cap - o, admin);
		else
			o += (size_t)snprintf(out + o, cap - o, "null");
		o += (size_t)snprintf(out + o, cap - o, "}");
	}
	pthread_mutex_unlock(&c->lock);
	o += (size_t)snprintf(out + o, cap - o, "]}\n");
	*len = o < cap ? o : cap - 1;
	return out;
}

size_t lotad_cluster_metrics(char *out, size_t cap, void *ud)
{
	lotad_cluster *c = ud;
	static const char *const dirs[] = {"in", "out"};
	static const char *const res[] = {"ok", "miss", "refused", "error"};
	size_t up = 0, n;
	pthread_mutex_lock(&c->lock);
	n = c->n;
	for (size_t i = 0; i < c->n; i++)
		up += c->members[i].up;
	pthread_mutex_unlock(&c->lock);
	size_t o = 0;
#define OUT(...) \
	o += (size_t)snprintf(out + (o < cap ? o : cap), o < cap ? cap - o : 0, __VA_ARGS__)
	OUT("# HELP lota_cluster_members Members of the cluster, this node included.\n"
	    "# TYPE lota_cluster_members gauge\nlota_cluster_members %zu\n"
	    "# HELP lota_cluster_members_up Members up (in placement), this node included.\n"
	    "# TYPE lota_cluster_members_up gauge\nlota_cluster_members_up %zu\n",
	    n, up);
	OUT("# HELP lota_peer_requests_total Peer requests by direction (in = served to a "
	    "member, out = asked of one) and result.\n# TYPE lota_peer_requests_total counter\n");
	for (int d = 0; d < DIR__COUNT; d++)
		for (int r = 0; r < RES__COUNT; r++)
			OUT("lota_peer_requests_total{direction=\"%s\",result=\"%s\"} %llu\n",
			    dirs[d], res[r], (unsigned long long)atomic_load(&c->requests[d][r]));
	OUT("# HELP lota_peer_bytes_total Extent bytes of peer requests by direction (in = "
	    "served to members, out = received from them).\n# TYPE lota_peer_bytes_total "
	    "counter\n");
	for (int d = 0; d < DIR__COUNT; d++)
		OUT("lota_peer_bytes_total{direction=\"%s\"} %llu\n", dirs[d],
		    (unsigned long long)atomic_load(&c->bytes[d]));
	OUT("# HELP lota_peer_fills_total Extents this node filled for a member: from the "
	    "upstream with the member's fill ticket, or from the next candidate that held "
	    "them.\n# TYPE lota_peer_fills_total counter\n"
	    "lota_peer_fills_total{source=\"upstream\"} %llu\n"
	    "lota_peer_fills_total{source=\"peer\"} %llu\n",
	    (unsigned long long)atomic_load(&c->fills),
	    (unsigned long long)atomic_load(&c->fills_from_peer));
#undef OUT
	return o;
}

/* The member named id as an owner to ask (*out): 1, or 0 when it is this node or unknown.
 * The caller holds c->lock. */
static int owner_of(lotad_cluster *c, lota_str id, lotad_peer_owner *out)
{
	for (size_t j = 0; j < c->n; j++) {
		member *m = &c->members[j];
		if (strlen(m->id) != id.len || memcmp(m->id, id.ptr, id.len) != 0)
			continue;
		if (m->self)
			return 0;
		snprintf(out->id, sizeof(out->id), "%s", m->id);
		snprintf(out->host, sizeof(out->host), "%s", m->host);
		out->port = m->port;
		return 1;
	}
	return 0;
}

int lotad_cluster_owner(lotad_cluster *c, lota_hash128 h, lotad_peer_owner *out)
{
	if (!c)
		return 0;
	int rc = 0;
	pthread_mutex_lock(&c->lock);
	int i = lota_placement_owner(c->placement, h);
	if (i >= 0) {
		lota_str id = lota_placement_node_id(c->placement, (size_t)i);
		rc = owner_of(c, id, out);
	}
	pthread_mutex_unlock(&c->lock);
	return rc;
}

int lotad_cluster_extent_headers(lotad_cluster *c, lota_str extent, lota_str range, lota_str ticket,
                                 char *buf, size_t cap)
{
	lota_peer_fields f = {.method = LOTA_STR_LIT("GET"),
	                      .target = LOTA_STR_LIT("/peer/extent"),
	                      .node = {c->cfg.node_id, strlen(c->cfg.node_id)},
	                      .time_s = time(NULL),
	                      .extent = extent,
	                      .range = range,
	                      .ticket = ticket};
	int n = lota_peer_format(c->auth, &f, "-", buf, cap);
	if (n < 0)
		return n;
	/* keep the header lines the HMAC covers (curl writes its own request line, Host
	 * and Connection; Host is not signed) */
	size_t o = 0;
	for (size_t i = 0; i < (size_t)n;) {
		const char *e = memmem(buf + i, (size_t)n - i, "\r\n", 2);
		if (!e)
			break;
		size_t len = (size_t)(e - (buf + i)) + 2;
		bool keep = i > 0 && len > 2 && strncasecmp(buf + i, "Host:", 5) != 0 &&
		            strncasecmp(buf + i, "Connection:", 11) != 0;
		if (keep) {
			memmove(buf + o, buf + i, len);
			o += len;
		}
		i += len;
	}
	return (int)o;
}

int lotad_cluster_peer_tls(const lotad_cluster *c, const char **cert, const char **key,
                           const char **ca)
{
	if (!c || !c->cfg.tls_cert[0])
		return 0;
	*cert = c->cfg.tls_cert;
	*key = c->cfg.tls_key;
	*ca = c->cfg.tls_ca;
	return 1;
}

uint64_t lotad_cluster_timeout_ms(const lotad_cluster *c)
{
	return c->cfg.timeout_ms;
}

void lotad_cluster_count_out(lotad_cluster *c, int result, uint64_t bytes)
{
	if (result >= 0 && result < RES__COUNT)
		atomic_fetch_add(&c->requests[DIR_OUT][result], 1);
	atomic_fetch_add(&c->bytes[DIR_OUT], bytes);
}

int lotad_cluster_candidate(lotad_cluster *c, lota_hash128 h, const char *const *skip, size_t nskip,
                            lotad_peer_owner *out)
{
	int rc = 0;
	size_t idx[LOTAD_CLUSTER_RANK_MAX];
	if (!c)
		return 0;
	pthread_mutex_lock(&c->lock);
	int n = lota_placement_rank(c->placement, h, idx, LOTAD_CLUSTER_RANK_MAX);
	for (int i = 0; i < n && !rc; i++) {
		lota_str id = lota_placement_node_id(c->placement, idx[i]);
		bool skipped = false;
		for (size_t s = 0; s < nskip && !skipped; s++)
			skipped = strlen(skip[s]) == id.len && memcmp(skip[s], id.ptr, id.len) == 0;
		if (skipped)
			continue;
		rc = owner_of(c, id, out);
	}
	pthread_mutex_unlock(&c->lock);
	return rc;
}

int lotad_cluster__next_candidate(lotad_cluster *c, lota_hash128 h, lota_str skip,
                                  lotad_peer_owner *out)
{
	char id[LOTA_PLACEMENT_ID_MAX + 1];
	const char *s[1] = {id};
	snprintf(id, sizeof(id), "%.*s", (int)skip.len, skip.ptr);
	return lotad_cluster_candidate(c, h, s, 1, out);
}
