#include "options.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#define FIELD(name) offsetof(producer_options, name)

static const config_option option_table[] = {
    {"connection-string", "SERVICEBUS_CONNECTION_STRING", CONFIG_STRING, NULL, NULL, 0, 0, true,
     "Service Bus connection string (SAS key or signature, emulator, or amqp:// broker).",
     FIELD(connection_string)},
    {"namespace", "SERVICEBUS_NAMESPACE", CONFIG_STRING, NULL, NULL, 0, 0, false,
     "Namespace to reach over TLS with workload identity when no connection string is set: a "
     "name (completed with .servicebus.windows.net), a host, or HOST:PORT.",
     FIELD(namespace_name)},
    {"queue", "SERVICEBUS_QUEUE", CONFIG_STRING, NULL, NULL, 0, 0, false,
     "Queue (target address) to send to; defaults to the connection string's EntityPath.",
     FIELD(queue)},
    {"count", "PRODUCER_COUNT", CONFIG_INT, "1000", "messages", 0, 1e15, false,
     "Messages to send; 0 sends until stopped or until --duration ends.", FIELD(count)},
    {"rate", "PRODUCER_RATE", CONFIG_DOUBLE, "0", "messages/s", 0, 1e9, false,
     "Send rate over all connections; 0 sends as fast as acknowledgements allow.", FIELD(rate)},
    {"inflight", "PRODUCER_INFLIGHT", CONFIG_INT, "1000", "messages", 1, 1000000, false,
     "Unacknowledged messages allowed per connection.", FIELD(inflight)},
    {"connections", "PRODUCER_CONNECTIONS", CONFIG_INT, "1", "connections", 1, 256, false,
     "AMQP connections to send over in parallel.", FIELD(connections)},
    {"duration", "PRODUCER_DURATION", CONFIG_DURATION, "0", "s", 0, 3.6e9, false,
     "Stop sending new messages after this long; 0 means no limit.", FIELD(duration_ms)},
    {"body-size", "PRODUCER_BODY_SIZE", CONFIG_INT, "0", "bytes", 0, 262144, false,
     "Pad each JSON body to this size with a \"pad\" field; 0 adds no padding.", FIELD(body_size)},
    {"ca-file", "SERVICEBUS_CA_FILE", CONFIG_STRING, NULL, NULL, 0, 0, false,
     "PEM file of CAs trusted for TLS instead of the system store.", FIELD(ca_file)},
    {"cbs", "SERVICEBUS_CBS", CONFIG_BOOL, "true", NULL, 0, 0, false,
     "Authorize with CBS put-token (Service Bus); false uses the --sasl mechanism instead "
     "(generic AMQP 1.0 brokers).",
     FIELD(cbs)},
    {"sasl", "SERVICEBUS_SASL", CONFIG_STRING, "plain", NULL, 0, 0, false,
     "SASL mechanism with --cbs=false: plain (username and password) or anonymous.", FIELD(sasl)},
    {"username", "SERVICEBUS_USERNAME", CONFIG_STRING, NULL, NULL, 0, 0, false,
     "SASL PLAIN username with --cbs=false; defaults to SharedAccessKeyName.", FIELD(username)},
    {"password", "SERVICEBUS_PASSWORD", CONFIG_STRING, NULL, NULL, 0, 0, true,
     "SASL PLAIN password with --cbs=false; defaults to SharedAccessKey.", FIELD(password)},
    {"allow-insecure-plain", "SERVICEBUS_ALLOW_INSECURE_PLAIN", CONFIG_BOOL, "false", NULL, 0, 0,
     false, "Allow SASL PLAIN over plain TCP, which sends the password unencrypted.",
     FIELD(allow_insecure_plain)},
    {"connect-timeout", "SERVICEBUS_CONNECT_TIMEOUT", CONFIG_DURATION, "30s", "s", 100, 3.6e6,
     false, "Limit for one connection attempt, from TCP connect to an open AMQP session.",
     FIELD(connect_timeout_ms)},
    {"give-up-after", "SERVICEBUS_GIVE_UP_AFTER", CONFIG_DURATION, "60s", "s", 100, 8.64e7, false,
     "Exit with status 1 after this long without a working connection.", FIELD(give_up_after_ms)},
    {"idle-timeout", "SERVICEBUS_IDLE_TIMEOUT", CONFIG_DURATION, "60s", "s", 1000, 3.6e6, false,
     "AMQP idle timeout advertised to the peer.", FIELD(idle_timeout_ms)},
    {"send-timeout", "PRODUCER_SEND_TIMEOUT", CONFIG_DURATION, "60s", "s", 100, 3.6e6, false,
     "Resend a message that has no acknowledgement after this long.", FIELD(send_timeout_ms)},
    {"max-retries", "PRODUCER_MAX_RETRIES", CONFIG_INT, "10", "retries", 0, 1000000, false,
     "Resends of one message after server-busy, a timeout or a release before it counts as "
     "failed; resends after a lost connection are not counted.",
     FIELD(max_retries)},
    {"shutdown-grace", "PRODUCER_SHUTDOWN_GRACE", CONFIG_DURATION, "10s", "s", 0, 3.6e6, false,
     "On SIGTERM or SIGINT, wait this long for outstanding acknowledgements.",
     FIELD(shutdown_grace_ms)},
    {"progress-interval", "PRODUCER_PROGRESS_INTERVAL", CONFIG_DURATION, "5s", "s", 100, 3.6e6,
     false, "Interval between JSON progress lines.", FIELD(progress_interval_ms)},
    {"progress", "PRODUCER_PROGRESS", CONFIG_STRING, "auto", NULL, 0, 0, false,
     "Progress output: bar (on stderr), json (log lines), off, or auto (bar on a terminal).",
     FIELD(progress)},
    {"health-port", "PRODUCER_HEALTH_PORT", CONFIG_INT, "-1", "port", -1, 65535, false,
     "Port of the /healthz, /readyz and /metrics server; -1 disables it, 0 picks a free one.",
     FIELD(health_port)},
    {"health-bind", "PRODUCER_HEALTH_BIND", CONFIG_STRING, "0.0.0.0", NULL, 0, 0, false,
     "IPv4 address the health server listens on.", FIELD(health_bind)},
    {"check", NULL, CONFIG_STRING, NULL, NULL, 0, 0, false,
     "Fetch this URL (for example http://127.0.0.1:8080/healthz), exit 0 on HTTP 200 and 1 "
     "otherwise.",
     FIELD(check_url)},
    {"log-level", "LOG_LEVEL", CONFIG_STRING, "info", NULL, 0, 0, false,
     "Minimum log level: debug, info, warn or error.", FIELD(log_level)},
};

