#include "sbe_codec.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Described section codes from the AMQP 1.0 messaging specification, section 3.2. */
enum {
    SECTION_HEADER = 0x70,
    SECTION_DELIVERY_ANNOTATIONS = 0x71,
    SECTION_MESSAGE_ANNOTATIONS = 0x72,
    SECTION_PROPERTIES = 0x73,
    SECTION_APPLICATION_PROPERTIES = 0x74,
    SECTION_DATA = 0x75,
    SECTION_AMQP_SEQUENCE = 0x76,
    SECTION_AMQP_VALUE = 0x77,
    SECTION_FOOTER = 0x78,
};

static void put_byte(sbe_buffer *buffer, uint8_t value);
static void put_be32(sbe_buffer *buffer, uint32_t value);

static uint32_t read_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static uint64_t read_be64(const uint8_t *p)
{
    return (uint64_t)read_be32(p) << 32 | read_be32(p + 4);
}

/*
 * Returns the encoded length of the value at `p` (constructor included), or 0 when it runs
 * past `size` or uses a reserved constructor. The width category is the constructor's high
 * nibble (AMQP 1.0 types, section 1.2).
 */
static size_t value_length(const uint8_t *p, size_t size, int depth)
{
    size_t length;

    if (size < 1 || depth > 32) {
        return 0;
    }
    if (p[0] == 0x00) {
        size_t descriptor = value_length(p + 1, size - 1, depth + 1);
        if (descriptor == 0) {
            return 0;
        }
        size_t value = value_length(p + 1 + descriptor, size - 1 - descriptor, depth + 1);
        return value == 0 ? 0 : 1 + descriptor + value;
    }
    switch (p[0] >> 4) {
    case 0x4:
        length = 1;
        break;
    case 0x5:
        length = 2;
        break;
    case 0x6:
        length = 3;
        break;
    case 0x7:
        length = 5;
        break;
    case 0x8:
        length = 9;
        break;
    case 0x9:
        length = 17;
        break;
    case 0xa:
    case 0xc:
    case 0xe:
        if (size < 2) {
            return 0;
        }
        length = 2 + (size_t)p[1];
        break;
    case 0xb:
    case 0xd:
    case 0xf:
        if (size < 5) {
            return 0;
        }
        length = 5 + (size_t)read_be32(p + 1);
        break;
    default:
        return 0;
    }
    return length <= size ? length : 0;
}

/* Reads a section descriptor and returns its code, or -1. Symbolic descriptors are mapped. */
static int section_code(const uint8_t *p, size_t size, size_t *out_length)
{
    static const char *const names[] = {
        "amqp:header:list",
        "amqp:delivery-annotations:map",
        "amqp:message-annotations:map",
        "amqp:properties:list",
        "amqp:application-properties:map",
        "amqp:data:binary",
        "amqp:amqp-sequence:list",
        "amqp:amqp-value:*",
        "amqp:footer:map",
    };

    if (size < 3 || p[0] != 0x00) {
        return -1;
    }
    if (p[1] == 0x53) {
        *out_length = 3;
        return p[2];
    }
    if (p[1] == 0x80 && size >= 10) {
        uint64_t code = read_be64(p + 2);
        *out_length = 10;
        return code <= 0xff ? (int)code : -1;
    }
    if (p[1] == 0xa3 && size >= 3 + (size_t)p[2]) {
        for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
            if (strlen(names[i]) == p[2] && memcmp(p + 3, names[i], p[2]) == 0) {
                *out_length = 3 + (size_t)p[2];
                return SECTION_HEADER + (int)i;
            }
        }
    }
    return -1;
}

