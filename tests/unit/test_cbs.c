/*
 * The CBS client and the request/response links over a real AMQP connection: sb_conn connects
 * on loopback to a minimal $cbs node served by this test on the same proactor. The node checks
 * each put-token request and replies with a status chosen per case, or not at all. The retry
 * cases run on a fake clock that jumps to each scheduled put-token, so backoff costs no time.
 */
#include "amqp_peer.h"
#include "cbs.h"
#include "check.h"
#include "clock.h"
#include "credential.h"
#include "sb_conn.h"

#include <proton/connection.h>
#include <proton/delivery.h>
#include <proton/link.h>
#include <proton/listener.h>
#include <proton/message.h>
#include <proton/proactor.h>
#include <proton/session.h>

#include <stdlib.h>

typedef enum reply_mode {
    REPLY_OK,            /* 200 with status-code as an int */
    REPLY_ACCEPTED_LONG, /* 202 with status-code as a long */
    REPLY_UNAUTHORIZED,  /* 401 with a description */
    REPLY_NONE,          /* no reply: the client's deadline must fire */
    REPLY_STRAY_FIRST,   /* a reply with another correlation-id first, then 200 */
    REPLY_SCRIPT,        /* the status codes in `script`, 0 for no reply; 200 after its end */
} reply_mode;

#define MAX_REQUESTS 8

typedef struct cbs_fixture {
    pn_proactor_t *proactor;
    pn_listener_t *listener;
    reply_mode mode;
    pn_link_t *reply_sender; /* the node's sender to the client's reply address */
    pn_message_t *request;
    pn_message_t *reply;
    char request_operation[32];
    char request_type[64];
    char request_name[256];
    char request_reply_to[256];
    char request_body[512];
    int requests;

    sb_conn *conn;
    cred *credential;
    wl_fake_clock fake;
    bool refresh_case; /* keep the connection after the first put-token and advance the clock */
    int script[MAX_REQUESTS];
    int results_expected;    /* REPLY_SCRIPT: close after this many results */
    bool awaiting_result;    /* REPLY_SCRIPT: a put-token is due or in flight */
    bool request_unanswered; /* REPLY_SCRIPT: the node did not reply to the last request */
    int64_t request_at_ms[MAX_REQUESTS]; /* fake monotonic time of each request */
    int failures;
    int authorizations;
    char first_token[512];
    bool done;
    bool authorized;
    wl_error result;
    char audience[256];
} cbs_fixture;

/* ---- the $cbs node ---- */

static void node_reply(cbs_fixture *fixture, const char *correlation_id, int64_t code)
{
    char buffer[1024];
    size_t size = sizeof buffer;
    pn_data_t *properties;

    pn_message_clear(fixture->reply);
    pn_data_put_string(pn_message_correlation_id(fixture->reply),
                       pn_bytes(strlen(correlation_id), correlation_id));
    properties = pn_message_properties(fixture->reply);
    pn_data_put_map(properties);
    pn_data_enter(properties);
    pn_data_put_string(properties, pn_bytes(11, "status-code"));
    if (fixture->mode == REPLY_ACCEPTED_LONG) {
        pn_data_put_long(properties, code);
    } else {
        pn_data_put_int(properties, (int32_t)code);
    }
    pn_data_put_string(properties, pn_bytes(18, "status-description"));
    const char *description = code == 401 ? "InvalidSignature: the token is not valid" : "OK";
    pn_data_put_string(properties, pn_bytes(strlen(description), description));
    pn_data_exit(properties);
    pn_message_encode(fixture->reply, buffer, &size);

    pn_delivery_t *delivery = pn_delivery(fixture->reply_sender, pn_dtag("r", 1));
    pn_link_send(fixture->reply_sender, buffer, size);
    pn_link_advance(fixture->reply_sender);
    pn_delivery_settle(delivery);
}

