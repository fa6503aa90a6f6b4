#include "check.h"
#include "options.h"

#include <stdlib.h>

static const char *const variables[] = {
    "SERVICEBUS_CONNECTION_STRING",
    "SERVICEBUS_NAMESPACE",
    "SERVICEBUS_QUEUE",
    "SERVICEBUS_AUTH",
    "SERVICEBUS_USERNAME",
    "SERVICEBUS_PASSWORD",
    "SERVICEBUS_ALLOW_INSECURE_PLAIN",
    "SERVICEBUS_GIVE_UP_AFTER",
    "HEALTH_PORT",
    "HEALTH_BIND",
    "SERVICEBUS_RCV_SETTLE_MODE",
    "COSMOS_ENDPOINT",
    "COSMOS_KEY",
    "COSMOS_PARTITION_KEY_PATH",
    "CONSUMER_CONCURRENCY",
    "CONSUMER_PREFETCH",
    "SHUTDOWN_GRACE_SECONDS",
    "LOG_LEVEL",
};

/* Starts each case from an environment with none of the consumer's variables, plus the two
 * settings every valid configuration needs. */
static void base_environment(void)
{
    for (size_t i = 0; i < sizeof variables / sizeof variables[0]; i++) {
        unsetenv(variables[i]);
    }
    setenv("SERVICEBUS_CONNECTION_STRING",
           "Endpoint=sb://localhost;SharedAccessKeyName=k;SharedAccessKey=v;"
           "UseDevelopmentEmulator=true",
           1);
    setenv("SERVICEBUS_QUEUE", "orders", 1);
    setenv("COSMOS_ENDPOINT", "https://127.0.0.1:8081", 1);
}

static wl_status load(consumer_config *config, int argc, char **argv, wl_error *err)
{
    bool help = false;

    return consumer_config_load(config, argc, argv, &help, err);
}

TEST_CASE(defaults)
{
    consumer_config config;
    wl_error err = {0};
    char *argv[] = {"consumer"};

    base_environment();
    CHECK_INT_EQ(load(&config, 1, argv, &err), WL_OK);
    CHECK_STR_EQ(config.target.queue, "orders");
    CHECK_STR_EQ(config.servicebus.auth, "cbs");
    CHECK_INT_EQ(config.target.auth, SB_AUTH_CBS);
    CHECK(config.target.credential != NULL);
    CHECK_INT_EQ(config.servicebus.give_up_after_ms, 0);
    CHECK_INT_EQ(config.servicebus.connect_timeout_ms, 30000);
    CHECK_STR_EQ(config.consumer.rcv_settle_mode, "second");
    CHECK(config.consumer.management);
    CHECK_INT_EQ(config.consumer.concurrency, 32);
    CHECK_INT_EQ(config.consumer.prefetch, 8);
    CHECK_INT_EQ(config.consumer.message_deadline_ms, 60000);
    CHECK_INT_EQ(config.consumer.shutdown_grace_ms, 25000);
    CHECK_INT_EQ(config.service.health_port, 8080);
    CHECK_STR_EQ(config.service.health_bind, "0.0.0.0");
    CHECK_STR_EQ(consumer_partition_key_field(&config.consumer), "id");
    consumer_config_free(&config);
}

TEST_CASE(flag_overrides_environment)
{
    consumer_config config;
    wl_error err = {0};
    char *argv[] = {"consumer", "--concurrency", "4", "--shutdown-grace=5"};

    base_environment();
    setenv("CONSUMER_CONCURRENCY", "64", 1);
    setenv("SHUTDOWN_GRACE_SECONDS", "30", 1);
    setenv("COSMOS_PARTITION_KEY_PATH", "/data", 1);
    CHECK_INT_EQ(load(&config, 4, argv, &err), WL_OK);
    CHECK_INT_EQ(config.consumer.concurrency, 4);
    CHECK_INT_EQ(config.consumer.shutdown_grace_ms, 5000);
    CHECK_STR_EQ(consumer_partition_key_field(&config.consumer), "data");
    consumer_config_free(&config);
}

