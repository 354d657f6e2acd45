/*
 * sigv4.c - AWS Signature Version 4: canonical requests, signing (Authorization header
 * and presigned query), parsing and verification of both forms, aws-chunked chunk
 * signatures.
 *
 * How the pieces fit: every operation funnels into build_creq(), which writes the
 * canonical request into a "sink": either a caller buffer (the debug/test helpers) or a
 * per-thread SHA-256 context (sign and verify), so the canonical request is never held
 * whole. The signed-header list drives the canonical headers in both directions: signing
 * first derives the list from the request's headers, verification takes it from the
 * request's claim. Signing keys come from a small per-thread cache.
 *
 * Signing and verification agree on every limit of sigv4.h because one function decides
 * each (the "limits" section, put_canonical_query, put_canonical_path, the signing key)
 * and a signer applies it to the request as it will be sent (Authorization added, or
 * the presign parameters added). Each signer ends by running lota_sigv4_parse() over that
 * request, so it never hands out what the parser refuses.
 *
 * Invariants: every buffer is fixed-size (stack) with an explicit cap and overflow gives
 * LOTA_E_TOO_LARGE, never truncation; no heap allocation per request (the per-thread
 * hash context is made once); secrets and derived keys are wiped after use and the
 * cached keys are wiped on eviction and at thread exit; signatures are compared in
 * constant time; parsing never reads past (ptr, len) and needs no NUL.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <lota/sigv4.h>

#include "crypto-internal.h"
#include "opts-internal.h"

/* "yyyymmdd/region/service/aws4_request" and its NUL */
#define SCOPE_MAX (8 + 1 + LOTA_SIGV4_SCOPE_PART_MAX + 1 + LOTA_SIGV4_SCOPE_PART_MAX + 13 + 1)
/* algorithm, date (an RFC 1123 Date is the longest), scope, hash, newlines and NUL */
#define STS_MAX         (sizeof(LOTA_SIGV4_ALGORITHM) + 29 + 1 + SCOPE_MAX + 64 + 1)
#define KEY_CACHE_SLOTS 4
/* A signed-header list being built: one byte over the limit (so that the limit, not the
 * buffer, decides) and a NUL. */
#define LIST_BUF (LOTA_SIGV4_SIGNED_HEADERS_MAX + 2)
/* The first and one past the last second of the years 0000..9999 (X-Amz-Date's form). */
#define TIME_MIN (-62167219200LL)
#define TIME_END 253402300800LL

/* ------------------------------------------------------------------ per-thread state */

struct key_slot {
	bool used;
	uint32_t stamp;
	uint8_t secret_fp[LOTA__SHA256_LEN]; /* SHA-256 of the secret, never the secret */
	char date[8];
	uint8_t region_len, service_len;
	char region[LOTA_SIGV4_SCOPE_PART_MAX];
	char service[LOTA_SIGV4_SCOPE_PART_MAX];
	uint8_t key[32];
};

static _Thread_local struct sigv4_tls {
	bool registered;
	uint32_t clock;
	struct key_slot slots[KEY_CACHE_SLOTS];
	lota__sha256_ctx *sha;
} tls;

static pthread_once_t tls_once = PTHREAD_ONCE_INIT;
static pthread_key_t tls_key;
static int tls_key_rc; /* -errno of pthread_key_create(): -EAGAIN when none is left */

static void tls_release(void *p)
{
	struct sigv4_tls *t = p;
	lota__sha256_free(t->sha);
	t->sha = NULL;
	lota__wipe(t->slots, sizeof(t->slots));
	t->registered = false;
}

static void tls_key_init(void)
{
	tls_key_rc = -pthread_key_create(&tls_key, tls_release);
}

static int tls_get(void)
{
	if (tls.registered)
		return 0;
	if (pthread_once(&tls_once, tls_key_init) != 0)
		return LOTA_E_INTERNAL;
	if (tls_key_rc)
		return tls_key_rc;
	if (pthread_setspecific(tls_key, &tls) != 0)
		return -ENOMEM;
	tls.registered = true;
	return 0;
}

static int tls_sha(lota__sha256_ctx **out)
{
	int rc = tls_get();
	if (rc)
		return rc;
	if (!tls.sha && !(tls.sha = lota__sha256_new()))
		return -ENOMEM;
	*out = tls.sha;
	return 0;
}

/* ------------------------------------------------------------------ small helpers */

static bool is_unreserved(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '.' || c == '_' || c == '~';
}

static unsigned char lower(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') ? (unsigned char)(c + 32) : c;
}

static bool is_ws(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static bool eq_nocase(const char *a, size_t alen, const char *b, size_t blen)
{
	if (alen != blen)
		return false;
	for (size_t i = 0; i < alen; i++)
		if (lower((unsigned char)a[i]) != lower((unsigned char)b[i]))
			return false;
	return true;
}

/* One past the end of a view; a NULL view stays NULL (no arithmetic on NULL). */
static const char *end_of(lota_str s)
{
	return s.len ? s.ptr + s.len : s.ptr;
}

static bool str_is(lota_str s, const char *lit)
{
	size_t n = strlen(lit);
	return s.len == n && memcmp(s.ptr, lit, n) == 0;
}

static const lota_http_header *find_header(const lota_sigv4_request *req, const char *name)
{
	size_t n = strlen(name);
	for (size_t i = 0; i < req->num_headers; i++)
		if (eq_nocase(req->headers[i].name.ptr, req->headers[i].name.len, name, n))
			return &req->headers[i];
	return NULL;
}

/* ------------------------------------------------------------------ limits */

/*
 * The limits of sigv4.h, each decided here once: the parser and the verifier apply these
 * to what they are given, the signers to what they are about to produce. The query's
 * limits live in put_canonical_query() and the path's in put_canonical_path(), which
 * signing and verification both run.
 */

/* Header fields of a request as sent, Authorization included. */
static bool header_count_ok(size_t n)
{
	return n <= LOTA_SIGV4_MAX_HEADERS;
}

/* A signed-header list of `names` names and `bytes` bytes (one-byte separators). */
static bool signed_list_fits(size_t names, size_t bytes)
{
	return names <= LOTA_SIGV4_MAX_HEADERS && bytes <= LOTA_SIGV4_SIGNED_HEADERS_MAX;
}

/* A name in a signed-header list as sent. '%' is refused because the query form's list
 * may use %3B as its separator; ',' and '=' would break the Authorization header. */
static bool list_name_ok(lota_str name)
{
	if (name.len == 0)
		return false;
	for (size_t i = 0; i < name.len; i++) {
		unsigned char c = (unsigned char)name.ptr[i];
		if (c <= ' ' || c >= 0x7f || c == ':' || c == '%' || c == ',' || c == '=' ||
		    c == ';')
			return false;
	}
	return true;
}

/* An access key (max LOTA_SIGV4_ACCESS_KEY_MAX), region or service (max
 * LOTA_SIGV4_SCOPE_PART_MAX) as it appears in the credential. */
static bool credential_part_ok(lota_str v, size_t max)
{
	if (v.len == 0 || v.len > max)
		return false;
	for (size_t i = 0; i < v.len; i++) {
		unsigned char c = (unsigned char)v.ptr[i];
		if (c <= ' ' || c >= 0x7f || c == '/' || c == '%')
			return false;
	}
	return true;
}

static bool expires_ok(int64_t expires_s)
{
	return expires_s >= 1 && expires_s <= LOTA_SIGV4_EXPIRES_MAX;
}

/* A time X-Amz-Date can carry (so that it reads back as the same second). */
static bool time_ok(int64_t t)
{
	return t >= TIME_MIN && t < TIME_END;
}

/* ------------------------------------------------------------------ the sink */

struct sink {
	char *buf; /* buffer mode: out[0..cap), always leaves room for a NUL */
	size_t cap, len;
	lota__sha256_ctx *sha; /* hash mode */
	char stage[512];
	size_t staged;
	int err;
};

static void sink_flush(struct sink *s)
{
	if (s->sha && s->staged && !s->err)
		s->err = lota__sha256_update(s->sha, s->stage, s->staged);
	s->staged = 0;
}

static void put(struct sink *s, const void *p, size_t n)
{
	if (s->err || n == 0)
		return;
	if (s->sha) {
		if (s->staged + n > sizeof(s->stage)) {
			sink_flush(s);
			if (n > sizeof(s->stage)) {
				if (!s->err)
					s->err = lota__sha256_update(s->sha, p, n);
				return;
			}
		}
		memcpy(s->stage + s->staged, p, n);
		s->staged += n;
		return;
	}
	if (s->cap - s->len <= n) { /* keep one byte for the NUL */
		s->err = LOTA_E_TOO_LARGE;
		return;
	}
	memcpy(s->buf + s->len, p, n);
	s->len += n;
}

static void put_c(struct sink *s, char c)
{
	put(s, &c, 1);
}

static void put_str(struct sink *s, lota_str v)
{
	put(s, v.ptr, v.len);
}

static void put_lit(struct sink *s, const char *lit)
{
	put(s, lit, strlen(lit));
}

/* S3 URI-encode raw bytes. */
static void put_encoded(struct sink *s, const char *p, size_t n, bool encode_slash)
{
	static const char hex[] = "0123456789ABCDEF";
	char tmp[96];
	size_t t = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];
		if (t + 3 > sizeof(tmp)) {
			put(s, tmp, t);
			t = 0;
		}
		if (is_unreserved(c) || (c == '/' && !encode_slash)) {
			tmp[t++] = (char)c;
		} else {
			tmp[t++] = '%';
			tmp[t++] = hex[c >> 4];
			tmp[t++] = hex[c & 15];
		}
	}
	put(s, tmp, t);
}

