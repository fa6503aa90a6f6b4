/*
 * Message validation and the result document.
 *
 * A message body must be valid UTF-8 holding one JSON object with a string "msg" and a string
 * "srcStamp" in the stamp form "2026-12-04 06:14:27.123456" (UTC, six fractional digits). The
 * document stored for it is
 *
 *   {"id": "<message-id>", "data": "<msg>", "srcStamp": "...", "destStamp": "...",
 *    "messageProcessingTime": 0.0421, "sequenceNumber": 17,
 *    "enqueuedTime": "2026-12-04T06:14:27.125Z", "deliveryCount": 1}
 *
 * where messageProcessingTime is destStamp minus srcStamp in seconds. The id is the AMQP
 * message-id, so a redelivered message overwrites its own document (upsert) instead of adding
 * a second one. Functions here are pure and thread-safe.
 */
#ifndef CONSUMER_DOCUMENT_H
#define CONSUMER_DOCUMENT_H

#include "status.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The fields taken from a valid message body; strings are owned, freed by document_fields_free. */
typedef struct document_fields {
    char *msg; /* msg_length bytes of UTF-8 and a NUL; may contain NUL ("\u0000") */
    size_t msg_length;
    char *src_stamp; /* NUL-terminated */
    int64_t src_unix_us;
} document_fields;

/* Service Bus metadata of the delivery. */
typedef struct document_meta {
    const char *message_id;   /* the AMQP message-id as text */
    int64_t sequence_number;  /* x-opt-sequence-number, or -1 when absent */
    int64_t enqueued_unix_ms; /* x-opt-enqueued-time, or -1 when absent */
    uint32_t delivery_count;  /* 1 on first delivery (AMQP delivery-count + 1) */
} document_meta;

/* Returns true when `data` is well-formed UTF-8 (no overlong forms, surrogates or values above
 * U+10FFFF). On failure `out_offset` receives the offset of the first bad byte. */
bool document_utf8_valid(const uint8_t *data, size_t length, size_t *out_offset);

/*
 * Checks that the message-id, `length` bytes of text, can be a Cosmos DB document id exactly
 * as it is. On failure returns WL_ERR_INVALID with `err->condition` "InvalidMessageId" and
 * `err->message` naming the cause and its byte offset: the id is not well-formed UTF-8, it
 * contains NUL (a C string would cut it short, so two ids could share one document), or it
 * contains '/', '\\', '?' or '#', which Cosmos DB does not allow in resource ids.
 */
wl_status document_check_id(const char *id, size_t length, wl_error *err);

/*
 * Validates a message body and extracts its fields. The body must be one JSON text as RFC 8259
 * defines it. Members other than "msg" and "srcStamp" are checked but not decoded, so numbers
 * of any length or precision are fine there. On failure returns WL_ERR_INVALID with
 * `err->condition` set to the dead-letter reason and `err->message` describing it:
 *   InvalidUtf8       the body is not well-formed UTF-8 (the message gives the byte offset)
 *   InvalidJson       the body is not JSON (the message names the error and its offset)
 *   NotAnObject       the body is JSON but not an object
 *   MissingField      "msg" or "srcStamp" is missing
 *   InvalidFieldType  "msg" or "srcStamp" is not a string
 *   DuplicateField    "msg" or "srcStamp" appears more than once
 *   LoneSurrogate     "msg" or "srcStamp" has a \uD800-\uDFFF escape without its pair
 *   InvalidStamp      "srcStamp" is not in the stamp form
 * A "msg" with escaped NUL characters is valid and kept whole.
 */
wl_status document_parse_message(const uint8_t *body, size_t length, document_fields *out_fields,
                                 wl_error *err);

void document_fields_free(document_fields *fields);

/*
 * Builds the result document as compact JSON, stamping destStamp at `dest_unix_us`. Strings
 * keep their UTF-8; '"', '\\' and control characters (NUL included) are escaped, and a byte of
 * malformed UTF-8 in the message-id becomes \ufffd, as in cosmos_partition_key_json.
 * messageProcessingTime has six decimals (microseconds). Returns a string the caller frees
 * with free(), with its length in `out_length`.
 */
char *document_build(const document_fields *fields, const document_meta *meta, int64_t dest_unix_us,
                     size_t *out_length);

#endif
