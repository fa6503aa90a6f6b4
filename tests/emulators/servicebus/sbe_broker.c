#include "sbe_broker.h"

#include "amqp.h"
#include "encoding.h"
#include "log.h"
#include "sbe_auth.h"
#include "sbe_codec.h"
#include "sbe_sasl.h"
#include "timefmt.h"

#include <proton/codec.h>
#include <proton/condition.h>
#include <proton/connection.h>
#include <proton/delivery.h>
#include <proton/disposition.h>
#include <proton/event.h>
#include <proton/link.h>
#include <proton/listener.h>
#include <proton/message.h>
#include <proton/netaddr.h>
#include <proton/proactor.h>
#include <proton/session.h>
#include <proton/ssl.h>
#include <proton/terminus.h>
#include <proton/transport.h>

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Credit granted to each sender link, topped up when half is used. */
#define CREDIT_WINDOW 5000
/* Lock and TTL expiry run every TICK_MS, and token expiry every TOKEN_CHECK_TICKS ticks. */
#define TICK_MS           100
#define TOKEN_CHECK_TICKS 10
/* The idle timeout the emulator advertises, as Service Bus does. */
#define IDLE_TIMEOUT_MS 240000
/*
 * The max-frame-size Service Bus advertises. With Proton's default (no limit) uamqp 1.5 sends
 * a 256 KB batch as one frame, which its own frame encoder then rejects.
 */
#define MAX_FRAME_SIZE 65536
/*
 * Bytes one dispatch hands to Proton before it yields to the proactor, which then writes them.
 * Encoding a whole credit window at once (1000 messages of 64 KB is 64 MB) delays the first
 * transfer by the time to encode and frame all of it, long enough for a receiver to give up.
 */
#define DISPATCH_BYTES    (1024 * 1024)
#define MANAGEMENT_SUFFIX "/$management"
#define SESSION_FILTER    "com.microsoft:session-filter"
#define CBS_NODE          "$cbs"

#define DEAD_LETTER_AGAIN_DESCRIPTION                                                              \
    "A message in a dead-letter subqueue cannot be dead-lettered again. Complete it to remove "    \
    "it, or abandon it to leave it there."

typedef enum link_kind {
    LINK_CLOSED,       /* rejected or detached by the emulator; ignored until it goes */
    LINK_CBS_REQUEST,  /* client -> $cbs */
    LINK_CBS_REPLY,    /* $cbs -> client */
    LINK_MGMT_REQUEST, /* client -> queue/$management */
    LINK_MGMT_REPLY,   /* queue/$management -> client */
    LINK_QUEUE_IN,     /* client sends messages to a queue */
    LINK_QUEUE_OUT,    /* client receives from a queue or its dead-letter subqueue */
} link_kind;

typedef struct connection_ctx connection_ctx;

typedef struct pending_reply {
    struct pending_reply *next;
    size_t size;
    uint8_t bytes[];
} pending_reply;

typedef struct link_ctx {
    struct link_ctx *next;          /* in the connection's list */
    struct link_ctx *next_receiver; /* in the queue's receiver list */
    connection_ctx *connection;
    pn_link_t *link;
    link_kind kind;
    sbe_queue *queue;        /* for queue and management links */
    char *entity_path;       /* what the link needs a token for */
    char *reply_address;     /* remote target address of a reply link */
    bool receive_and_delete; /* receiver opened with snd-settle-mode settled */
    bool registered;         /* in the queue's receiver list */
    bool has_credit;         /* cached pn_link_credit > 0, readable from other connections */
    bool drain_ignored;      /* a drain request was ignored and logged (ignore_drain) */
    bool incoming_oversize;
    sbe_buffer incoming; /* a transfer still arriving */
    pending_reply *replies_head;
    pending_reply *replies_tail;
    uint64_t next_tag;
} link_ctx;

typedef struct token_grant {
    struct token_grant *next;
    char *scope; /* entity path the token covers */
    int64_t expires_at_ms;
} token_grant;

struct connection_ctx {
    struct connection_ctx *next;
    sbe_broker *broker;
    pn_connection_t *connection;
    sbe_sasl_context sasl;
    bool tls;
    bool wake_pending;
    bool replies_pending; /* a reply link has replies queued for the next wake */
    unsigned long id;
    token_grant *grants;
    link_ctx *links;
};

typedef struct receiver_list {
    link_ctx *head;
} receiver_list;

struct sbe_broker {
    sbe_store *store;
    sbe_broker_options options;
    const wl_clock *clock;
    pn_proactor_t *proactor;
    pn_listener_t *listener;
    pn_listener_t *tls_listener;
    pn_ssl_domain_t *ssl_domain;
    int amqp_port;
    int tls_port;
    int listeners_expected;
    int listeners_open;
    sbe_ready_fn *ready;
    void *ready_ctx;
    connection_ctx *connections;
    unsigned long next_connection_id;
    receiver_list *receiver_lists; /* two per queue: main and dead-letter */
    sbe_buffer encode_buffer;
    pn_message_t *request;
    atomic_bool stop_requested;
    bool stopping;
    bool failed;
    wl_error failure;
    unsigned tick_count;
};

static int64_t now_ms(const sbe_broker *broker)
{
    return wl_clock_realtime_us(broker->clock) / 1000;
}

/* ---- Connections, tokens and authorization ---- */

static void grant_token(connection_ctx *connection, const char *scope, int64_t expires_at_ms)
{
    for (token_grant *grant = connection->grants; grant != NULL; grant = grant->next) {
        if (strcasecmp(grant->scope, scope) == 0) {
            grant->expires_at_ms = expires_at_ms;
            return;
        }
    }
    token_grant *grant = wl_xcalloc(1, sizeof *grant);
    grant->scope = wl_xstrdup(scope);
    grant->expires_at_ms = expires_at_ms;
    grant->next = connection->grants;
    connection->grants = grant;
}

static bool is_authorized(const connection_ctx *connection, const char *path, int64_t now)
{
    if (connection->sasl.plain_authenticated) {
        return true;
    }
    for (const token_grant *grant = connection->grants; grant != NULL; grant = grant->next) {
        if (grant->expires_at_ms > now && sbe_scope_covers(grant->scope, path)) {
            return true;
        }
    }
    return false;
}

static receiver_list *receivers_of(sbe_queue *queue)
{
    return sbe_queue_user_data(queue);
}

static void register_receiver(link_ctx *link)
{
    receiver_list *list = receivers_of(link->queue);

    link->next_receiver = list->head;
    list->head = link;
    link->registered = true;
}

static void unregister_receiver(link_ctx *link)
{
    if (!link->registered) {
        return;
    }
    receiver_list *list = receivers_of(link->queue);
    for (link_ctx **p = &list->head; *p != NULL; p = &(*p)->next_receiver) {
        if (*p == link) {
            *p = link->next_receiver;
            break;
        }
    }
    link->registered = false;
    link->next_receiver = NULL;
}

/* Wakes every connection with a receiver that has credit on `queue`. */
static void on_queue_available(sbe_queue *queue, void *ctx)
{
    (void)ctx;
    for (link_ctx *link = receivers_of(queue)->head; link != NULL; link = link->next_receiver) {
        connection_ctx *connection = link->connection;
        if (link->has_credit && !connection->wake_pending) {
            connection->wake_pending = true;
            pn_connection_wake(connection->connection);
        }
    }
}

static void link_ctx_free(link_ctx *link)
{
    unregister_receiver(link);
    pending_reply *reply = link->replies_head;
    while (reply != NULL) {
        pending_reply *next = reply->next;
        free(reply);
        reply = next;
    }
    if (link->link != NULL) {
        pn_link_set_context(link->link, NULL);
    }
    sbe_buffer_free(&link->incoming);
    free(link->entity_path);
    free(link->reply_address);
    free(link);
}

static void remove_link_ctx(link_ctx *link)
{
    connection_ctx *connection = link->connection;

    for (link_ctx **p = &connection->links; *p != NULL; p = &(*p)->next) {
        if (*p == link) {
            *p = link->next;
            break;
        }
    }
    link_ctx_free(link);
}

