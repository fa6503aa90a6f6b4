/*
 * The emulator's section-level codec, checked against messages encoded and decoded by
 * Proton's pn_message.
 */
#include "check.h"
#include "sbe_codec.h"

#include <proton/codec.h>
#include <proton/message.h>

#include <stdlib.h>
#include <string.h>

static char *encode(pn_message_t *message, size_t *out_size)
{
    size_t capacity = 4096;
    char *bytes = wl_xmalloc(capacity);

    *out_size = capacity;
    if (pn_message_encode(message, bytes, out_size) != 0) {
        abort();
    }
    return bytes;
}

static pn_message_t *rich_message(void)
{
    pn_message_t *message = pn_message();
    pn_data_t *annotations = pn_message_annotations(message);
    pn_data_t *properties = pn_message_properties(message);
    static const char body[] = "{\"msg\":\"hello\"}";

    pn_message_set_durable(message, true);
    pn_message_set_priority(message, 7);
    pn_message_set_ttl(message, 5000);
    pn_data_put_string(pn_message_id(message), pn_bytes(2, "m1"));
    pn_message_set_subject(message, "subject");
    pn_data_put_map(annotations);
    pn_data_enter(annotations);
    pn_data_put_symbol(annotations, pn_bytes(19, "x-opt-partition-key"));
    pn_data_put_string(annotations, pn_bytes(1, "p"));
    pn_data_exit(annotations);
    pn_data_put_map(properties);
    pn_data_enter(properties);
    pn_data_put_string(properties, pn_bytes(5, "count"));
    pn_data_put_int(properties, 42);
    pn_data_exit(properties);
    pn_message_set_inferred(message, true);
    pn_data_put_binary(pn_message_body(message), pn_bytes(sizeof body - 1, body));
    return message;
}

TEST_CASE(split_reads_sections)
{
    pn_message_t *message = rich_message();
    size_t size;
    char *bytes = encode(message, &size);
    sbe_message_parts parts;
    wl_error err = {0};

    CHECK_INT_EQ(sbe_message_split((const uint8_t *)bytes, size, &parts, &err), WL_OK);
    CHECK(parts.durable);
    CHECK_INT_EQ(parts.priority, 7);
    CHECK(parts.has_ttl);
    CHECK_INT_EQ(parts.ttl_ms, 5000);
    CHECK_INT_EQ(parts.annotations.count, 2);
    CHECK_INT_EQ(parts.application_properties.count, 2);
    CHECK(parts.properties.size > 0);
    CHECK(parts.body.size > 0);
    char id[64];
    CHECK(sbe_message_id_text(parts.message_id, id, sizeof id));
    CHECK_STR_EQ(id, "m1");
    CHECK(!sbe_message_is_batch(&parts));
    free(bytes);
    pn_message_free(message);
}

TEST_CASE(split_rejects_invalid)
{
    static const uint8_t garbage[] = {0x01, 0x02, 0x03};
    /* A properties section with no body. */
    static const uint8_t no_body[] = {0x00, 0x53, 0x73, 0x45};
    /* A data section whose binary claims 16 bytes but has 2. */
    static const uint8_t truncated[] = {0x00, 0x53, 0x75, 0xa0, 0x10, 'h', 'i'};
    /* Body before properties. */
    static const uint8_t out_of_order[] = {0x00, 0x53, 0x77, 0x40, 0x00, 0x53, 0x73, 0x45};
    sbe_message_parts parts;
    wl_error err = {0};

    CHECK_INT_EQ(sbe_message_split(garbage, sizeof garbage, &parts, &err), WL_ERR_PROTOCOL);
    wl_error_clear(&err);
    CHECK_INT_EQ(sbe_message_split(no_body, sizeof no_body, &parts, &err), WL_ERR_PROTOCOL);
    CHECK(strstr(err.message, "no body") != NULL);
    wl_error_clear(&err);
    CHECK_INT_EQ(sbe_message_split(truncated, sizeof truncated, &parts, &err), WL_ERR_PROTOCOL);
    CHECK(strstr(err.message, "truncated") != NULL);
    wl_error_clear(&err);
    CHECK_INT_EQ(sbe_message_split(out_of_order, sizeof out_of_order, &parts, &err),
                 WL_ERR_PROTOCOL);
}

