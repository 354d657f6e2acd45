/*
 * store.h - lotad's on-disk extent store: the node cache on local disks
 * (docs/architecture.md §5; eviction §6, failures §7).
 *
 * An extent (one cached piece of an object, see lota/extent.h) lives in one file
 *     DIR/ab/cd/<32 hex digits of the XXH3-128 of its canonical cache key>
 * in one of several cache dirs, chosen by weighted rendezvous hashing (weight = capacity)
 * over the dirs that are healthy and have room. No path ever comes from a user's key.
 * The key and its name are liblota's (lota_extent_key, lota_cache_key_hash_canonical), so
 * every program that names an extent names it as the store files it.
 *
 * File format (version 1; all integers big-endian):
 *     0  "LOTAEXT1"             8   magic
 *     8  u16 version            2   1
 *    10  u16 flags              2   bit 0: data sealed (encrypted); other bits zero
 *    12  u32 block_size         4   plaintext bytes per block, power of two, 4 KiB..1 MiB
 *    16  u64 data_len           8   plaintext length of the extent
 *    24  u32 key_len            4   1..LOTA_CACHE_KEY_MAX_LEN
 *    28  u32 meta_len           4   0..LOTAD_STORE_META_MAX
 *    32  u32 data_off           4   round_up(64 + key_len + meta_len + 16, 4096)
 *    36  u32 reserved           4   zero
 *    40  salt                   8   random per file (nonce prefix of the sealed blocks)
 *    48  hash                  16   XXH3-128 of the key (hi then lo)
 *    64  key                        the full canonical cache key (checked on open)
 *     .  meta                       the opaque metadata blob of the proxy
 *     .  tag                   16   key and meta are sealed with AES-256-GCM under the
 *                                   header key (nonce = salt | ffffffff, AAD = bytes
 *                                   0..63): names and metadata are encrypted at rest
 *                                   too, and any change to the header fails the tag
 *     .  zero padding up to data_off, then the data:
 *   plain:  data_len bytes as they are (pread / sendfile friendly, page aligned)
 *   sealed: block i = AES-256-GCM(ciphertext of min(block_size, rest) bytes | 16-byte tag)
 *           at data_off + i * (block_size + 16); nonce = salt | u32 i; AAD = hash | u64 i |
 *           u64 data_len, so a block cannot be moved to another index, file or length.
 * The header is sealed in both modes. The header key and the data key are HKDF-SHA256 of
 * the node secret with distinct labels: a different node secret makes every file
 * unreadable (its header fails to verify).
 * Nonce uniqueness under one data key rests on the 64-bit random salt per file.
 *
 * Life of an extent: lotad_fill_begin() reserves its bytes, inserts it in the index as
 * "filling" (single-flight: a second begin for the same key gets -EEXIST and opens a
 * reader instead) and writes DIR/tmp/<hex>.<n>.tmp; lotad_fill_commit() fdatasyncs it and
 * renames it to its final name (atomic publication; a crash leaves at worst a temp file,
 * which start-up removes). Start-up rebuilds the index from the files, deleting invalid
 * ones; the LRU order is rebuilt from file mtimes.
 *
 * Growing fills: a reader opened while the extent is filling reads the temp file through a
 * duplicate of the writer's descriptor, so it keeps working across the rename. It may
 * read [0, readable) where readable grows by whole blocks (the last, shorter one with the
 * extent's last byte: a fill that has every byte is readable whole before it commits).
 * Progress is signalled to waiters by lotad_reader_wait() (blocking, for thread
 * pools) and to watch callbacks (for event loops: the callback typically writes 1 to the
 * loop's own eventfd; see lotad_fill_watch). After an abort the reader gets -ECANCELED.
 *
 * Eviction (LRU): a fill that does not fit in any healthy dir evicts, before it starts,
 * as few least-recently-opened extents of one dir as make its room (the first dir in
 * placement order that can; no eviction while another healthy dir has room). Its bytes
 * are reserved under the index lock at once, so a dir never holds more than its
 * capacity, fills in progress included. A fill is refused (-ENOSPC, counted) only when
 * no healthy dir can make the room. Besides, a background thread keeps each dir between
 * its low and high watermark (% of capacity) in the same order. An extent with a
 * reference (an open reader or its fill) is never removed; its bytes count until the
 * last reference.
 *
 * Failures: a write error (ENOSPC, EROFS, EIO, ...) fails that fill cleanly and marks the
 * dir degraded for degraded_retry_ms (no new fills go there); then it is tried again. A
 * block whose tag does not verify is never returned (LOTA_E_AUTH_TAG) and its extent is
 * dropped so it is refetched. Every negative return of open/begin means "serve without
 * the cache" for the proxy; none is fatal.
 *
 * Threads: every function may be called from any thread; the index is one mutex-protected
 * hash table (O(1) lookups, short critical sections). One reader or fill handle is used
 * by one thread at a time.
 */
