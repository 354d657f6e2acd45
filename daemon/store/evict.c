/*
 * evict.c - eviction, least recently opened first, of extents nobody but the index
 * holds: the room a fill needs, made before it starts, and the background thread that
 * keeps every dir between its low and high watermarks.
 */
#include "store/store-internal.h"

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

/* Whether eviction may remove e (s->lock held): committed, and held by nobody but the
 * index. Readers and fills take their references under s->lock, so an extent seen free
 * here stays free until the lock is released. */
static bool evictable(struct ext *e)
{
	return atomic_load(&e->refs) == 1 && atomic_load(&e->state) == EXT_READY;
}

/* Evict e (evictable, s->lock held): out of the index, file unlinked, and its bytes given
 * back at once (the index held the last reference), so the next decision taken under
 * the lock already sees the room. */
static void evict_locked(lotad_store *s, struct ext *e)
{
	char path[PATH_CAP];
	store_ext_path(s, e->dir, e->h, path, sizeof(path));
	store_idx_remove(s, e);
	(void)unlink(path);
	atomic_fetch_add(&s->evictions, 1);
	store_ext_unref(s, e);
}

/*
 * Make room for `need` more bytes in dir d (s->lock held). Returns true when used + need
 * fits the capacity, after evicting as few least-recently-used evictable extents as it
 * takes; false, having evicted nothing, when even all of them would not make the room
 * (the rest is pinned by readers and fills, or need is above the capacity). Only `used`
 * can change under us meanwhile, and only downwards (it grows under s->lock alone).
 */
bool store_make_room_locked(lotad_store *s, unsigned d, uint64_t need)
{
	struct dirstate *ds = &s->dirs[d];
	if (need > ds->capacity)
		return false;
	uint64_t used = atomic_load(&ds->used);
	if (used + need <= ds->capacity)
		return true;
	uint64_t excess = used + need - ds->capacity, found = 0;
	for (lotad_list *it = ds->lru.prev; it != &ds->lru && found < excess; it = it->prev) {
		struct ext *e = lotad_list_entry(it, struct ext, lru_node);
		if (evictable(e))
			found += e->file_bytes;
	}
	if (found < excess)
		return false;
	for (lotad_list *it = ds->lru.prev, *prev;
	     it != &ds->lru && atomic_load(&ds->used) + need > ds->capacity; it = prev) {
		struct ext *e = lotad_list_entry(it, struct ext, lru_node);
		prev = it->prev;
		if (evictable(e))
			evict_locked(s, e);
	}
	return atomic_load(&ds->used) + need <= ds->capacity;
}

/* The background pass: above the high watermark, evict down to the low one, in batches
 * so that s->lock is released now and then. */
static size_t evict_dir(lotad_store *s, unsigned d)
{
	struct dirstate *ds = &s->dirs[d];
	uint64_t high = ds->capacity / 100 * s->high_pct + ds->capacity % 100 * s->high_pct / 100;
	uint64_t low = ds->capacity / 100 * s->low_pct + ds->capacity % 100 * s->low_pct / 100;
	if (atomic_load(&ds->used) <= high)
		return 0;
	size_t total = 0;
	for (;;) {
		size_t nv = 0;
		pthread_mutex_lock(&s->lock);
		for (lotad_list *it = ds->lru.prev, *prev;
		     it != &ds->lru && nv < 64 && atomic_load(&ds->used) > low; it = prev) {
			struct ext *e = lotad_list_entry(it, struct ext, lru_node);
			prev = it->prev;
			/* pinned (a reader or a fill holds it) or not committed: keep */
			if (!evictable(e))
				continue;
			evict_locked(s, e);
			nv++;
		}
		pthread_mutex_unlock(&s->lock);
		total += nv;
		if (nv < 64 || total >= EVICT_BATCH)
			break;
	}
	return total;
}

size_t lotad_store_evict_now(lotad_store *s)
{
	size_t n = 0;
	for (unsigned d = 0; d < s->ndirs; d++)
		n += evict_dir(s, d);
	return n;
}

void *store_evict_thread(void *arg)
{
	lotad_store *s = arg;
	pthread_mutex_lock(&s->lock);
	while (!s->stopping) {
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		uint64_t ns = (uint64_t)ts.tv_nsec + (uint64_t)s->evict_interval_ms * 1000000u;
		ts.tv_sec += (time_t)(ns / 1000000000u);
		ts.tv_nsec = (long)(ns % 1000000000u);
		(void)pthread_cond_timedwait(&s->thr_cv, &s->lock, &ts);
		if (s->stopping)
			break;
		pthread_mutex_unlock(&s->lock);
		(void)lotad_store_evict_now(s);
		pthread_mutex_lock(&s->lock);
	}
	pthread_mutex_unlock(&s->lock);
	return NULL;
}

void store_evict_kick(lotad_store *s, unsigned d)
{
	struct dirstate *ds = &s->dirs[d];
	/* signalled without s->lock (callers may hold it): a wake-up lost to the race is
	 * made up by the thread's periodic check */
	if (s->thr_started && atomic_load(&ds->used) > ds->capacity / 100 * s->high_pct)
		pthread_cond_signal(&s->thr_cv);
}
