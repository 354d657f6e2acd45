/*
 * request.c - an outgoing request as data (lota/request.h), and its signing in place
 * (lota_sigv4_sign_request, declared in lota/sigv4.h: it is SigV4's view of this type).
 *
 * Storage: the request line is one allocation "METHOD\0path\0query\0target\0"; header
 * fields live in one arena, each as the line a client library takes ("Name: value\0", or
 * "Name;\0" for an empty value), found through a fixed table of LOTA_REQUEST_MAX_HEADERS
 * entries (offset, lengths, flags). Entry order is the order of the fields; arena order
 * is not (a replaced field's new bytes go to the end), so removing bytes fixes the
 * offsets of every entry behind them. Every change is checked in full before anything is
 * touched, so a refused change leaves the request as it was. Freed or moved bytes are
 * wiped first: the arena may hold session tokens and signatures.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <lota/request.h>
#include <lota/sigv4.h>

#include "crypto-internal.h"
#include "opts-internal.h"

_Static_assert(LOTA_REQUEST_MAX_HEADERS == LOTA_SIGV4_MAX_HEADERS,
               "a request holds what SigV4 signs");

typedef struct hdr {
	size_t off, nlen, vlen;
	unsigned flags;
} hdr;

struct lota_request {
	char *line; /* "METHOD\0path\0query\0target\0" */
	size_t line_size, mlen, plen, qlen;
	hdr h[LOTA_REQUEST_MAX_HEADERS];
	size_t n;
	char *buf; /* header lines */
	size_t len, cap;
	size_t bytes; /* counted against LOTA_REQUEST_MAX_BYTES */
};

/* ---- validity ------------------------------------------------------------------------ */

