/*
 * http.c - strict, zero-copy HTTP/1.1 head parsing (requests and responses) and the
 * in-place chunked-body decoder. The contract is in include/lota/http.h.
 *
 * How it works: one forward pass over buf[0..min(len, max_head_bytes)), byte classes
 * from a 256-entry table, no allocation, no NUL needed. Every error is decided by the
 * bytes up to and including the byte where it is reported (a CR is judged with the byte
 * after it), and the pass stops at the first one. So any prefix of an input either
 * gives LOTA_E_INCOMPLETE or the same result as the whole input: the answer does not
 * depend on how the bytes were split across reads. When the window ends without the
 * head being complete the answer is LOTA_E_INCOMPLETE, or LOTA_E_HTTP_HEAD_TOO_LONG
 * once more than max_head_bytes have arrived (the caller need not wait for the end).
 *
 * Framing headers (Content-Length, Transfer-Encoding, Host, Connection, Expect) are
 * interpreted when the first byte of the following line shows that the header does not
 * continue (so a folded "Transfer-Encoding:\r\n chunked" is reported as obs-fold); the
 * checks that need the whole head (missing Host, the final body kind) run when the empty
 * line is seen.
 *
 * A bare LF (LF not preceded by CR) is never a line end: it is a control byte in
 * whatever element it interrupts and is reported as that element's error (METHOD,
 * TARGET, VERSION, STATUS, HEADER_NAME or HEADER_VALUE). A CR that is not followed by
 * LF is always LOTA_E_HTTP_BARE_CR.
 */
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <lota/http.h>

#include "crypto-internal.h"
#include "opts-internal.h"

#define DEFAULT_MAX_HEAD       16384
#define DEFAULT_MAX_CHUNK_LINE 4096
#define MAX_LENGTH_VALUE       ((uint64_t)INT64_MAX) /* Content-Length and chunk-size cap */

/* Byte classes. */
enum {
	C_TCHAR = 1,  /* token character (RFC 9110 5.6.2) */
	C_FIELD = 2,  /* field-value byte: HTAB, SP, VCHAR, obs-text */
	C_TARGET = 4, /* request-target byte: VCHAR (real clients percent-encode the rest) */
	C_HOST = 8,   /* Host header byte: unreserved, pct, sub-delims, ':', '[', ']' */
};

static const uint8_t cls[256] = {
    0,  0,  0,  0,  0,  0,  0,  0,  0,  2,  0,  0,  0,  0,  0,  0,  /* 0x00 */
    0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  /* 0x10 */
    2,  15, 6,  7,  15, 15, 15, 15, 14, 14, 15, 15, 14, 15, 15, 6,  /* 0x20 */
    15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 14, 14, 6,  14, 6,  6,  /* 0x30 */
    6,  15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, /* 0x40 */
    15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 14, 6,  14, 7,  15, /* 0x50 */
    7,  15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, /* 0x60 */
    15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 6,  7,  6,  15, 0,  /* 0x70 */
    2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  /* 0x80 */
    2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  /* 0x90 */
    2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  /* 0xa0 */
    2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  /* 0xb0 */
    2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  /* 0xc0 */
    2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  /* 0xd0 */
    2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  /* 0xe0 */
    2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  /* 0xf0 */
};

typedef const unsigned char *cursor;

static inline unsigned char lower(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') ? (unsigned char)(c | 0x20) : c;
}

static bool eq_nocase(const unsigned char *a, size_t a_len, const char *b, size_t b_len)
{
	if (a_len != b_len)
		return false;
	for (size_t i = 0; i < a_len; i++)
		if (lower(a[i]) != lower((unsigned char)b[i]))
			return false;
	return true;
}

#define EQ_LIT(p, n, lit) eq_nocase((p), (n), (lit), sizeof(lit) - 1)

bool lota_str_eq_nocase(lota_str a, const char *b, size_t b_len)
{
	if (a.len != b_len)
		return false;
	if (a.len == 0)
		return true;
	if (!a.ptr || !b)
		return false;
	return eq_nocase((const unsigned char *)a.ptr, a.len, b, b_len);
}

