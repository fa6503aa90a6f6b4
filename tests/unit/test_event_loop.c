/*
 * The event loop against a real AMQP peer: a Proton proactor on a second thread listens on
 * loopback, opens every connection it accepts and then behaves as each case specifies. The loop
 * under test runs on the test's own thread and records the events it delivers.
 */
#include "check.h"
#include "event_loop.h"

#include <proton/condition.h>
#include <proton/connection.h>
#include <proton/listener.h>
#include <proton/netaddr.h>
#include <proton/proactor.h>
#include <proton/sasl.h>
#include <proton/transport.h>

#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* Upper bound of every wait for an event; a correct loop needs milliseconds. */
#define WAIT_LIMIT_MS 10000

typedef enum peer_mode {
    PEER_OPEN,             /* open and keep the connection open */
    PEER_CLOSE_AFTER_OPEN, /* open, then close the connection at once */
} peer_mode;

/* The AMQP peer on its own proactor thread. */
typedef struct peer {
    pn_proactor_t *proactor;
    pn_listener_t *listener;
    pthread_t thread;
    peer_mode mode;
    pn_millis_t idle_timeout_ms; /* advertised by the peer; 0 for none */
    atomic_int port;             /* set once the listener is open */
    char port_text[16];          /* the same port, for event_loop_connect */
    atomic_bool idle_timeout_hit;
    atomic_int remote_opens;
} peer;

/* What the loop under test delivered. */
typedef struct recorder {
    int remote_opens;
    int remote_closes;
    int wakes;
    int transport_errors;
    int transport_closed;
    pn_connection_t *wake_connection;
    char error_name[64];
    char error_description[256];
    bool close_on_remote_close;
} recorder;

static void *peer_main(void *arg)
{
    peer *p = arg;
    bool running = true;

    while (running) {
        pn_event_batch_t *batch = pn_proactor_wait(p->proactor);
        for (pn_event_t *event; (event = pn_event_batch_next(batch)) != NULL;) {
            pn_connection_t *connection = pn_event_connection(event);
            switch (pn_event_type(event)) {
            case PN_LISTENER_OPEN: {
                char host[64];
                char port[16];
                pn_netaddr_host_port(pn_listener_addr(p->listener), host, sizeof host, port,
                                     sizeof port);
                atomic_store(&p->port, atoi(port));
                break;
            }
            case PN_LISTENER_ACCEPT: {
                pn_transport_t *transport = pn_transport();
                pn_transport_set_server(transport);
                pn_sasl_allowed_mechs(pn_sasl(transport), "ANONYMOUS");
                if (p->idle_timeout_ms > 0) {
                    pn_transport_set_idle_timeout(transport, p->idle_timeout_ms);
                }
                pn_listener_accept2(pn_event_listener(event), NULL, transport);
                break;
            }
            case PN_CONNECTION_REMOTE_OPEN:
                atomic_fetch_add(&p->remote_opens, 1);
                pn_connection_open(connection);
                if (p->mode == PEER_CLOSE_AFTER_OPEN) {
                    pn_condition_set_name(pn_connection_condition(connection), "amqp:not-allowed");
                    pn_connection_close(connection);
                }
                break;
            case PN_CONNECTION_REMOTE_CLOSE:
                pn_connection_close(connection);
                break;
            case PN_TRANSPORT_ERROR: {
                const char *name =
                    pn_condition_get_name(pn_transport_condition(pn_event_transport(event)));
                if (name != NULL && strcmp(name, "amqp:resource-limit-exceeded") == 0) {
                    atomic_store(&p->idle_timeout_hit, true);
                }
                break;
            }
            case PN_PROACTOR_INTERRUPT:
                running = false;
                break;
            default:
                break;
            }
        }
        pn_proactor_done(p->proactor, batch);
    }
    return NULL;
}

static void peer_start(peer *p, peer_mode mode, pn_millis_t idle_timeout_ms)
{
    memset(p, 0, sizeof *p);
    p->mode = mode;
    p->idle_timeout_ms = idle_timeout_ms;
    p->proactor = pn_proactor();
    p->listener = pn_listener();
    pn_proactor_listen(p->proactor, p->listener, "127.0.0.1:0", 16);
    pthread_create(&p->thread, NULL, peer_main, p);
    for (int i = 0; i < WAIT_LIMIT_MS && atomic_load(&p->port) == 0; i++) {
        usleep(1000);
    }
    snprintf(p->port_text, sizeof p->port_text, "%d", atomic_load(&p->port));
}

