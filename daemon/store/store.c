/*
 * store.c - lotad's on-disk extent store (the format and contracts are in store.h).
 *
 * Pieces:
 *   - the header codec (encode / parse+verify), pure functions over byte buffers;
 *   - `struct ext`, one per extent known to the store: reference counted (one reference
 *     for the index, one per reader, one for a fill in progress). The bytes of an extent
 *     count against its dir from creation until its last reference is gone, so an
 *     unlinked file still held open is still counted;
 *   - the index: a chained hash table on the 128-bit name plus one LRU list per dir, all
 *     under s->lock. s->lock is never held across a call that can block for long, except
 *     unlink() in eviction/drop (done under the lock so that a new fill of the same name
 *     can never be published between the removal from the index and the unlink);
 *   - fills: the writer seals whole blocks from its own buffer and pwrites them; the
 *     shared part (`struct fillsh`: state, readable prefix, watchers, condvar) lets
 *     readers follow it;
 *   - eviction, least recently opened first, of extents only the index holds: room made
 *     for a fill before it starts (choose_dir), and the background thread that keeps a
 *     dir between its watermarks.
 * Lock order: s->lock, then a fillsh's mu. Watch callbacks run under the fillsh's mu.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include <lota/config.h>
#include <lota/log.h>
#include <lota/placement.h>

#include "crypto-internal.h"
#include "store/store.h"

#define HDR_FIXED   64u
#define HDR_ALIGN   4096u
#define HDR_MAC_LEN 16u /* the GCM tag of the sealed key and meta */
#define HDR_MAX     (HDR_FIXED + LOTA_CACHE_KEY_MAX_LEN + LOTAD_STORE_META_MAX + HDR_MAC_LEN)
#define HDR_VERSION 1u
#define PATH_CAP    (LOTAD_STORE_DIR_PATH_MAX + 64)
#define EVICT_BATCH 4096u
static const uint8_t hdr_magic[8] = {'L', 'O', 'T', 'A', 'E', 'X', 'T', '1'};

static lotad_store_pwrite_fn pwrite_fn = pwrite;

void lotad_store__set_pwrite_hook(lotad_store_pwrite_fn fn)
{
	pwrite_fn = fn ? fn : pwrite;
}

/* ------------------------------------------------------------------ bytes */

