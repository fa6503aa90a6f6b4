/*
 * The reconnect schedule of sb_conn against real sockets on loopback. One peer is a port that
 * refuses every connection, one a listener that accepts TCP but never replies to the AMQP
 * header. The last is an AMQP peer on the test's own proactor: it opens the connection, then
 * keeps it idle or closes it. Time runs on a fake clock that jumps to the connection's next
 * deadline whenever the proactor has been idle for IDLE_MS of real time, so no case waits for its
 * times.
 */
#include "check.h"

#include "amqp_peer.h"

#include "clock.h"
#include "sb_conn.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <proton/condition.h>
#include <proton/connection.h>
#include <proton/listener.h>
#include <proton/proactor.h>
#include <proton/session.h>
#include <sys/socket.h>
#include <unistd.h>

/* Real idle time taken to mean that only the connection's own deadlines can happen. Loopback
 * connects, refusals and handshakes take far less, even on a busy machine. */
#define IDLE_MS     500
#define MAX_REPORTS 16

typedef struct report {
    bool will_retry;
    unsigned failed_attempts;
    int64_t reconnect_in_ms;
    int64_t at_ms; /* fake time since the start */
    wl_error cause;
} report;

/* What the AMQP peer on the test's proactor does once it has opened the connection. */
typedef enum peer_mode {
    PEER_KEEP,  /* keeps it open and idle; the client never reports it working */
    PEER_CLOSE, /* closes it with amqp:connection:forced; the client reports it working first */
    PEER_CLOSE_LATE, /* like PEER_CLOSE, but keeps the first connection for 1.5 s of fake time */
    PEER_KEEP_LINK_LOST, /* keeps it open; the client reports it working, and 1.5 s later its
                            link lost (sb_conn_mark_not_working) */
    PEER_KEEP_DROPPED,   /* keeps it open; the client reports it working, drops the first
                            connection 1.5 s later as having worked for 1 s, and each later
                            one at once as having done no work (sb_conn_drop) */
} peer_mode;

typedef struct conn_fixture {
    pn_proactor_t *proactor;
    pn_listener_t *listener; /* the AMQP peer, or NULL */
    peer_mode mode;
    pn_connection_t
        *held_connection; /* PEER_CLOSE_LATE: the first connection, until it is closed */
    bool held_close_requested;
    bool link_lost; /* PEER_KEEP_LINK_LOST: the client has reported its link lost */
    unsigned drops; /* PEER_KEEP_DROPPED: connections the client has dropped */
    wl_fake_clock fake;
    int64_t start_ms;
    report reports[MAX_REPORTS];
    int report_count;
    bool stopped;
} conn_fixture;

static void on_disconnected(sb_conn *conn, const wl_error *cause, bool will_retry, void *ctx)
{
    conn_fixture *fixture = ctx;

    if (fixture->report_count < MAX_REPORTS) {
        fixture->reports[fixture->report_count++] = (report){
            .will_retry = will_retry,
            .failed_attempts = sb_conn_failed_attempts(conn),
            .reconnect_in_ms = sb_conn_reconnect_in_ms(conn),
            .at_ms = wl_clock_monotonic_ms(&fixture->fake.clock) - fixture->start_ms,
            .cause = *cause,
        };
    }
    fixture->stopped = fixture->stopped || !will_retry;
}

/* Reports the connection as working as soon as it opens, as an application whose link the peer
 * attached at once would. */
static void on_ready_working(sb_conn *conn, void *ctx)
{
    (void)ctx;
    sb_conn_mark_working(conn);
}

