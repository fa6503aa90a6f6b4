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
    "CONSUMER_COALESCE_MAX",
    "SHUTDOWN_GRACE_SECONDS",
    "CONSUMER_SHUTDOWN_GRACE",
    "COSMOS_REQUEST_TIMEOUT",
    "COSMOS_IDLE_CHECK_INTERVAL",
    "COSMOS_DATABASE",
    "COSMOS_CONTAINER",
    "SERVICEBUS_CA_FILE",
    "AZURE_TENANT_ID",
    "AZURE_CLIENT_ID",
    "AZURE_FEDERATED_TOKEN_FILE",
    "LOG_LEVEL",
};

/* Starts each case from an environment with none of the consumer's variables, plus the
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
    setenv("COSMOS_KEY", "a2V5", 1);
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
    CHECK_INT_EQ(config.consumer.coalesce_max_ms, 1);
    CHECK_INT_EQ(config.consumer.cosmos_idle_check_ms, 10000);
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
    check_rejected("CONSUMER_COALESCE_MAX", "101ms", "CONSUMER_COALESCE_MAX");
    check_rejected("CONSUMER_COALESCE_MAX", "250us", "250us");
    check_rejected("COSMOS_IDLE_CHECK_INTERVAL", "999ms", "\"999ms\"");
    check_rejected("COSMOS_IDLE_CHECK_INTERVAL", "0.5", "0 to turn it off, or from 1s to 1h");
    check_rejected("COSMOS_IDLE_CHECK_INTERVAL", "2h", "0 to turn it off, or from 1s to 1h");
    check_rejected("COSMOS_IDLE_CHECK_INTERVAL", "-1s", "COSMOS_IDLE_CHECK_INTERVAL");
    check_rejected("CONSUMER_MESSAGE_DEADLINE", "0", "\"0\" for --message-deadline");
    check_rejected("CONSUMER_MESSAGE_DEADLINE", "0ms", "milliseconds, from 1s to 1h");
}

/* 0 turns idle container reads off; any other interval is at least a second. */
TEST_CASE(idle_check_accepts_range)
{
    static struct {
        char value[8]; /* writable, because argv is */
        int64_t expected_ms;
    } cases[] = {{"0", 0},         {"0s", 0},     {"1s", 1000},
                 {"1000ms", 1000}, {"90", 90000}, {"1h", 3600000}};

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        consumer_config config;
        wl_error err = {0};
        char *argv[] = {"consumer", "--cosmos-idle-check", cases[i].value};

        base_environment();
        CHECK_INT_EQ(load(&config, 3, argv, &err), WL_OK);
        CHECK_INT_EQ(config.consumer.cosmos_idle_check_ms, cases[i].expected_ms);
        consumer_config_free(&config);
    }
}

TEST_CASE(coalesce_max_accepts_range)
{
    static struct {
        char value[8]; /* writable, because argv is */
        int64_t expected_ms;
    } cases[] = {{"0", 0}, {"0ms", 0}, {"5ms", 5}, {"100ms", 100}};

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        consumer_config config;
        wl_error err = {0};
        char *argv[] = {"consumer", "--coalesce-max", cases[i].value};

        base_environment();
        CHECK_INT_EQ(load(&config, 3, argv, &err), WL_OK);
        CHECK_INT_EQ(config.consumer.coalesce_max_ms, cases[i].expected_ms);
        consumer_config_free(&config);
    }
}

/* Loads the base environment plus `variable`=`value` and returns the status. Sets *out_ms to
 * the shutdown grace when `grace` is true, else to the Cosmos request timeout. */
static wl_status load_duration(const char *variable, const char *value, bool grace, int64_t *out_ms,
                               wl_error *err)
{
    consumer_config config;
    char *argv[] = {"consumer"};

    base_environment();
    setenv(variable, value, 1);
    wl_status status = load(&config, 1, argv, err);
    *out_ms = grace ? config.consumer.shutdown_grace_ms : config.consumer.cosmos_timeout_ms;
    consumer_config_free(&config);
    return status;
}