const lota_http_header *lota_http_find_header(const lota_http_header *headers, size_t num_headers,
                                              const char *name, size_t name_len)
{
	if (!headers || !name)
		return NULL;
	for (size_t i = 0; i < num_headers; i++)
		if (lota_str_eq_nocase(headers[i].name, name, name_len))
			return &headers[i];
	return NULL;
}

static inline lota_str view(cursor a, cursor b)
{
	return (lota_str){(const char *)a, (size_t)(b - a)};
}

static inline bool is_alnum(unsigned char c)
{
	return (c >= '0' && c <= '9') || (lower(c) >= 'a' && lower(c) <= 'z');
}

/*
 * Skip bytes of class `mask`. Eight bytes at a time while they are all printable ASCII
 * (>= lo, < 0x7f: the common case in targets and values), then byte by byte.
 */
#define ONES  0x0101010101010101ULL
#define HIGHS 0x8080808080808080ULL

static inline cursor scan(cursor p, cursor end, uint8_t mask, unsigned lo)
{
	while (end - p >= 8) {
		uint64_t x, y;
		memcpy(&x, p, 8);
		y = x ^ (ONES * 0x7f);
		/* a byte < lo, a byte >= 0x80, or a 0x7f byte (exact when asking "any") */
		if (((x - ONES * lo) | x | ((y - ONES) & ~y)) & HIGHS)
			break;
		p += 8;
	}
	while (p < end && (cls[*p] & mask))
		p++;
	return p;
}

static inline bool is_ows(unsigned char c)
{
	return c == ' ' || c == '\t';
}

/*
 * A CR was met at *p where `err` would be reported for any other byte: a CR not followed
 * by LF is BARE_CR; CRLF there is still the element's own error.
 */
static int cr_or(cursor p, cursor end, int more, int err)
{
	if (*p != '\r')
		return err;
	if (p + 1 == end)
		return more;
	return p[1] == '\n' ? err : LOTA_E_HTTP_BARE_CR;
}

/* "HTTP/1." DIGIT with DIGIT 0 or 1; one byte at a time so a prefix fails early. */
static int parse_version(cursor *pp, cursor end, int more, int *minor, int err)
{
	static const char lit[] = "HTTP/1.";
	cursor p = *pp;
	for (size_t i = 0; i < sizeof(lit) - 1; i++, p++) {
		if (p == end)
			return more;
		if (*p != (unsigned char)lit[i])
			return cr_or(p, end, more, err);
	}
	if (p == end)
		return more;
	if (*p != '0' && *p != '1')
		return cr_or(p, end, more, err);
	*minor = *p - '0';
	*pp = p + 1;
	return 0;
}

/* What the header lines tell about framing and the connection. */
struct framing {
	bool request;
	int minor;
	bool cl_seen, te_seen, te_chunked_last, te_chunked_any, host_seen;
	bool conn_close, conn_keep_alive, expect_continue;
	uint64_t content_length;
	lota_str host;
};

static int parse_content_length(cursor v, size_t n, uint64_t *out)
{
	uint64_t x = 0;
	if (n == 0)
		return LOTA_E_HTTP_BAD_CL;
	for (size_t i = 0; i < n; i++) {
		unsigned d = (unsigned)v[i] - '0';
		if (d > 9)
			return LOTA_E_HTTP_BAD_CL;
		if (x > (MAX_LENGTH_VALUE - d) / 10)
			return LOTA_E_HTTP_BAD_CL;
		x = x * 10 + d;
	}
	*out = x;
	return 0;
}

/*
 * Transfer-Encoding of a response: a list of codings, each a token with optional
 * parameters. Records whether chunked is the final one; chunked before the last
 * coding means "read until close" (RFC 9112 6.3); chunked applied twice, an empty list
 * or a malformed coding is refused.
 */
