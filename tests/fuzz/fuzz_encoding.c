/*
 * Fuzzes base64, percent-encoding and wl_url_redact_userinfo (encoding.c). Checks:
 *   - wl_base64_decode(wl_base64_encode(x)) is x, for the input bytes;
 *   - wl_base64_decode of the input as text accepts only text of the RFC 4648 alphabet with
 *     correct padding, and returns the length that the text's size and padding give;
 *   - wl_url_decode(wl_url_encode(s), either mode) is s, and the encoding has only unreserved
 *     characters and %XX escapes;
 *   - wl_url_decode of the input agrees with a reference decoder;
 *   - wl_url_redact_userinfo stays within its buffer and keeps no text between "://" and '@'.
 */
#include "encoding.h"
#include "fuzz.h"

static bool is_base64_alphabet(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
           c == '/';
}

/* Returns the decoded length of `text` when it is valid padded base64, or -1. */
static long reference_base64_length(const char *text)
{
    size_t length = strlen(text);
    size_t padding = 0;

    if (length % 4 != 0) {
        return -1;
    }
    while (padding < 2 && padding < length && text[length - 1 - padding] == '=') {
        padding++;
    }
    for (size_t i = 0; i < length - padding; i++) {
        if (!is_base64_alphabet(text[i])) {
            return -1;
        }
    }
    return (long)(length / 4 * 3 - padding);
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

static void check_base64(const uint8_t *data, size_t size, const char *text)
{
    char *encoded = wl_base64_encode(data, size);
    size_t decoded_length = 0;
    uint8_t *decoded = wl_base64_decode(encoded, &decoded_length);

    FUZZ_CHECK(strlen(encoded) == (size + 2) / 3 * 4);
    FUZZ_CHECK(decoded != NULL);
    FUZZ_CHECK(decoded_length == size);
    FUZZ_CHECK(memcmp(decoded, data, size) == 0);
    free(decoded);
    free(encoded);

    long expected = reference_base64_length(text);
    decoded = wl_base64_decode(text, &decoded_length);
    FUZZ_CHECK((decoded != NULL) == (expected >= 0));
    if (decoded != NULL) {
        FUZZ_CHECK(decoded_length == (size_t)expected);
        free(decoded);
    }
}

static void check_url(const char *text)
{
    char *encoded = wl_url_encode(text);

    for (const char *p = encoded; *p != '\0'; p++) {
        if (*p == '%') {
            FUZZ_CHECK(hex_value(p[1]) >= 0 && hex_value(p[2]) >= 0);
            p += 2;
        } else {
            FUZZ_CHECK(strchr("-._~", *p) != NULL || (*p >= '0' && *p <= '9') ||
                       (*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z'));
        }
    }
    for (int plus = 0; plus < 2; plus++) {
        char *decoded = wl_url_decode(encoded, plus);
        FUZZ_CHECK(decoded != NULL && strcmp(decoded, text) == 0);
        free(decoded);
    }
    free(encoded);

    for (int plus = 0; plus < 2; plus++) {
        size_t length = strlen(text);
        char *expected = malloc(length + 1);
        size_t n = 0;
        bool valid = true;

        FUZZ_CHECK(expected != NULL);
        for (size_t i = 0; i < length && valid; i++) {
            if (text[i] != '%') {
                expected[n++] = text[i] == '+' && plus ? ' ' : text[i];
            } else if (hex_value(text[i + 1]) >= 0 && hex_value(text[i + 2]) >= 0) {
                expected[n++] = (char)(hex_value(text[i + 1]) * 16 + hex_value(text[i + 2]));
                i += 2;
            } else {
                valid = false;
            }
        }
        expected[n] = '\0';
        char *decoded = wl_url_decode(text, plus);
        FUZZ_CHECK((decoded != NULL) == valid);
        if (decoded != NULL) {
            FUZZ_CHECK(memcmp(decoded, expected, n + 1) == 0);
        }
        free(decoded);
        free(expected);
    }
}

static void check_redact(const char *text)
{
    size_t capacity = strlen(text) % 48 + 1;
    char *out = malloc(capacity);

    FUZZ_CHECK(out != NULL);
    wl_url_redact_userinfo(text, out, capacity);
    FUZZ_CHECK(strlen(out) < capacity);
    free(out);

    char full[4200];
    if (strlen(text) + 4 > sizeof full) {
        return;
    }
    wl_url_redact_userinfo(text, full, sizeof full);
    const char *authority = strstr(text, "://");
    if (authority == NULL) {
        FUZZ_CHECK(strcmp(full, text) == 0);
        return;
    }
    authority += 3;
    size_t authority_length = strcspn(authority, "/?#");
    const char *at = NULL;
    for (size_t i = 0; i < authority_length; i++) {
        if (authority[i] == '@') {
            at = authority + i;
        }
    }
    if (at == NULL) {
        FUZZ_CHECK(strcmp(full, text) == 0);
        return;
    }
    size_t prefix = (size_t)(authority - text);
    FUZZ_CHECK(strncmp(full, text, prefix) == 0);
    FUZZ_CHECK(strncmp(full + prefix, "***", 3) == 0);
    FUZZ_CHECK(strcmp(full + prefix + 3, at) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = fuzz_text(data, size);

    check_base64(data, size, text);
    check_url(text);
    check_redact(text);
    free(text);
    return 0;
}