static void connection_ctx_free(connection_ctx *connection)
{
    sbe_broker *broker = connection->broker;

    while (connection->links != NULL) {
        link_ctx *next = connection->links->next;
        link_ctx_free(connection->links);
        connection->links = next;
    }
    while (connection->grants != NULL) {
        token_grant *next = connection->grants->next;
        free(connection->grants->scope);
        free(connection->grants);
        connection->grants = next;
    }
    for (connection_ctx **p = &broker->connections; *p != NULL; p = &(*p)->next) {
        if (*p == connection) {
            *p = connection->next;
            break;
        }
    }
    free(connection);
}

/* Closes `link` with an AMQP error condition and stops serving it. */
static void close_link_with_error(link_ctx *link, const char *condition, const char *description)
{
    pn_condition_t *local = pn_link_condition(link->link);

    pn_condition_set_name(local, condition);
    pn_condition_set_description(local, description);
    pn_link_close(link->link);
    unregister_receiver(link);
    link->kind = LINK_CLOSED;
    LOG_WARN("link-detached", "connection %lu: link \"%s\" detached with %s: %s",
             link->connection->id, pn_link_name(link->link), condition, description);
}

/* ---- Replies on request/response node links ---- */

static void send_bytes(pn_link_t *link, uint64_t tag, const uint8_t *bytes, size_t size)
{
    pn_delivery_t *delivery = pn_delivery(link, pn_dtag((const char *)&tag, sizeof tag));

    pn_link_send(link, (const char *)bytes, size);
    pn_link_advance(link);
    if (pn_link_snd_settle_mode(link) != PN_SND_UNSETTLED) {
        pn_delivery_settle(delivery);
    }
}

static void flush_replies(link_ctx *link)
{
    while (link->replies_head != NULL && pn_link_credit(link->link) > 0) {
        pending_reply *reply = link->replies_head;
        link->replies_head = reply->next;
        if (link->replies_head == NULL) {
            link->replies_tail = NULL;
        }
        send_bytes(link->link, link->next_tag++, reply->bytes, reply->size);
        free(reply);
    }
}

/* Encodes `message` and sends it on `link`, or queues it until the client grants credit. */
static void send_reply(link_ctx *link, pn_message_t *message)
{
    size_t capacity = 4096;
    pending_reply *reply = NULL;

    for (;;) {
        reply = wl_xrealloc(reply, sizeof *reply + capacity);
        size_t size = capacity;
        int rc = pn_message_encode(message, (char *)reply->bytes, &size);
        if (rc == 0) {
            reply->size = size;
            break;
        }
        if (rc != PN_OVERFLOW) {
            LOG_ERROR("reply-encode-failed", "cannot encode a reply: %s", pn_code(rc));
            free(reply);
            return;
        }
        capacity *= 4;
    }
    reply->next = NULL;
    if (link->replies_tail != NULL) {
        link->replies_tail->next = reply;
    } else {
        link->replies_head = reply;
    }
    link->replies_tail = reply;

    /* The reply goes out on the next wake, after this batch has written the disposition
     * that settles the request: uamqp 1.5 fails (and can crash on) a reply that arrives
     * before it. */
    connection_ctx *connection = link->connection;
    connection->replies_pending = true;
    if (!connection->wake_pending) {
        connection->wake_pending = true;
        pn_connection_wake(connection->connection);
    }
}

/*
 * Finds the link a reply goes to. The JS SDK puts its receiver link's name in reply-to;
 * other clients (uamqp, .NET) put the receiver's target address there.
 */
static link_ctx *find_reply_link(connection_ctx *connection, link_kind kind, const char *node,
                                 const char *reply_to)
{
    link_ctx *only = NULL;
    size_t count = 0;

    for (link_ctx *link = connection->links; link != NULL; link = link->next) {
        if (link->kind != kind || strcasecmp(link->entity_path, node) != 0) {
            continue;
        }
        if (reply_to != NULL &&
            (strcmp(pn_link_name(link->link), reply_to) == 0 ||
             (link->reply_address && strcmp(link->reply_address, reply_to) == 0))) {
            return link;
        }
        only = link;
        count++;
    }
    return count == 1 ? only : NULL;
}

/* Returns the string or symbol value of `key` as a new string, or NULL. Caller frees. */
static char *map_get_text(pn_data_t *data, const char *key)
{
    if (!amqp_map_find(data, key)) {
        return NULL;
    }
    pn_type_t type = pn_data_type(data);
    if (type != PN_STRING && type != PN_SYMBOL) {
        return NULL;
    }
    pn_bytes_t text = type == PN_STRING ? pn_data_get_string(data) : pn_data_get_symbol(data);
    return wl_xstrndup(text.start, text.size);
}

/* Opens a reply body `{key: [...]}`: an array of `element_type`, or a list for PN_LIST. The
 * caller fills the collection and closes both levels with two pn_data_exit calls. */
static void reply_body_open(pn_data_t *out, const char *key, pn_type_t element_type)
{
    pn_data_put_map(out);
    pn_data_enter(out);
    pn_data_put_string(out, pn_bytes(strlen(key), key));
    if (element_type == PN_LIST) {
        pn_data_put_list(out);
    } else {
        pn_data_put_array(out, false, element_type);
    }
    pn_data_enter(out);
}

/* Starts a reply to `request` with the given status in application-properties. */
static pn_message_t *reply_begin(pn_message_t *request, const char *status_key,
                                 const char *description_key, int status_code,
                                 const char *description, const char *error_condition)
{
    pn_message_t *reply = pn_message();
    pn_data_t *properties = pn_message_properties(reply);

    pn_message_set_correlation_id(reply, pn_message_get_id(request));
    if (pn_message_get_reply_to(request) != NULL) {
        pn_message_set_address(reply, pn_message_get_reply_to(request));
    }
    pn_data_put_map(properties);
    pn_data_enter(properties);
    pn_data_put_string(properties, pn_bytes(strlen(status_key), status_key));
    pn_data_put_int(properties, status_code);
    pn_data_put_string(properties, pn_bytes(strlen(description_key), description_key));
    pn_data_put_string(properties, pn_bytes(strlen(description), description));
    if (error_condition != NULL) {
        pn_data_put_string(properties, pn_bytes(strlen("errorCondition"), "errorCondition"));
        pn_data_put_symbol(properties, pn_bytes(strlen(error_condition), error_condition));
    }
    pn_data_exit(properties);
    return reply;
}

/* ---- CBS ---- */

/*
 * Checks a put-token request and, when it succeeds, grants the token's scope to the
 * connection. Returns the status code for the reply and fills `description`.
 */
static int cbs_put_token(connection_ctx *connection, const char *type, const char *audience,
                         const char *token, char *description, size_t capacity)
{
    sbe_broker *broker = connection->broker;
    sbe_auth_policy policy = {
        .key_name = broker->options.key_name,
        .key = broker->options.key,
        .allow_jwt = broker->options.allow_jwt,
    };
    sbe_token_check check;

    sbe_check_put_token(&policy, type, audience, token, now_ms(broker), &check);
    snprintf(description, capacity, "%s", check.description);
    if (check.status_code == 202) {
        grant_token(connection, check.scope, check.expires_at_ms);
    }
    free(check.scope);
    return check.status_code;
}

static void handle_cbs_request(link_ctx *link, pn_message_t *request)
{
    connection_ctx *connection = link->connection;
    pn_data_t *properties = pn_message_properties(request);
    char *operation = map_get_text(properties, "operation");
    char *type = map_get_text(properties, "type");
    char *audience = map_get_text(properties, "name");
    char *token = NULL;
    char description[600];
    int status;

    pn_data_t *body = pn_message_body(request);
    pn_data_rewind(body);
    if (pn_data_next(body) && pn_data_type(body) == PN_STRING) {
        pn_bytes_t text = pn_data_get_string(body);
        token = wl_xstrndup(text.start, text.size);
    }
    if (operation == NULL || strcmp(operation, "put-token") != 0) {
        snprintf(description, sizeof description, "operation \"%s\" is not supported on $cbs",
                 operation ? operation : "");
        status = 400;
    } else {
        status = cbs_put_token(connection, type, audience, token, description, sizeof description);
    }
    if (status == 202) {
        LOG_DEBUG("cbs-put-token", "connection %lu: token accepted for %s", connection->id,
                  audience);
    } else {
        LOG_WARN("cbs-put-token-rejected", "connection %lu: put-token for %s rejected with %d: %s",
                 connection->id, audience ? audience : "(none)", status, description);
    }

    link_ctx *reply_link =
        find_reply_link(connection, LINK_CBS_REPLY, CBS_NODE, pn_message_get_reply_to(request));
    if (reply_link == NULL) {
        LOG_WARN("cbs-no-reply-link", "connection %lu: no $cbs receiver matches reply-to \"%s\"",
                 connection->id,
                 pn_message_get_reply_to(request) ? pn_message_get_reply_to(request) : "");
    } else {
        pn_message_t *reply =
            reply_begin(request, "status-code", "status-description", status, description, NULL);
        send_reply(reply_link, reply);
        pn_message_free(reply);
    }
    free(operation);
    free(type);
    free(audience);
    free(token);
}

