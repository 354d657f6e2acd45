/*
 * rawserve.c - the baseline of bench/cache.sh: the fewest moves a server can make to send
 * a file from the page cache over loopback HTTP/1.1, each way the kernel offers, so that
 * lotad's hit figures (MiB/s and CPU seconds per GiB) can be set beside the physical cost
 * of the copy in one run.
 *
 *   rawserve PORT DIR MODE [CHUNK_BYTES [SNDBUF_BYTES]]
 *
 * Serves GET /NAME as the file DIR/NAME (NAME: one path component, no "..") with 200 and
 * Content-Length, keep-alive, one blocking thread per connection. MODE is how the body
 * goes out, in calls of CHUNK_BYTES (default 256 KiB, lotad's client buffer):
 *   pread          pread into a buffer + send (two copies: page cache -> buffer -> socket)
 *   sendfile       sendfile(2) (the page cache's pages handed to the socket)
 *   mmap           the file mapped per request (MAP_SHARED, MADV_SEQUENTIAL) and sent from
 *                  the mapping (one copy, and a page fault per fault-around block)
 *   mmap-populate  the same with MAP_POPULATE (what lotad's --plain-hit-io mmap does)
 *   splice         file -> pipe -> socket by splice(2), SPLICE_F_MOVE | SPLICE_F_MORE, the
 *                  pipe raised (F_SETPIPE_SZ) to CHUNK_BYTES within fs.pipe-max-size
 *   uring          io_uring, a ring per connection: IORING_OP_READ(_FIXED) into one of
 *                  two registered buffers while IORING_OP_SEND sends the other
 *   uring-zc       the same with IORING_OP_SEND_ZC (on loopback the kernel copies
 *                  zerocopy data for the receiver; the log says how often)
 *   gcm            a sealed hit's fewest moves: the file sealed as lotad's store seals an
 *                  extent (AES-256-GCM blocks of 64 KiB, each with its 16-byte tag, a
 *                  nonce and 32 bytes of AAD per block), read by pread a CHUNK_BYTES span
 *                  of blocks at a time, each block checked and decrypted into the send
 *                  buffer, then sent (a copy in, the cipher, a copy out)
 *   gcm-mmap       the same, decrypting straight from a mapping of the sealed file
 *                  (MAP_POPULATE): the cipher and the copy out
 *   tee            not a file server: the floor of a cold miss. Every connection is relayed
 *                  to 127.0.0.1:UPSTREAM_PORT both ways by a blocking poll loop (recv and
 *                  send of CHUNK_BYTES, as socat does), and every byte the upstream sends
 *                  is also written to DIR/tee-PID-N, a file per connection, and made
 *                  durable by fdatasync when the connection ends (as lotad publishes an
 *                  extent; a line on stderr then says so): what a cache that stores a miss
 *                  while relaying it must do at least (a copy in, a copy out to the
 *                  client, a copy into the page cache, its write-back), without parsing,
 *                  authorizing or indexing anything
 *   tee-gcm        the same, the file written sealed as lotad's store seals an extent
 *                  (whole blocks sealed straight from the relay buffer, a block that
 *                  arrives in pieces staged first): the cipher on top
 *                  (usage: rawserve PORT DIR tee|tee-gcm UPSTREAM_PORT [CHUNK [SNDBUF]])
 * The gcm ways serve NAME from DIR/NAME.gcm-PID, which the first request for NAME makes
 * with this process's key (drawn at start, never written anywhere), so two rawserves on
 * one DIR never read each other's.
 * Every socket gets SO_SNDBUF = SNDBUF_BYTES (default 4 MiB, lotad's client_send_buffer;
 * 0 = the kernel's autotuning), so the ways differ only in how the bytes move. The first
 * line on stderr says what was obtained (the socket buffer, the pipe, the ring's setup).
 * A mode this build or kernel lacks (uring without liburing at build time, SEND_ZC on an
 * old kernel) exits with status 3 and "rawserve: MODE unavailable: WHY".
 * No parsing beyond the request line, no authorization, no event loop: whatever lotad
 * spends above this is its own. Listens on 127.0.0.1 only. A benchmark tool, not a
 * server: a malformed request or a failing call closes the connection, and a file
 * truncated while mapped kills it (SIGBUS).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* accept4, memmem, splice; the build defines it already */
#endif
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>
#ifdef LOTA_HAVE_LIBURING
#include <liburing.h>
#endif
#include <openssl/evp.h>
#include <openssl/rand.h>

#define HEAD_MAX 16384

enum way {
	WAY_PREAD,
	WAY_SENDFILE,
	WAY_MMAP,
	WAY_MMAP_POPULATE,
	WAY_SPLICE,
	WAY_URING,
	WAY_URING_ZC,
	WAY_GCM,
	WAY_GCM_MMAP,
	WAY_TEE,
	WAY_TEE_GCM
};
static const char *const way_names[] = {"pread",    "sendfile", "mmap",     "mmap-populate",
                                        "splice",   "uring",    "uring-zc", "gcm",
                                        "gcm-mmap", "tee",      "tee-gcm"};
#define WAYS (sizeof(way_names) / sizeof(way_names[0]))

static const char *g_dir;
static enum way g_way;
static size_t g_chunk = 256 * 1024;
static int g_sndbuf = 4 << 20;
static size_t g_pipe_bytes; /* splice: the pipe size asked for */

