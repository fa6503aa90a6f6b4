#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "log.h"

static void *field_of(void *target, const config_option *option)
{
    return (char *)target + option->offset;
}

static const void *const_field_of(const void *target, const config_option *option)
{
    return (const char *)target + option->offset;
}

static bool has_bounds(const config_option *option)
{
    return option->min != 0 || option->max != 0;
}

/* "--count (PRODUCER_COUNT)" or "--count": names an option the way users can set it. */
static void describe_names(const config_option *option, char *out, size_t capacity)
{
    if (option->env != NULL) {
        snprintf(out, capacity, "--%s (%s)", option->flag, option->env);
    } else {
        snprintf(out, capacity, "--%s", option->flag);
    }
}

/*
 * Returns the length of the decimal number that `text` starts with: an optional '-' when
 * `negative` is set, digits, then when `fraction` is set an optional '.' and digits. strtod and
 * strtoll also take leading blanks, '+', hexadecimal, exponents, "inf" and "nan". Checking the
 * text first keeps a value such as "0x10" or " 5" from meaning something the user did not write.
 */
static size_t decimal_length(const char *text, bool negative, bool fraction)
{
    size_t i = 0;

    if (negative && text[i] == '-') {
        i++;
    }
    size_t digits = i;
    while (isdigit((unsigned char)text[i])) {
        i++;
    }
    if (i == digits) {
        return 0;
    }
    if (fraction && text[i] == '.') {
        size_t decimals = i + 1;
        while (isdigit((unsigned char)text[decimals])) {
            decimals++;
        }
        if (decimals == i + 1) {
            return 0; /* "1." has no digit after the point */
        }
        i = decimals;
    }
    return i;
}

/* Returns whether all of `text` is one decimal number as decimal_length reads it. */
static bool is_decimal(const char *text, bool negative, bool fraction)
{
    size_t length = decimal_length(text, negative, fraction);
    return length > 0 && text[length] == '\0';
}

bool config_parse_duration(const char *text, int64_t *out_ms)
{
    static const uint64_t max_ms = 9000000000000000; /* far beyond any timer, within int64 */
    size_t length = decimal_length(text, false, true);
    const char *unit = text + length;
    uint64_t scale;

    if (length == 0) {
        return false;
    }
    if (*unit == '\0') {
        scale = 1000;
    } else if (strcmp(unit, "ms") == 0) {
        scale = 1;
    } else if (strcmp(unit, "s") == 0) {
        scale = 1000;
    } else if (strcmp(unit, "m") == 0) {
        scale = 60000;
    } else if (strcmp(unit, "h") == 0) {
        scale = 3600000;
    } else {
        return false;
    }

    /* Durations must be whole milliseconds, checked in integers, because rounding "0.4ms" to 0
     * would turn off an option for which 0 means off. */
    const char *p = text;
    uint64_t whole = 0;
    for (; isdigit((unsigned char)*p); p++) {
        whole = whole * 10 + (uint64_t)(*p - '0');
        if (whole > max_ms) {
            return false;
        }
    }
    uint64_t fraction = 0;
    uint64_t denominator = 1;
    if (*p == '.') {
        const char *last = unit - 1; /* trailing zeros change nothing */
        while (last > p && *last == '0') {
            last--;
        }
        if (last - p > 9) {
            return false; /* whole milliseconds need at most 7 decimal places, even in hours */
        }
        for (p++; p <= last; p++) {
            fraction = fraction * 10 + (uint64_t)(*p - '0');
            denominator *= 10;
        }
    }
    if (whole > max_ms / scale || fraction * scale % denominator != 0) {
        return false;
    }
    uint64_t ms = whole * scale + fraction * scale / denominator;
    if (ms > max_ms) {
        return false;
    }
    *out_ms = (int64_t)ms;
    return true;
}

static bool parse_bool(const char *text, bool *out)
{
    static const char *const truths[] = {"true", "1", "yes", "on"};
    static const char *const lies[] = {"false", "0", "no", "off"};

    for (size_t i = 0; i < 4; i++) {
        if (strcasecmp(text, truths[i]) == 0) {
            *out = true;
            return true;
        }
        if (strcasecmp(text, lies[i]) == 0) {
            *out = false;
            return true;
        }
    }
    return false;
}

