#include "sender.h"

#include "amqp.h"
#include "backoff.h"
#include "log.h"
#include "message.h"
#include "sb_conn.h"
#include "timefmt.h"

#include <proton/delivery.h>
#include <proton/disposition.h>
#include <proton/link.h>
#include <proton/session.h>
#include <proton/terminus.h>

#include <inttypes.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Rejections and losses logged one by one before only every 1000th is. */
#define LOG_FIRST_FAILURES 10

/* Time the connections get to close once the run ends, after --shutdown-grace on a signal.
 * Then they are closed without waiting for the peer, so a stopped peer cannot hold the exit
 * until the 60 s idle timeout. */
#define CLOSE_TIMEOUT_MS 5000
/* How far --rate's schedule may fall behind before it moves forward. Lateness up to this much,
 * from timers and event batches, is made up. More, from connecting or an outage, is not, so
 * that the missed messages do not go out in one burst. */
#define RATE_MAX_LAG_MS 100

typedef enum slot_state {
    SLOT_FREE,
    SLOT_WAITING,   /* issued, to be (re)sent at retry_at_ms */
    SLOT_INFLIGHT,  /* sent, outcome pending */
    SLOT_CANCELLED, /* accepted through an earlier transfer while waiting, and released when
                       link_pump pops it */
    SLOT_LINGERING, /* out of retries, while an earlier transfer may still be accepted */
} slot_state;

/*
 * One message in the window. Each transfer of it gets the next generation, the upper half of
 * its delivery tag. A transfer that timed out is not settled, so the service may still accept
 * it: an outcome whose generation lies in [first_generation, generation] belongs to this
 * message, and any other one to a message that has finished.
 */
typedef struct slot {
    producer_message message;
    slot_state state;
    uint32_t generation;             /* of the latest transfer */
    uint32_t first_generation;       /* of the first transfer of the current message */
    unsigned open_earlier_transfers; /* transfers that timed out and have no outcome yet */
    unsigned retries;
    int64_t retry_at_ms;
    int64_t linger_until_ms; /* SLOT_LINGERING: when the message fails without an acceptance */
    int64_t first_sent_us;   /* monotonic microseconds of the first transfer */
    int64_t timer_start_us;  /* start of the latest transfer's send timeout (expire_inflight) */
    uint64_t sequence;       /* the latest transfer's place in the order of the link's transfers */
    size_t unframed;         /* bytes of the latest transfer not yet framed at the last check */
    bool silent_resend;      /* resent, uncounted, while its connection gave no outcome */
    pn_delivery_t *delivery;
} slot;

typedef struct producer_link {
    producer_run *run;
    unsigned index;
    sb_conn *conn;
    pn_link_t *sender;
    bool attached;       /* the peer attached its end of the link */
    bool authorized;     /* CBS accepted a token for the queue on this connection */
    bool auth_refreshed; /* one re-authorization after amqp:unauthorized-access was tried */
    int64_t reattach_at_ms;
    unsigned detach_failures;
    char audience[512];

    slot *slots;
    size_t slot_count;
    uint32_t *free_stack;
    size_t free_count;
    uint32_t *waiting; /* ring of slot indices */
    size_t waiting_head;
    size_t waiting_count;
    size_t cancelled; /* SLOT_CANCELLED entries among the waiting ones */
    size_t lingering; /* SLOT_LINGERING slots */
    size_t inflight;
    int64_t next_wake_ms;
    bool buffering;         /* true when a transfer waited to be framed at the last check */
    int64_t progress_us;    /* time of the last progress that drop_if_stalled saw: bytes
                               framed, an outcome, or the start of the wait */
    int64_t outcome_us;     /* time of the latest outcome, or of the attach before the first */
    uint64_t outcomes;      /* outcomes received on this link */
    uint64_t outcomes_seen; /* `outcomes` at the last check */
    uint64_t transfers;     /* transfers made so far, the last one's `sequence` */
    uint64_t answered;      /* the highest `sequence` of a transfer with an outcome */
    amqp_buffer buffer;
} producer_link;

struct producer_run {
    pn_proactor_t *proactor;
    const producer_config *config;
    const producer_options *options; /* &config->producer */
    const sb_target *target;
    producer_link *links;
    size_t link_count;
    producer_stats stats;

    int64_t start_ms;
    int64_t end_ms;          /* when the run began to close its connections, or 0 */
    int64_t last_outcome_ms; /* the last outcome of a transfer from the service, or 0 */
    bool issuing_done;       /* no new messages: count reached, duration over, or stopping */
    bool stopping;           /* a signal asked to stop */
    int64_t grace_deadline_ms;
    bool closing; /* connections are being closed */
    int64_t close_deadline_ms;
    bool aborted; /* the close timeout passed and the connections were closed at once */
    atomic_int stop_requests;
    int stop_requests_seen;
    wl_error fatal;
    uint64_t retry_logs;   /* send-retry events so far, for log_failure's rate limit */
    uint64_t failure_logs; /* send-failed events so far, counted apart so that retries do not
                            * use up the log lines of final failures */
    uint64_t ready_links;
    bool ever_attached;      /* a sender link was attached at some time during the run */
    int64_t rate_base_ms;    /* when message 0 was due under --rate (RATE_MAX_LAG_MS) */
    int64_t expiry_check_ms; /* when send timeouts are next checked, or 0 with none due */

    /*
     * Clock readings taken once at the start of each event batch, because reading the clocks for
     * every message took about 7 % of the CPU in a profile. Latencies and stamps are therefore
     * as old as the batch, which takes microseconds.
     */
    int64_t now_us;      /* monotonic */
    int64_t now_real_us; /* Unix time */

    health_component *ready;
    metrics_counter *sent_metric;
    metrics_counter *accepted_metric;
    metrics_counter *rejected_metric;
    metrics_counter *retried_metric;
    metrics_counter *late_accepted_metric;
    metrics_counter *reconnects_metric;
    metrics_gauge *inflight_metric;
    metrics_histogram *latency_metric;
};