static int response_te(struct framing *f, cursor v, size_t n)
{
	cursor p = v, end = v + n;
	bool any = false;
	while (p < end) {
		while (p < end && is_ows(*p))
			p++;
		if (p < end && *p == ',') { /* empty list element */
			p++;
			continue;
		}
		if (p == end)
			break;
		cursor t = p;
		while (p < end && (cls[*p] & C_TCHAR))
			p++;
		if (p == t)
			return LOTA_E_HTTP_BAD_TE;
		bool chunked = EQ_LIT(t, (size_t)(p - t), "chunked");
		while (p < end && is_ows(*p))
			p++;
		if (p < end && *p == ';') { /* parameters, up to the next comma */
			while (p < end && *p != ',') {
				if (*p == '"')
					return LOTA_E_HTTP_BAD_TE; /* no quoted parameters */
				p++;
			}
		} else if (p < end && *p != ',') {
			return LOTA_E_HTTP_BAD_TE;
		}
		if (chunked && f->te_chunked_any)
			return LOTA_E_HTTP_BAD_TE;
		f->te_chunked_any |= chunked;
		f->te_chunked_last = chunked;
		any = true;
	}
	return any ? 0 : LOTA_E_HTTP_BAD_TE;
}

/* Connection: comma-separated tokens; only close and keep-alive matter here. */
static void connection_tokens(struct framing *f, cursor v, size_t n)
{
	cursor p = v, end = v + n;
	while (p < end) {
		while (p < end && (is_ows(*p) || *p == ','))
			p++;
		cursor t = p;
		while (p < end && *p != ',' && !is_ows(*p))
			p++;
		size_t tl = (size_t)(p - t);
		if (EQ_LIT(t, tl, "close"))
			f->conn_close = true;
		else if (EQ_LIT(t, tl, "keep-alive"))
			f->conn_keep_alive = true;
	}
}

static int on_header(struct framing *f, cursor name, size_t nlen, cursor v, size_t vlen)
{
	int rc;
	switch (nlen) {
	case 4:
		if (!f->request || !EQ_LIT(name, nlen, "host"))
			return 0;
		if (f->host_seen)
			return LOTA_E_HTTP_HOST;
		for (size_t i = 0; i < vlen; i++)
			if (!(cls[v[i]] & C_HOST))
				return LOTA_E_HTTP_HOST;
		f->host_seen = true;
		f->host = view(v, v + vlen);
		return 0;
	case 6:
		if (f->request && EQ_LIT(name, nlen, "expect") && EQ_LIT(v, vlen, "100-continue"))
			f->expect_continue = true;
		return 0;
	case 10:
		if (EQ_LIT(name, nlen, "connection"))
			connection_tokens(f, v, vlen);
		return 0;
	case 14:
		if (!EQ_LIT(name, nlen, "content-length"))
			return 0;
		if (f->te_seen)
			return LOTA_E_HTTP_CL_AND_TE;
		if (f->cl_seen)
			return LOTA_E_HTTP_DUP_CL;
		rc = parse_content_length(v, vlen, &f->content_length);
		if (rc)
			return rc;
		f->cl_seen = true;
		return 0;
	case 17:
		if (!EQ_LIT(name, nlen, "transfer-encoding"))
			return 0;
		if (f->cl_seen)
			return LOTA_E_HTTP_CL_AND_TE;
		/* HTTP/1.0 has no transfer codings: the framing would be faulty (9112 6.1). */
		if (f->minor == 0)
			return LOTA_E_HTTP_BAD_TE;
		if (f->request) {
			if (f->te_seen || !EQ_LIT(v, vlen, "chunked"))
				return LOTA_E_HTTP_BAD_TE;
			f->te_chunked_last = true;
		} else {
			rc = response_te(f, v, vlen);
			if (rc)
				return rc;
		}
		f->te_seen = true;
		return 0;
	default:
		return 0;
	}
}

/*
 * Header lines up to and including the empty line. On success *pp points past the
 * final CRLF.
 */