/* A bare number is seconds for every duration; SHUTDOWN_GRACE_SECONDS takes whole seconds. */
TEST_CASE(durations_follow_one_rule)
{
    static const struct {
        const char *variable;
        const char *value;
        bool grace;
        wl_status status;
        int64_t expected_ms;
    } cases[] = {
        {"COSMOS_REQUEST_TIMEOUT", "5", false, WL_OK, 5000},
        {"COSMOS_REQUEST_TIMEOUT", "250ms", false, WL_OK, 250},
        {"COSMOS_REQUEST_TIMEOUT", "2m", false, WL_OK, 120000},
        /* A value written for the old bare-milliseconds rule is out of range, not 10000 s. */
        {"COSMOS_REQUEST_TIMEOUT", "10000", false, WL_ERR_INVALID, 0},
        {"CONSUMER_SHUTDOWN_GRACE", "500ms", true, WL_OK, 500},
        {"CONSUMER_SHUTDOWN_GRACE", "40", true, WL_OK, 40000},
        {"SHUTDOWN_GRACE_SECONDS", "30", true, WL_OK, 30000},
        {"SHUTDOWN_GRACE_SECONDS", "30s", true, WL_ERR_INVALID, 0},
        {"SHUTDOWN_GRACE_SECONDS", "500ms", true, WL_ERR_INVALID, 0},
    };

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        wl_error err = {0};
        int64_t ms = -1;

        wl_status status =
            load_duration(cases[i].variable, cases[i].value, cases[i].grace, &ms, &err);
        if (status != cases[i].status) {
            fprintf(stderr, "%s=%s: status %d, expected %d (%s)\n", cases[i].variable,
                    cases[i].value, (int)status, (int)cases[i].status, err.message);
            check_failures++;
        } else if (status == WL_OK && ms != cases[i].expected_ms) {
            fprintf(stderr, "%s=%s: %lld ms, expected %lld\n", cases[i].variable, cases[i].value,
                    (long long)ms, (long long)cases[i].expected_ms);
            check_failures++;
        } else if (status != WL_OK && strstr(err.message, cases[i].variable) == NULL) {
            fprintf(stderr, "%s=%s: message does not name it: %s\n", cases[i].variable,
                    cases[i].value, err.message);
            check_failures++;
        }
    }
}

/* The new variable wins over the older one when both are set. */
TEST_CASE(shutdown_grace_new_name_wins)
{
    consumer_config config;
    wl_error err = {0};
    char *argv[] = {"consumer"};

    base_environment();
    setenv("SHUTDOWN_GRACE_SECONDS", "30", 1);
    setenv("CONSUMER_SHUTDOWN_GRACE", "2s", 1);
    CHECK_INT_EQ(load(&config, 1, argv, &err), WL_OK);
    CHECK_INT_EQ(config.consumer.shutdown_grace_ms, 2000);
    consumer_config_free(&config);
}

/* Values that used to fail only at the first connection or request are rejected at start. */
TEST_CASE(late_failures_rejected_at_start)
{
    check_rejected("HEALTH_BIND", "999.1.1.1", "--health-bind (HEALTH_BIND)");
    check_rejected("HEALTH_BIND", "localhost", "expected an IPv4 address");
    check_rejected("SERVICEBUS_CA_FILE", "/nonexistent/ca.pem", "--ca-file (SERVICEBUS_CA_FILE)");
    check_rejected("SERVICEBUS_CA_FILE", "/dev/null", "contains no PEM certificate");
    check_rejected("COSMOS_DATABASE", "a/b", "--cosmos-database (COSMOS_DATABASE)");
    check_rejected("COSMOS_CONTAINER", "results?", "--cosmos-container (COSMOS_CONTAINER)");
    check_rejected("COSMOS_KEY", NULL, "AZURE_TENANT_ID is not set");
}

/* Without a Cosmos key the federated token file must be readable at start. */
TEST_CASE(cosmos_token_file_checked)
{
    consumer_config config;
    wl_error err = {0};
    char *argv[] = {"consumer"};

    base_environment();
    unsetenv("COSMOS_KEY");
    setenv("AZURE_TENANT_ID", "tenant", 1);
    setenv("AZURE_CLIENT_ID", "client", 1);
    setenv("AZURE_FEDERATED_TOKEN_FILE", "/nonexistent/token", 1);
    CHECK_INT_EQ(load(&config, 1, argv, &err), WL_ERR_INVALID);
    CHECK(strstr(err.message, "AZURE_FEDERATED_TOKEN_FILE") != NULL);
    CHECK(strstr(err.message, "/nonexistent/token") != NULL);
    consumer_config_free(&config);

    wl_error_clear(&err);
    setenv("AZURE_FEDERATED_TOKEN_FILE", "/proc/self/cmdline", 1);
    CHECK_INT_EQ(load(&config, 1, argv, &err), WL_OK);
    consumer_config_free(&config);
}

/* A key that changes between deliveries of one message would give a redelivery its own
 * partition, where the upsert adds a second document with the same id. */
