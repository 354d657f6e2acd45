/*
 * client_cluster.c - what a locality-aware loader asks: the cluster's members (lotad's
 * admin GET /cluster, JSON), the node that owns an object's extent (placed exactly as
 * lotad places it: lota/extent.h names the extent, lota/placement.h ranks the members
 * that are up), each member's admin endpoint (as it advertises it to the others, which
 * /cluster repeats), and the hashed-prefix form of a key.
 */
#include <errno.h>
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cjson/cJSON.h>
#include <xxhash.h>

#include <lota/extent.h>
#include <lota/placement.h>

#include "client-internal.h"

static int admin_get(lota_client *c, const char *admin_url, const char *path, lota__xfer *x,
                     char **url_out, lota_client_error *err);

int lota_client_hashed_key(const char *key, size_t len, unsigned digits, char *out, size_t cap)
{
	if ((!key && len) || !out || digits > 16)
		return -EINVAL;
	if (digits == 0)
		digits = LOTA_CLIENT_HASHED_KEY_DIGITS;
	if (cap < digits + 1 + len + 1 || len > INT32_MAX - 32)
		return LOTA_E_TOO_LARGE;
	char hex[17];
	snprintf(hex, sizeof(hex), "%016llx", (unsigned long long)XXH3_64bits(key, len));
	memcpy(out, hex, digits);
	out[digits] = '/';
	if (len)
		memcpy(out + digits + 1, key, len);
	out[digits + 1 + len] = '\0';
	return (int)(digits + 1 + len);
}

static void str_field(const cJSON *o, const char *name, char *out, size_t cap)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
	out[0] = '\0';
	if (cJSON_IsString(v) && v->valuestring)
		snprintf(out, cap, "%s", v->valuestring);
}

static double num_field(const cJSON *o, const char *name, double def)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
	return cJSON_IsNumber(v) ? v->valuedouble : def;
}

/* lota_client_cluster into nodes, or lota_client_cluster_members into members (the other
 * NULL), also giving the extent size the cluster states (0 when its /cluster names none:
 * a lotad older than the key). */
static int cluster_get(lota_client *c, const char *admin_url, lota_client_node *nodes,
                       lota_client_member *into, size_t cap, uint64_t *extent_size,
                       lota_client_error *err);

int lota_client_cluster(lota_client *c, const char *admin_url, lota_client_node *nodes, size_t cap,
                        lota_client_error *err)
{
	return cluster_get(c, admin_url, nodes, NULL, cap, NULL, err);
}

int lota_client_cluster_members(lota_client *c, const char *admin_url, lota_client_member *members,
                                size_t cap, lota_client_error *err)
{
	return cluster_get(c, admin_url, NULL, members, cap, NULL, err);
}

/* A member's "admin": HOST:PORT of printable bytes without space, quote or backslash
 * (lotad checks it stricter), else none; and whether its host is a loopback one. */
static void admin_field(const cJSON *m, lota_client_member *out)
{
	char a[sizeof(out->admin) + 1]; /* one more: a longer one is refused, not cut */
	str_field(m, "admin", a, sizeof(a));
	size_t n = strlen(a);
	const char *colon = strrchr(a, ':');
	if (n == 0 || n >= sizeof(out->admin) || !colon || colon == a || !colon[1])
		return;
	for (size_t i = 0; i < n; i++)
		if (a[i] <= ' ' || a[i] >= 0x7f || a[i] == '"' || a[i] == '\\' || a[i] == '/')
			return;
	memcpy(out->admin, a, n + 1);
	size_t hl = (size_t)(colon - a);
	out->admin_loopback = (hl > 4 && !strncmp(a, "127.", 4)) ||
	                      (hl == 5 && !strncmp(a, "[::1]", 5)) ||
	                      (hl == 9 && !strncasecmp(a, "localhost", 9));
}

