/*
 * The parts the producer and the consumer share as long-running services: the health and logging
 * options (service_settings_table, loaded as a config_section), the --check mode that probes
 * a running instance, and the thread that turns SIGTERM and SIGINT into a callback.
 *
 * Signals: call service_block_signals first in main(), before any thread starts, so that every
 * thread inherits the blocked mask and only the signal thread receives them.
 */
#ifndef WL_SERVICE_H
#define WL_SERVICE_H

#include "config.h"
#include "health.h"
#include "log.h"
#include "status.h"

#include <stdbool.h>
#include <stdint.h>

typedef struct service_settings {
    int64_t health_port; /* HEALTH_PORT; -1 disables the health server, 0 picks a free port */
    char *health_bind;   /* HEALTH_BIND */
    bool check;          /* --check: probe /healthz of the running instance and exit */
    char *log_level;     /* LOG_LEVEL */
} service_settings;

/* The options of service_settings. The health port defaults to 8080. */
extern const config_table service_settings_table;

/*
 * Checks the log level and the health bind address and stores the level in `out_level`.
 * Returns WL_ERR_INVALID naming the flag and variable; the caller exits 2.
 */
wl_status service_settings_validate(const service_settings *settings, log_level *out_level,
                                    wl_error *err);

/*
 * Requests http://ADDRESS:PORT/healthz of the instance that runs with the same settings, where
 * ADDRESS is --health-bind, or 127.0.0.1 when that binds every address. Returns WL_OK for
 * HTTP 200; WL_ERR_INVALID when the health server is disabled or --health-bind is not an IPv4
 * address. Needs curl_global_init.
 */
wl_status service_check(const service_settings *settings, int64_t timeout_ms, wl_error *err);

/*
 * Runs the --check mode: initializes libcurl, calls service_check and returns the exit
 * status, 0 when healthy, 2 when the settings cannot name an instance and 1 otherwise, with
 * the cause in `err`. Call it before any other thread starts.
 */
int service_run_check(const service_settings *settings, int64_t timeout_ms, wl_error *err);

/*
 * Carries out the start-up steps that both programs share once their configuration is loaded.
 * With --help it prints the help of `sections` under `usage` and returns 0. With --check it
 * runs service_run_check, prints a failure as "PROGRAM --check: ..." on stderr and returns its
 * exit status. Otherwise it sets the log level, routes Proton's log, logs the effective
 * configuration once with secrets masked, and returns -1 for "go on and run".
 */
int service_begin(const char *program, const char *usage, const config_section *sections,
                  size_t section_count, const service_settings *settings, bool help,
                  int64_t check_timeout_ms);

/*
 * Starts `server` (health.h) on --health-bind and --health-port. With the port -1 it starts
 * nothing, sets `out_started` false and returns WL_OK. Returns WL_ERR_IO naming the address
 * when binding fails.
 */
wl_status service_health_start(health_server *server, const service_settings *settings,
                               bool *out_started, wl_error *err);

/*
 * Restores the default action of SIGTERM and SIGINT, because an inherited "ignore" may discard
 * them before the signal thread's sigwait. Then blocks both in the calling thread and ignores
 * SIGPIPE.
 */
void service_block_signals(void);

typedef struct service_signals service_signals;

/*
 * Starts a thread that calls `on_signal(ctx)` for each SIGTERM or SIGINT, except a repeat of
 * the same signal within 100 ms, which is taken for a copy of it. The callback runs on that
 * thread and must be thread-safe (for example pn_proactor_interrupt). Returns NULL with
 * WL_ERR_IO when the thread cannot start. Stop with service_signals_stop.
 */
service_signals *service_signals_start(void (*on_signal)(void *ctx), void *ctx, wl_error *err);

/* Stops and joins the signal thread and frees it; NULL is a no-op. */
void service_signals_stop(service_signals *signals);

#endif
