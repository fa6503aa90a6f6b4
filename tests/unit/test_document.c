#include "check.h"
#include "document.h"
#include "job.h"
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

/* The check reads 8 bytes at a time while they are ASCII, so a fault or a character at every
 * position around those words must be found where it is. */
TEST_CASE(utf8_offsets_across_words)
{
    for (size_t at = 0; at < 20; at++) {
        char text[24];
        size_t offset = 99;

        memset(text, 'a', sizeof text);
        text[at] = (char)0xff;
        CHECK(!document_utf8_valid((const uint8_t *)text, sizeof text, &offset));
        CHECK_INT_EQ(offset, at);

        memcpy(text + at, "\xe2\x82\xac", 3); /* U+20AC, possibly across two words */
        CHECK(document_utf8_valid((const uint8_t *)text, sizeof text, NULL));
        text[at + 2] = 'a'; /* now truncated */
        CHECK(!document_utf8_valid((const uint8_t *)text, sizeof text, &offset));
        CHECK_INT_EQ(offset, at);
    }
}

/* Builds a message whose msg is `prefix_length` bytes of 'm' and then `tail`. */
static char *long_message(size_t prefix_length, const char *tail)
{
    const char *stamp = "\", \"srcStamp\": \"2026-12-04 06:14:27.123456\"}";
    char *text = malloc(prefix_length + strlen(tail) + strlen(stamp) + 16);

    strcpy(text, "{\"msg\": \"");
    memset(text + strlen(text), 'm', prefix_length);
    strcpy(text + 9 + prefix_length, tail);
    strcat(text, stamp);
    return text;
}

/* Strings without escapes are read in one piece. A backslash, a control character or a
 * missing closing quote far into the text must still be decoded or rejected as before. */