/* Decode once (leniently: a '%' without two hex digits is a literal byte) and
 * S3-encode. */
static void put_reencoded(struct sink *s, const char *p, size_t n, bool encode_slash)
{
	size_t i = 0;
	while (i < n) {
		size_t j = i;
		while (j < n && p[j] != '%')
			j++;
		put_encoded(s, p + i, j - i, encode_slash);
		if (j >= n)
			break;
		int hi = j + 2 < n ? lota__hex_value((unsigned char)p[j + 1]) : -1;
		int lo = j + 2 < n ? lota__hex_value((unsigned char)p[j + 2]) : -1;
		if (hi >= 0 && lo >= 0) {
			char c = (char)(hi << 4 | lo);
			put_encoded(s, &c, 1, encode_slash);
			i = j + 3;
		} else {
			put_encoded(s, "%", 1, encode_slash);
			i = j + 1;
		}
	}
}

/* ------------------------------------------------------------------ public URI helpers */

int lota_uri_encode(const char *in, size_t len, bool encode_slash, char *out, size_t cap)
{
	if (!out || cap == 0 || (!in && len))
		return -EINVAL;
	struct sink s = {.buf = out, .cap = cap};
	put_encoded(&s, in, len, encode_slash);
	if (s.err) {
		out[0] = '\0';
		return s.err;
	}
	out[s.len] = '\0';
	return (int)s.len;
}

int lota_uri_decode(const char *in, size_t len, char *out, size_t cap)
{
	if (!out || (!in && len))
		return -EINVAL;
	size_t o = 0;
	for (size_t i = 0; i < len; i++) {
		char c = in[i];
		if (c == '%') {
			int hi = i + 2 < len ? lota__hex_value((unsigned char)in[i + 1]) : -1;
			int lo = i + 2 < len ? lota__hex_value((unsigned char)in[i + 2]) : -1;
			if (hi < 0 || lo < 0)
				return LOTA_E_HTTP_TARGET;
			c = (char)(hi << 4 | lo);
			i += 2;
		}
		if (o + 1 >= cap)
			return LOTA_E_TOO_LARGE;
		out[o++] = c;
	}
	if (o >= cap)
		return LOTA_E_TOO_LARGE;
	out[o] = '\0';
	return (int)o;
}

/* ------------------------------------------------------------------ dates */

static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	unsigned yoe = (unsigned)(y - era * 400);
	unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
	z += 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	unsigned doe = (unsigned)(z - era * 146097);
	unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	unsigned mp = (5 * doy + 2) / 153;
	*d = doy - (153 * mp + 2) / 5 + 1;
	*m = mp < 10 ? mp + 3 : mp - 9;
	*y = (int64_t)yoe + era * 400 + (*m <= 2);
}

static bool days_ok(int64_t y, unsigned m, unsigned d)
{
	static const unsigned mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	if (m < 1 || m > 12 || d < 1)
		return false;
	unsigned max = mdays[m - 1];
	if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
		max = 29;
	return d <= max;
}

void lota_sigv4_format_amz_date(int64_t time, char *out)
{
	int64_t days = time / 86400, rem = time % 86400;
	if (rem < 0) {
		rem += 86400;
		days--;
	}
	int64_t y;
	unsigned m, d;
	civil_from_days(days, &y, &m, &d);
	if (y < 0 || y > 9999) /* keep the fixed width; such dates never verify */
		y = y < 0 ? 0 : 9999;
	unsigned v[6] = {
	    (unsigned)y,         m, d, (unsigned)(rem / 3600), (unsigned)(rem / 60 % 60),
	    (unsigned)(rem % 60)};
	static const unsigned width[6] = {4, 2, 2, 2, 2, 2};
	char *o = out;
	for (int i = 0; i < 6; i++) {
		if (i == 3)
			*o++ = 'T';
		for (unsigned k = width[i]; k-- > 0;) {
			o[k] = (char)('0' + v[i] % 10);
			v[i] /= 10;
		}
		o += width[i];
	}
	*o++ = 'Z';
	*o = '\0';
}

static bool digits(const char *s, size_t n, unsigned *v)
{
	unsigned x = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		x = x * 10 + (unsigned)(s[i] - '0');
	}
	*v = x;
	return true;
}

static int make_time(unsigned y, unsigned mo, unsigned d, unsigned h, unsigned mi, unsigned s,
                     int64_t *t)
{
	if (!days_ok(y, mo, d) || h > 23 || mi > 59 || s > 60)
		return LOTA_E_SIGV4_DATE;
	*t = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + s;
	return 0;
}

int lota_sigv4_parse_amz_date(const char *s, size_t len, int64_t *time)
{
	unsigned y, mo, d, h, mi, sec;
	if (!s || !time)
		return LOTA_E_SIGV4_DATE;
	if (len == LOTA_SIGV4_AMZ_DATE_LEN) {
		if (s[8] != 'T' || s[15] != 'Z' || !digits(s, 4, &y) || !digits(s + 4, 2, &mo) ||
		    !digits(s + 6, 2, &d) || !digits(s + 9, 2, &h) || !digits(s + 11, 2, &mi) ||
		    !digits(s + 13, 2, &sec))
			return LOTA_E_SIGV4_DATE;
		return make_time(y, mo, d, h, mi, sec, time);
	}
	/* RFC 1123: "Sun, 06 Nov 1994 08:49:37 GMT" (29 bytes). */
	static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
	if (len != 29 || s[3] != ',' || s[4] != ' ' || s[7] != ' ' || s[11] != ' ' ||
	    s[16] != ' ' || s[19] != ':' || s[22] != ':' || s[25] != ' ' ||
	    memcmp(s + 26, "GMT", 3) != 0)
		return LOTA_E_SIGV4_DATE;
	mo = 0;
	for (unsigned i = 0; i < 12; i++)
		if (memcmp(s + 8, months + 3 * i, 3) == 0)
			mo = i + 1;
	if (!mo || !digits(s + 5, 2, &d) || !digits(s + 12, 4, &y) || !digits(s + 17, 2, &h) ||
	    !digits(s + 20, 2, &mi) || !digits(s + 23, 2, &sec))
		return LOTA_E_SIGV4_DATE;
	return make_time(y, mo, d, h, mi, sec, time);
}

