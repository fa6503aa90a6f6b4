/*
 * Deliveries on the event loop thread: receipt into jobs, settlement of the jobs the writer
 * returns, lock renewal and late settlement through $management, and link credit.
 *
 * Counting: each received delivery ends in exactly one of the completed, abandoned,
 * dead-lettered and locks-lost counters (count_end), when the service has confirmed its
 * outcome or the outcome can no longer be applied. In rcv-settle-mode second that is the peer's
 * settlement or a $management reply, not the disposition we send, because a link lost in
 * between leaves the outcome to be sent again through update-disposition.
 */
#include "app.h"

#include "encoding.h"
#include "log.h"
#include "timefmt.h"

#include <proton/codec.h>
#include <proton/condition.h>
#include <proton/delivery.h>
#include <proton/disposition.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MANAGEMENT_TIMEOUT_MS 30000

void deliveries_init(consumer_app *app)
{
    /* Twice the credit: a reconnect can leave up to one link's worth of orphans waiting for
     * $management while the new link fills up. */
    app->slot_capacity = (size_t)app->credit_target * 2;
    app->slots = wl_xcalloc(app->slot_capacity, sizeof *app->slots);
    app->next_serial = 1;
}

void deliveries_free(consumer_app *app)
{
    for (size_t i = 0; i < app->slot_capacity; i++) {
        consumer_job_free(app->slots[i].job);
    }
    free(app->slots);
    app->slots = NULL;
}

static delivery_slot *slot_take(consumer_app *app)
{
    for (size_t i = 0; i < app->slot_capacity; i++) {
        delivery_slot *slot = &app->slots[i];

        if (slot->serial == 0) {
            memset(slot, 0, sizeof *slot);
            slot->serial = app->next_serial++;
            app->slots_used++;
            metrics_gauge_set(app->stats.in_flight, (int64_t)app->slots_used);
            return slot;
        }
    }
    return NULL;
}

/* Frees the slot once the outcome is applied and the writer has returned the job. */
static void slot_release_if_done(consumer_app *app, delivery_slot *slot)
{
    if (slot->serial == 0 || slot->with_writer || slot->awaiting_peer || slot->request_busy) {
        return;
    }
    if (slot->delivery != NULL || (slot->orphaned && !slot->decided)) {
        return;
    }
    if (slot->orphaned && slot->decided && slot->action != SETTLE_FORGET) {
        return; /* still waiting for update-disposition */
    }
    consumer_job_free(slot->job);
    memset(slot, 0, sizeof *slot);
    app->slots_used--;
    metrics_gauge_set(app->stats.in_flight, (int64_t)app->slots_used);
}

static const char *job_id(const delivery_slot *slot)
{
    return slot->job != NULL ? consumer_job_log_id(slot->job) : "";
}

static void count_outcome(consumer_app *app, const delivery_slot *slot);

/*
 * Records how the delivery ended, once however many paths reach it: in its outcome's counter
 * when the service applied the outcome, else in consumer_locks_lost_total (Service Bus
 * redelivers the message once its lock expires).
 */
static void count_end(consumer_app *app, delivery_slot *slot, bool applied)
{
    if (slot->counted) {
        return;
    }
    slot->counted = true;
    if (applied) {
        count_outcome(app, slot);
    } else {
        metrics_counter_inc(app->stats.lock_lost, 1);
    }
}

/* ---- Receipt ---- */

/*
 * Returns the message-id as text that the caller frees, with its length in `out_length`. A
 * string id is copied whole, NUL bytes included, so that the writer can reject it instead of
 * storing a shorter id.
 */
static char *message_id_text(pn_message_t *message, int64_t sequence_number, size_t *out_length)
{
    pn_msgid_t id = pn_message_get_id(message);
    char uuid[WL_UUID_SIZE];
    char *text;

    switch (id.type) {
    case PN_STRING:
        text = wl_xmalloc(id.u.as_bytes.size + 1);
        memcpy(text, id.u.as_bytes.start, id.u.as_bytes.size);
        text[id.u.as_bytes.size] = '\0';
        *out_length = id.u.as_bytes.size;
        return text;
    case PN_UUID:
        wl_uuid_format((const uint8_t *)id.u.as_uuid.bytes, uuid);
        text = wl_xstrdup(uuid);
        break;
    case PN_ULONG:
        text = wl_xasprintf("%" PRIu64, id.u.as_ulong);
        break;
    case PN_BINARY:
        text = wl_xmalloc(id.u.as_bytes.size * 2 + 1);
        for (size_t i = 0; i < id.u.as_bytes.size; i++) {
            snprintf(text + 2 * i, 3, "%02x", (unsigned char)id.u.as_bytes.start[i]);
        }
        text[id.u.as_bytes.size * 2] = '\0';
        break;
    default:
        /* NOTE: without a message-id the sequence number is the only id that stays the same
         * across redeliveries; it is unique per queue, not per namespace. */
        text = wl_xasprintf("seq-%" PRId64, sequence_number);
        break;
    }
    *out_length = strlen(text);
    return text;
}