static void peer_handle(conn_fixture *fixture, pn_event_t *event)
{
    switch (pn_event_type(event)) {
    case PN_LISTENER_ACCEPT:
        amqp_peer_accept(event);
        break;
    case PN_CONNECTION_REMOTE_OPEN:
        pn_connection_open(pn_event_connection(event));
        break;
    case PN_SESSION_REMOTE_OPEN: {
        pn_connection_t *connection = pn_event_connection(event);
        pn_session_open(pn_event_session(event));
        if (fixture->mode == PEER_CLOSE_LATE && fixture->held_connection == NULL &&
            !fixture->held_close_requested) {
            fixture->held_connection = connection;
        } else if (fixture->mode == PEER_CLOSE || fixture->mode == PEER_CLOSE_LATE) {
            pn_condition_set_name(pn_connection_condition(connection), "amqp:connection:forced");
            pn_connection_close(connection);
        }
        break;
    }
    case PN_CONNECTION_WAKE:
        if (pn_event_connection(event) == fixture->held_connection) {
            pn_condition_set_name(pn_connection_condition(fixture->held_connection),
                                  "amqp:connection:forced");
            pn_connection_close(fixture->held_connection);
            fixture->held_connection = NULL;
        }
        break;
    case PN_CONNECTION_REMOTE_CLOSE:
        pn_connection_close(pn_event_connection(event));
        break;
    default:
        break;
    }
}

/* Starts the AMQP peer in `mode` on the fixture's proactor; returns its port. */
static uint16_t peer_start(conn_fixture *fixture, peer_mode mode)
{
    fixture->mode = mode;
    fixture->listener = pn_listener();
    return amqp_peer_listen(fixture->proactor, fixture->listener);
}

/* Draws the highest jitter, so that every full-jitter delay is its whole ceiling. */
static uint64_t always_max(void *ctx)
{
    (void)ctx;
    return UINT64_MAX;
}

static const backoff_random highest_jitter = {always_max, NULL};

/* Returns a loopback socket listening on a free port that accepts no connection, or -1. */
static int listen_without_accepting(uint16_t *out_port)
{
    struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = 0};
    socklen_t length = sizeof address;
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || bind(fd, (struct sockaddr *)&address, sizeof address) != 0 ||
        listen(fd, 4) != 0 || getsockname(fd, (struct sockaddr *)&address, &length) != 0) {
        if (fd >= 0) {
            close(fd);
        }
        return -1;
    }
    *out_port = ntohs(address.sin_port);
    return fd;
}

/* Returns a loopback port that nothing listens on: bound to find it free, then closed. */
static uint16_t closed_port(void)
{
    uint16_t port = 0;
    int fd = listen_without_accepting(&port);

    if (fd >= 0) {
        close(fd);
    }
    return port;
}

static void fixture_init(conn_fixture *fixture)
{
    memset(fixture, 0, sizeof *fixture);
    fixture->proactor = pn_proactor();
}

/* Runs a connection to `port` on the fake clock until it stops for good, then frees the
 * fixture's proactor. */
