/*
 * Fuzzes the time and UUID text forms (timefmt.c). Checks:
 *   - text that wl_parse_stamp, wl_parse_rfc1123 or wl_uuid_parse accepts is written back
 *     unchanged by wl_format_stamp, wl_format_rfc1123 or wl_uuid_format (lowercase), so the
 *     parsers accept only the one form and only real dates. A leap second (second 60) is
 *     accepted as the second after second 59, since POSIX time has no leap seconds;
 *   - a time from the input bytes, formatted with wl_format_stamp or wl_format_rfc1123, parses
 *     back to the same time, for every time with a four-digit year;
 *   - wl_format_iso8601 writes the fixed-width form for any time.
 */
#include "fuzz.h"
#include "timefmt.h"

#include <ctype.h>

/* 0000-01-01 00:00:00 and 9999-12-31 23:59:59 UTC, the times that the formats can show. */
#define FIRST_SECOND INT64_C(-62167219200)
#define LAST_SECOND  INT64_C(253402300799)

/*
 * Returns whether the seconds at text[second_at] are "60", and if so checks that `parsed`
 * is `one_second` more than the same text with second 59.
 */
static bool is_leap_second(const char *text, size_t second_at, int64_t parsed, int64_t one_second,
                           bool (*parse)(const char *, int64_t *))
{
    if (strlen(text) < second_at + 2 || strncmp(text + second_at, "60", 2) != 0) {
        return false;
    }
    char *before = strdup(text);
    int64_t before_parsed = 0;

    FUZZ_CHECK(before != NULL);
    before[second_at] = '5';
    before[second_at + 1] = '9';
    FUZZ_CHECK(parse(before, &before_parsed));
    FUZZ_CHECK(parsed == before_parsed + one_second);
    free(before);
    return true;
}

static void check_text(const char *text)
{
    int64_t us = 0;
    int64_t seconds = 0;
    uint8_t bytes[16];

    if (wl_parse_stamp(text, &us) && !is_leap_second(text, 17, us, 1000000, wl_parse_stamp)) {
        char stamp[WL_STAMP_SIZE];
        wl_format_stamp(us, stamp);
        FUZZ_CHECK(strcmp(stamp, text) == 0);
    }
    if (wl_parse_rfc1123(text, &seconds) &&
        !is_leap_second(text, 23, seconds, 1, wl_parse_rfc1123)) {
        char date[WL_RFC1123_SIZE];
        wl_format_rfc1123(seconds, date);
        FUZZ_CHECK(strcmp(date, text) == 0);
    }
    if (wl_uuid_parse(text, bytes)) {
        char uuid[WL_UUID_SIZE];
        wl_uuid_format(bytes, uuid);
        for (size_t i = 0; i < WL_UUID_SIZE; i++) {
            FUZZ_CHECK(uuid[i] == tolower((unsigned char)text[i]));
        }
    }
}

static void check_time(int64_t value)
{
    int64_t seconds =
        FIRST_SECOND + (int64_t)((uint64_t)value % (uint64_t)(LAST_SECOND - FIRST_SECOND + 1));
    int64_t us = seconds * 1000000 + (int64_t)((uint64_t)value % 1000000);
    char stamp[WL_STAMP_SIZE];
    char date[WL_RFC1123_SIZE];
    char iso[WL_ISO8601_SIZE];
    int64_t parsed = 0;

    wl_format_stamp(us, stamp);
    FUZZ_CHECK(wl_parse_stamp(stamp, &parsed));
    FUZZ_CHECK(parsed == us);

    wl_format_rfc1123(seconds, date);
    FUZZ_CHECK(wl_parse_rfc1123(date, &parsed));
    FUZZ_CHECK(parsed == seconds);

    /* Any time, even one outside the four-digit years, gets the fixed-width form. */
    wl_format_iso8601(value, iso);
    FUZZ_CHECK(strlen(iso) == WL_ISO8601_SIZE - 1);
    FUZZ_CHECK(iso[10] == 'T' && iso[23] == 'Z');
    wl_format_stamp(value, stamp);
    FUZZ_CHECK(strlen(stamp) == WL_STAMP_SIZE - 1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = fuzz_text(data, size);
    int64_t value = 0;

    check_text(text);
    memcpy(&value, data, size < sizeof value ? size : sizeof value);
    check_time(value);
    free(text);
    return 0;
}
