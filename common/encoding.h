/*
 * Byte encodings and digests used by the SAS, Cosmos and OAuth code: base64, percent-encoding,
 * hex digits, UTF-8, HMAC-SHA256 (OpenSSL) and random bytes.
 */
#ifndef WL_ENCODING_H
#define WL_ENCODING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WL_SHA256_SIZE 32

/* Computes HMAC-SHA256 of `data` with `key` into `out`. Returns false if OpenSSL fails. */
bool wl_hmac_sha256(const void *key, size_t key_length, const void *data, size_t data_length,
                    uint8_t out[WL_SHA256_SIZE]);

/* Returns standard base64 (with padding) of `data`; caller frees with free(). */
char *wl_base64_encode(const void *data, size_t length);

/*
 * Decodes standard base64 (padding required, no whitespace). Returns a buffer the caller frees
 * with free() and its length in `out_length`, or NULL when `text` is not valid base64.
 */
uint8_t *wl_base64_decode(const char *text, size_t *out_length);

/*
 * Percent-encodes every byte except the RFC 3986 unreserved characters (A-Z a-z 0-9 - . _ ~),
 * as Service Bus SAS tokens, Cosmos authorization headers and OAuth form bodies expect.
 * Caller frees with free().
 */
char *wl_url_encode(const char *text);

/* Decodes %XX escapes (and '+' as space when `plus_is_space`). Returns NULL on a bad escape.
 * Caller frees with free(). */
char *wl_url_decode(const char *text, bool plus_is_space);

/*
 * Copies `url` into `out` (capacity bytes, NUL included, cut if longer) with any user name and
 * password before the host replaced by "***", so that an error message can show the URL without
 * a secret in it.
 */
void wl_url_redact_userinfo(const char *url, char *out, size_t capacity);

/* Returns the value of the hex digit `c` (either case), or -1 when it is not one. */
int wl_hex_digit_value(char c);

/*
 * Decodes the UTF-8 sequence at text[0] (RFC 3629: no overlong forms, no surrogates, nothing
 * above U+10FFFF). Returns its code point and stores its length in `out_length`, or returns -1
 * with a length of 1 when the bytes are not a well-formed sequence. `available` must be >= 1.
 */
int32_t wl_utf8_decode(const uint8_t *text, size_t available, size_t *out_length);

/*
 * Copies `text` into `out` (capacity bytes, NUL included) as valid UTF-8: each byte that starts
 * no well-formed sequence becomes U+FFFD, and the copy ends before the first character that does
 * not fit, never inside one. Returns the bytes written, NUL excluded. For text from peers, such
 * as an HTTP error body, on its way into JSON logs or AMQP strings, which must be UTF-8.
 */
size_t wl_utf8_copy(char *out, size_t capacity, const char *text);

/* Writes `code` (at most U+10FFFF) as UTF-8 into `out`; returns the bytes written, 1 to 4. */
size_t wl_utf8_encode(char out[4], uint32_t code);

/* Fills `out` with cryptographically strong random bytes. Returns false on failure. */
bool wl_random_bytes(void *out, size_t length);

/* Constant-time comparison of two byte strings of the same length. */
bool wl_equal_constant_time(const void *a, const void *b, size_t length);

#endif
