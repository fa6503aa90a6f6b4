/*
 * servicebus-emulator: an in-memory Azure Service Bus for tests and the local demo. It reads
 * Microsoft's emulator Config.json, speaks the Service Bus AMQP dialect (SASL, CBS,
 * peek-lock, $management) on Proton-C's proactor, and serves queue counts over HTTP.
 *
 * Threads: main runs the proactor loop, libmicrohttpd runs its own, and one thread waits
 * for SIGTERM/SIGINT and stops the loop.
 */
#include "log.h"
#include "sbe_broker.h"
#include "sbe_config.h"
#include "sbe_http.h"
#include "sbe_store.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define EXIT_USAGE 2

typedef struct options {
    const char *config_path;
    const char *bind_address;
    const char *port;
    const char *tls_port;
    const char *tls_cert;
    const char *tls_key;
    int http_port;
    const char *key_name;
    const char *key;
    bool allow_jwt;
    bool release_keeps_delivery_count;
    bool ignore_drain;
    size_t max_queue_messages;
    const char *ready_file;
    log_level level;
} options;

typedef struct ready_state {
    const char *ready_file;
    int http_port;
} ready_state;

typedef struct signal_waiter {
    sigset_t signals;
    sbe_broker *broker;
    volatile bool finished; /* set by main before it wakes the waiter to end it */
} signal_waiter;

static void print_help(FILE *out)
{
    fputs("Usage: servicebus-emulator --config FILE [options]\n"
          "\n"
          "An in-memory Azure Service Bus for tests: AMQP 1.0 with SASL, CBS and $management,\n"
          "plus the HTTP queue description that KEDA reads.\n"
          "\n"
          "  --config FILE             Config.json in Microsoft's emulator format (required)\n"
          "  --bind ADDR               address every listener binds (default 127.0.0.1)\n"
          "  --port N                  plain AMQP port; 0 picks a free one (default 5672)\n"
          "  --tls-port N              AMQP over TLS port; needs --tls-cert and --tls-key\n"
          "  --tls-cert FILE           PEM server certificate for --tls-port\n"
          "  --tls-key FILE            PEM private key for --tls-port\n"
          "  --http-port N             HTTP port for /health and queue counts (default 5300)\n"
          "  --key-name NAME           shared access policy name (default\n"
          "                            RootManageSharedAccessKey)\n"
          "  --key KEY                 shared access key (default SAS_KEY_VALUE)\n"
          "  --allow-jwt               accept CBS tokens of type jwt without validating them\n"
          "  --release-keeps-delivery-count\n"
          "                            return a released delivery without adding to its\n"
          "                            delivery count, as Service Bus does (default: released\n"
          "                            counts as an abandon)\n"
          "  --ignore-drain            never complete a receiver's drain (fault injection)\n"
          "  --max-queue-messages N    messages a queue holds before sends are rejected with\n"
          "                            amqp:resource-limit-exceeded (default 0: no limit)\n"
          "  --ready-file FILE         once listening, write {\"amqp\":N,\"amqps\":N|null,"
          "\"http\":N} there\n"
          "  --log-level LEVEL         debug, info, warn or error (default info)\n"
          "  --help                    print this help and exit\n",
          out);
}

static void usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

static void usage_error(const char *fmt, ...)
{
    va_list args;

    fputs("servicebus-emulator: ", stderr);
    va_start(args, fmt);
    vfprintf(stderr, fmt, args);
    va_end(args);
    fputs("\nRun servicebus-emulator --help for the options.\n", stderr);
    exit(EXIT_USAGE);
}

static const char *parse_port(const char *option, const char *text)
{
    char *end = NULL;
    long value;

    errno = 0;
    value = strtol(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0' || value < 0 || value > 65535) {
        fprintf(stderr,
                "servicebus-emulator: %s \"%s\" is invalid: use a port from 0 to 65535 (0 picks "
                "a free port)\n",
                option, text);
        exit(EXIT_USAGE);
    }
    return text;
}

