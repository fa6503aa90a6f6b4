#include "backoff.h"
#include "check.h"

/* Returns the values of a fixed array in turn. */
typedef struct fixed_random {
    const uint64_t *values;
    size_t count;
    size_t next;
} fixed_random;

static uint64_t fixed_next(void *ctx)
{
    fixed_random *fixed = ctx;
    uint64_t value = fixed->values[fixed->next % fixed->count];

    fixed->next++;
    return value;
}

TEST_CASE(ceiling_doubles_to_cap)
{
    backoff_policy policy = {.initial_ms = 100, .max_ms = 1000, .multiplier = 2.0};

    CHECK_INT_EQ(backoff_ceiling_ms(&policy, 0), 100);
    CHECK_INT_EQ(backoff_ceiling_ms(&policy, 1), 200);
    CHECK_INT_EQ(backoff_ceiling_ms(&policy, 3), 800);
    CHECK_INT_EQ(backoff_ceiling_ms(&policy, 4), 1000);
    CHECK_INT_EQ(backoff_ceiling_ms(&policy, 4000000000u), 1000);
}

TEST_CASE(full_jitter_bounds)
{
    static const uint64_t extremes[] = {0, UINT64_MAX, UINT64_MAX / 2};
    fixed_random fixed = {extremes, 3, 0};
    backoff_random random = {fixed_next, &fixed};
    backoff_policy policy = {.initial_ms = 100, .max_ms = 30000, .multiplier = 2.0};

    for (unsigned attempt = 0; attempt < 12; attempt++) {
        int64_t ceiling = backoff_ceiling_ms(&policy, attempt);
        CHECK_INT_EQ(backoff_delay_ms(&policy, attempt, &random), 0);
        CHECK_INT_EQ(backoff_delay_ms(&policy, attempt, &random), ceiling);
        int64_t middle = backoff_delay_ms(&policy, attempt, &random);
        CHECK(middle >= ceiling / 2 - 1);
        CHECK(middle <= ceiling / 2 + 1);
    }
}

TEST_CASE(system_random_within_ceiling)
{
    backoff_policy policy = backoff_policy_default();
    int64_t smallest = INT64_MAX;
    int64_t largest = 0;

    for (int i = 0; i < 2000; i++) {
        int64_t delay = backoff_delay_ms(&policy, 3, NULL);
        CHECK(delay >= 0);
        CHECK(delay <= 800);
        smallest = delay < smallest ? delay : smallest;
        largest = delay > largest ? delay : largest;
    }
    /* 2000 uniform draws from [0, 800] all landing in one half has probability 2^-1999. */
    CHECK(smallest < 400);
    CHECK(largest > 400);
}

TEST_CASE(jitter_fraction_bounds)
{
    static const uint64_t extremes[] = {0, UINT64_MAX};
    fixed_random fixed = {extremes, 2, 0};
    backoff_random random = {fixed_next, &fixed};

    CHECK_INT_EQ(backoff_jitter_ms(1000, 0.2, &random), 800);
    CHECK_INT_EQ(backoff_jitter_ms(1000, 0.2, &random), 1200);
}

TEST_CASE(equal_jitter_upper_half)
{
    backoff_policy policy = {
        .initial_ms = 100, .max_ms = 1000, .multiplier = 2.0, .jitter = BACKOFF_JITTER_EQUAL};

    for (unsigned attempt = 0; attempt < 6; attempt++) {
        int64_t ceiling = backoff_ceiling_ms(&policy, attempt);
        int64_t half = ceiling / 2;
        CHECK_INT_EQ(backoff_delay_from_ms(&policy, attempt, 0), half);
        CHECK_INT_EQ(backoff_delay_from_ms(&policy, attempt, (uint64_t)half), ceiling);
        CHECK(backoff_delay_from_ms(&policy, attempt, UINT64_MAX) >= half);
        CHECK(backoff_delay_from_ms(&policy, attempt, UINT64_MAX) <= ceiling);
    }

    /* Full jitter from an explicit value matches the drawn form. */
    policy.jitter = BACKOFF_JITTER_FULL;
    CHECK_INT_EQ(backoff_delay_from_ms(&policy, 2, 0), 0);
    CHECK_INT_EQ(backoff_delay_from_ms(&policy, 2, UINT64_MAX), 400);
}

TEST_MAIN(TEST_ENTRY(ceiling_doubles_to_cap), TEST_ENTRY(full_jitter_bounds),
          TEST_ENTRY(system_random_within_ceiling), TEST_ENTRY(jitter_fraction_bounds),
          TEST_ENTRY(equal_jitter_upper_half))
