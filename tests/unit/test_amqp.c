#include "amqp.h"
#include "cbs.h"
#include "check.h"

#include <proton/codec.h>
#include <proton/message.h>

TEST_CASE(condition_status_table)
{
    CHECK_INT_EQ(amqp_condition_status("com.microsoft:server-busy"), WL_ERR_THROTTLED);
    CHECK_INT_EQ(amqp_condition_status("com.microsoft:timeout"), WL_ERR_TIMEOUT);
    CHECK_INT_EQ(amqp_condition_status("amqp:link:detach-forced"), WL_ERR_UNAVAILABLE);
    CHECK_INT_EQ(amqp_condition_status("amqp:connection:forced"), WL_ERR_UNAVAILABLE);
    CHECK_INT_EQ(amqp_condition_status("amqp:unauthorized-access"), WL_ERR_AUTH);
    CHECK_INT_EQ(amqp_condition_status("amqp:not-found"), WL_ERR_NOT_FOUND);
    CHECK_INT_EQ(amqp_condition_status("amqp:link:message-size-exceeded"), WL_ERR_TOO_LARGE);
    CHECK_INT_EQ(amqp_condition_status("amqp:not-allowed"), WL_ERR_INVALID);
    CHECK_INT_EQ(amqp_condition_status("com.microsoft:message-lock-lost"), WL_ERR_CONFLICT);
    CHECK_INT_EQ(amqp_condition_status("vendor:something-else"), WL_ERR_PROTOCOL);
    CHECK_INT_EQ(amqp_condition_status(NULL), WL_ERR_PROTOCOL);

    CHECK(amqp_status_is_retryable(WL_ERR_THROTTLED));
    CHECK(amqp_status_is_retryable(WL_ERR_TIMEOUT));
    CHECK(amqp_status_is_retryable(WL_ERR_UNAVAILABLE));
    CHECK(!amqp_status_is_retryable(WL_ERR_AUTH));
    CHECK(!amqp_status_is_retryable(WL_ERR_NOT_FOUND));
    CHECK(!amqp_status_is_retryable(WL_ERR_TOO_LARGE));
}

TEST_CASE(condition_to_error_text)
{
    pn_condition_t *condition = pn_condition();
    wl_error err = {0};

    CHECK_INT_EQ(amqp_condition_to_error(condition, WL_ERR_UNAVAILABLE, "link lost", &err),
                 WL_ERR_UNAVAILABLE);
    CHECK_STR_EQ(err.message, "link lost");

    wl_error_clear(&err);
    pn_condition_set_name(condition, "com.microsoft:server-busy");
    pn_condition_set_description(condition, "The request was terminated. TrackingId:abc");
    CHECK_INT_EQ(amqp_condition_to_error(condition, WL_ERR_PROTOCOL, "send", &err),
                 WL_ERR_THROTTLED);
    CHECK_STR_EQ(err.condition, "com.microsoft:server-busy");
    CHECK_STR_EQ(err.message,
                 "send: com.microsoft:server-busy: The request was terminated. TrackingId:abc");
    pn_condition_free(condition);
}

/* Builds application properties with each integer width Service Bus replies may use. */
TEST_CASE(map_reads_any_integer)
{
    pn_data_t *data = pn_data(0);
    int64_t value = 0;
    char text[32];

    pn_data_put_map(data);
    pn_data_enter(data);
    pn_data_put_string(data, pn_bytes(11, "status-code"));
    pn_data_put_int(data, 202);
    pn_data_put_symbol(data, pn_bytes(10, "statusCode"));
    pn_data_put_long(data, 410);
    pn_data_put_string(data, pn_bytes(5, "small"));
    pn_data_put_ubyte(data, 7);
    pn_data_put_string(data, pn_bytes(18, "status-description"));
    pn_data_put_string(data, pn_bytes(8, "Accepted"));
    pn_data_exit(data);

    CHECK(amqp_map_get_int(data, "status-code", &value));
    CHECK_INT_EQ(value, 202);
    CHECK(amqp_map_get_int(data, "statusCode", &value));
    CHECK_INT_EQ(value, 410);
    CHECK(amqp_map_get_int(data, "small", &value));
    CHECK_INT_EQ(value, 7);
    CHECK(amqp_map_get_string(data, "status-description", text, sizeof text));
    CHECK_STR_EQ(text, "Accepted");
    CHECK(!amqp_map_get_int(data, "status-description", &value));
    CHECK(!amqp_map_get_int(data, "missing", &value));
    CHECK(!amqp_map_get_string(data, "status", text, sizeof text));
    pn_data_free(data);
}

TEST_CASE(encode_grows_buffer)
{
    pn_message_t *message = pn_message();
    pn_message_t *decoded = pn_message();
    amqp_buffer buffer = {0};
    static char body[100000];
    wl_error err = {0};

    memset(body, 'b', sizeof body);
    pn_data_put_binary(pn_message_body(message), pn_bytes(sizeof body, body));
    CHECK_INT_EQ(amqp_encode(message, &buffer, &err), WL_OK);
    CHECK(buffer.size > sizeof body);
    CHECK(buffer.capacity >= buffer.size);
    CHECK_INT_EQ(pn_message_decode(decoded, buffer.bytes, buffer.size), 0);
    pn_data_t *decoded_body = pn_message_body(decoded);
    pn_data_rewind(decoded_body);
    CHECK(pn_data_next(decoded_body));
    CHECK_INT_EQ(pn_data_get_binary(decoded_body).size, sizeof body);
    amqp_buffer_free(&buffer);
    pn_message_free(message);
    pn_message_free(decoded);
}

TEST_CASE(put_token_request)
{
    pn_message_t *message = pn_message();
    cred_token token = {.token = "SharedAccessSignature sr=x&sig=y&se=1&skn=z",
                        .type = CRED_TYPE_SAS};
    char text[128];

    cbs_build_put_token(message, "sb://ns.servicebus.windows.net/orders", &token);
    pn_data_t *properties = pn_message_properties(message);
    CHECK(amqp_map_get_string(properties, "operation", text, sizeof text));
    CHECK_STR_EQ(text, "put-token");
    CHECK(amqp_map_get_string(properties, "type", text, sizeof text));
    CHECK_STR_EQ(text, "servicebus.windows.net:sastoken");
    CHECK(amqp_map_get_string(properties, "name", text, sizeof text));
    CHECK_STR_EQ(text, "sb://ns.servicebus.windows.net/orders");

    /* The token travels as an amqp-value string, not a data section. */
    pn_data_t *body = pn_message_body(message);
    pn_data_rewind(body);
    CHECK(pn_data_next(body));
    CHECK_INT_EQ(pn_data_type(body), PN_STRING);
    pn_bytes_t value = pn_data_get_string(body);
    CHECK_INT_EQ(value.size, strlen(token.token));
    CHECK(memcmp(value.start, token.token, value.size) == 0);
    pn_message_free(message);
}

TEST_MAIN(TEST_ENTRY(condition_status_table), TEST_ENTRY(condition_to_error_text),
          TEST_ENTRY(map_reads_any_integer), TEST_ENTRY(encode_grows_buffer),
          TEST_ENTRY(put_token_request))
