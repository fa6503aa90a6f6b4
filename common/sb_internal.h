/*
 * Functions shared between sb_conn.c, sb_rpc.c and cbs.c that are not part of the public
 * interface. Same thread rules as sb_conn.h.
 */
#ifndef WL_SB_INTERNAL_H
#define WL_SB_INTERNAL_H

#include "clock.h"
#include "sb_conn.h"
#include "sb_rpc.h"

#include <proton/event.h>
#include <proton/link.h>

#include <stdbool.h>
#include <stdint.h>

/* Returns the sb_rpc that owns `link`, or NULL for a link of the application. */
sb_rpc *sb_rpc_of_link(pn_link_t *link);

/* Handles a link or delivery event of one of the pair's links. */
void sb_rpc_handle(sb_rpc *rpc, pn_event_t *event);

/* Fails requests whose deadline has passed; returns the next deadline or INT64_MAX. */
void sb_rpc_tick(sb_rpc *rpc, int64_t now_ms);
int64_t sb_rpc_next_deadline_ms(const sb_rpc *rpc);

/* Completes every pending request with `cause` and frees the pair (links stay with Proton). */
void sb_rpc_free(sb_rpc *rpc, const wl_error *cause);

/* Accessors the rpc links need from their connection. */
const wl_clock *sb_conn_clock(const sb_conn *conn);
void sb_conn_add_rpc(sb_conn *conn, sb_rpc *rpc);

/* Returns a new link name unique on the connection, for example "$cbs-reply-3". */
void sb_conn_link_name(sb_conn *conn, const char *prefix, char *out, size_t capacity);

#endif
