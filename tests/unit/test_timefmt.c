#include "check.h"
#include "timefmt.h"

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
        "2026-12-04T06:14:27.123456", "2026-12-04 06:14:27",
        "2026-12-04 06:14:27.12345",  "2026-13-04 06:14:27.123456",
        "2026-02-30 06:14:27.123456", "2026-12-04 06:14:27.1234567",
        "2026-12-04 06:14:27.12345a", "",
        "2026-12-04 06:14:27.123456Z"};
    int64_t parsed;

    for (size_t i = 0; i < sizeof invalid / sizeof invalid[0]; i++) {
        bool accepted = wl_parse_stamp(invalid[i], &parsed);

        if (accepted) {
            fprintf(stderr, "accepted invalid stamp \"%s\"\n", invalid[i]);
        }
        CHECK(!accepted);
    }
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

TEST_MAIN(TEST_ENTRY(stamp_format), TEST_ENTRY(stamp_parse_rejects), TEST_ENTRY(rfc1123_roundtrip),
          TEST_ENTRY(uuid_v4_shape), TEST_ENTRY(guid_order))
