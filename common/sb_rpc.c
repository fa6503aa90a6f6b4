#include "sb_rpc.h"

#include "amqp.h"
#include "sb_internal.h"
#include "timefmt.h"

#include <proton/delivery.h>
#include <proton/link.h>
#include <proton/object.h>
#include <proton/session.h>
#include <proton/terminus.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Credit of the reply receiver. Requests are small and each gets one reply, so 64 is plenty. */
#define RPC_RECEIVER_CREDIT 64

PN_HANDLE(SB_RPC_LINK)

typedef struct rpc_request {
    char message_id[WL_UUID_SIZE];
    int64_t deadline_ms;
    bool sent;
    amqp_buffer encoded;
    sb_rpc_done_fn done;
    void *ctx;
    struct rpc_request *next;
} rpc_request;

struct sb_rpc {
    sb_conn *conn;
    char *address;
    char reply_to[128];
    pn_link_t *sender;
    pn_link_t *receiver;
    rpc_request *pending; /* in order of sending */
    size_t pending_count;
    pn_message_t *reply;
    amqp_buffer reply_bytes;
    uint64_t next_tag;
};

sb_rpc *sb_rpc_of_link(pn_link_t *link)
{
    return pn_record_get(pn_link_attachments(link), SB_RPC_LINK);
}

static void mark_link(pn_link_t *link, sb_rpc *rpc)
{
    pn_record_t *record = pn_link_attachments(link);

    pn_record_def(record, SB_RPC_LINK, PN_VOID);
    pn_record_set(record, SB_RPC_LINK, rpc);
}

/* Attaches a fresh pair; names are new each time because a detached name may linger. */
static void attach_links(sb_rpc *rpc)
{
    pn_session_t *session = sb_conn_session(rpc->conn);
    char sender_name[160];

    sb_conn_link_name(rpc->conn, rpc->address, sender_name, sizeof sender_name);
    sb_conn_link_name(rpc->conn, "reply", rpc->reply_to, sizeof rpc->reply_to);

    rpc->sender = pn_sender(session, sender_name);
    pn_terminus_set_address(pn_link_target(rpc->sender), rpc->address);
    pn_terminus_set_address(pn_link_source(rpc->sender), rpc->reply_to);
    pn_link_set_snd_settle_mode(rpc->sender, PN_SND_SETTLED);
    mark_link(rpc->sender, rpc);
    pn_link_open(rpc->sender);

    /* The reply address is both the receiver's name and its target, because some services
     * route replies by link name and others by target address. */
    rpc->receiver = pn_receiver(session, rpc->reply_to);
    pn_terminus_set_address(pn_link_source(rpc->receiver), rpc->address);
    pn_terminus_set_address(pn_link_target(rpc->receiver), rpc->reply_to);
    mark_link(rpc->receiver, rpc);
    pn_link_open(rpc->receiver);
    pn_link_flow(rpc->receiver, RPC_RECEIVER_CREDIT);
}

sb_rpc *sb_rpc_open(sb_conn *conn, const char *address, wl_error *err)
{
    sb_rpc *rpc;

    if (!sb_conn_is_ready(conn)) {
        wl_error_set(err, WL_ERR_CLOSED, "cannot open %s: the connection is not ready", address);
        return NULL;
    }
    rpc = wl_xcalloc(1, sizeof *rpc);
    rpc->conn = conn;
    rpc->address = wl_xstrdup(address);
    rpc->reply = pn_message();
    attach_links(rpc);
    sb_conn_add_rpc(conn, rpc);
    return rpc;
}

const char *sb_rpc_address(const sb_rpc *rpc)
{
    return rpc->address;
}

size_t sb_rpc_pending(const sb_rpc *rpc)
{
    return rpc->pending_count;
}

