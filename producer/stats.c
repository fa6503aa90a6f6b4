#include "stats.h"

#include <math.h>

/* Bucket i counts latencies in [2^(i/8), 2^((i+1)/8)) microseconds, and bucket 0 also 0. */
static size_t bucket_of(int64_t latency_us)
{
    if (latency_us <= 1) {
        return 0;
    }
    double index = floor(log2((double)latency_us) * 8.0);
    if (index >= STATS_LATENCY_BUCKETS) {
        return STATS_LATENCY_BUCKETS - 1;
    }
    return (size_t)index;
}

void stats_record_latency(producer_stats *stats, int64_t latency_us)
{
    stats->latency_counts[bucket_of(latency_us)]++;
    stats->latency_total++;
}

int64_t stats_latency_percentile_us(const producer_stats *stats, double fraction)
{
    uint64_t rank;
    uint64_t seen = 0;

    if (stats->latency_total == 0) {
        return 0;
    }
    rank = (uint64_t)ceil(fraction * (double)stats->latency_total);
    if (rank == 0) {
        rank = 1;
    }
    for (size_t i = 0; i < STATS_LATENCY_BUCKETS; i++) {
        seen += stats->latency_counts[i];
        if (seen >= rank) {
            /* The geometric middle of the bucket. */
            return (int64_t)llround(pow(2.0, ((double)i + 0.5) / 8.0));
        }
    }
    return 0;
}
