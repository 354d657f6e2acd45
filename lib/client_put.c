/*
 * client_put.c - lota_client_put_*: one PUT below the multipart threshold, a multipart
 * upload at and above it.
 *
 * Multipart: CreateMultipartUpload, then the parts (part_size each, grown when the
 * object would need more than 10,000 parts) `concurrency` at a time, each retried from
 * its start on a 5xx, SlowDown or transport failure (the source is a buffer or an fd read
 * with pread, so any byte can be read again), then CompleteMultipartUpload, whose 200
 * may still carry an <Error> (S3 says so). Any failure after the upload was created, a
 * callback's stop included, ends with AbortMultipartUpload, so no unfinished upload is
 * left to be billed: the invariant the tests check with ListMultipartUploads.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <lota/sigv4.h>

#include "client-internal.h"
#include "crypto-internal.h"
#include "opts-internal.h"

typedef struct putsrc {
	const uint8_t *buf;
	int fd;
	uint64_t size;
} putsrc;

typedef struct upart {
	struct mpop *op;
	uint64_t off, len;
	int state; /* 0 pending, 1 running, 2 done */
	char etag[LOTA_CLIENT_ETAG_MAX];
	lota__xfer x;
} upart;

typedef struct mpop {
	lota_client *c;
	const char *bucket, *key;
	putsrc src;
	char *upload_id_q; /* S3-encoded */
	upart *parts;
	size_t n;
	uint64_t done_bytes, reported, last_ms;
	lota_client_progress_fn progress;
	void *progress_ud;
	lota_client_error *err;
	int fail; /* a part that could not even be described (no memory) */
} mpop;

static void set_source(lota__xfer *x, const putsrc *s, uint64_t off, uint64_t len)
{
	x->upload = true;
	x->up_buf = s->buf;
	x->up_fd = s->fd;
	x->up_off = off;
	x->up_len = len;
}

static int part_start(mpop *op, upart *p, size_t i)
{
	unsigned attempt = p->x.attempt;
	uint64_t nb = p->x.not_before_ms;
	lota__xfer_cleanup(&p->x);
	lota__xfer_init(&p->x, "PUT", op->bucket, op->key);
	p->x.attempt = attempt + 1;
	p->x.not_before_ms = nb;
	p->x.ud = p;
	size_t ql = strlen(op->upload_id_q) + 64;
	p->x.query = malloc(ql);
	if (!p->x.query)
		return -ENOMEM;
	snprintf(p->x.query, ql, "partNumber=%zu&uploadId=%s", i + 1, op->upload_id_q);
	set_source(&p->x, &op->src, p->off, p->len);
	p->state = 1;
	return 0;
}

static lota__xfer *mp_next(lota__batch *b)
{
	mpop *op = b->ud;
	uint64_t now = lota__now_ms();
	for (size_t i = 0; i < op->n; i++) {
		upart *p = &op->parts[i];
		if (p->state != 0)
			continue;
		if (p->x.not_before_ms > now) {
			if (!b->wake_ms || p->x.not_before_ms < b->wake_ms)
				b->wake_ms = p->x.not_before_ms;
			continue;
		}
		if (part_start(op, p, i) < 0) {
			/* never send a part without its query: stop the upload (it is aborted) */
			op->fail = -ENOMEM;
			return NULL;
		}
		return &p->x;
	}
	return NULL;
}

static int mp_done(lota__batch *b, lota__xfer *x)
{
	upart *p = x->ud;
	mpop *op = p->op;
	bool retry;
	int rc = lota__xfer_result(x, op->err, &retry);
	if (rc == 0 && !x->etag[0]) {
		rc = LOTA_E_CLIENT_PROTOCOL;
		lota__client_err(op->err, rc, "a part's answer has no ETag");
		retry = false;
	}
	if (rc == 0) {
		snprintf(p->etag, sizeof(p->etag), "%s", x->etag);
		p->state = 2;
		op->done_bytes += p->len;
		return 0;
	}
	if (retry && x->attempt < b->c->max_attempts) {
		p->state = 0;
		p->x.not_before_ms = lota__now_ms() + lota__backoff_ms(b->c, x->attempt);
		return 0;
	}
	return rc;
}

static int mp_tick(lota__batch *b)
{
	mpop *op = b->ud;
	if (op->fail)
		return op->fail;
	if (!op->progress)
		return 0;
	uint64_t now = lota__now_ms();
	if (now - op->last_ms < 50)
		return 0;
	uint64_t d = op->done_bytes;
	for (size_t i = 0; i < op->n; i++)
		if (op->parts[i].state == 1)
			d += op->parts[i].x.up_pos;
	if (d == op->reported)
		return 0;
	op->last_ms = now;
	op->reported = d;
	return op->progress(op->progress_ud, d, op->src.size) ? LOTA_E_CLIENT_ABORTED : 0;
}

