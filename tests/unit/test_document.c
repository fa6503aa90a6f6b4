#include "check.h"
#include "document.h"
#include "timefmt.h"

#include <cjson/cJSON.h>

static wl_status parse_text(const char *text, document_fields *fields, wl_error *err)
{
    return document_parse_message((const uint8_t *)text, strlen(text), fields, err);
}

static void check_rejected(const char *body, size_t length, const char *reason)
{
    document_fields fields;
    wl_error err = {0};
    wl_status status = document_parse_message((const uint8_t *)body, length, &fields, &err);

    CHECK_INT_EQ(status, WL_ERR_INVALID);
    CHECK_STR_EQ(err.condition, reason);
    CHECK(err.message[0] != '\0');
    CHECK(fields.msg == NULL);
}

static void check_rejected_text(const char *body, const char *reason)
{
    check_rejected(body, strlen(body), reason);
}

TEST_CASE(utf8_accepts_valid)
{
    static const char text[] = "plain \xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \xef\xbf\xbf";

    CHECK(document_utf8_valid((const uint8_t *)text, strlen(text), NULL));
    CHECK(document_utf8_valid((const uint8_t *)"", 0, NULL));
}

TEST_CASE(utf8_rejects_malformed)
{
    static const struct {
        const char *bytes;
        size_t offset;
    } cases[] = {
        {"ab\xff", 2},           /* never valid */
        {"a\xc0\xaf", 1},        /* overlong '/' */
        {"\xe0\x80\xaf", 0},     /* overlong, 3 bytes */
        {"x\xed\xa0\x80", 1},    /* UTF-16 surrogate */
        {"\xf4\x90\x80\x80", 0}, /* above U+10FFFF */
        {"ok\xe2\x82", 2},       /* truncated */
        {"\x80", 0},             /* lone continuation byte */
        {"\xc3\x28", 0},         /* bad continuation */
    };

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t offset = 99;

        CHECK(
            !document_utf8_valid((const uint8_t *)cases[i].bytes, strlen(cases[i].bytes), &offset));
        CHECK_INT_EQ(offset, cases[i].offset);
    }
}

TEST_CASE(parse_valid_message)
{
    document_fields fields;
    wl_error err = {0};
    wl_status status = parse_text("{\"msg\": \"Scale Test Message : COUNT 42\", \"srcStamp\": "
                                  "\"2026-12-04 06:14:27.123456\"}",
                                  &fields, &err);

    CHECK_INT_EQ(status, WL_OK);
    CHECK_STR_EQ(fields.msg, "Scale Test Message : COUNT 42");
    CHECK_STR_EQ(fields.src_stamp, "2026-12-04 06:14:27.123456");
    int64_t expected_us = 0;
    CHECK(wl_parse_stamp("2026-12-04 06:14:27.123456", &expected_us));
    CHECK_INT_EQ(fields.src_unix_us, expected_us);
    document_fields_free(&fields);
}

TEST_CASE(parse_rejects_each_poison_kind)
{
    static const char bad_utf8[] =
        "{\"msg\": \"\xff\", \"srcStamp\": \"2026-12-04 06:14:27.123456\"}";

    check_rejected(bad_utf8, strlen(bad_utf8), "InvalidUtf8");
    check_rejected_text("not json at all", "InvalidJson");
    check_rejected_text("{\"msg\": \"a\", ", "InvalidJson");
    check_rejected_text("", "InvalidJson");
    check_rejected_text("[1, 2, 3]", "NotAnObject");
    check_rejected_text("\"text\"", "NotAnObject");
    check_rejected_text("{\"msg\": \"a\"}", "MissingField");
    check_rejected_text("{\"srcStamp\": \"2026-12-04 06:14:27.123456\"}", "MissingField");
    check_rejected_text("{\"msg\": 7, \"srcStamp\": \"2026-12-04 06:14:27.123456\"}",
                        "InvalidFieldType");
    check_rejected_text("{\"msg\": \"a\", \"srcStamp\": 1700000000}", "InvalidFieldType");
    check_rejected_text("{\"msg\": \"a\", \"srcStamp\": \"2026-12-04T06:14:27Z\"}", "InvalidStamp");
    check_rejected_text("{\"msg\": \"a\", \"srcStamp\": \"2026-12-04 06:14:27.123\"}",
                        "InvalidStamp");
}

