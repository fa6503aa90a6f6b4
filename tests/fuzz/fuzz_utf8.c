/*
 * Fuzzes the UTF-8 code: document_utf8_valid (8-byte ASCII fast path), wl_utf8_decode,
 * wl_utf8_copy and log_json_escape. Each must agree with the reference decoder in fuzz.h on
 * which bytes are well-formed and where the first bad one is, and the copies must be UTF-8.
 */
#include "document.h"
#include "encoding.h"
#include "fuzz.h"
#include "log.h"

#include <cjson/cJSON.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *copy = malloc(size ? size : 1);
    size_t expected_offset = SIZE_MAX;
    size_t offset = SIZE_MAX;

    FUZZ_CHECK(copy != NULL);
    memcpy(copy, data, size);
    bool expected = reference_utf8_valid(copy, size, &expected_offset);
    bool valid = document_utf8_valid(copy, size, &offset);
    FUZZ_CHECK(valid == expected);
    if (!valid) {
        FUZZ_CHECK(offset == expected_offset);
    }

    for (size_t at = 0; at < size; at++) {
        size_t length = 0;
        int32_t code = wl_utf8_decode(copy + at, size - at, &length);
        size_t reference = reference_utf8_length(copy + at, size - at);

        FUZZ_CHECK((code >= 0) == (reference != 0));
        FUZZ_CHECK(length == (reference ? reference : 1));
        if (code >= 0) {
            char encoded[4];
            FUZZ_CHECK(wl_utf8_encode(encoded, (uint32_t)code) == length);
            FUZZ_CHECK(memcmp(encoded, copy + at, length) == 0);
        }
    }

    /* The string functions read up to the first NUL. */
    char *text = fuzz_text(data, size);
    size_t text_length = strlen(text);
    size_t capacity = text_length % 64 + 1;
    char *out = malloc(capacity);
    FUZZ_CHECK(out != NULL);
    size_t written = wl_utf8_copy(out, capacity, text);
    FUZZ_CHECK(written < capacity && strlen(out) == written);
    FUZZ_CHECK(reference_utf8_valid((const uint8_t *)out, written, &offset));
    free(out);

    size_t escaped_capacity = 6 * text_length + 3;
    char *escaped = malloc(escaped_capacity);
    FUZZ_CHECK(escaped != NULL);
    escaped[0] = '"';
    size_t escaped_length = log_json_escape(escaped + 1, escaped_capacity - 2, text);
    escaped[escaped_length + 1] = '"';
    escaped[escaped_length + 2] = '\0';
    cJSON *parsed = cJSON_Parse(escaped);
    FUZZ_CHECK(cJSON_IsString(parsed));
    size_t replaced_length = 0;
    char *replaced = reference_utf8_replace((const uint8_t *)text, text_length, &replaced_length);
    FUZZ_CHECK(strcmp(parsed->valuestring, replaced) == 0);
    free(replaced);
    cJSON_Delete(parsed);
    free(escaped);

    free(text);
    free(copy);
    return 0;
}