static int cluster_get(lota_client *c, const char *admin_url, lota_client_node *nodes,
                       lota_client_member *into, size_t cap, uint64_t *extent_size,
                       lota_client_error *err)
{
	if (err)
		memset(err, 0, sizeof(*err));
	if (!c || (!nodes && !into && cap)) {
		lota__client_err(err, -EINVAL, "bad arguments");
		return -EINVAL;
	}
	char *url = NULL;
	cJSON *doc = NULL;
	lota__xfer x;
	lota__xfer_init(&x, "GET", NULL, NULL);
	int rc = admin_get(c, admin_url, "/cluster", &x, &url, err);
	if (rc < 0)
		goto out;
	rc = LOTA_E_CLIENT_PROTOCOL;
	doc = cJSON_ParseWithLength(x.body ? x.body : "", x.body_len);
	const cJSON *members = cJSON_GetObjectItemCaseSensitive(doc, "members");
	if (!cJSON_IsArray(members)) {
		lota__client_err(err, rc, "%s is not lotad's /cluster JSON", url);
		goto out;
	}
	if (extent_size) {
		double es = num_field(doc, "extent_size_bytes", 0);
		*extent_size = es >= 1 && es < 1e18 ? (uint64_t)es : 0;
	}
	int count = 0;
	const cJSON *m;
	cJSON_ArrayForEach(m, members)
	{
		if (!cJSON_IsObject(m))
			continue;
		char id[128], state[16];
		str_field(m, "id", id, sizeof(id));
		str_field(m, "state", state, sizeof(state));
		if (!id[0]) {
			lota__client_err(err, rc, "a member without an id");
			goto out;
		}
		if ((size_t)count < cap) {
			lota_client_node *n = into ? &into[count].node : &nodes[count];
			if (into) {
				memset(&into[count], 0, sizeof(into[count]));
				admin_field(m, &into[count]);
			}
			memset(n, 0, sizeof(*n));
			snprintf(n->id, sizeof(n->id), "%s", id);
			str_field(m, "address", n->address, sizeof(n->address));
			n->up = !strcmp(state, "up");
			n->self = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(m, "self"));
			n->weight = num_field(m, "weight", 1.0);
			double u = num_field(m, "cache_used_bytes", 0),
			       k = num_field(m, "cache_capacity_bytes", 0),
			       s = num_field(m, "since", 0);
			n->cache_used_bytes = u > 0 ? (uint64_t)u : 0;
			n->cache_capacity_bytes = k > 0 ? (uint64_t)k : 0;
			n->since = (int64_t)s;
		}
		if (count == INT32_MAX)
			break;
		count++;
	}
	rc = count;
out:
	cJSON_Delete(doc);
	lota__xfer_cleanup(&x);
	free(url);
	return rc;
}

/* A sample value: a number as Prometheus prints it ("12", "1.5e+06", "NaN", "+Inf").
 * Returns false for anything else; negative and non-finite values count as 0. */
static bool sample_value(const char *v, size_t len, uint64_t *out)
{
	char tmp[64];
	*out = 0;
	if (len == 0 || len >= sizeof(tmp))
		return false;
	memcpy(tmp, v, len);
	tmp[len] = '\0';
	char *end;
	double d = strtod(tmp, &end);
	if (end != tmp + len)
		return false;
	if (isfinite(d) && d > 0)
		*out = d >= 1.8e19 ? UINT64_MAX : (uint64_t)d;
	return true;
}

static bool str_is(const char *p, size_t len, const char *lit)
{
	return len == strlen(lit) && !memcmp(p, lit, len);
}

static void add(uint64_t *to, uint64_t v)
{
	*to = *to > UINT64_MAX - v ? UINT64_MAX : *to + v;
}

