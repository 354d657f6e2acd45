/*
 * client_xml.c - a small, careful reader of the XML documents S3 answers with (errors,
 * ListObjectsV2 pages, multipart answers, DeleteObjects results), and the readers of
 * those documents built on it.
 *
 * It is not a general XML parser: no namespaces (a prefix stays part of the name), no
 * DTD (a <!DOCTYPE> is skipped, entities it would declare are errors), attributes are
 * skipped. What it does check: every byte read is inside [buf, buf + len); tags balance
 * and match by name; depth is at most LOTA__XML_MAX_DEPTH; an entity is one of the five
 * or a numeric reference to a valid code point (written as UTF-8). Text is decoded into
 * a scratch buffer no longer than the input (decoding never grows text).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <lota/sigv4.h>

#include "client-internal.h"

#define BAD LOTA_E_CLIENT_PROTOCOL

static bool is_name_byte(unsigned char ch)
{
	return ch > ' ' && ch != '<' && ch != '>' && ch != '/' && ch != '=' && ch != '"' &&
	       ch != '\'' && ch != '&';
}

/* Encode a code point as UTF-8; 0 for an invalid one. */
static size_t utf8(uint32_t cp, char *out)
{
	if (cp == 0 || (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
		return 0;
	if (cp < 0x80) {
		out[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (char)(0xc0 | (cp >> 6));
		out[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (char)(0xe0 | (cp >> 12));
		out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		out[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	out[0] = (char)(0xf0 | (cp >> 18));
	out[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
	out[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
	out[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/* Decode text[0..len) into out (at least len bytes). Returns the length or BAD. */
static int decode_text(const char *t, size_t len, char *out)
{
	size_t o = 0;
	for (size_t i = 0; i < len;) {
		if (t[i] != '&') {
			out[o++] = t[i++];
			continue;
		}
		const char *semi = memchr(t + i, ';', len - i);
		if (!semi || semi - (t + i) > 12)
			return BAD;
		const char *e = t + i + 1;
		size_t el = (size_t)(semi - e);
		if (el == 2 && !memcmp(e, "lt", 2))
			out[o++] = '<';
		else if (el == 2 && !memcmp(e, "gt", 2))
			out[o++] = '>';
		else if (el == 3 && !memcmp(e, "amp", 3))
			out[o++] = '&';
		else if (el == 4 && !memcmp(e, "quot", 4))
			out[o++] = '"';
		else if (el == 4 && !memcmp(e, "apos", 4))
			out[o++] = '\'';
		else if (el >= 2 && e[0] == '#') {
			uint32_t cp = 0;
			bool hex = e[1] == 'x';
			size_t k = hex ? 2 : 1;
			if (k >= el)
				return BAD;
			for (; k < el; k++) {
				int d;
				char ch = e[k];
				if (ch >= '0' && ch <= '9')
					d = ch - '0';
				else if (hex && ch >= 'a' && ch <= 'f')
					d = ch - 'a' + 10;
				else if (hex && ch >= 'A' && ch <= 'F')
					d = ch - 'A' + 10;
				else
					return BAD;
				cp = cp * (hex ? 16u : 10u) + (uint32_t)d;
				if (cp > 0x10ffff)
					return BAD;
			}
			char u[4];
			size_t n = utf8(cp, u);
			/* a reference is at least 4 bytes ("&#9;"), its UTF-8 at most as long */
			if (n == 0 || n > el + 2)
				return BAD;
			memcpy(out + o, u, n);
			o += n;
		} else {
			return BAD;
		}
		i = (size_t)(semi - t) + 1;
	}
	return (int)o;
}

static const char *find(const char *p, const char *end, const char *needle)
{
	size_t nl = strlen(needle);
	while ((size_t)(end - p) >= nl) {
		const char *q = memchr(p, needle[0], (size_t)(end - p) - nl + 1);
		if (!q)
			return NULL;
		if (!memcmp(q, needle, nl))
			return q;
		p = q + 1;
	}
	return NULL;
}

int lota__xml_parse(const char *buf, size_t len, lota__xml_fn fn, void *ud)
{
	lota_str stack[LOTA__XML_MAX_DEPTH];
	size_t depth = 0;
	bool root_seen = false;
	const char *p = buf, *end = buf + len;
	char *scratch = NULL;
	int rc = 0;

	if (!buf && len)
		return -EINVAL;
	if (len > INT32_MAX)
		return LOTA_E_TOO_LARGE;
	scratch = malloc(len ? len : 1);
	if (!scratch)
		return -ENOMEM;
	while (p < end) {
		if (*p != '<') {
			const char *lt = memchr(p, '<', (size_t)(end - p));
			const char *te = lt ? lt : end;
			if (depth == 0) {
				/* only white space outside the root */
				for (const char *q = p; q < te; q++)
					if (*q != ' ' && *q != '\t' && *q != '\r' && *q != '\n')
						goto bad;
			} else {
				int n = decode_text(p, (size_t)(te - p), scratch);
				if (n < 0)
					goto bad;
				rc = fn(ud, LOTA__XML_TEXT, stack, depth,
				        (lota_str){scratch, (size_t)n});
				if (rc)
					goto out;
			}
			p = te;
			continue;
		}
		/* markup */
		if (end - p >= 4 && !memcmp(p, "<!--", 4)) {
			const char *q = find(p + 4, end, "-->");
			if (!q)
				goto bad;
			p = q + 3;
			continue;
		}
		if (end - p >= 9 && !memcmp(p, "<![CDATA[", 9)) {
			const char *q = find(p + 9, end, "]]>");
			if (!q || depth == 0)
				goto bad;
			rc = fn(ud, LOTA__XML_TEXT, stack, depth,
			        (lota_str){p + 9, (size_t)(q - p - 9)});
			if (rc)
				goto out;
			p = q + 3;
			continue;
		}
		if (end - p >= 2 && (p[1] == '?' || p[1] == '!')) {
			/* a declaration or processing instruction: only before the root */
			const char *q = p[1] == '?' ? find(p + 2, end, "?>")
			                            : memchr(p, '>', (size_t)(end - p));
			if (!q || depth != 0 || root_seen)
				goto bad;
			p = q + (p[1] == '?' ? 2 : 1);
			continue;
		}
		bool closing = end - p >= 2 && p[1] == '/';
		const char *n = p + (closing ? 2 : 1), *ne = n;
		while (ne < end && is_name_byte((unsigned char)*ne))
			ne++;
		if (ne == n || ne >= end)
			goto bad;
		lota_str name = {n, (size_t)(ne - n)};
		/* the rest of the tag: attributes (quoted values may hold '>'), then > or /> */
		const char *q = ne;
		char quote = 0;
		while (q < end) {
			if (quote) {
				if (*q == quote)
					quote = 0;
			} else if (*q == '"' || *q == '\'') {
				if (closing)
					goto bad;
				quote = *q;
			} else if (*q == '>' || *q == '<') {
				break;
			}
			q++;
		}
		if (q >= end || *q != '>')
			goto bad;
		bool empty = !closing && q[-1] == '/' && q - 1 >= ne;
		if (closing) {
			for (const char *s = ne; s < q; s++)
				if (*s != ' ' && *s != '\t' && *s != '\r' && *s != '\n')
					goto bad;
			if (depth == 0 || stack[depth - 1].len != name.len ||
			    memcmp(stack[depth - 1].ptr, name.ptr, name.len) != 0)
				goto bad;
			rc = fn(ud, LOTA__XML_END, stack, depth, (lota_str){NULL, 0});
			if (rc)
				goto out;
			depth--;
		} else {
			if (depth == 0 && root_seen)
				goto bad; /* a second root */
			if (depth >= LOTA__XML_MAX_DEPTH)
				goto bad;
			root_seen = true;
			stack[depth++] = name;
			rc = fn(ud, LOTA__XML_START, stack, depth, (lota_str){NULL, 0});
			if (rc)
				goto out;
			if (empty) {
				rc = fn(ud, LOTA__XML_END, stack, depth, (lota_str){NULL, 0});
				if (rc)
					goto out;
				depth--;
			}
		}
		p = q + 1;
	}
	if (depth != 0 || !root_seen)
		goto bad;
	rc = 0;
	goto out;
bad:
	rc = BAD;
out:
	free(scratch);
	return rc;
}

/* ---- the text at a path ----------------------------------------------------------- */

typedef struct text_ctx {
	const char *path;
	char *out;
	size_t cap, len;
	bool in, found;
} text_ctx;

static bool stack_is(const lota_str *stack, size_t depth, const char *path)
{
	const char *p = path;
	for (size_t i = 0; i < depth; i++) {
		size_t l = strcspn(p, "/");
		if (l != stack[i].len || memcmp(p, stack[i].ptr, l) != 0)
			return false;
		p += l;
		if (i + 1 < depth) {
			if (*p != '/')
				return false;
			p++;
		}
	}
	return *p == '\0';
}

static int text_cb(void *ud, lota__xml_event ev, const lota_str *stack, size_t depth, lota_str t)
{
	text_ctx *c = ud;
	if (ev == LOTA__XML_START && !c->found && stack_is(stack, depth, c->path)) {
		c->in = true;
		c->found = true;
	} else if (ev == LOTA__XML_END && c->in && stack_is(stack, depth, c->path)) {
		c->in = false;
	} else if (ev == LOTA__XML_TEXT && c->in && stack_is(stack, depth, c->path)) {
		size_t room = c->cap - 1 - c->len;
		size_t n = t.len < room ? t.len : room;
		memcpy(c->out + c->len, t.ptr, n);
		c->len += n;
		c->out[c->len] = '\0';
	}
	return 0;
}

int lota__xml_text(const char *buf, size_t len, const char *path, char *out, size_t cap)
{
	if (!out || cap == 0 || !path)
		return -EINVAL;
	out[0] = '\0';
	text_ctx c = {.path = path, .out = out, .cap = cap};
	int rc = lota__xml_parse(buf, len, text_cb, &c);
	if (rc < 0) {
		out[0] = '\0';
		return rc;
	}
	return c.found ? 1 : 0;
}

/* ---- ListObjectsV2 ---------------------------------------------------------------- */

/* Append bytes to the page's arena; returns the offset or -1. Strings are kept as
 * offsets until the end, since the arena moves when it grows. */
static long arena_add(lota__list_page *pg, const char *s, size_t n)
{
	if (pg->arena_len + n + 1 > pg->arena_cap) {
		size_t cap = pg->arena_cap ? pg->arena_cap : 4096;
		while (cap < pg->arena_len + n + 1)
			cap *= 2;
		char *na = realloc(pg->arena, cap);
		if (!na)
			return -1;
		pg->arena = na;
		pg->arena_cap = cap;
	}
	long off = (long)pg->arena_len;
	memcpy(pg->arena + pg->arena_len, s, n);
	pg->arena_len += n;
	pg->arena[pg->arena_len++] = '\0';
	return off;
}

typedef struct list_ctx {
	lota__list_page *pg;
	char text[4096]; /* the current leaf's text (keys: 1024 bytes, 3072 URL-encoded) */
	size_t tlen;
	bool too_long;
	/* the entry being read, strings as arena offsets */
	long key, etag;
	uint64_t size;
	int64_t mtime;
	long token;
	bool is_root_ok;
	bool url_encoded; /* <EncodingType>url</EncodingType>: keys and prefixes are encoded */
	int err;
} list_ctx;

static bool name_is(lota_str s, const char *n)
{
	return s.len == strlen(n) && !memcmp(s.ptr, n, s.len);
}

/* "2009-10-12T17:50:30.000Z" (the fraction optional, of any number of digits) as seconds
 * since the epoch; anything else is 0, a time not known, as for a Last-Modified header
 * that does not parse. The fields are rewritten as X-Amz-Date's "20091012T175030Z" and
 * read by the SigV4 date parser, which checks every digit and every field's range. */
static int64_t iso8601_time(const char *s, size_t len)
{
	if (len < 20 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' ||
	    s[16] != ':' || s[len - 1] != 'Z')
		return 0;
	if (len > 20) {
		if (s[19] != '.' || len == 21)
			return 0;
		for (size_t i = 20; i < len - 1; i++)
			if (s[i] < '0' || s[i] > '9')
				return 0;
	}
	char compact[LOTA_SIGV4_AMZ_DATE_LEN];
	memcpy(compact, s, 4);
	memcpy(compact + 4, s + 5, 2);
	memcpy(compact + 6, s + 8, 2);
	compact[8] = 'T';
	memcpy(compact + 9, s + 11, 2);
	memcpy(compact + 11, s + 14, 2);
	memcpy(compact + 13, s + 17, 2);
	compact[15] = 'Z';
	int64_t t;
	if (lota_sigv4_parse_amz_date(compact, sizeof(compact), &t) != 0)
		return 0;
	return t;
}

static int list_cb(void *ud, lota__xml_event ev, const lota_str *stack, size_t depth, lota_str t)
{
	list_ctx *c = ud;
	lota__list_page *pg = c->pg;
	if (depth == 1 && ev == LOTA__XML_START) {
		if (!name_is(stack[0], "ListBucketResult"))
			return BAD;
		c->is_root_ok = true;
		return 0;
	}
	if (ev == LOTA__XML_START) {
		c->tlen = 0;
		c->too_long = false;
		if (depth == 2 &&
		    (name_is(stack[1], "Contents") || name_is(stack[1], "CommonPrefixes"))) {
			c->key = c->etag = -1;
			c->size = 0;
			c->mtime = 0;
		}
		return 0;
	}
	if (ev == LOTA__XML_TEXT) {
		if (c->tlen + t.len >= sizeof(c->text)) {
			c->too_long = true;
			return 0;
		}
		memcpy(c->text + c->tlen, t.ptr, t.len);
		c->tlen += t.len;
		return 0;
	}
	/* END */
	if (depth == 2) {
		bool contents = name_is(stack[1], "Contents");
		bool prefix = name_is(stack[1], "CommonPrefixes");
		if (name_is(stack[1], "IsTruncated"))
			pg->truncated = c->tlen == 4 && !memcmp(c->text, "true", 4);
		else if (name_is(stack[1], "EncodingType"))
			c->url_encoded = c->tlen == 3 && !strncasecmp(c->text, "url", 3);
		else if (name_is(stack[1], "NextContinuationToken")) {
			if (c->too_long)
				return BAD;
			c->token = arena_add(pg, c->text, c->tlen);
			if (c->token < 0)
				return -ENOMEM;
		} else if (contents || prefix) {
			if (c->key < 0)
				return BAD; /* an entry without its key */
			if (pg->n == pg->cap) {
				size_t cap = pg->cap ? pg->cap * 2 : 64;
				lota_list_entry *ne = realloc(pg->entries, cap * sizeof(*ne));
				if (!ne)
					return -ENOMEM;
				pg->entries = ne;
				pg->cap = cap;
			}
			lota_list_entry *e = &pg->entries[pg->n++];
			memset(e, 0, sizeof(*e));
			/* offsets now; pointers once the arena stops moving */
			e->key = (const char *)(uintptr_t)c->key;
			e->etag = (const char *)(uintptr_t)(c->etag < 0 ? (long)0 : c->etag + 1);
			e->size_bytes = c->size;
			e->last_modified = c->mtime;
			e->is_prefix = prefix;
		}
		c->tlen = 0;
		return 0;
	}
	if (depth == 3 && (name_is(stack[1], "Contents") || name_is(stack[1], "CommonPrefixes"))) {
		lota_str n = stack[2];
		if (c->too_long)
			return BAD;
		if (name_is(n, "Key") || name_is(n, "Prefix")) {
			c->key = arena_add(pg, c->text, c->tlen);
			if (c->key < 0)
				return -ENOMEM;
		} else if (name_is(n, "ETag")) {
			c->etag = arena_add(pg, c->text, c->tlen);
			if (c->etag < 0)
				return -ENOMEM;
		} else if (name_is(n, "Size")) {
			uint64_t v = 0;
			if (c->tlen == 0 || c->tlen > 19)
				return BAD;
			for (size_t i = 0; i < c->tlen; i++) {
				if (c->text[i] < '0' || c->text[i] > '9')
					return BAD;
				v = v * 10 + (uint64_t)(c->text[i] - '0');
			}
			c->size = v;
		} else if (name_is(n, "LastModified")) {
			c->mtime = iso8601_time(c->text, c->tlen);
		}
		c->tlen = 0;
	}
	return 0;
}

void lota__list_page_cleanup(lota__list_page *pg)
{
	free(pg->entries);
	free(pg->arena);
	memset(pg, 0, sizeof(*pg));
}

static int hexval(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

/* Undo encoding-type=url in place, as the AWS SDKs do (unquote_plus: %XX is a byte, '+'
 * a space; S3 writes a '+' of a key as %2B). A broken escape or a NUL byte (which no key
 * holds, and a C string cannot carry) is a listing that does not parse. */
static int url_decode_inplace(char *s)
{
	char *o = s;
	for (const char *p = s; *p; p++) {
		if (*p == '+') {
			*o++ = ' ';
		} else if (*p == '%') {
			int hi = hexval(p[1]), lo = hi < 0 ? -1 : hexval(p[2]);
			if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
				return BAD;
			*o++ = (char)(hi * 16 + lo);
			p += 2;
		} else {
			*o++ = *p;
		}
	}
	*o = '\0';
	return 0;
}

int lota__xml_list(const char *buf, size_t len, lota__list_page *pg)
{
	list_ctx c = {.pg = pg, .token = -1};
	pg->n = 0;
	pg->arena_len = 0;
	pg->truncated = false;
	pg->next_token = NULL;
	int rc = lota__xml_parse(buf, len, list_cb, &c);
	if (rc == 0 && !c.is_root_ok)
		rc = BAD;
	if (rc < 0) {
		pg->n = 0;
		return rc;
	}
	/* offsets to pointers (the arena no longer moves); etag offset + 1, 0 = none */
	for (size_t i = 0; i < pg->n; i++) {
		lota_list_entry *e = &pg->entries[i];
		e->key = pg->arena + (uintptr_t)e->key;
		if (c.url_encoded && url_decode_inplace((char *)e->key) < 0) {
			pg->n = 0;
			return BAD;
		}
		uintptr_t eo = (uintptr_t)e->etag;
		e->etag = eo ? pg->arena + eo - 1 : "";
	}
	pg->next_token = c.token >= 0 ? pg->arena + c.token : NULL;
	if (pg->truncated && !pg->next_token)
		return BAD; /* a truncated page must say where to go on */
	return 0;
}

/* ---- DeleteResult ----------------------------------------------------------------- */

typedef struct del_ctx {
	char *key, *code;
	size_t kcap, ccap, nerr;
	char text[2048];
	size_t tlen;
	bool root_ok;
} del_ctx;

static int del_cb(void *ud, lota__xml_event ev, const lota_str *stack, size_t depth, lota_str t)
{
	del_ctx *c = ud;
	if (ev == LOTA__XML_START) {
		if (depth == 1)
			c->root_ok = name_is(stack[0], "DeleteResult");
		if (depth == 1 && !c->root_ok)
			return BAD;
		c->tlen = 0;
		return 0;
	}
	if (ev == LOTA__XML_TEXT) {
		size_t n =
		    t.len < sizeof(c->text) - 1 - c->tlen ? t.len : sizeof(c->text) - 1 - c->tlen;
		memcpy(c->text + c->tlen, t.ptr, n);
		c->tlen += n;
		return 0;
	}
	if (depth == 2 && name_is(stack[1], "Error"))
		c->nerr++;
	if (depth == 3 && name_is(stack[1], "Error") && c->nerr == 0) {
		char *dst = NULL;
		size_t cap = 0;
		if (name_is(stack[2], "Key"))
			dst = c->key, cap = c->kcap;
		else if (name_is(stack[2], "Code"))
			dst = c->code, cap = c->ccap;
		if (dst && cap) {
			size_t n = c->tlen < cap - 1 ? c->tlen : cap - 1;
			memcpy(dst, c->text, n);
			dst[n] = '\0';
		}
	}
	c->tlen = 0;
	return 0;
}

int lota__xml_delete_result(const char *buf, size_t len, char *key, size_t key_cap, char *code,
                            size_t code_cap, size_t *nerrors)
{
	del_ctx c = {.key = key, .code = code, .kcap = key_cap, .ccap = code_cap};
	if (key_cap)
		key[0] = '\0';
	if (code_cap)
		code[0] = '\0';
	int rc = lota__xml_parse(buf, len, del_cb, &c);
	if (rc == 0 && !c.root_ok)
		rc = BAD;
	*nerrors = rc == 0 ? c.nerr : 0;
	return rc;
}