/* ------------------------------------------------------------------ canonical request */

/* Iterate "a;b;c", also accepting %3B as the separator (the query form as sent). */
struct name_iter {
	const char *p, *end;
};

static bool next_name(struct name_iter *it, lota_str *name)
{
	if (it->p >= it->end)
		return false;
	const char *start = it->p, *q = it->p;
	while (q < it->end && *q != ';' &&
	       !(*q == '%' && it->end - q >= 3 && q[1] == '3' && lower((unsigned char)q[2]) == 'b'))
		q++;
	name->ptr = start;
	name->len = (size_t)(q - start);
	if (q < it->end)
		q += *q == ';' ? 1 : 3;
	it->p = q;
	return true;
}

static void put_canonical_value(struct sink *s, lota_str v)
{
	size_t a = 0, b = v.len;
	while (a < b && is_ws((unsigned char)v.ptr[a]))
		a++;
	while (b > a && is_ws((unsigned char)v.ptr[b - 1]))
		b--;
	size_t i = a;
	while (i < b) {
		size_t j = i;
		while (j < b && !is_ws((unsigned char)v.ptr[j]))
			j++;
		put(s, v.ptr + i, j - i);
		if (j >= b)
			break;
		put_c(s, ' ');
		while (j < b && is_ws((unsigned char)v.ptr[j]))
			j++;
		i = j;
	}
}

static void put_lower(struct sink *s, lota_str v)
{
	char tmp[64];
	size_t i = 0;
	while (i < v.len) {
		size_t n = v.len - i < sizeof(tmp) ? v.len - i : sizeof(tmp);
		for (size_t k = 0; k < n; k++)
			tmp[k] = (char)lower((unsigned char)v.ptr[i + k]);
		put(s, tmp, n);
		i += n;
	}
}

static int put_canonical_path(struct sink *s, lota_str path, unsigned flags)
{
	bool reencode = !(flags & LOTA_SIGV4_DOUBLE_ENCODE);
	const char *p = path.ptr, *end = end_of(path);
	if (path.len == 0) {
		put_c(s, '/');
		return 0;
	}
	if (!(flags & LOTA_SIGV4_NORMALIZE_PATH)) {
		/* Segment by segment, so that an encoded %2F inside a key stays encoded. */
		while (p < end) {
			const char *q = memchr(p, '/', (size_t)(end - p));
			if (!q)
				q = end;
			if (reencode)
				put_reencoded(s, p, (size_t)(q - p), true);
			else
				put_encoded(s, p, (size_t)(q - p), true);
			if (q < end)
				put_c(s, '/');
			p = q + 1;
		}
		return 0;
	}
	/* RFC 3986 dot-segment removal, empty segments dropped (generic AWS services). */
	struct {
		const char *p;
		size_t n;
	} seg[LOTA_SIGV4_MAX_PATH_SEGMENTS];
	size_t nseg = 0;
	bool trailing = false;
	while (p <= end) {
		const char *q = memchr(p, '/', (size_t)(end - p));
		if (!q)
			q = end;
		size_t n = (size_t)(q - p);
		bool last = q == end;
		if (n == 0) {
			trailing = last;
		} else if (n == 1 && p[0] == '.') {
			trailing = last;
		} else if (n == 2 && p[0] == '.' && p[1] == '.') {
			if (nseg)
				nseg--;
			trailing = last;
		} else {
			if (nseg == LOTA_SIGV4_MAX_PATH_SEGMENTS)
				return LOTA_E_TOO_LARGE;
			seg[nseg].p = p;
			seg[nseg].n = n;
			nseg++;
			trailing = false;
		}
		p = q + 1;
	}
	for (size_t i = 0; i < nseg; i++) {
		put_c(s, '/');
		if (reencode)
			put_reencoded(s, seg[i].p, seg[i].n, true);
		else
			put_encoded(s, seg[i].p, seg[i].n, true);
	}
	if (nseg == 0 || trailing)
		put_c(s, '/');
	return 0;
}

struct qparam {
	uint32_t name_off, name_len, val_off, val_len;
};

static int cmp_param(const char *scratch, const struct qparam *a, const struct qparam *b)
{
	size_t n = a->name_len < b->name_len ? a->name_len : b->name_len;
	int c = memcmp(scratch + a->name_off, scratch + b->name_off, n);
	if (c)
		return c;
	if (a->name_len != b->name_len)
		return a->name_len < b->name_len ? -1 : 1;
	n = a->val_len < b->val_len ? a->val_len : b->val_len;
	c = memcmp(scratch + a->val_off, scratch + b->val_off, n);
	if (c)
		return c;
	return a->val_len == b->val_len ? 0 : (a->val_len < b->val_len ? -1 : 1);
}

/* Whether raw bytes, percent-decoded as put_reencoded() decodes them, spell lit. */
static bool decodes_to(const char *p, size_t n, const char *lit)
{
	size_t k = 0, m = strlen(lit);
	for (size_t i = 0; i < n; i++, k++) {
		unsigned char c = (unsigned char)p[i];
		if (c == '%') {
			int hi = i + 2 < n ? lota__hex_value((unsigned char)p[i + 1]) : -1;
			int lo = i + 2 < n ? lota__hex_value((unsigned char)p[i + 2]) : -1;
			if (hi >= 0 && lo >= 0) {
				c = (unsigned char)(hi << 4 | lo);
				i += 2;
			}
		}
		if (k == m || (unsigned char)lit[k] != c)
			return false;
	}
	return k == m;
}

/* A query parameter (raw name) that the signature does not cover. */
static bool param_unsigned(const char *name, size_t len, bool query_form, unsigned flags)
{
	if (!query_form)
		return false;
	return decodes_to(name, len, "X-Amz-Signature") ||
	       ((flags & LOTA_SIGV4_UNSIGNED_TOKEN) &&
	        decodes_to(name, len, "X-Amz-Security-Token"));
}

/*
 * The canonical query, and the one place where the query's limits are decided (see
 * sigv4.h): at most LOTA_SIGV4_MAX_QUERY_PARAMS signed parameters whose encoded names
 * and values fit LOTA_SIGV4_QUERY_MAX bytes. A parameter the signature does not cover
 * is passed over before it takes a slot or a byte, so a presigned query counts the same
 * when it is signed (without X-Amz-Signature) and when it is verified (with it).
 */
