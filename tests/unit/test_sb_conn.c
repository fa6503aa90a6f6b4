/*
 * The reconnect schedule of sb_conn against real sockets on loopback: a port that refuses every
 * connection, and a peer that accepts TCP but never replies to the AMQP header. Time runs on a fake
 * clock that jumps to the connection's next deadline whenever the proactor has been idle for
 * IDLE_MS of real time, so each case checks exact times without waiting for them.
 */
#include "check.h"

#include "clock.h"
#include "sb_conn.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <proton/proactor.h>
#include <sys/socket.h>
#include <unistd.h>

#define IDLE_MS     200
#define MAX_REPORTS 16

typedef struct report {
    bool will_retry;
    unsigned failed_attempts;
    int64_t reconnect_in_ms;
    int64_t at_ms; /* fake time since the start */
    wl_error cause;
} report;

typedef struct conn_fixture {
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

/* Runs a connection to `port` on the fake clock until it stops for good. */
static void run_until_stopped(conn_fixture *fixture, uint16_t port, int64_t connect_timeout_ms,
                              int64_t give_up_after_ms)
{
    pn_proactor_t *proactor = pn_proactor();
    wl_error err = {0};

    memset(fixture, 0, sizeof *fixture);
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
        .callbacks = {.on_disconnected = on_disconnected},
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
                sb_conn_dispatch(conn, event);
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
    pn_proactor_free(proactor);
}

/* Refused at once, every attempt: retries at 400 and 1200 ms, and the next one (2800 ms) would
 * be past the give-up time, so the connection stops at exactly 2000 ms. */
TEST_CASE(give_up_while_waiting)
{
    static conn_fixture fixture;

    run_until_stopped(&fixture, closed_port(), 30000, 2000);
    CHECK_INT_EQ(fixture.report_count, 4);
    for (int i = 0; i < 3 && i < fixture.report_count; i++) {
        const report *retry = &fixture.reports[i];
        CHECK(retry->will_retry);
        CHECK_INT_EQ(retry->failed_attempts, i + 1);
        CHECK_INT_EQ(retry->reconnect_in_ms, 400 << i);
        CHECK(strstr(retry->cause.message, "refused") != NULL);
    }
    CHECK_INT_EQ(fixture.reports[1].at_ms, 400);
    CHECK_INT_EQ(fixture.reports[2].at_ms, 1200);

    const report *last = &fixture.reports[3];
    CHECK(!last->will_retry);
    CHECK_INT_EQ(last->at_ms, 2000);
    CHECK_INT_EQ(last->reconnect_in_ms, -1);
    CHECK(strstr(last->cause.message, "refused") != NULL);
    CHECK(strstr(last->cause.message, "; gave up after 2000 ms without a connection") != NULL);
}

/* A peer that never replies: the first attempt times out at 1000 ms, the retry starts at
 * 1400 ms and is cut at the give-up time, 1500 ms, with the first attempt's cause. */
TEST_CASE(give_up_cuts_attempt)
{
    static conn_fixture fixture;
    uint16_t port = 0;
    int listener = listen_without_accepting(&port);

    CHECK(listener >= 0);
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
    CHECK(strstr(last->cause.message, "timed out after 1000 ms; gave up after 1500 ms") != NULL);
}

TEST_MAIN(TEST_ENTRY(give_up_while_waiting), TEST_ENTRY(give_up_cuts_attempt))