static void run_until_stopped(conn_fixture *fixture, uint16_t port, int64_t connect_timeout_ms,
                              int64_t give_up_after_ms)
{
    pn_proactor_t *proactor = fixture->proactor;
    wl_error err = {0};

    wl_fake_clock_init(&fixture->fake, 1000, (int64_t)1700000000 * 1000000);
    fixture->start_ms = wl_clock_monotonic_ms(&fixture->fake.clock);
    sb_conn_options options = {
        .host = "127.0.0.1",
        .port = port,
        .auth = SB_AUTH_NONE,
        .connect_timeout_ms = connect_timeout_ms,
        .give_up_after_ms = give_up_after_ms,
        .reconnect_backoff = {.initial_ms = 400, .max_ms = 30000, .multiplier = 2.0},
        .clock = &fixture->fake.clock,
        .random = &highest_jitter,
        .callbacks = {.on_ready = fixture->listener != NULL && fixture->mode != PEER_KEEP
                                      ? on_ready_working
                                      : NULL,
                      .on_disconnected = on_disconnected},
        .ctx = fixture,
    };
    sb_conn *conn = sb_conn_create((sb_io){.proactor = proactor}, &options, &err);
    CHECK(conn != NULL);
    CHECK_INT_EQ(sb_conn_start(conn, &err), WL_OK);

    pn_proactor_set_timeout(proactor, IDLE_MS);
    while (!fixture->stopped) {
        pn_event_batch_t *batch = pn_proactor_wait(proactor);
        for (pn_event_t *event; (event = pn_event_batch_next(batch)) != NULL;) {
            if (pn_event_type(event) != PN_PROACTOR_TIMEOUT) {
                if (sb_conn_from_event(event) != NULL) {
                    sb_conn_dispatch(conn, event);
                } else {
                    peer_handle(fixture, event);
                }
                continue;
            }
            if (fixture->held_connection != NULL && !fixture->held_close_requested) {
                /* The held connection has worked for 1.5 s when the peer closes it. */
                fixture->held_close_requested = true;
                wl_fake_clock_advance(&fixture->fake, 1500);
                pn_connection_wake(fixture->held_connection);
                continue;
            }
            if (fixture->mode == PEER_KEEP_LINK_LOST && !fixture->link_lost &&
                sb_conn_is_ready(conn)) {
                wl_error cause = {0};
                wl_error_set(&cause, WL_ERR_NOT_FOUND,
                             "amqp:not-found: the test removed the queue");
                fixture->link_lost = true;
                wl_fake_clock_advance(&fixture->fake, 1500);
                sb_conn_mark_not_working(conn, &cause);
                continue;
            }
            if (fixture->mode == PEER_KEEP_DROPPED && sb_conn_is_ready(conn) &&
                fixture->drops < sb_conn_connect_count(conn)) {
                wl_error cause = {0};
                wl_error_set(&cause, WL_ERR_TIMEOUT, "the test found the peer stalled");
                int64_t worked_until = wl_clock_monotonic_ms(&fixture->fake.clock);
                if (fixture->drops++ == 0) {
                    /* The first connection worked for 1 s, then stalled for 0.5 s. */
                    wl_fake_clock_advance(&fixture->fake, 1500);
                    worked_until += 1000;
                }
                sb_conn_drop(conn, &cause, worked_until);
                continue;
            }
            /* Idle: nothing but the connection's own deadlines can happen now. */
            int64_t now = wl_clock_monotonic_ms(&fixture->fake.clock);
            int64_t deadline = sb_conn_next_deadline_ms(conn);
            if (deadline != INT64_MAX && deadline > now) {
                wl_fake_clock_advance(&fixture->fake, deadline - now);
            }
            sb_conn_tick(conn);
        }
        pn_proactor_done(proactor, batch);
        pn_proactor_set_timeout(proactor, IDLE_MS);
    }
    sb_conn_destroy(conn);
    if (fixture->listener != NULL) {
        pn_listener_close(fixture->listener);
    }
    pn_proactor_free(proactor);
}

/* Refused at once, every attempt: retries at 400 and 1200 ms, and the next one (2800 ms) would
 * be past the give-up time, so none is scheduled and the connection stops at exactly 2000 ms. */
TEST_CASE(give_up_while_waiting)
{
    static conn_fixture fixture;

    fixture_init(&fixture);
    run_until_stopped(&fixture, closed_port(), 30000, 2000);
    CHECK_INT_EQ(fixture.report_count, 4);
    for (int i = 0; i < 3 && i < fixture.report_count; i++) {
        const report *retry = &fixture.reports[i];
        CHECK(retry->will_retry);
        CHECK_INT_EQ(retry->failed_attempts, i + 1);
        CHECK_INT_EQ(retry->reconnect_in_ms, i < 2 ? 400 << i : -1);
        CHECK(strstr(retry->cause.message, "refused") != NULL);
    }
    CHECK_INT_EQ(fixture.reports[1].at_ms, 400);
    CHECK_INT_EQ(fixture.reports[2].at_ms, 1200);

    const report *last = &fixture.reports[3];
    CHECK(!last->will_retry);
    CHECK_INT_EQ(last->at_ms, 2000);
    CHECK_INT_EQ(last->reconnect_in_ms, -1);
    CHECK(strstr(last->cause.message, "refused") != NULL);
    CHECK(strstr(last->cause.message,
                 "; gave up after 2000 ms in which this connection did not work") != NULL);
}

/* A peer that never replies: the first attempt times out at 1000 ms, the retry starts at
 * 1400 ms and is cut at the give-up time, 1500 ms, with the first attempt's cause. */
