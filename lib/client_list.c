/*
 * client_list.c - the operations over many keys: ListObjectsV2 as an iterator over
 * pages, DeleteObjects in batches of 1,000, and pre-staging (HEAD with Range: bytes=0-0,
 * lotad's way of being asked to fill its cache) of one key or every key of a prefix.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lota/sigv4.h>

#include "client-internal.h"
#include "crypto-internal.h"
#include "opts-internal.h"

/* ---- listing ---------------------------------------------------------------------- */

struct lota_client_list {
	lota_client *c;
	char *bucket, *prefix, *delimiter, *start_after;
	unsigned max_keys;
	char *token; /* the continuation token of the next page; NULL before the first */
	bool started, finished;
	lota__list_page page;
};

static char *dup0(const char *s)
{
	return s && *s ? strdup(s) : NULL;
}

void lota_client_list_free(lota_client_list *it)
{
	if (!it)
		return;
	free(it->bucket);
	free(it->prefix);
	free(it->delimiter);
	free(it->start_after);
	free(it->token);
	lota__list_page_cleanup(&it->page);
	free(it);
}

int lota_client_list_new(lota_client *c, const char *bucket, const lota_list_opts *in,
                         lota_client_list **out)
{
	lota_list_opts o;
	int rc;
	if (!out)
		return -EINVAL;
	*out = NULL;
	memset(&o, 0, sizeof(o));
	if (in) {
		rc =
		    lota__opts_load(in, LOTA__OFFSETOFEND(lota_list_opts, max_keys), sizeof(o), &o);
		if (rc < 0)
			return rc;
	}
	if (!c || !bucket || !*bucket || o.max_keys > 1000)
		return -EINVAL;
	lota_client_list *it = calloc(1, sizeof(*it));
	if (!it)
		return -ENOMEM;
	it->c = c;
	it->bucket = strdup(bucket);
	it->prefix = dup0(o.prefix);
	it->delimiter = dup0(o.delimiter);
	it->start_after = dup0(o.start_after);
	it->max_keys = o.max_keys ? o.max_keys : 1000;
	if (!it->bucket || (o.prefix && *o.prefix && !it->prefix) ||
	    (o.delimiter && *o.delimiter && !it->delimiter) ||
	    (o.start_after && *o.start_after && !it->start_after)) {
		lota_client_list_free(it);
		return -ENOMEM;
	}
	*out = it;
	return 0;
}

/* Append "&name=S3-encoded value" to q (capacity cap). */
static int qadd(char *q, size_t cap, const char *name, const char *v)
{
	size_t l = strlen(q);
	int n = snprintf(q + l, cap - l, "%s%s=", l ? "&" : "", name);
	if (n < 0 || (size_t)n >= cap - l)
		return LOTA_E_TOO_LARGE;
	l += (size_t)n;
	int e = lota_uri_encode(v, strlen(v), true, q + l, cap - l);
	return e < 0 ? e : 0;
}

int lota_client_list_next(lota_client_list *it, const lota_list_entry **entries, size_t *n,
                          lota_client_error *err)
{
	char q[8192] = "";
	char mk[16];
	int rc;
	if (err)
		memset(err, 0, sizeof(*err));
	if (!it || !entries || !n)
		return -EINVAL;
	*entries = NULL;
	*n = 0;
	if (it->finished)
		return 0;
	snprintf(mk, sizeof(mk), "%u", it->max_keys);
	rc = qadd(q, sizeof(q), "list-type", "2");
	if (rc == 0 && it->token)
		rc = qadd(q, sizeof(q), "continuation-token", it->token);
	if (rc == 0 && it->delimiter)
		rc = qadd(q, sizeof(q), "delimiter", it->delimiter);
	/* keys as XML 1.0 cannot carry them (control characters) come URL-encoded, decoded
	 * by the parser; the AWS SDKs ask for it the same way */
	if (rc == 0)
		rc = qadd(q, sizeof(q), "encoding-type", "url");
	if (rc == 0)
		rc = qadd(q, sizeof(q), "max-keys", mk);
	if (rc == 0 && it->prefix)
		rc = qadd(q, sizeof(q), "prefix", it->prefix);
	if (rc == 0 && it->start_after && !it->token)
		rc = qadd(q, sizeof(q), "start-after", it->start_after);
	if (rc < 0) {
		lota__client_err(err, rc, "prefix or token too long");
		return rc;
	}
	lota__xfer x;
	lota__xfer_init(&x, "GET", it->bucket, NULL);
	x.query = strdup(q);
	x.save_body = true;
	rc = x.query ? lota__perform(it->c, &x, err) : -ENOMEM;
	if (rc == 0) {
		rc = lota__xml_list(x.body, x.body_len, &it->page);
		if (rc < 0)
			lota__client_err(err, rc, "the listing does not parse");
	}
	if (rc == 0) {
		char *tok = NULL;
		if (it->page.truncated) {
			tok = strdup(it->page.next_token);
			if (!tok)
				rc = -ENOMEM;
			else if (it->token && !strcmp(tok, it->token)) {
				free(tok);
				tok = NULL;
				rc = LOTA_E_CLIENT_PROTOCOL; /* the same page again: a loop */
				lota__client_err(err, rc,
				                 "the listing repeats its continuation token");
			}
		}
		if (rc == 0) {
			free(it->token);
			it->token = tok;
			it->finished = !it->page.truncated;
			*entries = it->page.entries;
			*n = it->page.n;
			rc = 1;
		}
	}
	lota__xfer_cleanup(&x);
	return rc;
}

