#include "sbe_config.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Limits that Service Bus itself enforces on these properties. */
#define LOCK_DURATION_MAX_MS     (5 * 60 * 1000)
#define DUPLICATE_WINDOW_MIN_MS  (20 * 1000)
#define DUPLICATE_WINDOW_MAX_MS  (7LL * 24 * 3600 * 1000)
#define QUEUE_NAME_MAX_LENGTH    260
#define MAX_DELIVERY_COUNT_LIMIT 2000
/*
 * NOTE: Service Bus requires LockDuration >= 5 s. The emulator accepts down to 1 s so that
 * lock-expiry tests run quickly; such a file is rejected by the service.
 */
#define LOCK_DURATION_MIN_MS 1000

bool sbe_parse_duration(const char *text, int64_t *out_ms)
{
    const char *p = text;
    bool in_time = false;
    bool any = false;
    bool any_time = false;
    double total_ms = 0;

    if (text == NULL || *p != 'P') {
        return false;
    }
    p++;
    while (*p != '\0') {
        if (*p == 'T') {
            if (in_time) {
                return false;
            }
            in_time = true;
            p++;
            continue;
        }
        if (!isdigit((unsigned char)*p)) {
            return false;
        }
        errno = 0;
        char *end = NULL;
        double value = strtod(p, &end);
        if (errno != 0 || end == p || value < 0) {
            return false;
        }
        double unit_ms;
        switch (*end) {
        case 'W':
            unit_ms = 7.0 * 24 * 3600 * 1000;
            break;
        case 'D':
            unit_ms = 24.0 * 3600 * 1000;
            break;
        case 'H':
            unit_ms = 3600.0 * 1000;
            break;
        case 'M':
            /* Months (before 'T') have no fixed length. */
            if (!in_time) {
                return false;
            }
            unit_ms = 60.0 * 1000;
            break;
        case 'S':
            unit_ms = 1000;
            break;
        default:
            return false;
        }
        if ((*end == 'W' || *end == 'D') == in_time) {
            return false;
        }
        if ((*end == 'H' || *end == 'M' || *end == 'S') && !in_time) {
            return false;
        }
        total_ms += value * unit_ms;
        any = true;
        any_time = any_time || in_time;
        p = end + 1;
    }
    if (!any || (in_time && !any_time) || total_ms > 9.0e15) {
        return false;
    }
    *out_ms = (int64_t)(total_ms + 0.5);
    return true;
}

static bool queue_name_valid(const char *name)
{
    size_t length = strlen(name);

    if (length == 0 || length > QUEUE_NAME_MAX_LENGTH) {
        return false;
    }
    if (name[0] == '/' || name[length - 1] == '/' || name[0] == '$') {
        return false;
    }
    for (const char *p = name; *p != '\0'; p++) {
        if (!isalnum((unsigned char)*p) && strchr("-._/", *p) == NULL) {
            return false;
        }
    }
    return true;
}

/* Reads a duration property; absent or null keeps the default. */
static wl_status read_duration(const cJSON *properties, const char *field, const char *source,
                               const char *queue, int64_t min_ms, int64_t max_ms, int64_t *out_ms,
                               wl_error *err)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(properties, field);

    if (item == NULL || cJSON_IsNull(item)) {
        return WL_OK;
    }
    if (!cJSON_IsString(item)) {
        return wl_error_set(err, WL_ERR_INVALID,
                            "%s: queue \"%s\": %s must be an ISO 8601 duration string such as "
                            "\"PT1M\"",
                            source, queue, field);
    }
    int64_t value_ms = 0;
    if (!sbe_parse_duration(item->valuestring, &value_ms)) {
        return wl_error_set(err, WL_ERR_INVALID,
                            "%s: queue \"%s\": %s \"%s\" is not an ISO 8601 duration (for example "
                            "PT30S, PT1M, PT1H, P14D)",
                            source, queue, field, item->valuestring);
    }
    if (value_ms < min_ms || value_ms > max_ms) {
        return wl_error_set(
            err, WL_ERR_INVALID, "%s: queue \"%s\": %s \"%s\" is out of range (%lld ms to %lld ms)",
            source, queue, field, item->valuestring, (long long)min_ms, (long long)max_ms);
    }
    *out_ms = value_ms;
    return WL_OK;
}