static int put_canonical_query(struct sink *s, lota_str query, bool query_form, unsigned flags)
{
	char scratch[LOTA_SIGV4_QUERY_MAX + 1]; /* the sink keeps a byte for a NUL */
	struct qparam prm[LOTA_SIGV4_MAX_QUERY_PARAMS];
	size_t np = 0;
	struct sink sc = {.buf = scratch, .cap = sizeof(scratch)};
	const char *p = query.ptr, *end = end_of(query);
	while (p < end) {
		const char *amp = memchr(p, '&', (size_t)(end - p));
		if (!amp)
			amp = end;
		if (amp > p) {
			const char *eq = memchr(p, '=', (size_t)(amp - p));
			const char *nend = eq ? eq : amp;
			if (param_unsigned(p, (size_t)(nend - p), query_form, flags)) {
				p = amp + 1;
				continue;
			}
			if (np == LOTA_SIGV4_MAX_QUERY_PARAMS)
				return LOTA_E_TOO_LARGE;
			struct qparam *q = &prm[np++];
			q->name_off = (uint32_t)sc.len;
			put_reencoded(&sc, p, (size_t)(nend - p), true);
			q->name_len = (uint32_t)(sc.len - q->name_off);
			q->val_off = (uint32_t)sc.len;
			if (eq)
				put_reencoded(&sc, eq + 1, (size_t)(amp - eq - 1), true);
			q->val_len = (uint32_t)(sc.len - q->val_off);
			if (sc.err)
				return sc.err;
		}
		p = amp + 1;
	}
	/* Insertion sort: n is small and bounded. */
	for (size_t i = 1; i < np; i++) {
		struct qparam key = prm[i];
		size_t j = i;
		while (j > 0 && cmp_param(scratch, &prm[j - 1], &key) > 0) {
			prm[j] = prm[j - 1];
			j--;
		}
		prm[j] = key;
	}
	for (size_t i = 0; i < np; i++) {
		if (i)
			put_c(s, '&');
		put(s, scratch + prm[i].name_off, prm[i].name_len);
		put_c(s, '=');
		put(s, scratch + prm[i].val_off, prm[i].val_len);
	}
	return 0;
}

/* Canonical headers and the signed-header line, driven by the list "a;b" (or a%3Bb).
 * LOTA_E_SIGV4_HEADERS when a listed header is absent from the request. */
static int put_canonical_headers(struct sink *s, const lota_sigv4_request *req, lota_str list)
{
	struct name_iter it = {list.ptr, end_of(list)};
	lota_str name;
	while (next_name(&it, &name)) {
		bool found = false;
		if (name.len == 0)
			return LOTA_E_SIGV4_MALFORMED;
		put_lower(s, name);
		put_c(s, ':');
		for (size_t i = 0; i < req->num_headers; i++) {
			const lota_http_header *h = &req->headers[i];
			if (!eq_nocase(h->name.ptr, h->name.len, name.ptr, name.len))
				continue;
			if (found)
				put_c(s, ',');
			put_canonical_value(s, h->value);
			found = true;
		}
		if (!found)
			return LOTA_E_SIGV4_HEADERS;
		put_c(s, '\n');
	}
	put_c(s, '\n');
	it.p = list.ptr;
	bool first = true;
	while (next_name(&it, &name)) {
		if (!first)
			put_c(s, ';');
		put_lower(s, name);
		first = false;
	}
	put_c(s, '\n');
	return 0;
}

static int build_creq(struct sink *s, const lota_sigv4_request *req, lota_str signed_list,
                      unsigned flags, bool query_form, lota_str payload)
{
	int rc;
	put_str(s, req->method);
	put_c(s, '\n');
	if ((rc = put_canonical_path(s, req->path, flags)))
		return rc;
	put_c(s, '\n');
	if ((rc = put_canonical_query(s, req->query, query_form, flags)))
		return rc;
	put_c(s, '\n');
	if ((rc = put_canonical_headers(s, req, signed_list)))
		return rc;
	put_str(s, payload);
	sink_flush(s);
	return s->err;
}

/* The list of all headers of req, lower-cased, sorted, unique, ';'-joined (for signing).
 * Authorization is never signed. out has LIST_BUF bytes; a list over the limits is
 * LOTA_E_TOO_LARGE. */
static int all_headers_list(const lota_sigv4_request *req, char *out, size_t *len)
{
	uint16_t idx[LOTA_SIGV4_MAX_HEADERS];
	size_t n = 0, names = 0;
	if (!header_count_ok(req->num_headers))
		return LOTA_E_TOO_LARGE;
	for (size_t i = 0; i < req->num_headers; i++) {
		lota_str nm = req->headers[i].name;
		if (nm.len == 0)
			return LOTA_E_SIGV4_HEADERS;
		if (eq_nocase(nm.ptr, nm.len, "authorization", 13))
			continue;
		idx[n++] = (uint16_t)i;
	}
	for (size_t i = 1; i < n; i++) {
		uint16_t k = idx[i];
		lota_str kn = req->headers[k].name;
		size_t j = i;
		while (j > 0) {
			lota_str pn = req->headers[idx[j - 1]].name;
			size_t m = pn.len < kn.len ? pn.len : kn.len;
			int c = 0;
			for (size_t x = 0; x < m && !c; x++)
				c = (int)lower((unsigned char)pn.ptr[x]) -
				    (int)lower((unsigned char)kn.ptr[x]);
			if (c < 0 || (c == 0 && pn.len <= kn.len))
				break;
			idx[j] = idx[j - 1];
			j--;
		}
		idx[j] = k;
	}
	struct sink s = {.buf = out, .cap = LIST_BUF};
	lota_str prev = {NULL, 0};
	for (size_t i = 0; i < n; i++) {
		lota_str nm = req->headers[idx[i]].name;
		if (prev.ptr && eq_nocase(prev.ptr, prev.len, nm.ptr, nm.len))
			continue;
		if (prev.ptr)
			put_c(&s, ';');
		put_lower(&s, nm);
		prev = nm;
		names++;
	}
	if (s.err || !signed_list_fits(names, s.len))
		return LOTA_E_TOO_LARGE;
	out[s.len] = '\0';
	*len = s.len;
	return 0;
}

static bool list_has(lota_str list, const char *name)
{
	struct name_iter it = {list.ptr, end_of(list)};
	lota_str n;
	while (next_name(&it, &n))
		if (eq_nocase(n.ptr, n.len, name, strlen(name)))
			return true;
	return false;
}

bool lota_sigv4_auth_signs(const lota_sigv4_auth *auth, lota_str name)
{
	if (!auth || name.len == 0)
		return false;
	struct name_iter it = {auth->signed_headers.ptr, end_of(auth->signed_headers)};
	lota_str n;
	while (next_name(&it, &n))
		if (eq_nocase(n.ptr, n.len, name.ptr, name.len))
			return true;
	return false;
}

static int query_param(lota_str query, const char *name, lota_str *out);

/* The payload hash a request signs when the caller gives none. The same rule as
 * lota_sigv4_parse() and lota_sigv4_verify() use: a non-empty x-amz-content-sha256
 * header, else (query form) an X-Amz-Content-Sha256 query parameter, else the form's
 * default (an empty header counts as none there, so it must here). */
static lota_str default_payload(const lota_sigv4_request *req, bool query_form)
{
	if (req->payload_hash.len)
		return req->payload_hash;
	const lota_http_header *h = find_header(req, "x-amz-content-sha256");
	if (h && h->value.len)
		return h->value;
	lota_str ph;
	if (query_form && query_param(req->query, "X-Amz-Content-Sha256", &ph) > 0 && ph.len)
		return ph;
	return query_form ? LOTA_STR_LIT(LOTA_SIGV4_UNSIGNED_PAYLOAD)
	                  : LOTA_STR_LIT(LOTA_SIGV4_EMPTY_SHA256);
}

int lota_sigv4_canonical_request(const lota_sigv4_request *req, lota_str signed_headers,
                                 unsigned flags, bool query_form, char *out, size_t cap)
{
	char list[LIST_BUF];
	int rc;
	if (!req || !out || cap == 0)
		return -EINVAL;
	out[0] = '\0';
	if (signed_headers.len == 0) {
		size_t n;
		if ((rc = all_headers_list(req, list, &n)))
			return rc;
		signed_headers = (lota_str){list, n};
	}
	struct sink s = {.buf = out, .cap = cap};
	rc = build_creq(&s, req, signed_headers, flags, query_form,
	                default_payload(req, query_form));
	if (rc) {
		out[0] = '\0';
		return rc;
	}
	out[s.len] = '\0';
	return (int)s.len;
}

