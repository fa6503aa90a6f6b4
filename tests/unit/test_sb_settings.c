/*
 * The shared Service Bus settings: loading them as a config section beside another table, and
 * resolving them into a connection target for every authentication mode.
 */
#include "check.h"
#include "clock.h"
#include "config.h"
#include "sas.h"
#include "sb_settings.h"
#include "service.h"

#include <stdlib.h>
#include <string.h>

#define EMULATOR                                                                                   \
    "Endpoint=sb://localhost;SharedAccessKeyName=RootManageSharedAccessKey;"                       \
    "SharedAccessKey=SAS_KEY_VALUE;UseDevelopmentEmulator=true;EntityPath=orders"

#define EMULATOR_NO_ENTITY                                                                         \
    "Endpoint=sb://localhost;SharedAccessKeyName=RootManageSharedAccessKey;"                       \
    "SharedAccessKey=SAS_KEY_VALUE;UseDevelopmentEmulator=true"

typedef struct own_options {
    int64_t count;
} own_options;

static const config_option own_rows[] = {
    {"count", "OWN_COUNT", CONFIG_INT, "5", "messages", 0, 100, 0, "How many.",
     offsetof(own_options, count)},
};
static const config_table own_table = {own_rows, 1};

static const config_default service_defaults[] = {{"health-port", "-1"}};

typedef struct loaded {
    sb_settings servicebus;
    own_options own;
    service_settings service;
    config_section sections[3];
} loaded;

static const char *no_environment(const char *name)
{
    (void)name;
    return NULL;
}

static wl_status load(loaded *out, int argc, char **argv, wl_error *err)
{
    bool help = false;

    memset(out, 0, sizeof *out);
    out->sections[0] = (config_section){
        .title = "Service Bus", .table = &sb_settings_table, .target = &out->servicebus};
    out->sections[1] = (config_section){.title = "Own", .table = &own_table, .target = &out->own};
    out->sections[2] = (config_section){.title = "Health",
                                        .table = &service_settings_table,
                                        .target = &out->service,
                                        .defaults = service_defaults,
                                        .default_count = 1};
    return config_load_sections(out->sections, 3, argc, argv, no_environment, &help, err);
}

static void unload(loaded *settings)
{
    config_free_sections(settings->sections, 3);
}

TEST_CASE(sections_load_together)
{
    loaded settings;
    wl_error err = {0};
    char *argv[] = {"prog", "--count", "7", "--auth", "none", "--health-bind", "127.0.0.1"};

    CHECK_INT_EQ(load(&settings, 7, argv, &err), WL_OK);
    CHECK_INT_EQ(settings.own.count, 7);
    CHECK_STR_EQ(settings.servicebus.auth, "none");
    CHECK_STR_EQ(settings.service.health_bind, "127.0.0.1");
    /* The section's default replaces the table's 8080. */
    CHECK_INT_EQ(settings.service.health_port, -1);
    CHECK_INT_EQ(settings.servicebus.give_up_after_ms, 60000);

    char *json = config_describe_json_sections(settings.sections, 3);
    CHECK(strstr(json, "\"count\":7") != NULL);
    CHECK(strstr(json, "\"auth\":\"none\"") != NULL);
    CHECK(strstr(json, "\"health-port\":-1") != NULL);
    free(json);
    unload(&settings);
}

TEST_CASE(sections_help_has_titles)
{
    loaded settings;
    wl_error err = {0};
    char *argv[] = {"prog"};
    char *text = NULL;
    size_t size = 0;

    CHECK_INT_EQ(load(&settings, 1, argv, &err), WL_OK);
    FILE *out = open_memstream(&text, &size);
    config_print_help_sections(settings.sections, 3, "usage: prog", out);
    fclose(out);
    CHECK(strstr(text, " Service Bus:\n") != NULL);
    CHECK(strstr(text, " Own:\n") != NULL);
    CHECK(strstr(text, "  --auth TEXT\n") != NULL);
    CHECK(strstr(text, "Default: -1. Env: HEALTH_PORT.") != NULL);
    CHECK(strstr(text, "Env: SERVICEBUS_CA_FILE.") != NULL);
    free(text);
    unload(&settings);
}