static wl_status read_bool(const cJSON *properties, const char *field, const char *source,
                           const char *queue, bool *out_value, wl_error *err)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(properties, field);

    if (item == NULL || cJSON_IsNull(item)) {
        return WL_OK;
    }
    if (!cJSON_IsBool(item)) {
        char *text = cJSON_PrintUnformatted(item);
        wl_error_set(err, WL_ERR_INVALID, "%s: queue \"%s\": %s must be true or false, not %s",
                     source, queue, field, text ? text : "?");
        free(text);
        return WL_ERR_INVALID;
    }
    *out_value = cJSON_IsTrue(item);
    return WL_OK;
}

/* Rejects properties whose feature the emulator does not have, rather than ignoring them. */
static wl_status check_unsupported(const cJSON *properties, const char *source, const char *queue,
                                   wl_error *err)
{
    static const char *const forward_fields[] = {"ForwardTo", "ForwardDeadLetteredMessagesTo"};
    const cJSON *sessions = cJSON_GetObjectItemCaseSensitive(properties, "RequiresSession");

    if (sessions != NULL && !cJSON_IsNull(sessions)) {
        if (!cJSON_IsBool(sessions)) {
            return wl_error_set(err, WL_ERR_INVALID,
                                "%s: queue \"%s\": RequiresSession must be true or false", source,
                                queue);
        }
        if (cJSON_IsTrue(sessions)) {
            return wl_error_set(err, WL_ERR_INVALID,
                                "%s: queue \"%s\": RequiresSession true is not supported by this "
                                "emulator; set it to false",
                                source, queue);
        }
    }
    for (size_t i = 0; i < sizeof forward_fields / sizeof forward_fields[0]; i++) {
        const cJSON *item = cJSON_GetObjectItemCaseSensitive(properties, forward_fields[i]);
        if (item == NULL || cJSON_IsNull(item)) {
            continue;
        }
        if (!cJSON_IsString(item)) {
            return wl_error_set(err, WL_ERR_INVALID, "%s: queue \"%s\": %s must be a string",
                                source, queue, forward_fields[i]);
        }
        if (item->valuestring[0] != '\0') {
            return wl_error_set(err, WL_ERR_INVALID,
                                "%s: queue \"%s\": %s \"%s\" is not supported by this emulator; "
                                "set it to \"\"",
                                source, queue, forward_fields[i], item->valuestring);
        }
    }
    return WL_OK;
}

