#include "sb_settings.h"

#include "connstr.h"
#include "encoding.h"
#include "log.h"
#include "sas.h"
#include "timefmt.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define FIELD(name) offsetof(sb_settings, name)

static const config_option option_table[] = {
    {"connection-string", "SERVICEBUS_CONNECTION_STRING", CONFIG_STRING, NULL, NULL, 0, 0,
     CONFIG_SECRET,
     "Service Bus connection string (SAS key or signature, emulator, or amqp:// broker); leave "
     "unset to use workload identity with --namespace.",
     FIELD(connection_string)},
    {"namespace", "SERVICEBUS_NAMESPACE", CONFIG_STRING, NULL, NULL, 0, 0, 0,
     "Namespace to reach over TLS with workload identity when no connection string is set: a "
     "name (completed with .servicebus.windows.net), a host, or HOST:PORT. The host must be a "
     "DNS name, because Proton-C checks the certificate against DNS names only.",
     FIELD(namespace_name)},
    {"queue", "SERVICEBUS_QUEUE", CONFIG_STRING, NULL, NULL, 0, 0, 0,
     "Queue to use; defaults to the connection string's EntityPath.", FIELD(queue)},
    {"ca-file", "SERVICEBUS_CA_FILE", CONFIG_STRING, NULL, NULL, 0, 0, 0,
     "PEM file of CAs trusted for the Service Bus TLS connection instead of the system store.",
     FIELD(ca_file)},
    {"auth", "SERVICEBUS_AUTH", CONFIG_STRING, "cbs", NULL, 0, 0, 0,
     "AMQP authentication: cbs (CBS put-token, Service Bus), plain (SASL PLAIN with --username "
     "and --password, no CBS) or none (SASL ANONYMOUS, no CBS).",
     FIELD(auth)},
    {"username", "SERVICEBUS_USERNAME", CONFIG_STRING, NULL, NULL, 0, 0, 0,
     "SASL PLAIN username with --auth plain; defaults to SharedAccessKeyName.", FIELD(username)},
    {"password", "SERVICEBUS_PASSWORD", CONFIG_STRING, NULL, NULL, 0, 0, CONFIG_SECRET,
     "SASL PLAIN password with --auth plain; defaults to SharedAccessKey.", FIELD(password)},
    {"allow-insecure-plain", "SERVICEBUS_ALLOW_INSECURE_PLAIN", CONFIG_BOOL, "false", NULL, 0, 0, 0,
     "Allow SASL PLAIN over plain TCP, which sends the password unencrypted.",
     FIELD(allow_insecure_plain)},
    {"connect-timeout", "SERVICEBUS_CONNECT_TIMEOUT", CONFIG_DURATION, "30s", NULL, 100, 3.6e6, 0,
     "Limit for one connection attempt, from TCP connect to an open AMQP session.",
     FIELD(connect_timeout_ms)},
    {"give-up-after", "SERVICEBUS_GIVE_UP_AFTER", CONFIG_DURATION, "60s", NULL, 0, 8.64e7, 0,
     "Stop reconnecting and exit with status 1 once a connection has not worked for this long, "
     "whether or not other connections work; 0 reconnects forever.",
     FIELD(give_up_after_ms)},
    {"idle-timeout", "SERVICEBUS_IDLE_TIMEOUT", CONFIG_DURATION, "60s", NULL, 1000, 3.6e6, 0,
     "AMQP idle timeout advertised to the peer.", FIELD(idle_timeout_ms)},
};

const config_table sb_settings_table = {option_table, sizeof option_table / sizeof option_table[0]};

static wl_status parse_auth(const char *text, sb_auth *out, wl_error *err)
{
    if (strcmp(text, "cbs") == 0) {
        *out = SB_AUTH_CBS;
    } else if (strcmp(text, "plain") == 0) {
        *out = SB_AUTH_PLAIN;
    } else if (strcmp(text, "none") == 0) {
        *out = SB_AUTH_NONE;
    } else {
        return wl_error_set(err, WL_ERR_INVALID,
                            "invalid value \"%s\" for --auth (SERVICEBUS_AUTH): expected cbs, "
                            "plain or none",
                            text);
    }
    return WL_OK;
}