TEST_CASE(partition_key_path_stable)
{
    static const char *const accepted[] = {"/id", "/data", "/srcStamp"};
    static const char *const per_delivery[] = {"/destStamp", "/messageProcessingTime",
                                               "/deliveryCount"};
    consumer_config config;
    char *argv[] = {"consumer"};

    for (size_t i = 0; i < sizeof accepted / sizeof accepted[0]; i++) {
        wl_error err = {0};

        base_environment();
        setenv("COSMOS_PARTITION_KEY_PATH", accepted[i], 1);
        CHECK_INT_EQ(load(&config, 1, argv, &err), WL_OK);
        CHECK_STR_EQ(consumer_partition_key_field(&config.consumer), accepted[i] + 1);
        consumer_config_free(&config);
    }
    for (size_t i = 0; i < sizeof per_delivery / sizeof per_delivery[0]; i++) {
        check_rejected("COSMOS_PARTITION_KEY_PATH", per_delivery[i], "--partition-key-path");
        check_rejected("COSMOS_PARTITION_KEY_PATH", per_delivery[i], "changes with each delivery");
        check_rejected("COSMOS_PARTITION_KEY_PATH", per_delivery[i], "/id, /data or /srcStamp");
    }
    check_rejected("COSMOS_PARTITION_KEY_PATH", "/sequenceNumber", "/id, /data or /srcStamp");
}

/* Checks that the consumer's options load with each of `endpoints` as COSMOS_ENDPOINT. */
static void check_endpoints_accepted(const char *const *endpoints, size_t count)
{
    consumer_config config;
    char *argv[] = {"consumer"};

    for (size_t i = 0; i < count; i++) {
        wl_error err = {0};

        base_environment();
        setenv("COSMOS_ENDPOINT", endpoints[i], 1);
        if (load(&config, 1, argv, &err) != WL_OK) {
            fprintf(stderr, "COSMOS_ENDPOINT=%s rejected: %s\n", endpoints[i], err.message);
            check_failures++;
        }
        consumer_config_free(&config);
    }
}

/* An endpoint that curl cannot use for every request is rejected at start, not retried. */
TEST_CASE(cosmos_endpoint_validated)
{
    static const char *const accepted[] = {
        "https://127.0.0.1:8081", "https://127.0.0.1:8081/",
        "http://localhost:8081/", "https://account.documents.azure.com:443/",
        "https://[::1]:8081/",
    };
    static const struct {
        const char *value;
        const char *named;
    } rejected[] = {
        {"https://", "https://"},
        {"https:///", "https:///"},
        {"https://127.0.0.1:1/ space", "contains a space"},
        {"https://127.0.0.1:1/\tx", "control character"},
        {"ftp://127.0.0.1/", "not http or https"},
        {"127.0.0.1:8081", "127.0.0.1:8081"},
        {"https://127.0.0.1:99999/", "https://127.0.0.1:99999/"},
        {"https://127.0.0.1:0/", "port 0"},
        {"https://127.0.0.1:", "the port after ':' is empty"},
        {"https://127.0.0.1:/", "the port after ':' is empty"},
        {"https://[::1]:/", "the port after ':' is empty"},
        {"https:/127.0.0.1:8081/", "exactly two slashes"},
        {"https:127.0.0.1:8081", "slashes"},
        {"https:///127.0.0.1:8081/", "exactly two slashes"},
        {"http:\\\\127.0.0.1:8081", "slashes"},
        {"https://127.0.0.1:x/", "https://127.0.0.1:x/"},
        {"https://127.0.0.1:8081/dbs/workload", "has a path"},
        {"https://127.0.0.1:8081/?a=b", "query"},
        {"https://127.0.0.1:8081/#top", "fragment"},
        {"https://user@127.0.0.1:8081/", "user name"},
        {"https://caf\xc3\xa9.example/", "outside ASCII"},
    };
    check_endpoints_accepted(accepted, sizeof accepted / sizeof accepted[0]);
    for (size_t i = 0; i < sizeof rejected / sizeof rejected[0]; i++) {
        check_rejected("COSMOS_ENDPOINT", rejected[i].value, "--cosmos-endpoint (COSMOS_ENDPOINT)");
        check_rejected("COSMOS_ENDPOINT", rejected[i].value, rejected[i].named);
        check_rejected("COSMOS_ENDPOINT", rejected[i].value, "expected http(s)://HOST[:PORT][/]");
    }

    /* A password in the endpoint is not repeated in the message. */
    consumer_config config;
    wl_error err = {0};
    char *argv[] = {"consumer"};
    base_environment();
    setenv("COSMOS_ENDPOINT", "https://user:topsecret@127.0.0.1:8081/", 1);
    CHECK_INT_EQ(load(&config, 1, argv, &err), WL_ERR_INVALID);
    CHECK(strstr(err.message, "\"https://***@127.0.0.1:8081/\"") != NULL);
    CHECK(strstr(err.message, "topsecret") == NULL);
    consumer_config_free(&config);
}

