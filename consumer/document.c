#include "document.h"

#include "encoding.h"
#include "timefmt.h"

#include <stdlib.h>
#include <string.h>

/* Returns the length of the UTF-8 sequence starting at data[0], or 0 when it is malformed. */
static size_t utf8_sequence_length(const uint8_t *data, size_t available)
{
    size_t length;

    return wl_utf8_decode(data, available, &length) < 0 ? 0 : length;
}

bool document_utf8_valid(const uint8_t *data, size_t length, size_t *out_offset)
{
    size_t offset = 0;

    while (offset < length) {
        /* ASCII needs no decoding, and most bodies are ASCII: 8 bytes at a time while none has
         * its high bit set. */
        uint64_t word;
        if (length - offset >= sizeof word) {
            memcpy(&word, data + offset, sizeof word);
            if ((word & 0x8080808080808080u) == 0) {
                offset += sizeof word;
                continue;
            }
        }
        if (data[offset] < 0x80) {
            offset++;
            continue;
        }
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

wl_status document_check_id(const char *id, size_t length, wl_error *err)
{
    size_t offset = 0;

    if (length == 0) {
        return wl_error_set_condition(err, WL_ERR_INVALID, "InvalidMessageId",
                                      "the message-id is empty, and a Cosmos DB document "
                                      "needs a non-empty id");
    }
    if (!document_utf8_valid((const uint8_t *)id, length, &offset)) {
        return wl_error_set_condition(err, WL_ERR_INVALID, "InvalidMessageId",
                                      "the message-id is not valid UTF-8 (byte offset %zu), so "
                                      "it cannot be the document id",
                                      offset);
    }
    for (offset = 0; offset < length; offset++) {
        char c = id[offset];

        if (c == '\0') {
            return wl_error_set_condition(err, WL_ERR_INVALID, "InvalidMessageId",
                                          "the message-id contains NUL at byte offset %zu, so "
                                          "it cannot be the document id unchanged",
                                          offset);
        }
        if (c == '/' || c == '\\' || c == '?' || c == '#') {
            return wl_error_set_condition(err, WL_ERR_INVALID, "InvalidMessageId",
                                          "the message-id contains '%c' at byte offset %zu, and "
                                          "Cosmos DB does not allow /, \\, ? or # in a "
                                          "document id",
                                          c, offset);
        }
    }
    return WL_OK;
}

/* ---- A strict JSON reader for the message body ----
 *
 * cJSON 1.7.15 changes some inputs without an error. It truncates strings at an escaped NUL
 * and keeps the first of two members with the same name, where JavaScript keeps the last.
 * It rejects numbers longer than 63 characters, and it accepts text that is not JSON
 * (trailing bytes, "01", "1.", raw tabs in strings). This reader follows RFC 8259 exactly and
 * keeps string lengths. It leaves the members it does not need undecoded, so their numbers
 * never lose precision. The caller checks UTF-8 first (document_utf8_valid).
 */

typedef struct json_reader {
    const char *start;
    const char *at;
    const char *end;
    const char *error; /* the first syntax error, found at `at`; NULL while there is none */
} json_reader;

static bool json_fail(json_reader *reader, const char *what)
{
    if (reader->error == NULL) {
        reader->error = what;
    }
    return false;
}

static void json_skip_space(json_reader *reader)
{
    while (reader->at < reader->end && (*reader->at == ' ' || *reader->at == '\t' ||
                                        *reader->at == '\n' || *reader->at == '\r')) {
        reader->at++;
    }
}

/* Reads the 4 hex digits of a \u escape whose 'u' is at reader->at - 1. */
static bool read_hex4(json_reader *reader, uint32_t *out_unit)
{
    uint32_t unit = 0;

    if (reader->end - reader->at < 4) {
        return json_fail(reader, "a \\u escape needs 4 hex digits");
    }
    for (int i = 0; i < 4; i++) {
        int digit = wl_hex_digit_value(reader->at[i]);
        if (digit < 0) {
            return json_fail(reader, "a \\u escape needs 4 hex digits");
        }
        unit = (unit << 4) | (uint32_t)digit;
    }
    reader->at += 4;
    *out_unit = unit;
    return true;
}

/* A decoded JSON string: UTF-8 bytes that may contain NUL, with a NUL after the last. */
typedef struct json_string {
    char *text; /* NULL when the caller did not ask for the value */
    size_t length;
    bool lone_surrogate; /* a \uD800-\uDFFF escape without its pair, which UTF-8 cannot hold */
} json_string;

/* Decodes one escape after its backslash into `out` (when not NULL); returns the bytes written,
 * or 0 on a malformed escape. */
static size_t read_escape(json_reader *reader, char *out, bool *lone_surrogate)
{
    static const char simple_from[] = "\"\\/bfnrt";
    static const char simple_to[] = "\"\\/\b\f\n\r\t";
    char scratch[4];
    char *target = out ? out : scratch;

    if (reader->at >= reader->end) {
        json_fail(reader, "the text ends inside a string");
        return 0;
    }
    char kind = *reader->at++;
    const char *simple = strchr(simple_from, kind);
    if (kind != '\0' && simple != NULL) {
        target[0] = simple_to[simple - simple_from];
        return 1;
    }
    if (kind != 'u') {
        reader->at--;
        json_fail(reader, "invalid escape in a string");
        return 0;
    }

    uint32_t unit = 0;
    if (!read_hex4(reader, &unit)) {
        return 0;
    }
    if (unit >= 0xD800 && unit <= 0xDBFF && reader->end - reader->at >= 6 &&
        reader->at[0] == '\\' && reader->at[1] == 'u') {
        json_reader ahead = *reader;
        uint32_t low = 0;

        ahead.at += 2;
        if (read_hex4(&ahead, &low) && low >= 0xDC00 && low <= 0xDFFF) {
            *reader = ahead;
            uint32_t code = 0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00);
            return wl_utf8_encode(target, code);
        }
        if (ahead.error != NULL) {
            reader->at = ahead.at;
            json_fail(reader, ahead.error);
            return 0;
        }
    }
    if (unit >= 0xD800 && unit <= 0xDFFF) {
        /* Valid JSON but no Unicode character. U+FFFD replaces it, and the caller decides
         * from the flag whether that matters. */
        *lone_surrogate = true;
        return wl_utf8_encode(target, 0xFFFD);
    }
    return wl_utf8_encode(target, unit);
}

/* Returns true when `length` bytes from `text` contain a control character (below 0x20). */
static bool has_control_character(const char *text, size_t length)
{
    unsigned found = 0;

    /* No early exit, so that the compiler can check many bytes per instruction. */
    for (size_t i = 0; i < length; i++) {
        found |= (unsigned char)text[i] < 0x20;
    }
    return found != 0;
}

/*
 * Reads a string that has no escapes, the usual kind, whose text starts at `first`. Returns
 * false and reads nothing when a backslash or a control character comes before the closing
 * quote, or no quote follows. Otherwise copies the text into `out` when set, moves reader->at
 * past the quote and returns true.
 */
static bool read_plain_string(json_reader *reader, const char *first, json_string *out)
{
    const char *quote = memchr(first, '"', (size_t)(reader->end - first));
    size_t length = quote != NULL ? (size_t)(quote - first) : 0;

    if (quote == NULL || memchr(first, '\\', length) != NULL ||
        has_control_character(first, length)) {
        return false;
    }
    if (out) {
        out->text = wl_xmalloc(length + 1);
        memcpy(out->text, first, length);
        out->text[length] = '\0';
        out->length = length;
    }
    reader->at = quote + 1;
    return true;
}

/*
 * Reads a string whose opening quote is at reader->at. With `out` set, decodes it into a new
 * buffer there (caller frees out->text); otherwise only checks it.
 */
static bool read_string(json_reader *reader, json_string *out)
{
    const char *first = ++reader->at;
    json_string local = {0};
    json_string *value = out ? out : &local;
    char *write = NULL;

    if (read_plain_string(reader, first, out)) {
        return true;
    }

    /* Decoded text is never longer than its JSON form. */
    const char *close = first;
    while (close < reader->end && *close != '"') {
        close += *close == '\\' && close + 1 < reader->end ? 2 : 1;
    }
    if (out) {
        value->text = wl_xmalloc((size_t)(close - first) + 1);
        write = value->text;
    }

    while (reader->at < reader->end && *reader->at != '"') {
        unsigned char c = (unsigned char)*reader->at;

        if (c < 0x20) {
            return json_fail(reader, "a control character in a string must be escaped");
        }
        if (c != '\\') {
            if (write) {
                *write++ = (char)c;
            }
            reader->at++;
            continue;
        }
        reader->at++;
        size_t written = read_escape(reader, write, &value->lone_surrogate);
        if (written == 0) {
            return false;
        }
        if (write) {
            write += written;
        }
    }
    if (reader->at >= reader->end) {
        return json_fail(reader, "the text ends inside a string");
    }
    reader->at++;
    if (write) {
        *write = '\0';
        value->length = (size_t)(write - value->text);
    }
    return true;
}

static bool read_digits(json_reader *reader)
{
    const char *first = reader->at;

    while (reader->at < reader->end && *reader->at >= '0' && *reader->at <= '9') {
        reader->at++;
    }
    return reader->at > first;
}

/* Checks a number against the RFC 8259 grammar without converting it. */
static bool read_number(json_reader *reader)
{
    if (*reader->at == '-') {
        reader->at++;
    }
    if (reader->at < reader->end && *reader->at == '0') {
        reader->at++;
    } else if (!read_digits(reader)) {
        return json_fail(reader, "invalid number");
    }
    if (reader->at < reader->end && *reader->at == '.') {
        reader->at++;
        if (!read_digits(reader)) {
            return json_fail(reader, "invalid number: a digit must follow '.'");
        }
    }
    if (reader->at < reader->end && (*reader->at == 'e' || *reader->at == 'E')) {
        reader->at++;
        if (reader->at < reader->end && (*reader->at == '+' || *reader->at == '-')) {
            reader->at++;
        }
        if (!read_digits(reader)) {
            return json_fail(reader, "invalid number: a digit must follow the exponent");
        }
    }
    return true;
}

static bool read_literal(json_reader *reader, const char *word)
{
    size_t length = strlen(word);

    if ((size_t)(reader->end - reader->at) < length || memcmp(reader->at, word, length) != 0) {
        return json_fail(reader, "unexpected character");
    }
    reader->at += length;
    return true;
}

/* Reads a string, number or literal; containers are handled by skip_value. */
static bool read_scalar(json_reader *reader)
{
    switch (*reader->at) {
    case '"':
        return read_string(reader, NULL);
    case 't':
        return read_literal(reader, "true");
    case 'f':
        return read_literal(reader, "false");
    case 'n':
        return read_literal(reader, "null");
    default:
        if (*reader->at == '-' || (*reader->at >= '0' && *reader->at <= '9')) {
            return read_number(reader);
        }
        return json_fail(reader, "unexpected character");
    }
}

/* Reads a member name and its colon, leaving reader->at at the value. When `out_first` is
 * not NULL, the name in its JSON form, quotes excluded, spans [*out_first, *out_last). */
static bool read_member_name(json_reader *reader, const char **out_first, const char **out_last)
{
    json_skip_space(reader);
    if (reader->at >= reader->end || *reader->at != '"') {
        return json_fail(reader, "expected a member name in double quotes");
    }
    const char *first = reader->at + 1;
    if (!read_string(reader, NULL)) {
        return false;
    }
    if (out_first) {
        *out_first = first;
        *out_last = reader->at - 1;
    }
    json_skip_space(reader);
    if (reader->at >= reader->end || *reader->at != ':') {
        return json_fail(reader, "expected ':' after a member name");
    }
    reader->at++;
    return true;
}

/*
 * Skips one value of any depth without recursion, so that a deeply nested body cannot exhaust
 * the thread's stack. The open containers are a bit stack (1 for an object). It lives on the
 * stack for the first 1024 levels and on the heap beyond, so nesting has no limit below the
 * body's size.
 */
static bool skip_value(json_reader *reader)
{
    unsigned char local[128] = {0};
    unsigned char *open = local;
    size_t open_capacity = sizeof local * 8;
    size_t depth = 0;
    bool ok = false;

    for (;;) {
        /* A value starts here. */
        json_skip_space(reader);
        if (reader->at >= reader->end) {
            json_fail(reader, "the text ends where a value was expected");
            goto out;
        }
        char c = *reader->at;
        if (c == '{' || c == '[') {
            if (depth == open_capacity) {
                size_t bytes = (size_t)(reader->end - reader->start) / 8 + 1;
                open = wl_xcalloc(bytes, 1);
                memcpy(open, local, sizeof local);
                open_capacity = bytes * 8;
            }
            if (c == '{') {
                open[depth / 8] |= (unsigned char)(1u << (depth % 8));
            } else {
                open[depth / 8] &= (unsigned char)~(1u << (depth % 8));
            }
            depth++;
            reader->at++;
            json_skip_space(reader);
            char close = c == '{' ? '}' : ']';
            if (reader->at < reader->end && *reader->at == close) {
                reader->at++;
                depth--;
            } else {
                if (c == '{' && !read_member_name(reader, NULL, NULL)) {
                    goto out;
                }
                continue;
            }
        } else if (!read_scalar(reader)) {
            goto out;
        }

        /* A value ended: close containers until one continues with ','. */
        for (;;) {
            if (depth == 0) {
                ok = true;
                goto out;
            }
            bool in_object = open[(depth - 1) / 8] & (1u << ((depth - 1) % 8));
            json_skip_space(reader);
            if (reader->at >= reader->end) {
                json_fail(reader, "the text ends inside an object or array");
                goto out;
            }
            if (*reader->at == ',') {
                reader->at++;
                if (in_object && !read_member_name(reader, NULL, NULL)) {
                    goto out;
                }
                break;
            }
            if (*reader->at != (in_object ? '}' : ']')) {
                json_fail(reader, in_object ? "expected ',' or '}'" : "expected ',' or ']'");
                goto out;
            }
            reader->at++;
            depth--;
        }
    }

out:
    if (open != local) {
        free(open);
    }
    return ok;
}

/* ---- The message body ---- */

enum { FIELD_MSG, FIELD_SRC_STAMP, FIELD_COUNT };
static const char *const field_names[FIELD_COUNT] = {"msg", "srcStamp"};

/* What the body contains for one of the fields the consumer reads. */
typedef struct field_seen {
    int count;         /* members with this name */
    bool not_string;   /* one of them is not a string */
    json_string value; /* the first string value */
} field_seen;

/* Returns the field a member name denotes, or -1. The name spans [first, last) in JSON form. */
static int field_for_name(const char *first, const char *last)
{
    size_t length = (size_t)(last - first);
    int field = -1;

    if (memchr(first, '\\', length) == NULL) {
        for (int i = 0; i < FIELD_COUNT; i++) {
            if (strlen(field_names[i]) == length && memcmp(first, field_names[i], length) == 0) {
                field = i;
            }
        }
        return field;
    }

    /* An escaped name such as "m\u0073g" is still "msg". */
    json_reader again = {.start = first - 1, .at = first - 1, .end = last + 1};
    json_string name = {0};
    if (read_string(&again, &name)) {
        for (int i = 0; i < FIELD_COUNT; i++) {
            if (strlen(field_names[i]) == name.length &&
                memcmp(name.text, field_names[i], name.length) == 0) {
                field = i;
            }
        }
    }
    free(name.text);
    return field;
}

/* Reads one member's value into `seen` when it is one of our fields, else skips it. */
static bool read_member_value(json_reader *reader, int field, field_seen *seen)
{
    json_skip_space(reader);
    if (field < 0) {
        return skip_value(reader);
    }

    field_seen *target = &seen[field];
    target->count++;
    if (reader->at < reader->end && *reader->at == '"' && target->value.text == NULL) {
        return read_string(reader, &target->value);
    }
    if (reader->at >= reader->end || *reader->at != '"') {
        target->not_string = true;
    }
    return skip_value(reader);
}

/* Reads the top-level object whose '{' is at reader->at. */
static bool read_object(json_reader *reader, field_seen *seen)
{
    reader->at++;
    json_skip_space(reader);
    if (reader->at < reader->end && *reader->at == '}') {
        reader->at++;
        return true;
    }
    for (;;) {
        const char *name_first = NULL;
        const char *name_last = NULL;
        if (!read_member_name(reader, &name_first, &name_last)) {
            return false;
        }
        if (!read_member_value(reader, field_for_name(name_first, name_last), seen)) {
            return false;
        }
        json_skip_space(reader);
        if (reader->at < reader->end && *reader->at == ',') {
            reader->at++;
            continue;
        }
        if (reader->at < reader->end && *reader->at == '}') {
            reader->at++;
            return true;
        }
        return json_fail(reader, "expected ',' or '}'");
    }
}

static wl_status invalid(wl_error *err, const char *reason, const char *description)
{
    return wl_error_set_condition(err, WL_ERR_INVALID, reason, "%s", description);
}

static wl_status invalid_json(wl_error *err, const json_reader *reader)
{
    return wl_error_set_condition(err, WL_ERR_INVALID, "InvalidJson",
                                  "the message body is not valid JSON: %s at byte offset %zu",
                                  reader->error ? reader->error : "unexpected text",
                                  (size_t)(reader->at - reader->start));
}

/* Applies the rules for one field, in the order MissingField, InvalidFieldType,
 * DuplicateField, LoneSurrogate. */
static wl_status check_field(const field_seen *seen, const char *name, wl_error *err)
{
    if (seen->count == 0) {
        return wl_error_set_condition(err, WL_ERR_INVALID, "MissingField",
                                      "the message body has no \"%s\" field", name);
    }
    if (seen->not_string) {
        return wl_error_set_condition(err, WL_ERR_INVALID, "InvalidFieldType",
                                      "the field \"%s\" must be a JSON string", name);
    }
    if (seen->count > 1) {
        return wl_error_set_condition(err, WL_ERR_INVALID, "DuplicateField",
                                      "the message body has the field \"%s\" %d times; JSON "
                                      "readers disagree on which one counts, so it must "
                                      "appear once",
                                      name, seen->count);
    }
    if (seen->value.lone_surrogate) {
        return wl_error_set_condition(err, WL_ERR_INVALID, "LoneSurrogate",
                                      "the field \"%s\" has a \\u escape of a UTF-16 surrogate "
                                      "without its pair, which is no Unicode character",
                                      name);
    }
    return WL_OK;
}

/* Reads the body as JSON: WL_OK with the fields' values in `seen`, or the reason it is no
 * JSON object. */
static wl_status read_body(const char *body, size_t length, field_seen *seen, wl_error *err)
{
    json_reader reader = {.start = body, .at = body, .end = body + length};

    json_skip_space(&reader);
    if (reader.at >= reader.end) {
        return invalid(err, "InvalidJson", "the message body is empty or only whitespace");
    }
    bool is_object = *reader.at == '{';
    bool ok = is_object ? read_object(&reader, seen) : skip_value(&reader);
    if (ok) {
        json_skip_space(&reader);
        if (reader.at < reader.end) {
            ok = json_fail(&reader, "unexpected text after the JSON value");
        }
    }
    if (!ok) {
        return invalid_json(err, &reader);
    }
    if (!is_object) {
        return invalid(err, "NotAnObject", "the message body must be a JSON object");
    }
    return WL_OK;
}

wl_status document_parse_message(const uint8_t *body, size_t length, document_fields *out_fields,
                                 wl_error *err)
{
    field_seen seen[FIELD_COUNT] = {0};
    size_t bad_offset = 0;
    int64_t stamp_us = 0;
    wl_status status;

    memset(out_fields, 0, sizeof *out_fields);
    if (!document_utf8_valid(body, length, &bad_offset)) {
        return wl_error_set_condition(err, WL_ERR_INVALID, "InvalidUtf8",
                                      "the message body is not valid UTF-8 (byte offset %zu)",
                                      bad_offset);
    }

    status = read_body((const char *)body, length, seen, err);
    for (int i = 0; i < FIELD_COUNT && status == WL_OK; i++) {
        status = check_field(&seen[i], field_names[i], err);
    }
    if (status != WL_OK) {
        goto out;
    }

    const json_string *stamp = &seen[FIELD_SRC_STAMP].value;
    if (strlen(stamp->text) != stamp->length || !wl_parse_stamp(stamp->text, &stamp_us)) {
        status = invalid(err, "InvalidStamp",
                         "the field \"srcStamp\" must be a UTC time in the form "
                         "\"YYYY-MM-DD HH:MM:SS.ffffff\"");
        goto out;
    }

    out_fields->msg = seen[FIELD_MSG].value.text;
    out_fields->msg_length = seen[FIELD_MSG].value.length;
    out_fields->src_stamp = seen[FIELD_SRC_STAMP].value.text;
    out_fields->src_unix_us = stamp_us;
    return WL_OK;

out:
    for (int i = 0; i < FIELD_COUNT; i++) {
        free(seen[i].value.text);
    }
    return status;
}

void document_fields_free(document_fields *fields)
{
    free(fields->msg);
    free(fields->src_stamp);
    memset(fields, 0, sizeof *fields);
}

/* ---- The result document ---- */

/* Returns the letter of the two-character JSON escape of `c` ('n' for a newline), or NUL when
 * it has none. */
static char short_escape(unsigned char c)
{
    switch (c) {
    case '"':
        return '"';
    case '\\':
        return '\\';
    case '\b':
        return 'b';
    case '\f':
        return 'f';
    case '\n':
        return 'n';
    case '\r':
        return 'r';
    case '\t':
        return 't';
    default:
        return '\0';
    }
}

/*
 * Returns the bytes `text` takes at most as the inside of a JSON string (see
 * append_json_string). The size equals `length` exactly when every byte is printable ASCII
 * other than '"' and '\\', which append_json_string then copies as they are.
 */
static size_t json_string_size(const char *text, size_t length)
{
    size_t size = length;

    /* Branch-free, so that the compiler can check many bytes per instruction. */
    for (size_t i = 0; i < length; i++) {
        unsigned char c = (unsigned char)text[i];

        size += (size_t)(c == '"' || c == '\\'); /* \" or \\ */
        /* \u00XX, or \ufffd for a byte of malformed UTF-8 at most. The short escapes of
         * control characters (\n and the like) take 2, so 6 is an upper bound for them. */
        size += (size_t)(c < 0x20 || c >= 0x80) * 5;
    }
    return size;
}

/*
 * Appends `text` as a quoted JSON string and returns the position after it. Well-formed UTF-8
 * is copied as it is; '"', '\\' and control characters (NUL included) are escaped, and a byte
 * that is not part of well-formed UTF-8 becomes \ufffd, as in the partition key header.
 * `size` is json_string_size of the text.
 */
static char *append_json_string(char *out, const char *text, size_t length, size_t size)
{
    static const char hex[] = "0123456789abcdef";
    size_t i = 0;

    *out++ = '"';
    if (size == length) {
        memcpy(out, text, length); /* nothing to escape or check */
        out += length;
        i = length;
    }
    while (i < length) {
        unsigned char c = (unsigned char)text[i];

        if (c >= 0x80) {
            size_t step = utf8_sequence_length((const uint8_t *)text + i, length - i);
            if (step == 0) {
                memcpy(out, "\\ufffd", 6);
                out += 6;
                i++;
            } else {
                memcpy(out, text + i, step);
                out += step;
                i += step;
            }
            continue;
        }
        char escape = short_escape(c);
        if (escape != '\0') {
            *out++ = '\\';
            *out++ = escape;
        } else if (c < 0x20) {
            memcpy(out, "\\u00", 4);
            out[4] = hex[c >> 4];
            out[5] = hex[c & 0xF];
            out += 6;
        } else {
            *out++ = (char)c;
        }
        i++;
    }
    *out++ = '"';
    return out;
}

static char *append_text(char *out, const char *text)
{
    size_t length = strlen(text);

    memcpy(out, text, length);
    return out + length;
}

/* Appends the decimal digits of `value`. */
static char *append_unsigned(char *out, uint64_t value)
{
    char digits[20];
    int count = 0;

    do {
        digits[count++] = (char)('0' + value % 10);
        value /= 10;
    } while (value > 0);
    while (count > 0) {
        *out++ = digits[--count];
    }
    return out;
}

static char *append_signed(char *out, int64_t value)
{
    if (value < 0) {
        *out++ = '-';
        return append_unsigned(out, (uint64_t)0 - (uint64_t)value);
    }
    return append_unsigned(out, (uint64_t)value);
}

/* Appends microseconds as seconds with six decimals ("0.042100"), exact where a double
 * printed with %g would not be. */
static char *append_seconds(char *out, int64_t microseconds)
{
    uint64_t magnitude =
        microseconds < 0 ? (uint64_t)0 - (uint64_t)microseconds : (uint64_t)microseconds;

    if (microseconds < 0) {
        *out++ = '-';
    }
    out = append_unsigned(out, magnitude / 1000000);
    *out++ = '.';
    uint64_t fraction = magnitude % 1000000;
    for (uint64_t scale = 100000; scale > 0; scale /= 10) {
        *out++ = (char)('0' + fraction / scale % 10);
    }
    return out;
}

char *document_build(const document_fields *fields, const document_meta *meta, int64_t dest_unix_us,
                     size_t *out_length)
{
    char dest_stamp[WL_STAMP_SIZE];
    char enqueued[WL_ISO8601_SIZE];
    size_t id_length = strlen(meta->message_id);
    size_t stamp_length = strlen(fields->src_stamp);

    wl_format_stamp(dest_unix_us, dest_stamp);
    if (meta->enqueued_unix_ms >= 0) {
        wl_format_iso8601(meta->enqueued_unix_ms, enqueued);
    }

    /* Names, punctuation and numbers take under 256 bytes; the strings are measured. */
    size_t id_size = json_string_size(meta->message_id, id_length);
    size_t msg_size = json_string_size(fields->msg, fields->msg_length);
    size_t stamp_size = json_string_size(fields->src_stamp, stamp_length);
    size_t dest_stamp_length = strlen(dest_stamp);
    size_t capacity = 256 + id_size + msg_size + stamp_size + WL_STAMP_SIZE + WL_ISO8601_SIZE;
    char *text = wl_xmalloc(capacity);
    char *at = text;

    at = append_text(at, "{\"id\":");
    at = append_json_string(at, meta->message_id, id_length, id_size);
    at = append_text(at, ",\"data\":");
    at = append_json_string(at, fields->msg, fields->msg_length, msg_size);
    at = append_text(at, ",\"srcStamp\":");
    at = append_json_string(at, fields->src_stamp, stamp_length, stamp_size);
    at = append_text(at, ",\"destStamp\":");
    /* The two stamps that the consumer formats are digits and punctuation, which need no
     * escaping, so their size is their length. */
    at = append_json_string(at, dest_stamp, dest_stamp_length, dest_stamp_length);
    at = append_text(at, ",\"messageProcessingTime\":");
    at = append_seconds(at, dest_unix_us - fields->src_unix_us);
    if (meta->sequence_number >= 0) {
        at = append_text(at, ",\"sequenceNumber\":");
        at = append_signed(at, meta->sequence_number);
    }
    if (meta->enqueued_unix_ms >= 0) {
        at = append_text(at, ",\"enqueuedTime\":");
        size_t enqueued_length = strlen(enqueued);
        at = append_json_string(at, enqueued, enqueued_length, enqueued_length);
    }
    at = append_text(at, ",\"deliveryCount\":");
    at = append_unsigned(at, meta->delivery_count);
    *at++ = '}';
    *at = '\0';

    *out_length = (size_t)(at - text);
    return text;
}
