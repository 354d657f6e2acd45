/*
 * client_get.c - lota_client_get_*: an object (or a range) read as parallel ranged GETs.
 *
 * The first GET asks for the first part (Range: bytes=S-(S+P-1)); its answer gives the
 * object's size and ETag. The rest of the range is then cut into parts of P bytes, each
 * a GET pinned with If-Match to that ETag, `concurrency` at a time, started while the
 * first one still streams. Each part remembers the byte it has reached: a part cut
 * mid-body (reset, timeout, short body) or answered with a 5xx / SlowDown is asked
 * again from there after a jittered backoff; an attempt that moved bytes resets the
 * attempt count. A part whose answer is not the range asked, or of another ETag or
 * size, fails the get (LOTA_E_CLIENT_PROTOCOL / LOTA_E_CLIENT_CHANGED): bytes of two
 * versions are never mixed. An empty object has no range (S3 answers 416 to any), so
 * a whole-object read answered 416 is asked again without a Range.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client-internal.h"
#include "opts-internal.h"

enum { P_PENDING = 0, P_RUNNING, P_DONE };

typedef struct getop getop;

typedef struct part {
	getop *op;
	uint64_t first, last, reached; /* object offsets, inclusive last */
	int state;
	bool is_first; /* the first request: its answer sets the geometry */
	bool plain;    /* the first request without a Range (an empty object) */
	bool whole;    /* answered 200: the body is the object from byte 0 */
	lota__xfer x;
} part;

enum { SINK_BUF, SINK_FD, SINK_CB };

struct getop {
	lota_client *c;
	const char *bucket, *key;
	int sink;
	char *buf;
	size_t cap;
	int fd;
	lota_client_write_fn fn;
	void *fn_ud;
	uint64_t start, want; /* want 0: to the end */
	uint64_t end;         /* exclusive, once known */
	uint64_t part_size;
	bool known;
	char etag[LOTA_CLIENT_ETAG_MAX];
	const char *if_match;
	uint64_t total;
	lota_object_info info;
	part first;
	part *parts;
	size_t nparts;
	uint64_t done_bytes, reported;
	uint64_t last_report_ms;
	lota_client_progress_fn progress;
	void *progress_ud;
	lota_client_error *err;
	int rc;
};

static int deliver(getop *op, uint64_t off, const char *data, size_t len)
{
	/* keep only [start, end) */
	if (off + len <= op->start || off >= op->end)
		return 0;
	if (off < op->start) {
		data += op->start - off;
		len -= (size_t)(op->start - off);
		off = op->start;
	}
	if (off + len > op->end)
		len = (size_t)(op->end - off);
	uint64_t rel = off - op->start;
	switch (op->sink) {
	case SINK_BUF:
		if (rel + len > op->cap)
			return LOTA_E_TOO_LARGE;
		memcpy(op->buf + rel, data, len);
		break;
	case SINK_FD:
		for (size_t done = 0; done < len;) {
			ssize_t w = pwrite(op->fd, data + done, len - done, (off_t)(rel + done));
			if (w < 0 && errno == EINTR)
				continue;
			if (w <= 0)
				return w < 0 ? -errno : -EIO;
			done += (size_t)w;
		}
		break;
	default: {
		int rc = op->fn(op->fn_ud, off, data, len);
		if (rc != 0)
			return rc < 0 ? rc : LOTA_E_CLIENT_ABORTED;
	}
	}
	op->done_bytes += len;
	return 0;
}

static int part_data(lota__xfer *x, const char *data, size_t len)
{
	part *p = x->ud;
	if (p->reached + len > p->last + 1)
		return LOTA_E_CLIENT_PROTOCOL; /* more than the range asked */
	int rc = deliver(p->op, p->reached, data, len);
	if (rc == 0)
		p->reached += len;
	return rc;
}

/* The object's geometry from the first answer, and the parts after the first. */
static int set_geometry(getop *op, part *p, lota__xfer *x)
{
	if (x->status == 206) {
		if (!x->has_range || x->range_first != p->first)
			return LOTA_E_CLIENT_PROTOCOL;
		op->total = x->range_total;
	} else {
		if (!x->has_length)
			return LOTA_E_CLIENT_PROTOCOL;
		op->total = x->content_length;
		p->whole = true;
	}
	if (!x->etag[0])
		return LOTA_E_CLIENT_PROTOCOL; /* nothing to pin the parts to */
	snprintf(op->etag, sizeof(op->etag), "%s", x->etag);
	op->end = op->want && op->start + op->want < op->total ? op->start + op->want : op->total;
	if (op->end < op->start)
		op->end = op->start;
	if (op->sink == SINK_BUF && op->end - op->start > op->cap)
		return LOTA_E_TOO_LARGE;
	lota__fill_info(x, &op->info, op->total);
	if (p->whole) {
		p->first = 0;
		p->last = op->total ? op->total - 1 : 0;
		p->reached = 0;
		if (op->total == 0)
			p->last = 0, p->reached = 1; /* nothing to read */
		op->known = true;
		return 0;
	}
	if (x->range_last != p->last && x->range_last != op->total - 1)
		return LOTA_E_CLIENT_PROTOCOL;
	p->last = x->range_last;
	uint64_t from = p->last + 1;
	size_t n =
	    from < op->end ? (size_t)((op->end - from + op->part_size - 1) / op->part_size) : 0;
	if (n) {
		op->parts = calloc(n, sizeof(*op->parts));
		if (!op->parts)
			return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		part *q = &op->parts[i];
		q->op = op;
		q->first = q->reached = from + i * op->part_size;
		q->last = q->first + op->part_size - 1;
		if (q->last >= op->end)
			q->last = op->end - 1;
	}
	op->nparts = n;
	op->known = true;
	return 0;
}

