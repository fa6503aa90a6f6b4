#include "check.h"
#include "timefmt.h"

#include <sys/wait.h>
#include <unistd.h>

TEST_CASE(stamp_format)
{
    char stamp[WL_STAMP_SIZE];
    int64_t parsed = 0;

    /* 2026-12-04 06:14:27.123456 UTC */
    wl_format_stamp(INT64_C(1796364867123456), stamp);
    CHECK_STR_EQ(stamp, "2026-12-04 06:14:27.123456");
    CHECK(wl_parse_stamp(stamp, &parsed));
    CHECK_INT_EQ(parsed, INT64_C(1796364867123456));
}

TEST_CASE(stamp_parse_rejects)
{
    static const char *const invalid[] = {
        "2026-12-04T06:14:27.123456",  "2026-12-04 06:14:27",
        "2026-12-04 06:14:27.12345",   "2026-13-04 06:14:27.123456",
        "2026-02-30 06:14:27.123456",  "2026-12-04 06:14:27.1234567",
        "2026-12-04 06:14:27.12345a",  "",
        "2026-12-04 06:14:27.123456Z", "2025-02-29 06:14:27.123456",
        "2100-02-29 00:00:00.000000",  "2026-12-04 06:14:61.000000"};
    int64_t parsed;

    for (size_t i = 0; i < sizeof invalid / sizeof invalid[0]; i++) {
        bool accepted = wl_parse_stamp(invalid[i], &parsed);

        if (accepted) {
            fprintf(stderr, "accepted invalid stamp \"%s\"\n", invalid[i]);
        }
        CHECK(!accepted);
    }
    CHECK(wl_parse_stamp("2024-02-29 06:14:27.123456", &parsed));
    CHECK(wl_parse_stamp("2000-02-29 06:14:27.123456", &parsed));
}

TEST_CASE(rfc1123_roundtrip)
{
    char date[WL_RFC1123_SIZE];
    int64_t parsed = 0;

    wl_format_rfc1123(INT64_C(1796364867), date);
    CHECK_STR_EQ(date, "Fri, 04 Dec 2026 06:14:27 GMT");
    CHECK(wl_parse_rfc1123(date, &parsed));
    CHECK_INT_EQ(parsed, INT64_C(1796364867));
    CHECK(!wl_parse_rfc1123("Fri, 04 Dec 2026 06:14:27 UTC", &parsed));
    CHECK(!wl_parse_rfc1123("Fri, 04 Dex 2026 06:14:27 GMT", &parsed));
}

TEST_CASE(rfc1123_parse_rejects)
{
    static const char *const invalid[] = {
        "Fri, 08 Dec 2026 06:14:27 GMT", "Xyz, 04 Dec 2026 06:14:27 GMT",
        "Fri, 04 Dec 2026 -1:14:27 GMT", "Fri, 04 Dec 2026 06:-1:27 GMT",
        "Fri, 04 Dec 2026 06:14:+7 GMT", "Fri,04 Dec 2026 06:14:27 GMT",
        "Fri, 4 Dec 2026 06:14:27 GMT",  "Fri, 04 Dec 2026  6:14:27 GMT",
        "Sun, 29 Feb 2026 06:14:27 GMT", "Fri, 04 Dec 2026 06:14:27 GMT ",
        "Fri, 04 Dec 2026 06:14:61 GMT"};
    int64_t parsed = 0;

    for (size_t i = 0; i < sizeof invalid / sizeof invalid[0]; i++) {
        bool accepted = wl_parse_rfc1123(invalid[i], &parsed);

        if (accepted) {
            fprintf(stderr, "accepted invalid date \"%s\"\n", invalid[i]);
        }
        CHECK(!accepted);
    }
    CHECK(wl_parse_rfc1123("Thu, 29 Feb 2024 00:00:00 GMT", &parsed));
    CHECK_INT_EQ(parsed, INT64_C(1709164800));
    /* A leap second is read as the first second of the next day. */
    CHECK(wl_parse_rfc1123("Thu, 31 Dec 2026 23:59:60 GMT", &parsed));
    CHECK_INT_EQ(parsed, INT64_C(1798761600));
}

TEST_CASE(uuid_v4_shape)
{
    char first[WL_UUID_SIZE];
    char second[WL_UUID_SIZE];
    uint8_t bytes[16];

    CHECK(wl_uuid_v4(first));
    CHECK(wl_uuid_v4(second));
    CHECK_INT_EQ(strlen(first), 36);
    CHECK(first[14] == '4');
    CHECK(strchr("89ab", first[19]) != NULL);
    CHECK(strcmp(first, second) != 0);
    CHECK(wl_uuid_parse(first, bytes));
    CHECK(!wl_uuid_parse("0123456789abcdef0123456789abcdef0123", bytes));
    CHECK(!wl_uuid_parse("g1234567-89ab-cdef-0123-456789abcdef", bytes));
}

TEST_CASE(guid_order)
{
    static const uint8_t tag[16] = {0x33, 0x22, 0x11, 0x00, 0x55, 0x44, 0x77, 0x66,
                                    0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff};
    uint8_t swapped[16];
    uint8_t back[16];
    char text[WL_UUID_SIZE];

    wl_uuid_swap_guid_order(tag, swapped);
    wl_uuid_format(swapped, text);
    CHECK_STR_EQ(text, "00112233-4455-6677-8899-aabbccddeeff");
    wl_uuid_swap_guid_order(swapped, back);
    CHECK(memcmp(back, tag, 16) == 0);
}

