/*
 * store-internal.h - what the files of store/ share, and nothing outside store/ includes.
 *
 * The files, one idea each:
 *   - format.c: the extent file's header codec (encode / parse+verify, pure functions over
 *     byte buffers) and the nonces and AAD that seal data blocks;
 *   - index.c: `struct ext`, one per extent known to the store: reference counted (one
 *     reference for the index, one per reader, one for a fill in progress). The bytes of
 *     an extent count against its dir from creation until its last reference is gone, so
 *     an unlinked file still held open is still counted. The index: a chained hash table
 *     on the 128-bit name plus one LRU list per dir, all under s->lock. s->lock is never
 *     held across a call that can block for long, except unlink() in eviction/drop (done
 *     under the lock so that a new fill of the same name can never be published between
 *     the removal from the index and the unlink);
 *   - fill.c: the writer seals whole blocks from its own buffer and pwrites them; the
 *     shared part (`struct fillsh`: state, readable prefix, watchers, condvar) lets
 *     readers follow it;
 *   - reader.c: readers of published extents and of fills in progress;
 *   - evict.c: eviction, least recently opened first, of extents only the index holds:
 *     room made for a fill before it starts (choose_dir in fill.c), and the background
 *     thread that keeps a dir between its watermarks;
 *   - scan.c: the start-up scan that rebuilds the index from the files;
 *   - store.c: the store's life (configuration, open, free), dirs and disk I/O, stats
 *     and metrics.
 * Lock order: s->lock, then a fillsh's mu. Watch callbacks run under the fillsh's mu.
 * Functions shared between the files are named store_*.
 */
#ifndef LOTAD_STORE_INTERNAL_H
#define LOTAD_STORE_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>

#include "crypto-internal.h"
#include "store/store.h"
#include "util/clock.h"

#define HDR_FIXED   64u
#define HDR_ALIGN   4096u
#define HDR_MAC_LEN 16u /* the GCM tag of the sealed key and meta */
#define HDR_MAX     (HDR_FIXED + LOTA_CACHE_KEY_MAX_LEN + LOTAD_STORE_META_MAX + HDR_MAC_LEN)
#define HDR_VERSION 1u
#define PATH_CAP    (LOTAD_STORE_DIR_PATH_MAX + 64)
#define EVICT_BATCH 4096u

enum { EXT_FILLING = 0, EXT_READY = 1, EXT_FAILED = 2 };

/* What a fill shares with the readers that follow it. */
struct fillsh {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	lotad_list watchers;  /* lotad_fill_watch.node */
	int fd;               /* the temp file (the writer's); -1 after commit/abort */
	uint8_t *plain;       /* key | meta in clear (h.key and h.meta point into it) */
	lotad_store_header h; /* parsed form of hdr */
};

/* A plaintext copy of a whole published extent in RAM (ram.c). */
struct ramcopy {
	atomic_uint refs; /* its extent's (while attached) and each reader's */
	struct ext *e;    /* while attached (s->lock) */
	lotad_list node;  /* in s->ram_lru while attached, most recently opened first */
	uint64_t len;
	uint8_t *data;
};

struct ext {
	lota_hash128 h;
	struct ext *hnext;   /* hash chain */
	lotad_list lru_node; /* in its dir's lru */
	unsigned dir;
	bool indexed;
	uint64_t file_bytes;
	int64_t mtime; /* start-up ordering only */
	atomic_uint refs;
	atomic_int state;
	atomic_uint_fast64_t readable;
	struct fillsh *fs;   /* set while created by a fill (also after its commit) */
	struct ramcopy *ram; /* its copy in the RAM tier (ram.c; s->lock) */
};

