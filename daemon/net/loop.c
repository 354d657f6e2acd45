/*
 * loop.c - epoll + timer heap event loop (see loop.h).
 *
 * One iteration: wait for events until the earliest timer, dispatch the events (an io
 * whose fn was cleared by lotad_io_stop earlier in the batch is skipped), run due
 * timers, call the after-hook, then free the deferred objects. Timers are a binary
 * min-heap of pointers; each timer knows its slot, so stop is O(log n).
 */
#include "net/loop.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "util/clock.h"

#define LOOP_MAX_EVENTS 256

struct lotad_loop {
	int epfd;
	int wakefd;
	lotad_io wake_io;
	bool stop;
	uint64_t now_ms;
	lotad_timer **heap;
	size_t heap_len, heap_cap;
	void **garbage;
	size_t garbage_len, garbage_cap;
	lotad_loop_fn after_fn, wake_fn;
	void *after_ud, *wake_ud;
};

uint64_t lotad_loop_now_ms(const lotad_loop *loop)
{
	return loop->now_ms;
}

uint64_t lotad_loop_update_now(lotad_loop *loop)
{
	loop->now_ms = lotad_mono_ms();
	return loop->now_ms;
}

static void wake_cb(lotad_io *io, uint32_t events)
{
	lotad_loop *loop = io->ud;
	uint64_t v;
	(void)events;
	while (read(loop->wakefd, &v, sizeof(v)) > 0) {
	}
	if (loop->wake_fn)
		loop->wake_fn(loop, loop->wake_ud);
}

lotad_loop *lotad_loop_new(void)
{
	lotad_loop *loop = calloc(1, sizeof(*loop));
	if (!loop)
		return NULL;
	loop->epfd = epoll_create1(EPOLL_CLOEXEC);
	loop->wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (loop->epfd < 0 || loop->wakefd < 0)
		goto fail;
	loop->wake_io = (lotad_io){.fd = loop->wakefd, .fn = wake_cb, .ud = loop};
	if (lotad_io_set(loop, &loop->wake_io, EPOLLIN) < 0)
		goto fail;
	lotad_loop_update_now(loop);
	return loop;
fail:
	if (loop->epfd >= 0)
		close(loop->epfd);
	if (loop->wakefd >= 0)
		close(loop->wakefd);
	free(loop);
	return NULL;
}

static void free_garbage(lotad_loop *loop)
{
	for (size_t i = 0; i < loop->garbage_len; i++)
		free(loop->garbage[i]);
	loop->garbage_len = 0;
}

void lotad_loop_free(lotad_loop *loop)
{
	if (!loop)
		return;
	free_garbage(loop);
	free(loop->garbage);
	free(loop->heap);
	close(loop->epfd);
	close(loop->wakefd);
	free(loop);
}

void lotad_loop_stop(lotad_loop *loop)
{
	loop->stop = true;
}

void lotad_loop_set_after(lotad_loop *loop, lotad_loop_fn fn, void *ud)
{
	loop->after_fn = fn;
	loop->after_ud = ud;
}

void lotad_loop_set_wake(lotad_loop *loop, lotad_loop_fn fn, void *ud)
{
	loop->wake_fn = fn;
	loop->wake_ud = ud;
}

void lotad_loop_wake(lotad_loop *loop)
{
	uint64_t one = 1;
	ssize_t n = write(loop->wakefd, &one, sizeof(one));
	(void)n; /* EAGAIN: a wake-up is already pending */
}

void lotad_loop_defer_free(lotad_loop *loop, void *p)
{
	if (!p)
		return;
	if (loop->garbage_len == loop->garbage_cap) {
		size_t ncap = loop->garbage_cap ? loop->garbage_cap * 2 : 64;
		void **n = realloc(loop->garbage, ncap * sizeof(*n));
		if (!n) {
			/* Cannot defer: leaking is safer than a use after free. */
			return;
		}
		loop->garbage = n;
		loop->garbage_cap = ncap;
	}
	loop->garbage[loop->garbage_len++] = p;
}

int lotad_io_set(lotad_loop *loop, lotad_io *io, uint32_t events)
{
	struct epoll_event ev = {.events = events, .data.ptr = io};
	int rc;
	if (events == io->events)
		return 0;
	if (events == 0)
		rc = epoll_ctl(loop->epfd, EPOLL_CTL_DEL, io->fd, NULL);
	else if (io->events == 0)
		rc = epoll_ctl(loop->epfd, EPOLL_CTL_ADD, io->fd, &ev);
	else
		rc = epoll_ctl(loop->epfd, EPOLL_CTL_MOD, io->fd, &ev);
	if (rc < 0)
		return -errno;
	io->events = events;
	return 0;
}

