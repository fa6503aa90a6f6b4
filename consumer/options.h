/*
 * The consumer's configuration: the shared Service Bus and service settings (sb_settings.h,
 * service.h) and the consumer's own options, loaded together as three config sections and
 * checked at start. Invalid values make main() exit 2.
 */
#ifndef CONSUMER_OPTIONS_H
#define CONSUMER_OPTIONS_H

#include "config.h"
#include "sb_settings.h"
#include "service.h"
#include "status.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

typedef struct consumer_options {
    char *source_address;  /* receiver link source; the queue name when NULL */
    char *rcv_settle_mode; /* "second" (Service Bus) or "first" (brokers such as RabbitMQ) */
    bool management;       /* use the {queue}/$management node (renew-lock, dispositions) */
    char *cosmos_endpoint;
    char *cosmos_key; /* master key; NULL signs with workload identity tokens */
    char *cosmos_database;
    char *cosmos_container;
    char *partition_key_path; /* "/id", "/data" or "/srcStamp": stable across redeliveries */
    char *cosmos_ca_file;
    int64_t cosmos_timeout_ms;
    int64_t cosmos_idle_check_ms; /* idle time before a container read; 0 turns it off */
    int64_t concurrency;
    int64_t prefetch;
    int64_t coalesce_max_ms; /* maximum wake-up coalescing pause (coalesce.h); 0 turns it off */
    int64_t message_deadline_ms;
    int64_t shutdown_grace_ms;
} consumer_options;

#define CONSUMER_SECTION_COUNT 3

typedef struct consumer_config {
    sb_settings servicebus;
    service_settings service;
    consumer_options consumer;
    sb_target target; /* resolved from `servicebus` by consumer_config_load */
    /* The first three fields as config sections, for --help and the logged configuration. */
    config_section sections[CONSUMER_SECTION_COUNT];
} consumer_config;

/*
 * Loads `config` (zeroed first) from the environment and `argv`, then checks what the tables
 * cannot (the enumerations, the partition key path, the Cosmos endpoint URL) and resolves the
 * Service Bus target. With --help or --check it stops after loading. Returns WL_ERR_INVALID
 * naming the flag or variable, the value and what to do. Free with consumer_config_free, also
 * after a failure.
 */
wl_status consumer_config_load(consumer_config *config, int argc, char **argv, bool *out_help,
                               wl_error *err);

/* Frees the strings of every section and the resolved target. */
void consumer_config_free(consumer_config *config);

/* Returns the document field named by the partition key path ("id" for "/id"). */
const char *consumer_partition_key_field(const consumer_options *options);

#endif
