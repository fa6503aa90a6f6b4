/*
 * Start-up, the event loop, the connection and receiver link, and shutdown. The thread that
 * calls consumer_run runs the event loop (see consumer.h); a signal thread turns SIGTERM and
 * SIGINT into event_loop_interrupt().
 */
#include "consumer.h"

#include "app.h"
#include "cbs.h"
#include "log.h"
#include "service.h"
#include "timefmt.h"

#include <curl/curl.h>
#include <proton/condition.h>
#include <proton/link.h>
#include <proton/terminus.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

/* Maximum gap between timer runs, so deadlines and the outbox are checked without events. */
#define TICK_MAX_MS 1000
/* How long shutdown waits for the peer to complete the drain. A peer responds within a round
 * trip, so this only bounds the wait for one that never does. */
#define DRAIN_TIMEOUT_MS 2000
/* After the grace period, how long shutdown waits for the peer to settle our outcomes. */
#define SETTLE_TIMEOUT_MS 2000
/* After that, how long closing the connection may take before we exit anyway. The default
 * grace period of 25 s plus both timeouts stays within Kubernetes' default 30 s
 * terminationGracePeriodSeconds. */
#define CLOSE_TIMEOUT_MS 3000
/* The last part of CLOSE_TIMEOUT_MS, kept for closing the socket without waiting for the peer.
 * That close needs no reply, so it ends in the connection's next batch, well within this. */
#define ABORT_TIMEOUT_MS 500

static void attach_receiver(consumer_app *app);

/* ---- Connection callbacks ---- */

static void on_ready(sb_conn *conn, void *ctx)
{
    consumer_app *app = ctx;
    wl_error err = {0};

    if (sb_conn_connect_count(conn) > 1) {
        metrics_counter_inc(app->stats.reconnects, 1);
    }
    LOG_INFO("amqp-connected", "connected to %s (connection %u)", sb_conn_address(conn),
             sb_conn_connect_count(conn));
    health_component_set(app->amqp_health, false, "authorizing");
    app->authorized = false;
    sb_conn_audience(conn, app->target->queue, app->audience, sizeof app->audience);
    /* A failure is reported through on_authorized too, where it is logged. */
    sb_conn_authorize(conn, app->audience, &err);
}

/* Logs a failed put-token. CBS retries every failure with backoff capped at 30 s, so this
 * logs at most a few lines a minute. */
static void log_cbs_failure(consumer_app *app, const char *audience, const wl_error *err)
{
    app->cbs_failures++;
    if (app->authorized) {
        LOG_WARN("cbs-refresh-failed",
                 "token refresh for %s failed (attempt %u); the current token stays in use "
                 "until it expires and CBS retries with backoff: %s",
                 audience, app->cbs_failures, err->message);
        return;
    }
    LOG_ERROR("cbs-failed",
              "authorizing %s failed (attempt %u); not receiving until CBS accepts a token, "
              "retrying with backoff up to %d s: %s",
              audience, app->cbs_failures, CBS_RETRY_MAX_MS / 1000, err->message);
}

static void on_authorized(sb_conn *conn, const char *audience, const wl_error *err, void *ctx)
{
    consumer_app *app = ctx;
    wl_error open_err = {0};

    if (err != NULL) {
        log_cbs_failure(app, audience, err);
        /* After a failed refresh the receiver keeps working on the token accepted before. */
        if (!app->authorized) {
            health_component_set(app->amqp_health, false, err->message);
        }
        return;
    }
    if (app->cbs_failures > 0) {
        LOG_INFO("cbs-authorized", "%s authorized after %u failed attempts", audience,
                 app->cbs_failures);
        app->cbs_failures = 0;
    }
    health_component_set(app->amqp_health, true, "");
    if (app->authorized) {
        return; /* a token refresh */
    }
    app->authorized = true;
    if (app->options->management && app->management == NULL) {
        app->management = sb_rpc_open(conn, app->management_address, &open_err);
        if (app->management == NULL) {
            LOG_WARN("management-failed", "cannot open %s: %s", app->management_address,
                     open_err.message);
        }
    }
    attach_receiver(app);
}

