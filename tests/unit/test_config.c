#include "check.h"
#include "config.h"

#include <stddef.h>
#include <stdlib.h>
#include <unistd.h>

typedef struct sample {
    char *name;
    char *secret;
    int64_t count;
    double rate;
    bool verbose;
    int64_t timeout_ms;
} sample;

static const config_option sample_options[] = {
    {"name", "SAMPLE_NAME", CONFIG_STRING, "orders", NULL, 0, 0, 0, "Queue name.",
     offsetof(sample, name)},
    {"secret", "SAMPLE_SECRET", CONFIG_STRING, NULL, NULL, 0, 0, CONFIG_SECRET, "A key.",
     offsetof(sample, secret)},
    {"count", "SAMPLE_COUNT", CONFIG_INT, "10", "messages", 0, 100, 0, "How many.",
     offsetof(sample, count)},
    {"rate", "SAMPLE_RATE", CONFIG_DOUBLE, "0", "messages/s", 0, 1e9, 0, "How fast.",
     offsetof(sample, rate)},
    {"verbose", NULL, CONFIG_BOOL, "false", NULL, 0, 0, 0, "Talk more.", offsetof(sample, verbose)},
    {"timeout", "SAMPLE_TIMEOUT", CONFIG_DURATION, "30s", NULL, 100, 60000, 0, "Wait.",
     offsetof(sample, timeout_ms)},
};
static const config_table sample_table = {sample_options, 6};

/* A fake environment: NAME=VALUE pairs in `fake_environment`. */
static const char *const *fake_environment;

static const char *fake_getenv(const char *name)
{
    size_t length = strlen(name);

    for (size_t i = 0; fake_environment != NULL && fake_environment[i] != NULL; i++) {
        if (strncmp(fake_environment[i], name, length) == 0 && fake_environment[i][length] == '=') {
            return fake_environment[i] + length + 1;
        }
    }
    return NULL;
}

static wl_status load(sample *out, const char *const *environment, int argc, char **argv,
                      wl_error *err)
{
    bool help = false;

    memset(out, 0, sizeof *out);
    fake_environment = environment;
    return config_load(&sample_table, out, argc, argv, fake_getenv, &help, err);
}

TEST_CASE(defaults_apply)
{
    sample s;
    wl_error err = {0};
    char *argv[] = {"prog"};

    CHECK_INT_EQ(load(&s, NULL, 1, argv, &err), WL_OK);
    CHECK_STR_EQ(s.name, "orders");
    CHECK(s.secret == NULL);
    CHECK_INT_EQ(s.count, 10);
    CHECK(s.rate == 0.0);
    CHECK(!s.verbose);
    CHECK_INT_EQ(s.timeout_ms, 30000);
    config_free(&sample_table, &s);
    CHECK(s.name == NULL);
}

TEST_CASE(flag_overrides_environment)
{
    static const char *const environment[] = {"SAMPLE_NAME=from-env", "SAMPLE_COUNT=20",
                                              "SAMPLE_TIMEOUT=", NULL};
    sample s;
    wl_error err = {0};
    char *argv[] = {"prog", "--count", "30", "--rate=2.5", "--verbose", "--timeout", "250ms"};

    CHECK_INT_EQ(load(&s, environment, 7, argv, &err), WL_OK);
    CHECK_STR_EQ(s.name, "from-env");
    CHECK_INT_EQ(s.count, 30);
    CHECK(s.rate == 2.5);
    CHECK(s.verbose);
    CHECK_INT_EQ(s.timeout_ms, 250);
    config_free(&sample_table, &s);
}

TEST_CASE(durations_parse)
{
    int64_t ms = 0;

    CHECK(config_parse_duration("1.5", &ms));
    CHECK_INT_EQ(ms, 1500);
    CHECK(config_parse_duration("5m", &ms));
    CHECK_INT_EQ(ms, 300000);
    CHECK(config_parse_duration("2h", &ms));
    CHECK_INT_EQ(ms, 7200000);
    CHECK(config_parse_duration("40ms", &ms));
    CHECK_INT_EQ(ms, 40);
    CHECK(!config_parse_duration("", &ms));
    CHECK(!config_parse_duration("-1s", &ms));
    CHECK(!config_parse_duration("3 days", &ms));
    CHECK(!config_parse_duration("1e300h", &ms));
}

