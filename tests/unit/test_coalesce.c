#include "check.h"
#include "coalesce.h"

/* A state whose mean latency is exactly `mean_us`, from one sample. */
static coalesce with_mean(int64_t max_pause_us, int64_t mean_us)
{
    coalesce c;

    coalesce_init(&c, max_pause_us);
    coalesce_observe(&c, mean_us);
    return c;
}

TEST_CASE(off_when_max_is_zero)
{
    coalesce c = with_mean(0, 8000);

    CHECK_INT_EQ(coalesce_pause_us(&c, 1, 32), 0);
}

TEST_CASE(negative_max_turns_it_off)
{
    coalesce c = with_mean(-5, 8000);

    CHECK_INT_EQ(c.max_pause_us, 0);
    CHECK_INT_EQ(coalesce_pause_us(&c, 1, 32), 0);
}

TEST_CASE(max_cut_to_limit)
{
    coalesce c = with_mean(10 * COALESCE_MAX_PAUSE_US, 1000000000);

    CHECK_INT_EQ(c.max_pause_us, COALESCE_MAX_PAUSE_US);
    CHECK_INT_EQ(coalesce_pause_us(&c, 1, 32), COALESCE_MAX_PAUSE_US);
}

TEST_CASE(no_pause_before_first_latency)
{
    coalesce c;

    coalesce_init(&c, 1000);
    CHECK_INT_EQ(coalesce_pause_us(&c, 0, 32), 0);
    CHECK_INT_EQ(coalesce_pause_us(&c, 1, 32), 0);
}

TEST_CASE(pause_is_fraction_of_latency)
{
    coalesce c = with_mean(1000, 4000);

    CHECK_INT_EQ(coalesce_pause_us(&c, 1, 32), 4000 / COALESCE_LATENCY_DIVISOR);
    CHECK_INT_EQ(coalesce_pause_us(&c, 0, 32), 4000 / COALESCE_LATENCY_DIVISOR);
}

TEST_CASE(pause_capped_at_max)
{
    coalesce c = with_mean(1000, 60000);

    CHECK_INT_EQ(coalesce_pause_us(&c, 1, 32), 1000);
}

TEST_CASE(short_pause_skipped)
{
    int64_t shortest_mean = COALESCE_MIN_PAUSE_US * COALESCE_LATENCY_DIVISOR;
    coalesce at_minimum = with_mean(1000, shortest_mean);
    coalesce below_minimum = with_mean(1000, shortest_mean - 1);

    CHECK_INT_EQ(coalesce_pause_us(&at_minimum, 1, 32), COALESCE_MIN_PAUSE_US);
    CHECK_INT_EQ(coalesce_pause_us(&below_minimum, 1, 32), 0);
}

TEST_CASE(needs_requests_in_flight)
{
    coalesce c = with_mean(1000, 4000);

    CHECK_INT_EQ(coalesce_pause_us(&c, 1, COALESCE_MIN_IN_FLIGHT - 1), 0);
    CHECK_INT_EQ(coalesce_pause_us(&c, 1, 0), 0);
    CHECK_INT_EQ(coalesce_pause_us(&c, 1, COALESCE_MIN_IN_FLIGHT), 500);
}

TEST_CASE(no_pause_after_several_finished)
{
    coalesce c = with_mean(1000, 4000);

    CHECK_INT_EQ(coalesce_pause_us(&c, 2, 32), 0);
    CHECK_INT_EQ(coalesce_pause_us(&c, 30, 32), 0);
}

TEST_CASE(mean_moves_toward_samples)
{
    coalesce c = with_mean(1000, 8000);

    coalesce_observe(&c, 16000);
    CHECK_INT_EQ(c.mean_latency_us, 8000 + 8000 / COALESCE_LATENCY_WEIGHT);
    coalesce_observe(&c, 0);
    CHECK(c.mean_latency_us < 9000);
    CHECK(c.mean_latency_us > 0);

    /* A long run of fast responses brings the pause down until none is taken. */
    for (int i = 0; i < 200; i++) {
        coalesce_observe(&c, 300);
    }
    CHECK(c.mean_latency_us >= 300);
    CHECK(c.mean_latency_us < 300 + COALESCE_LATENCY_WEIGHT);
    CHECK_INT_EQ(coalesce_pause_us(&c, 1, 32), 0);
}

TEST_CASE(negative_latency_counts_as_zero)
{
    coalesce c = with_mean(1000, 8000);

    for (int i = 0; i < 200; i++) {
        coalesce_observe(&c, -1000000);
    }
    CHECK(c.mean_latency_us >= 0);
    CHECK(c.mean_latency_us < COALESCE_LATENCY_WEIGHT);
    CHECK_INT_EQ(coalesce_pause_us(&c, 1, 32), 0);
}

TEST_MAIN(TEST_ENTRY(off_when_max_is_zero), TEST_ENTRY(negative_max_turns_it_off),
          TEST_ENTRY(max_cut_to_limit), TEST_ENTRY(no_pause_before_first_latency),
          TEST_ENTRY(pause_is_fraction_of_latency), TEST_ENTRY(pause_capped_at_max),
          TEST_ENTRY(short_pause_skipped), TEST_ENTRY(needs_requests_in_flight),
          TEST_ENTRY(no_pause_after_several_finished), TEST_ENTRY(mean_moves_toward_samples),
          TEST_ENTRY(negative_latency_counts_as_zero))
