#include "writer.h"

#include "backoff.h"
#include "coalesce.h"
#include "document.h"
#include "encoding.h"
#include "log.h"
#include "timefmt.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

/* Maximum time between two writer_run calls, so that deadlines are seen promptly. */
#define POLL_MAX_MS 1000
/* A cause of not being ready that repeats is logged at warn at most this often. */
#define NOT_READY_LOG_INTERVAL_MS 60000
/* How often the writer gives free heap pages back to the kernel (trim_heap). */
#define HEAP_TRIM_INTERVAL_MS 1000

typedef enum check_step {
    CHECK_IDLE,
    CHECK_DATABASE,  /* creating the database (master key) */
    CHECK_CONTAINER, /* creating the container (master key) */
    CHECK_READ,      /* reading the container (Entra) */
    CHECK_IDLE_READ, /* reading the container while ready and idle */
} check_step;

struct writer {
    writer_options options;
    const wl_clock *clock;
    cosmos_client *cosmos;
    consumer_job **jobs; /* every job the writer owns */
    size_t job_count;
    int active; /* upserts in progress */
    bool ready;
    bool sockets_ready;             /* the Cosmos client's descriptor was readable */
    uint64_t finished;              /* requests finished so far, checks included */
    int finished_in_run;            /* requests that the last writer_run finished */
    int64_t last_finished_ms;       /* when writer_run last saw a request finish */
    uint64_t answered;              /* requests that got an HTTP response, checks included */
    uint64_t answered_at_idle_read; /* `answered` when the idle container read went out */
    coalesce coalesce;

    check_step check;
    int check_attempt;
    int64_t next_check_ms;
    backoff_policy check_backoff;

    /* The not-ready cause last logged at warn, so that repeats are rate-limited. */
    char not_ready_kind[96];
    int64_t not_ready_logged_ms;
    unsigned not_ready_repeats; /* times it recurred since it was last logged */

    uint64_t jitter_state; /* xorshift64 state for backoff jitter, seeded from the OS */
    int64_t next_trim_ms;
    bool uses_key;
    cred_token token;
    int64_t next_token_ms;
};