static void send_waiting(sb_rpc *rpc)
{
    if (rpc->sender == NULL) {
        return;
    }
    for (rpc_request *request = rpc->pending; request != NULL; request = request->next) {
        if (request->sent) {
            continue;
        }
        if (pn_link_credit(rpc->sender) <= 0) {
            return;
        }
        pn_delivery_t *delivery = amqp_send_bytes(rpc->sender, rpc->next_tag++, &request->encoded);
        pn_delivery_settle(delivery);
        request->sent = true;
        amqp_buffer_free(&request->encoded);
    }
}

wl_status sb_rpc_request(sb_rpc *rpc, pn_message_t *request, int64_t timeout_ms,
                         sb_rpc_done_fn done, void *ctx, wl_error *err)
{
    rpc_request *entry = wl_xcalloc(1, sizeof *entry);
    wl_status status;

    if (!wl_uuid_v4(entry->message_id)) {
        free(entry);
        return wl_error_set(err, WL_ERR_IO, "no randomness available for a message-id");
    }
    pn_data_put_string(pn_message_id(request),
                       pn_bytes(strlen(entry->message_id), entry->message_id));
    if (rpc->sender == NULL) {
        attach_links(rpc);
    }
    pn_message_set_reply_to(request, rpc->reply_to);
    status = amqp_encode(request, &entry->encoded, err);
    if (status != WL_OK) {
        amqp_buffer_free(&entry->encoded);
        free(entry);
        return status;
    }
    entry->deadline_ms = wl_clock_monotonic_ms(sb_conn_clock(rpc->conn)) + timeout_ms;
    entry->done = done;
    entry->ctx = ctx;

    rpc_request **tail = &rpc->pending;
    while (*tail != NULL) {
        tail = &(*tail)->next;
    }
    *tail = entry;
    rpc->pending_count++;
    send_waiting(rpc);
    return WL_OK;
}

/* Unlinks `entry`, calls its callback and frees it. */
static void complete(sb_rpc *rpc, rpc_request *entry, const sb_rpc_reply *reply,
                     const wl_error *err)
{
    for (rpc_request **link = &rpc->pending; *link != NULL; link = &(*link)->next) {
        if (*link == entry) {
            *link = entry->next;
            rpc->pending_count--;
            break;
        }
    }
    entry->done(entry->ctx, reply, err);
    amqp_buffer_free(&entry->encoded);
    free(entry);
}

static void fail_all(sb_rpc *rpc, const wl_error *cause)
{
    while (rpc->pending != NULL) {
        complete(rpc, rpc->pending, NULL, cause);
    }
}

/* Reads the correlation-id as text: services echo the request's string message-id. */
static bool read_correlation_id(pn_message_t *message, char *out, size_t capacity)
{
    pn_data_t *data = pn_message_correlation_id(message);
    pn_bytes_t text;

    pn_data_rewind(data);
    if (!pn_data_next(data)) {
        return false;
    }
    if (pn_data_type(data) == PN_STRING) {
        text = pn_data_get_string(data);
    } else if (pn_data_type(data) == PN_UUID) {
        pn_uuid_t uuid = pn_data_get_uuid(data);
        wl_uuid_format((const uint8_t *)uuid.bytes, out);
        return true;
    } else {
        return false;
    }
    snprintf(out, capacity, "%.*s", (int)text.size, text.start);
    return true;
}

static void handle_reply(sb_rpc *rpc, pn_delivery_t *delivery)
{
    wl_error err = {0};
    char correlation_id[WL_UUID_SIZE + 8];
    char description[512] = "";
    sb_rpc_reply reply = {.status_code = -1, .status_description = description};

    if (amqp_receive(delivery, rpc->reply, &rpc->reply_bytes, &err) != WL_OK ||
        !read_correlation_id(rpc->reply, correlation_id, sizeof correlation_id)) {
        return; /* not a reply we can match; the deadline fails its request */
    }
    pn_data_t *properties = pn_message_properties(rpc->reply);
    if (!amqp_map_get_int(properties, "status-code", &reply.status_code)) {
        amqp_map_get_int(properties, "statusCode", &reply.status_code);
    }
    if (!amqp_map_get_string(properties, "status-description", description, sizeof description)) {
        amqp_map_get_string(properties, "statusDescription", description, sizeof description);
    }
    reply.message = rpc->reply;

    for (rpc_request *entry = rpc->pending; entry != NULL; entry = entry->next) {
        if (strcmp(entry->message_id, correlation_id) == 0) {
            complete(rpc, entry, &reply, NULL);
            return;
        }
    }
}

