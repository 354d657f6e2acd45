/*
 * ram.c - the RAM tier in front of the disk (issue 14; ram_cache_size, 0 = off): plaintext
 * copies of whole extents, made by hits and served to the hits after them without a
 * disk read or a decryption (what Varnish's malloc storage is).
 *
 * A copy belongs to its extent (struct ext.ram): it is made only of an extent published
 * on disk, by a reader that read it from its first to its last byte in order (every
 * sealed block verified on the way), and it goes away exactly when the extent leaves the
 * index (eviction, a drop after a write or a delete through lotad, a bad block): so it is
 * always the bytes of that one key (bucket, key, ETag, size, version id, extent), and a
 * reader of another version opens another extent. A reader opened on an extent with a
 * copy reads from the copy (lotad_reader_ram gives it to a sender).
 *
 * Memory: every byte of a copy, and of a copy being made, is reserved first against
 * ram_cap under s->lock; a reservation that does not fit evicts the least recently opened
 * copies no reader holds, or is refused (the hit then simply reads the disk). So the tier
 * never holds more than ram_cap bytes, whatever the number of clients. Copies are
 * malloc'd whole (mapped on their own, lotad sets M_MMAP_THRESHOLD) and given back to the
 * kernel when freed.
 */
#include "store/store-internal.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

void store_ram_unref(lotad_store *s, struct ramcopy *rc)
{
	if (atomic_fetch_sub(&rc->refs, 1) != 1)
		return;
	atomic_fetch_sub(&s->ram_used, rc->len);
	free(rc->data);
	free(rc);
}

/* The copy leaves its extent (s->lock held): the readers that hold it keep reading it. */
void store_ram_detach_locked(lotad_store *s, struct ext *e)
{
	struct ramcopy *rc = e->ram;
	if (!rc)
		return;
	lotad_list_remove(&rc->node);
	e->ram = NULL;
	store_ram_unref(s, rc);
}

struct ramcopy *store_ram_open_locked(lotad_store *s, struct ext *e)
{
	struct ramcopy *rc = e->ram;
	if (!rc)
		return NULL;
	atomic_fetch_add(&rc->refs, 1);
	lotad_list_remove(&rc->node);
	lotad_list_insert_head(&s->ram_lru, &rc->node);
	atomic_fetch_add(&s->ram_hits, 1);
	return rc;
}

/* Reserve len bytes of the tier (s->lock held), evicting the least recently opened
 * copies nobody reads; false when they would not make the room. */
static bool ram_reserve_locked(lotad_store *s, uint64_t len)
{
	if (len > s->ram_cap)
		return false;
	uint64_t freeable = 0;
	for (lotad_list *it = s->ram_lru.prev; it != &s->ram_lru; it = it->prev) {
		struct ramcopy *rc =
		    (struct ramcopy *)((char *)it - offsetof(struct ramcopy, node));
		if (atomic_load(&rc->refs) == 1)
			freeable += rc->len;
	}
	if (atomic_load(&s->ram_used) + len > s->ram_cap + freeable)
		return false; /* evict nothing for a copy that would not fit anyway */
	while (atomic_load(&s->ram_used) + len > s->ram_cap) {
		lotad_list *it = s->ram_lru.prev;
		while (it != &s->ram_lru) {
			struct ramcopy *rc =
			    (struct ramcopy *)((char *)it - offsetof(struct ramcopy, node));
			it = it->prev;
			if (atomic_load(&rc->refs) == 1) {
				store_ram_detach_locked(s, rc->e);
				atomic_fetch_add(&s->ram_evictions, 1);
				break;
			}
		}
		if (it == &s->ram_lru && atomic_load(&s->ram_used) + len > s->ram_cap)
			return false; /* a reader took one meanwhile: cannot happen under the lock */
	}
	atomic_fetch_add(&s->ram_used, len);
	return true;
}

static void build_abandon(lotad_store_reader *r)
{
	if (!r->build)
		return;
	free(r->build);
	r->build = NULL;
	atomic_fetch_sub(&r->s->ram_used, r->data_len);
}

/* A read of [off, off + n) of r succeeded into src (plaintext, verified): the first
 * read from byte 0 of a published extent without a copy starts one, the reads that
 * follow it in order fill it, the last publishes it; any other read abandons it. */
void store_ram_note_read(lotad_store_reader *r, uint64_t off, const uint8_t *src, size_t n)
{
	lotad_store *s = r->s;
	if (!s->ram_cap || r->ram || r->ram_refused)
		return;
	if (!r->build) {
		if (off != 0 || r->following || !r->data_len)
			return;
		pthread_mutex_lock(&s->lock);
		bool ok = r->e->indexed && !r->e->ram && ram_reserve_locked(s, r->data_len);
		pthread_mutex_unlock(&s->lock);
		if (ok && !(r->build = malloc((size_t)r->data_len)))
			atomic_fetch_sub(&s->ram_used, r->data_len);
		if (!r->build) {
			r->ram_refused = true; /* not for this reader: no second try per read */
			return;
		}
		r->build_next = 0;
	}
	if (off != r->build_next) {
		build_abandon(r); /* not read in order: never a copy with a hole */
		r->ram_refused = true;
		return;
	}
	memcpy(r->build + off, src, n);
	r->build_next += n;
	if (r->build_next < r->data_len)
		return;
	struct ramcopy *rc = calloc(1, sizeof(*rc));
	pthread_mutex_lock(&s->lock);
	if (rc && r->e->indexed && !r->e->ram && atomic_load(&r->e->state) == EXT_READY) {
		rc->data = r->build;
		rc->len = r->data_len;
		rc->e = r->e;
		atomic_init(&rc->refs, 2); /* the extent's and this reader's */
		r->e->ram = rc;
		lotad_list_insert_head(&s->ram_lru, &rc->node);
		r->ram = rc;
		r->build = NULL;
		atomic_fetch_add(&s->ram_fills, 1);
		rc = NULL;
	}
	pthread_mutex_unlock(&s->lock);
	free(rc);
	build_abandon(r); /* the extent left meanwhile: nothing to keep */
}

void store_ram_reader_close(lotad_store_reader *r)
{
	build_abandon(r);
	if (r->ram)
		store_ram_unref(r->s, r->ram);
	r->ram = NULL;
}

void lotad_reader_ram_off(lotad_store_reader *r)
{
	build_abandon(r);
	r->ram_refused = true;
}

bool lotad_reader_ram_would_copy(const lotad_store_reader *r, uint64_t off)
{
	if (!r->s->ram_cap || r->ram || r->ram_refused || r->following || !r->data_len)
		return false;
	return r->build ? off == r->build_next : off == 0;
}

int lotad_reader_ram(const lotad_store_reader *r, const uint8_t **data)
{
	if (!r->ram)
		return -ENOENT;
	*data = r->ram->data;
	return 0;
}
