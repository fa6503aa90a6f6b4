/*
 * producer: sends JSON messages to a Service Bus queue (or a generic AMQP 1.0 broker) as fast
 * as the window, the link credit and --rate allow, and reports what the service accepted.
 *
 * Threads: the main thread runs the Proton proactor and everything on it. A signal thread
 * (service.h) turns SIGTERM and SIGINT into a stop request that interrupts the proactor.
 * libmicrohttpd serves health checks on its own thread from atomic metrics.
 *
 * Exit status: 0 when every issued message was accepted, 1 when some failed or stayed
 * unacknowledged at shutdown or the run could not connect or authenticate, 2 for invalid
 * configuration.
 */
#include "health.h"
#include "log.h"
#include "metrics.h"
#include "options.h"
#include "sender.h"
#include "service.h"

#include <curl/curl.h>
#include <proton/proactor.h>

#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define PROGRESS_BAR_INTERVAL_MS 250
/* Above this estimate of the memory for a full window the producer warns at start: half the
 * memory limit of the producer Job in deploy/, so that the rest of the process still fits. */
#define BUFFER_WARN_BYTES (128u << 20)
/* Peak RSS of a run that sends one small message (warn_buffer_bound). */
#define BASE_RSS_BYTES (12u << 20)

typedef enum progress_mode {
    PROGRESS_OFF,
    PROGRESS_BAR,
    PROGRESS_JSON,
} progress_mode;