/* Only plain decimal text is a duration, and only whole milliseconds, because rounding "0.4ms"
 * to 0 would turn off an option for which 0 means off. */
TEST_CASE(durations_reject_other_syntax)
{
    static const char *const rejected[] = {" 1ms",
                                           "1ms ",
                                           "+1s",
                                           "0x10ms",
                                           "1e3ms",
                                           ".5s",
                                           "1.s",
                                           "inf",
                                           "nan",
                                           "0.4ms",
                                           "0.0015s",
                                           "1.5ms",
                                           "1 ms",
                                           "-0s",
                                           "1msx",
                                           "ms",
                                           "0.0000001ms",
                                           "1.0000000001s",
                                           "0.000001h",
                                           "9000000000000001ms",
                                           "99999999999999999999s"};
    static const struct {
        const char *text;
        int64_t ms;
    } accepted[] = {{"0", 0},
                    {"0.1s", 100},
                    {"0.5s", 500},
                    {"1.25s", 1250},
                    {"0.001s", 1},
                    {"1.0ms", 1},
                    {"007ms", 7},
                    {"0.25m", 15000},
                    {"1.50000000000s", 1500},
                    {"0.00001h", 36},
                    {"2500000h", 9000000000000}};

    for (size_t i = 0; i < sizeof rejected / sizeof rejected[0]; i++) {
        int64_t ms = -1;
        if (config_parse_duration(rejected[i], &ms)) {
            fprintf(stderr, "accepted \"%s\" as %lld ms\n", rejected[i], (long long)ms);
        }
        CHECK(!config_parse_duration(rejected[i], &ms));
    }
    for (size_t i = 0; i < sizeof accepted / sizeof accepted[0]; i++) {
        int64_t ms = -1;
        CHECK(config_parse_duration(accepted[i].text, &ms));
        CHECK_INT_EQ(ms, accepted[i].ms);
    }
}

/* Integers and numbers are plain decimal text too. Blanks, a sign '+', hexadecimal and exponents,
 * which strtoll and strtod accept, are rejected. */
TEST_CASE(numbers_reject_other_syntax)
{
    static const char *const rejected[] = {
        "--count= 8", "--count=8 ", "--count=+8",  "--count=0x8", "--count=1e1", "--count=8.0",
        "--rate= 2",  "--rate=+2",  "--rate=0x2",  "--rate=1e2",  "--rate=.5",   "--rate=2.",
        "--rate=inf", "--rate=nan", "--rate=2.5x", "--count=",    "--rate=",     "--count=-"};
    sample s;

    for (size_t i = 0; i < sizeof rejected / sizeof rejected[0]; i++) {
        char *argv[] = {"prog", (char *)(uintptr_t)rejected[i]};
        wl_error err = {0};
        wl_status status = load(&s, NULL, 2, argv, &err);
        if (status != WL_ERR_INVALID) {
            fprintf(stderr, "accepted %s\n", rejected[i]);
        }
        CHECK_INT_EQ(status, WL_ERR_INVALID);
        config_free(&sample_table, &s);
    }

    char *argv[] = {"prog", "--count=-0", "--rate=0.25"};
    wl_error err = {0};
    CHECK_INT_EQ(load(&s, NULL, 3, argv, &err), WL_OK);
    CHECK_INT_EQ(s.count, 0);
    CHECK(s.rate == 0.25);
    config_free(&sample_table, &s);
}

/* A duration's range is written in the unit that states each bound exactly. */
TEST_CASE(duration_range_in_units)
{
    char *argv[] = {"prog", "--timeout=2m"};
    sample s;
    wl_error err = {0};

    CHECK_INT_EQ(load(&s, NULL, 2, argv, &err), WL_ERR_INVALID);
    CHECK_STR_EQ(err.message, "invalid value \"2m\" for --timeout (SAMPLE_TIMEOUT): expected a "
                              "duration such as 500ms, 30s, 5m or 1h (a bare number is seconds) "
                              "in whole milliseconds, from 100ms to 1m");
    config_free(&sample_table, &s);
}