static wl_status resolve_plain(const sb_settings *settings, const connstr *cs, sb_target *out,
                               wl_error *err)
{
    const char *user = settings->username;
    const char *password = settings->password;

    if (user == NULL && cs != NULL) {
        user = cs->key_name;
    }
    if (password == NULL && cs != NULL) {
        password = cs->key;
    }
    if (user == NULL || password == NULL) {
        return wl_error_set(err, WL_ERR_INVALID,
                            "--auth plain (SERVICEBUS_AUTH) needs a username and password: set "
                            "--username (SERVICEBUS_USERNAME) and --password "
                            "(SERVICEBUS_PASSWORD), or SharedAccessKeyName and SharedAccessKey "
                            "in the connection string");
    }
    out->username = wl_xstrdup(user);
    out->password = wl_xstrdup(password);
    return WL_OK;
}

/* Appends the names of the setting to an error about the connection string's contents. */
static wl_status name_connection_string(wl_error *err)
{
    size_t used = strlen(err->message);

    snprintf(err->message + used, sizeof err->message - used,
             " (--connection-string, SERVICEBUS_CONNECTION_STRING)");
    return err->status;
}

/*
 * Rejects a SharedAccessSignature that has already expired: nothing renews a given signature,
 * so it could never authorize a connection.
 */
static wl_status check_signature_expiry(const char *signature, const wl_clock *clock, wl_error *err)
{
    sas_token_fields fields;
    char expired_at[WL_ISO8601_SIZE];
    int64_t now_s = wl_clock_realtime_us(clock != NULL ? clock : wl_clock_system()) / 1000000;
    wl_status status = sas_token_parse(signature, &fields, err);

    if (status != WL_OK) {
        return name_connection_string(err);
    }
    if (fields.expiry_unix_seconds <= now_s) {
        wl_format_iso8601(fields.expiry_unix_seconds * 1000, expired_at);
        status = wl_error_set(err, WL_ERR_INVALID,
                              "the SharedAccessSignature in --connection-string "
                              "(SERVICEBUS_CONNECTION_STRING) expired at %s; issue a new one",
                              expired_at);
    }
    sas_token_fields_free(&fields);
    return status;
}

static wl_status resolve_connection_string(const sb_settings *settings, const wl_clock *clock,
                                           sb_target *out, wl_error *err)
{
    connstr cs;
    wl_status status = connstr_parse(settings->connection_string, &cs, err);

    if (status != WL_OK) {
        return name_connection_string(err);
    }
    out->host = wl_xstrdup(cs.host);
    out->port = cs.port;
    out->tls = cs.tls;
    if (cs.entity_path != NULL) {
        out->queue = wl_xstrdup(cs.entity_path);
    }

    if (out->auth == SB_AUTH_PLAIN) {
        status = resolve_plain(settings, &cs, out, err);
    } else if (out->auth == SB_AUTH_CBS && cs.shared_access_signature != NULL) {
        out->credential = cred_sas_static_create(cs.shared_access_signature, err);
        status = out->credential != NULL
                     ? check_signature_expiry(cs.shared_access_signature, clock, err)
                     : name_connection_string(err);
    } else if (out->auth == SB_AUTH_CBS) {
        out->credential = cred_sas_create(cs.key_name, cs.key, 3600, clock);
    }
    connstr_free(&cs);
    return status;
}

/*
 * Splits "HOST:PORT" for a local peer, where HOST may be an IPv6 address in brackets ("[::1]"),
 * stored without them. A bare name gets the public cloud's suffix.
 */
