/*
 * Text forms of time and identifiers used on the wire: the message stamps, the RFC 1123 date
 * that Cosmos signs, and random UUIDs for message ids.
 */
#ifndef WL_TIMEFMT_H
#define WL_TIMEFMT_H

#include <stdbool.h>
#include <stdint.h>

/* "2026-12-04 06:14:27.123456": UTC, six fractional digits, no zone suffix. */
#define WL_STAMP_SIZE 27
/* "Fri, 04 Dec 2026 06:14:27 GMT" */
#define WL_RFC1123_SIZE 30
/* "2026-12-04T06:14:27.123Z" */
#define WL_ISO8601_SIZE 25
/* "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx" plus the terminator */
#define WL_UUID_SIZE 37

/* Formats `unix_us` (microseconds since the epoch) as a message stamp. */
void wl_format_stamp(int64_t unix_us, char out[WL_STAMP_SIZE]);

/* Parses a message stamp in exactly the form above, on a real date. Second 60, a leap second,
 * is read as the first second of the next minute. Returns false on any deviation. */
bool wl_parse_stamp(const char *text, int64_t *out_unix_us);

/* Formats `unix_seconds` as an RFC 1123 date in GMT with English day and month names. */
void wl_format_rfc1123(int64_t unix_seconds, char out[WL_RFC1123_SIZE]);

/*
 * Parses an RFC 1123 date in exactly the form that wl_format_rfc1123 writes, such as
 * "Fri, 04 Dec 2026 06:14:27 GMT" (the IMF-fixdate of RFC 7231), with the day name of its
 * date. Second 60 is read as in wl_parse_stamp. Returns false on any deviation.
 */
bool wl_parse_rfc1123(const char *text, int64_t *out_unix_seconds);

/* Formats `unix_ms` as ISO 8601 UTC with milliseconds. */
void wl_format_iso8601(int64_t unix_ms, char out[WL_ISO8601_SIZE]);

/* Writes a random (version 4) UUID in lowercase. Returns false if no randomness is available. */
bool wl_uuid_v4(char out[WL_UUID_SIZE]);

/* Formats 16 bytes as a UUID string in the byte order given (RFC 4122 order). */
void wl_uuid_format(const uint8_t bytes[16], char out[WL_UUID_SIZE]);

/* Parses a UUID string (any case) into 16 bytes in RFC 4122 order. */
bool wl_uuid_parse(const char *text, uint8_t out[16]);

/*
 * Converts between RFC 4122 byte order and the .NET GUID byte order that Service Bus uses for
 * lock tokens (the first three groups little-endian). The conversion is its own inverse.
 */
void wl_uuid_swap_guid_order(const uint8_t in[16], uint8_t out[16]);

#endif