static int part_head(lota__xfer *x)
{
	part *p = x->ud;
	getop *op = p->op;
	if (!op->known)
		return set_geometry(op, p, x);
	/* every later answer: the same object, the range asked */
	if (strcmp(x->etag, op->etag) != 0)
		return LOTA_E_CLIENT_CHANGED;
	if (x->status != 206 || !x->has_range || x->range_first != p->reached ||
	    x->range_total != op->total)
		return LOTA_E_CLIENT_PROTOCOL;
	return 0;
}

static void part_setup(getop *op, part *p)
{
	lota__xfer_cleanup(&p->x);
	unsigned attempt = p->x.attempt;
	uint64_t nb = p->x.not_before_ms;
	lota__xfer_init(&p->x, "GET", op->bucket, op->key);
	p->x.attempt = attempt;
	p->x.not_before_ms = nb;
	p->x.ud = p;
	p->x.on_head = part_head;
	p->x.on_data = part_data;
	if (!p->plain)
		(void)lota__xfer_header(&p->x, "Range", "bytes=%llu-%llu",
		                        (unsigned long long)p->reached,
		                        (unsigned long long)p->last);
	if (op->known)
		(void)lota__xfer_header(&p->x, "If-Match", "%s", op->etag);
	else if (op->if_match)
		(void)lota__xfer_header(&p->x, "If-Match", "%s", op->if_match);
}

static lota__xfer *start_part(lota__batch *b, part *p)
{
	uint64_t now = lota__now_ms();
	if (p->x.not_before_ms > now) {
		if (!b->wake_ms || p->x.not_before_ms < b->wake_ms)
			b->wake_ms = p->x.not_before_ms;
		return NULL;
	}
	part_setup(p->op, p);
	p->x.attempt++;
	p->state = P_RUNNING;
	return &p->x;
}

static lota__xfer *get_next(lota__batch *b)
{
	getop *op = b->ud;
	lota__xfer *x;
	/* One at a time, the bytes come in order: a part waiting for its retry is not
	 * overtaken by the next one (a writer to a pipe relies on it). */
	bool in_order = b->concurrency == 1;
	if (op->first.state == P_PENDING) {
		if ((x = start_part(b, &op->first)))
			return x;
		if (in_order)
			return NULL;
	}
	for (size_t i = 0; op->known && i < op->nparts; i++) {
		if (op->parts[i].state != P_PENDING)
			continue;
		if ((x = start_part(b, &op->parts[i])))
			return x;
		if (in_order)
			return NULL;
	}
	return NULL;
}

static int get_done(lota__batch *b, lota__xfer *x)
{
	part *p = x->ud;
	getop *op = p->op;
	bool retry = false;
	uint64_t moved = x->received;
	int rc = lota__xfer_result(x, op->err, &retry);
	if (rc == LOTA_E_RANGE_UNSATISFIABLE && p->is_first && !op->known && op->start == 0 &&
	    op->want == 0 && !p->plain) {
		/* an empty object: no range of it exists; ask for it whole */
		p->plain = true;
		p->state = P_PENDING;
		p->x.attempt = 0;
		return 0;
	}
	if (rc == 0 && op->known && p->reached != p->last + 1) {
		rc = LOTA_E_CLIENT_PROTOCOL; /* a clean end before the range's end */
		retry = true;
		lota__client_err(op->err, rc, "short body: part %llu-%llu ended at %llu",
		                 (unsigned long long)p->first, (unsigned long long)p->last,
		                 (unsigned long long)p->reached);
	}
	if (rc == 0) {
		p->state = P_DONE;
		return 0;
	}
	if (moved && p->plain == false && op->known)
		p->x.attempt = 0; /* it moved: count attempts afresh from here */
	if (retry && p->x.attempt < b->c->max_attempts) {
		if (op->known && p->whole) {
			/* go on from the byte reached with a ranged, pinned GET */
			p->whole = false;
			p->first = p->reached;
		}
		p->state = P_PENDING;
		p->x.not_before_ms =
		    lota__now_ms() + lota__backoff_ms(b->c, p->x.attempt ? p->x.attempt : 1);
		return 0;
	}
	p->state = P_DONE;
	return rc;
}

