/*
 * fill.c - fills: the dir of a new extent chosen and its room reserved (single-flight
 * per name through the index), its temp file written block by block (sealed into a
 * page-aligned buffer), readers told of each block, then published by fdatasync +
 * rename, or aborted.
 *
 * The write path copies as little as it can: whole blocks are taken straight from the
 * caller's buffer (plain ones written from it, sealed ones sealed from it into the write
 * buffer); only a block that arrives in pieces is staged in f->blk. Readers are told once
 * per lotad_fill_write call, not once per block (fewer wake-ups of their loops).
 */
#include "store/store-internal.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Sealed blocks the write buffer holds besides the page carried over (at least one):
 * about this many bytes go to the kernel per write. One 64 KiB block, as before: a fill's
 * buffers are not in the per-connection memory bound, so they do not grow. */
#define WB_TARGET_BYTES (64u << 10)

/* Called with fs->mu held: wake waiters and watchers. */
static void notify_locked(struct fillsh *fs)
{
	pthread_cond_broadcast(&fs->cv);
	for (lotad_list *it = fs->watchers.next; it != &fs->watchers; it = it->next) {
		lotad_fill_watch *w = lotad_list_entry(it, lotad_fill_watch, node);
		w->fn(w->ud);
	}
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
		if (!store_dir_healthy(s, d))
			continue;
		healthy = true;
		if (atomic_load(&s->dirs[d].used) + need <= s->dirs[d].capacity) {
			*out = d;
			return 0;
		}
	}
	for (int i = 0; healthy && i < n; i++) {
		unsigned d = (unsigned)order[i];
		if (store_dir_healthy(s, d) && store_make_room_locked(s, d, need)) {
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
	lotad_list_init(&fs->watchers);
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
	f->synced_off = f->data_off & ~(uint64_t)4095;
	f->wb_blocks = f->bs >= WB_TARGET_BYTES ? 1 : WB_TARGET_BYTES / f->bs;
	if (!(f->blk = malloc((size_t)f->bs + LOTAD_STORE_TAG_LEN)) ||
	    !(f->wb = malloc(f->wb_blocks * ((size_t)f->bs + LOTAD_STORE_TAG_LEN) + 4096))) {
		rc = -ENOMEM;
		goto fail_free;
	}

	/* single-flight: claim the name in the index before any disk work */
	pthread_mutex_lock(&s->lock);
	if (store_idx_find(s, e->h)) {
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
	store_idx_insert(s, e);
	pthread_mutex_unlock(&s->lock);
	uint64_t now = atomic_fetch_add(&s->fills_in_progress, 1) + 1;
	uint64_t peak = atomic_load(&s->fills_peak);
	while (now > peak && !atomic_compare_exchange_weak(&s->fills_peak, &peak, now))
		;
	store_evict_kick(s, e->dir); /* room made up to the capacity: back to the low watermark */

	char hex[LOTA_HASH128_HEX_LEN + 1];
	lota_hash128_format(e->h, hex);
	const char *root = s->dirs[e->dir].path;
	snprintf(f->final_path, sizeof(f->final_path), "%s/%.2s/%.2s", root, hex, hex + 2);
	const char *what = "mkdir";
	if ((rc = store_mkdir_p(f->final_path)))
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
	if ((rc = store_write_all(f->fd, hb, h->data_off, 0)))
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
	store_dir_failed(s, e->dir, rc, what);
	f->failed = true;
	free(hb);
	lotad_fill_abort(f);
	return rc;
fail_free:
	free(hb);
	free(f->blk);
	free(f->wb);
	free(f);
	store_fillsh_free(fs);
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
	int rc = store_write_all(f->fd, f->wb, f->wb_len, f->wb_off);
	if (rc) {
		store_dir_failed(f->s, f->e->dir, rc, "write");
		return rc;
	}
	size_t whole = f->wb_len & ~(size_t)4095;
	memmove(f->wb, f->wb + whole, f->wb_len - whole);
	f->wb_len -= whole;
	f->wb_off += whole;
	return 0;
}

/* fill_io sync-range: start the write-back of what is final (whole pages before the one
 * carried over in wb) once a chunk of it has piled up. It never waits: the fdatasync of
 * the publication does, off the loop thread. Errors show there too. */
static void sync_some(lotad_fill *f)
{
	if (f->s->fill_io != LOTAD_FILL_IO_SYNC_RANGE)
		return;
	uint64_t upto = f->wb_off & ~(uint64_t)4095;
	if (upto - f->synced_off < LOTAD_STORE_SYNC_CHUNK)
		return;
	(void)sync_file_range(f->fd, (off64_t)f->synced_off, (off64_t)(upto - f->synced_off),
	                      SYNC_FILE_RANGE_WRITE);
	f->synced_off = upto;
}

/* Put n bytes at p (whole blocks, the last one short only when it ends the extent) into
 * the file: plain ones written straight from p when nothing waits in wb, else sealed (or
 * copied) into wb and written from there. Counts the blocks as flushed; the caller counts
 * the bytes and tells the readers. */
static int put_blocks(lotad_fill *f, const uint8_t *p, size_t n)
{
	lotad_store *s = f->s;
	uint64_t nblocks = (n + f->bs - 1) / f->bs;
	int rc;
	if (!f->sealed && f->wb_len == 0) {
		if ((rc = store_write_all(f->fd, p, n, f->wb_off))) {
			store_dir_failed(s, f->e->dir, rc, "write");
			return rc;
		}
		f->wb_off += n; /* a multiple of the block size, so of the page, but at the end */
	} else {
		for (uint64_t i = 0; i < nblocks; i++) {
			size_t b = n - i * f->bs < f->bs ? n - i * f->bs : f->bs;
			const uint8_t *in = p + i * f->bs;
			uint8_t *out = f->wb + f->wb_len;
			if (f->sealed) {
				uint64_t bi = f->flushed_blocks + i;
				uint8_t nonce[LOTA__GCM_NONCE_LEN], aad[32];
				store_block_nonce(nonce, f->e->fs->h.salt, bi);
				store_block_aad(aad, f->e->h, bi, f->data_len);
				rc = lota__aead_seal(s->data_key, nonce, aad, sizeof(aad), in, b,
				                     out, out + b);
				if (rc)
					return rc;
				f->wb_len += b + LOTAD_STORE_TAG_LEN;
			} else {
				memcpy(out, in, b);
				f->wb_len += b;
			}
		}
		if ((rc = wb_write(f)))
			return rc;
	}
	f->flushed_blocks += nblocks;
	sync_some(f);
	return 0;
}

/* Readers may read every flushed block now: wake them. */
static void tell_readers(lotad_fill *f)
{
	uint64_t readable = f->flushed_blocks * f->bs;
	if (readable > f->data_len)
		readable = f->data_len;
	struct fillsh *fs = f->e->fs;
	pthread_mutex_lock(&fs->mu);
	atomic_store(&f->e->readable, readable);
	notify_locked(fs);
	pthread_mutex_unlock(&fs->mu);
}

/* The bytes of data[0..len) that go to put_blocks at once, straight from the caller's
 * buffer: whole blocks (up to what wb holds, unless they are written from data itself),
 * and the extent's last short block with its last byte. 0: stage them. */
static size_t run_len(const lotad_fill *f, size_t len)
{
	if (f->blk_fill)
		return 0;
	uint64_t rest = f->data_len - f->written;
	size_t n = len >= rest ? (size_t)rest : len / f->bs * f->bs;
	bool direct = !f->sealed && f->wb_len == 0;
	size_t cap = f->wb_blocks * f->bs;
	if (!direct && n > cap)
		n = cap;
	return n;
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
	uint64_t flushed0 = f->flushed_blocks;
	int rc = 0;
	while (len > 0) {
		size_t n = run_len(f, len);
		if (n) {
			if ((rc = put_blocks(f, p, n)))
				break;
			f->written += n;
			p += n;
			len -= n;
			continue;
		}
		n = f->bs - f->blk_fill;
		if (n > len)
			n = len;
		memcpy(f->blk + f->blk_fill, p, n);
		f->blk_fill += n;
		f->written += n;
		p += n;
		len -= n;
		/* the last block, however short, goes out with the extent's last byte: readers
		 * then have every byte as soon as the fill does, not after its publication (a
		 * read of a complete fill is a hit) */
		if (f->blk_fill == f->bs || f->written == f->data_len) {
			if ((rc = put_blocks(f, f->blk, f->blk_fill)))
				break;
			f->blk_fill = 0;
		}
	}
	if (rc) {
		f->failed = true;
		return rc;
	}
	if (f->flushed_blocks != flushed0)
		tell_readers(f);
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
			store_idx_remove(s, e);
		pthread_mutex_unlock(&s->lock);
	}
	pthread_mutex_lock(&fs->mu);
	if (state == EXT_READY)
		atomic_store(&e->readable, f->data_len);
	atomic_store(&e->state, state);
	notify_locked(fs);
	lotad_list_init(&fs->watchers); /* forgotten: unwatch finds them gone */
	if (fs->fd >= 0)
		close(fs->fd);
	fs->fd = -1;
	pthread_mutex_unlock(&fs->mu);
	if (state == EXT_READY) {
		pthread_mutex_lock(&s->lock);
		if (e->indexed) {
			lotad_list_remove(&e->lru_node);
			lotad_list_insert_head(&s->dirs[e->dir].lru, &e->lru_node);
		}
		pthread_mutex_unlock(&s->lock);
		atomic_fetch_add(&s->fills_committed, 1);
	} else {
		atomic_fetch_add(&s->fills_aborted, 1);
	}
	atomic_fetch_sub(&s->fills_in_progress, 1);
	unsigned dir = e->dir;
	if (unindex)
		store_ext_unref(s, e);
	store_ext_unref(s, e);
	if (f->fd >= 0)
		close(f->fd);
	free(f->blk);
	free(f->wb);
	free(f);
	store_evict_kick(s, dir);
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
	if (rc == 0 && f->blk_fill > 0) {
		if ((rc = put_blocks(f, f->blk, f->blk_fill)))
			goto fail;
		f->blk_fill = 0;
		tell_readers(f);
	}
	if (rc)
		goto fail;
	lotad_store *s = f->s;
	unsigned d = f->e->dir;
	if (fdatasync(f->fd) != 0) {
		rc = -errno;
		store_dir_failed(s, d, rc, "fdatasync");
		goto fail;
	}
	if (rename(f->tmp_path, f->final_path) != 0) {
		rc = -errno;
		store_dir_failed(s, d, rc, "rename");
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