TEST_CASE(stamp_cache_seconds)
{
    char stamp[WL_STAMP_SIZE];

    /* The second part is cached per thread: alternate seconds and check every digit. */
    wl_format_stamp(INT64_C(1796364867000001), stamp);
    CHECK_STR_EQ(stamp, "2026-12-04 06:14:27.000001");
    wl_format_stamp(INT64_C(1796364867999999), stamp);
    CHECK_STR_EQ(stamp, "2026-12-04 06:14:27.999999");
    wl_format_stamp(INT64_C(1796364868000000), stamp);
    CHECK_STR_EQ(stamp, "2026-12-04 06:14:28.000000");
    wl_format_stamp(INT64_C(1796364867500000), stamp);
    CHECK_STR_EQ(stamp, "2026-12-04 06:14:27.500000");
    wl_format_stamp(INT64_C(-1), stamp);
    CHECK_STR_EQ(stamp, "1969-12-31 23:59:59.999999");
}

TEST_CASE(iso8601_cached_seconds)
{
    char iso[WL_ISO8601_SIZE];
    char stamp[WL_STAMP_SIZE];

    /* Each format caches its own second: interleave them in one second, then change seconds. */
    wl_format_iso8601(INT64_C(1796364867001), iso);
    CHECK_STR_EQ(iso, "2026-12-04T06:14:27.001Z");
    wl_format_stamp(INT64_C(1796364867000002), stamp);
    CHECK_STR_EQ(stamp, "2026-12-04 06:14:27.000002");
    wl_format_iso8601(INT64_C(1796364867999), iso);
    CHECK_STR_EQ(iso, "2026-12-04T06:14:27.999Z");
    wl_format_iso8601(INT64_C(1796364868000), iso);
    CHECK_STR_EQ(iso, "2026-12-04T06:14:28.000Z");
    wl_format_iso8601(INT64_C(1796364867500), iso);
    CHECK_STR_EQ(iso, "2026-12-04T06:14:27.500Z");
    wl_format_iso8601(INT64_C(951782400000), iso); /* a leap day */
    CHECK_STR_EQ(iso, "2000-02-29T00:00:00.000Z");
    wl_format_iso8601(INT64_C(-1), iso);
    CHECK_STR_EQ(iso, "1969-12-31T23:59:59.999Z");
}

TEST_CASE(times_beyond_four_digit_years)
{
    char iso[WL_ISO8601_SIZE];
    char stamp[WL_STAMP_SIZE];

    /* Years after 9999 and before 0000 do not fit the fixed widths, so they are clamped. */
    wl_format_iso8601(INT64_C(253402300799999), iso);
    CHECK_STR_EQ(iso, "9999-12-31T23:59:59.999Z");
    wl_format_iso8601(INT64_C(253402300800000), iso);
    CHECK_STR_EQ(iso, "9999-12-31T23:59:59.999Z");
    wl_format_iso8601(INT64_MAX, iso);
    CHECK_STR_EQ(iso, "9999-12-31T23:59:59.999Z");
    wl_format_iso8601(INT64_C(-62167219200000), iso);
    CHECK_STR_EQ(iso, "0000-01-01T00:00:00.000Z");
    wl_format_iso8601(INT64_C(-62167219200001), iso);
    CHECK_STR_EQ(iso, "0000-01-01T00:00:00.000Z");
    wl_format_stamp(INT64_C(253402300800000000), stamp);
    CHECK_STR_EQ(stamp, "9999-12-31 23:59:59.999999");
    wl_format_stamp(INT64_MIN, stamp);
    CHECK_STR_EQ(stamp, "0000-01-01 00:00:00.000000");
}

TEST_CASE(uuid_v4_unique_many)
{
    enum { COUNT = 2000 };
    static char ids[COUNT][WL_UUID_SIZE];
    int duplicates = 0;

    /* More than one pool refill, so the refill path is covered too. */
    for (int i = 0; i < COUNT; i++) {
        CHECK(wl_uuid_v4(ids[i]));
        CHECK(ids[i][14] == '4');
    }
    for (int i = 0; i < COUNT; i++) {
        for (int j = i + 1; j < COUNT; j++) {
            duplicates += strcmp(ids[i], ids[j]) == 0;
        }
    }
    CHECK_INT_EQ(duplicates, 0);
}

TEST_CASE(uuid_v4_fork_refills)
{
    char parent_next[WL_UUID_SIZE];
    char child_next[WL_UUID_SIZE] = "";
    char first[WL_UUID_SIZE];
    int pipe_fds[2];
    pid_t child;
    int status = 0;

    CHECK(wl_uuid_v4(first));
    CHECK(pipe(pipe_fds) == 0);
    child = fork();
    if (child == 0) {
        char id[WL_UUID_SIZE];

        close(pipe_fds[0]);
        _exit(wl_uuid_v4(id) && write(pipe_fds[1], id, sizeof id) == (ssize_t)sizeof id ? 0 : 1);
    }
    close(pipe_fds[1]);
    CHECK(child > 0);
    CHECK(read(pipe_fds[0], child_next, sizeof child_next) == (ssize_t)sizeof child_next);
    close(pipe_fds[0]);
    waitpid(child, &status, 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);

    /* Without the refill the child would hand out the id the parent hands out next. */
    CHECK(wl_uuid_v4(parent_next));
    CHECK(strcmp(parent_next, child_next) != 0);
}

TEST_MAIN(TEST_ENTRY(stamp_format), TEST_ENTRY(iso8601_cached_seconds),
          TEST_ENTRY(times_beyond_four_digit_years), TEST_ENTRY(stamp_parse_rejects),
          TEST_ENTRY(rfc1123_roundtrip), TEST_ENTRY(rfc1123_parse_rejects),
          TEST_ENTRY(uuid_v4_shape), TEST_ENTRY(guid_order), TEST_ENTRY(stamp_cache_seconds),
          TEST_ENTRY(uuid_v4_unique_many), TEST_ENTRY(uuid_v4_fork_refills))