/* ---- DeleteObjects ---------------------------------------------------------------- */

/* XML-escape s into out; returns the new length or -1 when it does not fit. */
static long xml_escape(char *out, size_t cap, size_t len, const char *s)
{
	for (; *s; s++) {
		char tmp[8];
		const char *r = tmp;
		unsigned char ch = (unsigned char)*s;
		if (ch == '&')
			r = "&amp;";
		else if (ch == '<')
			r = "&lt;";
		else if (ch == '>')
			r = "&gt;";
		else if (ch < 0x20)
			snprintf(tmp, sizeof(tmp), "&#x%X;", ch);
		else
			tmp[0] = (char)ch, tmp[1] = '\0';
		size_t rl = strlen(r);
		if (len + rl + 1 > cap)
			return -1;
		memcpy(out + len, r, rl);
		len += rl;
	}
	out[len] = '\0';
	return (long)len;
}

static bool xml_safe(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 && *s != '\t' && *s != '\n' && *s != '\r')
			return false;
	return true;
}

static int delete_some(lota_client *c, const char *bucket, const char *const *keys, size_t n,
                       lota_client_error *err)
{
	size_t cap = 64, len = 0;
	for (size_t i = 0; i < n; i++)
		cap += 40 + strlen(keys[i]) * 6;
	char *xml = malloc(cap);
	lota__xfer x;
	int rc = -ENOMEM;
	lota__xfer_init(&x, "POST", bucket, NULL);
	if (!xml)
		goto out;
	len = (size_t)snprintf(xml, cap, "<Delete><Quiet>true</Quiet>");
	for (size_t i = 0; i < n; i++) {
		len += (size_t)snprintf(xml + len, cap - len, "<Object><Key>");
		long l = xml_escape(xml, cap, len, keys[i]);
		if (l < 0) {
			rc = LOTA_E_INTERNAL;
			goto out;
		}
		len = (size_t)l;
		len += (size_t)snprintf(xml + len, cap - len, "</Key></Object>");
	}
	len += (size_t)snprintf(xml + len, cap - len, "</Delete>");
	char md5[25];
	uint8_t h[LOTA__SHA256_LEN];
	rc = lota__md5_base64(xml, len, md5);
	if (rc == 0)
		rc = lota__sha256(xml, len, h);
	if (rc < 0)
		goto out;
	lota__hex_encode(h, sizeof(h), x.payload_hash);
	rc = -ENOMEM;
	x.query = strdup("delete=");
	if (!x.query)
		goto out;
	x.upload = true;
	x.up_buf = (const uint8_t *)xml;
	x.up_len = len;
	x.save_body = true;
	(void)lota__xfer_header(&x, "Content-Type", "application/xml");
	(void)lota__xfer_header(&x, "Content-MD5", "%s", md5);
	rc = lota__perform(c, &x, err);
	if (rc < 0)
		goto out;
	char key[1024], code[64];
	size_t nerr = 0;
	rc = lota__xml_delete_result(x.body, x.body_len, key, sizeof(key), code, sizeof(code),
	                             &nerr);
	if (rc < 0) {
		lota__client_err(err, rc, "the DeleteObjects answer does not parse");
		goto out;
	}
	if (nerr) {
		rc = LOTA_E_CLIENT_HTTP;
		lota__client_err(err, rc, "%zu keys not deleted, the first: %s", nerr, key);
		if (err) {
			err->http_status = x.status;
			snprintf(err->s3_code, sizeof(err->s3_code), "%s", code);
		}
	}
out:
	lota__xfer_cleanup(&x);
	free(xml);
	return rc;
}

int lota_client_delete_batch(lota_client *c, const char *bucket, const char *const *keys, size_t n,
                             lota_client_error *err)
{
	if (err)
		memset(err, 0, sizeof(*err));
	if (!c || !bucket || !*bucket || (!keys && n)) {
		lota__client_err(err, -EINVAL, "bad arguments");
		return -EINVAL;
	}
	for (size_t i = 0; i < n; i++)
		if (!keys[i] || !*keys[i] || strlen(keys[i]) > 1024) {
			lota__client_err(err, -EINVAL, "key %zu is empty or longer than 1024 bytes",
			                 i);
			return -EINVAL;
		}
	/* A key with a control character other than tab, LF and CR cannot be written in
	 * XML 1.0 (not even as &#x1;: S3's parsers refuse the body): it is deleted on its
	 * own; the others go 1,000 per DeleteObjects. */
	const char **batch = malloc((n < 1000 ? n : 1000) * sizeof(*batch) + 1);
	if (!batch) {
		lota__client_err(err, -ENOMEM, "no memory");
		return -ENOMEM;
	}
	int rc = 0;
	size_t nb = 0;
	for (size_t i = 0; i <= n && rc == 0; i++) {
		if (i < n && !xml_safe(keys[i])) {
			rc = lota_client_delete(c, bucket, keys[i], err);
			continue;
		}
		if (i < n)
			batch[nb++] = keys[i];
		if (nb && (nb == 1000 || i == n)) {
			rc = delete_some(c, bucket, batch, nb, err);
			nb = 0;
		}
	}
	free(batch);
	return rc;
}