static int parse_headers(cursor *pp, cursor end, int more, lota_http_header *headers,
                         size_t max_headers, size_t *num, struct framing *f)
{
	cursor p = *pp;
	bool pending = false; /* the last header's meaning is checked once its line is
			       * known not to continue (obs-fold is reported as such) */
	for (;;) {
		if (p == end)
			return more;
		if (is_ows(*p))
			return LOTA_E_HTTP_OBS_FOLD; /* or whitespace before the first field */
		if (pending) {
			const lota_http_header *h = &headers[*num - 1];
			int rc = on_header(f, (cursor)h->name.ptr, h->name.len,
			                   (cursor)h->value.ptr, h->value.len);
			if (rc)
				return rc;
			pending = false;
		}
		if (*p == '\r') {
			if (++p == end)
				return more;
			if (*p != '\n')
				return LOTA_E_HTTP_BARE_CR;
			*pp = p + 1;
			return 0;
		}
		if (*num == max_headers)
			return LOTA_E_HTTP_TOO_MANY_HEADERS;
		cursor name = p;
		while (p < end && (cls[*p] & C_TCHAR))
			p++;
		if (p == end)
			return more;
		if (*p != ':' || p == name)
			return cr_or(p, end, more, LOTA_E_HTTP_HEADER_NAME);
		cursor name_end = p++;
		while (p < end && is_ows(*p))
			p++;
		cursor v = p;
		p = scan(p, end, C_FIELD, 0x20);
		if (p == end)
			return more;
		if (*p != '\r')
			return LOTA_E_HTTP_HEADER_VALUE; /* NUL, bare LF, DEL, other CTL */
		cursor ve = p;
		while (ve > v && is_ows(ve[-1]))
			ve--;
		if (++p == end)
			return more;
		if (*p != '\n')
			return LOTA_E_HTTP_BARE_CR;
		p++;
		headers[*num].name = view(name, name_end);
		headers[*num].value = view(v, ve);
		(*num)++;
		pending = true;
	}
}

/* The caller's limits (NULL: defaults) in this library's layout; the released size of
 * lota_http_limits is the end of max_headers. */
static int load_limits(const lota_http_limits *limits, lota_http_limits *out)
{
	if (!limits) {
		*out = (lota_http_limits){.sz = sizeof(*out)};
		return 0;
	}
	return lota__opts_load(limits, LOTA__OFFSETOFEND(lota_http_limits, max_headers),
	                       sizeof(*out), out);
}

static void window(const char *buf, size_t len, const lota_http_limits *limits, cursor *p,
                   cursor *end, int *more)
{
	size_t max = limits->max_head_bytes ? limits->max_head_bytes : DEFAULT_MAX_HEAD;
	if (max > INT_MAX)
		max = INT_MAX; /* the head length is returned as an int */
	*p = (cursor)buf;
	*end = *p + (len < max ? len : max);
	*more = len > max ? LOTA_E_HTTP_HEAD_TOO_LONG : LOTA_E_INCOMPLETE;
}

static size_t header_cap(size_t max_headers, const lota_http_limits *limits)
{
	if (limits->max_headers && limits->max_headers < max_headers)
		return limits->max_headers;
	return max_headers;
}

