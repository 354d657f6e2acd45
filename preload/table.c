/*
 * table.c - the resolved-address table of the shim (table.h). A sequence lock per slot:
 * a writer claims a slot by moving its sequence from even to odd with a compare-and-swap
 * (so two resolvers never write one slot), fills it, and makes the sequence even again;
 * a reader takes a slot's words only when the sequence was even and unchanged around
 * the copy. Readers never wait and never write, so connect() stays async-signal-safe and
 * a fork() in the middle of a write costs at most that one slot in the child.
 */
#include "table.h"

#include <string.h>
#include <sys/socket.h>

static void to_words(const lota__preload_addr *a, unsigned w[4])
{
	memcpy(w, a->addr, 16);
}

/* Copies slot s into meta/w: true when the copy is consistent and the slot not empty. */
static bool read_slot(lota__preload_slot *s, unsigned *meta, unsigned w[4])
{
	for (int tries = 0; tries < 4; tries++) {
		unsigned s1 = atomic_load_explicit(&s->seq, memory_order_acquire);
		if (s1 & 1u)
			continue;
		*meta = atomic_load_explicit(&s->meta, memory_order_relaxed);
		for (int i = 0; i < 4; i++)
			w[i] = atomic_load_explicit(&s->addr[i], memory_order_relaxed);
		atomic_thread_fence(memory_order_acquire);
		if (atomic_load_explicit(&s->seq, memory_order_relaxed) == s1)
			return *meta != 0;
	}
	return false;
}

static bool same_addr(unsigned meta, const unsigned w[4], int family, const unsigned a[4])
{
	if ((int)(meta >> 16) != family)
		return false;
	return family == AF_INET ? w[0] == a[0] : memcmp(w, a, 16) == 0;
}

void lota__preload_table_add(lota__preload_table *tab, const lota__preload_addr *addr,
                             uint16_t target_port)
{
	unsigned a[4], w[4], meta;
	unsigned want = (unsigned)addr->family << 16 | target_port;
	to_words(addr, a);
	for (unsigned i = 0; i < LOTA__PRELOAD_TABLE_SLOTS; i++)
		if (read_slot(&tab->slots[i], &meta, w) && meta == want &&
		    same_addr(meta, w, addr->family, a))
			return;
	for (unsigned tries = 0; tries < LOTA__PRELOAD_TABLE_SLOTS; tries++) {
		unsigned i = atomic_fetch_add_explicit(&tab->next, 1, memory_order_relaxed) %
		             LOTA__PRELOAD_TABLE_SLOTS;
		lota__preload_slot *s = &tab->slots[i];
		unsigned seq = atomic_load_explicit(&s->seq, memory_order_relaxed);
		if ((seq & 1u) || !atomic_compare_exchange_strong_explicit(&s->seq, &seq, seq + 1,
		                                                           memory_order_acquire,
		                                                           memory_order_relaxed))
			continue; /* another writer has it: take the next one */
		atomic_thread_fence(memory_order_release);
		atomic_store_explicit(&s->meta, want, memory_order_relaxed);
		for (int k = 0; k < 4; k++)
			atomic_store_explicit(&s->addr[k], a[k], memory_order_relaxed);
		atomic_store_explicit(&s->seq, seq + 2, memory_order_release);
		return;
	}
}

bool lota__preload_table_has(lota__preload_table *tab, const lota__preload_addr *addr)
{
	unsigned a[4], w[4], meta;
	to_words(addr, a);
	for (unsigned i = 0; i < LOTA__PRELOAD_TABLE_SLOTS; i++) {
		lota__preload_slot *s = &tab->slots[i];
		if (atomic_load_explicit(&s->meta, memory_order_relaxed) == 0)
			continue; /* never written: the common case costs one load */
		if (read_slot(s, &meta, w) && same_addr(meta, w, addr->family, a) &&
		    lota__preload_port_covers((uint16_t)(meta & 0xffffu), addr->port))
			return true;
	}
	return false;
}