/*
 * Encodes the map that `data` contains into `buffer` and reads its entries. Returns false when
 * `data` is NULL, empty or not a map.
 */
static bool encode_map_entries(pn_data_t *data, sbe_buffer *buffer, sbe_map_entries *out_entries)
{
    if (data == NULL || pn_data_size(data) == 0) {
        return false;
    }
    pn_data_rewind(data);
    ssize_t size = pn_data_encoded_size(data);
    if (size <= 0) {
        return false;
    }
    buffer->size = 0;
    sbe_buffer_reserve(buffer, (size_t)size);
    size = pn_data_encode(data, (char *)buffer->data, (size_t)size);
    if (size <= 0) {
        return false;
    }
    buffer->size = (size_t)size;
    return sbe_map_entries_read(buffer->data, buffer->size, out_entries);
}

/* ---- $management ---- */

/* Reads the lock-tokens array (uuids in string order) as delivery tags. Caller frees. */
static size_t read_lock_tokens(pn_data_t *body, uint8_t (**out_tokens)[SBE_LOCK_TOKEN_SIZE])
{
    size_t count = 0;

    *out_tokens = NULL;
    if (!amqp_map_find(body, "lock-tokens")) {
        return 0;
    }
    pn_type_t type = pn_data_type(body);
    if (type == PN_ARRAY) {
        count = pn_data_get_array(body);
    } else if (type == PN_LIST) {
        count = pn_data_get_list(body);
    } else {
        return 0;
    }
    *out_tokens = wl_xcalloc(count > 0 ? count : 1, sizeof **out_tokens);
    pn_data_enter(body);
    size_t read = 0;
    while (read < count && pn_data_next(body)) {
        if (pn_data_type(body) != PN_UUID) {
            continue;
        }
        pn_uuid_t uuid = pn_data_get_uuid(body);
        wl_uuid_swap_guid_order((const uint8_t *)uuid.bytes, (*out_tokens)[read]);
        read++;
    }
    pn_data_exit(body);
    return read;
}

static pn_message_t *management_renew_lock(sbe_queue *queue, pn_message_t *request)
{
    pn_data_t *body = pn_message_body(request);
    uint8_t(*tokens)[SBE_LOCK_TOKEN_SIZE];
    size_t count = read_lock_tokens(body, &tokens);
    int64_t *expirations = wl_xcalloc(count > 0 ? count : 1, sizeof *expirations);
    pn_message_t *reply;

    for (size_t i = 0; i < count; i++) {
        if (sbe_queue_renew_lock(queue, tokens[i], &expirations[i]) != WL_OK) {
            reply = reply_begin(request, "statusCode", "statusDescription", 410,
                                "The lock supplied is invalid. Either the lock expired, or the "
                                "message has already been removed from the queue.",
                                "com.microsoft:message-lock-lost");
            goto out;
        }
    }
    if (count == 0) {
        reply = reply_begin(request, "statusCode", "statusDescription", 400,
                            "renew-lock needs a lock-tokens array of uuid", "amqp:invalid-field");
        goto out;
    }
    reply = reply_begin(request, "statusCode", "statusDescription", 200, "OK", NULL);
    pn_data_t *out = pn_message_body(reply);
    reply_body_open(out, "expirations", PN_TIMESTAMP);
    for (size_t i = 0; i < count; i++) {
        pn_data_put_timestamp(out, expirations[i]);
    }
    pn_data_exit(out);
    pn_data_exit(out);

out:
    free(tokens);
    free(expirations);
    return reply;
}

static pn_message_t *management_update_disposition(sbe_queue *queue, pn_message_t *request)
{
    pn_data_t *body = pn_message_body(request);
    char *status_text = map_get_text(body, "disposition-status");
    char *reason = map_get_text(body, "deadletter-reason");
    char *description = map_get_text(body, "deadletter-description");
    uint8_t(*tokens)[SBE_LOCK_TOKEN_SIZE];
    size_t count = read_lock_tokens(body, &tokens);
    sbe_outcome outcome = SBE_OUTCOME_COMPLETE;
    pn_message_t *reply = NULL;

    if (status_text == NULL || count == 0) {
        reply = reply_begin(request, "statusCode", "statusDescription", 400,
                            "update-disposition needs disposition-status and lock-tokens",
                            "amqp:invalid-field");
        goto out;
    }
    if (strcmp(status_text, "completed") == 0) {
        outcome = SBE_OUTCOME_COMPLETE;
    } else if (strcmp(status_text, "abandoned") == 0) {
        outcome = SBE_OUTCOME_ABANDON;
    } else if (strcmp(status_text, "suspended") == 0) {
        outcome = SBE_OUTCOME_DEAD_LETTER;
    } else if (strcmp(status_text, "defered") == 0 || strcmp(status_text, "deferred") == 0) {
        outcome = SBE_OUTCOME_DEFER;
    } else {
        reply = reply_begin(request, "statusCode", "statusDescription", 400,
                            "disposition-status must be completed, abandoned, suspended or "
                            "defered",
                            "amqp:invalid-field");
        goto out;
    }
    /* properties-to-modify is a map inside the request's body map. */
    sbe_buffer encoded_body = {0};
    sbe_map_entries body_entries;
    sbe_bytes modify_value;
    sbe_map_entries properties_to_modify = {0};
    if (encode_map_entries(body, &encoded_body, &body_entries) &&
        sbe_map_entries_find(body_entries, "properties-to-modify", &modify_value) &&
        !sbe_map_entries_read(modify_value.data, modify_value.size, &properties_to_modify)) {
        properties_to_modify = (sbe_map_entries){0};
    }
    for (size_t i = 0; i < count; i++) {
        wl_status status = sbe_queue_settle_modified(queue, tokens[i], outcome, reason, description,
                                                     &properties_to_modify);
        if (status == WL_ERR_CONFLICT) {
            sbe_buffer_free(&encoded_body);
            reply = reply_begin(request, "statusCode", "statusDescription", 400,
                                DEAD_LETTER_AGAIN_DESCRIPTION, "amqp:not-allowed");
            goto out;
        }
        if (status != WL_OK) {
            sbe_buffer_free(&encoded_body);
            reply = reply_begin(request, "statusCode", "statusDescription", 410,
                                "The lock supplied is invalid. Either the lock expired, or the "
                                "message has already been removed from the queue.",
                                "com.microsoft:message-lock-lost");
            goto out;
        }
    }
    sbe_buffer_free(&encoded_body);
    reply = reply_begin(request, "statusCode", "statusDescription", 200, "OK", NULL);

out:
    free(status_text);
    free(reason);
    free(description);
    free(tokens);
    return reply;
}

static pn_message_t *management_peek(sbe_broker *broker, sbe_queue *queue, pn_message_t *request)
{
    pn_data_t *body = pn_message_body(request);
    int64_t from = 1;
    int64_t count = 1;

    amqp_map_get_int(body, "from-sequence-number", &from);
    amqp_map_get_int(body, "message-count", &count);
    const sbe_message *message = sbe_queue_first_from(queue, from);
    if (message == NULL || count <= 0) {
        return reply_begin(request, "statusCode", "statusDescription", 204, "No Content", NULL);
    }

    pn_message_t *reply = reply_begin(request, "statusCode", "statusDescription", 200, "OK", NULL);
    pn_data_t *out = pn_message_body(reply);
    reply_body_open(out, "messages", PN_LIST);
    for (int64_t i = 0; i < count && message != NULL; i++, message = sbe_queue_next(message)) {
        broker->encode_buffer.size = 0;
        sbe_message_encode(message, false, &broker->encode_buffer);
        pn_data_put_map(out);
        pn_data_enter(out);
        pn_data_put_string(out, pn_bytes(strlen("message"), "message"));
        pn_data_put_binary(
            out, pn_bytes(broker->encode_buffer.size, (const char *)broker->encode_buffer.data));
        pn_data_exit(out);
    }
    pn_data_exit(out);
    pn_data_exit(out);
    return reply;
}