int lota_http_parse_request(const char *buf, size_t len, lota_http_request *req,
                            lota_http_header *headers, size_t max_headers,
                            const lota_http_limits *limits)
{
	lota_http_limits lim;
	if (!req || (!buf && len) || (!headers && max_headers))
		return -EINVAL;
	memset(req, 0, sizeof(*req));
	req->headers = headers;
	cursor p, end, start = (cursor)buf;
	int more, rc;
	if ((rc = load_limits(limits, &lim)))
		return rc;
	limits = &lim;
	if (len == 0)
		return LOTA_E_INCOMPLETE;
	window(buf, len, limits, &p, &end, &more);

	/* method SP */
	cursor m = p;
	while (p < end && (cls[*p] & C_TCHAR))
		p++;
	if (p == end)
		return more;
	if (*p != ' ' || p == m)
		return cr_or(p, end, more, LOTA_E_HTTP_METHOD);
	req->method = view(m, p);

	/* request-target SP: origin-form "/..." or absolute-form "scheme://..." */
	cursor t = ++p;
	p = scan(p, end, C_TARGET, 0x21);
	if (p == end)
		return more;
	if (*p != ' ' || p == t)
		return cr_or(p, end, more, LOTA_E_HTTP_TARGET);
	cursor te = p, path = t;
	if (*t != '/') {
		cursor s = t;
		if (!is_alnum(*s) || (*s >= '0' && *s <= '9'))
			return LOTA_E_HTTP_TARGET;
		/* scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) */
		while (s < te && (is_alnum(*s) || *s == '+' || *s == '-' || *s == '.'))
			s++;
		if (te - s < 3 || s[0] != ':' || s[1] != '/' || s[2] != '/' || s + 3 == te)
			return LOTA_E_HTTP_TARGET;
		path = s + 3;
		while (path < te && *path != '/' && *path != '?')
			path++;
	}
	cursor q = path;
	while (q < te && *q != '?')
		q++;
	req->target = view(t, te);
	req->path = view(path, q);
	req->query = q < te ? view(q + 1, te) : view(te, te);

	/* HTTP-version CRLF */
	p++;
	rc = parse_version(&p, end, more, &req->minor_version, LOTA_E_HTTP_VERSION);
	if (rc)
		return rc;
	if (p == end)
		return more;
	if (*p != '\r')
		return LOTA_E_HTTP_VERSION;
	if (++p == end)
		return more;
	if (*p != '\n')
		return LOTA_E_HTTP_BARE_CR;
	p++;

	struct framing f = {.request = true, .minor = req->minor_version};
	rc = parse_headers(&p, end, more, headers, header_cap(max_headers, limits),
	                   &req->num_headers, &f);
	if (rc)
		return rc;
	if (f.minor == 1 && !f.host_seen)
		return LOTA_E_HTTP_HOST;
	if (f.te_seen) {
		req->body = LOTA_HTTP_BODY_CHUNKED;
	} else if (f.cl_seen) {
		req->body = LOTA_HTTP_BODY_LENGTH;
		req->content_length = f.content_length;
	}
	req->keep_alive = f.minor == 1 ? !f.conn_close : (f.conn_keep_alive && !f.conn_close);
	req->expect_continue = f.expect_continue;
	req->host = f.host;
	return (int)(p - start);
}

int lota_http_parse_response(const char *buf, size_t len, lota_http_response *resp,
                             lota_http_header *headers, size_t max_headers,
                             const lota_http_limits *limits)
{
	lota_http_limits lim;
	if (!resp || (!buf && len) || (!headers && max_headers))
		return -EINVAL;
	memset(resp, 0, sizeof(*resp));
	resp->headers = headers;
	cursor p, end, start = (cursor)buf;
	int more, rc;
	if ((rc = load_limits(limits, &lim)))
		return rc;
	limits = &lim;
	if (len == 0)
		return LOTA_E_INCOMPLETE;
	window(buf, len, limits, &p, &end, &more);

	/* HTTP-version SP 3DIGIT [SP reason-phrase] CRLF; the reason may be missing */
	rc = parse_version(&p, end, more, &resp->minor_version, LOTA_E_HTTP_VERSION);
	if (rc)
		return rc;
	if (p == end)
		return more;
	if (*p != ' ')
		return cr_or(p, end, more, LOTA_E_HTTP_VERSION);
	p++;
	int status = 0;
	for (int i = 0; i < 3; i++, p++) {
		if (p == end)
			return more;
		unsigned d = (unsigned)*p - '0';
		if (d > 9 || (i == 0 && d == 0))
			return cr_or(p, end, more, LOTA_E_HTTP_STATUS);
		status = status * 10 + (int)d;
	}
	if (p == end)
		return more;
	cursor r = p;
	if (*p == ' ') {
		r = ++p;
		while (p < end && (cls[*p] & C_FIELD))
			p++;
		if (p == end)
			return more;
	}
	if (*p != '\r')
		return LOTA_E_HTTP_STATUS;
	resp->status = status;
	resp->reason = view(r, p);
	if (++p == end)
		return more;
	if (*p != '\n')
		return LOTA_E_HTTP_BARE_CR;
	p++;

	struct framing f = {.request = false, .minor = resp->minor_version};
	rc = parse_headers(&p, end, more, headers, header_cap(max_headers, limits),
	                   &resp->num_headers, &f);
	if (rc)
		return rc;
	if (f.te_seen) {
		resp->body = f.te_chunked_last ? LOTA_HTTP_BODY_CHUNKED : LOTA_HTTP_BODY_CLOSE;
	} else if (f.cl_seen) {
		resp->body = LOTA_HTTP_BODY_LENGTH;
		resp->content_length = f.content_length;
	} else {
		resp->body = LOTA_HTTP_BODY_CLOSE;
	}
	resp->keep_alive = f.minor == 1 ? !f.conn_close : (f.conn_keep_alive && !f.conn_close);
	return (int)(p - start);
}

