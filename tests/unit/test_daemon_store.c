/*
 * test_daemon_store.c - lotad's extent store and node secret: round trips (plain and
 * sealed, edge sizes, arbitrary ranges), readers of a growing fill, tampering (data
 * block, swapped blocks, header, key, renamed file, other node secret), start-up (temp
 * files, rebuilt index, invalid files), LRU eviction with watermarks and pins, room made
 * for a fill by evicting (fits exactly, one, several, all pinned -> refused and counted,
 * fills in progress, unequal dirs, the scan of the LRU issue), capacity,
 * dir failures through the pwrite fault hook, metrics text, the header codec, HKDF, and a
 * printed (not asserted) read throughput of a 256 MiB extent.
 *
 * Every test works in its own mkdtemp() directory under $TMPDIR (or /tmp), removed at
 * the end.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <lota/placement.h>

#include "crypto-internal.h"
#include "store/nodesecret.h"
#include "store/store.h"

#include "unit.h"

#define BS 4096u /* small blocks keep the edge-size tests quick */

static const uint8_t secret1[32] = {1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11, 12, 13, 14, 15, 16,
                                    17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31};
static const uint8_t secret2[32] = {9, 9, 9};

static char root[256];

static void setup_root(void)
{
	CU_ASSERT_TRUE_FATAL(lota_unit_tmpdir("lota-store", root, sizeof(root)));
}

static void cleanup_root(void)
{
	lota_unit_rmtree(root);
}

/* The canonical key of object "obj-<n>" extent <idx>. */
typedef struct tkey {
	uint8_t b[512];
	size_t len;
	lota_hash128 h;
} tkey;

static tkey mkkey(int n, uint64_t idx)
{
	tkey k;
	char name[64];
	int nl = snprintf(name, sizeof(name), "dir/obj-%d", n);
	lota_cache_key ck = {.bucket = LOTA_STR_LIT("bucket"),
	                     .key = {name, (size_t)nl},
	                     .etag = LOTA_STR_LIT("\"0123abcd\""),
	                     .size_bytes = 1 << 30,
	                     .extent_index = idx};
	int len = lota_cache_key_canonical(&ck, k.b, sizeof(k.b));
	CU_ASSERT_FATAL(len > 0);
	k.len = (size_t)len;
	CU_ASSERT_EQUAL_FATAL(lota_cache_key_hash(&ck, &k.h), 0);
	return k;
}

typedef struct topts {
	bool plain;
	uint64_t cap[2];
	size_t ndirs;
	const uint8_t *secret;
	uint32_t evict_ms, retry_ms, bs;
	int fill_io;
	int sealed_io;
} topts;

static lotad_store *open_store(topts o)
{
	lotad_store_dir_spec d[2];
	size_t nd = o.ndirs ? o.ndirs : 1;
	for (size_t i = 0; i < nd; i++) {
		snprintf(d[i].path, sizeof(d[i].path), "%s/d%zu", root, i);
		d[i].capacity_bytes = o.cap[i] ? o.cap[i] : (1ull << 30);
	}
	lotad_store_config c;
	lotad_store_config_init(&c);
	c.dirs = d;
	c.num_dirs = nd;
	c.node_secret = o.secret ? o.secret : secret1;
	c.encrypt = !o.plain;
	c.block_size = o.bs ? o.bs : BS;
	c.evict_interval_ms = o.evict_ms;
	c.degraded_retry_ms = o.retry_ms ? o.retry_ms : 30000;
	c.fill_io = o.fill_io;
	c.sealed_io = o.sealed_io;
	lotad_store *s = NULL;
	int rc = lotad_store_new(&c, &s);
	CU_ASSERT_EQUAL(rc, 0);
	return s;
}

static int put(lotad_store *s, const tkey *k, const uint8_t *data, size_t len, const char *meta)
{
	lotad_fill *f = NULL;
	int rc = lotad_fill_begin(s, k->b, k->len, len, (const uint8_t *)meta,
	                          meta ? strlen(meta) : 0, &f);
	if (rc)
		return rc;
	size_t off = 0;
	while (off < len) { /* uneven pieces */
		size_t n = len - off < 7777 ? len - off : 7777;
		if ((rc = lotad_fill_write(f, data + off, n))) {
			lotad_fill_abort(f);
			return rc;
		}
		off += n;
	}
	return lotad_fill_commit(f);
}

static void file_path(const char *dir, lota_hash128 h, char *out, size_t cap)
{
	char hex[33];
	lota_hash128_format(h, hex);
	snprintf(out, cap, "%s/%.2s/%.2s/%s", dir, hex, hex + 2, hex);
}

static void dir_path(int i, char *out, size_t cap)
{
	snprintf(out, cap, "%s/d%d", root, i);
}

static void ext_file(lota_hash128 h, char *out, size_t cap)
{
	char d[300];
	dir_path(0, d, sizeof(d));
	file_path(d, h, out, cap);
}

static void flip_byte(const char *path, off_t off)
{
	int fd = open(path, O_RDWR);
	CU_ASSERT_FATAL(fd >= 0);
	uint8_t b;
	CU_ASSERT_EQUAL(pread(fd, &b, 1, off), 1);
	b ^= 0x20;
	CU_ASSERT_EQUAL(pwrite(fd, &b, 1, off), 1);
	close(fd);
}

static size_t count_files(const char *dir)
{
	char cmd[512];
	snprintf(cmd, sizeof(cmd), "find '%s' -type f | wc -l", dir);
	FILE *p = popen(cmd, "r");
	size_t n = 0;
	if (p) {
		if (fscanf(p, "%zu", &n) != 1)
			n = (size_t)-1;
		pclose(p);
	}
	return n;
}

/* ------------------------------------------------------------ crypto and parsing */

static void test_hkdf_rfc5869(void)
{
	/* RFC 5869 test case 1 */
	uint8_t ikm[22], salt[13], info[10], okm[42];
	memset(ikm, 0x0b, sizeof(ikm));
	for (int i = 0; i < 13; i++)
		salt[i] = (uint8_t)i;
	for (int i = 0; i < 10; i++)
		info[i] = (uint8_t)(0xf0 + i);
	CU_ASSERT_EQUAL(lota__hkdf_sha256(ikm, sizeof(ikm), salt, sizeof(salt), info, sizeof(info),
	                                  okm, sizeof(okm)),
	                0);
	char hex[85];
	lota__hex_encode(okm, sizeof(okm), hex);
	CU_ASSERT_STRING_EQUAL(hex,
	                       "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf"
	                       "34007208d5b887185865");
	/* different info, different key; bad arguments refused */
	uint8_t o2[42];
	CU_ASSERT_EQUAL(lota__hkdf_sha256(ikm, sizeof(ikm), salt, sizeof(salt), "x", 1, o2, 42), 0);
	CU_ASSERT_NOT_EQUAL(memcmp(o2, okm, 42), 0);
	CU_ASSERT_EQUAL(lota__hkdf_sha256(ikm, sizeof(ikm), NULL, 0, NULL, 0, o2, 0), -EINVAL);
	CU_ASSERT_EQUAL(lota__hkdf_sha256(ikm, sizeof(ikm), NULL, 0, NULL, 0, o2, 255 * 32 + 1),
	                -EINVAL);
	CU_ASSERT_EQUAL(lota__hkdf_sha256(NULL, 3, NULL, 0, NULL, 0, o2, 32), -EINVAL);
}

static void test_parse_dir_spec(void)
{
	lotad_store_dir_spec d;
	CU_ASSERT_EQUAL(lotad_store_parse_dir_spec("/var/cache/lota:10GiB", 21, &d), 0);
	CU_ASSERT_STRING_EQUAL(d.path, "/var/cache/lota");
	CU_ASSERT_EQUAL(d.capacity_bytes, 10ull << 30);
	const char *s = "/a:b/c/:4096";
	CU_ASSERT_EQUAL(lotad_store_parse_dir_spec(s, strlen(s), &d), 0);
	CU_ASSERT_STRING_EQUAL(d.path, "/a:b/c");
	CU_ASSERT_EQUAL(d.capacity_bytes, 4096);
	/* (ptr, len): the bytes after len are not looked at */
	CU_ASSERT_EQUAL(lotad_store_parse_dir_spec("/x:1MiBGARBAGE", 7, &d), 0);
	CU_ASSERT_EQUAL(d.capacity_bytes, 1 << 20);
	const char *bad[] = {"", "/nocolon", ":1G", "/a:", "/a:0", "/a:abc", "/a:-5", "/a:1Q"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CU_ASSERT_EQUAL(lotad_store_parse_dir_spec(bad[i], strlen(bad[i]), &d),
		                LOTA_E_CONFIG_VALUE);
	char longp[LOTAD_STORE_DIR_PATH_MAX + 16];
	memset(longp, 'a', sizeof(longp));
	memcpy(longp + sizeof(longp) - 4, ":1G", 3);
	CU_ASSERT_EQUAL(lotad_store_parse_dir_spec(longp, sizeof(longp) - 1, &d),
	                LOTA_E_CONFIG_VALUE);
	CU_ASSERT_EQUAL(lotad_store_parse_dir_spec(NULL, 0, &d), LOTA_E_CONFIG_VALUE);
}

static void test_header_codec(void)
{
	uint8_t key[32], hk[32], buf[8192], copy[8192];
	memset(key, 'k', sizeof(key));
	memset(hk, 7, sizeof(hk));
	lotad_store_header h = {.flags = LOTAD_STORE_FLAG_SEALED,
	                        .block_size = 65536,
	                        .data_len = 123456,
	                        .salt = {1, 2, 3, 4, 5, 6, 7, 8},
	                        .key = key,
	                        .key_len = sizeof(key),
	                        .meta = (const uint8_t *)"meta",
	                        .meta_len = 4};
	int off = lotad_store__header_encode(&h, hk, buf, sizeof(buf));
	CU_ASSERT_EQUAL_FATAL(off, 4096);
	CU_ASSERT_EQUAL(h.header_len, 64 + 32 + 4 + 16);
	/* key and meta are not in the clear */
	CU_ASSERT_PTR_NULL(memmem(buf, (size_t)off, key, sizeof(key)));
	memcpy(copy, buf, sizeof(copy));
	lotad_store_header p;
	CU_ASSERT_EQUAL_FATAL(lotad_store__header_parse(copy, h.header_len, hk, &p), 0);
	CU_ASSERT_EQUAL(p.data_len, 123456);
	CU_ASSERT_EQUAL(p.block_size, 65536);
	CU_ASSERT_EQUAL(p.key_len, 32);
	CU_ASSERT_EQUAL(memcmp(p.key, key, 32), 0);
	CU_ASSERT_EQUAL(p.meta_len, 4);
	CU_ASSERT_EQUAL(memcmp(p.meta, "meta", 4), 0);
	CU_ASSERT_TRUE(p.hash.hi == h.hash.hi && p.hash.lo == h.hash.lo);
	/* too short */
	memcpy(copy, buf, sizeof(copy));
	CU_ASSERT_EQUAL(lotad_store__header_parse(copy, 63, hk, &p), LOTA_E_INCOMPLETE);
	CU_ASSERT_EQUAL(lotad_store__header_parse(copy, h.header_len - 1, hk, &p),
	                LOTA_E_INCOMPLETE);
	/* every single-bit change of every covered byte is refused */
	int accepted = 0;
	for (size_t i = 0; i < h.header_len; i++) {
		memcpy(copy, buf, sizeof(copy));
		copy[i] ^= (uint8_t)(1u << (i % 8));
		if (lotad_store__header_parse(copy, sizeof(copy), hk, &p) == 0)
			accepted++;
	}
	CU_ASSERT_EQUAL(accepted, 0);
	/* another header key */
	memcpy(copy, buf, sizeof(copy));
	hk[0] ^= 1;
	CU_ASSERT_EQUAL(lotad_store__header_parse(copy, sizeof(copy), hk, &p), LOTA_E_AUTH_TAG);
	/* version and magic */
	hk[0] ^= 1;
	memcpy(copy, buf, sizeof(copy));
	copy[9] = 2;
	CU_ASSERT_EQUAL(lotad_store__header_parse(copy, sizeof(copy), hk, &p), -EPROTONOSUPPORT);
	copy[9] = 1;
	copy[0] = 'X';
	CU_ASSERT_EQUAL(lotad_store__header_parse(copy, sizeof(copy), hk, &p), -EBADMSG);
	/* encoder refuses bad input */
	h.block_size = 1000;
	CU_ASSERT_EQUAL(lotad_store__header_encode(&h, hk, buf, sizeof(buf)), -EINVAL);
	h.block_size = 4096;
	h.meta_len = LOTAD_STORE_META_MAX + 1;
	CU_ASSERT_EQUAL(lotad_store__header_encode(&h, hk, buf, sizeof(buf)), LOTA_E_TOO_LARGE);
	h.meta_len = 4;
	CU_ASSERT_EQUAL(lotad_store__header_encode(&h, hk, buf, 100), -ENOBUFS);
}

/* ------------------------------------------------------------ round trips */

static void roundtrip(bool plain, int sealed_io)
{
	setup_root();
	lotad_store *s = open_store((topts){.plain = plain, .sealed_io = sealed_io});
	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	const size_t sizes[] = {0, 1, BS - 1, BS, BS + 1, (3u << 20) + 7};
	size_t maxn = (3u << 20) + 7;
	uint8_t *data = malloc(maxn), *got = malloc(maxn);
	CU_ASSERT_PTR_NOT_NULL_FATAL(data);
	CU_ASSERT_PTR_NOT_NULL_FATAL(got);
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		size_t n = sizes[i];
		tkey k = mkkey((int)i, 0);
		/* the key's name is liblota's (lota_cache_key_hash of the key = the hash of its
		 * canonical bytes), which the store writes into the header */
		lota_hash128 h2 = lota_cache_key_hash_canonical(k.b, k.len);
		CU_ASSERT_TRUE(h2.hi == k.h.hi && h2.lo == k.h.lo);
		lota_unit_pattern(data, n, i + 1);
		CU_ASSERT_EQUAL_FATAL(put(s, &k, data, n, "etag=\"0123abcd\"\ncontent-type: x/y"),
		                      0);
		lotad_store_reader *r = NULL;
		CU_ASSERT_EQUAL_FATAL(lotad_store_open(s, k.h, k.b, k.len, &r), 0);
		CU_ASSERT_EQUAL(lotad_reader_length(r), n);
		CU_ASSERT_EQUAL(lotad_reader_readable(r), (int64_t)n);
		CU_ASSERT_EQUAL(lotad_reader_encrypted(r), !plain);
		lota_str m = lotad_reader_meta(r);
		CU_ASSERT_EQUAL(m.len, strlen("etag=\"0123abcd\"\ncontent-type: x/y"));
		CU_ASSERT_EQUAL(memcmp(m.ptr, "etag=", 5), 0);
		memset(got, 0xee, n);
		ssize_t rn = lotad_reader_read(r, 0, got, n + 100);
		CU_ASSERT_EQUAL(rn, (ssize_t)n);
		CU_ASSERT_EQUAL(memcmp(got, data, n), 0);
		CU_ASSERT_EQUAL(lotad_reader_read(r, n, got, 10), 0); /* end */
		CU_ASSERT_EQUAL(lotad_reader_read(r, n + 5, got, 10), 0);
		/* arbitrary ranges */
		uint64_t x = 12345 + i;
		for (int j = 0; n && j < 300; j++) {
			x = x * 6364136223846793005ull + 1442695040888963407ull;
			size_t off = (size_t)(x >> 20) % n;
			size_t len = (size_t)(x >> 7) % (3 * BS + 3) + 1;
			size_t want = len < n - off ? len : n - off;
			rn = lotad_reader_read(r, off, got, len);
			CU_ASSERT_EQUAL(rn, (ssize_t)want);
			if (rn != (ssize_t)want || memcmp(got, data + off, want) != 0) {
				CU_FAIL("range mismatch");
				break;
			}
		}
		int fd = -1;
		uint64_t doff = 0;
		const uint8_t *map = NULL;
		if (plain) {
			CU_ASSERT_EQUAL(lotad_reader_plain_fd(r, &fd, &doff), 0);
			CU_ASSERT_EQUAL(doff % 4096, 0);
			if (n) {
				CU_ASSERT_EQUAL(pread(fd, got, n, (off_t)doff), (ssize_t)n);
				CU_ASSERT_EQUAL(memcmp(got, data, n), 0);
				/* the mapping is the data, the same on a second call */
				CU_ASSERT_EQUAL_FATAL(lotad_reader_plain_map(r, &map), 0);
				CU_ASSERT_EQUAL(memcmp(map, data, n), 0);
				const uint8_t *map2 = NULL;
				CU_ASSERT_EQUAL(lotad_reader_plain_map(r, &map2), 0);
				CU_ASSERT_PTR_EQUAL(map, map2);
			} else {
				CU_ASSERT_EQUAL(lotad_reader_plain_map(r, &map), -EAGAIN);
			}
		} else {
			CU_ASSERT_EQUAL(lotad_reader_plain_fd(r, &fd, &doff), -ENOTSUP);
			CU_ASSERT_EQUAL(lotad_reader_plain_map(r, &map), -ENOTSUP);
		}
		lotad_reader_close(r);
	}
	lotad_store_stats st;
	lotad_store_get_stats(s, &st);
	CU_ASSERT_EQUAL(st.extents, 6);
	CU_ASSERT_EQUAL(st.fills_committed, 6);
	CU_ASSERT_EQUAL(st.fills_in_progress, 0);
	CU_ASSERT_EQUAL(st.tag_failures, 0);
	/* capacity accounting: the bytes of the files on disk */
	char cmd[512];
	snprintf(cmd, sizeof(cmd),
	         "find '%s/d0' -type f -printf '%%s\\n' | awk '{s+=$1} END {print s}'", root);
	FILE *p = popen(cmd, "r");
	unsigned long long disk = 0;
	CU_ASSERT_EQUAL(fscanf(p, "%llu", &disk), 1);
	pclose(p);
	CU_ASSERT_EQUAL(st.used_bytes, disk);
	lotad_store_free(s);
	free(data);
	free(got);
	cleanup_root();
}

