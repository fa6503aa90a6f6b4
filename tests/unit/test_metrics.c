#include "check.h"
#include "metrics.h"

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

TEST_MAIN(TEST_ENTRY(render_prometheus_text), TEST_ENTRY(family_help_once))
