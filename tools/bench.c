/*
 * bench.c - `lota bench get|put`: a load generator in the manner of warp. N objects of
 * one size under a prefix, `concurrency` threads sharing one client handle, each doing
 * whole-object GETs (or PUTs) back to back for a duration; then throughput, ops/s and
 * latency percentiles. `get` first uploads the objects that are missing or of another
 * size. Each request is timed on its own (monotonic clock); errors are counted, not
 * timed.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmds.h"

static const lota_config_key bench_keys[] = {
    {.name = "objects",
     .type = LOTA_CONFIG_INT,
     .def = "16",
     .min = 1,
     .max = 100000,
     .help = "number of objects"},
    {.name = "size",
     .type = LOTA_CONFIG_SIZE,
     .def = "4MiB",
     .min = 0,
     .max = 1ll << 32,
     .help = "size of each object"},
    {.name = "duration",
     .type = LOTA_CONFIG_DURATION,
     .def = "10s",
     .min = 1,
     .max = 86400000,
     .help = "how long to run"},
};

typedef struct bench {
	lota_client *c;
	const char *bucket;
	char (*keys)[1100];
	size_t nkeys;
	uint64_t size;
	bool put;
	const unsigned char *data;
	uint64_t deadline_ms;
	atomic_ulong next;
	atomic_ulong errors;
	atomic_int first_err;
	lota_client_error err;
	pthread_mutex_t mu;
} bench;

typedef struct worker {
	bench *b;
	pthread_t th;
	double *lat; /* ms */
	size_t n, cap;
	unsigned char *buf;
} worker;