static int complete(mpop *op, lota_object_info *info)
{
	size_t cap = 128 + op->n * (64 + LOTA_CLIENT_ETAG_MAX), len = 0;
	char *xml = malloc(cap);
	lota__xfer x;
	int rc = -ENOMEM;
	lota__xfer_init(&x, "POST", op->bucket, op->key);
	if (!xml)
		goto out;
	len += (size_t)snprintf(xml + len, cap - len, "<CompleteMultipartUpload>");
	for (size_t i = 0; i < op->n; i++)
		len += (size_t)snprintf(xml + len, cap - len,
		                        "<Part><PartNumber>%zu</PartNumber><ETag>%s</ETag></Part>",
		                        i + 1, op->parts[i].etag);
	len += (size_t)snprintf(xml + len, cap - len, "</CompleteMultipartUpload>");
	uint8_t h[LOTA__SHA256_LEN];
	rc = lota__sha256(xml, len, h);
	if (rc < 0)
		goto out;
	lota__hex_encode(h, sizeof(h), x.payload_hash);
	rc = -ENOMEM;
	x.query = malloc(strlen(op->upload_id_q) + 16);
	if (!x.query)
		goto out;
	sprintf(x.query, "uploadId=%s", op->upload_id_q);
	putsrc s = {.buf = (const uint8_t *)xml, .fd = -1, .size = len};
	set_source(&x, &s, 0, len);
	x.save_body = true;
	(void)lota__xfer_header(&x, "Content-Type", "application/xml");
	rc = lota__perform(op->c, &x, op->err);
	if (rc < 0)
		goto out;
	/* A 200 that says <Error>: the upload did not complete. */
	char code[64], etag[LOTA_CLIENT_ETAG_MAX];
	if (lota__xml_text(x.body, x.body_len, "Error/Code", code, sizeof(code)) == 1) {
		rc = LOTA_E_CLIENT_HTTP;
		lota__client_err(op->err, rc, "CompleteMultipartUpload failed");
		if (op->err) {
			op->err->http_status = x.status;
			snprintf(op->err->s3_code, sizeof(op->err->s3_code), "%s", code);
			(void)lota__xml_text(x.body, x.body_len, "Error/Message", op->err->message,
			                     sizeof(op->err->message));
		}
		goto out;
	}
	if (lota__xml_text(x.body, x.body_len, "CompleteMultipartUploadResult/ETag", etag,
	                   sizeof(etag)) != 1) {
		rc = LOTA_E_CLIENT_PROTOCOL;
		lota__client_err(op->err, rc, "CompleteMultipartUpload answered without an ETag");
		goto out;
	}
	snprintf(x.etag, sizeof(x.etag), "%s", etag);
	lota__fill_info(&x, info, op->src.size);
	rc = 0;
out:
	lota__xfer_cleanup(&x);
	free(xml);
	return rc;
}

static void abort_upload(mpop *op)
{
	lota__xfer x;
	lota_client_error e;
	lota__xfer_init(&x, "DELETE", op->bucket, op->key);
	x.query = malloc(strlen(op->upload_id_q) + 16);
	if (x.query) {
		sprintf(x.query, "uploadId=%s", op->upload_id_q);
		(void)lota__perform(op->c, &x, &e);
	}
	lota__xfer_cleanup(&x);
}