static void on_disconnected(sb_conn *conn, const wl_error *cause, bool will_retry, void *ctx)
{
    consumer_app *app = ctx;

    app->receiver = NULL;
    app->receiver_attached = false;
    app->management = NULL;
    app->authorized = false;
    deliveries_link_lost(app);
    health_component_set(app->amqp_health, false, cause ? cause->message : "disconnected");
    health_component_set(app->receiver_health, false, "not connected");
    if (will_retry && sb_conn_failed_attempts(conn) > 0) {
        char next[64];
        sb_conn_describe_next_attempt(conn, next, sizeof next);
        LOG_WARN("amqp-connect-failed", "attempt %u to connect failed, %s: %s",
                 sb_conn_failed_attempts(conn), next, cause ? cause->message : "");
    } else if (will_retry) {
        LOG_WARN("amqp-disconnected", "connection lost, reconnecting: %s",
                 cause ? cause->message : "");
    } else if (!app->closing) {
        LOG_ERROR("amqp-gave-up", "no working connection within --give-up-after: %s",
                  cause ? cause->message : "");
        app->exit_code = 1;
        app->stopped = true;
    } else {
        LOG_INFO("amqp-closed", "connection closed: %s", cause ? cause->message : "");
        app->stopped = true;
    }
}

/* ---- The receiver link ---- */

static void attach_receiver(consumer_app *app)
{
    pn_session_t *session = sb_conn_session(app->conn);
    char uuid[WL_UUID_SIZE];

    if (session == NULL || app->receiver != NULL || app->draining) {
        return;
    }
    if (!wl_uuid_v4(uuid)) {
        snprintf(uuid, sizeof uuid, "%u", sb_conn_connect_count(app->conn));
    }
    snprintf(app->link_name, sizeof app->link_name, "consumer-%s", uuid);

    pn_link_t *link = pn_receiver(session, app->link_name);
    pn_terminus_set_address(pn_link_source(link), app->source_address);
    pn_terminus_set_address(pn_link_target(link), app->link_name);
    pn_link_set_snd_settle_mode(link, PN_SND_UNSETTLED);
    pn_link_set_rcv_settle_mode(link, app->settle_first ? PN_RCV_FIRST : PN_RCV_SECOND);
    if (!app->settle_first) {
        pn_data_t *properties = pn_link_properties(link);
        pn_data_put_map(properties);
        pn_data_enter(properties);
        pn_data_put_symbol(properties, pn_bytes(strlen("com.microsoft:receiver-name"),
                                                "com.microsoft:receiver-name"));
        pn_data_put_string(properties, pn_bytes(strlen(app->link_name), app->link_name));
        pn_data_exit(properties);
    }
    pn_link_open(link);
    app->receiver = link;
    app->receiver_attached = false;
    app->credit_paused = false;
    app->reattach_at_ms = INT64_MAX;
}

static void on_receiver_open(consumer_app *app, pn_link_t *link)
{
    if (amqp_attach_refused(link)) {
        return; /* the detach with the reason follows */
    }
    app->receiver_attached = true;
    app->reattach_attempt = 0;
    sb_conn_mark_working(app->conn);
    health_component_set(app->receiver_health, true, "");
    deliveries_top_up_credit(app);
    if (app->credit_paused) {
        LOG_INFO("receiver-attached",
                 "receiving from %s (%s) with credit 0: credit is withheld until Cosmos DB is "
                 "ready, then up to %d is granted",
                 app->source_address, app->settle_first ? "rcv-settle-mode first" : "peek-lock",
                 app->credit_target);
    } else {
        LOG_INFO("receiver-attached", "receiving from %s (%s) with credit %d of up to %d",
                 app->source_address, app->settle_first ? "rcv-settle-mode first" : "peek-lock",
                 pn_link_credit(link), app->credit_target);
    }
}

