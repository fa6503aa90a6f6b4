/*
 * The consumer's configuration: one table of options (see options.c), each an environment
 * variable and a flag, loaded and validated at start. Invalid values make main() exit 2.
 */
#ifndef CONSUMER_OPTIONS_H
#define CONSUMER_OPTIONS_H

#include "config.h"
#include "status.h"

#include <stdbool.h>
#include <stdint.h>

typedef struct consumer_options {
    char *connection_string; /* SAS connection string; NULL for workload identity */
    char *namespace_host;    /* Service Bus FQDN for workload identity */
    char *queue;
    char *source_address;  /* receiver link source; the queue name when NULL */
    char *auth;            /* "cbs", "plain" or "none" */
    char *rcv_settle_mode; /* "second" (Service Bus) or "first" (brokers such as RabbitMQ) */
    bool management;       /* use the {queue}/$management node (renew-lock, dispositions) */
    char *servicebus_ca_file;
    char *cosmos_endpoint;
    char *cosmos_key; /* master key; NULL signs with workload identity tokens */
    char *cosmos_database;
    char *cosmos_container;
    char *partition_key_path; /* "/id" or another top-level field of the document */
    char *cosmos_ca_file;
    int64_t cosmos_timeout_ms;
    int64_t concurrency;
    int64_t prefetch;
    int64_t message_deadline_ms;
    int64_t health_port;
    char *health_bind;
    int64_t shutdown_grace_ms;
    char *log_level;
    bool check; /* --check: probe /healthz of a running consumer and exit */
} consumer_options;

extern const config_table consumer_config_table;

/*
 * Loads the options from the environment and `argv`, then checks what the table cannot (one
 * of the Service Bus credentials, the enumerations, the partition key path). Returns
 * WL_ERR_INVALID naming the variable, the value and what to do. Free with consumer_options_free.
 */
wl_status consumer_options_load(consumer_options *options, int argc, char **argv, bool *out_help,
                                wl_error *err);

void consumer_options_free(consumer_options *options);

/* Returns the document field named by the partition key path ("id" for "/id"). */
const char *consumer_partition_key_field(const consumer_options *options);

#endif
