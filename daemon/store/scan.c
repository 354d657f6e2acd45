/*
 * scan.c - the start-up scan: temp files of fills that never finished are removed, and
 * the index is rebuilt from the extent files (invalid ones deleted), in LRU order by
 * their mtimes.
 */
#include "store/store-internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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
	int rc = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) ? store_read_header(s, fd, &hb, &hdr)
	                                                    : -EINVAL;
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
	bool dup = rc == 0 && store_idx_find(s, h) != NULL;
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

int store_scan_dir(lotad_store *s, unsigned dir)
{
	char p[PATH_CAP];
	const char *root = s->dirs[dir].path;
	int rc = store_mkdir_p(root);
	if (rc)
		return rc;
	snprintf(p, sizeof(p), "%s/tmp", root);
	if ((rc = store_mkdir_p(p)))
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
		store_idx_insert(s, vec[i]);
	}
	pthread_mutex_unlock(&s->lock);
	free(vec);
	return 0;
}
