/*
 * Status codes and error details shared by every module.
 *
 * Functions in common/ never log. They return a wl_status and, when the caller passes a
 * wl_error, fill it with the first cause of the failure: later failures caused by the first
 * one do not overwrite it, so the final log line names the root cause.
 */
#ifndef WL_STATUS_H
#define WL_STATUS_H

#include <stdarg.h>
#include <stddef.h>

typedef enum wl_status {
    WL_OK = 0,
    WL_ERR_INVALID,     /* invalid argument, configuration or input data */
    WL_ERR_NO_MEMORY,   /* an allocation failed where the caller can recover */
    WL_ERR_IO,          /* a socket, file or TLS operation failed */
    WL_ERR_TIMEOUT,     /* an operation did not finish before its deadline */
    WL_ERR_PROTOCOL,    /* the peer sent something that breaks the protocol */
    WL_ERR_AUTH,        /* authentication or authorization was rejected */
    WL_ERR_NOT_FOUND,   /* the entity, resource or file does not exist */
    WL_ERR_THROTTLED,   /* the peer asked us to slow down (server-busy, HTTP 429) */
    WL_ERR_UNAVAILABLE, /* a transient failure that is worth retrying */
    WL_ERR_TOO_LARGE,   /* a message or document exceeds the peer's limit */
    WL_ERR_CONFLICT,    /* the resource already exists or is in the wrong state */
    WL_ERR_CLOSED,      /* the object was shut down before the operation finished */
} wl_status;

/* Returns a stable lowercase name such as "timeout"; never NULL. */
const char *wl_status_str(wl_status status);

/*
 * First cause of a failure. `condition` carries an AMQP condition name (for example
 * "amqp:unauthorized-access") or an OAuth error code; `http_status` and `activity_id` are set
 * by HTTP clients. Zero-initialise before use: `wl_error err = {0};`.
 */
typedef struct wl_error {
    wl_status status;
    int http_status;
    char condition[96];
    char activity_id[64];
    char message[512];
} wl_error;

/*
 * Records a failure in `err` unless it already contains one, and returns `status` so that a
 * caller can write `return wl_error_set(err, WL_ERR_INVALID, "...")`. `err` may be NULL.
 */
wl_status wl_error_set(wl_error *err, wl_status status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Like wl_error_set, and also records an AMQP condition or OAuth error code. */
wl_status wl_error_set_condition(wl_error *err, wl_status status, const char *condition,
                                 const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Clears `err` so that it can record a new failure. */
void wl_error_clear(wl_error *err);

/*
 * Allocation that aborts the process on failure. Every module uses these: an allocation
 * failure of a few bytes leaves no useful way to continue, and in Kubernetes the memory
 * limit kills the pod first in practice. Checked allocations are kept for sizes taken from
 * input (message bodies), where WL_ERR_NO_MEMORY is returned instead.
 */
void *wl_xmalloc(size_t size);
void *wl_xcalloc(size_t count, size_t size);
void *wl_xrealloc(void *ptr, size_t size);
char *wl_xstrdup(const char *text);
char *wl_xstrndup(const char *text, size_t length);
/* Returns a newly allocated formatted string; caller frees with free(). */
char *wl_xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * Overwrites the string `secret` with zeros and frees it, so that keys, passwords and tokens
 * do not stay in freed heap memory. explicit_bzero is used because the compiler may drop a
 * memset of memory that is freed next. NULL is a no-op.
 */
void wl_free_secret(char *secret);

#endif
