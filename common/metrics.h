/*
 * A small metrics registry rendered in the Prometheus text exposition format (version 0.0.4).
 *
 * Counters, gauges and histograms are registered at start-up (not thread-safe), then updated
 * from any thread without locks: every value is a C11 atomic. Rendering reads the atomics
 * without stopping writers, so a histogram's buckets and count may differ by an update in
 * flight. Labels are fixed at registration; never put a secret in a name, help or label.
 */
#ifndef WL_METRICS_H
#define WL_METRICS_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define METRICS_MAX_BUCKETS 24

typedef struct metrics_registry metrics_registry;

typedef struct metrics_counter {
    atomic_uint_fast64_t value;
} metrics_counter;

typedef struct metrics_gauge {
    atomic_int_fast64_t value;
} metrics_gauge;

typedef struct metrics_histogram {
    double bounds[METRICS_MAX_BUCKETS]; /* upper bounds in the metric's unit, ascending */
    size_t bucket_count;
    atomic_uint_fast64_t buckets[METRICS_MAX_BUCKETS + 1]; /* last one is +Inf */
    atomic_uint_fast64_t count;
    atomic_uint_fast64_t sum_micros; /* sum of observations times 1e6 */
} metrics_histogram;

metrics_registry *metrics_registry_create(void);
void metrics_registry_destroy(metrics_registry *registry);

/*
 * Registers a metric and returns a pointer owned by the registry, valid until it is destroyed.
 * `name` follows Prometheus rules (for example "producer_messages_sent_total"); `labels` is
 * NULL or a label set without braces, such as "queue=\"orders\"".
 */
metrics_counter *metrics_counter_add(metrics_registry *registry, const char *name,
                                     const char *labels, const char *help);
metrics_gauge *metrics_gauge_add(metrics_registry *registry, const char *name, const char *labels,
                                 const char *help);
/* `bounds` ascending, at most METRICS_MAX_BUCKETS of them, in seconds for latency metrics. */
metrics_histogram *metrics_histogram_add(metrics_registry *registry, const char *name,
                                         const char *labels, const char *help, const double *bounds,
                                         size_t bound_count);

static inline void metrics_counter_inc(metrics_counter *counter, uint64_t delta)
{
    atomic_fetch_add_explicit(&counter->value, delta, memory_order_relaxed);
}

static inline uint64_t metrics_counter_get(metrics_counter *counter)
{
    return atomic_load_explicit(&counter->value, memory_order_relaxed);
}

static inline void metrics_gauge_set(metrics_gauge *gauge, int64_t value)
{
    atomic_store_explicit(&gauge->value, value, memory_order_relaxed);
}

static inline void metrics_gauge_add_value(metrics_gauge *gauge, int64_t delta)
{
    atomic_fetch_add_explicit(&gauge->value, delta, memory_order_relaxed);
}

void metrics_histogram_observe(metrics_histogram *histogram, double value);

typedef enum metrics_kind {
    METRICS_COUNTER,
    METRICS_GAUGE,
    METRICS_HISTOGRAM,
} metrics_kind;

/* One row of a program's metrics table, registered by metrics_register_table. */
typedef struct metrics_definition {
    metrics_kind kind;
    const char *name;
    const char *labels; /* NULL for none */
    const char *help;
    const double *bounds; /* METRICS_HISTOGRAM only: ascending, at most METRICS_MAX_BUCKETS */
    size_t bound_count;
    size_t offset; /* offsetof(target struct, its metrics_counter *, metrics_gauge * or
                      metrics_histogram * field) */
} metrics_definition;

/*
 * Registers every row of `definitions` in order and stores each metric's pointer in the field
 * of `target` that the row's offset names. The pointers are owned by the registry.
 */
void metrics_register_table(metrics_registry *registry, const metrics_definition *definitions,
                            size_t count, void *target);

/* Renders every metric; caller frees with free(). `out_length` may be NULL. */
char *metrics_render(metrics_registry *registry, size_t *out_length);

#endif