TEST_CASE(unknown_flag_in_no_section)
{
    loaded settings;
    wl_error err = {0};
    char *argv[] = {"prog", "--cbs=false"};

    CHECK_INT_EQ(load(&settings, 2, argv, &err), WL_ERR_INVALID);
    CHECK(strstr(err.message, "unknown option --cbs") != NULL);
    unload(&settings);
}

/* Loads `argv` and resolves it; the caller frees both. */
static wl_status resolve(loaded *settings, sb_target *target, int argc, char **argv, wl_error *err)
{
    wl_status status = load(settings, argc, argv, err);

    memset(target, 0, sizeof *target);
    if (status != WL_OK) {
        return status;
    }
    return sb_settings_resolve(&settings->servicebus, NULL, target, err);
}

/* Resolves `argv` and checks that it fails with a message that contains `named`. */
static void check_resolve_rejected(int argc, char **argv, const char *named)
{
    loaded settings;
    sb_target target;
    wl_error err = {0};

    CHECK_INT_EQ(resolve(&settings, &target, argc, argv, &err), WL_ERR_INVALID);
    if (strstr(err.message, named) == NULL) {
        fprintf(stderr, "%s %s: the message does not name %s: %s\n", argv[argc - 2], argv[argc - 1],
                named, err.message);
        check_failures++;
    }
    sb_target_free(&target);
    unload(&settings);
}

TEST_CASE(resolve_cbs_with_sas_key)
{
    loaded settings;
    sb_target target;
    wl_error err = {0};
    char *argv[] = {"prog", "--connection-string", EMULATOR};

    CHECK_INT_EQ(resolve(&settings, &target, 3, argv, &err), WL_OK);
    CHECK_STR_EQ(target.host, "localhost");
    CHECK_INT_EQ(target.port, 5672);
    CHECK(!target.tls);
    CHECK_STR_EQ(target.queue, "orders");
    CHECK_INT_EQ(target.auth, SB_AUTH_CBS);
    CHECK(target.credential != NULL);
    CHECK_STR_EQ(sb_target_auth_name(&target), "sas");

    sb_conn_options conn = {.ctx = &settings};
    sb_target_conn_options(&target, &settings.servicebus, &conn);
    CHECK_STR_EQ(conn.host, "localhost");
    CHECK(conn.credential == target.credential);
    CHECK_INT_EQ(conn.give_up_after_ms, 60000);
    CHECK_INT_EQ(conn.idle_timeout_ms, 60000);
    CHECK(conn.ctx == &settings);
    sb_target_free(&target);
    unload(&settings);
}

TEST_CASE(resolve_queue_matches_entity_path)
{
    loaded settings;
    sb_target target;
    wl_error err = {0};
    char *same[] = {"prog", "--connection-string", EMULATOR, "--queue", "orders"};
    char *other[] = {"prog", "--connection-string", EMULATOR, "--queue", "other"};

    CHECK_INT_EQ(resolve(&settings, &target, 5, same, &err), WL_OK);
    CHECK_STR_EQ(target.queue, "orders");
    sb_target_free(&target);
    unload(&settings);

    CHECK_INT_EQ(resolve(&settings, &target, 5, other, &err), WL_ERR_INVALID);
    CHECK(strstr(err.message, "--queue (SERVICEBUS_QUEUE) is \"other\"") != NULL);
    CHECK(strstr(err.message, "EntityPath is \"orders\"") != NULL);
    sb_target_free(&target);
    unload(&settings);
}

TEST_CASE(resolve_plain_and_none)
{
    loaded settings;
    sb_target target;
    wl_error err = {0};
    char *plain[] = {"prog", "--connection-string", EMULATOR, "--auth", "plain"};
    char *allowed[] = {"prog",  "--connection-string", EMULATOR, "--auth",
                       "plain", "--username",          "guest",  "--allow-insecure-plain"};
    char *none[] = {"prog", "--connection-string", EMULATOR, "--auth", "none"};

    CHECK_INT_EQ(resolve(&settings, &target, 5, plain, &err), WL_ERR_INVALID);
    CHECK(strstr(err.message, "--allow-insecure-plain (SERVICEBUS_ALLOW_INSECURE_PLAIN)") != NULL);
    sb_target_free(&target);
    unload(&settings);

    CHECK_INT_EQ(resolve(&settings, &target, 8, allowed, &err), WL_OK);
    CHECK_INT_EQ(target.auth, SB_AUTH_PLAIN);
    CHECK_STR_EQ(target.username, "guest");
    CHECK_STR_EQ(target.password, "SAS_KEY_VALUE");
    CHECK(target.credential == NULL);
    sb_target_free(&target);
    unload(&settings);

    CHECK_INT_EQ(resolve(&settings, &target, 5, none, &err), WL_OK);
    CHECK_INT_EQ(target.auth, SB_AUTH_NONE);
    CHECK(target.credential == NULL);
    CHECK_STR_EQ(sb_target_auth_name(&target), "SASL ANONYMOUS");
    sb_target_free(&target);
    unload(&settings);
}