TEST_CASE(parse_long_strings)
{
    document_fields fields;
    wl_error err = {0};

    char *plain = long_message(5000, "\xc3\xa9");
    CHECK_INT_EQ(parse_text(plain, &fields, &err), WL_OK);
    CHECK_INT_EQ(fields.msg_length, 5002);
    CHECK(fields.msg != NULL);
    if (fields.msg != NULL) {
        CHECK(fields.msg[4999] == 'm');
        CHECK_STR_EQ(fields.msg + 5000, "\xc3\xa9");
    }
    document_fields_free(&fields);
    free(plain);

    char *escaped = long_message(5000, "\\n\\u00e9");
    CHECK_INT_EQ(parse_text(escaped, &fields, &err), WL_OK);
    CHECK_INT_EQ(fields.msg_length, 5003);
    CHECK(fields.msg != NULL);
    if (fields.msg != NULL) {
        CHECK_STR_EQ(fields.msg + 5000, "\n\xc3\xa9");
    }
    document_fields_free(&fields);
    free(escaped);

    char *control = long_message(5000, "\x1f");
    wl_error control_err = {0};
    check_rejected_text(control, "InvalidJson");
    parse_text(control, &fields, &control_err);
    CHECK(strstr(control_err.message, "control character") != NULL);
    CHECK(strstr(control_err.message, "byte offset 5009") != NULL);
    free(control);

    char unterminated[6000] = "{\"msg\": \"";
    memset(unterminated + 9, 'm', 5000);
    unterminated[5009] = '\0';
    wl_error unterminated_err = {0};
    check_rejected_text(unterminated, "InvalidJson");
    parse_text(unterminated, &fields, &unterminated_err);
    CHECK(strstr(unterminated_err.message, "ends inside a string") != NULL);
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

static const char stamp_member[] = "\"srcStamp\": \"2026-12-04 06:14:27.123456\"";

/* Parses `{"msg": MSG_JSON, "srcStamp": ...}` and returns the status. */
static wl_status parse_msg(const char *msg_json, document_fields *fields, wl_error *err)
{
    char body[512];

    snprintf(body, sizeof body, "{\"msg\": %s, %s}", msg_json, stamp_member);
    return parse_text(body, fields, err);
}

TEST_CASE(parse_keeps_escaped_nul)
{
    document_fields fields;
    wl_error err = {0};

    CHECK_INT_EQ(parse_msg("\"a\\u0000b\\u0000\"", &fields, &err), WL_OK);
    CHECK_INT_EQ(fields.msg_length, 4);
    CHECK(memcmp(fields.msg, "a\0b\0", 5) == 0);

    document_meta meta = {
        .message_id = "id-1", .sequence_number = -1, .enqueued_unix_ms = -1, .delivery_count = 1};
    size_t length = 0;
    char *text = document_build(&fields, &meta, fields.src_unix_us, &length);
    CHECK(strstr(text, "\"data\":\"a\\u0000b\\u0000\"") != NULL);
    CHECK_INT_EQ(strlen(text), length);
    free(text);
    document_fields_free(&fields);
}

TEST_CASE(parse_decodes_escapes)
{
    document_fields fields;
    wl_error err = {0};

    CHECK_INT_EQ(
        parse_msg("\"q\\\" b\\\\ s\\/ \\b\\f\\n\\r\\t \\u00e9\\u20AC \\ud83d\\ude00 raw \xc3\xa9\"",
                  &fields, &err),
        WL_OK);
    CHECK_STR_EQ(fields.msg,
                 "q\" b\\ s/ \b\f\n\r\t \xc3\xa9\xe2\x82\xac \xf0\x9f\x98\x80 raw \xc3\xa9");
    CHECK_INT_EQ(fields.msg_length, strlen(fields.msg));
    document_fields_free(&fields);
}

TEST_CASE(parse_rejects_duplicate_fields)
{
    static const char *const bodies[] = {
        "{\"msg\": \"a\", \"msg\": \"b\", \"srcStamp\": \"2026-12-04 06:14:27.123456\"}",
        "{\"msg\": \"a\", \"srcStamp\": \"2026-12-04 06:14:27.123456\", "
        "\"srcStamp\": \"2026-12-04 06:14:28.123456\"}",
        "{\"msg\": \"a\", \"m\\u0073g\": \"b\", \"srcStamp\": \"2026-12-04 06:14:27.123456\"}",
        "{\"msg\": \"a\", \"srcStamp\": \"2026-12-04 06:14:27.123456\", \"msg\": \"a\"}",
    };

    for (size_t i = 0; i < sizeof bodies / sizeof bodies[0]; i++) {
        check_rejected_text(bodies[i], "DuplicateField");
    }

    /* Other members may repeat: they are not stored. */
    document_fields fields;
    wl_error err = {0};
    CHECK_INT_EQ(parse_text("{\"pad\": 1, \"msg\": \"a\", \"pad\": 2, "
                            "\"srcStamp\": \"2026-12-04 06:14:27.123456\"}",
                            &fields, &err),
                 WL_OK);
    document_fields_free(&fields);

    wl_error_clear(&err);
    parse_text(bodies[0], &fields, &err);
    CHECK(strstr(err.message, "\"msg\"") != NULL);
    CHECK(strstr(err.message, "2 times") != NULL);
}

TEST_CASE(parse_rejects_lone_surrogates)
{
    static const char *const msgs[] = {
        "\"\\ud800\"",        "\"\\udc00\"",        "\"x\\uDBFFy\"",
        "\"\\ud800\\u0041\"", "\"\\ude00\\ud83d\"", "\"\\ud83d\\ud83d\\ude00\"",
    };

    for (size_t i = 0; i < sizeof msgs / sizeof msgs[0]; i++) {
        char body[256];

        snprintf(body, sizeof body, "{\"msg\": %s, %s}", msgs[i], stamp_member);
        check_rejected_text(body, "LoneSurrogate");
    }
    check_rejected_text("{\"msg\": \"a\", \"srcStamp\": \"2026-12-04 06:14:27.12345\\udfff\"}",
                        "LoneSurrogate");

    /* In a member that is not stored, a lone surrogate is valid JSON and harmless. */
    document_fields fields;
    wl_error err = {0};
    CHECK_INT_EQ(parse_text("{\"pad\": \"\\ud800\", \"msg\": \"a\", "
                            "\"srcStamp\": \"2026-12-04 06:14:27.123456\"}",
                            &fields, &err),
                 WL_OK);
    document_fields_free(&fields);
}

TEST_CASE(parse_ignores_other_members_exactly)
{
    static const char *const others[] = {
        "1234567890123456789012345678901234567890123456789012345678901234567890",
        "1e400",
        "-0.000000000000000000000000000000000000000000000000000000000001e-999",
        "9007199254740993",
        "[true, false, null, {\"a\": [1, {\"b\": {}}]}, []]",
        "\"\\ud800 and \\u0000\"",
        "{}",
    };

    for (size_t i = 0; i < sizeof others / sizeof others[0]; i++) {
        char body[512];
        document_fields fields;
        wl_error err = {0};

        snprintf(body, sizeof body, "{\"other\": %s, \"msg\": \"m\", %s}", others[i], stamp_member);
        CHECK_INT_EQ(parse_text(body, &fields, &err), WL_OK);
        CHECK_STR_EQ(err.message, "");
        CHECK_STR_EQ(fields.msg, "m");
        document_fields_free(&fields);
    }
}

TEST_CASE(parse_accepts_deep_nesting)
{
    /* Arrays and objects alternate, 100,000 levels deep: far more than cJSON's limit of 1000
     * and than a recursive reader's stack would take. */
    size_t depth = 100000;
    size_t length = 0;
    char *body = malloc(7 * depth + 128);
    document_fields fields;
    wl_error err = {0};

    length += (size_t)sprintf(body, "{\"msg\": \"m\", %s, \"deep\": ", stamp_member);
    for (size_t i = 0; i < depth; i++) {
        const char *open = i % 2 ? "{\"k\":" : "[";
        memcpy(body + length, open, strlen(open));
        length += strlen(open);
    }
    body[length++] = '0';
    for (size_t i = depth; i-- > 0;) {
        body[length++] = i % 2 ? '}' : ']';
    }
    body[length++] = '}';
    CHECK_INT_EQ(document_parse_message((const uint8_t *)body, length, &fields, &err), WL_OK);
    CHECK_STR_EQ(err.message, "");
    document_fields_free(&fields);

    /* One closing bracket short, and one closed by the wrong kind: both invalid. */
    check_rejected(body, length - 1, "InvalidJson");
    body[length - 2] = '}';
    check_rejected(body, length, "InvalidJson");
    free(body);
}

TEST_CASE(parse_rejects_invalid_json_kinds)
{
    static const char *const bodies[] = {
        "{\"msg\": \"a\", \"srcStamp\": \"2026-12-04 06:14:27.123456\"} x",
        "{\"msg\": \"a\", \"srcStamp\": \"2026-12-04 06:14:27.123456\"}{}",
        "{\"msg\": \"a\", \"srcStamp\": \"2026-12-04 06:14:27.123456\", \"n\": 01}",
        "{\"msg\": \"a\", \"srcStamp\": \"2026-12-04 06:14:27.123456\", \"n\": 1.}",
        "{\"msg\": \"a\", \"srcStamp\": \"2026-12-04 06:14:27.123456\", \"n\": .5}",
        "{\"msg\": \"a\", \"srcStamp\": \"2026-12-04 06:14:27.123456\", \"n\": +1}",
        "{\"msg\": \"a\", \"srcStamp\": \"2026-12-04 06:14:27.123456\", \"n\": 1e}",
        "{\"msg\": \"a\", \"srcStamp\": \"2026-12-04 06:14:27.123456\", \"n\": NaN}",
        "{\"msg\": \"a\", \"srcStamp\": \"2026-12-04 06:14:27.123456\", \"n\": -}",
        "{\"msg\": \"a\tb\", \"srcStamp\": \"2026-12-04 06:14:27.123456\"}",
        "{\"msg\": \"a\\xb\", \"srcStamp\": \"2026-12-04 06:14:27.123456\"}",
        "{\"msg\": \"a\\u12\", \"srcStamp\": \"2026-12-04 06:14:27.123456\"}",
        "{\"msg\": \"a\\ud800\\u12\", \"srcStamp\": \"2026-12-04 06:14:27.123456\"}",
        "{\"msg\": \"a\", \"srcStamp\": \"2026-12-04 06:14:27.123456\",}",
        "{\"msg\" \"a\", \"srcStamp\": \"2026-12-04 06:14:27.123456\"}",
        "{\"msg\": \"a\" \"srcStamp\": \"2026-12-04 06:14:27.123456\"}",
        "{'msg': 'a', \"srcStamp\": \"2026-12-04 06:14:27.123456\"}",
        "{msg: \"a\", \"srcStamp\": \"2026-12-04 06:14:27.123456\"}",
        "{\"msg\": \"a\", \"srcStamp\": \"2026-12-04 06:14:27.123456\", \"x\": [1, 2}",
        "{\"msg\": \"a\", \"srcStamp\": \"2026-12-04 06:14:27.123456\", \"x\": {\"a\" 1}}",
        "{\"msg\": \"a\", \"srcStamp\": \"2026-12-04 06:14:27.123456\", \"x\": [1,]}",
        "{\"msg\": \"a\", \"srcStamp\": \"2026-12-04 06:14:27.123456\", \"x\": tru}",
        "{\"msg\": \"unterminated, \"srcStamp\": \"2026-12-04 06:14:27.123456\"}",
        "{\"msg\": \"a\", \"srcStamp\": \"2026-12-04 06:14:27.123456\"",
        "[1, 2",
        "   ",
    };

    for (size_t i = 0; i < sizeof bodies / sizeof bodies[0]; i++) {
        document_fields fields;
        wl_error err = {0};

        fprintf(stderr, "case %zu\n", i);
        check_rejected_text(bodies[i], "InvalidJson");
        parse_text(bodies[i], &fields, &err);
        CHECK(strstr(err.message, "not valid JSON") != NULL || strstr(err.message, "empty"));
    }

    document_fields fields;
    wl_error err = {0};
    parse_text(bodies[0], &fields, &err);
    CHECK(strstr(err.message, "after the JSON value at byte offset 55") != NULL);
}

TEST_CASE(parse_rejects_nul_in_stamp)
{
    check_rejected_text("{\"msg\": \"a\", \"srcStamp\": \"2026-12-04 06:14:27.123456\\u0000\"}",
                        "InvalidStamp");
}

TEST_CASE(build_escapes_strings)
{
    document_fields fields = {.msg = "q\"\\\x01\x1f\x7f \xc3\xa9",
                              .msg_length = 9,
                              .src_stamp = "2026-12-04 06:14:27.000000"};
    document_meta meta = {.message_id = "caf\xc3\xa9-\"\\\t\xff",
                          .sequence_number = 9007199254740993,
                          .enqueued_unix_ms = -1,
                          .delivery_count = 4294967295u};
    size_t length = 0;

    CHECK(wl_parse_stamp(fields.src_stamp, &fields.src_unix_us));
    char *text = document_build(&fields, &meta, fields.src_unix_us - 500000, &length);

    CHECK(strstr(text, "{\"id\":\"caf\xc3\xa9-\\\"\\\\\\t\\ufffd\",") == text);
    CHECK(strstr(text, "\"data\":\"q\\\"\\\\\\u0001\\u001f\x7f \xc3\xa9\"") != NULL);
    CHECK(strstr(text, "\"messageProcessingTime\":-0.500000,") != NULL);
    CHECK(strstr(text, "\"sequenceNumber\":9007199254740993,") != NULL);
    CHECK(strstr(text, "\"deliveryCount\":4294967295}") != NULL);

    /* A standard reader agrees with it. */
    cJSON *doc = cJSON_Parse(text);
    CHECK(doc != NULL);
    CHECK_STR_EQ(cJSON_GetObjectItem(doc, "data")->valuestring, fields.msg);
    CHECK_STR_EQ(cJSON_GetObjectItem(doc, "id")->valuestring, "caf\xc3\xa9-\"\\\t\xef\xbf\xbd");
    cJSON_Delete(doc);
    free(text);
}

/* A msg of plain ASCII is copied in one piece; one byte to escape far into it takes the
 * careful path for the whole string. */
TEST_CASE(build_long_strings)
{
    static char msg[4097];
    document_meta meta = {.message_id = "id-1", .sequence_number = -1, .enqueued_unix_ms = -1};
    size_t length = 0;

    memset(msg, 'm', 4096);
    document_fields fields = {
        .msg = msg, .msg_length = 4096, .src_stamp = "2026-12-04 06:14:27.000000"};
    CHECK(wl_parse_stamp(fields.src_stamp, &fields.src_unix_us));
    for (size_t at = 0; at < 4096; at += 1365) {
        char expected[4200];

        msg[at] = '"';
        char *text = document_build(&fields, &meta, fields.src_unix_us, &length);
        CHECK_INT_EQ(length, strlen(text));
        memset(expected, 'm', 4097);
        expected[at] = '\\';
        expected[at + 1] = '"';
        expected[4097] = '\0';
        CHECK(strstr(text, expected) != NULL);
        cJSON *doc = cJSON_Parse(text);
        CHECK(doc != NULL);
        CHECK_STR_EQ(cJSON_GetObjectItem(doc, "data")->valuestring, msg);
        cJSON_Delete(doc);
        free(text);
        msg[at] = 'm';
    }
    char *text = document_build(&fields, &meta, fields.src_unix_us, &length);
    CHECK(strstr(text, msg) != NULL);
    free(text);
}

/* Ids that Cosmos DB stores unchanged, including text that looks like a path or a query
 * without their reserved characters. */
TEST_CASE(check_id_accepts_text)
{
    static const char *const ids[] = {
        "0f8fad5b-d9cb-469f-a165-70867728950e",
        "4242",
        "seq-17",
        "a b:c;d=e&f%20",
        "caf\xc3\xa9",
        "\xf0\x9f\x98\x80",
    };

    for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++) {
        wl_error err = {0};

        if (document_check_id(ids[i], strlen(ids[i]), &err) != WL_OK) {
            fprintf(stderr, "id \"%s\" rejected: %s\n", ids[i], err.message);
            check_failures++;
        }
    }
}