/* The write path takes whole blocks straight from the caller's buffer and stages only
 * blocks that come in pieces: any sequence of write sizes gives the same file, and after
 * each write exactly the whole blocks written (and, with the last byte, the short last
 * block) are readable. Plain and sealed, buffered and sync-range; several fills at once
 * raise fills_in_progress_max. */
static void write_pieces(bool plain, int fill_io)
{
	setup_root();
	lotad_store *s = open_store((topts){.plain = plain, .fill_io = fill_io});
	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	/* more than LOTAD_STORE_SYNC_CHUNK, and a short last block */
	const size_t n = (9u << 20) + 123;
	uint8_t *data = malloc(n), *got = malloc(n);
	CU_ASSERT_PTR_NOT_NULL_FATAL(data);
	CU_ASSERT_PTR_NOT_NULL_FATAL(got);
	const size_t pieces[] = {1, BS - 1, 2 * BS + 3, BS, 5, 40 * BS, 3, (1u << 20) + 17, BS - 8};
	for (int round = 0; round < 3; round++) {
		tkey k = mkkey(4000 + round, 0);
		lota_unit_pattern(data, n, (uint64_t)round + 9);
		lotad_fill *f = NULL;
		CU_ASSERT_EQUAL_FATAL(lotad_fill_begin(s, k.b, k.len, n, NULL, 0, &f), 0);
		lotad_store_reader *r = NULL;
		CU_ASSERT_EQUAL_FATAL(lotad_fill_open_reader(f, &r), 0);
		size_t off = 0;
		for (size_t i = 0; off < n; i++) {
			/* round 0: the pieces in turn; 1: one write of everything; 2: block-sized */
			size_t m = round == 0   ? pieces[i % (sizeof(pieces) / sizeof(pieces[0]))]
			           : round == 1 ? n
			                        : BS;
			if (m > n - off)
				m = n - off;
			CU_ASSERT_EQUAL_FATAL(lotad_fill_write(f, data + off, m), 0);
			off += m;
			uint64_t want = off == n ? n : off / BS * BS;
			CU_ASSERT_EQUAL(lotad_fill_readable_bytes(f), want);
			CU_ASSERT_EQUAL(lotad_reader_readable(r), (int64_t)want);
		}
		CU_ASSERT_EQUAL(lotad_fill_write(f, data, 1), -EFBIG);
		CU_ASSERT_EQUAL(lotad_reader_read(r, 0, got, n), (ssize_t)n);
		CU_ASSERT_EQUAL(memcmp(got, data, n), 0);
		CU_ASSERT_EQUAL(lotad_fill_commit(f), 0);
		lotad_reader_close(r);
		CU_ASSERT_EQUAL_FATAL(lotad_store_open(s, k.h, k.b, k.len, &r), 0);
		memset(got, 0, n);
		CU_ASSERT_EQUAL(lotad_reader_read(r, 0, got, n), (ssize_t)n);
		CU_ASSERT_EQUAL(memcmp(got, data, n), 0);
		lotad_reader_close(r);
	}
	/* three fills at once: the peak gauge says 3 and stays after they end */
	lotad_fill *fs[3] = {NULL, NULL, NULL};
	for (int i = 0; i < 3; i++) {
		tkey k = mkkey(4100 + i, 0);
		CU_ASSERT_EQUAL(lotad_fill_begin(s, k.b, k.len, 10, NULL, 0, &fs[i]), 0);
	}
	for (int i = 0; i < 3; i++)
		lotad_fill_abort(fs[i]);
	lotad_store_stats st;
	lotad_store_get_stats(s, &st);
	CU_ASSERT_EQUAL(st.fills_in_progress, 0);
	CU_ASSERT_EQUAL(st.fills_in_progress_max, 3);
	char buf[8192];
	CU_ASSERT(lotad_store_metrics(buf, sizeof(buf), s) < sizeof(buf));
	CU_ASSERT_PTR_NOT_NULL(strstr(buf, "# TYPE lota_cache_fills_in_progress_max gauge\n"
	                                   "lota_cache_fills_in_progress_max 3\n"));
	lotad_store_free(s);
	free(data);
	free(got);
	cleanup_root();
}

static void test_write_pieces(void)
{
	write_pieces(true, LOTAD_FILL_IO_BUFFERED);
	write_pieces(false, LOTAD_FILL_IO_BUFFERED);
	write_pieces(true, LOTAD_FILL_IO_SYNC_RANGE);
	write_pieces(false, LOTAD_FILL_IO_SYNC_RANGE);
}

static void test_roundtrip_plain(void)
{
	roundtrip(true, LOTAD_SEALED_IO_MMAP);
}

static void test_roundtrip_sealed(void)
{
	roundtrip(false, LOTAD_SEALED_IO_MMAP); /* the default: decrypted from a mapping */
	roundtrip(false, LOTAD_SEALED_IO_PREAD);
}

static void test_fill_negative(void)
{
	setup_root();
	lotad_store *s = open_store((topts){0});
	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	tkey k = mkkey(1, 0), k2 = mkkey(2, 0);
	uint8_t d[100] = {0};
	lotad_store_reader *r = NULL;
	CU_ASSERT_EQUAL(lotad_store_open(s, k.h, k.b, k.len, &r), -ENOENT);
	CU_ASSERT_PTR_NULL(r);
	lotad_fill *f = NULL, *f2 = NULL;
	CU_ASSERT_EQUAL_FATAL(lotad_fill_begin(s, k.b, k.len, 50, NULL, 0, &f), 0);
	/* single flight */
	CU_ASSERT_EQUAL(lotad_fill_begin(s, k.b, k.len, 50, NULL, 0, &f2), -EEXIST);
	CU_ASSERT_EQUAL(lotad_fill_write(f, d, 51), -EFBIG);
	CU_ASSERT_EQUAL(lotad_fill_write(f, d, 49), 0);
	CU_ASSERT_EQUAL(lotad_fill_written_bytes(f), 49);
	/* a short fill is never published */
	CU_ASSERT_EQUAL(lotad_fill_commit(f), LOTA_E_INCOMPLETE);
	CU_ASSERT_EQUAL(lotad_store_open(s, k.h, k.b, k.len, &r), -ENOENT);
	/* meta, key caps and bad arguments */
	static uint8_t big[LOTAD_STORE_META_MAX + 1];
	CU_ASSERT_EQUAL(lotad_fill_begin(s, k.b, k.len, 5, big, sizeof(big), &f), LOTA_E_TOO_LARGE);
	CU_ASSERT_EQUAL(lotad_fill_begin(s, k.b, k.len, LOTAD_STORE_DATA_MAX + 1, NULL, 0, &f),
	                LOTA_E_TOO_LARGE);
	CU_ASSERT_EQUAL(lotad_fill_begin(s, k.b, 0, 5, NULL, 0, &f), -EINVAL);
	CU_ASSERT_EQUAL(lotad_fill_begin(s, k.b, k.len, 5, NULL, 3, &f), -EINVAL);
	/* larger than the dir */
	CU_ASSERT_EQUAL(lotad_fill_begin(s, k.b, k.len, 2ull << 30, NULL, 0, &f), -ENOSPC);
	/* the wrong key for a hash is refused (and the hash of another key is a miss) */
	CU_ASSERT_EQUAL_FATAL(put(s, &k, d, sizeof(d), NULL), 0);
	CU_ASSERT_EQUAL(lotad_store_open(s, k2.h, k.b, k.len, &r), -ENOENT);
	CU_ASSERT_EQUAL(lotad_store_open(s, k.h, k2.b, k2.len, &r), -ESTALE);
	CU_ASSERT_PTR_NULL(r);
	CU_ASSERT_EQUAL(lotad_store_open(s, k.h, NULL, 0, &r), -EINVAL);
	/* drop */
	CU_ASSERT_EQUAL(lotad_store_drop(s, k2.h), -ENOENT);
	CU_ASSERT_EQUAL_FATAL(put(s, &k2, d, sizeof(d), NULL), 0);
	CU_ASSERT_EQUAL_FATAL(lotad_store_open(s, k2.h, k2.b, k2.len, &r), 0);
	CU_ASSERT_EQUAL(lotad_store_drop(s, k2.h), 0);
	uint8_t got[100];
	CU_ASSERT_EQUAL(lotad_reader_read(r, 0, got, 100), 100); /* an open reader keeps going */
	lotad_store_reader *r2 = NULL;
	CU_ASSERT_EQUAL(lotad_store_open(s, k2.h, k2.b, k2.len, &r2), -ENOENT);
	lotad_reader_close(r);
	lotad_fill_abort(NULL);
	lotad_reader_close(NULL);
	lotad_store_free(s);
	lotad_store_free(NULL);
	cleanup_root();
}

/* ------------------------------------------------------------ growing fills */

static atomic_int notified;
static void on_progress(void *ud)
{
	atomic_fetch_add((atomic_int *)ud, 1);
}

struct waiter {
	lotad_store_reader *r;
	uint64_t have;
	int64_t got;
};

static void *wait_thread(void *arg)
{
	struct waiter *w = arg;
	w->got = lotad_reader_wait(w->r, w->have, 10000);
	return NULL;
}

/* ------------------------------------------------------------ the RAM tier */

/* Read all of k through a new reader in pieces of `piece` bytes from byte `from`;
 * returns whether the bytes equal data and whether the reader had a RAM copy at open. */
static bool read_all(lotad_store *s, const tkey *k, const uint8_t *data, size_t n, size_t piece,
                     size_t from, bool *had_ram)
{
	lotad_store_reader *r = NULL;
	uint8_t *got = malloc(n);
	bool ok = got && lotad_store_open(s, k->h, k->b, k->len, &r) == 0;
	const uint8_t *ram = NULL;
	if (ok)
		*had_ram = lotad_reader_ram(r, &ram) == 0;
	for (size_t off = from; ok && off < n;) {
		ssize_t rn = lotad_reader_read(r, off, got + off, piece);
		ok = rn > 0;
		off += rn > 0 ? (size_t)rn : 0;
	}
	ok = ok && memcmp(got + from, data + from, n - from) == 0;
	if (ok && *had_ram)
		ok = memcmp(ram, data, n) == 0;
	lotad_reader_close(r);
	free(got);
	return ok;
}