TEST_CASE(resolve_errors_name_setting)
{
    struct {
        int argc;
        char *argv[7];
        const char *named;
    } cases[] = {
        {1, {"prog"}, "SERVICEBUS_NAMESPACE"},
        {5, {"prog", "--connection-string", EMULATOR, "--auth", "kerberos"}, "SERVICEBUS_AUTH"},
        {5, {"prog", "--connection-string", EMULATOR, "--namespace", "ns"}, "keep one"},
        {3,
         {"prog", "--connection-string", "Endpoint=sb://localhost;SharedAccessKeyName=k"},
         "SERVICEBUS_CONNECTION_STRING"},
        {3,
         {"prog", "--connection-string", "Endpoint=sb://h;SharedAccessSignature=x"},
         "SERVICEBUS_CONNECTION_STRING"},
        {5, {"prog", "--namespace", "ns", "--auth", "plain"}, "needs cbs"},
        {5, {"prog", "--namespace", "host:port", "--queue", "q"}, "HOST:PORT"},
        {5, {"prog", "--namespace", "host:+5671", "--queue", "q"}, "HOST:PORT"},
        {5, {"prog", "--namespace", "bad host", "--queue", "q"}, "where HOST is a DNS name"},
        {5, {"prog", "--namespace", "[::1", "--queue", "q"}, "where HOST is a DNS name"},
        {5, {"prog", "--namespace", "::1", "--queue", "q"}, "where HOST is a DNS name"},
        {5, {"prog", "--namespace", "[::1]x", "--queue", "q"}, "where HOST is a DNS name"},
        {5, {"prog", "--namespace", "[::1]:0", "--queue", "q"}, "HOST:PORT"},
        {5, {"prog", "--namespace", ":5671", "--queue", "q"}, "HOST:PORT"},
        {5,
         {"prog", "--connection-string",
          "Endpoint=sb://127.0.0.1:5671;SharedAccessKeyName=k;SharedAccessKey=v", "--queue", "q"},
         "invalid Service Bus host 127.0.0.1 in --connection-string"},
        {5,
         {"prog", "--connection-string",
          "Endpoint=sb://127.1:5671;SharedAccessKeyName=k;SharedAccessKey=v", "--queue", "q"},
         "invalid Service Bus host 127.1 in --connection-string"},
        {5,
         {"prog", "--connection-string",
          "Endpoint=sb://2130706433:5671;SharedAccessKeyName=k;SharedAccessKey=v", "--queue", "q"},
         "invalid Service Bus host 2130706433 in --connection-string"},
        {5,
         {"prog", "--connection-string",
          "Endpoint=sb://127.0.0.1:5671;SharedAccessKeyName=k;SharedAccessKey=v", "--queue", "q"},
         "or plain TCP (sb:// with UseDevelopmentEmulator=true, or amqp://)"},
        /* The password would go in the clear over plain TCP, and the emulator flag is what
         * chose plain TCP here, so the message suggests dropping it. */
        {7,
         {"prog", "--connection-string",
          "Endpoint=sb://localhost:5672;SharedAccessKeyName=k;SharedAccessKey=v;"
          "UseDevelopmentEmulator=true",
          "--queue", "q", "--auth", "plain"},
         "use an amqps:// endpoint without UseDevelopmentEmulator"},
    };

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        loaded settings;
        sb_target target;
        wl_error err = {0};

        CHECK_INT_EQ(resolve(&settings, &target, cases[i].argc, cases[i].argv, &err),
                     WL_ERR_INVALID);
        if (strstr(err.message, cases[i].named) == NULL) {
            fprintf(stderr, "case %zu: the message does not name %s: %s\n", i, cases[i].named,
                    err.message);
            check_failures++;
        }
        sb_target_free(&target);
        unload(&settings);
    }
}

