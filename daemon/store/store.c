/*
 * store.c - lotad's on-disk extent store (the format and contracts are in store.h; how
 * the files of store/ divide the work is in store-internal.h): the store's life
 * (configuration, open, free), its dirs and disk I/O, stats and metrics.
 */
#include "store/store-internal.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <lota/config.h>
#include <lota/log.h>

static lotad_store_pwrite_fn pwrite_fn = pwrite;

void lotad_store__set_pwrite_hook(lotad_store_pwrite_fn fn)
{
	pwrite_fn = fn ? fn : pwrite;
}

void store_ext_path(const lotad_store *s, unsigned dir, lota_hash128 h, char *out, size_t cap)
{
	char hex[LOTA_HASH128_HEX_LEN + 1];
	lota_hash128_format(h, hex);
	snprintf(out, cap, "%s/%.2s/%.2s/%s", s->dirs[dir].path, hex, hex + 2, hex);
}

bool store_dir_healthy(lotad_store *s, unsigned d)
{
	return (int64_t)lotad_mono_ms() >= atomic_load(&s->dirs[d].degraded_until_ms);
}

void store_dir_failed(lotad_store *s, unsigned d, int err, const char *what)
{
	atomic_store(&s->dirs[d].degraded_until_ms,
	             (int64_t)lotad_mono_ms() + (int64_t)s->degraded_retry_ms);
	atomic_fetch_add(&s->write_errors, 1);
	lota_log_warn("store: %s in cache dir %u failed: %s; no fills there for %ums", what, d,
	              lota_strerror(err), (unsigned)s->degraded_retry_ms);
}

int store_mkdir_p(const char *path)
{
	char tmp[PATH_CAP];
	size_t n = strlen(path);
	if (n == 0 || n >= sizeof(tmp))
		return -ENAMETOOLONG;
	memcpy(tmp, path, n + 1);
	for (char *p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, 0700) != 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(tmp, 0700) != 0 && errno != EEXIST)
		return -errno;
	return 0;
}

