#include "check.h"
#include "metrics.h"

#include <stddef.h>
#include <stdlib.h>

TEST_CASE(render_prometheus_text)
{
    static const double bounds[] = {0.01, 0.1, 1.0};
    metrics_registry *registry = metrics_registry_create();
    metrics_counter *sent = metrics_counter_add(registry, "demo_sent_total", NULL, "Sent.");
    metrics_gauge *inflight =
        metrics_gauge_add(registry, "demo_inflight", "queue=\"orders\"", "In flight.");
    metrics_histogram *latency =
        metrics_histogram_add(registry, "demo_latency_seconds", NULL, "Latency.", bounds, 3);

    metrics_counter_inc(sent, 3);
    metrics_counter_inc(sent, 2);
    metrics_gauge_set(inflight, 10);
    metrics_gauge_add_value(inflight, -4);
    metrics_histogram_observe(latency, 0.005);
    metrics_histogram_observe(latency, 0.05);
    metrics_histogram_observe(latency, 0.05);
    metrics_histogram_observe(latency, 5.0);

    char *text = metrics_render(registry, NULL);
    const char *expected[] = {
        "# HELP demo_sent_total Sent.\n# TYPE demo_sent_total counter\ndemo_sent_total 5\n",
        "# TYPE demo_inflight gauge\ndemo_inflight{queue=\"orders\"} 6\n",
        "# TYPE demo_latency_seconds histogram\n",
        "demo_latency_seconds_bucket{le=\"0.01\"} 1\n",
        "demo_latency_seconds_bucket{le=\"0.1\"} 3\n",
        "demo_latency_seconds_bucket{le=\"1\"} 3\n",
        "demo_latency_seconds_bucket{le=\"+Inf\"} 4\n",
        "demo_latency_seconds_sum 5.105000\n",
        "demo_latency_seconds_count 4\n",
    };
    for (size_t i = 0; i < sizeof expected / sizeof expected[0]; i++) {
        if (strstr(text, expected[i]) == NULL) {
            fprintf(stderr, "missing \"%s\" in:\n%s\n", expected[i], text);
            check_failures++;
        }
    }
    CHECK_INT_EQ(metrics_counter_get(sent), 5);
    free(text);
    metrics_registry_destroy(registry);
}

TEST_CASE(family_help_once)
{
    metrics_registry *registry = metrics_registry_create();

    metrics_counter_inc(metrics_counter_add(registry, "demo_total", "kind=\"a\"", "Demo."), 1);
    metrics_counter_inc(metrics_counter_add(registry, "demo_total", "kind=\"b\"", "Demo."), 2);
    char *text = metrics_render(registry, NULL);
    char *first = strstr(text, "# HELP demo_total");
    CHECK(first != NULL);
    CHECK(first == NULL || strstr(first + 1, "# HELP demo_total") == NULL);
    CHECK(strstr(text, "demo_total{kind=\"a\"} 1\ndemo_total{kind=\"b\"} 2\n") != NULL);
    free(text);
    metrics_registry_destroy(registry);
}

typedef struct demo_metrics {
    metrics_counter *sent;
    metrics_counter *retried_busy;
    metrics_gauge *inflight;
    metrics_histogram *latency;
} demo_metrics;

/* A table registers the same metrics, in the same order, as one call per metric. */
TEST_CASE(register_table_fills_fields)
{
    static const double bounds[] = {0.01, 0.1};
    static const metrics_definition definitions[] = {
        {METRICS_COUNTER, "demo_sent_total", NULL, "Sent.", NULL, 0, offsetof(demo_metrics, sent)},
        {METRICS_COUNTER, "demo_retries_total", "cause=\"busy\"", "Retries.", NULL, 0,
         offsetof(demo_metrics, retried_busy)},
        {METRICS_GAUGE, "demo_inflight", NULL, "In flight.", NULL, 0,
         offsetof(demo_metrics, inflight)},
        {METRICS_HISTOGRAM, "demo_latency_seconds", NULL, "Latency.", bounds, 2,
         offsetof(demo_metrics, latency)},
    };
    metrics_registry *by_table = metrics_registry_create();
    metrics_registry *by_call = metrics_registry_create();
    demo_metrics demo = {0};

    metrics_register_table(by_table, definitions, 4, &demo);
    CHECK(demo.sent != NULL);
    CHECK(demo.retried_busy != NULL);
    CHECK(demo.inflight != NULL);
    CHECK(demo.latency != NULL);
    CHECK_INT_EQ(demo.latency->bucket_count, 2);
    metrics_counter_inc(demo.retried_busy, 2);
    metrics_histogram_observe(demo.latency, 0.05);

    metrics_counter_add(by_call, "demo_sent_total", NULL, "Sent.");
    metrics_counter_inc(
        metrics_counter_add(by_call, "demo_retries_total", "cause=\"busy\"", "Retries."), 2);
    metrics_gauge_add(by_call, "demo_inflight", NULL, "In flight.");
    metrics_histogram_observe(
        metrics_histogram_add(by_call, "demo_latency_seconds", NULL, "Latency.", bounds, 2), 0.05);

    char *table_text = metrics_render(by_table, NULL);
    char *call_text = metrics_render(by_call, NULL);
    CHECK_STR_EQ(table_text, call_text);
    CHECK(strstr(table_text, "demo_retries_total{cause=\"busy\"} 2\n") != NULL);
    free(table_text);
    free(call_text);
    metrics_registry_destroy(by_table);
    metrics_registry_destroy(by_call);
}

TEST_MAIN(TEST_ENTRY(render_prometheus_text), TEST_ENTRY(family_help_once),
          TEST_ENTRY(register_table_fills_fields))