static void copy_property(pn_data_t *properties, const char *key, char *out, size_t capacity)
{
    pn_data_rewind(properties);
    pn_data_next(properties);
    pn_data_enter(properties);
    while (pn_data_next(properties)) {
        pn_bytes_t name = pn_data_get_string(properties);
        pn_data_next(properties);
        if (name.size == strlen(key) && memcmp(name.start, key, name.size) == 0) {
            pn_bytes_t value = pn_data_get_string(properties);
            snprintf(out, capacity, "%.*s", (int)value.size, value.start);
        }
    }
}

static void node_request(cbs_fixture *fixture, pn_delivery_t *delivery)
{
    char buffer[4096];
    ssize_t size = pn_link_recv(pn_delivery_link(delivery), buffer, sizeof buffer);
    char message_id[64] = "";

    pn_delivery_update(delivery, PN_ACCEPTED);
    pn_delivery_settle(delivery);
    pn_link_flow(pn_delivery_link(delivery), 1);
    if (size <= 0 || pn_message_decode(fixture->request, buffer, (size_t)size) != 0) {
        return;
    }
    if (fixture->requests < MAX_REQUESTS) {
        fixture->request_at_ms[fixture->requests] = wl_clock_monotonic_ms(&fixture->fake.clock);
    }
    int scripted = fixture->requests < MAX_REQUESTS ? fixture->script[fixture->requests] : 200;
    fixture->requests++;
    pn_data_t *properties = pn_message_properties(fixture->request);
    copy_property(properties, "operation", fixture->request_operation,
                  sizeof fixture->request_operation);
    copy_property(properties, "type", fixture->request_type, sizeof fixture->request_type);
    copy_property(properties, "name", fixture->request_name, sizeof fixture->request_name);
    snprintf(fixture->request_reply_to, sizeof fixture->request_reply_to, "%s",
             pn_message_get_reply_to(fixture->request));
    pn_data_t *body = pn_message_body(fixture->request);
    pn_data_rewind(body);
    if (pn_data_next(body) && pn_data_type(body) == PN_STRING) {
        pn_bytes_t text = pn_data_get_string(body);
        snprintf(fixture->request_body, sizeof fixture->request_body, "%.*s", (int)text.size,
                 text.start);
    }
    pn_data_t *id = pn_message_id(fixture->request);
    pn_data_rewind(id);
    if (pn_data_next(id) && pn_data_type(id) == PN_STRING) {
        pn_bytes_t text = pn_data_get_string(id);
        snprintf(message_id, sizeof message_id, "%.*s", (int)text.size, text.start);
    }

    switch (fixture->mode) {
    case REPLY_OK:
        node_reply(fixture, message_id, 200);
        break;
    case REPLY_ACCEPTED_LONG:
        node_reply(fixture, message_id, 202);
        break;
    case REPLY_UNAUTHORIZED:
        node_reply(fixture, message_id, 401);
        break;
    case REPLY_NONE:
        break;
    case REPLY_STRAY_FIRST:
        node_reply(fixture, "not-a-pending-request", 401);
        node_reply(fixture, message_id, 200);
        break;
    case REPLY_SCRIPT:
        fixture->request_unanswered = scripted == 0;
        if (scripted != 0) {
            node_reply(fixture, message_id, scripted);
        }
        break;
    }
}

static void node_handle(cbs_fixture *fixture, pn_event_t *event)
{
    switch (pn_event_type(event)) {
    case PN_LISTENER_ACCEPT:
        amqp_peer_accept(event);
        break;
    case PN_CONNECTION_REMOTE_OPEN:
        pn_connection_open(pn_event_connection(event));
        break;
    case PN_SESSION_REMOTE_OPEN:
        pn_session_open(pn_event_session(event));
        break;
    case PN_LINK_REMOTE_OPEN: {
        pn_link_t *link = pn_event_link(event);
        pn_terminus_copy(pn_link_source(link), pn_link_remote_source(link));
        pn_terminus_copy(pn_link_target(link), pn_link_remote_target(link));
        pn_link_open(link);
        if (pn_link_is_receiver(link)) {
            pn_link_flow(link, 10);
        } else {
            fixture->reply_sender = link;
        }
        break;
    }
    case PN_DELIVERY: {
        pn_delivery_t *delivery = pn_event_delivery(event);
        if (pn_link_is_receiver(pn_delivery_link(delivery)) && !pn_delivery_partial(delivery)) {
            node_request(fixture, delivery);
        }
        break;
    }
    case PN_CONNECTION_REMOTE_CLOSE:
        pn_connection_close(pn_event_connection(event));
        break;
    default:
        break;
    }
}

