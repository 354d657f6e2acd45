/*
 * clock.h - lotad's monotonic clock: the one place that reads CLOCK_MONOTONIC for
 * durations and deadlines (a loop keeps a cached copy per iteration: lotad_loop_now_ms).
 * Never the wall clock: signatures and logs use time(2) where they need it.
 */
#ifndef LOTAD_CLOCK_H
#define LOTAD_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline uint64_t lotad_mono_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static inline uint64_t lotad_mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

#endif