static void put_be(uint8_t *p, uint64_t v, int n)
{
	for (int i = n - 1; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

static uint64_t get_be(const uint8_t *p, int n)
{
	uint64_t v = 0;
	for (int i = 0; i < n; i++)
		v = (v << 8) | p[i];
	return v;
}

static uint64_t round_up(uint64_t v, uint64_t a)
{
	return (v + a - 1) / a * a;
}

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

lota_hash128 lotad_store_hash_key(const uint8_t *key, size_t key_len)
{
	XXH128_hash_t x = XXH3_128bits(key_len ? key : (const uint8_t *)"", key_len);
	return (lota_hash128){.hi = x.high64, .lo = x.low64};
}

static bool hash_eq(lota_hash128 a, lota_hash128 b)
{
	return a.hi == b.hi && a.lo == b.lo;
}

static bool block_size_ok(uint64_t bs)
{
	return bs >= 4096 && bs <= (1u << 20) && (bs & (bs - 1)) == 0;
}

/* Bytes of data on disk for data_len plaintext bytes. */
static uint64_t stored_len(bool sealed, uint64_t data_len, uint32_t bs)
{
	if (!sealed)
		return data_len;
	return data_len + (data_len + bs - 1) / bs * LOTAD_STORE_TAG_LEN;
}

/* ------------------------------------------------------------------ header codec */

/* The header's nonce: the file salt and a block index no data block can have (the data
 * is sealed under another key anyway). */
static void hdr_nonce(uint8_t nonce[LOTA__GCM_NONCE_LEN], const uint8_t salt[8])
{
	memcpy(nonce, salt, 8);
	memset(nonce + 8, 0xff, 4);
}

int lotad_store__header_encode(lotad_store_header *h, const uint8_t hdr_key[32], uint8_t *buf,
                               size_t cap)
{
	if (!h || !buf || !hdr_key || (!h->key && h->key_len) || (!h->meta && h->meta_len))
		return -EINVAL;
	if (h->key_len == 0 || h->key_len > LOTA_CACHE_KEY_MAX_LEN ||
	    h->meta_len > LOTAD_STORE_META_MAX || h->data_len > LOTAD_STORE_DATA_MAX)
		return LOTA_E_TOO_LARGE;
	if (!block_size_ok(h->block_size) || (h->flags & ~LOTAD_STORE_FLAG_SEALED))
		return -EINVAL;
	size_t mac_off = HDR_FIXED + h->key_len + h->meta_len;
	uint64_t off = round_up(mac_off + HDR_MAC_LEN, HDR_ALIGN);
	if (cap < off)
		return -ENOBUFS;
	h->hash = lotad_store_hash_key(h->key, h->key_len);
	h->data_off = (uint32_t)off;
	h->header_len = mac_off + HDR_MAC_LEN;
	memset(buf, 0, off);
	memcpy(buf, hdr_magic, 8);
	put_be(buf + 8, HDR_VERSION, 2);
	put_be(buf + 10, h->flags, 2);
	put_be(buf + 12, h->block_size, 4);
	put_be(buf + 16, h->data_len, 8);
	put_be(buf + 24, h->key_len, 4);
	put_be(buf + 28, h->meta_len, 4);
	put_be(buf + 32, h->data_off, 4);
	memcpy(buf + 40, h->salt, 8);
	put_be(buf + 48, h->hash.hi, 8);
	put_be(buf + 56, h->hash.lo, 8);
	memcpy(buf + HDR_FIXED, h->key, h->key_len);
	if (h->meta_len)
		memcpy(buf + HDR_FIXED + h->key_len, h->meta, h->meta_len);
	uint8_t nonce[LOTA__GCM_NONCE_LEN];
	hdr_nonce(nonce, h->salt);
	int rc = lota__aead_seal(hdr_key, nonce, buf, HDR_FIXED, buf + HDR_FIXED,
	                         mac_off - HDR_FIXED, buf + HDR_FIXED, buf + mac_off);
	return rc ? rc : (int)off;
}

int lotad_store__header_parse(uint8_t *buf, size_t len, const uint8_t hdr_key[32],
                              lotad_store_header *out)
{
	if (!buf || !hdr_key || !out)
		return -EINVAL;
	if (len < HDR_FIXED)
		return LOTA_E_INCOMPLETE;
	if (memcmp(buf, hdr_magic, 8) != 0)
		return -EBADMSG;
	if (get_be(buf + 8, 2) != HDR_VERSION)
		return -EPROTONOSUPPORT;
	lotad_store_header h = {0};
	h.flags = (uint16_t)get_be(buf + 10, 2);
	uint64_t bs = get_be(buf + 12, 4);
	h.data_len = get_be(buf + 16, 8);
	uint64_t key_len = get_be(buf + 24, 4), meta_len = get_be(buf + 28, 4);
	uint64_t data_off = get_be(buf + 32, 4);
	if ((h.flags & ~LOTAD_STORE_FLAG_SEALED) || !block_size_ok(bs) ||
	    h.data_len > LOTAD_STORE_DATA_MAX || key_len == 0 || key_len > LOTA_CACHE_KEY_MAX_LEN ||
	    meta_len > LOTAD_STORE_META_MAX || get_be(buf + 36, 4) != 0)
		return -EBADMSG;
	size_t mac_off = HDR_FIXED + (size_t)key_len + (size_t)meta_len;
	if (data_off != round_up(mac_off + HDR_MAC_LEN, HDR_ALIGN))
		return -EBADMSG;
	if (len < mac_off + HDR_MAC_LEN)
		return LOTA_E_INCOMPLETE;
	uint8_t nonce[LOTA__GCM_NONCE_LEN];
	hdr_nonce(nonce, buf + 40);
	int rc = lota__aead_open(hdr_key, nonce, buf, HDR_FIXED, buf + HDR_FIXED,
	                         mac_off - HDR_FIXED, buf + HDR_FIXED, buf + mac_off);
	if (rc)
		return rc;
	h.block_size = (uint32_t)bs;
	h.data_off = (uint32_t)data_off;
	memcpy(h.salt, buf + 40, 8);
	h.hash.hi = get_be(buf + 48, 8);
	h.hash.lo = get_be(buf + 56, 8);
	h.key = buf + HDR_FIXED;
	h.key_len = (size_t)key_len;
	h.meta = meta_len ? buf + HDR_FIXED + key_len : NULL;
	h.meta_len = (size_t)meta_len;
	h.header_len = mac_off + HDR_MAC_LEN;
	/* a valid MAC with a wrong hash means a writer bug, not an attack: still refuse */
	if (!hash_eq(h.hash, lotad_store_hash_key(h.key, h.key_len)))
		return -EBADMSG;
	*out = h;
	return 0;
}

/* ------------------------------------------------------------------ objects */

enum { EXT_FILLING = 0, EXT_READY = 1, EXT_FAILED = 2 };

/* What a fill shares with the readers that follow it. */
struct fillsh {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	lotad_fill_watch *watchers;
	int fd;               /* the temp file (the writer's); -1 after commit/abort */
	uint8_t *plain;       /* key | meta in clear (h.key and h.meta point into it) */
	lotad_store_header h; /* parsed form of hdr */
};

struct ext {
	lota_hash128 h;
	struct ext *hnext;               /* hash chain */
	struct ext *lru_prev, *lru_next; /* dir LRU, MRU at the head */
	unsigned dir;
	bool indexed;
	uint64_t file_bytes;
	int64_t mtime; /* start-up ordering only */
	atomic_uint refs;
	atomic_int state;
	atomic_uint_fast64_t readable;
	struct fillsh *fs; /* set while created by a fill (also after its commit) */
};

struct dirstate {
	char path[LOTAD_STORE_DIR_PATH_MAX];
	uint64_t capacity;
	atomic_uint_fast64_t used;
	atomic_uint_fast64_t extents;
	atomic_int_fast64_t degraded_until_ms;
	struct ext *lru_head, *lru_tail;
};

struct lotad_store {
	pthread_mutex_t lock;
	struct ext **buckets;
	size_t nbuckets, count;
	struct dirstate dirs[LOTAD_STORE_MAX_DIRS];
	size_t ndirs;
	lota_placement *place;
	uint8_t data_key[LOTA__GCM_KEY_LEN];
	uint8_t hdr_key[32];
	bool encrypt, fsync_dir;
	uint32_t block_size;
	unsigned high_pct, low_pct;
	uint32_t evict_interval_ms, degraded_retry_ms;
	atomic_uint_fast64_t tmp_seq;
	/* counters */
	atomic_uint_fast64_t evictions, fills_in_progress, fills_committed, fills_aborted,
	    fills_refused, fills_refused_degraded, write_errors, read_errors, tag_failures,
	    corrupt_dropped;
	/* eviction thread */
	pthread_t thr;
	bool thr_started, stopping;
	pthread_cond_t thr_cv;
};

struct lotad_store_reader {
	lotad_store *s;
	struct ext *e;
	int fd;
	bool sealed, following; /* following: opened while filling */
	uint32_t bs;
	uint64_t data_len, data_off;
	uint8_t salt[8];
	uint8_t *hdr; /* own copy of the header for committed opens (meta points into it) */
	const uint8_t *meta;
	size_t meta_len;
	uint8_t *blk; /* bs + tag: one sealed block */
};

struct lotad_fill {
	lotad_store *s;
	struct ext *e;
	int fd;
	uint32_t bs;
	bool sealed, failed;
	uint64_t data_len, data_off, written, flushed_blocks;
	size_t blk_fill;
	uint8_t *blk;
	/* Sealed blocks are block_size + 16 bytes long, so most start inside a page; writes
	 * that start inside a page cost the kernel 2-4x the CPU of page-aligned ones. Blocks
	 * are sealed into this buffer, which always starts on a page boundary (see
	 * wb_write). */
	uint8_t *wb;
	size_t wb_len;
	uint64_t wb_off; /* file offset of wb[0] */
	char tmp_path[PATH_CAP], final_path[PATH_CAP];
};

static void ext_path(const lotad_store *s, unsigned dir, lota_hash128 h, char *out, size_t cap)
{
	char hex[LOTA_HASH128_HEX_LEN + 1];
	lota_hash128_format(h, hex);
	snprintf(out, cap, "%s/%.2s/%.2s/%s", s->dirs[dir].path, hex, hex + 2, hex);
}

static void fillsh_free(struct fillsh *fs)
{
	if (!fs)
		return;
	if (fs->fd >= 0)
		close(fs->fd);
	pthread_mutex_destroy(&fs->mu);
	pthread_cond_destroy(&fs->cv);
	free(fs->plain);
	free(fs);
}

static void ext_unref(lotad_store *s, struct ext *e)
{
	if (atomic_fetch_sub(&e->refs, 1) != 1)
		return;
	atomic_fetch_sub(&s->dirs[e->dir].used, e->file_bytes);
	fillsh_free(e->fs);
	free(e);
}

/* ---- index (s->lock held) ---- */

static size_t bucket_of(const lotad_store *s, lota_hash128 h)
{
	return (size_t)(h.lo ^ (h.hi >> 7)) & (s->nbuckets - 1);
}

static struct ext *idx_find(lotad_store *s, lota_hash128 h)
{
	for (struct ext *e = s->buckets[bucket_of(s, h)]; e; e = e->hnext)
		if (hash_eq(e->h, h))
			return e;
	return NULL;
}

static void idx_grow(lotad_store *s)
{
	size_t nb = s->nbuckets * 2;
	struct ext **b = calloc(nb, sizeof(*b));
	if (!b)
		return; /* chains just get longer */
	size_t old = s->nbuckets;
	struct ext **ob = s->buckets;
	s->buckets = b;
	s->nbuckets = nb;
	for (size_t i = 0; i < old; i++) {
		for (struct ext *e = ob[i], *n; e; e = n) {
			n = e->hnext;
			size_t k = bucket_of(s, e->h);
			e->hnext = b[k];
			b[k] = e;
		}
	}
	free(ob);
}

static void lru_unlink(struct dirstate *d, struct ext *e)
{
	if (e->lru_prev)
		e->lru_prev->lru_next = e->lru_next;
	else
		d->lru_head = e->lru_next;
	if (e->lru_next)
		e->lru_next->lru_prev = e->lru_prev;
	else
		d->lru_tail = e->lru_prev;
	e->lru_prev = e->lru_next = NULL;
}

static void lru_push_head(struct dirstate *d, struct ext *e)
{
	e->lru_prev = NULL;
	e->lru_next = d->lru_head;
	if (d->lru_head)
		d->lru_head->lru_prev = e;
	else
		d->lru_tail = e;
	d->lru_head = e;
}

static void idx_insert(lotad_store *s, struct ext *e)
{
	if (s->count >= s->nbuckets)
		idx_grow(s);
	size_t k = bucket_of(s, e->h);
	e->hnext = s->buckets[k];
	s->buckets[k] = e;
	e->indexed = true;
	s->count++;
	atomic_fetch_add(&s->dirs[e->dir].extents, 1);
	lru_push_head(&s->dirs[e->dir], e);
}

/* Remove from the index; the caller then drops the index reference (ext_unref). */
static void idx_remove(lotad_store *s, struct ext *e)
{
	struct ext **pp = &s->buckets[bucket_of(s, e->h)];
	while (*pp && *pp != e)
		pp = &(*pp)->hnext;
	if (*pp)
		*pp = e->hnext;
	e->hnext = NULL;
	e->indexed = false;
	s->count--;
	atomic_fetch_sub(&s->dirs[e->dir].extents, 1);
	lru_unlink(&s->dirs[e->dir], e);
}

/* Drop a committed extent found bad (or asked for): out of the index, file unlinked. */
static void drop_ext(lotad_store *s, struct ext *e, bool corrupt)
{
	bool removed = false;
	pthread_mutex_lock(&s->lock);
	if (e->indexed && atomic_load(&e->state) == EXT_READY) {
		char path[PATH_CAP];
		ext_path(s, e->dir, e->h, path, sizeof(path));
		idx_remove(s, e);
		(void)unlink(path);
		removed = true;
	}
	pthread_mutex_unlock(&s->lock);
	if (removed) {
		if (corrupt)
			atomic_fetch_add(&s->corrupt_dropped, 1);
		ext_unref(s, e);
	}
}

/* ---- dirs ---- */

static bool dir_healthy(lotad_store *s, unsigned d)
{
	return now_ms() >= atomic_load(&s->dirs[d].degraded_until_ms);
}

static void dir_failed(lotad_store *s, unsigned d, int err, const char *what)
{
	atomic_store(&s->dirs[d].degraded_until_ms, now_ms() + (int64_t)s->degraded_retry_ms);
	atomic_fetch_add(&s->write_errors, 1);
	lota_log_warn("store: %s in cache dir %u failed: %s; no fills there for %ums", what, d,
	              lota_strerror(err), (unsigned)s->degraded_retry_ms);
}

static int mkdir_p(const char *path)
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

static int write_all(int fd, const void *buf, size_t len, uint64_t off)
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

static int read_full(int fd, void *buf, size_t len, uint64_t off)
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
static int read_header(lotad_store *s, int fd, uint8_t **bufp, lotad_store_header *h)
{
	uint8_t *buf = malloc(HDR_MAX);
	if (!buf)
		return -ENOMEM;
	int rc = read_full(fd, buf, HDR_FIXED, 0);
	if (rc == 0) {
		rc = lotad_store__header_parse(buf, HDR_FIXED, s->hdr_key, h);
		if (rc == LOTA_E_INCOMPLETE) {
			size_t need =
			    HDR_FIXED + get_be(buf + 24, 4) + get_be(buf + 28, 4) + HDR_MAC_LEN;
			rc = read_full(fd, buf + HDR_FIXED, need - HDR_FIXED, HDR_FIXED);
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

/* ------------------------------------------------------------------ config */

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

/* ------------------------------------------------------------------ start-up scan */

static bool is_hex(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!((p[i] >= '0' && p[i] <= '9') || (p[i] >= 'a' && p[i] <= 'f')))
			return false;
	return true;
}

static void clean_tmp(const char *tmpdir)
{
	DIR *d = opendir(tmpdir);
	if (!d)
		return;
	struct dirent *de;
	while ((de = readdir(d))) {
		size_t n = strlen(de->d_name);
		if (n > 4 && strcmp(de->d_name + n - 4, ".tmp") == 0)
			(void)unlinkat(dirfd(d), de->d_name, 0);
	}
	closedir(d);
}

static void scan_file(lotad_store *s, unsigned dir, int dfd, const char *name, struct ext ***vec,
                      size_t *n, size_t *cap)
{
	lota_hash128 h;
	if (strlen(name) != LOTA_HASH128_HEX_LEN || !is_hex(name, LOTA_HASH128_HEX_LEN) ||
	    lota_hash128_parse(name, LOTA_HASH128_HEX_LEN, &h) != 0)
		return; /* not ours: leave it alone */
	int fd = openat(dfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return;
	struct stat st;
	uint8_t *hb = NULL;
	lotad_store_header hdr;
	int rc =
	    fstat(fd, &st) == 0 && S_ISREG(st.st_mode) ? read_header(s, fd, &hb, &hdr) : -EINVAL;
	close(fd);
	uint64_t expect = 0;
	if (rc == 0) {
		expect = hdr.data_off + stored_len(hdr.flags & LOTAD_STORE_FLAG_SEALED,
		                                   hdr.data_len, hdr.block_size);
		if (!hash_eq(hdr.hash, h) || (uint64_t)st.st_size != expect)
			rc = -EBADMSG;
	}
	free(hb);
	pthread_mutex_lock(&s->lock);
	bool dup = rc == 0 && idx_find(s, h) != NULL;
	pthread_mutex_unlock(&s->lock);
	if (rc == 0 && !dup) {
		for (size_t i = 0; i < *n; i++)
			if (hash_eq((*vec)[i]->h, h))
				dup = true;
	}
	if (rc || dup) {
		if (rc == LOTA_E_AUTH_TAG)
			atomic_fetch_add(&s->tag_failures, 1);
		atomic_fetch_add(&s->corrupt_dropped, 1);
		(void)unlinkat(dfd, name, 0);
		return;
	}
	struct ext *e = calloc(1, sizeof(*e));
	if (!e)
		return;
	if (*n == *cap) {
		size_t nc = *cap ? *cap * 2 : 256;
		struct ext **nv = realloc(*vec, nc * sizeof(*nv));
		if (!nv) {
			free(e);
			return;
		}
		*vec = nv;
		*cap = nc;
	}
	e->h = h;
	e->dir = dir;
	e->file_bytes = expect;
	e->mtime = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
	atomic_init(&e->refs, 1);
	atomic_init(&e->state, EXT_READY);
	atomic_init(&e->readable, hdr.data_len);
	(*vec)[(*n)++] = e;
}

static int cmp_mtime(const void *a, const void *b)
{
	const struct ext *x = *(struct ext *const *)a, *y = *(struct ext *const *)b;
	return x->mtime < y->mtime ? -1 : x->mtime > y->mtime;
}

static int scan_dir(lotad_store *s, unsigned dir)
{
	char p[PATH_CAP];
	const char *root = s->dirs[dir].path;
	int rc = mkdir_p(root);
	if (rc)
		return rc;
	snprintf(p, sizeof(p), "%s/tmp", root);
	if ((rc = mkdir_p(p)))
		return rc;
	clean_tmp(p);
	DIR *d1 = opendir(root);
	if (!d1)
		return -errno;
	struct ext **vec = NULL;
	size_t n = 0, cap = 0;
	struct dirent *a, *b, *c;
	while ((a = readdir(d1))) {
		if (strlen(a->d_name) != 2 || !is_hex(a->d_name, 2))
			continue;
		snprintf(p, sizeof(p), "%s/%.2s", root, a->d_name);
		DIR *d2 = opendir(p);
		if (!d2)
			continue;
		while ((b = readdir(d2))) {
			if (strlen(b->d_name) != 2 || !is_hex(b->d_name, 2))
				continue;
			snprintf(p, sizeof(p), "%s/%.2s/%.2s", root, a->d_name, b->d_name);
			DIR *d3 = opendir(p);
			if (!d3)
				continue;
			while ((c = readdir(d3)))
				scan_file(s, dir, dirfd(d3), c->d_name, &vec, &n, &cap);
			closedir(d3);
		}
		closedir(d2);
	}
	closedir(d1);
	/* oldest first, each pushed at the MRU head: the newest file ends up most recent */
	if (n)
		qsort(vec, n, sizeof(*vec), cmp_mtime);
	pthread_mutex_lock(&s->lock);
	for (size_t i = 0; i < n; i++) {
		atomic_fetch_add(&s->dirs[dir].used, vec[i]->file_bytes);
		idx_insert(s, vec[i]);
	}
	pthread_mutex_unlock(&s->lock);
	free(vec);
	return 0;
}

/* ------------------------------------------------------------------ eviction */

/* Whether eviction may remove e (s->lock held): committed, and held by nobody but the
 * index. Readers and fills take their references under s->lock, so an extent seen free
 * here stays free until the lock is released. */
static bool evictable(struct ext *e)
{
	return atomic_load(&e->refs) == 1 && atomic_load(&e->state) == EXT_READY;
}

/* Evict e (evictable, s->lock held): out of the index, file unlinked, and its bytes given
 * back at once (the index held the last reference), so the next decision taken under
 * the lock already sees the room. */
static void evict_locked(lotad_store *s, struct ext *e)
{
	char path[PATH_CAP];
	ext_path(s, e->dir, e->h, path, sizeof(path));
	idx_remove(s, e);
	(void)unlink(path);
	atomic_fetch_add(&s->evictions, 1);
	ext_unref(s, e);
}

/*
 * Make room for `need` more bytes in dir d (s->lock held). Returns true when used + need
 * fits the capacity, after evicting as few least-recently-used evictable extents as it
 * takes; false, having evicted nothing, when even all of them would not make the room
 * (the rest is pinned by readers and fills, or need is above the capacity). Only `used`
 * can change under us meanwhile, and only downwards (it grows under s->lock alone).
 */
static bool make_room_locked(lotad_store *s, unsigned d, uint64_t need)
{
	struct dirstate *ds = &s->dirs[d];
	if (need > ds->capacity)
		return false;
	uint64_t used = atomic_load(&ds->used);
	if (used + need <= ds->capacity)
		return true;
	uint64_t excess = used + need - ds->capacity, found = 0;
	for (struct ext *e = ds->lru_tail; e && found < excess; e = e->lru_prev)
		if (evictable(e))
			found += e->file_bytes;
	if (found < excess)
		return false;
	for (struct ext *e = ds->lru_tail, *prev; e && atomic_load(&ds->used) + need > ds->capacity;
	     e = prev) {
		prev = e->lru_prev;
		if (evictable(e))
			evict_locked(s, e);
	}
	return atomic_load(&ds->used) + need <= ds->capacity;
}

/* The background pass: above the high watermark, evict down to the low one, in batches
 * so that s->lock is released now and then. */
static size_t evict_dir(lotad_store *s, unsigned d)
{
	struct dirstate *ds = &s->dirs[d];
	uint64_t high = ds->capacity / 100 * s->high_pct + ds->capacity % 100 * s->high_pct / 100;
	uint64_t low = ds->capacity / 100 * s->low_pct + ds->capacity % 100 * s->low_pct / 100;
	if (atomic_load(&ds->used) <= high)
		return 0;
	size_t total = 0;
	for (;;) {
		size_t nv = 0;
		pthread_mutex_lock(&s->lock);
		for (struct ext *e = ds->lru_tail, *prev;
		     e && nv < 64 && atomic_load(&ds->used) > low; e = prev) {
			prev = e->lru_prev;
			/* pinned (a reader or a fill holds it) or not committed: keep */
			if (!evictable(e))
				continue;
			evict_locked(s, e);
			nv++;
		}
		pthread_mutex_unlock(&s->lock);
		total += nv;
		if (nv < 64 || total >= EVICT_BATCH)
			break;
	}
	return total;
}

size_t lotad_store_evict_now(lotad_store *s)
{
	size_t n = 0;
	for (unsigned d = 0; d < s->ndirs; d++)
		n += evict_dir(s, d);
	return n;
}

static void *evict_thread(void *arg)
{
	lotad_store *s = arg;
	pthread_mutex_lock(&s->lock);
	while (!s->stopping) {
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		uint64_t ns = (uint64_t)ts.tv_nsec + (uint64_t)s->evict_interval_ms * 1000000u;
		ts.tv_sec += (time_t)(ns / 1000000000u);
		ts.tv_nsec = (long)(ns % 1000000000u);
		(void)pthread_cond_timedwait(&s->thr_cv, &s->lock, &ts);
		if (s->stopping)
			break;
		pthread_mutex_unlock(&s->lock);
		(void)lotad_store_evict_now(s);
		pthread_mutex_lock(&s->lock);
	}
	pthread_mutex_unlock(&s->lock);
	return NULL;
}

static void evict_kick(lotad_store *s, unsigned d)
{
	struct dirstate *ds = &s->dirs[d];
	/* signalled without s->lock (callers may hold it): a wake-up lost to the race is
	 * made up by the thread's periodic check */
	if (s->thr_started && atomic_load(&ds->used) > ds->capacity / 100 * s->high_pct)
		pthread_cond_signal(&s->thr_cv);
}

/* ------------------------------------------------------------------ store */

int lotad_store_new(const lotad_store_config *cfg, lotad_store **out)
{
	if (!cfg || !out || !cfg->dirs || cfg->num_dirs == 0 ||
	    cfg->num_dirs > LOTAD_STORE_MAX_DIRS || !cfg->node_secret ||
	    !block_size_ok(cfg->block_size) || cfg->low_watermark_pct == 0 ||
	    cfg->low_watermark_pct > cfg->high_watermark_pct || cfg->high_watermark_pct > 100)
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
	s->block_size = cfg->block_size;
	s->high_pct = cfg->high_watermark_pct;
	s->low_pct = cfg->low_watermark_pct;
	s->evict_interval_ms = cfg->evict_interval_ms;
	s->degraded_retry_ms = cfg->degraded_retry_ms;
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
		if ((rc = scan_dir(s, i))) {
			lota_log_error("store: cache dir %s: %s", s->dirs[i].path,
			               lota_strerror(rc));
			goto fail;
		}
	}
	if (s->evict_interval_ms) {
		if ((rc = -pthread_create(&s->thr, NULL, evict_thread, s)))
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
			fillsh_free(e->fs);
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

/* ------------------------------------------------------------------ readers */

static int reader_alloc(lotad_store *s, struct ext *e, lotad_store_reader **out)
{
	lotad_store_reader *r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->s = s;
	r->e = e;
	r->fd = -1;
	*out = r;
	return 0;
}

static int reader_setup_blocks(lotad_store_reader *r)
{
	if (!r->sealed)
		return 0;
	r->blk = malloc((size_t)r->bs + LOTAD_STORE_TAG_LEN);
	return r->blk ? 0 : -ENOMEM;
}

/* Attach to a fill in progress: share its header, dup its descriptor. Returns 1 when the
 * fill has committed meanwhile (open the final file instead). */
static int reader_follow(lotad_store_reader *r)
{
	struct fillsh *fs = r->e->fs;
	int rc = 0;
	pthread_mutex_lock(&fs->mu);
	/* the fill is creating its temp file (mkdir, open, header write): wait for it */
	while (fs->fd < 0 && atomic_load(&r->e->state) == EXT_FILLING)
		pthread_cond_wait(&fs->cv, &fs->mu);
	int st = atomic_load(&r->e->state);
	if (st == EXT_READY) {
		rc = 1;
	} else if (st == EXT_FAILED) {
		rc = -ENOENT;
	} else if ((r->fd = fcntl(fs->fd, F_DUPFD_CLOEXEC, 0)) < 0) {
		rc = -errno;
	} else {
		r->following = true;
		r->sealed = fs->h.flags & LOTAD_STORE_FLAG_SEALED;
		r->bs = fs->h.block_size;
		r->data_len = fs->h.data_len;
		r->data_off = fs->h.data_off;
		memcpy(r->salt, fs->h.salt, 8);
		r->meta = fs->h.meta;
		r->meta_len = fs->h.meta_len;
	}
	pthread_mutex_unlock(&fs->mu);
	return rc;
}

static int reader_open_file(lotad_store_reader *r, const uint8_t *key, size_t key_len)
{
	lotad_store *s = r->s;
	char path[PATH_CAP];
	ext_path(s, r->e->dir, r->e->h, path, sizeof(path));
	r->fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (r->fd < 0) {
		int rc = -errno;
		if (rc == -ENOENT) /* removed behind our back: forget it */
			drop_ext(s, r->e, false);
		return rc;
	}
	lotad_store_header h;
	int rc = read_header(s, r->fd, &r->hdr, &h);
	if (rc == -ENOMEM)
		return rc;
	if (rc == LOTA_E_AUTH_TAG)
		atomic_fetch_add(&s->tag_failures, 1);
	if (rc == 0 && !hash_eq(h.hash, r->e->h))
		rc = -ESTALE; /* a file renamed over another extent's name */
	if (rc == 0 && (h.key_len != key_len || memcmp(h.key, key, key_len) != 0))
		rc = -ESTALE;
	if (rc) {
		if (rc != -ESTALE && rc != LOTA_E_AUTH_TAG && rc != -EPROTONOSUPPORT)
			atomic_fetch_add(&s->read_errors, 1);
		drop_ext(s, r->e, true);
		return rc;
	}
	r->sealed = h.flags & LOTAD_STORE_FLAG_SEALED;
	r->bs = h.block_size;
	r->data_len = h.data_len;
	r->data_off = h.data_off;
	memcpy(r->salt, h.salt, 8);
	r->meta = h.meta;
	r->meta_len = h.meta_len;
	return 0;
}

int lotad_store_open(lotad_store *s, lota_hash128 h, const uint8_t *key, size_t key_len,
                     lotad_store_reader **out)
{
	if (!s || !out || !key || key_len == 0)
		return -EINVAL;
	*out = NULL;
	pthread_mutex_lock(&s->lock);
	struct ext *e = idx_find(s, h);
	if (e) {
		atomic_fetch_add(&e->refs, 1);
		lru_unlink(&s->dirs[e->dir], e);
		lru_push_head(&s->dirs[e->dir], e);
	}
	pthread_mutex_unlock(&s->lock);
	if (!e)
		return -ENOENT;
	lotad_store_reader *r = NULL;
	int rc = reader_alloc(s, e, &r);
	if (rc) {
		ext_unref(s, e);
		return rc;
	}
	rc = 1;
	if (e->fs) {
		rc = reader_follow(r);
		/* the fill's key must be the one asked for too (its hdr is immutable) */
		const lotad_store_header *fh = &e->fs->h;
		if (rc == 0 && (fh->key_len != key_len || memcmp(fh->key, key, key_len) != 0))
			rc = -ESTALE;
	}
	if (rc == 1)
		rc = reader_open_file(r, key, key_len);
	if (rc == 0)
		rc = reader_setup_blocks(r);
	if (rc) {
		lotad_reader_close(r);
		return rc;
	}
	*out = r;
	return 0;
}

void lotad_reader_close(lotad_store_reader *r)
{
	if (!r)
		return;
	if (r->fd >= 0)
		close(r->fd);
	free(r->hdr);
	free(r->blk);
	ext_unref(r->s, r->e);
	free(r);
}

uint64_t lotad_reader_length(const lotad_store_reader *r)
{
	return r->data_len;
}

lota_str lotad_reader_meta(const lotad_store_reader *r)
{
	return (lota_str){(const char *)r->meta, r->meta_len};
}

bool lotad_reader_encrypted(const lotad_store_reader *r)
{
	return r->sealed;
}

int64_t lotad_reader_readable(const lotad_store_reader *r)
{
	if (!r->following)
		return (int64_t)r->data_len;
	int st = atomic_load(&r->e->state);
	if (st == EXT_FAILED)
		return -ECANCELED;
	if (st == EXT_READY)
		return (int64_t)r->data_len;
	return (int64_t)atomic_load(&r->e->readable);
}

int lotad_reader_plain_fd(const lotad_store_reader *r, int *fd, uint64_t *data_off)
{
	if (r->sealed)
		return -ENOTSUP;
	*fd = r->fd;
	*data_off = r->data_off;
	return 0;
}

static void block_aad(uint8_t aad[32], lota_hash128 h, uint64_t idx, uint64_t data_len)
{
	put_be(aad, h.hi, 8);
	put_be(aad + 8, h.lo, 8);
	put_be(aad + 16, idx, 8);
	put_be(aad + 24, data_len, 8);
}

static void block_nonce(uint8_t nonce[LOTA__GCM_NONCE_LEN], const uint8_t salt[8], uint64_t idx)
{
	memcpy(nonce, salt, 8);
	put_be(nonce + 8, idx, 4);
}

static void reader_failed(lotad_store_reader *r, int rc)
{
	if (rc == LOTA_E_AUTH_TAG)
		atomic_fetch_add(&r->s->tag_failures, 1);
	else
		atomic_fetch_add(&r->s->read_errors, 1);
	if (!r->following || atomic_load(&r->e->state) == EXT_READY)
		drop_ext(r->s, r->e, true);
}

ssize_t lotad_reader_read(lotad_store_reader *r, uint64_t off, void *buf, size_t len)
{
	if (!r || (!buf && len))
		return -EINVAL;
	int64_t avail = lotad_reader_readable(r);
	if (avail < 0)
		return avail;
	if (off >= r->data_len || len == 0)
		return 0;
	if (off >= (uint64_t)avail)
		return -EAGAIN;
	uint64_t end = off + len < off || off + len > (uint64_t)avail ? (uint64_t)avail : off + len;
	if (end - off > SSIZE_MAX)
		end = off + SSIZE_MAX;
	uint8_t *dst = buf;
	int rc;
	if (!r->sealed) {
		rc = read_full(r->fd, dst, (size_t)(end - off), r->data_off + off);
		if (rc) {
			rc = rc == LOTA_E_INCOMPLETE ? -EIO : rc;
			reader_failed(r, rc);
			return rc;
		}
		return (ssize_t)(end - off);
	}
	uint64_t pos = off;
	const uint64_t bs = r->bs, sbs = bs + LOTAD_STORE_TAG_LEN;
	while (pos < end) {
		uint64_t bi = pos / bs, boff = pos % bs;
		size_t blen = (size_t)(r->data_len - bi * bs < bs ? r->data_len - bi * bs : bs);
		rc = read_full(r->fd, r->blk, blen + LOTAD_STORE_TAG_LEN, r->data_off + bi * sbs);
		if (rc)
			goto fail;
		uint8_t nonce[LOTA__GCM_NONCE_LEN], aad[32];
		block_nonce(nonce, r->salt, bi);
		block_aad(aad, r->e->h, bi, r->data_len);
		size_t n = (size_t)(blen - boff < end - pos ? blen - boff : end - pos);
		if (boff == 0 && n == blen) { /* whole block: straight into the caller's buffer */
			rc = lota__aead_open(r->s->data_key, nonce, aad, sizeof(aad), r->blk, blen,
			                     dst, r->blk + blen);
		} else {
			rc = lota__aead_open(r->s->data_key, nonce, aad, sizeof(aad), r->blk, blen,
			                     r->blk, r->blk + blen);
			if (rc == 0)
				memcpy(dst, r->blk + boff, n);
		}
		if (rc)
			goto fail;
		dst += n;
		pos += n;
	}
	return (ssize_t)(end - off);
fail:
	rc = rc == LOTA_E_INCOMPLETE ? -EIO : rc;
	lota__wipe(buf, (size_t)(end - off));
	reader_failed(r, rc);
	return rc;
}

int lotad_reader_watch(lotad_store_reader *r, lotad_fill_watch *w, lotad_fill_notify_fn fn,
                       void *ud)
{
	if (!r->following)
		return 1;
	struct fillsh *fs = r->e->fs;
	int rc = 0;
	pthread_mutex_lock(&fs->mu);
	if (atomic_load(&r->e->state) != EXT_FILLING) {
		rc = 1;
	} else {
		w->fn = fn;
		w->ud = ud;
		w->prev = NULL;
		w->next = fs->watchers;
		if (fs->watchers)
			fs->watchers->prev = w;
		fs->watchers = w;
	}
	pthread_mutex_unlock(&fs->mu);
	return rc;
}

void lotad_reader_unwatch(lotad_store_reader *r, lotad_fill_watch *w)
{
	if (!r->following)
		return;
	struct fillsh *fs = r->e->fs;
	pthread_mutex_lock(&fs->mu);
	/* only if still registered (commit/abort clear the list) */
	for (lotad_fill_watch *x = fs->watchers; x; x = x->next) {
		if (x != w)
			continue;
		if (w->prev)
			w->prev->next = w->next;
		else
			fs->watchers = w->next;
		if (w->next)
			w->next->prev = w->prev;
		break;
	}
	w->next = w->prev = NULL;
	pthread_mutex_unlock(&fs->mu);
}

int64_t lotad_reader_wait(lotad_store_reader *r, uint64_t have, int timeout_ms)
{
	if (!r->following)
		return lotad_reader_readable(r);
	struct fillsh *fs = r->e->fs;
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	if (timeout_ms >= 0) {
		uint64_t ns = (uint64_t)ts.tv_nsec + (uint64_t)timeout_ms * 1000000u;
		ts.tv_sec += (time_t)(ns / 1000000000u);
		ts.tv_nsec = (long)(ns % 1000000000u);
	}
	int64_t rc;
	pthread_mutex_lock(&fs->mu);
	for (;;) {
		rc = lotad_reader_readable(r);
		if (rc < 0 || (uint64_t)rc > have || atomic_load(&r->e->state) != EXT_FILLING)
			break;
		int w = timeout_ms < 0 ? pthread_cond_wait(&fs->cv, &fs->mu)
		                       : pthread_cond_timedwait(&fs->cv, &fs->mu, &ts);
		if (w == ETIMEDOUT) {
			rc = lotad_reader_readable(r);
			if (rc >= 0 && (uint64_t)rc <= have &&
			    atomic_load(&r->e->state) == EXT_FILLING)
				rc = -ETIMEDOUT;
			break;
		}
	}
	pthread_mutex_unlock(&fs->mu);
	return rc;
}

/* ------------------------------------------------------------------ fills */

/* Called with fs->mu held: wake waiters and watchers. */
static void notify_locked(struct fillsh *fs)
{
	pthread_cond_broadcast(&fs->cv);
	for (lotad_fill_watch *w = fs->watchers; w; w = w->next)
		w->fn(w->ud);
}

/*
 * Pick the dir of a new fill of `need` bytes and make its room (s->lock held): the first
 * healthy dir in placement order that has the room; else the first one that can make it
 * by evicting least-recently-used extents nobody holds. Nothing cached is thrown away
 * while another healthy dir has room, and the bytes are reserved before the fill starts
 * (by the caller, under the same lock), so a dir never holds more than its capacity,
 * fills in progress included. Returns 0, or -ENOSPC (counted) when no healthy dir has or
 * can make the room.
 */
static int choose_dir(lotad_store *s, lota_hash128 h, uint64_t need, unsigned *out)
{
	size_t order[LOTAD_STORE_MAX_DIRS];
	int n = lota_placement_rank(s->place, h, order, s->ndirs);
	if (n < 0)
		return n;
	bool healthy = false;
	for (int i = 0; i < n; i++) {
		unsigned d = (unsigned)order[i];
		if (!dir_healthy(s, d))
			continue;
		healthy = true;
		if (atomic_load(&s->dirs[d].used) + need <= s->dirs[d].capacity) {
			*out = d;
			return 0;
		}
	}
	for (int i = 0; healthy && i < n; i++) {
		unsigned d = (unsigned)order[i];
		if (dir_healthy(s, d) && make_room_locked(s, d, need)) {
			*out = d;
			return 0;
		}
	}
	atomic_fetch_add(healthy ? &s->fills_refused : &s->fills_refused_degraded, 1);
	return -ENOSPC;
}

int lotad_fill_begin(lotad_store *s, const uint8_t *key, size_t key_len, uint64_t data_len,
                     const uint8_t *meta, size_t meta_len, lotad_fill **out)
{
	if (!s || !out || !key || key_len == 0 || (!meta && meta_len))
		return -EINVAL;
	*out = NULL;
	if (key_len > LOTA_CACHE_KEY_MAX_LEN || meta_len > LOTAD_STORE_META_MAX ||
	    data_len > LOTAD_STORE_DATA_MAX)
		return LOTA_E_TOO_LARGE;
	int rc = -ENOMEM;
	lotad_fill *f = calloc(1, sizeof(*f));
	struct ext *e = calloc(1, sizeof(*e));
	struct fillsh *fs = calloc(1, sizeof(*fs));
	uint8_t *hb = malloc(round_up(HDR_MAX, HDR_ALIGN));
	uint8_t *plain = malloc(key_len + meta_len);
	if (!f || !e || !fs || !hb || !plain) {
		free(plain);
		free(f);
		free(e);
		free(fs);
		free(hb);
		return rc;
	}
	pthread_mutex_init(&fs->mu, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&fs->cv, &ca);
	pthread_condattr_destroy(&ca);
	fs->fd = -1;
	fs->plain = plain;
	memcpy(plain, key, key_len);
	if (meta_len)
		memcpy(plain + key_len, meta, meta_len);
	e->fs = fs;
	f->s = s;
	f->e = e;
	f->fd = -1;
	f->bs = s->block_size;
	f->sealed = s->encrypt;
	f->data_len = data_len;

	lotad_store_header *h = &fs->h;
	h->flags = f->sealed ? LOTAD_STORE_FLAG_SEALED : 0;
	h->block_size = f->bs;
	h->data_len = data_len;
	h->key = key;
	h->key_len = key_len;
	h->meta = meta;
	h->meta_len = meta_len;
	if ((rc = lota__random_bytes(h->salt, sizeof(h->salt))))
		goto fail_free;
	rc = lotad_store__header_encode(h, s->hdr_key, hb, round_up(HDR_MAX, HDR_ALIGN));
	if (rc < 0)
		goto fail_free;
	h->key = plain; /* views into our own copy from now on */
	h->meta = meta_len ? plain + key_len : NULL;
	f->data_off = h->data_off;
	e->h = h->hash;
	e->file_bytes = h->data_off + stored_len(f->sealed, data_len, f->bs);
	atomic_init(&e->refs, 2); /* the index and the fill */
	atomic_init(&e->state, EXT_FILLING);
	atomic_init(&e->readable, 0);
	f->wb_off = f->data_off;
	if (!(f->blk = malloc((size_t)f->bs + LOTAD_STORE_TAG_LEN)) ||
	    !(f->wb = malloc((size_t)f->bs + LOTAD_STORE_TAG_LEN + 4096))) {
		rc = -ENOMEM;
		goto fail_free;
	}

	/* single-flight: claim the name in the index before any disk work */
	pthread_mutex_lock(&s->lock);
	if (idx_find(s, e->h)) {
		pthread_mutex_unlock(&s->lock);
		rc = -EEXIST;
		goto fail_free;
	}
	rc = choose_dir(s, e->h, e->file_bytes, &e->dir);
	if (rc) {
		pthread_mutex_unlock(&s->lock);
		goto fail_free;
	}
	atomic_fetch_add(&s->dirs[e->dir].used, e->file_bytes);
	idx_insert(s, e);
	pthread_mutex_unlock(&s->lock);
	atomic_fetch_add(&s->fills_in_progress, 1);
	evict_kick(s, e->dir); /* room made up to the capacity: back to the low watermark */

	char hex[LOTA_HASH128_HEX_LEN + 1];
	lota_hash128_format(e->h, hex);
	const char *root = s->dirs[e->dir].path;
	snprintf(f->final_path, sizeof(f->final_path), "%s/%.2s/%.2s", root, hex, hex + 2);
	const char *what = "mkdir";
	if ((rc = mkdir_p(f->final_path)))
		goto fail_disk;
	snprintf(f->final_path, sizeof(f->final_path), "%s/%.2s/%.2s/%s", root, hex, hex + 2, hex);
	snprintf(f->tmp_path, sizeof(f->tmp_path), "%s/tmp/%s.%" PRIuFAST64 ".tmp", root, hex,
	         atomic_fetch_add(&s->tmp_seq, 1));
	what = "create";
	f->fd = open(f->tmp_path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (f->fd < 0) {
		rc = -errno;
		goto fail_disk;
	}
	what = "write";
	if ((rc = write_all(f->fd, hb, h->data_off, 0)))
		goto fail_disk;
	pthread_mutex_lock(&fs->mu);
	fs->fd = f->fd; /* readers dup it; the fill closes its own at the end */
	pthread_cond_broadcast(&fs->cv);
	pthread_mutex_unlock(&fs->mu);
	if ((f->fd = fcntl(fs->fd, F_DUPFD_CLOEXEC, 0)) < 0) {
		rc = -errno;
		what = "dup";
		goto fail_disk;
	}
	free(hb);
	*out = f;
	return 0;

fail_disk:
	dir_failed(s, e->dir, rc, what);
	f->failed = true;
	free(hb);
	lotad_fill_abort(f);
	return rc;
fail_free:
	free(hb);
	free(f->blk);
	free(f->wb);
	free(f);
	fillsh_free(fs);
	free(e);
	return rc;
}

/* Write f->wb (the pending bytes from the page-aligned offset wb_off), then keep only
 * the last partial page: the next write starts at its page boundary again and rewrites
 * it whole. Every write thus starts on a page boundary and everything sealed is in the
 * file (readable) at once. */
static int wb_write(lotad_fill *f)
{
	if (!f->wb_len)
		return 0;
	int rc = write_all(f->fd, f->wb, f->wb_len, f->wb_off);
	if (rc) {
		dir_failed(f->s, f->e->dir, rc, "write");
		return rc;
	}
	size_t whole = f->wb_len & ~(size_t)4095;
	memmove(f->wb, f->wb + whole, f->wb_len - whole);
	f->wb_len -= whole;
	f->wb_off += whole;
	return 0;
}

/* Seal (when on) the block in f->blk (blk_fill bytes) into the write buffer, write what
 * fills whole pages, and publish the blocks that are now entirely in the file. */
static int flush_block(lotad_fill *f)
{
	lotad_store *s = f->s;
	uint64_t bi = f->flushed_blocks;
	size_t n = f->blk_fill;
	int rc;
	uint8_t *out = f->wb + f->wb_len;
	if (f->sealed) {
		uint8_t nonce[LOTA__GCM_NONCE_LEN], aad[32];
		block_nonce(nonce, f->e->fs->h.salt, bi);
		block_aad(aad, f->e->h, bi, f->data_len);
		rc = lota__aead_seal(s->data_key, nonce, aad, sizeof(aad), f->blk, n, out, out + n);
		if (rc)
			return rc;
		n += LOTAD_STORE_TAG_LEN;
	} else {
		memcpy(out, f->blk, n);
	}
	f->wb_len += n;
	if ((rc = wb_write(f)))
		return rc;
	f->flushed_blocks++;
	f->blk_fill = 0;
	uint64_t readable = f->flushed_blocks * f->bs;
	if (readable > f->data_len)
		readable = f->data_len;
	struct fillsh *fs = f->e->fs;
	pthread_mutex_lock(&fs->mu);
	atomic_store(&f->e->readable, readable);
	notify_locked(fs);
	pthread_mutex_unlock(&fs->mu);
	return 0;
}

int lotad_fill_write(lotad_fill *f, const void *data, size_t len)
{
	if (!f || (!data && len))
		return -EINVAL;
	if (f->failed)
		return -EIO;
	if (len > f->data_len - f->written)
		return -EFBIG;
	const uint8_t *p = data;
	while (len > 0) {
		size_t n = f->bs - f->blk_fill;
		if (n > len)
			n = len;
		memcpy(f->blk + f->blk_fill, p, n);
		f->blk_fill += n;
		f->written += n;
		p += n;
		len -= n;
		if (f->blk_fill == f->bs) {
			int rc = flush_block(f);
			if (rc) {
				f->failed = true;
				return rc;
			}
		}
	}
	return 0;
}

uint64_t lotad_fill_written_bytes(const lotad_fill *f)
{
	return f->written;
}

uint64_t lotad_fill_readable_bytes(const lotad_fill *f)
{
	return atomic_load(&f->e->readable);
}

lota_hash128 lotad_fill_hash(const lotad_fill *f)
{
	return f->e->h;
}

int lotad_fill_open_reader(lotad_fill *f, lotad_store_reader **out)
{
	const lotad_store_header *h = &f->e->fs->h;
	return lotad_store_open(f->s, f->e->h, h->key, h->key_len, out);
}

/* End of a fill: state change, wake everyone, close, drop the fill's reference. */
static void fill_finish(lotad_fill *f, int state)
{
	lotad_store *s = f->s;
	struct ext *e = f->e;
	struct fillsh *fs = e->fs;
	bool unindex = false;
	if (state == EXT_FAILED) {
		pthread_mutex_lock(&s->lock);
		unindex = e->indexed;
		if (unindex)
			idx_remove(s, e);
		pthread_mutex_unlock(&s->lock);
	}
	pthread_mutex_lock(&fs->mu);
	if (state == EXT_READY)
		atomic_store(&e->readable, f->data_len);
	atomic_store(&e->state, state);
	notify_locked(fs);
	fs->watchers = NULL;
	if (fs->fd >= 0)
		close(fs->fd);
	fs->fd = -1;
	pthread_mutex_unlock(&fs->mu);
	if (state == EXT_READY) {
		pthread_mutex_lock(&s->lock);
		if (e->indexed) {
			lru_unlink(&s->dirs[e->dir], e);
			lru_push_head(&s->dirs[e->dir], e);
		}
		pthread_mutex_unlock(&s->lock);
		atomic_fetch_add(&s->fills_committed, 1);
	} else {
		atomic_fetch_add(&s->fills_aborted, 1);
	}
	atomic_fetch_sub(&s->fills_in_progress, 1);
	unsigned dir = e->dir;
	if (unindex)
		ext_unref(s, e);
	ext_unref(s, e);
	if (f->fd >= 0)
		close(f->fd);
	free(f->blk);
	free(f->wb);
	free(f);
	evict_kick(s, dir);
}

void lotad_fill_abort(lotad_fill *f)
{
	if (!f)
		return;
	if (f->tmp_path[0])
		(void)unlink(f->tmp_path);
	fill_finish(f, EXT_FAILED);
}

int lotad_fill_commit(lotad_fill *f)
{
	if (!f)
		return -EINVAL;
	int rc = f->failed ? -EIO : 0;
	if (rc == 0 && f->written != f->data_len)
		rc = LOTA_E_INCOMPLETE;
	if (rc == 0 && f->blk_fill > 0 && (rc = flush_block(f)))
		goto fail;
	if (rc)
		goto fail;
	lotad_store *s = f->s;
	unsigned d = f->e->dir;
	if (fdatasync(f->fd) != 0) {
		rc = -errno;
		dir_failed(s, d, rc, "fdatasync");
		goto fail;
	}
	if (rename(f->tmp_path, f->final_path) != 0) {
		rc = -errno;
		dir_failed(s, d, rc, "rename");
		goto fail;
	}
	if (s->fsync_dir) {
		char dpath[PATH_CAP];
		memcpy(dpath, f->final_path, sizeof(dpath));
		char *slash = strrchr(dpath, '/');
		if (slash)
			*slash = '\0';
		int dfd = open(dpath, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (dfd >= 0) {
			(void)fsync(
			    dfd); /* best effort: the data is safe, only the name may be lost */
			close(dfd);
		}
	}
	fill_finish(f, EXT_READY);
	return 0;
fail:
	lotad_fill_abort(f);
	return rc;
}

/* ------------------------------------------------------------------ maintenance */

int lotad_store_lookup(lotad_store *s, lota_hash128 h)
{
	pthread_mutex_lock(&s->lock);
	struct ext *e = idx_find(s, h);
	int rc = -ENOENT;
	if (e) {
		int st = atomic_load(&e->state);
		rc = st == EXT_READY ? 1 : st == EXT_FILLING ? 0 : -ENOENT;
	}
	pthread_mutex_unlock(&s->lock);
	return rc;
}

int lotad_store_drop(lotad_store *s, lota_hash128 h)
{
	pthread_mutex_lock(&s->lock);
	struct ext *e = idx_find(s, h);
	int rc = -ENOENT;
	if (e && atomic_load(&e->state) != EXT_READY) {
		rc = -EBUSY;
	} else if (e) {
		char path[PATH_CAP];
		ext_path(s, e->dir, h, path, sizeof(path));
		idx_remove(s, e);
		(void)unlink(path);
		rc = 0;
	}
	pthread_mutex_unlock(&s->lock);
	if (rc == 0)
		ext_unref(s, e);
	return rc;
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
		ds->degraded = !dir_healthy(s, d);
		o->used_bytes += ds->used_bytes;
		o->capacity_bytes += ds->capacity_bytes;
		o->extents += ds->extents;
		o->degraded_dirs += ds->degraded;
	}
	o->evictions = atomic_load(&s->evictions);
	o->fills_in_progress = atomic_load(&s->fills_in_progress);
	o->fills_committed = atomic_load(&s->fills_committed);
	o->fills_aborted = atomic_load(&s->fills_aborted);
	o->fills_refused = atomic_load(&s->fills_refused);
	o->fills_refused_degraded = atomic_load(&s->fills_refused_degraded);
	o->write_errors = atomic_load(&s->write_errors);
	o->read_errors = atomic_load(&s->read_errors);
	o->tag_failures = atomic_load(&s->tag_failures);
	o->corrupt_dropped = atomic_load(&s->corrupt_dropped);
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
	tb_printf(&b,
	          "# HELP lota_cache_extents Extents in the cache index.\n"
	          "# TYPE lota_cache_extents gauge\nlota_cache_extents %" PRIu64 "\n"
	          "# HELP lota_evictions_total Extents removed by eviction.\n"
	          "# TYPE lota_evictions_total counter\nlota_evictions_total %" PRIu64 "\n"
	          "# HELP lota_cache_fills_in_progress Fills writing into the cache now.\n"
	          "# TYPE lota_cache_fills_in_progress gauge\n"
	          "lota_cache_fills_in_progress %" PRIu64 "\n"
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
	          st.extents, st.evictions, st.fills_in_progress, st.fills_refused,
	          st.fills_refused_degraded, st.write_errors, st.read_errors, st.tag_failures,
	          st.corrupt_dropped);
	return b.len;
}