int lota__metrics_parse(const char *buf, size_t len, lota_client_node_stats *out)
{
	memset(out, 0, sizeof(*out));
	if (!buf && len)
		return -EINVAL;
	const char *p = buf, *end = buf + len;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *le = nl ? nl : end;
		const char *q = p;
		p = nl ? nl + 1 : end;
		while (q < le && (*q == ' ' || *q == '\t'))
			q++;
		if (q == le || *q == '#')
			continue;
		/* name */
		const char *n = q;
		while (q < le && (isalnum((unsigned char)*q) || *q == '_' || *q == ':'))
			q++;
		if (q == n)
			return LOTA_E_CLIENT_PROTOCOL;
		size_t nlen = (size_t)(q - n);
		/* labels: to the closing brace (a quoted value may hold one) */
		const char *lab = NULL;
		size_t lablen = 0;
		if (q < le && *q == '{') {
			lab = ++q;
			bool quoted = false;
			while (q < le && (quoted || *q != '}')) {
				if (*q == '\\' && quoted && q + 1 < le)
					q++;
				else if (*q == '"')
					quoted = !quoted;
				q++;
			}
			if (q >= le)
				return LOTA_E_CLIENT_PROTOCOL;
			lablen = (size_t)(q - lab);
			q++;
		}
		if (q >= le || (*q != ' ' && *q != '\t'))
			return LOTA_E_CLIENT_PROTOCOL;
		while (q < le && (*q == ' ' || *q == '\t'))
			q++;
		const char *v = q;
		while (q < le && *q != ' ' && *q != '\t' && *q != '\r')
			q++;
		if (q == v)
			return LOTA_E_CLIENT_PROTOCOL;
		uint64_t val;
		if (!sample_value(v, (size_t)(q - v), &val))
			return LOTA_E_CLIENT_PROTOCOL;
		if (str_is(n, nlen, "lota_cache_hits_total"))
			add(&out->cache_hits, val);
		else if (str_is(n, nlen, "lota_cache_misses_total"))
			add(&out->cache_misses, val);
		else if (str_is(n, nlen, "lota_cache_bypass_total"))
			add(&out->cache_bypass, val);
		else if (str_is(n, nlen, "lota_cache_bytes"))
			add(&out->cache_used_bytes, val);
		else if (str_is(n, nlen, "lota_cache_capacity_bytes"))
			add(&out->cache_capacity_bytes, val);
		else if (str_is(n, nlen, "lota_bytes_served_total") && lab) {
			if (memmem(lab, lablen, "source=\"cache\"", 14))
				add(&out->bytes_from_cache, val);
			else if (memmem(lab, lablen, "source=\"upstream\"", 17))
				add(&out->bytes_from_upstream, val);
		}
	}
	return 0;
}

/* GET admin_url + path (unsigned) into x's saved body. */
static int admin_get(lota_client *c, const char *admin_url, const char *path, lota__xfer *x,
                     char **url_out, lota_client_error *err)
{
	const char *base = admin_url && *admin_url ? admin_url : c->admin_url;
	*url_out = NULL;
	if (!base) {
		lota__client_err(err, LOTA_E_CLIENT_URI,
		                 "no admin endpoint (set admin_url or LOTA_ADMIN_URL)");
		return LOTA_E_CLIENT_URI;
	}
	if (strncmp(base, "http://", 7) != 0 && strncmp(base, "https://", 8) != 0) {
		lota__client_err(err, LOTA_E_CLIENT_URI, "admin endpoint \"%s\" is not http[s]://",
		                 base);
		return LOTA_E_CLIENT_URI;
	}
	size_t bl = strlen(base);
	while (bl > 0 && base[bl - 1] == '/')
		bl--;
	size_t ul = bl + strlen(path) + 1;
	char *url = malloc(ul);
	if (!url)
		return -ENOMEM;
	snprintf(url, ul, "%.*s%s", (int)bl, base, path);
	lota__xfer_init(x, "GET", NULL, NULL);
	x->url = url;
	x->save_body = true;
	*url_out = url;
	return lota__perform(c, x, err);
}

int lota_client_node_stats_get(lota_client *c, const char *admin_url, lota_client_node_stats *out,
                               lota_client_error *err)
{
	if (err)
		memset(err, 0, sizeof(*err));
	if (!c || !out) {
		lota__client_err(err, -EINVAL, "bad arguments");
		return -EINVAL;
	}
	memset(out, 0, sizeof(*out));
	lota__xfer x;
	char *url = NULL;
	lota__xfer_init(&x, "GET", NULL, NULL);
	int rc = admin_get(c, admin_url, "/metrics", &x, &url, err);
	if (rc == 0) {
		rc = lota__metrics_parse(x.body, x.body_len, out);
		if (rc < 0)
			lota__client_err(err, rc, "%s is not a Prometheus page", url);
	}
	lota__xfer_cleanup(&x);
	free(url);
	return rc;
}