static void *work(void *ud)
{
	worker *w = ud;
	bench *b = w->b;
	while (tool_now_ms() < b->deadline_ms) {
		size_t i = atomic_fetch_add(&b->next, 1) % b->nkeys;
		lota_client_error e;
		uint64_t t0 = tool_now_ms();
		struct timespec a, z;
		clock_gettime(CLOCK_MONOTONIC, &a);
		int rc;
		if (b->put) {
			rc = lota_client_put_buffer(b->c, b->bucket, b->keys[i], b->data, b->size,
			                            NULL, NULL, &e);
		} else {
			size_t got;
			lota_get_opts go = LOTA_OPTS(lota_get_opts, .concurrency = 1);
			rc = lota_client_get_buffer(b->c, b->bucket, b->keys[i], w->buf, b->size,
			                            &go, &got, NULL, &e);
		}
		clock_gettime(CLOCK_MONOTONIC, &z);
		(void)t0;
		if (rc < 0) {
			atomic_fetch_add(&b->errors, 1);
			int zero = 0;
			if (atomic_compare_exchange_strong(&b->first_err, &zero, rc)) {
				pthread_mutex_lock(&b->mu);
				b->err = e;
				pthread_mutex_unlock(&b->mu);
			}
			continue;
		}
		if (w->n == w->cap) {
			size_t cap = w->cap ? w->cap * 2 : 1024;
			double *nl = realloc(w->lat, cap * sizeof(*nl));
			if (!nl)
				break;
			w->lat = nl;
			w->cap = cap;
		}
		w->lat[w->n++] =
		    (double)(z.tv_sec - a.tv_sec) * 1e3 + (double)(z.tv_nsec - a.tv_nsec) / 1e6;
	}
	return NULL;
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

int lota_cmd_bench(int argc, char **argv)
{
	const char *usage = "lota bench get|put s3://bucket/prefix [--objects N] [--size 4MiB] "
	                    "[--concurrency C] [--duration 10s]\n       lota bench cipher "
	                    "[--block 64KiB] [--duration 1s]";
	if (argc >= 2 && !strcmp(argv[1], "cipher"))
		return lota_cmd_bench_cipher(argc - 1, argv + 1);
	if (argc < 2 || (strcmp(argv[1], "get") != 0 && strcmp(argv[1], "put") != 0)) {
		if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
			printf("usage: %s\n", usage);
			return 0;
		}
		fprintf(stderr, "usage: %s\n", usage);
		return 2;
	}
	bool put = !strcmp(argv[1], "put");
	tool_args a;
	int st = tool_parse("bench", bench_keys, sizeof(bench_keys) / sizeof(bench_keys[0]),
	                    argc - 1, argv + 1, usage, 1, 1, &a);
	if (st >= 0)
		return st;
	char bucket[256], prefix[1025];
	bench b = {.put = put};
	worker *ws = NULL;
	unsigned char *data = NULL;
	unsigned conc = (unsigned)lota_config_get_int(a.cfg, "concurrency");
	pthread_mutex_init(&b.mu, NULL);
	st = 2;
	if (!tool_s3_uri(a.pos[0], bucket, sizeof(bucket), prefix, sizeof(prefix))) {
		fprintf(stderr, "lota bench: \"%s\" is not s3://bucket/prefix\n", a.pos[0]);
		goto out;
	}
	st = 1;
	b.c = tool_client("bench", a.cfg);
	if (!b.c) {
		st = tool_client_status;
		goto out;
	}
	b.bucket = bucket;
	b.nkeys = (size_t)lota_config_get_int(a.cfg, "objects");
	b.size = lota_config_get_size(a.cfg, "size");
	b.keys = calloc(b.nkeys, sizeof(*b.keys));
	data = malloc(b.size ? b.size : 1);
	ws = calloc(conc, sizeof(*ws));
	if (!b.keys || !data || !ws) {
		fprintf(stderr, "lota bench: out of memory\n");
		goto out;
	}
	for (uint64_t i = 0; i < b.size; i++)
		data[i] = (unsigned char)(i * 2654435761u >> 13);
	b.data = data;
	for (size_t i = 0; i < b.nkeys; i++)
		snprintf(b.keys[i], sizeof(b.keys[i]), "%s%sbench-%06zu", prefix,
		         prefix[0] && prefix[strlen(prefix) - 1] != '/' ? "/" : "", i);
	if (!put) {
		/* the objects to read: upload those that are missing or of another size */
		for (size_t i = 0; i < b.nkeys; i++) {
			lota_object_info info;
			lota_client_error e;
			int rc = lota_client_head(b.c, bucket, b.keys[i], &info, &e);
			if (rc == 0 && info.size_bytes == b.size)
				continue;
			rc = lota_client_put_buffer(b.c, bucket, b.keys[i], data, b.size, NULL,
			                            NULL, &e);
			if (rc < 0) {
				st = tool_fail("bench", b.keys[i], rc, &e);
				goto out;
			}
		}
	}
	uint64_t t0 = tool_now_ms();
	b.deadline_ms = t0 + (uint64_t)lota_config_get_duration_ms(a.cfg, "duration");
	unsigned started = 0;
	for (; started < conc; started++) {
		ws[started].b = &b;
		if (!put && !(ws[started].buf = malloc(b.size ? b.size : 1)))
			break;
		if (pthread_create(&ws[started].th, NULL, work, &ws[started]) != 0)
			break;
	}
	size_t total = 0;
	for (unsigned i = 0; i < started; i++) {
		pthread_join(ws[i].th, NULL);
		total += ws[i].n;
	}
	double secs = (double)(tool_now_ms() - t0) / 1000.0;
	double *all = malloc((total ? total : 1) * sizeof(*all));
	if (!all)
		goto out;
	size_t k = 0;
	for (unsigned i = 0; i < started; i++)
		for (size_t j = 0; j < ws[i].n; j++)
			all[k++] = ws[i].lat[j];
	qsort(all, total, sizeof(*all), cmp_d);
	double p50 = total ? all[total / 2] : 0,
	       p99 = total ? all[(total * 99) / 100 < total ? (total * 99) / 100 : total - 1] : 0;
	free(all);
	char sz[32];
	printf("bench %s: %zu objects of %s, concurrency %u, %.1f s\n", put ? "put" : "get",
	       b.nkeys, tool_human(b.size, sz, sizeof(sz)), started, secs);
	printf("ops %zu  errors %lu  ops/s %.1f  throughput %.1f MiB/s  latency p50 %.2f ms  "
	       "p99 %.2f ms\n",
	       total, (unsigned long)atomic_load(&b.errors), secs > 0 ? (double)total / secs : 0,
	       secs > 0 ? (double)total * (double)b.size / secs / 1048576.0 : 0, p50, p99);
	if (atomic_load(&b.errors)) {
		st = tool_fail("bench", "a request failed", atomic_load(&b.first_err), &b.err);
		goto out;
	}
	st = 0;
out:
	for (unsigned i = 0; ws && i < conc; i++) {
		free(ws[i].lat);
		free(ws[i].buf);
	}
	free(ws);
	free(data);
	free(b.keys);
	lota_client_free(b.c);
	pthread_mutex_destroy(&b.mu);
	tool_args_free(&a);
	return st;
}
