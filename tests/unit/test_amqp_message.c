/* The producer's hand-written AMQP encoding, decoded by Proton as a receiver would. */
#include "check.h"
#include "message.h"
#include "stats.h"

#include <cjson/cJSON.h>
#include <proton/message.h>

static producer_message sample_message(void)
{
    producer_message message = {.count = 42, .stamp_us = 1796364867123456LL};

    snprintf(message.message_id, sizeof message.message_id, "%s",
             "3f2504e0-4f89-41d3-9a0c-0305e82c3301");
    return message;
}

static void check_decoded(const amqp_buffer *buffer, size_t expected_body_size)
{
    pn_message_t *decoded = pn_message();

    CHECK_INT_EQ(pn_message_decode(decoded, buffer->bytes, buffer->size), 0);
    pn_data_t *id = pn_message_id(decoded);
    pn_data_rewind(id);
    CHECK(pn_data_next(id));
    CHECK_INT_EQ(pn_data_type(id), PN_STRING);
    pn_bytes_t id_text = pn_data_get_string(id);
    CHECK(id_text.size == 36 &&
          memcmp(id_text.start, "3f2504e0-4f89-41d3-9a0c-0305e82c3301", 36) == 0);
    CHECK_STR_EQ(pn_message_get_content_type(decoded), "application/json");

    /* One data section: Proton exposes it as a binary body when not inferred. */
    pn_data_t *body = pn_message_body(decoded);
    pn_data_rewind(body);
    CHECK(pn_data_next(body));
    CHECK_INT_EQ(pn_data_type(body), PN_BINARY);
    CHECK(pn_message_is_inferred(decoded));
    pn_bytes_t bytes = pn_data_get_binary(body);
    CHECK_INT_EQ(bytes.size, expected_body_size);

    cJSON *json = cJSON_ParseWithLength(bytes.start, bytes.size);
    CHECK(json != NULL);
    CHECK_STR_EQ(cJSON_GetStringValue(cJSON_GetObjectItem(json, "msg")),
                 "Scale Test Message : COUNT 42");
    CHECK_STR_EQ(cJSON_GetStringValue(cJSON_GetObjectItem(json, "srcStamp")),
                 "2026-12-04 06:14:27.123456");
    cJSON_Delete(json);
    pn_message_free(decoded);
}

TEST_CASE(encode_decodes_in_proton)
{
    producer_message message = sample_message();
    amqp_buffer buffer = {0};
    char body[256];
    size_t natural = message_format_body(&message, 0, body, sizeof body);

    CHECK_STR_EQ(body, "{\"msg\":\"Scale Test Message : COUNT 42\",\"srcStamp\":\"2026-12-04 "
                       "06:14:27.123456\"}");
    message_encode(&message, 0, &buffer);
    check_decoded(&buffer, natural);
    amqp_buffer_free(&buffer);
}

TEST_CASE(padding_reaches_size)
{
    producer_message message = sample_message();
    amqp_buffer buffer = {0};
    static const size_t sizes[] = {200, 255, 256, 1000, 70000};

    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        message_encode(&message, sizes[i], &buffer);
        check_decoded(&buffer, sizes[i]);
    }
    /* A size below the natural one leaves the body unpadded. */
    char body[256];
    CHECK_INT_EQ(message_format_body(&message, 10, body, sizeof body), strlen(body));
    amqp_buffer_free(&buffer);
}

TEST_CASE(count_digits)
{
    /* Counts of 1, 2, 7 and 20 digits, including both ends of the uint64 range. */
    static const struct {
        uint64_t count;
        const char *text;
    } cases[] = {
        {0, "0"},
        {1, "1"},
        {9, "9"},
        {10, "10"},
        {1000000, "1000000"},
        {18446744073709551615u, "18446744073709551615"},
    };
    producer_message message = sample_message();
    char body[256];
    char expected[256];

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        message.count = cases[i].count;
        size_t length = message_format_body(&message, 0, body, sizeof body);
        snprintf(expected, sizeof expected,
                 "{\"msg\":\"Scale Test Message : COUNT %s\",\"srcStamp\":\"2026-12-04 "
                 "06:14:27.123456\"}",
                 cases[i].text);
        CHECK_STR_EQ(body, expected);
        CHECK_INT_EQ(length, strlen(expected));
    }
}

TEST_CASE(too_small_buffer)
{
    producer_message message = sample_message();
    char body[64];

    /* The formatter returns 0 for a buffer that the longest body could overflow. */
    CHECK_INT_EQ(message_format_body(&message, 0, body, sizeof body), 0);
}

TEST_CASE(latency_percentiles)
{
    static producer_stats stats;

    CHECK_INT_EQ(stats_latency_percentile_us(&stats, 0.5), 0);
    for (int i = 0; i < 99; i++) {
        stats_record_latency(&stats, 1000);
    }
    stats_record_latency(&stats, 100000);
    int64_t p50 = stats_latency_percentile_us(&stats, 0.50);
    int64_t p99 = stats_latency_percentile_us(&stats, 0.99);
    int64_t p100 = stats_latency_percentile_us(&stats, 1.0);
    /* Buckets are 2^(1/8) wide, so a value is reported within about 9 %. */
    CHECK(p50 >= 917);
    CHECK(p50 <= 1091);
    CHECK(p99 >= 917);
    CHECK(p99 <= 1091);
    CHECK(p100 >= 91700);
    CHECK(p100 <= 109100);
}

TEST_MAIN(TEST_ENTRY(encode_decodes_in_proton), TEST_ENTRY(padding_reaches_size),
          TEST_ENTRY(count_digits), TEST_ENTRY(too_small_buffer), TEST_ENTRY(latency_percentiles))