static void on_receiver_close(consumer_app *app, pn_link_t *link)
{
    pn_condition_t *condition = pn_link_remote_condition(link);
    const char *name = pn_condition_get_name(condition);
    const char *description = pn_condition_get_description(condition);
    char reason[200];

    snprintf(reason, sizeof reason, "receiver detached: %s %s", name ? name : "no condition",
             description ? description : "");
    /* Settle what is left locally; those deliveries are orphans now (see deliveries.c). */
    for (size_t i = 0; i < app->slot_capacity; i++) {
        delivery_slot *slot = &app->slots[i];
        if (slot->serial != 0 && slot->delivery != NULL) {
            pn_delivery_set_context(slot->delivery, NULL);
            pn_delivery_settle(slot->delivery);
        }
    }
    pn_link_close(link);
    pn_link_free(link);
    app->receiver = NULL;
    app->receiver_attached = false;
    deliveries_link_lost(app);
    health_component_set(app->receiver_health, false, reason);
    if (app->draining) {
        return;
    }
    wl_error cause = {0};
    wl_error_set(&cause, WL_ERR_UNAVAILABLE, "%s", reason);
    sb_conn_mark_not_working(app->conn, &cause);

    backoff_policy policy = backoff_policy_default();
    int64_t delay = backoff_delay_ms(&policy, app->reattach_attempt++, NULL);
    app->reattach_at_ms = wl_clock_monotonic_ms(app->clock) + delay;
    LOG_WARN("receiver-detached", "%s; attaching again in %lld ms", reason, (long long)delay);
}

/* ---- Events ---- */

/* True when no delivery can arrive on the receiver: no credit is left and none is partly
 * received. Credit reaches 0 through transfers or the flow that completes a drain. */
static bool receiver_drained(const consumer_app *app)
{
    pn_link_t *link = app->receiver;

    if (link == NULL || !app->receiver_attached) {
        return true; /* a link being attached has no credit until it is attached */
    }
    return pn_link_credit(link) <= 0 && pn_link_queued(link) == 0;
}

/*
 * Closes the receiver of a peer that did not complete the drain in time. Its deliveries
 * become orphans that are settled through $management, because the peer could deliver every
 * message we abandon again against the credit it still has. The service keeps their locks, so
 * they are not settled locally, and the peer's detach frees them with the link.
 */
static void detach_undrained_receiver(consumer_app *app)
{
    LOG_WARN("shutdown-drain-timeout",
             "the drain timed out after %d ms with credit %d left; detaching the receiver with "
             "%zu messages unfinished, which are settled through $management when it is "
             "enabled and else redelivered by the broker",
             DRAIN_TIMEOUT_MS, pn_link_credit(app->receiver), deliveries_unfinished(app));
    for (size_t i = 0; i < app->slot_capacity; i++) {
        delivery_slot *slot = &app->slots[i];
        if (slot->serial != 0 && slot->delivery != NULL) {
            pn_delivery_set_context(slot->delivery, NULL);
        }
    }
    pn_link_close(app->receiver);
    app->receiver_detached = true;
    deliveries_link_lost(app);
    health_component_set(app->receiver_health, false, "shutting down: the drain timed out");
}

static void handle_event(consumer_app *app, pn_event_t *event)
{
    pn_link_t *link = pn_event_link(event);

    switch (pn_event_type(event)) {
    case PN_LINK_REMOTE_OPEN:
        if (link == app->receiver) {
            on_receiver_open(app, link);
        }
        break;
    case PN_LINK_REMOTE_CLOSE:
    case PN_LINK_REMOTE_DETACH:
        if (link == app->receiver) {
            on_receiver_close(app, link);
        }
        break;
    case PN_LINK_FLOW:
        if (link == app->receiver && app->draining && receiver_drained(app)) {
            LOG_DEBUG("receiver-drained", "no credit left on the receiver");
        }
        break;
    case PN_DELIVERY:
        if (link == app->receiver && app->receiver_detached) {
            /* NOTE: a transfer the peer sent before it saw our detach is dropped with the
             * link, and its message stays locked until the lock expires. */
            break;
        }
        if (link == app->receiver || pn_delivery_get_context(pn_event_delivery(event))) {
            deliveries_on_delivery(app, pn_event_delivery(event));
        }
        break;
    default:
        break;
    }
}

static void set_grace_deadline(consumer_app *app, int64_t grace_deadline_ms)
{
    app->grace_deadline_ms = grace_deadline_ms;
    app->settle_deadline_ms = grace_deadline_ms + SETTLE_TIMEOUT_MS;
    app->hard_deadline_ms = app->settle_deadline_ms + CLOSE_TIMEOUT_MS;
}