/* Writes `ms` in the largest unit that it is a whole number of ("250ms", "30s", "5m", "1h"), and
 * 0 as "0". */
static void format_duration(int64_t ms, char *out, size_t capacity)
{
    static const struct {
        int64_t ms;
        const char *suffix;
    } units[] = {{3600000, "h"}, {60000, "m"}, {1000, "s"}};

    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        if (ms != 0 && ms % units[i].ms == 0) {
            snprintf(out, capacity, "%" PRId64 "%s", ms / units[i].ms, units[i].suffix);
            return;
        }
    }
    snprintf(out, capacity, ms == 0 ? "0" : "%" PRId64 "ms", ms);
}

/* Writes `value` in plain decimal digits, without an exponent or trailing zeros ("1000000000",
 * "0.5"), because the parser takes no other form. */
static void format_number(double value, char *out, size_t capacity)
{
    snprintf(out, capacity, "%.6f", value);
    char *end = out + strlen(out);
    while (end > out && end[-1] == '0') {
        *--end = '\0';
    }
    if (end > out && end[-1] == '.') {
        *--end = '\0';
    }
}

/* Writes the accepted range of a bounded number or duration, for example "from 1s to 1h" or
 * "0 to turn it off, or from 1s to 1h", or an empty string for an unbounded one. */
static void describe_range(const config_option *option, char *out, size_t capacity)
{
    char low[48];
    char high[48];

    if (!has_bounds(option)) {
        out[0] = '\0';
        return;
    }
    if (option->type == CONFIG_DURATION) {
        format_duration((int64_t)option->min, low, sizeof low);
        format_duration((int64_t)option->max, high, sizeof high);
    } else {
        format_number(option->min, low, sizeof low);
        format_number(option->max, high, sizeof high);
    }
    snprintf(out, capacity, "%sfrom %s to %s",
             (option->flags & CONFIG_ZERO_OFF) ? "0 to turn it off, or " : "", low, high);
}

static wl_status invalid_value(const config_option *option, const char *value, wl_error *err)
{
    static const char duration_syntax[] =
        "a duration such as 500ms, 30s, 5m or 1h (a bare number is seconds) in whole "
        "milliseconds";
    char names[160];
    char range[128];
    char expected[256];

    describe_names(option, names, sizeof names);
    describe_range(option, range, sizeof range);
    switch (option->type) {
    case CONFIG_INT:
        snprintf(expected, sizeof expected, "an integer%s%s", range[0] ? " " : "", range);
        break;
    case CONFIG_DOUBLE:
        snprintf(expected, sizeof expected, "a number%s%s", range[0] ? " " : "", range);
        break;
    case CONFIG_BOOL:
        snprintf(expected, sizeof expected, "true or false (or 1/0, yes/no, on/off)");
        break;
    case CONFIG_DURATION:
        snprintf(expected, sizeof expected, "%s%s%s", duration_syntax, range[0] ? ", " : "", range);
        break;
    case CONFIG_STRING:
        snprintf(expected, sizeof expected, "a non-empty value");
        break;
    }
    if (option->flags & CONFIG_SECRET) {
        return wl_error_set(err, WL_ERR_INVALID, "invalid value for %s: expected %s", names,
                            expected);
    }
    return wl_error_set(err, WL_ERR_INVALID, "invalid value \"%s\" for %s: expected %s", value,
                        names, expected);
}

static bool within_bounds(const config_option *option, double value)
{
    return !has_bounds(option) || (value >= option->min && value <= option->max) ||
           ((option->flags & CONFIG_ZERO_OFF) && value == 0);
}

