/*
 * Small AMQP 1.0 helpers over Proton-C shared by the connection, the request/response links and
 * the services: encoding messages into reusable buffers, sending and receiving whole messages,
 * reading application properties, and mapping AMQP error conditions to wl_status.
 *
 * Everything here touches Proton objects, so call it only on the thread that is handling the
 * events of the connection those objects belong to.
 */
#ifndef WL_AMQP_H
#define WL_AMQP_H

#include "status.h"

#include <proton/codec.h>
#include <proton/condition.h>
#include <proton/delivery.h>
#include <proton/link.h>
#include <proton/message.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A growable byte buffer reused across messages, so steady-state sends do not allocate. */
typedef struct amqp_buffer {
    char *bytes;
    size_t size;     /* bytes in use */
    size_t capacity; /* bytes allocated */
} amqp_buffer;

/* Ensures room for `capacity` bytes (aborts on allocation failure, as wl_xrealloc does). */
void amqp_buffer_reserve(amqp_buffer *buffer, size_t capacity);
void amqp_buffer_free(amqp_buffer *buffer);

/* Encodes `message` into `buffer` (growing it as needed); buffer->size is the encoded size. */
wl_status amqp_encode(pn_message_t *message, amqp_buffer *buffer, wl_error *err);

/*
 * Sends the bytes in `buffer` as one new delivery on `sender` with an 8-byte tag made from
 * `tag`, and advances the link. The caller must have checked pn_link_credit() > 0. Returns the
 * delivery, which stays valid until it is settled locally.
 */
pn_delivery_t *amqp_send_bytes(pn_link_t *sender, uint64_t tag, const amqp_buffer *buffer);

/*
 * Returns true when the peer's attach for `link` (on PN_LINK_REMOTE_OPEN) rejects the link. Such
 * an attach has a null terminus for the node (the target of a sender, the source of a receiver),
 * and the peer's detach with the reason follows, possibly read in the same event batch. A
 * terminus without an address is not a rejection: some brokers accept a link that way.
 */
bool amqp_attach_refused(pn_link_t *link);

/*
 * Reads the complete delivery `delivery` (pn_delivery_readable, not partial) into `buffer`
 * and decodes it into `message`. The delivery is not settled or advanced. It must be the
 * link's current delivery and have unread bytes. After pn_link_advance, or on a second call,
 * nothing is read and WL_ERR_PROTOCOL is returned.
 */
wl_status amqp_receive(pn_delivery_t *delivery, pn_message_t *message, amqp_buffer *buffer,
                       wl_error *err);

/*
 * Positions `data` (an application-properties or other map, rewound by this call) on the value
 * of string or symbol key `key`. Returns false when the map has no such key.
 */
bool amqp_map_find(pn_data_t *data, const char *key);

/* Reads the value under `key` of map `data` as an integer of any AMQP integer width. */
bool amqp_map_get_int(pn_data_t *data, const char *key, int64_t *out_value);

/* Copies the string or symbol value under `key` into `out` (truncating). */
bool amqp_map_get_string(pn_data_t *data, const char *key, char *out, size_t capacity);

/* Puts a string key and string value into the map that `data` is inside (pn_data_enter'd). */
void amqp_map_put_string(pn_data_t *data, const char *key, const char *value);

/*
 * Maps an AMQP condition to a status, following what Service Bus sends:
 *   com.microsoft:server-busy             -> WL_ERR_THROTTLED   (retry after backoff)
 *   com.microsoft:timeout, amqp:resource-limit-exceeded -> WL_ERR_TIMEOUT / WL_ERR_THROTTLED
 *   amqp:link:detach-forced, amqp:connection:forced, proton:io, connection-level framing
 *                                         -> WL_ERR_UNAVAILABLE (reconnect or reattach)
 *   amqp:unauthorized-access              -> WL_ERR_AUTH
 *   amqp:not-found                        -> WL_ERR_NOT_FOUND
 *   amqp:link:message-size-exceeded       -> WL_ERR_TOO_LARGE
 *   amqp:not-allowed, amqp:invalid-field  -> WL_ERR_INVALID
 *   com.microsoft:message-lock-lost       -> WL_ERR_CONFLICT
 * and anything else to WL_ERR_PROTOCOL.
 */
wl_status amqp_condition_status(const char *condition_name);

/*
 * Records `condition` in `err` as "WHAT: NAME: DESCRIPTION" with the condition name and returns
 * its status. When the condition is not set, records "WHAT" alone and returns `fallback`.
 */
wl_status amqp_condition_to_error(pn_condition_t *condition, wl_status fallback, const char *what,
                                  wl_error *err);

/* True for statuses that a later attempt can fix: throttled, timeout, unavailable, io, closed. */
bool amqp_status_is_retryable(wl_status status);

#endif
