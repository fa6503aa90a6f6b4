/*
 * Section-level AMQP 1.0 message codec. The emulator keeps each message in the encoding the
 * sender used and only decodes what it must: the header fields, the message-annotations and
 * application-properties map bodies (so that it can add entries), and the message-id. A
 * delivery is written as a new header and annotations followed by the stored bytes, which
 * avoids decoding and re-encoding every message with pn_message.
 */
#ifndef SBE_CODEC_H
#define SBE_CODEC_H

#include "status.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A borrowed byte range; valid as long as the buffer it points into. */
typedef struct sbe_bytes {
    const uint8_t *data;
    size_t size;
} sbe_bytes;

/* The entries of an AMQP map, without its constructor: `count` is keys plus values. */
typedef struct sbe_map_entries {
    sbe_bytes bytes;
    uint32_t count;
} sbe_map_entries;

/* A message split into its sections. Every range points into the buffer that was split. */
typedef struct sbe_message_parts {
    bool durable;
    uint8_t priority; /* 4 when the header is absent, as AMQP defines */
    bool has_ttl;
    uint32_t ttl_ms; /* header ttl, when has_ttl */
    bool first_acquirer;
    sbe_map_entries annotations; /* message-annotations entries */
    sbe_bytes properties;        /* the whole properties section, or empty */
    sbe_map_entries application_properties;
    sbe_bytes body;                    /* every body section and the footer */
    sbe_bytes message_id;              /* the encoded message-id value, or empty */
    bool has_scheduled_enqueue_time;   /* x-opt-scheduled-enqueue-time annotation present */
    int64_t scheduled_enqueue_time_ms; /* its value, Unix milliseconds */
} sbe_message_parts;

/*
 * Splits the encoded message `bytes`. Delivery-annotations are dropped, as a broker does.
 * Returns WL_ERR_PROTOCOL with a description when the encoding is invalid or has no body.
 */
wl_status sbe_message_split(const uint8_t *bytes, size_t size, sbe_message_parts *out_parts,
                            wl_error *err);

/*
 * Reports whether `parts` is a batch envelope as the Service Bus SDKs send it (message format
 * 0x80013700): a body of data sections, each one a complete encoded message. Proton-C 0.37
 * does not expose a received transfer's message-format, so the envelope is recognised by its
 * content.
 */
bool sbe_message_is_batch(const sbe_message_parts *parts);

/*
 * Iterates the data sections of a body: `cursor` starts at 0; returns false at the end.
 * `out_data` points into `body`.
 */
bool sbe_body_next_data(sbe_bytes body, size_t *cursor, sbe_bytes *out_data);

/*
 * Formats the message-id value `encoded` as text: a string as is, a UUID in 8-4-4-4-12 form,
 * an unsigned long in decimal, binary in hex. Returns false when it is none of these.
 */
bool sbe_message_id_text(sbe_bytes encoded, char *out, size_t capacity);

/*
 * Reads the entries of the map value encoded at `encoded` (a map, or null for none), checking
 * that every key and value is complete. Returns false when it is not a valid map.
 */
bool sbe_map_entries_read(const uint8_t *encoded, size_t size, sbe_map_entries *out_entries);

/* Finds the value of the string or symbol key `key` in `entries` (from sbe_map_entries_read). */
bool sbe_map_entries_find(sbe_map_entries entries, const char *key, sbe_bytes *out_value);

/* A growable output buffer for encoding. */
typedef struct sbe_buffer {
    uint8_t *data;
    size_t size;
    size_t capacity;
} sbe_buffer;

/*
 * Writes to `out` a properties section equal to `properties` (a whole section, or empty for
 * none) with its message-id set to the string `message_id`. Service Bus assigns a message-id
 * to a message sent without one, and the SDKs rely on it.
 */
void sbe_properties_with_message_id(sbe_bytes properties, const char *message_id, sbe_buffer *out);

void sbe_buffer_reserve(sbe_buffer *buffer, size_t extra);
void sbe_buffer_append(sbe_buffer *buffer, const void *data, size_t size);
void sbe_buffer_free(sbe_buffer *buffer);

/* Encoders for the handful of AMQP types the emulator writes. */
void sbe_put_symbol(sbe_buffer *buffer, const char *text);
void sbe_put_string(sbe_buffer *buffer, const char *text);
void sbe_put_long(sbe_buffer *buffer, int64_t value);
void sbe_put_timestamp(sbe_buffer *buffer, int64_t unix_ms);
void sbe_put_uint(sbe_buffer *buffer, uint32_t value);

/*
 * Starts a described map section (`code` 0x72 message-annotations, 0x74
 * application-properties) and returns the offset to pass to sbe_map_section_end once the
 * entries are written.
 */
size_t sbe_map_section_begin(sbe_buffer *buffer, uint8_t code);
void sbe_map_section_end(sbe_buffer *buffer, size_t begin, uint32_t entry_count);

/*
 * Writes to `out` the entries of `base` with `changes` applied, and returns the entry count
 * (keys plus values). An entry of `base` whose key has the text of a key in `changes` is
 * replaced, and the other entries of `changes` are added with their keys written as strings,
 * as application-properties require. Keys of `changes` named in `ignored_keys` (a
 * NULL-terminated list, or NULL) are left out. Both maps must come from sbe_map_entries_read
 * or sbe_message_split.
 */
uint32_t sbe_map_entries_merge(sbe_map_entries base, sbe_map_entries changes,
                               const char *const *ignored_keys, sbe_buffer *out);

/*
 * Writes to `out` the entries of `entries` whose key is not a string or symbol named in `keys`
 * (NULL-terminated), and returns their count (keys plus values).
 */
uint32_t sbe_map_entries_remove(sbe_map_entries entries, const char *const *keys, sbe_buffer *out);

/* Writes a header section with every field set. */
void sbe_put_header(sbe_buffer *buffer, bool durable, uint8_t priority, bool has_ttl,
                    uint32_t ttl_ms, bool first_acquirer, uint32_t delivery_count);

#endif
