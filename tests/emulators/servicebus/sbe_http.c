#include "sbe_http.h"

#include "log.h"
#include "sas.h"
#include "sbe_auth.h"
#include "timefmt.h"

#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

struct sbe_http {
    sbe_store *store;
    sbe_http_options options;
    const wl_clock *clock;
    struct MHD_Daemon *daemon;
    int port;
};

static enum MHD_Result respond(struct MHD_Connection *connection, unsigned int status,
                               const char *content_type, char *body)
{
    struct MHD_Response *response =
        MHD_create_response_from_buffer(strlen(body), body, MHD_RESPMEM_MUST_FREE);
    enum MHD_Result result;

    MHD_add_response_header(response, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
    result = MHD_queue_response(connection, status, response);
    MHD_destroy_response(response);
    return result;
}

/* Formats milliseconds as the ISO 8601 duration Service Bus returns, such as PT1M or P14D. */
static void format_duration(int64_t ms, char *out, size_t capacity)
{
    int64_t seconds = ms / 1000;
    int64_t days = seconds / 86400;
    int64_t hours = seconds % 86400 / 3600;
    int64_t minutes = seconds % 3600 / 60;
    int64_t rest = seconds % 60;
    size_t n = (size_t)snprintf(out, capacity, "P");

    if (ms == SBE_TTL_INFINITE_MS) {
        snprintf(out, capacity, "P10675199DT2H48M5.4775807S");
        return;
    }
    if (days > 0) {
        n += (size_t)snprintf(out + n, capacity - n, "%lldD", (long long)days);
    }
    if (hours > 0 || minutes > 0 || rest > 0 || days == 0) {
        n += (size_t)snprintf(out + n, capacity - n, "T");
        if (hours > 0) {
            n += (size_t)snprintf(out + n, capacity - n, "%lldH", (long long)hours);
        }
        if (minutes > 0) {
            n += (size_t)snprintf(out + n, capacity - n, "%lldM", (long long)minutes);
        }
        if (rest > 0 || (hours == 0 && minutes == 0)) {
            snprintf(out + n, capacity - n, "%lldS", (long long)rest);
        }
    }
}

static char *queue_entry(const sbe_http *http, sbe_queue *queue, const char *host)
{
    const sbe_queue_config *config = sbe_queue_config_of(queue);
    sbe_queue_counts counts;
    char now[WL_ISO8601_SIZE];
    char lock[48];
    char ttl[48];
    char window[48];

    sbe_queue_get_counts(queue, &counts);
    wl_format_iso8601(wl_clock_realtime_us(http->clock) / 1000, now);
    format_duration(config->lock_duration_ms, lock, sizeof lock);
    format_duration(config->default_ttl_ms, ttl, sizeof ttl);
    format_duration(config->duplicate_window_ms, window, sizeof window);
    return wl_xasprintf(
        "<entry xmlns=\"http://www.w3.org/2005/Atom\">"
        "<id>https://%s/%s?api-version=2021-05</id>"
        "<title type=\"text\">%s</title>"
        "<published>%s</published><updated>%s</updated>"
        "<author><name>sbemulatorns</name></author>"
        "<link rel=\"self\" href=\"https://%s/%s?api-version=2021-05\"/>"
        "<content type=\"application/xml\">"
        "<QueueDescription xmlns=\"http://schemas.microsoft.com/netservices/2010/10/servicebus/"
        "connect\" xmlns:i=\"http://www.w3.org/2001/XMLSchema-instance\">"
        "<LockDuration>%s</LockDuration>"
        "<MaxSizeInMegabytes>1024</MaxSizeInMegabytes>"
        "<RequiresDuplicateDetection>%s</RequiresDuplicateDetection>"
        "<RequiresSession>false</RequiresSession>"
        "<DefaultMessageTimeToLive>%s</DefaultMessageTimeToLive>"
        "<DeadLetteringOnMessageExpiration>%s</DeadLetteringOnMessageExpiration>"
        "<DuplicateDetectionHistoryTimeWindow>%s</DuplicateDetectionHistoryTimeWindow>"
        "<MaxDeliveryCount>%u</MaxDeliveryCount>"
        "<EnableBatchedOperations>true</EnableBatchedOperations>"
        "<SizeInBytes>0</SizeInBytes>"
        "<MessageCount>%zu</MessageCount>"
        "<IsAnonymousAccessible>false</IsAnonymousAccessible>"
        "<Status>Active</Status>"
        "<CreatedAt>%s</CreatedAt><UpdatedAt>%s</UpdatedAt><AccessedAt>%s</AccessedAt>"
        "<SupportOrdering>true</SupportOrdering>"
        "<CountDetails xmlns:d2p1=\"http://schemas.microsoft.com/netservices/2011/06/"
        "servicebus\">"
        "<d2p1:ActiveMessageCount>%zu</d2p1:ActiveMessageCount>"
        "<d2p1:DeadLetterMessageCount>%zu</d2p1:DeadLetterMessageCount>"
        "<d2p1:ScheduledMessageCount>%zu</d2p1:ScheduledMessageCount>"
        "<d2p1:TransferMessageCount>0</d2p1:TransferMessageCount>"
        "<d2p1:TransferDeadLetterMessageCount>0</d2p1:TransferDeadLetterMessageCount>"
        "</CountDetails>"
        "<AutoDeleteOnIdle>P10675199DT2H48M5.4775807S</AutoDeleteOnIdle>"
        "<EnablePartitioning>false</EnablePartitioning>"
        "<EntityAvailabilityStatus>Available</EntityAvailabilityStatus>"
        "<EnableExpress>false</EnableExpress>"
        "</QueueDescription></content></entry>",
        host, sbe_queue_path(queue), sbe_queue_path(queue), now, now, host, sbe_queue_path(queue),
        lock, config->requires_duplicate_detection ? "true" : "false", ttl,
        config->dead_letter_on_expiration ? "true" : "false", window, config->max_delivery_count,
        counts.active + counts.dead_letter + counts.scheduled, now, now, now, counts.active,
        counts.dead_letter, counts.scheduled);
}

static char *empty_feed(const sbe_http *http, const char *host, const char *path)
{
    char now[WL_ISO8601_SIZE];

    wl_format_iso8601(wl_clock_realtime_us(http->clock) / 1000, now);
    return wl_xasprintf("<feed xmlns=\"http://www.w3.org/2005/Atom\">"
                        "<title type=\"text\">Publicly Listed Services</title>"
                        "<id>uuid:00000000-0000-0000-0000-000000000000;id=1</id>"
                        "<updated>%s</updated>"
                        "<link rel=\"self\" href=\"https://%s/%s?api-version=2021-05\"/>"
                        "</feed>",
                        now, host, path);
}

/*
 * Checks a SAS Authorization header when one is sent. NOTE: a request without the header is
 * served, so that tests can read counts with plain curl; Service Bus requires it.
 */
static bool authorized(const sbe_http *http, struct MHD_Connection *connection, const char *path,
                       char *description, size_t capacity)
{
    const char *header =
        MHD_lookup_connection_value(connection, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    sas_token_fields fields;
    wl_error err = {0};

    if (header == NULL) {
        return true;
    }
    if (sas_token_parse(header, &fields, &err) != WL_OK) {
        snprintf(description, capacity, "%s", err.message);
        return false;
    }
    char *scope = sbe_entity_path(fields.resource);
    bool ok = sas_token_verify(header, fields.resource, http->options.key_name, http->options.key,
                               wl_clock_realtime_us(http->clock) / 1000000, &err) == WL_OK &&
              sbe_scope_covers(scope, path);
    if (!ok) {
        snprintf(description, capacity, "%s",
                 err.message[0] ? err.message : "the token does not cover this entity");
    }
    free(scope);
    sas_token_fields_free(&fields);
    return ok;
}

static enum MHD_Result handle_request(void *cls, struct MHD_Connection *connection, const char *url,
                                      const char *method, const char *version,
                                      const char *upload_data, size_t *upload_data_size,
                                      void **request_ctx)
{
    sbe_http *http = cls;
    char description[600];

    (void)version;
    (void)upload_data;
    (void)upload_data_size;
    (void)request_ctx;
    if (strcmp(method, "GET") != 0) {
        return respond(connection, MHD_HTTP_METHOD_NOT_ALLOWED, "application/json",
                       wl_xstrdup("{\"error\":\"only GET is supported\"}"));
    }
    if (strcmp(url, "/health") == 0) {
        return respond(connection, MHD_HTTP_OK, "application/json",
                       wl_xstrdup("{\"status\":\"healthy\"}"));
    }

    const char *host = MHD_lookup_connection_value(connection, MHD_HEADER_KIND, "Host");
    char *path = sbe_entity_path(url);
    enum MHD_Result result;
    if (!authorized(http, connection, path, description, sizeof description)) {
        char *body =
            wl_xasprintf("<Error><Code>401</Code><Detail>%s</Detail></Error>", description);
        result = respond(connection, MHD_HTTP_UNAUTHORIZED, "application/xml", body);
    } else {
        sbe_queue *queue = path[0] ? sbe_store_find(http->store, path) : NULL;
        char *body = queue != NULL && !sbe_queue_is_dead_letter(queue)
                         ? queue_entry(http, queue, host ? host : "localhost")
                         : empty_feed(http, host ? host : "localhost", path);
        result =
            respond(connection, MHD_HTTP_OK, "application/atom+xml;type=entry;charset=utf-8", body);
    }
    free(path);
    return result;
}

/* Resolves `host` (a name such as localhost, or a numeric address) to its first address. */
static bool resolve_bind_address(const char *host, int port, struct sockaddr_storage *out,
                                 wl_error *err)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    struct addrinfo *found = NULL;
    char service[16];

    snprintf(service, sizeof service, "%d", port);
    int rc = getaddrinfo(host, service, &hints, &found);
    if (rc != 0 || found == NULL) {
        wl_error_set(err, WL_ERR_INVALID,
                     "--bind %s cannot be resolved (%s): use an address such as 127.0.0.1", host,
                     gai_strerror(rc));
        return false;
    }
    memcpy(out, found->ai_addr, found->ai_addrlen);
    freeaddrinfo(found);
    return true;
}

sbe_http *sbe_http_start(sbe_store *store, const sbe_http_options *options, const wl_clock *clock,
                         wl_error *err)
{
    struct sockaddr_storage address = {0};
    sbe_http *http = wl_xcalloc(1, sizeof *http);

    http->store = store;
    http->options = *options;
    http->clock = clock;

    unsigned int flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG;
    if (!resolve_bind_address(options->bind_address, options->port, &address, err)) {
        free(http);
        return NULL;
    }
    if (address.ss_family == AF_INET6) {
        flags |= MHD_USE_IPv6;
    }

    http->daemon =
        MHD_start_daemon(flags, (uint16_t)options->port, NULL, NULL, handle_request, http,
                         MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&address, MHD_OPTION_END);
    if (http->daemon == NULL) {
        wl_error_set(err, WL_ERR_IO, "cannot listen for HTTP on %s port %d", options->bind_address,
                     options->port);
        free(http);
        return NULL;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(http->daemon, MHD_DAEMON_INFO_BIND_PORT);
    http->port = info != NULL ? info->port : options->port;
    return http;
}

int sbe_http_port(const sbe_http *http)
{
    return http->port;
}

void sbe_http_destroy(sbe_http *http)
{
    if (http == NULL) {
        return;
    }
    MHD_stop_daemon(http->daemon);
    free(http);
}
