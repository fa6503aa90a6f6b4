/*
 * The pipelined sender: one or more Service Bus connections on one proactor, each with one
 * sender link, a window of unsettled messages, and the retry and resend rules.
 *
 * Each message gets a COUNT from 1 across the whole run and a fresh UUID message-id when it is
 * first sent. It is retried with the same message-id, COUNT and srcStamp when the service returns
 * com.microsoft:server-busy, com.microsoft:timeout or released/modified, when no outcome
 * arrives within the send timeout, and when its link or connection is lost before the outcome
 * (at-least-once; duplicate detection on the queue can drop repeats). After max-retries resends
 * for a reply from the service or a send timeout it counts as failed, once no transfer of it
 * that timed out can still be accepted (at most one more send timeout). Resends after a lost
 * link or connection are not counted against that limit, because give-up-after bounds them.
 *
 * Threads: everything runs on the proactor thread, except producer_run_request_stop, which a
 * signal-handling thread may call. Counters in the metrics registry are atomics that the health
 * server thread reads.
 */
#ifndef PRODUCER_SENDER_H
#define PRODUCER_SENDER_H

#include "health.h"
#include "metrics.h"
#include "options.h"
#include "stats.h"
#include "status.h"

#include <proton/event.h>
#include <proton/proactor.h>

#include <stdbool.h>
#include <stdint.h>

typedef struct producer_run producer_run;

/* Creates the run; `config`, `target`, `metrics` and `ready` are borrowed and must outlive it
 * (`metrics` and `ready` may be NULL). */
producer_run *producer_run_create(pn_proactor_t *proactor, const producer_config *config,
                                  const sb_target *target, metrics_registry *metrics,
                                  health_component *ready, wl_error *err);

/* Starts every connection. */
wl_status producer_run_start(producer_run *run, wl_error *err);

/* Handles every event of one proactor batch; the caller still calls pn_proactor_done. */
void producer_run_handle(producer_run *run, pn_event_batch_t *batch);

/* Returns the monotonic ms at which producer_run_handle wants a PN_PROACTOR_TIMEOUT. */
int64_t producer_run_next_deadline_ms(const producer_run *run);

/* Stops issuing new messages and waits up to the shutdown grace for outstanding ones; safe from
 * any thread (it interrupts the proactor). A second call stops at once. */
void producer_run_request_stop(producer_run *run);

/* True once every connection has closed after the run ended. */
bool producer_run_finished(const producer_run *run);

const producer_stats *producer_run_stats(const producer_run *run);

/* Messages sent but without an outcome yet. */
uint64_t producer_run_outstanding(const producer_run *run);

/*
 * Wall time in ms from the start to the end of the run (or now while running). The end is when
 * the run began to close its connections: after the last outcome, at a fatal error, at the end
 * of the shutdown grace period or at a second signal. An outcome that arrives while the
 * connections close moves the end to it.
 */
int64_t producer_run_elapsed_ms(const producer_run *run);

/* Wall time in ms from the start to the last outcome that the service sent; 0 before the first. */
int64_t producer_run_outcomes_ms(const producer_run *run);

/* The error that ended the run early, or NULL. */
const wl_error *producer_run_error(const producer_run *run);

/* 0 when every message that was issued was accepted, 1 otherwise. */
int producer_run_exit_code(const producer_run *run);

void producer_run_destroy(producer_run *run);

#endif
