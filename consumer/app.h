/*
 * State shared by consumer.c (start-up, the event loop, the connection and shutdown) and
 * deliveries.c (receiving, settlement, lock renewal, credit). Private to the daemon. Every
 * field is used only on the event loop thread unless its comment states otherwise.
 */
#ifndef CONSUMER_APP_H
#define CONSUMER_APP_H

#include "amqp.h"
#include "credential.h"
#include "event_loop.h"
#include "health.h"
#include "job.h"
#include "options.h"
#include "sb_conn.h"
#include "stats.h"
#include "writer.h"

#include <proton/link.h>
#include <proton/message.h>

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

/* One received delivery from receipt until it is settled (or given up) and its job is back. */
typedef struct delivery_slot {
    uint64_t serial;         /* 0 while the slot is free */
    consumer_job *job;       /* NULL once freed */
    bool with_writer;        /* the writer owns `job` */
    pn_delivery_t *delivery; /* NULL once settled locally or when its link is gone */
    bool on_current_link;    /* counts against the receiver's credit */
    int64_t received_ms;

    /* The outcome, once decided. */
    bool decided;
    settle_action action;
    bool release; /* an abandon sent as released: the message was never processed */
    char reason[64];
    char description[320];
    bool awaiting_peer;      /* rcv-settle-mode second: disposition sent, peer has not settled */
    int64_t outcome_sent_ms; /* monotonic, when that disposition was sent */
    bool orphaned;           /* decided or undecided, but the link it came on is gone */
    bool request_busy;       /* a $management request about this slot is in progress */

    /* The lock, when the delivery tag is a lock token and the service sent x-opt-locked-until. */
    bool has_lock;
    bool counted;           /* its end is in one of the outcome or locks-lost counters */
    bool outcome_sent;      /* the outcome went out on a link, confirmed or not */
    uint8_t lock_token[16]; /* the delivery tag, .NET GUID byte order */
    int64_t lock_expiry_ms; /* monotonic */
    int64_t lock_duration_ms;
    int64_t renew_at_ms;
} delivery_slot;

typedef struct consumer_app {
    const consumer_config *config;
    const consumer_options *options; /* &config->consumer */
    const sb_target *target;         /* &config->target */
    const wl_clock *clock;
    event_loop *loop;
    sb_conn *conn;
    cred *cosmos_credential;
    char audience[512];
    char source_address[512];
    char management_address[512];
    bool settle_first; /* rcv-settle-mode first */

    pn_link_t *receiver;
    bool receiver_attached;
    bool authorized;
    unsigned cbs_failures; /* consecutive failed put-tokens, across reconnects */
    char link_name[64];
    int64_t reattach_at_ms; /* INT64_MAX when no reattach is scheduled */
    unsigned reattach_attempt;
    bool credit_paused; /* drained because Cosmos DB is not ready */
    sb_rpc *management;

    pn_message_t *message; /* reused for every received message */
    amqp_buffer buffer;
    pn_message_t *request; /* reused for every $management request */

    delivery_slot *slots;
    size_t slot_capacity;
    size_t slots_used;
    uint64_t next_serial;
    int credit_target;
    uint64_t overflow_count;    /* deliveries that arrived beyond our credit */
    size_t unsettled_count;     /* slots awaiting_peer */
    int64_t unsettled_since_ms; /* monotonic: since when they have waited with no delivery
                                   update (settlement or transfer) from the peer */
    int64_t peer_settled_ms;    /* monotonic, when the peer last settled one of our dispositions */

    writer *writer;
    job_queue outbox;

    metrics_registry *metrics;
    consumer_stats stats;
    health_server *health;
    health_component *amqp_health;
    health_component *receiver_health;
    health_component *cosmos_health;

    /* Shutdown; the deadlines are monotonic and set by begin_shutdown (consumer.c). */
    /* Signals counted by the signal thread. Proton coalesces interrupts, so do_work compares
     * the count with the signals it has handled instead of counting interrupt events. */
    atomic_int signals_received;
    int signals_handled;
    bool draining; /* a signal arrived: no new work, deliveries are released */
    int64_t grace_deadline_ms;
    bool grace_over;            /* the unfinished messages were settled at the grace deadline */
    int64_t drain_deadline_ms;  /* the end of the wait for the drain to complete */
    bool receiver_detached;     /* closed at the drain deadline; its peer's detach may follow */
    int64_t settle_deadline_ms; /* the end of the wait for the peer's settlements */
    bool closing;
    bool aborting; /* the close timed out: sb_conn_abort closes the socket */
    bool stopped;
    int exit_code; /* 1 when the connection gave up, else 0 */
    int64_t hard_deadline_ms;
} consumer_app;

/* deliveries.c */
void deliveries_init(consumer_app *app);
void deliveries_free(consumer_app *app);
void deliveries_on_delivery(consumer_app *app, pn_delivery_t *delivery);
void deliveries_process_outbox(consumer_app *app);
void deliveries_run_timers(consumer_app *app, int64_t now_ms);
int64_t deliveries_next_deadline_ms(const consumer_app *app);
void deliveries_top_up_credit(consumer_app *app);
void deliveries_link_lost(consumer_app *app);
/* Counts of what deliveries_settle_undecided did with the undecided deliveries. */
typedef struct shutdown_outcomes {
    size_t abandoned; /* the write had started */
    size_t released;  /* the write never started */
    size_t skipped;   /* the link is gone and $management cannot settle it, so nothing was sent
                         and the message stays locked until its lock expires */
} shutdown_outcomes;

/*
 * Settles every undecided delivery at the end of the grace period. It abandons those whose
 * write started and releases those whose write never started, and stores the counts in `out`.
 */
void deliveries_settle_undecided(consumer_app *app, shutdown_outcomes *out);
size_t deliveries_unfinished(const consumer_app *app);
/* Counts the deliveries still unsettled on the receiver link or waiting for update-disposition. */
size_t deliveries_unsettled(const consumer_app *app);

#endif
