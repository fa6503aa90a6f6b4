/* The producer's configuration: its own table beside the shared Service Bus and service ones. */
#include "check.h"
#include "message.h"
#include "options.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char emulator[] = "Endpoint=sb://localhost;SharedAccessKeyName=k;SharedAccessKey=v;"
                               "UseDevelopmentEmulator=true;EntityPath=orders";

static const char *no_environment(const char *name)
{
    (void)name;
    return NULL;
}

/* Returns the minimal environment with which the Service Bus settings resolve. */
static const char *emulator_environment(const char *name)
{
    return strcmp(name, "SERVICEBUS_CONNECTION_STRING") == 0 ? emulator : NULL;
}

static const char *health_environment(const char *name)
{
    if (strcmp(name, "SERVICEBUS_CONNECTION_STRING") == 0) {
        return "Endpoint=amqps://localhost;SharedAccessKeyName=k;SharedAccessKey=v;"
               "EntityPath=orders";
    }
    return strcmp(name, "HEALTH_PORT") == 0 ? "9090" : NULL;
}

TEST_CASE(defaults_differ_from_consumer)
{
    producer_config config;
    wl_error err = {0};
    bool help = false;
    char *argv[] = {"producer"};

    CHECK_INT_EQ(producer_config_load(&config, 1, argv, emulator_environment, &help, &err), WL_OK);
    CHECK_INT_EQ(config.producer.count, 1000);
    CHECK_STR_EQ(config.producer.progress, "auto");
    CHECK_INT_EQ(config.service.health_port, -1);
    CHECK_INT_EQ(config.servicebus.give_up_after_ms, 60000);
    CHECK_STR_EQ(config.servicebus.auth, "cbs");
    CHECK(config.servicebus.queue == NULL);
    CHECK_STR_EQ(config.target.queue, "orders");
    producer_config_free(&config);
}

TEST_CASE(shared_flags_reach_sections)
{
    producer_config config;
    wl_error err = {0};
    bool help = false;
    char ca_file[] = "/tmp/producer-options-ca-XXXXXX";
    int fd = mkstemp(ca_file);
    char *argv[] = {"producer", "--ca-file", ca_file, "--auth", "plain", "--count", "5"};
    static const char pem[] = "-----BEGIN CERTIFICATE-----\nMA==\n-----END CERTIFICATE-----\n";

    CHECK(fd >= 0);
    CHECK_INT_EQ(write(fd, pem, sizeof pem - 1), (ssize_t)(sizeof pem - 1));
    close(fd);
    CHECK_INT_EQ(producer_config_load(&config, 7, argv, health_environment, &help, &err), WL_OK);
    CHECK_STR_EQ(config.servicebus.ca_file, ca_file);
    CHECK_STR_EQ(config.servicebus.auth, "plain");
    CHECK_INT_EQ(config.producer.count, 5);
    CHECK_INT_EQ(config.service.health_port, 9090);

    char *json = config_describe_json_sections(config.sections, PRODUCER_SECTION_COUNT);
    CHECK(strstr(json, "\"ca-file\":\"/tmp/producer-options-ca-") != NULL);
    CHECK(strstr(json, "\"health-port\":9090") != NULL);
    free(json);
    producer_config_free(&config);
    unlink(ca_file);
}

/* The Service Bus settings are resolved while the options are read, so that their errors come
 * before logging starts, as the consumer's do. */
TEST_CASE(servicebus_settings_resolved)
{
    producer_config config;
    wl_error err = {0};
    bool help = false;
    char *argv[] = {"producer"};
    char *check[] = {"producer", "--check", "--health-port", "9090"};

    CHECK_INT_EQ(producer_config_load(&config, 1, argv, no_environment, &help, &err),
                 WL_ERR_INVALID);
    CHECK(strstr(err.message, "missing Service Bus settings") != NULL);
    producer_config_free(&config);

    memset(&err, 0, sizeof err);
    CHECK_INT_EQ(producer_config_load(&config, 1, argv, emulator_environment, &help, &err), WL_OK);
    CHECK_STR_EQ(config.target.host, "localhost");
    CHECK_INT_EQ(config.target.port, 5672);
    CHECK(!config.target.tls);
    CHECK(config.target.credential != NULL);
    producer_config_free(&config);

    /* --check probes a running instance and needs no Service Bus settings. */
    CHECK_INT_EQ(producer_config_load(&config, 4, check, no_environment, &help, &err), WL_OK);
    CHECK(config.service.check);
    producer_config_free(&config);
}

