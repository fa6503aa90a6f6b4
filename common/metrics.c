#include "metrics.h"

#include "status.h"

#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef enum metric_kind {
    METRIC_COUNTER,
    METRIC_GAUGE,
    METRIC_HISTOGRAM,
} metric_kind;

typedef struct metric {
    metric_kind kind;
    char *name;
    char *labels; /* NULL or the label set without braces */
    char *help;
    union {
        metrics_counter counter;
        metrics_gauge gauge;
        metrics_histogram histogram;
    } value;
    struct metric *next;
} metric;

struct metrics_registry {
    metric *first;
    metric *last;
};

metrics_registry *metrics_registry_create(void)
{
    return wl_xcalloc(1, sizeof(metrics_registry));
}

void metrics_registry_destroy(metrics_registry *registry)
{
    if (registry == NULL) {
        return;
    }
    for (metric *m = registry->first; m != NULL;) {
        metric *next = m->next;
        free(m->name);
        free(m->labels);
        free(m->help);
        free(m);
        m = next;
    }
    free(registry);
}

static metric *metric_add(metrics_registry *registry, metric_kind kind, const char *name,
                          const char *labels, const char *help)
{
    metric *m = wl_xcalloc(1, sizeof *m);

    m->kind = kind;
    m->name = wl_xstrdup(name);
    m->labels = labels != NULL && *labels != '\0' ? wl_xstrdup(labels) : NULL;
    m->help = wl_xstrdup(help);
    if (registry->last == NULL) {
        registry->first = m;
    } else {
        registry->last->next = m;
    }
    registry->last = m;
    return m;
}

metrics_counter *metrics_counter_add(metrics_registry *registry, const char *name,
                                     const char *labels, const char *help)
{
    return &metric_add(registry, METRIC_COUNTER, name, labels, help)->value.counter;
}

metrics_gauge *metrics_gauge_add(metrics_registry *registry, const char *name, const char *labels,
                                 const char *help)
{
    return &metric_add(registry, METRIC_GAUGE, name, labels, help)->value.gauge;
}

metrics_histogram *metrics_histogram_add(metrics_registry *registry, const char *name,
                                         const char *labels, const char *help, const double *bounds,
                                         size_t bound_count)
{
    metric *m = metric_add(registry, METRIC_HISTOGRAM, name, labels, help);
    metrics_histogram *histogram = &m->value.histogram;

    if (bound_count > METRICS_MAX_BUCKETS) {
        bound_count = METRICS_MAX_BUCKETS;
    }
    memcpy(histogram->bounds, bounds, bound_count * sizeof *bounds);
    histogram->bucket_count = bound_count;
    return histogram;
}

void metrics_register_table(metrics_registry *registry, const metrics_definition *definitions,
                            size_t count, void *target)
{
    for (size_t i = 0; i < count; i++) {
        const metrics_definition *row = &definitions[i];
        void *field = (char *)target + row->offset;

        switch (row->kind) {
        case METRICS_COUNTER:
            *(metrics_counter **)field =
                metrics_counter_add(registry, row->name, row->labels, row->help);
            break;
        case METRICS_GAUGE:
            *(metrics_gauge **)field =
                metrics_gauge_add(registry, row->name, row->labels, row->help);
            break;
        case METRICS_HISTOGRAM:
            *(metrics_histogram **)field = metrics_histogram_add(
                registry, row->name, row->labels, row->help, row->bounds, row->bound_count);
            break;
        }
    }
}

void metrics_histogram_observe(metrics_histogram *histogram, double value)
{
    size_t bucket = 0;

    /* Buckets are stored non-cumulatively; rendering adds them up. */
    while (bucket < histogram->bucket_count && value > histogram->bounds[bucket]) {
        bucket++;
    }
    atomic_fetch_add_explicit(&histogram->buckets[bucket], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&histogram->count, 1, memory_order_relaxed);
    if (value > 0) {
        atomic_fetch_add_explicit(&histogram->sum_micros, (uint_fast64_t)llround(value * 1e6),
                                  memory_order_relaxed);
    }
}

