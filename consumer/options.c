#include "options.h"

#include "encoding.h"

#include <ctype.h>
#include <curl/curl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#define FIELD(name) offsetof(consumer_options, name)

static const config_option options_table[] = {
    {"source-address", "SERVICEBUS_SOURCE_ADDRESS", CONFIG_STRING, NULL, NULL, 0, 0, 0,
     "Receiver link source address when it differs from the queue name (RabbitMQ: "
     "/amq/queue/NAME).",
     FIELD(source_address)},
    {"rcv-settle-mode", "SERVICEBUS_RCV_SETTLE_MODE", CONFIG_STRING, "second", NULL, 0, 0, 0,
     "Receiver settle mode: second (Service Bus) or first (brokers that reject second).",
     FIELD(rcv_settle_mode)},
    {"management", "SERVICEBUS_MANAGEMENT", CONFIG_BOOL, "true", NULL, 0, 0, 0,
     "Use the queue's $management node to renew locks and settle after a reconnect.",
     FIELD(management)},
    {"cosmos-endpoint", "COSMOS_ENDPOINT", CONFIG_STRING, NULL, NULL, 0, 0, 0,
     "Cosmos DB account endpoint, https://ACCOUNT.documents.azure.com:443/",
     FIELD(cosmos_endpoint)},
    {"cosmos-key", "COSMOS_KEY", CONFIG_STRING, NULL, NULL, 0, 0, CONFIG_SECRET,
     "Cosmos DB master key; leave unset to use workload identity.", FIELD(cosmos_key)},
    {"cosmos-database", "COSMOS_DATABASE", CONFIG_STRING, "workload", NULL, 0, 0, 0,
     "Cosmos DB database id.", FIELD(cosmos_database)},
    {"cosmos-container", "COSMOS_CONTAINER", CONFIG_STRING, "results", NULL, 0, 0, 0,
     "Cosmos DB container id.", FIELD(cosmos_container)},
    {"partition-key-path", "COSMOS_PARTITION_KEY_PATH", CONFIG_STRING, "/id", NULL, 0, 0, 0,
     "Container partition key path: /id, /data or /srcStamp, the document fields that stay the "
     "same when a message is redelivered.",
     FIELD(partition_key_path)},
    {"cosmos-ca-file", "COSMOS_CA_FILE", CONFIG_STRING, NULL, NULL, 0, 0, 0,
     "PEM file of CAs trusted for Cosmos DB HTTPS instead of the system store.",
     FIELD(cosmos_ca_file)},
    {"cosmos-timeout", "COSMOS_REQUEST_TIMEOUT", CONFIG_DURATION, "10s", NULL, 100, 300000, 0,
     "Timeout of one Cosmos DB request, connect included; a bare number is seconds, no longer "
     "milliseconds.",
     FIELD(cosmos_timeout_ms)},
    /* Idle reads are metadata requests, which Cosmos DB rate-limits, and a readiness probe
     * looks every few seconds, so more than one read a second would only add load. */
    {"cosmos-idle-check", "COSMOS_IDLE_CHECK_INTERVAL", CONFIG_DURATION, "10s", NULL, 1000, 3600000,
     CONFIG_ZERO_OFF,
     "How long a ready consumer may finish no Cosmos DB request before it reads the container, "
     "so that /readyz reports an outage while the queue is empty; each read is a metadata "
     "request. 0 turns these reads off.",
     FIELD(cosmos_idle_check_ms)},
    {"concurrency", "CONSUMER_CONCURRENCY", CONFIG_INT, "32", "requests", 1, 512, 0,
     "Concurrent Cosmos DB upserts (and connections).", FIELD(concurrency)},
    {"prefetch", "CONSUMER_PREFETCH", CONFIG_INT, "8", "messages", 0, 1000, 0,
     "Messages locked ahead of the writers; link credit is concurrency plus prefetch.",
     FIELD(prefetch)},
    {"coalesce-max", "CONSUMER_COALESCE_MAX", CONFIG_DURATION, "1ms", NULL, 0, 100, 0,
     "Longest pause after a pass that finished at most one Cosmos DB request while 4 or more "
     "are in flight, so that responses arriving one by one are handled together; the pause is "
     "also at most 1/8 of the mean request latency, and none is taken below 100 microseconds or "
     "while events are waiting. 0 turns it off.",
     FIELD(coalesce_max_ms)},
    /* 0 is rejected, because a deadline of 0 abandons every message before its first write. */
    {"message-deadline", "CONSUMER_MESSAGE_DEADLINE", CONFIG_DURATION, "60s", NULL, 1000, 3600000,
     0, "How long one delivery of a message may retry its write before it is abandoned.",
     FIELD(message_deadline_ms)},
    {"shutdown-grace", "CONSUMER_SHUTDOWN_GRACE", CONFIG_DURATION, "25s", NULL, 0, 3600000, 0,
     "Time after SIGTERM to finish in-flight writes before the rest is abandoned.",
     FIELD(shutdown_grace_ms)},
};

