/*
 * peer.c - the peer protocol of lota/peer.h: the canonical string, its HMAC-SHA256 under
 * the cluster secret, the request framing, the verifier and its replay cache, and the
 * hex encoding of an extent's canonical cache key.
 *
 * The replay cache is an open-addressing hash table of (nonce, expiry) with twice as many
 * slots as it may hold nonces, so probes stay short. Nonces are 128 random bits chosen by
 * an authenticated member (only a request whose HMAC verified is inserted), so their
 * first 64 bits index the table directly. Nothing is deleted in place: when the table
 * holds `capacity` nonces it is rebuilt into a spare table of the same size keeping only
 * the live ones (expiry = request time + window; after it the request is stale anyway).
 * Memory is therefore fixed at creation: 2 tables x 2 x capacity x 24 bytes.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lota/peer.h>

#include "crypto-internal.h"

#define TAG "LOTA-PEER-HMAC-SHA256"

struct slot {
	uint64_t a, b;
	int64_t expiry_s; /* 0 = empty */
};

struct lota_peer_auth {
	pthread_mutex_t lock;
	lota__hmac_ctx *mac;
	uint8_t *secret;
	size_t secret_len;
	struct slot *tab, *spare;
	size_t mask;     /* slots - 1 */
	size_t capacity; /* nonces held at most */
	size_t count;
};

int lota_peer_auth_new(const void *secret, size_t secret_len, size_t replay_capacity,
                       lota_peer_auth **out)
{
	int rc = -EINVAL;
	lota_peer_auth *a = NULL;
	if (!out || (!secret && secret_len))
		goto fail;
	*out = NULL;
	rc = LOTA_E_PEER_SECRET;
	if (secret_len < LOTA_PEER_SECRET_MIN || secret_len > LOTA_PEER_SECRET_MAX)
		goto fail;
	if (replay_capacity == 0)
		replay_capacity = LOTA_PEER_REPLAY_DEFAULT;
	rc = LOTA_E_TOO_LARGE;
	if (replay_capacity > (1u << 24))
		goto fail;
	size_t slots = 2;
	while (slots < 2 * replay_capacity)
		slots <<= 1;
	rc = -ENOMEM;
	if (!(a = calloc(1, sizeof(*a))))
		goto fail;
	a->tab = calloc(slots, sizeof(*a->tab));
	a->spare = calloc(slots, sizeof(*a->spare));
	a->secret = malloc(secret_len);
	if (!a->tab || !a->spare || !a->secret)
		goto fail;
	memcpy(a->secret, secret, secret_len);
	a->secret_len = secret_len;
	a->mask = slots - 1;
	a->capacity = replay_capacity;
	rc = LOTA_E_CRYPTO;
	if (!(a->mac = lota__hmac_new()))
		goto fail;
	rc = -pthread_mutex_init(&a->lock, NULL);
	if (rc)
		goto fail;
	*out = a;
	return 0;
fail:
	if (a) {
		lota__hmac_free(a->mac);
		lota__wipe(a->secret, a->secret_len);
		free(a->secret);
		free(a->tab);
		free(a->spare);
		free(a);
	}
	return rc;
}

void lota_peer_auth_free(lota_peer_auth *a)
{
	if (!a)
		return;
	pthread_mutex_destroy(&a->lock);
	lota__hmac_free(a->mac);
	lota__wipe(a->secret, a->secret_len);
	free(a->secret);
	free(a->tab);
	free(a->spare);
	free(a);
}

/* A field of the canonical string: no control byte (CR, LF, NUL...) nor DEL. */
static bool field_ok(lota_str s)
{
	if (s.len && !s.ptr)
		return false;
	for (size_t i = 0; i < s.len; i++) {
		unsigned char c = (unsigned char)s.ptr[i];
		if ((c < 0x20 && c != '\t') || c == 0x7f)
			return false;
	}
	return true;
}

int lota_peer_canonical(const lota_peer_fields *f, char *buf, size_t cap)
{
	if (!f || (!buf && cap))
		return -EINVAL;
	char tbuf[24];
	lota_str t = f->time;
	if (!t.len) {
		int n = snprintf(tbuf, sizeof(tbuf), "%" PRId64, f->time_s);
		t = (lota_str){tbuf, (size_t)n};
	}
	const lota_str parts[] = {LOTA_STR_LIT(TAG), f->method, f->target, f->node,  t,
	                          f->nonce,          f->extent, f->range,  f->ticket};
	const size_t n = sizeof(parts) / sizeof(parts[0]);
	if (!f->method.len || !f->target.len || !f->node.len || !f->nonce.len)
		return LOTA_E_PEER_MALFORMED;
	size_t total = n - 1;
	for (size_t i = 0; i < n; i++) {
		if (!field_ok(parts[i]))
			return LOTA_E_PEER_MALFORMED;
		total += parts[i].len;
	}
	if (total > (size_t)INT32_MAX)
		return LOTA_E_TOO_LARGE;
	if (total > cap)
		return -ENOBUFS;
	size_t off = 0;
	for (size_t i = 0; i < n; i++) {
		if (i)
			buf[off++] = '\n';
		if (parts[i].len)
			memcpy(buf + off, parts[i].ptr, parts[i].len);
		off += parts[i].len;
	}
	return (int)total;
}