/* Reads the sequence-numbers array of a receive-by-sequence-number request. Caller frees. */
static size_t read_sequence_numbers(pn_data_t *body, int64_t **out_numbers)
{
    size_t count = 0;

    *out_numbers = NULL;
    if (!amqp_map_find(body, "sequence-numbers")) {
        return 0;
    }
    if (pn_data_type(body) == PN_ARRAY) {
        count = pn_data_get_array(body);
    } else if (pn_data_type(body) == PN_LIST) {
        count = pn_data_get_list(body);
    } else {
        return 0;
    }
    *out_numbers = wl_xcalloc(count > 0 ? count : 1, sizeof **out_numbers);
    pn_data_enter(body);
    size_t read = 0;
    while (read < count && pn_data_next(body)) {
        if (pn_data_type(body) == PN_LONG) {
            (*out_numbers)[read++] = pn_data_get_long(body);
        } else if (pn_data_type(body) == PN_ULONG) {
            (*out_numbers)[read++] = (int64_t)pn_data_get_ulong(body);
        }
    }
    pn_data_exit(body);
    return read;
}

static pn_message_t *management_receive_deferred(sbe_broker *broker, sbe_queue *queue,
                                                 pn_message_t *request)
{
    pn_data_t *body = pn_message_body(request);
    int64_t *numbers;
    size_t count = read_sequence_numbers(body, &numbers);
    int64_t settle_mode = 1;
    char description[200];
    pn_message_t *reply;

    /* receiver-settle-mode 0 is receive-and-delete; anything else is peek-lock. */
    amqp_map_get_int(body, "receiver-settle-mode", &settle_mode);
    if (count == 0) {
        reply = reply_begin(request, "statusCode", "statusDescription", 400,
                            "receive-by-sequence-number needs a sequence-numbers array of long",
                            "amqp:invalid-field");
        goto out;
    }
    for (size_t i = 0; i < count; i++) {
        if (!sbe_queue_has_deferred(queue, numbers[i])) {
            snprintf(description, sizeof description,
                     "The message with sequence number %lld was not found or is not deferred.",
                     (long long)numbers[i]);
            reply = reply_begin(request, "statusCode", "statusDescription", 410, description,
                                "com.microsoft:message-not-found");
            goto out;
        }
    }

    reply = reply_begin(request, "statusCode", "statusDescription", 200, "OK", NULL);
    pn_data_t *out = pn_message_body(reply);
    reply_body_open(out, "messages", PN_LIST);
    for (size_t i = 0; i < count; i++) {
        bool take = settle_mode == 0;
        sbe_message *message = sbe_queue_receive_deferred(queue, numbers[i], take);
        if (message == NULL) {
            continue; /* a repeated sequence number */
        }
        broker->encode_buffer.size = 0;
        if (take) {
            sbe_message_encode(message, false, &broker->encode_buffer);
        } else {
            sbe_message_encode_with_lock_token(message, &broker->encode_buffer);
        }
        pn_data_put_map(out);
        pn_data_enter(out);
        pn_data_put_string(out, pn_bytes(strlen("message"), "message"));
        pn_data_put_binary(
            out, pn_bytes(broker->encode_buffer.size, (const char *)broker->encode_buffer.data));
        if (!take) {
            pn_uuid_t uuid;
            wl_uuid_swap_guid_order(message->lock_token, (uint8_t *)uuid.bytes);
            pn_data_put_string(out, pn_bytes(strlen("lock-token"), "lock-token"));
            pn_data_put_uuid(out, uuid);
        } else {
            sbe_message_free(message);
        }
        pn_data_exit(out);
    }
    pn_data_exit(out);
    pn_data_exit(out);

out:
    free(numbers);
    return reply;
}

/*
 * Schedules the messages of a schedule-message request: a "messages" list of maps whose
 * "message" binary is an encoded message carrying x-opt-scheduled-enqueue-time.
 */
static pn_message_t *management_schedule(sbe_queue *queue, pn_message_t *request)
{
    pn_data_t *body = pn_message_body(request);
    sbe_buffer numbers = {0};
    size_t count = 0;
    wl_error err = {0};
    pn_message_t *reply = NULL;

    if (!amqp_map_find(body, "messages") ||
        (pn_data_type(body) != PN_LIST && pn_data_type(body) != PN_ARRAY)) {
        return reply_begin(request, "statusCode", "statusDescription", 400,
                           "schedule-message needs a messages list", "amqp:invalid-field");
    }
    pn_data_enter(body);
    while (pn_data_next(body)) {
        if (pn_data_type(body) != PN_MAP) {
            continue;
        }
        pn_data_enter(body);
        pn_bytes_t encoded = pn_bytes(0, NULL);
        while (pn_data_next(body)) {
            pn_bytes_t name = pn_data_type(body) == PN_STRING   ? pn_data_get_string(body)
                              : pn_data_type(body) == PN_SYMBOL ? pn_data_get_symbol(body)
                                                                : pn_bytes(0, NULL);
            if (!pn_data_next(body)) {
                break;
            }
            if (name.size == 7 && memcmp(name.start, "message", 7) == 0 &&
                pn_data_type(body) == PN_BINARY) {
                encoded = pn_data_get_binary(body);
            }
        }
        pn_data_exit(body);

        sbe_message_parts parts;
        int64_t sequence_number = 0;
        if (encoded.size == 0 ||
            sbe_message_split((const uint8_t *)encoded.start, encoded.size, &parts, &err) !=
                WL_OK ||
            sbe_queue_schedule(queue, &parts, parts.scheduled_enqueue_time_ms, &sequence_number,
                               &err) != WL_OK) {
            reply = reply_begin(request, "statusCode", "statusDescription",
                                err.status == WL_ERR_THROTTLED ? 403 : 400,
                                err.message[0] ? err.message : "a scheduled message is missing",
                                err.condition[0] ? err.condition : "amqp:invalid-field");
            break;
        }
        sbe_buffer_append(&numbers, &sequence_number, sizeof sequence_number);
        count++;
    }
    pn_data_exit(body);
    if (reply != NULL) {
        sbe_buffer_free(&numbers);
        return reply;
    }

    reply = reply_begin(request, "statusCode", "statusDescription", 200, "OK", NULL);
    pn_data_t *out = pn_message_body(reply);
    reply_body_open(out, "sequence-numbers", PN_LONG);
    for (size_t i = 0; i < count; i++) {
        int64_t sequence_number;
        memcpy(&sequence_number, numbers.data + i * sizeof sequence_number, sizeof sequence_number);
        pn_data_put_long(out, sequence_number);
    }
    pn_data_exit(out);
    pn_data_exit(out);
    sbe_buffer_free(&numbers);
    return reply;
}

static pn_message_t *management_cancel_scheduled(sbe_queue *queue, pn_message_t *request)
{
    int64_t *numbers;
    size_t count = read_sequence_numbers(pn_message_body(request), &numbers);
    char description[200];
    pn_message_t *reply = NULL;

    for (size_t i = 0; i < count && reply == NULL; i++) {
        if (sbe_queue_cancel_scheduled(queue, numbers[i]) != WL_OK) {
            snprintf(description, sizeof description,
                     "No scheduled message has sequence number %lld.", (long long)numbers[i]);
            reply = reply_begin(request, "statusCode", "statusDescription", 410, description,
                                "com.microsoft:message-not-found");
        }
    }
    if (reply == NULL) {
        reply = reply_begin(request, "statusCode", "statusDescription", 200, "OK", NULL);
    }
    free(numbers);
    return reply;
}

