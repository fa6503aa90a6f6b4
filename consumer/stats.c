#include "stats.h"

#include <stddef.h>
#include <stdio.h>

/* Seconds: Cosmos requests take milliseconds, end-to-end latency includes queueing. */
static const double latency_bounds[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                        0.5,    1,     2.5,    5,     10,   30,    60,   300};

static metrics_counter *retry_counter(metrics_registry *registry, const char *cause)
{
    char labels[48];

    snprintf(labels, sizeof labels, "cause=\"%s\"", cause);
    return metrics_counter_add(registry, "consumer_cosmos_retries_total", labels,
                               "Cosmos DB writes retried, by HTTP status or transport failure");
}

void consumer_stats_register(consumer_stats *stats, metrics_registry *registry)
{
    size_t bounds = sizeof latency_bounds / sizeof latency_bounds[0];

    stats->received = metrics_counter_add(registry, "consumer_messages_received_total", NULL,
                                          "messages received from Service Bus");
    stats->completed = metrics_counter_add(registry, "consumer_messages_completed_total", NULL,
                                           "messages completed after their document was stored");
    stats->abandoned = metrics_counter_add(registry, "consumer_messages_abandoned_total", NULL,
                                           "messages abandoned for redelivery");
    stats->dead_lettered = metrics_counter_add(registry, "consumer_messages_dead_lettered_total",
                                               NULL, "messages moved to the dead-letter queue");
    stats->lock_renewals = metrics_counter_add(registry, "consumer_lock_renewals_total", NULL,
                                               "message locks renewed through $management");
    stats->lock_lost = metrics_counter_add(registry, "consumer_locks_lost_total", NULL,
                                           "messages whose lock expired before settlement");
    stats->reconnects = metrics_counter_add(registry, "consumer_reconnects_total", NULL,
                                            "AMQP connections opened after the first one");
    stats->token_refreshes = metrics_counter_add(registry, "consumer_token_refreshes_total", NULL,
                                                 "Entra tokens fetched for Cosmos DB");
    stats->late_settlements =
        metrics_counter_add(registry, "consumer_late_settlements_total", NULL,
                            "messages settled through $management after their link was gone");
    stats->retries_408 = retry_counter(registry, "408");
    stats->retries_429 = retry_counter(registry, "429");
    stats->retries_449 = retry_counter(registry, "449");
    stats->retries_500 = retry_counter(registry, "500");
    stats->retries_502 = retry_counter(registry, "502");
    stats->retries_503 = retry_counter(registry, "503");
    stats->retries_504 = retry_counter(registry, "504");
    stats->retries_other = retry_counter(registry, "other");
    stats->retries_transport = retry_counter(registry, "transport");
    stats->in_flight = metrics_gauge_add(registry, "consumer_messages_in_flight", NULL,
                                         "messages received and not yet settled");
    stats->cosmos_latency =
        metrics_histogram_add(registry, "consumer_cosmos_request_seconds", NULL,
                              "latency of one Cosmos DB request, queueing in the client included",
                              latency_bounds, bounds);
    stats->end_to_end_latency = metrics_histogram_add(
        registry, "consumer_end_to_end_seconds", NULL,
        "time from the message's srcStamp to its document being stored", latency_bounds, bounds);
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
