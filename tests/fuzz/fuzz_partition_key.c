/*
 * Fuzzes cosmos_partition_key_json. For any bytes the output must fit
 * COSMOS_PARTITION_KEY_JSON_SIZE, and the buffer has exactly that size, so ASan catches an
 * overrun. The output must be printable ASCII. cJSON must parse it to an array of one string:
 * the input with each malformed UTF-8 byte replaced by U+FFFD.
 */
#include "cosmos.h"
#include "fuzz.h"

#include <cjson/cJSON.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t capacity = COSMOS_PARTITION_KEY_JSON_SIZE(size);
    char *out = malloc(capacity);
    char *value = malloc(size ? size : 1);

    FUZZ_CHECK(out != NULL && value != NULL);
    memcpy(value, data, size);
    size_t length = cosmos_partition_key_json(value, size, out);

    FUZZ_CHECK(length < capacity);
    FUZZ_CHECK(strlen(out) == length);
    for (size_t i = 0; i < length; i++) {
        FUZZ_CHECK(out[i] >= 0x20 && out[i] < 0x7F);
    }

    cJSON *parsed = cJSON_ParseWithLength(out, length);
    FUZZ_CHECK(cJSON_IsArray(parsed));
    FUZZ_CHECK(cJSON_GetArraySize(parsed) == 1);
    const cJSON *item = cJSON_GetArrayItem(parsed, 0);
    FUZZ_CHECK(cJSON_IsString(item));

    /* cJSON 1.7.15 ends a string at an escaped NUL, so compare up to the first NUL. */
    size_t expected_length = 0;
    char *expected = reference_utf8_replace(data, size, &expected_length);
    FUZZ_CHECK(strcmp(item->valuestring, expected) == 0);

    free(expected);
    cJSON_Delete(parsed);
    free(value);
    free(out);
    return 0;
}
