/*
 * list.h - lotad's intrusive doubly linked list (the shape of libuv's uv__queue): a
 * circular list through a sentinel head, with the node embedded in the listed object,
 * so that linking and unlinking never allocate and take O(1).
 *
 * A head must be initialized (lotad_list_init) before use. A node is "not linked" while
 * zeroed (calloc) or after lotad_list_remove(), so removing a node twice is harmless.
 * Nothing here locks: the owner of the list does. A walk, first to last (->prev for the
 * other way; keep the next node first when the walk may remove the current one):
 *     for (lotad_list *it = head->next; it != head; it = it->next) {
 *             obj *o = lotad_list_entry(it, obj, node);
 *             ...
 *     }
 */
#ifndef LOTAD_LIST_H
#define LOTAD_LIST_H

#include <stdbool.h>
#include <stddef.h>

typedef struct lotad_list {
	struct lotad_list *next, *prev;
} lotad_list;

/* The object of type `type` whose member `member` is the node n. */
#define lotad_list_entry(n, type, member) ((type *)((char *)(n)-offsetof(type, member)))

static inline void lotad_list_init(lotad_list *head)
{
	head->next = head->prev = head;
}

static inline bool lotad_list_empty(const lotad_list *head)
{
	return head->next == head;
}

static inline bool lotad_list_linked(const lotad_list *n)
{
	return n->next != NULL;
}

static inline void lotad_list_insert_head(lotad_list *head, lotad_list *n)
{
	n->next = head->next;
	n->prev = head;
	head->next->prev = n;
	head->next = n;
}

static inline void lotad_list_insert_tail(lotad_list *head, lotad_list *n)
{
	n->prev = head->prev;
	n->next = head;
	head->prev->next = n;
	head->prev = n;
}

/* Unlink n from its list (nothing when it is not linked). */
static inline void lotad_list_remove(lotad_list *n)
{
	if (!n->next)
		return;
	n->prev->next = n->next;
	n->next->prev = n->prev;
	n->next = n->prev = NULL;
}

#endif
