#include "health.h"

#include "clock.h"
#include "log.h"

#include <curl/curl.h>
#include <microhttpd.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define HEALTH_MAX_COMPONENTS 16

/* Connections one client address may hold open, so that a single client cannot take all
 * HEALTH_MAX_CONNECTIONS and make the kubelet's probes fail. The kubelet, a Prometheus
 * scraper and `--check` each come from their own address. */
#define HEALTH_MAX_CONNECTIONS             64
#define HEALTH_MAX_CONNECTIONS_PER_ADDRESS 8

#define HEALTH_NAME_SIZE   48
#define HEALTH_REASON_SIZE 512

struct health_component {
    char name[HEALTH_NAME_SIZE];
    atomic_bool ready;
    pthread_mutex_t lock; /* guards reason */
    char reason[HEALTH_REASON_SIZE];
};

struct health_server {
    metrics_registry *metrics;
    health_component components[HEALTH_MAX_COMPONENTS];
    size_t component_count;
    struct MHD_Daemon *daemon;
    uint16_t port;
    /* Stored last, with release order, so that a thread reading it true also reads the
     * beat_clock and beat_limit_ms set before it. */
    atomic_bool beats_watched;
    const wl_clock *beat_clock;
    int64_t beat_limit_ms;
    atomic_int_fast64_t last_beat_ms;
};

health_server *health_server_create(metrics_registry *metrics)
{
    health_server *server = wl_xcalloc(1, sizeof *server);

    server->metrics = metrics;
    return server;
}

health_component *health_component_add(health_server *server, const char *name, const char *reason)
{
    health_component *component;

    if (server->component_count == HEALTH_MAX_COMPONENTS) {
        return NULL;
    }
    component = &server->components[server->component_count++];
    snprintf(component->name, sizeof component->name, "%s", name);
    pthread_mutex_init(&component->lock, NULL);
    snprintf(component->reason, sizeof component->reason, "%s", reason != NULL ? reason : "");
    atomic_store(&component->ready, false);
    return component;
}

void health_component_set(health_component *component, bool ready, const char *reason)
{
    if (component == NULL) {
        return;
    }
    pthread_mutex_lock(&component->lock);
    snprintf(component->reason, sizeof component->reason, "%s", reason != NULL ? reason : "");
    pthread_mutex_unlock(&component->lock);
    atomic_store(&component->ready, ready);
}

void health_server_watch_beats(health_server *server, const wl_clock *clock, int64_t limit_ms)
{
    atomic_store(&server->last_beat_ms, wl_clock_monotonic_ms(clock));
    server->beat_limit_ms = limit_ms;
    server->beat_clock = clock;
    atomic_store_explicit(&server->beats_watched, true, memory_order_release);
}

void health_server_beat(health_server *server)
{
    if (atomic_load_explicit(&server->beats_watched, memory_order_acquire)) {
        atomic_store_explicit(&server->last_beat_ms, wl_clock_monotonic_ms(server->beat_clock),
                              memory_order_relaxed);
    }
}