static void handle_management_request(link_ctx *link, pn_message_t *request)
{
    connection_ctx *connection = link->connection;
    char *operation = map_get_text(pn_message_properties(request), "operation");
    pn_message_t *reply;

    if (operation != NULL && strcmp(operation, "com.microsoft:renew-lock") == 0) {
        reply = management_renew_lock(link->queue, request);
    } else if (operation != NULL && strcmp(operation, "com.microsoft:update-disposition") == 0) {
        reply = management_update_disposition(link->queue, request);
    } else if (operation != NULL && strcmp(operation, "com.microsoft:peek-message") == 0) {
        reply = management_peek(connection->broker, link->queue, request);
    } else if (operation != NULL && strcmp(operation, "com.microsoft:schedule-message") == 0) {
        reply = management_schedule(link->queue, request);
    } else if (operation != NULL &&
               strcmp(operation, "com.microsoft:cancel-scheduled-message") == 0) {
        reply = management_cancel_scheduled(link->queue, request);
    } else if (operation != NULL &&
               strcmp(operation, "com.microsoft:receive-by-sequence-number") == 0) {
        reply = management_receive_deferred(connection->broker, link->queue, request);
    } else {
        char description[200];
        snprintf(description, sizeof description,
                 "operation \"%s\" is not supported by this emulator", operation ? operation : "");
        reply = reply_begin(request, "statusCode", "statusDescription", 501, description,
                            "com.microsoft:not-implemented");
        LOG_WARN("management-unsupported", "connection %lu: %s", connection->id, description);
    }

    link_ctx *reply_link = find_reply_link(connection, LINK_MGMT_REPLY, link->entity_path,
                                           pn_message_get_reply_to(request));
    if (reply_link == NULL) {
        LOG_WARN("management-no-reply-link",
                 "connection %lu: no %s receiver matches reply-to \"%s\"", connection->id,
                 link->entity_path,
                 pn_message_get_reply_to(request) ? pn_message_get_reply_to(request) : "");
    } else {
        send_reply(reply_link, reply);
    }
    pn_message_free(reply);
    free(operation);
}

/* ---- Queue links ---- */

static void reject_delivery(pn_delivery_t *delivery, const char *condition, const char *description)
{
    pn_condition_t *local = pn_disposition_condition(pn_delivery_local(delivery));

    pn_condition_set_name(local, condition);
    pn_condition_set_description(local, description);
    pn_delivery_update(delivery, PN_REJECTED);
}

/* Stores one transfer (a message or a batch envelope). Returns false after rejecting it. */
static bool enqueue_transfer(link_ctx *link, pn_delivery_t *delivery)
{
    sbe_message_parts parts;
    wl_error err = {0};
    char description[300];
    bool duplicate = false;

    if (sbe_message_split(link->incoming.data, link->incoming.size, &parts, &err) != WL_OK) {
        reject_delivery(delivery, "amqp:decode-error", err.message);
        return false;
    }
    if (!sbe_message_is_batch(&parts)) {
        if (sbe_queue_enqueue(link->queue, &parts, &duplicate, &err) != WL_OK) {
            reject_delivery(delivery, err.condition, err.message);
            return false;
        }
        return true;
    }

    size_t count = 0;
    size_t cursor = 0;
    sbe_bytes data;
    while (sbe_body_next_data(parts.body, &cursor, &data)) {
        count++;
    }
    if (!sbe_queue_has_room(link->queue, count)) {
        snprintf(description, sizeof description,
                 "queue %s cannot take %zu more messages: it is at its maximum size",
                 sbe_queue_path(link->queue), count);
        reject_delivery(delivery, "amqp:resource-limit-exceeded", description);
        return false;
    }
    cursor = 0;
    while (sbe_body_next_data(parts.body, &cursor, &data)) {
        sbe_message_parts inner;
        /* sbe_message_is_batch has split every inner message once already. */
        if (sbe_message_split(data.data, data.size, &inner, &err) != WL_OK ||
            sbe_queue_enqueue(link->queue, &inner, &duplicate, &err) != WL_OK) {
            reject_delivery(delivery, err.condition[0] ? err.condition : "amqp:decode-error",
                            err.message);
            return false;
        }
    }
    return true;
}

static void process_request(link_ctx *link)
{
    sbe_broker *broker = link->connection->broker;
    pn_message_t *request = broker->request;

    pn_message_clear(request);
    if (pn_message_decode(request, (const char *)link->incoming.data, link->incoming.size) != 0) {
        LOG_WARN("request-decode-failed", "connection %lu: cannot decode a request on %s",
                 link->connection->id, link->entity_path);
        return;
    }
    if (link->kind == LINK_CBS_REQUEST) {
        handle_cbs_request(link, request);
    } else {
        handle_management_request(link, request);
    }
}

static void on_incoming_delivery(link_ctx *link, pn_delivery_t *delivery)
{
    pn_link_t *pn = link->link;

    if (pn_delivery_aborted(delivery)) {
        link->incoming.size = 0;
        link->incoming_oversize = false;
        pn_delivery_settle(delivery);
        return;
    }
    if (!pn_delivery_readable(delivery)) {
        return;
    }
    size_t pending = pn_delivery_pending(delivery);
    while (pending > 0) {
        if (!link->incoming_oversize && link->incoming.size + pending > SBE_MAX_MESSAGE_SIZE) {
            link->incoming_oversize = true;
        }
        size_t start = link->incoming_oversize ? 0 : link->incoming.size;
        link->incoming.size = start;
        sbe_buffer_reserve(&link->incoming, pending);
        ssize_t got = pn_link_recv(pn, (char *)link->incoming.data + start, pending);
        if (got <= 0) {
            break;
        }
        link->incoming.size = start + (size_t)got;
        pending = pn_delivery_pending(delivery);
    }
    if (pn_delivery_partial(delivery)) {
        return;
    }

    pn_link_advance(pn);
    if (link->kind == LINK_QUEUE_IN) {
        if (link->incoming_oversize) {
            reject_delivery(delivery, "amqp:link:message-size-exceeded",
                            "The message exceeds the limit of 262144 bytes allowed on the link.");
        } else if (enqueue_transfer(link, delivery)) {
            pn_delivery_update(delivery, PN_ACCEPTED);
        }
    } else if (link->kind == LINK_CBS_REQUEST || link->kind == LINK_MGMT_REQUEST) {
        /* Settle the request before replying, as Service Bus does. */
        pn_delivery_update(delivery, PN_ACCEPTED);
        pn_delivery_settle(delivery);
        delivery = NULL;
        if (!link->incoming_oversize) {
            process_request(link);
        }
    }
    if (delivery != NULL) {
        pn_delivery_settle(delivery);
    }
    link->incoming.size = 0;
    link->incoming_oversize = false;

    int credit = pn_link_credit(pn);
    if (credit < CREDIT_WINDOW / 2 && pn_link_state(pn) & PN_LOCAL_ACTIVE) {
        pn_link_flow(pn, CREDIT_WINDOW - credit);
    }
}

/* Sends available messages to a receiver link within its credit and completes a drain. */
static void dispatch(link_ctx *link)
{
    sbe_broker *broker = link->connection->broker;
    pn_link_t *pn = link->link;

    if (link->kind != LINK_QUEUE_OUT || !(pn_link_state(pn) & PN_LOCAL_ACTIVE)) {
        return;
    }
    size_t dispatched = 0;
    while (pn_link_credit(pn) > 0) {
        if (dispatched >= DISPATCH_BYTES) {
            /* The rest goes out on the next wake, after the proactor wrote this part. */
            connection_ctx *connection = link->connection;
            if (!connection->wake_pending) {
                connection->wake_pending = true;
                pn_connection_wake(connection->connection);
            }
            break;
        }
        sbe_message *message = link->receive_and_delete ? sbe_queue_take_next(link->queue)
                                                        : sbe_queue_lock_next(link->queue);
        if (message == NULL) {
            break;
        }
        broker->encode_buffer.size = 0;
        sbe_message_encode(message, !link->receive_and_delete, &broker->encode_buffer);
        pn_delivery_t *delivery;
        if (link->receive_and_delete) {
            uint64_t tag = link->next_tag++;
            delivery = pn_delivery(pn, pn_dtag((const char *)&tag, sizeof tag));
        } else {
            delivery = pn_delivery(
                pn, pn_dtag((const char *)message->lock_token, sizeof message->lock_token));
        }
        pn_link_send(pn, (const char *)broker->encode_buffer.data, broker->encode_buffer.size);
        pn_link_advance(pn);
        dispatched += broker->encode_buffer.size;
        if (link->receive_and_delete) {
            pn_delivery_settle(delivery);
            sbe_message_free(message);
        }
    }
    if (pn_link_get_drain(pn) && pn_link_credit(pn) > 0) {
        if (!broker->options.ignore_drain) {
            pn_link_drained(pn);
        } else if (!link->drain_ignored) {
            link->drain_ignored = true;
            LOG_INFO("drain-ignored",
                     "connection %lu: ignoring the drain of link \"%s\" with credit %d "
                     "(--ignore-drain)",
                     link->connection->id, pn_link_name(pn), pn_link_credit(pn));
        }
    }
    link->has_credit = pn_link_credit(pn) > 0;
}