/* Each cause names itself and the byte offset of the first bad byte. */
TEST_CASE(check_id_rejects_each_cause)
{
    static const struct {
        const char *id;
        size_t length;
        const char *described;
    } cases[] = {
        {"", 0, "the message-id is empty"},
        {"p1-idnul\0x", 10, "contains NUL at byte offset 8"},
        {"\0", 1, "contains NUL at byte offset 0"},
        {"order/17", 8, "contains '/' at byte offset 5"},
        {"order\\17", 8, "contains '\\' at byte offset 5"},
        {"order?17", 8, "contains '?' at byte offset 5"},
        {"#17", 3, "contains '#' at byte offset 0"},
        {"ok\xff", 3, "not valid UTF-8 (byte offset 2)"},
        /* Invalid UTF-8 is reported before a reserved character that follows it. */
        {"\xc0/", 2, "not valid UTF-8 (byte offset 0)"},
    };

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        wl_error err = {0};
        wl_status status = document_check_id(cases[i].id, cases[i].length, &err);

        CHECK_INT_EQ(status, WL_ERR_INVALID);
        CHECK_STR_EQ(err.condition, "InvalidMessageId");
        if (strstr(err.message, cases[i].described) == NULL) {
            fprintf(stderr, "case %zu: description does not contain \"%s\": %s\n", i,
                    cases[i].described, err.message);
            check_failures++;
        }
    }
}