/* A queue name outside Service Bus's naming rule is rejected at start, not at attach, unless
 * the broker is not Service Bus (no CBS). */
TEST_CASE(resolve_checks_queue_name)
{
    static const struct {
        const char *queue;
        const char *named;
    } rejected[] = {
        {"a b/$management", "byte 1 is a space"},
        {"orders$", "byte 6 is '$'"},
        {"/amq/queue/orders", "does not start and end with a letter or digit"},
        {"orders/", "does not start and end with a letter or digit"},
        {"-orders", "does not start and end with a letter or digit"},
        {"caf\xc3\xa9", "byte 3 is not printable ASCII"},
        {"orders/$DeadLetterQueue/x", "byte 7 is '$'"},
        {"/$DeadLetterQueue", "byte 1 is '$'"},
    };
    /* A dead-letter subqueue's path is checked by its queue name. */
    static const char *const accepted[] = {"orders",
                                           "a",
                                           "Orders.v2-eu_west/sub/q1",
                                           "orders/$DeadLetterQueue",
                                           "orders/$deadletterqueue",
                                           "orders/$Transfer/$DeadLetterQueue"};
    char long_name[420];

    for (size_t i = 0; i < sizeof rejected / sizeof rejected[0]; i++) {
        char queue[64];
        char entity[256];
        snprintf(queue, sizeof queue, "%s", rejected[i].queue);
        snprintf(entity, sizeof entity, "%s;EntityPath=%s", EMULATOR_NO_ENTITY, queue);
        char *flag[] = {"prog", "--connection-string", EMULATOR_NO_ENTITY, "--queue", queue};
        char *entity_path[] = {"prog", "--connection-string", entity};

        check_resolve_rejected(5, flag, rejected[i].named);
        check_resolve_rejected(5, flag, "for --queue (SERVICEBUS_QUEUE)");
        check_resolve_rejected(5, flag, "1 to 260 letters, digits, '.', '-', '_' or '/'");
        check_resolve_rejected(3, entity_path, rejected[i].named);
        check_resolve_rejected(3, entity_path, "for EntityPath in --connection-string");
    }

    /* The message shows the start of a name that is too long, cut where a character ends. */
    long_name[0] = 'a';
    for (size_t i = 0; i < 200; i++) {
        memcpy(long_name + 1 + 2 * i, "\xc3\xa9", 2);
    }
    long_name[401] = '\0';
    char shown[64] = "\"a";
    for (size_t i = 0; i < 19; i++) {
        strcat(shown, "\xc3\xa9");
    }
    strcat(shown, "...\"");
    char *multibyte[] = {"prog", "--connection-string", EMULATOR_NO_ENTITY, "--queue", long_name};
    check_resolve_rejected(5, multibyte, shown);

    memset(long_name, 'q', 261);
    long_name[261] = '\0';
    char *too_long[] = {"prog", "--connection-string", EMULATOR_NO_ENTITY, "--queue", long_name};
    check_resolve_rejected(5, too_long, "it has 261 bytes");

    long_name[260] = '\0';
    for (size_t i = 0; i <= sizeof accepted / sizeof accepted[0]; i++) {
        char queue[sizeof long_name];
        snprintf(queue, sizeof queue, "%s",
                 i < sizeof accepted / sizeof accepted[0] ? accepted[i] : long_name);
        char *argv[] = {"prog", "--connection-string", EMULATOR_NO_ENTITY, "--queue", queue};
        loaded settings;
        sb_target target;
        wl_error err = {0};

        CHECK_INT_EQ(resolve(&settings, &target, 5, argv, &err), WL_OK);
        CHECK_STR_EQ(target.queue, queue);
        sb_target_free(&target);
        unload(&settings);
    }

    /* RabbitMQ's addresses start with '/'; with SASL PLAIN or ANONYMOUS there is no rule. */
    char *rabbitmq[] = {"prog",    "--connection-string", EMULATOR_NO_ENTITY, "--auth", "none",
                        "--queue", "/amq/queue/orders"};
    loaded settings;
    sb_target target;
    wl_error err = {0};
    CHECK_INT_EQ(resolve(&settings, &target, 7, rabbitmq, &err), WL_OK);
    CHECK_STR_EQ(target.queue, "/amq/queue/orders");
    sb_target_free(&target);
    unload(&settings);
}

/* --namespace parses an IPv6 address in brackets, with or without a port, and rejects it as it
 * rejects every IP address: --namespace always means TLS, which needs a DNS name. */