static int64_t monotonic_us(void)
{
    struct timespec now;

    clock_gettime(CLOCK_MONOTONIC, &now);
    return (int64_t)now.tv_sec * 1000000 + now.tv_nsec / 1000;
}

static int64_t monotonic_ms(void)
{
    return monotonic_us() / 1000;
}

static int64_t realtime_us(void)
{
    struct timespec now;

    clock_gettime(CLOCK_REALTIME, &now);
    return (int64_t)now.tv_sec * 1000000 + now.tv_nsec / 1000;
}

static int64_t run_now_ms(const producer_run *run)
{
    return run->now_us / 1000;
}

/* ---- slots ---- */

static slot *slot_alloc(producer_link *link)
{
    if (link->free_count == 0) {
        return NULL;
    }
    slot *s = &link->slots[link->free_stack[--link->free_count]];
    s->first_generation = s->generation + 1; /* that of the first transfer */
    s->open_earlier_transfers = 0;
    s->retries = 0;
    s->silent_resend = false;
    return s;
}

static void slot_release(producer_link *link, slot *s)
{
    s->state = SLOT_FREE;
    s->delivery = NULL;
    link->free_stack[link->free_count++] = (uint32_t)(s - link->slots);
}

static void waiting_push(producer_link *link, slot *s, int64_t retry_at_ms)
{
    size_t tail = (link->waiting_head + link->waiting_count) % link->slot_count;

    s->state = SLOT_WAITING;
    s->delivery = NULL;
    s->retry_at_ms = retry_at_ms;
    link->waiting[tail] = (uint32_t)(s - link->slots);
    link->waiting_count++;
}

static slot *waiting_peek(producer_link *link)
{
    return link->waiting_count == 0 ? NULL : &link->slots[link->waiting[link->waiting_head]];
}

static void waiting_pop(producer_link *link)
{
    link->waiting_head = (link->waiting_head + 1) % link->slot_count;
    link->waiting_count--;
}

/* ---- run-wide state ---- */

static bool run_may_issue(producer_run *run, int64_t now_ms, int64_t *out_next_ms)
{
    const producer_options *options = run->options;

    if (run->issuing_done || run->closing) {
        return false;
    }
    if (options->count > 0 && run->stats.issued >= (uint64_t)options->count) {
        run->issuing_done = true;
        return false;
    }
    if (options->duration_ms > 0 && now_ms - run->start_ms >= options->duration_ms) {
        run->issuing_done = true;
        LOG_INFO("duration-reached", "stopped issuing new messages after %" PRId64 " ms",
                 options->duration_ms);
        return false;
    }
    if (options->rate > 0) {
        /* Message k (from 0) is due at rate_base + k / rate. */
        double due_ms =
            (double)run->rate_base_ms + (double)run->stats.issued * 1000.0 / options->rate;
        double lag_ms = (double)now_ms - due_ms;
        if (lag_ms > RATE_MAX_LAG_MS) {
            run->rate_base_ms += (int64_t)(lag_ms - RATE_MAX_LAG_MS);
        }
        if ((double)now_ms < due_ms) {
            *out_next_ms = (int64_t)due_ms + 1;
            return false;
        }
    }
    return true;
}

static void run_fail(producer_run *run, const wl_error *err)
{
    if (run->fatal.status == WL_OK) {
        run->fatal = *err;
        LOG_ERROR("run-failed", "%s", err->message);
    }
    run->issuing_done = true;
}

static uint64_t run_outstanding(const producer_run *run)
{
    uint64_t outstanding = 0;

    for (size_t i = 0; i < run->link_count; i++) {
        const producer_link *link = &run->links[i];
        outstanding += link->inflight + link->waiting_count - link->cancelled + link->lingering;
    }
    return outstanding;
}

/* Ends the run: every way of ending it, whether done, failed or stopped, comes here. */
static void run_close_all(producer_run *run)
{
    if (run->closing) {
        return;
    }
    if (!run->ever_attached) {
        /* A --duration or a signal can end a run that never reached the queue. Such a run did
         * nothing and must not exit 0. run_fail keeps an earlier, more precise error. */
        wl_error err = {0};
        wl_error_set(&err, WL_ERR_UNAVAILABLE,
                     "no sender link to %s was attached before the run ended; check that the "
                     "endpoint is reachable and the queue exists",
                     run->target->queue);
        run_fail(run, &err);
    }
    run->closing = true;
    run->issuing_done = true;
    run->close_deadline_ms = run_now_ms(run) + CLOSE_TIMEOUT_MS;
    for (size_t i = 0; i < run->link_count; i++) {
        sb_conn_close(run->links[i].conn);
    }
}

static void run_check_done(producer_run *run)
{
    int64_t ignored = 0;

    if (run->closing) {
        return;
    }
    if (!run->issuing_done) {
        run_may_issue(run, run_now_ms(run), &ignored);
    }
    if (run->fatal.status != WL_OK || (run->issuing_done && run_outstanding(run) == 0)) {
        run->end_ms = run->end_ms != 0 ? run->end_ms : run_now_ms(run);
        run_close_all(run);
    }
}

/* Logs the first LOG_FIRST_FAILURES events counted by `*so_far`, then every 1000th. */
static void log_failure(uint64_t *so_far, const char *event, const slot *s, const char *cause)
{
    (*so_far)++;
    if (*so_far <= LOG_FIRST_FAILURES || *so_far % 1000 == 0) {
        LOG_WARN(event, "message %s (COUNT %" PRIu64 "): %s [%" PRIu64 " such events so far]",
                 s->message.message_id, s->message.count, cause, *so_far);
    }
}

/* ---- sending ---- */