/* Appends `message` to `envelope` as one data section (binary with a 4-byte size). */
static void append_data_section(sbe_buffer *envelope, const char *bytes, size_t size)
{
    uint8_t header[8] = {0x00,
                         0x53,
                         0x75,
                         0xb0,
                         (uint8_t)(size >> 24),
                         (uint8_t)(size >> 16),
                         (uint8_t)(size >> 8),
                         (uint8_t)size};

    sbe_buffer_append(envelope, header, sizeof header);
    sbe_buffer_append(envelope, bytes, size);
}

TEST_CASE(batch_envelope_unpacked)
{
    sbe_buffer envelope = {0};
    pn_message_t *inner = pn_message();
    sbe_message_parts parts;
    wl_error err = {0};

    for (int i = 0; i < 3; i++) {
        char body[16];
        size_t size;
        snprintf(body, sizeof body, "item %d", i);
        pn_message_clear(inner);
        pn_data_put_string(pn_message_body(inner), pn_bytes(strlen(body), body));
        char *bytes = encode(inner, &size);
        append_data_section(&envelope, bytes, size);
        free(bytes);
    }
    CHECK_INT_EQ(sbe_message_split(envelope.data, envelope.size, &parts, &err), WL_OK);
    CHECK(sbe_message_is_batch(&parts));

    size_t cursor = 0;
    sbe_bytes data;
    int count = 0;
    while (sbe_body_next_data(parts.body, &cursor, &data)) {
        char expected[16];
        pn_message_clear(inner);
        CHECK_INT_EQ(pn_message_decode(inner, (const char *)data.data, data.size), 0);
        pn_data_t *body = pn_message_body(inner);
        pn_data_rewind(body);
        pn_data_next(body);
        pn_bytes_t text = pn_data_get_string(body);
        snprintf(expected, sizeof expected, "item %d", count);
        CHECK(text.size == strlen(expected) && memcmp(text.start, expected, text.size) == 0);
        count++;
    }
    CHECK_INT_EQ(count, 3);
    pn_message_free(inner);
    sbe_buffer_free(&envelope);
}

TEST_CASE(plain_data_is_not_batch)
{
    sbe_buffer message = {0};
    static const char json[] = "{\"msg\":\"Scale Test Message : COUNT 1\"}";
    sbe_message_parts parts;
    wl_error err = {0};

    append_data_section(&message, json, sizeof json - 1);
    CHECK_INT_EQ(sbe_message_split(message.data, message.size, &parts, &err), WL_OK);
    CHECK(!sbe_message_is_batch(&parts));
    sbe_buffer_free(&message);
}

TEST_CASE(message_id_assigned)
{
    pn_message_t *message = pn_message();
    size_t size;
    sbe_message_parts parts;
    wl_error err = {0};
    sbe_buffer properties = {0};

    pn_message_set_subject(message, "kept");
    pn_message_set_content_type(message, "application/json");
    pn_data_put_string(pn_message_body(message), pn_bytes(2, "hi"));
    char *bytes = encode(message, &size);
    CHECK_INT_EQ(sbe_message_split((const uint8_t *)bytes, size, &parts, &err), WL_OK);
    CHECK_INT_EQ(parts.message_id.size, 0);

    sbe_properties_with_message_id(parts.properties, "0123456789abcdef0123456789abcdef",
                                   &properties);
    sbe_buffer rebuilt = {0};
    sbe_buffer_append(&rebuilt, properties.data, properties.size);
    sbe_buffer_append(&rebuilt, parts.body.data, parts.body.size);
    pn_message_t *decoded = pn_message();
    CHECK_INT_EQ(pn_message_decode(decoded, (const char *)rebuilt.data, rebuilt.size), 0);
    pn_msgid_t id = pn_message_get_id(decoded);
    CHECK_INT_EQ(id.type, PN_STRING);
    CHECK(id.u.as_bytes.size == 32 &&
          memcmp(id.u.as_bytes.start, "0123456789abcdef0123456789abcdef", 32) == 0);
    CHECK_STR_EQ(pn_message_get_subject(decoded), "kept");
    CHECK_STR_EQ(pn_message_get_content_type(decoded), "application/json");

    pn_message_free(decoded);
    sbe_buffer_free(&rebuilt);
    sbe_buffer_free(&properties);
    free(bytes);
    pn_message_free(message);
}