static void set_not_ready(writer *w, const char *kind, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/*
 * Marks Cosmos not ready for `reason` and schedules the next check. `kind` names the cause,
 * such as curl's error name or "HTTP 403". A kind that differs from the last one logged is
 * logged at warn at once, even before the first success, so a consumer that never gets ready
 * logs why. The same kind again is logged at warn once a minute, with a repeat count.
 */
static void set_not_ready(writer *w, const char *kind, const char *fmt, ...)
{
    char reason[512];
    va_list args;
    int64_t now = wl_clock_monotonic_ms(w->clock);

    va_start(args, fmt);
    int length = vsnprintf(reason, sizeof reason, fmt, args);
    va_end(args);
    if (length >= (int)sizeof reason) {
        /* Show that the end was cut, and cut where a character ends. */
        char kept[sizeof reason - 3];
        wl_utf8_copy(kept, sizeof kept, reason);
        snprintf(reason, sizeof reason, "%s...", kept);
    }

    bool was_ready = w->ready;
    w->ready = false;
    health_component_set(w->options.health, false, reason);
    bool new_kind = strncmp(kind, w->not_ready_kind, sizeof w->not_ready_kind - 1) != 0;
    if (was_ready || new_kind || now - w->not_ready_logged_ms >= NOT_READY_LOG_INTERVAL_MS) {
        if (w->not_ready_repeats > 0 && !new_kind) {
            LOG_WARN("cosmos-not-ready", "%s (%u more times since the last report)", reason,
                     w->not_ready_repeats);
        } else {
            LOG_WARN("cosmos-not-ready", "%s", reason);
        }
        snprintf(w->not_ready_kind, sizeof w->not_ready_kind, "%s", kind);
        w->not_ready_logged_ms = now;
        w->not_ready_repeats = 0;
    } else {
        w->not_ready_repeats++;
        LOG_DEBUG("cosmos-not-ready", "%s", reason);
    }
    int64_t delay = backoff_delay_ms(&w->check_backoff, (unsigned)w->check_attempt, NULL);
    w->check_attempt++;
    w->next_check_ms = now + delay;
}

/* Names the cause of a failed request for set_not_ready: curl's error name when no response
 * arrived, else the HTTP status. */
static void failure_kind(const cosmos_result *result, char *out, size_t capacity)
{
    if (result->http_status == 0) {
        snprintf(out, capacity, "%s", result->error.condition);
    } else {
        snprintf(out, capacity, "HTTP %d", result->http_status);
    }
}

static void set_ready(writer *w)
{
    w->check_attempt = 0;
    w->not_ready_kind[0] = '\0'; /* so the next failure is logged at warn */
    w->not_ready_repeats = 0;
    health_component_set(w->options.health, true, "");
    if (!w->ready) {
        w->ready = true;
        LOG_INFO("cosmos-ready", "Cosmos DB container %s/%s is reachable",
                 w->options.cosmos.database, w->options.cosmos.container);
    }
}

/* Removes `job` and keeps the others in arrival order, which decides who starts first. */
static void remove_job(writer *w, consumer_job *job)
{
    for (size_t i = 0; i < w->job_count; i++) {
        if (w->jobs[i] == job) {
            memmove(&w->jobs[i], &w->jobs[i + 1], (w->job_count - i - 1) * sizeof w->jobs[0]);
            w->job_count--;
            return;
        }
    }
}

/* Returns `job` to the receiver with its final action. */
static void finish(writer *w, consumer_job *job, settle_action action, const char *reason,
                   const char *description)
{
    job->action = action;
    wl_utf8_copy(job->reason, sizeof job->reason, reason);
    wl_utf8_copy(job->description, sizeof job->description, description);
    remove_job(w, job);
    if (!job_queue_push(w->options.outbox, job)) {
        /* The outbox has room for every delivery slot of the receiver, so this is a bug. */
        LOG_ERROR("outbox-full", "the writer's outbox is full; aborting");
        abort();
    }
}

/* ---- Cosmos checks ---- */

/* Writes a description of a failed request that fits a dead-letter description. The excerpts
 * end at character boundaries, because the description must be UTF-8. */
static void describe_result(const cosmos_result *result, char *out, size_t capacity)
{
    char message[201];
    char activity_id[41];

    wl_utf8_copy(message, sizeof message, result->error.message);
    if (result->http_status == 0) {
        snprintf(out, capacity, "Cosmos DB unreachable: %s", message);
    } else {
        wl_utf8_copy(activity_id, sizeof activity_id,
                     result->activity_id[0] ? result->activity_id : "none");
        snprintf(out, capacity, "%s (activity id %s)", message, activity_id);
    }
}

static void on_check_done(void *ctx, const cosmos_result *result);

/* Counts a finished request of either kind, and the connection it opened, if any. */
static void count_request(writer *w, const cosmos_result *result)
{
    w->finished++;
    if (result->http_status != 0) {
        w->answered++;
    }
    if (result->opened_connection) {
        metrics_counter_inc(w->options.stats->cosmos_connections, 1);
    }
    if (result->resumed_tls_session) {
        metrics_counter_inc(w->options.stats->cosmos_tls_resumptions, 1);
    }
}

/* Returns whether a ready, idle writer should read the container, so that /readyz reports an
 * outage while the queue is empty too. The default interval, 10 s, is Kubernetes' default
 * readiness probe period. */
static bool idle_read_due(const writer *w, int64_t now)
{
    return w->options.idle_check_ms > 0 && w->ready && w->check == CHECK_IDLE && w->active == 0 &&
           now - w->last_finished_ms >= w->options.idle_check_ms;
}

/* Reads the container while ready and idle, and notes how many requests had a response. */
static void start_idle_read(writer *w)
{
    w->check = CHECK_IDLE_READ;
    w->answered_at_idle_read = w->answered;
    metrics_counter_inc(w->options.stats->idle_reads, 1);
    cosmos_read_container(w->cosmos, on_check_done, w);
}

static void start_check(writer *w)
{
    if (!w->uses_key) {
        w->check = CHECK_READ;
        cosmos_read_container(w->cosmos, on_check_done, w);
    } else {
        w->check = CHECK_DATABASE;
        cosmos_create_database(w->cosmos, on_check_done, w);
    }
}

/*
 * Returns true when a failed idle read leaves the writer ready (logged at debug) or goes out
 * again. An outage is only no response with no other response meanwhile, or a 401, 403 or 404.
 */
static bool idle_read_failure_tolerated(writer *w, const cosmos_result *result)
{
    int http = result->http_status;

    /* Writes retry a 429 or 5xx while staying ready, and so does the idle read. */
    if (http != 0 && http != 401 && http != 403 && http != 404) {
        LOG_DEBUG("cosmos-idle-read-failed", "the idle container read got HTTP %d: %s", http,
                  result->error.message);
        return true;
    }
    /* Servers close connections that sat idle, and an idle writer has many. The read goes out
     * again at once, on another connection or a new one, and that result decides. */
    if (http == 0 && result->kept_alive_connection_lost) {
        LOG_DEBUG("cosmos-connection-lost",
                  "the idle container read lost its kept-alive connection; reading again");
        start_idle_read(w);
        return true;
    }
    /* A write that got a response while the read was out shows that Cosmos DB is reachable. */
    if (http == 0 && w->answered != w->answered_at_idle_read) {
        LOG_DEBUG("cosmos-idle-read-failed",
                  "the idle container read failed, but Cosmos DB responded to other requests "
                  "meanwhile: %s",
                  result->error.message);
        return true;
    }
    return false;
}

static void on_check_done(void *ctx, const cosmos_result *result)
{
    writer *w = ctx;
    int http = result->http_status;
    char detail[400];
    char kind[96];
    check_step step = w->check;

    count_request(w, result);

    w->check = CHECK_IDLE;
    bool exists = http == 201 || http == 409;
    if (step == CHECK_DATABASE && exists) {
        w->check = CHECK_CONTAINER;
        cosmos_create_container(w->cosmos, on_check_done, w);
        return;
    }
    bool container_read = step == CHECK_READ || step == CHECK_IDLE_READ;
    if ((step == CHECK_CONTAINER && exists) || (container_read && http == 200)) {
        set_ready(w);
        return;
    }
    if (step == CHECK_IDLE_READ) {
        metrics_counter_inc(w->options.stats->idle_read_failures, 1);
        if (idle_read_failure_tolerated(w, result)) {
            return;
        }
    }

    describe_result(result, detail, sizeof detail);
    failure_kind(result, kind, sizeof kind);
    if (container_read && http == 404 && w->uses_key) {
        /* The next check creates the database and the container again. */
        set_not_ready(w, kind, "container %s/%s not found; creating it again",
                      w->options.cosmos.database, w->options.cosmos.container);
    } else if (container_read && http == 404) {
        set_not_ready(w, kind,
                      "container %s/%s not found; Entra tokens cannot create it: run az "
                      "cosmosdb sql container create with --partition-key-path %s",
                      w->options.cosmos.database, w->options.cosmos.container,
                      w->options.cosmos.partition_key_path);
    } else if (http == 401 || http == 403) {
        set_not_ready(w, kind,
                      "Cosmos DB rejected our credentials (HTTP %d); check COSMOS_KEY or the "
                      "identity's data role: %s",
                      http, detail);
    } else {
        set_not_ready(w, kind, "Cosmos DB check failed: %s", detail);
    }
}

/* ---- Entra token for Cosmos ---- */

static void refresh_token(writer *w, int64_t now_ms)
{
    wl_error err = {0};
    cred_token fresh = {0};

    if (w->uses_key || now_ms < w->next_token_ms) {
        return;
    }
    wl_status status =
        cred_get_token(w->options.cosmos_credential, w->options.cosmos_scope, &fresh, &err);
    if (status != WL_OK) {
        char excerpt[151];
        wl_utf8_copy(excerpt, sizeof excerpt, err.message);
        set_not_ready(w, "token", "Entra token for Cosmos DB failed: %s", excerpt);
        w->next_token_ms = w->next_check_ms;
        return;
    }

    /* The credential refreshes in the background and hands out its cached token meanwhile,
     * so past the refresh time the same token comes back until the new one arrives. */
    int64_t now_unix = wl_clock_realtime_us(w->clock) / 1000000;
    int64_t wait_s = fresh.refresh_at_unix - now_unix;
    w->next_token_ms = now_ms + (wait_s > 1 ? wait_s : 1) * 1000;
    if (w->token.token != NULL && strcmp(fresh.token, w->token.token) == 0) {
        cred_token_free(&fresh);
        return;
    }

    cred_token_free(&w->token);
    w->token = fresh;
    cosmos_client_set_aad_token(w->cosmos, w->token.token);
    metrics_counter_inc(w->options.stats->token_refreshes, 1);
    LOG_INFO("cosmos-token", "Entra token for Cosmos DB fetched; refresh in %lld s",
             (long long)wait_s);
}

/* ---- Upserts ---- */

static void on_upsert_done(void *ctx, const cosmos_result *result);

/* Returns the value of the partition key field and its length in `out_length`. The options
 * allow only fields that stay the same when the message is redelivered. */
static const char *partition_value(const writer *w, const consumer_job *job,
                                   const document_fields *fields, size_t *out_length)
{
    const char *field = w->options.partition_key_field;
    const char *value = job->message_id;

    if (strcmp(field, "data") == 0) {
        *out_length = fields->msg_length;
        return fields->msg;
    }
    if (strcmp(field, "srcStamp") == 0) {
        value = fields->src_stamp;
    }
    *out_length = strlen(value);
    return value;
}

/* Validates the message and builds its document; false when the job was settled instead. */
static bool prepare(writer *w, consumer_job *job)
{
    document_fields fields;
    wl_error err = {0};
    size_t key_length = 0;

    /* The message-id becomes the document id and, by default, the partition key. Both must be
     * text that Cosmos DB stores unchanged, or two messages could share one document. */
    if (document_check_id(job->message_id, job->message_id_length, &err) != WL_OK) {
        finish(w, job, settle_invalid_message_action(), err.condition, err.message);
        return false;
    }
    if (document_parse_message(job->body, job->body_length, &fields, &err) != WL_OK) {
        finish(w, job, settle_invalid_message_action(), err.condition, err.message);
        return false;
    }

    int64_t dest_us = wl_clock_realtime_us(w->clock);
    document_meta meta = {
        .message_id = job->message_id,
        .sequence_number = job->sequence_number,
        .enqueued_unix_ms = job->enqueued_unix_ms,
        .delivery_count = job->delivery_count,
    };
    job->document = document_build(&fields, &meta, dest_us, &job->document_length);
    const char *key = partition_value(w, job, &fields, &key_length);
    job->partition_key = wl_xmalloc(key_length + 1);
    memcpy(job->partition_key, key, key_length);
    job->partition_key[key_length] = '\0';
    job->partition_key_length = key_length;
    job->src_unix_us = fields.src_unix_us;
    document_fields_free(&fields);
    return true;
}

static void start_upsert(writer *w, consumer_job *job)
{
    if (job->document == NULL && !prepare(w, job)) {
        return;
    }
    job->attempt++;
    job->write_started = true;
    job->in_progress = true;
    w->active++;
    cosmos_upsert(w->cosmos, job->partition_key, job->partition_key_length, job->document,
                  job->document_length, on_upsert_done, job);
}

/* Returns the next jitter value. Jitter needs no cryptographic strength, and the OS generator
 * would cost a system call per write. */
static uint32_t next_jitter(writer *w)
{
    uint64_t x = w->jitter_state;

    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    w->jitter_state = x;
    return (uint32_t)(x >> 32);
}

static void on_upsert_done(void *ctx, const cosmos_result *result)
{
    consumer_job *job = ctx;
    writer *w = job->writer;
    int64_t now = wl_clock_monotonic_ms(w->clock);
    char detail[300];
    char kind[96];

    count_request(w, result);

    job->in_progress = false;
    w->active--;
    metrics_histogram_observe(w->options.stats->cosmos_latency, (double)result->latency_us / 1e6);
    coalesce_observe(&w->coalesce, result->latency_us);

    settle_input input = {
        .event = result->http_status == 0 ? SETTLE_EVENT_TRANSPORT : SETTLE_EVENT_HTTP,
        .http_status = result->http_status,
        .retry_after_ms = result->retry_after_ms,
        .attempt = job->attempt,
        .now_ms = now,
        .deadline_ms = job->deadline_ms,
        .random = next_jitter(w),
    };
    settle_decision decision = settle_decide(&input, &settle_default_limits);
    if (decision.action != SETTLE_COMPLETE) {
        describe_result(result, detail, sizeof detail);
        failure_kind(result, kind, sizeof kind);
    }

    switch (decision.action) {
    case SETTLE_COMPLETE: {
        double seconds = (double)(wl_clock_realtime_us(w->clock) - job->src_unix_us) / 1e6;
        /* A stamp ahead of our clock (the producer's clock is ahead, or the sender wrote any
         * time it liked) has no latency to observe, and a negative one would land in the
         * lowest bucket as if it were the fastest. */
        if (seconds >= 0) {
            metrics_histogram_observe(w->options.stats->end_to_end_latency, seconds);
        } else {
            metrics_counter_inc(w->options.stats->stamps_in_future, 1);
        }
        finish(w, job, SETTLE_COMPLETE, decision.reason, "");
        break;
    }
    case SETTLE_RETRY_AFTER:
    case SETTLE_RETRY_BACKOFF:
        /* A request without an HTTP response means Cosmos DB is unreachable, not that this
         * message is bad. Stop taking new messages until the container check passes again, so
         * that an outage does not use up the delivery count of the whole backlog and
         * dead-letter good messages. This message keeps retrying until its deadline. A lost
         * kept-alive connection is the exception: servers close idle connections, and one may
         * close as a request goes out on it. The retry goes out on another connection, and in
         * an outage a new connection fails and stops the intake. */
        if (result->http_status == 0 && !result->kept_alive_connection_lost && w->ready) {
            set_not_ready(w, kind, "%s", detail); /* detail names Cosmos DB unreachable */
        }
        consumer_stats_count_retry(w->options.stats, result->http_status);
        job->retry_at_ms = now + decision.delay_ms;
        LOG_DEBUG("cosmos-retry", "message %s attempt %d: %s; retrying in %lld ms",
                  consumer_job_log_id(job), job->attempt, detail, (long long)decision.delay_ms);
        break;
    case SETTLE_ABANDON: {
        char description[320];
        char excerpt[251];
        wl_utf8_copy(excerpt, sizeof excerpt, detail);
        snprintf(description, sizeof description, "retry deadline passed after %d attempts: %s",
                 job->attempt, excerpt);
        finish(w, job, SETTLE_ABANDON, decision.reason, description);
        break;
    }
    case SETTLE_DEAD_LETTER:
        finish(w, job, SETTLE_DEAD_LETTER, decision.reason, detail);
        break;
    case SETTLE_ABANDON_NOT_READY: {
        char excerpt[151];
        wl_utf8_copy(excerpt, sizeof excerpt, detail);
        set_not_ready(w, kind, "%s: %s", decision.reason, excerpt);
        finish(w, job, SETTLE_ABANDON_NOT_READY, decision.reason, detail);
        break;
    }
    case SETTLE_FORGET:
        finish(w, job, SETTLE_FORGET, decision.reason, detail);
        break;
    }
}

/* ---- The work between wake-ups ---- */

/*
 * Starts due attempts, oldest job first, and abandons jobs past their deadline; returns the
 * next due time. The order matters when every request slot is busy. A job that arrived earlier
 * must not wait while later ones take each slot that frees, until its deadline abandons it.
 */
static int64_t run_due_jobs(writer *w, int64_t now)
{
    int64_t next = now + POLL_MAX_MS;
    bool ready = w->ready;

    for (size_t i = 0; i < w->job_count; i++) {
        consumer_job *job = w->jobs[i];

        if (job->in_progress) {
            continue;
        }
        if (now >= job->deadline_ms) {
            finish(w, job, SETTLE_ABANDON, "deadline",
                   ready ? "retry deadline passed"
                         : "retry deadline passed while Cosmos DB was "
                           "not ready");
            i--; /* finish() moved the later jobs down by one */
            continue;
        }
        if (job->deadline_ms < next) {
            next = job->deadline_ms;
        }
        if (!ready) {
            continue;
        }
        if (job->retry_at_ms <= now) {
            /* Due: start it now, or when a request finishes (which ends the poll early). */
            if (w->active < w->options.concurrency) {
                start_upsert(w, job);
                if (i < w->job_count && w->jobs[i] != job) {
                    i--; /* dead-lettered by start_upsert, and so removed */
                }
            }
        } else if (job->retry_at_ms < next) {
            next = job->retry_at_ms;
        }
    }
    return next;
}

/*
 * Gives the free pages inside the process's heaps back to the kernel, at most once per
 * HEAP_TRIM_INTERVAL_MS. glibc returns only the free memory at the top of a heap, while the
 * start-up (the Cosmos check, a TLS handshake per connection) frees memory below blocks still
 * in use. RSS decides how many consumers fit on a node, and with 32 TLS connections trimming
 * lowered it by about 0.5 MB in the benchmark (docs/BENCHMARKS.md).
 */
static void trim_heap(writer *w, int64_t now)
{
#ifdef __GLIBC__
    if (now >= w->next_trim_ms) {
        w->next_trim_ms = now + HEAP_TRIM_INTERVAL_MS;
        malloc_trim(0);
    }
#else
    (void)w;
    (void)now;
#endif
}

/* Drives the Cosmos client without waiting; it finishes jobs through their callbacks. */
static void dispatch_cosmos(writer *w)
{
    wl_error err = {0};
    bool sockets_ready = w->sockets_ready;

    w->sockets_ready = false;
    if (cosmos_dispatch(w->cosmos, sockets_ready, &err) != WL_OK) {
        LOG_ERROR("cosmos-poll-failed", "%s", err.message);
    }
}

int64_t writer_run(writer *w)
{
    int64_t now = wl_clock_monotonic_ms(w->clock);
    int64_t next = now + POLL_MAX_MS;
    uint64_t finished_before = w->finished;

    refresh_token(w, now);
    if (!w->ready && w->check == CHECK_IDLE && now >= w->next_check_ms) {
        start_check(w);
    } else if (idle_read_due(w, now)) {
        start_idle_read(w);
    }

    /* The first round starts due jobs and sends them (a new request is due on curl's timer at
     * once), and reads the responses that arrived. Finished requests free places for jobs
     * that waited for one, which the second round starts and sends. */
    bool finished_last = false;
    for (int round = 0; round < 2; round++) {
        next = run_due_jobs(w, now);
        /* Read the clock after starting requests: curl sets a new request's timer to the
         * current millisecond, and an older reading would leave it for the next wake-up. */
        int64_t system_now = wl_clock_monotonic_ms(wl_clock_system());
        if (!w->sockets_ready && cosmos_next_timer_ms(w->cosmos) > system_now) {
            finished_last = false;
            break;
        }
        uint64_t finished = w->finished;
        dispatch_cosmos(w);
        finished_last = w->finished != finished;
    }
    /* Requests that the second round finished (curl's timer can end them too) may have
     * scheduled a retry or freed a place for a waiting job, which `next` does not cover. */
    if (finished_last) {
        next = now;
    }

    if (!w->ready && w->check == CHECK_IDLE && w->next_check_ms < next) {
        next = w->next_check_ms;
    }
    /* curl's timer runs on the system clock, which may differ from the writer's. */
    int64_t system_now = wl_clock_monotonic_ms(wl_clock_system());
    int64_t timer = cosmos_next_timer_ms(w->cosmos);
    if (timer != INT64_MAX && now + (timer - system_now) < next) {
        next = now + (timer - system_now);
    }
    trim_heap(w, now);
    w->finished_in_run = (int)(w->finished - finished_before);
    if (w->finished_in_run > 0) {
        w->last_finished_ms = now;
    }
    return next;
}

int64_t writer_pause_us(const writer *w)
{
    return coalesce_pause_us(&w->coalesce, w->finished_in_run, w->active);
}

int writer_fd(const writer *w)
{
    return cosmos_fd(w->cosmos);
}

void writer_sockets_ready(writer *w)
{
    w->sockets_ready = true;
}

writer *writer_create(const writer_options *options, wl_error *err)
{
    writer *w = wl_xcalloc(1, sizeof *w);

    w->options = *options;
    w->clock = options->clock ? options->clock : wl_clock_system();
    coalesce_init(&w->coalesce, options->coalesce_max_us);
    w->cosmos = cosmos_client_create(&options->cosmos, err);
    if (w->cosmos == NULL) {
        free(w);
        return NULL;
    }
    w->uses_key = cosmos_client_uses_key(w->cosmos);
    if (!wl_random_bytes(&w->jitter_state, sizeof w->jitter_state) || w->jitter_state == 0) {
        w->jitter_state = (uint64_t)wl_clock_realtime_us(w->clock) | 1u;
    }
    w->jobs = wl_xcalloc(options->queue_capacity, sizeof *w->jobs);
    w->check_backoff = (backoff_policy){.initial_ms = 500, .max_ms = 15000, .multiplier = 2};
    health_component_set(options->health, false, "checking the Cosmos DB container");
    return w;
}

bool writer_submit(writer *w, consumer_job *job)
{
    if (w->job_count == w->options.queue_capacity) {
        return false;
    }
    job->writer = w;
    job->retry_at_ms = wl_clock_monotonic_ms(w->clock);
    w->jobs[w->job_count++] = job;
    return true;
}

bool writer_ready(const writer *w)
{
    return w->ready;
}

void writer_destroy(writer *w)
{
    if (w == NULL) {
        return;
    }

    /* Destroying the client cancels transfers without callbacks; the jobs are still ours. */
    cosmos_client_destroy(w->cosmos);
    while (w->job_count > 0) {
        consumer_job *job = w->jobs[w->job_count - 1];
        job->in_progress = false;
        finish(w, job, SETTLE_ABANDON, "shutdown", "the consumer stopped before the write ended");
    }
    cred_token_free(&w->token);
    free(w->jobs);
    free(w);
}
