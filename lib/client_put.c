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
 *
 * A stream (a pipe: no size, no pread) is read in order by a reader thread into a ring
 * of part buffers: the first part decides (a stream that ends below the threshold is one
 * PUT), then each full buffer is uploaded as the next part while the reader fills a free
 * one; a part that fails is retried from its buffer. The reader polls, so a stop is
 * seen within 100 ms even while the stream is silent.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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
	char (*etags)[LOTA_CLIENT_ETAG_MAX]; /* a stream's: the parts' ETags, else in parts */
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
		                        i + 1, op->etags ? op->etags[i] : op->parts[i].etag);
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
	if (!op->upload_id_q)
		return; /* its id could not be kept: nothing to name */
	lota__xfer_init(&x, "DELETE", op->bucket, op->key);
	x.query = malloc(strlen(op->upload_id_q) + 16);
	if (x.query) {
		sprintf(x.query, "uploadId=%s", op->upload_id_q);
		(void)lota__perform(op->c, &x, &e);
	}
	lota__xfer_cleanup(&x);
}

/* CreateMultipartUpload: 0 with op->upload_id_q set (a later failure must abort it), 1
 * when no upload was created (op->fail says why), or a negative code when one was but its
 * id could not be kept (it cannot be aborted: it is not known). */
static int create_upload(mpop *op, const lota_put_opts *o)
{
	lota__xfer x;
	char id[1024];
	lota__xfer_init(&x, "POST", op->bucket, op->key);
	x.query = strdup("uploads=");
	x.save_body = true;
	if (o->content_type)
		(void)lota__xfer_header(&x, "Content-Type", "%s", o->content_type);
	int rc = x.query ? lota__perform(op->c, &x, op->err) : -ENOMEM;
	if (rc == 0 && lota__xml_text(x.body, x.body_len, "InitiateMultipartUploadResult/UploadId",
	                              id, sizeof(id)) != 1) {
		rc = LOTA_E_CLIENT_PROTOCOL;
		lota__client_err(op->err, rc, "CreateMultipartUpload answered without an UploadId");
	}
	lota__xfer_cleanup(&x);
	if (rc < 0) {
		op->fail = rc;
		return 1;
	}
	op->upload_id_q = malloc(strlen(id) * 3 + 1);
	if (!op->upload_id_q)
		return -ENOMEM;
	rc = lota_uri_encode(id, strlen(id), true, op->upload_id_q, strlen(id) * 3 + 1);
	return rc < 0 ? rc : 0;
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
	int rc;
	uint64_t ps = o->part_size_bytes ? o->part_size_bytes : c->mp_part_size;
	if (ps < LOTA_CLIENT_MIN_MP_PART_SIZE)
		ps = LOTA_CLIENT_MIN_MP_PART_SIZE;
	if ((src->size + ps - 1) / ps > LOTA_CLIENT_MAX_PARTS) {
		ps = (src->size + LOTA_CLIENT_MAX_PARTS - 1) / LOTA_CLIENT_MAX_PARTS;
		ps = (ps + (1u << 20) - 1) & ~(uint64_t)((1u << 20) - 1);
	}
	rc = create_upload(&op, o);
	if (rc == 1)
		return op.fail; /* nothing created */
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

/* ------------------------------------------------------------------ a stream --- */

/* The memory a stream may hold in part buffers, besides the one being read. */
#define STREAM_MEM_BYTES (512ull << 20)

enum { SL_FREE, SL_FILLING, SL_READY, SL_RUNNING };

typedef struct sslot {
	struct smop *op;
	uint8_t *buf;
	uint64_t len;
	size_t part; /* 0-based */
	int state;
	lota__xfer x;
} sslot;

typedef struct smop {
	mpop mp;
	int fd;
	uint64_t ps;
	sslot *slots;
	size_t nslots;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	size_t parts_read, parts_done;
	uint64_t total;
	bool eof, stop;
	int read_err;
	uint64_t last_report_ms;
} smop;

/* Read up to cap bytes of fd into buf (*got), to the end of the stream or cap. Polls in
 * 100 ms steps; stops with LOTA_E_CLIENT_ABORTED when stop() says so. Returns 1 at the
 * end of the stream, 0 with cap bytes, or a negative code. */
static int read_part(int fd, uint8_t *buf, uint64_t cap, uint64_t *got,
                     bool (*stop)(void *ud, uint64_t got), void *ud)
{
	*got = 0;
	while (*got < cap) {
		if (stop(ud, *got))
			return LOTA_E_CLIENT_ABORTED;
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		int pr = poll(&pfd, 1, 100);
		if (pr < 0 && errno != EINTR)
			return -errno;
		if (pr <= 0)
			continue;
		size_t want = cap - *got > (1u << 20) ? (1u << 20) : (size_t)(cap - *got);
		ssize_t r = read(fd, buf + *got, want);
		if (r < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			return 1;
		*got += (uint64_t)r;
	}
	return 0;
}

static bool reader_stop(void *ud, uint64_t got)
{
	(void)got;
	smop *s = ud;
	pthread_mutex_lock(&s->mu);
	bool st = s->stop;
	pthread_mutex_unlock(&s->mu);
	return st;
}

/* The reader thread: fills free slots with the next parts, in order, until the end of
 * the stream, an error or a stop. */
static void *reader_main(void *ud)
{
	smop *s = ud;
	for (;;) {
		sslot *sl = NULL;
		pthread_mutex_lock(&s->mu);
		while (!s->stop && !sl) {
			for (size_t i = 0; i < s->nslots && !sl; i++)
				if (s->slots[i].state == SL_FREE)
					sl = &s->slots[i];
			if (!sl)
				pthread_cond_wait(&s->cv, &s->mu);
		}
		if (s->stop) {
			pthread_mutex_unlock(&s->mu);
			return NULL;
		}
		sl->state = SL_FILLING;
		pthread_mutex_unlock(&s->mu);
		int rc = 0;
		if (!sl->buf && !(sl->buf = malloc(s->ps)))
			rc = -ENOMEM;
		uint64_t got = 0;
		if (rc == 0)
			rc = read_part(s->fd, sl->buf, s->ps, &got, reader_stop, s);
		pthread_mutex_lock(&s->mu);
		if (rc >= 0 && got > 0 && s->parts_read >= LOTA_CLIENT_MAX_PARTS)
			rc = LOTA_E_TOO_LARGE;
		if (rc < 0) {
			s->read_err = rc;
			sl->state = SL_FREE;
		} else if (got > 0) {
			sl->len = got;
			sl->part = s->parts_read++;
			sl->state = SL_READY;
			s->total += got;
		} else {
			sl->state = SL_FREE;
		}
		if (rc != 0)
			s->eof = rc == 1;
		pthread_mutex_unlock(&s->mu);
		if (rc != 0)
			return NULL;
	}
}

static lota__xfer *st_next(lota__batch *b)
{
	smop *s = b->ud;
	uint64_t now = lota__now_ms();
	sslot *best = NULL;
	pthread_mutex_lock(&s->mu);
	if (s->read_err) {
		s->mp.fail = s->read_err;
		pthread_mutex_unlock(&s->mu);
		return NULL;
	}
	for (size_t i = 0; i < s->nslots; i++) {
		sslot *sl = &s->slots[i];
		if (sl->state != SL_READY)
			continue;
		if (sl->x.not_before_ms > now) {
			if (!b->wake_ms || sl->x.not_before_ms < b->wake_ms)
				b->wake_ms = sl->x.not_before_ms;
			continue;
		}
		if (!best || sl->part < best->part)
			best = sl;
	}
	bool finished = s->eof && s->parts_done == s->parts_read;
	if (!best && !finished && !b->wake_ms)
		b->wake_ms = now + 10; /* the reader is filling: look again soon */
	if (best)
		best->state = SL_RUNNING;
	pthread_mutex_unlock(&s->mu);
	if (!best)
		return NULL;
	unsigned attempt = best->x.attempt;
	uint64_t nb = best->x.not_before_ms;
	lota__xfer_cleanup(&best->x);
	lota__xfer_init(&best->x, "PUT", s->mp.bucket, s->mp.key);
	best->x.attempt = attempt + 1;
	best->x.not_before_ms = nb;
	best->x.ud = best;
	size_t ql = strlen(s->mp.upload_id_q) + 64;
	best->x.query = malloc(ql);
	if (!best->x.query) {
		s->mp.fail = -ENOMEM;
		return NULL;
	}
	snprintf(best->x.query, ql, "partNumber=%zu&uploadId=%s", best->part + 1,
	         s->mp.upload_id_q);
	putsrc src = {.buf = best->buf, .fd = -1, .size = best->len};
	set_source(&best->x, &src, 0, best->len);
	return &best->x;
}

static int st_done(lota__batch *b, lota__xfer *x)
{
	sslot *sl = x->ud;
	smop *s = sl->op;
	bool retry;
	int rc = lota__xfer_result(x, s->mp.err, &retry);
	if (rc == 0 && !x->etag[0]) {
		rc = LOTA_E_CLIENT_PROTOCOL;
		lota__client_err(s->mp.err, rc, "a part's answer has no ETag");
		retry = false;
	}
	pthread_mutex_lock(&s->mu);
	if (rc == 0) {
		snprintf(s->mp.etags[sl->part], LOTA_CLIENT_ETAG_MAX, "%s", x->etag);
		s->mp.done_bytes += sl->len;
		s->parts_done++;
		sl->state = SL_FREE;
		sl->x.attempt = 0;
		sl->x.not_before_ms = 0;
		pthread_cond_broadcast(&s->cv);
	} else if (retry && x->attempt < b->c->max_attempts) {
		sl->state = SL_READY;
		sl->x.not_before_ms = lota__now_ms() + lota__backoff_ms(b->c, x->attempt);
		rc = 0;
	}
	pthread_mutex_unlock(&s->mu);
	return rc;
}

/* Progress (total 0: not known), and the caller's chance to stop, at least every 100 ms
 * even while the stream is silent. */
static int st_tick(lota__batch *b)
{
	smop *s = b->ud;
	if (s->mp.fail)
		return s->mp.fail;
	if (!s->mp.progress)
		return 0;
	uint64_t now = lota__now_ms();
	if (now - s->last_report_ms < 100)
		return 0;
	s->last_report_ms = now;
	uint64_t d = s->mp.done_bytes;
	for (size_t i = 0; i < s->nslots; i++)
		if (s->slots[i].state == SL_RUNNING)
			d += s->slots[i].x.up_pos;
	return s->mp.progress(s->mp.progress_ud, d, 0) ? LOTA_E_CLIENT_ABORTED : 0;
}

typedef struct first_read {
	lota_client_progress_fn fn;
	void *ud;
} first_read;

static bool first_stop(void *ud, uint64_t got)
{
	first_read *f = ud;
	return f->fn && f->fn(f->ud, got, 0) != 0;
}

int lota_client_put_stream(lota_client *c, const char *bucket, const char *key, int fd,
                           const lota_put_opts *in, lota_object_info *info, lota_client_error *err)
{
	lota_put_opts o;
	smop s;
	int rc;
	bool th_started = false, locks = false;
	pthread_t th;
	if (err)
		memset(err, 0, sizeof(*err));
	memset(&o, 0, sizeof(o));
	memset(&s, 0, sizeof(s));
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
	if (fd < 0 || fcntl(fd, F_GETFL) < 0) {
		lota__client_err(err, -EBADF, "bad fd");
		return -EBADF;
	}
	uint64_t ps = o.part_size_bytes ? o.part_size_bytes : c->mp_part_size;
	if (ps < LOTA_CLIENT_MIN_MP_PART_SIZE)
		ps = LOTA_CLIENT_MIN_MP_PART_SIZE;
	if (ps > SIZE_MAX / 2) {
		lota__client_err(err, -EINVAL, "part size too large");
		return -EINVAL;
	}
	uint64_t thr = o.multipart_threshold_bytes ? o.multipart_threshold_bytes : c->mp_threshold;
	unsigned conc = o.concurrency ? o.concurrency : c->concurrency;
	if ((uint64_t)conc > STREAM_MEM_BYTES / ps)
		conc = STREAM_MEM_BYTES / ps > 0 ? (unsigned)(STREAM_MEM_BYTES / ps) : 1;
	s.fd = fd;
	s.ps = ps;
	s.mp = (mpop){.c = c,
	              .bucket = bucket,
	              .key = key,
	              .err = err,
	              .progress = o.progress,
	              .progress_ud = o.progress_ud};
	s.nslots = (size_t)conc + 1;
	rc = -ENOMEM;
	s.slots = calloc(s.nslots, sizeof(*s.slots));
	if (!s.slots)
		goto out;
	for (size_t i = 0; i < s.nslots; i++) {
		s.slots[i].op = &s;
		s.slots[i].x.up_fd = -1;
	}
	/* The first part decides: the whole stream below the threshold is one PUT. */
	s.slots[0].buf = malloc(ps);
	if (!s.slots[0].buf)
		goto out;
	uint64_t got;
	first_read fr = {o.progress, o.progress_ud};
	rc = read_part(fd, s.slots[0].buf, ps, &got, first_stop, &fr);
	if (rc < 0) {
		lota__client_err(err, rc, "reading the stream: %s", lota_strerror(rc));
		goto out;
	}
	if (rc == 1 && got < thr) {
		o.multipart_threshold_bytes = UINT64_MAX;
		rc = lota_client_put_buffer(c, bucket, key, s.slots[0].buf, got, &o, info, err);
		goto out;
	}
	s.eof = rc == 1;
	s.total = got;
	s.parts_read = 1;
	s.slots[0].len = got;
	s.slots[0].state = SL_READY;
	rc = -ENOMEM;
	s.mp.etags = calloc(LOTA_CLIENT_MAX_PARTS, sizeof(*s.mp.etags));
	if (!s.mp.etags)
		goto out;
	rc = create_upload(&s.mp, &o);
	if (rc == 1) {
		rc = s.mp.fail;
		goto out;
	}
	/* From here on, every failure aborts the upload. */
	if (rc < 0)
		goto abort;
	if (pthread_mutex_init(&s.mu, NULL) != 0 || pthread_cond_init(&s.cv, NULL) != 0) {
		rc = -ENOMEM;
		goto abort;
	}
	locks = true;
	if (!s.eof) {
		if (pthread_create(&th, NULL, reader_main, &s) != 0) {
			rc = -EAGAIN;
			goto abort;
		}
		th_started = true;
	}
	lota__batch b = {.c = c,
	                 .concurrency = conc,
	                 .next = st_next,
	                 .done = st_done,
	                 .tick = st_tick,
	                 .ud = &s};
	rc = lota__batch_run(&b);
	if (rc == 0 && s.mp.fail)
		rc = s.mp.fail;
	pthread_mutex_lock(&s.mu);
	if (rc == 0 && s.read_err)
		rc = s.read_err;
	if (rc == 0 && (!s.eof || s.parts_done != s.parts_read))
		rc = LOTA_E_INTERNAL;
	s.stop = true;
	pthread_cond_broadcast(&s.cv);
	pthread_mutex_unlock(&s.mu);
	if (th_started)
		pthread_join(th, NULL);
	th_started = false;
	if (rc < 0 && rc != LOTA_E_CLIENT_ABORTED && err && err->code != rc)
		lota__client_err(err, rc, "%s%s", rc == s.read_err ? "reading the stream: " : "",
		                 lota_strerror(rc));
	if (rc == 0) {
		s.mp.n = s.parts_read;
		s.mp.src.size = s.total;
		rc = complete(&s.mp, info);
	}
	if (rc == 0 && s.mp.progress)
		(void)s.mp.progress(s.mp.progress_ud, s.total, s.total);
abort:
	if (th_started) {
		pthread_mutex_lock(&s.mu);
		s.stop = true;
		pthread_cond_broadcast(&s.cv);
		pthread_mutex_unlock(&s.mu);
		pthread_join(th, NULL);
	}
	if (rc < 0) {
		if (err && err->code != rc)
			lota__client_err(err, rc, "%s", lota_strerror(rc));
		abort_upload(&s.mp);
	}
out:
	if (locks) {
		pthread_mutex_destroy(&s.mu);
		pthread_cond_destroy(&s.cv);
	}
	for (size_t i = 0; s.slots && i < s.nslots; i++) {
		lota__xfer_cleanup(&s.slots[i].x);
		free(s.slots[i].buf);
	}
	free(s.slots);
	free(s.mp.etags);
	free(s.mp.upload_id_q);
	return rc;
}