static int sts_write(lota_str amz_date, lota_str scope, const uint8_t creq_hash[32], char *out,
                     size_t cap)
{
	char hex[65];
	lota__hex_encode(creq_hash, 32, hex);
	struct sink s = {.buf = out, .cap = cap};
	put_lit(&s, LOTA_SIGV4_ALGORITHM "\n");
	put_str(&s, amz_date);
	put_c(&s, '\n');
	put_str(&s, scope);
	put_c(&s, '\n');
	put(&s, hex, 64);
	if (s.err)
		return s.err;
	out[s.len] = '\0';
	return (int)s.len;
}

int lota_sigv4_string_to_sign(lota_str amz_date, lota_str scope, const char *canonical_request,
                              size_t len, char *out, size_t cap)
{
	uint8_t h[32];
	if (!out || cap == 0 || (!canonical_request && len))
		return -EINVAL;
	out[0] = '\0';
	int rc = lota__sha256(canonical_request, len, h);
	if (rc)
		return rc;
	rc = sts_write(amz_date, scope, h, out, cap);
	if (rc < 0)
		out[0] = '\0';
	return rc;
}

/* ------------------------------------------------------------------ signing key */

static bool scope_part_ok(lota_str v)
{
	return credential_part_ok(v, LOTA_SIGV4_SCOPE_PART_MAX);
}

int lota_sigv4_signing_key(lota_str secret_key, lota_str scope_date, lota_str region,
                           lota_str service, uint8_t out[32])
{
	uint8_t fp[LOTA__SHA256_LEN], k1[32], k2[32];
	char kbuf[4 + LOTA_SIGV4_SECRET_MAX];
	int rc;
	if (!out || (!secret_key.ptr && secret_key.len))
		return -EINVAL;
	if (secret_key.len > LOTA_SIGV4_SECRET_MAX)
		return LOTA_E_TOO_LARGE;
	if (scope_date.len != 8 || !scope_part_ok(region) || !scope_part_ok(service))
		return LOTA_E_SIGV4_SCOPE;
	if ((rc = tls_get()))
		return rc;
	if ((rc = lota__sha256(secret_key.ptr, secret_key.len, fp)))
		return rc;
	struct key_slot *victim = &tls.slots[0];
	for (size_t i = 0; i < KEY_CACHE_SLOTS; i++) {
		struct key_slot *e = &tls.slots[i];
		if (e->used && memcmp(e->date, scope_date.ptr, 8) == 0 &&
		    e->region_len == region.len && memcmp(e->region, region.ptr, region.len) == 0 &&
		    e->service_len == service.len &&
		    memcmp(e->service, service.ptr, service.len) == 0 &&
		    lota__ct_equal(e->secret_fp, fp, sizeof(fp))) {
			e->stamp = ++tls.clock;
			memcpy(out, e->key, 32);
			lota__wipe(fp, sizeof(fp));
			return 0;
		}
		if (!e->used || (victim->used && e->stamp < victim->stamp))
			victim = e;
	}
	memcpy(kbuf, "AWS4", 4);
	if (secret_key.len)
		memcpy(kbuf + 4, secret_key.ptr, secret_key.len);
	rc = lota__hmac_sha256(kbuf, 4 + secret_key.len, scope_date.ptr, 8, k1);
	if (!rc)
		rc = lota__hmac_sha256(k1, 32, region.ptr, region.len, k2);
	if (!rc)
		rc = lota__hmac_sha256(k2, 32, service.ptr, service.len, k1);
	if (!rc)
		rc = lota__hmac_sha256(k1, 32, "aws4_request", 12, out);
	if (!rc) {
		lota__wipe(victim, sizeof(*victim));
		victim->used = true;
		victim->stamp = ++tls.clock;
		memcpy(victim->secret_fp, fp, sizeof(fp));
		memcpy(victim->date, scope_date.ptr, 8);
		victim->region_len = (uint8_t)region.len;
		memcpy(victim->region, region.ptr, region.len);
		victim->service_len = (uint8_t)service.len;
		memcpy(victim->service, service.ptr, service.len);
		memcpy(victim->key, out, 32);
	}
	lota__wipe(kbuf, sizeof(kbuf));
	lota__wipe(k1, sizeof(k1));
	lota__wipe(k2, sizeof(k2));
	lota__wipe(fp, sizeof(fp));
	return rc;
}

/* ------------------------------------------------------------------ signing core */

/* scope = date/region/service/aws4_request into buf. */
static int make_scope(lota_str date, lota_str region, lota_str service, char *buf, size_t cap,
                      lota_str *scope)
{
	if (date.len != 8 || !scope_part_ok(region) || !scope_part_ok(service))
		return LOTA_E_SIGV4_SCOPE;
	struct sink s = {.buf = buf, .cap = cap};
	put_str(&s, date);
	put_c(&s, '/');
	put_str(&s, region);
	put_c(&s, '/');
	put_str(&s, service);
	put_lit(&s, "/aws4_request");
	if (s.err)
		return s.err;
	buf[s.len] = '\0';
	*scope = (lota_str){buf, s.len};
	return 0;
}

/* Hex signature of req for (list, payload, date, scope) under the given secret. */
static int compute_signature(const lota_sigv4_request *req, lota_str list, unsigned flags,
                             bool query_form, lota_str payload, lota_str amz_date,
                             lota_str scope_date, lota_str region, lota_str service,
                             lota_str secret, char sig_hex[65])
{
	char scope_buf[SCOPE_MAX], sts[STS_MAX];
	lota_str scope;
	uint8_t creq_hash[32], key[32], mac[32];
	lota__sha256_ctx *sha;
	int rc = make_scope(scope_date, region, service, scope_buf, sizeof(scope_buf), &scope);
	if (rc)
		return rc;
	if ((rc = tls_sha(&sha)) || (rc = lota__sha256_init(sha)))
		return rc;
	struct sink s = {.sha = sha};
	if ((rc = build_creq(&s, req, list, flags, query_form, payload)))
		return rc;
	if ((rc = lota__sha256_final(sha, creq_hash)))
		return rc;
	int n = sts_write(amz_date, scope, creq_hash, sts, sizeof(sts));
	if (n < 0)
		return n;
	if ((rc = lota_sigv4_signing_key(secret, scope_date, region, service, key)))
		return rc;
	rc = lota__hmac_sha256(key, sizeof(key), sts, (size_t)n, mac);
	if (!rc)
		lota__hex_encode(mac, sizeof(mac), sig_hex);
	lota__wipe(key, sizeof(key));
	lota__wipe(mac, sizeof(mac));
	return rc;
}

/* What both signers require of their input before any work. The caller's params are
 * read into `own` (this library's layout; the released size of lota_sigv4_params is the
 * end of flags), which is what the signer then uses. */
static int check_params(const lota_sigv4_params *caller, const lota_sigv4_request *req,
                        lota_sigv4_params *own)
{
	if (!caller || !req)
		return -EINVAL;
	int rc =
	    lota__opts_load(caller, LOTA__OFFSETOFEND(lota_sigv4_params, flags), sizeof(*own), own);
	if (rc)
		return rc;
	const lota_sigv4_params *params = own;
	if (!credential_part_ok(params->access_key, LOTA_SIGV4_ACCESS_KEY_MAX))
		return -EINVAL;
	if (!time_ok(params->time))
		return LOTA_E_SIGV4_DATE;
	if (!find_header(req, "host"))
		return LOTA_E_SIGV4_HEADERS;
	return 0;
}

