#include "backoff.h"

#include "encoding.h"

#include <math.h>
#include <stdlib.h>

backoff_policy backoff_policy_default(void)
{
    return (backoff_policy){.initial_ms = 100, .max_ms = 30000, .multiplier = 2.0};
}

int64_t backoff_ceiling_ms(const backoff_policy *policy, unsigned attempt)
{
    double ceiling = (double)policy->initial_ms;
    double multiplier = policy->multiplier < 1.0 ? 1.0 : policy->multiplier;

    /* Stop multiplying once past the cap so a large attempt number cannot overflow. */
    for (unsigned i = 0; i < attempt && ceiling < (double)policy->max_ms; i++) {
        ceiling *= multiplier;
    }
    if (ceiling > (double)policy->max_ms) {
        ceiling = (double)policy->max_ms;
    }
    return ceiling < 0 ? 0 : (int64_t)ceiling;
}

/* Maps a uniform 64-bit value to [0, 1): 53 bits give every double there the same spacing. */
static double unit_of(uint64_t random_value)
{
    return (double)(random_value >> 11) * (1.0 / 9007199254740992.0);
}

static double uniform_unit(const backoff_random *random)
{
    if (random == NULL) {
        random = backoff_random_system();
    }
    return unit_of(random->next(random->ctx));
}

int64_t backoff_delay_from_ms(const backoff_policy *policy, unsigned attempt, uint64_t random_value)
{
    int64_t ceiling = backoff_ceiling_ms(policy, attempt);

    if (policy->jitter == BACKOFF_JITTER_EQUAL) {
        int64_t half = ceiling / 2;
        return half + (half > 0 ? (int64_t)(random_value % (uint64_t)(half + 1)) : 0);
    }
    return (int64_t)llround(unit_of(random_value) * (double)ceiling);
}

int64_t backoff_delay_ms(const backoff_policy *policy, unsigned attempt,
                         const backoff_random *random)
{
    if (random == NULL) {
        random = backoff_random_system();
    }
    return backoff_delay_from_ms(policy, attempt, random->next(random->ctx));
}

int64_t backoff_jitter_ms(int64_t value_ms, double fraction, const backoff_random *random)
{
    double offset = (uniform_unit(random) * 2.0 - 1.0) * fraction * (double)value_ms;

    return value_ms + (int64_t)llround(offset);
}

static uint64_t system_next(void *ctx)
{
    uint64_t value = 0;

    (void)ctx;
    if (!wl_random_bytes(&value, sizeof value)) {
        /* The OS random source failing is not worth stopping a retry for; jitter degrades. */
        value = (uint64_t)rand();
    }
    return value;
}

const backoff_random *backoff_random_system(void)
{
    static const backoff_random system_random = {.next = system_next, .ctx = NULL};

    return &system_random;
}
