#include "options.h"

#include <stddef.h>
#include <string.h>

#define FIELD(name) offsetof(consumer_options, name)

static const config_option options_table[] = {
    {"connection-string", "SERVICEBUS_CONNECTION_STRING", CONFIG_STRING, NULL, NULL, 0, 0, true,
     "Service Bus connection string with a SAS key; leave unset to use workload identity.",
     FIELD(connection_string)},
    {"namespace", "SERVICEBUS_NAMESPACE", CONFIG_STRING, NULL, NULL, 0, 0, false,
     "Service Bus namespace host (NAME.servicebus.windows.net) for workload identity.",
     FIELD(namespace_host)},
    {"queue", "SERVICEBUS_QUEUE", CONFIG_STRING, "orders", NULL, 0, 0, false,
     "Queue to receive from.", FIELD(queue)},
    {"source-address", "SERVICEBUS_SOURCE_ADDRESS", CONFIG_STRING, NULL, NULL, 0, 0, false,
     "Receiver link source address when it differs from the queue name (RabbitMQ: "
     "/amq/queue/NAME).",
     FIELD(source_address)},
    {"auth", "SERVICEBUS_AUTH", CONFIG_STRING, "cbs", NULL, 0, 0, false,
     "AMQP authentication: cbs (Service Bus), plain (SASL PLAIN with the key name and key, no "
     "CBS) or none.",
     FIELD(auth)},
    {"rcv-settle-mode", "SERVICEBUS_RCV_SETTLE_MODE", CONFIG_STRING, "second", NULL, 0, 0, false,
     "Receiver settle mode: second (Service Bus) or first (brokers that reject second).",
     FIELD(rcv_settle_mode)},
    {"management", "SERVICEBUS_MANAGEMENT", CONFIG_BOOL, "true", NULL, 0, 0, false,
     "Use the queue's $management node to renew locks and settle after a reconnect.",
     FIELD(management)},
    {"servicebus-ca-file", "SERVICEBUS_CA_FILE", CONFIG_STRING, NULL, NULL, 0, 0, false,
     "PEM file of CAs trusted for the Service Bus TLS connection (default: system store).",
     FIELD(servicebus_ca_file)},
    {"cosmos-endpoint", "COSMOS_ENDPOINT", CONFIG_STRING, NULL, NULL, 0, 0, false,
     "Cosmos DB account endpoint, https://ACCOUNT.documents.azure.com:443/",
     FIELD(cosmos_endpoint)},
    {"cosmos-key", "COSMOS_KEY", CONFIG_STRING, NULL, NULL, 0, 0, true,
     "Cosmos DB master key; leave unset to use workload identity.", FIELD(cosmos_key)},
    {"cosmos-database", "COSMOS_DATABASE", CONFIG_STRING, "workload", NULL, 0, 0, false,
     "Cosmos DB database id.", FIELD(cosmos_database)},
    {"cosmos-container", "COSMOS_CONTAINER", CONFIG_STRING, "results", NULL, 0, 0, false,
     "Cosmos DB container id.", FIELD(cosmos_container)},
    {"partition-key-path", "COSMOS_PARTITION_KEY_PATH", CONFIG_STRING, "/id", NULL, 0, 0, false,
     "Container partition key path: /id, /data, /srcStamp or /destStamp.",
     FIELD(partition_key_path)},
    {"cosmos-ca-file", "COSMOS_CA_FILE", CONFIG_STRING, NULL, NULL, 0, 0, false,
     "PEM file of CAs trusted for Cosmos DB HTTPS (default: system store).", FIELD(cosmos_ca_file)},
    {"cosmos-timeout", "COSMOS_REQUEST_TIMEOUT", CONFIG_DURATION, "10s", "ms", 100, 300000, false,
     "Timeout of one Cosmos DB request, connect included.", FIELD(cosmos_timeout_ms)},
    {"concurrency", "CONSUMER_CONCURRENCY", CONFIG_INT, "32", "requests", 1, 512, false,
     "Concurrent Cosmos DB upserts (and connections).", FIELD(concurrency)},
    {"prefetch", "CONSUMER_PREFETCH", CONFIG_INT, "8", "messages", 0, 1000, false,
     "Messages locked ahead of the writers; link credit is concurrency plus prefetch.",
     FIELD(prefetch)},
    {"message-deadline", "CONSUMER_MESSAGE_DEADLINE", CONFIG_DURATION, "60s", "s", 1000, 3600000,
     false, "How long one delivery of a message may retry its write before it is abandoned.",
     FIELD(message_deadline_ms)},
    {"health-port", "HEALTH_PORT", CONFIG_INT, "8080", "port", 0, 65535, false,
     "Port of /healthz, /readyz and /metrics (0 picks a free port).", FIELD(health_port)},
    {"health-bind", "HEALTH_BIND", CONFIG_STRING, "0.0.0.0", NULL, 0, 0, false,
     "Address the health server binds.", FIELD(health_bind)},
    {"shutdown-grace", "SHUTDOWN_GRACE_SECONDS", CONFIG_DURATION, "25s", "s", 0, 3600000, false,
     "Time after SIGTERM to finish in-flight writes before the rest is abandoned.",
     FIELD(shutdown_grace_ms)},
    {"log-level", "LOG_LEVEL", CONFIG_STRING, "info", NULL, 0, 0, false,
     "Minimum log level: debug, info, warn or error.", FIELD(log_level)},
    {"check", NULL, CONFIG_BOOL, "false", NULL, 0, 0, false,
     "Request /healthz of the consumer on --health-port and exit 0 when it is healthy.",
     FIELD(check)},
};

