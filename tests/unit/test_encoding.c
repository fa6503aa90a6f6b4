#include "check.h"
#include "encoding.h"
#include "log.h"

#include <stdlib.h>

TEST_CASE(base64_roundtrip)
{
    /* RFC 4648 section 10 vectors. */
    static const char *const plain[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
    static const char *const coded[] = {"",         "Zg==",     "Zm8=",    "Zm9v",
                                        "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};

    for (size_t i = 0; i < sizeof plain / sizeof plain[0]; i++) {
        char *encoded = wl_base64_encode(plain[i], strlen(plain[i]));
        size_t length = 99;
        uint8_t *decoded = wl_base64_decode(coded[i], &length);

        CHECK_STR_EQ(encoded, coded[i]);
        CHECK(decoded != NULL);
        CHECK_INT_EQ(length, strlen(plain[i]));
        CHECK(decoded != NULL && memcmp(decoded, plain[i], length) == 0);
        free(encoded);
        free(decoded);
    }
}

TEST_CASE(base64_rejects_invalid)
{
    static const char *const invalid[] = {"Zg=", "Zm9v YmFy", "Zm=v", "Z!==", "Zg==Zg=="};
    size_t length;

    for (size_t i = 0; i < sizeof invalid / sizeof invalid[0]; i++) {
        uint8_t *decoded = wl_base64_decode(invalid[i], &length);

        if (decoded != NULL) {
            fprintf(stderr, "accepted invalid base64 \"%s\"\n", invalid[i]);
        }
        CHECK(decoded == NULL);
        free(decoded);
    }
}

TEST_CASE(url_encode_reserved)
{
    char *encoded = wl_url_encode("sb://ns.servicebus.windows.net/q 1?a=b&c=d+e/~_.-");

    CHECK_STR_EQ(encoded,
                 "sb%3A%2F%2Fns.servicebus.windows.net%2Fq%201%3Fa%3Db%26c%3Dd%2Be%2F~_.-");
    free(encoded);
}

TEST_CASE(url_decode)
{
    char *decoded = wl_url_decode("a%2Fb+c%3d", true);
    char *literal_plus = wl_url_decode("a+b", false);
    char *short_escape = wl_url_decode("abc%4", false);
    char *bad_escape = wl_url_decode("%zz", false);

    CHECK_STR_EQ(decoded, "a/b c=");
    CHECK_STR_EQ(literal_plus, "a+b");
    CHECK(short_escape == NULL);
    CHECK(bad_escape == NULL);
    free(decoded);
    free(literal_plus);
}

TEST_CASE(hmac_sha256_rfc4231)
{
    /* RFC 4231 test case 2. */
    static const uint8_t expected[WL_SHA256_SIZE] = {
        0x5b, 0xdc, 0xc1, 0x46, 0xbf, 0x60, 0x75, 0x4e, 0x6a, 0x04, 0x24,
        0x26, 0x08, 0x95, 0x75, 0xc7, 0x5a, 0x00, 0x3f, 0x08, 0x9d, 0x27,
        0x39, 0x83, 0x9d, 0xec, 0x58, 0xb9, 0x64, 0xec, 0x38, 0x43};
    const char *data = "what do ya want for nothing?";
    uint8_t digest[WL_SHA256_SIZE];

    CHECK(wl_hmac_sha256("Jefe", 4, data, strlen(data), digest));
    CHECK(memcmp(digest, expected, sizeof digest) == 0);
    CHECK(wl_equal_constant_time(digest, expected, sizeof digest));
}

TEST_CASE(hex_digit_values)
{
    CHECK_INT_EQ(wl_hex_digit_value('0'), 0);
    CHECK_INT_EQ(wl_hex_digit_value('9'), 9);
    CHECK_INT_EQ(wl_hex_digit_value('a'), 10);
    CHECK_INT_EQ(wl_hex_digit_value('F'), 15);
    CHECK_INT_EQ(wl_hex_digit_value('g'), -1);
    CHECK_INT_EQ(wl_hex_digit_value('/'), -1);
    CHECK_INT_EQ(wl_hex_digit_value('\0'), -1);
}

TEST_CASE(utf8_decode_table)
{
    static const struct {
        const char *bytes;
        size_t available;
        int32_t code;
        size_t length;
    } cases[] = {
        {"A", 1, 'A', 1},
        {"\xc3\xa9", 2, 0xE9, 2},            /* é */
        {"\xe2\x82\xac", 3, 0x20AC, 3},      /* € */
        {"\xf0\x9f\x98\x80", 4, 0x1F600, 4}, /* an emoji, above U+FFFF */
        {"\xf4\x8f\xbf\xbf", 4, 0x10FFFF, 4},
        {"\xc0\x80", 2, -1, 1},         /* overlong NUL */
        {"\xe0\x80\xaf", 3, -1, 1},     /* overlong '/' */
        {"\xed\xa0\x80", 3, -1, 1},     /* surrogate U+D800 */
        {"\xf4\x90\x80\x80", 4, -1, 1}, /* above U+10FFFF */
        {"\xe2\x82", 2, -1, 1},         /* truncated */
        {"\xe2\x41\x41", 3, -1, 1},     /* bad continuation byte */
        {"\x80", 1, -1, 1},             /* a lone continuation byte */
        {"\xff", 1, -1, 1},
    };

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t length = 99;
        int32_t code = wl_utf8_decode((const uint8_t *)cases[i].bytes, cases[i].available, &length);

        CHECK_INT_EQ(code, cases[i].code);
        CHECK_INT_EQ(length, cases[i].length);
    }
}

TEST_CASE(utf8_encode_roundtrip)
{
    static const uint32_t codes[] = {0, 0x7F, 0x80, 0x7FF, 0x800, 0xFFFF, 0x10000, 0x10FFFF};

    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
        char out[4];
        size_t written = wl_utf8_encode(out, codes[i]);
        size_t length = 0;

        CHECK_INT_EQ(wl_utf8_decode((const uint8_t *)out, written, &length), codes[i]);
        CHECK_INT_EQ(length, written);
    }
}