const config_table producer_options_table = {option_table,
                                             sizeof option_table / sizeof option_table[0]};

static bool is_one_of(const char *value, const char *const *choices, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        if (strcmp(value, choices[i]) == 0) {
            return true;
        }
    }
    return false;
}

static wl_status resolve_connection_string(const producer_options *options, producer_target *out,
                                           wl_error *err)
{
    connstr cs;
    wl_status status = connstr_parse(options->connection_string, &cs, err);

    if (status != WL_OK) {
        size_t used = strlen(err->message);
        snprintf(err->message + used, sizeof err->message - used,
                 " (--connection-string, SERVICEBUS_CONNECTION_STRING)");
        return status;
    }
    out->host = wl_xstrdup(cs.host);
    out->port = cs.port;
    out->tls = cs.tls;
    if (options->queue == NULL && cs.entity_path != NULL) {
        out->queue = wl_xstrdup(cs.entity_path);
    }

    if (!options->cbs && strcmp(options->sasl, "anonymous") == 0) {
        out->auth = SB_AUTH_NONE;
    } else if (!options->cbs) {
        const char *user = options->username != NULL ? options->username : cs.key_name;
        const char *password = options->password != NULL ? options->password : cs.key;
        if (user == NULL || password == NULL) {
            status = wl_error_set(err, WL_ERR_INVALID,
                                  "--cbs=false needs a username and password: set --username and "
                                  "--password, or SharedAccessKeyName and SharedAccessKey");
            goto out;
        }
        out->username = wl_xstrdup(user);
        out->password = wl_xstrdup(password);
        out->auth = SB_AUTH_PLAIN;
    } else if (cs.shared_access_signature != NULL) {
        out->auth = SB_AUTH_CBS;
        out->credential = cred_sas_static_create(cs.shared_access_signature, err);
        if (out->credential == NULL) {
            status = err->status;
        }
    } else {
        out->auth = SB_AUTH_CBS;
        out->credential = cred_sas_create(cs.key_name, cs.key, 3600, NULL);
    }

out:
    connstr_free(&cs);
    return status;
}

