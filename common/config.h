/*
 * Configuration declared once in a table, from which loading, validation, --help text and the
 * printed effective configuration all follow.
 *
 * Each option has a flag (`--count`), an optional environment variable, a type, a default
 * written as text, a unit, bounds, flags, help text and the offset of its field in the
 * caller's target struct. Loading applies the defaults, then the environment, then the command
 * line, so a flag overrides its variable. Every error names the flag or variable, the value and
 * what is expected; the caller prints it and exits with status 2.
 *
 * Not thread-safe: load at start-up, before other threads exist.
 */
#ifndef WL_CONFIG_H
#define WL_CONFIG_H

#include "status.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef enum config_type {
    CONFIG_STRING,   /* char * field, owned by the target; NULL when unset. An empty flag value
                        is rejected, an empty variable counts as unset */
    CONFIG_INT,      /* int64_t field, bounded by min and max */
    CONFIG_DOUBLE,   /* double field, bounded by min and max */
    CONFIG_BOOL,     /* bool field: true/false, 1/0, yes/no, on/off; a bare flag means true */
    CONFIG_DURATION, /* int64_t field in milliseconds; text "250ms", "30s", "5m", "1h", or a bare
                        number of seconds */
} config_type;

enum config_flag {
    CONFIG_SECRET = 1u << 0,   /* never echoed: "***" in config_describe_json, and left out
                                  of errors and of the defaults in --help */
    CONFIG_ZERO_OFF = 1u << 1, /* 0 is accepted besides min..max and turns the setting off */
};

typedef struct config_option {
    const char *flag; /* long flag without dashes, for example "count" */
    const char *env;  /* environment variable, or NULL for a flag only */
    config_type type;
    const char *default_text; /* parsed like user input; NULL leaves the field zero or NULL */
    const char *unit;         /* shown in --help, for example "messages/s"; ignored for
                                 CONFIG_DURATION, whose bare numbers are always seconds */
    double min, max;          /* inclusive bounds for numbers and durations (in ms); ignored
                                 when both are 0 */
    unsigned flags;           /* config_flag bits, or 0 */
    const char *help;         /* one sentence: what the option sets */
    size_t offset;            /* offsetof(target struct, field) */
} config_option;

typedef struct config_table {
    const config_option *options;
    size_t count;
} config_table;

/* A program-specific default that replaces the table's default_text of option `flag`. */
typedef struct config_default {
    const char *flag;
    const char *default_text; /* NULL leaves the field zero or NULL */
} config_default;

/*
 * An older environment variable of option `flag`, read only when the option's own variable is
 * unset. Older duration variables name their unit (SHUTDOWN_GRACE_SECONDS), so a duration read
 * from one must be a bare number of seconds without a suffix.
 */
typedef struct config_alias {
    const char *flag;
    const char *env;
} config_alias;

/*
 * One table loaded into one target struct. A program's configuration is a list of sections
 * (for example the shared Service Bus settings and the program's own), loaded together from one
 * environment and one command line and printed in one --help. Flags must be unique across the
 * sections of one list.
 */
typedef struct config_section {
    const char *title; /* heading in --help, for example "Service Bus"; NULL for none */
    const config_table *table;
    void *target;
    const config_default *defaults; /* replacements for the table's defaults, or NULL */
    size_t default_count;
    const config_alias *aliases; /* older variables of the table's options, or NULL */
    size_t alias_count;
} config_section;

/*
 * Loads every section as config_load does one table: all defaults, then the environment, then
 * the command line, on which each flag may belong to any section. Free with
 * config_free_sections.
 */
wl_status config_load_sections(const config_section *sections, size_t count, int argc, char **argv,
                               const char *(*getenv_fn)(const char *name), bool *out_help,
                               wl_error *err);

/* Frees the strings of every section's target (see config_free). */
void config_free_sections(const config_section *sections, size_t count);

/* Writes `usage_line`, then each section's title and options, with the effective defaults. */
void config_print_help_sections(const config_section *sections, size_t count,
                                const char *usage_line, FILE *out);

/* Returns one JSON object with the options of every section (see config_describe_json). */
char *config_describe_json_sections(const config_section *sections, size_t count);

/*
 * Loads `table` into `target`: defaults, then the environment (through `getenv_fn`, getenv
 * when NULL), then `argv[1..argc-1]` ("--name value", "--name=value"; "--help" and "-h" set
 * `out_help`). Strings in `target` are allocated and released by config_free. Returns
 * WL_ERR_INVALID with a message such as
 *   "invalid value \"-3\" for --count (SERVICEBUS_COUNT): expected an integer from 0 to ..."
 */
wl_status config_load(const config_table *table, void *target, int argc, char **argv,
                      const char *(*getenv_fn)(const char *name), bool *out_help, wl_error *err);

/* Frees the strings that config_load stored in `target` and sets them to NULL. */
void config_free(const config_table *table, void *target);

/* Writes usage text: `usage_line`, then one entry per option with its variable, unit, default. */
void config_print_help(const config_table *table, const char *usage_line, FILE *out);

/*
 * Returns the effective configuration as a JSON object ("{\"count\":10000,...}") keyed by
 * flag name, with secrets that are set shown as "***". Caller frees with free().
 */
char *config_describe_json(const config_table *table, const void *target);

/*
 * Parses a duration as CONFIG_DURATION does: a non-negative number with a suffix ms, s, m or h,
 * or a bare number of seconds.
 */
bool config_parse_duration(const char *text, int64_t *out_ms);

/*
 * Checks that `value`, the value of --`flag` (`env`), is one of `choices` (NULL-terminated).
 * Returns WL_ERR_INVALID with a message such as
 *   "invalid value \"fast\" for --progress (PRODUCER_PROGRESS): expected auto, bar, json or off"
 */
wl_status config_check_choice(const char *value, const char *const *choices, const char *flag,
                              const char *env, wl_error *err);

/*
 * Checks at start-up that `path`, the value of --`flag` (`env`), names a file this process can
 * read, so that a wrong path exits 2 instead of failing at the first connection. With
 * `pem_certificates` the file must also contain a PEM certificate. `flag` may be NULL for a
 * variable without a flag. Returns WL_ERR_INVALID naming the setting, the path and the cause.
 */
wl_status config_check_file(const char *path, const char *flag, const char *env,
                            bool pem_certificates, wl_error *err);

#endif