/* An option whose 0 means off takes 0 and its range, and its error names both. */
TEST_CASE(zero_off_outside_range)
{
    static const config_option options[] = {
        {"interval", "SAMPLE_INTERVAL", CONFIG_DURATION, "10s", NULL, 1000, 3600000,
         CONFIG_ZERO_OFF, "Check.", 0},
    };
    static const config_table table = {options, 1};
    static char accepted[][8] = {"0", "0ms", "1s", "1h"}; /* writable, because argv is */
    static char rejected[][8] = {"1ms", "999ms", "2h", "-1s"};
    int64_t interval_ms = -1;
    bool help = false;

    fake_environment = NULL;
    for (size_t i = 0; i < sizeof accepted / sizeof accepted[0]; i++) {
        char *argv[] = {"prog", "--interval", accepted[i]};
        wl_error err = {0};
        int64_t expected_ms = 0;

        CHECK(config_parse_duration(accepted[i], &expected_ms));
        CHECK_INT_EQ(config_load(&table, &interval_ms, 3, argv, fake_getenv, &help, &err), WL_OK);
        CHECK_INT_EQ(interval_ms, expected_ms);
    }
    for (size_t i = 0; i < sizeof rejected / sizeof rejected[0]; i++) {
        char *argv[] = {"prog", "--interval", rejected[i]};
        wl_error err = {0}; /* the first error set is kept, so each case starts clear */
        char expected[256];

        snprintf(expected, sizeof expected,
                 "invalid value \"%s\" for --interval (SAMPLE_INTERVAL): expected a duration "
                 "such as 500ms, 30s, 5m or 1h (a bare number is seconds) in whole milliseconds, "
                 "0 to turn it off, or from 1s to 1h",
                 rejected[i]);
        CHECK_INT_EQ(config_load(&table, &interval_ms, 3, argv, fake_getenv, &help, &err),
                     WL_ERR_INVALID);
        CHECK_STR_EQ(err.message, expected);
    }
}

/* One rule for every duration option: a bare number is seconds, whatever the table's unit. */
TEST_CASE(bare_duration_is_seconds)
{
    static const config_option options[] = {
        {"wait", "SAMPLE_WAIT", CONFIG_DURATION, "2", "ms", 0, 0, 0, "Wait.", 0},
    };
    static const config_table table = {options, 1};
    static const char *const environment[] = {"SAMPLE_WAIT=40", NULL};
    int64_t wait_ms = 0;
    wl_error err = {0};
    bool help = false;
    char *argv[] = {"prog"};
    char *flag_argv[] = {"prog", "--wait", "250ms"};

    fake_environment = NULL;
    CHECK_INT_EQ(config_load(&table, &wait_ms, 1, argv, fake_getenv, &help, &err), WL_OK);
    CHECK_INT_EQ(wait_ms, 2000);
    fake_environment = environment;
    CHECK_INT_EQ(config_load(&table, &wait_ms, 1, argv, fake_getenv, &help, &err), WL_OK);
    CHECK_INT_EQ(wait_ms, 40000);
    CHECK_INT_EQ(config_load(&table, &wait_ms, 3, flag_argv, fake_getenv, &help, &err), WL_OK);
    CHECK_INT_EQ(wait_ms, 250);
}

