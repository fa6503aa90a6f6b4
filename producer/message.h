/*
 * The producer's messages, encoded straight into AMQP 1.0 bytes (no pn_message per send):
 *
 *   properties   message-id = "<uuid>" (string), content-type = application/json (symbol)
 *   data         {"msg":"Scale Test Message : COUNT 42","srcStamp":"2026-12-04 06:14:27.123456"}
 *
 * An optional "pad" field of 'x' characters grows the body to a requested size. A resent message
 * is encoded again from the same fields, so its message-id, COUNT and srcStamp are unchanged.
 */
#ifndef PRODUCER_MESSAGE_H
#define PRODUCER_MESSAGE_H

#include "amqp.h"
#include "timefmt.h"

#include <stddef.h>
#include <stdint.h>

/* Bytes that the encoding adds to a body of 256 bytes or more: the properties section and the
 * data section's header. A shorter body has 3 bytes less, because its length takes 1 byte. */
#define MESSAGE_ENCODING_OVERHEAD 75

typedef struct producer_message {
    char message_id[WL_UUID_SIZE];
    uint64_t count;   /* the n of "COUNT n", from 1 across the whole run */
    int64_t stamp_us; /* srcStamp, microseconds since the epoch (UTC) */
} producer_message;

/* Writes the JSON body into `out` (at least `capacity` bytes); returns its length, or 0 if it
 * does not fit. A `body_size` below the unpadded length plus 9 (the bytes of an empty "pad"
 * field) adds no padding, so 0 never does. */
size_t message_format_body(const producer_message *message, size_t body_size, char *out,
                           size_t capacity);

/* Encodes the whole message into `buffer` (reused; grows as needed). */
void message_encode(const producer_message *message, size_t body_size, amqp_buffer *buffer);

/* Returns the encoded size in bytes of a message whose body is padded to `body_size`: the body
 * plus the properties section and the data section's framing. */
size_t message_encoded_size(size_t body_size);

#endif