void lotad_io_stop(lotad_loop *loop, lotad_io *io)
{
	if (io->events && io->fd >= 0)
		(void)epoll_ctl(loop->epfd, EPOLL_CTL_DEL, io->fd, NULL);
	io->events = 0;
	io->fn = NULL;
}

/* --- timer heap --- */

static void heap_swap(lotad_loop *loop, size_t a, size_t b)
{
	lotad_timer *t = loop->heap[a];
	loop->heap[a] = loop->heap[b];
	loop->heap[b] = t;
	loop->heap[a]->heap_idx = a + 1;
	loop->heap[b]->heap_idx = b + 1;
}

static void heap_up(lotad_loop *loop, size_t i)
{
	while (i > 0) {
		size_t p = (i - 1) / 2;
		if (loop->heap[p]->when_ms <= loop->heap[i]->when_ms)
			break;
		heap_swap(loop, p, i);
		i = p;
	}
}

static void heap_down(lotad_loop *loop, size_t i)
{
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;
		if (l < loop->heap_len && loop->heap[l]->when_ms < loop->heap[m]->when_ms)
			m = l;
		if (r < loop->heap_len && loop->heap[r]->when_ms < loop->heap[m]->when_ms)
			m = r;
		if (m == i)
			break;
		heap_swap(loop, i, m);
		i = m;
	}
}

void lotad_timer_init(lotad_timer *t, lotad_timer_fn fn, void *ud)
{
	t->when_ms = 0;
	t->heap_idx = 0;
	t->fn = fn;
	t->ud = ud;
}

void lotad_timer_stop(lotad_loop *loop, lotad_timer *t)
{
	if (!t->heap_idx)
		return;
	size_t i = t->heap_idx - 1;
	size_t last = loop->heap_len - 1;
	if (i != last) {
		heap_swap(loop, i, last);
		loop->heap_len--;
		heap_up(loop, i);
		heap_down(loop, i);
	} else {
		loop->heap_len--;
	}
	t->heap_idx = 0;
}

void lotad_timer_start(lotad_loop *loop, lotad_timer *t, uint64_t delay_ms)
{
	lotad_timer_stop(loop, t);
	if (loop->heap_len == loop->heap_cap) {
		size_t ncap = loop->heap_cap ? loop->heap_cap * 2 : 64;
		lotad_timer **n = realloc(loop->heap, ncap * sizeof(*n));
		if (!n)
			abort(); /* a lost timer would hang a request forever */
		loop->heap = n;
		loop->heap_cap = ncap;
	}
	t->when_ms = lotad_mono_ms() + delay_ms;
	loop->heap[loop->heap_len] = t;
	t->heap_idx = ++loop->heap_len;
	heap_up(loop, loop->heap_len - 1);
}

static void run_timers(lotad_loop *loop)
{
	uint64_t now = lotad_loop_update_now(loop);
	/* Timers armed during this pass with delay 0 run in the next iteration, so a
	 * timer that re-arms itself cannot starve the loop. */
	size_t budget = loop->heap_len;
	while (loop->heap_len && budget--) {
		lotad_timer *t = loop->heap[0];
		if (t->when_ms > now)
			break;
		lotad_timer_stop(loop, t);
		t->fn(t);
	}
}

int lotad_loop_run_once(lotad_loop *loop, int max_wait_ms)
{
	struct epoll_event evs[LOOP_MAX_EVENTS];
	int timeout = -1;
	if (loop->heap_len) {
		uint64_t now = lotad_loop_update_now(loop);
		uint64_t when = loop->heap[0]->when_ms;
		timeout = when <= now ? 0 : (int)(when - now > 60000 ? 60000 : when - now);
	}
	if (max_wait_ms >= 0 && (timeout < 0 || timeout > max_wait_ms))
		timeout = max_wait_ms;
	int n = epoll_wait(loop->epfd, evs, LOOP_MAX_EVENTS, timeout);
	if (n < 0)
		return errno == EINTR ? 0 : -errno;
	lotad_loop_update_now(loop);
	for (int i = 0; i < n; i++) {
		lotad_io *io = evs[i].data.ptr;
		if (!io->fn || !io->events)
			continue;
		io->fn(io, evs[i].events);
	}
	run_timers(loop);
	if (loop->after_fn)
		loop->after_fn(loop, loop->after_ud);
	free_garbage(loop);
	return 0;
}

int lotad_loop_run(lotad_loop *loop)
{
	loop->stop = false;
	while (!loop->stop) {
		int rc = lotad_loop_run_once(loop, -1);
		if (rc < 0)
			return rc;
	}
	return 0;
}