static void peer_stop(peer *p)
{
    pn_proactor_interrupt(p->proactor);
    pthread_join(p->thread, NULL);
    pn_proactor_free(p->proactor); /* frees the listener and every connection */
}

static void record(void *ctx, pn_event_t *event)
{
    recorder *r = ctx;
    pn_transport_t *transport = pn_event_transport(event);

    switch (pn_event_type(event)) {
    case PN_CONNECTION_REMOTE_OPEN:
        r->remote_opens++;
        break;
    case PN_CONNECTION_REMOTE_CLOSE:
        r->remote_closes++;
        if (r->close_on_remote_close) {
            pn_connection_close(pn_event_connection(event));
        }
        break;
    case PN_CONNECTION_WAKE:
        r->wakes++;
        r->wake_connection = pn_event_connection(event);
        break;
    case PN_TRANSPORT_ERROR: {
        pn_condition_t *condition = pn_transport_condition(transport);
        r->transport_errors++;
        snprintf(r->error_name, sizeof r->error_name, "%s",
                 pn_condition_get_name(condition) ? pn_condition_get_name(condition) : "");
        snprintf(r->error_description, sizeof r->error_description, "%s",
                 pn_condition_get_description(condition) ? pn_condition_get_description(condition)
                                                         : "");
        break;
    }
    case PN_TRANSPORT_CLOSED:
        r->transport_closed++;
        break;
    default:
        break;
    }
}