TEST_CASE(invalid_choices_named)
{
    producer_config config;
    wl_error err = {0};
    bool help = false;
    char *progress[] = {"producer", "--progress", "maybe"};
    char *level[] = {"producer", "--log-level", "loud"};
    char *old_flag[] = {"producer", "--sasl", "anonymous"};

    CHECK_INT_EQ(producer_config_load(&config, 3, progress, no_environment, &help, &err),
                 WL_ERR_INVALID);
    CHECK(strstr(err.message, "--progress (PRODUCER_PROGRESS)") != NULL);
    producer_config_free(&config);

    /* wl_error keeps its first cause, so each case starts from a clear one. */
    memset(&err, 0, sizeof err);
    CHECK_INT_EQ(producer_config_load(&config, 3, level, no_environment, &help, &err),
                 WL_ERR_INVALID);
    CHECK(strstr(err.message, "--log-level (LOG_LEVEL)") != NULL);
    producer_config_free(&config);

    memset(&err, 0, sizeof err);
    CHECK_INT_EQ(producer_config_load(&config, 3, old_flag, no_environment, &help, &err),
                 WL_ERR_INVALID);
    CHECK(strstr(err.message, "unknown option --sasl") != NULL);
    producer_config_free(&config);
}

TEST_CASE(body_size_fits_max_message)
{
    producer_config config;
    wl_error err = {0};
    bool help = false;
    char *largest[] = {"producer", "--body-size", "262069"};
    char *over[] = {"producer", "--body-size", "262070"};
    char *limit[] = {"producer", "--body-size=262144"};

    /* --help states these numbers: 75 bytes besides the body, so 262069 is the largest body. */
    CHECK_INT_EQ(MESSAGE_ENCODING_OVERHEAD, 75);
    CHECK_INT_EQ(PRODUCER_MAX_BODY_SIZE, 262069);
    CHECK_INT_EQ(message_encoded_size(PRODUCER_MAX_BODY_SIZE), PRODUCER_MAX_MESSAGE_SIZE);
    CHECK_INT_EQ(message_encoded_size(256), 256 + MESSAGE_ENCODING_OVERHEAD);
    CHECK_INT_EQ(message_encoded_size(100000), 100000 + MESSAGE_ENCODING_OVERHEAD);

    CHECK_INT_EQ(producer_config_load(&config, 3, largest, emulator_environment, &help, &err),
                 WL_OK);
    CHECK_INT_EQ(config.producer.body_size, 262069);
    producer_config_free(&config);

    /* The range in the error is the largest body, not the maximum message size. */
    CHECK_INT_EQ(producer_config_load(&config, 3, over, no_environment, &help, &err),
                 WL_ERR_INVALID);
    CHECK(strstr(err.message, "invalid value \"262070\" for --body-size (PRODUCER_BODY_SIZE)") !=
          NULL);
    CHECK(strstr(err.message, "from 0 to 262069") != NULL);
    producer_config_free(&config);

    memset(&err, 0, sizeof err);
    CHECK_INT_EQ(producer_config_load(&config, 2, limit, no_environment, &help, &err),
                 WL_ERR_INVALID);
    CHECK(strstr(err.message, "invalid value \"262144\"") != NULL);
    CHECK(strstr(err.message, "from 0 to 262069") != NULL);
    producer_config_free(&config);
}

TEST_MAIN(TEST_ENTRY(defaults_differ_from_consumer), TEST_ENTRY(shared_flags_reach_sections),
          TEST_ENTRY(invalid_choices_named), TEST_ENTRY(body_size_fits_max_message),
          TEST_ENTRY(servicebus_settings_resolved))