static enum MHD_Result send_text(struct MHD_Connection *connection, unsigned int status,
                                 const char *content_type, char *body, size_t length)
{
    struct MHD_Response *response =
        MHD_create_response_from_buffer(length, body, MHD_RESPMEM_MUST_FREE);
    enum MHD_Result result;

    MHD_add_response_header(response, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
    MHD_add_response_header(response, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    if (status == MHD_HTTP_METHOD_NOT_ALLOWED) {
        /* RFC 9110 section 15.5.6: a 405 response must list the allowed methods. */
        MHD_add_response_header(response, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
    }
    result = MHD_queue_response(connection, status, response);
    MHD_destroy_response(response);
    return result;
}

static enum MHD_Result send_json(struct MHD_Connection *connection, unsigned int status, char *body)
{
    return send_text(connection, status, "application/json", body, strlen(body));
}

/* Writes why the watched loop counts as stalled into `out` and returns true, or returns false
 * while it beats within its limit or is not watched. */
static bool loop_stalled(health_server *server, char *out, size_t capacity)
{
    if (!atomic_load_explicit(&server->beats_watched, memory_order_acquire)) {
        return false;
    }
    int64_t silent_ms = wl_clock_monotonic_ms(server->beat_clock) -
                        atomic_load_explicit(&server->last_beat_ms, memory_order_relaxed);
    if (silent_ms <= server->beat_limit_ms) {
        return false;
    }
    snprintf(out, capacity, "the event loop has not run for %lld ms (limit %lld ms)",
             (long long)silent_ms, (long long)server->beat_limit_ms);
    return true;
}

/* Returns 200 while the watched loop has beaten within its limit, else 503 naming the gap. */
static enum MHD_Result serve_live(health_server *server, struct MHD_Connection *connection)
{
    char reason[96];

    if (loop_stalled(server, reason, sizeof reason)) {
        return send_json(connection, MHD_HTTP_SERVICE_UNAVAILABLE,
                         wl_xasprintf("{\"status\":\"stalled\",\"reason\":\"%s\"}", reason));
    }
    return send_json(connection, MHD_HTTP_OK, wl_xstrdup("{\"status\":\"ok\"}"));
}

/* The parts of a /readyz body that are not ready, as JSON members, grown one part at a time. */
typedef struct not_ready_list {
    char *first;   /* "component":NAME,"reason":REASON of the first part; NULL while empty */
    char *entries; /* {...},{...} of every part */
} not_ready_list;

static void not_ready_add(not_ready_list *list, const char *name, const char *reason)
{
    char escaped_reason[2 * HEALTH_REASON_SIZE];
    char escaped_name[2 * HEALTH_NAME_SIZE];

    log_json_escape(escaped_reason, sizeof escaped_reason, reason);
    log_json_escape(escaped_name, sizeof escaped_name, name);
    char *members =
        wl_xasprintf("\"component\":\"%s\",\"reason\":\"%s\"", escaped_name, escaped_reason);
    char *entries = wl_xasprintf("%s%s{%s}", list->entries ? list->entries : "",
                                 list->entries ? "," : "", members);
    free(list->entries);
    list->entries = entries;
    if (list->first == NULL) {
        list->first = members;
    } else {
        free(members);
    }
}

/*
 * Returns 200 when every component is ready and the loop beats. Otherwise returns 503 naming
 * the first part that is not ready in "component" and "reason", and every such part in
 * "not_ready", so that one look shows all that needs fixing.
 */
static enum MHD_Result serve_ready(health_server *server, struct MHD_Connection *connection)
{
    not_ready_list list = {0};
    char stalled[96];

    if (loop_stalled(server, stalled, sizeof stalled)) {
        not_ready_add(&list, "loop", stalled);
    }
    for (size_t i = 0; i < server->component_count; i++) {
        health_component *component = &server->components[i];
        char reason[sizeof component->reason];

        if (atomic_load(&component->ready)) {
            continue;
        }
        pthread_mutex_lock(&component->lock);
        memcpy(reason, component->reason, sizeof reason);
        pthread_mutex_unlock(&component->lock);
        not_ready_add(&list, component->name, reason);
    }
    if (list.first == NULL) {
        return send_json(connection, MHD_HTTP_OK, wl_xstrdup("{\"status\":\"ready\"}"));
    }
    char *body =
        wl_xasprintf("{\"status\":\"not-ready\",%s,\"not_ready\":[%s]}", list.first, list.entries);
    free(list.first);
    free(list.entries);
    return send_json(connection, MHD_HTTP_SERVICE_UNAVAILABLE, body);
}

static enum MHD_Result handle_request(void *cls, struct MHD_Connection *connection, const char *url,
                                      const char *method, const char *version,
                                      const char *upload_data, size_t *upload_data_size,
                                      void **request_state)
{
    health_server *server = cls;

    (void)version;
    (void)upload_data;
    (void)upload_data_size;
    (void)request_state;
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
        return send_json(connection, MHD_HTTP_METHOD_NOT_ALLOWED,
                         wl_xstrdup("{\"error\":\"method not allowed: use GET\"}"));
    }
    if (strcmp(url, "/healthz") == 0) {
        return serve_live(server, connection);
    }
    if (strcmp(url, "/readyz") == 0) {
        return serve_ready(server, connection);
    }
    if (strcmp(url, "/metrics") == 0 && server->metrics != NULL) {
        size_t length = 0;
        char *body = metrics_render(server->metrics, &length);
        return send_text(connection, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8", body,
                         length);
    }
    return send_json(connection, MHD_HTTP_NOT_FOUND,
                     wl_xstrdup("{\"error\":\"not found: try /healthz, /readyz or /metrics\"}"));
}

/*
 * Returns the errno of binding a socket the way libmicrohttpd does, or 0 when the bind now
 * succeeds. libmicrohttpd reports no error code, so this finds out why it could not listen.
 */
static int probe_bind_errno(const struct sockaddr_in *address)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int enable = 1;
    int result = 0;

    if (fd < 0) {
        return errno;
    }
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &enable, sizeof enable);
    if (bind(fd, (const struct sockaddr *)address, sizeof *address) != 0) {
        result = errno;
    }
    close(fd);
    return result;
}