static int64_t monotonic_ms(void)
{
    struct timespec now;

    clock_gettime(CLOCK_MONOTONIC, &now);
    return (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

/* Runs the loop until `*counter` reaches `target` or WAIT_LIMIT_MS pass. */
static void run_until(event_loop *loop, const int *counter, int target)
{
    int64_t deadline = monotonic_ms() + WAIT_LIMIT_MS;

    while (*counter < target && monotonic_ms() < deadline) {
        event_loop_run(loop, 50);
    }
}

/* Starts a client connection with SASL ANONYMOUS, as sb_conn configures one. */
static pn_connection_t *connect_client_idle(event_loop *loop, const char *host, const char *port,
                                            pn_millis_t idle_timeout_ms)
{
    pn_connection_t *connection = pn_connection();
    pn_transport_t *transport = pn_transport();

    pn_sasl_allowed_mechs(pn_sasl(transport), "ANONYMOUS");
    pn_transport_set_idle_timeout(transport, idle_timeout_ms);
    pn_connection_set_container(connection, "event-loop-test");
    pn_connection_open(connection);
    event_loop_connect(loop, connection, transport, host, port);
    return connection;
}

static pn_connection_t *connect_client(event_loop *loop, const char *host, const char *port)
{
    return connect_client_idle(loop, host, port, 60000);
}

TEST_CASE(connects_opens_and_closes)
{
    recorder r = {0};
    peer p;

    peer_start(&p, PEER_OPEN, 0);
    event_loop *loop = event_loop_create(record, &r, NULL);
    pn_connection_t *connection = connect_client(loop, "127.0.0.1", p.port_text);

    run_until(loop, &r.remote_opens, 1);
    CHECK_INT_EQ(r.remote_opens, 1);
    CHECK_INT_EQ(atomic_load(&p.remote_opens), 1);
    CHECK_INT_EQ(event_loop_connection_count(loop), 1);

    pn_connection_close(connection);
    event_loop_flush(loop);
    run_until(loop, &r.transport_closed, 1);
    CHECK_INT_EQ(r.remote_closes, 1);
    CHECK_INT_EQ(r.transport_closed, 1);
    CHECK_INT_EQ(r.transport_errors, 0);
    CHECK_INT_EQ(event_loop_connection_count(loop), 0); /* freed after its last event */

    event_loop_destroy(loop);
    peer_stop(&p);
}

TEST_CASE(peer_close_ends_connection)
{
    recorder r = {.close_on_remote_close = true};
    peer p;

    peer_start(&p, PEER_CLOSE_AFTER_OPEN, 0);
    event_loop *loop = event_loop_create(record, &r, NULL);
    connect_client(loop, "127.0.0.1", p.port_text);

    run_until(loop, &r.transport_closed, 1);
    CHECK_INT_EQ(r.remote_opens, 1);
    CHECK_INT_EQ(r.remote_closes, 1);
    CHECK_INT_EQ(r.transport_closed, 1);
    CHECK_INT_EQ(event_loop_connection_count(loop), 0);

    event_loop_destroy(loop);
    peer_stop(&p);
}

/* A port that nothing listens on: bound, never listened, so connects are refused. */
static int closed_port(int *holder)
{
    struct sockaddr_in address = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(0x7f000001)};
    socklen_t length = sizeof address;

    *holder = socket(AF_INET, SOCK_STREAM, 0);
    bind(*holder, (struct sockaddr *)&address, sizeof address);
    getsockname(*holder, (struct sockaddr *)&address, &length);
    return ntohs(address.sin_port);
}

TEST_CASE(idle_timeout_closes_at_once)
{
    recorder r = {0};
    int holder = -1;
    char port[16];

    /* The kernel accepts the connection into the backlog, and nothing ever replies on it. */
    snprintf(port, sizeof port, "%d", closed_port(&holder));
    CHECK_INT_EQ(listen(holder, 1), 0);
    event_loop *loop = event_loop_create(record, &r, NULL);
    connect_client_idle(loop, "127.0.0.1", port, 300);

    run_until(loop, &r.transport_errors, 1);
    CHECK_INT_EQ(r.transport_errors, 1);
    CHECK_STR_EQ(r.error_name, "amqp:resource-limit-exceeded");
    /* The close that the timer's error causes comes in the same run, not after another wait. */
    CHECK_INT_EQ(r.transport_closed, 1);
    CHECK_INT_EQ(event_loop_connection_count(loop), 0);

    event_loop_destroy(loop);
    close(holder);
}

TEST_CASE(connect_refused_reported)
{
    recorder r = {0};
    int holder = -1;
    char port[16];
    char expected[64];

    snprintf(port, sizeof port, "%d", closed_port(&holder));
    event_loop *loop = event_loop_create(record, &r, NULL);
    connect_client(loop, "127.0.0.1", port);

    run_until(loop, &r.transport_closed, 1);
    CHECK_INT_EQ(r.transport_errors, 1);
    CHECK_INT_EQ(r.transport_closed, 1);
    CHECK_INT_EQ(r.remote_opens, 0);
    CHECK_STR_EQ(r.error_name, "proton:io");
    CHECK(strstr(r.error_description, "Connection refused") != NULL);
    snprintf(expected, sizeof expected, "127.0.0.1:%s", port);
    CHECK(strstr(r.error_description, expected) != NULL);
    CHECK_INT_EQ(event_loop_connection_count(loop), 0);

    event_loop_destroy(loop);
    close(holder);
}

TEST_CASE(resolve_failure_reported)
{
    recorder r = {0};
    event_loop *loop = event_loop_create(record, &r, NULL);

    /* A service name that does not exist fails in getaddrinfo without any DNS lookup. */
    connect_client(loop, "127.0.0.1", "no-such-service");
    run_until(loop, &r.transport_closed, 1);
    CHECK_INT_EQ(r.transport_errors, 1);
    CHECK_INT_EQ(r.transport_closed, 1);
    CHECK_STR_EQ(r.error_name, "proton:io");
    CHECK(strstr(r.error_description, "on resolve of 127.0.0.1:no-such-service") != NULL);
    CHECK_INT_EQ(event_loop_connection_count(loop), 0);

    event_loop_destroy(loop);
}

/* A resolver that waits until the test lets it go, then resolves any host to 127.0.0.1. */
static struct {
    pthread_mutex_t lock;
    pthread_cond_t changed;
    bool released;
    atomic_int started;
    atomic_int returned;
} held = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, false, 0, 0};

static int held_resolve(const char *host, const char *port, const struct addrinfo *hints,
                        struct addrinfo **result)
{
    struct addrinfo numeric = *hints;