static wl_status apply_value(const config_option *option, void *target, const char *value,
                             wl_error *err)
{
    void *field = field_of(target, option);

    switch (option->type) {
    case CONFIG_STRING: {
        char **slot = field;
        /* Only a flag can get here with an empty value, because an empty variable counts as
         * unset. An empty flag would otherwise fail only when the value is used. */
        if (*value == '\0') {
            return invalid_value(option, value, err);
        }
        free(*slot);
        *slot = wl_xstrdup(value);
        return WL_OK;
    }
    case CONFIG_INT: {
        errno = 0;
        long long parsed = strtoll(value, NULL, 10);
        if (!is_decimal(value, true, false) || errno != 0 ||
            !within_bounds(option, (double)parsed)) {
            return invalid_value(option, value, err);
        }
        *(int64_t *)field = (int64_t)parsed;
        return WL_OK;
    }
    case CONFIG_DOUBLE: {
        errno = 0;
        double parsed = strtod(value, NULL);
        if (!is_decimal(value, true, true) || errno != 0 || !isfinite(parsed) ||
            !within_bounds(option, parsed)) {
            return invalid_value(option, value, err);
        }
        *(double *)field = parsed;
        return WL_OK;
    }
    case CONFIG_BOOL:
        if (!parse_bool(value, field)) {
            return invalid_value(option, value, err);
        }
        return WL_OK;
    case CONFIG_DURATION: {
        int64_t ms = 0;
        if (!config_parse_duration(value, &ms) || !within_bounds(option, (double)ms)) {
            return invalid_value(option, value, err);
        }
        *(int64_t *)field = ms;
        return WL_OK;
    }
    }
    return invalid_value(option, value, err);
}

/* Returns the default of `option` in `section`: a program's replacement, or the table's. */
static const char *default_of(const config_section *section, const config_option *option)
{
    for (size_t i = 0; i < section->default_count; i++) {
        if (strcmp(section->defaults[i].flag, option->flag) == 0) {
            return section->defaults[i].default_text;
        }
    }
    return option->default_text;
}

/* Finds the option named by the first `length` bytes of `name`, and the section it is in. */
static const config_option *find_flag(const config_section *sections, size_t count,
                                      const char *name, size_t length,
                                      const config_section **out_section)
{
    for (size_t s = 0; s < count; s++) {
        const config_table *table = sections[s].table;

        for (size_t i = 0; i < table->count; i++) {
            const config_option *option = &table->options[i];
            if (strlen(option->flag) == length && strncmp(option->flag, name, length) == 0) {
                *out_section = &sections[s];
                return option;
            }
        }
    }
    return NULL;
}

static wl_status load_defaults(const config_section *section, wl_error *err)
{
    for (size_t i = 0; i < section->table->count; i++) {
        const config_option *option = &section->table->options[i];
        const char *text = default_of(section, option);

        if (text == NULL) {
            continue;
        }
        wl_status status = apply_value(option, section->target, text, err);
        if (status != WL_OK) {
            return status;
        }
    }
    return WL_OK;
}

/* Returns the older variable of `option` in `section`, or NULL. */
static const char *alias_of(const config_section *section, const config_option *option)
{
    for (size_t i = 0; i < section->alias_count; i++) {
        if (strcmp(section->aliases[i].flag, option->flag) == 0) {
            return section->aliases[i].env;
        }
    }
    return NULL;
}

/* Applies `value` of the older variable `alias`; a duration there is a bare number of seconds. */
static wl_status apply_alias(const config_option *option, const char *alias, void *target,
                             const char *value, wl_error *err)
{
    if (option->type == CONFIG_DURATION) {
        size_t digits = strspn(value, "0123456789");
        if (digits == 0 || value[digits] != '\0') {
            return wl_error_set(err, WL_ERR_INVALID,
                                "invalid value \"%s\" for %s: expected a whole number of seconds; "
                                "set --%s (%s) instead for a duration with a suffix",
                                value, alias, option->flag, option->env);
        }
    }
    wl_status status = apply_value(option, target, value, err);
    if (status != WL_OK) {
        /* Name the variable that held the value as well as the option it sets. */
        size_t used = strlen(err->message);
        snprintf(err->message + used, sizeof err->message - used, " (read from %s)", alias);
    }
    return status;
}