TEST_CASE(message_id_forms)
{
    static const uint8_t text_id[] = {0xa1, 0x03, 'a', 'b', 'c'};
    static const uint8_t ulong_id[] = {0x80, 0, 0, 0, 0, 0, 0, 0x01, 0x00};
    static const uint8_t small_ulong_id[] = {0x53, 0x07};
    static const uint8_t binary_id[] = {0xa0, 0x02, 0xbe, 0xef};
    static const uint8_t uuid_id[] = {0x98, 0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde, 0xf0,
                                      0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef};
    char text[64];

    CHECK(sbe_message_id_text((sbe_bytes){text_id, sizeof text_id}, text, sizeof text));
    CHECK_STR_EQ(text, "abc");
    CHECK(sbe_message_id_text((sbe_bytes){ulong_id, sizeof ulong_id}, text, sizeof text));
    CHECK_STR_EQ(text, "256");
    CHECK(
        sbe_message_id_text((sbe_bytes){small_ulong_id, sizeof small_ulong_id}, text, sizeof text));
    CHECK_STR_EQ(text, "7");
    CHECK(sbe_message_id_text((sbe_bytes){binary_id, sizeof binary_id}, text, sizeof text));
    CHECK_STR_EQ(text, "beef");
    CHECK(sbe_message_id_text((sbe_bytes){uuid_id, sizeof uuid_id}, text, sizeof text));
    CHECK_STR_EQ(text, "12345678-9abc-def0-0123-456789abcdef");
}

TEST_CASE(split_survives_damaged_input)
{
    pn_message_t *message = rich_message();
    size_t size;
    char *bytes = encode(message, &size);
    uint8_t *copy = wl_xmalloc(size);
    sbe_message_parts parts;
    size_t accepted = 0;

    /* Every truncation but the full message is invalid; the sanitizer build checks that no
     * read goes past the end. */
    for (size_t length = 0; length < size; length++) {
        memcpy(copy, bytes, length);
        if (sbe_message_split(copy, length, &parts, NULL) == WL_OK) {
            accepted++;
            CHECK(parts.body.data + parts.body.size <= copy + length);
        }
    }
    /* Each byte replaced by every value: valid or not, the split stays inside the buffer. */
    for (size_t at = 0; at < size; at++) {
        for (int value = 0; value < 256; value += 7) {
            memcpy(copy, bytes, size);
            copy[at] = (uint8_t)value;
            if (sbe_message_split(copy, size, &parts, NULL) == WL_OK) {
                CHECK(parts.body.data >= copy && parts.body.data + parts.body.size <= copy + size);
                (void)sbe_message_is_batch(&parts);
            }
        }
    }
    CHECK(sbe_message_split((const uint8_t *)bytes, size, &parts, NULL) == WL_OK);
    /* A truncation that ends exactly between sections can still be a valid message; the
     * encoding of rich_message ends with its only body section, so none is. */
    CHECK_INT_EQ(accepted, 0);
    free(copy);
    free(bytes);
    pn_message_free(message);
}

/* Encodes the map that `data` holds; the caller frees. */
static uint8_t *encode_data(pn_data_t *data, size_t *out_size)
{
    ssize_t size = pn_data_encoded_size(data);
    uint8_t *bytes = wl_xmalloc((size_t)size);

    CHECK(pn_data_encode(data, (char *)bytes, (size_t)size) == size);
    *out_size = (size_t)size;
    return bytes;
}