TEST_CASE(give_up_cuts_attempt)
{
    static conn_fixture fixture;
    uint16_t port = 0;
    int listener = listen_without_accepting(&port);

    CHECK(listener >= 0);
    fixture_init(&fixture);
    run_until_stopped(&fixture, port, 1000, 1500);
    close(listener);
    CHECK_INT_EQ(fixture.report_count, 2);

    const report *retry = &fixture.reports[0];
    CHECK(retry->will_retry);
    CHECK_INT_EQ(retry->at_ms, 1000);
    CHECK_INT_EQ(retry->failed_attempts, 1);
    CHECK_INT_EQ(retry->reconnect_in_ms, 400);
    CHECK(strstr(retry->cause.message, "timed out after 1000 ms") != NULL);

    const report *last = &fixture.reports[1];
    CHECK(!last->will_retry);
    CHECK_INT_EQ(last->at_ms, 1500);
    CHECK(strstr(last->cause.message, "had not finished (latest failure: connecting to ") != NULL);
    CHECK(strstr(last->cause.message, "timed out after 1000 ms); gave up after 1500 ms") != NULL);
}

/* An open connection that never works (no link attached) is closed at the give-up time. */
TEST_CASE(give_up_closes_unused)
{
    static conn_fixture fixture;

    fixture_init(&fixture);
    run_until_stopped(&fixture, peer_start(&fixture, PEER_KEEP), 30000, 2000);
    CHECK_INT_EQ(fixture.report_count, 1);

    const report *last = &fixture.reports[0];
    CHECK(!last->will_retry);
    CHECK_INT_EQ(last->at_ms, 2000);
    CHECK(strstr(last->cause.message, "is open, but no link is attached on it") != NULL);
    CHECK(strstr(last->cause.message,
                 "; gave up after 2000 ms in which this connection did not work") != NULL);
}

/* A peer that closes each connection as soon as it works: the backoff still grows (400, 800 ms,
 * then none before the give-up time), and the connection gives up at 2000 ms, as against a
 * refused port. */
TEST_CASE(closed_at_once_backs_off)
{
    static conn_fixture fixture;

    fixture_init(&fixture);
    run_until_stopped(&fixture, peer_start(&fixture, PEER_CLOSE), 30000, 2000);
    CHECK_INT_EQ(fixture.report_count, 4);
    for (int i = 0; i < 3 && i < fixture.report_count; i++) {
        const report *retry = &fixture.reports[i];
        CHECK(retry->will_retry);
        CHECK_INT_EQ(retry->failed_attempts, 0); /* each connection opened */
        CHECK_INT_EQ(retry->reconnect_in_ms, i < 2 ? 400 << i : -1);
        CHECK(strstr(retry->cause.message, "amqp:connection:forced") != NULL);
    }

    const report *last = &fixture.reports[3];
    CHECK(!last->will_retry);
    CHECK_INT_EQ(last->at_ms, 2000);
    CHECK(strstr(last->cause.message, "amqp:connection:forced") != NULL);
}

/* A connection that worked for 1.5 s starts a new stretch when it closes: the backoff starts
 * again at 400 ms and the give-up time is 2000 ms after the loss (3500 ms). The later
 * connections close at once, so their backoff grows as in closed_at_once_backs_off. */
TEST_CASE(stable_connection_resets)
{
    static conn_fixture fixture;

    fixture_init(&fixture);
    run_until_stopped(&fixture, peer_start(&fixture, PEER_CLOSE_LATE), 30000, 2000);
    CHECK_INT_EQ(fixture.report_count, 5);

    static const int64_t at_ms[] = {1500, 1900, 2300, 3100, 3500};
    static const int64_t reconnect_in_ms[] = {400, 400, 800, -1, -1};
    for (int i = 0; i < 5 && i < fixture.report_count; i++) {
        const report *entry = &fixture.reports[i];
        CHECK_INT_EQ(entry->will_retry, i < 4);
        CHECK_INT_EQ(entry->at_ms, at_ms[i]);
        CHECK_INT_EQ(entry->reconnect_in_ms, reconnect_in_ms[i]);
        CHECK(strstr(entry->cause.message, "amqp:connection:forced") != NULL);
    }
}

/* A link lost for good on an open connection that had worked for 1.5 s: the give-up time runs
 * again from the loss, and the cut names the link's failure. */