wl_status health_server_start(health_server *server, const char *bind_address, uint16_t port,
                              wl_error *err)
{
    struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = htons(port)};

    if (inet_pton(AF_INET, bind_address, &address.sin_addr) != 1) {
        return wl_error_set(err, WL_ERR_INVALID,
                            "invalid health bind address \"%s\": expected an IPv4 address such as "
                            "0.0.0.0",
                            bind_address);
    }
    server->daemon = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD, port, NULL, NULL, handle_request, server,
        MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&address, MHD_OPTION_CONNECTION_TIMEOUT,
        (unsigned int)10, MHD_OPTION_CONNECTION_LIMIT, (unsigned int)HEALTH_MAX_CONNECTIONS,
        MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned int)HEALTH_MAX_CONNECTIONS_PER_ADDRESS,
        MHD_OPTION_END);
    if (server->daemon == NULL) {
        int cause = probe_bind_errno(&address);
        if (cause == EADDRINUSE || cause == EACCES || cause == EADDRNOTAVAIL) {
            return wl_error_set(err, WL_ERR_INVALID,
                                "cannot listen for health checks on %s:%u: %s; choose another "
                                "--health-port (HEALTH_PORT) or --health-bind (HEALTH_BIND), or "
                                "set --health-port -1 to turn the health server off",
                                bind_address, (unsigned)port, strerror(cause));
        }
        return wl_error_set(err, WL_ERR_IO, "cannot listen for health checks on %s:%u: %s",
                            bind_address, (unsigned)port,
                            cause != 0 ? strerror(cause) : "libmicrohttpd failed to start");
    }
    const union MHD_DaemonInfo *info =
        MHD_get_daemon_info(server->daemon, MHD_DAEMON_INFO_BIND_PORT);
    server->port = info != NULL ? info->port : port;
    return WL_OK;
}

uint16_t health_server_port(const health_server *server)
{
    return server->port;
}

void health_server_destroy(health_server *server)
{
    if (server == NULL) {
        return;
    }
    if (server->daemon != NULL) {
        MHD_stop_daemon(server->daemon);
    }
    for (size_t i = 0; i < server->component_count; i++) {
        pthread_mutex_destroy(&server->components[i].lock);
    }
    free(server);
}

static size_t discard_body(char *data, size_t size, size_t count, void *user)
{
    (void)data;
    (void)user;
    return size * count;
}

wl_status health_check_url(const char *url, int64_t timeout_ms, wl_error *err)
{
    CURL *curl = curl_easy_init();
    char curl_error[CURL_ERROR_SIZE] = "";
    long http_status = 0;
    wl_status status = WL_OK;

    if (curl == NULL) {
        return wl_error_set(err, WL_ERR_IO, "curl_easy_init failed");
    }
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, discard_body);
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, curl_error);
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");

    CURLcode code = curl_easy_perform(curl);
    if (code != CURLE_OK) {
        status = wl_error_set(err, code == CURLE_OPERATION_TIMEDOUT ? WL_ERR_TIMEOUT : WL_ERR_IO,
                              "health check of %s failed: %s", url,
                              curl_error[0] != '\0' ? curl_error : curl_easy_strerror(code));
    } else {
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &http_status);
        if (http_status != 200) {
            status = wl_error_set(err, WL_ERR_UNAVAILABLE, "health check of %s returned HTTP %ld",
                                  url, http_status);
        }
    }
    curl_easy_cleanup(curl);
    return status;
}
