#include "timefmt.h"

#include "encoding.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static const char *const day_names[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
static const char *const month_names[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                          "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

/* Formats into a roomy buffer first: years beyond 9999 would not fit the fixed sizes, and the
 * compiler cannot prove that they never occur. */
static void copy_fixed(char *out, size_t size, const char *formatted)
{
    size_t length = strlen(formatted);

    if (length > size - 1) {
        length = size - 1;
    }
    memcpy(out, formatted, length);
    out[length] = '\0';
}

static void split_utc(int64_t unix_seconds, struct tm *out)
{
    time_t seconds = (time_t)unix_seconds;

    gmtime_r(&seconds, out);
}

/*
 * The producer stamps every message, and the consumer formats the enqueued time of every message.
 * Each thread therefore caches the date and time up to the second, and a call writes only the
 * fraction. gmtime_r and snprintf take about 3,800 instructions a call (callgrind).
 */
typedef struct second_prefix {
    int64_t second;
    char text[21]; /* "YYYY-MM-DD" separator "HH:MM:SS." and a terminator */
} second_prefix;

/* Returns the date and time of `seconds` up to the second, formatting it when the cache has
 * another second. */
static const char *cached_prefix(second_prefix *cache, int64_t seconds, char separator)
{
    if (seconds != cache->second) {
        struct tm utc;
        char buffer[96];

        split_utc(seconds, &utc);
        snprintf(buffer, sizeof buffer, "%04d-%02d-%02d%c%02d:%02d:%02d.", utc.tm_year + 1900,
                 utc.tm_mon + 1, utc.tm_mday, separator, utc.tm_hour, utc.tm_min, utc.tm_sec);
        copy_fixed(cache->text, sizeof cache->text, buffer);
        cache->second = seconds;
    }
    return cache->text;
}

/* The first and the last second with a four-digit year: 0000-01-01 00:00:00 and
 * 9999-12-31 23:59:59 UTC. */
#define FIRST_FORMATTED_SECOND INT64_C(-62167219200)
#define LAST_FORMATTED_SECOND  INT64_C(253402300799)

/* Writes `value` as `count` decimal digits, with leading zeros. */
static void put_digits(char *out, int64_t value, int count)
{
    for (int i = count - 1; i >= 0; i--) {
        out[i] = (char)('0' + value % 10);
        value /= 10;
    }
}

static _Thread_local second_prefix stamp_prefix = {.second = INT64_MIN};
static _Thread_local second_prefix iso8601_prefix = {.second = INT64_MIN};

/*
 * Writes `value`, a time in units of one over `per_second`, as "YYYY-MM-DD" `separator`
 * "HH:MM:SS." and `digits` fractional digits, and returns the position after them. NOTE: the
 * fixed-width formats have no room for years outside 0000 to 9999, so such a time (from a
 * broker's bad timestamp, say) is written as the nearest time that fits.
 */
static char *format_time(int64_t value, int64_t per_second, int digits, second_prefix *cache,
                         char separator, char *out)
{
    int64_t seconds = value / per_second;
    int64_t fraction = value % per_second;

    if (fraction < 0) {
        fraction += per_second;
        seconds -= 1;
    }
    if (seconds > LAST_FORMATTED_SECOND) {
        seconds = LAST_FORMATTED_SECOND;
        fraction = per_second - 1;
    } else if (seconds < FIRST_FORMATTED_SECOND) {
        seconds = FIRST_FORMATTED_SECOND;
        fraction = 0;
    }
    /* The prefix is 20 characters, the same for every year of four digits. */
    memcpy(out, cached_prefix(cache, seconds, separator), 20);
    put_digits(out + 20, fraction, digits);
    return out + 20 + digits;
}

void wl_format_stamp(int64_t unix_us, char out[WL_STAMP_SIZE])
{
    char *end = format_time(unix_us, 1000000, 6, &stamp_prefix, ' ', out);

    *end = '\0';
}

static bool read_digits(const char *text, int count, int *out)
{
    int value = 0;

    for (int i = 0; i < count; i++) {
        if (text[i] < '0' || text[i] > '9') {
            return false;
        }
        value = value * 10 + (text[i] - '0');
    }
    *out = value;
    return true;
}

static bool is_leap_year(int year)
{
    return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
}

/* Checks that the fields name a real date and time. Second 60 is a leap second, which timegm
 * counts as the first second of the next minute, as POSIX time has no leap seconds. */
static bool valid_fields(const struct tm *fields)
{
    static const int days_in_month[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

    if (fields->tm_mon < 0 || fields->tm_mon >= 12) {
        return false;
    }
    int days = days_in_month[fields->tm_mon];
    if (fields->tm_mon == 1 && is_leap_year(fields->tm_year + 1900)) {
        days++;
    }
    return fields->tm_mday >= 1 && fields->tm_mday <= days && fields->tm_hour >= 0 &&
           fields->tm_hour < 24 && fields->tm_min >= 0 && fields->tm_min < 60 &&
           fields->tm_sec >= 0 && fields->tm_sec <= 60;
}

bool wl_parse_stamp(const char *text, int64_t *out_unix_us)
{
    struct tm fields = {0};
    int year, month, micros;

    if (strlen(text) != WL_STAMP_SIZE - 1 || text[4] != '-' || text[7] != '-' || text[10] != ' ' ||
        text[13] != ':' || text[16] != ':' || text[19] != '.') {
        return false;
    }
    if (!read_digits(text, 4, &year) || !read_digits(text + 5, 2, &month) ||
        !read_digits(text + 8, 2, &fields.tm_mday) || !read_digits(text + 11, 2, &fields.tm_hour) ||
        !read_digits(text + 14, 2, &fields.tm_min) || !read_digits(text + 17, 2, &fields.tm_sec) ||
        !read_digits(text + 20, 6, &micros)) {
        return false;
    }
    fields.tm_year = year - 1900;
    fields.tm_mon = month - 1;
    if (!valid_fields(&fields)) {
        return false;
    }
    *out_unix_us = (int64_t)timegm(&fields) * 1000000 + micros;
    return true;
}

void wl_format_rfc1123(int64_t unix_seconds, char out[WL_RFC1123_SIZE])
{
    struct tm utc;
    char buffer[96];

    split_utc(unix_seconds, &utc);
    snprintf(buffer, sizeof buffer, "%s, %02d %s %04d %02d:%02d:%02d GMT", day_names[utc.tm_wday],
             utc.tm_mday, month_names[utc.tm_mon], utc.tm_year + 1900, utc.tm_hour, utc.tm_min,
             utc.tm_sec);
    copy_fixed(out, WL_RFC1123_SIZE, buffer);
}

/* Returns the index of the three letters at `text` in `names`, or -1. */
static int find_name(const char *text, const char *const *names, int count)
{
    for (int i = 0; i < count; i++) {
        if (strncmp(text, names[i], 3) == 0) {
            return i;
        }
    }
    return -1;
}

bool wl_parse_rfc1123(const char *text, int64_t *out_unix_seconds)
{
    struct tm fields = {0};
    int year;

    /* "Fri, 04 Dec 2026 06:14:27 GMT": every field has a fixed width and position. */
    if (strlen(text) != WL_RFC1123_SIZE - 1 || text[3] != ',' || text[4] != ' ' || text[7] != ' ' ||
        text[11] != ' ' || text[16] != ' ' || text[19] != ':' || text[22] != ':' ||
        strcmp(text + 25, " GMT") != 0) {
        return false;
    }
    if (!read_digits(text + 5, 2, &fields.tm_mday) || !read_digits(text + 12, 4, &year) ||
        !read_digits(text + 17, 2, &fields.tm_hour) || !read_digits(text + 20, 2, &fields.tm_min) ||
        !read_digits(text + 23, 2, &fields.tm_sec)) {
        return false;
    }
    int weekday = find_name(text, day_names, 7);
    fields.tm_mon = find_name(text + 8, month_names, 12);
    fields.tm_year = year - 1900;
    if (weekday < 0 || !valid_fields(&fields)) {
        return false;
    }

    /* The day name must match the date alone, because timegm moves 23:59:60 to the next day. */
    struct tm day = fields;
    day.tm_hour = day.tm_min = day.tm_sec = 0;
    timegm(&day);
    if (day.tm_wday != weekday) {
        return false;
    }
    *out_unix_seconds = (int64_t)timegm(&fields);
    return true;
}

void wl_format_iso8601(int64_t unix_ms, char out[WL_ISO8601_SIZE])
{
    char *end = format_time(unix_ms, 1000, 3, &iso8601_prefix, 'T', out);

    end[0] = 'Z';
    end[1] = '\0';
}

/*
 * Random bytes for UUIDs come from a per-thread pool refilled with one RAND_bytes call per 256
 * UUIDs, because one call per message cost the producer a third of its CPU. A forked child
 * must not reuse its parent's pool, so fork bumps a generation that makes every pool refill.
 */
#define UUID_POOL_SIZE (16 * 256)

static atomic_uint uuid_pool_generation;
static pthread_once_t uuid_fork_handler_once = PTHREAD_ONCE_INIT;
static _Thread_local uint8_t uuid_pool[UUID_POOL_SIZE];
static _Thread_local size_t uuid_pool_used = UUID_POOL_SIZE;
static _Thread_local unsigned uuid_pool_filled_generation;

static void invalidate_uuid_pools(void)
{
    atomic_fetch_add(&uuid_pool_generation, 1);
}

static void register_uuid_fork_handler(void)
{
    pthread_atfork(NULL, NULL, invalidate_uuid_pools);
}

bool wl_uuid_v4(char out[WL_UUID_SIZE])
{
    uint8_t bytes[16];
    unsigned generation;

    pthread_once(&uuid_fork_handler_once, register_uuid_fork_handler);
    generation = atomic_load(&uuid_pool_generation);
    if (uuid_pool_used + sizeof bytes > UUID_POOL_SIZE ||
        uuid_pool_filled_generation != generation) {
        if (!wl_random_bytes(uuid_pool, sizeof uuid_pool)) {
            return false;
        }
        uuid_pool_used = 0;
        uuid_pool_filled_generation = generation;
    }
    memcpy(bytes, uuid_pool + uuid_pool_used, sizeof bytes);
    /* Each UUID's bytes are used once: wipe them so the pool never hands them out again. */
    memset(uuid_pool + uuid_pool_used, 0, sizeof bytes);
    uuid_pool_used += sizeof bytes;

    bytes[6] = (uint8_t)((bytes[6] & 0x0f) | 0x40);
    bytes[8] = (uint8_t)((bytes[8] & 0x3f) | 0x80);
    wl_uuid_format(bytes, out);
    return true;
}

void wl_uuid_format(const uint8_t bytes[16], char out[WL_UUID_SIZE])
{
    static const char hex[] = "0123456789abcdef";
    size_t n = 0;

    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10) {
            out[n++] = '-';
        }
        out[n++] = hex[bytes[i] >> 4];
        out[n++] = hex[bytes[i] & 0x0f];
    }
    out[n] = '\0';
}

bool wl_uuid_parse(const char *text, uint8_t out[16])
{
    size_t n = 0;

    if (strlen(text) != WL_UUID_SIZE - 1) {
        return false;
    }
    for (size_t i = 0; i < WL_UUID_SIZE - 1;) {
        unsigned int byte;

        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (text[i] != '-') {
                return false;
            }
            i++;
            continue;
        }
        if (sscanf(text + i, "%2x", &byte) != 1 ||
            strchr("0123456789abcdefABCDEF", text[i]) == NULL ||
            strchr("0123456789abcdefABCDEF", text[i + 1]) == NULL) {
            return false;
        }
        out[n++] = (uint8_t)byte;
        i += 2;
    }
    return n == 16;
}

void wl_uuid_swap_guid_order(const uint8_t in[16], uint8_t out[16])
{
    uint8_t copy[16];

    memcpy(copy, in, 16);
    out[0] = copy[3];
    out[1] = copy[2];
    out[2] = copy[1];
    out[3] = copy[0];
    out[4] = copy[5];
    out[5] = copy[4];
    out[6] = copy[7];
    out[7] = copy[6];
    memcpy(out + 8, copy + 8, 8);
}
