#include "coalesce.h"

void coalesce_init(coalesce *c, int64_t max_pause_us)
{
    if (max_pause_us > COALESCE_MAX_PAUSE_US) {
        max_pause_us = COALESCE_MAX_PAUSE_US;
    }
    c->max_pause_us = max_pause_us > 0 ? max_pause_us : 0;
    c->mean_latency_us = 0;
}

void coalesce_observe(coalesce *c, int64_t latency_us)
{
    if (latency_us < 0) {
        latency_us = 0; /* the latency comes from the realtime clock, which may step back */
    }
    if (c->mean_latency_us == 0) {
        c->mean_latency_us = latency_us;
        return;
    }
    c->mean_latency_us += (latency_us - c->mean_latency_us) / COALESCE_LATENCY_WEIGHT;
}

int64_t coalesce_pause_us(const coalesce *c, int finished, int in_flight)
{
    if (c->max_pause_us == 0 || finished > 1 || in_flight < COALESCE_MIN_IN_FLIGHT) {
        return 0;
    }
    int64_t pause = c->mean_latency_us / COALESCE_LATENCY_DIVISOR;
    if (pause > c->max_pause_us) {
        pause = c->max_pause_us;
    }
    return pause >= COALESCE_MIN_PAUSE_US ? pause : 0;
}