static void transmit(producer_link *link, slot *s, int64_t now_us)
{
    producer_run *run = link->run;
    uint64_t tag = ((uint64_t)++s->generation << 32) | (uint64_t)(s - link->slots);

    message_encode(&s->message, (size_t)run->options->body_size, &link->buffer);
    s->delivery = amqp_send_bytes(link->sender, tag, &link->buffer);
    s->unframed = link->buffer.size;
    s->sequence = ++link->transfers;
    s->state = SLOT_INFLIGHT;
    s->first_sent_us = s->generation == s->first_generation ? now_us : s->first_sent_us;
    s->timer_start_us = now_us;
    link->inflight++;
    run->stats.sent++;
    if (run->sent_metric != NULL) {
        metrics_counter_inc(run->sent_metric, 1);
        metrics_gauge_add_value(run->inflight_metric, 1);
    }
}

static void issue(producer_run *run, slot *s)
{
    run->stats.issued++;
    s->message.count = run->stats.issued;
    s->message.stamp_us = run->now_real_us;
    wl_uuid_v4(s->message.message_id);
}

/* Sends resends that are due and new messages, within credit, window and rate. */
static void link_pump(producer_link *link)
{
    producer_run *run = link->run;
    int64_t now_us = run->now_us;
    int64_t now_ms = now_us / 1000;
    int64_t next_ms = INT64_MAX;

    if (link->sender == NULL || !link->attached || run->closing) {
        return;
    }
    while (pn_link_credit(link->sender) > 0) {
        slot *s = waiting_peek(link);
        if (s != NULL && s->state == SLOT_CANCELLED) {
            waiting_pop(link);
            link->cancelled--;
            slot_release(link, s);
            continue;
        }
        if (s != NULL && s->retry_at_ms <= now_ms) {
            waiting_pop(link);
            run->stats.retried++;
            if (run->retried_metric != NULL) {
                metrics_counter_inc(run->retried_metric, 1);
            }
        } else if (link->free_count > 0 && run_may_issue(run, now_ms, &next_ms)) {
            s = slot_alloc(link);
            issue(run, s);
        } else {
            if (s != NULL && s->retry_at_ms < next_ms) {
                next_ms = s->retry_at_ms;
            }
            break;
        }
        transmit(link, s, now_us);
    }
    link->next_wake_ms = next_ms;
}

/* Takes `s` out of the messages in flight. Its transfer is settled by the caller, or left open
 * after a timeout so that a late acceptance still counts. */
static void leave_inflight(producer_link *link, slot *s)
{
    s->delivery = NULL;
    link->inflight--;
    if (link->run->inflight_metric != NULL) {
        metrics_gauge_add_value(link->run->inflight_metric, -1);
    }
}

static void fail_message(producer_link *link, slot *s, const char *cause);

/*
 * Puts every unacknowledged message back in the queue to be resent with its message-id, once the
 * link is gone. No transfer on it can be accepted any more, so a message that was only waiting
 * for an earlier transfer (SLOT_LINGERING) fails now.
 */
static void requeue_inflight(producer_link *link, int64_t retry_at_ms)
{
    for (size_t i = 0; i < link->slot_count; i++) {
        slot *s = &link->slots[i];
        s->silent_resend = false;
        if (s->state == SLOT_LINGERING) {
            fail_message(link, s,
                         "out of retries, and the link closed before an earlier "
                         "transfer had an outcome");
            continue;
        }
        s->open_earlier_transfers = 0;
        if (s->state != SLOT_INFLIGHT) {
            continue;
        }
        if (s->delivery != NULL && link->sender != NULL) {
            pn_delivery_settle(s->delivery);
        }
        leave_inflight(link, s);
        waiting_push(link, s, retry_at_ms);
    }
}

static void attach_sender(producer_link *link)
{
    pn_session_t *session = sb_conn_session(link->conn);
    char name[128];

    snprintf(name, sizeof name, "producer-%u-%u", link->index, sb_conn_connect_count(link->conn));
    link->sender = pn_sender(session, name);
    pn_terminus_set_address(pn_link_target(link->sender), link->run->target->queue);
    pn_terminus_set_address(pn_link_source(link->sender), name);
    pn_link_set_snd_settle_mode(link->sender, PN_SND_UNSETTLED);
    pn_link_set_rcv_settle_mode(link->sender, PN_RCV_FIRST);
    pn_link_open(link->sender);
    link->attached = false;
    link->buffering = false;
    link->outcome_us = link->run->now_us;
}

/* ---- outcomes ---- */

static void finish_slot(producer_link *link, slot *s)
{
    leave_inflight(link, s);
    slot_release(link, s);
}

static void fail_or_linger(producer_link *link, slot *s, const char *what);

static void retry_or_fail(producer_link *link, slot *s, wl_status status, const char *what)
{
    producer_run *run = link->run;
    /* Equal jitter: a resend right after a busy reply or a timeout would meet the same state. */
    backoff_policy policy = backoff_policy_default();
    policy.jitter = BACKOFF_JITTER_EQUAL;

    leave_inflight(link, s);
    if (amqp_status_is_retryable(status) && s->retries < (unsigned)run->options->max_retries) {
        s->retries++;
        log_failure(&run->retry_logs, "send-retry", s, what);
        waiting_push(link, s, run_now_ms(run) + backoff_delay_ms(&policy, s->retries - 1, NULL));
        return;
    }
    fail_or_linger(link, s, what);
}

/*
 * Resends `s`, whose transfer timed out while no outcome came on the link for a send timeout,
 * without counting the resend against --max-retries: the connection is suspect, not the
 * message, as after a lost connection.
 */
static void resend_uncounted(producer_link *link, slot *s, const char *what)
{
    leave_inflight(link, s);
    log_failure(&link->run->retry_logs, "send-retry", s, what);
    waiting_push(link, s, run_now_ms(link->run));
}

/* Fails `s`, which has no retry left, or lets it wait for an earlier transfer first. */
static void fail_or_linger(producer_link *link, slot *s, const char *what)
{
    producer_run *run = link->run;

    if (s->open_earlier_transfers > 0) {
        /* An earlier transfer that timed out may still be accepted: wait one more send timeout
         * for it before the message counts as failed. */
        s->state = SLOT_LINGERING;
        s->linger_until_ms = run_now_ms(run) + run->options->send_timeout_ms;
        link->lingering++;
        return;
    }
    fail_message(link, s, what);
}

