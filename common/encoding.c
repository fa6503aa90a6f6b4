#include "encoding.h"

#include "status.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <string.h>

bool wl_hmac_sha256(const void *key, size_t key_length, const void *data, size_t data_length,
                    uint8_t out[WL_SHA256_SIZE])
{
    unsigned int out_length = WL_SHA256_SIZE;

    if (key_length > INT32_MAX) {
        return false;
    }
    return HMAC(EVP_sha256(), key, (int)key_length, data, data_length, out, &out_length) != NULL &&
           out_length == WL_SHA256_SIZE;
}

char *wl_base64_encode(const void *data, size_t length)
{
    size_t capacity = 4 * ((length + 2) / 3) + 1;
    char *text = wl_xmalloc(capacity);

    EVP_EncodeBlock((unsigned char *)text, data, (int)length);
    return text;
}

uint8_t *wl_base64_decode(const char *text, size_t *out_length)
{
    size_t length = strlen(text);
    size_t padding = 0;
    uint8_t *data;
    int decoded;

    if (length % 4 != 0) {
        return NULL;
    }
    for (size_t i = 0; i < length; i++) {
        unsigned char c = (unsigned char)text[i];
        bool alphabet = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                        (c >= '0' && c <= '9') || c == '+' || c == '/';

        if (c == '=' && i + 2 >= length) {
            padding++;
        } else if (!alphabet || padding > 0) {
            return NULL;
        }
    }
    data = wl_xmalloc(length / 4 * 3 + 1);
    decoded = EVP_DecodeBlock(data, (const unsigned char *)text, (int)length);
    if (decoded < 0) {
        free(data);
        return NULL;
    }
    /* EVP_DecodeBlock counts the padding as zero bytes. */
    *out_length = (size_t)decoded - padding;
    return data;
}

char *wl_url_encode(const char *text)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t length = strlen(text);
    char *out = wl_xmalloc(length * 3 + 1);
    size_t n = 0;

    for (const unsigned char *p = (const unsigned char *)text; *p != '\0'; p++) {
        bool unreserved = (*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
                          (*p >= '0' && *p <= '9') || *p == '-' || *p == '.' || *p == '_' ||
                          *p == '~';
        if (unreserved) {
            out[n++] = (char)*p;
        } else {
            out[n++] = '%';
            out[n++] = hex[*p >> 4];
            out[n++] = hex[*p & 0x0f];
        }
    }
    out[n] = '\0';
    return out;
}

void wl_url_redact_userinfo(const char *url, char *out, size_t capacity)
{
    const char *authority = strstr(url, "://");
    const char *at = NULL;

    if (authority != NULL) {
        authority += 3;
        size_t authority_length = strcspn(authority, "/?#");
        for (size_t i = 0; i < authority_length; i++) {
            if (authority[i] == '@') {
                at = authority + i; /* the last '@' ends the user information (RFC 3986) */
            }
        }
    }
    if (at == NULL) {
        snprintf(out, capacity, "%s", url);
        return;
    }
    snprintf(out, capacity, "%.*s***%s", (int)(authority - url), url, at);
}

int wl_hex_digit_value(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

int32_t wl_utf8_decode(const uint8_t *text, size_t available, size_t *out_length)
{
    uint8_t lead = text[0];
    size_t length;
    uint32_t value;
    uint32_t min_value;

    *out_length = 1;
    if (lead < 0x80) {
        return lead;
    }
    if (lead >= 0xC2 && lead <= 0xDF) {
        length = 2, min_value = 0x80, value = lead & 0x1Fu;
    } else if (lead >= 0xE0 && lead <= 0xEF) {
        length = 3, min_value = 0x800, value = lead & 0x0Fu;
    } else if (lead >= 0xF0 && lead <= 0xF4) {
        length = 4, min_value = 0x10000, value = lead & 0x07u;
    } else {
        return -1;
    }
    if (available < length) {
        return -1;
    }

    for (size_t i = 1; i < length; i++) {
        if ((text[i] & 0xC0) != 0x80) {
            return -1;
        }
        value = (value << 6) | (text[i] & 0x3Fu);
    }
    if (value < min_value || value > 0x10FFFF || (value >= 0xD800 && value <= 0xDFFF)) {
        return -1;
    }
    *out_length = length;
    return (int32_t)value;
}

size_t wl_utf8_copy(char *out, size_t capacity, const char *text)
{
    static const char replacement[] = "\xEF\xBF\xBD"; /* U+FFFD */
    size_t written = 0;
    size_t available = strlen(text);

    if (capacity == 0) {
        return 0;
    }
    for (size_t at = 0; at < available;) {
        size_t length;
        bool valid = wl_utf8_decode((const uint8_t *)text + at, available - at, &length) >= 0;
        const char *bytes = valid ? text + at : replacement;
        size_t size = valid ? length : sizeof replacement - 1;

        if (written + size >= capacity) {
            break;
        }
        memcpy(out + written, bytes, size);
        written += size;
        at += length;
    }
    out[written] = '\0';
    return written;
}

size_t wl_utf8_encode(char out[4], uint32_t code)
{
    if (code < 0x80) {
        out[0] = (char)code;
        return 1;
    }
    if (code < 0x800) {
        out[0] = (char)(0xC0 | (code >> 6));
        out[1] = (char)(0x80 | (code & 0x3F));
        return 2;
    }
    if (code < 0x10000) {
        out[0] = (char)(0xE0 | (code >> 12));
        out[1] = (char)(0x80 | ((code >> 6) & 0x3F));
        out[2] = (char)(0x80 | (code & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (code >> 18));
    out[1] = (char)(0x80 | ((code >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((code >> 6) & 0x3F));
    out[3] = (char)(0x80 | (code & 0x3F));
    return 4;
}

char *wl_url_decode(const char *text, bool plus_is_space)
{
    size_t length = strlen(text);
    char *out = wl_xmalloc(length + 1);
    size_t n = 0;

    for (size_t i = 0; i < length; i++) {
        if (text[i] == '%') {
            /* A short escape meets the terminator, which is not a hex digit. */
            int high = wl_hex_digit_value(text[i + 1]);
            int low = high >= 0 ? wl_hex_digit_value(text[i + 2]) : -1;

            if (high < 0 || low < 0) {
                free(out);
                return NULL;
            }
            out[n++] = (char)(high * 16 + low);
            i += 2;
        } else if (text[i] == '+' && plus_is_space) {
            out[n++] = ' ';
        } else {
            out[n++] = text[i];
        }
    }
    out[n] = '\0';
    return out;
}

bool wl_random_bytes(void *out, size_t length)
{
    return length <= INT32_MAX && RAND_bytes(out, (int)length) == 1;
}

bool wl_equal_constant_time(const void *a, const void *b, size_t length)
{
    return CRYPTO_memcmp(a, b, length) == 0;
}