static const config_table consumer_table = {
    .options = options_table,
    .count = sizeof options_table / sizeof options_table[0],
};

/* A daemon that KEDA scales keeps reconnecting, so it never gives up by default. */
static const config_default servicebus_defaults[] = {{"give-up-after", "0"}};

/* Manifests written before CONSUMER_SHUTDOWN_GRACE set the grace period in whole seconds. */
static const config_alias consumer_aliases[] = {{"shutdown-grace", "SHUTDOWN_GRACE_SECONDS"}};

static void fill_sections(consumer_config *config)
{
    config_section *out = config->sections;

    out[0] = (config_section){.title = "Service Bus",
                              .table = &sb_settings_table,
                              .target = &config->servicebus,
                              .defaults = servicebus_defaults,
                              .default_count = 1};
    out[1] = (config_section){.title = "Consumer and Cosmos DB",
                              .table = &consumer_table,
                              .target = &config->consumer,
                              .aliases = consumer_aliases,
                              .alias_count = 1};
    out[2] = (config_section){.title = "Health and logging",
                              .table = &service_settings_table,
                              .target = &config->service};
}

/*
 * Rejects a database or container id that the Cosmos client would reject at start. Cosmos DB
 * allows ids of up to 255 characters without /, \, ? or # and without a trailing space. The
 * client puts the id unencoded into request paths and into the signed resource link, so it
 * accepts only the subset that needs no percent-encoding: 1 to 255 ASCII letters, digits,
 * '-', '_' or '.'. cosmos_client_create checks the same rule.
 */
static wl_status check_resource_id(const char *id, const char *flag, const char *env, wl_error *err)
{
    static const char expected[] = "expected 1 to 255 ASCII letters, digits, '-', '_' or '.', "
                                   "which request URLs can contain unencoded";
    char problem[64] = "";
    size_t length = id != NULL ? strlen(id) : 0;

    if (length > 255) {
        /* The whole id would not fit the message, and a cut inside a character is not UTF-8. */
        char shown[41];
        wl_utf8_copy(shown, sizeof shown, id);
        return wl_error_set(err, WL_ERR_INVALID,
                            "invalid value \"%s...\" for --%s (%s): it has %zu bytes; %s", shown,
                            flag, env, length, expected);
    }
    if (length == 0) {
        snprintf(problem, sizeof problem, "it is empty");
    }
    for (size_t i = 0; i < length && problem[0] == '\0'; i++) {
        unsigned char c = (unsigned char)id[i];
        if (c == ' ') {
            snprintf(problem, sizeof problem, "byte %zu is a space", i);
        } else if (c < 0x20 || c >= 0x7f) {
            snprintf(problem, sizeof problem, "byte %zu is not printable ASCII", i);
        } else if (!isalnum(c) && c != '-' && c != '_' && c != '.') {
            snprintf(problem, sizeof problem, "byte %zu is '%c'", i, c);
        }
    }
    if (problem[0] != '\0') {
        return wl_error_set(err, WL_ERR_INVALID, "invalid value \"%s\" for --%s (%s): %s; %s",
                            id != NULL ? id : "", flag, env, problem, expected);
    }
    return WL_OK;
}

/*
 * Rejects a master key that is not base64, which cosmos_client_create would reject later. The
 * message never contains the key, only its length.
 */
static wl_status check_cosmos_key(const char *key, wl_error *err)
{
    size_t decoded_length = 0;
    uint8_t *decoded;
    bool valid;

    if (key == NULL) {
        return WL_OK;
    }
    decoded = wl_base64_decode(key, &decoded_length);
    valid = decoded != NULL && decoded_length > 0;
    if (decoded != NULL) {
        explicit_bzero(decoded, decoded_length);
        free(decoded);
    }
    if (!valid) {
        return wl_error_set(err, WL_ERR_INVALID,
                            "invalid value for --cosmos-key (COSMOS_KEY), %zu characters (not "
                            "shown): expected standard base64 with padding, as the primary or "
                            "secondary key on the Keys page of the Cosmos DB account; unset it to "
                            "use workload identity",
                            strlen(key));
    }
    return WL_OK;
}