static wl_status parse_queue(const cJSON *item, size_t index, const char *source,
                             sbe_queue_config *out_queue, wl_error *err)
{
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(item, "Name");
    wl_status status;

    if (!cJSON_IsObject(item)) {
        return wl_error_set(err, WL_ERR_INVALID, "%s: Queues[%zu] must be an object", source,
                            index);
    }
    if (!cJSON_IsString(name) || !queue_name_valid(name->valuestring)) {
        return wl_error_set(err, WL_ERR_INVALID,
                            "%s: Queues[%zu].Name %s%s%s is invalid: use 1 to 260 letters, digits, "
                            "'-', '.', '_' or '/'",
                            source, index, cJSON_IsString(name) ? "\"" : "",
                            cJSON_IsString(name) ? name->valuestring : "(missing)",
                            cJSON_IsString(name) ? "\"" : "");
    }

    *out_queue = (sbe_queue_config){
        .name = wl_xstrdup(name->valuestring),
        .lock_duration_ms = 60 * 1000,
        .max_delivery_count = 3,
        .default_ttl_ms = SBE_TTL_INFINITE_MS,
        .duplicate_window_ms = 10 * 60 * 1000,
    };
    const char *queue = out_queue->name;
    const cJSON *properties = cJSON_GetObjectItemCaseSensitive(item, "Properties");
    if (properties == NULL || cJSON_IsNull(properties)) {
        return WL_OK;
    }
    if (!cJSON_IsObject(properties)) {
        return wl_error_set(err, WL_ERR_INVALID, "%s: queue \"%s\": Properties must be an object",
                            source, queue);
    }

    status = read_duration(properties, "LockDuration", source, queue, LOCK_DURATION_MIN_MS,
                           LOCK_DURATION_MAX_MS, &out_queue->lock_duration_ms, err);
    if (status != WL_OK) {
        return status;
    }
    status = read_duration(properties, "DefaultMessageTimeToLive", source, queue, 1000,
                           SBE_TTL_INFINITE_MS, &out_queue->default_ttl_ms, err);
    if (status != WL_OK) {
        return status;
    }
    status = read_duration(properties, "DuplicateDetectionHistoryTimeWindow", source, queue,
                           DUPLICATE_WINDOW_MIN_MS, DUPLICATE_WINDOW_MAX_MS,
                           &out_queue->duplicate_window_ms, err);
    if (status != WL_OK) {
        return status;
    }

    const cJSON *max_delivery = cJSON_GetObjectItemCaseSensitive(properties, "MaxDeliveryCount");
    if (max_delivery != NULL && !cJSON_IsNull(max_delivery)) {
        double value = cJSON_IsNumber(max_delivery) ? max_delivery->valuedouble : -1;
        if (value < 1 || value > MAX_DELIVERY_COUNT_LIMIT || value != (double)(int)value) {
            char *text = cJSON_PrintUnformatted(max_delivery);
            wl_error_set(err, WL_ERR_INVALID,
                         "%s: queue \"%s\": MaxDeliveryCount %s is invalid: use an integer from 1 "
                         "to %d",
                         source, queue, text ? text : "?", MAX_DELIVERY_COUNT_LIMIT);
            free(text);
            return WL_ERR_INVALID;
        }
        out_queue->max_delivery_count = (uint32_t)value;
    }

    status = read_bool(properties, "DeadLetteringOnMessageExpiration", source, queue,
                       &out_queue->dead_letter_on_expiration, err);
    if (status != WL_OK) {
        return status;
    }
    status = read_bool(properties, "RequiresDuplicateDetection", source, queue,
                       &out_queue->requires_duplicate_detection, err);
    if (status != WL_OK) {
        return status;
    }
    return check_unsupported(properties, source, queue, err);
}

static const cJSON *first_namespace(const cJSON *root, const char *source, wl_error *err)
{
    const cJSON *user = cJSON_GetObjectItemCaseSensitive(root, "UserConfig");
    const cJSON *namespaces = cJSON_GetObjectItemCaseSensitive(user, "Namespaces");

    if (!cJSON_IsObject(user)) {
        wl_error_set(err, WL_ERR_INVALID, "%s: UserConfig is missing or not an object", source);
        return NULL;
    }
    if (!cJSON_IsArray(namespaces) || cJSON_GetArraySize(namespaces) < 1) {
        wl_error_set(err, WL_ERR_INVALID,
                     "%s: UserConfig.Namespaces must be an array with one namespace", source);
        return NULL;
    }
    const cJSON *ns = cJSON_GetArrayItem(namespaces, 0);
    if (!cJSON_IsObject(ns)) {
        wl_error_set(err, WL_ERR_INVALID, "%s: UserConfig.Namespaces[0] must be an object", source);
        return NULL;
    }
    return ns;
}