static void parse_options(int argc, char **argv, options *out)
{
    enum {
        OPT_CONFIG = 1000,
        OPT_BIND,
        OPT_PORT,
        OPT_TLS_PORT,
        OPT_TLS_CERT,
        OPT_TLS_KEY,
        OPT_HTTP_PORT,
        OPT_KEY_NAME,
        OPT_KEY,
        OPT_ALLOW_JWT,
        OPT_RELEASE_KEEPS_COUNT,
        OPT_IGNORE_DRAIN,
        OPT_MAX_QUEUE,
        OPT_READY_FILE,
        OPT_LOG_LEVEL,
        OPT_HELP,
    };
    static const struct option long_options[] = {
        {"config", required_argument, NULL, OPT_CONFIG},
        {"bind", required_argument, NULL, OPT_BIND},
        {"port", required_argument, NULL, OPT_PORT},
        {"tls-port", required_argument, NULL, OPT_TLS_PORT},
        {"tls-cert", required_argument, NULL, OPT_TLS_CERT},
        {"tls-key", required_argument, NULL, OPT_TLS_KEY},
        {"http-port", required_argument, NULL, OPT_HTTP_PORT},
        {"key-name", required_argument, NULL, OPT_KEY_NAME},
        {"key", required_argument, NULL, OPT_KEY},
        {"allow-jwt", no_argument, NULL, OPT_ALLOW_JWT},
        {"release-keeps-delivery-count", no_argument, NULL, OPT_RELEASE_KEEPS_COUNT},
        {"ignore-drain", no_argument, NULL, OPT_IGNORE_DRAIN},
        {"max-queue-messages", required_argument, NULL, OPT_MAX_QUEUE},
        {"ready-file", required_argument, NULL, OPT_READY_FILE},
        {"log-level", required_argument, NULL, OPT_LOG_LEVEL},
        {"help", no_argument, NULL, OPT_HELP},
        {NULL, 0, NULL, 0},
    };
    int option;

    *out = (options){
        .bind_address = "127.0.0.1",
        .port = "5672",
        .http_port = 5300,
        .key_name = "RootManageSharedAccessKey",
        .key = "SAS_KEY_VALUE",
        .level = LOG_LEVEL_INFO,
    };
    opterr = 0;
    while ((option = getopt_long(argc, argv, "", long_options, NULL)) != -1) {
        switch (option) {
        case OPT_CONFIG:
            out->config_path = optarg;
            break;
        case OPT_BIND:
            out->bind_address = optarg;
            break;
        case OPT_PORT:
            out->port = parse_port("--port", optarg);
            break;
        case OPT_TLS_PORT:
            out->tls_port = parse_port("--tls-port", optarg);
            break;
        case OPT_TLS_CERT:
            out->tls_cert = optarg;
            break;
        case OPT_TLS_KEY:
            out->tls_key = optarg;
            break;
        case OPT_HTTP_PORT:
            out->http_port = atoi(parse_port("--http-port", optarg));
            break;
        case OPT_KEY_NAME:
            out->key_name = optarg;
            break;
        case OPT_KEY:
            out->key = optarg;
            break;
        case OPT_ALLOW_JWT:
            out->allow_jwt = true;
            break;
        case OPT_RELEASE_KEEPS_COUNT:
            out->release_keeps_delivery_count = true;
            break;
        case OPT_IGNORE_DRAIN:
            out->ignore_drain = true;
            break;
        case OPT_MAX_QUEUE: {
            char *end = NULL;
            errno = 0;
            unsigned long long value = strtoull(optarg, &end, 10);
            if (errno != 0 || end == optarg || *end != '\0' || optarg[0] == '-') {
                usage_error("--max-queue-messages \"%s\" is invalid: use a whole number (0 for "
                            "no limit)",
                            optarg);
            }
            out->max_queue_messages = (size_t)value;
            break;
        }
        case OPT_READY_FILE:
            out->ready_file = optarg;
            break;
        case OPT_LOG_LEVEL:
            if (!log_level_parse(optarg, &out->level)) {
                usage_error("--log-level \"%s\" is invalid: use debug, info, warn or error",
                            optarg);
            }
            break;
        case OPT_HELP:
            print_help(stdout);
            exit(0);
        default:
            usage_error("unknown or incomplete option \"%s\"", argv[optind - 1]);
        }
    }
    if (optind < argc) {
        usage_error("unexpected argument \"%s\"", argv[optind]);
    }
    if (out->config_path == NULL) {
        usage_error("%s", "--config FILE is required: pass a Config.json in Microsoft's Service "
                          "Bus emulator format");
    }
    if (out->tls_port != NULL && (out->tls_cert == NULL || out->tls_key == NULL)) {
        usage_error("--tls-port %s needs both --tls-cert FILE and --tls-key FILE", out->tls_port);
    }
    if (out->tls_port == NULL && (out->tls_cert != NULL || out->tls_key != NULL)) {
        usage_error("%s", "--tls-cert and --tls-key need --tls-port N");
    }
    if (out->key_name[0] == '\0' || out->key[0] == '\0') {
        usage_error("%s", "--key-name and --key must not be empty");
    }
}

/* Writes the ready file atomically, so a reader never sees it half written. */
static void on_ready(int amqp_port, int tls_port, void *ctx)
{
    const ready_state *state = ctx;
    char amqps[16] = "null";

    if (tls_port > 0) {
        snprintf(amqps, sizeof amqps, "%d", tls_port);
    }
    LOG_INFO("ready", "accepting connections: AMQP port %d, AMQPS port %s, HTTP port %d", amqp_port,
             amqps, state->http_port);
    if (state->ready_file == NULL) {
        return;
    }
    char *temporary = wl_xasprintf("%s.tmp.%ld", state->ready_file, (long)getpid());
    FILE *file = fopen(temporary, "w");
    if (file == NULL) {
        LOG_ERROR("ready-file-failed", "cannot write %s: %s", temporary, strerror(errno));
        free(temporary);
        return;
    }
    fprintf(file, "{\"amqp\":%d,\"amqps\":%s,\"http\":%d}\n", amqp_port, amqps, state->http_port);
    if (fclose(file) != 0 || rename(temporary, state->ready_file) != 0) {
        LOG_ERROR("ready-file-failed", "cannot write %s: %s", state->ready_file, strerror(errno));
    }
    free(temporary);
}

