/*
 * index.c - the index of the extents a store holds: `struct ext` and its references,
 * a chained hash table on the 128-bit name, one LRU list per dir (most recently opened
 * at the head), and the removal of an extent (drop).
 */
#include "store/store-internal.h"

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

void store_fillsh_free(struct fillsh *fs)
{
	if (!fs)
		return;
	if (fs->fd >= 0)
		close(fs->fd);
	pthread_mutex_destroy(&fs->mu);
	pthread_cond_destroy(&fs->cv);
	free(fs->plain);
	free(fs);
}

void store_ext_unref(lotad_store *s, struct ext *e)
{
	if (atomic_fetch_sub(&e->refs, 1) != 1)
		return;
	atomic_fetch_sub(&s->dirs[e->dir].used, e->file_bytes);
	store_fillsh_free(e->fs);
	free(e);
}

static size_t bucket_of(const lotad_store *s, lota_hash128 h)
{
	return (size_t)(h.lo ^ (h.hi >> 7)) & (s->nbuckets - 1);
}

struct ext *store_idx_find(lotad_store *s, lota_hash128 h)
{
	for (struct ext *e = s->buckets[bucket_of(s, h)]; e; e = e->hnext)
		if (hash_eq(e->h, h))
			return e;
	return NULL;
}

static void idx_grow(lotad_store *s)
{
	size_t nb = s->nbuckets * 2;
	struct ext **b = calloc(nb, sizeof(*b));
	if (!b)
		return; /* chains just get longer */
	size_t old = s->nbuckets;
	struct ext **ob = s->buckets;
	s->buckets = b;
	s->nbuckets = nb;
	for (size_t i = 0; i < old; i++) {
		for (struct ext *e = ob[i], *n; e; e = n) {
			n = e->hnext;
			size_t k = bucket_of(s, e->h);
			e->hnext = b[k];
			b[k] = e;
		}
	}
	free(ob);
}

void store_idx_insert(lotad_store *s, struct ext *e)
{
	if (s->count >= s->nbuckets)
		idx_grow(s);
	size_t k = bucket_of(s, e->h);
	e->hnext = s->buckets[k];
	s->buckets[k] = e;
	e->indexed = true;
	s->count++;
	atomic_fetch_add(&s->dirs[e->dir].extents, 1);
	lotad_list_insert_head(&s->dirs[e->dir].lru, &e->lru_node);
}

/* Remove from the index; the caller then drops the index reference (ext_unref). */
void store_idx_remove(lotad_store *s, struct ext *e)
{
	struct ext **pp = &s->buckets[bucket_of(s, e->h)];
	while (*pp && *pp != e)
		pp = &(*pp)->hnext;
	if (*pp)
		*pp = e->hnext;
	e->hnext = NULL;
	e->indexed = false;
	store_ram_detach_locked(s, e); /* the RAM copy goes with it, exactly then */
	s->count--;
	atomic_fetch_sub(&s->dirs[e->dir].extents, 1);
	lotad_list_remove(&e->lru_node);
}

/* Drop a committed extent found bad (or asked for): out of the index, file unlinked. */
void store_drop_ext(lotad_store *s, struct ext *e, bool corrupt)
{
	bool removed = false;
	pthread_mutex_lock(&s->lock);
	if (e->indexed && atomic_load(&e->state) == EXT_READY) {
		char path[PATH_CAP];
		store_ext_path(s, e->dir, e->h, path, sizeof(path));
		store_idx_remove(s, e);
		(void)unlink(path);
		removed = true;
	}
	pthread_mutex_unlock(&s->lock);
	if (removed) {
		if (corrupt)
			atomic_fetch_add(&s->corrupt_dropped, 1);
		store_ext_unref(s, e);
	}
}

int lotad_store_probe(lotad_store *s, lota_hash128 h, uint64_t *readable)
{
	pthread_mutex_lock(&s->lock);
	struct ext *e = store_idx_find(s, h);
	int rc = -ENOENT;
	if (e) {
		int st = atomic_load(&e->state);
		rc = st == EXT_READY ? 1 : st == EXT_FILLING ? 0 : -ENOENT;
		if (rc == 0)
			*readable = atomic_load(&e->readable);
	}
	pthread_mutex_unlock(&s->lock);
	return rc;
}

int lotad_store_lookup(lotad_store *s, lota_hash128 h)
{
	uint64_t readable;
	return lotad_store_probe(s, h, &readable);
}

int lotad_store_drop(lotad_store *s, lota_hash128 h)
{
	pthread_mutex_lock(&s->lock);
	struct ext *e = store_idx_find(s, h);
	int rc = -ENOENT;
	if (e && atomic_load(&e->state) != EXT_READY) {
		rc = -EBUSY;
	} else if (e) {
		char path[PATH_CAP];
		store_ext_path(s, e->dir, h, path, sizeof(path));
		store_idx_remove(s, e);
		(void)unlink(path);
		rc = 0;
	}
	pthread_mutex_unlock(&s->lock);
	if (rc == 0)
		store_ext_unref(s, e);
	return rc;
}
