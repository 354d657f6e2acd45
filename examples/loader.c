/*
 * loader.c - the shape of a data loader: a list of shards read by several threads with
 * lota_client_get_buffer, each thread reusing one buffer (grown only when a shard is
 * larger than any before), all threads sharing one client handle and its connections.
 *
 *   example_loader [-t THREADS] BUCKET SHARD...
 *
 * Prints "SHARD SIZE FNV1A64" per shard (in completion order), the checksum standing in
 * for the training step. Exit status 0, 1 when a shard failed, 2 usage.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lota/client.h>

typedef struct job {
	lota_client *c;
	const char *bucket;
	char **shards;
	size_t n;
	atomic_size_t next;
	atomic_int failed;
	pthread_mutex_t out;
} job;

static uint64_t fnv1a(const unsigned char *p, size_t n)
{
	uint64_t h = 1469598103934665603ull;
	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 1099511628211ull;
	return h;
}

static void *reader(void *ud)
{
	job *j = ud;
	unsigned char *buf = NULL; /* reused for every shard this thread reads */
	size_t cap = 0;
	for (;;) {
		size_t i = atomic_fetch_add(&j->next, 1);
		if (i >= j->n)
			break;
		lota_client_error e;
		size_t got = 0;
		int rc = lota_client_get_buffer(j->c, j->bucket, j->shards[i], buf, cap, NULL, &got,
		                                NULL, &e);
		if (rc == LOTA_E_TOO_LARGE) {
			/* a larger shard than any so far: grow once, read again */
			lota_object_info info;
			rc = lota_client_head(j->c, j->bucket, j->shards[i], &info, &e);
			unsigned char *nb =
			    rc == 0 ? realloc(buf, info.size_bytes ? info.size_bytes : 1) : NULL;
			if (rc == 0 && nb) {
				buf = nb;
				cap = (size_t)info.size_bytes;
				rc = lota_client_get_buffer(j->c, j->bucket, j->shards[i], buf, cap,
				                            NULL, &got, NULL, &e);
			} else if (rc == 0) {
				rc = -12;
			}
		}
		pthread_mutex_lock(&j->out);
		if (rc == 0) {
			printf("%s %zu %016llx\n", j->shards[i], got,
			       (unsigned long long)fnv1a(buf, got));
		} else {
			char msg[1024];
			fprintf(stderr, "%s: %s\n", j->shards[i],
			        lota_client_error_format(&e, msg, sizeof(msg)));
			atomic_store(&j->failed, 1);
		}
		pthread_mutex_unlock(&j->out);
	}
	free(buf);
	return NULL;
}

int main(int argc, char **argv)
{
	int threads = 4, a = 1;
	if (argc > 2 && !strcmp(argv[1], "-t")) {
		threads = atoi(argv[2]);
		a = 3;
	}
	if (argc - a < 2 || threads < 1 || threads > 64) {
		fprintf(stderr, "usage: %s [-t THREADS] BUCKET SHARD...\n", argv[0]);
		return 2;
	}
	job j = {.bucket = argv[a], .shards = argv + a + 1, .n = (size_t)(argc - a - 1)};
	lota_client_error e;
	lota_client_opts o = LOTA_OPTS(lota_client_opts, .err = &e);
	if (lota_client_new(&o, &j.c) != 0) {
		fprintf(stderr, "%s\n", e.message);
		return 1;
	}
	pthread_mutex_init(&j.out, NULL);
	pthread_t th[64];
	int started = 0;
	for (; started < threads; started++)
		if (pthread_create(&th[started], NULL, reader, &j) != 0)
			break;
	for (int i = 0; i < started; i++)
		pthread_join(th[i], NULL);
	pthread_mutex_destroy(&j.out);
	lota_client_free(j.c);
	return started == 0 || atomic_load(&j.failed) ? 1 : 0;
}