/* Checks that workload identity can sign Cosmos DB requests when no key is set. */
static wl_status check_cosmos_identity(const consumer_options *options, wl_error *err)
{
    cred_wi_options wi = {0};
    wl_error cause = {0};

    if (options->cosmos_key != NULL) {
        return WL_OK;
    }
    if (cred_wi_options_from_env(&wi, NULL, &cause) != WL_OK) {
        return wl_error_set(err, WL_ERR_INVALID,
                            "COSMOS_KEY is unset and workload identity is not configured: %s",
                            cause.message);
    }
    return config_check_file(wi.token_file, NULL, "AZURE_FEDERATED_TOKEN_FILE", false, err);
}

/*
 * Rejects a partition key path other than a top-level string field that is the same on every
 * delivery of a message. Cosmos DB keeps ids unique only within one partition key value, so a
 * key that changes on redelivery (destStamp, messageProcessingTime, deliveryCount) would let
 * an upsert add a second document instead of replacing the first.
 */
static wl_status check_partition_key_path(const char *path, wl_error *err)
{
    static const char *const stable[] = {"/id", "/data", "/srcStamp"};
    static const char *const per_delivery[] = {"/destStamp", "/messageProcessingTime",
                                               "/deliveryCount"};

    for (size_t i = 0; i < sizeof stable / sizeof stable[0]; i++) {
        if (path != NULL && strcmp(path, stable[i]) == 0) {
            return WL_OK;
        }
    }
    for (size_t i = 0; i < sizeof per_delivery / sizeof per_delivery[0]; i++) {
        if (path != NULL && strcmp(path, per_delivery[i]) == 0) {
            return wl_error_set(err, WL_ERR_INVALID,
                                "invalid value \"%s\" for --partition-key-path "
                                "(COSMOS_PARTITION_KEY_PATH): %s changes with each delivery, so "
                                "a redelivered message would be stored as a second document; "
                                "expected /id, /data or /srcStamp",
                                path, path + 1);
        }
    }
    return wl_error_set(err, WL_ERR_INVALID,
                        "invalid value \"%s\" for --partition-key-path "
                        "(COSMOS_PARTITION_KEY_PATH): expected /id, /data or /srcStamp, the "
                        "string fields of the document that stay the same on redelivery",
                        path != NULL ? path : "");
}

/* Returns true when `text` has a byte that a URL cannot contain unencoded: a control
 * character, a space or a byte outside ASCII. */
static bool has_invalid_url_byte(const char *text)
{
    for (const unsigned char *at = (const unsigned char *)text; *at != '\0'; at++) {
        if (*at <= 0x20 || *at >= 0x7f) {
            return true;
        }
    }
    return false;
}

/*
 * Checks the Cosmos DB endpoint with curl's URL parser: scheme http or https, a host, a port
 * from 1 to 65535 when one is given, "/" or no path, and nothing else. A value that fails here
 * would make every request fail, and the consumer would report cosmos-not-ready forever.
 */
