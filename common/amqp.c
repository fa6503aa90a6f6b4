#include "amqp.h"

#include <proton/connection.h>
#include <proton/terminus.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void amqp_buffer_reserve(amqp_buffer *buffer, size_t capacity)
{
    if (capacity <= buffer->capacity) {
        return;
    }
    size_t grown = buffer->capacity == 0 ? 1024 : buffer->capacity;
    while (grown < capacity) {
        grown *= 2;
    }
    buffer->bytes = wl_xrealloc(buffer->bytes, grown);
    buffer->capacity = grown;
}

void amqp_buffer_free(amqp_buffer *buffer)
{
    free(buffer->bytes);
    memset(buffer, 0, sizeof *buffer);
}

wl_status amqp_encode(pn_message_t *message, amqp_buffer *buffer, wl_error *err)
{
    amqp_buffer_reserve(buffer, 1024);
    for (;;) {
        size_t size = buffer->capacity;
        int rc = pn_message_encode(message, buffer->bytes, &size);
        if (rc == 0) {
            buffer->size = size;
            return WL_OK;
        }
        if (rc != PN_OVERFLOW) {
            return wl_error_set(err, WL_ERR_INVALID, "encoding an AMQP message failed: %s",
                                pn_code(rc));
        }
        if (buffer->capacity >= 256u * 1024 * 1024) {
            return wl_error_set(err, WL_ERR_TOO_LARGE, "an AMQP message exceeds 256 MiB");
        }
        amqp_buffer_reserve(buffer, buffer->capacity * 2);
    }
}

pn_delivery_t *amqp_send_bytes(pn_link_t *sender, uint64_t tag, const amqp_buffer *buffer)
{
    pn_delivery_t *delivery = pn_delivery(sender, pn_dtag((const char *)&tag, sizeof tag));

    pn_link_send(sender, buffer->bytes, buffer->size);
    pn_link_advance(sender);
    return delivery;
}

bool amqp_attach_refused(pn_link_t *link)
{
    pn_terminus_t *node =
        pn_link_is_sender(link) ? pn_link_remote_target(link) : pn_link_remote_source(link);

    return (pn_link_state(link) & PN_REMOTE_CLOSED) != 0 ||
           pn_terminus_get_type(node) == PN_UNSPECIFIED;
}

wl_status amqp_receive(pn_delivery_t *delivery, pn_message_t *message, amqp_buffer *buffer,
                       wl_error *err)
{
    pn_link_t *link = pn_delivery_link(delivery);
    size_t pending = pn_delivery_pending(delivery);
    ssize_t got;
    int rc;

    amqp_buffer_reserve(buffer, pending + 1);
    buffer->size = 0;
    while ((got = pn_link_recv(link, buffer->bytes + buffer->size,
                               buffer->capacity - buffer->size)) > 0) {
        buffer->size += (size_t)got;
        if (buffer->size == buffer->capacity) {
            amqp_buffer_reserve(buffer, buffer->capacity * 2);
        }
    }
    /* pn_message_decode asserts on an empty buffer. pn_link_recv reads only the link's current
     * delivery, so nothing read means the delivery was read already or is not current. */
    if (buffer->size == 0) {
        return wl_error_set(err, WL_ERR_PROTOCOL,
                            "no bytes to decode: the delivery was read already or is not the "
                            "link's current delivery");
    }
    rc = pn_message_decode(message, buffer->bytes, buffer->size);
    if (rc != 0) {
        return wl_error_set(err, WL_ERR_PROTOCOL,
                            "decoding an AMQP message of %zu bytes failed: %s", buffer->size,
                            pn_error_text(pn_message_error(message)));
    }
    return WL_OK;
}

bool amqp_map_find(pn_data_t *data, const char *key)
{
    size_t key_length = strlen(key);

    pn_data_rewind(data);
    if (!pn_data_next(data) || pn_data_type(data) != PN_MAP) {
        return false;
    }
    pn_data_enter(data);
    while (pn_data_next(data)) {
        pn_type_t type = pn_data_type(data);
        pn_bytes_t name = {0, NULL};
        if (type == PN_STRING) {
            name = pn_data_get_string(data);
        } else if (type == PN_SYMBOL) {
            name = pn_data_get_symbol(data);
        }
        if (!pn_data_next(data)) {
            break;
        }
        if (name.start != NULL && name.size == key_length &&
            memcmp(name.start, key, key_length) == 0) {
            return true;
        }
    }
    return false;
}