#ifndef LOTAD_STORE_H
#define LOTAD_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <lota/common.h>
#include <lota/placement.h>

#include "util/list.h"

#define LOTAD_STORE_MAX_DIRS      16
#define LOTAD_STORE_DIR_PATH_MAX  1024         /* bytes of a cache dir path, NUL included */
#define LOTAD_STORE_META_MAX      8192u        /* bytes of the metadata blob */
#define LOTAD_STORE_BLOCK_DEFAULT (64u << 10)  /* plaintext bytes per sealed block */
#define LOTAD_STORE_DATA_MAX      (1ull << 40) /* bytes of one extent */
#define LOTAD_STORE_SECRET_LEN    32
#define LOTAD_STORE_TAG_LEN       16

/* One cache dir: where and how many bytes (headers included) it may hold. */
typedef struct lotad_store_dir_spec {
	char path[LOTAD_STORE_DIR_PATH_MAX];
	uint64_t capacity_bytes;
} lotad_store_dir_spec;

/*
 * Parse "DIR:SIZE" (the --cache-dir flag): the size after the last ':' in lota_parse_size
 * syntax ("500GiB", "1T", "1048576"), > 0. Returns 0, or LOTA_E_CONFIG_VALUE for a missing
 * or empty part, a bad or zero size, or a path that does not fit.
 */
int lotad_store_parse_dir_spec(const char *s, size_t len, lotad_store_dir_spec *out) LOTA_WUR;

typedef struct lotad_store_config {
	const lotad_store_dir_spec *dirs; /* 1..LOTAD_STORE_MAX_DIRS, copied */
	size_t num_dirs;
	const uint8_t *node_secret;  /* LOTAD_STORE_SECRET_LEN bytes (nodesecret.h), copied */
	bool encrypt;                /* seal new extents (default true); existing files keep
	                               their own mode */
	uint32_t block_size;         /* power of two, 4 KiB..1 MiB (default 64 KiB) */
	unsigned high_watermark_pct; /* background eviction starts above this (default 95) */
	unsigned low_watermark_pct;  /* and stops at or below this (default 90) */
	uint32_t evict_interval_ms;  /* background check period (default 1000); 0 = no thread
	                                (tests then call lotad_store_evict_now) */
	uint32_t degraded_retry_ms;  /* how long a failing dir gets no fills (default 30000) */
	/* fsync the final dir after the rename of a fill. Off by default: without it a crash
	 * may forget a just-published extent (it is refetched later; the temp file is removed
	 * at start), which costs nothing in correctness; with it each fill pays one more
	 * synchronous metadata write. The data itself is always fdatasync'd before the
	 * rename, so a published name never points at missing data. */
	bool fsync_dir;
	/* How fills write (lotad_store_fill_io): through the page cache as it comes
	 * (buffered, the default), or also starting the write-back of each
	 * LOTAD_STORE_SYNC_CHUNK written (sync-range: sync_file_range WRITE, never waiting),
	 * so that the fdatasync of the publication finds little left to write and dirty pages
	 * do not pile up behind a fast upstream. */
	int fill_io;
	/* the RAM tier (ram.c): at most this many bytes of plaintext copies of whole
	 * extents, made by hits that read an extent in order, served to the next ones
	 * without a disk read or a decryption (0 = off, the default) */
	uint64_t ram_bytes;
	/* How sealed extents are read (lotad_store_sealed_io): decrypted straight from a
	 * mapping of the published file (mmap, the default: one copy fewer per byte), or
	 * read by pread into a buffer first (pread). A reader following a fill in progress
	 * always uses pread. */
	int sealed_io;
} lotad_store_config;

enum { LOTAD_FILL_IO_BUFFERED = 0, LOTAD_FILL_IO_SYNC_RANGE = 1 };
enum { LOTAD_SEALED_IO_MMAP = 0, LOTAD_SEALED_IO_PREAD = 1 };
#define LOTAD_STORE_SYNC_CHUNK (8u << 20)

/* Fill *c with the defaults (no dirs, no secret). */
void lotad_store_config_init(lotad_store_config *c);

typedef struct lotad_store lotad_store;
typedef struct lotad_store_reader lotad_store_reader;
typedef struct lotad_fill lotad_fill;