/*
 * The signed-header list a signer built, as it will reach the verifier: every name must
 * pass the verifier's list_name_ok(), and in the query form, where the list is sent
 * percent-encoded, a name must hold no byte that would arrive as a '%' escape.
 */
static int check_list_to_send(lota_str list, bool query_form)
{
	const char *p = list.ptr, *end = end_of(list);
	while (p < end) {
		const char *semi = memchr(p, ';', (size_t)(end - p));
		if (!semi)
			semi = end;
		lota_str name = {p, (size_t)(semi - p)};
		if (!list_name_ok(name))
			return LOTA_E_SIGV4_HEADERS;
		for (size_t i = 0; query_form && i < name.len; i++)
			if (!is_unreserved((unsigned char)name.ptr[i]))
				return LOTA_E_SIGV4_HEADERS;
		p = semi + 1;
	}
	return 0;
}

/*
 * The last step of both signers: the verifier's own parser over the request as it will
 * be sent. It refuses what no limit names (a credential with a byte the form cannot carry
 * as it is, a header name with the list separator in it, a query that already carries
 * another authentication or a presign parameter twice), so a signer never hands out a
 * request that lota_sigv4_parse() refuses, and says why with the parser's code.
 */
static int parse_produced(const lota_sigv4_request *req, lota_sigv4_form form)
{
	lota_sigv4_auth a;
	int rc = lota_sigv4_parse(req, &a);
	if (rc)
		return rc;
	return a.form == form ? 0 : LOTA_E_INTERNAL;
}

int lota_sigv4_sign_header(const lota_sigv4_params *params, const lota_sigv4_request *req,
                           lota_sigv4_signature *out)
{
	char list[LIST_BUF];
	lota_http_header sent[LOTA_SIGV4_MAX_HEADERS];
	size_t list_len, nsent = 0;
	int rc;
	lota_sigv4_params own;
	if (!out)
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	if ((rc = check_params(params, req, &own)))
		return rc;
	params = &own;
	if (params->session_token.len && !find_header(req, "x-amz-security-token"))
		return LOTA_E_SIGV4_HEADERS;
	/* The request as sent: req's headers but any Authorization, then the one made here. */
	for (size_t i = 0; i < req->num_headers; i++) {
		lota_str nm = req->headers[i].name;
		if (eq_nocase(nm.ptr, nm.len, "authorization", 13))
			continue;
		if (!header_count_ok(nsent + 2))
			return LOTA_E_TOO_LARGE;
		sent[nsent++] = req->headers[i];
	}
	lota_sigv4_format_amz_date(params->time, out->amz_date);
	lota_str date = {out->amz_date, LOTA_SIGV4_AMZ_DATE_LEN};
	lota_str day = {out->amz_date, 8};
	/* The verifier takes the date from this header: it must be the one signed. */
	const lota_http_header *xd = find_header(req, "x-amz-date");
	if (!xd || xd->value.len != date.len || memcmp(xd->value.ptr, date.ptr, date.len) != 0) {
		rc = LOTA_E_SIGV4_DATE;
		goto fail;
	}
	if ((rc = all_headers_list(req, list, &list_len)) ||
	    (rc = check_list_to_send((lota_str){list, list_len}, false)))
		goto fail;
	rc = compute_signature(req, (lota_str){list, list_len}, params->flags, false,
	                       default_payload(req, false), date, day, params->region,
	                       params->service, params->secret_key, out->signature);
	if (rc)
		goto fail;
	struct sink s = {.buf = out->authorization, .cap = sizeof(out->authorization)};
	put_lit(&s, LOTA_SIGV4_ALGORITHM " Credential=");
	put_str(&s, params->access_key);
	put_c(&s, '/');
	put_str(&s, day);
	put_c(&s, '/');
	put_str(&s, params->region);
	put_c(&s, '/');
	put_str(&s, params->service);
	put_lit(&s, "/aws4_request, SignedHeaders=");
	put(&s, list, list_len);
	put_lit(&s, ", Signature=");
	put(&s, out->signature, LOTA_SIGV4_SIGNATURE_HEX_LEN);
	if ((rc = s.err))
		goto fail;
	out->authorization[s.len] = '\0';
	sent[nsent++] =
	    (lota_http_header){LOTA_STR_LIT("Authorization"), {out->authorization, s.len}};
	lota_sigv4_request r = *req;
	r.headers = sent;
	r.num_headers = nsent;
	if ((rc = parse_produced(&r, LOTA_SIGV4_FORM_HEADER)))
		goto fail;
	return 0;
fail:
	lota__wipe(out, sizeof(*out));
	return rc;
}

int lota_sigv4_presign(const lota_sigv4_params *params, const lota_sigv4_request *req,
                       int64_t expires_s, char *out, size_t cap)
{
	char list[LIST_BUF], amz_date[LOTA_SIGV4_AMZ_DATE_LEN + 1], sig[65];
	size_t list_len;
	int rc;
	if (!out || cap == 0)
		return -EINVAL;
	lota_sigv4_params own;
	out[0] = '\0';
	if ((rc = check_params(params, req, &own)))
		return rc;
	params = &own;
	if (!expires_ok(expires_s))
		return -EINVAL;
	/* no header is added: the request is sent with req's headers as they are */
	if ((rc = all_headers_list(req, list, &list_len)) ||
	    (rc = check_list_to_send((lota_str){list, list_len}, true)))
		return rc;
	lota_sigv4_format_amz_date(params->time, amz_date);
	lota_str date = {amz_date, LOTA_SIGV4_AMZ_DATE_LEN}, day = {amz_date, 8};
	char exp[24];
	int exp_len = snprintf(exp, sizeof(exp), "%lld", (long long)expires_s);

	struct sink s = {.buf = out, .cap = cap};
	if (req->query.len) {
		put_str(&s, req->query);
		put_c(&s, '&');
	}
	put_lit(&s, "X-Amz-Algorithm=" LOTA_SIGV4_ALGORITHM "&X-Amz-Credential=");
	put_encoded(&s, params->access_key.ptr, params->access_key.len, true);
	put_lit(&s, "%2F");
	put_str(&s, day);
	put_lit(&s, "%2F");
	put_encoded(&s, params->region.ptr, params->region.len, true);
	put_lit(&s, "%2F");
	put_encoded(&s, params->service.ptr, params->service.len, true);
	put_lit(&s, "%2Faws4_request&X-Amz-Date=");
	put_str(&s, date);
	put_lit(&s, "&X-Amz-Expires=");
	put(&s, exp, (size_t)exp_len);
	put_lit(&s, "&X-Amz-SignedHeaders=");
	put_encoded(&s, list, list_len, true);
	if (params->session_token.len) {
		put_lit(&s, "&X-Amz-Security-Token=");
		put_encoded(&s, params->session_token.ptr, params->session_token.len, true);
	}
	if ((rc = s.err))
		goto fail;
	/* Signed without X-Amz-Signature, verified with it: put_canonical_query() counts
	 * both the same, since the signature parameter costs nothing there. */
	lota_sigv4_request r = *req;
	r.query = (lota_str){out, s.len};
	lota_str payload = default_payload(req, true);
	rc = compute_signature(&r, (lota_str){list, list_len}, params->flags, true, payload, date,
	                       day, params->region, params->service, params->secret_key, sig);
	if (rc)
		goto fail;
	put_lit(&s, "&X-Amz-Signature=");
	put(&s, sig, 64);
	if ((rc = s.err))
		goto fail;
	out[s.len] = '\0';
	r.query = (lota_str){out, s.len};
	if ((rc = parse_produced(&r, LOTA_SIGV4_FORM_QUERY)))
		goto fail;
	return (int)s.len;
fail:
	out[0] = '\0';
	return rc;
}