/* The raw HMAC of f's canonical string; the caller holds a->lock. */
static int mac_locked(lota_peer_auth *a, const lota_peer_fields *f, uint8_t mac[LOTA__HMAC_LEN])
{
	/* The canonical string is bounded by the caps of its fields, so a stack buffer of
	 * the largest head holds it. */
	char buf[LOTA_PEER_HEAD_MAX];
	int len = lota_peer_canonical(f, buf, sizeof(buf));
	if (len == -ENOBUFS)
		return LOTA_E_TOO_LARGE;
	if (len < 0)
		return len;
	int rc = lota__hmac_init(a->mac, a->secret, a->secret_len);
	if (!rc)
		rc = lota__hmac_update(a->mac, buf, (size_t)len);
	if (!rc)
		rc = lota__hmac_final(a->mac, mac);
	return rc;
}

int lota_peer_sign(lota_peer_auth *a, const lota_peer_fields *f,
                   char out[LOTA_PEER_SIG_HEX_LEN + 1])
{
	if (!a || !f || !out)
		return -EINVAL;
	out[0] = '\0';
	uint8_t mac[LOTA__HMAC_LEN];
	pthread_mutex_lock(&a->lock);
	int rc = mac_locked(a, f, mac);
	pthread_mutex_unlock(&a->lock);
	if (!rc)
		lota__hex_encode(mac, sizeof(mac), out);
	return rc;
}

int lota_peer_nonce(char out[LOTA_PEER_NONCE_HEX_LEN + 1])
{
	uint8_t r[LOTA_PEER_NONCE_HEX_LEN / 2];
	int rc = lota__random_bytes(r, sizeof(r));
	if (rc) {
		out[0] = '\0';
		return rc;
	}
	lota__hex_encode(r, sizeof(r), out);
	return 0;
}

/* The caps of the fields, shared by the signer and the verifier. */
static int check_caps(const lota_peer_fields *f)
{
	if (f->target.len > LOTA_PEER_TARGET_MAX || f->node.len > LOTA_PLACEMENT_ID_MAX ||
	    f->extent.len > LOTA_PEER_EXTENT_MAX || f->ticket.len > LOTA_PEER_TICKET_MAX ||
	    f->range.len > 64 || f->method.len > 16)
		return LOTA_E_TOO_LARGE;
	return 0;
}

int lota_peer_format(lota_peer_auth *a, const lota_peer_fields *in, const char *host, char *buf,
                     size_t cap)
{
	if (!a || !in || !host || (!buf && cap))
		return -EINVAL;
	lota_peer_fields f = *in;
	char nonce[LOTA_PEER_NONCE_HEX_LEN + 1], tbuf[24], sig[LOTA_PEER_SIG_HEX_LEN + 1];
	int rc = check_caps(&f);
	if (rc)
		return rc;
	if (!f.nonce.len) {
		if ((rc = lota_peer_nonce(nonce)))
			return rc;
		f.nonce = (lota_str){nonce, LOTA_PEER_NONCE_HEX_LEN};
	}
	int tn = snprintf(tbuf, sizeof(tbuf), "%" PRId64, f.time_s);
	f.time = (lota_str){tbuf, (size_t)tn};
	if ((rc = lota_peer_sign(a, &f, sig)))
		return rc;
	if (!field_ok((lota_str){host, strlen(host)}))
		return LOTA_E_PEER_MALFORMED;
	int n = snprintf(buf, cap,
	                 "%.*s %.*s HTTP/1.1\r\nHost: %s\r\n" LOTA_PEER_H_NODE
	                 ": %.*s\r\n" LOTA_PEER_H_TIME ": %s\r\n" LOTA_PEER_H_NONCE ": %.*s\r\n",
	                 (int)f.method.len, f.method.ptr, (int)f.target.len, f.target.ptr, host,
	                 (int)f.node.len, f.node.ptr, tbuf, (int)f.nonce.len, f.nonce.ptr);
	size_t off = n < 0 ? cap : (size_t)n;
#define ADD(...)                                                              \
	do {                                                                  \
		if (off < cap) {                                              \
			int k_ = snprintf(buf + off, cap - off, __VA_ARGS__); \
			off = k_ < 0 ? cap : off + (size_t)k_;                \
		}                                                             \
	} while (0)
	if (f.extent.len)
		ADD(LOTA_PEER_H_EXTENT ": %.*s\r\n", (int)f.extent.len, f.extent.ptr);
	if (f.range.len)
		ADD("Range: %.*s\r\n", (int)f.range.len, f.range.ptr);
	if (f.ticket.len)
		ADD(LOTA_PEER_H_TICKET ": %.*s\r\n", (int)f.ticket.len, f.ticket.ptr);
	ADD(LOTA_PEER_H_SIGNATURE ": %s\r\nConnection: keep-alive\r\n\r\n", sig);
#undef ADD
	if (off >= cap || off > (size_t)INT32_MAX)
		return -ENOBUFS;
	return (int)off;
}

