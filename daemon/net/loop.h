/*
 * loop.h - lotad's per-worker event loop: epoll for file descriptors, a binary heap of
 * one-shot timers, a cached monotonic clock, a cross-thread wake-up (eventfd) and a
 * deferred-free list.
 *
 * Invariants: a loop is used by exactly one thread (lotad_loop_wake is the only call
 * another thread may make). Callbacks may start/stop any io or timer, including the one
 * being dispatched. An object whose io may still have an event pending in the current
 * epoll batch must not be freed directly: stop its io (which marks it dead) and hand the
 * memory to lotad_loop_defer_free(), which frees it after the batch.
 */
#ifndef LOTAD_LOOP_H
#define LOTAD_LOOP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/epoll.h>

typedef struct lotad_loop lotad_loop;
typedef struct lotad_io lotad_io;
typedef struct lotad_timer lotad_timer;

typedef void (*lotad_io_fn)(lotad_io *io, uint32_t events);
typedef void (*lotad_timer_fn)(lotad_timer *t);
typedef void (*lotad_loop_fn)(lotad_loop *loop, void *ud);

struct lotad_io {
	int fd;
	uint32_t events; /* EPOLL* interest currently registered (0 = not registered) */
	lotad_io_fn fn;
	void *ud;
};

struct lotad_timer {
	uint64_t when_ms;
	size_t heap_idx; /* position in the heap + 1; 0 = not armed */
	lotad_timer_fn fn;
	void *ud;
};

lotad_loop *lotad_loop_new(void);
void lotad_loop_free(lotad_loop *loop); /* NULL ok */

/* Run until lotad_loop_stop(). Returns 0 or a negative errno from epoll. */
int lotad_loop_run(lotad_loop *loop);
/* One iteration of lotad_loop_run: wait for events until the earliest timer, but at most
 * max_wait_ms (< 0: no other bound), dispatch them, run the due timers, the after-hook
 * and the deferred frees. lotad_loop_run is this in a loop. A unit test calls it to drive
 * the loop of a worker it did not start (lotad_worker_start) from its own thread, which
 * is then the loop's one thread, until the event it waits for (the stop flag is not
 * looked at). Returns 0 (also when interrupted by a signal) or a negative errno from
 * epoll. */
int lotad_loop_run_once(lotad_loop *loop, int max_wait_ms);
void lotad_loop_stop(lotad_loop *loop);

/* Monotonic milliseconds, refreshed once per loop iteration (and by _update_now). */
uint64_t lotad_loop_now_ms(const lotad_loop *loop);
uint64_t lotad_loop_update_now(lotad_loop *loop);

/* Register io->fd (or change its interest set). events = 0 removes it from epoll. */
int lotad_io_set(lotad_loop *loop, lotad_io *io, uint32_t events);
/* Remove from epoll and disarm (io->fn = NULL): pending events for it are skipped. */
void lotad_io_stop(lotad_loop *loop, lotad_io *io);

void lotad_timer_init(lotad_timer *t, lotad_timer_fn fn, void *ud);
void lotad_timer_start(lotad_loop *loop, lotad_timer *t, uint64_t delay_ms);
void lotad_timer_stop(lotad_loop *loop, lotad_timer *t);
static inline bool lotad_timer_armed(const lotad_timer *t)
{
	return t->heap_idx != 0;
}

/* Called after every iteration's events and timers (one hook per loop). */
void lotad_loop_set_after(lotad_loop *loop, lotad_loop_fn fn, void *ud);
/* Called in the loop's thread after lotad_loop_wake() from any thread. */
void lotad_loop_set_wake(lotad_loop *loop, lotad_loop_fn fn, void *ud);
void lotad_loop_wake(lotad_loop *loop);

/* free(p) after the current batch of events. Returns 0 or -ENOMEM (then p is freed
 * immediately only if the caller does it; see loop.c). */
void lotad_loop_defer_free(lotad_loop *loop, void *p);

#endif