static void begin_shutdown(consumer_app *app)
{
    int64_t now = wl_clock_monotonic_ms(app->clock);

    if (app->draining) {
        LOG_INFO("shutdown-now", "second signal: abandoning unfinished messages now");
        if (now < app->grace_deadline_ms) {
            set_grace_deadline(app, now);
        }
        return;
    }
    app->draining = true;
    set_grace_deadline(app, now + app->options->shutdown_grace_ms);
    app->drain_deadline_ms = now + DRAIN_TIMEOUT_MS;
    health_component_set(app->receiver_health, false, "shutting down");
    LOG_INFO("shutdown", "draining: %zu messages in flight, grace period %lld ms",
             deliveries_unfinished(app), (long long)app->options->shutdown_grace_ms);
    if (app->receiver != NULL && app->receiver_attached) {
        pn_link_drain(app->receiver, 0);
    }
}

/* Logs why the connection closes before the peer settled our outcomes. */
static void log_close_timeouts(consumer_app *app)
{
    if (deliveries_unsettled(app) > 0) {
        LOG_WARN("shutdown-settle-timeout",
                 "settling timed out %d ms after the grace period with %zu deliveries "
                 "unsettled; closing, and Service Bus redelivers them when their locks expire",
                 SETTLE_TIMEOUT_MS, deliveries_unsettled(app));
    }
}

/*
 * Moves the shutdown on: waits for the writes in progress until the grace deadline, then
 * abandons the rest. Nothing is abandoned on the receiver before the drain is complete,
 * because the peer could deliver the abandoned messages again against its remaining credit.
 * A drain not complete by its deadline detaches the receiver instead. The connection closes
 * only when the peer has settled every delivery, because a delivery still unsettled at the
 * close stays locked until its lock expires. Short timeouts bound every wait.
 */
static void advance_shutdown(consumer_app *app, int64_t now)
{
    if (!app->draining || app->closing) {
        return;
    }
    if (!app->receiver_detached && !receiver_drained(app) && now >= app->drain_deadline_ms) {
        detach_undrained_receiver(app);
    }
    if (now < app->grace_deadline_ms && deliveries_unfinished(app) > 0) {
        return;
    }
    if (!app->receiver_detached && !receiver_drained(app)) {
        return; /* until the drain completes or its deadline detaches the receiver */
    }
    if (now >= app->grace_deadline_ms && !app->grace_over) {
        app->grace_over = true;
        /* A grace period shorter than the drain wait ends here, later than planned, so the
         * wait for the peer's settlements starts now. */
        if (now + SETTLE_TIMEOUT_MS > app->settle_deadline_ms) {
            app->settle_deadline_ms = now + SETTLE_TIMEOUT_MS;
            app->hard_deadline_ms = app->settle_deadline_ms + CLOSE_TIMEOUT_MS;
        }
        shutdown_outcomes outcomes;
        deliveries_settle_undecided(app, &outcomes);
        if (outcomes.abandoned > 0 || outcomes.released > 0 || outcomes.skipped > 0) {
            LOG_WARN("shutdown-abandon",
                     "grace period over: abandoned %zu messages whose writes had started and "
                     "released %zu whose writes never started; left %zu unsettled whose link is "
                     "gone, which stay locked until their locks expire (settle-skipped gives "
                     "the reason)",
                     outcomes.abandoned, outcomes.released, outcomes.skipped);
        }
    }
    if (deliveries_unsettled(app) > 0 && now < app->settle_deadline_ms) {
        return;
    }
    log_close_timeouts(app);
    app->closing = true;
    if (app->receiver != NULL) {
        pn_link_close(app->receiver);
    }
    sb_conn_close(app->conn);
}

/*
 * Closes the socket of a connection that did not close in time, such as one to a peer that
 * stopped responding. The connection then stops without the peer's close frame, so teardown
 * can free it.
 */
static void abort_connection(consumer_app *app)
{
    app->aborting = true;
    LOG_WARN("shutdown-timeout",
             "the connection did not close within %d ms; closing it without waiting for the peer",
             CLOSE_TIMEOUT_MS - ABORT_TIMEOUT_MS);
    sb_conn_abort(app->conn);
}