/* An older variable is read when the option's own is unset, and takes whole seconds only. */
TEST_CASE(alias_takes_whole_seconds)
{
    static const config_alias aliases[] = {{"timeout", "SAMPLE_TIMEOUT_SECONDS"}};
    static const struct {
        const char *environment[3];
        wl_status status;
        int64_t timeout_ms;
        const char *message;
    } cases[] = {
        {{"SAMPLE_TIMEOUT_SECONDS=45", NULL}, WL_OK, 45000, NULL},
        {{"SAMPLE_TIMEOUT_SECONDS=45", "SAMPLE_TIMEOUT=2s", NULL}, WL_OK, 2000, NULL},
        {{"SAMPLE_TIMEOUT_SECONDS=", NULL}, WL_OK, 30000, NULL},
        {{"SAMPLE_TIMEOUT_SECONDS=45s", NULL},
         WL_ERR_INVALID,
         0,
         "invalid value \"45s\" for SAMPLE_TIMEOUT_SECONDS: expected a whole number of seconds; "
         "set --timeout (SAMPLE_TIMEOUT) instead"},
        {{"SAMPLE_TIMEOUT_SECONDS=500ms", NULL}, WL_ERR_INVALID, 0, "SAMPLE_TIMEOUT_SECONDS"},
        {{"SAMPLE_TIMEOUT_SECONDS=1.5", NULL}, WL_ERR_INVALID, 0, "whole number of seconds"},
        {{"SAMPLE_TIMEOUT_SECONDS=3600", NULL},
         WL_ERR_INVALID,
         0,
         "(read from SAMPLE_TIMEOUT_SECONDS)"},
        /* A whole number too large for the range gets the range, not a complaint about its form. */
        {{"SAMPLE_TIMEOUT_SECONDS=9999999999999", NULL},
         WL_ERR_INVALID,
         0,
         "from 100ms to 1m (read from SAMPLE_TIMEOUT_SECONDS)"},
    };

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        sample s;
        wl_error err = {0};
        bool help = false;
        char *argv[] = {"prog"};
        config_section section = {
            .table = &sample_table, .target = &s, .aliases = aliases, .alias_count = 1};

        memset(&s, 0, sizeof s);
        fake_environment = cases[i].environment;
        CHECK_INT_EQ(config_load_sections(&section, 1, 1, argv, fake_getenv, &help, &err),
                     cases[i].status);
        if (cases[i].status == WL_OK) {
            CHECK_INT_EQ(s.timeout_ms, cases[i].timeout_ms);
        } else if (strstr(err.message, cases[i].message) == NULL) {
            fprintf(stderr, "case %zu: \"%s\" lacks \"%s\"\n", i, err.message, cases[i].message);
            check_failures++;
        }
        config_free(&sample_table, &s);
    }
}

TEST_CASE(choice_lists_expected)
{
    static const char *const modes[] = {"auto", "bar", "json", "off", NULL};
    wl_error err = {0};

    CHECK_INT_EQ(config_check_choice("json", modes, "progress", "PRODUCER_PROGRESS", &err), WL_OK);
    CHECK_INT_EQ(config_check_choice("fast", modes, "progress", "PRODUCER_PROGRESS", &err),
                 WL_ERR_INVALID);
    CHECK_STR_EQ(err.message, "invalid value \"fast\" for --progress (PRODUCER_PROGRESS): "
                              "expected auto, bar, json or off");
}

/* Writes `text` to a new file in `dir` and returns its path; free with free(). */
static char *write_file(const char *dir, const char *name, const char *text)
{
    char *path = wl_xasprintf("%s/%s", dir, name);
    FILE *file = fopen(path, "w");

    fputs(text, file);
    fclose(file);
    return path;
}

