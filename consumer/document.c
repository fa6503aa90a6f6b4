#include "document.h"

#include "timefmt.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

/* Returns the length of the UTF-8 sequence starting at data[0], or 0 when it is malformed. */
static size_t utf8_sequence_length(const uint8_t *data, size_t available)
{
    uint8_t lead = data[0];
    size_t length;
    uint32_t min_value;
    uint32_t value;

    if (lead < 0x80) {
        return 1;
    }
    if (lead >= 0xC2 && lead <= 0xDF) {
        length = 2, min_value = 0x80, value = lead & 0x1Fu;
    } else if (lead >= 0xE0 && lead <= 0xEF) {
        length = 3, min_value = 0x800, value = lead & 0x0Fu;
    } else if (lead >= 0xF0 && lead <= 0xF4) {
        length = 4, min_value = 0x10000, value = lead & 0x07u;
    } else {
        return 0;
    }
    if (available < length) {
        return 0;
    }

    for (size_t i = 1; i < length; i++) {
        if ((data[i] & 0xC0) != 0x80) {
            return 0;
        }
        value = (value << 6) | (data[i] & 0x3Fu);
    }
    if (value < min_value || value > 0x10FFFF || (value >= 0xD800 && value <= 0xDFFF)) {
        return 0;
    }
    return length;
}

bool document_utf8_valid(const uint8_t *data, size_t length, size_t *out_offset)
{
    size_t offset = 0;

    while (offset < length) {
        size_t step = utf8_sequence_length(data + offset, length - offset);

        if (step == 0) {
            if (out_offset) {
                *out_offset = offset;
            }
            return false;
        }
        offset += step;
    }
    return true;
}

static wl_status invalid(wl_error *err, const char *reason, const char *description)
{
    return wl_error_set_condition(err, WL_ERR_INVALID, reason, "%s", description);
}

static wl_status read_string_field(const cJSON *root, const char *name, const char **out_value,
                                   wl_error *err)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(root, name);

    if (item == NULL) {
        return wl_error_set_condition(err, WL_ERR_INVALID, "MissingField",
                                      "the message body has no \"%s\" field", name);
    }
    if (!cJSON_IsString(item) || item->valuestring == NULL) {
        return wl_error_set_condition(err, WL_ERR_INVALID, "InvalidFieldType",
                                      "the field \"%s\" must be a JSON string", name);
    }
    *out_value = item->valuestring;
    return WL_OK;
}

wl_status document_parse_message(const uint8_t *body, size_t length, document_fields *out_fields,
                                 wl_error *err)
{
    wl_status status = WL_OK;
    const char *msg = NULL;
    const char *stamp = NULL;
    cJSON *root = NULL;
    size_t bad_offset = 0;
    int64_t stamp_us = 0;

    memset(out_fields, 0, sizeof *out_fields);
    if (!document_utf8_valid(body, length, &bad_offset)) {
        return wl_error_set_condition(err, WL_ERR_INVALID, "InvalidUtf8",
                                      "the message body is not valid UTF-8 (byte offset %zu)",
                                      bad_offset);
    }

    root = cJSON_ParseWithLength((const char *)body, length);
    if (root == NULL) {
        status = invalid(err, "InvalidJson", "the message body is not valid JSON");
        goto out;
    }
    if (!cJSON_IsObject(root)) {
        status = invalid(err, "NotAnObject", "the message body must be a JSON object");
        goto out;
    }

    status = read_string_field(root, "msg", &msg, err);
    if (status != WL_OK) {
        goto out;
    }
    status = read_string_field(root, "srcStamp", &stamp, err);
    if (status != WL_OK) {
        goto out;
    }
    if (!wl_parse_stamp(stamp, &stamp_us)) {
        status = invalid(err, "InvalidStamp",
                         "the field \"srcStamp\" must be a UTC time in the form "
                         "\"YYYY-MM-DD HH:MM:SS.ffffff\"");
        goto out;
    }

    out_fields->msg = wl_xstrdup(msg);
    out_fields->src_stamp = wl_xstrdup(stamp);
    out_fields->src_unix_us = stamp_us;

out:
    cJSON_Delete(root);
    return status;
}

void document_fields_free(document_fields *fields)
{
    free(fields->msg);
    free(fields->src_stamp);
    memset(fields, 0, sizeof *fields);
}

/* Aborts on allocation failure, the project's policy for small allocations. */
static void check_item(const void *item)
{
    if (item == NULL) {
        abort();
    }
}

char *document_build(const document_fields *fields, const document_meta *meta, int64_t dest_unix_us,
                     size_t *out_length)
{
    char dest_stamp[WL_STAMP_SIZE];
    char enqueued[WL_ISO8601_SIZE];
    cJSON *doc = cJSON_CreateObject();

    check_item(doc);
    wl_format_stamp(dest_unix_us, dest_stamp);
    double processing_seconds = (double)(dest_unix_us - fields->src_unix_us) / 1e6;

    check_item(cJSON_AddStringToObject(doc, "id", meta->message_id));
    check_item(cJSON_AddStringToObject(doc, "data", fields->msg));
    check_item(cJSON_AddStringToObject(doc, "srcStamp", fields->src_stamp));
    check_item(cJSON_AddStringToObject(doc, "destStamp", dest_stamp));
    check_item(cJSON_AddNumberToObject(doc, "messageProcessingTime", processing_seconds));
    if (meta->sequence_number >= 0) {
        check_item(cJSON_AddNumberToObject(doc, "sequenceNumber", (double)meta->sequence_number));
    }
    if (meta->enqueued_unix_ms >= 0) {
        wl_format_iso8601(meta->enqueued_unix_ms, enqueued);
        check_item(cJSON_AddStringToObject(doc, "enqueuedTime", enqueued));
    }
    check_item(cJSON_AddNumberToObject(doc, "deliveryCount", meta->delivery_count));

    char *text = cJSON_PrintUnformatted(doc);
    check_item(text);
    cJSON_Delete(doc);
    *out_length = strlen(text);
    return text;
}