static wl_status load_environment(const config_section *section,
                                  const char *(*getenv_fn)(const char *name), wl_error *err)
{
    for (size_t i = 0; i < section->table->count; i++) {
        const config_option *option = &section->table->options[i];
        const char *alias = alias_of(section, option);
        const char *value;

        if (option->env == NULL) {
            continue;
        }
        value = getenv_fn(option->env);
        if ((value == NULL || *value == '\0') && alias != NULL) {
            const char *older = getenv_fn(alias);
            if (older != NULL && *older != '\0') {
                wl_status status = apply_alias(option, alias, section->target, older, err);
                if (status != WL_OK) {
                    return status;
                }
            }
            continue;
        }
        /* An empty variable is treated as unset, as Kubernetes renders optional values. */
        if (value == NULL || *value == '\0') {
            continue;
        }
        wl_status status = apply_value(option, section->target, value, err);
        if (status != WL_OK) {
            return status;
        }
    }
    return WL_OK;
}

static wl_status load_arguments(const config_section *sections, size_t count, int argc, char **argv,
                                bool *out_help, wl_error *err)
{
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        const char *value = NULL;
        const config_section *section = NULL;
        const config_option *option;
        size_t name_length;

        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            *out_help = true;
            continue;
        }
        /* The stray text is not shown: it may be a key or connection string typed without
         * its option. */
        if (strncmp(arg, "--", 2) != 0 || arg[2] == '\0') {
            return wl_error_set(err, WL_ERR_INVALID,
                                "unexpected argument %d (not shown, as it may contain a secret): "
                                "options are --NAME VALUE; see --help",
                                i);
        }
        arg += 2;
        name_length = strcspn(arg, "=");
        option = find_flag(sections, count, arg, name_length, &section);
        if (option == NULL) {
            return wl_error_set(err, WL_ERR_INVALID, "unknown option --%.*s; see --help",
                                (int)name_length, arg);
        }
        if (arg[name_length] == '=') {
            value = arg + name_length + 1;
        } else if (option->type == CONFIG_BOOL && (i + 1 >= argc || argv[i + 1][0] == '-')) {
            /* A bare boolean flag. Any other next argument is its value, so that "--flag maybe"
             * is reported as an invalid boolean like "--flag=maybe". */
            value = "true";
        } else if (i + 1 < argc) {
            value = argv[++i];
        } else {
            return wl_error_set(err, WL_ERR_INVALID, "option --%s needs a value; see --help",
                                option->flag);
        }
        wl_status status = apply_value(option, section->target, value, err);
        if (status != WL_OK) {
            return status;
        }
    }
    return WL_OK;
}

static const char *getenv_default(const char *name)
{
    return getenv(name);
}

wl_status config_load_sections(const config_section *sections, size_t count, int argc, char **argv,
                               const char *(*getenv_fn)(const char *name), bool *out_help,
                               wl_error *err)
{
    wl_status status;

    *out_help = false;
    if (getenv_fn == NULL) {
        getenv_fn = getenv_default;
    }
    for (size_t s = 0; s < count; s++) {
        status = load_defaults(&sections[s], err);
        if (status != WL_OK) {
            return status;
        }
    }
    for (size_t s = 0; s < count; s++) {
        status = load_environment(&sections[s], getenv_fn, err);
        if (status != WL_OK) {
            return status;
        }
    }
    return load_arguments(sections, count, argc, argv, out_help, err);
}

wl_status config_load(const config_table *table, void *target, int argc, char **argv,
                      const char *(*getenv_fn)(const char *name), bool *out_help, wl_error *err)
{
    config_section section = {.table = table, .target = target};

    return config_load_sections(&section, 1, argc, argv, getenv_fn, out_help, err);
}

void config_free(const config_table *table, void *target)
{
    for (size_t i = 0; i < table->count; i++) {
        const config_option *option = &table->options[i];
        if (option->type == CONFIG_STRING) {
            char **slot = field_of(target, option);
            free(*slot);
            *slot = NULL;
        }
    }
}

void config_free_sections(const config_section *sections, size_t count)
{
    for (size_t s = 0; s < count; s++) {
        config_free(sections[s].table, sections[s].target);
    }
}

