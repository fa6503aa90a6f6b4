#include "amqp.h"
#include "cbs.h"
#include "check.h"

#include <proton/codec.h>
#include <proton/connection.h>
#include <proton/connection_driver.h>
#include <proton/delivery.h>
#include <proton/link.h>
#include <proton/message.h>
#include <proton/session.h>
#include <proton/transport.h>

#include <string.h>

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

    /* A socket closed without an AMQP close gets a hint that names the cause. */
    wl_error_clear(&err);
    pn_condition_set_name(condition, "amqp:connection:framing-error");
    pn_condition_set_description(condition, "connection aborted");
    amqp_condition_to_error(condition, WL_ERR_UNAVAILABLE, "connection lost", &err);
    CHECK_STR_EQ(err.message, "connection lost: amqp:connection:framing-error: connection aborted "
                              "(the socket closed without an AMQP close: the peer stopped, or "
                              "the network dropped the connection)");
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

/* Moves every byte each driver has to write into the other driver, until neither has any. */
static void pump(pn_connection_driver_t *a, pn_connection_driver_t *b)
{
    for (int round = 0; round < 100; round++) {
        bool moved = false;
        pn_connection_driver_t *pair[2][2] = {{a, b}, {b, a}};

        for (int i = 0; i < 2; i++) {
            pn_bytes_t out = pn_connection_driver_write_buffer(pair[i][0]);
            if (out.size == 0) {
                continue;
            }
            pn_rwbytes_t in = pn_connection_driver_read_buffer(pair[i][1]);
            size_t size = out.size < in.size ? out.size : in.size;
            memcpy(in.start, out.start, size);
            pn_connection_driver_read_done(pair[i][1], size);
            pn_connection_driver_write_done(pair[i][0], size);
            moved = true;
        }
        while (pn_connection_driver_next_event(a) != NULL) {
        }
        while (pn_connection_driver_next_event(b) != NULL) {
        }
        if (!moved) {
            return;
        }
    }
}

/* Opens a sender on `client` and its receiving end on `server`, with credit for 10 messages. */
static pn_link_t *open_link_pair(pn_connection_driver_t *client, pn_connection_driver_t *server,
                                 pn_link_t **out_sender)
{
    pn_session_t *session = pn_session(client->connection);
    pn_link_t *sender = pn_sender(session, "to-server");

    pn_connection_open(client->connection);
    pn_session_open(session);
    pn_link_open(sender);
    pump(client, server);

    pn_connection_open(server->connection);
    pn_session_t *remote_session = pn_session_head(server->connection, PN_REMOTE_ACTIVE);
    pn_session_open(remote_session);
    pn_link_t *receiver = pn_link_head(server->connection, PN_REMOTE_ACTIVE);
    pn_link_open(receiver);
    pn_link_flow(receiver, 10);
    pump(client, server);
    *out_sender = sender;
    return receiver;
}

TEST_CASE(receive_without_bytes_fails)
{
    pn_connection_driver_t client;
    pn_connection_driver_t server;
    pn_message_t *message = pn_message();
    amqp_buffer buffer = {0};
    wl_error err = {0};
    pn_link_t *sender = NULL;

    CHECK_INT_EQ(pn_connection_driver_init(&client, NULL, NULL), 0);
    CHECK_INT_EQ(pn_connection_driver_init(&server, NULL, NULL), 0);
    pn_transport_set_server(server.transport);
    pn_link_t *receiver = open_link_pair(&client, &server, &sender);
    CHECK_INT_EQ(pn_link_credit(sender), 10);

    /* One real message, then an empty transfer. */
    pn_data_put_string(pn_message_body(message), pn_bytes(5, "hello"));
    CHECK_INT_EQ(amqp_encode(message, &buffer, &err), WL_OK);
    amqp_send_bytes(sender, 1, &buffer);
    amqp_buffer empty = {0};
    amqp_buffer_reserve(&empty, 16);
    amqp_send_bytes(sender, 2, &empty);
    pump(&client, &server);

    pn_delivery_t *first = pn_link_current(receiver);
    CHECK(first != NULL);
    CHECK(pn_delivery_readable(first));
    CHECK_INT_EQ(amqp_receive(first, message, &buffer, &err), WL_OK);

    /* The same delivery again: every byte was read already. */
    CHECK_INT_EQ(amqp_receive(first, message, &buffer, &err), WL_ERR_PROTOCOL);
    CHECK(strstr(err.message, "no bytes") != NULL);

    /* After pn_link_advance the first delivery is no longer current, so nothing is read. */
    pn_link_advance(receiver);
    memset(&err, 0, sizeof err);
    CHECK_INT_EQ(amqp_receive(first, message, &buffer, &err), WL_ERR_PROTOCOL);

    /* The empty transfer has no bytes at all. */
    pn_delivery_t *second = pn_link_current(receiver);
    CHECK(second != NULL);
    CHECK(second != first);
    memset(&err, 0, sizeof err);
    CHECK_INT_EQ(amqp_receive(second, message, &buffer, &err), WL_ERR_PROTOCOL);

    amqp_buffer_free(&empty);
    amqp_buffer_free(&buffer);
    pn_message_free(message);
    pn_connection_driver_destroy(&client);
    pn_connection_driver_destroy(&server);
}

TEST_MAIN(TEST_ENTRY(condition_status_table), TEST_ENTRY(condition_to_error_text),
          TEST_ENTRY(map_reads_any_integer), TEST_ENTRY(encode_grows_buffer),
          TEST_ENTRY(put_token_request), TEST_ENTRY(receive_without_bytes_fails))
