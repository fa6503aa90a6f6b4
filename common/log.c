#include "log.h"

#include "encoding.h"

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
    size_t available = strlen(text);

    if (capacity == 0) {
        return 0;
    }
    for (size_t at = 0; at < available;) {
        const unsigned char c = (unsigned char)text[at];
        char escaped[8];
        const char *bytes = escaped;
        size_t n;
        size_t consumed = 1;

        if (c == '"' || c == '\\') {
            escaped[0] = '\\';
            escaped[1] = (char)c;
            n = 2;
        } else if (c == '\n') {
            memcpy(escaped, "\\n", 2);
            n = 2;
        } else if (c == '\r') {
            memcpy(escaped, "\\r", 2);
            n = 2;
        } else if (c == '\t') {
            memcpy(escaped, "\\t", 2);
            n = 2;
        } else if (c < 0x20 || c == 0x7f) {
            n = (size_t)snprintf(escaped, sizeof escaped, "\\u%04x", c);
        } else if (c < 0x80) {
            escaped[0] = (char)c;
            n = 1;
        } else if (wl_utf8_decode((const uint8_t *)text + at, available - at, &consumed) >= 0) {
            bytes = text + at; /* a whole character, copied as it is */
            n = consumed;
        } else {
            /* JSON text must be UTF-8 (RFC 8259), and a log shipper may drop a line that is
             * not, so a byte that starts no well-formed sequence becomes U+FFFD. */
            memcpy(escaped, "\\ufffd", 6);
            n = 6;
        }
        if (length + n >= capacity) {
            break;
        }
        memcpy(out + length, bytes, n);
        length += n;
        at += consumed;
    }
    out[length] = '\0';
    return length;
}

static void write_line(log_level level, const char *event, const char *fields_json, const char *fmt,
                       va_list args) __attribute__((format(printf, 4, 0)));

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