static const char *type_placeholder(const config_option *option)
{
    switch (option->type) {
    case CONFIG_STRING:
        return "TEXT";
    case CONFIG_INT:
        return "N";
    case CONFIG_DOUBLE:
        return "X";
    case CONFIG_BOOL:
        return "[BOOL]";
    case CONFIG_DURATION:
        return "DURATION";
    }
    return "VALUE";
}

static void print_option(const config_section *section, const config_option *option, FILE *out)
{
    const char *default_text = default_of(section, option);
    const char *alias = alias_of(section, option);

    fprintf(out, "  --%s %s\n      %s", option->flag, type_placeholder(option), option->help);
    if (alias != NULL) {
        fprintf(out, " %s, the older variable, is read when %s is unset%s.", alias, option->env,
                option->type == CONFIG_DURATION ? " and takes whole seconds" : "");
    }
    if (option->type == CONFIG_DURATION) {
        fprintf(out, " Unit: s, or a suffix ms, s, m or h.");
    } else if (option->unit != NULL) {
        fprintf(out, " Unit: %s.", option->unit);
    }
    char range[128];
    describe_range(option, range, sizeof range);
    if (range[0] != '\0') {
        fprintf(out, " Range: %s.", range);
    }
    if (default_text != NULL && !(option->flags & CONFIG_SECRET)) {
        fprintf(out, " Default: %s.", default_text);
    }
    if (option->env != NULL) {
        fprintf(out, " Env: %s.", option->env);
    }
    fputc('\n', out);
}

void config_print_help_sections(const config_section *sections, size_t count,
                                const char *usage_line, FILE *out)
{
    fprintf(out, "%s\n\nOptions (a flag overrides its environment variable):\n", usage_line);
    for (size_t s = 0; s < count; s++) {
        if (sections[s].title != NULL) {
            fprintf(out, "\n %s:\n", sections[s].title);
        }
        for (size_t i = 0; i < sections[s].table->count; i++) {
            print_option(&sections[s], &sections[s].table->options[i], out);
        }
    }
    fprintf(out, "  --help\n      Print this text and exit.\n");
}

void config_print_help(const config_table *table, const char *usage_line, FILE *out)
{
    config_section section = {.table = table};

    config_print_help_sections(&section, 1, usage_line, out);
}

/* Appends to a growable string. */
typedef struct text_buffer {
    char *data;
    size_t length;
    size_t capacity;
} text_buffer;

static void append(text_buffer *buffer, const char *text, size_t length)
{
    if (buffer->length + length + 1 > buffer->capacity) {
        size_t capacity = buffer->capacity == 0 ? 256 : buffer->capacity;
        while (buffer->length + length + 1 > capacity) {
            capacity *= 2;
        }
        buffer->data = wl_xrealloc(buffer->data, capacity);
        buffer->capacity = capacity;
    }
    memcpy(buffer->data + buffer->length, text, length);
    buffer->length += length;
    buffer->data[buffer->length] = '\0';
}

static void append_text(text_buffer *buffer, const char *text)
{
    append(buffer, text, strlen(text));
}

static void append_json_string(text_buffer *buffer, const char *text)
{
    char escaped[1024];

    log_json_escape(escaped, sizeof escaped, text);
    append_text(buffer, "\"");
    append_text(buffer, escaped);
    append_text(buffer, "\"");
}

static void append_value(text_buffer *buffer, const config_option *option, const void *target)
{
    const void *field = const_field_of(target, option);
    char number[64];

    switch (option->type) {
    case CONFIG_STRING: {
        const char *value = *(char *const *)field;
        if (value == NULL) {
            append_text(buffer, "null");
        } else {
            append_json_string(buffer, (option->flags & CONFIG_SECRET) ? "***" : value);
        }
        return;
    }
    case CONFIG_INT:
    case CONFIG_DURATION:
        snprintf(number, sizeof number, "%" PRId64, *(const int64_t *)field);
        break;
    case CONFIG_DOUBLE:
        snprintf(number, sizeof number, "%.17g", *(const double *)field);
        break;
    case CONFIG_BOOL:
        snprintf(number, sizeof number, "%s", *(const bool *)field ? "true" : "false");
        break;
    }
    if (option->flags & CONFIG_SECRET) {
        append_json_string(buffer, "***");
    } else {
        append_text(buffer, number);
    }
}