static int multipart(lota_client *c, const char *bucket, const char *key, const putsrc *src,
                     const lota_put_opts *o, lota_object_info *info, lota_client_error *err)
{
	mpop op = {.c = c,
	           .bucket = bucket,
	           .key = key,
	           .src = *src,
	           .err = err,
	           .progress = o->progress,
	           .progress_ud = o->progress_ud};
	lota__xfer x;
	char id[1024];
	int rc;
	uint64_t ps = o->part_size_bytes ? o->part_size_bytes : c->mp_part_size;
	if (ps < LOTA_CLIENT_MIN_MP_PART_SIZE)
		ps = LOTA_CLIENT_MIN_MP_PART_SIZE;
	if ((src->size + ps - 1) / ps > LOTA_CLIENT_MAX_PARTS) {
		ps = (src->size + LOTA_CLIENT_MAX_PARTS - 1) / LOTA_CLIENT_MAX_PARTS;
		ps = (ps + (1u << 20) - 1) & ~(uint64_t)((1u << 20) - 1);
	}
	lota__xfer_init(&x, "POST", bucket, key);
	x.query = strdup("uploads=");
	x.save_body = true;
	if (o->content_type)
		(void)lota__xfer_header(&x, "Content-Type", "%s", o->content_type);
	rc = x.query ? lota__perform(c, &x, err) : -ENOMEM;
	if (rc == 0 && lota__xml_text(x.body, x.body_len, "InitiateMultipartUploadResult/UploadId",
	                              id, sizeof(id)) != 1) {
		rc = LOTA_E_CLIENT_PROTOCOL;
		lota__client_err(err, rc, "CreateMultipartUpload answered without an UploadId");
	}
	lota__xfer_cleanup(&x);
	if (rc < 0)
		return rc;
	/* From here on, every failure aborts the upload. */
	rc = -ENOMEM;
	op.upload_id_q = malloc(strlen(id) * 3 + 1);
	if (!op.upload_id_q)
		goto abort;
	rc = lota_uri_encode(id, strlen(id), true, op.upload_id_q, strlen(id) * 3 + 1);
	if (rc < 0)
		goto abort;
	op.n = (size_t)((src->size + ps - 1) / ps);
	rc = -ENOMEM;
	op.parts = calloc(op.n, sizeof(*op.parts));
	if (!op.parts)
		goto abort;
	for (size_t i = 0; i < op.n; i++) {
		op.parts[i].op = &op;
		op.parts[i].off = i * ps;
		op.parts[i].len = i + 1 < op.n ? ps : src->size - i * ps;
		op.parts[i].x.up_fd = -1;
	}
	lota__batch b = {.c = c,
	                 .concurrency = o->concurrency ? o->concurrency : c->concurrency,
	                 .next = mp_next,
	                 .done = mp_done,
	                 .tick = mp_tick,
	                 .ud = &op};
	rc = lota__batch_run(&b);
	if (rc == 0 && op.fail)
		rc = op.fail;
	if (rc == 0)
		for (size_t i = 0; i < op.n; i++)
			if (op.parts[i].state != 2)
				rc = LOTA_E_INTERNAL;
	if (rc == 0)
		rc = complete(&op, info);
	if (rc == 0 && op.progress)
		(void)op.progress(op.progress_ud, src->size, src->size);
abort:
	if (rc < 0) {
		if (err && err->code != rc)
			lota__client_err(err, rc, "%s", lota_strerror(rc));
		abort_upload(&op);
	}
	for (size_t i = 0; op.parts && i < op.n; i++)
		lota__xfer_cleanup(&op.parts[i].x);
	free(op.parts);
	free(op.upload_id_q);
	return rc;
}

static int put_run(lota_client *c, const char *bucket, const char *key, const putsrc *src,
                   const lota_put_opts *in, lota_object_info *info, lota_client_error *err)
{
	lota_put_opts o;
	int rc;
	if (err)
		memset(err, 0, sizeof(*err));
	memset(&o, 0, sizeof(o));
	if (in) {
		rc = lota__opts_load(in, LOTA__OFFSETOFEND(lota_put_opts, progress_ud), sizeof(o),
		                     &o);
		if (rc < 0) {
			lota__client_err(err, rc, "lota_put_opts: %s", lota_strerror(rc));
			return rc;
		}
	}
	if (!c || !bucket || !*bucket || !key || !*key ||
	    o.concurrency > LOTA_CLIENT_MAX_CONCURRENCY ||
	    (o.content_type && strlen(o.content_type) >= 128)) {
		lota__client_err(err, -EINVAL, "bad arguments");
		return -EINVAL;
	}
	uint64_t thr = o.multipart_threshold_bytes ? o.multipart_threshold_bytes : c->mp_threshold;
	if (src->size >= thr && src->size > 0)
		return multipart(c, bucket, key, src, &o, info, err);
	lota__xfer x;
	lota__xfer_init(&x, "PUT", bucket, key);
	set_source(&x, src, 0, src->size);
	if (o.content_type)
		(void)lota__xfer_header(&x, "Content-Type", "%s", o.content_type);
	rc = lota__perform(c, &x, err);
	if (rc == 0) {
		lota__fill_info(&x, info, src->size);
		if (o.progress)
			(void)o.progress(o.progress_ud, src->size, src->size);
	}
	lota__xfer_cleanup(&x);
	return rc;
}

int lota_client_put_buffer(lota_client *c, const char *bucket, const char *key, const void *data,
                           size_t len, const lota_put_opts *opts, lota_object_info *info,
                           lota_client_error *err)
{
	static const uint8_t empty[1];
	if (!data && len) {
		lota__client_err(err, -EINVAL, "NULL data");
		return -EINVAL;
	}
	putsrc s = {.buf = data ? data : empty, .fd = -1, .size = len};
	return put_run(c, bucket, key, &s, opts, info, err);
}

int lota_client_put_fd(lota_client *c, const char *bucket, const char *key, int fd,
                       const lota_put_opts *opts, lota_object_info *info, lota_client_error *err)
{
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0) {
		lota__client_err(err, -EBADF, "bad fd");
		return -EBADF;
	}
	if (!S_ISREG(st.st_mode)) {
		lota__client_err(err, -ESPIPE, "not a regular file");
		return -ESPIPE;
	}
	putsrc s = {.fd = fd, .size = (uint64_t)st.st_size};
	return put_run(c, bucket, key, &s, opts, info, err);
}