const config_table consumer_config_table = {
    .options = options_table,
    .count = sizeof options_table / sizeof options_table[0],
};

static bool one_of(const char *value, const char *const *allowed)
{
    for (; *allowed; allowed++) {
        if (strcmp(value, *allowed) == 0) {
            return true;
        }
    }
    return false;
}

static wl_status check_choices(const consumer_options *options, wl_error *err)
{
    static const char *const auths[] = {"cbs", "plain", "none", NULL};
    static const char *const modes[] = {"second", "first", NULL};
    static const char *const levels[] = {"debug", "info", "warn", "error", NULL};
    static const char *const keys[] = {"/id", "/data", "/srcStamp", "/destStamp", NULL};

    if (!one_of(options->auth, auths)) {
        return wl_error_set(err, WL_ERR_INVALID,
                            "invalid value \"%s\" for --auth (SERVICEBUS_AUTH): expected cbs, "
                            "plain or none",
                            options->auth);
    }
    if (!one_of(options->rcv_settle_mode, modes)) {
        return wl_error_set(err, WL_ERR_INVALID,
                            "invalid value \"%s\" for --rcv-settle-mode "
                            "(SERVICEBUS_RCV_SETTLE_MODE): expected second or first",
                            options->rcv_settle_mode);
    }
    if (!one_of(options->log_level, levels)) {
        return wl_error_set(err, WL_ERR_INVALID,
                            "invalid value \"%s\" for --log-level (LOG_LEVEL): expected debug, "
                            "info, warn or error",
                            options->log_level);
    }
    if (!one_of(options->partition_key_path, keys)) {
        return wl_error_set(err, WL_ERR_INVALID,
                            "invalid value \"%s\" for --partition-key-path "
                            "(COSMOS_PARTITION_KEY_PATH): expected /id, /data, /srcStamp or "
                            "/destStamp, a string field of the stored document",
                            options->partition_key_path);
    }
    return WL_OK;
}

static wl_status check_endpoints(const consumer_options *options, wl_error *err)
{
    if (options->connection_string == NULL && options->namespace_host == NULL) {
        return wl_error_set(err, WL_ERR_INVALID,
                            "missing Service Bus settings: set SERVICEBUS_CONNECTION_STRING "
                            "(SAS key) or SERVICEBUS_NAMESPACE (workload identity)");
    }
    if (options->connection_string == NULL && strcmp(options->auth, "cbs") != 0) {
        return wl_error_set(err, WL_ERR_INVALID,
                            "invalid value \"%s\" for --auth (SERVICEBUS_AUTH): workload "
                            "identity needs cbs; set SERVICEBUS_CONNECTION_STRING for plain or "
                            "none",
                            options->auth);
    }
    if (options->cosmos_endpoint == NULL || options->cosmos_endpoint[0] == '\0') {
        return wl_error_set(err, WL_ERR_INVALID,
                            "missing COSMOS_ENDPOINT: set it to the account endpoint, for "
                            "example https://ACCOUNT.documents.azure.com:443/");
    }
    if (options->queue == NULL || options->queue[0] == '\0') {
        return wl_error_set(err, WL_ERR_INVALID,
                            "missing SERVICEBUS_QUEUE: set it to the queue to receive from");
    }
    return WL_OK;
}

wl_status consumer_options_load(consumer_options *options, int argc, char **argv, bool *out_help,
                                wl_error *err)
{
    wl_status status;

    memset(options, 0, sizeof *options);
    status = config_load(&consumer_config_table, options, argc, argv, NULL, out_help, err);
    if (status != WL_OK || *out_help || options->check) {
        return status;
    }
    status = check_choices(options, err);
    if (status != WL_OK) {
        return status;
    }
    return check_endpoints(options, err);
}

void consumer_options_free(consumer_options *options)
{
    config_free(&consumer_config_table, options);
}

const char *consumer_partition_key_field(const consumer_options *options)
{
    return options->partition_key_path + 1;
}
