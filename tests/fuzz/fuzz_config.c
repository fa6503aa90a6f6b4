/*
 * Fuzzes the option parser (config.c). Checks:
 *   - config_parse_duration agrees with a reference that computes the milliseconds in 128-bit
 *     integers from the grammar DIGITS [. DIGITS] [ms|s|m|h];
 *   - config_load, given the input's lines as arguments, either rejects them with a message or
 *     stores values within each option's bounds, and config_describe_json then gives JSON
 *     that cJSON parses back to the stored numbers.
 */
#include "config.h"
#include "fuzz.h"

#include <cjson/cJSON.h>
#include <math.h>

#define MAX_DURATION_MS INT64_C(9000000000000000)

/* Returns whether `text` is a duration, storing its milliseconds. */
static bool reference_duration(const char *text, int64_t *out_ms)
{
    const char *p = text;
    const char *whole_first = p;
    __int128 whole = 0;

    while (*p >= '0' && *p <= '9') {
        if (whole <= MAX_DURATION_MS) {
            whole = whole * 10 + (*p - '0');
        }
        p++;
    }
    if (p == whole_first) {
        return false;
    }
    const char *fraction_first = NULL;
    const char *fraction_end = NULL;
    if (*p == '.') {
        fraction_first = ++p;
        while (*p >= '0' && *p <= '9') {
            p++;
        }
        if (p == fraction_first) {
            return false;
        }
        fraction_end = p;
    }
    __int128 scale;
    if (*p == '\0' || strcmp(p, "s") == 0) {
        scale = 1000;
    } else if (strcmp(p, "ms") == 0) {
        scale = 1;
    } else if (strcmp(p, "m") == 0) {
        scale = 60000;
    } else if (strcmp(p, "h") == 0) {
        scale = 3600000;
    } else {
        return false;
    }
    if (whole > MAX_DURATION_MS) {
        return false;
    }
    __int128 numerator = 0;
    __int128 denominator = 1;
    if (fraction_first != NULL) {
        while (fraction_end > fraction_first && fraction_end[-1] == '0') {
            fraction_end--; /* trailing zeros change nothing */
        }
        /* A whole number of ms needs at most 7 decimals, since 3600000 = 2^7 * 3^2 * 5^5. */
        if (fraction_end - fraction_first > 7) {
            return false;
        }
        for (const char *q = fraction_first; q < fraction_end; q++) {
            numerator = numerator * 10 + (*q - '0');
            denominator *= 10;
        }
    }
    __int128 total = (whole * denominator + numerator) * scale;
    if (total % denominator != 0 || total / denominator > MAX_DURATION_MS) {
        return false;
    }
    *out_ms = (int64_t)(total / denominator);
    return true;
}

typedef struct fuzz_settings {
    int64_t count;
    double rate;
    bool verbose;
    int64_t timeout_ms;
    int64_t idle_ms;
    char *name;
    char *key;
} fuzz_settings;

static const config_option options[] = {
    {"count", "FUZZ_COUNT", CONFIG_INT, "10", "messages", 0, 1000000, 0, "Messages to send.",
     offsetof(fuzz_settings, count)},
    {"rate", "FUZZ_RATE", CONFIG_DOUBLE, "0.5", "messages/s", -10, 1e9, 0, "Send rate.",
     offsetof(fuzz_settings, rate)},
    {"verbose", NULL, CONFIG_BOOL, "false", NULL, 0, 0, 0, "Log more.",
     offsetof(fuzz_settings, verbose)},
    {"timeout", "FUZZ_TIMEOUT", CONFIG_DURATION, "30s", NULL, 1000, 3600000, 0, "Time limit.",
     offsetof(fuzz_settings, timeout_ms)},
    {"idle", NULL, CONFIG_DURATION, "0", NULL, 100, 60000, CONFIG_ZERO_OFF, "Idle check.",
     offsetof(fuzz_settings, idle_ms)},
    {"name", "FUZZ_NAME", CONFIG_STRING, NULL, NULL, 0, 0, 0, "A name.",
     offsetof(fuzz_settings, name)},
    {"key", "FUZZ_KEY", CONFIG_STRING, NULL, NULL, 0, 0, CONFIG_SECRET, "A key.",
     offsetof(fuzz_settings, key)},
};
static const config_table table = {options, sizeof options / sizeof options[0]};

static const char *no_environment(const char *name)
{
    (void)name;
    return NULL;
}

static void check_duration(const char *text)
{
    int64_t expected = -1;
    int64_t ms = -1;
    bool expected_ok = reference_duration(text, &expected);
    bool ok = config_parse_duration(text, &ms);

    FUZZ_CHECK(ok == expected_ok);
    if (ok) {
        FUZZ_CHECK(ms == expected);
    }
}

static double number_member(const cJSON *object, const char *name)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(object, name);

    FUZZ_CHECK(cJSON_IsNumber(item));
    return item->valuedouble;
}

static void check_load(char *text)
{
    char *argv[64] = {"fuzz"};
    int argc = 1;
    char *cursor = text;
    char *line;

    while (argc < 64 && (line = strsep(&cursor, "\n")) != NULL) {
        argv[argc++] = line;
    }

    fuzz_settings settings = {0};
    bool help = false;
    wl_error err = {0};
    if (config_load(&table, &settings, argc, argv, no_environment, &help, &err) != WL_OK) {
        FUZZ_CHECK(err.status == WL_ERR_INVALID && err.message[0] != '\0');
        config_free(&table, &settings);
        return;
    }
    FUZZ_CHECK(settings.count >= 0 && settings.count <= 1000000);
    FUZZ_CHECK(settings.rate >= -10 && settings.rate <= 1e9);
    FUZZ_CHECK(settings.timeout_ms >= 1000 && settings.timeout_ms <= 3600000);
    FUZZ_CHECK(settings.idle_ms == 0 || (settings.idle_ms >= 100 && settings.idle_ms <= 60000));
    FUZZ_CHECK(settings.name == NULL || settings.name[0] != '\0');

    char *described = config_describe_json(&table, &settings);
    cJSON *root = cJSON_Parse(described);
    FUZZ_CHECK(cJSON_IsObject(root));
    FUZZ_CHECK(number_member(root, "count") == (double)settings.count);
    FUZZ_CHECK(number_member(root, "timeout_ms") == (double)settings.timeout_ms);
    FUZZ_CHECK(number_member(root, "idle_ms") == (double)settings.idle_ms);
    FUZZ_CHECK(number_member(root, "rate") == settings.rate);
    const cJSON *key = cJSON_GetObjectItemCaseSensitive(root, "key");
    FUZZ_CHECK(settings.key == NULL ? cJSON_IsNull(key)
                                    : cJSON_IsString(key) && strcmp(key->valuestring, "***") == 0);
    cJSON_Delete(root);
    free(described);
    config_free(&table, &settings);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = fuzz_text(data, size);

    check_duration(text);
    check_load(text);
    free(text);
    return 0;
}