/* ------------------------------------------------------------------ parsing */

static bool is_lower_hex64(lota_str v)
{
	if (v.len != LOTA_SIGV4_SIGNATURE_HEX_LEN)
		return false;
	for (size_t i = 0; i < v.len; i++) {
		char c = v.ptr[i];
		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
			return false;
	}
	return true;
}

/* Split the credential "ak/date/region/service/aws4_request" (with '/' or %2F). */
static int parse_credential(lota_str cred, lota_sigv4_auth *out)
{
	lota_str part[5];
	size_t n = 0;
	const char *p = cred.ptr, *end = end_of(cred), *start = p;
	while (p <= end) {
		size_t sep = 0;
		if (p == end)
			sep = 0;
		else if (*p == '/')
			sep = 1;
		else if (*p == '%' && end - p >= 3 && p[1] == '2' &&
		         lower((unsigned char)p[2]) == 'f')
			sep = 3;
		else {
			p++;
			continue;
		}
		if (n == 5)
			return LOTA_E_SIGV4_SCOPE;
		part[n++] = (lota_str){start, (size_t)(p - start)};
		if (p == end)
			break;
		p += sep;
		start = p;
	}
	if (n != 5)
		return n < 2 ? LOTA_E_SIGV4_MALFORMED : LOTA_E_SIGV4_SCOPE;
	if (!credential_part_ok(part[0], LOTA_SIGV4_ACCESS_KEY_MAX))
		return LOTA_E_SIGV4_MALFORMED;
	unsigned dummy;
	if (part[1].len != 8 || !digits(part[1].ptr, 8, &dummy) || !scope_part_ok(part[2]) ||
	    !scope_part_ok(part[3]) || !str_is(part[4], "aws4_request"))
		return LOTA_E_SIGV4_SCOPE;
	out->access_key = part[0];
	out->scope_date = part[1];
	out->region = part[2];
	out->service = part[3];
	return 0;
}

/* The signed-header list a request claims: its names (list_name_ok), its size
 * (signed_list_fits), host among them, each one present in the request. */
static int check_signed_list(const lota_sigv4_request *req, lota_str list)
{
	struct name_iter it = {list.ptr, end_of(list)};
	lota_str name;
	size_t count = 0, bytes = 0;
	if (list.len == 0)
		return LOTA_E_SIGV4_MALFORMED;
	while (next_name(&it, &name)) {
		if (!list_name_ok(name))
			return LOTA_E_SIGV4_MALFORMED;
		bytes += (count ? 1 : 0) + name.len;
		if (!signed_list_fits(++count, bytes))
			return LOTA_E_SIGV4_MALFORMED;
	}
	if (!list_has(list, "host"))
		return LOTA_E_SIGV4_HEADERS;
	it.p = list.ptr;
	while (next_name(&it, &name)) {
		bool found = false;
		for (size_t i = 0; i < req->num_headers && !found; i++)
			found = eq_nocase(req->headers[i].name.ptr, req->headers[i].name.len,
			                  name.ptr, name.len);
		if (!found)
			return LOTA_E_SIGV4_HEADERS;
	}
	return 0;
}

/* Find the raw value of the query parameter `name`; 1 found, 0 absent, <0 duplicate. */
static int query_param(lota_str query, const char *name, lota_str *val)
{
	size_t nlen = strlen(name);
	int found = 0;
	const char *p = query.ptr, *end = end_of(query);
	while (p < end) {
		const char *amp = memchr(p, '&', (size_t)(end - p));
		if (!amp)
			amp = end;
		const char *eq = memchr(p, '=', (size_t)(amp - p));
		const char *nend = eq ? eq : amp;
		if ((size_t)(nend - p) == nlen && memcmp(p, name, nlen) == 0) {
			if (found)
				return LOTA_E_SIGV4_MALFORMED;
			found = 1;
			*val = eq ? (lota_str){eq + 1, (size_t)(amp - eq - 1)} : (lota_str){amp, 0};
		}
		p = amp + 1;
	}
	return found;
}

static int check_scope_date(const lota_sigv4_auth *a)
{
	char d[LOTA_SIGV4_AMZ_DATE_LEN + 1];
	lota_sigv4_format_amz_date(a->time, d);
	return memcmp(d, a->scope_date.ptr, 8) == 0 ? 0 : LOTA_E_SIGV4_SCOPE;
}

static int parse_header_form(const lota_sigv4_request *req, lota_str v, lota_sigv4_auth *out)
{
	lota_str cred = {0}, list = {0}, sig = {0};
	bool have_cred = false, have_list = false, have_sig = false;
	const char *p = v.ptr + strlen(LOTA_SIGV4_ALGORITHM), *end = v.ptr + v.len;
	int rc;
	while (p < end) {
		while (p < end && (*p == ' ' || *p == '\t' || *p == ','))
			p++;
		if (p == end)
			break;
		const char *c = p;
		while (c < end && *c != ',')
			c++;
		const char *e = c;
		while (e > p && (e[-1] == ' ' || e[-1] == '\t'))
			e--;
		const char *eq = memchr(p, '=', (size_t)(e - p));
		if (!eq)
			return LOTA_E_SIGV4_MALFORMED;
		lota_str key = {p, (size_t)(eq - p)}, val = {eq + 1, (size_t)(e - eq - 1)};
		lota_str *dst;
		bool *have;
		if (str_is(key, "Credential")) {
			dst = &cred;
			have = &have_cred;
		} else if (str_is(key, "SignedHeaders")) {
			dst = &list;
			have = &have_list;
		} else if (str_is(key, "Signature")) {
			dst = &sig;
			have = &have_sig;
		} else {
			return LOTA_E_SIGV4_MALFORMED;
		}
		if (*have)
			return LOTA_E_SIGV4_MALFORMED;
		*have = true;
		*dst = val;
		p = c;
	}
	if (!have_cred || !have_list || !have_sig)
		return LOTA_E_SIGV4_MALFORMED;
	if ((rc = parse_credential(cred, out)))
		return rc;
	if (!is_lower_hex64(sig))
		return LOTA_E_SIGV4_MALFORMED;
	for (size_t i = 0; i < list.len; i++)
		if (list.ptr[i] == '%')
			return LOTA_E_SIGV4_MALFORMED;
	if ((rc = check_signed_list(req, list)))
		return rc;
	const lota_http_header *d = find_header(req, "x-amz-date");
	const char *date_name = "x-amz-date";
	if (!d) {
		d = find_header(req, "date");
		date_name = "date";
	}
	if (!d)
		return LOTA_E_SIGV4_DATE;
	if (!list_has(list, date_name))
		return LOTA_E_SIGV4_HEADERS;
	out->amz_date = d->value;
	if ((rc = lota_sigv4_parse_amz_date(d->value.ptr, d->value.len, &out->time)))
		return rc;
	out->signed_headers = list;
	out->signature = sig;
	const lota_http_header *ph = find_header(req, "x-amz-content-sha256");
	if (ph)
		out->payload_hash = ph->value;
	const lota_http_header *tok = find_header(req, "x-amz-security-token");
	if (tok)
		out->session_token = tok->value;
	out->form = LOTA_SIGV4_FORM_HEADER;
	return check_scope_date(out);
}