static void ram_tier(bool plain)
{
	setup_root();
	const size_t n = 3 * BS + 100;
	lotad_store_dir_spec d;
	snprintf(d.path, sizeof(d.path), "%s/d0", root);
	d.capacity_bytes = 1ull << 30;
	lotad_store_config c;
	lotad_store_config_init(&c);
	c.dirs = &d;
	c.num_dirs = 1;
	c.node_secret = secret1;
	c.encrypt = !plain;
	c.block_size = BS;
	c.evict_interval_ms = 0;
	c.ram_bytes = 2 * n + n / 2; /* two copies fit, not three */
	lotad_store *s = NULL;
	CU_ASSERT_EQUAL_FATAL(lotad_store_new(&c, &s), 0);
	tkey k[3];
	uint8_t *data[3];
	for (int i = 0; i < 3; i++) {
		k[i] = mkkey(100 + i, 0);
		data[i] = malloc(n);
		CU_ASSERT_PTR_NOT_NULL_FATAL(data[i]);
		lota_unit_pattern(data[i], n, 500 + (uint64_t)i);
		CU_ASSERT_EQUAL_FATAL(put(s, &k[i], data[i], n, NULL), 0);
	}
	lotad_store_stats st;
	bool ram = true;
	/* a fill makes no copy; a read not from byte 0, or out of order, makes none */
	lotad_store_get_stats(s, &st);
	CU_ASSERT_EQUAL(st.ram_bytes, 0);
	CU_ASSERT_EQUAL(st.ram_capacity_bytes, c.ram_bytes);
	CU_ASSERT_TRUE(read_all(s, &k[0], data[0], n, 7000, 10, &ram));
	CU_ASSERT_FALSE(ram);
	lotad_store_get_stats(s, &st);
	CU_ASSERT_EQUAL(st.ram_fills, 0);
	CU_ASSERT_EQUAL(st.ram_bytes, 0);
	/* a whole read in order makes one; the next reader reads from it */
	CU_ASSERT_TRUE(read_all(s, &k[0], data[0], n, 7000, 0, &ram));
	CU_ASSERT_FALSE(ram);
	lotad_store_get_stats(s, &st);
	CU_ASSERT_EQUAL(st.ram_fills, 1);
	CU_ASSERT_EQUAL(st.ram_bytes, n);
	CU_ASSERT_TRUE(read_all(s, &k[0], data[0], n, 3 * BS, 0, &ram));
	CU_ASSERT_TRUE(ram);
	CU_ASSERT_TRUE(read_all(s, &k[0], data[0], n, 1000, 17, &ram)); /* any range of it */
	CU_ASSERT_TRUE(ram);
	lotad_store_get_stats(s, &st);
	CU_ASSERT_EQUAL(st.ram_hits, 2);
	/* the bound: a third copy evicts the least recently opened one nobody reads */
	CU_ASSERT_TRUE(read_all(s, &k[1], data[1], n, 65536, 0, &ram));
	lotad_store_reader *pin = NULL; /* k[1]'s copy held open by a reader */
	CU_ASSERT_EQUAL_FATAL(lotad_store_open(s, k[1].h, k[1].b, k[1].len, &pin), 0);
	const uint8_t *p = NULL;
	CU_ASSERT_EQUAL(lotad_reader_ram(pin, &p), 0);
	CU_ASSERT_TRUE(read_all(s, &k[2], data[2], n, 65536, 0, &ram));
	lotad_store_get_stats(s, &st);
	CU_ASSERT_EQUAL(st.ram_fills, 3);
	CU_ASSERT_EQUAL(st.ram_evictions, 1);
	CU_ASSERT(st.ram_bytes <= c.ram_bytes);
	CU_ASSERT_EQUAL(st.ram_bytes, 2 * n);
	CU_ASSERT_TRUE(read_all(s, &k[0], data[0], n, 65536, 5, &ram));
	CU_ASSERT_FALSE(ram); /* evicted: read from the disk again */
	/* both copies pinned by readers: no room, nothing evicted, the read still right */
	lotad_store_reader *pin2 = NULL;
	CU_ASSERT_EQUAL_FATAL(lotad_store_open(s, k[2].h, k[2].b, k[2].len, &pin2), 0);
	CU_ASSERT_TRUE(read_all(s, &k[0], data[0], n, 65536, 0, &ram));
	lotad_store_get_stats(s, &st);
	CU_ASSERT_EQUAL(st.ram_fills, 3);
	CU_ASSERT_EQUAL(st.ram_evictions, 1);
	CU_ASSERT_EQUAL(st.ram_bytes, 2 * n);
	/* invalidation exactly where the disk's: a drop (a write through lotad) removes the
	 * copy with the extent; an open reader keeps its bytes until it closes */
	CU_ASSERT_EQUAL(lotad_store_drop(s, k[1].h), 0);
	lotad_store_reader *gone = NULL;
	CU_ASSERT_EQUAL(lotad_store_open(s, k[1].h, k[1].b, k[1].len, &gone), -ENOENT);
	uint8_t got[64];
	CU_ASSERT_EQUAL(lotad_reader_read(pin, 100, got, sizeof(got)), (ssize_t)sizeof(got));
	CU_ASSERT_EQUAL(memcmp(got, data[1] + 100, sizeof(got)), 0);
	lotad_store_get_stats(s, &st);
	CU_ASSERT_EQUAL(st.ram_bytes, 2 * n);
	lotad_reader_close(pin);
	lotad_store_get_stats(s, &st);
	CU_ASSERT_EQUAL(st.ram_bytes, n); /* freed with its last reader */
	/* eviction of the extent from the disk takes its copy too */
	lotad_reader_close(pin2);
	CU_ASSERT_EQUAL(lotad_store_drop(s, k[2].h), 0);
	lotad_store_get_stats(s, &st);
	CU_ASSERT_EQUAL(st.ram_bytes, 0);
	/* a new version is another key: never the old copy */
	tkey k2 = mkkey(100, 1);
	CU_ASSERT_EQUAL(lotad_store_open(s, k2.h, k2.b, k2.len, &gone), -ENOENT);
	lotad_store_free(s);
	for (int i = 0; i < 3; i++)
		free(data[i]);
	cleanup_root();
}

static void test_ram_tier_sealed(void)
{
	ram_tier(false);
}

static void test_ram_tier_plain(void)
{
	ram_tier(true);
}

static void growing(bool plain)
{
	setup_root();
	lotad_store *s = open_store((topts){.plain = plain});
	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	tkey k = mkkey(7, 3);
	const size_t n = 5 * BS + 100;
	uint8_t *data = malloc(n), *got = malloc(n);
	lota_unit_pattern(data, n, 77);
	lotad_fill *f = NULL;
	CU_ASSERT_EQUAL_FATAL(lotad_fill_begin(s, k.b, k.len, n, (const uint8_t *)"m", 1, &f), 0);
	lotad_store_reader *r = NULL, *r2 = NULL;
	CU_ASSERT_EQUAL_FATAL(lotad_store_open(s, k.h, k.b, k.len, &r), 0);
	CU_ASSERT_EQUAL_FATAL(lotad_fill_open_reader(f, &r2), 0);
	CU_ASSERT_EQUAL(lotad_reader_length(r), n);
	CU_ASSERT_EQUAL(lotad_reader_readable(r), 0);
	CU_ASSERT_EQUAL(lotad_reader_read(r, 0, got, 10), -EAGAIN);
	CU_ASSERT_EQUAL(lotad_reader_meta(r).len, 1);
	const uint8_t *map = NULL; /* a growing file is never mapped (its end would fault) */
	CU_ASSERT_EQUAL(lotad_reader_plain_map(r, &map), plain ? -EAGAIN : -ENOTSUP);
	lotad_fill_watch w;
	atomic_store(&notified, 0);
	CU_ASSERT_EQUAL(lotad_reader_watch(r, &w, on_progress, &notified), 0);
	CU_ASSERT_EQUAL(lotad_fill_write(f, data, BS - 1), 0);
	CU_ASSERT_EQUAL(lotad_fill_readable_bytes(f), 0); /* no whole block yet */
	CU_ASSERT_EQUAL(lotad_reader_readable(r), 0);
	CU_ASSERT_EQUAL(atomic_load(&notified), 0);
	CU_ASSERT_EQUAL(lotad_reader_wait(r, 0, 10), -ETIMEDOUT);
	CU_ASSERT_EQUAL(lotad_fill_write(f, data + BS - 1, 1), 0);
	CU_ASSERT_EQUAL(lotad_fill_readable_bytes(f), BS);
	CU_ASSERT_EQUAL(lotad_reader_readable(r), BS);
	CU_ASSERT_EQUAL(atomic_load(&notified), 1);
	/* exactly the written prefix */
	CU_ASSERT_EQUAL(lotad_reader_read(r, 0, got, n), (ssize_t)BS);
	CU_ASSERT_EQUAL(memcmp(got, data, BS), 0);
	CU_ASSERT_EQUAL(lotad_reader_read(r, 10, got, 20), 20);
	CU_ASSERT_EQUAL(memcmp(got, data + 10, 20), 0);
	CU_ASSERT_EQUAL(lotad_reader_read(r2, BS, got, 10), -EAGAIN);
	/* a blocked waiter is woken by progress */
	struct waiter wt = {.r = r2, .have = BS, .got = -1};
	pthread_t th;
	CU_ASSERT_EQUAL_FATAL(pthread_create(&th, NULL, wait_thread, &wt), 0);
	CU_ASSERT_EQUAL(lotad_fill_write(f, data + BS, 2 * BS + 5), 0);
	pthread_join(th, NULL);
	/* woken by the first new block, or later if it started waiting late */
	CU_ASSERT(wt.got == 2 * BS || wt.got == 3 * BS);
	CU_ASSERT_EQUAL(lotad_reader_read(r2, BS, got, n), (ssize_t)(2 * BS));
	CU_ASSERT_EQUAL(memcmp(got, data + BS, 2 * BS), 0);
	/* watchers are told once per write that made blocks readable, not once per block:
	 * the write of two blocks above was one notification */
	int before = atomic_load(&notified);
	CU_ASSERT_EQUAL(before, 2);
	CU_ASSERT_EQUAL(lotad_fill_write(f, data + 3 * BS + 5, n - 3 * BS - 5), 0);
	lotad_store_stats st;
	lotad_store_get_stats(s, &st);
	CU_ASSERT_EQUAL(st.fills_in_progress, 1);
	CU_ASSERT_EQUAL(lotad_fill_commit(f), 0);
	CU_ASSERT(atomic_load(&notified) > before); /* the commit is progress too */
	CU_ASSERT_EQUAL(lotad_reader_readable(r), (int64_t)n);
	memset(got, 0, n);
	CU_ASSERT_EQUAL(lotad_reader_read(r, 0, got, n), (ssize_t)n);
	CU_ASSERT_EQUAL(memcmp(got, data, n), 0);
	lotad_reader_unwatch(r, &w);
	lotad_fill_watch w2;
	CU_ASSERT_EQUAL(lotad_reader_watch(r, &w2, on_progress, &notified), 1); /* complete */
	lotad_reader_close(r);
	lotad_reader_close(r2);
	/* a fresh reader after commit */
	CU_ASSERT_EQUAL_FATAL(lotad_store_open(s, k.h, k.b, k.len, &r), 0);
	CU_ASSERT_EQUAL(lotad_reader_read(r, 0, got, n), (ssize_t)n);
	CU_ASSERT_EQUAL(memcmp(got, data, n), 0);
	lotad_reader_close(r);
	lotad_store_get_stats(s, &st);
	CU_ASSERT_EQUAL(st.fills_in_progress, 0);
	lotad_store_free(s);
	free(data);
	free(got);
	cleanup_root();
}

static void test_growing_sealed(void)
{
	growing(false);
}

static void test_growing_plain(void)
{
	growing(true);
}

static void test_fill_abort_readers(void)
{
	setup_root();
	lotad_store *s = open_store((topts){0});
	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	tkey k = mkkey(8, 0);
	uint8_t data[3 * BS], got[3 * BS];
	lota_unit_pattern(data, sizeof(data), 8);
	lotad_fill *f = NULL;
	CU_ASSERT_EQUAL_FATAL(lotad_fill_begin(s, k.b, k.len, sizeof(data), NULL, 0, &f), 0);
	CU_ASSERT_EQUAL(lotad_fill_write(f, data, 2 * BS), 0);
	lotad_store_reader *r = NULL;
	CU_ASSERT_EQUAL_FATAL(lotad_store_open(s, k.h, k.b, k.len, &r), 0);
	CU_ASSERT_EQUAL(lotad_reader_read(r, 0, got, BS), (ssize_t)BS);
	lotad_fill_watch w;
	atomic_store(&notified, 0);
	CU_ASSERT_EQUAL(lotad_reader_watch(r, &w, on_progress, &notified), 0);
	lotad_fill_abort(f);
	CU_ASSERT_EQUAL(atomic_load(&notified), 1);
	CU_ASSERT_EQUAL(lotad_reader_readable(r), -ECANCELED);
	CU_ASSERT_EQUAL(lotad_reader_read(r, 0, got, BS), -ECANCELED);
	CU_ASSERT_EQUAL(lotad_reader_wait(r, 0, 1000), -ECANCELED);
	lotad_reader_unwatch(r, &w);
	lotad_reader_close(r);
	CU_ASSERT_EQUAL(lotad_store_open(s, k.h, k.b, k.len, &r), -ENOENT);
	char tmp[300];
	snprintf(tmp, sizeof(tmp), "%s/d0/tmp", root);
	CU_ASSERT_EQUAL(count_files(tmp), 0);
	lotad_store_stats st;
	lotad_store_get_stats(s, &st);
	CU_ASSERT_EQUAL(st.used_bytes, 0);
	CU_ASSERT_EQUAL(st.fills_aborted, 1);
	/* the name is free again */
	CU_ASSERT_EQUAL(put(s, &k, data, sizeof(data), NULL), 0);
	lotad_store_free(s);
	cleanup_root();
}

