/*
 * reader.c - readers: an extent opened from its published file or, while it is being
 * filled, from the fill's temp file (a duplicate of the writer's descriptor) up to the
 * readable prefix; sealed blocks read and checked one at a time; progress told to
 * watchers and waiters.
 */
#include "store/store-internal.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

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

/* Sealed blocks read by one pread: fewer system calls per byte, and a buffer of at most
 * READ_SPAN bytes per open reader (one block when blocks are that large). */
#define READ_SPAN (256u << 10)

static int reader_setup_blocks(lotad_store_reader *r)
{
	if (!r->sealed)
		return 0;
	r->nblk = r->bs < READ_SPAN ? READ_SPAN / r->bs : 1;
	r->blk = malloc((size_t)r->nblk * ((size_t)r->bs + LOTAD_STORE_TAG_LEN));
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
	store_ext_path(s, r->e->dir, r->e->h, path, sizeof(path));
	r->fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (r->fd < 0) {
		int rc = -errno;
		if (rc == -ENOENT) /* removed behind our back: forget it */
			store_drop_ext(s, r->e, false);
		return rc;
	}
	lotad_store_header h;
	int rc = store_read_header(s, r->fd, &r->hdr, &h);
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
		store_drop_ext(s, r->e, true);
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
	struct ext *e = store_idx_find(s, h);
	struct ramcopy *ram = NULL;
	if (e) {
		ram = atomic_load(&e->state) == EXT_READY ? store_ram_open_locked(s, e) : NULL;
		atomic_fetch_add(&e->refs, 1);
		lotad_list_remove(&e->lru_node);
		lotad_list_insert_head(&s->dirs[e->dir].lru, &e->lru_node);
	}
	pthread_mutex_unlock(&s->lock);
	if (!e)
		return -ENOENT;
	lotad_store_reader *r = NULL;
	int rc = reader_alloc(s, e, &r);
	if (rc) {
		if (ram)
			store_ram_unref(s, ram);
		store_ext_unref(s, e);
		return rc;
	}
	r->ram = ram;
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
	store_ram_reader_close(r);
	free(r->hdr);
	free(r->blk);
	lota__aead_key_free(r->aead);
	if (r->map)
		munmap(r->map, (size_t)r->data_len);
	if (r->smap)
		munmap(r->smap, r->smap_len);
	store_ext_unref(r->s, r->e);
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

int lotad_reader_plain_map(lotad_store_reader *r, const uint8_t **data)
{
	if (r->sealed)
		return -ENOTSUP;
	if (!r->map) {
		if (lotad_reader_readable(r) < (int64_t)r->data_len || !r->data_len)
			return -EAGAIN; /* a growing file: bytes past its end would be a SIGBUS */
		/* data_off is page aligned (the format rounds it to 4096) */
		void *m = mmap(NULL, (size_t)r->data_len, PROT_READ, MAP_SHARED | MAP_POPULATE,
		               r->fd, (off_t)r->data_off);
		if (m == MAP_FAILED)
			return -errno;
		(void)madvise(m, (size_t)r->data_len, MADV_SEQUENTIAL);
		r->map = m;
	}
	*data = r->map;
	return 0;
}

#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22 /* Linux 5.14 */
#endif

/*
 * The sealed bytes [soff, soff + len) of a published extent, straight from a mapping of
 * its file, or NULL: the cipher then reads them where the page cache holds them, with
 * no copy into r->blk first. Each span is populated before it is touched
 * (MADV_POPULATE_READ), so a page the disk cannot give fails that call instead of
 * raising SIGBUS; after such a failure, and when the mapping cannot be made (or the
 * kernel is older than 5.14), this reader goes on by pread, which reports the error as
 * it always did. A reader following a fill never maps: its file is still growing.
 * After use, reader_sealed_done lets go of the span's pages (the page cache keeps them),
 * so that a reader holds at most about one span mapped: 300 readers of one 64 MiB
 * extent do not count 300 x 64 MiB of mapped file in lotad's RSS. The cipher reads the
 * page cache itself, not a private copy: whoever could change the file while it is read
 * (lotad's user or root: 0600 files in 0700 dirs) can read the node secret as well, so
 * this opens nothing that pread closed.
 */
/* The start of the page holding P (madvise takes page-aligned addresses; glibc answers
 * _SC_PAGESIZE from a value it holds, no system call). */
static uintptr_t page_floor(const void *p)
{
	return (uintptr_t)p & ~((uintptr_t)sysconf(_SC_PAGESIZE) - 1);
}

static const uint8_t *reader_sealed_span(lotad_store_reader *r, uint64_t soff, size_t len)
{
	if (r->smap_off || r->following || r->s->sealed_io != LOTAD_SEALED_IO_MMAP)
		return NULL;
	if (!r->smap) {
		uint64_t nb = (r->data_len + r->bs - 1) / r->bs;
		uint64_t slen = r->data_len + nb * LOTAD_STORE_TAG_LEN;
		/* data_off is page aligned (the format rounds it to 4096) */
		void *m = slen == 0 || slen > SIZE_MAX
		              ? MAP_FAILED
		              : mmap(NULL, (size_t)slen, PROT_READ, MAP_SHARED, r->fd,
		                     (off_t)r->data_off);
		if (m == MAP_FAILED) {
			r->smap_off = true;
			return NULL;
		}
		(void)madvise(m, (size_t)slen, MADV_SEQUENTIAL);
		r->smap = m;
		r->smap_len = (size_t)slen;
	}
	if (soff > r->smap_len || len > r->smap_len - soff) {
		r->smap_off = true;
		return NULL;
	}
	uintptr_t a = page_floor(r->smap + soff);
	if (madvise((void *)a, (uintptr_t)(r->smap + soff + len) - a, MADV_POPULATE_READ) != 0) {
		r->smap_off = true;
		return NULL;
	}
	return r->smap + soff;
}

static void reader_sealed_done(const uint8_t *span, size_t len)
{
	uintptr_t a = page_floor(span);
	/* the span's last page may hold the next span's first bytes: it stays */
	uintptr_t b = page_floor(span + len);
	if (b > a)
		(void)madvise((void *)a, b - a, MADV_DONTNEED);
}

static void reader_failed(lotad_store_reader *r, int rc)
{
	if (rc == LOTA_E_AUTH_TAG)
		atomic_fetch_add(&r->s->tag_failures, 1);
	else
		atomic_fetch_add(&r->s->read_errors, 1);
	if (!r->following || atomic_load(&r->e->state) == EXT_READY)
		store_drop_ext(r->s, r->e, true);
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
	if (r->ram) { /* the RAM tier's copy: verified when it was made */
		memcpy(dst, r->ram->data + off, (size_t)(end - off));
		return (ssize_t)(end - off);
	}
	if (!r->sealed) {
		rc = store_read_full(r->fd, dst, (size_t)(end - off), r->data_off + off);
		if (rc) {
			rc = rc == LOTA_E_INCOMPLETE ? -EIO : rc;
			reader_failed(r, rc);
			return rc;
		}
		store_ram_note_read(r, off, buf, (size_t)(end - off));
		return (ssize_t)(end - off);
	}
	uint64_t pos = off;
	const uint64_t bs = r->bs, sbs = bs + LOTAD_STORE_TAG_LEN;
	if (!r->aead && !(r->aead = lota__aead_key_new(r->s->data_key))) {
		lota__wipe(buf, (size_t)(end - off));
		return -ENOMEM;
	}
	while (pos < end) {
		/* blocks bi .. bi + nb - 1, every one complete in the file (a growing fill's
		 * readable prefix ends on a block boundary or at the extent's end) */
		uint64_t bi = pos / bs, nb = (end - 1) / bs - bi + 1;
		if (nb > r->nblk)
			nb = r->nblk;
		uint64_t pend = (bi + nb) * bs < r->data_len ? (bi + nb) * bs : r->data_len;
		size_t span = (size_t)(pend - bi * bs + nb * LOTAD_STORE_TAG_LEN);
		const uint8_t *src = reader_sealed_span(r, bi * sbs, span);
		if (!src) {
			rc = store_read_full(r->fd, r->blk, span, r->data_off + bi * sbs);
			if (rc)
				goto fail;
			src = r->blk;
		}
		for (uint64_t j = 0; j < nb && pos < end; j++, bi++) {
			const uint8_t *cb = src + j * sbs;
			uint8_t *scratch = r->blk + j * sbs; /* cb itself when read by pread */
			uint64_t boff = pos % bs;
			size_t blen =
			    (size_t)(r->data_len - bi * bs < bs ? r->data_len - bi * bs : bs);
			uint8_t nonce[LOTA__GCM_NONCE_LEN], aad[32];
			store_block_nonce(nonce, r->salt, bi);
			store_block_aad(aad, r->e->h, bi, r->data_len);
			size_t n = (size_t)(blen - boff < end - pos ? blen - boff : end - pos);
			if (boff == 0 &&
			    n == blen) { /* whole block: straight into the caller's buffer */
				rc = lota__aead_key_open(r->aead, nonce, aad, sizeof(aad), cb, blen,
				                         dst, cb + blen);
			} else {
				rc = lota__aead_key_open(r->aead, nonce, aad, sizeof(aad), cb, blen,
				                         scratch, cb + blen);
				if (rc == 0)
					memcpy(dst, scratch + boff, n);
			}
			if (rc)
				goto fail;
			dst += n;
			pos += n;
		}
		if (src != r->blk)
			reader_sealed_done(src, span);
	}
	store_ram_note_read(r, off, buf, (size_t)(end - off));
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
		lotad_list_insert_head(&fs->watchers, &w->node);
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
	for (lotad_list *it = fs->watchers.next; it != &fs->watchers; it = it->next) {
		if (it == &w->node) {
			lotad_list_remove(it);
			break;
		}
	}
	w->node.next = w->node.prev = NULL;
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
