/*
 * cipher.c - `lota bench cipher`: the speed of the cipher of lotad's sealed extents on
 * one core of this machine, the limit of an encrypted hit (issue 14): AES-256-GCM
 * opening of blocks of the store's size with the key schedule kept (what a store reader
 * does, lota__aead_key_open), and for comparison the one-shot form that expands the key
 * for every block (lota__aead_open) and sealing (what a fill does). One thread, from and
 * into buffers that stay in the CPU's caches; MB/s are 10^6 bytes per second of that
 * thread's CPU time, so a busy machine gives the same figure, only later.
 *
 * The helpers are liblota's internal ones (lib/crypto-internal.h, from the static
 * archive): the figure is that of the very code lotad runs, not of `openssl speed`.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cmds.h"
#include "crypto-internal.h"

static const lota_config_key cipher_keys[] = {
    {.name = "block",
     .type = LOTA_CONFIG_SIZE,
     .def = "64KiB",
     .min = 4096,
     .max = 1 << 20,
     .help = "bytes per sealed block (lotad's default: 64KiB)"},
    {.name = "duration",
     .type = LOTA_CONFIG_DURATION,
     .def = "1s",
     .min = 100,
     .max = 60000,
     .help = "CPU time per measurement"},
};

static double cpu_s(void)
{
	struct timespec t;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

enum { OPEN_KEPT, OPEN_ONESHOT, SEAL };

/* MB/s of one way over blocks of bs bytes for about dur_s of CPU; < 0 on a failure. */
static double measure(int how, uint8_t *ct, uint8_t *pt, size_t bs, const uint8_t tag[16],
                      lota__aead_key *k, const uint8_t key[32], double dur_s)
{
	uint8_t nonce[LOTA__GCM_NONCE_LEN] = {0}, aad[32] = {0}, t2[16];
	uint64_t bytes = 0;
	double t0 = cpu_s(), t;
	do {
		for (int i = 0; i < 64; i++) {
			int rc =
			    how == OPEN_KEPT
			        ? lota__aead_key_open(k, nonce, aad, sizeof(aad), ct, bs, pt, tag)
			    : how == OPEN_ONESHOT
			        ? lota__aead_open(key, nonce, aad, sizeof(aad), ct, bs, pt, tag)
			        : lota__aead_seal(key, nonce, aad, sizeof(aad), pt, bs, pt, t2);
			if (rc)
				return -1;
			bytes += bs;
		}
		t = cpu_s() - t0;
	} while (t < dur_s);
	return (double)bytes / t / 1e6;
}

int lota_cmd_bench_cipher(int argc, char **argv)
{
	const char *usage = "lota bench cipher [--block 64KiB] [--duration 1s]";
	tool_args a;
	int st =
	    tool_parse("bench cipher", cipher_keys, sizeof(cipher_keys) / sizeof(cipher_keys[0]),
	               argc, argv, usage, 0, 0, &a);
	if (st >= 0)
		return st;
	size_t bs = (size_t)lota_config_get_size(a.cfg, "block");
	double dur = (double)lota_config_get_duration_ms(a.cfg, "duration") / 1000.0;
	uint8_t key[32], tag[16], nonce[LOTA__GCM_NONCE_LEN] = {0}, aad[32] = {0};
	uint8_t *pt = malloc(bs), *ct = malloc(bs);
	lota__aead_key *k = NULL;
	st = 1;
	if (!pt || !ct || lota__random_bytes(key, sizeof(key)) || lota__random_bytes(pt, bs) ||
	    lota__aead_seal(key, nonce, aad, sizeof(aad), pt, bs, ct, tag) ||
	    !(k = lota__aead_key_new(key))) {
		fprintf(stderr, "lota bench cipher: cannot set up AES-256-GCM\n");
		goto out;
	}
	double kept = measure(OPEN_KEPT, ct, pt, bs, tag, k, key, dur);
	double once = measure(OPEN_ONESHOT, ct, pt, bs, tag, k, key, dur);
	uint8_t *sealbuf = malloc(bs);
	double seal = -1;
	if (sealbuf) {
		memcpy(sealbuf, pt, bs);
		seal = measure(SEAL, ct, sealbuf, bs, tag, k, key, dur);
		free(sealbuf);
	}
	if (kept < 0 || once < 0 || seal < 0) {
		fprintf(stderr, "lota bench cipher: a block failed\n");
		goto out;
	}
	printf("aes-256-gcm, %zu-byte blocks, one core (MB/s of CPU time):\n", bs);
	printf("open (hit, key schedule kept)  %8.0f MB/s  %.3f CPU-s/GiB\n", kept,
	       1073.741824 / kept);
	printf("open (key expanded per block)  %8.0f MB/s  %.3f CPU-s/GiB\n", once,
	       1073.741824 / once);
	printf("seal (fill)                    %8.0f MB/s  %.3f CPU-s/GiB\n", seal,
	       1073.741824 / seal);
	st = 0;
out:
	lota__aead_key_free(k);
	free(pt);
	free(ct);
	tool_args_free(&a);
	return st;
}
