/*
 * The one logger of the services: JSON lines on stdout, one object per line,
 *
 *   {"time":"2026-12-04T06:14:27.123Z","level":"info","service":"consumer",
 *    "event":"link-attached","msg":"receiver attached to orders"}
 *
 * The level check happens before any formatting, so disabled debug lines cost one branch.
 * Lines from several threads never interleave. Only producer/, consumer/ and the emulators
 * log; common/ reports failures through wl_error. Never pass a secret to the logger.
 */
#ifndef WL_LOG_H
#define WL_LOG_H

#include <stdbool.h>
#include <stdio.h>

typedef enum log_level {
    LOG_LEVEL_DEBUG = 0,
    LOG_LEVEL_INFO,
    LOG_LEVEL_WARN,
    LOG_LEVEL_ERROR,
} log_level;

/*
 * Sets the service name and minimum level. `service` must stay valid until exit. `out` is
 * where lines go (stdout when NULL). May be called again, for example by tests.
 */
void log_init(const char *service, log_level min_level, FILE *out);

/* Parses "debug", "info", "warn" or "error". Returns false for anything else. */
bool log_level_parse(const char *text, log_level *out_level);

/* Returns the lowercase name of `level`. */
const char *log_level_str(log_level level);

bool log_enabled(log_level level);

/* Writes one line. `event` is a short kebab-case name that operators can grep for. */
void log_write(log_level level, const char *event, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/*
 * Writes one line with extra top-level fields. `fields_json` is a JSON object body without
 * braces (for example "\"queue\":\"orders\",\"delivery_count\":3"), or NULL.
 */
void log_write_fields(log_level level, const char *event, const char *fields_json, const char *fmt,
                      ...) __attribute__((format(printf, 4, 5)));

/* Appends `text` to `out` as the inside of a JSON string, escaping as RFC 8259 requires, with
 * U+FFFD for each byte that starts no well-formed UTF-8 sequence. Writes at most `capacity - 1`
 * bytes, never part of a character or an escape, and always terminates; returns the length
 * written. */
size_t log_json_escape(char *out, size_t capacity, const char *text);

#define LOG_DEBUG(event, ...)                                                                      \
    do {                                                                                           \
        if (log_enabled(LOG_LEVEL_DEBUG))                                                          \
            log_write(LOG_LEVEL_DEBUG, event, __VA_ARGS__);                                        \
    } while (0)
#define LOG_INFO(event, ...)  log_write(LOG_LEVEL_INFO, event, __VA_ARGS__)
#define LOG_WARN(event, ...)  log_write(LOG_LEVEL_WARN, event, __VA_ARGS__)
#define LOG_ERROR(event, ...) log_write(LOG_LEVEL_ERROR, event, __VA_ARGS__)

#endif