/* The NUL check reads the given length, not up to the first NUL. */
TEST_CASE(check_id_reads_whole_length)
{
    wl_error err = {0};

    CHECK_INT_EQ(document_check_id("abc\0/", 3, &err), WL_OK);
    CHECK_INT_EQ(document_check_id("abc\0/", 5, &err), WL_ERR_INVALID);
    CHECK(strstr(err.message, "NUL at byte offset 3") != NULL);
}

/* A message-id with NUL is logged whole, so that the log names the message it is about. */
TEST_CASE(log_id_shows_nul)
{
    static const char with_nul[] = "a\0b\0";
    consumer_job job = {0};

    CHECK_STR_EQ(consumer_job_log_id(&job), "");

    consumer_job_set_message_id(&job, wl_xstrdup("order-1"), 7);
    CHECK_STR_EQ(consumer_job_log_id(&job), "order-1");
    CHECK(job.log_id == NULL);
    free(job.message_id);

    char *id = wl_xmalloc(sizeof with_nul);
    memcpy(id, with_nul, sizeof with_nul);
    consumer_job_set_message_id(&job, id, sizeof with_nul - 1);
    CHECK_INT_EQ(job.message_id_length, 4);
    CHECK_STR_EQ(consumer_job_log_id(&job), "a\\0b\\0");
    free(job.message_id);
    free(job.log_id);

    /* A backslash followed by '0' as text must not read like a NUL. */
    consumer_job_set_message_id(&job, wl_xstrdup("a\\0"), 3);
    CHECK_STR_EQ(consumer_job_log_id(&job), "a\\\\0");
    free(job.message_id);
    free(job.log_id);
}

