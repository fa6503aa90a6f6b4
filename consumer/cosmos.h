/*
 * A Cosmos DB (NoSQL) REST client on one curl multi handle.
 *
 * Requests are asynchronous: cosmos_upsert() and friends queue a request and return, and
 * cosmos_poll() drives the transfers and calls each request's completion callback. It uses
 * curl's socket interface on an epoll set (Linux), so each wake-up touches only the sockets
 * that are ready, not every connection, and pooled connections stay registered between
 * requests, so a request on a kept-alive connection makes no epoll_ctl calls. The multi
 * handle keeps HTTP/1.1 connections alive and reuses them, at most `max_connections` at a
 * time to the endpoint. Request slots (an easy handle with its header list and buffers) are
 * pooled: an upsert on a warm slot sets only its date, authorization and partition key lines
 * and its body, and this module allocates nothing for it.
 *
 * Threads: a client belongs to the thread that created it (the consumer's event loop thread).
 *
 * Authorization (with x-ms-date as an RFC 1123 GMT date; upserts dated the same second share
 * one master-key signature):
 *   master key: urlencode("type=master&ver=1.0&sig=" + base64(HMAC-SHA256(base64decode(key),
 *               lower(verb) "\n" lower(resource type) "\n" resource link "\n"
 *               lower(x-ms-date) "\n" "\n")))
 *   Entra:      urlencode("type=aad&ver=1.0&sig=" + access token)
 */
#ifndef CONSUMER_COSMOS_H
#define CONSUMER_COSMOS_H

#include "clock.h"
#include "status.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct cosmos_client cosmos_client;

typedef struct cosmos_options {
    const char *endpoint;           /* "https://account.documents.azure.com:443" */
    const char *database;           /* database id */
    const char *container;          /* container id */
    const char *partition_key_path; /* container partition key path, "/id" when NULL */
    const char *master_key;         /* base64 master key; NULL signs with Entra tokens */
    const char *ca_file;            /* PEM file of trusted CAs; NULL uses the system store */
    int max_connections;            /* concurrent requests and connections; at least 1 */
    int64_t request_timeout_ms;     /* whole request, connect included */
    const wl_clock *clock;          /* x-ms-date and latency; the system clock when NULL */
} cosmos_options;

/* The outcome of one request. Valid only during the completion callback. */
typedef struct cosmos_result {
    int http_status;        /* 0 when no response arrived (see error) */
    int substatus;          /* x-ms-substatus, 0 when absent */
    int64_t retry_after_ms; /* x-ms-retry-after-ms, -1 when absent */
    double request_charge;  /* x-ms-request-charge in request units */
    int64_t latency_us;     /* from queueing the request to its completion */
    char activity_id[64];   /* x-ms-activity-id, empty when absent */
    wl_error error;         /* set unless the status is 2xx: status class, text, activity id */
    /* True when no response arrived because a kept-alive connection failed (a send or receive
     * error, or a close without a reply) and no new connection was tried. The server may
     * have closed it while the request went out, so a new connection may well succeed. */
    bool kept_alive_connection_lost;
    bool opened_connection;   /* the request opened a new connection */
    bool resumed_tls_session; /* that connection resumed an earlier TLS session */
} cosmos_result;

typedef void (*cosmos_done_fn)(void *user, const cosmos_result *result);

/* Creates a client. Returns NULL with `err` set (WL_ERR_INVALID) when an option is invalid,
 * including a CA file that cannot be read or contains no PEM certificate. Destroy with
 * cosmos_client_destroy, which aborts unfinished requests without calling their callbacks. */
cosmos_client *cosmos_client_create(const cosmos_options *options, wl_error *err);
void cosmos_client_destroy(cosmos_client *client);

/* Sets the Entra access token used from the next request on; the client copies it. */
void cosmos_client_set_aad_token(cosmos_client *client, const char *access_token);

/* Returns true when the client signs with the master key. */
bool cosmos_client_uses_key(const cosmos_client *client);

