/*
 * The claims-based security (CBS) client: authorizes audiences on a connection by sending
 * put-token requests to the `$cbs` node, and sends a fresh token before each one expires.
 *
 * A put-token request has application properties operation=put-token, type (the credential's
 * token type), name (the audience), and an amqp-value string body holding the token. Status
 * codes 200 and 202 mean success. Service Bus closes the links of an entity whose token has
 * expired, so each authorized audience is put again before that. The new put happens after the
 * token's refresh time (see cred_refresh_at_unix) and at least a margin before its expiry
 * (7 minutes by default), at a random point of that window so that clients spread out.
 *
 * A failed put-token (a rejected token, no reply within the timeout, or no token from the
 * credential) is tried again for as long as the client lives. The backoff has equal jitter and
 * doubles from 1 s to a 30 s cap. Each failure is reported through on_result.
 * The token is fetched again from the credential for each try, so a fixed credential is picked
 * up without a restart. While an earlier token is still valid, each retry comes at most half
 * of its remaining lifetime later, so a failed refresh is retried before the old token expires.
 *
 * Threads: a cbs client is owned by its sb_conn and runs on the thread handling that
 * connection's events. Token fetches call cred_get_token on that thread, so a workload-identity
 * exchange that has to go to the network blocks the connection for its duration, unless the
 * credential refreshes in the background (cred_start_background_refresh), as in both programs.
 */
#ifndef WL_CBS_H
#define WL_CBS_H

#include "backoff.h"
#include "clock.h"
#include "credential.h"
#include "sb_rpc.h"
#include "status.h"

#include <proton/message.h>

#include <stdint.h>

/* The backoff between failed put-tokens for one audience, in ms. */
#define CBS_RETRY_INITIAL_MS 1000
#define CBS_RETRY_MAX_MS     30000

typedef struct cbs cbs;

/* Called after every put-token for `audience`: `err` NULL on success. A retry follows every
 * failure (see above). */
typedef void (*cbs_result_fn)(void *ctx, const char *audience, const wl_error *err);

typedef struct cbs_options {
    cred *credential;          /* borrowed; must outlive the client */
    int64_t timeout_ms;        /* reply deadline per put-token; 20000 when 0 */
    int64_t refresh_margin_ms; /* put again this long before expiry; 420000 when 0 */
    const wl_clock *clock;     /* NULL for the system clock */
    const backoff_random *random;
    cbs_result_fn on_result;
    void *ctx;
} cbs_options;

/* Creates a client that sends its requests over `rpc` (a pair opened on "$cbs"). */
cbs *cbs_create(sb_rpc *rpc, const cbs_options *options);
void cbs_destroy(cbs *client);

/*
 * Authorizes `audience` now and keeps it authorized until the client is destroyed. Calling it
 * again for the same audience sends a new put-token at once. Failures to get a token are
 * reported through on_result as well as returned.
 */
wl_status cbs_authorize(cbs *client, const char *audience, wl_error *err);

/* Sends the put-token requests that are due. Call it when cbs_next_deadline_ms has passed. */
void cbs_tick(cbs *client);

/* Returns the monotonic time in ms of the next refresh, or INT64_MAX when none is scheduled. */
int64_t cbs_next_deadline_ms(const cbs *client);

/* Fills `message` (cleared first) with a put-token request for `audience`. */
void cbs_build_put_token(pn_message_t *message, const char *audience, const cred_token *token);

/*
 * Returns how long after `now_unix_ms` to put a new token in place of `token`: a random point
 * between its refresh time and the earlier of 60 s later and its expiry minus `margin_ms`, and at
 * least 1 s. When the refresh time has already passed (the credential could not renew), returns
 * a quarter of the remaining lifetime, from 1 s to 30 s, so that the retry is neither a busy
 * loop nor too late.
 */
int64_t cbs_refresh_delay_ms(const cred_token *token, int64_t now_unix_ms, int64_t margin_ms,
                             const backoff_random *random);

/* Returns the backoff policy between failed put-tokens: equal jitter, doubling from 1 s to 30 s. */
backoff_policy cbs_retry_policy(void);

/*
 * Returns how long after the `failures`-th consecutive failed put-token (1 for the first) to
 * try again. `valid_for_ms` is the remaining lifetime of the last token the service accepted
 * for the audience, 0 or less when there is none. When it is positive, the delay is capped at
 * half of it, or at 1 s when half of it is shorter.
 */
int64_t cbs_retry_delay_ms(unsigned failures, int64_t valid_for_ms, const backoff_random *random);

#endif
