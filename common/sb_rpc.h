/*
 * A request/response link pair on a Service Bus connection, as used for `$cbs` (put-token)
 * and `{entity}/$management` (renew-lock, update-disposition, peek-message).
 *
 * The pair is a sender whose target is the node address and a receiver whose source is the node
 * address and whose target is a unique reply address. Each request carries a fresh message-id
 * and that reply address in reply-to. A reply is matched to its request by its correlation-id.
 * The reply's status code is read from application property `status-code` (CBS) or
 * `statusCode` ($management), and likewise the description.
 *
 * Threads: an sb_rpc belongs to its sb_conn and is used only on the thread handling that
 * connection's events. It is freed by the connection when the connection is lost or closed:
 * pending requests then complete with WL_ERR_CLOSED, and every sb_rpc pointer becomes invalid
 * before on_disconnected runs.
 */
#ifndef WL_SB_RPC_H
#define WL_SB_RPC_H

#include "status.h"

#include <proton/message.h>

#include <stdint.h>

typedef struct sb_conn sb_conn;
typedef struct sb_rpc sb_rpc;

typedef struct sb_rpc_reply {
    int64_t status_code;            /* e.g. 200, 202, 401, 410; -1 when the reply has none */
    const char *status_description; /* "" when absent */
    pn_message_t *message;          /* the whole reply, valid during the callback only */
} sb_rpc_reply;

/*
 * Completion of one request. `err` is NULL when a reply arrived (whatever its status code);
 * otherwise `reply` is NULL and `err` gives the cause (WL_ERR_TIMEOUT, WL_ERR_CLOSED, or the link's
 * detach condition).
 */
typedef void (*sb_rpc_done_fn)(void *ctx, const sb_rpc_reply *reply, const wl_error *err);

/*
 * Opens the link pair to `address` on the session of `conn`, which must be ready. Returns an
 * object owned by `conn` (see above). The links attach asynchronously; requests made before
 * they are attached are sent once the peer grants credit.
 */
sb_rpc *sb_rpc_open(sb_conn *conn, const char *address, wl_error *err);

/*
 * Sends `request` and calls `done` exactly once with the reply, a timeout after `timeout_ms`, or
 * the loss of the links. The caller keeps ownership of `request`: this call sets its message-id
 * and reply-to and encodes a copy. If the peer detached the links, they are attached again first.
 */
wl_status sb_rpc_request(sb_rpc *rpc, pn_message_t *request, int64_t timeout_ms,
                         sb_rpc_done_fn done, void *ctx, wl_error *err);

/* Returns the node address, for example "$cbs" or "orders/$management". */
const char *sb_rpc_address(const sb_rpc *rpc);

/* Returns the number of requests waiting for a reply. */
size_t sb_rpc_pending(const sb_rpc *rpc);

#endif