/* Splits a list or map value into its element bytes and count. */
static bool compound_elements(const uint8_t *p, size_t length, sbe_bytes *out_elements,
                              uint32_t *out_count)
{
    switch (p[0]) {
    case 0x40: /* null */
    case 0x45: /* list0 */
        *out_elements = (sbe_bytes){p + length, 0};
        *out_count = 0;
        return true;
    case 0xc0:
    case 0xc1:
        if (length < 3) {
            return false;
        }
        *out_elements = (sbe_bytes){p + 3, length - 3};
        *out_count = p[2];
        return true;
    case 0xd0:
    case 0xd1:
        if (length < 9) {
            return false;
        }
        *out_elements = (sbe_bytes){p + 9, length - 9};
        *out_count = read_be32(p + 5);
        return true;
    default:
        return false;
    }
}

static bool read_bool_value(const uint8_t *p, size_t length, bool fallback)
{
    if (p[0] == 0x41) {
        return true;
    }
    if (p[0] == 0x56 && length == 2) {
        return p[1] != 0;
    }
    return fallback;
}

/* Reads a uint in any of its encodings; false for null or another type. */
static bool read_uint_value(const uint8_t *p, size_t length, uint32_t *out_value)
{
    if (p[0] == 0x43) {
        *out_value = 0;
        return true;
    }
    if (p[0] == 0x52 && length == 2) {
        *out_value = p[1];
        return true;
    }
    if (p[0] == 0x70 && length == 5) {
        *out_value = read_be32(p + 1);
        return true;
    }
    return false;
}

static void parse_header(const uint8_t *p, size_t length, sbe_message_parts *parts)
{
    sbe_bytes elements;
    uint32_t count;

    if (!compound_elements(p, length, &elements, &count)) {
        return;
    }
    size_t offset = 0;
    for (uint32_t i = 0; i < count && offset < elements.size; i++) {
        const uint8_t *field = elements.data + offset;
        size_t field_length = value_length(field, elements.size - offset, 0);
        if (field_length == 0) {
            return;
        }
        if (i == 0) {
            parts->durable = read_bool_value(field, field_length, false);
        } else if (i == 1 && field[0] == 0x50 && field_length == 2) {
            parts->priority = field[1];
        } else if (i == 2) {
            parts->has_ttl = read_uint_value(field, field_length, &parts->ttl_ms);
        } else if (i == 3) {
            parts->first_acquirer = read_bool_value(field, field_length, false);
        }
        offset += field_length;
    }
}

/* Reads x-opt-scheduled-enqueue-time (a timestamp) from the message-annotations entries. */
static void parse_annotations(sbe_message_parts *parts)
{
    static const char key[] = "x-opt-scheduled-enqueue-time";
    const uint8_t *p = parts->annotations.bytes.data;
    size_t remaining = parts->annotations.bytes.size;

    for (uint32_t i = 0; i + 1 < parts->annotations.count; i += 2) {
        size_t key_length = value_length(p, remaining, 0);
        if (key_length == 0 || key_length >= remaining) {
            return;
        }
        size_t entry_value_length = value_length(p + key_length, remaining - key_length, 0);
        if (entry_value_length == 0) {
            return;
        }
        const uint8_t *value = p + key_length;
        bool match = (p[0] == 0xa3 || p[0] == 0xa1) && key_length == 2 + sizeof key - 1 &&
                     memcmp(p + 2, key, sizeof key - 1) == 0;
        if (match && value[0] == 0x83 && entry_value_length == 9) {
            parts->has_scheduled_enqueue_time = true;
            parts->scheduled_enqueue_time_ms = (int64_t)read_be64(value + 1);
        }
        p += key_length + entry_value_length;
        remaining -= key_length + entry_value_length;
    }
}

static void parse_properties(const uint8_t *p, size_t length, sbe_message_parts *parts)
{
    sbe_bytes elements;
    uint32_t count;

    if (!compound_elements(p, length, &elements, &count) || count == 0) {
        return;
    }
    size_t id_length = value_length(elements.data, elements.size, 0);
    if (id_length > 0 && elements.data[0] != 0x40) {
        parts->message_id = (sbe_bytes){elements.data, id_length};
    }
}