TEST_CASE(link_lost_gives_up)
{
    static conn_fixture fixture;

    fixture_init(&fixture);
    run_until_stopped(&fixture, peer_start(&fixture, PEER_KEEP_LINK_LOST), 30000, 2000);
    CHECK(fixture.link_lost);
    CHECK_INT_EQ(fixture.report_count, 1);

    const report *last = &fixture.reports[0];
    CHECK(!last->will_retry);
    CHECK_INT_EQ(last->at_ms, 3500);
    CHECK(strstr(last->cause.message, "is open, but no link is attached on it (latest failure: "
                                      "amqp:not-found: the test removed the queue)") != NULL);
}

/* Connections that the application drops (sb_conn_drop). The first worked for 1 s before it
 * stalled, so its drop at 1500 ms starts a new stretch there: the first backoff delay, and a
 * give-up time of 3500 ms.
 * The later ones are dropped as having done no work, so they count as failed attempts: the
 * backoff grows, and the connection gives up at 3500 ms. on_disconnected gets the application's
 * cause, not the closed transport's. */
TEST_CASE(dropped_counts_as_failure)
{
    static conn_fixture fixture;

    fixture_init(&fixture);
    run_until_stopped(&fixture, peer_start(&fixture, PEER_KEEP_DROPPED), 30000, 2000);
    CHECK_INT_EQ(fixture.drops, 3);
    CHECK_INT_EQ(fixture.report_count, 4);

    static const int64_t at_ms[] = {1500, 1900, 2700, 3500};
    static const int64_t reconnect_in_ms[] = {400, 800, -1, -1};
    for (int i = 0; i < 4 && i < fixture.report_count; i++) {
        const report *entry = &fixture.reports[i];
        CHECK_INT_EQ(entry->will_retry, i < 3);
        CHECK_INT_EQ(entry->at_ms, at_ms[i]);
        CHECK_INT_EQ(entry->reconnect_in_ms, reconnect_in_ms[i]);
        CHECK_INT_EQ(entry->cause.status, WL_ERR_TIMEOUT);
        CHECK(strstr(entry->cause.message, "the test found the peer stalled") != NULL);
    }
    CHECK(strstr(fixture.reports[3].cause.message, "gave up after 2000 ms") != NULL);
}

/* The CBS audience is a URI, so an IPv6 host goes in brackets there, and the port follows it
 * only when it is not the transport's default. */
TEST_CASE(audience_brackets_ipv6)
{
    static const struct {
        const char *host;
        uint16_t port;
        bool tls;
        const char *audience;
    } cases[] = {
        {"::1", 5673, false, "sb://[::1]:5673/orders"},
        {"::1", 5672, false, "sb://[::1]/orders"},
        {"2001:db8::7", 5671, true, "sb://[2001:db8::7]/orders"},
        {"127.0.0.1", 5673, false, "sb://127.0.0.1:5673/orders"},
        {"ns.servicebus.windows.net", 5671, true, "sb://ns.servicebus.windows.net/orders"},
    };
    pn_proactor_t *proactor = pn_proactor();

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        sb_conn_options options = {.host = cases[i].host,
                                   .port = cases[i].port,
                                   .tls = cases[i].tls,
                                   .auth = SB_AUTH_NONE};
        wl_error err = {0};
        char audience[128];
        sb_conn *conn = sb_conn_create((sb_io){.proactor = proactor}, &options, &err);

        CHECK(conn != NULL);
        if (conn == NULL) {
            continue;
        }
        sb_conn_audience(conn, "orders", audience, sizeof audience);
        CHECK_STR_EQ(audience, cases[i].audience);
        sb_conn_destroy(conn);
    }
    pn_proactor_free(proactor);
}

TEST_MAIN(TEST_ENTRY(give_up_while_waiting), TEST_ENTRY(give_up_cuts_attempt),
          TEST_ENTRY(give_up_closes_unused), TEST_ENTRY(closed_at_once_backs_off),
          TEST_ENTRY(stable_connection_resets), TEST_ENTRY(link_lost_gives_up),
          TEST_ENTRY(dropped_counts_as_failure), TEST_ENTRY(audience_brackets_ipv6))