/* ---- pre-stage -------------------------------------------------------------------- */

typedef struct pre {
	const char *bucket;
	const lota_list_entry *ents;
	size_t n, next;
	lota__xfer *xs;
	int64_t ok, done, known;
	int first_rc;
	lota_client_error *err;
	lota_client_progress_fn progress;
	void *progress_ud;
} pre;

static lota__xfer *pre_next(lota__batch *b)
{
	pre *p = b->ud;
	uint64_t now = lota__now_ms();
	for (size_t i = 0; i < p->n; i++) {
		lota__xfer *x = &p->xs[i];
		if (x->ud != NULL || p->ents[i].is_prefix)
			continue; /* running, done, or not an object */
		if (x->not_before_ms > now) {
			if (!b->wake_ms || x->not_before_ms < b->wake_ms)
				b->wake_ms = x->not_before_ms;
			continue;
		}
		unsigned a = x->attempt;
		lota__xfer_init(x, "HEAD", p->bucket, p->ents[i].key);
		x->attempt = a + 1;
		x->ud = p;
		(void)lota__xfer_header(x, "Range", "bytes=0-0");
		return x;
	}
	return NULL;
}

static int pre_done(lota__batch *b, lota__xfer *x)
{
	pre *p = b->ud;
	bool retry;
	lota_client_error e;
	int rc = lota__xfer_result(x, &e, &retry);
	/* 416: an empty object has no byte 0 to stage: nothing to do, not a failure */
	if (rc == LOTA_E_RANGE_UNSATISFIABLE)
		rc = 0;
	if (rc < 0 && retry && x->attempt < b->c->max_attempts) {
		x->ud = NULL;
		x->not_before_ms = lota__now_ms() + lota__backoff_ms(b->c, x->attempt);
		return 0;
	}
	p->done++;
	if (rc == 0)
		p->ok++;
	else if (p->first_rc == 0) {
		p->first_rc = rc;
		if (p->err)
			*p->err = e;
	}
	if (p->progress && p->progress(p->progress_ud, (uint64_t)p->done, (uint64_t)p->known))
		return LOTA_E_CLIENT_ABORTED;
	return 0;
}

static int prestage_entries(lota_client *c, pre *p, unsigned conc)
{
	p->xs = calloc(p->n ? p->n : 1, sizeof(*p->xs));
	if (!p->xs)
		return -ENOMEM;
	lota__batch b = {.c = c, .concurrency = conc, .next = pre_next, .done = pre_done, .ud = p};
	int rc = lota__batch_run(&b);
	for (size_t i = 0; i < p->n; i++)
		lota__xfer_cleanup(&p->xs[i]);
	free(p->xs);
	p->xs = NULL;
	return rc;
}

int64_t lota_client_prestage(lota_client *c, const char *bucket, const char *key,
                             const lota_prestage_opts *in, lota_client_error *err)
{
	lota_prestage_opts o;
	int rc;
	if (err)
		memset(err, 0, sizeof(*err));
	memset(&o, 0, sizeof(o));
	if (in) {
		rc = lota__opts_load(in, LOTA__OFFSETOFEND(lota_prestage_opts, progress_ud),
		                     sizeof(o), &o);
		if (rc < 0)
			return rc;
	}
	if (!c || !bucket || !*bucket || !key || (!o.prefix && !*key) ||
	    o.concurrency > LOTA_CLIENT_MAX_CONCURRENCY) {
		lota__client_err(err, -EINVAL, "bad arguments");
		return -EINVAL;
	}
	unsigned conc = o.concurrency ? o.concurrency : c->concurrency;
	pre p = {
	    .bucket = bucket, .err = err, .progress = o.progress, .progress_ud = o.progress_ud};
	if (!o.prefix) {
		lota_list_entry one = {.key = key};
		p.ents = &one;
		p.n = 1;
		p.known = 1;
		rc = prestage_entries(c, &p, 1);
	} else {
		lota_client_list *it = NULL;
		lota_list_opts lo = LOTA_OPTS(lota_list_opts, .prefix = key);
		rc = lota_client_list_new(c, bucket, &lo, &it);
		while (rc == 0) {
			const lota_list_entry *ents;
			size_t n;
			rc = lota_client_list_next(it, &ents, &n, err);
			if (rc <= 0)
				break;
			p.ents = ents;
			p.n = n;
			p.known += (int64_t)n;
			rc = prestage_entries(c, &p, conc);
		}
		lota_client_list_free(it);
	}
	if (rc < 0)
		return rc;
	if (p.first_rc < 0)
		return p.first_rc;
	return p.ok;
}
