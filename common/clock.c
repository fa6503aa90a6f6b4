#include "clock.h"

#include <errno.h>
#include <time.h>

static int64_t system_monotonic_ms(void *ctx)
{
    struct timespec now;

    (void)ctx;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

static int64_t system_realtime_us(void *ctx)
{
    struct timespec now;

    (void)ctx;
    clock_gettime(CLOCK_REALTIME, &now);
    return (int64_t)now.tv_sec * 1000000 + now.tv_nsec / 1000;
}

static void system_sleep_ms(void *ctx, int64_t ms)
{
    struct timespec delay;

    (void)ctx;
    if (ms <= 0) {
        return;
    }
    delay.tv_sec = (time_t)(ms / 1000);
    delay.tv_nsec = (long)(ms % 1000) * 1000000;
    while (nanosleep(&delay, &delay) != 0 && errno == EINTR) {
    }
}

const wl_clock *wl_clock_system(void)
{
    static const wl_clock system_clock = {
        .monotonic_ms = system_monotonic_ms,
        .realtime_us = system_realtime_us,
        .sleep_ms = system_sleep_ms,
        .ctx = NULL,
    };
    return &system_clock;
}

static int64_t fake_monotonic_ms(void *ctx)
{
    return ((wl_fake_clock *)ctx)->monotonic_ms;
}

static int64_t fake_realtime_us(void *ctx)
{
    return ((wl_fake_clock *)ctx)->realtime_us;
}

static void fake_sleep_ms(void *ctx, int64_t ms)
{
    wl_fake_clock *fake = ctx;

    fake->slept_ms += ms;
    wl_fake_clock_advance(fake, ms);
}

void wl_fake_clock_init(wl_fake_clock *fake, int64_t monotonic_ms, int64_t realtime_us)
{
    fake->clock.monotonic_ms = fake_monotonic_ms;
    fake->clock.realtime_us = fake_realtime_us;
    fake->clock.sleep_ms = fake_sleep_ms;
    fake->clock.ctx = fake;
    fake->monotonic_ms = monotonic_ms;
    fake->realtime_us = realtime_us;
    fake->slept_ms = 0;
}

void wl_fake_clock_advance(wl_fake_clock *fake, int64_t ms)
{
    fake->monotonic_ms += ms;
    fake->realtime_us += ms * 1000;
}