/* Counts `s` as failed for good and frees its place in the window. */
static void fail_message(producer_link *link, slot *s, const char *cause)
{
    producer_run *run = link->run;

    if (s->state == SLOT_LINGERING) {
        link->lingering--;
    }
    /* The earlier transfers still open may yet be accepted, and so store the message. */
    run->stats.late_open += s->open_earlier_transfers;
    run->stats.rejected++;
    if (run->rejected_metric != NULL) {
        metrics_counter_inc(run->rejected_metric, 1);
    }
    log_failure(&run->failure_logs, "send-failed", s, cause);
    slot_release(link, s);
}

/*
 * Counts `s` as accepted and frees its place in the window. The latency runs from the first
 * transfer, whichever transfer was accepted, because resends and their waits are part of the
 * time the message took.
 */
static void accept_message(producer_link *link, slot *s)
{
    producer_run *run = link->run;
    int64_t latency_us = run->now_us - s->first_sent_us;

    run->stats.accepted++;
    stats_record_latency(&run->stats, latency_us);
    if (run->accepted_metric != NULL) {
        metrics_counter_inc(run->accepted_metric, 1);
        metrics_histogram_observe(run->latency_metric, (double)latency_us / 1e6);
    }
    if (s->state == SLOT_WAITING) {
        /* The ring cannot drop an entry from its middle, so link_pump releases it. */
        s->state = SLOT_CANCELLED;
        link->cancelled++;
    } else if (s->state == SLOT_LINGERING) {
        link->lingering--;
        slot_release(link, s);
    } else {
        finish_slot(link, s);
    }
}

/*
 * Counts the acceptance of a transfer whose message had finished: accepted through another
 * transfer, so the queue contains a second copy unless its duplicate detection drops it, or
 * counted as failed although the service stored it. Both come from resends after a send timeout
 * that ended before the earlier transfer's outcome came.
 */
static void count_late_acceptance(producer_run *run)
{
    run->stats.late_accepted++;
    if (run->late_accepted_metric != NULL) {
        metrics_counter_inc(run->late_accepted_metric, 1);
    }
    if (run->stats.late_accepted % 1000 == 1) {
        LOG_WARN("late-acceptance",
                 "%" PRIu64 " transfers were accepted after their message had finished, so the "
                 "queue may contain messages twice: raise --send-timeout (%" PRId64
                 " ms) above the time Service Bus takes to accept a message on this link",
                 run->stats.late_accepted, run->options->send_timeout_ms);
    }
}

static void handle_outcome(producer_link *link, pn_delivery_t *delivery)
{
    producer_run *run = link->run;
    pn_delivery_tag_t tag = pn_delivery_tag(delivery);
    uint64_t value = 0;
    uint64_t state = pn_delivery_remote_state(delivery);

    if (state == 0 && !pn_delivery_settled(delivery)) {
        return; /* no outcome yet */
    }
    if (tag.size == sizeof value) {
        memcpy(&value, tag.start, sizeof value);
    }
    size_t index = (size_t)(value & 0xffffffffu);
    uint32_t generation = (uint32_t)(value >> 32);
    slot *s = index < link->slot_count ? &link->slots[index] : NULL;
    bool unfinished = s != NULL && (s->state == SLOT_INFLIGHT || s->state == SLOT_WAITING ||
                                    s->state == SLOT_LINGERING);
    bool accepted = state == PN_ACCEPTED || (state == 0 && pn_delivery_settled(delivery));

    link->outcomes++;
    link->outcome_us = run->now_us;
    if (!unfinished || (uint32_t)(generation - s->first_generation) >
                           (uint32_t)(s->generation - s->first_generation)) {
        /* A late outcome of a message that has finished. */
        if (s != NULL && run->stats.late_open > 0) {
            run->stats.late_open--;
        }
        if (s != NULL && accepted) {
            count_late_acceptance(run);
        }
        pn_delivery_settle(delivery);
        return;
    }
    run->last_outcome_ms = run_now_ms(run);

    if (s->state != SLOT_INFLIGHT || generation != s->generation) {
        /* A transfer that timed out. Its acceptance means the message is stored. Any other
         * outcome leaves the decision to a newer transfer, unless the message is out of retries
         * and this was its last open one. */
        s->open_earlier_transfers -= s->open_earlier_transfers > 0 ? 1 : 0;
        if (accepted) {
            /* The other transfers still open, the latest among them while in flight, may store
             * copies. */
            run->stats.late_open += s->open_earlier_transfers + (s->state == SLOT_INFLIGHT);
            accept_message(link, s);
        } else if (s->state == SLOT_LINGERING && s->open_earlier_transfers == 0) {
            fail_message(link, s, "out of retries, and no earlier transfer was accepted");
        }
        pn_delivery_settle(delivery);
        return;
    }

    if (s->sequence > link->answered) {
        link->answered = s->sequence;
    }
    if (accepted) {
        run->stats.late_open += s->open_earlier_transfers; /* timed out, and may store copies */
        accept_message(link, s);
    } else if (state == PN_REJECTED) {
        pn_condition_t *condition = pn_disposition_condition(pn_delivery_remote(delivery));
        wl_error err = {0};
        wl_status status =
            amqp_condition_to_error(condition, WL_ERR_PROTOCOL, "the service rejected it", &err);
        retry_or_fail(link, s, status, err.message);
    } else {
        /* released or modified: the service did not take it; send it again */
        retry_or_fail(link, s, WL_ERR_UNAVAILABLE, "released by the service");
    }
    pn_delivery_settle(delivery);
}

/*
 * Drops the connection of `link` when messages have waited for an outcome, or for credit to be
 * resent, for a send timeout or SB_CONN_STALL_MS if longer, with no progress: no outcome came and
 * Proton framed no more of their bytes. The peer then keeps the connection open but takes no
 * data, because it stopped reading the socket, keeps its session window closed or grants no
 * credit. The messages are resent on the new connection. A link so slow that one message takes
 * longer than this to send is dropped too, and its connections then count as failed attempts
 * until --give-up-after ends the run.
 */