/*
 * Queues an upsert of `document` (JSON, `length` bytes) into the container with the string
 * partition key value `partition_key` (UTF-8, `partition_key_length` bytes, may contain NUL;
 * copied). `document` is borrowed: it must stay valid until `done` is called from a later
 * cosmos_poll(), or until the client is destroyed.
 */
void cosmos_upsert(cosmos_client *client, const char *partition_key, size_t partition_key_length,
                   const char *document, size_t length, cosmos_done_fn done, void *user);

/* Queue a create of the database or the container (201 created, 409 already exists). */
void cosmos_create_database(cosmos_client *client, cosmos_done_fn done, void *user);
void cosmos_create_container(cosmos_client *client, cosmos_done_fn done, void *user);

/* Queues a read of the container (200 when it exists, 404 when it or the database does not). */
void cosmos_read_container(cosmos_client *client, cosmos_done_fn done, void *user);

/*
 * Waits up to `timeout_ms` for socket activity, advances every transfer and calls the
 * callbacks of finished requests. Returns WL_ERR_IO only when curl's multi interface itself
 * fails.
 */
wl_status cosmos_poll(cosmos_client *client, int timeout_ms, wl_error *err);

/*
 * The same without waiting, for a client embedded in another event loop: the loop watches
 * cosmos_fd() and calls this with `sockets_ready` true when it is readable, and with false
 * when cosmos_next_timer_ms() has passed. Each call also runs curl's timer when it is due.
 */
wl_status cosmos_dispatch(cosmos_client *client, bool sockets_ready, wl_error *err);

/* Returns the descriptor that becomes readable when a socket of the client is ready: the
 * client's epoll set, which can be watched by another epoll set or poll(). */
int cosmos_fd(const cosmos_client *client);

/* Returns the monotonic ms (system clock) of curl's next timer, or INT64_MAX when none. */
int64_t cosmos_next_timer_ms(const cosmos_client *client);

/* Returns the number of requests queued or in progress. */
int cosmos_in_flight(const cosmos_client *client);

/* Returns the number of connection sockets in the epoll set: those of requests in progress
 * and pooled connections kept registered between requests. */
int cosmos_watched_sockets(const cosmos_client *client);

/* Bytes of the x-ms-documentdb-partitionkey value for a key of `length` bytes, NUL included:
 * "[\"" and "\"]" around at most 6 output bytes per input byte (a control character). */
#define COSMOS_PARTITION_KEY_JSON_SIZE(length) (6 * (size_t)(length) + 5)

/*
 * Writes the x-ms-documentdb-partitionkey value for one string key, a JSON array of one
 * string, to `out` (COSMOS_PARTITION_KEY_JSON_SIZE(length) bytes) and returns its length.
 * It escapes as @azure/cosmos 4.9.3 does (JSON.stringify, then every UTF-16 code unit from
 * U+007F up as \uXXXX in lowercase hex), so the header is printable ASCII. Characters above
 * U+FFFF become surrogate pairs, and '"', '\\' and control characters get JSON escapes. A
 * byte that is not part of well-formed UTF-8 becomes \ufffd.
 */
size_t cosmos_partition_key_json(const char *value, size_t length, char *out);

/* Bytes of a master-key authorization value, NUL included: the percent-encoded
 * "type=master&ver=1.0&sig=" (34) and at most 3 * 44 for the base64 SHA-256 digest. */
#define COSMOS_MASTER_AUTH_SIZE 168

/*
 * Computes the master-key authorization header value for one request. `date` is the exact
 * x-ms-date header value. Returns a URL-encoded string the caller frees with free(), or NULL
 * when signing fails.
 */
char *cosmos_master_auth(const uint8_t *key, size_t key_length, const char *verb,
                         const char *resource_type, const char *resource_link, const char *date);

/* Returns the Entra authorization header value; caller frees with free(). */
char *cosmos_aad_auth(const char *access_token);

/* Maps an HTTP status from Cosmos to the project's status classes. */
wl_status cosmos_status_class(int http_status);

#endif