static void settle_outgoing(link_ctx *link, pn_delivery_t *delivery)
{
    uint64_t state = pn_delivery_remote_state(delivery);
    pn_disposition_t *remote = pn_delivery_remote(delivery);
    pn_delivery_tag_t tag = pn_delivery_tag(delivery);
    sbe_outcome outcome;
    char *reason = NULL;
    char *description = NULL;
    pn_data_t *changes = NULL; /* the properties to modify that the disposition carries */

    switch (state) {
    case PN_ACCEPTED:
        outcome = SBE_OUTCOME_COMPLETE;
        break;
    case PN_RELEASED:
        outcome = link->connection->broker->options.release_keeps_delivery_count
                      ? SBE_OUTCOME_RELEASE
                      : SBE_OUTCOME_ABANDON;
        break;
    case PN_MODIFIED:
        outcome = pn_disposition_is_undeliverable(remote) ? SBE_OUTCOME_DEFER : SBE_OUTCOME_ABANDON;
        changes = pn_disposition_annotations(remote);
        break;
    case PN_REJECTED: {
        /* Service Bus dead-letters a rejected message, and the SDKs send the reason in info. */
        pn_condition_t *condition = pn_disposition_condition(remote);
        pn_data_t *info = pn_condition_info(condition);
        outcome = SBE_OUTCOME_DEAD_LETTER;
        changes = info;
        reason = map_get_text(info, "DeadLetterReason");
        description = map_get_text(info, "DeadLetterErrorDescription");
        if (reason == NULL && pn_condition_get_name(condition) != NULL &&
            strcmp(pn_condition_get_name(condition), "com.microsoft:dead-letter") != 0) {
            reason = wl_xstrdup(pn_condition_get_name(condition));
        }
        if (description == NULL && pn_condition_get_description(condition) != NULL) {
            description = wl_xstrdup(pn_condition_get_description(condition));
        }
        break;
    }
    default:
        /* A received state or none: nothing is decided yet, unless the client settled. */
        if (pn_delivery_settled(delivery)) {
            pn_delivery_settle(delivery);
        }
        return;
    }

    if (tag.size != SBE_LOCK_TOKEN_SIZE) {
        pn_delivery_settle(delivery);
        free(reason);
        free(description);
        return;
    }
    sbe_buffer encoded_changes = {0};
    sbe_map_entries properties_to_modify = {0};
    if (!encode_map_entries(changes, &encoded_changes, &properties_to_modify)) {
        properties_to_modify = (sbe_map_entries){0};
    }
    wl_status status = sbe_queue_settle_modified(link->queue, (const uint8_t *)tag.start, outcome,
                                                 reason, description, &properties_to_modify);
    sbe_buffer_free(&encoded_changes);
    if (status == WL_ERR_CONFLICT) {
        reject_delivery(delivery, "amqp:not-allowed", DEAD_LETTER_AGAIN_DESCRIPTION);
    } else if (status != WL_OK) {
        reject_delivery(delivery, "com.microsoft:message-lock-lost",
                        "The lock supplied is invalid. Either the lock expired, or the message "
                        "has already been removed from the queue.");
    } else if (outcome == SBE_OUTCOME_COMPLETE) {
        pn_delivery_update(delivery, PN_ACCEPTED);
    }
    /* Other outcomes settle with no state, because the SDKs read any error in the settling
     * disposition as a failed settlement. */
    pn_delivery_settle(delivery);
    free(reason);
    free(description);
}

static void on_outgoing_delivery(link_ctx *link, pn_delivery_t *delivery)
{
    if (!pn_delivery_updated(delivery)) {
        return;
    }
    if (link->kind == LINK_QUEUE_OUT && !link->receive_and_delete) {
        settle_outgoing(link, delivery);
        return;
    }
    if (pn_delivery_settled(delivery) || pn_delivery_remote_state(delivery) != 0) {
        pn_delivery_settle(delivery);
    }
}

/* ---- Link attach ---- */

static void reject_attach(link_ctx *link, const char *condition, const char *description)
{
    /* The reply attach has a null source and target (no local terminus), and the detach that
     * follows at once carries the reason, as the AMQP 1.0 specification requires (2.6.3). */
    pn_terminus_set_type(pn_link_source(link->link), PN_UNSPECIFIED);
    pn_terminus_set_type(pn_link_target(link->link), PN_UNSPECIFIED);
    pn_link_open(link->link);
    close_link_with_error(link, condition, description);
}

static bool ends_with(const char *text, const char *suffix)
{
    size_t length = strlen(text);
    size_t suffix_length = strlen(suffix);

    return length >= suffix_length && strcasecmp(text + length - suffix_length, suffix) == 0;
}

/* Works out what the link is for. Returns false after rejecting the attach. */
static bool classify_link(link_ctx *link, bool we_send, const char *path)
{
    sbe_broker *broker = link->connection->broker;
    char description[600];

    if (strcasecmp(path, CBS_NODE) == 0) {
        link->kind = we_send ? LINK_CBS_REPLY : LINK_CBS_REQUEST;
        link->entity_path = wl_xstrdup(CBS_NODE);
        return true;
    }

    bool management = ends_with(path, MANAGEMENT_SUFFIX);
    char *queue_path =
        management ? wl_xstrndup(path, strlen(path) - strlen(MANAGEMENT_SUFFIX)) : wl_xstrdup(path);
    link->queue = sbe_store_find(broker->store, queue_path);
    free(queue_path);
    link->entity_path = wl_xstrdup(path);
    if (link->queue == NULL && sbe_store_is_unserved_topic(broker->store, path)) {
        snprintf(description, sizeof description,
                 "Topics and subscriptions are not supported by this emulator, so '%s' cannot be "
                 "used; it serves the queues of Config.json only.",
                 path);
        reject_attach(link, "amqp:not-implemented", description);
        return false;
    }
    if (link->queue == NULL) {
        snprintf(description, sizeof description,
                 "The messaging entity '%s' could not be found. To know more visit "
                 "https://aka.ms/sbResourceMgrExceptions.",
                 path);
        reject_attach(link, "amqp:not-found", description);
        return false;
    }
    if (management) {
        link->kind = we_send ? LINK_MGMT_REPLY : LINK_MGMT_REQUEST;
    } else if (we_send && amqp_map_find(pn_terminus_filter(pn_link_remote_source(link->link)),
                                        SESSION_FILTER)) {
        /* A session receiver: queues here never require sessions. The first sentence is what
         * Service Bus replies to a session receiver on such an entity. */
        reject_attach(link, "amqp:not-allowed",
                      "A sessionful message receiver cannot be created on an entity that does not "
                      "require sessions. This emulator supports no sessions (RequiresSession "
                      "true is rejected in Config.json).");
        return false;
    } else if (we_send) {
        link->kind = LINK_QUEUE_OUT;
    } else if (sbe_queue_is_dead_letter(link->queue)) {
        reject_attach(link, "amqp:not-allowed",
                      "Messages cannot be sent to a dead-letter subqueue; send to the queue.");
        return false;
    } else {
        link->kind = LINK_QUEUE_IN;
    }

    if (!is_authorized(link->connection, path, now_ms(broker))) {
        snprintf(description, sizeof description,
                 "Unauthorized access. '%s' claim(s) are required to perform this operation on "
                 "'%s'. Send a valid SAS token with put-token on $cbs before attaching, or "
                 "authenticate with SASL PLAIN.",
                 we_send ? "Listen" : "Send", path);
        reject_attach(link, "amqp:unauthorized-access", description);
        return false;
    }
    return true;
}