    (void)host;
    atomic_fetch_add(&held.started, 1);
    pthread_mutex_lock(&held.lock);
    while (!held.released) {
        pthread_cond_wait(&held.changed, &held.lock);
    }
    pthread_mutex_unlock(&held.lock);
    numeric.ai_flags |= AI_NUMERICHOST;
    int status = getaddrinfo("127.0.0.1", port, &numeric, result);
    atomic_fetch_add(&held.returned, 1);
    return status;
}

static void held_reset(void)
{
    held.released = false;
    atomic_store(&held.started, 0);
    atomic_store(&held.returned, 0);
}

static void held_release(void)
{
    pthread_mutex_lock(&held.lock);
    held.released = true;
    pthread_cond_broadcast(&held.changed);
    pthread_mutex_unlock(&held.lock);
}

/* Waits up to WAIT_LIMIT_MS until `*counter` reaches `target`. */
static void wait_for(atomic_int *counter, int target)
{
    for (int i = 0; i < WAIT_LIMIT_MS && atomic_load(counter) < target; i++) {
        usleep(1000);
    }
}

static void on_watch_ready(void *ctx);

typedef struct watch_state {
    int fd;
    int calls;
} watch_state;

/* While a host name is being looked up, the loop goes on serving its other descriptors, and
 * the connection opens once the lookup returns. */
TEST_CASE(lookup_runs_beside_loop)
{
    recorder r = {0};
    peer p;
    watch_state state = {.fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)};
    uint64_t increment = 1;

    held_reset();
    peer_start(&p, PEER_OPEN, 0);
    event_loop *loop = event_loop_create(record, &r, NULL);
    event_loop_set_resolver(loop, held_resolve);
    CHECK_INT_EQ(event_loop_watch(loop, state.fd, on_watch_ready, &state, NULL), WL_OK);
    pn_connection_t *connection = connect_client(loop, "servicebus-peer.test", p.port_text);
    wait_for(&held.started, 1);
    CHECK_INT_EQ(atomic_load(&held.started), 1);

    CHECK(write(state.fd, &increment, sizeof increment) == sizeof increment);
    event_loop_run(loop, WAIT_LIMIT_MS);
    CHECK_INT_EQ(state.calls, 1);
    CHECK_INT_EQ(r.remote_opens, 0);
    CHECK_INT_EQ(event_loop_connection_count(loop), 1);

    held_release();
    run_until(loop, &r.remote_opens, 1);
    CHECK_INT_EQ(r.remote_opens, 1);
    CHECK_INT_EQ(atomic_load(&p.remote_opens), 1);

    pn_connection_close(connection);
    event_loop_flush(loop);
    run_until(loop, &r.transport_closed, 1);
    CHECK_INT_EQ(r.transport_errors, 0);
    event_loop_destroy(loop);
    peer_stop(&p);
    close(state.fd);
}

/* A loop destroyed while a lookup runs is not touched by the lookup's thread afterwards. Only
 * the sanitizer build can fail this case: it reports the use after free. */
TEST_CASE(loop_destroyed_during_lookup)
{
    recorder r = {0};

    held_reset();
    event_loop *loop = event_loop_create(record, &r, NULL);
    event_loop_set_resolver(loop, held_resolve);
    connect_client(loop, "servicebus-peer.test", "5672");
    wait_for(&held.started, 1);
    event_loop_destroy(loop);

    held_release();
    wait_for(&held.returned, 1);
    CHECK_INT_EQ(atomic_load(&held.returned), 1);
    usleep(50 * 1000); /* lets the detached thread finish before the process exits */
}

static int failing_resolve(const char *host, const char *port, const struct addrinfo *hints,
                           struct addrinfo **result)
{
    (void)host;
    (void)port;
    (void)hints;
    (void)result;
    return EAI_NONAME;
}

/* A lookup that fails on its thread ends the connection with the resolver's error. */
TEST_CASE(lookup_failure_reported)
{
    recorder r = {0};
    event_loop *loop = event_loop_create(record, &r, NULL);

    event_loop_set_resolver(loop, failing_resolve);
    connect_client(loop, "missing.test", "5672");
    run_until(loop, &r.transport_closed, 1);
    CHECK_INT_EQ(r.transport_errors, 1);
    CHECK_INT_EQ(r.transport_closed, 1);
    CHECK_STR_EQ(r.error_name, "proton:io");
    CHECK(strstr(r.error_description, gai_strerror(EAI_NONAME)) != NULL);
    CHECK(strstr(r.error_description, "on resolve of missing.test:5672") != NULL);
    CHECK_INT_EQ(event_loop_connection_count(loop), 0);
    event_loop_destroy(loop);
}

