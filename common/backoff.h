/*
 * Exponential backoff with jitter. The ceiling before retry `attempt` (0 for the first retry)
 * is min(max_ms, initial_ms * multiplier^attempt). Full jitter draws the delay uniformly from
 * [0, ceiling], which spreads the retries of many clients that failed together, so a restarted
 * broker is not hit in waves. Equal jitter draws it from [ceiling / 2, ceiling], so a retry
 * never starts at once.
 */
#ifndef WL_BACKOFF_H
#define WL_BACKOFF_H

#include <stdint.h>

/* A source of uniformly distributed 64-bit values; tests inject a fixed sequence. */
typedef struct backoff_random {
    uint64_t (*next)(void *ctx);
    void *ctx;
} backoff_random;

typedef enum backoff_jitter {
    BACKOFF_JITTER_FULL,  /* uniform in [0, ceiling] */
    BACKOFF_JITTER_EQUAL, /* ceiling / 2 plus a uniform part in [0, ceiling / 2] */
} backoff_jitter;

typedef struct backoff_policy {
    int64_t initial_ms;    /* ceiling of the first delay, > 0 */
    int64_t max_ms;        /* cap of every ceiling, >= initial_ms */
    double multiplier;     /* growth of the ceiling per attempt, >= 1 */
    backoff_jitter jitter; /* BACKOFF_JITTER_FULL when zeroed */
} backoff_policy;

/* 100 ms initial, 30 s cap, doubling. */
backoff_policy backoff_policy_default(void);

/* Returns the ceiling for `attempt` without jitter. */
int64_t backoff_ceiling_ms(const backoff_policy *policy, unsigned attempt);

/* Returns a jittered delay for `attempt`; `random` NULL uses backoff_random_system. */
int64_t backoff_delay_ms(const backoff_policy *policy, unsigned attempt,
                         const backoff_random *random);

/*
 * Returns the delay for `attempt` with the jitter taken from `random_value`, one uniformly
 * distributed number, for callers that draw their own (pure and thread-safe).
 */
int64_t backoff_delay_from_ms(const backoff_policy *policy, unsigned attempt,
                              uint64_t random_value);

/* Returns a random source backed by the OS CSPRNG; safe from any thread. Never NULL. */
const backoff_random *backoff_random_system(void);

/* Returns `value_ms` moved by a uniform amount in [-fraction, +fraction] of itself. */
int64_t backoff_jitter_ms(int64_t value_ms, double fraction, const backoff_random *random);

#endif