static void drop_if_stalled(producer_link *link, size_t waiting, bool progress, int64_t now_us)
{
    int64_t stall_ms = link->run->options->send_timeout_ms;

    stall_ms = stall_ms > SB_CONN_STALL_MS ? stall_ms : SB_CONN_STALL_MS;
    if (progress || (waiting > 0 && !link->buffering)) {
        link->progress_us = now_us;
    }
    link->buffering = waiting > 0;
    if (waiting == 0 || now_us - link->progress_us < stall_ms * 1000) {
        return;
    }
    wl_error cause = {0};
    wl_error_set(&cause, WL_ERR_TIMEOUT,
                 "%zu messages waited %" PRId64
                 " ms with no outcome and no more of their bytes framed: the peer takes no data",
                 waiting, stall_ms);
    link->buffering = false;
    sb_conn_drop(link->conn, &cause, link->outcome_us / 1000);
}

/*
 * Handles the send timeout of `s`. While outcomes come for other messages, the message itself is
 * suspect, so the resend counts against --max-retries. On a link with no outcome for a send
 * timeout the connection is suspect: the message is resent once without counting it, and after
 * that it waits for drop_if_stalled rather than queue more copies on the connection.
 */
static void timeout_inflight(producer_link *link, slot *s, bool outcomes_recent, int64_t now_us)
{
    const char *cause = "no outcome within the send timeout";

    if (!outcomes_recent && s->silent_resend) {
        s->timer_start_us = now_us;
        return;
    }
    /* The transfer is left unsettled, so that a late acceptance still counts (handle_outcome). */
    s->open_earlier_transfers++;
    if (outcomes_recent) {
        retry_or_fail(link, s, WL_ERR_TIMEOUT, cause);
        return;
    }
    s->silent_resend = true;
    resend_uncounted(link, s, cause);
}

/* Resends messages whose outcome is overdue, fails those that waited long enough for an earlier
 * transfer, and drops a connection that takes no data. */
static void expire_inflight(producer_link *link, int64_t now_us)
{
    int64_t timeout_us = link->run->options->send_timeout_ms * 1000;
    /* Proton frames at once every transfer that the peer's windows allow, into its own output
     * buffer, which only the socket drains, so on a slow network a framed transfer may still
     * wait behind others. Transfers leave in order, so one made before a transfer that has an
     * outcome has left. A later one waits, and its send timeout does not run, until a send
     * timeout has passed since the latest outcome. */
    bool outcomes_recent = now_us - link->outcome_us < timeout_us;
    bool progress = link->outcomes != link->outcomes_seen;
    size_t waiting = 0;

    link->outcomes_seen = link->outcomes;
    for (size_t i = 0; i < link->slot_count; i++) {
        slot *s = &link->slots[i];
        /* A transfer that is not framed yet cannot be late, and a resend would only queue
         * another copy behind it, so its timeout starts again at each check. */
        size_t unframed = s->state == SLOT_INFLIGHT ? pn_delivery_pending(s->delivery) : 0;
        bool may_wait = outcomes_recent && s->sequence > link->answered;
        progress = progress || unframed < s->unframed;
        s->unframed = unframed;
        if (s->state == SLOT_INFLIGHT) {
            waiting++;
        } else if (s->state == SLOT_WAITING && s->retry_at_ms <= now_us / 1000) {
            waiting++; /* due for a resend, so only credit is missing */
        }
        if (s->state == SLOT_INFLIGHT && (unframed > 0 || may_wait)) {
            s->timer_start_us = now_us;
        } else if (s->state == SLOT_INFLIGHT && now_us - s->timer_start_us >= timeout_us) {
            timeout_inflight(link, s, outcomes_recent, now_us);
        } else if (s->state == SLOT_LINGERING && now_us / 1000 >= s->linger_until_ms) {
            fail_message(link, s,
                         "out of retries, and no earlier transfer was accepted within the send "
                         "timeout");
        }
    }
    drop_if_stalled(link, waiting, progress, now_us);
}

/* ---- connection callbacks ---- */

static void on_ready(sb_conn *conn, void *ctx)
{
    producer_link *link = ctx;
    wl_error err = {0};

    if (sb_conn_connect_count(conn) > 1) {
        metrics_counter_inc(link->run->reconnects_metric, 1);
    }
    LOG_INFO("connected", "connection %u to %s is open (attempt %u)", link->index,
             sb_conn_address(conn), sb_conn_connect_count(conn));
    link->authorized = false;
    link->auth_refreshed = false;
    sb_conn_audience(conn, link->run->target->queue, link->audience, sizeof link->audience);
    /* Failures are reported through on_authorized as well. */
    sb_conn_authorize(conn, link->audience, &err);
}

static void on_authorized(sb_conn *conn, const char *audience, const wl_error *err, void *ctx)
{
    producer_link *link = ctx;

    (void)conn;
    if (err != NULL) {
        bool fatal = err->status == WL_ERR_AUTH || err->status == WL_ERR_NOT_FOUND ||
                     err->status == WL_ERR_INVALID;
        if (fatal) {
            run_fail(link->run, err);
            run_check_done(link->run);
        } else {
            LOG_WARN("authorize-failed", "put-token for %s failed and will be retried: %s",
                     audience, err->message);
        }
        return;
    }
    if (!link->authorized && link->run->target->auth == SB_AUTH_CBS) {
        LOG_INFO("authorized", "%s authorized on connection %u", audience, link->index);
    }
    link->authorized = true;
    if (link->sender == NULL && !link->run->closing) {
        attach_sender(link);
    }
}

