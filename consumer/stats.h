/*
 * The consumer's metrics, registered once at start and updated from the receiver and writer
 * threads (every value is atomic; see metrics.h). Names follow Prometheus conventions.
 */
#ifndef CONSUMER_STATS_H
#define CONSUMER_STATS_H

#include "metrics.h"

typedef struct consumer_stats {
    metrics_counter *received;
    metrics_counter *completed;
    metrics_counter *abandoned;
    metrics_counter *dead_lettered;
    metrics_counter *lock_renewals;
    metrics_counter *lock_lost;
    metrics_counter *reconnects;
    metrics_counter *token_refreshes;
    metrics_counter *late_settlements;
    metrics_counter *cosmos_connections;
    metrics_counter *cosmos_tls_resumptions;
    metrics_counter *coalesce_pauses;
    metrics_counter *stamps_in_future;
    metrics_counter *idle_reads;         /* container reads of an idle writer */
    metrics_counter *idle_read_failures; /* idle reads without a 200 */
    /* Retries by cause: 408, 429, 449, 500, 502, 503, 504, other HTTP statuses, transport. */
    metrics_counter *retries_408;
    metrics_counter *retries_429;
    metrics_counter *retries_449;
    metrics_counter *retries_500;
    metrics_counter *retries_502;
    metrics_counter *retries_503;
    metrics_counter *retries_504;
    metrics_counter *retries_other;
    metrics_counter *retries_transport;
    metrics_gauge *in_flight;
    metrics_histogram *cosmos_latency;
    metrics_histogram *end_to_end_latency;
} consumer_stats;

/* Registers every metric in `registry` and fills `stats` with pointers owned by it. */
void consumer_stats_register(consumer_stats *stats, metrics_registry *registry);

/* Counts one retry caused by `http_status` (0 for a transport failure). */
void consumer_stats_count_retry(const consumer_stats *stats, int http_status);

#endif