/* The endpoint's scheme is case-insensitive, as in every URL. */
TEST_CASE(cosmos_endpoint_scheme_any_case)
{
    static const char *const accepted[] = {"HTTPS://127.0.0.1:8081/", "Http://localhost:8081"};
    check_endpoints_accepted(accepted, sizeof accepted / sizeof accepted[0]);
}

/* A key that is not base64 is rejected with the options, named by flag and variable, and the
 * message never contains the key. */
TEST_CASE(cosmos_key_checked)
{
    static const char *const rejected[] = {"not base64!", "a2V", "====", "a2V5\n"};
    consumer_config config;
    wl_error err = {0};
    char *argv[] = {"consumer"};

    for (size_t i = 0; i < sizeof rejected / sizeof rejected[0]; i++) {
        check_rejected("COSMOS_KEY", rejected[i], "--cosmos-key (COSMOS_KEY)");
        check_rejected("COSMOS_KEY", rejected[i], "base64");
        base_environment();
        setenv("COSMOS_KEY", rejected[i], 1);
        wl_error_clear(&err);
        CHECK_INT_EQ(load(&config, 1, argv, &err), WL_ERR_INVALID);
        if (strstr(err.message, rejected[i]) != NULL) {
            fprintf(stderr, "the message shows the key: %s\n", err.message);
            check_failures++;
        }
        consumer_config_free(&config);
    }
    check_rejected("COSMOS_KEY", "not base64!", "11 characters");

    base_environment();
    setenv(
        "COSMOS_KEY",
        "C2y6yDjf5/R+ob0N8A7Cgv30VRDJIWEHLM+4QDU5DE2nQ9nDuVTqobD4b8mGGyPMbIZnqyMsEcaGQy67XIw/Jw==",
        1);
    wl_error_clear(&err);
    CHECK_INT_EQ(load(&config, 1, argv, &err), WL_OK);
    consumer_config_free(&config);
}

/* A database or container id that the Cosmos client would reject is rejected with the options. */
TEST_CASE(cosmos_ids_checked)
{
    static const struct {
        const char *value;
        const char *named;
    } rejected[] = {
        {"a b", "byte 1 is a space"},
        {"results ", "byte 7 is a space"},
        {"a/b", "byte 1 is '/'"},
        {"a\\b", "byte 1 is '\\'"},
        {"results?", "byte 7 is '?'"},
        {"a#b", "byte 1 is '#'"},
        {"caf\xc3\xa9", "byte 3 is not printable ASCII"},
        {"a\tb", "byte 1 is not printable ASCII"},
    };
    static const char *const accepted[] = {"workload", "Orders-2024_v1.0", "a"};
    char long_id[300];
    consumer_config config;
    char *argv[] = {"consumer"};

    for (size_t i = 0; i < sizeof rejected / sizeof rejected[0]; i++) {
        check_rejected("COSMOS_DATABASE", rejected[i].value, "--cosmos-database (COSMOS_DATABASE)");
        check_rejected("COSMOS_DATABASE", rejected[i].value, rejected[i].named);
        check_rejected("COSMOS_CONTAINER", rejected[i].value,
                       "--cosmos-container (COSMOS_CONTAINER)");
        check_rejected("COSMOS_CONTAINER", rejected[i].value, "1 to 255 ASCII letters, digits");
    }

    memset(long_id, 'a', 256);
    long_id[256] = '\0';
    check_rejected("COSMOS_CONTAINER", long_id, "it has 256 bytes");
    check_rejected("COSMOS_CONTAINER", long_id, "1 to 255 ASCII letters");
    long_id[255] = '\0';
    for (size_t i = 0; i <= sizeof accepted / sizeof accepted[0]; i++) {
        const char *id = i < sizeof accepted / sizeof accepted[0] ? accepted[i] : long_id;
        wl_error err = {0};

        base_environment();
        setenv("COSMOS_DATABASE", id, 1);
        setenv("COSMOS_CONTAINER", id, 1);
        if (load(&config, 1, argv, &err) != WL_OK) {
            fprintf(stderr, "id %s rejected: %s\n", id, err.message);
            check_failures++;
        }
        consumer_config_free(&config);
    }
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
          TEST_ENTRY(check_mode_skips_service_settings), TEST_ENTRY(durations_follow_one_rule),
          TEST_ENTRY(shutdown_grace_new_name_wins), TEST_ENTRY(late_failures_rejected_at_start),
          TEST_ENTRY(cosmos_token_file_checked), TEST_ENTRY(partition_key_path_stable),
          TEST_ENTRY(cosmos_endpoint_validated), TEST_ENTRY(coalesce_max_accepts_range),
          TEST_ENTRY(idle_check_accepts_range), TEST_ENTRY(cosmos_endpoint_scheme_any_case),
          TEST_ENTRY(cosmos_key_checked), TEST_ENTRY(cosmos_ids_checked))