/* ------------------------------------------------------------ tampering */

static void tamper_data_block(int sealed_io)
{
	setup_root();
	lotad_store *s = open_store((topts){.sealed_io = sealed_io});
	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	tkey k = mkkey(9, 0), k2 = mkkey(10, 0), k3 = mkkey(11, 0);
	uint8_t data[3 * BS + 10], got[3 * BS + 10];
	lota_unit_pattern(data, sizeof(data), 9);
	CU_ASSERT_EQUAL_FATAL(put(s, &k, data, sizeof(data), NULL), 0);
	CU_ASSERT_EQUAL_FATAL(put(s, &k2, data, sizeof(data), NULL), 0);
	CU_ASSERT_EQUAL_FATAL(put(s, &k3, data, sizeof(data), NULL), 0);
	char p[400], p2[400], p3[400];
	ext_file(k.h, p, sizeof(p));
	ext_file(k2.h, p2, sizeof(p2));
	ext_file(k3.h, p3, sizeof(p3));
	/* one byte in block 1 of k */
	flip_byte(p, 4096 + (BS + 16) + 100);
	lotad_store_reader *r = NULL;
	CU_ASSERT_EQUAL_FATAL(lotad_store_open(s, k.h, k.b, k.len, &r), 0);
	CU_ASSERT_EQUAL(lotad_reader_read(r, 0, got, BS), (ssize_t)BS); /* block 0 is fine */
	CU_ASSERT_EQUAL(memcmp(got, data, BS), 0);
	memset(got, 0x55, sizeof(got));
	CU_ASSERT_EQUAL(lotad_reader_read(r, BS + 5, got, 10), LOTA_E_AUTH_TAG);
	CU_ASSERT_EQUAL(lotad_reader_read(r, 0, got, sizeof(got)), LOTA_E_AUTH_TAG);
	/* nothing of the bad read is handed out */
	CU_ASSERT_PTR_NULL(memmem(got, sizeof(got), data + BS, 64));
	lotad_reader_close(r);
	CU_ASSERT_EQUAL(lotad_store_open(s, k.h, k.b, k.len, &r), -ENOENT); /* dropped */
	CU_ASSERT_EQUAL(access(p, F_OK), -1);
	/* the tag of the last block of k2 */
	flip_byte(p2, 4096 + 3 * (BS + 16) + 10 + 3);
	CU_ASSERT_EQUAL_FATAL(lotad_store_open(s, k2.h, k2.b, k2.len, &r), 0);
	CU_ASSERT_EQUAL(lotad_reader_read(r, 3 * BS, got, 10), LOTA_E_AUTH_TAG);
	lotad_reader_close(r);
	/* two whole sealed blocks of k3 swapped: both refused */
	int fd = open(p3, O_RDWR);
	uint8_t b0[BS + 16], b1[BS + 16];
	CU_ASSERT_EQUAL(pread(fd, b0, sizeof(b0), 4096), (ssize_t)sizeof(b0));
	CU_ASSERT_EQUAL(pread(fd, b1, sizeof(b1), 4096 + BS + 16), (ssize_t)sizeof(b1));
	CU_ASSERT_EQUAL(pwrite(fd, b1, sizeof(b1), 4096), (ssize_t)sizeof(b1));
	CU_ASSERT_EQUAL(pwrite(fd, b0, sizeof(b0), 4096 + BS + 16), (ssize_t)sizeof(b0));
	close(fd);
	CU_ASSERT_EQUAL_FATAL(lotad_store_open(s, k3.h, k3.b, k3.len, &r), 0);
	CU_ASSERT_EQUAL(lotad_reader_read(r, 0, got, 10), LOTA_E_AUTH_TAG);
	lotad_reader_close(r);
	lotad_store_stats st;
	lotad_store_get_stats(s, &st);
	CU_ASSERT_EQUAL(st.tag_failures, 4);
	CU_ASSERT_EQUAL(st.extents, 0);
	CU_ASSERT_EQUAL(st.used_bytes, 0);
	lotad_store_free(s);
	cleanup_root();
}

static void test_tamper_data_block(void)
{
	tamper_data_block(LOTAD_SEALED_IO_MMAP); /* a byte changed under the mapping */
	tamper_data_block(LOTAD_SEALED_IO_PREAD);
}

/* A sealed extent's file cut short behind the store's back while a reader has it open
 * (and mapped, by default): the blocks still in the file read right, the ones past its
 * end are an I/O error of that read (never a SIGBUS), and the extent is dropped. */
static void test_truncated_under_reader(void)
{
	for (int io = LOTAD_SEALED_IO_MMAP; io <= LOTAD_SEALED_IO_PREAD; io++) {
		setup_root();
		lotad_store *s = open_store((topts){.sealed_io = io, .bs = 65536});
		CU_ASSERT_PTR_NOT_NULL_FATAL(s);
		const size_t bs = 65536, n = 40 * bs + 77; /* more than one 256 KiB span */
		uint8_t *data = malloc(n), *got = malloc(n);
		CU_ASSERT_PTR_NOT_NULL_FATAL(data);
		CU_ASSERT_PTR_NOT_NULL_FATAL(got);
		lota_unit_pattern(data, n, 77);
		tkey k = mkkey(77, 0);
		CU_ASSERT_EQUAL_FATAL(put(s, &k, data, n, NULL), 0);
		char p[400];
		ext_file(k.h, p, sizeof(p));
		lotad_store_reader *r = NULL;
		CU_ASSERT_EQUAL_FATAL(lotad_store_open(s, k.h, k.b, k.len, &r), 0);
		/* the first span is read (and mapped) before the cut */
		CU_ASSERT_EQUAL(lotad_reader_read(r, 0, got, bs), (ssize_t)bs);
		CU_ASSERT_EQUAL(memcmp(got, data, bs), 0);
		/* keep the header and 10 whole sealed blocks */
		CU_ASSERT_EQUAL_FATAL(truncate(p, (off_t)(4096 + 10 * (bs + 16))), 0);
		CU_ASSERT_EQUAL(lotad_reader_read(r, 2 * bs, got, 3 * bs), (ssize_t)(3 * bs));
		CU_ASSERT_EQUAL(memcmp(got, data + 2 * bs, 3 * bs), 0);
		memset(got, 0x55, n);
		CU_ASSERT_EQUAL(lotad_reader_read(r, 9 * bs, got, 4 * bs), -EIO);
		CU_ASSERT_EQUAL(lotad_reader_read(r, 30 * bs, got, 100), -EIO);
		CU_ASSERT_PTR_NULL(memmem(got, n, data + 9 * bs, 64)); /* nothing handed out */
		lotad_reader_close(r);
		CU_ASSERT_EQUAL(lotad_store_open(s, k.h, k.b, k.len, &r), -ENOENT); /* dropped */
		lotad_store_stats st;
		lotad_store_get_stats(s, &st);
		CU_ASSERT_EQUAL(st.read_errors, 2);
		lotad_store_free(s);
		free(data);
		free(got);
		cleanup_root();
	}
}

static void test_tamper_header_and_key(void)
{
	setup_root();
	lotad_store *s = open_store((topts){0});
	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	tkey k[4];
	uint8_t data[100] = {1};
	char p[4][400];
	for (int i = 0; i < 4; i++) {
		k[i] = mkkey(20 + i, 0);
		CU_ASSERT_EQUAL_FATAL(put(s, &k[i], data, sizeof(data), "meta-blob"), 0);
		ext_file(k[i].h, p[i], sizeof(p[i]));
	}
	flip_byte(p[0], 20);      /* data_len */
	flip_byte(p[1], 64 + 10); /* inside the (sealed) key */
	flip_byte(p[2], 40);      /* the salt */
	lotad_store_reader *r = NULL;
	CU_ASSERT_EQUAL(lotad_store_open(s, k[0].h, k[0].b, k[0].len, &r), LOTA_E_AUTH_TAG);
	CU_ASSERT_EQUAL(lotad_store_open(s, k[1].h, k[1].b, k[1].len, &r), LOTA_E_AUTH_TAG);
	CU_ASSERT_EQUAL(lotad_store_open(s, k[2].h, k[2].b, k[2].len, &r), LOTA_E_AUTH_TAG);
	CU_ASSERT_PTR_NULL(r);
	for (int i = 0; i < 3; i++) {
		CU_ASSERT_EQUAL(access(p[i], F_OK), -1); /* dropped */
		CU_ASSERT_EQUAL(lotad_store_open(s, k[i].h, k[i].b, k[i].len, &r), -ENOENT);
	}
	/* a file renamed to another hash's name: its key does not match */
	tkey k4 = mkkey(30, 0);
	CU_ASSERT_EQUAL_FATAL(put(s, &k4, data, sizeof(data), NULL), 0);
	char p4[400];
	ext_file(k4.h, p4, sizeof(p4));
	CU_ASSERT_EQUAL_FATAL(rename(p[3], p4), 0);
	CU_ASSERT_EQUAL(lotad_store_open(s, k4.h, k4.b, k4.len, &r), -ESTALE);
	CU_ASSERT_EQUAL(access(p4, F_OK), -1);
	CU_ASSERT_EQUAL(lotad_store_open(s, k[3].h, k[3].b, k[3].len, &r), -ENOENT);
	lotad_store_stats st;
	lotad_store_get_stats(s, &st);
	CU_ASSERT_EQUAL(st.extents, 0);
	lotad_store_free(s);
	cleanup_root();
}

static void test_wrong_node_secret(void)
{
	setup_root();
	lotad_store *s = open_store((topts){0});
	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	tkey k = mkkey(40, 0), k2 = mkkey(41, 0);
	uint8_t data[3000];
	lota_unit_pattern(data, sizeof(data), 40);
	CU_ASSERT_EQUAL_FATAL(put(s, &k, data, sizeof(data), NULL), 0);
	lotad_store_free(s);
	s = open_store((topts){.plain = true});
	CU_ASSERT_EQUAL_FATAL(put(s, &k2, data, sizeof(data), NULL), 0);
	lotad_store_free(s);
	/* other secret: nothing (sealed or plain) is readable, everything is deleted */
	s = open_store((topts){.secret = secret2});
	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	lotad_store_stats st;
	lotad_store_get_stats(s, &st);
	CU_ASSERT_EQUAL(st.extents, 0);
	CU_ASSERT_EQUAL(st.corrupt_dropped, 2);
	CU_ASSERT_EQUAL(st.tag_failures, 2);
	lotad_store_reader *r = NULL;
	CU_ASSERT_EQUAL(lotad_store_open(s, k.h, k.b, k.len, &r), -ENOENT);
	CU_ASSERT_EQUAL(lotad_store_open(s, k2.h, k2.b, k2.len, &r), -ENOENT);
	lotad_store_free(s);
	cleanup_root();
}

static bool file_contains(const char *path, const void *needle, size_t nlen)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return false;
	static uint8_t buf[1 << 20];
	size_t n = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	return memmem(buf, n, needle, nlen) != NULL;
}

static void test_no_plaintext_on_disk(void)
{
	setup_root();
	const char marker[] = "LOTA-PLAINTEXT-MARKER";
	uint8_t data[5 * BS];
	for (size_t i = 0; i + sizeof(marker) <= sizeof(data); i += sizeof(marker))
		memcpy(data + i, marker, sizeof(marker));
	tkey k = mkkey(50, 0);
	char p[400];
	ext_file(k.h, p, sizeof(p));
	lotad_store *s = open_store((topts){0});
	CU_ASSERT_EQUAL_FATAL(put(s, &k, data, sizeof(data), "x-amz-meta-LOTA-PLAINTEXT-MARKER"),
	                      0);
	CU_ASSERT_TRUE(access(p, F_OK) == 0);
	CU_ASSERT_FALSE(file_contains(p, marker, sizeof(marker) - 1));
	CU_ASSERT_FALSE(file_contains(p, "obj-50", 6)); /* the object key is sealed too */
	lotad_store_free(s);
	/* the test can fail: the plain store does contain it */
	cleanup_root();
	setup_root();
	s = open_store((topts){.plain = true});
	CU_ASSERT_EQUAL_FATAL(put(s, &k, data, sizeof(data), NULL), 0);
	ext_file(k.h, p, sizeof(p));
	CU_ASSERT_TRUE(file_contains(p, marker, sizeof(marker) - 1));
	CU_ASSERT_FALSE(file_contains(p, "obj-50", 6));
	lotad_store_free(s);
	cleanup_root();
}

/* ------------------------------------------------------------ start-up */

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	fputs(text, f);
	fclose(f);
}