/* A connection's state: the request buffer and what its way needs per connection. */
struct conn {
	int sock;
	char *head;
	char *buf;            /* pread: one chunk; gcm: the chunk's plaintext */
	char *sealed;         /* gcm: one chunk's sealed blocks */
	EVP_CIPHER_CTX *gcm;  /* gcm: keyed once per connection, a nonce per block */
	int up;               /* tee: the connection to the upstream */
	int tee_fd;           /* tee: the file the answer is written to */
	unsigned char *stage; /* tee-gcm: a block that arrives in pieces */
	size_t staged;        /* tee-gcm: its bytes so far */
	uint64_t blocks;      /* tee-gcm: blocks written */
	int pipe_fd[2];       /* splice: file -> pipe_fd[1], pipe_fd[0] -> socket */
	size_t pipe_cap;      /* splice: the pipe's size as obtained */
#ifdef LOTA_HAVE_LIBURING
	struct io_uring ring;
	bool ring_ok;
	bool fixed; /* the two buffers are registered with the ring */
	char *ubuf; /* uring: two buffers of g_chunk bytes */
	unsigned zc_sends, zc_copied;
#endif
};

static int send_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static size_t chunk_at(off_t off, off_t size)
{
	return (size_t)(size - off) < g_chunk ? (size_t)(size - off) : g_chunk;
}

static int send_pread(struct conn *c, int fd, off_t size)
{
	off_t off = 0;
	while (off < size) {
		ssize_t n = pread(fd, c->buf, chunk_at(off, size), off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0 || send_all(c->sock, c->buf, (size_t)n) < 0)
			return -1;
		off += n;
	}
	return 0;
}

static int send_sendfile(struct conn *c, int fd, off_t size)
{
	off_t off = 0;
	while (off < size) {
		ssize_t n = sendfile(c->sock, fd, &off, chunk_at(off, size));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
	}
	return 0;
}

static int send_mmap(struct conn *c, int fd, off_t size)
{
	if (size == 0)
		return 0; /* a mapping of nothing is EINVAL */
	int flags = MAP_SHARED | (g_way == WAY_MMAP_POPULATE ? MAP_POPULATE : 0);
	char *m = mmap(NULL, (size_t)size, PROT_READ, flags, fd, 0);
	if (m == MAP_FAILED)
		return -1;
	(void)madvise(m, (size_t)size, MADV_SEQUENTIAL);
	int rc = 0;
	for (off_t off = 0; off < size && rc == 0; off += (off_t)chunk_at(off, size))
		rc = send_all(c->sock, m + off, chunk_at(off, size));
	munmap(m, (size_t)size);
	return rc;
}

/* file -> pipe for up to a pipe's worth, then pipe -> socket until the pipe is empty;
 * SPLICE_F_MORE on the socket but for the last bytes, whose segment must not wait. */
static int send_splice(struct conn *c, int fd, off_t size)
{
	off_t off = 0;
	while (off < size) {
		size_t want = chunk_at(off, size);
		if (want > c->pipe_cap)
			want = c->pipe_cap;
		ssize_t n = splice(fd, &off, c->pipe_fd[1], NULL, want, SPLICE_F_MOVE);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		size_t in_pipe = (size_t)n;
		while (in_pipe) {
			unsigned more = off < size ? SPLICE_F_MORE : 0;
			ssize_t w = splice(c->pipe_fd[0], NULL, c->sock, NULL, in_pipe,
			                   SPLICE_F_MOVE | more);
			if (w < 0 && errno == EINTR)
				continue;
			if (w <= 0)
				return -1; /* the pipe keeps what it held: the connection closes */
			in_pipe -= (size_t)w;
		}
	}
	return 0;
}

/* ---- the gcm ways: a sealed file as lotad's store seals an extent ---- */
#define GCM_BLOCK  (64u << 10) /* plaintext bytes per block (lotad's default) */
#define GCM_TAG    16u
#define GCM_SEALED (GCM_BLOCK + GCM_TAG)
#define GCM_NAMES  64

static unsigned char g_key[32];
static size_t g_gcm_blocks; /* blocks per call: CHUNK_BYTES / GCM_BLOCK */
static pthread_mutex_t g_seal_mu = PTHREAD_MUTEX_INITIALIZER;
static char g_sealed[GCM_NAMES][4096 + 256]; /* the sources this process has sealed */
static int g_nsealed;

/* Block i's nonce (4 zero bytes, then i) and AAD (24 zero bytes, then i): the sizes
 * lotad's store uses, so the cipher does the same work per block. */
static void gcm_nonce_aad(uint64_t i, unsigned char nonce[12], unsigned char aad[32])
{
	memset(nonce, 0, 12);
	memset(aad, 0, 32);
	for (int k = 0; k < 8; k++)
		nonce[4 + k] = aad[24 + k] = (unsigned char)(i >> (56 - 8 * k));
}

static off_t gcm_plain_size(off_t sealed)
{
	return sealed - (sealed + GCM_SEALED - 1) / GCM_SEALED * GCM_TAG;
}

