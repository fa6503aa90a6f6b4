/*
 * Wake-up coalescing for the consumer's event loop.
 *
 * When Cosmos DB responds more slowly than the consumer handles a response, nearly every
 * response arrives alone and costs the loop a sleep and a wake-up of its own: a context switch
 * each way and an epoll_wait call. So after a pass that finished at most one request while at
 * least COALESCE_MIN_IN_FLIGHT others were still in flight, the loop pauses for a short time
 * before it waits again. It then handles the responses that arrived meanwhile in one pass.
 *
 * The pause is the smaller of the configured maximum and 1/COALESCE_LATENCY_DIVISOR of the mean
 * request latency, and none is taken when that comes to less than COALESCE_MIN_PAUSE_US. A sink
 * that responds within a few hundred microseconds therefore gets no pause. The loop also skips
 * the pause when events are already waiting, as they are for a consumer bound by its own CPU,
 * whose requests take long for that reason alone. A message waits at most one pause longer.
 * Where requests wait on the round trip rather than on a busy server, a fixed concurrency loses
 * up to about half a pause per round trip in throughput, by estimate about 1/16 with the divisor
 * of 8. Against a sink that delays each response by 5 ms, 7 % was lost at concurrency 128
 * (bench/run --scenario consumer-remote).
 *
 * The struct is plain state with no resources; the writer owns one.
 */
#ifndef CONSUMER_COALESCE_H
#define CONSUMER_COALESCE_H

#include <stdint.h>

/* Requests still in flight, besides the response just handled, for a pause to pay off. */
#define COALESCE_MIN_IN_FLIGHT 4
/* The pause is at most this fraction (1/N) of the mean request latency. */
#define COALESCE_LATENCY_DIVISOR 8
/* Shorter pauses are not taken, because the sleep is a wake-up of its own and gathers little. */
#define COALESCE_MIN_PAUSE_US 100
/* The maximum pause that coalesce_init accepts. A larger value is cut to it. */
#define COALESCE_MAX_PAUSE_US 100000
/* Weight (1/N) of each new latency sample in the moving average. */
#define COALESCE_LATENCY_WEIGHT 8

typedef struct coalesce {
    int64_t max_pause_us;    /* 0 turns coalescing off */
    int64_t mean_latency_us; /* exponential moving average; 0 before the first sample */
} coalesce;

/* Starts with no latency sample, so no pause until a request has finished. */
void coalesce_init(coalesce *c, int64_t max_pause_us);

/* Adds the latency of one finished request, from queueing to completion, in microseconds. */
void coalesce_observe(coalesce *c, int64_t latency_us);

/*
 * Returns how long the loop should pause before it waits for events again, in microseconds,
 * after a pass that finished `finished` requests and left `in_flight` in progress; 0 for none.
 */
int64_t coalesce_pause_us(const coalesce *c, int finished, int in_flight);

#endif