static void on_disconnected(sb_conn *conn, const wl_error *cause, bool will_retry, void *ctx)
{
    producer_link *link = ctx;
    producer_run *run = link->run;
    /* Messages in flight and those already waiting for a resend go out again alike. */
    size_t unacknowledged = link->inflight + link->waiting_count - link->cancelled;

    if (link->attached) {
        run->ready_links--;
        health_component_set(run->ready, run->ready_links > 0, "no sender link is attached");
    }
    /* Proton frees the links with the connection; nothing may be settled on them now. */
    link->sender = NULL;
    requeue_inflight(link, run_now_ms(link->run));
    link->attached = false;
    link->authorized = false;

    /* A broker that ends the session over a missing queue or a refused login would make
     * every reconnect fail the same way, so such causes end the run. */
    if (will_retry && !run->closing &&
        (cause->status == WL_ERR_NOT_FOUND || cause->status == WL_ERR_AUTH ||
         cause->status == WL_ERR_INVALID)) {
        run_fail(run, cause);
        run_close_all(run);
        return;
    }
    if (will_retry && sb_conn_failed_attempts(conn) > 0) {
        char next[64];
        sb_conn_describe_next_attempt(conn, next, sizeof next);
        LOG_WARN("connect-failed", "attempt %u of connection %u failed, %s: %s",
                 sb_conn_failed_attempts(conn), link->index, next, cause->message);
        return;
    }
    if (will_retry) {
        LOG_WARN("disconnected",
                 "connection %u lost (%s); %zu unacknowledged messages will be "
                 "resent after reconnecting",
                 link->index, cause->message, unacknowledged);
        return;
    }
    if (!run->closing) {
        run_fail(run, cause);
        run_close_all(run);
    }
    LOG_INFO("connection-closed", "connection %u closed: %s", link->index, cause->message);
}

/* ---- link events ---- */

static void handle_link_closed(producer_link *link, pn_link_t *sender)
{
    producer_run *run = link->run;
    wl_error err = {0};
    wl_status status = amqp_condition_to_error(pn_link_remote_condition(sender), WL_ERR_UNAVAILABLE,
                                               "the service detached the sender", &err);
    backoff_policy policy = backoff_policy_default();

    requeue_inflight(link, run_now_ms(link->run));
    if (link->attached) {
        run->ready_links--;
        health_component_set(run->ready, run->ready_links > 0, "no sender link is attached");
    }
    pn_link_close(sender);
    link->sender = NULL;
    link->attached = false;
    if (run->closing) {
        return;
    }
    sb_conn_mark_not_working(link->conn, &err);

    if (status == WL_ERR_AUTH && !link->auth_refreshed) {
        /* An expired or revoked token: put a fresh one once before giving up. */
        LOG_WARN("sender-detached", "%s; putting a fresh token", err.message);
        link->auth_refreshed = true;
        link->authorized = false;
        wl_error auth_err = {0};
        sb_conn_authorize(link->conn, link->audience, &auth_err);
        return;
    }
    if (!amqp_status_is_retryable(status)) {
        run_fail(run, &err);
        run_check_done(run);
        return;
    }
    link->reattach_at_ms =
        run_now_ms(run) + backoff_delay_ms(&policy, link->detach_failures++, NULL);
    LOG_WARN("sender-detached", "%s; attaching again", err.message);
}

static void handle_link_opened(producer_link *link, pn_link_t *sender)
{
    producer_run *run = link->run;

    if (amqp_attach_refused(sender)) {
        return; /* handle_link_closed reports the detach and its reason */
    }
    link->attached = true;
    link->detach_failures = 0;
    sb_conn_mark_working(link->conn);
    run->ever_attached = true;
    run->ready_links++;
    health_component_set(run->ready, true, "");
    uint64_t max_size = pn_link_remote_max_message_size(sender);
    LOG_INFO("sender-attached", "sender %s attached to %s (max message size %" PRIu64 ")",
             pn_link_name(sender), run->target->queue, max_size);
    uint64_t encoded = message_encoded_size((size_t)run->options->body_size);
    if (max_size > 0 && encoded > max_size) {
        /* The peer's limit may be below the one checked at parse time, for example on a
         * broker other than Service Bus. */
        uint64_t overhead = MESSAGE_ENCODING_OVERHEAD;
        wl_error err = {0};
        wl_error_set(&err, WL_ERR_TOO_LARGE,
                     "--body-size %" PRId64 " makes each message %" PRIu64
                     " bytes (the body plus %" PRIu64
                     " bytes of AMQP properties and framing), over the queue's maximum message "
                     "size of %" PRIu64 " bytes: set --body-size to at most %" PRIu64,
                     run->options->body_size, encoded, overhead, max_size,
                     max_size > overhead ? max_size - overhead : 0);
        run_fail(run, &err);
        run_check_done(run);
        return;
    }
    link_pump(link);
}

static void handle_wake(producer_link *link)
{
    int64_t now_us = link->run->now_us;

    if (!sb_conn_is_ready(link->conn)) {
        return;
    }
    if (link->run->closing) {
        return;
    }
    if (link->sender == NULL && link->authorized && now_us / 1000 >= link->reattach_at_ms) {
        attach_sender(link);
        return;
    }
    if (link->sender != NULL && link->attached) {
        expire_inflight(link, now_us);
        link_pump(link);
    }
}

static void handle_link_event(producer_link *link, pn_event_t *event)
{
    pn_link_t *sender = pn_event_link(event);

    if (sender == NULL || sender != link->sender) {
        if (pn_event_type(event) == PN_DELIVERY && pn_event_delivery(event) != NULL) {
            pn_delivery_settle(pn_event_delivery(event));
        }
        return;
    }
    switch (pn_event_type(event)) {
    case PN_LINK_REMOTE_OPEN:
        handle_link_opened(link, sender);
        break;
    case PN_LINK_FLOW:
        link_pump(link);
        break;
    case PN_DELIVERY:
        handle_outcome(link, pn_event_delivery(event));
        link_pump(link);
        run_check_done(link->run);
        break;
    case PN_LINK_REMOTE_CLOSE:
    case PN_LINK_REMOTE_DETACH:
        handle_link_closed(link, sender);
        break;
    default:
        break;
    }
}

/* ---- public ---- */

/* Seconds from sending a message to its acknowledgement. */
static const double latency_bounds[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                        0.1,    0.25,  0.5,    1.0,   2.5,  5.0,   10.0};