static bool annotation_timestamp(pn_data_t *annotations, const char *key, int64_t *out_ms)
{
    if (!amqp_map_find(annotations, key)) {
        return false;
    }
    if (pn_data_type(annotations) == PN_TIMESTAMP) {
        *out_ms = pn_data_get_timestamp(annotations);
        return true;
    }
    return false;
}

/* Copies the body: one data section (binary), or a string value. False for anything else. */
static bool copy_body(pn_message_t *message, consumer_job *job)
{
    pn_data_t *body = pn_message_body(message);
    pn_bytes_t bytes;

    pn_data_rewind(body);
    if (!pn_data_next(body)) {
        bytes = pn_bytes(0, "");
    } else if (pn_data_type(body) == PN_BINARY) {
        bytes = pn_data_get_binary(body);
    } else if (pn_data_type(body) == PN_STRING) {
        bytes = pn_data_get_string(body);
    } else {
        return false;
    }
    job->body = wl_xmalloc(bytes.size + 1);
    memcpy(job->body, bytes.start, bytes.size);
    job->body[bytes.size] = '\0';
    job->body_length = bytes.size;
    return true;
}

static void fill_lock(consumer_app *app, delivery_slot *slot, pn_delivery_t *delivery,
                      pn_data_t *annotations, int64_t now_ms)
{
    pn_delivery_tag_t tag = pn_delivery_tag(delivery);
    int64_t locked_until_ms = 0;

    if (tag.size != 16 ||
        !annotation_timestamp(annotations, "x-opt-locked-until", &locked_until_ms)) {
        return;
    }
    memcpy(slot->lock_token, tag.start, 16);
    int64_t remaining = locked_until_ms - wl_clock_realtime_us(app->clock) / 1000;
    /* A local clock ahead of the service's makes the lock look shorter, so renewal comes
     * early. The 1 s floor keeps a skewed clock from scheduling every renewal at once. */
    slot->lock_duration_ms = remaining > 1000 ? remaining : 1000;
    slot->lock_expiry_ms = now_ms + slot->lock_duration_ms;
    slot->renew_at_ms =
        settle_lock_renew_at_ms(now_ms, slot->lock_expiry_ms, slot->lock_duration_ms);
    slot->has_lock = true;
}

static void decide(delivery_slot *slot, settle_action action, const char *reason,
                   const char *description)
{
    slot->decided = true;
    slot->action = action;
    /* Both go into AMQP strings, which must be UTF-8. */
    wl_utf8_copy(slot->reason, sizeof slot->reason, reason);
    wl_utf8_copy(slot->description, sizeof slot->description, description);
}

static bool apply_outcome(consumer_app *app, delivery_slot *slot);

/*
 * Returns true when the peer's settlement of `delivery` reports that our outcome failed: a
 * rejection such as com.microsoft:message-lock-lost. Service Bus may echo our own dead-letter
 * rejection, which is a success.
 */
static bool settlement_failed(const delivery_slot *slot, pn_delivery_t *delivery)
{
    if (pn_delivery_remote_state(delivery) != PN_REJECTED) {
        return false;
    }
    const char *name =
        pn_condition_get_name(pn_disposition_condition(pn_delivery_remote(delivery)));
    bool echo = name == NULL || strcmp(name, "com.microsoft:dead-letter") == 0;
    return !(slot->action == SETTLE_DEAD_LETTER && echo);
}

