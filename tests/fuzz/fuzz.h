/*
 * Helpers shared by the fuzz targets: a check that stops the run with a message, and a
 * reference UTF-8 decoder. The decoder follows the Unicode table of well-formed byte sequences
 * (Unicode 15, table 3-7) and shares no code with wl_utf8_decode, so it can judge that code.
 */
#ifndef WL_FUZZ_H
#define WL_FUZZ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Prints the failed condition and aborts, which libFuzzer reports as a crash with the input. */
#define FUZZ_CHECK(cond)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);               \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* Returns the length of the well-formed UTF-8 sequence at text[0], or 0 when there is none. */
static inline size_t reference_utf8_length(const uint8_t *text, size_t available)
{
    uint8_t lead = text[0];
    size_t trailing;
    uint8_t second_min = 0x80;
    uint8_t second_max = 0xBF;

    if (lead <= 0x7F) {
        return 1;
    }
    if (lead >= 0xC2 && lead <= 0xDF) {
        trailing = 1;
    } else if (lead == 0xE0) {
        trailing = 2, second_min = 0xA0;
    } else if (lead == 0xED) {
        trailing = 2, second_max = 0x9F;
    } else if (lead >= 0xE1 && lead <= 0xEF) {
        trailing = 2;
    } else if (lead == 0xF0) {
        trailing = 3, second_min = 0x90;
    } else if (lead == 0xF4) {
        trailing = 3, second_max = 0x8F;
    } else if (lead >= 0xF1 && lead <= 0xF3) {
        trailing = 3;
    } else {
        return 0;
    }
    if (available < trailing + 1 || text[1] < second_min || text[1] > second_max) {
        return 0;
    }
    for (size_t i = 2; i <= trailing; i++) {
        if (text[i] < 0x80 || text[i] > 0xBF) {
            return 0;
        }
    }
    return trailing + 1;
}

/* Returns whether `text` is well-formed UTF-8; otherwise stores the first bad offset. */
static inline bool reference_utf8_valid(const uint8_t *text, size_t length, size_t *out_offset)
{
    for (size_t at = 0; at < length;) {
        size_t step = reference_utf8_length(text + at, length - at);
        if (step == 0) {
            *out_offset = at;
            return false;
        }
        at += step;
    }
    return true;
}

/*
 * Returns a NUL-terminated copy of `text` in which each byte that starts no well-formed
 * sequence is replaced by U+FFFD, one replacement per byte, as the consumer's encoders do.
 * Caller frees.
 */
static inline char *reference_utf8_replace(const uint8_t *text, size_t length, size_t *out_length)
{
    char *out = malloc(3 * length + 1);
    size_t written = 0;

    FUZZ_CHECK(out != NULL);
    for (size_t at = 0; at < length;) {
        size_t step = reference_utf8_length(text + at, length - at);
        if (step == 0) {
            memcpy(out + written, "\xEF\xBF\xBD", 3);
            written += 3;
            at++;
        } else {
            memcpy(out + written, text + at, step);
            written += step;
            at += step;
        }
    }
    out[written] = '\0';
    *out_length = written;
    return out;
}

/* Returns a NUL-terminated copy of `size` bytes of fuzz input. Caller frees. */
static inline char *fuzz_text(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);

    FUZZ_CHECK(text != NULL);
    memcpy(text, data, size);
    text[size] = '\0';
    return text;
}

#endif
