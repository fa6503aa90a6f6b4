/* Config.json parsing of the Service Bus emulator, including invalid files. */
#include "check.h"
#include "sbe_config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Wraps a Queues array in the rest of Microsoft's emulator format. */
static char *config_with_queues(const char *queues)
{
    return wl_xasprintf("{\"UserConfig\": {\"Namespaces\": [{\"Name\": \"sbemulatorns\", "
                        "\"Queues\": %s, \"Topics\": []}], \"Logging\": {\"Type\": \"File\"}}}",
                        queues);
}

/* Parses `json` expecting failure and returns the error message (static storage). */
static const char *parse_error(const char *json)
{
    static wl_error err;
    sbe_config config;

    wl_error_clear(&err);
    wl_status status = sbe_config_parse(json, "Config.json", &config, &err);
    CHECK_INT_EQ(status, WL_ERR_INVALID);
    if (status == WL_OK) {
        sbe_config_free(&config);
    }
    return err.message;
}

static const char *queue_error(const char *queue)
{
    char *json = config_with_queues(queue);
    const char *message = parse_error(json);

    free(json);
    return message;
}

TEST_CASE(parses_queue_properties)
{
    char *json = config_with_queues(
        "[{\"Name\": \"orders\", \"Properties\": {\"LockDuration\": \"PT30S\", "
        "\"MaxDeliveryCount\": 5, \"DefaultMessageTimeToLive\": \"P1DT2H\", "
        "\"DeadLetteringOnMessageExpiration\": true, \"RequiresDuplicateDetection\": true, "
        "\"DuplicateDetectionHistoryTimeWindow\": \"PT2M\", \"RequiresSession\": false, "
        "\"ForwardTo\": \"\", \"ForwardDeadLetteredMessagesTo\": \"\"}}]");
    sbe_config config;
    wl_error err = {0};

    CHECK_INT_EQ(sbe_config_parse(json, "Config.json", &config, &err), WL_OK);
    CHECK_STR_EQ(config.namespace_name, "sbemulatorns");
    CHECK_INT_EQ(config.queue_count, 1);
    const sbe_queue_config *queue = sbe_config_find_queue(&config, "ORDERS");
    CHECK(queue != NULL);
    if (queue != NULL) {
        CHECK_STR_EQ(queue->name, "orders");
        CHECK_INT_EQ(queue->lock_duration_ms, 30000);
        CHECK_INT_EQ(queue->max_delivery_count, 5);
        CHECK_INT_EQ(queue->default_ttl_ms, (24 + 2) * 3600 * 1000LL);
        CHECK(queue->dead_letter_on_expiration);
        CHECK(queue->requires_duplicate_detection);
        CHECK_INT_EQ(queue->duplicate_window_ms, 120000);
    }
    CHECK(sbe_config_find_queue(&config, "payments") == NULL);
    sbe_config_free(&config);
    free(json);
}

TEST_CASE(defaults_without_properties)
{
    char *json = config_with_queues("[{\"Name\": \"plain\"}]");
    sbe_config config;
    wl_error err = {0};

    CHECK_INT_EQ(sbe_config_parse(json, "Config.json", &config, &err), WL_OK);
    CHECK_INT_EQ(config.queues[0].lock_duration_ms, 60000);
    CHECK_INT_EQ(config.queues[0].max_delivery_count, 3);
    CHECK(config.queues[0].default_ttl_ms == SBE_TTL_INFINITE_MS);
    CHECK(!config.queues[0].dead_letter_on_expiration);
    CHECK(!config.queues[0].requires_duplicate_detection);
    sbe_config_free(&config);
    free(json);
}

TEST_CASE(invalid_json_names_file)
{
    const char *message = parse_error("{\"UserConfig\": ");

    CHECK(strstr(message, "Config.json") != NULL);
    CHECK(strstr(message, "invalid JSON") != NULL);
}

TEST_CASE(missing_namespaces_rejected)
{
    CHECK(strstr(parse_error("{}"), "UserConfig") != NULL);
    CHECK(strstr(parse_error("{\"UserConfig\": {\"Namespaces\": []}}"), "Namespaces") != NULL);
    CHECK(strstr(parse_error("{\"UserConfig\": {\"Namespaces\": [{\"Queues\": {}}]}}"), "Queues") !=
          NULL);
}

TEST_CASE(invalid_duration_names_field_and_value)
{
    const char *message =
        queue_error("[{\"Name\": \"orders\", \"Properties\": {\"LockDuration\": \"1 minute\"}}]");

    CHECK(strstr(message, "Config.json") != NULL);
    CHECK(strstr(message, "orders") != NULL);
    CHECK(strstr(message, "LockDuration") != NULL);
    CHECK(strstr(message, "1 minute") != NULL);

    message =
        queue_error("[{\"Name\": \"orders\", \"Properties\": {\"LockDuration\": \"PT10M\"}}]");
    CHECK(strstr(message, "out of range") != NULL);
    message = queue_error(
        "[{\"Name\": \"orders\", \"Properties\": {\"DuplicateDetectionHistoryTimeWindow\": "
        "\"PT5S\"}}]");
    CHECK(strstr(message, "DuplicateDetectionHistoryTimeWindow") != NULL);
    message = queue_error("[{\"Name\": \"orders\", \"Properties\": {\"LockDuration\": 60}}]");
    CHECK(strstr(message, "LockDuration") != NULL);
}