TEST_CASE(file_checks_name_setting)
{
    char dir[] = "/tmp/test-config-XXXXXX";
    wl_error err = {0};

    CHECK(mkdtemp(dir) != NULL);
    char *pem = write_file(dir, "ca.pem",
                           "subject=x\n-----BEGIN CERTIFICATE-----\nMIIB\n"
                           "-----END CERTIFICATE-----\n");
    char *token = write_file(dir, "token", "eyJhbGciOi.x.y");
    char *missing = wl_xasprintf("%s/missing.pem", dir);

    CHECK_INT_EQ(config_check_file(pem, "ca-file", "SAMPLE_CA_FILE", true, &err), WL_OK);
    CHECK_INT_EQ(config_check_file(token, NULL, "SAMPLE_TOKEN_FILE", false, &err), WL_OK);

    CHECK_INT_EQ(config_check_file(missing, "ca-file", "SAMPLE_CA_FILE", true, &err),
                 WL_ERR_INVALID);
    CHECK(strstr(err.message, "--ca-file (SAMPLE_CA_FILE)") != NULL);
    CHECK(strstr(err.message, "No such file or directory") != NULL);
    CHECK(strstr(err.message, missing) != NULL);

    wl_error_clear(&err);
    CHECK_INT_EQ(config_check_file(token, "ca-file", "SAMPLE_CA_FILE", true, &err), WL_ERR_INVALID);
    CHECK(strstr(err.message, "contains no PEM certificate") != NULL);

    wl_error_clear(&err);
    CHECK_INT_EQ(config_check_file(dir, NULL, "SAMPLE_TOKEN_FILE", false, &err), WL_ERR_INVALID);
    CHECK(strstr(err.message, "SAMPLE_TOKEN_FILE") != NULL);
    CHECK(strstr(err.message, "Is a directory") != NULL);

    remove(pem);
    remove(token);
    rmdir(dir);
    free(pem);
    free(token);
    free(missing);
}

/* Every error names the flag and its variable and states what is expected. */
TEST_CASE(errors_name_option)
{
    static const struct {
        const char *environment;
        const char *argument;
        const char *expected;
    } cases[] = {
        {NULL, "--count=101",
         "invalid value \"101\" for --count (SAMPLE_COUNT): expected an "
         "integer from 0 to 100"},
        {"SAMPLE_COUNT=ten", NULL, "invalid value \"ten\" for --count (SAMPLE_COUNT)"},
        /* The bounds are written in the form that the parser takes, never as 1e+09. */
        {NULL, "--rate=fast", "for --rate (SAMPLE_RATE): expected a number from 0 to 1000000000"},
        {NULL, "--verbose=perhaps", "for --verbose: expected true or false"},
        {NULL, "--timeout=50ms", "for --timeout (SAMPLE_TIMEOUT): expected a duration"},
        {NULL, "--timeout=soon", "expected a duration such as 500ms, 30s, 5m or 1h"},
        {NULL, "--colour=red", "unknown option --colour"},
        {NULL, "stray", "unexpected argument 1 (not shown"},
        {NULL, "--count", "option --count needs a value"},
        {NULL,
         "--name=", "invalid value \"\" for --name (SAMPLE_NAME): expected a non-empty value"},
        {NULL,
         "--secret=", "invalid value for --secret (SAMPLE_SECRET): expected a non-empty value"},
    };

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *environment[] = {cases[i].environment, NULL};
        char *argv[] = {"prog", (char *)(uintptr_t)cases[i].argument};
        sample s;
        wl_error err = {0};

        CHECK_INT_EQ(load(&s, environment, cases[i].argument != NULL ? 2 : 1, argv, &err),
                     WL_ERR_INVALID);
        if (strstr(err.message, cases[i].expected) == NULL) {
            fprintf(stderr, "case %zu: \"%s\" lacks \"%s\"\n", i, err.message, cases[i].expected);
            check_failures++;
        }
        config_free(&sample_table, &s);
    }
}

TEST_CASE(bool_value_forms)
{
    static const struct {
        const char *arguments[3];
        wl_status status;
        bool verbose;
        const char *expected;
    } cases[] = {
        {{"--verbose", NULL}, WL_OK, true, NULL},
        {{"--verbose", "false"}, WL_OK, false, NULL},
        {{"--verbose", "true"}, WL_OK, true, NULL},
        {{"--verbose", "--count", "5"}, WL_OK, true, NULL},
        {{"--verbose", "maybe"},
         WL_ERR_INVALID,
         false,
         "invalid value \"maybe\" for --verbose: expected true or false"},
        {{"--verbose=maybe"},
         WL_ERR_INVALID,
         false,
         "invalid value \"maybe\" for --verbose: expected true or false (or 1/0, yes/no, on/off)"},
    };

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *argv[4] = {"prog"};
        int argc = 1;
        sample s;
        wl_error err = {0};

        for (size_t k = 0; k < 3 && cases[i].arguments[k] != NULL; k++) {
            argv[argc++] = (char *)(uintptr_t)cases[i].arguments[k];
        }
        CHECK_INT_EQ(load(&s, NULL, argc, argv, &err), cases[i].status);
        if (cases[i].status == WL_OK) {
            CHECK_INT_EQ(s.verbose, cases[i].verbose);
        } else if (strstr(err.message, cases[i].expected) == NULL) {
            fprintf(stderr, "case %zu: \"%s\" lacks \"%s\"\n", i, err.message, cases[i].expected);
            check_failures++;
        }
        config_free(&sample_table, &s);
    }
}

