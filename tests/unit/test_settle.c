#include "check.h"
#include "clock.h"
#include "settle.h"

static settle_decision decide_http(int status, int64_t retry_after_ms)
{
    settle_input input = {
        .event = SETTLE_EVENT_HTTP,
        .http_status = status,
        .retry_after_ms = retry_after_ms,
        .attempt = 1,
        .now_ms = 1000,
        .deadline_ms = 61000,
        .random = 0,
    };
    return settle_decide(&input, &settle_default_limits);
}

static settle_decision decide_event(settle_event event)
{
    settle_input input = {
        .event = event, .retry_after_ms = -1, .attempt = 1, .now_ms = 1000, .deadline_ms = 61000};
    return settle_decide(&input, &settle_default_limits);
}

TEST_CASE(created_and_replaced_complete)
{
    CHECK_INT_EQ(decide_http(201, -1).action, SETTLE_COMPLETE);
    CHECK_INT_EQ(decide_http(200, -1).action, SETTLE_COMPLETE);
}

TEST_CASE(throttled_waits_retry_after)
{
    settle_decision decision = decide_http(429, 250);

    CHECK_INT_EQ(decision.action, SETTLE_RETRY_AFTER);
    CHECK_INT_EQ(decision.delay_ms, 250);
}

TEST_CASE(throttled_without_header_backs_off)
{
    settle_decision decision = decide_http(429, -1);

    CHECK_INT_EQ(decision.action, SETTLE_RETRY_AFTER);
    CHECK_INT_EQ(decision.delay_ms, 50); /* half of the 100 ms first backoff, random 0 */
}

TEST_CASE(throttled_delay_is_capped)
{
    CHECK_INT_EQ(decide_http(429, 3600000).delay_ms, settle_default_limits.retry_after_max_ms);
}

TEST_CASE(transient_statuses_back_off)
{
    static const int statuses[] = {408, 449, 500, 502, 503, 504, 599};

    for (size_t i = 0; i < sizeof statuses / sizeof statuses[0]; i++) {
        settle_decision decision = decide_http(statuses[i], -1);

        CHECK_INT_EQ(decision.action, SETTLE_RETRY_BACKOFF);
        CHECK(decision.delay_ms >= 50 && decision.delay_ms <= 100);
    }
}

TEST_CASE(transport_error_backs_off)
{
    CHECK_INT_EQ(decide_event(SETTLE_EVENT_TRANSPORT).action, SETTLE_RETRY_BACKOFF);
}

TEST_CASE(bad_request_dead_letters)
{
    settle_decision decision = decide_http(400, -1);

    CHECK_INT_EQ(decision.action, SETTLE_DEAD_LETTER);
    CHECK_STR_EQ(decision.reason, "DocumentRejected");
}

TEST_CASE(too_large_dead_letters)
{
    settle_decision decision = decide_http(413, -1);

    CHECK_INT_EQ(decision.action, SETTLE_DEAD_LETTER);
    CHECK_STR_EQ(decision.reason, "DocumentTooLarge");
}

TEST_CASE(invalid_message_dead_letters)
{
    CHECK_INT_EQ(decide_event(SETTLE_EVENT_INVALID_MESSAGE).action, SETTLE_DEAD_LETTER);
    /* The receiver and the writer settle invalid messages through this function. */
    CHECK_INT_EQ(settle_invalid_message_action(), SETTLE_DEAD_LETTER);
}

TEST_CASE(configuration_errors_abandon_not_ready)
{
    CHECK_INT_EQ(decide_http(401, -1).action, SETTLE_ABANDON_NOT_READY);
    CHECK_INT_EQ(decide_http(403, -1).action, SETTLE_ABANDON_NOT_READY);
    CHECK_INT_EQ(decide_http(404, -1).action, SETTLE_ABANDON_NOT_READY);
}

TEST_CASE(lock_lost_forgets)
{
    CHECK_INT_EQ(decide_event(SETTLE_EVENT_LOCK_LOST).action, SETTLE_FORGET);
}

TEST_CASE(unknown_status_retries)
{
    CHECK_INT_EQ(decide_http(409, -1).action, SETTLE_RETRY_BACKOFF);
    CHECK_INT_EQ(decide_http(302, -1).action, SETTLE_RETRY_BACKOFF);
    CHECK_INT_EQ(decide_http(204, -1).action, SETTLE_RETRY_BACKOFF);
}

TEST_CASE(every_rule_is_reachable)
{
    int count = 0;
    const settle_rule *rules = settle_rules(&count);

    CHECK(count > 0);
    for (int i = 0; i < count; i++) {
        const settle_rule *match = settle_match(rules[i].event, rules[i].status_min);

        CHECK(match == &rules[i]);
        CHECK(rules[i].reason != NULL && rules[i].reason[0] != '\0');
    }
}

TEST_CASE(retry_at_deadline_abandons)
{
    settle_input input = {
        .event = SETTLE_EVENT_HTTP,
        .http_status = 503,
        .retry_after_ms = -1,
        .attempt = 3,
        .now_ms = 10000,
        .deadline_ms = 10100,
        .random = 0,
    };
    settle_decision decision = settle_decide(&input, &settle_default_limits);

    /* Third backoff is 400 ms (200..400 with jitter), which ends past the deadline. */
    CHECK_INT_EQ(decision.action, SETTLE_ABANDON);
    CHECK(decision.deadline_hit);

    input.http_status = 429;
    input.retry_after_ms = 100;
    decision = settle_decide(&input, &settle_default_limits);
    CHECK_INT_EQ(decision.action, SETTLE_ABANDON);

    input.retry_after_ms = 99;
    decision = settle_decide(&input, &settle_default_limits);
    CHECK_INT_EQ(decision.action, SETTLE_RETRY_AFTER);
    CHECK(!decision.deadline_hit);
}

