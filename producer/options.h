/*
 * The producer's configuration: one table of flags and environment variables (see
 * producer_options_table) and the connection settings derived from it.
 */
#ifndef PRODUCER_OPTIONS_H
#define PRODUCER_OPTIONS_H

#include "config.h"
#include "connstr.h"
#include "credential.h"
#include "log.h"
#include "sb_conn.h"
#include "status.h"

#include <stdbool.h>
#include <stdint.h>

typedef struct producer_options {
    char *connection_string; /* SERVICEBUS_CONNECTION_STRING (secret) */
    char *namespace_name;    /* SERVICEBUS_NAMESPACE, with workload identity */
    char *queue;             /* SERVICEBUS_QUEUE; EntityPath of the connection string otherwise */
    int64_t count;           /* messages to send; 0 = until stopped or --duration */
    double rate;             /* messages per second over all connections; 0 = unlimited */
    int64_t inflight;        /* unsettled messages per connection */
    int64_t connections;
    int64_t duration_ms; /* stop sending new messages after this; 0 = no limit */
    int64_t body_size;   /* pad the JSON body to this many bytes; 0 = no padding */
    char *ca_file;
    bool cbs;       /* false: SASL PLAIN and no CBS (generic AMQP 1.0 brokers) */
    char *sasl;     /* with CBS off: "plain" or "anonymous" */
    char *username; /* SASL PLAIN; defaults to SharedAccessKeyName */
    char *password; /* SASL PLAIN; defaults to SharedAccessKey (secret) */
    bool allow_insecure_plain;
    int64_t connect_timeout_ms;
    int64_t give_up_after_ms;
    int64_t idle_timeout_ms;
    int64_t send_timeout_ms;
    int64_t max_retries;
    int64_t shutdown_grace_ms;
    int64_t progress_interval_ms;
    char *progress;      /* "auto", "bar", "json" or "off" */
    int64_t health_port; /* -1 = no health server */
    char *health_bind;
    char *check_url; /* --check: probe this URL and exit */
    char *log_level;
} producer_options;

extern const config_table producer_options_table;

/* Where and how to connect, derived from the options. Strings are owned. */
typedef struct producer_target {
    char *host;
    uint16_t port;
    bool tls;
    char *queue;
    char *username;
    char *password;
    sb_auth auth;
    cred *credential; /* NULL with CBS off */
    bool workload_identity;
} producer_target;

/*
 * Validates combinations the table cannot express and derives the target. Returns
 * WL_ERR_INVALID with a message naming the flag or variable; the caller exits 2. A workload-
 * identity credential is created here but makes no request yet.
 */
wl_status producer_target_resolve(const producer_options *options, producer_target *out,
                                  wl_error *err);

void producer_target_free(producer_target *target);

#endif