void deliveries_on_delivery(consumer_app *app, pn_delivery_t *delivery)
{
    delivery_slot *known = pn_delivery_get_context(delivery);
    int64_t now = wl_clock_monotonic_ms(app->clock);
    wl_error err = {0};

    /* Settlements and transfer bytes from the peer restart the wait of drop_if_unsettled,
     * because on a slow link the settlements queue behind transfers that the peer sent earlier. */
    app->unsettled_since_ms = now;
    if (known != NULL) {
        /* An update from the peer on a delivery we settled in rcv-settle-mode second. */
        if (known->awaiting_peer && pn_delivery_settled(delivery)) {
            if (settlement_failed(known, delivery)) {
                pn_condition_t *condition = pn_disposition_condition(pn_delivery_remote(delivery));
                LOG_WARN("settle-rejected", "Service Bus rejected the %s of message %s: %s",
                         settle_action_str(known->action), job_id(known),
                         pn_condition_get_name(condition) ? pn_condition_get_name(condition)
                                                          : "no condition");
                count_end(app, known, false);
            } else {
                count_end(app, known, true);
            }
            known->awaiting_peer = false;
            app->unsettled_count--;
            app->peer_settled_ms = now;
            pn_delivery_set_context(delivery, NULL);
            pn_delivery_settle(delivery);
            known->delivery = NULL;
            slot_release_if_done(app, known);
        }
        return;
    }
    if (pn_delivery_aborted(delivery)) {
        pn_delivery_settle(delivery);
        return;
    }
    if (!pn_delivery_readable(delivery) || pn_delivery_partial(delivery)) {
        return;
    }

    /* Read the message before pn_link_advance: pn_link_recv reads the current delivery. */
    wl_status received = amqp_receive(delivery, app->message, &app->buffer, &err);
    pn_link_advance(pn_delivery_link(delivery));
    delivery_slot *slot = slot_take(app);
    if (slot == NULL) {
        /* Credit never exceeds the free slots, so the broker sent more than our credit
         * (RabbitMQ 3.10 does under load). Released deliveries go back to the queue. */
        if (app->overflow_count++ % 1000 == 0) {
            LOG_WARN("credit-exceeded",
                     "the broker sent %llu deliveries beyond our credit; "
                     "releasing them",
                     (unsigned long long)app->overflow_count);
        }
        pn_delivery_update(delivery, PN_RELEASED);
        pn_delivery_settle(delivery);
        return;
    }
    slot->delivery = delivery;
    slot->on_current_link = true;
    slot->received_ms = now;
    pn_delivery_set_context(delivery, slot);
    metrics_counter_inc(app->stats.received, 1);

    consumer_job *job = wl_xcalloc(1, sizeof *job);
    slot->job = job;
    job->slot = (uint32_t)(slot - app->slots);
    job->serial = slot->serial;
    job->sequence_number = -1;
    job->enqueued_unix_ms = -1;
    job->deadline_ms = now + app->options->message_deadline_ms;
    job->write_started = false;

    if (received != WL_OK) {
        consumer_job_set_message_id(job, wl_xstrdup(""), 0);
    } else {
        pn_data_t *annotations = pn_message_annotations(app->message);
        amqp_map_get_int(annotations, "x-opt-sequence-number", &job->sequence_number);
        annotation_timestamp(annotations, "x-opt-enqueued-time", &job->enqueued_unix_ms);
        job->delivery_count = pn_message_get_delivery_count(app->message) + 1;
        size_t id_length = 0;
        char *id = message_id_text(app->message, job->sequence_number, &id_length);
        consumer_job_set_message_id(job, id, id_length);
        fill_lock(app, slot, delivery, annotations, now);
    }

    if (app->draining) {
        /* The peer sent it before it saw the drain, or while the link was closing. The
         * consumer takes no new work after a signal, so the message goes back at once rather
         * than staying locked until its lock expires. NOTE: a peer that ignores the drain can
         * send the message again against its remaining credit, until the drain deadline
         * detaches the receiver. */
        decide(slot, SETTLE_ABANDON, "shutdown", "received after the shutdown began");
        slot->release = true;
        apply_outcome(app, slot);
        return;
    }
    if (received != WL_OK) {
        decide(slot, settle_invalid_message_action(), "InvalidAmqpMessage", err.message);
        apply_outcome(app, slot);
        return;
    }
    if (!copy_body(app->message, job)) {
        decide(slot, settle_invalid_message_action(), "InvalidBody",
               "the message body must be one data section or a string");
        apply_outcome(app, slot);
        return;
    }
    slot->with_writer = true;
    if (!writer_submit(app->writer, job)) {
        LOG_ERROR("writer-full", "the writer already holds as many jobs as it can; aborting");
        abort();
    }
}

/* ---- Settlement ---- */