static void test_restart(void)
{
	setup_root();
	lotad_store *s = open_store((topts){0});
	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	uint8_t data[2 * BS + 1], got[2 * BS + 1];
	tkey k[6];
	for (int i = 0; i < 6; i++) {
		k[i] = mkkey(60 + i, (uint64_t)i);
		lota_unit_pattern(data, sizeof(data), (uint64_t)i);
		CU_ASSERT_EQUAL_FATAL(put(s, &k[i], data, sizeof(data), "meta"), 0);
	}
	lotad_store_stats st1, st2;
	lotad_store_get_stats(s, &st1);
	lotad_store_free(s);
	/* a crash leftover, a truncated extent, a foreign file, a stray name */
	char p[400], junk[400];
	snprintf(p, sizeof(p), "%s/d0/tmp/0123.7.tmp", root);
	write_file(p, "partial");
	ext_file(k[5].h, p, sizeof(p));
	CU_ASSERT_EQUAL(truncate(p, 5000), 0);
	snprintf(junk, sizeof(junk), "%s/d0/README", root);
	write_file(junk, "not ours");
	snprintf(p, sizeof(p), "%s/d0/ab", root);
	mkdir(p, 0700);
	snprintf(p, sizeof(p), "%s/d0/ab/cd", root);
	mkdir(p, 0700);
	snprintf(p, sizeof(p), "%s/d0/ab/cd/notahash", root);
	write_file(p, "x");

	s = open_store((topts){0});
	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	lotad_store_get_stats(s, &st2);
	CU_ASSERT_EQUAL(st2.extents, 5);
	CU_ASSERT_EQUAL(st2.corrupt_dropped, 1);
	CU_ASSERT_EQUAL(st2.used_bytes, st1.used_bytes / 6 * 5);
	char tmpd[300];
	snprintf(tmpd, sizeof(tmpd), "%s/d0/tmp", root);
	CU_ASSERT_EQUAL(count_files(tmpd), 0);
	CU_ASSERT_EQUAL(access(junk, F_OK), 0); /* never deletes what is not its own */
	CU_ASSERT_EQUAL(access(p, F_OK), 0);
	for (int i = 0; i < 6; i++) {
		lotad_store_reader *r = NULL;
		int rc = lotad_store_open(s, k[i].h, k[i].b, k[i].len, &r);
		if (i == 5) {
			CU_ASSERT_EQUAL(rc, -ENOENT);
			continue;
		}
		CU_ASSERT_EQUAL_FATAL(rc, 0);
		lota_unit_pattern(data, sizeof(data), (uint64_t)i);
		CU_ASSERT_EQUAL(lotad_reader_read(r, 0, got, sizeof(got)), (ssize_t)sizeof(got));
		CU_ASSERT_EQUAL(memcmp(got, data, sizeof(data)), 0);
		CU_ASSERT_EQUAL(lotad_reader_meta(r).len, 4);
		lotad_reader_close(r);
	}
	lotad_store_free(s);
	/* a file renamed to another name while stopped is deleted at start */
	char a[400], b[400];
	ext_file(k[0].h, a, sizeof(a));
	tkey other = mkkey(99, 0);
	ext_file(other.h, b, sizeof(b));
	char bd[400];
	snprintf(bd, sizeof(bd), "%s", b);
	*strrchr(bd, '/') = '\0';
	char cmd[900];
	snprintf(cmd, sizeof(cmd), "mkdir -p '%s'", bd);
	CU_ASSERT_EQUAL(system(cmd), 0);
	CU_ASSERT_EQUAL(rename(a, b), 0);
	s = open_store((topts){0});
	lotad_store_get_stats(s, &st2);
	CU_ASSERT_EQUAL(st2.extents, 4);
	CU_ASSERT_EQUAL(access(b, F_OK), -1);
	lotad_store_free(s);
	cleanup_root();
}

/* ------------------------------------------------------------ eviction */

/* lotad_store_objects: every published extent, its key's fields and meta, read back from
 * its file (also after a restart), oldest first; a fill in progress and a dropped extent
 * are not reported. */
typedef struct seen {
	size_t n;
	char keys[8][64];
	char metas[8][64];
	uint64_t idx[8], size[8];
	lota_hash128 names[8];
} seen;

static bool str_is(lota_str a, const char *b)
{
	return a.len == strlen(b) && memcmp(a.ptr, b, a.len) == 0;
}

static void on_object(void *ud, const lotad_store_object *o)
{
	seen *v = ud;
	if (v->n >= 8)
		return;
	CU_ASSERT_TRUE(str_is(o->key.bucket, "bucket"));
	CU_ASSERT_TRUE(str_is(o->key.etag, "\"0123abcd\""));
	CU_ASSERT_EQUAL(o->key.version_id.len, 0);
	snprintf(v->keys[v->n], 64, "%.*s", (int)o->key.key.len, o->key.key.ptr);
	snprintf(v->metas[v->n], 64, "%.*s", (int)o->meta.len, o->meta.ptr);
	v->idx[v->n] = o->key.extent_index;
	v->size[v->n] = o->key.size_bytes;
	v->names[v->n] = o->name;
	v->n++;
}

static void test_objects(void)
{
	setup_root();
	lotad_store *s = open_store((topts){0});
	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	uint8_t data[5000];
	lota_unit_pattern(data, sizeof(data), 5);
	tkey a = mkkey(1, 0), b = mkkey(2, 3), c = mkkey(3, 0);
	CU_ASSERT_EQUAL(put(s, &a, data, sizeof(data), "etag: a"), 0);
	CU_ASSERT_EQUAL(put(s, &b, data, sizeof(data), "etag: b"), 0);
	lotad_fill *f = NULL; /* in progress: not reported */
	CU_ASSERT_EQUAL(lotad_fill_begin(s, c.b, c.len, 10, NULL, 0, &f), 0);
	seen v = {0};
	CU_ASSERT_EQUAL(lotad_store_objects(s, on_object, &v), 2);
	CU_ASSERT_EQUAL_FATAL(v.n, 2);
	CU_ASSERT_STRING_EQUAL(v.keys[0], "dir/obj-1"); /* the older first */
	CU_ASSERT_STRING_EQUAL(v.metas[0], "etag: a");
	CU_ASSERT_EQUAL(v.idx[0], 0);
	CU_ASSERT_STRING_EQUAL(v.keys[1], "dir/obj-2");
	CU_ASSERT_STRING_EQUAL(v.metas[1], "etag: b");
	CU_ASSERT_EQUAL(v.idx[1], 3);
	CU_ASSERT_EQUAL(v.size[1], 1 << 30);
	CU_ASSERT_TRUE(v.names[1].hi == b.h.hi && v.names[1].lo == b.h.lo);
	lotad_fill_abort(f);
	CU_ASSERT_EQUAL(lotad_store_drop(s, a.h), 0);
	memset(&v, 0, sizeof(v));
	CU_ASSERT_EQUAL(lotad_store_objects(s, on_object, &v), 1);
	CU_ASSERT_STRING_EQUAL(v.keys[0], "dir/obj-2");
	lotad_store_free(s);
	/* restarted: the same from the files */
	s = open_store((topts){0});
	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	memset(&v, 0, sizeof(v));
	CU_ASSERT_EQUAL(lotad_store_objects(s, on_object, &v), 1);
	CU_ASSERT_STRING_EQUAL(v.keys[0], "dir/obj-2");
	CU_ASSERT_STRING_EQUAL(v.metas[0], "etag: b");
	lotad_store_free(s);
	/* an empty store reports nothing */
	cleanup_root();
	setup_root();
	s = open_store((topts){0});
	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	CU_ASSERT_EQUAL(lotad_store_objects(s, on_object, &v), 0);
	lotad_store_free(s);
	cleanup_root();
}

/* lotad_store__key_parse: exactly one canonical key, nothing more or less. */
static void test_key_parse(void)
{
	tkey k = mkkey(7, 9);
	lota_cache_key ck;
	CU_ASSERT_EQUAL_FATAL(lotad_store__key_parse(k.b, k.len, &ck), 0);
	CU_ASSERT_TRUE(str_is(ck.key, "dir/obj-7"));
	CU_ASSERT_EQUAL(ck.extent_index, 9);
	CU_ASSERT_EQUAL(ck.size_bytes, 1 << 30);
	uint8_t buf[600];
	memcpy(buf, k.b, k.len);
	buf[k.len] = 0;
	CU_ASSERT_EQUAL(lotad_store__key_parse(buf, k.len + 1, &ck), -EBADMSG); /* trailing */
	for (size_t n = 0; n < k.len; n++) /* every truncation */
		CU_ASSERT_EQUAL(lotad_store__key_parse(k.b, n, &ck), -EBADMSG);
	buf[0] = 'X'; /* the tag */
	CU_ASSERT_EQUAL(lotad_store__key_parse(buf, k.len, &ck), -EBADMSG);
	memcpy(buf, k.b, k.len);
	buf[8] = 0xff; /* a field length beyond the bytes */
	CU_ASSERT_EQUAL(lotad_store__key_parse(buf, k.len, &ck), -EBADMSG);
	CU_ASSERT_EQUAL(lotad_store__key_parse(NULL, 0, &ck), -EBADMSG);
}

static bool present(lotad_store *s, const tkey *k)
{
	lotad_store_reader *r = NULL;
	int rc = lotad_store_open(s, k->h, k->b, k->len, &r);
	lotad_reader_close(r);
	return rc == 0;
}

static void test_eviction_lru(void)
{
	setup_root();
	/* one extent = 4096 header + 10 * (4096 + 16) = 45216 bytes */
	const uint64_t fb = 4096 + 10 * (BS + 16);
	lotad_store *s = open_store((topts){.cap = {10 * fb}});
	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	static uint8_t data[10 * BS];
	tkey k[14];
	for (int i = 0; i < 14; i++)
		k[i] = mkkey(100 + i, 0);
	for (int i = 0; i < 10; i++)
		CU_ASSERT_EQUAL_FATAL(put(s, &k[i], data, sizeof(data), NULL), 0);
	lotad_store_stats st;
	lotad_store_get_stats(s, &st);
	CU_ASSERT_EQUAL(st.used_bytes, 10 * fb);
	/* k0 used recently, k1 pinned by an open reader */
	CU_ASSERT_TRUE(present(s, &k[0]));
	lotad_store_reader *pin = NULL;
	CU_ASSERT_EQUAL_FATAL(lotad_store_open(s, k[1].h, k[1].b, k[1].len, &pin), 0);
	/* above 95%: down to 90% = 9 extents; the LRU one not pinned is k2 */
	CU_ASSERT_EQUAL(lotad_store_evict_now(s), 1);
	CU_ASSERT_FALSE(present(s, &k[2]));
	CU_ASSERT_TRUE(present(s, &k[1]));
	CU_ASSERT_TRUE(present(s, &k[0]));
	CU_ASSERT_EQUAL(lotad_store_evict_now(s), 0); /* at the low watermark: nothing */
	/* present() touched k2..: order now (old->new) k3..k9, k1, k0 (k1 open, touched) */
	CU_ASSERT_EQUAL_FATAL(put(s, &k[10], data, sizeof(data), NULL), 0);
	CU_ASSERT_EQUAL(lotad_store_evict_now(s), 1);
	CU_ASSERT_FALSE(present(s, &k[3]));
	for (int i = 4; i <= 10; i++)
		CU_ASSERT_TRUE(present(s, &k[i]));
	/* everything pinned but k11: the full dir makes room for the next fill with k11, the
	 * only extent nobody holds */
	lotad_store_reader *rs[14] = {0};
	for (int i = 0; i <= 10; i++)
		if (i != 2 && i != 3 && i != 1)
			CU_ASSERT_EQUAL(lotad_store_open(s, k[i].h, k[i].b, k[i].len, &rs[i]), 0);
	CU_ASSERT_EQUAL_FATAL(put(s, &k[11], data, sizeof(data), NULL), 0);
	lotad_fill *fill = NULL; /* a fill in progress is pinned too */
	CU_ASSERT_EQUAL_FATAL(lotad_fill_begin(s, k[12].b, k[12].len, sizeof(data), NULL, 0, &fill),
	                      0);
	CU_ASSERT_EQUAL(lotad_store_drop(s, k[11].h), -ENOENT); /* evicted */
	CU_ASSERT_EQUAL(lotad_store_drop(s, k[12].h), -EBUSY);
	lotad_store_get_stats(s, &st);
	CU_ASSERT_EQUAL(st.used_bytes, 10 * fb);
	CU_ASSERT_EQUAL(st.evictions, 3);
	CU_ASSERT_EQUAL(lotad_store_evict_now(s), 0); /* whatever the fill level */
	/* now everything is pinned: a fill is refused, and nothing is evicted for it */
	lotad_fill *f = NULL;
	CU_ASSERT_EQUAL(lotad_fill_begin(s, k[13].b, k[13].len, sizeof(data), NULL, 0, &f),
	                -ENOSPC);
	lotad_store_get_stats(s, &st);
	CU_ASSERT_EQUAL(st.fills_refused, 1);
	CU_ASSERT_EQUAL(st.evictions, 3);
	for (int i = 0; i <= 10; i++)
		lotad_reader_close(rs[i]);
	lotad_reader_close(pin);
	CU_ASSERT_EQUAL(lotad_fill_write(fill, data, sizeof(data)), 0);
	CU_ASSERT_EQUAL(lotad_fill_commit(fill), 0);
	/* unpinned again: the least recently used goes first (k4, the oldest open) */
	CU_ASSERT_EQUAL(lotad_store_evict_now(s), 1);
	lotad_store_get_stats(s, &st);
	CU_ASSERT_EQUAL(st.used_bytes, 9 * fb);
	CU_ASSERT_EQUAL(st.evictions, 4);
	CU_ASSERT_TRUE(present(s, &k[12]));
	CU_ASSERT_TRUE(present(s, &k[0]));
	lotad_store_free(s);
	cleanup_root();
}

static void test_eviction_thread(void)
{
	setup_root();
	const uint64_t fb = 4096 + 2 * (BS + 16);
	/* the store opens over capacity after a restart with a smaller size */
	lotad_store *s = open_store((topts){.cap = {100 * fb}});
	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	static uint8_t data[2 * BS];
	for (int i = 0; i < 40; i++) {
		tkey k = mkkey(200 + i, 0);
		CU_ASSERT_EQUAL_FATAL(put(s, &k, data, sizeof(data), NULL), 0);
	}
	lotad_store_free(s);
	s = open_store((topts){.cap = {20 * fb}, .evict_ms = 10});
	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	lotad_store_stats st;
	lotad_store_get_stats(s, &st);
	CU_ASSERT(st.used_bytes <= 18 * fb); /* the start-up pass */
	for (int i = 0; i < 40; i++) {
		tkey k = mkkey(300 + i, 0);
		int rc = put(s, &k, data, sizeof(data), NULL);
		if (rc == -ENOSPC) { /* the thread has not run yet: a proxied request */
			usleep(20000);
			continue;
		}
		CU_ASSERT_EQUAL(rc, 0);
	}
	for (int i = 0; i < 500; i++) {
		lotad_store_get_stats(s, &st);
		if (st.used_bytes <= 19 * fb)
			break;
		usleep(10000);
	}
	CU_ASSERT(st.used_bytes <= 19 * fb);
	CU_ASSERT(st.evictions > 20);
	lotad_store_free(s);
	cleanup_root();
}

