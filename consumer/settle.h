/*
 * The settlement policy: what the consumer does with a message after each attempt to store
 * its document. The whole policy is one table in settle.c (also printed in docs/CONSUMER.md),
 * so a reader can check every outcome in one place:
 *
 *   200, 201                     complete
 *   429                          wait x-ms-retry-after-ms, then retry
 *   408, 449, 5xx, transport     retry with backoff and jitter until the per-message deadline
 *   400, 413, invalid message    dead-letter with a reason and a description
 *   401, 403, 404                abandon, report not ready, back off
 *   lock lost                    forget the delivery; the redelivery upserts the same id
 *   anything else                retry with backoff until the deadline
 *
 * A retry that would start at or after the deadline becomes an abandon, so Service Bus
 * redelivers the message and dead-letters it at MaxDeliveryCount. Every function here is pure
 * and thread-safe: the time and the random number are arguments.
 */
#ifndef CONSUMER_SETTLE_H
#define CONSUMER_SETTLE_H

#include <stdbool.h>
#include <stdint.h>

/* What happened to one attempt. */
typedef enum settle_event {
    SETTLE_EVENT_HTTP,            /* Cosmos returned an HTTP status */
    SETTLE_EVENT_TRANSPORT,       /* connection, TLS or timeout failure before any status */
    SETTLE_EVENT_INVALID_MESSAGE, /* the message body failed validation */
    SETTLE_EVENT_LOCK_LOST,       /* Service Bus reported the message lock as lost */
} settle_event;

typedef enum settle_action {
    SETTLE_COMPLETE,          /* accept the delivery: the document is stored */
    SETTLE_RETRY_AFTER,       /* retry after the delay the server asked for */
    SETTLE_RETRY_BACKOFF,     /* retry after an exponential backoff with jitter */
    SETTLE_ABANDON,           /* release the lock so that Service Bus redelivers */
    SETTLE_DEAD_LETTER,       /* reject with com.microsoft:dead-letter */
    SETTLE_ABANDON_NOT_READY, /* abandon, mark the consumer not ready, pause intake */
    SETTLE_FORGET,            /* nothing to settle: the lock is gone */
} settle_action;

/* One row of the policy table. `status_min`..`status_max` apply to SETTLE_EVENT_HTTP only. */
typedef struct settle_rule {
    settle_event event;
    int status_min;
    int status_max;
    settle_action action;
    /* DeadLetterReason for SETTLE_DEAD_LETTER rows; a short cause for the others. */
    const char *reason;
} settle_rule;

/* The backoff and deadline parameters, all in milliseconds. */
typedef struct settle_limits {
    int64_t backoff_initial_ms; /* first backoff, before jitter */
    int64_t backoff_max_ms;     /* cap of the exponential growth */
    int64_t retry_after_max_ms; /* cap on a server-requested delay */
} settle_limits;

/* The defaults: 100 ms initial backoff, 5 s cap, server delays capped at 10 s. */
extern const settle_limits settle_default_limits;

/* One attempt's outcome, as the policy needs it. */
typedef struct settle_input {
    settle_event event;
    int http_status;        /* for SETTLE_EVENT_HTTP */
    int64_t retry_after_ms; /* x-ms-retry-after-ms, or -1 when absent */
    int attempt;            /* attempts made so far for this delivery, starting at 1 */
    int64_t now_ms;         /* monotonic */
    int64_t deadline_ms;    /* monotonic per-message retry deadline */
    uint32_t random;        /* uniform random number for the jitter */
} settle_input;

typedef struct settle_decision {
    settle_action action;
    const char *reason; /* from the matching rule; static storage */
    int64_t delay_ms;   /* for retries: wait this long before the next attempt */
    bool deadline_hit;  /* a retry row that became SETTLE_ABANDON at the deadline */
} settle_decision;

/* Returns the policy table and its length in `out_count`. */
const settle_rule *settle_rules(int *out_count);

/* Returns the first table row matching the event (and status), or the default row. */
const settle_rule *settle_match(settle_event event, int http_status);

/* Returns the table's action for a message that fails validation, before any request. */
settle_action settle_invalid_message_action(void);

/* Applies the policy, including the deadline, to one attempt. */
settle_decision settle_decide(const settle_input *input, const settle_limits *limits);

/*
 * Returns the backoff before retry number `attempt` (1 for the first retry): the exponential
 * value min(max, initial * 2^(attempt-1)), of which the upper half is drawn from `random`
 * (BACKOFF_JITTER_EQUAL in backoff.h), so concurrent retries spread out but never retry at once.
 */
int64_t settle_backoff_ms(int attempt, uint32_t random, const settle_limits *limits);

/*
 * Returns the monotonic time at which to renew a lock that expires at `lock_expiry_ms` and was
 * granted for `lock_duration_ms`: a third of the duration before expiry, at least 1 s and at
 * most 10 s early, never before `now_ms`.
 */
int64_t settle_lock_renew_at_ms(int64_t now_ms, int64_t lock_expiry_ms, int64_t lock_duration_ms);

/* Returns a stable lowercase name such as "dead-letter". */
const char *settle_action_str(settle_action action);
const char *settle_event_str(settle_event event);

#endif