wl_status sbe_message_split(const uint8_t *bytes, size_t size, sbe_message_parts *out_parts,
                            wl_error *err)
{
    sbe_message_parts parts = {.priority = 4};
    size_t offset = 0;
    int last_code = 0;
    size_t body_start = 0;
    bool has_body = false;

    while (offset < size) {
        size_t descriptor_length = 0;
        int code = section_code(bytes + offset, size - offset, &descriptor_length);
        if (code < SECTION_HEADER || code > SECTION_FOOTER) {
            return wl_error_set(err, WL_ERR_PROTOCOL,
                                "invalid message encoding: no section descriptor at byte %zu",
                                offset);
        }
        const uint8_t *value = bytes + offset + descriptor_length;
        size_t value_size = value_length(value, size - offset - descriptor_length, 0);
        if (value_size == 0) {
            return wl_error_set(err, WL_ERR_PROTOCOL,
                                "invalid message encoding: section 0x%02x at byte %zu is truncated",
                                (unsigned)code, offset);
        }
        bool repeatable = code == SECTION_DATA || code == SECTION_AMQP_SEQUENCE;
        if (code < last_code || (code == last_code && !repeatable)) {
            return wl_error_set(err, WL_ERR_PROTOCOL,
                                "invalid message encoding: section 0x%02x out of order",
                                (unsigned)code);
        }
        if (code >= SECTION_DATA && code <= SECTION_AMQP_VALUE && has_body && code != last_code) {
            return wl_error_set(err, WL_ERR_PROTOCOL,
                                "invalid message encoding: body mixes section types");
        }

        switch (code) {
        case SECTION_HEADER:
            parse_header(value, value_size, &parts);
            break;
        case SECTION_MESSAGE_ANNOTATIONS:
        case SECTION_APPLICATION_PROPERTIES: {
            sbe_map_entries *entries = code == SECTION_MESSAGE_ANNOTATIONS
                                           ? &parts.annotations
                                           : &parts.application_properties;
            if (!compound_elements(value, value_size, &entries->bytes, &entries->count) ||
                (value[0] != 0x40 && value[0] != 0xc1 && value[0] != 0xd1)) {
                return wl_error_set(err, WL_ERR_PROTOCOL,
                                    "invalid message encoding: section 0x%02x is not a map",
                                    (unsigned)code);
            }
            break;
        }
        case SECTION_PROPERTIES:
            parts.properties = (sbe_bytes){bytes + offset, descriptor_length + value_size};
            parse_properties(value, value_size, &parts);
            break;
        case SECTION_DATA:
        case SECTION_AMQP_SEQUENCE:
        case SECTION_AMQP_VALUE:
            if (!has_body) {
                body_start = offset;
                has_body = true;
            }
            break;
        case SECTION_FOOTER:
            if (!has_body) {
                body_start = offset;
            }
            break;
        default:
            break;
        }
        last_code = code;
        offset += descriptor_length + value_size;
    }
    if (!has_body) {
        return wl_error_set(err, WL_ERR_PROTOCOL, "invalid message: it has no body section");
    }
    parts.body = (sbe_bytes){bytes + body_start, size - body_start};
    parse_annotations(&parts);
    *out_parts = parts;
    return WL_OK;
}

bool sbe_body_next_data(sbe_bytes body, size_t *cursor, sbe_bytes *out_data)
{
    size_t descriptor_length = 0;

    if (*cursor >= body.size) {
        return false;
    }
    const uint8_t *p = body.data + *cursor;
    size_t remaining = body.size - *cursor;
    if (section_code(p, remaining, &descriptor_length) != SECTION_DATA) {
        return false;
    }
    const uint8_t *value = p + descriptor_length;
    size_t value_size = value_length(value, remaining - descriptor_length, 0);
    if (value_size == 0) {
        return false;
    }
    if (value[0] == 0xa0) {
        *out_data = (sbe_bytes){value + 2, value_size - 2};
    } else if (value[0] == 0xb0) {
        *out_data = (sbe_bytes){value + 5, value_size - 5};
    } else {
        return false;
    }
    *cursor += descriptor_length + value_size;
    return true;
}

