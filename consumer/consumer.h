/*
 * The consumer daemon's runtime: a peek-lock receiver and the writer (writer.h) that stores
 * documents in Cosmos DB, both on one event loop (event_loop.h) that drives the AMQP
 * connection and the writer's curl multi handle.
 *
 * The thread that calls consumer_run runs the loop and owns every Proton object: the
 * connection, the receiver link, the $management link pair and every delivery. It receives
 * messages into jobs, hands them to the writer through the writer's inbox, and settles them
 * when the writer returns them through the outbox, on the same wake-up that read the Cosmos
 * response. Only the health server and the signal thread run elsewhere.
 *
 * No receiver is attached until a CBS put-token succeeds. CBS retries every failed put-token
 * with backoff (cbs.h), and /readyz reports the last failure until then.
 *
 * Link credit is kept at concurrency + prefetch minus the unsettled deliveries, and is only
 * granted while Cosmos DB accepts our requests. A lock is renewed through $management before
 * it expires while its message is still being written. A write that finishes after its link
 * is gone is settled through $management update-disposition while the lock is valid, or left
 * to Service Bus to redeliver.
 *
 * SIGTERM or SIGINT drains the link credit, finishes the writes in progress within the grace
 * period, settles them and abandons the rest. A delivery that arrives after the signal is
 * released without being processed. The connection closes once the peer has completed the
 * drain and settled every delivery, each wait bounded by 2 s, and consumer_run returns 0.
 */
#ifndef CONSUMER_CONSUMER_H
#define CONSUMER_CONSUMER_H

#include "options.h"

/*
 * Runs the daemon until SIGTERM or SIGINT, or until the connection gives up (see
 * --give-up-after). Returns the process exit status. The caller blocks the signals first
 * (service_block_signals).
 */
int consumer_run(const consumer_config *config);

#endif