static void put_dead_letter_condition(pn_delivery_t *delivery, const delivery_slot *slot)
{
    pn_condition_t *condition = pn_disposition_condition(pn_delivery_local(delivery));

    pn_condition_set_name(condition, "com.microsoft:dead-letter");
    pn_condition_set_description(condition, slot->description);
    pn_data_t *info = pn_condition_info(condition);
    pn_data_clear(info);
    pn_data_put_map(info);
    pn_data_enter(info);
    pn_data_put_symbol(info, pn_bytes(strlen("DeadLetterReason"), "DeadLetterReason"));
    pn_data_put_string(info, pn_bytes(strlen(slot->reason), slot->reason));
    pn_data_put_symbol(
        info, pn_bytes(strlen("DeadLetterErrorDescription"), "DeadLetterErrorDescription"));
    pn_data_put_string(info, pn_bytes(strlen(slot->description), slot->description));
    pn_data_exit(info);
}

static void count_outcome(consumer_app *app, const delivery_slot *slot)
{
    switch (slot->action) {
    case SETTLE_COMPLETE:
        metrics_counter_inc(app->stats.completed, 1);
        LOG_DEBUG("message-completed", "message %s stored and completed", job_id(slot));
        break;
    case SETTLE_DEAD_LETTER:
        metrics_counter_inc(app->stats.dead_lettered, 1);
        LOG_WARN("message-dead-lettered", "message %s dead-lettered: %s: %s", job_id(slot),
                 slot->reason, slot->description);
        break;
    case SETTLE_ABANDON:
    case SETTLE_ABANDON_NOT_READY:
    case SETTLE_RETRY_AFTER:
    case SETTLE_RETRY_BACKOFF:
        metrics_counter_inc(app->stats.abandoned, 1);
        LOG_INFO("message-abandoned", "message %s abandoned for redelivery: %s: %s", job_id(slot),
                 slot->reason, slot->description);
        break;
    case SETTLE_FORGET:
        break;
    }
}

static void settle_on_link(consumer_app *app, delivery_slot *slot)
{
    pn_delivery_t *delivery = slot->delivery;
    pn_disposition_t *local = pn_delivery_local(delivery);

    switch (slot->action) {
    case SETTLE_COMPLETE:
        pn_delivery_update(delivery, PN_ACCEPTED);
        break;
    case SETTLE_DEAD_LETTER:
        put_dead_letter_condition(delivery, slot);
        pn_delivery_update(delivery, PN_REJECTED);
        break;
    case SETTLE_FORGET:
        break;
    default:
        if (slot->release) {
            /* Released, not modified, because the message was never processed. The Service
             * Bus team states that Service Bus does not add a released delivery to the
             * delivery count (Azure/amqpnetlite on GitHub, 2019), so repeated scale-ins
             * cannot dead-letter it. NOTE: the emulator in tests/emulators/servicebus counts
             * it unless started with --release-keeps-delivery-count. */
            pn_delivery_update(delivery, PN_RELEASED);
            break;
        }
        /* Abandon: Service Bus counts the delivery and redelivers, or dead-letters the message
         * at MaxDeliveryCount. */
        pn_disposition_set_failed(local, false);
        pn_disposition_set_undeliverable(local, false);
        pn_delivery_update(delivery, PN_MODIFIED);
        break;
    }
    slot->on_current_link = false;

    if (pn_delivery_settled(delivery)) {
        /* The peer settled first, so our outcome arrives too late to count. */
        count_end(app, slot, false);
    } else if (app->settle_first) {
        count_end(app, slot, true); /* no confirmation comes in rcv-settle-mode first */
    }
    if (app->settle_first || slot->action == SETTLE_FORGET || pn_delivery_settled(delivery)) {
        pn_delivery_set_context(delivery, NULL);
        pn_delivery_settle(delivery);
        slot->delivery = NULL;
    } else {
        slot->awaiting_peer = true; /* settled when the peer settles (mode second) */
        slot->outcome_sent_ms = wl_clock_monotonic_ms(app->clock);
        if (app->unsettled_count++ == 0) {
            app->unsettled_since_ms = slot->outcome_sent_ms;
        }
        slot->outcome_sent = true;
    }
}

static bool send_update_disposition(consumer_app *app, delivery_slot *slot);

/*
 * Sends the decided outcome on the link, or through $management for an orphan. Returns false
 * when the outcome of an orphan was skipped instead (see send_update_disposition).
 */
static bool apply_outcome(consumer_app *app, delivery_slot *slot)
{
    bool sent = true;

    if (slot->action == SETTLE_FORGET) {
        count_end(app, slot, false);
        LOG_WARN("lock-lost", "message %s: %s; Service Bus redelivers it", job_id(slot),
                 slot->description);
    }
    if (slot->delivery != NULL) {
        settle_on_link(app, slot);
    } else if (slot->orphaned) {
        sent = send_update_disposition(app, slot);
    }
    slot_release_if_done(app, slot);
    return sent;
}