bool sbe_message_is_batch(const sbe_message_parts *parts)
{
    size_t cursor = 0;
    size_t count = 0;
    sbe_bytes data;

    while (sbe_body_next_data(parts->body, &cursor, &data)) {
        sbe_message_parts inner;
        size_t descriptor_length = 0;
        int code = section_code(data.data, data.size, &descriptor_length);
        if (code < SECTION_HEADER || code > SECTION_AMQP_VALUE) {
            return false;
        }
        if (sbe_message_split(data.data, data.size, &inner, NULL) != WL_OK) {
            return false;
        }
        count++;
    }
    /* Anything after the data sections other than nothing means an ordinary message. */
    return count > 0 && cursor == parts->body.size;
}

bool sbe_message_id_text(sbe_bytes encoded, char *out, size_t capacity)
{
    const uint8_t *p = encoded.data;

    if (encoded.size == 0 || capacity < 2) {
        return false;
    }
    switch (p[0]) {
    case 0xa1:
    case 0xb1: {
        size_t header = p[0] == 0xa1 ? 2 : 5;
        size_t length = encoded.size - header;
        if (length >= capacity) {
            length = capacity - 1;
        }
        memcpy(out, p + header, length);
        out[length] = '\0';
        return true;
    }
    case 0x98:
        if (encoded.size != 17 || capacity < 37) {
            return false;
        }
        snprintf(out, capacity,
                 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", p[1], p[2],
                 p[3], p[4], p[5], p[6], p[7], p[8], p[9], p[10], p[11], p[12], p[13], p[14], p[15],
                 p[16]);
        return true;
    case 0x44:
        snprintf(out, capacity, "0");
        return true;
    case 0x53:
        snprintf(out, capacity, "%u", (unsigned)p[1]);
        return true;
    case 0x80:
        snprintf(out, capacity, "%llu", (unsigned long long)read_be64(p + 1));
        return true;
    case 0xa0:
    case 0xb0: {
        size_t header = p[0] == 0xa0 ? 2 : 5;
        size_t written = 0;
        for (size_t i = header; i < encoded.size && written + 3 <= capacity; i++) {
            written += (size_t)snprintf(out + written, capacity - written, "%02x", p[i]);
        }
        return true;
    }
    default:
        return false;
    }
}

bool sbe_map_entries_read(const uint8_t *encoded, size_t size, sbe_map_entries *out_entries)
{
    size_t length = value_length(encoded, size, 0);

    if (length == 0 || (encoded[0] != 0x40 && encoded[0] != 0xc1 && encoded[0] != 0xd1) ||
        !compound_elements(encoded, length, &out_entries->bytes, &out_entries->count) ||
        out_entries->count % 2 != 0) {
        return false;
    }
    const uint8_t *p = out_entries->bytes.data;
    size_t remaining = out_entries->bytes.size;
    for (uint32_t i = 0; i < out_entries->count; i++) {
        size_t element_length = value_length(p, remaining, 0);
        if (element_length == 0) {
            return false;
        }
        p += element_length;
        remaining -= element_length;
    }
    return remaining == 0;
}

/* Points `out_text` at the text of a string or symbol key. Returns false for other types. */
static bool key_text(const uint8_t *key, size_t length, sbe_bytes *out_text)
{
    if ((key[0] == 0xa1 || key[0] == 0xa3) && length >= 2) {
        *out_text = (sbe_bytes){key + 2, length - 2};
        return true;
    }
    if ((key[0] == 0xb1 || key[0] == 0xb3) && length >= 5) {
        *out_text = (sbe_bytes){key + 5, length - 5};
        return true;
    }
    return false;
}

static bool keys_equal(const uint8_t *a, size_t a_length, const uint8_t *b, size_t b_length)
{
    sbe_bytes a_text;
    sbe_bytes b_text;

    if (key_text(a, a_length, &a_text) && key_text(b, b_length, &b_text)) {
        return a_text.size == b_text.size && memcmp(a_text.data, b_text.data, a_text.size) == 0;
    }
    return a_length == b_length && memcmp(a, b, a_length) == 0;
}

