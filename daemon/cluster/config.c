/*
 * config.c - the cluster's keys of lotad's configuration, each checked with a message
 * that names the key and the reason (lotad refuses to start on any of them): the node id,
 * the peer port, the members (a static list that must name this node, or a DNS name),
 * the secret file (size and 0600 enforced), the timeouts, peer TLS (all three files or
 * none, the key 0600 enforced, the files loaded once here to refuse a bad one at start),
 * the admin address this node advertises to the members.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <lota/config.h>
#include <lota/log.h>

#include "cluster/cluster-internal.h"
#include "util/hostport.h"

static int hostport(const char *s, char *host, size_t cap, int *port)
{
	lota_str h;
	long p;
	if (lotad_hostport_split((lota_str){s, strlen(s)}, &h, &p) < 0 || p <= 0)
		return -1;
	h = lotad_host_unbracket(h);
	if (h.len >= cap)
		return -1;
	memcpy(host, h.ptr, h.len);
	host[h.len] = 0;
	*port = (int)p;
	return 0;
}

static bool id_ok(const char *id)
{
	size_t n = strlen(id);
	if (n == 0 || n > LOTA_PLACEMENT_ID_MAX)
		return false;
	for (const char *p = id; *p; p++)
		if ((unsigned char)*p <= 0x20 || *p == 0x7f || *p == '"' || *p == '\\' || *p == '=')
			return false;
	return true;
}

static bool wildcard(const char *host)
{
	return !host[0] || !strcmp(host, "0.0.0.0") || !strcmp(host, "::");
}

/* The admin address this node advertises to the members (admin_advertise, checked here;
 * else admin_listen's, checked by the caller). A listener on all addresses is advertised
 * with the host members reach this node at (its --peer entry; with peers_dns, its id when
 * that is an address, else peer_listen's host); a loopback one as it is (a client on
 * another host then knows it cannot reach it). Nothing when there is no admin listener,
 * or no host to name. */
static int admin_configure(struct lota_config *cfg, lotad_cluster_config *out)
{
	const char *adv = lota_config_get_string(cfg, "admin_advertise");
	const char *al = lota_config_get_string(cfg, "admin_listen");
	char *dst = out->admin_advertise;
	size_t cap = sizeof(out->admin_advertise);
	if (adv && adv[0]) {
		if (!al || !al[0]) {
			fprintf(stderr, "lotad: config key \"admin_advertise\": needs admin_listen "
			                "(the admin listener it names)\n");
			return -1;
		}
		if (lotad_cluster_admin_parse((lota_str){adv, strlen(adv)}, dst, cap) < 0) {
			fprintf(stderr,
			        "lotad: config key \"admin_advertise\": \"%s\" is not HOST:PORT (a "
			        "host name, an IPv4 address or a [bracketed] IPv6 address, and a "
			        "port from 1 to 65535)\n",
			        adv);
			return -1;
		}
		return 0;
	}
	char host[256];
	int port;
	if (!al || !al[0] || hostport(al, host, sizeof(host), &port) < 0)
		return 0;
	if (wildcard(host)) {
		const char *h = NULL;
		struct in6_addr a6;
		for (size_t i = 0; i < out->num_members && !h; i++)
			if (!strcmp(out->members[i].id, out->node_id))
				h = out->members[i].host;
		if (!h && out->dns_name[0] &&
		    (inet_pton(AF_INET, out->node_id, &a6) == 1 ||
		     inet_pton(AF_INET6, out->node_id, &a6) == 1))
			h = out->node_id;
		if (!h && !wildcard(out->listen_host))
			h = out->listen_host;
		if (!h || wildcard(h)) {
			lota_log_warn("cluster: admin_listen %s is on all addresses and no address "
			              "of this node is known: no admin address advertised (give "
			              "admin_advertise)",
			              al);
			return 0;
		}
		snprintf(host, sizeof(host), "%s", h);
	}
	char a[LOTAD_CLUSTER_ADMIN_MAX + 16];
	snprintf(a, sizeof(a), strchr(host, ':') ? "[%s]:%d" : "%s:%d", host, port);
	if (lotad_cluster_admin_parse((lota_str){a, strlen(a)}, dst, cap) < 0)
		lota_log_warn("cluster: the admin address %s is not HOST:PORT a member can read: "
		              "not advertised (give admin_advertise)",
		              a);
	return 0;
}