TEST_CASE(invalid_max_delivery_count_rejected)
{
    const char *message =
        queue_error("[{\"Name\": \"orders\", \"Properties\": {\"MaxDeliveryCount\": 0}}]");

    CHECK(strstr(message, "MaxDeliveryCount 0") != NULL);
    message = queue_error("[{\"Name\": \"orders\", \"Properties\": {\"MaxDeliveryCount\": 2.5}}]");
    CHECK(strstr(message, "MaxDeliveryCount 2.5") != NULL);
    message =
        queue_error("[{\"Name\": \"orders\", \"Properties\": {\"MaxDeliveryCount\": \"3\"}}]");
    CHECK(strstr(message, "MaxDeliveryCount \"3\"") != NULL);
}

TEST_CASE(unsupported_features_rejected)
{
    const char *message =
        queue_error("[{\"Name\": \"orders\", \"Properties\": {\"RequiresSession\": true}}]");

    CHECK(strstr(message, "RequiresSession") != NULL);
    message =
        queue_error("[{\"Name\": \"orders\", \"Properties\": {\"ForwardTo\": \"elsewhere\"}}]");
    CHECK(strstr(message, "ForwardTo \"elsewhere\"") != NULL);
    message = queue_error("[{\"Name\": \"orders\", \"Properties\": "
                          "{\"DeadLetteringOnMessageExpiration\": \"yes\"}}]");
    CHECK(strstr(message, "DeadLetteringOnMessageExpiration") != NULL);
}

TEST_CASE(invalid_and_duplicate_names_rejected)
{
    CHECK(strstr(queue_error("[{\"Name\": \"\"}]"), "Queues[0].Name") != NULL);
    CHECK(strstr(queue_error("[{\"Name\": \"bad name\"}]"), "\"bad name\"") != NULL);
    CHECK(strstr(queue_error("[{\"Properties\": {}}]"), "(missing)") != NULL);
    CHECK(strstr(queue_error("[{\"Name\": \"orders\"}, {\"Name\": \"Orders\"}]"),
                 "defined twice") != NULL);
}

TEST_CASE(missing_file_not_found)
{
    sbe_config config;
    wl_error err = {0};

    CHECK_INT_EQ(sbe_config_load("/nonexistent/Config.json", &config, &err), WL_ERR_NOT_FOUND);
    CHECK(strstr(err.message, "/nonexistent/Config.json") != NULL);
}

TEST_CASE(suite_config_loads)
{
    sbe_config config;
    wl_error err = {0};

    CHECK_INT_EQ(sbe_config_load(SBE_SUITE_CONFIG, &config, &err), WL_OK);
    CHECK(sbe_config_find_queue(&config, "orders") != NULL);
    CHECK(sbe_config_find_queue(&config, "test-queue") != NULL);
    const sbe_queue_config *orders = sbe_config_find_queue(&config, "orders");
    if (orders != NULL) {
        CHECK_INT_EQ(orders->lock_duration_ms, 60000);
        CHECK_INT_EQ(orders->max_delivery_count, 3);
    }
    /* The topic is kept by name so that a client using it gets a not-supported error. */
    CHECK_INT_EQ(config.ignored_topic_count, 1);
    CHECK(sbe_config_has_topic(&config, "Events"));
    CHECK(!sbe_config_has_topic(&config, "orders"));
    sbe_config_free(&config);
}

TEST_CASE(duration_vectors)
{
    static const struct {
        const char *text;
        int64_t ms;
    } valid[] = {
        {"PT1M", 60000},  {"PT1H", 3600000},        {"P14D", 14LL * 86400000},
        {"PT0.5S", 500},  {"P1DT1H1M1S", 90061000}, {"P1W", 7LL * 86400000},
        {"PT30S", 30000}, {"PT1H30M", 5400000},
    };
    static const char *const invalid[] = {"",    "P",     "PT",  "1M",   "P1M",   "P1Y", "PT1D",
                                          "P1H", "PT-1S", "PTS", "PT1X", "PT1M1", "P1DT"};
    int64_t ms = 0;

    for (size_t i = 0; i < sizeof valid / sizeof valid[0]; i++) {
        CHECK(sbe_parse_duration(valid[i].text, &ms));
        CHECK_INT_EQ(ms, valid[i].ms);
    }
    for (size_t i = 0; i < sizeof invalid / sizeof invalid[0]; i++) {
        if (sbe_parse_duration(invalid[i], &ms)) {
            fprintf(stderr, "duration \"%s\" was accepted\n", invalid[i]);
            CHECK(false);
        }
    }
}

TEST_MAIN(TEST_ENTRY(parses_queue_properties), TEST_ENTRY(defaults_without_properties),
          TEST_ENTRY(invalid_json_names_file), TEST_ENTRY(missing_namespaces_rejected),
          TEST_ENTRY(invalid_duration_names_field_and_value),
          TEST_ENTRY(invalid_max_delivery_count_rejected),
          TEST_ENTRY(unsupported_features_rejected),
          TEST_ENTRY(invalid_and_duplicate_names_rejected), TEST_ENTRY(missing_file_not_found),
          TEST_ENTRY(suite_config_loads), TEST_ENTRY(duration_vectors))