static wl_status resolve_namespace_host(const char *name, sb_target *out, wl_error *err)
{
    /* IP addresses pass this syntax check and are then rejected by check_tls_host, with the
     * reason, because --namespace always means TLS. */
    static const char expected[] = "expected NAME, HOST or HOST:PORT, where HOST is a DNS name "
                                   "such as NAMESPACE.servicebus.windows.net or localhost";
    const char *host = name;
    size_t host_length;
    const char *after;

    out->port = 5671;
    out->tls = true;
    if (name[0] == '[') {
        host = name + 1;
        host_length = strcspn(host, "]");
        after = host + host_length + 1;
        if (host[host_length] != ']' || !connstr_ipv6_valid(host, host_length) ||
            (*after != '\0' && *after != ':')) {
            return wl_error_set(err, WL_ERR_INVALID,
                                "invalid value \"%s\" for --namespace (SERVICEBUS_NAMESPACE): %s",
                                name, expected);
        }
    } else {
        host_length = strcspn(name, ":");
        after = name + host_length;
        if (!connstr_host_valid(name, host_length)) {
            return wl_error_set(err, WL_ERR_INVALID,
                                "invalid value \"%s\" for --namespace (SERVICEBUS_NAMESPACE): %s",
                                name, expected);
        }
    }
    if (*after == ':') {
        char *end = NULL;
        long port = strtol(after + 1, &end, 10);
        if (!isdigit((unsigned char)after[1]) || *end != '\0' || port < 1 || port > 65535) {
            return wl_error_set(err, WL_ERR_INVALID,
                                "invalid value \"%s\" for --namespace (SERVICEBUS_NAMESPACE): "
                                "expected NAME, HOST or HOST:PORT",
                                name);
        }
        out->port = (uint16_t)port;
    }
    if (*after == ':' || host != name) {
        out->host = wl_xstrndup(host, host_length);
    } else if (strchr(name, '.') == NULL) {
        out->host = wl_xasprintf("%s.servicebus.windows.net", name);
    } else {
        out->host = wl_xstrdup(name);
    }
    return WL_OK;
}

/*
 * Rejects TLS to an IP address. Proton-C checks the server's certificate against the host's DNS
 * names (subjectAltName DNS entries and the common name) only, so no certificate passes for an
 * IP address, even one that lists it, and every connection would fail at the handshake.
 */
static wl_status check_tls_host(const sb_settings *settings, const sb_target *target, wl_error *err)
{
    char host[INET6_ADDRSTRLEN + 2]; /* an IPv6 address in brackets, as a URI writes it */

    if (!target->tls || !connstr_host_is_ip(target->host)) {
        return WL_OK;
    }
    bool ipv6 = strchr(target->host, ':') != NULL;
    snprintf(host, sizeof host, "%s%s%s", ipv6 ? "[" : "", target->host, ipv6 ? "]" : "");
    if (settings->connection_string == NULL) {
        return wl_error_set(err, WL_ERR_INVALID,
                            "invalid Service Bus host %s in --namespace "
                            "(SERVICEBUS_NAMESPACE): --namespace always uses TLS, which needs a "
                            "DNS name, because Proton-C matches the server certificate against "
                            "DNS names only; use a name that the certificate lists, such as "
                            "localhost for a local peer, or --connection-string "
                            "(SERVICEBUS_CONNECTION_STRING) with plain TCP",
                            host);
    }
    return wl_error_set(err, WL_ERR_INVALID,
                        "invalid Service Bus host %s in --connection-string "
                        "(SERVICEBUS_CONNECTION_STRING): TLS needs a DNS name, because Proton-C "
                        "matches the server certificate against DNS names only; use a name that "
                        "the certificate lists, such as localhost for a local peer, or plain TCP "
                        "(sb:// with UseDevelopmentEmulator=true, or amqp://)",
                        host);
}

static wl_status resolve_namespace(const sb_settings *settings, sb_target *out, wl_error *err)
{
    cred_wi_options wi = {0};
    wl_status status;

    if (out->auth != SB_AUTH_CBS) {
        return wl_error_set(err, WL_ERR_INVALID,
                            "invalid value \"%s\" for --auth (SERVICEBUS_AUTH): --namespace uses "
                            "workload identity, which needs cbs; set --connection-string "
                            "(SERVICEBUS_CONNECTION_STRING) for plain or none",
                            settings->auth);
    }
    status = resolve_namespace_host(settings->namespace_name, out, err);
    if (status != WL_OK) {
        return status;
    }
    /* Before the workload identity settings, whose errors would hide this one. */
    status = check_tls_host(settings, out, err);
    if (status != WL_OK) {
        return status;
    }
    status = cred_wi_options_from_env(&wi, NULL, err);
    if (status != WL_OK) {
        return status;
    }
    status = config_check_file(wi.token_file, NULL, "AZURE_FEDERATED_TOKEN_FILE", false, err);
    if (status != WL_OK) {
        return status;
    }
    wi.scope = "https://servicebus.azure.net/.default";
    out->credential = cred_workload_identity_create(&wi, err);
    out->workload_identity = true;
    return out->credential != NULL ? WL_OK : err->status;
}