static int64_t next_deadline(consumer_app *app, int64_t now)
{
    int64_t next = now + TICK_MAX_MS;
    int64_t conn_next = sb_conn_next_deadline_ms(app->conn);
    int64_t slots_next = deliveries_next_deadline_ms(app);

    if (conn_next < next) {
        next = conn_next;
    }
    if (slots_next < next) {
        next = slots_next;
    }
    if (app->reattach_at_ms < next) {
        next = app->reattach_at_ms;
    }
    if (app->draining) {
        int64_t deadlines[] = {app->grace_deadline_ms, app->drain_deadline_ms,
                               app->settle_deadline_ms, app->hard_deadline_ms - ABORT_TIMEOUT_MS,
                               app->hard_deadline_ms};
        for (size_t i = 0; i < sizeof deadlines / sizeof deadlines[0]; i++) {
            if (deadlines[i] > now && deadlines[i] < next) {
                next = deadlines[i];
            }
        }
    }
    return next;
}

/*
 * The application's work between events: settle what the writer returned, renew locks, keep
 * the credit up and move the shutdown on. It runs on the loop thread after every wake-up, and
 * the loop's next flush sends what it changed. With no connection open it touches no Proton
 * object.
 */
static void do_work(consumer_app *app)
{
    int64_t now = wl_clock_monotonic_ms(app->clock);

    /* The first signal begins the shutdown, and the second ends the grace period. Later
     * signals change nothing. */
    int received = atomic_load(&app->signals_received);
    while (app->signals_handled < received && app->signals_handled < 2) {
        app->signals_handled++;
        begin_shutdown(app);
    }
    deliveries_process_outbox(app);
    deliveries_run_timers(app, now);
    if (app->receiver == NULL && now >= app->reattach_at_ms && app->authorized) {
        attach_receiver(app);
    }
    deliveries_top_up_credit(app);
    advance_shutdown(app, now);
}

static void on_loop_event(void *ctx, pn_event_t *event)
{
    consumer_app *app = ctx;
    sb_conn *conn = sb_conn_from_event(event);

    if (conn == NULL || !sb_conn_dispatch(conn, event)) {
        handle_event(app, event);
    }
}

static void on_writer_ready(void *ctx)
{
    consumer_app *app = ctx;

    writer_sockets_ready(app->writer);
}

/*
 * One thread runs everything but the health server and the signal thread: AMQP I/O and events,
 * the writer's Cosmos requests, and the work between them. A response from Cosmos DB is
 * settled on the wake-up that reads it, with no hand-over between threads.
 */
static void run_loop(consumer_app *app)
{
    int64_t writer_next_ms = 0;

    health_server_watch_beats(app->health, app->clock, HEALTH_STALL_LIMIT_MS);
    while (!app->stopped) {
        health_server_beat(app->health);
        int64_t now = wl_clock_monotonic_ms(app->clock);
        int64_t next = next_deadline(app, now);
        if (writer_next_ms < next) {
            next = writer_next_ms;
        }
        /* A pause lets responses that trickle in be handled in one pass (coalesce.h). It is
         * skipped when a deadline falls within it (to the millisecond), and when events are
         * waiting already: a busy consumer would only delay them. */
        int64_t pause_us = writer_pause_us(app->writer);
        if (pause_us > 0 && (next - now) * 1000 > pause_us && !event_loop_has_ready(app->loop)) {
            struct timespec pause = {.tv_sec = (time_t)(pause_us / 1000000),
                                     .tv_nsec = (long)(pause_us % 1000000 * 1000)};
            nanosleep(&pause, NULL); /* an early end only shortens the pause */
            metrics_counter_inc(app->stats.coalesce_pauses, 1);
            now = wl_clock_monotonic_ms(app->clock);
        }
        event_loop_run(app->loop, next > now ? next - now : 0);
        if (app->stopped) {
            break;
        }

        now = wl_clock_monotonic_ms(app->clock);
        if (now >= sb_conn_next_deadline_ms(app->conn)) {
            sb_conn_tick(app->conn);
        }
        writer_next_ms = writer_run(app->writer);
        do_work(app);
        event_loop_flush(app->loop);

        now = wl_clock_monotonic_ms(app->clock);
        if (app->draining && !app->aborting && now >= app->hard_deadline_ms - ABORT_TIMEOUT_MS) {
            abort_connection(app);
            event_loop_flush(app->loop);
        }
        if (app->draining && now >= app->hard_deadline_ms) {
            LOG_ERROR("shutdown-abort-timeout",
                      "the connection did not close %d ms after it was closed without waiting for "
                      "the peer; exiting",
                      ABORT_TIMEOUT_MS);
            break;
        }
    }
}