TEST_CASE(parse_reason_names_field)
{
    document_fields fields;
    wl_error err = {0};

    parse_text("{\"msg\": \"a\"}", &fields, &err);
    CHECK(strstr(err.message, "srcStamp") != NULL);
}

TEST_CASE(parse_ignores_bytes_past_length)
{
    static const char text[] =
        "{\"msg\": \"a\", \"srcStamp\": \"2026-12-04 06:14:27.123456\"}garbage";
    document_fields fields;
    wl_error err = {0};

    CHECK_INT_EQ(document_parse_message((const uint8_t *)text, strlen(text) - 7, &fields, &err),
                 WL_OK);
    document_fields_free(&fields);
}

TEST_CASE(build_document_fields)
{
    document_fields fields;
    wl_error err = {0};
    int64_t src_us = 0;

    CHECK(wl_parse_stamp("2026-12-04 06:14:27.100000", &src_us));
    CHECK_INT_EQ(parse_text("{\"msg\": \"hello \\\"world\\\"\", \"srcStamp\": "
                            "\"2026-12-04 06:14:27.100000\"}",
                            &fields, &err),
                 WL_OK);
    document_meta meta = {
        .message_id = "0f8fad5b-d9cb-469f-a165-70867728950e",
        .sequence_number = 17,
        .enqueued_unix_ms = src_us / 1000 + 2,
        .delivery_count = 2,
    };
    size_t length = 0;
    char *text = document_build(&fields, &meta, src_us + 42100, &length);
    CHECK_INT_EQ(length, strlen(text));

    cJSON *doc = cJSON_Parse(text);
    CHECK(doc != NULL);
    CHECK_STR_EQ(cJSON_GetObjectItem(doc, "id")->valuestring, meta.message_id);
    CHECK_STR_EQ(cJSON_GetObjectItem(doc, "data")->valuestring, "hello \"world\"");
    CHECK_STR_EQ(cJSON_GetObjectItem(doc, "srcStamp")->valuestring, "2026-12-04 06:14:27.100000");
    CHECK_STR_EQ(cJSON_GetObjectItem(doc, "destStamp")->valuestring, "2026-12-04 06:14:27.142100");
    double seconds = cJSON_GetObjectItem(doc, "messageProcessingTime")->valuedouble;
    CHECK(seconds > 0.04209 && seconds < 0.04211);
    CHECK_INT_EQ(cJSON_GetObjectItem(doc, "sequenceNumber")->valuedouble, 17);
    CHECK_STR_EQ(cJSON_GetObjectItem(doc, "enqueuedTime")->valuestring, "2026-12-04T06:14:27.102Z");
    CHECK_INT_EQ(cJSON_GetObjectItem(doc, "deliveryCount")->valuedouble, 2);

    cJSON_Delete(doc);
    free(text);
    document_fields_free(&fields);
}

TEST_CASE(build_omits_absent_metadata)
{
    document_fields fields = {.msg = "m", .src_stamp = "2026-12-04 06:14:27.000000"};
    document_meta meta = {
        .message_id = "id-1", .sequence_number = -1, .enqueued_unix_ms = -1, .delivery_count = 1};
    size_t length = 0;

    CHECK(wl_parse_stamp(fields.src_stamp, &fields.src_unix_us));
    char *text = document_build(&fields, &meta, fields.src_unix_us, &length);
    cJSON *doc = cJSON_Parse(text);

    CHECK(cJSON_GetObjectItem(doc, "sequenceNumber") == NULL);
    CHECK(cJSON_GetObjectItem(doc, "enqueuedTime") == NULL);
    CHECK_INT_EQ(cJSON_GetObjectItem(doc, "messageProcessingTime")->valuedouble, 0);
    cJSON_Delete(doc);
    free(text);
}

TEST_MAIN(TEST_ENTRY(utf8_accepts_valid), TEST_ENTRY(utf8_rejects_malformed),
          TEST_ENTRY(parse_valid_message), TEST_ENTRY(parse_rejects_each_poison_kind),
          TEST_ENTRY(parse_reason_names_field), TEST_ENTRY(parse_ignores_bytes_past_length),
          TEST_ENTRY(build_document_fields), TEST_ENTRY(build_omits_absent_metadata))