static const char *link_mode(const link_ctx *link)
{
    switch (link->kind) {
    case LINK_QUEUE_OUT:
        return link->receive_and_delete ? "receive-and-delete" : "peek-lock";
    case LINK_QUEUE_IN:
        return "send";
    case LINK_CBS_REQUEST:
    case LINK_MGMT_REQUEST:
        return "requests";
    default:
        return "replies";
    }
}

static void on_link_remote_open(connection_ctx *connection, pn_link_t *pn)
{
    bool we_send = pn_link_is_sender(pn);
    pn_terminus_t *remote = we_send ? pn_link_remote_source(pn) : pn_link_remote_target(pn);
    const char *address = pn_terminus_get_address(remote);
    link_ctx *link = wl_xcalloc(1, sizeof *link);

    link->connection = connection;
    link->link = pn;
    link->next = connection->links;
    connection->links = link;
    pn_link_set_context(pn, link);

    if (address == NULL || address[0] == '\0') {
        link->entity_path = wl_xstrdup("");
        reject_attach(link, "amqp:invalid-field", "The link has no address.");
        return;
    }
    char *path = sbe_entity_path(address);
    bool accepted = classify_link(link, we_send, path);
    free(path);
    if (!accepted) {
        return;
    }

    pn_terminus_copy(pn_link_source(pn), pn_link_remote_source(pn));
    pn_terminus_copy(pn_link_target(pn), pn_link_remote_target(pn));
    pn_link_set_max_message_size(pn, SBE_MAX_MESSAGE_SIZE);
    if (we_send) {
        const char *reply_address = pn_terminus_get_address(pn_link_remote_target(pn));
        link->reply_address = reply_address ? wl_xstrdup(reply_address) : NULL;
        link->receive_and_delete = pn_link_remote_snd_settle_mode(pn) == PN_SND_SETTLED;
        pn_link_set_snd_settle_mode(pn, pn_link_remote_snd_settle_mode(pn));
        pn_link_set_rcv_settle_mode(pn, pn_link_remote_rcv_settle_mode(pn));
    }
    pn_link_open(pn);
    if (!we_send) {
        pn_link_flow(pn, CREDIT_WINDOW);
    }
    if (link->kind == LINK_QUEUE_OUT) {
        register_receiver(link);
    }
    LOG_INFO("link-attached", "connection %lu: link \"%s\" attached to %s (%s)", connection->id,
             pn_link_name(pn), link->entity_path, link_mode(link));
}

/* Detaches entity links whose token expired. Runs in the connection's own context. */
static void enforce_tokens(connection_ctx *connection)
{
    int64_t now = now_ms(connection->broker);

    for (link_ctx *link = connection->links; link != NULL; link = link->next) {
        if (link->kind == LINK_CLOSED || link->kind == LINK_CBS_REQUEST ||
            link->kind == LINK_CBS_REPLY) {
            continue;
        }
        if (!is_authorized(connection, link->entity_path, now)) {
            close_link_with_error(link, "amqp:unauthorized-access",
                                  "The token authorizing this link expired; send a new token "
                                  "with put-token on $cbs and attach again.");
        }
    }
}

static bool has_expired_link(const connection_ctx *connection, int64_t now)
{
    for (const link_ctx *link = connection->links; link != NULL; link = link->next) {
        if (link->kind != LINK_CLOSED && link->kind != LINK_CBS_REQUEST &&
            link->kind != LINK_CBS_REPLY && !is_authorized(connection, link->entity_path, now)) {
            return true;
        }
    }
    return false;
}

/* ---- Event loop ---- */

static void begin_stop(sbe_broker *broker)
{
    if (broker->stopping) {
        return;
    }
    broker->stopping = true;
    pn_proactor_cancel_timeout(broker->proactor);
    pn_proactor_disconnect(broker->proactor, NULL);
}

static void on_tick(sbe_broker *broker)
{
    sbe_store_expire(broker->store);
    if (++broker->tick_count % TOKEN_CHECK_TICKS == 0) {
        int64_t now = now_ms(broker);
        for (connection_ctx *c = broker->connections; c != NULL; c = c->next) {
            if (!c->sasl.plain_authenticated && has_expired_link(c, now) && !c->wake_pending) {
                c->wake_pending = true;
                pn_connection_wake(c->connection);
            }
        }
    }
    pn_proactor_set_timeout(broker->proactor, TICK_MS);
}

static void on_listener_open(sbe_broker *broker, pn_listener_t *listener)
{
    char host[PN_MAX_ADDR];
    char port[32];

    pn_netaddr_host_port(pn_listener_addr(listener), host, sizeof host, port, sizeof port);
    if (listener == broker->tls_listener) {
        broker->tls_port = atoi(port);
    } else {
        broker->amqp_port = atoi(port);
    }
    LOG_INFO("listener-open", "listening for AMQP%s on %s:%s",
             listener == broker->tls_listener ? "S (TLS)" : "", host, port);
    if (++broker->listeners_open == broker->listeners_expected && broker->ready != NULL) {
        broker->ready(broker->amqp_port, broker->tls_port, broker->ready_ctx);
    }
}

static void on_listener_accept(sbe_broker *broker, pn_listener_t *listener)
{
    connection_ctx *connection = wl_xcalloc(1, sizeof *connection);
    pn_connection_t *pn = pn_connection();
    pn_transport_t *transport = pn_transport();

    connection->broker = broker;
    connection->connection = pn;
    connection->id = ++broker->next_connection_id;
    connection->tls = listener == broker->tls_listener;
    connection->sasl.key_name = broker->options.key_name;
    connection->sasl.key = broker->options.key;
    connection->next = broker->connections;
    broker->connections = connection;
    pn_connection_set_context(pn, connection);

    pn_transport_set_server(transport);
    if (connection->tls) {
        pn_ssl_init(pn_ssl(transport), broker->ssl_domain, NULL);
    }
    sbe_sasl_configure(transport, &connection->sasl);
    pn_transport_set_idle_timeout(transport, IDLE_TIMEOUT_MS);
    pn_transport_set_max_frame(transport, MAX_FRAME_SIZE);
    pn_listener_accept2(listener, pn, transport);
}

static void on_transport_closed(connection_ctx *connection, pn_transport_t *transport)
{
    pn_condition_t *condition = pn_transport_condition(transport);

    if (pn_condition_is_set(condition)) {
        LOG_INFO("connection-closed", "connection %lu closed: %s: %s", connection->id,
                 pn_condition_get_name(condition),
                 pn_condition_get_description(condition) ? pn_condition_get_description(condition)
                                                         : "");
    } else {
        LOG_INFO("connection-closed", "connection %lu closed", connection->id);
    }
    pn_connection_set_context(connection->connection, NULL);
    connection_ctx_free(connection);
}

static void on_session_remote_close(connection_ctx *connection, pn_session_t *session)
{
    link_ctx **p = &connection->links;

    while (*p != NULL) {
        link_ctx *link = *p;
        if (pn_link_session(link->link) == session) {
            *p = link->next;
            link_ctx_free(link);
        } else {
            p = &link->next;
        }
    }
    pn_session_close(session);
}

static void on_link_remote_close(pn_link_t *pn, bool detach)
{
    link_ctx *link = pn_link_get_context(pn);

    if (link != NULL) {
        if (link->kind != LINK_CLOSED) {
            LOG_INFO("link-detached", "connection %lu: link \"%s\" on %s detached by the client",
                     link->connection->id, pn_link_name(pn), link->entity_path);
        }
        remove_link_ctx(link);
    }
    if (!(pn_link_state(pn) & PN_LOCAL_CLOSED)) {
        if (detach) {
            pn_link_detach(pn);
        } else {
            pn_link_close(pn);
        }
    }
}

static void on_connection_wake(connection_ctx *connection)
{
    connection->wake_pending = false;
    if (!connection->sasl.plain_authenticated) {
        enforce_tokens(connection);
    }
    bool replies = connection->replies_pending;
    connection->replies_pending = false;
    for (link_ctx *link = connection->links; link != NULL; link = link->next) {
        if (link->kind == LINK_QUEUE_OUT) {
            dispatch(link);
        } else if (replies && (link->kind == LINK_CBS_REPLY || link->kind == LINK_MGMT_REPLY)) {
            flush_replies(link);
        }
    }
}