static const metrics_definition metric_definitions[] = {
    {METRICS_COUNTER, "producer_messages_sent_total", NULL, "Transfers sent, including resends.",
     NULL, 0, offsetof(producer_run, sent_metric)},
    {METRICS_COUNTER, "producer_messages_accepted_total", NULL, "Messages the service accepted.",
     NULL, 0, offsetof(producer_run, accepted_metric)},
    {METRICS_COUNTER, "producer_messages_failed_total", NULL,
     "Messages rejected for good or out of retries.", NULL, 0,
     offsetof(producer_run, rejected_metric)},
    {METRICS_COUNTER, "producer_messages_retried_total", NULL, "Resends after a retryable failure.",
     NULL, 0, offsetof(producer_run, retried_metric)},
    {METRICS_COUNTER, "producer_late_acceptances_total", NULL,
     "Acceptances of a transfer whose message had finished: a second copy in the queue (unless "
     "its duplicate detection drops it), or a message counted as failed that the service stored.",
     NULL, 0, offsetof(producer_run, late_accepted_metric)},
    {METRICS_COUNTER, "producer_reconnects_total", NULL,
     "AMQP connections opened after the first of each of --connections.", NULL, 0,
     offsetof(producer_run, reconnects_metric)},
    {METRICS_GAUGE, "producer_messages_inflight", NULL, "Messages sent and not yet settled.", NULL,
     0, offsetof(producer_run, inflight_metric)},
    {METRICS_HISTOGRAM, "producer_send_latency_seconds", NULL,
     "Time from a message's first transfer to its acceptance, resends included.", latency_bounds,
     sizeof latency_bounds / sizeof latency_bounds[0], offsetof(producer_run, latency_metric)},
};

static void register_metrics(producer_run *run, metrics_registry *metrics)
{
    if (metrics == NULL) {
        return;
    }
    metrics_register_table(metrics, metric_definitions,
                           sizeof metric_definitions / sizeof metric_definitions[0], run);
}

producer_run *producer_run_create(pn_proactor_t *proactor, const producer_config *config,
                                  const sb_target *target, metrics_registry *metrics,
                                  health_component *ready, wl_error *err)
{
    producer_run *run = wl_xcalloc(1, sizeof *run);
    const producer_options *options = &config->producer;

    run->proactor = proactor;
    run->config = config;
    run->options = options;
    run->target = target;
    run->ready = ready;
    register_metrics(run, metrics);
    run->link_count = (size_t)options->connections;
    run->links = wl_xcalloc(run->link_count, sizeof *run->links);

    for (size_t i = 0; i < run->link_count; i++) {
        producer_link *link = &run->links[i];
        link->run = run;
        link->index = (unsigned)i;
        link->slot_count = (size_t)options->inflight;
        link->slots = wl_xcalloc(link->slot_count, sizeof *link->slots);
        link->free_stack = wl_xcalloc(link->slot_count, sizeof *link->free_stack);
        link->waiting = wl_xcalloc(link->slot_count, sizeof *link->waiting);
        /* Pop order from the stack does not matter; fill it so slot 0 is used first. */
        for (size_t k = 0; k < link->slot_count; k++) {
            link->free_stack[k] = (uint32_t)(link->slot_count - 1 - k);
        }
        link->free_count = link->slot_count;
        link->next_wake_ms = INT64_MAX;

        sb_conn_options conn_options = {
            .callbacks = {.on_ready = on_ready,
                          .on_authorized = on_authorized,
                          .on_disconnected = on_disconnected},
            .ctx = link,
        };
        sb_target_conn_options(target, &config->servicebus, &conn_options);
        link->conn = sb_conn_create((sb_io){.proactor = proactor}, &conn_options, err);
        if (link->conn == NULL) {
            producer_run_destroy(run);
            return NULL;
        }
    }
    return run;
}

static void read_clocks(producer_run *run)
{
    run->now_us = monotonic_us();
    run->now_real_us = realtime_us();
}

wl_status producer_run_start(producer_run *run, wl_error *err)
{
    read_clocks(run);
    run->start_ms = run_now_ms(run);
    run->rate_base_ms = run->start_ms;
    for (size_t i = 0; i < run->link_count; i++) {
        wl_status status = sb_conn_start(run->links[i].conn, err);
        if (status != WL_OK) {
            return status;
        }
    }
    return WL_OK;
}

/* Closes every connection that has not stopped without waiting for the peer; returns how many
 * there were. */
static unsigned abort_connections(producer_run *run)
{
    unsigned open = 0;

    run->aborted = true;
    for (size_t i = 0; i < run->link_count; i++) {
        if (!sb_conn_is_stopped(run->links[i].conn)) {
            sb_conn_abort(run->links[i].conn);
            open++;
        }
    }
    return open;
}

/* Closes the connections that did not close within CLOSE_TIMEOUT_MS without waiting longer. */
static void abort_stuck_connections(producer_run *run, int64_t now_ms)
{
    if (!run->closing || run->aborted || now_ms < run->close_deadline_ms) {
        return;
    }
    uint64_t outstanding = run_outstanding(run);
    unsigned open = abort_connections(run);
    if (open > 0) {
        LOG_WARN("shutdown-timeout",
                 "%u connection%s did not close within %d ms; closed without waiting for the "
                 "peer, with %" PRIu64 " messages unacknowledged",
                 open, open == 1 ? "" : "s", CLOSE_TIMEOUT_MS, outstanding);
    }
}

static void handle_timeout(producer_run *run)
{
    int64_t now_ms = run_now_ms(run);

    if (run->stopping && !run->closing && now_ms >= run->grace_deadline_ms) {
        LOG_WARN("shutdown-grace-over", "%" PRIu64 " messages still had no outcome",
                 run_outstanding(run));
        run->end_ms = now_ms;
        run_close_all(run);
    }
    abort_stuck_connections(run, now_ms);
    if (run->expiry_check_ms != 0 && now_ms >= run->expiry_check_ms) {
        run->expiry_check_ms = 0; /* the wakes below check every link with messages in flight */
    }
    for (size_t i = 0; i < run->link_count; i++) {
        producer_link *link = &run->links[i];
        sb_conn_tick(link->conn);
        bool reattach_due =
            link->sender == NULL && link->authorized && link->reattach_at_ms <= now_ms;
        if (link->next_wake_ms <= now_ms || reattach_due || link->inflight + link->lingering > 0) {
            link->next_wake_ms = INT64_MAX;
            sb_conn_wake(link->conn);
        }
    }
    run_check_done(run);
}