TEST_CASE(backoff_schedule_doubles_to_cap)
{
    static const int64_t expected_max[] = {100, 200, 400, 800, 1600, 3200, 5000, 5000, 5000};

    for (int attempt = 1; attempt <= 9; attempt++) {
        int64_t max = expected_max[attempt - 1];

        CHECK_INT_EQ(settle_backoff_ms(attempt, 0, &settle_default_limits), max / 2);
        CHECK_INT_EQ(settle_backoff_ms(attempt, UINT32_MAX, &settle_default_limits) <= max, 1);
        CHECK_INT_EQ(settle_backoff_ms(attempt, (uint32_t)(max / 2), &settle_default_limits), max);
    }
    CHECK_INT_EQ(settle_backoff_ms(1000, 0, &settle_default_limits), 2500);
}

/* Drives retries with a fake clock until the deadline, as the writer does: wait, try, decide. */
TEST_CASE(retries_with_fake_clock_end_at_deadline)
{
    wl_fake_clock fake;
    int attempt = 1;
    int retries = 0;
    settle_decision decision;

    wl_fake_clock_init(&fake, 5000, 0);
    int64_t deadline = wl_clock_monotonic_ms(&fake.clock) + 10000;
    for (;;) {
        settle_input input = {
            .event = SETTLE_EVENT_HTTP,
            .http_status = 503,
            .retry_after_ms = -1,
            .attempt = attempt,
            .now_ms = wl_clock_monotonic_ms(&fake.clock),
            .deadline_ms = deadline,
            .random = 12345,
        };
        decision = settle_decide(&input, &settle_default_limits);
        if (decision.action != SETTLE_RETRY_BACKOFF) {
            break;
        }
        fake.clock.sleep_ms(fake.clock.ctx, decision.delay_ms);
        attempt++;
        retries++;
    }

    CHECK_INT_EQ(decision.action, SETTLE_ABANDON);
    CHECK(wl_clock_monotonic_ms(&fake.clock) < deadline);
    CHECK(retries >= 5);
    CHECK(retries <= 10);
}

TEST_CASE(lock_renewal_schedule)
{
    wl_fake_clock fake;

    wl_fake_clock_init(&fake, 100000, 0);
    int64_t now = wl_clock_monotonic_ms(&fake.clock);

    /* 60 s lock: renew 10 s early (the cap). */
    CHECK_INT_EQ(settle_lock_renew_at_ms(now, now + 60000, 60000), now + 50000);
    /* 15 s lock: a third of the duration early. */
    CHECK_INT_EQ(settle_lock_renew_at_ms(now, now + 15000, 15000), now + 10000);
    /* 2 s lock: at least 1 s early. */
    CHECK_INT_EQ(settle_lock_renew_at_ms(now, now + 2000, 2000), now + 1000);
    /* Already inside the margin: renew now. */
    wl_fake_clock_advance(&fake, 55000);
    int64_t later = wl_clock_monotonic_ms(&fake.clock);
    CHECK_INT_EQ(settle_lock_renew_at_ms(later, now + 60000, 60000), later);
}

/* A renewal every time the schedule says so keeps a lock alive through a long retry. */
TEST_CASE(lock_renewals_cover_long_retry)
{
    wl_fake_clock fake;
    int renewals = 0;

    wl_fake_clock_init(&fake, 0, 0);
    int64_t duration = 30000;
    int64_t expiry = duration;
    int64_t deadline = 120000;
    while (wl_clock_monotonic_ms(&fake.clock) < deadline) {
        int64_t now = wl_clock_monotonic_ms(&fake.clock);
        int64_t renew_at = settle_lock_renew_at_ms(now, expiry, duration);

        CHECK(renew_at < expiry);
        wl_fake_clock_advance(&fake, renew_at - now);
        expiry = wl_clock_monotonic_ms(&fake.clock) + duration;
        renewals++;
    }
    CHECK_INT_EQ(renewals, 6); /* renewed at 20, 40, 60, 80, 100 and 120 s */
}

TEST_CASE(action_names)
{
    CHECK_STR_EQ(settle_action_str(SETTLE_DEAD_LETTER), "dead-letter");
    CHECK_STR_EQ(settle_action_str(SETTLE_ABANDON_NOT_READY), "abandon-not-ready");
    CHECK_STR_EQ(settle_event_str(SETTLE_EVENT_LOCK_LOST), "lock-lost");
}

TEST_MAIN(TEST_ENTRY(created_and_replaced_complete), TEST_ENTRY(throttled_waits_retry_after),
          TEST_ENTRY(throttled_without_header_backs_off), TEST_ENTRY(throttled_delay_is_capped),
          TEST_ENTRY(transient_statuses_back_off), TEST_ENTRY(transport_error_backs_off),
          TEST_ENTRY(bad_request_dead_letters), TEST_ENTRY(too_large_dead_letters),
          TEST_ENTRY(invalid_message_dead_letters),
          TEST_ENTRY(configuration_errors_abandon_not_ready), TEST_ENTRY(lock_lost_forgets),
          TEST_ENTRY(unknown_status_retries), TEST_ENTRY(every_rule_is_reachable),
          TEST_ENTRY(retry_at_deadline_abandons), TEST_ENTRY(backoff_schedule_doubles_to_cap),
          TEST_ENTRY(retries_with_fake_clock_end_at_deadline), TEST_ENTRY(lock_renewal_schedule),
          TEST_ENTRY(lock_renewals_cover_long_retry), TEST_ENTRY(action_names))