static int tls_configure(struct lota_config *cfg, lotad_cluster_config *out)
{
	static const char *const keys[3] = {"peer_tls_cert", "peer_tls_key", "peer_tls_ca"};
	char *dst[3] = {out->tls_cert, out->tls_key, out->tls_ca};
	int given = 0;
	for (int i = 0; i < 3; i++) {
		const char *v = lota_config_get_string(cfg, keys[i]);
		if (v && v[0]) {
			given |= 1 << i;
			if (strlen(v) >= sizeof(out->tls_cert)) {
				fprintf(stderr, "lotad: config key \"%s\": path too long\n",
				        keys[i]);
				return -1;
			}
			snprintf(dst[i], sizeof(out->tls_cert), "%s", v);
		}
	}
	if (given == 0)
		return 0;
	for (int i = 0; i < 3; i++)
		if (!(given & (1 << i))) {
			fprintf(stderr,
			        "lotad: config key \"%s\": required with %s (peer TLS needs "
			        "peer_tls_cert, peer_tls_key and peer_tls_ca together)\n",
			        keys[i],
			        keys[given & 1   ? 0
			             : given & 2 ? 1
			                         : 2]);
			return -1;
		}
	char err[1024];
	if (lotad_cluster__tls_key_check(out->tls_key, err, sizeof(err)) < 0) {
		fprintf(stderr, "lotad: config key \"peer_tls_key\": %s\n", err);
		return -1;
	}
	SSL_CTX *x = NULL;
	if (lotad_cluster__tls_ctx(out, true, &x, err, sizeof(err)) < 0) {
		fprintf(stderr, "lotad: %s\n", err);
		return -1;
	}
	SSL_CTX_free(x);
	return 0;
}