static int64_t monotonic_ms(void)
{
    struct timespec now;

    clock_gettime(CLOCK_MONOTONIC, &now);
    return (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

/* The run that a signal stops; NULL until the run exists. */
typedef struct stop_target {
    _Atomic(producer_run *) run;
} stop_target;

/*
 * Stops the run, on the signal thread. Before the run exists the producer may be in the Entra
 * token exchange, which blocks for 4 attempts of up to 10 s each when the endpoint does not
 * respond. Nothing has been sent then, so the producer exits at once with status 1, as a run
 * stopped before any sender link attached does.
 */
static void stop_on_signal(void *ctx)
{
    stop_target *target = ctx;
    producer_run *run = atomic_load(&target->run);

    if (run == NULL) {
        LOG_WARN("stopping-now", "stopped by a signal before connecting; no message was sent");
        fprintf(stderr, "producer: stopped by a signal before connecting; no message was sent\n");
        _exit(1);
    }
    producer_run_request_stop(run);
}

static progress_mode choose_progress(const char *mode)
{
    if (strcmp(mode, "bar") == 0) {
        return PROGRESS_BAR;
    }
    if (strcmp(mode, "json") == 0) {
        return PROGRESS_JSON;
    }
    if (strcmp(mode, "off") == 0) {
        return PROGRESS_OFF;
    }
    return isatty(STDERR_FILENO) ? PROGRESS_BAR : PROGRESS_JSON;
}

static double rate_per_s(uint64_t messages, int64_t elapsed_ms)
{
    return elapsed_ms > 0 ? (double)messages * 1000.0 / (double)elapsed_ms : 0.0;
}

static void print_bar(const producer_run *run, int64_t count)
{
    const producer_stats *stats = producer_run_stats(run);
    int64_t elapsed = producer_run_elapsed_ms(run);
    double rate = rate_per_s(stats->accepted, elapsed);
    char bar[31];

    if (count > 0) {
        size_t filled = (size_t)(30 * stats->accepted / (uint64_t)count);
        memset(bar, '#', filled);
        memset(bar + filled, '.', 30 - filled);
        bar[30] = '\0';
        double eta = rate > 0 ? (double)((uint64_t)count - stats->accepted) / rate : 0;
        fprintf(stderr,
                "\r[%s] %3d%% sent %" PRIu64 " acked %" PRIu64 "/%" PRId64
                " %.0f msg/s ETA %.0fs  ",
                bar, (int)(100 * stats->accepted / (uint64_t)count), stats->sent, stats->accepted,
                count, rate, eta);
    } else {
        fprintf(stderr, "\rsent %" PRIu64 " acked %" PRIu64 " %.0f msg/s  ", stats->sent,
                stats->accepted, rate);
    }
}

static void log_progress(const producer_run *run)
{
    const producer_stats *stats = producer_run_stats(run);
    int64_t elapsed = producer_run_elapsed_ms(run);
    char fields[400];

    snprintf(fields, sizeof fields,
             "\"issued\":%" PRIu64 ",\"sent\":%" PRIu64 ",\"accepted\":%" PRIu64
             ",\"failed\":%" PRIu64 ",\"retried\":%" PRIu64 ",\"outstanding\":%" PRIu64
             ",\"elapsed_s\":%.3f,\"msgs_per_s\":%.1f",
             stats->issued, stats->sent, stats->accepted, stats->rejected, stats->retried,
             producer_run_outstanding(run), (double)elapsed / 1000.0,
             rate_per_s(stats->accepted, elapsed));
    log_write_fields(LOG_LEVEL_INFO, "progress", fields, "%" PRIu64 " accepted", stats->accepted);
}

/*
 * Describes the outcome in one sentence: the accepted count against the requested one (or the
 * issued one without --count), then the error that ended the run or the number that failed.
 */
static void describe_outcome(const producer_run *run, int64_t count, char *out, size_t capacity)
{
    const producer_stats *stats = producer_run_stats(run);
    const wl_error *error = producer_run_error(run);
    double elapsed_s = (double)producer_run_elapsed_ms(run) / 1000.0;
    int used;

    if (count > 0) {
        used = snprintf(out, capacity,
                        "%" PRIu64 " of %" PRId64 " requested messages accepted in %.3f s",
                        stats->accepted, count, elapsed_s);
    } else {
        used = snprintf(out, capacity,
                        "%" PRIu64 " of %" PRIu64 " sent messages accepted in %.3f s (no count "
                        "limit)",
                        stats->accepted, stats->issued, elapsed_s);
    }
    if (used < 0 || (size_t)used >= capacity) {
        return;
    }
    if (error != NULL) {
        snprintf(out + used, capacity - (size_t)used, ": %s", error->message);
    } else if (stats->rejected > 0) {
        snprintf(out + used, capacity - (size_t)used, ": %" PRIu64 " failed", stats->rejected);
    } else if (producer_run_outstanding(run) > 0) {
        snprintf(out + used, capacity - (size_t)used, ": %" PRIu64 " unacknowledged",
                 producer_run_outstanding(run));
    }
}

/*
 * Logs the summary. msgs_per_s divides the accepted messages by the time up to the last
 * outcome (outcomes_s), so a shutdown grace period spent waiting for outcomes that never came,
 * which duration_s includes, does not lower the rate.
 */
static void print_summary(const producer_run *run, int64_t count, progress_mode mode)
{
    const producer_stats *stats = producer_run_stats(run);
    const wl_error *error = producer_run_error(run);
    int64_t elapsed = producer_run_elapsed_ms(run);
    int64_t outcomes = producer_run_outcomes_ms(run);
    double p50 = (double)stats_latency_percentile_us(stats, 0.50) / 1000.0;
    double p99 = (double)stats_latency_percentile_us(stats, 0.99) / 1000.0;
    double rate = rate_per_s(stats->accepted, outcomes);
    char outcome[sizeof error->message + 128];
    char escaped[sizeof error->message * 2];
    char fields[sizeof escaped + 600];

    describe_outcome(run, count, outcome, sizeof outcome);
    if (stats->late_open > 0) {
        LOG_WARN("late-open",
                 "%" PRIu64 " transfers of finished messages had no outcome when the run ended, so "
                 "each may have stored a copy of its message in the queue",
                 stats->late_open);
    }
    log_json_escape(escaped, sizeof escaped, error != NULL ? error->message : "");
    snprintf(fields, sizeof fields,
             "\"requested\":%" PRId64 ",\"issued\":%" PRIu64 ",\"sent\":%" PRIu64
             ",\"accepted\":%" PRIu64 ",\"rejected\":%" PRIu64 ",\"retried\":%" PRIu64
             ",\"late_accepted\":%" PRIu64 ",\"late_open\":%" PRIu64 ",\"unacknowledged\":%" PRIu64
             ",\"duration_s\":%.3f,\"outcomes_s\":%.3f,\"msgs_per_s\":%.1f,"
             "\"latency_p50_ms\":%.3f,\"latency_p99_ms\":%.3f%s%s%s",
             count, stats->issued, stats->sent, stats->accepted, stats->rejected, stats->retried,
             stats->late_accepted, stats->late_open, producer_run_outstanding(run),
             (double)elapsed / 1000.0, (double)outcomes / 1000.0, rate, p50, p99,
             error != NULL ? ",\"error\":\"" : "", error != NULL ? escaped : "",
             error != NULL ? "\"" : "");
    /* A run that exits 1 without an error left messages rejected or unacknowledged. */
    log_level level = LOG_LEVEL_INFO;
    if (error != NULL) {
        level = LOG_LEVEL_ERROR;
    } else if (producer_run_exit_code(run) != 0) {
        level = LOG_LEVEL_WARN;
    }
    log_write_fields(level, "summary", fields, "%s", outcome);
    if (mode == PROGRESS_BAR) {
        fprintf(stderr,
                "\n%s\nsent %" PRIu64 ", accepted %" PRIu64 ", rejected %" PRIu64
                ", retried %" PRIu64 ": %.0f msgs/s up to the last outcome at %.3f s, latency "
                "p50 %.2f ms, p99 %.2f ms\n",
                outcome, stats->sent, stats->accepted, stats->rejected, stats->retried, rate,
                (double)outcomes / 1000.0, p50, p99);
    }
}

/* Runs the proactor until the run has closed every connection, and beats `health` on every
 * pass, at least once a second, so that /healthz reports a loop that is stuck. */
static void run_loop(pn_proactor_t *proactor, producer_run *run, const producer_options *options,
                     progress_mode mode, health_server *health)
{
    int64_t next_progress_ms = monotonic_ms();
    int64_t progress_interval =
        mode == PROGRESS_BAR ? PROGRESS_BAR_INTERVAL_MS : options->progress_interval_ms;

    health_server_watch_beats(health, wl_clock_system(), HEALTH_STALL_LIMIT_MS);
    while (!producer_run_finished(run)) {
        health_server_beat(health);
        pn_event_batch_t *batch = pn_proactor_wait(proactor);
        producer_run_handle(run, batch);
        pn_proactor_done(proactor, batch);

        int64_t now = monotonic_ms();
        if (mode != PROGRESS_OFF && now >= next_progress_ms) {
            if (mode == PROGRESS_BAR) {
                print_bar(run, options->count);
            } else if (now > next_progress_ms || producer_run_stats(run)->sent > 0) {
                log_progress(run);
            }
            next_progress_ms = now + progress_interval;
        }
        int64_t deadline = producer_run_next_deadline_ms(run);
        if (mode != PROGRESS_OFF && next_progress_ms < deadline) {
            deadline = next_progress_ms;
        }
        int64_t delay = deadline == INT64_MAX ? 1000 : deadline - now;
        pn_proactor_set_timeout(proactor, (pn_millis_t)(delay < 0      ? 0
                                                        : delay > 1000 ? 1000
                                                                       : delay));
    }
}

/*
 * Warns when a full window of messages may not fit a pod. Messages not yet written to the socket
 * stay in memory, more than one copy of each. Peak RSS was measured with /usr/bin/time, one run
 * each on a 2-core machine, for 400 messages with 262069-byte bodies and --inflight 200 (a 52 MB
 * window). It was 160 MB straight to the emulator and 131 MB through a proxy at 8 MB/s. It was
 * 166 MB and 178 MB when the proxy stopped reading after 1 MB and 20 MB, so that the connection
 * was dropped and the messages resent. The estimate covers the largest: the 12 MB that a run of
 * one small message peaks at, and 3.2 bytes per window byte on top.
 */
static void warn_buffer_bound(const producer_options *options)
{
    uint64_t messages = (uint64_t)options->inflight * (uint64_t)options->connections;
    size_t message_size = message_encoded_size((size_t)options->body_size);
    uint64_t estimate = BASE_RSS_BYTES + messages * message_size * 16 / 5;

    if (estimate > BUFFER_WARN_BYTES) {
        LOG_WARN("memory-bound",
                 "--inflight %" PRId64 " on %" PRId64 " connection%s with %zu-byte messages may "
                 "use about %" PRIu64 " MiB of memory when the network is slower than the "
                 "sending: lower --inflight or --body-size, or allow the process that much memory",
                 options->inflight, options->connections, options->connections == 1 ? "" : "s",
                 message_size, (estimate + (1u << 20) - 1) >> 20);
    }
}

static int run_producer(const producer_config *config, progress_mode mode)
{
    const service_settings *service = &config->service;
    const sb_target *target = &config->target;
    wl_error err = {0};
    metrics_registry *metrics = NULL;
    health_server *health = NULL;
    health_component *ready = NULL;
    bool health_started = false;
    pn_proactor_t *proactor = NULL;
    producer_run *run = NULL;
    service_signals *signals = NULL;
    stop_target stop = {NULL};
    int exit_code = 1;

    bool ipv6 = strchr(target->host, ':') != NULL;
    LOG_INFO("target", "sending to %s on %s%s%s:%u over %s with %s", target->queue, ipv6 ? "[" : "",
             target->host, ipv6 ? "]" : "", (unsigned)target->port,
             target->tls ? "TLS" : "plain TCP", sb_target_auth_name(target));
    sb_target_warn_unencrypted(target);
    warn_buffer_bound(&config->producer);

    /* The signal thread and the health server start before the Entra token exchange, so that
     * SIGTERM and the liveness probe are handled while it runs. */
    signals = service_signals_start(stop_on_signal, &stop, &err);
    if (signals == NULL) {
        LOG_ERROR("start-failed", "%s", err.message);
        goto out;
    }
    metrics = metrics_registry_create();
    health = health_server_create(metrics);
    ready = health_component_add(health, "amqp", "connecting");
    if (service_health_start(health, service, &health_started, &err) != WL_OK) {
        LOG_ERROR("health-failed", "%s", err.message);
        fprintf(stderr, "producer: %s\n", err.message);
        exit_code = err.status == WL_ERR_INVALID ? 2 : 1;
        goto out;
    }
    if (health_started) {
        LOG_INFO("health-listening", "health server on %s:%u", service->health_bind,
                 (unsigned)health_server_port(health));
    }

    /* Fetch the Entra token before connecting, so that a refused exchange ends the run with its
     * AADSTS message instead of a CBS timeout. */
    if (target->workload_identity) {
        cred_token token = {0};
        if (cred_get_token(target->credential, NULL, &token, &err) != WL_OK) {
            LOG_ERROR("token-failed", "%s", err.message);
            fprintf(stderr, "producer: %s\n", err.message);
            goto out;
        }
        LOG_INFO("token-acquired", "workload identity token valid for %" PRId64 " s",
                 token.expires_at_unix - (int64_t)time(NULL));
        cred_token_free(&token);
        /* From here on CBS takes tokens on the sender's thread, which must not wait for Entra. */
        if (cred_start_background_refresh(target->credential, &err) != WL_OK) {
            LOG_ERROR("token-failed", "%s", err.message);
            fprintf(stderr, "producer: %s\n", err.message);
            goto out;
        }
    }

    proactor = pn_proactor();
    run = producer_run_create(proactor, config, target, metrics, ready, &err);
    if (run == NULL) {
        LOG_ERROR("invalid-configuration", "%s", err.message);
        exit_code = 2;
        goto out;
    }

    atomic_store(&stop.run, run);
    if (producer_run_start(run, &err) != WL_OK) {
        LOG_ERROR("start-failed", "%s", err.message);
        goto out;
    }
    run_loop(proactor, run, &config->producer, mode, health);
    print_summary(run, config->producer.count, mode);
    if (producer_run_error(run) != NULL) {
        fprintf(stderr, "producer: %s\n", producer_run_error(run)->message);
    }
    exit_code = producer_run_exit_code(run);

out:
    service_signals_stop(signals);
    producer_run_destroy(run);
    if (proactor != NULL) {
        pn_proactor_free(proactor);
    }
    health_server_destroy(health);
    metrics_registry_destroy(metrics);
    return exit_code;
}

int main(int argc, char **argv)
{
    static const char usage[] = "usage: producer [--connection-string CS | --namespace NS] --queue "
                                "Q [options]\n\nSends JSON messages to a Service Bus queue over "
                                "AMQP 1.0.";
    producer_config config;
    wl_error err = {0};
    bool help = false;
    int exit_code;

    service_block_signals();
    log_init("producer", LOG_LEVEL_INFO, NULL);
    if (producer_config_load(&config, argc, argv, NULL, &help, &err) != WL_OK) {
        fprintf(stderr, "producer: %s\n", err.message);
        producer_config_free(&config);
        return 2;
    }
    exit_code = service_begin("producer", usage, config.sections, PRODUCER_SECTION_COUNT,
                              &config.service, help, 5000);
    if (exit_code >= 0) {
        producer_config_free(&config);
        return exit_code;
    }

    curl_global_init(CURL_GLOBAL_DEFAULT);
    exit_code = run_producer(&config, choose_progress(config.producer.progress));
    curl_global_cleanup();
    producer_config_free(&config);
    return exit_code;
}