/* ------------------------------------------------------------ dirs and failures */

static atomic_int fault_countdown; /* > 0: that many writes fail */
static atomic_int fault_errno;
static ssize_t faulty_pwrite(int fd, const void *buf, size_t len, off_t off)
{
	if (atomic_load(&fault_countdown) > 0) {
		atomic_fetch_sub(&fault_countdown, 1);
		errno = atomic_load(&fault_errno);
		return -1;
	}
	return pwrite(fd, buf, len, off);
}

static int dir_of(const tkey *k)
{
	for (int d = 0; d < 2; d++) {
		char dd[300], p[400];
		dir_path(d, dd, sizeof(dd));
		file_path(dd, k->h, p, sizeof(p));
		if (access(p, F_OK) == 0)
			return d;
	}
	return -1;
}

static void test_multi_dir(void)
{
	setup_root();
	lotad_store *s = open_store((topts){.ndirs = 2, .cap = {1ull << 30, 3ull << 30}});
	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	uint8_t data[10] = {0};
	int count[2] = {0};
	int where[200];
	for (int i = 0; i < 200; i++) {
		tkey k = mkkey(400 + i, 0);
		CU_ASSERT_EQUAL_FATAL(put(s, &k, data, sizeof(data), NULL), 0);
		where[i] = dir_of(&k);
		CU_ASSERT(where[i] >= 0);
		if (where[i] >= 0)
			count[where[i]]++;
	}
	CU_ASSERT(count[1] > count[0]); /* weighted by capacity */
	CU_ASSERT(count[0] > 0);
	lotad_store_stats st;
	lotad_store_get_stats(s, &st);
	CU_ASSERT_EQUAL(st.dirs[0].extents, (uint64_t)count[0]);
	CU_ASSERT_EQUAL(st.dirs[1].extents, (uint64_t)count[1]);
	lotad_store_free(s);
	/* deterministic: the same keys land in the same dirs again */
	cleanup_root();
	setup_root();
	s = open_store((topts){.ndirs = 2, .cap = {1ull << 30, 3ull << 30}});
	for (int i = 0; i < 200; i++) {
		tkey k = mkkey(400 + i, 0);
		CU_ASSERT_EQUAL_FATAL(put(s, &k, data, sizeof(data), NULL), 0);
		CU_ASSERT_EQUAL(dir_of(&k), where[i]);
	}
	lotad_store_free(s);
	cleanup_root();
}

/* ------------------------------------------------------------ room for a fill (LRU) */

/* Whether k is cached with the bytes of lota_unit_pattern(seed) (len bytes); touches it. */
static bool holds(lotad_store *s, const tkey *k, size_t len, uint64_t seed)
{
	lotad_store_reader *r = NULL;
	if (lotad_store_open(s, k->h, k->b, k->len, &r) != 0)
		return false;
	uint8_t *want = malloc(len), *got = malloc(len);
	bool ok = want && got && lotad_reader_length(r) == len &&
	          lotad_reader_read(r, 0, got, len) == (ssize_t)len;
	if (ok) {
		lota_unit_pattern(want, len, seed);
		ok = memcmp(want, got, len) == 0;
	}
	free(want);
	free(got);
	lotad_reader_close(r);
	return ok;
}

static int put_seeded(lotad_store *s, const tkey *k, size_t len, uint64_t seed)
{
	uint8_t *data = malloc(len ? len : 1);
	CU_ASSERT_PTR_NOT_NULL_FATAL(data);
	lota_unit_pattern(data, len, seed);
	int rc = put(s, k, data, len, NULL);
	free(data);
	return rc;
}

/* Bytes of one sealed extent of n blocks of BS (header page + blocks with their tags). */
static uint64_t sealed_bytes(uint64_t nblocks)
{
	return 4096 + nblocks * (BS + 16);
}

static void test_room_fits_exactly(void)
{
	setup_root();
	const uint64_t fb = sealed_bytes(3);
	lotad_store *s = open_store((topts){.cap = {3 * fb}});
	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	tkey k[4];
	for (int i = 0; i < 4; i++)
		k[i] = mkkey(1000 + i, 0);
	/* the third fill brings the dir exactly to its capacity: nothing is evicted */
	for (int i = 0; i < 3; i++)
		CU_ASSERT_EQUAL_FATAL(put_seeded(s, &k[i], 3 * BS, (uint64_t)i), 0);
	lotad_store_stats st;
	lotad_store_get_stats(s, &st);
	CU_ASSERT_EQUAL(st.used_bytes, 3 * fb);
	CU_ASSERT_EQUAL(st.evictions, 0);
	CU_ASSERT_EQUAL(st.fills_refused, 0);
	for (int i = 0; i < 3; i++)
		CU_ASSERT_TRUE(holds(s, &k[i], 3 * BS, (uint64_t)i));
	/* one byte less of capacity: the third fill needs one eviction (the least recent) */
	lotad_store_free(s);
	cleanup_root();
	setup_root();
	s = open_store((topts){.cap = {3 * fb - 1}});
	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	for (int i = 0; i < 3; i++)
		CU_ASSERT_EQUAL_FATAL(put_seeded(s, &k[i], 3 * BS, (uint64_t)i), 0);
	lotad_store_get_stats(s, &st);
	CU_ASSERT_EQUAL(st.used_bytes, 2 * fb);
	CU_ASSERT_EQUAL(st.evictions, 1);
	CU_ASSERT_EQUAL(st.extents, 2);
	CU_ASSERT_FALSE(holds(s, &k[0], 3 * BS, 0));
	CU_ASSERT_TRUE(holds(s, &k[1], 3 * BS, 1));
	CU_ASSERT_TRUE(holds(s, &k[2], 3 * BS, 2));
	/* an extent larger than the dir is refused (counted) without evicting anything */
	lotad_fill *f = NULL;
	CU_ASSERT_EQUAL(lotad_fill_begin(s, k[3].b, k[3].len, 12 * BS, NULL, 0, &f), -ENOSPC);
	CU_ASSERT_PTR_NULL(f);
	lotad_store_get_stats(s, &st);
	CU_ASSERT_EQUAL(st.fills_refused, 1);
	CU_ASSERT_EQUAL(st.extents, 2);
	CU_ASSERT_EQUAL(st.evictions, 1);
	lotad_store_free(s);
	cleanup_root();
}

static void test_room_one_eviction(void)
{
	setup_root();
	const uint64_t fb = sealed_bytes(3);
	lotad_store *s = open_store((topts){.cap = {3 * fb}});
	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	tkey k[5];
	for (int i = 0; i < 5; i++)
		k[i] = mkkey(1100 + i, 0);
	for (int i = 0; i < 3; i++)
		CU_ASSERT_EQUAL_FATAL(put_seeded(s, &k[i], 3 * BS, (uint64_t)i), 0);
	/* k0 read again: k1 is now the least recently used */
	CU_ASSERT_TRUE(holds(s, &k[0], 3 * BS, 0));
	CU_ASSERT_EQUAL_FATAL(put_seeded(s, &k[3], 3 * BS, 3), 0);
	lotad_store_stats st;
	lotad_store_get_stats(s, &st);
	CU_ASSERT_EQUAL(st.evictions, 1);
	CU_ASSERT_EQUAL(st.used_bytes, 3 * fb);
	CU_ASSERT_EQUAL(st.fills_refused, 0);
	CU_ASSERT_FALSE(present(s, &k[1]));
	char p[400];
	ext_file(k[1].h, p, sizeof(p));
	CU_ASSERT_EQUAL(access(p, F_OK), -1); /* its file is gone */
	CU_ASSERT_TRUE(holds(s, &k[2], 3 * BS, 2));
	CU_ASSERT_TRUE(holds(s, &k[0], 3 * BS, 0));
	CU_ASSERT_TRUE(holds(s, &k[3], 3 * BS, 3));
	/* order now (old -> new) k2, k0, k3: the next fill takes k2's place */
	CU_ASSERT_EQUAL_FATAL(put_seeded(s, &k[4], 3 * BS, 4), 0);
	CU_ASSERT_FALSE(present(s, &k[2]));
	CU_ASSERT_TRUE(holds(s, &k[4], 3 * BS, 4));
	lotad_store_get_stats(s, &st);
	CU_ASSERT_EQUAL(st.evictions, 2);
	CU_ASSERT_EQUAL(st.used_bytes, 3 * fb);
	CU_ASSERT_EQUAL(count_files(root), 3); /* 3 extents, no temp file */
	lotad_store_free(s);
	cleanup_root();
}

static void test_room_several_evictions(void)
{
	setup_root();
	/* plain: a small extent is 4096 + BS bytes, a big one of 5 BS exactly three of them */
	const uint64_t fs = 4096 + BS;
	lotad_store *s = open_store((topts){.plain = true, .cap = {5 * fs}});
	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	tkey k[6];
	for (int i = 0; i < 6; i++)
		k[i] = mkkey(1200 + i, 0);
	for (int i = 0; i < 5; i++)
		CU_ASSERT_EQUAL_FATAL(put_seeded(s, &k[i], BS, (uint64_t)i), 0);
	CU_ASSERT_TRUE(holds(s, &k[0], BS, 0)); /* LRU order now k1 k2 k3 k4 k0 */
	lotad_store_reader *pin = NULL;         /* k2 pinned: skipped, k4 goes instead */
	CU_ASSERT_EQUAL_FATAL(lotad_store_open(s, k[2].h, k[2].b, k[2].len, &pin), 0);
	CU_ASSERT_EQUAL_FATAL(put_seeded(s, &k[5], 5 * BS, 5), 0);
	lotad_store_stats st;
	lotad_store_get_stats(s, &st);
	CU_ASSERT_EQUAL(st.evictions, 3);
	CU_ASSERT_EQUAL(st.used_bytes, 5 * fs);
	CU_ASSERT_EQUAL(st.extents, 3);
	CU_ASSERT_FALSE(present(s, &k[1]));
	CU_ASSERT_FALSE(present(s, &k[3]));
	CU_ASSERT_FALSE(present(s, &k[4]));
	CU_ASSERT_TRUE(holds(s, &k[0], BS, 0));
	CU_ASSERT_TRUE(holds(s, &k[2], BS, 2));
	CU_ASSERT_TRUE(holds(s, &k[5], 5 * BS, 5));
	lotad_reader_close(pin);
	lotad_store_free(s);
	cleanup_root();
}

static void test_room_all_pinned(void)
{
	setup_root();
	const uint64_t fb = sealed_bytes(3);
	lotad_store *s = open_store((topts){.cap = {3 * fb}});
	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	tkey k[5];
	for (int i = 0; i < 5; i++)
		k[i] = mkkey(1300 + i, 0);
	lotad_store_reader *r[3] = {0};
	for (int i = 0; i < 3; i++) {
		CU_ASSERT_EQUAL_FATAL(put_seeded(s, &k[i], 3 * BS, (uint64_t)i), 0);
		CU_ASSERT_EQUAL_FATAL(lotad_store_open(s, k[i].h, k[i].b, k[i].len, &r[i]), 0);
	}
	/* every extent read by someone: refused, counted, nothing evicted */
	lotad_fill *f = NULL;
	CU_ASSERT_EQUAL(lotad_fill_begin(s, k[3].b, k[3].len, 3 * BS, NULL, 0, &f), -ENOSPC);
	CU_ASSERT_PTR_NULL(f);
	CU_ASSERT_EQUAL(lotad_fill_begin(s, k[3].b, k[3].len, 3 * BS, NULL, 0, &f), -ENOSPC);
	lotad_store_stats st;
	lotad_store_get_stats(s, &st);
	CU_ASSERT_EQUAL(st.fills_refused, 2);
	CU_ASSERT_EQUAL(st.fills_refused_degraded, 0);
	CU_ASSERT_EQUAL(st.evictions, 0);
	CU_ASSERT_EQUAL(st.extents, 3);
	CU_ASSERT_EQUAL(st.fills_in_progress, 0);
	CU_ASSERT_EQUAL(lotad_store_evict_now(s), 0);
	char m[4096];
	CU_ASSERT(lotad_store_metrics(m, sizeof(m), s) < sizeof(m));
	CU_ASSERT_PTR_NOT_NULL(strstr(m, "lota_cache_fills_refused_total{reason=\"no_room\"} 2\n"));
	CU_ASSERT_PTR_NOT_NULL(
	    strstr(m, "lota_cache_fills_refused_total{reason=\"degraded\"} 0\n"));
	/* the readers keep reading what they opened */
	for (int i = 0; i < 3; i++) {
		uint8_t got[3 * BS], want[3 * BS];
		lota_unit_pattern(want, sizeof(want), (uint64_t)i);
		CU_ASSERT_EQUAL(lotad_reader_read(r[i], 0, got, sizeof(got)), (ssize_t)sizeof(got));
		CU_ASSERT_EQUAL(memcmp(got, want, sizeof(got)), 0);
	}
	/* one reader gone, a fill needing two extents' room: still refused, and the free
	 * extent is not thrown away for nothing */
	lotad_reader_close(r[1]);
	r[1] = NULL;
	CU_ASSERT_EQUAL(lotad_fill_begin(s, k[4].b, k[4].len, 7 * BS, NULL, 0, &f), -ENOSPC);
	CU_ASSERT_TRUE(present(s, &k[1]));
	lotad_store_get_stats(s, &st);
	CU_ASSERT_EQUAL(st.fills_refused, 3);
	CU_ASSERT_EQUAL(st.evictions, 0);
	/* one extent's room can be made now: the unpinned one goes */
	CU_ASSERT_EQUAL_FATAL(put_seeded(s, &k[3], 3 * BS, 3), 0);
	CU_ASSERT_FALSE(present(s, &k[1]));
	CU_ASSERT_TRUE(holds(s, &k[3], 3 * BS, 3));
	lotad_store_get_stats(s, &st);
	CU_ASSERT_EQUAL(st.evictions, 1);
	CU_ASSERT_EQUAL(st.fills_refused, 3);
	CU_ASSERT_EQUAL(st.used_bytes, 3 * fb);
	lotad_reader_close(r[0]);
	lotad_reader_close(r[2]);
	lotad_store_free(s);
	cleanup_root();
}