/* Returns whether `c` is an ASCII letter or digit, whatever the locale. */
static bool is_ascii_alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/*
 * Checks `queue` against Azure Service Bus's naming rule for queues: 1 to 260 characters, each
 * a letter, digit, '.', '-', '_' or '/', starting and ending with a letter or digit. The path
 * of a dead-letter subqueue, the name followed by /$DeadLetterQueue or
 * /$Transfer/$DeadLetterQueue, is checked by its queue name. A name outside the rule would only
 * fail when the link attaches. `from_flag` is true for a name from --queue and false for one
 * from the connection string's EntityPath.
 */
static wl_status check_queue_name(const char *queue, bool from_flag, wl_error *err)
{
    static const char rule[] = "a Service Bus queue name has 1 to 260 letters, digits, '.', "
                               "'-', '_' or '/' and starts and ends with a letter or digit, and "
                               "may be followed by /$DeadLetterQueue";
    /* The longer suffix first, because it ends with the shorter one. */
    static const char *const subqueues[] = {"/$Transfer/$DeadLetterQueue", "/$DeadLetterQueue"};
    const char *setting = from_flag ? "for --queue (SERVICEBUS_QUEUE)"
                                    : "for EntityPath in --connection-string "
                                      "(SERVICEBUS_CONNECTION_STRING)";
    size_t length = strlen(queue);
    char problem[64] = "";
    char shown[41];

    for (size_t i = 0; i < sizeof subqueues / sizeof subqueues[0]; i++) {
        size_t suffix_length = strlen(subqueues[i]);
        if (length > suffix_length &&
            strcasecmp(queue + length - suffix_length, subqueues[i]) == 0) {
            length -= suffix_length;
            break;
        }
    }

    if (length > 260) {
        wl_utf8_copy(shown, sizeof shown, queue); /* a cut inside a character is not UTF-8 */
        return wl_error_set(err, WL_ERR_INVALID, "invalid value \"%s...\" %s: it has %zu bytes; %s",
                            shown, setting, length, rule);
    }
    for (size_t i = 0; i < length && problem[0] == '\0'; i++) {
        char c = queue[i];
        if (c == ' ') {
            snprintf(problem, sizeof problem, "byte %zu is a space", i);
        } else if ((unsigned char)c < 0x20 || (unsigned char)c >= 0x7f) {
            snprintf(problem, sizeof problem, "byte %zu is not printable ASCII", i);
        } else if (!is_ascii_alnum(c) && strchr(".-_/", c) == NULL) {
            snprintf(problem, sizeof problem, "byte %zu is '%c'", i, c);
        }
    }
    if (problem[0] == '\0' && (!is_ascii_alnum(queue[0]) || !is_ascii_alnum(queue[length - 1]))) {
        snprintf(problem, sizeof problem, "it does not start and end with a letter or digit");
    }
    if (problem[0] != '\0') {
        return wl_error_set(err, WL_ERR_INVALID,
                            "invalid value \"%s\" %s: %s; %s (other AMQP brokers take any "
                            "address with --auth plain or none)",
                            queue, setting, problem, rule);
    }
    return WL_OK;
}

