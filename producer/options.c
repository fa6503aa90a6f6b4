#include "options.h"

#include "message.h"

#include <inttypes.h>
#include <stddef.h>
#include <string.h>

#define FIELD(name) offsetof(producer_options, name)

static const config_option option_table[] = {
    {"count", "PRODUCER_COUNT", CONFIG_INT, "1000", "messages", 0, 1e15, 0,
     "Messages to send; 0 sends until stopped or until --duration ends.", FIELD(count)},
    {"rate", "PRODUCER_RATE", CONFIG_DOUBLE, "0", "messages/s", 0, 1e9, 0,
     "Send rate over all connections; 0 sends as fast as acknowledgements allow.", FIELD(rate)},
    {"inflight", "PRODUCER_INFLIGHT", CONFIG_INT, "1000", "messages", 1, 1000000, 0,
     "Unacknowledged messages allowed per connection.", FIELD(inflight)},
    {"connections", "PRODUCER_CONNECTIONS", CONFIG_INT, "1", "connections", 1, 256, 0,
     "AMQP connections to send over in parallel.", FIELD(connections)},
    {"duration", "PRODUCER_DURATION", CONFIG_DURATION, "0", NULL, 0, 3.6e9, 0,
     "Stop sending new messages after this long; 0 means no limit.", FIELD(duration_ms)},
    {"body-size", "PRODUCER_BODY_SIZE", CONFIG_INT, "0", "bytes", 0, PRODUCER_MAX_BODY_SIZE, 0,
     "Pad each JSON body to this size with a \"pad\" field; 0 adds no padding. A size below "
     "about 90 bytes (the unpadded body plus the 9 bytes of an empty pad field) adds none "
     "either. The body plus 75 bytes of AMQP properties and framing must fit the queue's "
     "maximum message size (262144 bytes on the Standard tier), so the largest body is 262069.",
     FIELD(body_size)},
    {"send-timeout", "PRODUCER_SEND_TIMEOUT", CONFIG_DURATION, "60s", NULL, 100, 3.6e6, 0,
     "Resend a message that has no acknowledgement after this long. The time runs once a "
     "later message has an acknowledgement, or none came for this long, so a message queued "
     "behind others on a slow network is not resent. A connection on which messages wait with "
     "no acknowledgement and no bytes taken for this long, or 10s if longer, is dropped and "
     "opened again. The earlier transfer stays open, so an acceptance of it that arrives "
     "later still counts.",
     FIELD(send_timeout_ms)},
    {"max-retries", "PRODUCER_MAX_RETRIES", CONFIG_INT, "10", "retries", 0, 1000000, 0,
     "Resends of one message after server-busy, a timeout or a release before it counts as "
     "failed. Resends after a lost connection are not counted, nor one after a timeout while "
     "no acknowledgement came on the connection at all. A message with a transfer that timed "
     "out waits one more --send-timeout for it first, so with 0 a message whose transfer "
     "times out while others are acknowledged fails after twice --send-timeout.",
     FIELD(max_retries)},
    {"shutdown-grace", "PRODUCER_SHUTDOWN_GRACE", CONFIG_DURATION, "10s", NULL, 0, 3.6e6, 0,
     "On SIGTERM or SIGINT, wait this long for outstanding acknowledgements.",
     FIELD(shutdown_grace_ms)},
    {"progress-interval", "PRODUCER_PROGRESS_INTERVAL", CONFIG_DURATION, "5s", NULL, 100, 3.6e6, 0,
     "Interval between JSON progress lines.", FIELD(progress_interval_ms)},
    {"progress", "PRODUCER_PROGRESS", CONFIG_STRING, "auto", NULL, 0, 0, 0,
     "Progress output: bar (on stderr), json (log lines), off, or auto (bar on a terminal).",
     FIELD(progress)},
};

static const config_table producer_table = {option_table,
                                            sizeof option_table / sizeof option_table[0]};

/* A run-once job serves health checks only when asked to. */
static const config_default service_defaults[] = {{"health-port", "-1"}};

static void fill_sections(producer_config *config)
{
    config_section *out = config->sections;

    out[0] = (config_section){
        .title = "Service Bus", .table = &sb_settings_table, .target = &config->servicebus};
    out[1] = (config_section){
        .title = "Producer", .table = &producer_table, .target = &config->producer};
    out[2] = (config_section){.title = "Health and logging",
                              .table = &service_settings_table,
                              .target = &config->service,
                              .defaults = service_defaults,
                              .default_count = 1};
}

static const char *const progress_modes[] = {"auto", "bar", "json", "off", NULL};

wl_status producer_config_load(producer_config *config, int argc, char **argv,
                               const char *(*getenv_fn)(const char *name), bool *out_help,
                               wl_error *err)
{
    log_level level;
    wl_status status;

    memset(config, 0, sizeof *config);
    fill_sections(config);
    status = config_load_sections(config->sections, PRODUCER_SECTION_COUNT, argc, argv, getenv_fn,
                                  out_help, err);
    if (status != WL_OK || *out_help || config->service.check) {
        return status;
    }
    status = config_check_choice(config->producer.progress, progress_modes, "progress",
                                 "PRODUCER_PROGRESS", err);
    if (status != WL_OK) {
        return status;
    }
    status = service_settings_validate(&config->service, &level, err);
    if (status != WL_OK) {
        return status;
    }
    return sb_settings_resolve(&config->servicebus, NULL, &config->target, err);
}

void producer_config_free(producer_config *config)
{
    config_free_sections(config->sections, PRODUCER_SECTION_COUNT);
    sb_target_free(&config->target);
}
