#include "status.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *wl_status_str(wl_status status)
{
    switch (status) {
    case WL_OK:
        return "ok";
    case WL_ERR_INVALID:
        return "invalid";
    case WL_ERR_NO_MEMORY:
        return "no-memory";
    case WL_ERR_IO:
        return "io";
    case WL_ERR_TIMEOUT:
        return "timeout";
    case WL_ERR_PROTOCOL:
        return "protocol";
    case WL_ERR_AUTH:
        return "auth";
    case WL_ERR_NOT_FOUND:
        return "not-found";
    case WL_ERR_THROTTLED:
        return "throttled";
    case WL_ERR_UNAVAILABLE:
        return "unavailable";
    case WL_ERR_TOO_LARGE:
        return "too-large";
    case WL_ERR_CONFLICT:
        return "conflict";
    case WL_ERR_CLOSED:
        return "closed";
    }
    return "unknown";
}

static wl_status set_va(wl_error *err, wl_status status, const char *condition, const char *fmt,
                        va_list args) __attribute__((format(printf, 4, 0)));

static wl_status set_va(wl_error *err, wl_status status, const char *condition, const char *fmt,
                        va_list args)
{
    if (err == NULL || err->status != WL_OK) {
        return status;
    }
    err->status = status;
    if (condition != NULL) {
        snprintf(err->condition, sizeof err->condition, "%s", condition);
    }
    vsnprintf(err->message, sizeof err->message, fmt, args);
    return status;
}

wl_status wl_error_set(wl_error *err, wl_status status, const char *fmt, ...)
{
    va_list args;

    va_start(args, fmt);
    set_va(err, status, NULL, fmt, args);
    va_end(args);
    return status;
}

wl_status wl_error_set_condition(wl_error *err, wl_status status, const char *condition,
                                 const char *fmt, ...)
{
    va_list args;

    va_start(args, fmt);
    set_va(err, status, condition, fmt, args);
    va_end(args);
    return status;
}

void wl_error_clear(wl_error *err)
{
    if (err != NULL) {
        memset(err, 0, sizeof *err);
    }
}

static void *check_allocation(void *ptr, size_t size)
{
    if (ptr == NULL && size != 0) {
        fprintf(stderr,
                "{\"level\":\"fatal\",\"event\":\"out-of-memory\",\"msg\":\"allocation "
                "of %zu bytes failed\"}\n",
                size);
        abort();
    }
    return ptr;
}

void *wl_xmalloc(size_t size)
{
    return check_allocation(malloc(size == 0 ? 1 : size), size);
}

void *wl_xcalloc(size_t count, size_t size)
{
    return check_allocation(calloc(count == 0 ? 1 : count, size == 0 ? 1 : size), count * size);
}

void *wl_xrealloc(void *ptr, size_t size)
{
    return check_allocation(realloc(ptr, size == 0 ? 1 : size), size);
}

char *wl_xstrdup(const char *text)
{
    return wl_xstrndup(text, strlen(text));
}

char *wl_xstrndup(const char *text, size_t length)
{
    char *copy = wl_xmalloc(length + 1);

    memcpy(copy, text, length);
    copy[length] = '\0';
    return copy;
}

char *wl_xasprintf(const char *fmt, ...)
{
    va_list args;
    va_list copy;
    int length;
    char *text;

    va_start(args, fmt);
    va_copy(copy, args);
    length = vsnprintf(NULL, 0, fmt, copy);
    va_end(copy);
    if (length < 0) {
        va_end(args);
        return wl_xstrdup("");
    }
    text = wl_xmalloc((size_t)length + 1);
    vsnprintf(text, (size_t)length + 1, fmt, args);
    va_end(args);
    return text;
}

void wl_free_secret(char *secret)
{
    if (secret == NULL) {
        return;
    }
    explicit_bzero(secret, strlen(secret));
    free(secret);
}