/*
 * Open the store: create the dirs (0700) when missing, remove temp files, rebuild the
 * index from the extent files (deleting the invalid ones), start the eviction thread.
 * Returns 0 and *out; -EINVAL for a bad config; -errno when a dir cannot be created or
 * read; -ENOMEM.
 */
int lotad_store_new(const lotad_store_config *cfg, lotad_store **out) LOTA_WUR;
/* Stop the thread and free everything. Every reader must be closed and every fill
 * committed or aborted before. NULL is fine. */
void lotad_store_free(lotad_store *s);

/* ---- reading ---- */

/*
 * Open the extent `h` whose canonical cache key is key[0..key_len): a committed one, or
 * one being filled (the reader then sees its growing prefix). Pins the extent and moves
 * it to the MRU end. Returns 0 and *out; -ENOENT when not cached (a miss); -ESTALE when
 * the file holds another key and LOTA_E_AUTH_TAG / -EBADMSG when its header is forged or
 * corrupt (the extent is dropped in both cases); -errno; -ENOMEM.
 */
int lotad_store_open(lotad_store *s, lota_hash128 h, const uint8_t *key, size_t key_len,
                     lotad_store_reader **out) LOTA_WUR;
/* Unpin and free. NULL is fine. */
void lotad_reader_close(lotad_store_reader *r);

/* The extent's full plaintext length (known from the start, also while filling). */
uint64_t lotad_reader_length(const lotad_store_reader *r);
/* The metadata blob stored with the extent (owned by the reader, valid until close). */
lota_str lotad_reader_meta(const lotad_store_reader *r);
/* Whether the extent is sealed (encrypted at rest). */
bool lotad_reader_encrypted(const lotad_store_reader *r);
/* Bytes readable now: lotad_reader_length() once complete, a growing prefix while the fill
 * runs, -ECANCELED once the fill was aborted. */
int64_t lotad_reader_readable(const lotad_store_reader *r);

/*
 * Copy plaintext [off, off + len) into buf, limited to what is readable. Sealed data is
 * read and checked block by block through one buffer of the reader (no allocation).
 * Returns the number of bytes copied (> 0), 0 at or after the end of the extent, -EAGAIN
 * when off is at or beyond the readable prefix of a growing fill (wait, then retry),
 * -ECANCELED after an abort, LOTA_E_AUTH_TAG when a block fails its tag (nothing of it is
 * copied; the extent is dropped), -EIO for a short or failing read (also dropped).
 */
ssize_t lotad_reader_read(lotad_store_reader *r, uint64_t off, void *buf, size_t len) LOTA_WUR;

/*
 * Plain extents only: the descriptor and the file offset of byte 0 of the data, for
 * pread + write or sendfile by the caller (bytes [data_off, data_off + readable)).
 * The fd belongs to the reader (valid until close). -ENOTSUP for sealed extents.
 */
int lotad_reader_plain_fd(const lotad_store_reader *r, int *fd, uint64_t *data_off) LOTA_WUR;

/* The extent's plaintext in the RAM tier, when it had a copy there at open: *data points
 * at byte 0, lotad_reader_length() bytes, valid until close. -ENOENT otherwise. */
int lotad_reader_ram(const lotad_store_reader *r, const uint8_t **data) LOTA_WUR;
/* Whether a read of r at off would go into a RAM copy being made (the RAM tier is on,
 * the extent has no copy yet and this reader reads it in order from byte 0): a caller
 * that could send the bytes another way (sendfile) reads them instead, so that the
 * extent's next hits come from RAM. */
bool lotad_reader_ram_would_copy(const lotad_store_reader *r, uint64_t off);
/* This reader makes no RAM copy (its bytes leave another way, e.g. by sendfile: a copy
 * would only reserve room and evict others). */
void lotad_reader_ram_off(lotad_store_reader *r);

/*
 * Plain, complete extents only: the extent's data mapped read-only (made at the first
 * call, unmapped at close): *data points at byte 0, lotad_reader_length() bytes long.
 * -ENOTSUP for sealed extents, -EAGAIN while the extent is still being filled, -errno
 * of mmap. A disk error while the mapping is read is a SIGBUS, not an error code: that
 * is the price of the one copy (plain_hit_io = mmap).
 */
int lotad_reader_plain_map(lotad_store_reader *r, const uint8_t **data) LOTA_WUR;

/*
 * Progress notification. A watch is caller-owned storage registered on a reader; its fn
 * is called (from the filling thread, with the fill's lock held, so it must be short and
 * must not call back into the store: write an eventfd, post to a loop) each time the
 * readable prefix grows, and when the fill commits or aborts. After lotad_reader_unwatch()
 * returns the fn is not running and will not be called again. Watching a complete extent
 * registers nothing and returns 1 (nothing will ever change); else 0.
 */