wl_status sb_settings_resolve(const sb_settings *settings, const wl_clock *clock, sb_target *out,
                              wl_error *err)
{
    wl_status status;

    memset(out, 0, sizeof *out);
    status = parse_auth(settings->auth, &out->auth, err);
    if (status != WL_OK) {
        return status;
    }
    if (settings->connection_string != NULL && settings->namespace_name != NULL) {
        return wl_error_set(err, WL_ERR_INVALID,
                            "both --connection-string (SERVICEBUS_CONNECTION_STRING) and "
                            "--namespace (SERVICEBUS_NAMESPACE) are set: keep one");
    }
    if (settings->connection_string != NULL) {
        status = resolve_connection_string(settings, clock, out, err);
        if (status == WL_OK) {
            status = check_tls_host(settings, out, err);
        }
    } else if (settings->namespace_name != NULL) {
        status = resolve_namespace(settings, out, err);
    } else {
        status = wl_error_set(err, WL_ERR_INVALID,
                              "missing Service Bus settings: set --connection-string "
                              "(SERVICEBUS_CONNECTION_STRING) or --namespace "
                              "(SERVICEBUS_NAMESPACE) with workload identity");
    }
    if (status != WL_OK) {
        return status;
    }

    if (settings->queue != NULL && out->queue != NULL && strcmp(settings->queue, out->queue) != 0) {
        return wl_error_set(err, WL_ERR_INVALID,
                            "--queue (SERVICEBUS_QUEUE) is \"%s\" but the connection string's "
                            "EntityPath is \"%s\": set the same queue in both, or only one",
                            settings->queue, out->queue);
    }
    if (settings->queue != NULL) {
        free(out->queue);
        out->queue = wl_xstrdup(settings->queue);
    }
    if (out->queue == NULL || *out->queue == '\0') {
        return wl_error_set(err, WL_ERR_INVALID,
                            "no queue: set --queue (SERVICEBUS_QUEUE) or EntityPath in the "
                            "connection string");
    }
    /* Only Service Bus authenticates with CBS. Other brokers name their queues their own way,
     * such as RabbitMQ's /amq/queue/NAME. */
    if (out->auth == SB_AUTH_CBS) {
        status = check_queue_name(out->queue, settings->queue != NULL, err);
        if (status != WL_OK) {
            return status;
        }
    }
    if (settings->ca_file != NULL) {
        status = config_check_file(settings->ca_file, "ca-file", "SERVICEBUS_CA_FILE", true, err);
        if (status != WL_OK) {
            return status;
        }
    }
    if (out->auth == SB_AUTH_PLAIN && !out->tls && !settings->allow_insecure_plain) {
        return wl_error_set(err, WL_ERR_INVALID,
                            "--auth plain (SERVICEBUS_AUTH) over plain TCP sends the password "
                            "unencrypted: use an amqps:// endpoint without "
                            "UseDevelopmentEmulator, or set --allow-insecure-plain "
                            "(SERVICEBUS_ALLOW_INSECURE_PLAIN)");
    }
    return WL_OK;
}

void sb_target_conn_options(const sb_target *target, const sb_settings *settings,
                            sb_conn_options *out)
{
    out->host = target->host;
    out->port = target->port;
    out->tls = target->tls;
    out->ca_file = settings->ca_file;
    out->auth = target->auth;
    out->username = target->username;
    out->password = target->password;
    out->allow_insecure_plain = settings->allow_insecure_plain;
    out->credential = target->credential;
    out->idle_timeout_ms = settings->idle_timeout_ms;
    out->connect_timeout_ms = settings->connect_timeout_ms;
    out->give_up_after_ms = settings->give_up_after_ms;
}

void sb_target_warn_unencrypted(const sb_target *target)
{
    const char *sent = NULL;
    const char *verb = "travel";

    cred_warn_unencrypted(target->credential);
    if (target->tls) {
        return;
    }
    if (target->auth == SB_AUTH_CBS) {
        sent = "CBS tokens";
    } else if (target->auth == SB_AUTH_PLAIN) {
        sent = "the SASL PLAIN password";
        verb = "travels";
    } else {
        return;
    }
    LOG_WARN("unencrypted-credential",
             "the Service Bus endpoint uses plain TCP, so %s %s unencrypted; use sb:// "
             "without UseDevelopmentEmulator=true, or amqps://, outside local tests",
             sent, verb);
}

const char *sb_target_auth_name(const sb_target *target)
{
    switch (target->auth) {
    case SB_AUTH_CBS:
        return target->credential != NULL ? cred_kind(target->credential) : "CBS";
    case SB_AUTH_PLAIN:
        return "SASL PLAIN";
    case SB_AUTH_NONE:
        return "SASL ANONYMOUS";
    }
    return "unknown";
}

void sb_target_free(sb_target *target)
{
    free(target->host);
    free(target->queue);
    free(target->username);
    wl_free_secret(target->password);
    cred_destroy(target->credential);
    memset(target, 0, sizeof *target);
}