/* ---- Start-up ---- */

static wl_status make_cosmos_credential(consumer_app *app, char *scope, size_t capacity,
                                        wl_error *err)
{
    const char *endpoint = app->options->cosmos_endpoint;
    const char *host = strstr(endpoint, "://");
    char account[256];

    host = host ? host + 3 : endpoint;
    size_t length = strcspn(host, ".:/");
    snprintf(account, sizeof account, "%.*s", (int)length, host);
    snprintf(scope, capacity, "https://%s.documents.azure.com/.default", account);
    if (app->options->cosmos_key != NULL) {
        return WL_OK;
    }

    cred_wi_options wi = {.scope = scope, .ca_file = NULL};
    if (cred_wi_options_from_env(&wi, NULL, err) != WL_OK) {
        return wl_error_set(err, WL_ERR_INVALID,
                            "COSMOS_KEY is unset and workload identity is not configured: %s",
                            err->message);
    }
    app->cosmos_credential = cred_workload_identity_create(&wi, err);
    if (app->cosmos_credential == NULL) {
        return WL_ERR_INVALID;
    }
    cred_warn_unencrypted(app->cosmos_credential);
    /* The writer runs on the event loop, which must not wait for Entra. */
    return cred_start_background_refresh(app->cosmos_credential, err);
}

static wl_status start_writer(consumer_app *app, wl_error *err)
{
    const consumer_options *options = app->options;
    char scope[320];

    if (make_cosmos_credential(app, scope, sizeof scope, err) != WL_OK) {
        return WL_ERR_INVALID;
    }
    writer_options writer_opts = {
        .cosmos =
            {
                .endpoint = options->cosmos_endpoint,
                .database = options->cosmos_database,
                .container = options->cosmos_container,
                .partition_key_path = options->partition_key_path,
                .master_key = options->cosmos_key,
                .ca_file = options->cosmos_ca_file,
                .max_connections = (int)options->concurrency,
                .request_timeout_ms = options->cosmos_timeout_ms,
                .clock = app->clock,
            },
        .partition_key_field = consumer_partition_key_field(options),
        .concurrency = (int)options->concurrency,
        .coalesce_max_us = options->coalesce_max_ms * 1000,
        .idle_check_ms = options->cosmos_idle_check_ms,
        .queue_capacity = app->slot_capacity,
        .cosmos_credential = app->cosmos_credential,
        .cosmos_scope = scope,
        .clock = app->clock,
        .stats = &app->stats,
        .health = app->cosmos_health,
        .outbox = &app->outbox,
    };
    app->writer = writer_create(&writer_opts, err);
    if (app->writer == NULL) {
        return WL_ERR_INVALID;
    }
    return event_loop_watch(app->loop, writer_fd(app->writer), on_writer_ready, app, err);
}

static wl_status create_connection(consumer_app *app, wl_error *err)
{
    sb_conn_options conn_options = {
        .clock = app->clock,
        .callbacks = {.on_ready = on_ready,
                      .on_authorized = on_authorized,
                      .on_disconnected = on_disconnected},
        .ctx = app,
    };

    /* CBS fetches its tokens on the event loop, which must not wait for Entra. */
    if (app->target->credential != NULL &&
        cred_start_background_refresh(app->target->credential, err) != WL_OK) {
        return err->status;
    }
    sb_target_conn_options(app->target, &app->config->servicebus, &conn_options);
    app->conn = sb_conn_create((sb_io){.loop = app->loop}, &conn_options, err);
    return app->conn ? WL_OK : WL_ERR_INVALID;
}

static void interrupt_on_signal(void *ctx)
{
    consumer_app *app = ctx;

    atomic_fetch_add(&app->signals_received, 1);
    event_loop_interrupt(app->loop);
}

static void setup_names(consumer_app *app)
{
    const consumer_options *options = app->options;

    snprintf(app->source_address, sizeof app->source_address, "%s",
             options->source_address ? options->source_address : app->target->queue);
    snprintf(app->management_address, sizeof app->management_address, "%s/$management",
             app->target->queue);
    app->settle_first = strcmp(options->rcv_settle_mode, "first") == 0;
    app->credit_target = (int)(options->concurrency + options->prefetch);
}

