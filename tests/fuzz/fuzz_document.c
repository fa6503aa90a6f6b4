/*
 * Fuzzes document_parse_message, document_check_id and document_build.
 *
 * Input: a message body, optionally followed by 0xFF and a message-id (0xFF never occurs in
 * UTF-8, so the body keeps every other byte value). Checks:
 *   - an accepted body gives fields that cJSON 1.7.15 reads the same way, whenever cJSON
 *     parses the body as well, and a srcStamp that wl_format_stamp writes back unchanged
 *     (but for a leap second);
 *   - the strict JSON that cJSON prints for any body it parses is accepted exactly when it
 *     is an object with one string "msg" and one "srcStamp" stamp, with cJSON's values;
 *   - document_check_id accepts an id exactly when it is non-empty, well-formed UTF-8 (by the
 *     reference decoder) and free of NUL, '/', '\\', '?' and '#';
 *   - the built document is UTF-8 JSON that cJSON parses back to the message's values, with
 *     each malformed byte of the id read back as U+FFFD.
 */
#include "document.h"
#include "fuzz.h"
#include "timefmt.h"

#include <cjson/cJSON.h>
#include <math.h>

static const char default_id[] = "5f0c2a1e-0000-4000-8000-000000000001";

/* Returns the string member `name` of `object`, failing the run when it is not there. */
static const char *string_member(const cJSON *object, const char *name)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(object, name);

    FUZZ_CHECK(cJSON_IsString(item));
    return item->valuestring;
}

static void check_id(const char *id, size_t length)
{
    wl_error err = {0};
    size_t bad_offset = 0;
    bool expected = length > 0 && reference_utf8_valid((const uint8_t *)id, length, &bad_offset) &&
                    memchr(id, '\0', length) == NULL && strpbrk(id, "/\\?#") == NULL;
    wl_status status = document_check_id(id, length, &err);

    FUZZ_CHECK((status == WL_OK) == expected);
    if (status != WL_OK) {
        FUZZ_CHECK(strcmp(err.condition, "InvalidMessageId") == 0);
    }
}

/* Returns how many members of `object` are named `name`. */
static int count_members(const cJSON *object, const char *name)
{
    int count = 0;
    const cJSON *item;

    cJSON_ArrayForEach(item, object)
    {
        count += strcmp(item->string, name) == 0;
    }
    return count;
}

/*
 * Checks the parser on the strict JSON that cJSON prints for a body that it parses. An object
 * with one string "msg" and one string "srcStamp" in the stamp form must be accepted with
 * cJSON's values. Any other valid JSON must be rejected for its content, not as invalid JSON.
 */
static void check_printed(const cJSON *root)
{
    char *printed = cJSON_PrintUnformatted(root);
    document_fields fields;
    wl_error err = {0};
    int64_t stamp_us = 0;

    FUZZ_CHECK(printed != NULL);
    wl_status status =
        document_parse_message((const uint8_t *)printed, strlen(printed), &fields, &err);
    if (!cJSON_IsObject(root)) {
        FUZZ_CHECK(status == WL_ERR_INVALID && strcmp(err.condition, "NotAnObject") == 0);
        free(printed);
        return;
    }
    const cJSON *msg = cJSON_GetObjectItemCaseSensitive(root, "msg");
    const cJSON *stamp = cJSON_GetObjectItemCaseSensitive(root, "srcStamp");
    bool expected = count_members(root, "msg") == 1 && count_members(root, "srcStamp") == 1 &&
                    cJSON_IsString(msg) && cJSON_IsString(stamp) &&
                    wl_parse_stamp(stamp->valuestring, &stamp_us);
    if (expected) {
        FUZZ_CHECK(status == WL_OK);
        FUZZ_CHECK(strcmp(fields.msg, msg->valuestring) == 0);
        FUZZ_CHECK(strcmp(fields.src_stamp, stamp->valuestring) == 0);
        FUZZ_CHECK(fields.src_unix_us == stamp_us);
        document_fields_free(&fields);
    } else {
        FUZZ_CHECK(status == WL_ERR_INVALID);
        FUZZ_CHECK(strcmp(err.condition, "InvalidJson") != 0);
        FUZZ_CHECK(strcmp(err.condition, "InvalidUtf8") != 0);
    }
    free(printed);
}

/* Compares the parser with cJSON when the body is UTF-8 that cJSON parses. `fields` is NULL
 * when the parser rejected the body. */
static void compare_with_cjson(const uint8_t *body, size_t length, const document_fields *fields)
{
    size_t bad_offset = 0;

    if (!reference_utf8_valid(body, length, &bad_offset)) {
        return;
    }
    cJSON *root = cJSON_ParseWithLength((const char *)body, length);
    if (root == NULL) {
        return; /* numbers over 63 characters or nesting over 1000 levels, for example */
    }
    if (fields != NULL) {
        FUZZ_CHECK(cJSON_IsObject(root));
        /* cJSON 1.7.15 cuts a string at an escaped NUL, so compare up to the first NUL. */
        FUZZ_CHECK(strcmp(string_member(root, "msg"), fields->msg) == 0);
        FUZZ_CHECK(strcmp(string_member(root, "srcStamp"), fields->src_stamp) == 0);
    }
    check_printed(root);
    cJSON_Delete(root);
}

