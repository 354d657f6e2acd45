/*
 * objects.c - what the store holds, object by object (lotad_store_objects): each
 * published extent's cache key and metadata, read back from its file's header, so that
 * what lotad remembers of objects (the cache's object table) can be rebuilt at start
 * from the disk instead of being lost with the process. Nothing of the headers is kept
 * in memory by the index: a walk re-reads them, once per extent.
 */
#include "store/store-internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

int lotad_store_objects(lotad_store *s, lotad_store_object_fn fn, void *ud)
{
	/* The extents, referenced so they outlive the lock (an eviction meanwhile unlinks
	 * the file: its open below fails and it is skipped). */
	pthread_mutex_lock(&s->lock);
	size_t n = 0, cap = s->count;
	struct ext **vec = cap ? malloc(cap * sizeof(*vec)) : NULL;
	if (cap && !vec) {
		pthread_mutex_unlock(&s->lock);
		return -ENOMEM;
	}
	for (size_t d = 0; d < s->ndirs; d++) {
		lotad_list *head = &s->dirs[d].lru;
		/* least recently opened first: the tail of the list */
		for (lotad_list *it = head->prev; it != head && n < cap; it = it->prev) {
			struct ext *e = lotad_list_entry(it, struct ext, lru_node);
			if (atomic_load(&e->state) != EXT_READY)
				continue;
			atomic_fetch_add(&e->refs, 1);
			vec[n++] = e;
		}
	}
	pthread_mutex_unlock(&s->lock);
	int reported = 0;
	for (size_t i = 0; i < n; i++) {
		struct ext *e = vec[i];
		char path[PATH_CAP];
		store_ext_path(s, e->dir, e->h, path, sizeof(path));
		int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
		uint8_t *hb = NULL;
		lotad_store_header h;
		lotad_store_object o;
		if (fd >= 0 && store_read_header(s, fd, &hb, &h) == 0 && hash_eq(h.hash, e->h) &&
		    lotad_store__key_parse(h.key, h.key_len, &o.key) == 0) {
			o.meta = (lota_str){(const char *)h.meta, h.meta_len};
			o.name = e->h;
			fn(ud, &o);
			reported++;
		}
		if (fd >= 0)
			close(fd);
		free(hb);
		store_ext_unref(s, e);
	}
	free(vec);
	return reported;
}
