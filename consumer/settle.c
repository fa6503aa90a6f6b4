#include "settle.h"

#include "backoff.h"

#include <stddef.h>

const settle_limits settle_default_limits = {
    .backoff_initial_ms = 100,
    .backoff_max_ms = 5000,
    .retry_after_max_ms = 10000,
};

/*
 * The policy. Rows are matched in order, and the last row is the default for anything the
 * table does not name. The default retries until the deadline, because an unknown status
 * could be our fault or the server's. Only the redelivery limit (MaxDeliveryCount) should turn
 * such a message into a dead letter, never a guess on the first attempt.
 */
static const settle_rule rules[] = {
    {SETTLE_EVENT_HTTP, 200, 201, SETTLE_COMPLETE, "document stored"},
    {SETTLE_EVENT_HTTP, 429, 429, SETTLE_RETRY_AFTER, "request rate too large"},
    {SETTLE_EVENT_HTTP, 408, 408, SETTLE_RETRY_BACKOFF, "request timeout"},
    {SETTLE_EVENT_HTTP, 449, 449, SETTLE_RETRY_BACKOFF, "retry with"},
    {SETTLE_EVENT_HTTP, 500, 599, SETTLE_RETRY_BACKOFF, "server error"},
    {SETTLE_EVENT_HTTP, 400, 400, SETTLE_DEAD_LETTER, "DocumentRejected"},
    {SETTLE_EVENT_HTTP, 413, 413, SETTLE_DEAD_LETTER, "DocumentTooLarge"},
    {SETTLE_EVENT_HTTP, 401, 401, SETTLE_ABANDON_NOT_READY, "cosmos authorization rejected"},
    {SETTLE_EVENT_HTTP, 403, 403, SETTLE_ABANDON_NOT_READY, "cosmos access forbidden"},
    {SETTLE_EVENT_HTTP, 404, 404, SETTLE_ABANDON_NOT_READY, "cosmos database or container missing"},
    {SETTLE_EVENT_TRANSPORT, 0, 0, SETTLE_RETRY_BACKOFF, "cosmos unreachable"},
    /* The DeadLetterReason of an invalid message names the check that failed (InvalidJson,
     * MissingField and others), so this row's reason is only its label. */
    {SETTLE_EVENT_INVALID_MESSAGE, 0, 0, SETTLE_DEAD_LETTER, "InvalidMessage"},
    /* NOTE: deliveries.c ends a delivery whose lock is lost without looking up this row,
     * because nothing is left to settle. The row documents that case. */
    {SETTLE_EVENT_LOCK_LOST, 0, 0, SETTLE_FORGET, "message lock lost"},
    {SETTLE_EVENT_HTTP, 0, 999, SETTLE_RETRY_BACKOFF, "unexpected status"},
};

const settle_rule *settle_rules(int *out_count)
{
    *out_count = (int)(sizeof rules / sizeof rules[0]);
    return rules;
}

const settle_rule *settle_match(settle_event event, int http_status)
{
    size_t count = sizeof rules / sizeof rules[0];

    for (size_t i = 0; i < count; i++) {
        const settle_rule *rule = &rules[i];

        if (rule->event != event) {
            continue;
        }
        if (event == SETTLE_EVENT_HTTP &&
            (http_status < rule->status_min || http_status > rule->status_max)) {
            continue;
        }
        return rule;
    }
    return &rules[count - 1];
}

settle_action settle_invalid_message_action(void)
{
    return settle_match(SETTLE_EVENT_INVALID_MESSAGE, 0)->action;
}

int64_t settle_backoff_ms(int attempt, uint32_t random, const settle_limits *limits)
{
    backoff_policy policy = {
        .initial_ms = limits->backoff_initial_ms,
        .max_ms = limits->backoff_max_ms,
        .multiplier = 2.0,
        .jitter = BACKOFF_JITTER_EQUAL,
    };

    return backoff_delay_from_ms(&policy, attempt > 1 ? (unsigned)(attempt - 1) : 0, random);
}

static int64_t retry_after_delay(const settle_input *input, const settle_limits *limits)
{
    if (input->retry_after_ms < 0) {
        return settle_backoff_ms(input->attempt, input->random, limits);
    }
    if (input->retry_after_ms > limits->retry_after_max_ms) {
        return limits->retry_after_max_ms;
    }
    return input->retry_after_ms;
}

settle_decision settle_decide(const settle_input *input, const settle_limits *limits)
{
    const settle_rule *rule = settle_match(input->event, input->http_status);
    settle_decision decision = {.action = rule->action, .reason = rule->reason};

    if (rule->action == SETTLE_RETRY_AFTER) {
        decision.delay_ms = retry_after_delay(input, limits);
    } else if (rule->action == SETTLE_RETRY_BACKOFF) {
        decision.delay_ms = settle_backoff_ms(input->attempt, input->random, limits);
    } else {
        return decision;
    }

    /* A retry that cannot start before the deadline would only hold the lock longer. */
    if (input->now_ms + decision.delay_ms >= input->deadline_ms) {
        decision.action = SETTLE_ABANDON;
        decision.delay_ms = 0;
        decision.deadline_hit = true;
    }
    return decision;
}

int64_t settle_lock_renew_at_ms(int64_t now_ms, int64_t lock_expiry_ms, int64_t lock_duration_ms)
{
    int64_t margin = lock_duration_ms / 3;

    if (margin < 1000) {
        margin = 1000;
    }
    if (margin > 10000) {
        margin = 10000;
    }

    int64_t at = lock_expiry_ms - margin;
    return at < now_ms ? now_ms : at;
}

const char *settle_action_str(settle_action action)
{
    switch (action) {
    case SETTLE_COMPLETE:
        return "complete";
    case SETTLE_RETRY_AFTER:
        return "retry-after";
    case SETTLE_RETRY_BACKOFF:
        return "retry-backoff";
    case SETTLE_ABANDON:
        return "abandon";
    case SETTLE_DEAD_LETTER:
        return "dead-letter";
    case SETTLE_ABANDON_NOT_READY:
        return "abandon-not-ready";
    case SETTLE_FORGET:
        return "forget";
    }
    return "unknown";
}

const char *settle_event_str(settle_event event)
{
    switch (event) {
    case SETTLE_EVENT_HTTP:
        return "http";
    case SETTLE_EVENT_TRANSPORT:
        return "transport";
    case SETTLE_EVENT_INVALID_MESSAGE:
        return "invalid-message";
    case SETTLE_EVENT_LOCK_LOST:
        return "lock-lost";
    }
    return "unknown";
}