static int pread_full(int fd, void *buf, size_t len, off_t off)
{
	char *p = buf;
	while (len) {
		ssize_t n = pread(fd, p, len, off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		off += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Block i (LEN plaintext bytes) sealed into OUT: the ciphertext, then its tag. X is keyed
 * for encryption. */
static int gcm_seal_block(EVP_CIPHER_CTX *x, uint64_t i, const unsigned char *in, size_t len,
                          unsigned char *out)
{
	unsigned char nonce[12], aad[32];
	int n;
	gcm_nonce_aad(i, nonce, aad);
	if (EVP_EncryptInit_ex2(x, NULL, NULL, nonce, NULL) != 1 ||
	    EVP_EncryptUpdate(x, NULL, &n, aad, sizeof(aad)) != 1 ||
	    EVP_EncryptUpdate(x, out, &n, in, (int)len) != 1 ||
	    EVP_EncryptFinal_ex(x, out + len, &n) != 1 ||
	    EVP_CIPHER_CTX_ctrl(x, EVP_CTRL_GCM_GET_TAG, GCM_TAG, out + len) != 1)
		return -1;
	return 0;
}

/* SRC sealed into OUT (through OUT.tmp): each block encrypted with its nonce and AAD and
 * followed by its tag. */
static int gcm_seal_file(const char *src, const char *out)
{
	char tmp[sizeof(g_sealed[0]) + 48];
	unsigned char *in = malloc(GCM_BLOCK), *ct = malloc(GCM_SEALED);
	EVP_CIPHER_CTX *x = EVP_CIPHER_CTX_new();
	int fi = open(src, O_RDONLY | O_CLOEXEC), fo = -1, rc = -1;
	snprintf(tmp, sizeof(tmp), "%s.tmp", out);
	if (!in || !ct || !x || fi < 0 ||
	    EVP_EncryptInit_ex2(x, EVP_aes_256_gcm(), g_key, NULL, NULL) != 1 ||
	    (fo = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) < 0)
		goto out;
	for (uint64_t i = 0;; i++) {
		ssize_t got = 0, r;
		while (got < (ssize_t)GCM_BLOCK &&
		       (r = read(fi, in + got, GCM_BLOCK - (size_t)got))) {
			if (r < 0 && errno != EINTR)
				goto out;
			got += r > 0 ? r : 0;
		}
		if (got == 0)
			break;
		if (gcm_seal_block(x, i, in, (size_t)got, ct) < 0 ||
		    write(fo, ct, (size_t)got + GCM_TAG) != (ssize_t)got + (ssize_t)GCM_TAG)
			goto out;
		if (got < (ssize_t)GCM_BLOCK)
			break;
	}
	rc = close(fo) == 0 && rename(tmp, out) == 0 ? 0 : -1;
	fo = -1;
out:
	if (fo >= 0)
		close(fo);
	if (rc)
		unlink(tmp);
	if (fi >= 0)
		close(fi);
	EVP_CIPHER_CTX_free(x);
	free(in);
	free(ct);
	return rc;
}

/* PATH (a source file) -> PATH.gcm-PID, sealed by this process the first time it is asked
 * for. Returns -1 when the source cannot be sealed (missing: a 404). */
static int gcm_path(char *path, size_t cap)
{
	int rc = 0, i;
	pthread_mutex_lock(&g_seal_mu);
	for (i = 0; i < g_nsealed && strcmp(g_sealed[i], path); i++)
		;
	if (i == g_nsealed) {
		char out[sizeof(g_sealed[0]) + 32];
		snprintf(out, sizeof(out), "%s.gcm-%ld", path, (long)getpid());
		rc = g_nsealed < GCM_NAMES && strlen(path) < sizeof(g_sealed[0]) &&
		             gcm_seal_file(path, out) == 0
		         ? 0
		         : -1;
		if (rc == 0)
			snprintf(g_sealed[g_nsealed++], sizeof(g_sealed[0]), "%s", path);
	}
	pthread_mutex_unlock(&g_seal_mu);
	size_t len = strlen(path);
	if (rc == 0 &&
	    snprintf(path + len, cap - len, ".gcm-%ld", (long)getpid()) >= (int)(cap - len))
		rc = -1;
	return rc;
}

/* Block i (LEN bytes of ciphertext, its tag after them) checked and decrypted into OUT. */
static int gcm_open_block(struct conn *c, uint64_t i, const unsigned char *in, size_t len,
                          char *out)
{
	unsigned char nonce[12], aad[32];
	int n;
	gcm_nonce_aad(i, nonce, aad);
	if (EVP_DecryptInit_ex2(c->gcm, NULL, NULL, nonce, NULL) != 1 ||
	    EVP_DecryptUpdate(c->gcm, NULL, &n, aad, sizeof(aad)) != 1 ||
	    EVP_DecryptUpdate(c->gcm, (unsigned char *)out, &n, in, (int)len) != 1 ||
	    EVP_CIPHER_CTX_ctrl(c->gcm, EVP_CTRL_GCM_SET_TAG, GCM_TAG, (void *)(in + len)) != 1 ||
	    EVP_DecryptFinal_ex(c->gcm, (unsigned char *)out + len, &n) != 1)
		return -1;
	return 0;
}

/* The sealed file's blocks, g_gcm_blocks a call: read by pread into c->sealed (gcm) or
 * taken from a mapping (gcm-mmap), each checked and decrypted into c->buf, then sent. A
 * block that fails its tag closes the connection before any of its bytes is sent. */
static int send_gcm(struct conn *c, int fd, off_t sealed)
{
	const unsigned char *map = NULL;
	if (g_way == WAY_GCM_MMAP && sealed > 0) {
		void *m = mmap(NULL, (size_t)sealed, PROT_READ, MAP_SHARED | MAP_POPULATE, fd, 0);
		if (m == MAP_FAILED)
			return -1;
		(void)madvise(m, (size_t)sealed, MADV_SEQUENTIAL);
		map = m;
	}
	uint64_t nb = ((uint64_t)sealed + GCM_SEALED - 1) / GCM_SEALED;
	int rc = 0;
	for (uint64_t b = 0; b < nb && rc == 0; b += g_gcm_blocks) {
		uint64_t k = nb - b < g_gcm_blocks ? nb - b : g_gcm_blocks;
		off_t soff = (off_t)(b * GCM_SEALED);
		size_t slen = (size_t)(sealed - soff) < k * GCM_SEALED ? (size_t)(sealed - soff)
		                                                       : (size_t)(k * GCM_SEALED);
		const unsigned char *in = map ? map + soff : (const unsigned char *)c->sealed;
		if (!map && pread_full(fd, c->sealed, slen, soff) < 0)
			rc = -1;
		size_t plain = 0;
		for (uint64_t j = 0; j < k && rc == 0; j++) {
			size_t left = slen - (size_t)j * GCM_SEALED;
			size_t blen = (left < GCM_SEALED ? left : GCM_SEALED) - GCM_TAG;
			rc = gcm_open_block(c, b + j, in + j * GCM_SEALED, blen, c->buf + plain);
			plain += blen;
		}
		if (rc == 0)
			rc = send_all(c->sock, c->buf, plain);
	}
	if (map)
		munmap((void *)map, (size_t)sealed);
	return rc;
}

/* ---- the tee ways: a cold miss's fewest moves ---- */
static int g_upstream_port;
static atomic_uint g_tee_seq;

static int write_all(int fd, const void *buf, size_t n)
{
	const char *p = buf;
	while (n) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static int tee_seal(struct conn *c, const unsigned char *in, size_t len)
{
	if (gcm_seal_block(c->gcm, c->blocks++, in, len, (unsigned char *)c->sealed) < 0)
		return -1;
	return write_all(c->tee_fd, c->sealed, len + GCM_TAG);
}

/* What the upstream sent, written to the connection's file: as it came (tee) or sealed
 * in blocks (tee-gcm), whole blocks straight from the relay buffer and only a block that
 * arrives in pieces staged first, as lotad's fills do. */
static int tee_write(struct conn *c, const char *p, size_t n)
{
	if (g_way == WAY_TEE)
		return write_all(c->tee_fd, p, n);
	while (n) {
		if (c->staged == 0 && n >= GCM_BLOCK) {
			if (tee_seal(c, (const unsigned char *)p, GCM_BLOCK) < 0)
				return -1;
			p += GCM_BLOCK;
			n -= GCM_BLOCK;
			continue;
		}
		size_t k = GCM_BLOCK - c->staged < n ? GCM_BLOCK - c->staged : n;
		memcpy(c->stage + c->staged, p, k);
		c->staged += k;
		p += k;
		n -= k;
		if (c->staged == GCM_BLOCK) {
			if (tee_seal(c, c->stage, GCM_BLOCK) < 0)
				return -1;
			c->staged = 0;
		}
	}
	return 0;
}

/* The connection relayed to the upstream both ways by a blocking poll loop (as socat
 * does), every byte the upstream sends also written to DIR/tee-PID-N, a file per
 * connection (kept: lotad keeps what it fills). */
static void tee_relay(struct conn *c)
{
	struct sockaddr_in a = {.sin_family = AF_INET,
	                        .sin_port = htons((unsigned short)g_upstream_port),
	                        .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	char path[4096 + 64];
	snprintf(path, sizeof(path), "%s/tee-%ld-%u", g_dir, (long)getpid(),
	         atomic_fetch_add(&g_tee_seq, 1));
	c->up = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->up < 0 || connect(c->up, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    (c->tee_fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) < 0)
		return;
	struct pollfd pf[2] = {{.fd = c->sock, .events = POLLIN}, {.fd = c->up, .events = POLLIN}};
	for (;;) {
		if (poll(pf, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (pf[0].revents) {
			ssize_t n = recv(c->sock, c->head, HEAD_MAX, 0);
			if (n <= 0 && !(n < 0 && errno == EINTR))
				break;
			if (n > 0 && send_all(c->up, c->head, (size_t)n) < 0)
				break;
		}
		if (pf[1].revents) {
			ssize_t n = recv(c->up, c->buf, g_chunk, 0);
			if (n <= 0 && !(n < 0 && errno == EINTR))
				break;
			if (n > 0 && (send_all(c->sock, c->buf, (size_t)n) < 0 ||
			              tee_write(c, c->buf, (size_t)n) < 0))
				break;
		}
	}
	int rc = g_way == WAY_TEE_GCM && c->staged ? tee_seal(c, c->stage, c->staged) : 0;
	/* made durable before it counts as stored, as lotad publishes an extent */
	struct stat st;
	if (rc == 0 && fdatasync(c->tee_fd) == 0 && fstat(c->tee_fd, &st) == 0)
		fprintf(stderr, "tee: %s: %lld bytes written and synced\n", path,
		        (long long)st.st_size);
	else
		fprintf(stderr, "tee: %s: not stored: %s\n", path, strerror(errno));
}

#ifdef LOTA_HAVE_LIBURING
/* IORING_SEND_ZC_REPORT_USAGE (Linux 6.2, newer than liburing 2.3's header): the
 * notification says whether the kernel copied the data after all. Dropped on EINVAL. */
#ifndef IORING_SEND_ZC_REPORT_USAGE
#define IORING_SEND_ZC_REPORT_USAGE (1U << 3)
#endif
#ifndef IORING_NOTIF_USAGE_ZC_COPIED
#define IORING_NOTIF_USAGE_ZC_COPIED (1U << 31)
#endif

static unsigned g_ring_flags;  /* the setup flags this kernel took */
static atomic_uint g_zc_flags; /* uring-zc: IORING_OP_SEND_ZC's flags */
static atomic_int g_noted;     /* one-time notes on stderr already written */

static void note_once(int bit, const char *msg)
{
	if (!(atomic_fetch_or(&g_noted, bit) & bit))
		fprintf(stderr, "rawserve: %s\n", msg);
}

enum { OP_READ, OP_SEND };
enum { B_FREE, B_READING, B_FILLED, B_SENDING };

/* One of the two buffers: chunk k of the file goes through buffer k % 2. */
struct ubuf {
	char *p;
	off_t off;        /* the chunk's place in the file */
	size_t len, done; /* bytes of the chunk, bytes read (B_READING) or sent (B_SENDING) */
	int state;
	unsigned notifs; /* uring-zc: notifications still to come; the buffer is busy */
};

static int ring_setup(struct io_uring *ring, unsigned flags)
{
	struct io_uring_params p = {.flags = flags};
	return io_uring_queue_init_params(8, ring, &p);
}

static void submit_read(struct conn *c, int fd, struct ubuf *b, unsigned i)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&c->ring); /* 8 entries, 3 in flight */
	size_t n = b->len - b->done;
	if (c->fixed)
		io_uring_prep_read_fixed(sqe, fd, b->p + b->done, (unsigned)n,
		                         (uint64_t)(b->off + (off_t)b->done), (int)i);
	else
		io_uring_prep_read(sqe, fd, b->p + b->done, (unsigned)n,
		                   (uint64_t)(b->off + (off_t)b->done));
	io_uring_sqe_set_data64(sqe, OP_READ << 1 | i);
}

static void submit_send(struct conn *c, struct ubuf *b, unsigned i)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&c->ring);
	size_t n = b->len - b->done;
	if (g_way != WAY_URING_ZC)
		io_uring_prep_send(sqe, c->sock, b->p + b->done, n, MSG_NOSIGNAL);
	else if (c->fixed)
		io_uring_prep_send_zc_fixed(sqe, c->sock, b->p + b->done, n, MSG_NOSIGNAL,
		                            atomic_load(&g_zc_flags), i);
	else
		io_uring_prep_send_zc(sqe, c->sock, b->p + b->done, n, MSG_NOSIGNAL,
		                      atomic_load(&g_zc_flags));
	io_uring_sqe_set_data64(sqe, OP_SEND << 1 | i);
}

/* Reads run ahead into the free buffer while the other one is sent, but only one send is
 * in flight: io_uring does not keep two sends on one socket in order unless they are
 * linked, and a read's link to its send would not order it after the previous send. A
 * short read or send is resubmitted for its remainder. No request outlives the call: on
 * an error the socket is shut down and every completion (and notification) is reaped. */
static int send_uring(struct conn *c, int fd, off_t size)
{
	struct ubuf b[2] = {{.p = c->ubuf}, {.p = c->ubuf + g_chunk}};
	off_t nchunks = (size + (off_t)g_chunk - 1) / (off_t)g_chunk;
	off_t next_read = 0, next_send = 0;
	unsigned pending = 0;
	int rc = 0;
	bool sending = false;
	for (;;) {
		while (rc == 0 && next_read < nchunks && next_read < next_send + 2) {
			struct ubuf *r = &b[next_read % 2];
			if (r->state != B_FREE || r->notifs)
				break;
			r->off = next_read * (off_t)g_chunk;
			r->len = chunk_at(r->off, size);
			r->done = 0;
			r->state = B_READING;
			submit_read(c, fd, r, (unsigned)(next_read % 2));
			pending++;
			next_read++;
		}
		struct ubuf *s = &b[next_send % 2];
		if (rc == 0 && !sending && next_send < nchunks && s->state == B_FILLED) {
			s->state = B_SENDING;
			s->done = 0;
			submit_send(c, s, (unsigned)(next_send % 2));
			pending++;
			sending = true;
		}
		if (!pending && !b[0].notifs && !b[1].notifs)
			break;
		struct io_uring_cqe *cqe;
		int e = io_uring_submit_and_wait(&c->ring, 1);
		if (e < 0 && e != -EINTR && e != -EAGAIN && e != -EBUSY) {
			/* the ring itself failed: nothing more can be reaped */
			fprintf(stderr, "rawserve: io_uring_submit_and_wait: %s\n", strerror(-e));
			abort();
		}
		unsigned head, seen = 0;
		io_uring_for_each_cqe(&c->ring, head, cqe)
		{
			seen++;
			unsigned i = (unsigned)(cqe->user_data & 1),
			         op = (unsigned)(cqe->user_data >> 1);
			struct ubuf *x = &b[i];
			int res = cqe->res;
			if (cqe->flags & IORING_CQE_F_NOTIF) {
				x->notifs--;
				c->zc_sends++;
				if ((unsigned)res & IORING_NOTIF_USAGE_ZC_COPIED)
					c->zc_copied++;
				continue;
			}
			pending--;
			if (cqe->flags & IORING_CQE_F_MORE)
				x->notifs++;
			if (res == -EINVAL && op == OP_SEND && g_way == WAY_URING_ZC &&
			    (atomic_fetch_and(&g_zc_flags, ~IORING_SEND_ZC_REPORT_USAGE) &
			     IORING_SEND_ZC_REPORT_USAGE))
				res = -EAGAIN; /* an older kernel: again without the report */
			if (rc == 0 && (res == -EAGAIN || res == -EINTR)) {
				if (op == OP_READ)
					submit_read(c, fd, x, i);
				else
					submit_send(c, x, i);
				pending++;
				continue;
			}
			if (res <= 0) { /* an error, or the file ended before its size */
				if (rc == 0)
					shutdown(c->sock, SHUT_RDWR);
				rc = -1;
				continue;
			}
			x->done += (size_t)res;
			if (rc == 0 && x->done < x->len) {
				if (op == OP_READ)
					submit_read(c, fd, x, i);
				else
					submit_send(c, x, i);
				pending++;
				continue;
			}
			if (op == OP_READ) {
				x->state = B_FILLED;
			} else {
				x->state = B_FREE;
				sending = false;
				next_send++;
			}
		}
		io_uring_cq_advance(&c->ring, seen);
	}
	return rc;
}

static int conn_uring_init(struct conn *c)
{
	if (ring_setup(&c->ring, g_ring_flags) < 0)
		return -1;
	c->ring_ok = true;
	if (posix_memalign((void **)&c->ubuf, 4096, 2 * g_chunk) != 0) {
		c->ubuf = NULL;
		return -1;
	}
	struct iovec iov[2] = {{c->ubuf, g_chunk}, {c->ubuf + g_chunk, g_chunk}};
	int e = io_uring_register_buffers(&c->ring, iov, 2);
	c->fixed = e == 0;
	if (e < 0)
		note_once(2, "uring: io_uring_register_buffers failed (RLIMIT_MEMLOCK?): "
		             "unregistered buffers on some connections");
	return 0;
}

static void conn_uring_cleanup(struct conn *c)
{
	if (c->ring_ok)
		io_uring_queue_exit(&c->ring);
	free(c->ubuf);
	if (c->zc_sends && !(atomic_fetch_or(&g_noted, 4) & 4))
		fprintf(stderr,
		        "rawserve: uring-zc: the kernel copied %u of %u zerocopy sends "
		        "of the first connection%s\n",
		        c->zc_copied, c->zc_sends,
		        atomic_load(&g_zc_flags) & IORING_SEND_ZC_REPORT_USAGE
		            ? ""
		            : " (not reported by this kernel)");
}

/* Whether this kernel has what MODE needs; the setup flags it takes go to g_ring_flags. */
static int uring_check(char *why, size_t len)
{
	struct io_uring ring;
	static const unsigned tries[] = {IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_COOP_TASKRUN,
	                                 IORING_SETUP_COOP_TASKRUN, 0};
	int e = -EINVAL;
	for (size_t i = 0; i < sizeof(tries) / sizeof(tries[0]); i++) {
		if ((e = ring_setup(&ring, tries[i])) == 0) {
			g_ring_flags = tries[i];
			break;
		}
	}
	if (e < 0) {
		snprintf(why, len, "io_uring_queue_init: %s", strerror(-e));
		return -1;
	}
	struct io_uring_probe *p = io_uring_get_probe_ring(&ring);
	int rc = 0;
	if (g_way == WAY_URING_ZC && (!p || !io_uring_opcode_supported(p, IORING_OP_SEND_ZC))) {
		snprintf(why, len, "this kernel has no IORING_OP_SEND_ZC");
		rc = -1;
	}
	if (p)
		io_uring_free_probe(p);
	io_uring_queue_exit(&ring);
	return rc;
}
#endif

/* One request from head[0..len): its response. Returns -1 to close the connection. */
static int answer(struct conn *c)
{
	char name[256], path[4096 + 256], resp[256];
	if (sscanf(c->head, "GET /%255[^ ?] HTTP/1.", name) != 1 || strchr(name, '/') ||
	    strstr(name, ".."))
		return -1;
	snprintf(path, sizeof(path), "%s/%s", g_dir, name);
	bool gcm = g_way == WAY_GCM || g_way == WAY_GCM_MMAP;
	int fd = gcm && gcm_path(path, sizeof(path)) < 0 ? -1 : open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0) {
		static const char nf[] = "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n";
		if (fd >= 0)
			close(fd);
		return send_all(c->sock, nf, sizeof(nf) - 1);
	}
	int n = snprintf(resp, sizeof(resp),
	                 "HTTP/1.1 200 OK\r\nContent-Length: %lld\r\n"
	                 "Content-Type: application/octet-stream\r\n\r\n",
	                 (long long)(gcm ? gcm_plain_size(st.st_size) : st.st_size));
	int rc = send_all(c->sock, resp, (size_t)n);
	if (rc == 0) {
		switch (g_way) {
		case WAY_PREAD:
			rc = send_pread(c, fd, st.st_size);
			break;
		case WAY_SENDFILE:
			rc = send_sendfile(c, fd, st.st_size);
			break;
		case WAY_MMAP:
		case WAY_MMAP_POPULATE:
			rc = send_mmap(c, fd, st.st_size);
			break;
		case WAY_SPLICE:
			rc = send_splice(c, fd, st.st_size);
			break;
		case WAY_URING:
		case WAY_URING_ZC:
#ifdef LOTA_HAVE_LIBURING
			rc = send_uring(c, fd, st.st_size);
#else
			rc = -1;
#endif
			break;
		case WAY_GCM:
		case WAY_GCM_MMAP:
			rc = send_gcm(c, fd, st.st_size);
			break;
		case WAY_TEE:
		case WAY_TEE_GCM:
			rc = -1; /* relayed, never answered here (tee_relay) */
			break;
		}
	}
	close(fd);
	return rc;
}

/* What the connection's way needs: -1 when it cannot be had (the connection closes). */
static int conn_init(struct conn *c)
{
	if (g_sndbuf > 0)
		(void)setsockopt(c->sock, SOL_SOCKET, SO_SNDBUF, &g_sndbuf, sizeof(g_sndbuf));
	if (!(c->head = malloc(HEAD_MAX + 1)))
		return -1;
	switch (g_way) {
	case WAY_PREAD:
		return (c->buf = malloc(g_chunk)) ? 0 : -1;
	case WAY_SPLICE: {
		if (pipe2(c->pipe_fd, O_CLOEXEC) < 0) {
			c->pipe_fd[0] = c->pipe_fd[1] = -1;
			return -1;
		}
		int got = fcntl(c->pipe_fd[1], F_SETPIPE_SZ, (int)g_pipe_bytes);
		if (got < 0)
			got = fcntl(c->pipe_fd[1], F_GETPIPE_SZ);
		c->pipe_cap = got > 0 ? (size_t)got : 4096;
		return 0;
	}
	case WAY_URING:
	case WAY_URING_ZC:
#ifdef LOTA_HAVE_LIBURING
		return conn_uring_init(c);
#else
		return -1;
#endif
	case WAY_GCM:
	case WAY_GCM_MMAP:
		if (!(c->buf = malloc(g_gcm_blocks * GCM_BLOCK)) ||
		    (g_way == WAY_GCM && !(c->sealed = malloc(g_gcm_blocks * GCM_SEALED))) ||
		    !(c->gcm = EVP_CIPHER_CTX_new()) ||
		    EVP_DecryptInit_ex2(c->gcm, EVP_aes_256_gcm(), g_key, NULL, NULL) != 1)
			return -1;
		return 0;
	case WAY_TEE:
	case WAY_TEE_GCM:
		if (!(c->buf = malloc(g_chunk)))
			return -1;
		if (g_way == WAY_TEE)
			return 0;
		if (!(c->stage = malloc(GCM_BLOCK)) || !(c->sealed = malloc(GCM_SEALED)) ||
		    !(c->gcm = EVP_CIPHER_CTX_new()) ||
		    EVP_EncryptInit_ex2(c->gcm, EVP_aes_256_gcm(), g_key, NULL, NULL) != 1)
			return -1;
		return 0;
	default:
		return 0;
	}
}

static void conn_cleanup(struct conn *c)
{
#ifdef LOTA_HAVE_LIBURING
	conn_uring_cleanup(c);
#endif
	for (int i = 0; i < 2; i++)
		if (c->pipe_fd[i] >= 0)
			close(c->pipe_fd[i]);
	if (c->up >= 0)
		close(c->up);
	if (c->tee_fd >= 0)
		close(c->tee_fd);
	free(c->head);
	free(c->buf);
	free(c->sealed);
	free(c->stage);
	EVP_CIPHER_CTX_free(c->gcm);
	close(c->sock);
}

static void *conn_main(void *arg)
{
	struct conn c = {.sock = (int)(intptr_t)arg, .pipe_fd = {-1, -1}, .up = -1, .tee_fd = -1};
	size_t have = 0;
	if (conn_init(&c) < 0)
		goto out;
	if (g_way == WAY_TEE || g_way == WAY_TEE_GCM) {
		tee_relay(&c);
		goto out;
	}
	for (;;) {
		char *end = NULL;
		while (!(end = memmem(c.head, have, "\r\n\r\n", 4))) {
			if (have == HEAD_MAX)
				goto out;
			ssize_t n = recv(c.sock, c.head + have, HEAD_MAX - have, 0);
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				goto out;
			have += (size_t)n;
		}
		size_t used = (size_t)(end + 4 - c.head);
		c.head[have < HEAD_MAX ? have : HEAD_MAX] = 0;
		if (answer(&c) < 0)
			goto out;
		memmove(c.head, c.head + used, have - used);
		have -= used;
	}
out:
	conn_cleanup(&c);
	return NULL;
}

/* The pipe size to ask for: CHUNK_BYTES within fs.pipe-max-size. */
static size_t pipe_bytes_for(size_t chunk, long *max_out)
{
	long max = 1 << 20;
	FILE *f = fopen("/proc/sys/fs/pipe-max-size", "r");
	if (f) {
		if (fscanf(f, "%ld", &max) != 1)
			max = 1 << 20;
		fclose(f);
	}
	*max_out = max;
	return chunk < (size_t)max ? chunk : (size_t)max;
}

/* The first line on stderr: what this process obtained, for the benchmark's record. */
static void report(void)
{
	char extra[160] = "";
	int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), sb = 0;
	socklen_t sl = sizeof(sb);
	if (s >= 0) {
		if (g_sndbuf > 0)
			(void)setsockopt(s, SOL_SOCKET, SO_SNDBUF, &g_sndbuf, sizeof(g_sndbuf));
		if (getsockopt(s, SOL_SOCKET, SO_SNDBUF, &sb, &sl) < 0)
			sb = -1;
		close(s);
	}
	if (g_way == WAY_SPLICE) {
		long max;
		int p[2], got = -1;
		g_pipe_bytes = pipe_bytes_for(g_chunk, &max);
		if (pipe2(p, O_CLOEXEC) == 0) {
			if ((got = fcntl(p[1], F_SETPIPE_SZ, (int)g_pipe_bytes)) < 0)
				got = fcntl(p[1], F_GETPIPE_SZ);
			close(p[0]);
			close(p[1]);
		}
		snprintf(extra, sizeof(extra), ", pipe %d bytes (asked %zu, pipe-max-size %ld)",
		         got, g_pipe_bytes, max);
	}
#ifdef LOTA_HAVE_LIBURING
	if (g_way == WAY_URING || g_way == WAY_URING_ZC)
		snprintf(extra, sizeof(extra), ", ring setup flags 0x%x, 2 registered buffers",
		         g_ring_flags);
#endif
	if (g_way == WAY_GCM || g_way == WAY_GCM_MMAP)
		snprintf(extra, sizeof(extra), ", AES-256-GCM blocks of %u bytes, %zu a call",
		         GCM_BLOCK, g_gcm_blocks);
	if (g_way == WAY_TEE || g_way == WAY_TEE_GCM)
		snprintf(extra, sizeof(extra), ", relaying to 127.0.0.1:%d, the answers written %s",
		         g_upstream_port,
		         g_way == WAY_TEE ? "as they come"
		                          : "sealed in AES-256-GCM blocks of 64 KiB");
	fprintf(stderr, "rawserve: %s, calls of %zu bytes, SO_SNDBUF %d asked, %d obtained%s\n",
	        way_names[g_way], g_chunk, g_sndbuf, sb, extra);
}

int main(int argc, char **argv)
{
	size_t w = WAYS;
	if (argc >= 4)
		for (w = 0; w < WAYS && strcmp(argv[3], way_names[w]); w++)
			;
	bool tee = w == WAY_TEE || w == WAY_TEE_GCM;
	if (argc < 4 || w == WAYS || (tee && argc < 5)) {
		fprintf(stderr,
		        "usage: rawserve PORT DIR "
		        "pread|sendfile|mmap|mmap-populate|splice|uring|uring-zc|gcm|gcm-mmap "
		        "[CHUNK_BYTES [SNDBUF_BYTES]]\n"
		        "       rawserve PORT DIR tee|tee-gcm UPSTREAM_PORT "
		        "[CHUNK_BYTES [SNDBUF_BYTES]]\n");
		return 2;
	}
	g_dir = argv[2];
	g_way = (enum way)w;
	if (tee) {
		char *end;
		long up = strtol(argv[4], &end, 10);
		if (*end || up < 1 || up > 65535) {
			fprintf(stderr, "rawserve: UPSTREAM_PORT must be in [1, 65535]\n");
			return 2;
		}
		g_upstream_port = (int)up;
	}
	int o = tee ? 5 : 4; /* CHUNK_BYTES, then SNDBUF_BYTES */
	if (argc > o && (g_chunk = strtoul(argv[o], NULL, 10)) < 4096) {
		fprintf(stderr, "rawserve: CHUNK_BYTES below 4096\n");
		return 2;
	}
	if (g_chunk > (1U << 30)) {
		fprintf(stderr, "rawserve: CHUNK_BYTES above 1 GiB\n");
		return 2;
	}
	if (argc > o + 1) {
		long sb = strtol(argv[o + 1], NULL, 10);
		if (sb < 0 || sb > (1L << 30)) {
			fprintf(stderr, "rawserve: SNDBUF_BYTES out of [0, 1 GiB]\n");
			return 2;
		}
		g_sndbuf = (int)sb;
	}
	if (g_way == WAY_URING || g_way == WAY_URING_ZC) {
#ifdef LOTA_HAVE_LIBURING
		char why[128];
		atomic_store(&g_zc_flags, IORING_SEND_ZC_REPORT_USAGE);
		if (uring_check(why, sizeof(why)) < 0) {
			fprintf(stderr, "rawserve: %s unavailable: %s\n", argv[3], why);
			return 3;
		}
#else
		fprintf(stderr, "rawserve: %s unavailable: built without liburing\n", argv[3]);
		return 3;
#endif
	}
	if (g_way == WAY_TEE_GCM && RAND_bytes(g_key, sizeof(g_key)) != 1) {
		fprintf(stderr, "rawserve: no random key\n");
		return 1;
	}
	if (g_way == WAY_GCM || g_way == WAY_GCM_MMAP) {
		if ((g_gcm_blocks = g_chunk / GCM_BLOCK) == 0) {
			fprintf(stderr,
			        "rawserve: %s needs CHUNK_BYTES of at least one block (%u)\n",
			        argv[3], GCM_BLOCK);
			return 2;
		}
		if (RAND_bytes(g_key, sizeof(g_key)) != 1) {
			fprintf(stderr, "rawserve: no random key\n");
			return 1;
		}
	}
	report();
	signal(SIGPIPE, SIG_IGN);
	int ls = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
	struct sockaddr_in a = {.sin_family = AF_INET,
	                        .sin_port = htons((unsigned short)atoi(argv[1])),
	                        .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	if (ls < 0 || setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(ls, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(ls, 1024) < 0) {
		perror("rawserve: listen");
		return 1;
	}
	for (;;) {
		int s = accept4(ls, NULL, NULL, SOCK_CLOEXEC);
		if (s < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			perror("rawserve: accept");
			return 1;
		}
		pthread_t t;
		pthread_attr_t at;
		pthread_attr_init(&at);
		pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
		if (pthread_create(&t, &at, conn_main, (void *)(intptr_t)s) != 0)
			close(s);
		pthread_attr_destroy(&at);
	}
}