static wl_status resolve_namespace(const producer_options *options, producer_target *out,
                                   wl_error *err)
{
    cred_wi_options wi = {0};
    wl_status status;

    if (!options->cbs) {
        return wl_error_set(err, WL_ERR_INVALID,
                            "--namespace uses workload identity, which needs CBS: remove "
                            "--cbs=false or use --connection-string");
    }
    status = cred_wi_options_from_env(&wi, NULL, err);
    if (status != WL_OK) {
        return status;
    }
    /* "HOST:PORT" reaches a local peer; a bare name gets the public cloud's suffix. */
    const char *name = options->namespace_name;
    const char *colon = strchr(name, ':');
    out->port = 5671;
    out->tls = true;
    if (colon != NULL) {
        char *end = NULL;
        long port = strtol(colon + 1, &end, 10);
        if (colon == name || end == colon + 1 || *end != '\0' || port < 1 || port > 65535) {
            return wl_error_set(err, WL_ERR_INVALID,
                                "invalid value \"%s\" for --namespace (SERVICEBUS_NAMESPACE): "
                                "expected NAME, HOST or HOST:PORT",
                                name);
        }
        out->host = wl_xstrndup(name, (size_t)(colon - name));
        out->port = (uint16_t)port;
    } else if (strchr(name, '.') == NULL) {
        out->host = wl_xasprintf("%s.servicebus.windows.net", name);
    } else {
        out->host = wl_xstrdup(name);
    }
    wi.scope = "https://servicebus.azure.net/.default";
    out->credential = cred_workload_identity_create(&wi, err);
    out->workload_identity = true;
    out->auth = SB_AUTH_CBS;
    return out->credential != NULL ? WL_OK : err->status;
}

wl_status producer_target_resolve(const producer_options *options, producer_target *out,
                                  wl_error *err)
{
    static const char *const progress_modes[] = {"auto", "bar", "json", "off"};
    static const char *const sasl_mechanisms[] = {"plain", "anonymous"};
    log_level level;
    wl_status status;

    memset(out, 0, sizeof *out);
    if (!is_one_of(options->progress, progress_modes, 4)) {
        return wl_error_set(err, WL_ERR_INVALID,
                            "invalid value \"%s\" for --progress (PRODUCER_PROGRESS): expected "
                            "auto, bar, json or off",
                            options->progress);
    }
    if (!is_one_of(options->sasl, sasl_mechanisms, 2)) {
        return wl_error_set(err, WL_ERR_INVALID,
                            "invalid value \"%s\" for --sasl (SERVICEBUS_SASL): expected plain or "
                            "anonymous",
                            options->sasl);
    }
    if (options->cbs && strcmp(options->sasl, "plain") != 0) {
        return wl_error_set(err, WL_ERR_INVALID,
                            "--sasl (SERVICEBUS_SASL) applies only with --cbs=false: CBS always "
                            "uses SASL ANONYMOUS");
    }
    if (!log_level_parse(options->log_level, &level)) {
        return wl_error_set(err, WL_ERR_INVALID,
                            "invalid value \"%s\" for --log-level (LOG_LEVEL): expected debug, "
                            "info, warn or error",
                            options->log_level);
    }
    if (options->connection_string != NULL && options->namespace_name != NULL) {
        return wl_error_set(err, WL_ERR_INVALID,
                            "both --connection-string (SERVICEBUS_CONNECTION_STRING) and "
                            "--namespace (SERVICEBUS_NAMESPACE) are set: keep one");
    }
    if (options->connection_string != NULL) {
        status = resolve_connection_string(options, out, err);
    } else if (options->namespace_name != NULL) {
        status = resolve_namespace(options, out, err);
    } else {
        status = wl_error_set(err, WL_ERR_INVALID,
                              "no Service Bus to send to: set --connection-string "
                              "(SERVICEBUS_CONNECTION_STRING) or --namespace "
                              "(SERVICEBUS_NAMESPACE) with workload identity");
    }
    if (status != WL_OK) {
        producer_target_free(out);
        return status;
    }

    if (options->queue != NULL) {
        free(out->queue);
        out->queue = wl_xstrdup(options->queue);
    }
    if (out->queue == NULL || *out->queue == '\0') {
        producer_target_free(out);
        return wl_error_set(err, WL_ERR_INVALID,
                            "no queue: set --queue (SERVICEBUS_QUEUE) or EntityPath in the "
                            "connection string");
    }
    if (out->auth == SB_AUTH_PLAIN && !out->tls && !options->allow_insecure_plain) {
        producer_target_free(out);
        return wl_error_set(err, WL_ERR_INVALID,
                            "--cbs=false over plain TCP sends the password unencrypted: use an "
                            "amqps:// endpoint, or set --allow-insecure-plain "
                            "(SERVICEBUS_ALLOW_INSECURE_PLAIN)");
    }
    return WL_OK;
}

void producer_target_free(producer_target *target)
{
    free(target->host);
    free(target->queue);
    free(target->username);
    if (target->password != NULL) {
        memset(target->password, 0, strlen(target->password));
    }
    free(target->password);
    cred_destroy(target->credential);
    memset(target, 0, sizeof *target);
}