/* Reports whether `key` is a string or symbol whose text is in `keys` (NULL-terminated). */
static bool key_in_list(const uint8_t *key, size_t length, const char *const *keys)
{
    sbe_bytes text;

    if (keys == NULL || !key_text(key, length, &text)) {
        return false;
    }
    for (size_t i = 0; keys[i] != NULL; i++) {
        if (strlen(keys[i]) == text.size && memcmp(keys[i], text.data, text.size) == 0) {
            return true;
        }
    }
    return false;
}

/*
 * Reads the entry (key, then value) at `*at`, within `*remaining` bytes, into `out_key` and
 * `out_value`, and moves past it. Returns false at an entry that is cut short or malformed.
 */
static bool next_entry(const uint8_t **at, size_t *remaining, sbe_bytes *out_key,
                       sbe_bytes *out_value)
{
    size_t key_length = value_length(*at, *remaining, 0);
    size_t value_size =
        key_length > 0 ? value_length(*at + key_length, *remaining - key_length, 0) : 0;

    if (value_size == 0) {
        return false;
    }
    *out_key = (sbe_bytes){*at, key_length};
    *out_value = (sbe_bytes){*at + key_length, value_size};
    *at += key_length + value_size;
    *remaining -= key_length + value_size;
    return true;
}

/* Reports whether a key of `changes` that is not ignored has the text of `key`. */
static bool changes_have_key(sbe_map_entries changes, const char *const *ignored_keys,
                             sbe_bytes key)
{
    const uint8_t *at = changes.bytes.data;
    size_t remaining = changes.bytes.size;
    sbe_bytes change_key;
    sbe_bytes change_value;

    for (uint32_t i = 0; i + 1 < changes.count; i += 2) {
        if (!next_entry(&at, &remaining, &change_key, &change_value)) {
            break;
        }
        if (keys_equal(change_key.data, change_key.size, key.data, key.size) &&
            !key_in_list(change_key.data, change_key.size, ignored_keys)) {
            return true;
        }
    }
    return false;
}

bool sbe_map_entries_find(sbe_map_entries entries, const char *key, sbe_bytes *out_value)
{
    const char *const keys[] = {key, NULL};
    const uint8_t *at = entries.bytes.data;
    size_t remaining = entries.bytes.size;
    sbe_bytes entry_key;
    sbe_bytes entry_value;

    for (uint32_t i = 0; i + 1 < entries.count; i += 2) {
        if (!next_entry(&at, &remaining, &entry_key, &entry_value)) {
            return false;
        }
        if (key_in_list(entry_key.data, entry_key.size, keys)) {
            *out_value = entry_value;
            return true;
        }
    }
    return false;
}

uint32_t sbe_map_entries_remove(sbe_map_entries entries, const char *const *keys, sbe_buffer *out)
{
    uint32_t count = 0;
    const uint8_t *at = entries.bytes.data;
    size_t remaining = entries.bytes.size;
    sbe_bytes key;
    sbe_bytes value;

    for (uint32_t i = 0; i + 1 < entries.count; i += 2) {
        if (!next_entry(&at, &remaining, &key, &value)) {
            break;
        }
        if (!key_in_list(key.data, key.size, keys)) {
            sbe_buffer_append(out, key.data, key.size + value.size);
            count += 2;
        }
    }
    return count;
}

/* Appends `key` to `out`, with a symbol key (as in modified message-annotations) written as a
 * string, because application-properties keys are strings. */
static void append_string_key(sbe_buffer *out, sbe_bytes key)
{
    sbe_bytes text;

    if (!key_text(key.data, key.size, &text)) {
        sbe_buffer_append(out, key.data, key.size);
        return;
    }
    if (text.size <= 255) {
        put_byte(out, 0xa1);
        put_byte(out, (uint8_t)text.size);
    } else {
        put_byte(out, 0xb1);
        put_be32(out, (uint32_t)text.size);
    }
    sbe_buffer_append(out, text.data, text.size);
}