static void test_room_fills_in_progress(void)
{
	setup_root();
	const uint64_t fb = sealed_bytes(3);
	lotad_store *s = open_store((topts){.cap = {3 * fb}});
	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	tkey k[6];
	for (int i = 0; i < 6; i++)
		k[i] = mkkey(1400 + i, 0);
	CU_ASSERT_EQUAL_FATAL(put_seeded(s, &k[0], 3 * BS, 0), 0);
	/* two fills in progress reserve their full size from the start */
	lotad_fill *f[4] = {0};
	CU_ASSERT_EQUAL_FATAL(lotad_fill_begin(s, k[1].b, k[1].len, 3 * BS, NULL, 0, &f[1]), 0);
	CU_ASSERT_EQUAL_FATAL(lotad_fill_begin(s, k[2].b, k[2].len, 3 * BS, NULL, 0, &f[2]), 0);
	lotad_store_stats st;
	lotad_store_get_stats(s, &st);
	CU_ASSERT_EQUAL(st.used_bytes, 3 * fb);
	CU_ASSERT_EQUAL(st.fills_in_progress, 2);
	/* a third fill: only the committed k0 may go (the fills are pinned) */
	CU_ASSERT_EQUAL_FATAL(lotad_fill_begin(s, k[3].b, k[3].len, 3 * BS, NULL, 0, &f[3]), 0);
	CU_ASSERT_FALSE(present(s, &k[0]));
	lotad_store_get_stats(s, &st);
	CU_ASSERT_EQUAL(st.used_bytes, 3 * fb);
	CU_ASSERT_EQUAL(st.evictions, 1);
	/* three fills in progress fill the dir: a fourth is refused */
	lotad_fill *g = NULL;
	CU_ASSERT_EQUAL(lotad_fill_begin(s, k[4].b, k[4].len, 3 * BS, NULL, 0, &g), -ENOSPC);
	lotad_store_get_stats(s, &st);
	CU_ASSERT_EQUAL(st.fills_refused, 1);
	CU_ASSERT(st.used_bytes <= 3 * fb);
	/* an aborted fill gives its room back: the next fits without an eviction */
	lotad_fill_abort(f[2]);
	CU_ASSERT_EQUAL_FATAL(lotad_fill_begin(s, k[4].b, k[4].len, 3 * BS, NULL, 0, &g), 0);
	lotad_store_get_stats(s, &st);
	CU_ASSERT_EQUAL(st.evictions, 1);
	CU_ASSERT_EQUAL(st.used_bytes, 3 * fb);
	/* the fills in progress are complete and right when they commit */
	uint8_t data[3 * BS];
	lotad_fill *done[3] = {f[1], f[3], g};
	int which[3] = {1, 3, 4};
	for (int i = 0; i < 3; i++) {
		lota_unit_pattern(data, sizeof(data), (uint64_t)which[i]);
		CU_ASSERT_EQUAL(lotad_fill_write(done[i], data, sizeof(data)), 0);
		CU_ASSERT_EQUAL(lotad_fill_commit(done[i]), 0);
		CU_ASSERT_TRUE(holds(s, &k[which[i]], 3 * BS, (uint64_t)which[i]));
	}
	/* committed now, so evictable: the next fill makes its room from the oldest (k1) */
	CU_ASSERT_EQUAL_FATAL(put_seeded(s, &k[5], 3 * BS, 5), 0);
	CU_ASSERT_FALSE(present(s, &k[1]));
	CU_ASSERT_TRUE(holds(s, &k[5], 3 * BS, 5));
	lotad_store_get_stats(s, &st);
	CU_ASSERT_EQUAL(st.evictions, 2);
	CU_ASSERT_EQUAL(st.used_bytes, 3 * fb);
	CU_ASSERT_EQUAL(st.fills_in_progress, 0);
	lotad_store_free(s);
	cleanup_root();
}

/* Of the keys k[0..n), those whose file is in dir d, opened into r[] (pins). */
static size_t pin_dir(lotad_store *s, const tkey *k, size_t n, int d, lotad_store_reader **r)
{
	size_t got = 0;
	for (size_t i = 0; i < n; i++)
		if (dir_of(&k[i]) == d &&
		    lotad_store_open(s, k[i].h, k[i].b, k[i].len, &r[got]) == 0)
			got++;
	return got;
}

static void test_room_multi_dir(void)
{
	setup_root();
	const uint64_t fb = sealed_bytes(2);
	/* unequal dirs: 2 and 5 extents */
	lotad_store *s = open_store((topts){.ndirs = 2, .cap = {2 * fb, 5 * fb}});
	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	enum { N = 60 };
	tkey k[N];
	for (int i = 0; i < N; i++)
		k[i] = mkkey(1500 + i, 0);
	/* the first 7 fit: while a dir has room, nothing is evicted anywhere */
	for (int i = 0; i < 7; i++)
		CU_ASSERT_EQUAL_FATAL(put_seeded(s, &k[i], 2 * BS, (uint64_t)i), 0);
	lotad_store_stats st;
	lotad_store_get_stats(s, &st);
	CU_ASSERT_EQUAL(st.evictions, 0);
	CU_ASSERT_EQUAL(st.dirs[0].extents, 2);
	CU_ASSERT_EQUAL(st.dirs[1].extents, 5);
	/* from then on each fill evicts one extent of its dir, the least recent there */
	int landed[2] = {0};
	for (int i = 7; i < 40; i++) {
		CU_ASSERT_EQUAL_FATAL(put_seeded(s, &k[i], 2 * BS, (uint64_t)i), 0);
		int d = dir_of(&k[i]);
		CU_ASSERT(d == 0 || d == 1);
		if (d >= 0)
			landed[d]++;
		lotad_store_get_stats(s, &st);
		CU_ASSERT(st.dirs[0].used_bytes <= 2 * fb);
		CU_ASSERT(st.dirs[1].used_bytes <= 5 * fb);
		CU_ASSERT_EQUAL(st.extents, 7);
		CU_ASSERT_EQUAL(st.evictions, (uint64_t)(i - 6));
		CU_ASSERT_TRUE(holds(s, &k[i], 2 * BS, (uint64_t)i)); /* the newest stays */
	}
	CU_ASSERT(landed[0] > 0 && landed[1] > 0);
	CU_ASSERT_EQUAL(st.fills_refused, 0);
	/* dir 0 all pinned: fills placed there first make their room in dir 1 instead */
	lotad_store_reader *r0[8] = {0}, *r1[8] = {0};
	size_t n0 = pin_dir(s, k, 40, 0, r0);
	CU_ASSERT_EQUAL(n0, 2);
	for (int i = 40; i < 50; i++) {
		CU_ASSERT_EQUAL(put_seeded(s, &k[i], 2 * BS, (uint64_t)i), 0);
		CU_ASSERT_EQUAL(dir_of(&k[i]), 1);
	}
	lotad_store_get_stats(s, &st);
	CU_ASSERT_EQUAL(st.dirs[0].extents, 2);
	CU_ASSERT_EQUAL(st.dirs[1].extents, 5);
	CU_ASSERT_EQUAL(st.fills_refused, 0);
	/* both dirs all pinned: refused, counted once per fill */
	size_t n1 = pin_dir(s, k, 50, 1, r1);
	CU_ASSERT_EQUAL(n1, 5);
	lotad_fill *f = NULL;
	CU_ASSERT_EQUAL(lotad_fill_begin(s, k[50].b, k[50].len, 2 * BS, NULL, 0, &f), -ENOSPC);
	lotad_store_get_stats(s, &st);
	CU_ASSERT_EQUAL(st.fills_refused, 1);
	CU_ASSERT_EQUAL(st.extents, 7);
	for (size_t i = 0; i < n0; i++)
		lotad_reader_close(r0[i]);
	for (size_t i = 0; i < n1; i++)
		lotad_reader_close(r1[i]);
	CU_ASSERT_EQUAL(put_seeded(s, &k[50], 2 * BS, 50), 0);
	lotad_store_free(s);
	cleanup_root();
}

/* The scan: ten objects read three times in turn, then the last one three times
 * more, in caches of 2, 5 and 20 extents (plus half an extent, so the old refusal froze
 * them) with the eviction thread running. Every miss fills, the dir never holds more
 * than its capacity, the hot object is a hit, and a scan larger than the cache hits
 * nothing (LRU). */
static void test_room_scan(void)
{
	const uint64_t fb = sealed_bytes(4);
	const unsigned sizes[] = {2, 5, 20};
	for (size_t c = 0; c < 3; c++) {
		setup_root();
		const uint64_t cap = sizes[c] * fb + fb / 2;
		/* objects of 1, 2, 3 extents: ten of them are more than the cache */
		const int per = (int)c + 1, nobj = 10;
		lotad_store *s = open_store((topts){.cap = {cap}, .evict_ms = 5});
		CU_ASSERT_PTR_NOT_NULL_FATAL(s);
		int hits = 0, hot_hits = 0;
		lotad_store_stats st;
		for (int pass = 0; pass < 4; pass++) {
			for (int o = pass == 3 ? nobj - 1 : 0; o < nobj; o++) {
				for (int rep = 0; rep < (pass == 3 ? 3 : 1); rep++) {
					bool hit = true;
					for (int x = 0; x < per; x++) {
						tkey k = mkkey(1600 + o, (uint64_t)x);
						uint64_t seed = (uint64_t)(o * 10 + x);
						if (holds(s, &k, 4 * BS, seed))
							continue;
						hit = false;
						CU_ASSERT_EQUAL(put_seeded(s, &k, 4 * BS, seed), 0);
					}
					if (pass == 3)
						hot_hits += hit;
					else if (pass > 0)
						hits += hit;
					lotad_store_get_stats(s, &st);
					CU_ASSERT(st.used_bytes <= cap);
				}
			}
		}
		CU_ASSERT_EQUAL(hot_hits, 3);
		CU_ASSERT_EQUAL(hits, 0);
		lotad_store_get_stats(s, &st);
		CU_ASSERT(st.evictions > 0);
		CU_ASSERT_EQUAL(st.fills_refused, 0);
		lotad_store_free(s);
		cleanup_root();
	}
}

static void test_dir_failure(void)
{
	setup_root();
	lotad_store *s = open_store((topts){.ndirs = 2, .retry_ms = 200});
	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	lotad_store__set_pwrite_hook(faulty_pwrite);
	uint8_t data[3 * BS];
	lota_unit_pattern(data, sizeof(data), 5);
	tkey k = mkkey(500, 0);
	/* the header write fails: the fill fails cleanly, its dir is degraded */
	atomic_store(&fault_errno, ENOSPC);
	atomic_store(&fault_countdown, 1);
	lotad_fill *f = NULL;
	CU_ASSERT_EQUAL(lotad_fill_begin(s, k.b, k.len, sizeof(data), NULL, 0, &f), -ENOSPC);
	CU_ASSERT_PTR_NULL(f);
	lotad_store_stats st;
	lotad_store_get_stats(s, &st);
	CU_ASSERT_EQUAL(st.write_errors, 1);
	CU_ASSERT_EQUAL(st.degraded_dirs, 1);
	CU_ASSERT_EQUAL(st.fills_in_progress, 0);
	CU_ASSERT_EQUAL(st.used_bytes, 0);
	int bad = st.dirs[0].degraded ? 0 : 1;
	/* the next try goes to the healthy dir */
	CU_ASSERT_EQUAL(put(s, &k, data, sizeof(data), NULL), 0);
	CU_ASSERT_EQUAL(dir_of(&k), 1 - bad);
	/* a failure in the middle (EIO): readers of the fill get an error, nothing published */
	tkey k2 = mkkey(501, 0);
	CU_ASSERT_EQUAL_FATAL(lotad_fill_begin(s, k2.b, k2.len, sizeof(data), NULL, 0, &f), 0);
	lotad_store_reader *r = NULL;
	CU_ASSERT_EQUAL_FATAL(lotad_store_open(s, k2.h, k2.b, k2.len, &r), 0);
	CU_ASSERT_EQUAL(lotad_fill_write(f, data, BS), 0);
	atomic_store(&fault_errno, EIO);
	atomic_store(&fault_countdown, 1);
	CU_ASSERT_EQUAL(lotad_fill_write(f, data + BS, BS), -EIO);
	CU_ASSERT_EQUAL(lotad_fill_write(f, data + 2 * BS, BS), -EIO); /* stays failed */
	CU_ASSERT_EQUAL(lotad_reader_readable(r), BS);
	CU_ASSERT_EQUAL(lotad_fill_commit(f), -EIO);
	CU_ASSERT_EQUAL(lotad_reader_read(r, 0, data, 10), -ECANCELED);
	lotad_reader_close(r);
	CU_ASSERT_EQUAL(lotad_store_open(s, k2.h, k2.b, k2.len, &r), -ENOENT);
	lotad_store_get_stats(s, &st);
	CU_ASSERT_EQUAL(st.degraded_dirs, 2);
	/* every dir degraded: no fill at all (the proxy serves uncached) */
	tkey k3 = mkkey(502, 0);
	CU_ASSERT_EQUAL(lotad_fill_begin(s, k3.b, k3.len, 10, NULL, 0, &f), -ENOSPC);
	lotad_store_get_stats(s, &st);
	CU_ASSERT_EQUAL(st.fills_refused_degraded, 1);
	CU_ASSERT_EQUAL(st.fills_refused, 0);
	/* read-only fs on the temp file creation path is just another errno */
	lotad_store__set_pwrite_hook(NULL);
	/* recovery after the retry period */
	for (int i = 0; i < 300; i++) {
		lotad_store_get_stats(s, &st);
		if (st.degraded_dirs == 0)
			break;
		usleep(10000);
	}
	CU_ASSERT_EQUAL(st.degraded_dirs, 0);
	CU_ASSERT_EQUAL(put(s, &k3, data, 10, NULL), 0);
	CU_ASSERT_TRUE(present(s, &k3));
	CU_ASSERT_TRUE(present(s, &k));
	lotad_store_get_stats(s, &st);
	CU_ASSERT_EQUAL(st.write_errors, 2);
	CU_ASSERT_EQUAL(st.fills_in_progress, 0);
	char tmp[300];
	snprintf(tmp, sizeof(tmp), "%s/d0/tmp", root);
	CU_ASSERT_EQUAL(count_files(tmp), 0);
	snprintf(tmp, sizeof(tmp), "%s/d1/tmp", root);
	CU_ASSERT_EQUAL(count_files(tmp), 0);
	lotad_store_free(s);
	cleanup_root();
}

