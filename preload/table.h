/*
 * table.h - the addresses a redirected name resolved to, recorded by the shim's resolver
 * hooks and looked up by its connect(): a fixed number of slots, written by resolvers,
 * read without a lock (connect() may run in a signal handler, and after fork() in a child
 * whose other threads are gone). When full, the oldest slot is reused.
 */
#ifndef LOTA_PRELOAD_TABLE_H
#define LOTA_PRELOAD_TABLE_H

#include <stdatomic.h>
#include <stdbool.h>

#include "config.h"

#define LOTA__PRELOAD_TABLE_SLOTS 256

/* One slot: a sequence number (odd while a writer fills it) and the address as words, so
 * a reader copies it with plain atomic loads and checks that the sequence did not move. */
typedef struct {
	atomic_uint seq;
	atomic_uint meta; /* family << 16 | target port (0: 80 and 443); 0 = empty */
	atomic_uint addr[4];
} lota__preload_slot;

typedef struct {
	lota__preload_slot slots[LOTA__PRELOAD_TABLE_SLOTS];
	atomic_uint next; /* where the next new address goes (mod slots) */
} lota__preload_table;

/* Records addr (its port ignored) as an address of a target with target_port. Already
 * present: nothing changes. */
void lota__preload_table_add(lota__preload_table *tab, const lota__preload_addr *addr,
                             uint16_t target_port);

/* Whether addr:port is recorded (a slot's target port covering addr->port). */
bool lota__preload_table_has(lota__preload_table *tab, const lota__preload_addr *addr);

#endif