uint32_t sbe_map_entries_merge(sbe_map_entries base, sbe_map_entries changes,
                               const char *const *ignored_keys, sbe_buffer *out)
{
    uint32_t count = 0;
    const uint8_t *at = base.bytes.data;
    size_t remaining = base.bytes.size;
    sbe_bytes key;
    sbe_bytes value;

    for (uint32_t i = 0; i + 1 < base.count; i += 2) {
        if (!next_entry(&at, &remaining, &key, &value)) {
            break;
        }
        if (!changes_have_key(changes, ignored_keys, key)) {
            sbe_buffer_append(out, key.data, key.size + value.size);
            count += 2;
        }
    }

    at = changes.bytes.data;
    remaining = changes.bytes.size;
    for (uint32_t i = 0; i + 1 < changes.count; i += 2) {
        if (!next_entry(&at, &remaining, &key, &value)) {
            break;
        }
        if (!key_in_list(key.data, key.size, ignored_keys)) {
            append_string_key(out, key);
            sbe_buffer_append(out, value.data, value.size);
            count += 2;
        }
    }
    return count;
}

void sbe_buffer_reserve(sbe_buffer *buffer, size_t extra)
{
    if (buffer->capacity - buffer->size >= extra) {
        return;
    }
    size_t capacity = buffer->capacity ? buffer->capacity : 1024;
    while (capacity - buffer->size < extra) {
        capacity *= 2;
    }
    buffer->data = wl_xrealloc(buffer->data, capacity);
    buffer->capacity = capacity;
}

void sbe_buffer_append(sbe_buffer *buffer, const void *data, size_t size)
{
    sbe_buffer_reserve(buffer, size);
    if (size > 0) {
        memcpy(buffer->data + buffer->size, data, size);
    }
    buffer->size += size;
}

void sbe_buffer_free(sbe_buffer *buffer)
{
    free(buffer->data);
    *buffer = (sbe_buffer){0};
}

static void put_byte(sbe_buffer *buffer, uint8_t value)
{
    sbe_buffer_append(buffer, &value, 1);
}

static void put_be32(sbe_buffer *buffer, uint32_t value)
{
    uint8_t bytes[4] = {(uint8_t)(value >> 24), (uint8_t)(value >> 16), (uint8_t)(value >> 8),
                        (uint8_t)value};
    sbe_buffer_append(buffer, bytes, 4);
}

static void put_be64(sbe_buffer *buffer, uint64_t value)
{
    put_be32(buffer, (uint32_t)(value >> 32));
    put_be32(buffer, (uint32_t)value);
}

static void put_variable(sbe_buffer *buffer, uint8_t code8, uint8_t code32, const char *text)
{
    size_t length = strlen(text);

    if (length <= 255) {
        put_byte(buffer, code8);
        put_byte(buffer, (uint8_t)length);
    } else {
        put_byte(buffer, code32);
        put_be32(buffer, (uint32_t)length);
    }
    sbe_buffer_append(buffer, text, length);
}

void sbe_properties_with_message_id(sbe_bytes properties, const char *message_id, sbe_buffer *out)
{
    sbe_bytes elements = {NULL, 0};
    uint32_t count = 0;
    size_t descriptor_length = 0;

    if (properties.size > 0 &&
        section_code(properties.data, properties.size, &descriptor_length) == SECTION_PROPERTIES) {
        const uint8_t *value = properties.data + descriptor_length;
        size_t value_size = properties.size - descriptor_length;
        if (!compound_elements(value, value_size, &elements, &count)) {
            count = 0;
        }
    }
    /* Skip the old message-id, keep the other fields as they were encoded. */
    if (count > 0) {
        size_t first = value_length(elements.data, elements.size, 0);
        elements.data += first;
        elements.size -= first;
        count--;
    }

    put_byte(out, 0x00);
    put_byte(out, 0x53);
    put_byte(out, SECTION_PROPERTIES);
    size_t begin = out->size;
    put_byte(out, 0xd0);
    put_be32(out, 0);
    put_be32(out, count + 1);
    sbe_put_string(out, message_id);
    sbe_buffer_append(out, elements.data, elements.size);
    uint32_t size = (uint32_t)(out->size - begin - 5);
    out->data[begin + 1] = (uint8_t)(size >> 24);
    out->data[begin + 2] = (uint8_t)(size >> 16);
    out->data[begin + 3] = (uint8_t)(size >> 8);
    out->data[begin + 4] = (uint8_t)size;
}