void deliveries_process_outbox(consumer_app *app)
{
    consumer_job *job;

    while ((job = job_queue_pop(&app->outbox)) != NULL) {
        delivery_slot *slot = &app->slots[job->slot];

        if (slot->serial != job->serial) {
            consumer_job_free(job); /* a bug guard: a slot is not reused before its job returns */
            continue;
        }
        slot->with_writer = false;
        if (slot->decided) {
            slot_release_if_done(app, slot); /* abandoned at the grace deadline already */
            continue;
        }
        decide(slot, job->action, job->reason, job->description);
        apply_outcome(app, slot);
    }
}

/* ---- $management requests ---- */

typedef struct request_context {
    consumer_app *app;
    size_t slot_index;
    uint64_t serial;
    bool renew;
} request_context;

static void put_lock_tokens(pn_data_t *body, const delivery_slot *slot)
{
    pn_uuid_t uuid;

    /* Lock tokens travel in UUID string order: the tag with its first three groups swapped. */
    wl_uuid_swap_guid_order(slot->lock_token, (uint8_t *)uuid.bytes);
    pn_data_put_string(body, pn_bytes(strlen("lock-tokens"), "lock-tokens"));
    pn_data_put_array(body, false, PN_UUID);
    pn_data_enter(body);
    pn_data_put_uuid(body, uuid);
    pn_data_exit(body);
}

static void build_request(consumer_app *app, const char *operation)
{
    pn_message_clear(app->request);
    pn_data_t *properties = pn_message_properties(app->request);
    pn_data_put_map(properties);
    pn_data_enter(properties);
    amqp_map_put_string(properties, "operation", operation);
    if (app->receiver != NULL) {
        amqp_map_put_string(properties, "associated-link-name", app->link_name);
    }
    pn_data_exit(properties);
}

static delivery_slot *context_slot(request_context *context)
{
    delivery_slot *slot = &context->app->slots[context->slot_index];

    return slot->serial == context->serial ? slot : NULL;
}

/* Reads the first timestamp of the reply's "expirations" array. */
static bool reply_expiration(pn_message_t *reply, int64_t *out_unix_ms)
{
    pn_data_t *body = pn_message_body(reply);

    if (!amqp_map_find(body, "expirations") || pn_data_type(body) != PN_ARRAY) {
        return false;
    }
    pn_data_enter(body);
    if (!pn_data_next(body) || pn_data_type(body) != PN_TIMESTAMP) {
        return false;
    }
    *out_unix_ms = pn_data_get_timestamp(body);
    return true;
}

static void on_renew_reply(consumer_app *app, delivery_slot *slot, const sb_rpc_reply *reply)
{
    int64_t expiration_ms = 0;
    int64_t now = wl_clock_monotonic_ms(app->clock);

    if (reply->status_code == 200 && reply_expiration(reply->message, &expiration_ms)) {
        int64_t remaining = expiration_ms - wl_clock_realtime_us(app->clock) / 1000;
        slot->lock_expiry_ms = now + (remaining > 0 ? remaining : 0);
        slot->renew_at_ms =
            settle_lock_renew_at_ms(now, slot->lock_expiry_ms, slot->lock_duration_ms);
        metrics_counter_inc(app->stats.lock_renewals, 1);
        LOG_DEBUG("lock-renewed", "message %s lock renewed for %lld ms", job_id(slot),
                  (long long)remaining);
        return;
    }
    if (reply->status_code == 410) {
        /* The write goes on; its settlement fails and is counted as a lost lock then. */
        slot->has_lock = false;
        LOG_WARN("lock-lost", "message %s: renew-lock returned 410 %s", job_id(slot),
                 reply->status_description);
        return;
    }
    /* Try again shortly; the lock may still be valid. */
    slot->renew_at_ms = now + 1000;
    LOG_WARN("lock-renew-failed", "message %s: renew-lock returned %lld %s", job_id(slot),
             (long long)reply->status_code, reply->status_description);
}