int store_write_all(int fd, const void *buf, size_t len, uint64_t off)
{
	const uint8_t *p = buf;
	while (len > 0) {
		ssize_t n = pwrite_fn(fd, p, len, (off_t)off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EIO;
		p += n;
		len -= (size_t)n;
		off += (uint64_t)n;
	}
	return 0;
}

int store_read_full(int fd, void *buf, size_t len, uint64_t off)
{
	uint8_t *p = buf;
	size_t got = 0;
	while (got < len) {
		ssize_t n = pread(fd, p + got, len - got, (off_t)(off + got));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return LOTA_E_INCOMPLETE;
		got += (size_t)n;
	}
	return 0;
}

/* Read and verify the header of an open extent file into a malloc'd buffer. */
int store_read_header(lotad_store *s, int fd, uint8_t **bufp, lotad_store_header *h)
{
	uint8_t *buf = malloc(HDR_MAX);
	if (!buf)
		return -ENOMEM;
	int rc = store_read_full(fd, buf, HDR_FIXED, 0);
	if (rc == 0) {
		rc = lotad_store__header_parse(buf, HDR_FIXED, s->hdr_key, h);
		if (rc == LOTA_E_INCOMPLETE) {
			size_t need =
			    HDR_FIXED + get_be(buf + 24, 4) + get_be(buf + 28, 4) + HDR_MAC_LEN;
			rc = store_read_full(fd, buf + HDR_FIXED, need - HDR_FIXED, HDR_FIXED);
			if (rc == 0)
				rc = lotad_store__header_parse(buf, need, s->hdr_key, h);
		}
	}
	if (rc == LOTA_E_INCOMPLETE)
		rc = -EBADMSG; /* the file ends inside its header */
	if (rc) {
		free(buf);
		return rc;
	}
	*bufp = buf;
	return 0;
}

void lotad_store_config_init(lotad_store_config *c)
{
	memset(c, 0, sizeof(*c));
	c->encrypt = true;
	c->block_size = LOTAD_STORE_BLOCK_DEFAULT;
	c->high_watermark_pct = 95;
	c->low_watermark_pct = 90;
	c->evict_interval_ms = 1000;
	c->degraded_retry_ms = 30000;
}

int lotad_store_parse_dir_spec(const char *s, size_t len, lotad_store_dir_spec *out)
{
	if (!s || !out)
		return LOTA_E_CONFIG_VALUE;
	const char *colon = NULL;
	for (size_t i = len; i > 0; i--)
		if (s[i - 1] == ':') {
			colon = s + i - 1;
			break;
		}
	if (!colon)
		return LOTA_E_CONFIG_VALUE;
	size_t plen = (size_t)(colon - s), slen = len - plen - 1;
	if (plen == 0 || plen >= sizeof(out->path) || slen == 0 || memchr(s, '\0', plen))
		return LOTA_E_CONFIG_VALUE;
	uint64_t size = 0;
	if (lota_parse_size(colon + 1, slen, &size) != 0 || size == 0)
		return LOTA_E_CONFIG_VALUE;
	memcpy(out->path, s, plen);
	out->path[plen] = '\0';
	/* "DIR/" and "DIR" are the same dir: keep paths without a trailing slash */
	while (plen > 1 && out->path[plen - 1] == '/')
		out->path[--plen] = '\0';
	out->capacity_bytes = size;
	return 0;
}

int lotad_store_new(const lotad_store_config *cfg, lotad_store **out)
{
	if (!cfg || !out || !cfg->dirs || cfg->num_dirs == 0 ||
	    cfg->num_dirs > LOTAD_STORE_MAX_DIRS || !cfg->node_secret ||
	    !block_size_ok(cfg->block_size) || cfg->low_watermark_pct == 0 ||
	    cfg->low_watermark_pct > cfg->high_watermark_pct || cfg->high_watermark_pct > 100 ||
	    (cfg->fill_io != LOTAD_FILL_IO_BUFFERED && cfg->fill_io != LOTAD_FILL_IO_SYNC_RANGE))
		return -EINVAL;
	int rc = -ENOMEM;
	lotad_store *s = calloc(1, sizeof(*s));
	if (!s)
		return rc;
	pthread_mutex_init(&s->lock, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&s->thr_cv, &ca);
	pthread_condattr_destroy(&ca);
	s->nbuckets = 1024;
	if (!(s->buckets = calloc(s->nbuckets, sizeof(*s->buckets))))
		goto fail;
	if (!(s->place = lota_placement_new()))
		goto fail;
	s->encrypt = cfg->encrypt;
	s->fsync_dir = cfg->fsync_dir;
	s->fill_io = cfg->fill_io;
	s->sealed_io = cfg->sealed_io;
	s->block_size = cfg->block_size;
	s->high_pct = cfg->high_watermark_pct;
	s->low_pct = cfg->low_watermark_pct;
	s->evict_interval_ms = cfg->evict_interval_ms;
	s->degraded_retry_ms = cfg->degraded_retry_ms;
	s->ram_cap = cfg->ram_bytes;
	lotad_list_init(&s->ram_lru);
	static const char salt[] = "lotad extent store";
	static const char info_data[] = "lota store data v1", info_hdr[] = "lota store header v1";
	if ((rc = lota__hkdf_sha256(cfg->node_secret, LOTAD_STORE_SECRET_LEN, salt,
	                            sizeof(salt) - 1, info_data, sizeof(info_data) - 1, s->data_key,
	                            sizeof(s->data_key))) ||
	    (rc =
	         lota__hkdf_sha256(cfg->node_secret, LOTAD_STORE_SECRET_LEN, salt, sizeof(salt) - 1,
	                           info_hdr, sizeof(info_hdr) - 1, s->hdr_key, sizeof(s->hdr_key))))
		goto fail;
	for (size_t i = 0; i < cfg->num_dirs; i++) {
		struct dirstate *d = &s->dirs[i];
		lotad_list_init(&d->lru);
		size_t n = strnlen(cfg->dirs[i].path, sizeof(d->path));
		rc = -EINVAL;
		if (n == 0 || n == sizeof(d->path) || cfg->dirs[i].capacity_bytes == 0)
			goto fail;
		memcpy(d->path, cfg->dirs[i].path, n + 1);
		d->capacity = cfg->dirs[i].capacity_bytes;
		char id[8];
		int idn = snprintf(id, sizeof(id), "%zu", i);
		if ((rc = lota_placement_add_node(s->place, id, (size_t)idn, (double)d->capacity)))
			goto fail;
		s->ndirs++;
	}
	for (unsigned i = 0; i < s->ndirs; i++) {
		if ((rc = store_scan_dir(s, i))) {
			lota_log_error("store: cache dir %s: %s", s->dirs[i].path,
			               lota_strerror(rc));
			goto fail;
		}
	}
	if (s->evict_interval_ms) {
		if ((rc = -pthread_create(&s->thr, NULL, store_evict_thread, s)))
			goto fail;
		s->thr_started = true;
	}
	(void)lotad_store_evict_now(s); /* a smaller capacity than last time */
	*out = s;
	return 0;
fail:
	lotad_store_free(s);
	return rc;
}

void lotad_store_free(lotad_store *s)
{
	if (!s)
		return;
	if (s->thr_started) {
		pthread_mutex_lock(&s->lock);
		s->stopping = true;
		pthread_cond_signal(&s->thr_cv);
		pthread_mutex_unlock(&s->lock);
		pthread_join(s->thr, NULL);
	}
	for (size_t i = 0; s->buckets && i < s->nbuckets; i++) {
		for (struct ext *e = s->buckets[i], *n; e; e = n) {
			n = e->hnext;
			store_ram_detach_locked(s, e);
			store_fillsh_free(e->fs);
			free(e);
		}
	}
	free(s->buckets);
	lota_placement_free(s->place);
	pthread_cond_destroy(&s->thr_cv);
	pthread_mutex_destroy(&s->lock);
	lota__wipe(s->data_key, sizeof(s->data_key));
	lota__wipe(s->hdr_key, sizeof(s->hdr_key));
	free(s);
}

void lotad_store_get_stats(lotad_store *s, lotad_store_stats *o)
{
	memset(o, 0, sizeof(*o));
	o->num_dirs = s->ndirs;
	for (unsigned d = 0; d < s->ndirs; d++) {
		lotad_store_dir_stats *ds = &o->dirs[d];
		ds->used_bytes = atomic_load(&s->dirs[d].used);
		ds->capacity_bytes = s->dirs[d].capacity;
		ds->extents = atomic_load(&s->dirs[d].extents);
		ds->degraded = !store_dir_healthy(s, d);
		o->used_bytes += ds->used_bytes;
		o->capacity_bytes += ds->capacity_bytes;
		o->extents += ds->extents;
		o->degraded_dirs += ds->degraded;
	}
	o->evictions = atomic_load(&s->evictions);
	o->fills_in_progress = atomic_load(&s->fills_in_progress);
	o->fills_in_progress_max = atomic_load(&s->fills_peak);
	o->fills_committed = atomic_load(&s->fills_committed);
	o->fills_aborted = atomic_load(&s->fills_aborted);
	o->fills_refused = atomic_load(&s->fills_refused);
	o->fills_refused_degraded = atomic_load(&s->fills_refused_degraded);
	o->write_errors = atomic_load(&s->write_errors);
	o->read_errors = atomic_load(&s->read_errors);
	o->tag_failures = atomic_load(&s->tag_failures);
	o->corrupt_dropped = atomic_load(&s->corrupt_dropped);
	o->ram_bytes = atomic_load(&s->ram_used);
	o->ram_capacity_bytes = s->ram_cap;
	o->ram_hits = atomic_load(&s->ram_hits);
	o->ram_fills = atomic_load(&s->ram_fills);
	o->ram_evictions = atomic_load(&s->ram_evictions);
}

/* Append to a fixed text buffer, snprintf style (counts what did not fit). */
typedef struct tbuf {
	char *p;
	size_t cap, len;
} tbuf;

static void LOTA_PRINTF(2, 3) tb_printf(tbuf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	size_t room = b->len < b->cap ? b->cap - b->len : 0;
	int n = vsnprintf(room ? b->p + b->len : NULL, room, fmt, ap);
	va_end(ap);
	if (n > 0)
		b->len += (size_t)n;
}

size_t lotad_store_metrics(char *out, size_t cap, void *store)
{
	lotad_store_stats st;
	lotad_store_get_stats(store, &st);
	tbuf b = {out, cap, 0};
	tb_printf(&b, "# HELP lota_cache_bytes Bytes used in a cache dir (extents and fills).\n"
	              "# TYPE lota_cache_bytes gauge\n");
	for (size_t d = 0; d < st.num_dirs; d++)
		tb_printf(&b, "lota_cache_bytes{dir=\"%zu\"} %" PRIu64 "\n", d,
		          st.dirs[d].used_bytes);
	tb_printf(&b, "# HELP lota_cache_capacity_bytes Configured capacity of a cache dir.\n"
	              "# TYPE lota_cache_capacity_bytes gauge\n");
	for (size_t d = 0; d < st.num_dirs; d++)
		tb_printf(&b, "lota_cache_capacity_bytes{dir=\"%zu\"} %" PRIu64 "\n", d,
		          st.dirs[d].capacity_bytes);
	tb_printf(&b, "# HELP lota_cache_dir_degraded 1 while a cache dir takes no fills after "
	              "an error.\n# TYPE lota_cache_dir_degraded gauge\n");
	for (size_t d = 0; d < st.num_dirs; d++)
		tb_printf(&b, "lota_cache_dir_degraded{dir=\"%zu\"} %d\n", d,
		          st.dirs[d].degraded ? 1 : 0);
	tb_printf(
	    &b,
	    "# HELP lota_cache_extents Extents in the cache index.\n"
	    "# TYPE lota_cache_extents gauge\nlota_cache_extents %" PRIu64 "\n"
	    "# HELP lota_evictions_total Extents removed by eviction.\n"
	    "# TYPE lota_evictions_total counter\nlota_evictions_total %" PRIu64 "\n"
	    "# HELP lota_cache_fills_in_progress Fills writing into the cache now.\n"
	    "# TYPE lota_cache_fills_in_progress gauge\n"
	    "lota_cache_fills_in_progress %" PRIu64 "\n"
	    "# HELP lota_cache_fills_in_progress_max The most fills in progress at once since "
	    "start (writing, or written and being published: a backlog of fdatasyncs shows "
	    "here).\n"
	    "# TYPE lota_cache_fills_in_progress_max gauge\n"
	    "lota_cache_fills_in_progress_max %" PRIu64 "\n"
	    "# HELP lota_cache_fills_refused_total Fills refused: no healthy cache dir had "
	    "or could make the room (no_room: what eviction may not remove is pinned by "
	    "readers and fills), or no dir was healthy (degraded).\n"
	    "# TYPE lota_cache_fills_refused_total counter\n"
	    "lota_cache_fills_refused_total{reason=\"no_room\"} %" PRIu64 "\n"
	    "lota_cache_fills_refused_total{reason=\"degraded\"} %" PRIu64 "\n"
	    "# HELP lota_store_errors_total Cache store errors by kind.\n"
	    "# TYPE lota_store_errors_total counter\n"
	    "lota_store_errors_total{kind=\"write\"} %" PRIu64 "\n"
	    "lota_store_errors_total{kind=\"read\"} %" PRIu64 "\n"
	    "lota_store_errors_total{kind=\"auth_tag\"} %" PRIu64 "\n"
	    "lota_store_errors_total{kind=\"corrupt\"} %" PRIu64 "\n",
	    st.extents, st.evictions, st.fills_in_progress, st.fills_in_progress_max,
	    st.fills_refused, st.fills_refused_degraded, st.write_errors, st.read_errors,
	    st.tag_failures, st.corrupt_dropped);
	tb_printf(&b,
	          "# HELP lota_ram_cache_bytes Bytes of the RAM tier in use (copies of extents and "
	          "copies being made).\n# TYPE lota_ram_cache_bytes gauge\n"
	          "lota_ram_cache_bytes %" PRIu64 "\n"
	          "# HELP lota_ram_cache_capacity_bytes The RAM tier's bound (ram_cache_size).\n"
	          "# TYPE lota_ram_cache_capacity_bytes gauge\n"
	          "lota_ram_cache_capacity_bytes %" PRIu64 "\n"
	          "# HELP lota_ram_cache_hits_total Extents opened with a copy in the RAM tier "
	          "(served without a disk read or a decryption).\n"
	          "# TYPE lota_ram_cache_hits_total counter\nlota_ram_cache_hits_total %" PRIu64
	          "\n# HELP lota_ram_cache_fills_total Copies of extents made in the RAM tier.\n"
	          "# TYPE lota_ram_cache_fills_total counter\nlota_ram_cache_fills_total %" PRIu64
	          "\n# HELP lota_ram_cache_evictions_total Copies dropped from the RAM tier to "
	          "make room.\n# TYPE lota_ram_cache_evictions_total counter\n"
	          "lota_ram_cache_evictions_total %" PRIu64 "\n",
	          st.ram_bytes, st.ram_capacity_bytes, st.ram_hits, st.ram_fills, st.ram_evictions);
	return b.len;
}
