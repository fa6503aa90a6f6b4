/*
 * The writer thread: it owns the Cosmos client (one curl multi handle), validates each
 * submitted message, builds its document, upserts it with up to `concurrency` requests at a
 * time, applies the settlement policy (settle.h) to every outcome, and hands each finished
 * job back through the outbox with the action to take. Retries wait on the writer's own
 * timers, so the receiver only ever sees final outcomes.
 *
 * At start and whenever Cosmos rejects our configuration (401, 403, 404), the writer checks
 * Cosmos on its own with backoff: with the master key it creates the database and container
 * when missing (201 and 409 both mean they exist); with an Entra token, which cannot create
 * them, it reads the container. Until a check passes, writer_ready() is false, the "cosmos"
 * health component says why, and submitted jobs wait (and are abandoned at their deadline).
 *
 * Threads: writer_submit, writer_ready and writer_stop are called by the receiver thread;
 * everything else runs on the writer thread.
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
    size_t queue_capacity;           /* inbox and outbox size: at least the receiver's credit */
    cred *cosmos_credential;         /* Entra credential when cosmos.master_key is NULL; borrowed */
    const char *cosmos_scope;        /* "https://ACCOUNT.documents.azure.com/.default" */
    const wl_clock *clock;           /* NULL for the system clock */
    const consumer_stats *stats;     /* borrowed */
    health_component *health;        /* the "cosmos" component; borrowed */
    job_queue *outbox;               /* finished jobs go here; borrowed */
    void (*notify)(void *ctx);       /* called on the writer thread after each outbox push */
    void *notify_ctx;
} writer_options;

/* Creates the Cosmos client and starts the thread. Returns NULL with `err` set on bad options. */
writer *writer_start(const writer_options *options, wl_error *err);

/* Hands `job` to the writer; returns false when the inbox is full (a credit accounting bug). */
bool writer_submit(writer *w, consumer_job *job);

/* Returns true while Cosmos accepts our requests, so the receiver may grant credit. */
bool writer_ready(const writer *w);

/*
 * Stops the thread at once (requests in progress are cancelled), pushes every job it still
 * owns to the outbox with SETTLE_ABANDON, and frees the writer.
 */
void writer_stop(writer *w);

#endif