static void on_disposition_reply(consumer_app *app, delivery_slot *slot, const sb_rpc_reply *reply)
{
    if (reply->status_code == 200) {
        metrics_counter_inc(app->stats.late_settlements, 1);
        count_end(app, slot, true);
        slot->action = SETTLE_FORGET;
        return;
    }
    if (reply->status_code == 410 && slot->outcome_sent) {
        /* The lock was valid by our clock when we asked, so the 410 shows that the service
         * applied the outcome sent on the lost link and removed the lock with it.
         * NOTE: if the service's clock expired the lock early, the message comes back and a
         * completion is counted for each delivery. */
        LOG_INFO("settle-confirmed",
                 "message %s: update-disposition returned 410 %s; the %s sent before the link "
                 "was lost was applied",
                 job_id(slot), reply->status_description, settle_action_str(slot->action));
        count_end(app, slot, true);
        slot->action = SETTLE_FORGET;
        return;
    }
    if (reply->status_code == 410) {
        count_end(app, slot, false);
        LOG_WARN("lock-lost",
                 "message %s: update-disposition returned 410 %s; Service Bus "
                 "redelivers it",
                 job_id(slot), reply->status_description);
        slot->action = SETTLE_FORGET;
        return;
    }
    LOG_WARN("update-disposition-failed", "message %s: update-disposition returned %lld %s",
             job_id(slot), (long long)reply->status_code, reply->status_description);
}

static void on_management_reply(void *ctx, const sb_rpc_reply *reply, const wl_error *err)
{
    request_context *context = ctx;
    consumer_app *app = context->app;
    delivery_slot *slot = context_slot(context);

    if (slot == NULL) {
        free(context);
        return;
    }
    slot->request_busy = false;
    if (err != NULL) {
        LOG_WARN("management-failed", "message %s: $management request failed: %s", job_id(slot),
                 err->message);
        if (context->renew) {
            slot->renew_at_ms = wl_clock_monotonic_ms(app->clock) + 1000;
        }
    } else if (context->renew) {
        on_renew_reply(app, slot, reply);
    } else {
        on_disposition_reply(app, slot, reply);
    }
    free(context);
    slot_release_if_done(app, slot);
}

static void start_management_request(consumer_app *app, delivery_slot *slot, bool renew)
{
    wl_error err = {0};
    request_context *context = wl_xcalloc(1, sizeof *context);

    context->app = app;
    context->slot_index = (size_t)(slot - app->slots);
    context->serial = slot->serial;
    context->renew = renew;
    slot->request_busy = true;
    if (sb_rpc_request(app->management, app->request, MANAGEMENT_TIMEOUT_MS, on_management_reply,
                       context, &err) != WL_OK) {
        slot->request_busy = false;
        free(context);
        LOG_WARN("management-failed", "message %s: cannot send a $management request: %s",
                 job_id(slot), err.message);
    }
}

static void send_renew_lock(consumer_app *app, delivery_slot *slot)
{
    build_request(app, "com.microsoft:renew-lock");
    pn_data_t *body = pn_message_body(app->request);
    pn_data_put_map(body);
    pn_data_enter(body);
    put_lock_tokens(body, slot);
    pn_data_exit(body);
    start_management_request(app, slot, true);
}

static const char *disposition_status(settle_action action)
{
    switch (action) {
    case SETTLE_COMPLETE:
        return "completed";
    case SETTLE_DEAD_LETTER:
        return "suspended";
    default:
        /* update-disposition has no released status, so a release goes out as an abandon. */
        return "abandoned";
    }
}

/*
 * Sends an orphan's outcome through $management, now or, while a request is in progress or
 * the connection is down, later from the timers. Returns false when it skips the outcome
 * because the lock is not valid or --management is off: nothing is sent, and the message stays
 * locked until its lock expires.
 */
static bool send_update_disposition(consumer_app *app, delivery_slot *slot)
{
    int64_t now = wl_clock_monotonic_ms(app->clock);

    if (slot->action == SETTLE_FORGET || slot->request_busy) {
        return true;
    }
    if (slot->counted) {
        /* The service confirmed the outcome on the link before it was lost, or the lock is
         * gone, so nothing is left to send. */
        slot->action = SETTLE_FORGET;
        return true;
    }
    if (!slot->has_lock || now >= slot->lock_expiry_ms || !app->options->management) {
        LOG_INFO("settle-skipped", "message %s: its link is gone and %s; Service Bus redelivers it",
                 job_id(slot),
                 app->options->management ? "its lock is not valid"
                                          : "settling through $management is off (--management)");
        count_end(app, slot, false);
        slot->action = SETTLE_FORGET;
        return false;
    }
    if (app->management == NULL) {
        return true; /* not connected: retried from the timers until the lock expires */
    }

    build_request(app, "com.microsoft:update-disposition");
    pn_data_t *body = pn_message_body(app->request);
    pn_data_put_map(body);
    pn_data_enter(body);
    amqp_map_put_string(body, "disposition-status", disposition_status(slot->action));
    put_lock_tokens(body, slot);
    if (slot->action == SETTLE_DEAD_LETTER) {
        amqp_map_put_string(body, "deadletter-reason", slot->reason);
        amqp_map_put_string(body, "deadletter-description", slot->description);
    }
    pn_data_exit(body);
    start_management_request(app, slot, false);
    return true;
}