static void check_rejected(const char *variable, const char *value, const char *named)
{
    consumer_config config;
    wl_error err = {0};
    char *argv[] = {"consumer"};

    base_environment();
    if (value) {
        setenv(variable, value, 1);
    } else {
        unsetenv(variable);
    }
    CHECK_INT_EQ(load(&config, 1, argv, &err), WL_ERR_INVALID);
    if (strstr(err.message, named) == NULL) {
        fprintf(stderr, "message for %s=%s does not name %s: %s\n", variable,
                value ? value : "(unset)", named, err.message);
        check_failures++;
    }
    consumer_config_free(&config);
}

TEST_CASE(invalid_values_name_the_setting)
{
    check_rejected("CONSUMER_CONCURRENCY", "0", "CONSUMER_CONCURRENCY");
    check_rejected("CONSUMER_PREFETCH", "-1", "CONSUMER_PREFETCH");
    check_rejected("SERVICEBUS_AUTH", "kerberos", "kerberos");
    check_rejected("SERVICEBUS_RCV_SETTLE_MODE", "third", "SERVICEBUS_RCV_SETTLE_MODE");
    check_rejected("COSMOS_PARTITION_KEY_PATH", "/a/b", "COSMOS_PARTITION_KEY_PATH");
    check_rejected("LOG_LEVEL", "loud", "LOG_LEVEL");
    check_rejected("SHUTDOWN_GRACE_SECONDS", "soon", "SHUTDOWN_GRACE_SECONDS");
}

TEST_CASE(missing_settings_are_named)
{
    check_rejected("COSMOS_ENDPOINT", NULL, "COSMOS_ENDPOINT");
    check_rejected("SERVICEBUS_CONNECTION_STRING", NULL, "SERVICEBUS_NAMESPACE");
    check_rejected("SERVICEBUS_QUEUE", NULL, "SERVICEBUS_QUEUE");
}

TEST_CASE(workload_identity_needs_cbs)
{
    consumer_config config;
    wl_error err = {0};
    char *argv[] = {"consumer", "--auth", "plain"};

    base_environment();
    unsetenv("SERVICEBUS_CONNECTION_STRING");
    setenv("SERVICEBUS_NAMESPACE", "ns.servicebus.windows.net", 1);
    CHECK_INT_EQ(load(&config, 3, argv, &err), WL_ERR_INVALID);
    CHECK(strstr(err.message, "--auth (SERVICEBUS_AUTH)") != NULL);
    CHECK(strstr(err.message, "workload identity, which needs cbs") != NULL);
    consumer_config_free(&config);
}

TEST_CASE(plain_needs_allow_insecure)
{
    consumer_config config;
    wl_error err = {0};
    char *argv[] = {"consumer", "--auth", "plain"};
    char *allowed[] = {"consumer", "--auth", "plain", "--allow-insecure-plain"};

    base_environment();
    CHECK_INT_EQ(load(&config, 3, argv, &err), WL_ERR_INVALID);
    CHECK(strstr(err.message, "--allow-insecure-plain (SERVICEBUS_ALLOW_INSECURE_PLAIN)") != NULL);
    consumer_config_free(&config);

    CHECK_INT_EQ(load(&config, 4, allowed, &err), WL_OK);
    CHECK_INT_EQ(config.target.auth, SB_AUTH_PLAIN);
    CHECK_STR_EQ(config.target.username, "k");
    CHECK_STR_EQ(config.target.password, "v");
    CHECK(config.target.credential == NULL);
    consumer_config_free(&config);
}

TEST_CASE(check_mode_skips_service_settings)
{
    consumer_config config;
    wl_error err = {0};
    char *argv[] = {"consumer", "--check", "--health-port", "9090"};

    base_environment();
    unsetenv("COSMOS_ENDPOINT");
    unsetenv("SERVICEBUS_CONNECTION_STRING");
    CHECK_INT_EQ(load(&config, 4, argv, &err), WL_OK);
    CHECK(config.service.check);
    CHECK_INT_EQ(config.service.health_port, 9090);
    consumer_config_free(&config);
}

TEST_MAIN(TEST_ENTRY(defaults), TEST_ENTRY(flag_overrides_environment),
          TEST_ENTRY(invalid_values_name_the_setting), TEST_ENTRY(missing_settings_are_named),
          TEST_ENTRY(workload_identity_needs_cbs), TEST_ENTRY(plain_needs_allow_insecure),
          TEST_ENTRY(check_mode_skips_service_settings))
