/*
 * The writer: it owns the Cosmos client (one curl multi handle). It validates each submitted
 * message, builds its document and upserts it, with up to `concurrency` requests at a time. It
 * applies the settlement policy (settle.h) to every outcome and hands each finished job back
 * through the outbox with the action to take. Retries wait on the writer's own timers, so the
 * receiver only ever gets final outcomes.
 *
 * At start and whenever Cosmos rejects our configuration (401, 403, 404), the writer checks
 * Cosmos on its own with backoff: with the master key it creates the database and container
 * when missing (201 and 409 both mean they exist); with an Entra token, which cannot create
 * them, it reads the container. Until a check passes, writer_ready() is false, the "cosmos"
 * health component says why, and submitted jobs wait (and are abandoned at their deadline).
 *
 * The writer runs on the receiver's event loop and does not block. It only takes the cached
 * token of an Entra credential, which the caller must have set to refresh in the background
 * (cred_start_background_refresh). Otherwise a token exchange blocks the loop. The loop watches
 * writer_fd() and calls writer_sockets_ready() when it is readable. It calls writer_run() after
 * every wake-up and by the deadline writer_run() returned. Every function must be called on that
 * thread.
 */
#ifndef CONSUMER_WRITER_H
#define CONSUMER_WRITER_H

#include "clock.h"
#include "cosmos.h"
#include "credential.h"
#include "health.h"
#include "job.h"
#include "stats.h"
#include "status.h"

#include <stdbool.h>

typedef struct writer writer;

typedef struct writer_options {
    cosmos_options cosmos;           /* strings are copied by the Cosmos client */
    const char *partition_key_field; /* document field whose value is the partition key */
    int concurrency;                 /* concurrent upserts */
    int64_t coalesce_max_us;         /* maximum coalescing pause (coalesce.h); 0 turns it off */
    int64_t idle_check_ms;           /* idle time before a container read; 0 turns it off */
    size_t queue_capacity;           /* max jobs the writer owns at once, and the outbox size */
    cred *cosmos_credential;         /* Entra credential when cosmos.master_key is NULL; borrowed */
    const char *cosmos_scope;        /* "https://ACCOUNT.documents.azure.com/.default" */
    const wl_clock *clock;           /* NULL for the system clock */
    const consumer_stats *stats;     /* borrowed */
    health_component *health;        /* the "cosmos" component; borrowed */
    job_queue *outbox;               /* finished jobs go here; borrowed */
} writer_options;

/* Creates the Cosmos client. Returns NULL with `err` set on bad options. */
writer *writer_create(const writer_options *options, wl_error *err);

/*
 * Hands `job` to the writer, which starts it in the next writer_run. Returns false when the
 * writer already owns `queue_capacity` jobs (a credit accounting bug).
 */
bool writer_submit(writer *w, consumer_job *job);

/*
 * Does the writer's work without waiting: takes submitted jobs, starts due requests, handles
 * the responses that arrived and pushes finished jobs to the outbox. Returns the monotonic ms
 * (the writer's clock) by which it must run again, at most 1 s ahead.
 */
int64_t writer_run(writer *w);

/* Returns the descriptor that becomes readable when a Cosmos connection is ready. */
int writer_fd(const writer *w);

/*
 * Returns how long the loop should pause before it waits for events again, in microseconds, so
 * that responses arriving one by one are handled together (coalesce.h); 0 for no pause. It
 * describes the last writer_run.
 */
int64_t writer_pause_us(const writer *w);

/* Records that writer_fd() was readable, so that the next writer_run reads the sockets. */
void writer_sockets_ready(writer *w);

/* Returns true while Cosmos accepts our requests, so the receiver may grant credit. */
bool writer_ready(const writer *w);

/*
 * Cancels the requests in progress, pushes every job the writer still owns to the outbox with
 * SETTLE_ABANDON, and frees the writer.
 */
void writer_destroy(writer *w);

#endif