TEST_CASE(resolve_namespace_rejects_ip)
{
    char *with_port[] = {"prog", "--namespace", "[::1]:5673", "--queue", "orders"};
    char *without_port[] = {"prog", "--namespace", "[::1]", "--queue", "orders"};
    char *ipv4[] = {"prog", "--namespace", "127.0.0.1:5671", "--queue", "orders"};
    char *name[] = {"prog", "--namespace", "localhost:5673", "--queue", "orders"};
    loaded settings;
    sb_target target;
    wl_error err = {0};

    setenv("AZURE_TENANT_ID", "tenant", 1);
    setenv("AZURE_CLIENT_ID", "client", 1);
    setenv("AZURE_FEDERATED_TOKEN_FILE", "/proc/self/cmdline", 1);
    CHECK_INT_EQ(resolve(&settings, &target, 5, with_port, &err), WL_ERR_INVALID);
    CHECK(strstr(err.message, "invalid Service Bus host [::1] in --namespace") != NULL);
    CHECK(strstr(err.message,
                 "--connection-string (SERVICEBUS_CONNECTION_STRING) with plain TCP") != NULL);
    CHECK(strstr(err.message, "UseDevelopmentEmulator") == NULL);
    CHECK_STR_EQ(target.host, "::1");
    CHECK_INT_EQ(target.port, 5673);
    sb_target_free(&target);
    unload(&settings);

    CHECK_INT_EQ(resolve(&settings, &target, 5, without_port, &err), WL_ERR_INVALID);
    CHECK_STR_EQ(target.host, "::1");
    CHECK_INT_EQ(target.port, 5671);
    sb_target_free(&target);
    unload(&settings);

    wl_error_clear(&err);
    CHECK_INT_EQ(resolve(&settings, &target, 5, ipv4, &err), WL_ERR_INVALID);
    CHECK(strstr(err.message, "invalid Service Bus host 127.0.0.1 in --namespace") != NULL);
    sb_target_free(&target);
    unload(&settings);

    CHECK_INT_EQ(resolve(&settings, &target, 5, name, &err), WL_OK);
    CHECK_STR_EQ(target.host, "localhost");
    sb_target_free(&target);
    unload(&settings);
    unsetenv("AZURE_TENANT_ID");
    unsetenv("AZURE_CLIENT_ID");
    unsetenv("AZURE_FEDERATED_TOKEN_FILE");

    /* Without the workload identity settings the IP address is still what is named, because
     * no setting would make it work. */
    wl_error_clear(&err);
    CHECK_INT_EQ(resolve(&settings, &target, 5, ipv4, &err), WL_ERR_INVALID);
    CHECK(strstr(err.message, "invalid Service Bus host 127.0.0.1 in --namespace") != NULL);
    CHECK(strstr(err.message, "AZURE_") == NULL);
    sb_target_free(&target);
    unload(&settings);
}

TEST_CASE(check_needs_health_port)
{
    service_settings service = {.health_port = -1, .health_bind = "0.0.0.0"};
    wl_error err = {0};

    CHECK_INT_EQ(service_check(&service, 100, &err), WL_ERR_INVALID);
    CHECK(strstr(err.message, "--health-port (HEALTH_PORT)") != NULL);
}

TEST_CASE(health_start_and_check)
{
    service_settings service = {.health_port = -1, .health_bind = "127.0.0.1"};
    health_server *server = health_server_create(NULL);
    bool started = true;
    wl_error err = {0};

    CHECK_INT_EQ(service_health_start(server, &service, &started, &err), WL_OK);
    CHECK(!started);
    CHECK_INT_EQ(service_run_check(&service, 1000, &err), 2);

    service.health_port = 0;
    CHECK_INT_EQ(service_health_start(server, &service, &started, &err), WL_OK);
    CHECK(started);
    service.health_port = health_server_port(server);
    CHECK(service.health_port > 0);
    CHECK_INT_EQ(service_run_check(&service, 5000, &err), 0);
    health_server_destroy(server);

    /* Nothing listens there any more. */
    CHECK_INT_EQ(service_run_check(&service, 5000, &err), 1);
}

/* A signature that has expired can never authorize, so it is rejected at start with its time
 * in RFC 3339 UTC. */