static void on_link_flow(link_ctx *link)
{
    if (link->kind == LINK_QUEUE_OUT) {
        dispatch(link);
    } else if (link->kind == LINK_CBS_REPLY || link->kind == LINK_MGMT_REPLY) {
        flush_replies(link);
    }
}

static void on_connection_remote_open(connection_ctx *connection, pn_connection_t *pn)
{
    pn_transport_t *transport = pn_connection_transport(pn);
    char host[PN_MAX_ADDR] = "";
    char port[32] = "";

    pn_netaddr_host_port(pn_transport_remote_addr(transport), host, sizeof host, port, sizeof port);
    pn_connection_set_container(pn, "servicebus-emulator");
    pn_connection_open(pn);
    LOG_INFO("connection-opened", "connection %lu from %s:%s over %s, SASL %s", connection->id,
             host, port, connection->tls ? "TLS" : "TCP",
             connection->sasl.mechanism[0] ? connection->sasl.mechanism : "none");
}

/* Handles one event. Returns false when the loop should end. */
static bool handle_event(sbe_broker *broker, pn_event_t *event)
{
    pn_connection_t *pn_connection = pn_event_connection(event);
    connection_ctx *connection = pn_connection ? pn_connection_get_context(pn_connection) : NULL;
    pn_link_t *pn_link = pn_event_link(event);

    switch (pn_event_type(event)) {
    case PN_LISTENER_OPEN:
        on_listener_open(broker, pn_event_listener(event));
        break;
    case PN_LISTENER_ACCEPT:
        on_listener_accept(broker, pn_event_listener(event));
        break;
    case PN_LISTENER_CLOSE: {
        pn_condition_t *condition = pn_listener_condition(pn_event_listener(event));
        if (pn_condition_is_set(condition) && !broker->stopping) {
            broker->failed = true;
            wl_error_set(&broker->failure, WL_ERR_IO, "cannot listen: %s: %s",
                         pn_condition_get_name(condition), pn_condition_get_description(condition));
            begin_stop(broker);
        }
        break;
    }
    case PN_CONNECTION_REMOTE_OPEN:
        if (connection != NULL) {
            on_connection_remote_open(connection, pn_connection);
        }
        break;
    case PN_CONNECTION_REMOTE_CLOSE:
        pn_connection_close(pn_connection);
        break;
    case PN_CONNECTION_WAKE:
        if (connection != NULL) {
            on_connection_wake(connection);
        }
        break;
    case PN_SESSION_REMOTE_OPEN:
        if (!(pn_session_state(pn_event_session(event)) & PN_LOCAL_ACTIVE)) {
            pn_session_open(pn_event_session(event));
        }
        break;
    case PN_SESSION_REMOTE_CLOSE:
        if (connection != NULL) {
            on_session_remote_close(connection, pn_event_session(event));
        }
        break;
    case PN_LINK_REMOTE_OPEN:
        if (connection != NULL && !(pn_link_state(pn_link) & PN_LOCAL_ACTIVE)) {
            on_link_remote_open(connection, pn_link);
        }
        break;
    case PN_LINK_REMOTE_CLOSE:
        on_link_remote_close(pn_link, false);
        break;
    case PN_LINK_REMOTE_DETACH:
        on_link_remote_close(pn_link, true);
        break;
    case PN_LINK_FLOW: {
        link_ctx *link = pn_link_get_context(pn_link);
        if (link != NULL) {
            link->has_credit = pn_link_credit(pn_link) > 0;
            on_link_flow(link);
        }
        break;
    }
    case PN_DELIVERY: {
        pn_delivery_t *delivery = pn_event_delivery(event);
        link_ctx *link = pn_link_get_context(pn_delivery_link(delivery));
        if (link == NULL || link->kind == LINK_CLOSED) {
            pn_delivery_settle(delivery);
        } else if (pn_link_is_receiver(link->link)) {
            on_incoming_delivery(link, delivery);
        } else {
            on_outgoing_delivery(link, delivery);
        }
        break;
    }
    case PN_TRANSPORT_CLOSED:
        if (connection != NULL) {
            on_transport_closed(connection, pn_event_transport(event));
        }
        break;
    case PN_PROACTOR_TIMEOUT:
        if (!broker->stopping) {
            on_tick(broker);
        }
        break;
    case PN_PROACTOR_INTERRUPT:
        begin_stop(broker);
        break;
    case PN_PROACTOR_INACTIVE:
        return !broker->stopping;
    default:
        break;
    }
    return true;
}

sbe_broker *sbe_broker_create(sbe_store *store, const sbe_broker_options *options,
                              const wl_clock *clock, wl_error *err)
{
    sbe_broker *broker = wl_xcalloc(1, sizeof *broker);
    size_t queue_count = sbe_store_queue_count(store);

    broker->store = store;
    broker->options = *options;
    broker->clock = clock;
    broker->request = pn_message();
    atomic_init(&broker->stop_requested, false);

    if (options->tls_port != NULL) {
        broker->ssl_domain = pn_ssl_domain(PN_SSL_MODE_SERVER);
        if (broker->ssl_domain == NULL ||
            pn_ssl_domain_set_credentials(broker->ssl_domain, options->tls_cert, options->tls_key,
                                          NULL) != 0) {
            wl_error_set(err, WL_ERR_INVALID,
                         "cannot load the TLS certificate %s and key %s: check that both are "
                         "PEM files that match",
                         options->tls_cert, options->tls_key);
            sbe_broker_destroy(broker);
            return NULL;
        }
    }

    broker->receiver_lists = wl_xcalloc(2 * (queue_count ? queue_count : 1), sizeof(receiver_list));
    for (size_t i = 0; i < queue_count; i++) {
        sbe_queue *queue = sbe_store_queue_at(store, i);
        sbe_queue_set_user_data(queue, &broker->receiver_lists[2 * i]);
        sbe_queue_set_user_data(sbe_queue_dead_letter(queue), &broker->receiver_lists[2 * i + 1]);
    }
    sbe_store_set_available_callback(store, on_queue_available, broker);
    broker->proactor = pn_proactor();
    return broker;
}

static void listen_on(sbe_broker *broker, pn_listener_t **out_listener, const char *port)
{
    char address[PN_MAX_ADDR];

    pn_proactor_addr(address, sizeof address, broker->options.bind_address, port);
    *out_listener = pn_listener();
    pn_listener_set_context(*out_listener, broker);
    pn_proactor_listen(broker->proactor, *out_listener, address, 128);
    broker->listeners_expected++;
}

wl_status sbe_broker_run(sbe_broker *broker, sbe_ready_fn *ready, void *ready_ctx, wl_error *err)
{
    bool running = true;

    broker->ready = ready;
    broker->ready_ctx = ready_ctx;
    listen_on(broker, &broker->listener, broker->options.port);
    if (broker->options.tls_port != NULL) {
        listen_on(broker, &broker->tls_listener, broker->options.tls_port);
    }
    pn_proactor_set_timeout(broker->proactor, TICK_MS);
    if (atomic_load(&broker->stop_requested)) {
        begin_stop(broker);
    }

    while (running) {
        pn_event_batch_t *batch = pn_proactor_wait(broker->proactor);
        pn_event_t *event;
        while ((event = pn_event_batch_next(batch)) != NULL) {
            if (!handle_event(broker, event)) {
                running = false;
            }
        }
        pn_proactor_done(broker->proactor, batch);
    }
    if (broker->failed) {
        return wl_error_set(err, broker->failure.status, "%s", broker->failure.message);
    }
    return WL_OK;
}

void sbe_broker_stop(sbe_broker *broker)
{
    atomic_store(&broker->stop_requested, true);
    pn_proactor_interrupt(broker->proactor);
}

void sbe_broker_destroy(sbe_broker *broker)
{
    if (broker == NULL) {
        return;
    }
    while (broker->connections != NULL) {
        connection_ctx_free(broker->connections);
    }
    if (broker->proactor != NULL) {
        pn_proactor_free(broker->proactor);
    }
    if (broker->ssl_domain != NULL) {
        pn_ssl_domain_free(broker->ssl_domain);
    }
    if (broker->request != NULL) {
        pn_message_free(broker->request);
    }
    sbe_buffer_free(&broker->encode_buffer);
    free(broker->receiver_lists);
    free(broker);
}