/* ---- the client ---- */

static void on_ready(sb_conn *conn, void *ctx)
{
    cbs_fixture *fixture = ctx;
    wl_error err = {0};

    /* These cases test CBS alone, on a connection that must not reach its give-up time. */
    sb_conn_mark_working(conn);
    sb_conn_audience(conn, "orders", fixture->audience, sizeof fixture->audience);
    sb_conn_authorize(conn, fixture->audience, &err);
}

static void on_authorized(sb_conn *conn, const char *audience, const wl_error *err, void *ctx)
{
    cbs_fixture *fixture = ctx;

    (void)audience;
    fixture->authorizations++;
    fixture->authorized = err == NULL;
    if (err != NULL) {
        fixture->result = *err;
        fixture->failures++;
    }
    if (fixture->mode == REPLY_SCRIPT) {
        fixture->awaiting_result = false;
        fixture->request_unanswered = false;
        if (fixture->authorizations < fixture->results_expected) {
            return;
        }
    }
    if (fixture->refresh_case && err == NULL && fixture->authorizations == 1) {
        /* The put happens 3000 to 3060 s into a one-hour SAS token's life. */
        snprintf(fixture->first_token, sizeof fixture->first_token, "%s", fixture->request_body);
        wl_fake_clock_advance(&fixture->fake, 3061 * 1000);
        return;
    }
    fixture->done = true;
    sb_conn_close(conn);
}

static void on_disconnected(sb_conn *conn, const wl_error *cause, bool will_retry, void *ctx)
{
    cbs_fixture *fixture = ctx;

    (void)conn;
    if (!will_retry && !fixture->done) {
        fixture->result = *cause;
        fixture->done = true;
    }
}

static uint64_t always_zero(void *ctx)
{
    (void)ctx;
    return 0;
}

/* With jitter drawn as 0, equal jitter gives half of each backoff ceiling. */
static const backoff_random lowest_jitter = {always_zero, NULL};

/* Moves the fake clock on while a REPLY_SCRIPT case waits: to the next scheduled put-token
 * when the client is idle, or towards the reply deadline when the node stays silent. */
static void advance_script_clock(cbs_fixture *fixture)
{
    if (fixture->done || !sb_conn_is_ready(fixture->conn)) {
        return;
    }
    if (fixture->awaiting_result) {
        if (fixture->request_unanswered) {
            wl_fake_clock_advance(&fixture->fake, 50);
        }
        return;
    }
    int64_t deadline = sb_conn_next_deadline_ms(fixture->conn);
    int64_t now = wl_clock_monotonic_ms(&fixture->fake.clock);
    if (deadline == INT64_MAX) {
        /* No put-token is scheduled, so no further result can come: end the case. */
        fixture->done = true;
        sb_conn_close(fixture->conn);
        return;
    }
    if (deadline > now) {
        wl_fake_clock_advance(&fixture->fake, deadline - now);
    }
    fixture->awaiting_result = true;
}

/*
 * Runs put-tokens against the node in `mode` until the client has its result (REPLY_SCRIPT:
 * `results_expected` results) and has closed. `script` and `results_expected` are set by the caller
 * for REPLY_SCRIPT; the rest of the fixture is reset here.
 */