/* A connection closed while its host name is looked up ends once the lookup returns, and the
 * lookup is freed with it. */
TEST_CASE(close_during_lookup)
{
    recorder r = {0};
    peer p;

    held_reset();
    peer_start(&p, PEER_OPEN, 0);
    event_loop *loop = event_loop_create(record, &r, NULL);
    event_loop_set_resolver(loop, held_resolve);
    pn_connection_t *connection = connect_client(loop, "servicebus-peer.test", p.port_text);
    wait_for(&held.started, 1);
    pn_connection_close(connection);
    event_loop_flush(loop);
    CHECK_INT_EQ(r.transport_closed, 0);

    held_release();
    run_until(loop, &r.transport_closed, 1);
    CHECK_INT_EQ(r.transport_closed, 1);
    CHECK_INT_EQ(event_loop_connection_count(loop), 0);
    event_loop_destroy(loop);
    peer_stop(&p);
}

typedef struct wake_request {
    event_loop *loop;
    pn_connection_t *connection;
} wake_request;

static void *wake_later(void *arg)
{
    wake_request *request = arg;

    usleep(20000);
    event_loop_wake(request->loop, request->connection);
    return NULL;
}

static void *interrupt_later(void *arg)
{
    usleep(20000);
    event_loop_interrupt(arg);
    return NULL;
}

TEST_CASE(wake_from_other_thread)
{
    recorder r = {0};
    peer p;
    pthread_t thread;

    peer_start(&p, PEER_OPEN, 0);
    event_loop *loop = event_loop_create(record, &r, NULL);
    pn_connection_t *connection = connect_client(loop, "127.0.0.1", p.port_text);
    run_until(loop, &r.remote_opens, 1);

    /* One run with a long timeout: only the wake can end it in time. */
    wake_request request = {.loop = loop, .connection = connection};
    pthread_create(&thread, NULL, wake_later, &request);
    int64_t started = monotonic_ms();
    event_loop_run(loop, WAIT_LIMIT_MS);
    pthread_join(thread, NULL);
    CHECK(monotonic_ms() - started < WAIT_LIMIT_MS);
    CHECK_INT_EQ(r.wakes, 1);
    CHECK(r.wake_connection == connection);

    /* A wake on the loop's own thread is delivered by the next flush. */
    event_loop_wake(loop, connection);
    event_loop_wake(loop, connection); /* coalesced with the first */
    event_loop_flush(loop);
    CHECK_INT_EQ(r.wakes, 2);

    event_loop_destroy(loop); /* with the connection still open */
    peer_stop(&p);
}

TEST_CASE(interrupt_ends_wait)
{
    recorder r = {0};
    pthread_t thread;
    event_loop *loop = event_loop_create(record, &r, NULL);

    pthread_create(&thread, NULL, interrupt_later, loop);
    bool interrupted = event_loop_run(loop, WAIT_LIMIT_MS);
    pthread_join(thread, NULL);
    CHECK(interrupted);
    CHECK(!event_loop_run(loop, 0)); /* reported once */

    event_loop_destroy(loop);
}

static void on_watch_ready(void *ctx)
{
    watch_state *state = ctx;
    uint64_t value;

    state->calls++;
    if (read(state->fd, &value, sizeof value) < 0) {
        state->calls += 100; /* makes the count check fail */
    }
}

TEST_CASE(watched_descriptor_called)
{
    recorder r = {0};
    watch_state state = {.fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)};
    uint64_t one = 1;
    event_loop *loop = event_loop_create(record, &r, NULL);

    CHECK_INT_EQ(event_loop_watch(loop, state.fd, on_watch_ready, &state, NULL), WL_OK);
    event_loop_run(loop, 0);
    CHECK_INT_EQ(state.calls, 0);
    CHECK(write(state.fd, &one, sizeof one) == sizeof one);
    event_loop_run(loop, WAIT_LIMIT_MS);
    CHECK_INT_EQ(state.calls, 1);

    CHECK(event_loop_watch(loop, -1, on_watch_ready, &state, NULL) == WL_ERR_IO);
    event_loop_destroy(loop);
    close(state.fd);
}