/* The one header named `name`: 0 and *out (len 0 when absent), or MALFORMED when it
 * appears twice. */
static int one_header(const lota_http_request *req, const char *name, lota_str *out)
{
	size_t nlen = strlen(name);
	*out = (lota_str){NULL, 0};
	bool seen = false;
	for (size_t i = 0; i < req->num_headers; i++) {
		if (!lota_str_eq_nocase(req->headers[i].name, name, nlen))
			continue;
		if (seen)
			return LOTA_E_PEER_MALFORMED;
		seen = true;
		*out = req->headers[i].value;
	}
	return 0;
}

static bool all_lower_hex(lota_str s)
{
	for (size_t i = 0; i < s.len; i++) {
		char c = s.ptr[i];
		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
			return false;
	}
	return true;
}

/* Parse plain decimal Unix seconds (1..18 digits, so no overflow). */
static int parse_time(lota_str s, int64_t *out)
{
	if (s.len == 0 || s.len > 18)
		return LOTA_E_PEER_MALFORMED;
	int64_t v = 0;
	for (size_t i = 0; i < s.len; i++) {
		if (s.ptr[i] < '0' || s.ptr[i] > '9')
			return LOTA_E_PEER_MALFORMED;
		v = v * 10 + (s.ptr[i] - '0');
	}
	*out = v;
	return 0;
}

static uint64_t load64(const char *hex)
{
	uint64_t v = 0;
	for (int i = 0; i < 16; i++)
		v = (v << 4) | (uint64_t)lota__hex_value((unsigned char)hex[i]);
	return v;
}

/* Insert into a table known to have a free slot. */
static void put(struct slot *tab, size_t mask, uint64_t a, uint64_t b, int64_t expiry)
{
	size_t i = (size_t)a & mask;
	while (tab[i].expiry_s)
		i = (i + 1) & mask;
	tab[i] = (struct slot){a, b, expiry};
}

/* Remember a nonce accepted at now_s with request time t_s; the caller holds the lock. */
static int remember_locked(lota_peer_auth *a, uint64_t na, uint64_t nb, int64_t t_s, int64_t now_s)
{
	for (size_t i = (size_t)na & a->mask; a->tab[i].expiry_s; i = (i + 1) & a->mask)
		if (a->tab[i].a == na && a->tab[i].b == nb)
			return LOTA_E_PEER_REPLAY;
	if (a->count >= a->capacity) {
		/* Rebuild keeping the live nonces only. */
		memset(a->spare, 0, (a->mask + 1) * sizeof(*a->spare));
		size_t live = 0;
		for (size_t i = 0; i <= a->mask; i++) {
			struct slot *s = &a->tab[i];
			if (s->expiry_s && s->expiry_s >= now_s) {
				put(a->spare, a->mask, s->a, s->b, s->expiry_s);
				live++;
			}
		}
		struct slot *t = a->tab;
		a->tab = a->spare;
		a->spare = t;
		a->count = live;
		if (a->count >= a->capacity)
			return LOTA_E_PEER_BUSY;
	}
	put(a->tab, a->mask, na, nb, t_s + LOTA_PEER_WINDOW_S);
	a->count++;
	return 0;
}