typedef struct render_buffer {
    char *data;
    size_t length;
    size_t capacity;
} render_buffer;

static void emit(render_buffer *out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void emit(render_buffer *out, const char *fmt, ...)
{
    va_list args;
    int needed;

    va_start(args, fmt);
    needed = vsnprintf(NULL, 0, fmt, args);
    va_end(args);
    if (needed < 0) {
        return;
    }
    if (out->length + (size_t)needed + 1 > out->capacity) {
        size_t capacity = out->capacity == 0 ? 1024 : out->capacity;
        while (out->length + (size_t)needed + 1 > capacity) {
            capacity *= 2;
        }
        out->data = wl_xrealloc(out->data, capacity);
        out->capacity = capacity;
    }
    va_start(args, fmt);
    vsnprintf(out->data + out->length, out->capacity - out->length, fmt, args);
    va_end(args);
    out->length += (size_t)needed;
}

/* Writes the label set of one sample: "{labels}" or "{labels,le="0.5"}". */
static void emit_labels(render_buffer *out, const metric *m, const char *le)
{
    if (m->labels == NULL && le == NULL) {
        return;
    }
    emit(out, "{%s%s", m->labels != NULL ? m->labels : "", m->labels != NULL && le ? "," : "");
    if (le != NULL) {
        emit(out, "le=\"%s\"", le);
    }
    emit(out, "}");
}

static bool same_family(const metric *a, const metric *b)
{
    return b != NULL && strcmp(a->name, b->name) == 0;
}

static void render_histogram(render_buffer *out, metric *m)
{
    metrics_histogram *h = &m->value.histogram;
    uint64_t cumulative = 0;
    char le[32];

    for (size_t i = 0; i <= h->bucket_count; i++) {
        cumulative += atomic_load_explicit(&(h)->buckets[i], memory_order_relaxed);
        if (i < h->bucket_count) {
            snprintf(le, sizeof le, "%g", h->bounds[i]);
        } else {
            snprintf(le, sizeof le, "+Inf");
        }
        emit(out, "%s_bucket", m->name);
        emit_labels(out, m, le);
        emit(out, " %" PRIu64 "\n", cumulative);
    }
    emit(out, "%s_sum", m->name);
    emit_labels(out, m, NULL);
    emit(out, " %.6f\n", (double)atomic_load(&(h)->sum_micros) / 1e6);
    emit(out, "%s_count", m->name);
    emit_labels(out, m, NULL);
    emit(out, " %" PRIu64 "\n", cumulative);
}

char *metrics_render(metrics_registry *registry, size_t *out_length)
{
    static const char *const type_names[] = {"counter", "gauge", "histogram"};
    render_buffer out = {0};
    const metric *previous = NULL;

    emit(&out, "%s", "");
    for (metric *m = registry->first; m != NULL; previous = m, m = m->next) {
        /* HELP and TYPE once per family, even when several label sets share a name. */
        if (!same_family(m, previous)) {
            emit(&out, "# HELP %s %s\n# TYPE %s %s\n", m->name, m->help, m->name,
                 type_names[m->kind]);
        }
        switch (m->kind) {
        case METRIC_COUNTER:
            emit(&out, "%s", m->name);
            emit_labels(&out, m, NULL);
            emit(&out, " %" PRIu64 "\n", (uint64_t)atomic_load(&(m)->value.counter.value));
            break;
        case METRIC_GAUGE:
            emit(&out, "%s", m->name);
            emit_labels(&out, m, NULL);
            emit(&out, " %" PRId64 "\n", (int64_t)atomic_load(&(m)->value.gauge.value));
            break;
        case METRIC_HISTOGRAM:
            render_histogram(&out, m);
            break;
        }
    }
    if (out_length != NULL) {
        *out_length = out.length;
    }
    return out.data;
}
