/*
 * One received message on its way from the receiver to the writer and back, and the bounded
 * queue (the outbox) that returns finished jobs to the receiver. Both run on the consumer's one
 * event-loop thread, so nothing here locks.
 *
 * Ownership: the receiver allocates a job and frees it after settlement. Between
 * writer_submit() and the job's return through the outbox the writer owns it, and the
 * receiver reads none of its fields except `slot`, `serial` and `write_started`.
 */
#ifndef CONSUMER_JOB_H
#define CONSUMER_JOB_H

#include "settle.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct consumer_job {
    /* Set by the receiver before submission. */
    uint32_t slot;    /* index of the receiver's delivery slot */
    uint64_t serial;  /* distinguishes reuses of the slot */
    char *message_id; /* owned; message_id_length bytes and a NUL, may contain NUL */
    size_t message_id_length;
    char *log_id;  /* owned; the message-id with NUL as \0 and '\' as \\, or NULL without either */
    uint8_t *body; /* owned; the message's data section */
    size_t body_length;
    int64_t sequence_number;  /* -1 when absent */
    int64_t enqueued_unix_ms; /* -1 when absent */
    uint32_t delivery_count;  /* 1 on the first delivery */
    int64_t deadline_ms;      /* monotonic; retries stop here */

    /* Set by the writer before it returns the job. */
    settle_action action;
    char reason[64];       /* DeadLetterReason, or a short cause for logs */
    char description[320]; /* DeadLetterErrorDescription, or details for logs */

    /* Set by the writer when it starts the first upsert. The receiver reads it at the end of
     * the shutdown grace period, while the writer may still own the job. */
    bool write_started;

    /* Private to the writer. */
    char *document;
    size_t document_length;
    char *partition_key; /* partition_key_length bytes and a NUL; may contain NUL */
    size_t partition_key_length;
    int64_t src_unix_us;
    void *writer;
    int attempt;         /* upserts started so far */
    bool in_progress;    /* an upsert is running */
    int64_t retry_at_ms; /* monotonic time of the next attempt */
} consumer_job;

void consumer_job_free(consumer_job *job);

/*
 * Takes ownership of `id`, `length` bytes and a NUL, as the job's message-id. A log line would
 * end an id at its first NUL and so name a different message. An id that contains NUL or a
 * backslash therefore also gets a copy for logs, with NUL written as \0 and a backslash as \\.
 */
void consumer_job_set_message_id(consumer_job *job, char *id, size_t length);

/* Returns the message-id as log lines show it; "" before one is set. */
const char *consumer_job_log_id(const consumer_job *job);

/* A bounded FIFO of job pointers. */
typedef struct job_queue {
    consumer_job **items;
    size_t capacity;
    size_t head;
    size_t count;
} job_queue;

void job_queue_init(job_queue *queue, size_t capacity);
void job_queue_destroy(job_queue *queue);

/* Appends `job`; returns false when the queue is full. */
bool job_queue_push(job_queue *queue, consumer_job *job);

/* Removes and returns the oldest job, or NULL when the queue is empty. */
consumer_job *job_queue_pop(job_queue *queue);

#endif