static wl_status check_cosmos_endpoint(const char *endpoint, wl_error *err)
{
    static const char expected[] = "expected http(s)://HOST[:PORT][/] with no other path, query, "
                                   "user or fragment, for example "
                                   "https://ACCOUNT.documents.azure.com:443/";
    CURLU *url = NULL;
    char *scheme = NULL;
    char *host = NULL;
    char *port = NULL;
    char *path = NULL;
    char *extra = NULL;
    const char *problem = NULL;
    wl_status status = WL_OK;

    if (endpoint == NULL || endpoint[0] == '\0') {
        return wl_error_set(err, WL_ERR_INVALID,
                            "missing --cosmos-endpoint (COSMOS_ENDPOINT): set it to the account "
                            "endpoint, for example https://ACCOUNT.documents.azure.com:443/");
    }
    if (has_invalid_url_byte(endpoint)) {
        problem = "it contains a space, a control character or a byte outside ASCII";
        goto out;
    }

    url = curl_url();
    if (url == NULL) {
        abort();
    }
    CURLUcode code = curl_url_set(url, CURLUPART_URL, endpoint, 0);
    if (code != CURLUE_OK) {
        problem = curl_url_strerror(code);
        goto out;
    }
    curl_url_get(url, CURLUPART_SCHEME, &scheme, 0);
    if (scheme == NULL || (strcmp(scheme, "https") != 0 && strcmp(scheme, "http") != 0)) {
        problem = "the scheme is not http or https";
        goto out;
    }
    if (curl_url_get(url, CURLUPART_HOST, &host, 0) != CURLUE_OK || host[0] == '\0') {
        problem = "the host is empty";
        goto out;
    }
    if (curl_url_get(url, CURLUPART_PORT, &port, 0) == CURLUE_OK && strcmp(port, "0") == 0) {
        problem = "port 0 is not a port a server listens on";
        goto out;
    }
    /* curl 7.88 reads "https:/HOST" and "https:///HOST" as "https://HOST", which would hide a
     * typing mistake. */
    const char *authority = strchr(endpoint, ':') + 1; /* the scheme is http or https */
    if (strncmp(authority, "//", 2) != 0 || authority[2] == '/') {
        problem = "the scheme must be followed by exactly two slashes, as in https://HOST";
        goto out;
    }
    authority += 2;
    /* curl takes "HOST:" as the scheme's default port, which hides a port left out by mistake. */
    size_t authority_length = strcspn(authority, "/?#");
    if (authority_length > 0 && authority[authority_length - 1] == ':') {
        problem = "the port after ':' is empty; give one, as in :443, or leave out the ':'";
        goto out;
    }
    curl_url_get(url, CURLUPART_PATH, &path, 0);
    if (path != NULL && strcmp(path, "/") != 0 && path[0] != '\0') {
        problem = "it has a path: the consumer appends dbs/DATABASE/colls/CONTAINER itself";
        goto out;
    }
    if (curl_url_get(url, CURLUPART_QUERY, &extra, 0) == CURLUE_OK ||
        curl_url_get(url, CURLUPART_FRAGMENT, &extra, 0) == CURLUE_OK ||
        curl_url_get(url, CURLUPART_USER, &extra, 0) == CURLUE_OK) {
        problem = "it has a query, a fragment or a user name";
        goto out;
    }

out:
    if (problem != NULL) {
        char shown[300];
        wl_url_redact_userinfo(endpoint, shown, sizeof shown);
        status = wl_error_set(err, WL_ERR_INVALID,
                              "invalid value \"%s\" for --cosmos-endpoint (COSMOS_ENDPOINT): "
                              "%s; %s",
                              shown, problem, expected);
    }
    curl_free(extra);
    curl_free(path);
    curl_free(port);
    curl_free(host);
    curl_free(scheme);
    curl_url_cleanup(url);
    return status;
}

static wl_status check_consumer_options(const consumer_options *options, wl_error *err)
{
    static const char *const modes[] = {"second", "first", NULL};
    wl_status status;

    status = config_check_choice(options->rcv_settle_mode, modes, "rcv-settle-mode",
                                 "SERVICEBUS_RCV_SETTLE_MODE", err);
    if (status != WL_OK) {
        return status;
    }
    status = check_partition_key_path(options->partition_key_path, err);
    if (status != WL_OK) {
        return status;
    }
    status = check_cosmos_endpoint(options->cosmos_endpoint, err);
    if (status != WL_OK) {
        return status;
    }
    status = check_resource_id(options->cosmos_database, "cosmos-database", "COSMOS_DATABASE", err);
    if (status != WL_OK) {
        return status;
    }
    status =
        check_resource_id(options->cosmos_container, "cosmos-container", "COSMOS_CONTAINER", err);
    if (status != WL_OK) {
        return status;
    }
    status = check_cosmos_key(options->cosmos_key, err);
    if (status != WL_OK) {
        return status;
    }
    return check_cosmos_identity(options, err);
}

wl_status consumer_config_load(consumer_config *config, int argc, char **argv, bool *out_help,
                               wl_error *err)
{
    log_level level;
    wl_status status;

    memset(config, 0, sizeof *config);
    fill_sections(config);
    status = config_load_sections(config->sections, CONSUMER_SECTION_COUNT, argc, argv, NULL,
                                  out_help, err);
    if (status != WL_OK || *out_help || config->service.check) {
        return status;
    }
    status = service_settings_validate(&config->service, &level, err);
    if (status != WL_OK) {
        return status;
    }
    status = check_consumer_options(&config->consumer, err);
    if (status != WL_OK) {
        return status;
    }
    return sb_settings_resolve(&config->servicebus, NULL, &config->target, err);
}

void consumer_config_free(consumer_config *config)
{
    config_free_sections(config->sections, CONSUMER_SECTION_COUNT);
    sb_target_free(&config->target);
}

const char *consumer_partition_key_field(const consumer_options *options)
{
    return options->partition_key_path + 1;
}