wl_status sbe_config_parse(const char *json, const char *source, sbe_config *out_config,
                           wl_error *err)
{
    sbe_config config = {0};
    wl_status status = WL_OK;
    cJSON *root = cJSON_Parse(json);

    if (root == NULL) {
        const char *where = cJSON_GetErrorPtr();
        return wl_error_set(err, WL_ERR_INVALID, "%s: invalid JSON near \"%.20s\"", source,
                            where ? where : "");
    }
    const cJSON *ns = first_namespace(root, source, err);
    if (ns == NULL) {
        status = WL_ERR_INVALID;
        goto out;
    }

    const cJSON *ns_name = cJSON_GetObjectItemCaseSensitive(ns, "Name");
    config.namespace_name =
        wl_xstrdup(cJSON_IsString(ns_name) ? ns_name->valuestring : "sbemulatorns");

    const cJSON *queues = cJSON_GetObjectItemCaseSensitive(ns, "Queues");
    if (queues != NULL && !cJSON_IsArray(queues)) {
        status = wl_error_set(err, WL_ERR_INVALID,
                              "%s: UserConfig.Namespaces[0].Queues must be an array", source);
        goto out;
    }
    int count = queues ? cJSON_GetArraySize(queues) : 0;
    config.queues = wl_xcalloc(count > 0 ? (size_t)count : 1, sizeof *config.queues);
    for (int i = 0; i < count; i++) {
        sbe_queue_config *queue = &config.queues[config.queue_count];
        status = parse_queue(cJSON_GetArrayItem(queues, i), (size_t)i, source, queue, err);
        if (queue->name != NULL) {
            config.queue_count++;
        }
        if (status != WL_OK) {
            goto out;
        }
        for (size_t j = 0; j + 1 < config.queue_count; j++) {
            if (strcasecmp(config.queues[j].name, queue->name) == 0) {
                status = wl_error_set(err, WL_ERR_INVALID,
                                      "%s: queue \"%s\" is defined twice; queue names are "
                                      "case-insensitive",
                                      source, queue->name);
                goto out;
            }
        }
    }

    const cJSON *topics = cJSON_GetObjectItemCaseSensitive(ns, "Topics");
    if (cJSON_IsArray(topics)) {
        config.ignored_topic_count = (size_t)cJSON_GetArraySize(topics);
        config.ignored_topic_names =
            wl_xcalloc(config.ignored_topic_count > 0 ? config.ignored_topic_count : 1,
                       sizeof *config.ignored_topic_names);
        size_t index = 0;
        const cJSON *topic;
        cJSON_ArrayForEach(topic, topics)
        {
            const cJSON *name = cJSON_GetObjectItemCaseSensitive(topic, "Name");
            if (cJSON_IsString(name) && index < config.ignored_topic_count) {
                config.ignored_topic_names[index] = wl_xstrdup(name->valuestring);
            }
            index++;
        }
    }

out:
    cJSON_Delete(root);
    if (status != WL_OK) {
        sbe_config_free(&config);
        return status;
    }
    *out_config = config;
    return WL_OK;
}

wl_status sbe_config_load(const char *path, sbe_config *out_config, wl_error *err)
{
    FILE *file = fopen(path, "rb");
    char *text = NULL;
    size_t length = 0;
    size_t capacity = 0;
    wl_status status;

    if (file == NULL) {
        return wl_error_set(err, WL_ERR_NOT_FOUND, "%s: cannot open: %s", path, strerror(errno));
    }
    for (;;) {
        if (capacity - length < 4096) {
            capacity = capacity ? capacity * 2 : 16384;
            text = wl_xrealloc(text, capacity);
        }
        size_t got = fread(text + length, 1, capacity - length - 1, file);
        length += got;
        if (got == 0) {
            break;
        }
    }
    bool failed = ferror(file) != 0;
    fclose(file);
    if (failed) {
        free(text);
        return wl_error_set(err, WL_ERR_IO, "%s: read failed", path);
    }
    text[length] = '\0';
    status = sbe_config_parse(text, path, out_config, err);
    free(text);
    return status;
}

void sbe_config_free(sbe_config *config)
{
    for (size_t i = 0; i < config->queue_count; i++) {
        free(config->queues[i].name);
    }
    free(config->queues);
    for (size_t i = 0; i < config->ignored_topic_count && config->ignored_topic_names; i++) {
        free(config->ignored_topic_names[i]);
    }
    free(config->ignored_topic_names);
    free(config->namespace_name);
    *config = (sbe_config){0};
}

bool sbe_config_has_topic(const sbe_config *config, const char *name)
{
    for (size_t i = 0; i < config->ignored_topic_count; i++) {
        if (config->ignored_topic_names[i] != NULL &&
            strcasecmp(config->ignored_topic_names[i], name) == 0) {
            return true;
        }
    }
    return false;
}

const sbe_queue_config *sbe_config_find_queue(const sbe_config *config, const char *name)
{
    for (size_t i = 0; i < config->queue_count; i++) {
        if (strcasecmp(config->queues[i].name, name) == 0) {
            return &config->queues[i];
        }
    }
    return NULL;
}