lota_http_body lota_http_response_body(const lota_http_response *resp, bool request_was_head)
{
	if (!resp || request_was_head || resp->status < 200 || resp->status == 204 ||
	    resp->status == 304)
		return LOTA_HTTP_BODY_NONE;
	return resp->body;
}

/* ---- chunked transfer coding ---- */

enum {
	CH_SIZE = 0, /* chunk-size hex digits */
	CH_SIZE_WS,  /* BWS after the size, before ';' or CR */
	CH_EXT,      /* chunk extensions, ignored */
	CH_SIZE_LF,  /* CR seen at the end of the size line */
	CH_DATA,     /* chunk data */
	CH_DATA_CR,  /* CRLF after the data */
	CH_DATA_LF,  /* CR seen after the data */
	CH_TRAILER,  /* at the start of a trailer line (or of the final CRLF) */
	CH_TRAILER_NAME,
	CH_TRAILER_VALUE,
	CH_TRAILER_LF, /* CR seen at the end of a trailer line */
	CH_END_LF,     /* CR of the final empty line seen */
	CH_DONE,
};

void lota_http_chunked_init(lota_http_chunked *dec)
{
	if (!dec)
		return;
	size_t max = dec->max_line_bytes;
	memset(dec, 0, sizeof(*dec));
	dec->max_line_bytes = max;
	dec->state = CH_SIZE;
}

/* An error is sticky: the decoder keeps answering it (state holds the negative code). */
static int chunk_fail(lota_http_chunked *dec, int err)
{
	dec->state = err;
	return err;
}

