#include "log.h"

#include <pthread.h>
#include <stdarg.h>
#include <string.h>
#include <time.h>

static const char *log_service = "workload";
static log_level log_min_level = LOG_LEVEL_INFO;
static FILE *log_out;
static pthread_mutex_t log_mutex = PTHREAD_MUTEX_INITIALIZER;

void log_init(const char *service, log_level min_level, FILE *out)
{
    pthread_mutex_lock(&log_mutex);
    log_service = service;
    log_min_level = min_level;
    log_out = out;
    pthread_mutex_unlock(&log_mutex);
}

bool log_level_parse(const char *text, log_level *out_level)
{
    static const char *const names[] = {"debug", "info", "warn", "error"};

    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (strcmp(text, names[i]) == 0) {
            *out_level = (log_level)i;
            return true;
        }
    }
    return false;
}

const char *log_level_str(log_level level)
{
    switch (level) {
    case LOG_LEVEL_DEBUG:
        return "debug";
    case LOG_LEVEL_INFO:
        return "info";
    case LOG_LEVEL_WARN:
        return "warn";
    case LOG_LEVEL_ERROR:
        return "error";
    }
    return "info";
}

bool log_enabled(log_level level)
{
    return level >= log_min_level;
}

size_t log_json_escape(char *out, size_t capacity, const char *text)
{
    size_t length = 0;

    if (capacity == 0) {
        return 0;
    }
    for (const unsigned char *p = (const unsigned char *)text; *p != '\0'; p++) {
        char escaped[8];
        size_t n;

        if (*p == '"' || *p == '\\') {
            escaped[0] = '\\';
            escaped[1] = (char)*p;
            n = 2;
        } else if (*p == '\n') {
            memcpy(escaped, "\\n", 2);
            n = 2;
        } else if (*p == '\r') {
            memcpy(escaped, "\\r", 2);
            n = 2;
        } else if (*p == '\t') {
            memcpy(escaped, "\\t", 2);
            n = 2;
        } else if (*p < 0x20 || *p == 0x7f) {
            n = (size_t)snprintf(escaped, sizeof escaped, "\\u%04x", *p);
        } else {
            escaped[0] = (char)*p;
            n = 1;
        }
        if (length + n >= capacity) {
            break;
        }
        memcpy(out + length, escaped, n);
        length += n;
    }
    out[length] = '\0';
    return length;
}

static void write_line(log_level level, const char *event, const char *fields_json, const char *fmt,
                       va_list args)
{
    char message[2048];
    char escaped[4096];
    char stamp[40];
    struct timespec now;
    struct tm utc;
    FILE *out;

    vsnprintf(message, sizeof message, fmt, args);
    log_json_escape(escaped, sizeof escaped, message);

    clock_gettime(CLOCK_REALTIME, &now);
    gmtime_r(&now.tv_sec, &utc);
    strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &utc);

    pthread_mutex_lock(&log_mutex);
    out = log_out != NULL ? log_out : stdout;
    fprintf(out, "{\"time\":\"%s.%03ldZ\",\"level\":\"%s\",\"service\":\"%s\",\"event\":\"%s\"",
            stamp, now.tv_nsec / 1000000, log_level_str(level), log_service, event);
    if (fields_json != NULL && fields_json[0] != '\0') {
        fprintf(out, ",%s", fields_json);
    }
    fprintf(out, ",\"msg\":\"%s\"}\n", escaped);
    fflush(out);
    pthread_mutex_unlock(&log_mutex);
}

void log_write(log_level level, const char *event, const char *fmt, ...)
{
    va_list args;

    if (!log_enabled(level)) {
        return;
    }
    va_start(args, fmt);
    write_line(level, event, NULL, fmt, args);
    va_end(args);
}

void log_write_fields(log_level level, const char *event, const char *fields_json, const char *fmt,
                      ...)
{
    va_list args;

    if (!log_enabled(level)) {
        return;
    }
    va_start(args, fmt);
    write_line(level, event, fields_json, fmt, args);
    va_end(args);
}