TEST_CASE(utf8_copy_table)
{
    static const struct {
        const char *text;
        size_t capacity;
        const char *expected;
    } cases[] = {
        {"plain", 16, "plain"},
        {"caf\xC3\xA9", 16, "caf\xC3\xA9"},
        /* "é" does not fit after "caf" in 5 bytes: the copy ends before it, not inside it. */
        {"caf\xC3\xA9", 5, "caf"},
        {"caf\xC3\xA9", 6, "caf\xC3\xA9"},
        {"\xF0\x9F\x98\x80!", 4, ""},
        {"\xF0\x9F\x98\x80!", 6, "\xF0\x9F\x98\x80!"},
        /* Latin-1 bytes, a lone continuation byte, a truncated sequence, an overlong form and
         * a surrogate each become U+FFFD, one per byte that starts no well-formed sequence. */
        {"caf\xE9", 16, "caf\xEF\xBF\xBD"},
        {"a\x80"
         "b",
         16,
         "a\xEF\xBF\xBD"
         "b"},
        {"a\xE2\x82", 16, "a\xEF\xBF\xBD\xEF\xBF\xBD"},
        {"\xC0\xAF", 16, "\xEF\xBF\xBD\xEF\xBF\xBD"},
        {"\xED\xA0\x80", 16, "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD"},
        /* A replacement that does not fit ends the copy too. */
        {"ab\xFF", 5, "ab"},
        {"", 1, ""},
    };

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char out[16];
        size_t written = wl_utf8_copy(out, cases[i].capacity, cases[i].text);

        CHECK_STR_EQ(out, cases[i].expected);
        CHECK_INT_EQ(written, strlen(cases[i].expected));
    }
}

TEST_CASE(url_redact_userinfo)
{
    static const struct {
        const char *url;
        const char *expected;
    } cases[] = {
        {"https://user:secret@host:8081/", "https://***@host:8081/"},
        {"sb://a@b@host/queue", "sb://***@host/queue"},
        {"https://host/path@x", "https://host/path@x"},
        {"https://host:1/?q=a@b", "https://host:1/?q=a@b"},
        {"no scheme@host", "no scheme@host"},
        {"", ""},
    };

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char out[64];

        wl_url_redact_userinfo(cases[i].url, out, sizeof out);
        CHECK_STR_EQ(out, cases[i].expected);
    }
}

TEST_CASE(json_escape_utf8)
{
    char out[64];

    /* Whole characters pass as they are, and invalid bytes become the escape for U+FFFD. */
    CHECK_INT_EQ(log_json_escape(out, sizeof out, "caf\xC3\xA9 \xE9t\xE9\n"), 21);
    CHECK_STR_EQ(out, "caf\xC3\xA9 \\ufffdt\\ufffd\\n");
    /* A cut keeps characters and escapes whole: 6 bytes hold "ab" and one "é" but not the
     * second, and 8 bytes hold "ab\"" but no part of the escape after it. */
    CHECK_INT_EQ(log_json_escape(out, 6, "ab\xC3\xA9\xC3\xA9"), 4);
    CHECK_STR_EQ(out, "ab\xC3\xA9");
    CHECK_INT_EQ(log_json_escape(out, 8, "ab\"\xFF"), 4);
    CHECK_STR_EQ(out, "ab\\\"");
}

TEST_MAIN(TEST_ENTRY(base64_roundtrip), TEST_ENTRY(base64_rejects_invalid),
          TEST_ENTRY(url_encode_reserved), TEST_ENTRY(url_decode), TEST_ENTRY(hmac_sha256_rfc4231),
          TEST_ENTRY(hex_digit_values), TEST_ENTRY(utf8_decode_table),
          TEST_ENTRY(utf8_encode_roundtrip), TEST_ENTRY(utf8_copy_table),
          TEST_ENTRY(json_escape_utf8), TEST_ENTRY(url_redact_userinfo))