typedef void (*lotad_fill_notify_fn)(void *ud);
typedef struct lotad_fill_watch {
	lotad_fill_notify_fn fn;
	void *ud;
	lotad_list node; /* owned by the store while registered */
} lotad_fill_watch;
int lotad_reader_watch(lotad_store_reader *r, lotad_fill_watch *w, lotad_fill_notify_fn fn,
                       void *ud);
void lotad_reader_unwatch(lotad_store_reader *r, lotad_fill_watch *w);

/* Block until more than `have` bytes are readable, the fill ends, or timeout_ms passes
 * (< 0: no limit). Returns lotad_reader_readable(), or -ETIMEDOUT. */
int64_t lotad_reader_wait(lotad_store_reader *r, uint64_t have, int timeout_ms);

/* ---- filling ---- */

/*
 * Start filling the extent whose canonical key is key[0..key_len), data_len bytes long,
 * with meta[0..meta_len) kept beside it. Returns 0 and *out; -EEXIST when the extent is
 * cached or being filled (open it instead); -ENOSPC when no healthy dir has or can make
 * the room (evicting least-recently-used extents nobody reads or fills; see Eviction);
 * LOTA_E_TOO_LARGE for meta above LOTAD_STORE_META_MAX, a key above
 * LOTA_CACHE_KEY_MAX_LEN or data above LOTAD_STORE_DATA_MAX; -EINVAL; -errno of the disk
 * (the dir is then degraded).
 */
int lotad_fill_begin(lotad_store *s, const uint8_t *key, size_t key_len, uint64_t data_len,
                     const uint8_t *meta, size_t meta_len, lotad_fill **out) LOTA_WUR;
/* Append data. Returns 0, -EFBIG past data_len, or the disk's -errno (the fill is then
 * failed: abort it). */
int lotad_fill_write(lotad_fill *f, const void *data, size_t len) LOTA_WUR;
/* Bytes appended so far, and bytes readers can read now (whole blocks). */
uint64_t lotad_fill_written_bytes(const lotad_fill *f);
uint64_t lotad_fill_readable_bytes(const lotad_fill *f);
lota_hash128 lotad_fill_hash(const lotad_fill *f);
/* A reader of this fill (same as lotad_store_open on its key). */
int lotad_fill_open_reader(lotad_fill *f, lotad_store_reader **out) LOTA_WUR;
/*
 * Publish: flush, fdatasync, rename to the final name. Consumes f in every case. Returns
 * 0; LOTA_E_INCOMPLETE when fewer than data_len bytes were written (aborted instead);
 * the disk's -errno (aborted, dir degraded).
 */
int lotad_fill_commit(lotad_fill *f) LOTA_WUR;
/* Drop the fill (temp file unlinked, readers get -ECANCELED). Consumes f; NULL is fine. */
void lotad_fill_abort(lotad_fill *f);

/* ---- maintenance and observability ---- */

/* Whether the index holds the extent named h: 1 published, 0 being filled, -ENOENT not at
 * all. A cheap probe (no file is opened, the key is not checked): answers "is this a hit"
 * before the extent is opened. */
int lotad_store_lookup(lotad_store *s, lota_hash128 h);
/* As lotad_store_lookup, and while the extent is being filled (0) *readable gets the bytes
 * a reader can read now (its readable prefix: the whole extent once the fill has written
 * every byte, before its publication). */
int lotad_store_probe(lotad_store *s, lota_hash128 h, uint64_t *readable);

/* Remove an extent (e.g. after a PUT/DELETE of its object through lotad): it leaves the
 * index at once, its file is unlinked; open readers keep reading. -ENOENT if absent,
 * -EBUSY while it is being filled. */
int lotad_store_drop(lotad_store *s, lota_hash128 h);

/*
 * The objects whose extents the store holds, as their files name them: fn is called once
 * per published extent with the fields of its canonical cache key (lota/placement.h:
 * bucket, object key as stored (decoded), ETag, version id, object size, extent index)
 * and the metadata blob kept beside it (views valid during the call only). Extents come
 * least recently opened first, dir by dir, so a later call is about a more recent copy.
 * Each header is read from its file again (nothing of it is kept in memory); an extent
 * evicted or dropped meanwhile, or whose header does not verify, is skipped. Returns the
 * number of extents reported, or -ENOMEM. Any thread; fn must not call into the store.
 */
typedef struct lotad_store_object {
	lota_cache_key key;
	lota_str meta;
	lota_hash128 name;
} lotad_store_object;
typedef void (*lotad_store_object_fn)(void *ud, const lotad_store_object *o);
int lotad_store_objects(lotad_store *s, lotad_store_object_fn fn, void *ud);