TEST_CASE(secret_never_echoed)
{
    static const char *const environment[] = {"SAMPLE_SECRET=hunter2", NULL};
    sample s;
    wl_error err = {0};
    char *argv[] = {"prog"};

    CHECK_INT_EQ(load(&s, environment, 1, argv, &err), WL_OK);
    CHECK_STR_EQ(s.secret, "hunter2");
    char *json = config_describe_json(&sample_table, &s);
    CHECK(strstr(json, "hunter2") == NULL);
    CHECK(strstr(json, "\"secret\":\"***\"") != NULL);
    CHECK(strstr(json, "\"name\":\"orders\"") != NULL);
    CHECK(strstr(json, "\"count\":10") != NULL);
    CHECK(strstr(json, "\"timeout_ms\":30000") != NULL);
    CHECK(strstr(json, "\"verbose\":false") != NULL);
    free(json);
    config_free(&sample_table, &s);

    /* A key passed without its option is not echoed either. */
    char *stray_argv[] = {"prog", "--count", "5", "hunter2"};
    wl_error stray_err = {0};
    CHECK_INT_EQ(load(&s, NULL, 4, stray_argv, &stray_err), WL_ERR_INVALID);
    CHECK(strstr(stray_err.message, "unexpected argument 3") != NULL);
    CHECK(strstr(stray_err.message, "hunter2") == NULL);
    config_free(&sample_table, &s);
}

TEST_CASE(help_lists_units)
{
    sample s;
    wl_error err = {0};
    bool help = false;
    char *argv[] = {"prog", "--help"};
    char *text = NULL;
    size_t length = 0;
    FILE *out = open_memstream(&text, &length);

    memset(&s, 0, sizeof s);
    fake_environment = NULL;
    CHECK_INT_EQ(config_load(&sample_table, &s, 2, argv, fake_getenv, &help, &err), WL_OK);
    CHECK(help);
    config_print_help(&sample_table, "Usage: prog", out);
    fclose(out);
    CHECK(strstr(text, "--count N") != NULL);
    CHECK(strstr(text, "Unit: messages.") != NULL);
    CHECK(strstr(text, "Unit: messages/s.") != NULL);
    CHECK(strstr(text, "Env: SAMPLE_COUNT.") != NULL);
    CHECK(strstr(text, "Default: 30s.") != NULL);
    CHECK(strstr(text, "Unit: s, or a suffix ms, s, m or h.") != NULL);
    CHECK(strstr(text, "Range: from 0 to 100.") != NULL);
    CHECK(strstr(text, "Range: from 100ms to 1m.") != NULL);
    CHECK(strstr(text, "--name TEXT\n      Queue name. Default") != NULL);
    free(text);
    config_free(&sample_table, &s);
}

TEST_MAIN(TEST_ENTRY(defaults_apply), TEST_ENTRY(flag_overrides_environment),
          TEST_ENTRY(durations_parse), TEST_ENTRY(bare_duration_is_seconds),
          TEST_ENTRY(alias_takes_whole_seconds), TEST_ENTRY(choice_lists_expected),
          TEST_ENTRY(file_checks_name_setting), TEST_ENTRY(errors_name_option),
          TEST_ENTRY(bool_value_forms), TEST_ENTRY(secret_never_echoed),
          TEST_ENTRY(help_lists_units), TEST_ENTRY(durations_reject_other_syntax),
          TEST_ENTRY(numbers_reject_other_syntax), TEST_ENTRY(duration_range_in_units),
          TEST_ENTRY(zero_off_outside_range))