int lota_http_chunked_decode(lota_http_chunked *dec, char *buf, size_t *len)
{
	if (!dec || !len || (!buf && *len) || *len > INT_MAX)
		return -EINVAL;
	if (dec->state < 0) {
		*len = 0;
		return dec->state;
	}
	size_t n = *len, r = 0, w = 0;
	size_t max_line = dec->max_line_bytes ? dec->max_line_bytes : DEFAULT_MAX_CHUNK_LINE;
	int err = 0;
	unsigned char *b = (unsigned char *)buf;

	if (dec->state == CH_DONE) {
		*len = 0;
		return (int)n;
	}
	while (r < n) {
		if (dec->state == CH_DATA) {
			size_t take = n - r;
			if ((uint64_t)take > dec->remaining)
				take = (size_t)dec->remaining;
			if (w != r)
				memmove(b + w, b + r, take);
			w += take;
			r += take;
			dec->remaining -= take;
			if (dec->remaining == 0)
				dec->state = CH_DATA_CR;
			continue;
		}
		unsigned char c = b[r++];
		if (dec->state != CH_DATA_CR && dec->state != CH_DATA_LF &&
		    ++dec->line_bytes > max_line) {
			err = LOTA_E_TOO_LARGE;
			goto fail;
		}
		switch (dec->state) {
		case CH_SIZE: {
			int h = lota__hex_value((unsigned char)c);
			if (h >= 0) {
				if (dec->remaining > (MAX_LENGTH_VALUE - (uint64_t)h) / 16) {
					err = LOTA_E_HTTP_CHUNK_SIZE;
					goto fail;
				}
				dec->remaining = dec->remaining * 16 + (uint64_t)h;
				dec->hex_seen = true;
				break;
			}
			if (!dec->hex_seen) {
				err = LOTA_E_HTTP_CHUNK_SIZE;
				goto fail;
			}
			if (c == '\r')
				dec->state = CH_SIZE_LF;
			else if (c == ';')
				dec->state = CH_EXT;
			else if (is_ows(c))
				dec->state = CH_SIZE_WS;
			else {
				err = LOTA_E_HTTP_CHUNK_SIZE;
				goto fail;
			}
			break;
		}
		case CH_SIZE_WS:
			if (c == ';')
				dec->state = CH_EXT;
			else if (c == '\r')
				dec->state = CH_SIZE_LF;
			else if (!is_ows(c)) {
				err = LOTA_E_HTTP_CHUNK_SIZE;
				goto fail;
			}
			break;
		case CH_EXT:
			if (c == '\r')
				dec->state = CH_SIZE_LF;
			else if (!(cls[c] & C_FIELD)) {
				err = LOTA_E_HTTP_CHUNK; /* bare LF, NUL, other CTL */
				goto fail;
			}
			break;
		case CH_SIZE_LF:
			if (c != '\n') {
				err = LOTA_E_HTTP_BARE_CR;
				goto fail;
			}
			dec->line_bytes = 0;
			dec->state = dec->remaining ? CH_DATA : CH_TRAILER;
			break;
		case CH_DATA_CR:
			if (c != '\r') {
				err = LOTA_E_HTTP_CHUNK;
				goto fail;
			}
			dec->state = CH_DATA_LF;
			break;
		case CH_DATA_LF:
			if (c != '\n') {
				err = LOTA_E_HTTP_BARE_CR;
				goto fail;
			}
			dec->state = CH_SIZE;
			dec->hex_seen = false;
			dec->line_bytes = 0;
			break;
		case CH_TRAILER:
			if (c == '\r') {
				dec->state = CH_END_LF;
			} else if (cls[c] & C_TCHAR) {
				dec->state = CH_TRAILER_NAME;
			} else {
				err = LOTA_E_HTTP_CHUNK; /* obs-fold, bare LF, bad name */
				goto fail;
			}
			break;
		case CH_TRAILER_NAME:
			if (c == ':')
				dec->state = CH_TRAILER_VALUE;
			else if (!(cls[c] & C_TCHAR)) {
				err = LOTA_E_HTTP_CHUNK; /* a line without ':', a bad name byte */
				goto fail;
			}
			break;
		case CH_TRAILER_VALUE:
			if (c == '\r')
				dec->state = CH_TRAILER_LF;
			else if (!(cls[c] & C_FIELD)) {
				err = LOTA_E_HTTP_CHUNK;
				goto fail;
			}
			break;
		case CH_TRAILER_LF:
			if (c != '\n') {
				err = LOTA_E_HTTP_BARE_CR;
				goto fail;
			}
			dec->state = CH_TRAILER;
			break;
		case CH_END_LF:
			if (c != '\n') {
				err = LOTA_E_HTTP_BARE_CR;
				goto fail;
			}
			dec->state = CH_DONE;
			dec->line_bytes = 0;
			if (w != r)
				memmove(b + w, b + r, n - r);
			*len = w;
			return (int)(n - r);
		default:
			err = LOTA_E_INTERNAL;
			goto fail;
		}
	}
	*len = w;
	return LOTA_E_INCOMPLETE;
fail:
	*len = 0;
	return chunk_fail(dec, err);
}