TEST_CASE(has_ready_consumes_nothing)
{
    recorder r = {0};
    watch_state state = {.fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)};
    uint64_t one = 1;
    event_loop *loop = event_loop_create(record, &r, NULL);

    CHECK_INT_EQ(event_loop_watch(loop, state.fd, on_watch_ready, &state, NULL), WL_OK);
    CHECK(!event_loop_has_ready(loop));
    CHECK(write(state.fd, &one, sizeof one) == sizeof one);
    CHECK(event_loop_has_ready(loop));
    CHECK(event_loop_has_ready(loop)); /* the first check left the event in place */
    CHECK_INT_EQ(state.calls, 0);
    event_loop_run(loop, 0);
    CHECK_INT_EQ(state.calls, 1);
    CHECK(!event_loop_has_ready(loop));

    event_loop_interrupt(loop);
    CHECK(event_loop_has_ready(loop)); /* an interrupt makes the loop's own eventfd readable */
    CHECK(event_loop_run(loop, 0));
    CHECK(!event_loop_has_ready(loop));

    event_loop_destroy(loop);
    close(state.fd);
}

/* The writer's descriptor is an epoll set of its own, watched by the loop's set. */
TEST_CASE(has_ready_sees_nested_epoll)
{
    recorder r = {0};
    watch_state inner = {.fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)};
    int nested = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event event = {.events = EPOLLIN, .data.fd = inner.fd};
    uint64_t one = 1;
    event_loop *loop = event_loop_create(record, &r, NULL);

    CHECK_INT_EQ(epoll_ctl(nested, EPOLL_CTL_ADD, inner.fd, &event), 0);
    CHECK_INT_EQ(event_loop_watch(loop, nested, on_watch_ready, &inner, NULL), WL_OK);
    CHECK(!event_loop_has_ready(loop));
    CHECK(write(inner.fd, &one, sizeof one) == sizeof one);
    CHECK(event_loop_has_ready(loop));
    CHECK(event_loop_has_ready(loop));
    event_loop_run(loop, 0);
    CHECK_INT_EQ(inner.calls, 1); /* on_watch_ready read the eventfd inside the nested set */
    CHECK(!event_loop_has_ready(loop));

    event_loop_destroy(loop);
    close(nested);
    close(inner.fd);
}

TEST_CASE(heartbeats_keep_idle_connection)
{
    recorder r = {0};
    peer p;

    /* The peer closes a connection that sends nothing for 300 ms, so the loop must send
     * empty frames on the transport's timer while nothing else happens. */
    peer_start(&p, PEER_OPEN, 300);
    event_loop *loop = event_loop_create(record, &r, NULL);
    connect_client(loop, "127.0.0.1", p.port_text);
    run_until(loop, &r.remote_opens, 1);

    int64_t end = monotonic_ms() + 1500;
    while (monotonic_ms() < end) {
        event_loop_run(loop, 1000); /* the transport's timer must end each wait early */
    }
    CHECK(!atomic_load(&p.idle_timeout_hit));
    CHECK_INT_EQ(r.remote_closes, 0);
    CHECK_INT_EQ(r.transport_errors, 0);
    CHECK_INT_EQ(event_loop_connection_count(loop), 1);

    event_loop_destroy(loop);
    peer_stop(&p);
}

TEST_MAIN(TEST_ENTRY(connects_opens_and_closes), TEST_ENTRY(peer_close_ends_connection),
          TEST_ENTRY(idle_timeout_closes_at_once), TEST_ENTRY(connect_refused_reported),
          TEST_ENTRY(resolve_failure_reported), TEST_ENTRY(wake_from_other_thread),
          TEST_ENTRY(interrupt_ends_wait), TEST_ENTRY(watched_descriptor_called),
          TEST_ENTRY(heartbeats_keep_idle_connection), TEST_ENTRY(lookup_runs_beside_loop),
          TEST_ENTRY(loop_destroyed_during_lookup), TEST_ENTRY(lookup_failure_reported),
          TEST_ENTRY(close_during_lookup), TEST_ENTRY(has_ready_consumes_nothing),
          TEST_ENTRY(has_ready_sees_nested_epoll))