bool amqp_map_get_int(pn_data_t *data, const char *key, int64_t *out_value)
{
    if (!amqp_map_find(data, key)) {
        return false;
    }
    switch (pn_data_type(data)) {
    case PN_INT:
        *out_value = pn_data_get_int(data);
        return true;
    case PN_LONG:
        *out_value = pn_data_get_long(data);
        return true;
    case PN_UINT:
        *out_value = pn_data_get_uint(data);
        return true;
    case PN_ULONG:
        *out_value = (int64_t)pn_data_get_ulong(data);
        return true;
    case PN_SHORT:
        *out_value = pn_data_get_short(data);
        return true;
    case PN_USHORT:
        *out_value = pn_data_get_ushort(data);
        return true;
    case PN_BYTE:
        *out_value = pn_data_get_byte(data);
        return true;
    case PN_UBYTE:
        *out_value = pn_data_get_ubyte(data);
        return true;
    default:
        return false;
    }
}

bool amqp_map_get_string(pn_data_t *data, const char *key, char *out, size_t capacity)
{
    pn_bytes_t value;

    if (!amqp_map_find(data, key)) {
        return false;
    }
    if (pn_data_type(data) == PN_STRING) {
        value = pn_data_get_string(data);
    } else if (pn_data_type(data) == PN_SYMBOL) {
        value = pn_data_get_symbol(data);
    } else {
        return false;
    }
    snprintf(out, capacity, "%.*s", (int)value.size, value.start);
    return true;
}

void amqp_map_put_string(pn_data_t *data, const char *key, const char *value)
{
    pn_data_put_string(data, pn_bytes(strlen(key), key));
    pn_data_put_string(data, pn_bytes(strlen(value), value));
}

wl_status amqp_condition_status(const char *name)
{
    static const struct {
        const char *name;
        wl_status status;
    } table[] = {
        {"com.microsoft:server-busy", WL_ERR_THROTTLED},
        {"amqp:resource-limit-exceeded", WL_ERR_THROTTLED},
        {"com.microsoft:timeout", WL_ERR_TIMEOUT},
        {"amqp:link:detach-forced", WL_ERR_UNAVAILABLE},
        {"amqp:connection:forced", WL_ERR_UNAVAILABLE},
        {"amqp:connection:framing-error", WL_ERR_UNAVAILABLE},
        {"amqp:connection:redirect", WL_ERR_UNAVAILABLE},
        {"amqp:link:redirect", WL_ERR_UNAVAILABLE},
        {"amqp:internal-error", WL_ERR_UNAVAILABLE},
        {"proton:io", WL_ERR_UNAVAILABLE},
        {"amqp:unauthorized-access", WL_ERR_AUTH},
        {"proton:sasl", WL_ERR_AUTH},
        {"amqp:not-found", WL_ERR_NOT_FOUND},
        {"amqp:link:message-size-exceeded", WL_ERR_TOO_LARGE},
        {"amqp:not-allowed", WL_ERR_INVALID},
        {"amqp:invalid-field", WL_ERR_INVALID},
        {"amqp:not-implemented", WL_ERR_INVALID},
        {"com.microsoft:message-lock-lost", WL_ERR_CONFLICT},
        {"com.microsoft:session-lock-lost", WL_ERR_CONFLICT},
    };

    if (name == NULL) {
        return WL_ERR_PROTOCOL;
    }
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
        if (strcmp(name, table[i].name) == 0) {
            return table[i].status;
        }
    }
    return WL_ERR_PROTOCOL;
}

wl_status amqp_condition_to_error(pn_condition_t *condition, wl_status fallback, const char *what,
                                  wl_error *err)
{
    const char *name;
    const char *description;
    wl_status status;

    if (condition == NULL || !pn_condition_is_set(condition)) {
        return wl_error_set(err, fallback, "%s", what);
    }
    name = pn_condition_get_name(condition);
    description = pn_condition_get_description(condition);
    status = amqp_condition_status(name);
    /* Proton reports a socket closed without an AMQP close as a framing error, which reads like
     * corrupt input, so the message adds what happened. */
    const char *hint = "";
    if (name != NULL && strcmp(name, "amqp:connection:framing-error") == 0 && description != NULL &&
        strcmp(description, "connection aborted") == 0) {
        hint = " (the socket closed without an AMQP close: the peer stopped, or the network "
               "dropped the connection)";
    }
    return wl_error_set_condition(err, status, name, "%s: %s: %s%s", what, name,
                                  description != NULL ? description : "no description", hint);
}

bool amqp_status_is_retryable(wl_status status)
{
    return status == WL_ERR_THROTTLED || status == WL_ERR_TIMEOUT || status == WL_ERR_UNAVAILABLE ||
           status == WL_ERR_IO || status == WL_ERR_CLOSED;
}