int lotad_cluster_configure(struct lota_config *cfg, const char *upstream_url, uint64_t extent_size,
                            lotad_cluster_config *out)
{
	const char *const *peers = NULL;
	size_t np = lota_config_get_list(cfg, "peer", &peers);
	const char *dns = lota_config_get_string(cfg, "peers_dns");
	bool has_dns = dns && dns[0];
	if (np == 0 && !has_dns) {
		const char *t = lota_config_get_string(cfg, "peer_tls_cert");
		if (t && t[0]) {
			fprintf(stderr, "lotad: config key \"peer_tls_cert\": peer TLS needs a "
			                "cluster (peer or peers_dns)\n");
			return -1;
		}
		t = lota_config_get_string(cfg, "admin_advertise");
		if (t && t[0]) {
			fprintf(stderr, "lotad: config key \"admin_advertise\": needs a cluster "
			                "(peer or peers_dns), whose members it is told to\n");
			return -1;
		}
		return 1;
	}
	memset(out, 0, sizeof(*out));
	if (np && has_dns) {
		fprintf(stderr, "lotad: config key \"peers_dns\": give either peer (a static list) "
		                "or peers_dns, not both\n");
		return -1;
	}
	const char *id = lota_config_get_string(cfg, "node_id");
	if (has_dns && (!id || !id[0])) {
		/* a DNS member's id is its address: this node's is its peer address (checked
		 * below to be a literal one) */
		id = NULL;
	} else if (id && id[0]) {
		if (!id_ok(id)) {
			fprintf(stderr,
			        "lotad: config key \"node_id\": \"%s\" is not 1 to %u printable "
			        "bytes without space, '=', '\"' or '\\'\n",
			        id, LOTA_PLACEMENT_ID_MAX);
			return -1;
		}
		snprintf(out->node_id, sizeof(out->node_id), "%s", id);
	} else if (gethostname(out->node_id, sizeof(out->node_id) - 1) < 0 ||
	           !id_ok(out->node_id)) {
		fprintf(stderr, "lotad: config key \"node_id\": not set, and the host name is not "
		                "usable as a node id\n");
		return -1;
	}
	const char *pl = lota_config_get_string(cfg, "peer_listen");
	if (!pl || !pl[0]) {
		fprintf(stderr, "lotad: config key \"peer_listen\": required with peer or "
		                "peers_dns (the HOST:PORT of this node's peer port)\n");
		return -1;
	}
	if (hostport(pl, out->listen_host, sizeof(out->listen_host), &out->listen_port) < 0) {
		fprintf(stderr, "lotad: config key \"peer_listen\": \"%s\" is not HOST:PORT\n", pl);
		return -1;
	}
	if (np > LOTAD_CLUSTER_MAX_MEMBERS) {
		fprintf(stderr, "lotad: config key \"peer\": at most %d members\n",
		        LOTAD_CLUSTER_MAX_MEMBERS);
		return -1;
	}
	bool self = false;
	for (size_t i = 0; i < np; i++) {
		lotad_cluster_member_spec *m = &out->members[i];
		if (lotad_cluster_parse_member(peers[i], m) < 0 || !id_ok(m->id)) {
			fprintf(stderr,
			        "lotad: config key \"peer\": \"%s\" is not ID=HOST:PORT (an id of "
			        "printable bytes without space, then the member's peer port)\n",
			        peers[i]);
			return -1;
		}
		for (size_t j = 0; j < i; j++)
			if (strcmp(out->members[j].id, m->id) == 0) {
				fprintf(stderr,
				        "lotad: config key \"peer\": id \"%s\" is given twice\n",
				        m->id);
				return -1;
			}
		self |= strcmp(m->id, out->node_id) == 0;
	}
	out->num_members = np;
	if (np && !self) {
		fprintf(stderr,
		        "lotad: config key \"peer\": no member is this node (node_id \"%s\"); list "
		        "every member, this node included\n",
		        out->node_id);
		return -1;
	}
	if (has_dns && (hostport(dns, out->dns_name, sizeof(out->dns_name), &out->dns_port) < 0 ||
	                !out->dns_name[0])) {
		fprintf(stderr, "lotad: config key \"peers_dns\": \"%s\" is not NAME:PORT\n", dns);
		return -1;
	}
	if (has_dns && !out->node_id[0]) {
		struct in6_addr a6;
		if (inet_pton(AF_INET, out->listen_host, &a6) != 1 &&
		    inet_pton(AF_INET6, out->listen_host, &a6) != 1) {
			fprintf(stderr,
			        "lotad: config key \"node_id\": with peers_dns a node's id is its "
			        "address; peer_listen \"%s\" is not one, so give node_id (this "
			        "node's address in %s)\n",
			        pl, out->dns_name);
			return -1;
		}
		if (!strcmp(out->listen_host, "0.0.0.0") || !strcmp(out->listen_host, "::")) {
			fprintf(
			    stderr,
			    "lotad: config key \"node_id\": with peers_dns and peer_listen on "
			    "all addresses (\"%s\"), give node_id (this node's address in %s)\n",
			    pl, out->dns_name);
			return -1;
		}
		snprintf(out->node_id, sizeof(out->node_id), "%s", out->listen_host);
	}
	out->refresh_ms = (uint64_t)lota_config_get_duration_ms(cfg, "peers_refresh");
	out->timeout_ms = (uint64_t)lota_config_get_duration_ms(cfg, "peer_timeout");
	out->readahead = (unsigned)lota_config_get_int(cfg, "peer_readahead");
	out->extent_size = extent_size;
	snprintf(out->upstream_url, sizeof(out->upstream_url), "%s", upstream_url);
	const char *sf = lota_config_get_string(cfg, "cluster_secret_file");
	char err[512];
	if (!sf || !sf[0]) {
		fprintf(stderr, "lotad: config key \"cluster_secret_file\": required with peer or "
		                "peers_dns (a file of 32 or more random bytes, mode 0600, the same "
		                "on every node)\n");
		return -1;
	}
	if (lotad_cluster_load_secret(sf, out, err, sizeof(err)) < 0) {
		fprintf(stderr, "lotad: config key \"cluster_secret_file\": %s\n", err);
		return -1;
	}
	if (admin_configure(cfg, out) < 0)
		return -1;
	return tls_configure(cfg, out);
}
