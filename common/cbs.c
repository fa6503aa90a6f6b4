#include "cbs.h"

#include "amqp.h"

#include <proton/codec.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct cbs_audience {
    cbs *client;
    char *audience;
    int64_t next_put_ms; /* monotonic; INT64_MAX while a request is in flight or none due */
    bool in_flight;
    int64_t token_expires_at; /* unix seconds of the token being put */
    int64_t token_refresh_at;
    int64_t accepted_expires_at; /* unix seconds of the last token accepted; 0 for none */
    unsigned failures;           /* consecutive failed put-tokens */
    struct cbs_audience *next;
} cbs_audience;

struct cbs {
    sb_rpc *rpc;
    cbs_options options;
    const wl_clock *clock;
    pn_message_t *request;
    cbs_audience *audiences;
};

void cbs_build_put_token(pn_message_t *message, const char *audience, const cred_token *token)
{
    pn_data_t *properties;
    pn_data_t *body;

    pn_message_clear(message);
    properties = pn_message_properties(message);
    pn_data_put_map(properties);
    pn_data_enter(properties);
    amqp_map_put_string(properties, "operation", "put-token");
    amqp_map_put_string(properties, "type", token->type);
    amqp_map_put_string(properties, "name", audience);
    pn_data_exit(properties);

    body = pn_message_body(message);
    pn_data_put_string(body, pn_bytes(strlen(token->token), token->token));
}

int64_t cbs_refresh_delay_ms(const cred_token *token, int64_t now_unix_ms, int64_t margin_ms,
                             const backoff_random *random)
{
    int64_t expiry_ms = token->expires_at_unix * 1000;
    int64_t refresh_ms = token->refresh_at_unix * 1000;
    int64_t latest_ms;
    int64_t window_ms;
    int64_t at_ms;

    if (refresh_ms <= now_unix_ms) {
        int64_t retry = (expiry_ms - now_unix_ms) / 4;
        if (retry < 1000) {
            return 1000;
        }
        return retry > 30000 ? 30000 : retry;
    }
    latest_ms = expiry_ms - margin_ms;
    if (latest_ms < refresh_ms) {
        latest_ms = refresh_ms;
    }
    window_ms = latest_ms - refresh_ms;
    if (window_ms > 60000) {
        window_ms = 60000;
    }
    /* backoff_delay_ms with a flat policy is a uniform draw from [0, window]. */
    backoff_policy flat = {.initial_ms = window_ms, .max_ms = window_ms, .multiplier = 1.0};
    at_ms = refresh_ms + (window_ms > 0 ? backoff_delay_ms(&flat, 0, random) : 0);
    return at_ms - now_unix_ms < 1000 ? 1000 : at_ms - now_unix_ms;
}

backoff_policy cbs_retry_policy(void)
{
    return (backoff_policy){.initial_ms = CBS_RETRY_INITIAL_MS,
                            .max_ms = CBS_RETRY_MAX_MS,
                            .multiplier = 2.0,
                            .jitter = BACKOFF_JITTER_EQUAL};
}

int64_t cbs_retry_delay_ms(unsigned failures, int64_t valid_for_ms, const backoff_random *random)
{
    backoff_policy policy = cbs_retry_policy();
    int64_t delay = backoff_delay_ms(&policy, failures > 0 ? failures - 1 : 0, random);

    if (valid_for_ms > 0) {
        int64_t before_expiry = valid_for_ms / 2 > 1000 ? valid_for_ms / 2 : 1000;
        if (delay > before_expiry) {
            delay = before_expiry;
        }
    }
    return delay;
}

cbs *cbs_create(sb_rpc *rpc, const cbs_options *options)
{
    cbs *client = wl_xcalloc(1, sizeof *client);

    client->rpc = rpc;
    client->options = *options;
    if (client->options.timeout_ms <= 0) {
        client->options.timeout_ms = 20000;
    }
    if (client->options.refresh_margin_ms <= 0) {
        client->options.refresh_margin_ms = 420000;
    }
    client->clock = options->clock != NULL ? options->clock : wl_clock_system();
    client->request = pn_message();
    return client;
}

void cbs_destroy(cbs *client)
{
    if (client == NULL) {
        return;
    }
    for (cbs_audience *entry = client->audiences; entry != NULL;) {
        cbs_audience *next = entry->next;
        free(entry->audience);
        free(entry);
        entry = next;
    }
    pn_message_free(client->request);
    free(client);
}

static void report(cbs *client, cbs_audience *entry, const wl_error *err)
{
    if (client->options.on_result != NULL) {
        client->options.on_result(client->options.ctx, entry->audience, err);
    }
}