/* One eviction pass over every dir now (what the thread does). Returns the number of
 * extents removed. */
size_t lotad_store_evict_now(lotad_store *s);

typedef struct lotad_store_dir_stats {
	uint64_t used_bytes; /* extents and fills in progress, headers included */
	uint64_t capacity_bytes;
	uint64_t extents; /* in the index (committed and filling) */
	bool degraded;
} lotad_store_dir_stats;

typedef struct lotad_store_stats {
	size_t num_dirs;
	lotad_store_dir_stats dirs[LOTAD_STORE_MAX_DIRS];
	uint64_t used_bytes, capacity_bytes, extents;
	uint64_t evictions; /* extents removed by eviction (for a fill or in the background) */
	uint64_t fills_in_progress;
	uint64_t fills_in_progress_max; /* the most fills writing at once since start */
	uint64_t fills_committed, fills_aborted;
	uint64_t fills_refused;          /* no healthy dir had or could make the room */
	uint64_t fills_refused_degraded; /* no healthy dir at all */
	uint64_t write_errors;           /* failed disk writes (fills) */
	uint64_t read_errors;            /* failed or short disk reads */
	uint64_t tag_failures;           /* blocks or headers that did not verify */
	uint64_t corrupt_dropped;        /* files deleted as invalid (start-up scan, open) */
	uint64_t degraded_dirs;          /* dirs currently degraded */
	/* the RAM tier: bytes held (copies and copies being made) and its bound, opens that
	 * found a copy, copies made, copies evicted to make room */
	uint64_t ram_bytes, ram_capacity_bytes, ram_hits, ram_fills, ram_evictions;
} lotad_store_stats;

void lotad_store_get_stats(lotad_store *s, lotad_store_stats *out);

/*
 * A lotad_metrics_provider (daemon/metrics.h; ud = the store): lota_cache_bytes{dir},
 * lota_cache_capacity_bytes{dir}, lota_cache_extents, lota_cache_dir_degraded{dir},
 * lota_evictions_total, lota_cache_fills_in_progress, lota_cache_fills_in_progress_max,
 * lota_cache_fills_refused_total{reason="no_room"|"degraded"} and
 * lota_store_errors_total{kind="write"|"read"|"auth_tag"|"corrupt"}. dir is the index of
 * the dir in the configuration (paths are not labels).
 */
size_t lotad_store_metrics(char *out, size_t cap, void *store);

/* ---- internal: the header codec (fuzzing) and fault injection (tests) ---- */

typedef struct lotad_store_header {
	uint16_t flags;
	uint32_t block_size;
	uint64_t data_len;
	uint32_t data_off;
	uint8_t salt[8];
	lota_hash128 hash;
	const uint8_t *key; /* views into the parsed buffer */
	size_t key_len;
	const uint8_t *meta;
	size_t meta_len;
	size_t header_len; /* 64 + key_len + meta_len + 16 (the tag) */
} lotad_store_header;

#define LOTAD_STORE_FLAG_SEALED 1u

/*
 * Parse and verify a header in buf[0..len) with the 32-byte header key, decrypting key
 * and meta in place (on a tag failure that region is wiped). Returns 0; LOTA_E_INCOMPLETE
 * when more bytes are needed (at least 64, then header_len); -EBADMSG for a malformed
 * field or a hash that is not the key's; -EPROTONOSUPPORT for another version;
 * LOTA_E_AUTH_TAG when the tag does not verify.
 */
int lotad_store__header_parse(uint8_t *buf, size_t len, const uint8_t hdr_key[32],
                              lotad_store_header *out) LOTA_WUR;
/* Encode h (key/meta views set, hash and data_off computed here) into buf (cap >= data_off);
 * writes data_off bytes (zero padded). Returns data_off or a negative code. */
int lotad_store__header_encode(lotad_store_header *h, const uint8_t hdr_key[32], uint8_t *buf,
                               size_t cap) LOTA_WUR;
/* Parse a canonical cache key (lota/placement.h) key[0..len) into its fields (views into
 * key). Returns 0, or -EBADMSG when the bytes are not exactly one canonical key. */
int lotad_store__key_parse(const uint8_t *key, size_t len, lota_cache_key *out) LOTA_WUR;
/* Tests: replace pwrite for every store write (NULL restores it). Not thread-safe. */
typedef ssize_t (*lotad_store_pwrite_fn)(int fd, const void *buf, size_t len, off_t off);
void lotad_store__set_pwrite_hook(lotad_store_pwrite_fn fn);

#endif