int lota_peer_verify(lota_peer_auth *a, const lota_http_request *req, int64_t now_s,
                     lota_peer_fields *out)
{
	if (!a || !req || !out)
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	lota_str sig, range;
	int rc;
	if ((rc = one_header(req, LOTA_PEER_H_NODE, &out->node)) ||
	    (rc = one_header(req, LOTA_PEER_H_TIME, &out->time)) ||
	    (rc = one_header(req, LOTA_PEER_H_NONCE, &out->nonce)) ||
	    (rc = one_header(req, LOTA_PEER_H_EXTENT, &out->extent)) ||
	    (rc = one_header(req, "Range", &range)) ||
	    (rc = one_header(req, LOTA_PEER_H_TICKET, &out->ticket)) ||
	    (rc = one_header(req, LOTA_PEER_H_SIGNATURE, &sig)))
		return rc;
	out->range = range;
	out->method = req->method;
	out->target = req->target;
	if ((rc = check_caps(out)))
		return rc;
	if (!out->node.len || !out->method.len || !out->target.len)
		return LOTA_E_PEER_MALFORMED;
	if (out->nonce.len != LOTA_PEER_NONCE_HEX_LEN || !all_lower_hex(out->nonce))
		return LOTA_E_PEER_MALFORMED;
	if (sig.len != LOTA_PEER_SIG_HEX_LEN || !all_lower_hex(sig))
		return LOTA_E_PEER_MALFORMED;
	if (out->extent.len % 2 || !all_lower_hex(out->extent))
		return LOTA_E_PEER_MALFORMED;
	if ((rc = parse_time(out->time, &out->time_s)))
		return rc;

	uint8_t mac[LOTA__HMAC_LEN], want[LOTA__HMAC_LEN];
	for (size_t i = 0; i < sizeof(want); i++)
		want[i] = (uint8_t)(lota__hex_value((unsigned char)sig.ptr[2 * i]) << 4 |
		                    lota__hex_value((unsigned char)sig.ptr[2 * i + 1]));
	pthread_mutex_lock(&a->lock);
	rc = mac_locked(a, out, mac);
	if (rc)
		goto out;
	rc = LOTA_E_PEER_AUTH;
	if (!lota__ct_equal(mac, want, sizeof(mac)))
		goto out;
	rc = LOTA_E_PEER_STALE;
	if (out->time_s < now_s - LOTA_PEER_WINDOW_S || out->time_s > now_s + LOTA_PEER_WINDOW_S)
		goto out;
	rc = remember_locked(a, load64(out->nonce.ptr), load64(out->nonce.ptr + 16), out->time_s,
	                     now_s);
out:
	pthread_mutex_unlock(&a->lock);
	return rc;
}

int lota_peer_extent_encode(const lota_cache_key *k, char *out, size_t cap)
{
	uint8_t key[LOTA_PEER_EXTENT_MAX / 2];
	if (!k || (!out && cap))
		return -EINVAL;
	size_t need = lota_cache_key_canonical_len(k);
	if (need > sizeof(key))
		return LOTA_E_TOO_LARGE;
	int n = lota_cache_key_canonical(k, key, sizeof(key));
	if (n < 0)
		return n;
	if (cap < 2 * (size_t)n + 1)
		return -ENOBUFS;
	lota__hex_encode(key, (size_t)n, out);
	return 2 * n;
}

static uint64_t be(const uint8_t *p, int n)
{
	uint64_t v = 0;
	for (int i = 0; i < n; i++)
		v = (v << 8) | p[i];
	return v;
}

int lota_peer_extent_decode(const char *hex, size_t len, uint8_t *buf, size_t cap,
                            lota_cache_key *k)
{
	if ((!hex && len) || (!buf && cap) || !k)
		return -EINVAL;
	if (len > LOTA_PEER_EXTENT_MAX)
		return LOTA_E_TOO_LARGE;
	if (len % 2)
		return LOTA_E_PEER_MALFORMED;
	size_t n = len / 2;
	if (cap < n)
		return -ENOBUFS;
	for (size_t i = 0; i < n; i++) {
		int hi = lota__hex_value((unsigned char)hex[2 * i]);
		int lo = lota__hex_value((unsigned char)hex[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return LOTA_E_PEER_MALFORMED;
		buf[i] = (uint8_t)(hi << 4 | lo);
	}
	if (n < 8 || memcmp(buf, "LOTACK1\n", 8))
		return LOTA_E_PEER_MALFORMED;
	size_t off = 8;
	lota_str *fields[] = {&k->bucket, &k->key, &k->etag, &k->version_id};
	for (size_t i = 0; i < 4; i++) {
		if (n - off < 4)
			return LOTA_E_PEER_MALFORMED;
		uint64_t fl = be(buf + off, 4);
		off += 4;
		if (fl > LOTA_CACHE_KEY_FIELD_MAX || fl > n - off)
			return LOTA_E_PEER_MALFORMED;
		*fields[i] = (lota_str){(const char *)buf + off, (size_t)fl};
		off += (size_t)fl;
	}
	if (n - off != 16)
		return LOTA_E_PEER_MALFORMED;
	k->size_bytes = be(buf + off, 8);
	k->extent_index = be(buf + off + 8, 8);
	return (int)n;
}