static bool is_tchar(unsigned char c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
		return true;
	return c && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static bool view_ok(lota_str s)
{
	return s.ptr || s.len == 0;
}

static bool token_ok(lota_str s)
{
	if (s.len == 0)
		return false;
	for (size_t i = 0; i < s.len; i++)
		if (!is_tchar((unsigned char)s.ptr[i]))
			return false;
	return true;
}

static bool target_part_ok(lota_str s, bool is_path)
{
	if (is_path && (s.len == 0 || s.ptr[0] != '/'))
		return false;
	for (size_t i = 0; i < s.len; i++) {
		unsigned char c = (unsigned char)s.ptr[i];
		if (c <= 0x20 || c >= 0x7f || c == '#' || (is_path && c == '?'))
			return false;
	}
	return true;
}

static bool value_ok(lota_str v)
{
	for (size_t i = 0; i < v.len; i++) {
		unsigned char c = (unsigned char)v.ptr[i];
		if ((c < 0x20 && c != '\t') || c == 0x7f)
			return false;
	}
	if (v.len && (v.ptr[0] == ' ' || v.ptr[0] == '\t' || v.ptr[v.len - 1] == ' ' ||
	              v.ptr[v.len - 1] == '\t'))
		return false;
	return true;
}

static bool name_eq(lota_str a, lota_str b)
{
	return a.len == b.len && (a.len == 0 || strncasecmp(a.ptr, b.ptr, a.len) == 0);
}

/* ---- storage ------------------------------------------------------------------------- */

static size_t line_size(size_t nlen, size_t vlen)
{
	return nlen + (vlen ? 2 + vlen : 1) + 1;
}

static size_t hdr_size(const hdr *e)
{
	return line_size(e->nlen, e->vlen);
}

static void wipe_free(void *p, size_t n)
{
	if (p) {
		lota__wipe(p, n);
		free(p);
	}
}

/* A view that points into the arena at `old` follows it to the arena now in place. */
static void rebase(const lota_request *r, const char *old, lota_str *v)
{
	uintptr_t p = (uintptr_t)v->ptr, o = (uintptr_t)old;
	if (old && v->ptr && p >= o && p < o + r->len)
		v->ptr = r->buf + (p - o);
}

/* Room for `extra` more arena bytes (grown by copying, so the old block can be wiped).
 * name and value may be views into the arena (a field set from another): they follow. */
static int reserve(lota_request *r, size_t extra, lota_str *name, lota_str *value)
{
	if (r->len + extra <= r->cap)
		return 0;
	size_t cap = r->cap ? r->cap * 2 : 512;
	if (cap < r->len + extra)
		cap = r->len + extra;
	char *nb = malloc(cap);
	if (!nb)
		return -ENOMEM;
	if (r->len)
		memcpy(nb, r->buf, r->len);
	char *old = r->buf;
	r->buf = nb;
	rebase(r, old, name);
	rebase(r, old, value);
	wipe_free(old, r->cap);
	r->cap = cap;
	return 0;
}

/* Write a field's line at the end of the arena (room reserved). Returns its entry. */
static hdr put_line(lota_request *r, lota_str name, lota_str value, unsigned flags)
{
	hdr e = {r->len, name.len, value.len, flags};
	char *p = r->buf + r->len;
	memcpy(p, name.ptr, name.len);
	p += name.len;
	if (value.len) {
		memcpy(p, ": ", 2);
		memcpy(p + 2, value.ptr, value.len);
		p += 2 + value.len;
	} else {
		*p++ = ';';
	}
	*p++ = '\0';
	r->len = (size_t)(p - r->buf);
	return e;
}

/* Remove the bytes of entry e from the arena and fix the offsets behind them. */
static void drop_bytes(lota_request *r, hdr e)
{
	size_t size = hdr_size(&e);
	memmove(r->buf + e.off, r->buf + e.off + size, r->len - e.off - size);
	lota__wipe(r->buf + r->len - size, size);
	r->len -= size;
	for (size_t i = 0; i < r->n; i++)
		if (r->h[i].off > e.off)
			r->h[i].off -= size;
}

static void drop_entry(lota_request *r, size_t i)
{
	hdr e = r->h[i];
	memmove(&r->h[i], &r->h[i + 1], (r->n - i - 1) * sizeof(r->h[0]));
	r->n--;
	drop_bytes(r, e);
	r->bytes -= e.nlen + e.vlen;
}

static lota_str entry_name(const lota_request *r, const hdr *e)
{
	return (lota_str){r->buf + e->off, e->nlen};
}

/* ---- the request line ---------------------------------------------------------------- */

lota_request *lota_request_new(void)
{
	lota_request *r = calloc(1, sizeof(*r));
	if (r &&
	    lota_request_reset(r, LOTA_STR_LIT("GET"), LOTA_STR_LIT("/"), (lota_str){NULL, 0})) {
		free(r);
		return NULL;
	}
	return r;
}

void lota_request_free(lota_request *r)
{
	if (!r)
		return;
	wipe_free(r->line, r->line_size);
	wipe_free(r->buf, r->cap);
	lota__wipe(r, sizeof(*r));
	free(r);
}

static size_t header_bytes(const lota_request *r)
{
	return r->bytes - (r->mlen + r->plen + r->qlen);
}

/* Build the line storage for (method, path, query); keep `keep` header bytes in count. */
static int set_line(lota_request *r, lota_str m, lota_str p, lota_str q, size_t keep)
{
	if (!r || !view_ok(m) || !view_ok(p) || !view_ok(q))
		return -EINVAL;
	if (!token_ok(m))
		return LOTA_E_HTTP_METHOD;
	if (!target_part_ok(p, true) || !target_part_ok(q, false))
		return LOTA_E_HTTP_TARGET;
	if (m.len + p.len + q.len + keep > LOTA_REQUEST_MAX_BYTES)
		return LOTA_E_TOO_LARGE;
	size_t size = m.len + 1 + p.len + 1 + q.len + 1 + p.len + (q.len ? 1 + q.len : 0) + 1;
	char *line = malloc(size), *o = line;
	if (!line)
		return -ENOMEM;
	lota_str parts[3] = {m, p, q};
	for (int i = 0; i < 3; i++) {
		if (parts[i].len)
			memcpy(o, parts[i].ptr, parts[i].len);
		o += parts[i].len;
		*o++ = '\0';
	}
	memcpy(o, p.ptr, p.len);
	o += p.len;
	if (q.len) {
		*o++ = '?';
		memcpy(o, q.ptr, q.len);
		o += q.len;
	}
	*o = '\0';
	wipe_free(r->line, r->line_size);
	r->line = line;
	r->line_size = size;
	r->mlen = m.len;
	r->plen = p.len;
	r->qlen = q.len;
	r->bytes = m.len + p.len + q.len + keep;
	return 0;
}

int lota_request_reset(lota_request *r, lota_str method, lota_str path, lota_str query)
{
	int rc = set_line(r, method, path, query, 0);
	if (rc)
		return rc;
	if (r->buf)
		lota__wipe(r->buf, r->len);
	r->len = 0;
	r->n = 0;
	return 0;
}

int lota_request_set_query(lota_request *r, lota_str query)
{
	if (!r)
		return -EINVAL;
	/* the old line is freed only once the new one is built: copy the views first */
	lota_str m = {r->line, r->mlen}, p = {r->line + r->mlen + 1, r->plen};
	char *old = r->line;
	size_t old_size = r->line_size;
	r->line = NULL; /* keep the old bytes alive for the views */
	int rc = set_line(r, m, p, query, header_bytes(r));
	if (rc) {
		r->line = old;
		return rc;
	}
	wipe_free(old, old_size);
	return 0;
}

lota_str lota_request_method(const lota_request *r)
{
	return r ? (lota_str){r->line, r->mlen} : (lota_str){NULL, 0};
}

lota_str lota_request_path(const lota_request *r)
{
	return r ? (lota_str){r->line + r->mlen + 1, r->plen} : (lota_str){NULL, 0};
}

lota_str lota_request_query(const lota_request *r)
{
	return r ? (lota_str){r->line + r->mlen + r->plen + 2, r->qlen} : (lota_str){NULL, 0};
}

const char *lota_request_target(const lota_request *r)
{
	return r ? r->line + r->mlen + r->plen + r->qlen + 3 : NULL;
}

/* ---- header fields ------------------------------------------------------------------- */

static int check_field(const lota_request *r, lota_str name, lota_str value, unsigned flags)
{
	if (!r || !view_ok(name) || !view_ok(value) || (flags & ~LOTA_REQUEST_UNSIGNED))
		return -EINVAL;
	if (!token_ok(name))
		return LOTA_E_HTTP_HEADER_NAME;
	if (!value_ok(value))
		return LOTA_E_HTTP_HEADER_VALUE;
	return 0;
}

int lota_request_header_add(lota_request *r, lota_str name, lota_str value, unsigned flags)
{
	int rc = check_field(r, name, value, flags);
	if (rc)
		return rc;
	if (r->n == LOTA_REQUEST_MAX_HEADERS)
		return LOTA_E_HTTP_TOO_MANY_HEADERS;
	if (r->bytes + name.len + value.len > LOTA_REQUEST_MAX_BYTES)
		return LOTA_E_TOO_LARGE;
	if ((rc = reserve(r, line_size(name.len, value.len), &name, &value)))
		return rc;
	r->h[r->n] = put_line(r, name, value, flags);
	r->bytes += name.len + value.len;
	return (int)r->n++;
}

int lota_request_header_set(lota_request *r, lota_str name, lota_str value, unsigned flags)
{
	int rc = check_field(r, name, value, flags);
	if (rc)
		return rc;
	int first = lota_request_header_find(r, name);
	if (first < 0)
		return lota_request_header_add(r, name, value, flags);
	/* what the request would hold afterwards: every field of that name goes */
	size_t gone = 0;
	for (size_t i = 0; i < r->n; i++)
		if (name_eq(entry_name(r, &r->h[i]), name))
			gone += r->h[i].nlen + r->h[i].vlen;
	if (r->bytes - gone + name.len + value.len > LOTA_REQUEST_MAX_BYTES)
		return LOTA_E_TOO_LARGE;
	if ((rc = reserve(r, line_size(name.len, value.len), &name, &value)))
		return rc;
	/* the new bytes first (value may be the old field's own bytes), then the old go */
	hdr old = r->h[first];
	r->h[first] = put_line(r, name, value, flags);
	r->bytes += name.len + value.len;
	drop_bytes(r, old);
	r->bytes -= old.nlen + old.vlen;
	for (size_t i = r->n; i-- > (size_t)first + 1;)
		if (name_eq(entry_name(r, &r->h[i]), name))
			drop_entry(r, i);
	return first;
}

int lota_request_header_remove(lota_request *r, lota_str name)
{
	if (!r || !view_ok(name))
		return -EINVAL;
	int removed = 0;
	for (size_t i = r->n; i-- > 0;) {
		if (name_eq(entry_name(r, &r->h[i]), name)) {
			drop_entry(r, i);
			removed++;
		}
	}
	return removed;
}

int lota_request_header_find(const lota_request *r, lota_str name)
{
	if (!r || !view_ok(name))
		return -EINVAL;
	for (size_t i = 0; i < r->n; i++)
		if (name_eq(entry_name(r, &r->h[i]), name))
			return (int)i;
	return -ENOENT;
}

size_t lota_request_header_count(const lota_request *r)
{
	return r ? r->n : 0;
}

int lota_request_header_get(const lota_request *r, size_t index, lota_http_header *out,
                            unsigned *flags)
{
	if (!r || !out)
		return -EINVAL;
	if (index >= r->n)
		return -ERANGE;
	const hdr *e = &r->h[index];
	out->name = entry_name(r, e);
	out->value = (lota_str){r->buf + e->off + e->nlen + (e->vlen ? 2 : 1), e->vlen};
	if (flags)
		*flags = e->flags;
	return 0;
}

const char *lota_request_header_line(const lota_request *r, size_t index)
{
	return r && index < r->n ? r->buf + r->h[index].off : NULL;
}

/* ---- signing in place ---------------------------------------------------------------- */

/* Make the field of that name one signed field with the value it has (the first one's).
 * -ENOENT when there is none. */
static int sign_field(lota_request *r, lota_str name)
{
	lota_http_header h;
	int i = lota_request_header_find(r, name);
	if (i < 0)
		return i;
	if (lota_request_header_get(r, (size_t)i, &h, NULL))
		return LOTA_E_INTERNAL;
	i = lota_request_header_set(r, h.name, h.value, 0);
	return i < 0 ? i : 0;
}

int lota_sigv4_sign_request(const lota_sigv4_params *caller, lota_request *req, lota_str host,
                            lota_str payload_hash, char *signature_out)
{
	lota_http_header hs[LOTA_REQUEST_MAX_HEADERS];
	char date[LOTA_SIGV4_AMZ_DATE_LEN + 1];
	lota_sigv4_signature sig;
	lota_sigv4_params own;
	size_t n = 0;
	int rc, i;
	if (signature_out)
		signature_out[0] = '\0';
	if (!caller || !req || !view_ok(host) || !view_ok(payload_hash))
		return -EINVAL;
	/* the caller's params in this library's layout before any field is read (a bad sz:
	 * the call does nothing, lota/common.h); own is then a struct of the size known here,
	 * which is what lota_sigv4_sign_header is handed */
	if ((rc = lota__opts_load(caller, LOTA__OFFSETOFEND(lota_sigv4_params, flags), sizeof(own),
	                          &own)))
		return rc;
	own.sz = sizeof(own);
	const lota_sigv4_params *params = &own;
	/* never a stale signature: the old one goes before anything can fail */
	lota_request_header_remove(req, LOTA_STR_LIT("Authorization"));
	if (host.len) {
		if ((rc = lota_request_header_set(req, LOTA_STR_LIT("Host"), host, 0)) < 0)
			return rc;
	} else if ((rc = sign_field(req, LOTA_STR_LIT("Host"))) < 0) {
		return rc == -ENOENT ? LOTA_E_SIGV4_HEADERS : rc;
	}
	lota_sigv4_format_amz_date(params->time, date);
	if ((rc = lota_request_header_set(req, LOTA_STR_LIT("X-Amz-Date"),
	                                  (lota_str){date, strlen(date)}, 0)) < 0)
		return rc;
	/* with no payload_hash, the request's own non-empty value is signed as it is */
	rc = -ENOENT;
	i = lota_request_header_find(req, LOTA_STR_LIT("X-Amz-Content-Sha256"));
	if (!payload_hash.len && i >= 0) {
		lota_http_header cur;
		if (lota_request_header_get(req, (size_t)i, &cur, NULL))
			return LOTA_E_INTERNAL;
		if (cur.value.len)
			rc = sign_field(req, LOTA_STR_LIT("X-Amz-Content-Sha256"));
	}
	if (rc == -ENOENT) {
		lota_str ph =
		    payload_hash.len ? payload_hash : LOTA_STR_LIT(LOTA_SIGV4_EMPTY_SHA256);
		rc = lota_request_header_set(req, LOTA_STR_LIT("X-Amz-Content-Sha256"), ph, 0);
	}
	if (rc < 0)
		return rc;
	if (params->session_token.len)
		rc = lota_request_header_set(req, LOTA_STR_LIT("X-Amz-Security-Token"),
		                             params->session_token, 0);
	else
		rc = lota_request_header_remove(req, LOTA_STR_LIT("X-Amz-Security-Token"));
	if (rc < 0)
		return rc;
	/* the request as SigV4 sees it: the signed fields only. SigV4 signs names, and the
	 * receiver joins every field of a signed name into one value: a name cannot have
	 * both signed and unsigned fields. */
	for (size_t k = 0; k < req->n; k++) {
		lota_http_header h;
		unsigned flags;
		if (lota_request_header_get(req, k, &h, &flags) || (flags & LOTA_REQUEST_UNSIGNED))
			continue;
		for (size_t j = 0; j < req->n; j++)
			if ((req->h[j].flags & LOTA_REQUEST_UNSIGNED) &&
			    name_eq(entry_name(req, &req->h[j]), h.name))
				return LOTA_E_SIGV4_HEADERS;
		hs[n++] = h;
	}
	lota_http_header ph;
	i = lota_request_header_find(req, LOTA_STR_LIT("X-Amz-Content-Sha256"));
	if (i < 0 || lota_request_header_get(req, (size_t)i, &ph, NULL))
		return LOTA_E_INTERNAL;
	lota_sigv4_request sr = {
	    .method = lota_request_method(req),
	    .path = lota_request_path(req),
	    .query = lota_request_query(req),
	    .headers = hs,
	    .num_headers = n,
	    .payload_hash = ph.value,
	};
	rc = lota_sigv4_sign_header(params, &sr, &sig);
	if (rc == 0) {
		rc = lota_request_header_add(
		    req, LOTA_STR_LIT("Authorization"),
		    (lota_str){sig.authorization, strlen(sig.authorization)}, 0);
		if (rc >= 0) {
			rc = 0;
			if (signature_out)
				memcpy(signature_out, sig.signature, sizeof(sig.signature));
		}
	}
	lota__wipe(&sig, sizeof(sig));
	return rc;
}