static void teardown(consumer_app *app)
{
    consumer_job *job;

    writer_destroy(app->writer);
    while ((job = job_queue_pop(&app->outbox)) != NULL) {
        delivery_slot *slot = &app->slots[job->slot];
        if (slot->job == job) {
            slot->job = NULL;
        }
        consumer_job_free(job);
    }
    /* The run loop has returned and the signal thread has stopped, so no thread uses the loop
     * any more. A connection that did not stop fails its pending $management requests here,
     * whose callbacks still need the slots. */
    sb_conn_destroy(app->conn);
    deliveries_free(app);
    event_loop_destroy(app->loop); /* frees the Proton objects of a connection still open */
    pn_message_free(app->message);
    pn_message_free(app->request);
    amqp_buffer_free(&app->buffer);
    job_queue_destroy(&app->outbox);
    health_server_destroy(app->health);
    metrics_registry_destroy(app->metrics);
    cred_destroy(app->cosmos_credential);
}

/*
 * Logs one warning when the Cosmos DB endpoint is plain HTTP: requests then carry the master-key
 * signature or the Entra token unencrypted. Local test servers use plain HTTP, so it is allowed.
 */
static void warn_plain_http_cosmos(const consumer_options *options)
{
    if (strncasecmp(options->cosmos_endpoint, "http://", 7) != 0) {
        return;
    }
    LOG_WARN("unencrypted-credential",
             "--cosmos-endpoint (COSMOS_ENDPOINT) %s is plain HTTP, so requests signed with %s "
             "travel unencrypted; use https:// outside local tests",
             options->cosmos_endpoint,
             options->cosmos_key != NULL ? "the master key (COSMOS_KEY)" : "Entra tokens");
}

int consumer_run(const consumer_config *config)
{
    consumer_app app = {
        .config = config,
        .options = &config->consumer,
        .target = &config->target,
        .clock = wl_clock_system(),
    };
    const service_settings *service = &config->service;
    service_signals *signals = NULL;
    bool health_started = false;
    wl_error err = {0};
    int exit_code = 0;

    curl_global_init(CURL_GLOBAL_DEFAULT);

    sb_target_warn_unencrypted(app.target);
    warn_plain_http_cosmos(app.options);
    setup_names(&app);
    app.reattach_at_ms = INT64_MAX;
    app.message = pn_message();
    app.request = pn_message();
    atomic_init(&app.signals_received, 0);
    deliveries_init(&app);
    job_queue_init(&app.outbox, app.slot_capacity);

    app.metrics = metrics_registry_create();
    consumer_stats_register(&app.stats, app.metrics);
    app.health = health_server_create(app.metrics);
    app.amqp_health = health_component_add(app.health, "amqp", "connecting");
    app.receiver_health = health_component_add(app.health, "receiver", "not attached");
    app.cosmos_health = health_component_add(app.health, "cosmos", "checking");
    if (service_health_start(app.health, service, &health_started, &err) != WL_OK) {
        LOG_ERROR("health-failed", "%s", err.message);
        exit_code = err.status == WL_ERR_INVALID ? 2 : 1;
        goto out;
    }
    if (health_started) {
        LOG_INFO("health-listening", "health server on %s:%u", service->health_bind,
                 (unsigned)health_server_port(app.health));
    }

    /* The connection starts only once the writer exists, so a bad Cosmos setting leaves a
     * connection that was never started. */
    app.loop = event_loop_create(on_loop_event, &app, &err);
    if (app.loop == NULL || create_connection(&app, &err) != WL_OK ||
        start_writer(&app, &err) != WL_OK || sb_conn_start(app.conn, &err) != WL_OK) {
        LOG_ERROR("start-failed", "%s", err.message);
        exit_code = err.status == WL_ERR_INVALID ? 2 : 1;
        goto out;
    }
    signals = service_signals_start(interrupt_on_signal, &app, &err);
    if (signals == NULL) {
        LOG_ERROR("start-failed", "%s", err.message);
        exit_code = 1;
        goto out;
    }
    run_loop(&app);
    service_signals_stop(signals);
    exit_code = app.exit_code;
    LOG_INFO("stopped", "consumer stopped");

out:
    teardown(&app);
    curl_global_cleanup();
    return exit_code;
}
