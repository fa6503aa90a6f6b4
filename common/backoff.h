/*
 * Exponential backoff with full jitter: the delay before retry `attempt` (0 for the first
 * retry) is uniform in [0, min(max_ms, initial_ms * multiplier^attempt)]. Full jitter spreads
 * the retries of many clients that failed together, so a restarted broker is not hit in waves.
 */
#ifndef WL_BACKOFF_H
#define WL_BACKOFF_H

#include <stdint.h>

/* A source of uniformly distributed 64-bit values; tests inject a fixed sequence. */
typedef struct backoff_random {
    uint64_t (*next)(void *ctx);
    void *ctx;
} backoff_random;

typedef struct backoff_policy {
    int64_t initial_ms; /* ceiling of the first delay, > 0 */
    int64_t max_ms;     /* cap of every ceiling, >= initial_ms */
    double multiplier;  /* growth of the ceiling per attempt, >= 1 */
} backoff_policy;

/* 100 ms initial, 30 s cap, doubling. */
backoff_policy backoff_policy_default(void);

/* Returns the ceiling for `attempt` without jitter. */
int64_t backoff_ceiling_ms(const backoff_policy *policy, unsigned attempt);

/* Returns a jittered delay for `attempt`; `random` NULL uses backoff_random_system. */
int64_t backoff_delay_ms(const backoff_policy *policy, unsigned attempt,
                         const backoff_random *random);

/* Returns a random source backed by the OS CSPRNG; safe from any thread. Never NULL. */
const backoff_random *backoff_random_system(void);

/* Returns `value_ms` moved by a uniform amount in [-fraction, +fraction] of itself. */
int64_t backoff_jitter_ms(int64_t value_ms, double fraction, const backoff_random *random);

#endif