void sbe_put_symbol(sbe_buffer *buffer, const char *text)
{
    put_variable(buffer, 0xa3, 0xb3, text);
}

void sbe_put_string(sbe_buffer *buffer, const char *text)
{
    put_variable(buffer, 0xa1, 0xb1, text);
}

void sbe_put_long(sbe_buffer *buffer, int64_t value)
{
    put_byte(buffer, 0x81);
    put_be64(buffer, (uint64_t)value);
}

void sbe_put_timestamp(sbe_buffer *buffer, int64_t unix_ms)
{
    put_byte(buffer, 0x83);
    put_be64(buffer, (uint64_t)unix_ms);
}

void sbe_put_uint(sbe_buffer *buffer, uint32_t value)
{
    put_byte(buffer, 0x70);
    put_be32(buffer, value);
}

size_t sbe_map_section_begin(sbe_buffer *buffer, uint8_t code)
{
    static const uint8_t placeholder[9] = {0xd1};

    put_byte(buffer, 0x00);
    put_byte(buffer, 0x53);
    put_byte(buffer, code);
    size_t begin = buffer->size;
    sbe_buffer_append(buffer, placeholder, sizeof placeholder);
    return begin;
}

void sbe_map_section_end(sbe_buffer *buffer, size_t begin, uint32_t entry_count)
{
    uint8_t *p = buffer->data + begin;
    uint32_t size = (uint32_t)(buffer->size - begin - 5);

    p[1] = (uint8_t)(size >> 24);
    p[2] = (uint8_t)(size >> 16);
    p[3] = (uint8_t)(size >> 8);
    p[4] = (uint8_t)size;
    p[5] = (uint8_t)(entry_count >> 24);
    p[6] = (uint8_t)(entry_count >> 16);
    p[7] = (uint8_t)(entry_count >> 8);
    p[8] = (uint8_t)entry_count;
}

void sbe_put_header(sbe_buffer *buffer, bool durable, uint8_t priority, bool has_ttl,
                    uint32_t ttl_ms, bool first_acquirer, uint32_t delivery_count)
{
    /* list8: size covers the count byte and the five fields. */
    uint8_t bytes[24] = {0x00, 0x53, 0x70, 0xc0};
    size_t n = 6;

    bytes[n++] = durable ? 0x41 : 0x42;
    bytes[n++] = 0x50;
    bytes[n++] = priority;
    if (has_ttl) {
        bytes[n++] = 0x70;
        bytes[n++] = (uint8_t)(ttl_ms >> 24);
        bytes[n++] = (uint8_t)(ttl_ms >> 16);
        bytes[n++] = (uint8_t)(ttl_ms >> 8);
        bytes[n++] = (uint8_t)ttl_ms;
    } else {
        bytes[n++] = 0x40;
    }
    bytes[n++] = first_acquirer ? 0x41 : 0x42;
    bytes[n++] = 0x70;
    bytes[n++] = (uint8_t)(delivery_count >> 24);
    bytes[n++] = (uint8_t)(delivery_count >> 16);
    bytes[n++] = (uint8_t)(delivery_count >> 8);
    bytes[n++] = (uint8_t)delivery_count;
    bytes[4] = (uint8_t)(n - 5);
    bytes[5] = 5;
    sbe_buffer_append(buffer, bytes, n);
}