/* ---- Timers, link loss, credit ---- */

/*
 * Returns true when a disposition has waited SB_CONN_STALL_MS for the peer's settlement and its
 * message's lock has expired meanwhile, so that no settlement can succeed any more.
 */
static bool disposition_outlived_lock(const consumer_app *app, int64_t now_ms)
{
    for (size_t i = 0; i < app->slot_capacity; i++) {
        const delivery_slot *slot = &app->slots[i];

        if (slot->serial != 0 && slot->awaiting_peer && slot->has_lock &&
            now_ms >= slot->lock_expiry_ms && now_ms - slot->outcome_sent_ms >= SB_CONN_STALL_MS) {
            return true;
        }
    }
    return false;
}

/*
 * Drops the connection when the peer has most likely stopped reading our socket, while its own
 * frames may still arrive and keep the connection open. Two signs tell, while dispositions wait
 * for the peer's settlement:
 *
 * - SB_CONN_STALL_MS passed with no settlement and no transfer bytes from the peer. Transfer
 *   bytes count, because on a slow link the settlements queue behind the transfers that the
 *   peer sent earlier.
 * - SB_CONN_STALL_MS passed with no settlement, and a disposition waited past its message's
 *   lock. A peer that stopped reading can still send the messages that reach the queue, up to
 *   the credit it had, and each restarts the first wait, but the locks expire.
 *
 * The reconnect turns the waiting deliveries into orphans, whose outcomes go again through
 * $management while their locks are valid. During the shutdown the settle deadline bounds the
 * same wait.
 */
static void drop_if_unsettled(consumer_app *app, int64_t now_ms)
{
    if (app->draining || app->unsettled_count == 0) {
        return;
    }
    wl_error cause = {0};
    if (now_ms - app->unsettled_since_ms >= SB_CONN_STALL_MS) {
        wl_error_set(&cause, WL_ERR_TIMEOUT,
                     "%zu dispositions waited %d ms with no settlement or message from Service "
                     "Bus: the peer takes no data",
                     app->unsettled_count, SB_CONN_STALL_MS);
    } else if (now_ms - app->peer_settled_ms >= SB_CONN_STALL_MS &&
               disposition_outlived_lock(app, now_ms)) {
        wl_error_set(&cause, WL_ERR_TIMEOUT,
                     "%zu dispositions waited and Service Bus settled none in %d ms, one of them "
                     "past its message's lock: the peer takes no data",
                     app->unsettled_count, SB_CONN_STALL_MS);
    } else {
        return;
    }
    sb_conn_drop(app->conn, &cause, app->peer_settled_ms);
}

void deliveries_run_timers(consumer_app *app, int64_t now_ms)
{
    drop_if_unsettled(app, now_ms);
    for (size_t i = 0; i < app->slot_capacity; i++) {
        delivery_slot *slot = &app->slots[i];

        if (slot->serial == 0 || slot->request_busy) {
            continue;
        }
        if (slot->orphaned && slot->decided) {
            send_update_disposition(app, slot);
            slot_release_if_done(app, slot);
            continue;
        }
        if (!slot->has_lock || slot->decided) {
            continue;
        }
        if (now_ms >= slot->lock_expiry_ms) {
            /* Counted when its settlement fails; a clock behind the service's may still
             * settle it. */
            slot->has_lock = false;
            LOG_WARN("lock-lost", "message %s: lock expired while its write was in progress",
                     job_id(slot));
            continue;
        }
        if (now_ms >= slot->renew_at_ms && app->management != NULL && app->options->management) {
            send_renew_lock(app, slot);
        }
    }
}

int64_t deliveries_next_deadline_ms(const consumer_app *app)
{
    int64_t next = INT64_MAX;

    if (app->unsettled_count > 0 && !app->draining) {
        next = app->unsettled_since_ms + SB_CONN_STALL_MS;
    }

    for (size_t i = 0; i < app->slot_capacity; i++) {
        const delivery_slot *slot = &app->slots[i];

        if (slot->serial == 0 || !slot->has_lock || slot->decided || slot->request_busy) {
            continue;
        }
        int64_t due =
            slot->renew_at_ms < slot->lock_expiry_ms ? slot->renew_at_ms : slot->lock_expiry_ms;
        if (due < next) {
            next = due;
        }
    }
    return next;
}