/* Both links are closed locally and forgotten; the next request attaches a new pair. */
static void detach(sb_rpc *rpc, pn_link_t *closed_by_peer)
{
    wl_error cause = {0};
    char what[200];

    snprintf(what, sizeof what, "the peer detached the %s link", rpc->address);
    amqp_condition_to_error(pn_link_remote_condition(closed_by_peer), WL_ERR_UNAVAILABLE, what,
                            &cause);
    if (rpc->sender != NULL) {
        pn_record_set(pn_link_attachments(rpc->sender), SB_RPC_LINK, NULL);
        pn_link_close(rpc->sender);
    }
    if (rpc->receiver != NULL) {
        pn_record_set(pn_link_attachments(rpc->receiver), SB_RPC_LINK, NULL);
        pn_link_close(rpc->receiver);
    }
    rpc->sender = NULL;
    rpc->receiver = NULL;
    fail_all(rpc, &cause);
}

void sb_rpc_handle(sb_rpc *rpc, pn_event_t *event)
{
    pn_link_t *link = pn_event_link(event);

    switch (pn_event_type(event)) {
    case PN_LINK_FLOW:
        if (link == rpc->sender) {
            send_waiting(rpc);
        }
        break;
    case PN_DELIVERY: {
        pn_delivery_t *delivery = pn_event_delivery(event);
        if (link == rpc->receiver && pn_delivery_readable(delivery) &&
            !pn_delivery_partial(delivery)) {
            handle_reply(rpc, delivery);
            pn_delivery_update(delivery, PN_ACCEPTED);
            pn_delivery_settle(delivery);
            pn_link_flow(rpc->receiver, 1);
        }
        break;
    }
    case PN_LINK_REMOTE_CLOSE:
    case PN_LINK_REMOTE_DETACH:
        if (link == rpc->sender || link == rpc->receiver) {
            detach(rpc, link);
        }
        break;
    default:
        break;
    }
}

void sb_rpc_tick(sb_rpc *rpc, int64_t now_ms)
{
    rpc_request *entry = rpc->pending;

    while (entry != NULL) {
        rpc_request *next = entry->next;
        if (now_ms >= entry->deadline_ms) {
            wl_error err = {0};
            wl_error_set(&err, WL_ERR_TIMEOUT, "no reply from %s within the deadline",
                         rpc->address);
            complete(rpc, entry, NULL, &err);
        }
        entry = next;
    }
}

int64_t sb_rpc_next_deadline_ms(const sb_rpc *rpc)
{
    int64_t next = INT64_MAX;

    for (const rpc_request *entry = rpc->pending; entry != NULL; entry = entry->next) {
        if (entry->deadline_ms < next) {
            next = entry->deadline_ms;
        }
    }
    return next;
}

void sb_rpc_free(sb_rpc *rpc, const wl_error *cause)
{
    fail_all(rpc, cause);
    if (rpc->sender != NULL) {
        pn_record_set(pn_link_attachments(rpc->sender), SB_RPC_LINK, NULL);
    }
    if (rpc->receiver != NULL) {
        pn_record_set(pn_link_attachments(rpc->receiver), SB_RPC_LINK, NULL);
    }
    pn_message_free(rpc->reply);
    amqp_buffer_free(&rpc->reply_bytes);
    free(rpc->address);
    free(rpc);
}
