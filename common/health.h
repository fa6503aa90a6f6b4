/*
 * The HTTP health server (libmicrohttpd, on its own thread):
 *
 *   GET /healthz  200 {"status":"ok"} while the process serves and, once
 *                 health_server_watch_beats is called, its loop beats within the limit; else 503
 *                 {"status":"stalled","reason":"..."}
 *   GET /readyz   200 {"status":"ready"} when every registered component is ready and the loop
 *                 beats, else 503 {"status":"not-ready","component":"amqp","reason":"connecting",
 *                 "not_ready":[{"component":"amqp","reason":"connecting"},...]} naming the
 *                 first part that is not ready, then every one ("loop" for a stalled loop)
 *   GET /metrics  200 Prometheus text from the metrics registry
 *
 * Components (for example "amqp" and "cosmos") are registered before health_server_start and
 * then set ready or not from any thread. Reasons are copied under a mutex; they must never
 * contain a secret. Any other path returns 404, any method but GET and HEAD 405 with an Allow
 * header. One client address may hold at most 8 of the 64 connections.
 */
#ifndef WL_HEALTH_H
#define WL_HEALTH_H

#include "clock.h"
#include "metrics.h"
#include "status.h"

#include <stdbool.h>
#include <stdint.h>

typedef struct health_server health_server;
typedef struct health_component health_component;

/* Creates a server that will render `metrics` (borrowed; may be NULL for no /metrics). */
health_server *health_server_create(metrics_registry *metrics);

/* Registers a component that starts not ready with `reason`. Only before health_server_start. */
health_component *health_component_add(health_server *server, const char *name, const char *reason);

/* Marks `component` ready, or not ready with `reason`; safe from any thread. */
void health_component_set(health_component *component, bool ready, const char *reason);

/* How long a program's event loop may go without a beat before /healthz fails. The loops of the
 * producer and the consumer wait at most 1 s between passes, so only a thread that is stuck (a
 * deadlock, a blocking call) misses 15 passes. */
#define HEALTH_STALL_LIMIT_MS 15000

/*
 * Makes /healthz and /readyz return 503 once health_server_beat has not been called for more than
 * `limit_ms` on `clock`, counted from this call. Call it once, before the loop starts beating.
 */
void health_server_watch_beats(health_server *server, const wl_clock *clock, int64_t limit_ms);

/* Records that the watched loop ran. Safe from any thread, and a no-op before
 * health_server_watch_beats. */
void health_server_beat(health_server *server);

/*
 * Listens on `bind_address` (for example "0.0.0.0", or "127.0.0.1" in tests) and `port` (0 for a
 * free port, see health_server_port). Returns WL_ERR_INVALID naming the address and the flags to
 * change when the address is in use or not available, and WL_ERR_IO for other failures.
 */
wl_status health_server_start(health_server *server, const char *bind_address, uint16_t port,
                              wl_error *err);

/* Returns the bound port; 0 before a successful start. */
uint16_t health_server_port(const health_server *server);

/* Stops the server (if started) and frees it and its components. */
void health_server_destroy(health_server *server);

/*
 * Fetches `url` with a GET and returns WL_OK for status 200. Used by the services' --check mode
 * (a container HEALTHCHECK without curl). Waits at most `timeout_ms`.
 */
wl_status health_check_url(const char *url, int64_t timeout_ms, wl_error *err);

#endif
