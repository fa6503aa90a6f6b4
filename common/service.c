#include "service.h"

#include "clock.h"
#include "proton_log.h"

#include <curl/curl.h>

#include <arpa/inet.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FIELD(name) offsetof(service_settings, name)

static const config_option option_table[] = {
    {"health-port", "HEALTH_PORT", CONFIG_INT, "8080", "port", -1, 65535, 0,
     "Port of the /healthz, /readyz and /metrics server; -1 disables it, 0 picks a free one.",
     FIELD(health_port)},
    {"health-bind", "HEALTH_BIND", CONFIG_STRING, "0.0.0.0", NULL, 0, 0, 0,
     "IPv4 address the health server listens on.", FIELD(health_bind)},
    {"check", NULL, CONFIG_BOOL, "false", NULL, 0, 0, 0,
     "Request /healthz of the instance running on --health-port, exit 0 on HTTP 200 and 1 "
     "otherwise.",
     FIELD(check)},
    {"log-level", "LOG_LEVEL", CONFIG_STRING, "info", NULL, 0, 0, 0,
     "Minimum log level: debug, info, warn or error.", FIELD(log_level)},
};

const config_table service_settings_table = {option_table,
                                             sizeof option_table / sizeof option_table[0]};

static wl_status check_health_bind(const char *bind_address, wl_error *err)
{
    struct in_addr address;

    if (bind_address == NULL || inet_pton(AF_INET, bind_address, &address) != 1) {
        return wl_error_set(err, WL_ERR_INVALID,
                            "invalid value \"%s\" for --health-bind (HEALTH_BIND): expected an "
                            "IPv4 address such as 0.0.0.0 or 127.0.0.1",
                            bind_address != NULL ? bind_address : "");
    }
    return WL_OK;
}

wl_status service_settings_validate(const service_settings *settings, log_level *out_level,
                                    wl_error *err)
{
    if (!log_level_parse(settings->log_level, out_level)) {
        return wl_error_set(err, WL_ERR_INVALID,
                            "invalid value \"%s\" for --log-level (LOG_LEVEL): expected debug, "
                            "info, warn or error",
                            settings->log_level);
    }
    /* Checked even with the server disabled, so that a typo shows before the port is enabled. */
    return check_health_bind(settings->health_bind, err);
}

wl_status service_check(const service_settings *settings, int64_t timeout_ms, wl_error *err)
{
    const char *address = settings->health_bind;
    char url[128];

    if (settings->health_port <= 0) {
        return wl_error_set(err, WL_ERR_INVALID,
                            "--check needs the port of the running instance: set --health-port "
                            "(HEALTH_PORT) to the port it serves on");
    }
    if (check_health_bind(address, err) != WL_OK) {
        return err->status;
    }
    if (strcmp(address, "0.0.0.0") == 0) {
        address = "127.0.0.1";
    }
    snprintf(url, sizeof url, "http://%s:%lld/healthz", address, (long long)settings->health_port);
    return health_check_url(url, timeout_ms, err);
}

int service_run_check(const service_settings *settings, int64_t timeout_ms, wl_error *err)
{
    wl_status status;

    curl_global_init(CURL_GLOBAL_DEFAULT);
    status = service_check(settings, timeout_ms, err);
    curl_global_cleanup();
    if (status == WL_OK) {
        return 0;
    }
    return status == WL_ERR_INVALID ? 2 : 1;
}

int service_begin(const char *program, const char *usage, const config_section *sections,
                  size_t section_count, const service_settings *settings, bool help,
                  int64_t check_timeout_ms)
{
    log_level level = LOG_LEVEL_INFO;
    wl_error err = {0};

    if (help) {
        config_print_help_sections(sections, section_count, usage, stdout);
        return 0;
    }
    if (settings->check) {
        int exit_code = service_run_check(settings, check_timeout_ms, &err);
        if (exit_code != 0) {
            fprintf(stderr, "%s --check: %s\n", program, err.message);
        }
        return exit_code;
    }

    log_level_parse(settings->log_level, &level);
    log_init(program, level, NULL);
    proton_log_route(level);

    char *described = config_describe_json_sections(sections, section_count);
    char *fields = wl_xasprintf("\"config\":%s", described);
    log_write_fields(LOG_LEVEL_INFO, "configuration", fields, "effective configuration");
    free(fields);
    free(described);
    return -1;
}

wl_status service_health_start(health_server *server, const service_settings *settings,
                               bool *out_started, wl_error *err)
{
    *out_started = false;
    if (settings->health_port < 0) {
        return WL_OK;
    }
    wl_status status =
        health_server_start(server, settings->health_bind, (uint16_t)settings->health_port, err);
    *out_started = status == WL_OK;
    return status;
}

void service_block_signals(void)
{
    sigset_t blocked;

    /* A program started in the background by a non-interactive shell inherits SIGINT as
     * ignored. POSIX leaves it unspecified whether a blocked signal whose action is "ignore"
     * stays pending for sigwait. Linux keeps it, other systems may discard it, so restoring
     * the default action is what makes the signal thread receive both everywhere. */
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    sigemptyset(&blocked);
    sigaddset(&blocked, SIGINT);
    sigaddset(&blocked, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &blocked, NULL);
    signal(SIGPIPE, SIG_IGN);
}

/*
 * A repeat of the same signal within this time counts as one stop request. Some tools signal a
 * command and then its process group. coreutils timeout (timeout.c) does, so the command
 * receives the signal twice within microseconds. Counted twice, the copy would end the shutdown
 * grace period as a second signal does.
 */
#define SIGNAL_REPEAT_MS 100

struct service_signals {
    pthread_t thread;
    void (*on_signal)(void *ctx);
    void *ctx;
};

static void *wait_for_signals(void *arg)
{
    service_signals *signals = arg;
    sigset_t set;
    int last_number = 0;
    int64_t last_ms = 0;

    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    for (;;) {
        int number = 0;
        /* sigwait is a cancellation point, which is how service_signals_stop ends the loop. */
        if (sigwait(&set, &number) != 0) {
            continue;
        }
        int64_t now_ms = wl_clock_monotonic_ms(wl_clock_system());
        if (number == last_number && now_ms - last_ms < SIGNAL_REPEAT_MS) {
            continue;
        }
        last_number = number;
        last_ms = now_ms;
        signals->on_signal(signals->ctx);
    }
    return NULL;
}

service_signals *service_signals_start(void (*on_signal)(void *ctx), void *ctx, wl_error *err)
{
    service_signals *signals = wl_xcalloc(1, sizeof *signals);
    int rc;

    signals->on_signal = on_signal;
    signals->ctx = ctx;
    rc = pthread_create(&signals->thread, NULL, wait_for_signals, signals);
    if (rc != 0) {
        free(signals);
        wl_error_set(err, WL_ERR_IO, "starting the signal thread failed: %s", strerror(rc));
        return NULL;
    }
    return signals;
}

void service_signals_stop(service_signals *signals)
{
    if (signals == NULL) {
        return;
    }
    pthread_cancel(signals->thread);
    pthread_join(signals->thread, NULL);
    free(signals);
}