static void handle_stop_request(producer_run *run)
{
    int requests = atomic_load(&run->stop_requests);

    if (requests == run->stop_requests_seen) {
        return;
    }
    run->stop_requests_seen = requests;
    if (requests >= 2 || run->options->shutdown_grace_ms == 0) {
        LOG_WARN("stopping-now", "stopping without waiting for %" PRIu64 " outstanding messages",
                 run_outstanding(run));
        run->end_ms = run->end_ms != 0 ? run->end_ms : run_now_ms(run);
        run_close_all(run);
        if (requests >= 2) {
            abort_connections(run); /* nor for the peers to confirm the close */
        }
        return;
    }
    run->stopping = true;
    run->issuing_done = true;
    run->grace_deadline_ms = run_now_ms(run) + run->options->shutdown_grace_ms;
    LOG_INFO("stopping",
             "stopped issuing; waiting up to %" PRId64 " ms for %" PRIu64 " outstanding messages",
             run->options->shutdown_grace_ms, run_outstanding(run));
    run_check_done(run);
}

static void handle_event(producer_run *run, pn_event_t *event)
{
    switch (pn_event_type(event)) {
    case PN_PROACTOR_TIMEOUT:
        handle_timeout(run);
        return;
    case PN_PROACTOR_INTERRUPT:
        handle_stop_request(run);
        return;
    default:
        break;
    }

    sb_conn *conn = sb_conn_from_event(event);
    if (conn == NULL || sb_conn_dispatch(conn, event)) {
        return;
    }
    producer_link *link = sb_conn_context(conn);
    if (pn_event_type(event) == PN_CONNECTION_WAKE) {
        handle_wake(link);
    } else {
        handle_link_event(link, event);
    }
}

void producer_run_handle(producer_run *run, pn_event_batch_t *batch)
{
    read_clocks(run);
    for (pn_event_t *event; (event = pn_event_batch_next(batch)) != NULL;) {
        handle_event(run, event);
    }
    /* The next send-timeout check is a fixed time, not "a second from now". The loop sets the
     * proactor's timeout after every batch, so a moving deadline would never pass while
     * outcomes keep arriving, and an overdue message would wait until the flow stopped. */
    if (run->expiry_check_ms == 0 && run_outstanding(run) > 0) {
        int64_t interval =
            run->options->send_timeout_ms < 1000 ? run->options->send_timeout_ms : 1000;
        run->expiry_check_ms = run_now_ms(run) + interval;
    }
}

int64_t producer_run_next_deadline_ms(const producer_run *run)
{
    int64_t next = INT64_MAX;

    for (size_t i = 0; i < run->link_count; i++) {
        const producer_link *link = &run->links[i];
        int64_t deadline = sb_conn_next_deadline_ms(link->conn);
        next = deadline < next ? deadline : next;
        next = link->next_wake_ms < next ? link->next_wake_ms : next;
        if (link->sender == NULL && link->authorized && link->reattach_at_ms < next) {
            next = link->reattach_at_ms;
        }
    }
    if (run->stopping && !run->closing && run->grace_deadline_ms < next) {
        next = run->grace_deadline_ms;
    }
    if (run->closing && !run->aborted && run->close_deadline_ms < next) {
        next = run->close_deadline_ms;
    }
    if (run->options->duration_ms > 0 && !run->issuing_done) {
        int64_t end = run->start_ms + run->options->duration_ms;
        next = end < next ? end : next;
    }
    if (run->expiry_check_ms != 0 && run->expiry_check_ms < next) {
        next = run->expiry_check_ms;
    }
    return next;
}

void producer_run_request_stop(producer_run *run)
{
    atomic_fetch_add(&run->stop_requests, 1);
    pn_proactor_interrupt(run->proactor);
}

bool producer_run_finished(const producer_run *run)
{
    if (!run->closing) {
        return false;
    }
    for (size_t i = 0; i < run->link_count; i++) {
        if (!sb_conn_is_stopped(run->links[i].conn)) {
            return false;
        }
    }
    return true;
}

const producer_stats *producer_run_stats(const producer_run *run)
{
    return &run->stats;
}

uint64_t producer_run_outstanding(const producer_run *run)
{
    return run_outstanding(run);
}

int64_t producer_run_elapsed_ms(const producer_run *run)
{
    int64_t end = run->end_ms != 0 ? run->end_ms : monotonic_ms();

    /* Outcomes that arrive while the connections close still belong to the run. */
    if (run->last_outcome_ms > end) {
        end = run->last_outcome_ms;
    }
    return end - run->start_ms;
}

int64_t producer_run_outcomes_ms(const producer_run *run)
{
    return run->last_outcome_ms != 0 ? run->last_outcome_ms - run->start_ms : 0;
}

const wl_error *producer_run_error(const producer_run *run)
{
    return run->fatal.status != WL_OK ? &run->fatal : NULL;
}

int producer_run_exit_code(const producer_run *run)
{
    bool complete = run->stats.accepted == run->stats.issued && run_outstanding(run) == 0;

    return run->fatal.status == WL_OK && run->stats.rejected == 0 && complete ? 0 : 1;
}

void producer_run_destroy(producer_run *run)
{
    if (run == NULL) {
        return;
    }
    for (size_t i = 0; i < run->link_count; i++) {
        producer_link *link = &run->links[i];
        sb_conn_destroy(link->conn);
        free(link->slots);
        free(link->free_stack);
        free(link->waiting);
        amqp_buffer_free(&link->buffer);
    }
    free(run->links);
    free(run);
}
