/*
 * The emulator's queue configuration, read from Microsoft's Service Bus emulator Config.json
 * format so that one file serves both emulators:
 *
 *   {"UserConfig": {"Namespaces": [{"Name": "sbemulatorns", "Queues": [{"Name": "orders",
 *     "Properties": {"LockDuration": "PT1M", "MaxDeliveryCount": 3, ...}}], "Topics": []}],
 *    "Logging": {"Type": "File"}}}
 *
 * Only the first namespace is used. Durations are ISO 8601 (PT1M, PT1H, P14D, PT0.5S).
 */
#ifndef SBE_CONFIG_H
#define SBE_CONFIG_H

#include "status.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Service Bus leaves TTL unlimited unless configured; this stands for "never expires". */
#define SBE_TTL_INFINITE_MS INT64_MAX

typedef struct sbe_queue_config {
    char *name;
    int64_t lock_duration_ms;          /* LockDuration, default PT1M */
    uint32_t max_delivery_count;       /* MaxDeliveryCount, default 3 as Microsoft's emulator */
    int64_t default_ttl_ms;            /* DefaultMessageTimeToLive, SBE_TTL_INFINITE_MS if absent */
    bool dead_letter_on_expiration;    /* DeadLetteringOnMessageExpiration */
    bool requires_duplicate_detection; /* RequiresDuplicateDetection */
    int64_t duplicate_window_ms;       /* DuplicateDetectionHistoryTimeWindow, default PT10M */
} sbe_queue_config;

typedef struct sbe_config {
    char *namespace_name;
    sbe_queue_config *queues;
    size_t queue_count;
    size_t ignored_topic_count; /* topics are listed in the file but not emulated */
    char **ignored_topic_names; /* their names, ignored_topic_count of them (NULL when unnamed) */
} sbe_config;

/*
 * Parses the Config.json text in `json`. `source` names the file in error messages. On
 * failure returns WL_ERR_INVALID with a message naming the source, the field and the value,
 * and leaves `out_config` empty. On success the caller frees with sbe_config_free.
 */
wl_status sbe_config_parse(const char *json, const char *source, sbe_config *out_config,
                           wl_error *err);

/* Reads and parses the file at `path`; a missing or unreadable file is WL_ERR_NOT_FOUND. */
wl_status sbe_config_load(const char *path, sbe_config *out_config, wl_error *err);

void sbe_config_free(sbe_config *config);

/* Reports whether the file lists a topic named `name` (case-insensitive). */
bool sbe_config_has_topic(const sbe_config *config, const char *name);

/* Returns the queue named `name` (case-insensitive, as Service Bus entity names), or NULL. */
const sbe_queue_config *sbe_config_find_queue(const sbe_config *config, const char *name);

/*
 * Parses an ISO 8601 duration (weeks, days, hours, minutes and seconds with an optional
 * fraction) into milliseconds. Years and months are rejected because their length varies.
 */
bool sbe_parse_duration(const char *text, int64_t *out_ms);

#endif