static void *wait_for_signals(void *arg)
{
    signal_waiter *waiter = arg;
    int signal_number = 0;

    sigwait(&waiter->signals, &signal_number);
    if (!waiter->finished) {
        LOG_INFO("stopping", "received %s; closing connections",
                 signal_number == SIGINT ? "SIGINT" : "SIGTERM");
        sbe_broker_stop(waiter->broker);
    }
    return NULL;
}

static int run(const options *opts, const sbe_config *config)
{
    wl_error err = {0};
    const wl_clock *clock = wl_clock_system();
    sbe_store *store = sbe_store_create(config, clock, opts->max_queue_messages);
    sbe_broker_options broker_options = {
        .bind_address = opts->bind_address,
        .port = opts->port,
        .tls_port = opts->tls_port,
        .tls_cert = opts->tls_cert,
        .tls_key = opts->tls_key,
        .key_name = opts->key_name,
        .key = opts->key,
        .allow_jwt = opts->allow_jwt,
        .release_keeps_delivery_count = opts->release_keeps_delivery_count,
        .ignore_drain = opts->ignore_drain,
    };
    sbe_http_options http_options = {
        .bind_address = opts->bind_address,
        .port = opts->http_port,
        .key_name = opts->key_name,
        .key = opts->key,
    };
    signal_waiter waiter = {.finished = false};
    pthread_t waiter_thread;
    int exit_code = 0;

    sbe_broker *broker = sbe_broker_create(store, &broker_options, clock, &err);
    if (broker == NULL) {
        LOG_ERROR("start-failed", "%s", err.message);
        sbe_store_destroy(store);
        return EXIT_USAGE;
    }
    sbe_http *http = sbe_http_start(store, &http_options, clock, &err);
    if (http == NULL) {
        LOG_ERROR("start-failed", "%s", err.message);
        sbe_broker_destroy(broker);
        sbe_store_destroy(store);
        return err.status == WL_ERR_INVALID ? EXIT_USAGE : 1;
    }

    sigemptyset(&waiter.signals);
    sigaddset(&waiter.signals, SIGINT);
    sigaddset(&waiter.signals, SIGTERM);
    waiter.broker = broker;
    pthread_create(&waiter_thread, NULL, wait_for_signals, &waiter);

    ready_state ready = {.ready_file = opts->ready_file, .http_port = sbe_http_port(http)};
    if (sbe_broker_run(broker, on_ready, &ready, &err) != WL_OK) {
        LOG_ERROR("listen-failed", "%s", err.message);
        exit_code = 1;
    }

    waiter.finished = true;
    pthread_kill(waiter_thread, SIGTERM);
    pthread_join(waiter_thread, NULL);
    sbe_http_destroy(http);
    sbe_broker_destroy(broker);
    sbe_store_destroy(store);
    LOG_INFO("stopped", "servicebus-emulator stopped");
    return exit_code;
}

int main(int argc, char **argv)
{
    options opts;
    sbe_config config;
    wl_error err = {0};
    sigset_t signals;

    parse_options(argc, argv, &opts);
    log_init("servicebus-emulator", opts.level, NULL);
    if (sbe_config_load(opts.config_path, &config, &err) != WL_OK) {
        fprintf(stderr, "servicebus-emulator: %s\n", err.message);
        return EXIT_USAGE;
    }
    for (size_t i = 0; i < config.queue_count; i++) {
        const sbe_queue_config *queue = &config.queues[i];
        LOG_INFO("queue-configured",
                 "queue %s: LockDuration %" PRId64 " ms, MaxDeliveryCount %u, TTL %s, "
                 "dead-letter on expiry %s, duplicate detection %s",
                 queue->name, queue->lock_duration_ms, queue->max_delivery_count,
                 queue->default_ttl_ms == SBE_TTL_INFINITE_MS ? "none" : "set",
                 queue->dead_letter_on_expiration ? "on" : "off",
                 queue->requires_duplicate_detection ? "on" : "off");
    }
    if (config.ignored_topic_count > 0) {
        LOG_WARN("topics-ignored", "%s lists %zu topics; this emulator serves queues only",
                 opts.config_path, config.ignored_topic_count);
    }

    /* Block the stop signals in every thread; the waiter thread receives them with sigwait. */
    sigemptyset(&signals);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &signals, NULL);
    signal(SIGPIPE, SIG_IGN);

    int exit_code = run(&opts, &config);
    sbe_config_free(&config);
    return exit_code;
}
