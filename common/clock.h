/*
 * Time sources behind a seam, so that backoff, token refresh, lock renewal and lock expiry
 * schedules can be tested with a fake clock instead of by waiting.
 */
#ifndef WL_CLOCK_H
#define WL_CLOCK_H

#include <stdint.h>

typedef struct wl_clock {
    /* Monotonic milliseconds; only differences are meaningful. */
    int64_t (*monotonic_ms)(void *ctx);
    /* Microseconds since the Unix epoch (UTC). */
    int64_t (*realtime_us)(void *ctx);
    /* Blocks the calling thread for `ms` milliseconds; a fake clock advances instead. */
    void (*sleep_ms)(void *ctx, int64_t ms);
    void *ctx;
} wl_clock;

/* Returns the process-wide clock backed by clock_gettime and nanosleep. Never NULL. */
const wl_clock *wl_clock_system(void);

static inline int64_t wl_clock_monotonic_ms(const wl_clock *clock)
{
    return clock->monotonic_ms(clock->ctx);
}

static inline int64_t wl_clock_realtime_us(const wl_clock *clock)
{
    return clock->realtime_us(clock->ctx);
}

/* A manually advanced clock for tests. Sleeping advances both readings. */
typedef struct wl_fake_clock {
    wl_clock clock;
    int64_t monotonic_ms;
    int64_t realtime_us;
    int64_t slept_ms; /* total requested through sleep_ms */
} wl_fake_clock;

/* Initialises `fake` at the given readings; use `&fake->clock` wherever a clock is taken. */
void wl_fake_clock_init(wl_fake_clock *fake, int64_t monotonic_ms, int64_t realtime_us);
void wl_fake_clock_advance(wl_fake_clock *fake, int64_t ms);

#endif