#define OWNER_MAX_NODES 1024

int lota_client_owner(lota_client *c, const char *bucket, const char *key, uint64_t offset,
                      lota_client_node *owner, lota_client_error *err)
{
	lota_object_info info;
	lota_client_node *nodes = NULL;
	lota_placement *pl = NULL;
	int rc;
	if (err)
		memset(err, 0, sizeof(*err));
	if (!c || !owner || !bucket || !*bucket || !key || !*key) {
		lota__client_err(err, -EINVAL, "bad arguments");
		return -EINVAL;
	}
	/* The object's size and ETag, asked with Cache-Control: no-store so that lotad passes
	 * the HEAD on instead of taking it as a request to pre-stage the whole object. */
	lota__xfer x;
	lota__xfer_init(&x, "HEAD", bucket, key);
	rc = lota__xfer_header(&x, "Cache-Control", "no-store");
	if (rc == 0)
		rc = lota__perform(c, &x, err);
	if (rc == 0)
		lota__fill_info(&x, &info, x.content_length);
	lota__xfer_cleanup(&x);
	if (rc < 0)
		return rc;
	uint64_t index, ext = 0;
	rc = -ENOMEM;
	nodes = calloc(OWNER_MAX_NODES, sizeof(*nodes));
	pl = lota_placement_new();
	if (!nodes || !pl)
		goto out;
	rc = cluster_get(c, NULL, nodes, NULL, OWNER_MAX_NODES, &ext, err);
	if (rc < 0)
		goto out;
	size_t n = (size_t)rc < OWNER_MAX_NODES ? (size_t)rc : OWNER_MAX_NODES;
	/* the cluster's own extent size wins: another one names other extents */
	if (!ext)
		ext = c->extent_size;
	rc = lota_extent_index(info.size_bytes, ext, offset, &index);
	if (rc < 0) {
		lota__client_err(err, rc, "offset %llu is beyond the object (%llu bytes)",
		                 (unsigned long long)offset, (unsigned long long)info.size_bytes);
		goto out;
	}
	size_t up = 0;
	for (size_t i = 0; i < n; i++) {
		/* lotad leaves out of its placement a member with no capacity known yet
		 * (weight 0): so must we, or we name an owner lotad does not use */
		double w = nodes[i].weight;
		if (!nodes[i].up || !isfinite(w) || w <= 0)
			continue;
		rc = lota_placement_add_node(pl, nodes[i].id, strlen(nodes[i].id), w);
		if (rc < 0) {
			lota__client_err(err, rc, "member %s: %s", nodes[i].id, lota_strerror(rc));
			goto out;
		}
		up++;
	}
	if (up == 0) {
		rc = LOTA_E_PLACEMENT_NO_NODES;
		lota__client_err(err, rc, "no cluster member is up");
		goto out;
	}
	lota_object_id obj = {.bucket = {bucket, strlen(bucket)},
	                      .key = {key, strlen(key)},
	                      .etag = {info.etag, strlen(info.etag)},
	                      .version_id = {info.version_id, strlen(info.version_id)},
	                      .size_bytes = info.size_bytes};
	lota_hash128 h;
	rc = lota_extent_name(&obj, ext, index, &h);
	size_t best = 0;
	if (rc == 0) {
		rc = lota_placement_owner(pl, h);
		if (rc >= 0) {
			best = (size_t)rc;
			rc = 0;
		}
	}
	if (rc < 0) {
		lota__client_err(err, rc, "%s", lota_strerror(rc));
		goto out;
	}
	lota_str id = lota_placement_node_id(pl, best);
	rc = LOTA_E_INTERNAL;
	for (size_t i = 0; i < n; i++)
		if (nodes[i].up && strlen(nodes[i].id) == id.len &&
		    !memcmp(nodes[i].id, id.ptr, id.len)) {
			*owner = nodes[i];
			rc = 0;
			break;
		}
out:
	lota_placement_free(pl);
	free(nodes);
	return rc;
}