static int get_tick(lota__batch *b)
{
	getop *op = b->ud;
	if (!op->progress || op->done_bytes == op->reported)
		return 0;
	uint64_t now = lota__now_ms();
	if (now - op->last_report_ms < 50 && op->done_bytes != op->end - op->start)
		return 0;
	op->last_report_ms = now;
	op->reported = op->done_bytes;
	return op->progress(op->progress_ud, op->done_bytes, op->known ? op->end - op->start : 0)
	           ? LOTA_E_CLIENT_ABORTED
	           : 0;
}

static int get_run(getop *op, const lota_get_opts *in, lota_object_info *info)
{
	lota_get_opts o;
	int rc;
	if (op->err)
		memset(op->err, 0, sizeof(*op->err));
	memset(&o, 0, sizeof(o));
	if (in) {
		rc = lota__opts_load(in, LOTA__OFFSETOFEND(lota_get_opts, progress_ud), sizeof(o),
		                     &o);
		if (rc < 0) {
			lota__client_err(op->err, rc, "lota_get_opts: %s", lota_strerror(rc));
			return rc;
		}
	}
	if (!op->c || !op->bucket || !*op->bucket || !op->key || !*op->key ||
	    o.concurrency > LOTA_CLIENT_MAX_CONCURRENCY ||
	    (o.if_match && strlen(o.if_match) >= LOTA_CLIENT_ETAG_MAX)) {
		lota__client_err(op->err, -EINVAL, "bad arguments");
		return -EINVAL;
	}
	if (o.range_length && o.range_offset + o.range_length < o.range_offset) {
		lota__client_err(op->err, LOTA_E_OVERFLOW, "range beyond 2^64");
		return LOTA_E_OVERFLOW;
	}
	lota_client *c = op->c;
	op->start = o.range_offset;
	op->want = o.range_length;
	op->part_size = o.part_size_bytes ? o.part_size_bytes : c->part_size;
	op->if_match = o.if_match;
	op->progress = o.progress;
	op->progress_ud = o.progress_ud;
	op->first.op = op;
	op->first.is_first = true;
	op->first.first = op->first.reached = op->start;
	uint64_t len0 = op->want && op->want < op->part_size ? op->want : op->part_size;
	op->first.last = op->start + len0 - 1;
	if (op->first.last < op->start)
		op->first.last = UINT64_MAX - 1;
	lota__batch b = {.c = c,
	                 .concurrency = o.concurrency ? o.concurrency : c->concurrency,
	                 .next = get_next,
	                 .done = get_done,
	                 .tick = get_tick,
	                 .ud = op};
	rc = lota__batch_run(&b);
	if (rc == 0) {
		bool all = op->first.state == P_DONE;
		for (size_t i = 0; i < op->nparts; i++)
			all = all && op->parts[i].state == P_DONE;
		if (!all)
			rc = LOTA_E_INTERNAL;
	}
	if (rc == 0 && op->progress && op->reported != op->done_bytes)
		(void)op->progress(op->progress_ud, op->done_bytes, op->end - op->start);
	if (rc < 0 && op->err && op->err->code != rc)
		lota__client_err(op->err, rc, "%s", lota_strerror(rc));
	if (rc == 0 && info)
		*info = op->info;
	if (rc == 0 && op->err)
		memset(op->err, 0, sizeof(*op->err)); /* a retried failure is no failure */
	lota__xfer_cleanup(&op->first.x);
	for (size_t i = 0; i < op->nparts; i++)
		lota__xfer_cleanup(&op->parts[i].x);
	free(op->parts);
	return rc;
}

int lota_client_get_buffer(lota_client *c, const char *bucket, const char *key, void *buf,
                           size_t cap, const lota_get_opts *opts, size_t *got,
                           lota_object_info *info, lota_client_error *err)
{
	getop op = {.c = c,
	            .bucket = bucket,
	            .key = key,
	            .sink = SINK_BUF,
	            .buf = buf,
	            .cap = cap,
	            .err = err};
	if (got)
		*got = 0;
	if (!buf && cap) {
		lota__client_err(err, -EINVAL, "NULL buffer");
		return -EINVAL;
	}
	int rc = get_run(&op, opts, info);
	if (rc == 0 && got)
		*got = (size_t)(op.end - op.start);
	return rc;
}

int lota_client_get_fd(lota_client *c, const char *bucket, const char *key, int fd,
                       const lota_get_opts *opts, lota_object_info *info, lota_client_error *err)
{
	getop op = {.c = c, .bucket = bucket, .key = key, .sink = SINK_FD, .fd = fd, .err = err};
	if (fd < 0) {
		lota__client_err(err, -EBADF, "bad fd");
		return -EBADF;
	}
	return get_run(&op, opts, info);
}

int lota_client_get_cb(lota_client *c, const char *bucket, const char *key, lota_client_write_fn fn,
                       void *ud, const lota_get_opts *opts, lota_object_info *info,
                       lota_client_error *err)
{
	getop op = {.c = c,
	            .bucket = bucket,
	            .key = key,
	            .sink = SINK_CB,
	            .fn = fn,
	            .fn_ud = ud,
	            .err = err};
	if (!fn) {
		lota__client_err(err, -EINVAL, "NULL callback");
		return -EINVAL;
	}
	return get_run(&op, opts, info);
}