static void append_options(text_buffer *buffer, const config_table *table, const void *target)
{
    for (size_t i = 0; i < table->count; i++) {
        const config_option *option = &table->options[i];
        char key[128];

        /* Durations are stored in ms, so the key ends in "_ms". */
        snprintf(key, sizeof key, "%s%s", option->flag,
                 option->type == CONFIG_DURATION ? "_ms" : "");
        if (buffer->length > 1) {
            append_text(buffer, ",");
        }
        append_json_string(buffer, key);
        append_text(buffer, ":");
        append_value(buffer, option, target);
    }
}

char *config_describe_json_sections(const config_section *sections, size_t count)
{
    text_buffer buffer = {0};

    append_text(&buffer, "{");
    for (size_t s = 0; s < count; s++) {
        append_options(&buffer, sections[s].table, sections[s].target);
    }
    append_text(&buffer, "}");
    return buffer.data;
}

char *config_describe_json(const config_table *table, const void *target)
{
    text_buffer buffer = {0};

    append_text(&buffer, "{");
    append_options(&buffer, table, target);
    append_text(&buffer, "}");
    return buffer.data;
}

wl_status config_check_choice(const char *value, const char *const *choices, const char *flag,
                              const char *env, wl_error *err)
{
    char expected[256] = "";
    size_t count = 0;

    for (size_t i = 0; choices[i] != NULL; i++) {
        if (value != NULL && strcmp(value, choices[i]) == 0) {
            return WL_OK;
        }
        count++;
    }
    for (size_t i = 0; i < count; i++) {
        size_t used = strlen(expected);
        const char *separator = ", ";

        if (i == 0) {
            separator = "";
        } else if (i + 1 == count) {
            separator = " or ";
        }
        snprintf(expected + used, sizeof expected - used, "%s%s", separator, choices[i]);
    }
    return wl_error_set(err, WL_ERR_INVALID, "invalid value \"%s\" for --%s (%s): expected %s",
                        value != NULL ? value : "", flag, env, expected);
}

/* Returns true when `file` has a line that starts a PEM certificate, as OpenSSL reads them. */
static bool has_pem_certificate(FILE *file)
{
    char line[256];

    while (fgets(line, sizeof line, file) != NULL) {
        if (strncmp(line, "-----BEGIN CERTIFICATE-----", 27) == 0 ||
            strncmp(line, "-----BEGIN TRUSTED CERTIFICATE-----", 35) == 0) {
            return true;
        }
    }
    return false;
}

wl_status config_check_file(const char *path, const char *flag, const char *env,
                            bool pem_certificates, wl_error *err)
{
    char names[160];
    FILE *file;
    int error;
    bool found;

    if (flag == NULL) {
        snprintf(names, sizeof names, "%s", env);
    } else if (env == NULL) {
        snprintf(names, sizeof names, "--%s", flag);
    } else {
        snprintf(names, sizeof names, "--%s (%s)", flag, env);
    }
    file = fopen(path, "r");
    if (file == NULL) {
        return wl_error_set(err, WL_ERR_INVALID,
                            "cannot read the file \"%s\" of %s: %s; set it to a readable file",
                            path, names, strerror(errno));
    }
    found = has_pem_certificate(file);
    /* A directory opens but fails to read with EISDIR. */
    error = ferror(file) ? errno : 0;
    fclose(file);
    if (error != 0) {
        return wl_error_set(err, WL_ERR_INVALID,
                            "cannot read the file \"%s\" of %s: %s; set it to a readable file",
                            path, names, strerror(error));
    }
    if (pem_certificates && !found) {
        return wl_error_set(err, WL_ERR_INVALID,
                            "the file \"%s\" of %s contains no PEM certificate: expected one or "
                            "more \"-----BEGIN CERTIFICATE-----\" blocks",
                            path, names);
    }
    return WL_OK;
}