TEST_MAIN(TEST_ENTRY(utf8_accepts_valid), TEST_ENTRY(utf8_rejects_malformed),
          TEST_ENTRY(parse_valid_message), TEST_ENTRY(parse_rejects_each_poison_kind),
          TEST_ENTRY(parse_reason_names_field), TEST_ENTRY(parse_ignores_bytes_past_length),
          TEST_ENTRY(build_document_fields), TEST_ENTRY(build_omits_absent_metadata),
          TEST_ENTRY(parse_keeps_escaped_nul), TEST_ENTRY(parse_decodes_escapes),
          TEST_ENTRY(parse_rejects_duplicate_fields), TEST_ENTRY(parse_rejects_lone_surrogates),
          TEST_ENTRY(parse_ignores_other_members_exactly), TEST_ENTRY(parse_accepts_deep_nesting),
          TEST_ENTRY(parse_rejects_invalid_json_kinds), TEST_ENTRY(parse_rejects_nul_in_stamp),
          TEST_ENTRY(build_escapes_strings), TEST_ENTRY(check_id_accepts_text),
          TEST_ENTRY(utf8_offsets_across_words), TEST_ENTRY(parse_long_strings),
          TEST_ENTRY(build_long_strings), TEST_ENTRY(log_id_shows_nul),
          TEST_ENTRY(check_id_rejects_each_cause), TEST_ENTRY(check_id_reads_whole_length))