void deliveries_link_lost(consumer_app *app)
{
    for (size_t i = 0; i < app->slot_capacity; i++) {
        delivery_slot *slot = &app->slots[i];

        if (slot->serial == 0) {
            continue;
        }
        /* The connection frees the deliveries with the link; only our pointers remain. */
        slot->delivery = NULL;
        slot->on_current_link = false;
        slot->awaiting_peer = false;
        slot->orphaned = true;
        if (slot->decided && slot->action != SETTLE_FORGET) {
            send_update_disposition(app, slot);
        }
        slot_release_if_done(app, slot);
    }
    app->unsettled_count = 0;
}

void deliveries_settle_undecided(consumer_app *app, shutdown_outcomes *out)
{
    *out = (shutdown_outcomes){0};
    for (size_t i = 0; i < app->slot_capacity; i++) {
        delivery_slot *slot = &app->slots[i];

        if (slot->serial == 0 || slot->decided) {
            continue;
        }
        /* A prefetched message whose write never started was never processed, so it goes
         * back released, like the deliveries that arrive after the signal. The writer may
         * start the write right after this check, and the upsert by id keeps that harmless. */
        if (slot->job != NULL && !slot->job->write_started) {
            decide(slot, SETTLE_ABANDON, "shutdown",
                   "the grace period ended before the write started");
            slot->release = true;
            if (apply_outcome(app, slot)) {
                out->released++;
            } else {
                out->skipped++;
            }
            continue;
        }
        decide(slot, SETTLE_ABANDON, "shutdown",
               "the grace period ended before the write finished");
        if (apply_outcome(app, slot)) {
            out->abandoned++;
        } else {
            out->skipped++;
        }
    }
}

size_t deliveries_unfinished(const consumer_app *app)
{
    return app->slots_used;
}

size_t deliveries_unsettled(const consumer_app *app)
{
    size_t count = 0;

    for (size_t i = 0; i < app->slot_capacity; i++) {
        const delivery_slot *slot = &app->slots[i];

        if (slot->serial == 0) {
            continue;
        }
        bool pending_orphan = slot->orphaned && slot->decided && slot->action != SETTLE_FORGET;
        count += slot->delivery != NULL || pending_orphan;
    }
    return count;
}

void deliveries_top_up_credit(consumer_app *app)
{
    pn_link_t *link = app->receiver;

    if (link == NULL || !app->receiver_attached || app->draining) {
        return;
    }
    if (!writer_ready(app->writer)) {
        /* Logged at every pause, also with no credit left to take back, so that each
         * credit-granted line has a credit-withheld line before it. */
        if (!app->credit_paused) {
            int credit = pn_link_credit(link);
            if (credit > 0) {
                pn_link_drain(link, 0); /* take back the credit while Cosmos DB is not ready */
            }
            LOG_INFO("credit-withheld",
                     "Cosmos DB is not ready: taking no new messages from %s (draining the "
                     "credit of %d)",
                     app->source_address, credit);
        }
        app->credit_paused = true;
        return;
    }
    bool resumed = app->credit_paused;
    if (app->credit_paused) {
        pn_link_set_drain(link, false);
        app->credit_paused = false;
    }

    int on_link = 0;
    for (size_t i = 0; i < app->slot_capacity; i++) {
        on_link += app->slots[i].serial != 0 && app->slots[i].on_current_link;
    }
    int free_slots = (int)(app->slot_capacity - app->slots_used);
    int want = app->credit_target - on_link - pn_link_credit(link);
    if (want > free_slots - pn_link_credit(link)) {
        want = free_slots - pn_link_credit(link);
    }
    /* Grant in steps of a quarter of the target, not one by one: fewer flow frames, and
     * brokers that miscount credit in flight (RabbitMQ 3.10) overshoot less often. */
    int step = app->credit_target / 4 > 0 ? app->credit_target / 4 : 1;
    if (want >= step || (want > 0 && pn_link_credit(link) == 0)) {
        LOG_DEBUG("credit", "granting %d: %d unsettled on the link, credit %d, queued %d", want,
                  on_link, pn_link_credit(link), pn_link_queued(link));
        pn_link_flow(link, want);
    }
    if (resumed) {
        LOG_INFO("credit-granted",
                 "Cosmos DB is ready: taking messages from %s again (credit %d, %d deliveries "
                 "held)",
                 app->source_address, pn_link_credit(link), on_link);
    }
}