TEST_CASE(resolve_expired_signature)
{
    wl_fake_clock fake;
    loaded settings;
    sb_target target;
    wl_error err = {0};
    /* 2026-12-04T10:00:00Z */
    int64_t now_s = 1796378400;

    wl_fake_clock_init(&fake, 0, now_s * 1000000);
    char *token = sas_token_create("sb://localhost/orders", "k", "v", now_s - 90, &err);
    CHECK(token != NULL);
    char *connection_string =
        wl_xasprintf("Endpoint=sb://localhost;SharedAccessSignature=%s;UseDevelopmentEmulator=true;"
                     "EntityPath=orders",
                     token);
    char *argv[] = {"prog", "--connection-string", connection_string};

    CHECK_INT_EQ(load(&settings, 3, argv, &err), WL_OK);
    CHECK_INT_EQ(sb_settings_resolve(&settings.servicebus, &fake.clock, &target, &err),
                 WL_ERR_INVALID);
    CHECK(strstr(err.message, "expired at 2026-12-04T09:58:30.000Z") != NULL);
    CHECK(strstr(err.message, "SERVICEBUS_CONNECTION_STRING") != NULL);
    sb_target_free(&target);

    /* The same signature a minute before it expires is accepted. */
    wl_error_clear(&err);
    wl_fake_clock_init(&fake, 0, (now_s - 150) * 1000000);
    CHECK_INT_EQ(sb_settings_resolve(&settings.servicebus, &fake.clock, &target, &err), WL_OK);
    CHECK_STR_EQ(sb_target_auth_name(&target), "sas-static");
    sb_target_free(&target);
    unload(&settings);
    free(connection_string);
    free(token);
}

TEST_CASE(resolve_checks_ca_file)
{
    loaded settings;
    sb_target target;
    wl_error err = {0};
    char *missing[] = {"prog", "--connection-string", EMULATOR, "--ca-file", "/nonexistent/ca"};
    char *not_pem[] = {"prog", "--connection-string", EMULATOR, "--ca-file", "/dev/null"};

    CHECK_INT_EQ(resolve(&settings, &target, 5, missing, &err), WL_ERR_INVALID);
    CHECK(strstr(err.message, "--ca-file (SERVICEBUS_CA_FILE)") != NULL);
    CHECK(strstr(err.message, "/nonexistent/ca") != NULL);
    sb_target_free(&target);
    unload(&settings);

    wl_error_clear(&err);
    CHECK_INT_EQ(resolve(&settings, &target, 5, not_pem, &err), WL_ERR_INVALID);
    CHECK(strstr(err.message, "contains no PEM certificate") != NULL);
    sb_target_free(&target);
    unload(&settings);
}

TEST_CASE(health_bind_checked)
{
    service_settings service = {.health_port = 8080, .health_bind = "0.0.0.0", .log_level = "info"};
    log_level level;
    wl_error err = {0};

    CHECK_INT_EQ(service_settings_validate(&service, &level, &err), WL_OK);
    service.health_bind = "256.0.0.1";
    CHECK_INT_EQ(service_settings_validate(&service, &level, &err), WL_ERR_INVALID);
    CHECK_STR_EQ(err.message, "invalid value \"256.0.0.1\" for --health-bind (HEALTH_BIND): "
                              "expected an IPv4 address such as 0.0.0.0 or 127.0.0.1");

    /* --check requests the same address, so it exits 2 for invalid configuration too. */
    wl_error_clear(&err);
    CHECK_INT_EQ(service_run_check(&service, 1000, &err), 2);
    CHECK(strstr(err.message, "HEALTH_BIND") != NULL);
}

TEST_MAIN(TEST_ENTRY(sections_load_together), TEST_ENTRY(sections_help_has_titles),
          TEST_ENTRY(unknown_flag_in_no_section), TEST_ENTRY(resolve_cbs_with_sas_key),
          TEST_ENTRY(resolve_queue_matches_entity_path), TEST_ENTRY(resolve_plain_and_none),
          TEST_ENTRY(resolve_errors_name_setting), TEST_ENTRY(check_needs_health_port),
          TEST_ENTRY(health_start_and_check), TEST_ENTRY(resolve_expired_signature),
          TEST_ENTRY(resolve_checks_ca_file), TEST_ENTRY(health_bind_checked),
          TEST_ENTRY(resolve_checks_queue_name), TEST_ENTRY(resolve_namespace_rejects_ip))