static wl_status reply_status(int64_t code, const char *description, const char *audience,
                              wl_error *err)
{
    wl_status status;

    if (code == 401 || code == 403) {
        status = WL_ERR_AUTH;
    } else if (code == 404) {
        status = WL_ERR_NOT_FOUND;
    } else if (code == 400) {
        status = WL_ERR_INVALID;
    } else if (code == 429 || code == 503 || code >= 500) {
        status = WL_ERR_UNAVAILABLE;
    } else {
        status = WL_ERR_PROTOCOL;
    }
    wl_error_set(err, status, "put-token for %s was rejected with status %lld: %s", audience,
                 (long long)code, description[0] != '\0' ? description : "no description");
    if (err != NULL) {
        err->http_status = (int)code;
    }
    return status;
}

/*
 * Schedules the next put-token after a failure. Every failure is retried, a rejected token
 * too: a role assignment takes minutes to propagate, and a rotated credential (a new
 * federated token, a new SAS key) only shows on a later try.
 */
static void schedule_retry(cbs *client, cbs_audience *entry, int64_t now_ms)
{
    int64_t now_unix_ms = wl_clock_realtime_us(client->clock) / 1000;
    int64_t valid_for_ms =
        entry->accepted_expires_at > 0 ? entry->accepted_expires_at * 1000 - now_unix_ms : 0;

    entry->failures++;
    entry->next_put_ms =
        now_ms + cbs_retry_delay_ms(entry->failures, valid_for_ms, client->options.random);
}

static void on_reply(void *ctx, const sb_rpc_reply *reply, const wl_error *err)
{
    cbs_audience *entry = ctx;
    cbs *client = entry->client;
    int64_t now_ms = wl_clock_monotonic_ms(client->clock);
    wl_error failure = {0};

    entry->in_flight = false;
    if (err == NULL && (reply->status_code == 200 || reply->status_code == 202)) {
        cred_token token = {.expires_at_unix = entry->token_expires_at,
                            .refresh_at_unix = entry->token_refresh_at};
        int64_t now_unix_ms = wl_clock_realtime_us(client->clock) / 1000;
        entry->failures = 0;
        entry->accepted_expires_at = entry->token_expires_at;
        entry->next_put_ms =
            now_ms + cbs_refresh_delay_ms(&token, now_unix_ms, client->options.refresh_margin_ms,
                                          client->options.random);
        report(client, entry, NULL);
        return;
    }

    if (err != NULL) {
        failure = *err;
    } else {
        reply_status(reply->status_code, reply->status_description, entry->audience, &failure);
    }
    schedule_retry(client, entry, now_ms);
    report(client, entry, &failure);
}

static wl_status put_token(cbs *client, cbs_audience *entry, wl_error *err)
{
    cred_token token = {0};
    wl_error failure = {0};
    wl_status status;

    status = cred_get_token(client->options.credential, entry->audience, &token, &failure);
    if (status != WL_OK) {
        schedule_retry(client, entry, wl_clock_monotonic_ms(client->clock));
        report(client, entry, &failure);
        if (err != NULL && err->status == WL_OK) {
            *err = failure;
        }
        return status;
    }
    cbs_build_put_token(client->request, entry->audience, &token);
    entry->token_expires_at = token.expires_at_unix;
    entry->token_refresh_at = token.refresh_at_unix;
    cred_token_free(&token);

    status = sb_rpc_request(client->rpc, client->request, client->options.timeout_ms, on_reply,
                            entry, &failure);
    /* The encoded copy is queued, but the request message still contains the token text. */
    pn_message_clear(client->request);
    if (status != WL_OK) {
        schedule_retry(client, entry, wl_clock_monotonic_ms(client->clock));
        report(client, entry, &failure);
        if (err != NULL && err->status == WL_OK) {
            *err = failure;
        }
        return status;
    }
    entry->in_flight = true;
    entry->next_put_ms = INT64_MAX;
    return WL_OK;
}

wl_status cbs_authorize(cbs *client, const char *audience, wl_error *err)
{
    cbs_audience *entry = client->audiences;

    while (entry != NULL && strcmp(entry->audience, audience) != 0) {
        entry = entry->next;
    }
    if (entry == NULL) {
        entry = wl_xcalloc(1, sizeof *entry);
        entry->client = client;
        entry->audience = wl_xstrdup(audience);
        entry->next = client->audiences;
        client->audiences = entry;
    }
    if (entry->in_flight) {
        return WL_OK; /* the reply in flight reports the result */
    }
    return put_token(client, entry, err);
}

void cbs_tick(cbs *client)
{
    int64_t now_ms = wl_clock_monotonic_ms(client->clock);

    for (cbs_audience *entry = client->audiences; entry != NULL; entry = entry->next) {
        if (!entry->in_flight && entry->next_put_ms <= now_ms) {
            put_token(client, entry, NULL);
        }
    }
}

int64_t cbs_next_deadline_ms(const cbs *client)
{
    int64_t next = INT64_MAX;

    for (const cbs_audience *entry = client->audiences; entry != NULL; entry = entry->next) {
        if (!entry->in_flight && entry->next_put_ms < next) {
            next = entry->next_put_ms;
        }
    }
    return next;
}
