/*
 * Run statistics of the producer: counters for the summary and the progress output, and a
 * send-to-acknowledge latency recorder with logarithmic buckets (8 per power of two, so a
 * reported percentile is within about 9 % of the true value). Used on the proactor thread only;
 * the health server reads the separate atomic metrics instead.
 */
#ifndef PRODUCER_STATS_H
#define PRODUCER_STATS_H

#include <stddef.h>
#include <stdint.h>

#define STATS_LATENCY_BUCKETS 320

typedef struct producer_stats {
    uint64_t issued; /* distinct messages given a COUNT */
    uint64_t sent;   /* transfers, including resends */
    uint64_t accepted;
    uint64_t rejected;      /* failed for good: rejected, or out of retries */
    uint64_t retried;       /* resends */
    uint64_t late_accepted; /* acceptances of transfers whose message had finished */
    uint64_t late_open;     /* transfers of finished messages still without an outcome */
    uint64_t latency_counts[STATS_LATENCY_BUCKETS];
    uint64_t latency_total;
} producer_stats;

/* Records one send-to-acknowledge latency in microseconds. */
void stats_record_latency(producer_stats *stats, int64_t latency_us);

/* Returns the latency in microseconds below which `fraction` (0..1) of the samples fall; 0 when
 * there are none. */
int64_t stats_latency_percentile_us(const producer_stats *stats, double fraction);

#endif