struct dirstate {
	char path[LOTAD_STORE_DIR_PATH_MAX];
	uint64_t capacity;
	atomic_uint_fast64_t used;
	atomic_uint_fast64_t extents;
	atomic_int_fast64_t degraded_until_ms;
	lotad_list lru; /* struct ext.lru_node, most recently opened first */
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
	int fill_io;
	int sealed_io; /* LOTAD_SEALED_IO_* */
	uint32_t block_size;
	unsigned high_pct, low_pct;
	uint32_t evict_interval_ms, degraded_retry_ms;
	atomic_uint_fast64_t tmp_seq;
	/* counters */
	atomic_uint_fast64_t evictions, fills_in_progress, fills_peak, fills_committed,
	    fills_aborted, fills_refused, fills_refused_degraded, write_errors, read_errors,
	    tag_failures, corrupt_dropped;
	/* the RAM tier (ram.c): ram_used counts copies and copies being made, reserved
	 * under lock before they are allocated */
	uint64_t ram_cap;
	lotad_list ram_lru;
	atomic_uint_fast64_t ram_used, ram_hits, ram_fills, ram_evictions;
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
	uint8_t *blk; /* nblk sealed blocks (bs + tag each), read by one pread */
	uint32_t nblk;
	lota__aead_key *aead; /* the data key's schedule, made at the first sealed read */
	void *map;            /* plain: the data mapped (lotad_reader_plain_map), or NULL */
	uint8_t *smap;        /* sealed: the blocks mapped (reader_sealed_span), or NULL */
	size_t smap_len;
	bool smap_off;       /* sealed: no mapping for this reader (pread instead) */
	struct ramcopy *ram; /* the extent's RAM copy when it had one at open (ram.c) */
	uint8_t *build;      /* a copy being made by this reader's in-order reads */
	uint64_t build_next;
	bool ram_refused; /* no copy by this reader (no room, or not read in order) */
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
	size_t wb_len, wb_blocks; /* bytes in wb; whole sealed blocks it holds besides a page */
	uint64_t wb_off;          /* file offset of wb[0] */
	uint64_t synced_off;      /* write-back started up to here (fill_io sync-range) */
	char tmp_path[PATH_CAP], final_path[PATH_CAP];
};

static inline void put_be(uint8_t *p, uint64_t v, int n)
{
	for (int i = n - 1; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

static inline uint64_t get_be(const uint8_t *p, int n)
{
	uint64_t v = 0;
	for (int i = 0; i < n; i++)
		v = (v << 8) | p[i];
	return v;
}

static inline uint64_t round_up(uint64_t v, uint64_t a)
{
	return (v + a - 1) / a * a;
}

static inline bool hash_eq(lota_hash128 a, lota_hash128 b)
{
	return a.hi == b.hi && a.lo == b.lo;
}

static inline bool block_size_ok(uint64_t bs)
{
	return bs >= 4096 && bs <= (1u << 20) && (bs & (bs - 1)) == 0;
}

/* Bytes of data on disk for data_len plaintext bytes. */
static inline uint64_t stored_len(bool sealed, uint64_t data_len, uint32_t bs)
{
	if (!sealed)
		return data_len;
	return data_len + (data_len + bs - 1) / bs * LOTAD_STORE_TAG_LEN;
}

/* --- format.c --- */
void store_block_aad(uint8_t aad[32], lota_hash128 h, uint64_t idx, uint64_t data_len);
void store_block_nonce(uint8_t nonce[LOTA__GCM_NONCE_LEN], const uint8_t salt[8], uint64_t idx);

/* --- index.c (s->lock held, but for the refcounting) --- */
void store_fillsh_free(struct fillsh *fs);
void store_ext_unref(lotad_store *s, struct ext *e);
struct ext *store_idx_find(lotad_store *s, lota_hash128 h);
void store_idx_insert(lotad_store *s, struct ext *e);
void store_idx_remove(lotad_store *s, struct ext *e);
void store_drop_ext(lotad_store *s, struct ext *e, bool corrupt);

/* --- evict.c --- */
bool store_make_room_locked(lotad_store *s, unsigned d, uint64_t need);
void *store_evict_thread(void *arg);
void store_evict_kick(lotad_store *s, unsigned d);

/* --- scan.c --- */
int store_scan_dir(lotad_store *s, unsigned dir);

/* --- store.c: dirs and disk I/O --- */
void store_ext_path(const lotad_store *s, unsigned dir, lota_hash128 h, char *out, size_t cap);
bool store_dir_healthy(lotad_store *s, unsigned d);
void store_dir_failed(lotad_store *s, unsigned d, int err, const char *what);
int store_mkdir_p(const char *path);
int store_write_all(int fd, const void *buf, size_t len, uint64_t off);
int store_read_full(int fd, void *buf, size_t len, uint64_t off);
int store_read_header(lotad_store *s, int fd, uint8_t **bufp, lotad_store_header *h);

/* ram.c: the RAM tier */
/* Drop e's copy (s->lock held): e leaves the index. */
void store_ram_detach_locked(lotad_store *s, struct ext *e);
/* A reader opens e (s->lock held): a reference to e's copy, or NULL. */
struct ramcopy *store_ram_open_locked(lotad_store *s, struct ext *e);
/* A read of r of [off, off + n) succeeded into src: make the copy as reads go. */
void store_ram_note_read(lotad_store_reader *r, uint64_t off, const uint8_t *src, size_t n);
void store_ram_reader_close(lotad_store_reader *r);
void store_ram_unref(lotad_store *s, struct ramcopy *rc);

#endif