static void check_document(const document_fields *fields, const char *id, size_t seed)
{
    document_meta meta = {
        .message_id = id,
        .sequence_number = seed % 3 == 0 ? -1 : (int64_t)seed,
        .enqueued_unix_ms = seed % 5 == 0 ? -1 : fields->src_unix_us / 1000 + (int64_t)seed,
        .delivery_count = (uint32_t)seed,
    };
    int64_t dest_unix_us = fields->src_unix_us + (int64_t)seed * 7919;
    size_t length = 0;
    char *text = document_build(fields, &meta, dest_unix_us, &length);
    size_t bad_offset = 0;

    FUZZ_CHECK(strlen(text) == length);
    FUZZ_CHECK(reference_utf8_valid((const uint8_t *)text, length, &bad_offset));

    cJSON *root = cJSON_ParseWithLength(text, length);
    FUZZ_CHECK(cJSON_IsObject(root));

    size_t id_length = 0;
    char *expected_id = reference_utf8_replace((const uint8_t *)id, strlen(id), &id_length);
    FUZZ_CHECK(strcmp(string_member(root, "id"), expected_id) == 0);
    free(expected_id);
    FUZZ_CHECK(strcmp(string_member(root, "data"), fields->msg) == 0);
    FUZZ_CHECK(strcmp(string_member(root, "srcStamp"), fields->src_stamp) == 0);

    char dest_stamp[WL_STAMP_SIZE];
    wl_format_stamp(dest_unix_us, dest_stamp);
    FUZZ_CHECK(strcmp(string_member(root, "destStamp"), dest_stamp) == 0);

    const cJSON *seconds = cJSON_GetObjectItemCaseSensitive(root, "messageProcessingTime");
    FUZZ_CHECK(cJSON_IsNumber(seconds));
    FUZZ_CHECK(fabs(seconds->valuedouble * 1e6 - (double)(dest_unix_us - fields->src_unix_us)) <
               1.0);

    const cJSON *sequence = cJSON_GetObjectItemCaseSensitive(root, "sequenceNumber");
    FUZZ_CHECK((sequence != NULL) == (meta.sequence_number >= 0));
    if (sequence != NULL) {
        FUZZ_CHECK(cJSON_IsNumber(sequence) && sequence->valuedouble == (double)seed);
    }
    const cJSON *enqueued = cJSON_GetObjectItemCaseSensitive(root, "enqueuedTime");
    FUZZ_CHECK((enqueued != NULL) == (meta.enqueued_unix_ms >= 0));
    if (enqueued != NULL) {
        char expected[WL_ISO8601_SIZE];
        wl_format_iso8601(meta.enqueued_unix_ms, expected);
        FUZZ_CHECK(cJSON_IsString(enqueued) && strcmp(enqueued->valuestring, expected) == 0);
    }
    const cJSON *count = cJSON_GetObjectItemCaseSensitive(root, "deliveryCount");
    FUZZ_CHECK(cJSON_IsNumber(count) && count->valuedouble == (double)(uint32_t)seed);

    cJSON_Delete(root);
    free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *separator = memchr(data, 0xFF, size);
    size_t body_length = separator ? (size_t)(separator - data) : size;
    char *id = separator ? fuzz_text(separator + 1, size - body_length - 1) : NULL;
    size_t id_length = separator ? size - body_length - 1 : 0;
    document_fields fields;
    wl_error err = {0};

    if (id != NULL) {
        check_id(id, id_length);
    }

    /* The body is copied so that ASan detects any read past its end. */
    uint8_t *body = malloc(body_length ? body_length : 1);
    FUZZ_CHECK(body != NULL);
    memcpy(body, data, body_length);
    wl_status status = document_parse_message(body, body_length, &fields, &err);
    if (status != WL_OK) {
        FUZZ_CHECK(status == WL_ERR_INVALID);
        FUZZ_CHECK(err.condition[0] != '\0');
        FUZZ_CHECK(fields.msg == NULL && fields.src_stamp == NULL);
        compare_with_cjson(body, body_length, NULL);
    } else {
        size_t bad_offset = 0;
        char stamp[WL_STAMP_SIZE];

        FUZZ_CHECK(fields.msg[fields.msg_length] == '\0');
        FUZZ_CHECK(
            reference_utf8_valid((const uint8_t *)fields.msg, fields.msg_length, &bad_offset));
        wl_format_stamp(fields.src_unix_us, stamp);
        /* A leap second (second 60) is written back as second 0 of the next minute. */
        if (strncmp(fields.src_stamp + 17, "60", 2) != 0) {
            FUZZ_CHECK(strcmp(stamp, fields.src_stamp) == 0);
        }
        compare_with_cjson(body, body_length, &fields);
        check_document(&fields, id != NULL && id[0] != '\0' ? id : default_id, size);
        document_fields_free(&fields);
    }
    free(body);
    free(id);
    return 0;
}