static void run_case(cbs_fixture *fixture, reply_mode mode, bool refresh_case)
{
    wl_error err = {0};
    int script[MAX_REQUESTS];
    int results_expected = fixture->results_expected;

    memcpy(script, fixture->script, sizeof script);
    memset(fixture, 0, sizeof *fixture);
    memcpy(fixture->script, script, sizeof script);
    fixture->results_expected = results_expected;
    fixture->awaiting_result = true;
    fixture->mode = mode;
    fixture->refresh_case = refresh_case;
    wl_fake_clock_init(&fixture->fake, 1000, (int64_t)1700000000 * 1000000);
    fixture->proactor = pn_proactor();
    fixture->listener = pn_listener();
    fixture->request = pn_message();
    fixture->reply = pn_message();
    uint16_t port = amqp_peer_listen(fixture->proactor, fixture->listener);

    fixture->credential = cred_sas_create("send", "test-key", 3600, &fixture->fake.clock);
    sb_conn_options options = {
        .host = "127.0.0.1",
        .port = port,
        .auth = SB_AUTH_CBS,
        .credential = fixture->credential,
        .cbs_timeout_ms = 300,
        .give_up_after_ms = 5000,
        .clock = &fixture->fake.clock,
        .random = &lowest_jitter,
        .callbacks = {.on_ready = on_ready,
                      .on_authorized = on_authorized,
                      .on_disconnected = on_disconnected},
        .ctx = fixture,
    };
    fixture->conn = sb_conn_create((sb_io){.proactor = fixture->proactor}, &options, &err);
    CHECK(fixture->conn != NULL);
    CHECK_INT_EQ(sb_conn_start(fixture->conn, &err), WL_OK);

    while (!(fixture->done && sb_conn_is_stopped(fixture->conn))) {
        pn_event_batch_t *batch = pn_proactor_wait(fixture->proactor);
        for (pn_event_t *event; (event = pn_event_batch_next(batch)) != NULL;) {
            sb_conn *conn = sb_conn_from_event(event);
            if (pn_event_type(event) == PN_PROACTOR_TIMEOUT) {
                sb_conn_tick(fixture->conn);
            } else if (conn == NULL) {
                node_handle(fixture, event);
            } else {
                sb_conn_dispatch(conn, event);
            }
        }
        pn_proactor_done(fixture->proactor, batch);
        if (mode == REPLY_NONE) {
            /* Time passes only on the fake clock, so move it towards the reply deadline. */
            wl_fake_clock_advance(&fixture->fake, 50);
        } else if (mode == REPLY_SCRIPT) {
            advance_script_clock(fixture);
        }
        int64_t deadline = sb_conn_next_deadline_ms(fixture->conn);
        int64_t now = wl_clock_monotonic_ms(&fixture->fake.clock);
        int64_t delay = deadline == INT64_MAX ? 100 : deadline - now;
        pn_proactor_set_timeout(fixture->proactor, (pn_millis_t)(delay < 0     ? 0
                                                                 : delay > 100 ? 100
                                                                               : delay));
    }

    sb_conn_destroy(fixture->conn);
    pn_listener_close(fixture->listener);
    pn_proactor_free(fixture->proactor);
    cred_destroy(fixture->credential);
    pn_message_free(fixture->request);
    pn_message_free(fixture->reply);
}

TEST_CASE(put_token_accepted)
{
    static cbs_fixture fixture;

    run_case(&fixture, REPLY_OK, false);
    CHECK(fixture.authorized);
    CHECK_INT_EQ(fixture.requests, 1);
    CHECK_STR_EQ(fixture.request_operation, "put-token");
    CHECK_STR_EQ(fixture.request_type, "servicebus.windows.net:sastoken");
    CHECK(strncmp(fixture.audience, "sb://127.0.0.1:", 15) == 0);
    CHECK_STR_EQ(fixture.request_name, fixture.audience);
    CHECK(strncmp(fixture.request_body, "SharedAccessSignature sr=sb%3A%2F%2F127.0.0.1%3A", 48) ==
          0);
    CHECK(strstr(fixture.request_body, "&skn=send") != NULL);
    /* The reply address is the client's receiver link name and target. */
    CHECK(strncmp(fixture.request_reply_to, "reply-", 6) == 0);
}

TEST_CASE(put_token_status_as_long)
{
    static cbs_fixture fixture;

    run_case(&fixture, REPLY_ACCEPTED_LONG, false);
    CHECK(fixture.authorized);
}

