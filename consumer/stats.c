#include "stats.h"

#include <stddef.h>

/* Seconds: Cosmos requests take milliseconds, end-to-end latency includes queueing. */
static const double latency_bounds[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                        0.5,    1,     2.5,    5,     10,   30,    60,   300};

#define FIELD(name) offsetof(consumer_stats, name)
#define COUNTER(name, help, field)                                                                 \
    {                                                                                              \
        METRICS_COUNTER, name, NULL, help, NULL, 0, FIELD(field)                                   \
    }
#define RETRIES(cause, field)                                                                      \
    {                                                                                              \
        METRICS_COUNTER, "consumer_cosmos_retries_total", "cause=\"" cause "\"",                   \
            "Cosmos DB writes retried, by HTTP status or transport failure", NULL, 0, FIELD(field) \
    }
#define LATENCY(name, help, field)                                                                 \
    {                                                                                              \
        METRICS_HISTOGRAM, name, NULL, help, latency_bounds,                                       \
            sizeof latency_bounds / sizeof latency_bounds[0], FIELD(field)                         \
    }

static const metrics_definition definitions[] = {
    COUNTER("consumer_messages_received_total", "messages received from Service Bus", received),
    COUNTER("consumer_messages_completed_total",
            "messages completed after their document was stored", completed),
    COUNTER("consumer_messages_abandoned_total", "messages abandoned for redelivery", abandoned),
    COUNTER("consumer_messages_dead_lettered_total", "messages moved to the dead-letter queue",
            dead_lettered),
    COUNTER("consumer_lock_renewals_total", "message locks renewed through $management",
            lock_renewals),
    COUNTER("consumer_locks_lost_total", "messages whose lock expired before settlement",
            lock_lost),
    COUNTER("consumer_reconnects_total", "AMQP connections opened after the first one", reconnects),
    COUNTER("consumer_token_refreshes_total", "Entra tokens fetched for Cosmos DB",
            token_refreshes),
    COUNTER("consumer_late_settlements_total",
            "messages settled through $management after their link was gone", late_settlements),
    COUNTER("consumer_cosmos_connections_total", "connections opened to Cosmos DB",
            cosmos_connections),
    COUNTER("consumer_cosmos_tls_resumptions_total",
            "Cosmos DB connections that resumed an earlier TLS session", cosmos_tls_resumptions),
    COUNTER("consumer_coalesce_pauses_total",
            "pauses taken so that Cosmos DB responses arriving one by one are handled together",
            coalesce_pauses),
    COUNTER("consumer_stamps_in_future_total",
            "completed messages whose srcStamp was later than the consumer's clock, which "
            "consumer_end_to_end_seconds leaves out",
            stamps_in_future),
    COUNTER("consumer_cosmos_idle_reads_total",
            "container reads made after --cosmos-idle-check without a Cosmos DB request, to "
            "notice an outage while the queue is empty",
            idle_reads),
    COUNTER("consumer_cosmos_idle_read_failures_total",
            "idle container reads that got no response or a status other than 200",
            idle_read_failures),
    RETRIES("408", retries_408),
    RETRIES("429", retries_429),
    RETRIES("449", retries_449),
    RETRIES("500", retries_500),
    RETRIES("502", retries_502),
    RETRIES("503", retries_503),
    RETRIES("504", retries_504),
    RETRIES("other", retries_other),
    RETRIES("transport", retries_transport),
    {METRICS_GAUGE, "consumer_messages_in_flight", NULL, "messages received and not yet settled",
     NULL, 0, FIELD(in_flight)},
    LATENCY("consumer_cosmos_request_seconds",
            "latency of one Cosmos DB request, queueing in the client included", cosmos_latency),
    LATENCY("consumer_end_to_end_seconds",
            "time from the message's srcStamp to its document being stored", end_to_end_latency),
};

void consumer_stats_register(consumer_stats *stats, metrics_registry *registry)
{
    metrics_register_table(registry, definitions, sizeof definitions / sizeof definitions[0],
                           stats);
}

void consumer_stats_count_retry(const consumer_stats *stats, int http_status)
{
    metrics_counter *counter;

    switch (http_status) {
    case 0:
        counter = stats->retries_transport;
        break;
    case 408:
        counter = stats->retries_408;
        break;
    case 429:
        counter = stats->retries_429;
        break;
    case 449:
        counter = stats->retries_449;
        break;
    case 500:
        counter = stats->retries_500;
        break;
    case 502:
        counter = stats->retries_502;
        break;
    case 503:
        counter = stats->retries_503;
        break;
    case 504:
        counter = stats->retries_504;
        break;
    default:
        counter = stats->retries_other;
        break;
    }
    metrics_counter_inc(counter, 1);
}
