/*
 * The producer's configuration: the shared Service Bus and service settings (sb_settings.h,
 * service.h) and the producer's own options, loaded together as three config sections.
 */
#ifndef PRODUCER_OPTIONS_H
#define PRODUCER_OPTIONS_H

#include "config.h"
#include "message.h"
#include "sb_settings.h"
#include "service.h"
#include "status.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

typedef struct producer_options {
    int64_t count;    /* messages to send; 0 = until stopped or --duration */
    double rate;      /* messages per second over all connections; 0 = unlimited */
    int64_t inflight; /* unsettled messages per connection */
    int64_t connections;
    int64_t duration_ms; /* stop sending new messages after this; 0 = no limit */
    int64_t body_size;   /* pad the JSON body to this many bytes; 0 = no padding */
    int64_t send_timeout_ms;
    int64_t max_retries;
    int64_t shutdown_grace_ms;
    int64_t progress_interval_ms;
    char *progress; /* "auto", "bar", "json" or "off" */
} producer_options;

#define PRODUCER_SECTION_COUNT 3

/* The maximum message size of a Standard-tier Service Bus queue (256 KiB), the bound of an
 * encoded message at parse time. The queue's own limit is checked again when the sender
 * attaches. */
#define PRODUCER_MAX_MESSAGE_SIZE 262144
/* The largest --body-size: a body that size encodes to exactly PRODUCER_MAX_MESSAGE_SIZE. */
#define PRODUCER_MAX_BODY_SIZE (PRODUCER_MAX_MESSAGE_SIZE - MESSAGE_ENCODING_OVERHEAD)

typedef struct producer_config {
    sb_settings servicebus;
    service_settings service;
    producer_options producer;
    sb_target target; /* resolved from `servicebus` by producer_config_load */
    /* The first three fields as config sections, for --help and the logged configuration. */
    config_section sections[PRODUCER_SECTION_COUNT];
} producer_config;

/*
 * Loads `config` (zeroed first) from the environment (`getenv_fn`, getenv when NULL) and `argv`,
 * checks the progress mode and the log level, and resolves the Service Bus target with
 * sb_settings_resolve, as the consumer does. With --help or --check it stops after loading.
 * Returns WL_ERR_INVALID naming the flag and variable; the caller exits 2. Free with
 * producer_config_free, also after a failure.
 */
wl_status producer_config_load(producer_config *config, int argc, char **argv,
                               const char *(*getenv_fn)(const char *name), bool *out_help,
                               wl_error *err);

/* Frees the strings of every section and the resolved target. */
void producer_config_free(producer_config *config);

#endif