TEST_CASE(put_token_unauthorized)
{
    static cbs_fixture fixture;

    run_case(&fixture, REPLY_UNAUTHORIZED, false);
    CHECK(!fixture.authorized);
    CHECK_INT_EQ(fixture.result.status, WL_ERR_AUTH);
    CHECK_INT_EQ(fixture.result.http_status, 401);
    CHECK(strstr(fixture.result.message, "rejected with status 401: InvalidSignature") != NULL);
}

TEST_CASE(put_token_timeout)
{
    static cbs_fixture fixture;

    run_case(&fixture, REPLY_NONE, false);
    CHECK(!fixture.authorized);
    CHECK_INT_EQ(fixture.result.status, WL_ERR_TIMEOUT);
    CHECK(strstr(fixture.result.message, "no reply from $cbs") != NULL);
}

TEST_CASE(reply_matched_by_correlation)
{
    static cbs_fixture fixture;

    /* A reply for another request is ignored; the matching 200 completes the put-token. */
    run_case(&fixture, REPLY_STRAY_FIRST, false);
    CHECK(fixture.authorized);
    CHECK_INT_EQ(fixture.requests, 1);
}

TEST_CASE(refresh_puts_new_token)
{
    static cbs_fixture fixture;
    char first_expiry[32];
    char second_expiry[32];

    run_case(&fixture, REPLY_OK, true);
    CHECK_INT_EQ(fixture.authorizations, 2);
    CHECK_INT_EQ(fixture.requests, 2);
    CHECK(fixture.authorized);
    /* The second token is a new signature that expires an hour after the refresh. */
    const char *first = strstr(fixture.first_token, "&se=");
    const char *second = strstr(fixture.request_body, "&se=");
    CHECK(first != NULL);
    CHECK(second != NULL);
    snprintf(first_expiry, sizeof first_expiry, "%.14s", first != NULL ? first : "");
    snprintf(second_expiry, sizeof second_expiry, "%.14s", second != NULL ? second : "");
    CHECK_STR_EQ(first_expiry, "&se=1700003600");
    CHECK_STR_EQ(second_expiry, "&se=1700006661");
}

TEST_CASE(retry_delay_schedule)
{
    /* Equal jitter: each delay is in the upper half of a ceiling that doubles from 1 s. */
    CHECK_INT_EQ(cbs_retry_delay_ms(1, 0, &lowest_jitter), 500);
    CHECK_INT_EQ(cbs_retry_delay_ms(2, 0, &lowest_jitter), 1000);
    CHECK_INT_EQ(cbs_retry_delay_ms(3, 0, &lowest_jitter), 2000);
    /* The ceiling stops at 30 s, however many failures. */
    CHECK_INT_EQ(cbs_retry_delay_ms(6, 0, &lowest_jitter), 15000);
    CHECK_INT_EQ(cbs_retry_delay_ms(1000, 0, &lowest_jitter), 15000);
    for (int i = 0; i < 200; i++) {
        int64_t first = cbs_retry_delay_ms(1, 0, NULL);
        int64_t late = cbs_retry_delay_ms(50, 0, NULL);
        CHECK(first >= 500);
        CHECK(first <= 1000);
        CHECK(late >= 15000);
        CHECK(late <= 30000);
    }
}

TEST_CASE(retry_delay_before_expiry)
{
    /* A token that is still valid for 10 s caps the delay at 5 s. */
    CHECK_INT_EQ(cbs_retry_delay_ms(6, 10000, &lowest_jitter), 5000);
    for (int i = 0; i < 200; i++) {
        CHECK(cbs_retry_delay_ms(6, 10000, NULL) <= 5000);
    }
    /* A token with long to live leaves the backoff alone. */
    CHECK_INT_EQ(cbs_retry_delay_ms(6, 600000, &lowest_jitter), 15000);
    CHECK_INT_EQ(cbs_retry_delay_ms(1, 10000, &lowest_jitter), 500);
    /* Close to expiry the cap does not drop below 1 s. */
    CHECK_INT_EQ(cbs_retry_delay_ms(6, 1500, &lowest_jitter), 1000);
    CHECK_INT_EQ(cbs_retry_delay_ms(6, 10, &lowest_jitter), 1000);
    /* An expired token caps nothing: the plain backoff applies. */
    CHECK_INT_EQ(cbs_retry_delay_ms(6, -5000, &lowest_jitter), 15000);
}