static int parse_query_form(const lota_sigv4_request *req, lota_sigv4_auth *out)
{
	lota_str alg = {0}, cred = {0}, date = {0}, exp = {0}, list = {0}, sig = {0}, tok = {0};
	lota_str ph = {0};
	int rc;
	if ((rc = query_param(req->query, "X-Amz-Algorithm", &alg)) < 0)
		return rc;
	if (rc == 0)
		return LOTA_E_SIGV4_MALFORMED;
	if (!str_is(alg, LOTA_SIGV4_ALGORITHM))
		return LOTA_E_SIGV4_ALGORITHM;
	static const char *const names[] = {"X-Amz-Credential", "X-Amz-Date", "X-Amz-Expires",
	                                    "X-Amz-SignedHeaders", "X-Amz-Signature"};
	lota_str *dst[] = {&cred, &date, &exp, &list, &sig};
	for (size_t i = 0; i < 5; i++) {
		if ((rc = query_param(req->query, names[i], dst[i])) < 0)
			return rc;
		if (rc == 0)
			return LOTA_E_SIGV4_MALFORMED;
	}
	if ((rc = query_param(req->query, "X-Amz-Security-Token", &tok)) < 0)
		return rc;
	if ((rc = query_param(req->query, "X-Amz-Content-Sha256", &ph)) < 0)
		return rc;
	if ((rc = parse_credential(cred, out)))
		return rc;
	if (!is_lower_hex64(sig))
		return LOTA_E_SIGV4_MALFORMED;
	unsigned e;
	if (exp.len == 0 || exp.len > 6 || !digits(exp.ptr, exp.len, &e) || !expires_ok(e))
		return LOTA_E_SIGV4_MALFORMED;
	if ((rc = check_signed_list(req, list)))
		return rc;
	if ((rc = lota_sigv4_parse_amz_date(date.ptr, date.len, &out->time)))
		return rc;
	if (date.len != LOTA_SIGV4_AMZ_DATE_LEN)
		return LOTA_E_SIGV4_DATE; /* the query form takes only the ISO 8601 basic form */
	out->amz_date = date;
	out->expires_s = e;
	out->signed_headers = list;
	out->signature = sig;
	out->session_token = tok;
	const lota_http_header *h = find_header(req, "x-amz-content-sha256");
	if (h)
		out->payload_hash = h->value;
	else if (ph.len)
		out->payload_hash = ph;
	else
		out->payload_hash = LOTA_STR_LIT(LOTA_SIGV4_UNSIGNED_PAYLOAD);
	out->form = LOTA_SIGV4_FORM_QUERY;
	return check_scope_date(out);
}

static bool starts_with(lota_str v, const char *lit)
{
	size_t n = strlen(lit);
	return v.len >= n && memcmp(v.ptr, lit, n) == 0;
}

int lota_sigv4_parse(const lota_sigv4_request *req, lota_sigv4_auth *out)
{
	int rc;
	if (!req || !out)
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	if (!header_count_ok(req->num_headers))
		return LOTA_E_TOO_LARGE;
	const lota_http_header *authz = find_header(req, "authorization");
	lota_str dummy;
	bool q_alg = query_param(req->query, "X-Amz-Algorithm", &dummy) != 0;
	bool q_sig = query_param(req->query, "X-Amz-Signature", &dummy) != 0 ||
	             query_param(req->query, "X-Amz-Credential", &dummy) != 0;
	if (authz) {
		lota_str v = authz->value;
		if (q_alg || q_sig)
			rc = LOTA_E_SIGV4_MALFORMED; /* only one mechanism per request */
		else if (starts_with(v, LOTA_SIGV4_ALGORITHM " "))
			rc = parse_header_form(req, v, out);
		else if (starts_with(v, "AWS ") || starts_with(v, "AWS4-ECDSA-P256-SHA256 ")) {
			out->form = LOTA_SIGV4_FORM_OTHER;
			return 0;
		} else if (starts_with(v, "AWS4-") || v.len == 0)
			rc = v.len ? LOTA_E_SIGV4_ALGORITHM : LOTA_E_SIGV4_MALFORMED;
		else {
			out->form = LOTA_SIGV4_FORM_OTHER;
			return 0;
		}
	} else if (q_alg || q_sig) {
		rc = parse_query_form(req, out);
	} else {
		out->form = LOTA_SIGV4_FORM_NONE;
		return 0;
	}
	if (rc)
		memset(out, 0, sizeof(*out));
	return rc;
}

/* ------------------------------------------------------------------ verification */

int lota_sigv4_verify(const lota_sigv4_request *req, const lota_sigv4_auth *auth,
                      lota_str secret_key, int64_t now, int64_t max_skew_s, unsigned flags)
{
	char sig[65];
	bool query_form;
	if (!req || !auth || max_skew_s < 0)
		return -EINVAL;
	if (auth->form == LOTA_SIGV4_FORM_HEADER) {
		query_form = false;
		if (now - auth->time > max_skew_s || auth->time - now > max_skew_s)
			return LOTA_E_SIGV4_SKEW;
	} else if (auth->form == LOTA_SIGV4_FORM_QUERY) {
		query_form = true;
		if (!expires_ok(auth->expires_s))
			return LOTA_E_SIGV4_MALFORMED;
		if (now < auth->time - max_skew_s)
			return LOTA_E_SIGV4_SKEW;
		if (now > auth->time + auth->expires_s)
			return LOTA_E_SIGV4_EXPIRED;
	} else {
		return LOTA_E_SIGV4_MALFORMED;
	}
	if (!is_lower_hex64(auth->signature) || auth->amz_date.len == 0)
		return LOTA_E_SIGV4_MALFORMED;
	lota_str payload = req->payload_hash;
	if (!payload.len)
		payload = auth->payload_hash;
	if (!payload.len)
		payload = query_form ? LOTA_STR_LIT(LOTA_SIGV4_UNSIGNED_PAYLOAD)
		                     : LOTA_STR_LIT(LOTA_SIGV4_EMPTY_SHA256);
	int rc =
	    compute_signature(req, auth->signed_headers, flags, query_form, payload, auth->amz_date,
	                      auth->scope_date, auth->region, auth->service, secret_key, sig);
	if (rc)
		return rc;
	bool ok = lota__ct_equal(sig, auth->signature.ptr, LOTA_SIGV4_SIGNATURE_HEX_LEN);
	lota__wipe(sig, sizeof(sig));
	return ok ? 0 : LOTA_E_SIGV4_MISMATCH;
}

/* ------------------------------------------------------------------ aws-chunked */

int lota_sigv4_chunk_signature(const uint8_t signing_key[32], lota_str amz_date, lota_str scope,
                               lota_str prev_signature, const uint8_t chunk_sha256[32], char *out)
{
	char sts[512], hex[65];
	uint8_t mac[32];
	if (!signing_key || !chunk_sha256 || !out)
		return -EINVAL;
	out[0] = '\0';
	if (!is_lower_hex64(prev_signature) || amz_date.len != LOTA_SIGV4_AMZ_DATE_LEN)
		return LOTA_E_SIGV4_MALFORMED;
	lota__hex_encode(chunk_sha256, 32, hex);
	struct sink s = {.buf = sts, .cap = sizeof(sts)};
	put_lit(&s, "AWS4-HMAC-SHA256-PAYLOAD\n");
	put_str(&s, amz_date);
	put_c(&s, '\n');
	put_str(&s, scope);
	put_c(&s, '\n');
	put_str(&s, prev_signature);
	put_lit(&s, "\n" LOTA_SIGV4_EMPTY_SHA256 "\n");
	put(&s, hex, 64);
	if (s.err)
		return s.err;
	int rc = lota__hmac_sha256(signing_key, 32, sts, s.len, mac);
	if (rc)
		return rc;
	lota__hex_encode(mac, 32, out);
	lota__wipe(mac, sizeof(mac));
	return 0;
}