static void test_store_new_negative(void)
{
	setup_root();
	lotad_store_dir_spec d = {.capacity_bytes = 1 << 20};
	snprintf(d.path, sizeof(d.path), "%s/x", root);
	lotad_store_config c;
	lotad_store_config_init(&c);
	lotad_store *s = NULL;
	CU_ASSERT_EQUAL(lotad_store_new(&c, &s), -EINVAL); /* no dirs */
	c.dirs = &d;
	c.num_dirs = 1;
	CU_ASSERT_EQUAL(lotad_store_new(&c, &s), -EINVAL); /* no secret */
	c.node_secret = secret1;
	c.block_size = 5000;
	CU_ASSERT_EQUAL(lotad_store_new(&c, &s), -EINVAL);
	c.block_size = 65536;
	c.low_watermark_pct = 96;
	CU_ASSERT_EQUAL(lotad_store_new(&c, &s), -EINVAL);
	c.low_watermark_pct = 90;
	c.fill_io = 2; /* neither buffered nor sync-range */
	CU_ASSERT_EQUAL(lotad_store_new(&c, &s), -EINVAL);
	c.fill_io = -1;
	CU_ASSERT_EQUAL(lotad_store_new(&c, &s), -EINVAL);
	c.fill_io = LOTAD_FILL_IO_BUFFERED;
	/* a dir below a regular file cannot be created */
	char f[300];
	snprintf(f, sizeof(f), "%s/file", root);
	write_file(f, "x");
	snprintf(d.path, sizeof(d.path), "%s/file/sub", root);
	CU_ASSERT_EQUAL(lotad_store_new(&c, &s), -ENOTDIR);
	CU_ASSERT_PTR_NULL(s);
	cleanup_root();
}

static void test_metrics_text(void)
{
	setup_root();
	lotad_store *s = open_store((topts){.ndirs = 2});
	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	tkey k = mkkey(600, 0);
	uint8_t data[10] = {0};
	CU_ASSERT_EQUAL(put(s, &k, data, sizeof(data), NULL), 0);
	char small[16];
	size_t need = lotad_store_metrics(small, sizeof(small), s);
	CU_ASSERT(need >= sizeof(small));
	CU_ASSERT_EQUAL(small[sizeof(small) - 1], '\0');
	char *buf = malloc(need + 1);
	CU_ASSERT_EQUAL(lotad_store_metrics(buf, need + 1, s), need);
	CU_ASSERT_PTR_NOT_NULL(strstr(buf, "# TYPE lota_cache_bytes gauge\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(buf, "lota_cache_capacity_bytes{dir=\"1\"} 1073741824\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(buf, "lota_evictions_total 0\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(buf, "lota_cache_fills_in_progress 0\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(buf, "lota_cache_extents 1\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(buf,
	                              "# TYPE lota_cache_fills_refused_total counter\n"
	                              "lota_cache_fills_refused_total{reason=\"no_room\"} 0\n"
	                              "lota_cache_fills_refused_total{reason=\"degraded\"} 0\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(buf, "lota_store_errors_total{kind=\"auth_tag\"} 0\n"));
	CU_ASSERT_EQUAL(strlen(buf), need);
	free(buf);
	lotad_store_free(s);
	cleanup_root();
}

/* ------------------------------------------------------------ concurrency */

struct worker {
	lotad_store *s;
	int id;
	int errors;
};

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	uint8_t data[3 * BS + 17], got[3 * BS + 17];
	for (int i = 0; i < 300; i++) {
		int obj = (i * 7 + w->id) % 16;
		tkey k = mkkey(700 + obj, 0);
		lota_unit_pattern(data, sizeof(data), (uint64_t)obj);
		lotad_store_reader *r = NULL;
		int rc = lotad_store_open(w->s, k.h, k.b, k.len, &r);
		if (rc == -ENOENT) {
			lotad_fill *f = NULL;
			rc = lotad_fill_begin(w->s, k.b, k.len, sizeof(data), NULL, 0, &f);
			if (rc == 0) {
				if (lotad_fill_write(f, data, sizeof(data)) ||
				    (rc = lotad_fill_commit(f))) {
					fprintf(stderr, "fill: %d\n", rc);
					w->errors++;
				}
			} else if (rc != -EEXIST && rc != -ENOSPC) {
				fprintf(stderr, "begin: %d\n", rc);
				w->errors++;
			}
			continue;
		}
		if (rc) {
			fprintf(stderr, "open: %d\n", rc);
			w->errors++;
			continue;
		}
		int64_t have = lotad_reader_wait(r, sizeof(data) - 1, 5000);
		if (have == (int64_t)sizeof(data)) {
			if (lotad_reader_read(r, 0, got, sizeof(got)) != (ssize_t)sizeof(got) ||
			    memcmp(got, data, sizeof(got)) != 0)
				w->errors++;
		} else if (have != -ECANCELED) {
			fprintf(stderr, "wait: %d\n", (int)have);
			w->errors++;
		}
		lotad_reader_close(r);
		if (i % 50 == 49)
			(void)lotad_store_evict_now(w->s);
	}
	return NULL;
}

static void test_concurrent(void)
{
	setup_root();
	const uint64_t fb = 4096 + 4 * (BS + 16);
	lotad_store *s = open_store((topts){.cap = {10 * fb}, .evict_ms = 5});
	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	pthread_t th[4];
	struct worker w[4];
	for (int i = 0; i < 4; i++) {
		w[i] = (struct worker){.s = s, .id = i};
		CU_ASSERT_EQUAL_FATAL(pthread_create(&th[i], NULL, worker_main, &w[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		CU_ASSERT_EQUAL(w[i].errors, 0);
	}
	lotad_store_stats st;
	lotad_store_get_stats(s, &st);
	CU_ASSERT(st.used_bytes <= 10 * fb);
	CU_ASSERT_EQUAL(st.fills_in_progress, 0);
	CU_ASSERT_EQUAL(st.tag_failures, 0);
	lotad_store_free(s);
	cleanup_root();
}

/* ------------------------------------------------------------ node secret */

static void test_nodesecret(void)
{
	setup_root();
	char p[400];
	snprintf(p, sizeof(p), "%s/node.secret", root);
	uint8_t a[32], b[32];
	CU_ASSERT_EQUAL_FATAL(lotad_nodesecret_load_or_create(p, a), 0);
	struct stat st;
	CU_ASSERT_EQUAL_FATAL(stat(p, &st), 0);
	CU_ASSERT_EQUAL(st.st_mode & 0777, 0600);
	CU_ASSERT_EQUAL(st.st_size, 32);
	CU_ASSERT_EQUAL(lotad_nodesecret_load_or_create(p, b), 0);
	CU_ASSERT_EQUAL(memcmp(a, b, 32), 0);
	uint8_t zero[32] = {0};
	CU_ASSERT_NOT_EQUAL(memcmp(a, zero, 32), 0);
	/* group or world readable: refused, and left as it is */
	CU_ASSERT_EQUAL(chmod(p, 0640), 0);
	CU_ASSERT_EQUAL(lotad_nodesecret_load_or_create(p, b), -EACCES);
	CU_ASSERT_EQUAL(memcmp(b, zero, 32), 0); /* wiped on failure */
	CU_ASSERT_EQUAL(chmod(p, 0604), 0);
	CU_ASSERT_EQUAL(lotad_nodesecret_load_or_create(p, b), -EACCES);
	CU_ASSERT_EQUAL(chmod(p, 0600), 0);
	/* wrong sizes */
	CU_ASSERT_EQUAL(truncate(p, 31), 0);
	CU_ASSERT_EQUAL(lotad_nodesecret_load_or_create(p, b), -EINVAL);
	CU_ASSERT_EQUAL(truncate(p, 33), 0);
	CU_ASSERT_EQUAL(lotad_nodesecret_load_or_create(p, b), -EINVAL);
	CU_ASSERT_EQUAL(truncate(p, 0), 0);
	CU_ASSERT_EQUAL(lotad_nodesecret_load_or_create(p, b), -EINVAL);
	/* not a regular file, a symlink, a missing parent, no path */
	char d[400], l[400], m[400];
	snprintf(d, sizeof(d), "%s/adir", root);
	CU_ASSERT_EQUAL(mkdir(d, 0700), 0);
	CU_ASSERT_EQUAL(lotad_nodesecret_load_or_create(d, b), -EINVAL);
	snprintf(l, sizeof(l), "%s/link", root);
	CU_ASSERT_EQUAL(symlink(p, l), 0);
	CU_ASSERT_EQUAL(lotad_nodesecret_load_or_create(l, b), -ELOOP);
	snprintf(m, sizeof(m), "%s/missing/node.secret", root);
	CU_ASSERT_EQUAL(lotad_nodesecret_load_or_create(m, b), -ENOENT);
	CU_ASSERT_EQUAL(lotad_nodesecret_load_or_create("", b), -EINVAL);
	/* no temp file is left behind */
	CU_ASSERT_EQUAL(count_files(root), 1);
	cleanup_root();
}

/* ------------------------------------------------------------ throughput (printed) */

static double secs(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void test_read_throughput(void)
{
	const char *e = getenv("LOTA_STORE_BENCH_MIB");
	size_t mib = e ? (size_t)atoi(e) : 256;
	if (mib == 0)
		return;
	setup_root();
	size_t n = mib << 20, chunk = 1 << 20;
	uint8_t *buf = malloc(chunk);
	CU_ASSERT_PTR_NOT_NULL_FATAL(buf);
	lota_unit_pattern(buf, chunk, 1);
	for (int plain = 0; plain < 2; plain++) {
		lotad_store *s = open_store(
		    (topts){.plain = plain, .bs = LOTAD_STORE_BLOCK_DEFAULT, .cap = {4ull << 30}});
		CU_ASSERT_PTR_NOT_NULL_FATAL(s);
		tkey k = mkkey(800 + plain, 0);
		lotad_fill *f = NULL;
		CU_ASSERT_EQUAL_FATAL(lotad_fill_begin(s, k.b, k.len, n, NULL, 0, &f), 0);
		double t0 = secs();
		for (size_t off = 0; off < n; off += chunk)
			CU_ASSERT_EQUAL(lotad_fill_write(f, buf, chunk), 0);
		CU_ASSERT_EQUAL(lotad_fill_commit(f), 0);
		double t1 = secs();
		lotad_store_reader *r = NULL;
		CU_ASSERT_EQUAL_FATAL(lotad_store_open(s, k.h, k.b, k.len, &r), 0);
		double best = 1e9;
		for (int rep = 0; rep < 3; rep++) { /* the first pass warms the page cache */
			double a = secs();
			for (size_t off = 0; off < n; off += chunk)
				if (lotad_reader_read(r, off, buf, chunk) != (ssize_t)chunk) {
					CU_FAIL("read");
					break;
				}
			double b = secs() - a;
			best = b < best ? b : best;
		}
		printf(
		    "\n    %s %zu MiB extent: fill %.0f MB/s (incl. fdatasync), read %.0f MB/s (1 "
		    "thread, page cache)",
		    plain ? "plain " : "sealed", mib, (double)n / (t1 - t0) / 1e6,
		    (double)n / best / 1e6);
		lotad_reader_close(r);
		lotad_store_free(s);
	}
	printf("\n");
	free(buf);
	cleanup_root();
}

int main(void)
{
	CU_TestInfo tests[] = {
	    {"hkdf_rfc5869", test_hkdf_rfc5869},
	    {"parse_dir_spec", test_parse_dir_spec},
	    {"header_codec", test_header_codec},
	    {"roundtrip_plain", test_roundtrip_plain},
	    {"roundtrip_sealed", test_roundtrip_sealed},
	    {"write_pieces: any write sizes, readers told of whole blocks", test_write_pieces},
	    {"fill_negative", test_fill_negative},
	    {"ram_tier_sealed", test_ram_tier_sealed},
	    {"ram_tier_plain", test_ram_tier_plain},
	    {"growing_sealed", test_growing_sealed},
	    {"growing_plain", test_growing_plain},
	    {"fill_abort_readers", test_fill_abort_readers},
	    {"tamper_data_block", test_tamper_data_block},
	    {"truncated under a reader: an error, not a SIGBUS", test_truncated_under_reader},
	    {"tamper_header_and_key", test_tamper_header_and_key},
	    {"wrong_node_secret", test_wrong_node_secret},
	    {"no_plaintext_on_disk", test_no_plaintext_on_disk},
	    {"restart", test_restart},
	    {"objects: what the store holds, from its files", test_objects},
	    {"key parse", test_key_parse},
	    {"eviction_lru", test_eviction_lru},
	    {"eviction_thread", test_eviction_thread},
	    {"room_fits_exactly", test_room_fits_exactly},
	    {"room_one_eviction", test_room_one_eviction},
	    {"room_several_evictions", test_room_several_evictions},
	    {"room_all_pinned", test_room_all_pinned},
	    {"room_fills_in_progress", test_room_fills_in_progress},
	    {"room_multi_dir", test_room_multi_dir},
	    {"room_scan", test_room_scan},
	    {"multi_dir", test_multi_dir},
	    {"dir_failure", test_dir_failure},
	    {"store_new_negative", test_store_new_negative},
	    {"metrics_text", test_metrics_text},
	    {"concurrent", test_concurrent},
	    {"nodesecret", test_nodesecret},
	    {"read_throughput", test_read_throughput},
	    CU_TEST_INFO_NULL,
	};
	return lota_unit_run("daemon_store", tests);
}