TEST_CASE(rejected_token_retried)
{
    static cbs_fixture fixture;
    int script[MAX_REQUESTS] = {401, 401, 403, 200};

    memcpy(fixture.script, script, sizeof script);
    fixture.results_expected = 4;
    run_case(&fixture, REPLY_SCRIPT, false);
    CHECK_INT_EQ(fixture.requests, 4);
    CHECK_INT_EQ(fixture.failures, 3);
    CHECK(fixture.authorized);
    /* The tries follow the backoff: 500, 1000 and 2000 ms with the lowest jitter. */
    CHECK_INT_EQ(fixture.request_at_ms[1] - fixture.request_at_ms[0], 500);
    CHECK_INT_EQ(fixture.request_at_ms[2] - fixture.request_at_ms[1], 1000);
    CHECK_INT_EQ(fixture.request_at_ms[3] - fixture.request_at_ms[2], 2000);
}

TEST_CASE(timed_out_token_retried)
{
    static cbs_fixture fixture;
    int script[MAX_REQUESTS] = {0, 0, 200};

    memcpy(fixture.script, script, sizeof script);
    fixture.results_expected = 3;
    run_case(&fixture, REPLY_SCRIPT, false);
    CHECK_INT_EQ(fixture.requests, 3);
    CHECK_INT_EQ(fixture.failures, 2);
    CHECK(fixture.authorized);
    /* Each try waits for the 300 ms reply deadline, then for the backoff. The clock moves in
     * 50 ms steps while the node is silent, which allows up to 100 ms more. */
    CHECK(fixture.request_at_ms[1] - fixture.request_at_ms[0] >= 300 + 500);
    CHECK(fixture.request_at_ms[1] - fixture.request_at_ms[0] <= 300 + 500 + 100);
    CHECK(fixture.request_at_ms[2] - fixture.request_at_ms[1] >= 300 + 1000);
    CHECK(fixture.request_at_ms[2] - fixture.request_at_ms[1] <= 300 + 1000 + 100);
}

TEST_CASE(failed_refresh_retried)
{
    static cbs_fixture fixture;
    int script[MAX_REQUESTS] = {200, 401, 503, 200, 200};

    memcpy(fixture.script, script, sizeof script);
    fixture.results_expected = 5;
    run_case(&fixture, REPLY_SCRIPT, false);
    CHECK_INT_EQ(fixture.requests, 5);
    CHECK_INT_EQ(fixture.failures, 2);
    CHECK(fixture.authorized);
    /* The refresh of the one-hour SAS token comes 3000 s in, and fails twice. */
    CHECK_INT_EQ(fixture.request_at_ms[1] - fixture.request_at_ms[0], 3000 * 1000);
    /* The retries back off from the first failure of this run, well before the expiry. */
    CHECK_INT_EQ(fixture.request_at_ms[2] - fixture.request_at_ms[1], 500);
    CHECK_INT_EQ(fixture.request_at_ms[3] - fixture.request_at_ms[2], 1000);
    /* After the refresh succeeds, the schedule is the normal one again: the next put comes
     * 3000 s after that token was issued, which SAS counts in whole seconds. */
    CHECK(fixture.request_at_ms[4] - fixture.request_at_ms[3] > 2999 * 1000);
    CHECK(fixture.request_at_ms[4] - fixture.request_at_ms[3] <= 3000 * 1000);
}

TEST_MAIN(TEST_ENTRY(put_token_accepted), TEST_ENTRY(put_token_status_as_long),
          TEST_ENTRY(put_token_unauthorized), TEST_ENTRY(put_token_timeout),
          TEST_ENTRY(reply_matched_by_correlation), TEST_ENTRY(refresh_puts_new_token),
          TEST_ENTRY(retry_delay_schedule), TEST_ENTRY(retry_delay_before_expiry),
          TEST_ENTRY(rejected_token_retried), TEST_ENTRY(timed_out_token_retried),
          TEST_ENTRY(failed_refresh_retried))