TEST_CASE(map_entries_merged)
{
    pn_data_t *base = pn_data(0);
    pn_data_t *changes = pn_data(0);

    pn_data_put_map(base);
    pn_data_enter(base);
    pn_data_put_string(base, pn_bytes(4, "kept"));
    pn_data_put_int(base, 1);
    pn_data_put_string(base, pn_bytes(7, "changed"));
    pn_data_put_string(base, pn_bytes(3, "old"));
    pn_data_exit(base);
    /* Symbol keys, as in the message-annotations of a modified outcome. */
    pn_data_put_map(changes);
    pn_data_enter(changes);
    pn_data_put_symbol(changes, pn_bytes(7, "changed"));
    pn_data_put_bool(changes, true);
    pn_data_put_symbol(changes, pn_bytes(5, "added"));
    pn_data_put_long(changes, 5);
    pn_data_put_symbol(changes, pn_bytes(7, "ignored"));
    pn_data_put_long(changes, 6);
    pn_data_exit(changes);

    size_t base_size;
    size_t changes_size;
    uint8_t *base_bytes = encode_data(base, &base_size);
    uint8_t *changes_bytes = encode_data(changes, &changes_size);
    sbe_map_entries base_entries;
    sbe_map_entries change_entries;
    CHECK(sbe_map_entries_read(base_bytes, base_size, &base_entries));
    CHECK(sbe_map_entries_read(changes_bytes, changes_size, &change_entries));
    CHECK_INT_EQ(change_entries.count, 6);
    sbe_bytes value;
    CHECK(sbe_map_entries_find(change_entries, "added", &value));
    CHECK_INT_EQ(value.data[0], 0x55); /* Proton writes a small long as smalllong */
    CHECK(!sbe_map_entries_find(change_entries, "absent", &value));

    static const char *const removed_keys[] = {"changed", "absent", NULL};
    sbe_buffer remaining = {0};
    sbe_map_entries left = {.count =
                                sbe_map_entries_remove(change_entries, removed_keys, &remaining)};
    left.bytes = (sbe_bytes){remaining.data, remaining.size};
    CHECK_INT_EQ(left.count, 4);
    CHECK(!sbe_map_entries_find(left, "changed", &value));
    CHECK(sbe_map_entries_find(left, "added", &value));
    CHECK(sbe_map_entries_find(left, "ignored", &value));
    sbe_buffer_free(&remaining);

    static const char *const ignored[] = {"ignored", NULL};
    sbe_buffer merged = {0};
    uint32_t count = sbe_map_entries_merge(base_entries, change_entries, ignored, &merged);
    CHECK_INT_EQ(count, 6);

    /* Wrap the entries in a map32 and decode them with Proton. */
    sbe_buffer wrapped = {0};
    uint8_t header[9] = {0xd1};
    uint32_t size = (uint32_t)merged.size + 4;
    header[1] = (uint8_t)(size >> 24);
    header[2] = (uint8_t)(size >> 16);
    header[3] = (uint8_t)(size >> 8);
    header[4] = (uint8_t)size;
    header[8] = (uint8_t)count;
    sbe_buffer_append(&wrapped, header, sizeof header);
    sbe_buffer_append(&wrapped, merged.data, merged.size);
    pn_data_t *result = pn_data(0);
    CHECK(pn_data_decode(result, (const char *)wrapped.data, wrapped.size) ==
          (ssize_t)wrapped.size);
    pn_data_rewind(result);
    CHECK(pn_data_next(result));
    CHECK_INT_EQ(pn_data_get_map(result), 6);
    pn_data_enter(result);
    static const char *const keys[] = {"kept", "changed", "added"};
    for (size_t i = 0; i < 3; i++) {
        CHECK(pn_data_next(result));
        /* Every key is a string, as application-properties require. */
        CHECK_INT_EQ(pn_data_type(result), PN_STRING);
        pn_bytes_t key = pn_data_get_string(result);
        CHECK_INT_EQ(key.size, strlen(keys[i]));
        CHECK(memcmp(key.start, keys[i], key.size) == 0);
        CHECK(pn_data_next(result));
    }
    pn_data_rewind(result);
    pn_data_next(result);
    pn_data_enter(result);
    pn_data_next(result);
    pn_data_next(result);
    CHECK_INT_EQ(pn_data_get_int(result), 1);
    pn_data_next(result);
    pn_data_next(result);
    CHECK(pn_data_get_bool(result));
    pn_data_next(result);
    pn_data_next(result);
    CHECK_INT_EQ(pn_data_get_long(result), 5);

    pn_data_free(result);
    sbe_buffer_free(&wrapped);
    sbe_buffer_free(&merged);
    free(base_bytes);
    free(changes_bytes);
    pn_data_free(base);
    pn_data_free(changes);
}

TEST_MAIN(TEST_ENTRY(split_reads_sections), TEST_ENTRY(split_rejects_invalid),
          TEST_ENTRY(batch_envelope_unpacked), TEST_ENTRY(plain_data_is_not_batch),
          TEST_ENTRY(message_id_assigned), TEST_ENTRY(message_id_forms),
          TEST_ENTRY(split_survives_damaged_input), TEST_ENTRY(map_entries_merged))
