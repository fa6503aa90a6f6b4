#include "event_loop.h"

#include "clock.h"

#include <proton/connection_driver.h>
#include <proton/object.h>

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

/* Events taken from one epoll_wait call; more stay queued for the next call. */
#define MAX_EVENTS 32
/* Reads in a row from one socket whose data fills Proton's input buffer each time, before the
 * other sources get their turn. */
#define MAX_READS_PER_WAKE 8

typedef enum source_kind {
    SOURCE_WAKE,       /* the loop's eventfd */
    SOURCE_CONNECTION, /* a connection's socket */
    SOURCE_WATCH,      /* a descriptor watched for the application */
} source_kind;

/* The target of an epoll registration, and the first member of each kind's struct. */
typedef struct source {
    source_kind kind;
} source;

/*
 * A host-name lookup that runs on a thread of its own, so that a slow DNS server does not hold
 * up the loop's other connections and descriptors. The loop and the lookup thread both hold it
 * and the last to release it frees it. `loop` is cleared under `lock` when the connection or the
 * loop goes away first, so that the thread never signals a freed loop.
 */
typedef struct lookup {
    pthread_mutex_t lock;
    event_loop *loop; /* guarded by lock; NULL once the loop side released it */
    event_loop_resolve_fn resolve;
    char *host;
    char *port;
    bool done;                  /* guarded by lock */
    int status;                 /* the resolver's result, once done */
    struct addrinfo *addresses; /* owned here until the loop takes them */
    int holders;                /* guarded by lock */
} lookup;

typedef struct loop_connection {
    source source;
    event_loop *loop;
    pn_connection_driver_t driver;
    int fd;                        /* -1 until a socket exists and after it is closed */
    bool connecting;               /* connect() is in progress on `fd` */
    bool write_shut;               /* shutdown(SHUT_WR) was done */
    bool wake_pending;             /* guarded by loop->lock */
    uint32_t events;               /* the epoll interest registered for `fd`, 0 when none */
    int64_t tick_at_ms;            /* the transport's next timer, 0 when none */
    lookup *pending_lookup;        /* the host-name lookup in progress, or NULL */
    struct addrinfo *addresses;    /* resolved addresses, freed once connected */
    struct addrinfo *next_address; /* the next address to try */
    int connect_errno;             /* the last connect failure */
    char address[300];             /* "host:port" for messages */
    struct loop_connection *next;
} loop_connection;

typedef struct loop_watch {
    source source;
    int fd;
    event_loop_ready_fn on_ready;
    void *ctx;
    struct loop_watch *next;
} loop_watch;

struct event_loop {
    int epoll_fd;
    int wake_fd;
    source wake_source;
    event_loop_event_fn on_event;
    void *ctx;

    pthread_mutex_t lock; /* guards `connections` and every wake_pending flag */
    bool wakes_pending;   /* some connection has wake_pending set */
    atomic_bool interrupted;
    loop_connection *connections;
    loop_watch *watches;
    event_loop_resolve_fn resolve;
};

static int64_t now_ms(void)
{
    return wl_clock_monotonic_ms(wl_clock_system());
}

/* Makes the loop's eventfd readable, so that a waiting event_loop_run returns. */
static void signal_wake_fd(event_loop *loop)
{
    uint64_t increment = 1;

    if (write(loop->wake_fd, &increment, sizeof increment) < 0) {
        /* EAGAIN: the counter is full, so the loop wakes anyway */
    }
}

event_loop *event_loop_create(event_loop_event_fn on_event, void *ctx, wl_error *err)
{
    event_loop *loop = wl_xcalloc(1, sizeof *loop);

    loop->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
    loop->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (loop->epoll_fd < 0 || loop->wake_fd < 0) {
        wl_error_set(err, WL_ERR_IO, "cannot create the event loop: %s", strerror(errno));
        if (loop->epoll_fd >= 0) {
            close(loop->epoll_fd);
        }
        if (loop->wake_fd >= 0) {
            close(loop->wake_fd);
        }
        free(loop);
        return NULL;
    }
    loop->wake_source.kind = SOURCE_WAKE;
    struct epoll_event event = {.events = EPOLLIN, .data.ptr = &loop->wake_source};
    epoll_ctl(loop->epoll_fd, EPOLL_CTL_ADD, loop->wake_fd, &event);
    loop->on_event = on_event;
    loop->ctx = ctx;
    loop->resolve = getaddrinfo;
    pthread_mutex_init(&loop->lock, NULL);
    atomic_init(&loop->interrupted, false);
    return loop;
}

static void close_socket(loop_connection *c)
{
    if (c->fd >= 0) {
        close(c->fd); /* the kernel drops it from the epoll set */
        c->fd = -1;
    }
    c->events = 0;
}

static void lookup_free(lookup *job)
{
    if (job->addresses != NULL) {
        freeaddrinfo(job->addresses);
    }
    pthread_mutex_destroy(&job->lock);
    free(job->host);
    free(job->port);
    free(job);
}

/* Gives up the loop's hold on the connection's lookup, which may still be running. */
static void release_lookup(loop_connection *c)
{
    lookup *job = c->pending_lookup;

    if (job == NULL) {
        return;
    }
    c->pending_lookup = NULL;
    pthread_mutex_lock(&job->lock);
    job->loop = NULL;
    bool last = --job->holders == 0;
    pthread_mutex_unlock(&job->lock);
    if (last) {
        lookup_free(job);
    }
}

static void free_connection(loop_connection *c)
{
    release_lookup(c);
    close_socket(c);
    if (c->addresses != NULL) {
        freeaddrinfo(c->addresses);
    }
    pn_connection_driver_destroy(&c->driver);
    free(c);
}

void event_loop_destroy(event_loop *loop)
{
    if (loop == NULL) {
        return;
    }
    while (loop->connections != NULL) {
        loop_connection *c = loop->connections;
        loop->connections = c->next;
        free_connection(c);
    }
    while (loop->watches != NULL) {
        loop_watch *watch = loop->watches;
        loop->watches = watch->next;
        free(watch);
    }
    close(loop->wake_fd);
    close(loop->epoll_fd);
    pthread_mutex_destroy(&loop->lock);
    free(loop);
}

/* Registers the interest that the connection's state calls for, when it changed. */
static void update_interest(loop_connection *c)
{
    uint32_t interest = 0;

    if (c->fd < 0) {
        return;
    }
    if (c->connecting) {
        interest = EPOLLOUT;
    } else {
        if (pn_connection_driver_read_buffer(&c->driver).size > 0) {
            interest |= EPOLLIN;
        }
        if (pn_connection_driver_write_buffer(&c->driver).size > 0) {
            interest |= EPOLLOUT;
        }
    }
    if (interest == c->events) {
        return;
    }
    /* With no interest the socket leaves the set, because epoll reports a hang-up even then
     * and would wake the loop again and again. */
    struct epoll_event event = {.events = interest, .data.ptr = &c->source};
    int op = c->events == 0 ? EPOLL_CTL_ADD : (interest == 0 ? EPOLL_CTL_DEL : EPOLL_CTL_MOD);
    epoll_ctl(c->loop->epoll_fd, op, c->fd, &event);
    c->events = interest;
}

/*
 * Ends the connection with an I/O error, named as Proton's proactor names one. The transport
 * may still be unbound when the address does not resolve or every connect fails at once, and
 * an unbound transport drops its events, so bind it first.
 */
static void fail_io_text(loop_connection *c, const char *error, const char *action)
{
    pn_connection_driver_bind(&c->driver); /* PN_STATE_ERR when bound already */
    pn_connection_driver_errorf(&c->driver, "proton:io", "%s - %s %s", error, action, c->address);
    pn_connection_driver_close(&c->driver);
    close_socket(c);
}

static void fail_io(loop_connection *c, int error, const char *action)
{
    fail_io_text(c, strerror(error), action);
}

static void connected(loop_connection *c)
{
    int enable = 1;

    c->connecting = false;
    /* AMQP frames are small and each one matters now, so do not let Nagle delay them. */
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &enable, sizeof enable);
    freeaddrinfo(c->addresses);
    c->addresses = NULL;
    c->next_address = NULL;
}

/* Tries the remaining addresses until a connect starts or succeeds. */
static void try_connect(loop_connection *c)
{
    while (c->next_address != NULL) {
        struct addrinfo *address = c->next_address;
        c->next_address = address->ai_next;

        int fd = socket(address->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
                        address->ai_protocol);
        if (fd < 0) {
            c->connect_errno = errno;
            continue;
        }
        int status = connect(fd, address->ai_addr, address->ai_addrlen);
        if (status == 0 || errno == EINPROGRESS) {
            c->fd = fd;
            c->connecting = status != 0;
            if (!c->connecting) {
                connected(c);
            }
            update_interest(c);
            return;
        }
        c->connect_errno = errno;
        close(fd);
    }
    fail_io(c, c->connect_errno ? c->connect_errno : ECONNREFUSED, "on connect to");
}

static void finish_connect(loop_connection *c)
{
    int error = 0;
    socklen_t length = sizeof error;

    if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &error, &length) != 0) {
        error = errno;
    }
    if (error == 0) {
        connected(c);
        return;
    }
    c->connect_errno = error;
    close_socket(c);
    c->connecting = false;
    try_connect(c);
}

static const struct addrinfo lookup_hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};

/* Connects to the looked-up addresses, or ends the connection with the lookup's error. */
static void connect_resolved(loop_connection *c, int status, struct addrinfo *addresses)
{
    if (status != 0) {
        fail_io_text(c, gai_strerror(status), "on resolve of");
        return;
    }
    c->addresses = addresses;
    c->next_address = addresses;
    try_connect(c);
}

static void *run_lookup(void *arg)
{
    lookup *job = arg;
    struct addrinfo *addresses = NULL;
    int status = job->resolve(job->host, job->port, &lookup_hints, &addresses);

    pthread_mutex_lock(&job->lock);
    job->status = status;
    job->addresses = status == 0 ? addresses : NULL;
    job->done = true;
    if (job->loop != NULL) {
        signal_wake_fd(job->loop);
    }
    bool last = --job->holders == 0;
    pthread_mutex_unlock(&job->lock);
    if (last) {
        lookup_free(job);
    }
    return NULL;
}

/* Starts looking up the connection's host name on a detached thread. */
static void start_lookup(loop_connection *c, const char *host, const char *port)
{
    lookup *job = wl_xcalloc(1, sizeof *job);
    pthread_attr_t attributes;
    pthread_t thread;

    pthread_mutex_init(&job->lock, NULL);
    job->loop = c->loop;
    job->resolve = c->loop->resolve;
    job->host = wl_xstrdup(host);
    job->port = wl_xstrdup(port);
    job->holders = 2;
    c->pending_lookup = job;

    pthread_attr_init(&attributes);
    pthread_attr_setdetachstate(&attributes, PTHREAD_CREATE_DETACHED);
    int error = pthread_create(&thread, &attributes, run_lookup, job);
    pthread_attr_destroy(&attributes);
    if (error != 0) {
        job->holders = 1; /* no thread was started to release it */
        release_lookup(c);
        fail_io(c, error, "on resolve of");
    }
}

/* Takes the result of the connection's lookup when it has finished. */
static void finish_lookup(loop_connection *c)
{
    lookup *job = c->pending_lookup;

    pthread_mutex_lock(&job->lock);
    bool done = job->done;
    int status = job->status;
    struct addrinfo *addresses = job->addresses;
    job->addresses = NULL;
    pthread_mutex_unlock(&job->lock);
    if (!done) {
        return;
    }
    release_lookup(c);
    connect_resolved(c, status, addresses);
}

void event_loop_connect(event_loop *loop, pn_connection_t *connection, pn_transport_t *transport,
                        const char *host, const char *port)
{
    loop_connection *c = wl_xcalloc(1, sizeof *c);

    c->source.kind = SOURCE_CONNECTION;
    c->loop = loop;
    c->fd = -1;
    snprintf(c->address, sizeof c->address, "%s:%s", host, port);
    if (pn_connection_driver_init(&c->driver, connection, transport) != 0) {
        abort(); /* out of memory, as wl_xcalloc treats it */
    }
    pthread_mutex_lock(&loop->lock);
    c->next = loop->connections;
    loop->connections = c;
    pthread_mutex_unlock(&loop->lock);

    /* An address literal needs no DNS, so it is resolved at once. */
    struct addrinfo numeric_hints = lookup_hints;
    struct addrinfo *addresses = NULL;
    numeric_hints.ai_flags = AI_NUMERICHOST;
    int status = getaddrinfo(host, port, &numeric_hints, &addresses);
    if (status == EAI_NONAME) {
        start_lookup(c, host, port);
        return;
    }
    connect_resolved(c, status, addresses);
}

void event_loop_set_resolver(event_loop *loop, event_loop_resolve_fn resolve)
{
    loop->resolve = resolve;
}

static loop_connection *find_connection(event_loop *loop, pn_connection_t *connection)
{
    for (loop_connection *c = loop->connections; c != NULL; c = c->next) {
        if (c->driver.connection == connection) {
            return c;
        }
    }
    return NULL;
}

void event_loop_wake(event_loop *loop, pn_connection_t *connection)
{
    bool signal = false;

    pthread_mutex_lock(&loop->lock);
    loop_connection *c = find_connection(loop, connection);
    if (c != NULL && !c->wake_pending) {
        c->wake_pending = true;
        signal = !loop->wakes_pending;
        loop->wakes_pending = true;
    }
    pthread_mutex_unlock(&loop->lock);
    if (signal) {
        signal_wake_fd(loop);
    }
}

void event_loop_interrupt(event_loop *loop)
{
    atomic_store(&loop->interrupted, true);
    signal_wake_fd(loop);
}

wl_status event_loop_watch(event_loop *loop, int fd, event_loop_ready_fn on_ready, void *ctx,
                           wl_error *err)
{
    loop_watch *watch = wl_xcalloc(1, sizeof *watch);
    struct epoll_event event = {.events = EPOLLIN, .data.ptr = &watch->source};

    watch->source.kind = SOURCE_WATCH;
    watch->fd = fd;
    watch->on_ready = on_ready;
    watch->ctx = ctx;
    if (epoll_ctl(loop->epoll_fd, EPOLL_CTL_ADD, fd, &event) != 0) {
        wl_error_set(err, WL_ERR_IO, "cannot watch descriptor %d: %s", fd, strerror(errno));
        free(watch);
        return WL_ERR_IO;
    }
    watch->next = loop->watches;
    loop->watches = watch;
    return WL_OK;
}

/* Queues the PN_CONNECTION_WAKE events requested since the last call. */
static void deliver_wakes(event_loop *loop)
{
    pthread_mutex_lock(&loop->lock);
    if (loop->wakes_pending) {
        loop->wakes_pending = false;
        for (loop_connection *c = loop->connections; c != NULL; c = c->next) {
            if (c->wake_pending) {
                c->wake_pending = false;
                pn_collector_put(c->driver.collector, PN_OBJECT, c->driver.connection,
                                 PN_CONNECTION_WAKE);
            }
        }
    }
    pthread_mutex_unlock(&loop->lock);
}

/* Hands every queued event to the application; returns true when there was one. */
static bool deliver_events(loop_connection *c)
{
    bool delivered = false;
    pn_event_t *event;

    while ((event = pn_connection_driver_next_event(&c->driver)) != NULL) {
        delivered = true;
        c->loop->on_event(c->loop->ctx, event);
    }
    return delivered;
}

/* Writes pending output until it is all sent or the socket is full. */
static void write_output(loop_connection *c)
{
    if (c->fd < 0 || c->connecting) {
        return;
    }
    for (;;) {
        pn_bytes_t output = pn_connection_driver_write_buffer(&c->driver);
        if (output.size == 0) {
            break;
        }
        ssize_t sent = send(c->fd, output.start, output.size, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (sent < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
            return;
        }
        if (sent < 0) {
            fail_io(c, errno, "on write to");
            return;
        }
        pn_connection_driver_write_done(&c->driver, (size_t)sent);
    }
    if (pn_connection_driver_write_closed(&c->driver) && !c->write_shut) {
        c->write_shut = true;
        shutdown(c->fd, SHUT_WR);
    }
}

static void read_input(loop_connection *c)
{
    for (int reads = 0; reads < MAX_READS_PER_WAKE && c->fd >= 0; reads++) {
        pn_rwbytes_t input = pn_connection_driver_read_buffer(&c->driver);
        if (input.size == 0) {
            return;
        }
        ssize_t received = recv(c->fd, input.start, input.size, MSG_DONTWAIT);
        if (received < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
            return;
        }
        if (received < 0) {
            fail_io(c, errno, "on read from");
            return;
        }
        if (received == 0) {
            pn_connection_driver_read_close(&c->driver);
            return;
        }
        pn_connection_driver_read_done(&c->driver, (size_t)received);
        if ((size_t)received < input.size) {
            return;
        }
        deliver_events(c); /* the buffer was full: make room before reading on */
    }
}

/* Delivers events and writes output until neither produces more. Returns true when it
 * delivered an event. */
static bool drain(loop_connection *c)
{
    bool delivered = false;

    do {
        delivered = deliver_events(c) || delivered;
        write_output(c);
    } while (pn_connection_driver_has_event(&c->driver));
    return delivered;
}

/* Drains the connection, runs its timers and drains what they caused, such as an idle-timeout
 * error and the close that follows it. Returns true when it delivered an event. */
static bool pump(loop_connection *c, int64_t now)
{
    if (c->pending_lookup != NULL) {
        finish_lookup(c);
    }
    bool delivered = drain(c);

    if (c->fd >= 0 && !c->connecting && !pn_connection_driver_finished(&c->driver)) {
        c->tick_at_ms = pn_transport_tick(c->driver.transport, now);
        delivered = drain(c) || delivered;
    }
    update_interest(c);
    return delivered;
}

/* Frees the connections whose transport has closed and whose last event was delivered. */
static void reap_finished(event_loop *loop)
{
    loop_connection **link = &loop->connections;

    while (*link != NULL) {
        loop_connection *c = *link;
        if (!pn_connection_driver_finished(&c->driver)) {
            link = &c->next;
            continue;
        }
        pthread_mutex_lock(&loop->lock);
        *link = c->next;
        pthread_mutex_unlock(&loop->lock);
        free_connection(c);
    }
}

/* Does event_loop_flush; returns true when it delivered an event. */
static bool flush_connections(event_loop *loop)
{
    int64_t now = now_ms();
    bool delivered = false;

    deliver_wakes(loop);
    /* A handler may start a new connection, which goes to the head of the list and is pumped
     * by the next flush. */
    for (loop_connection *c = loop->connections; c != NULL; c = c->next) {
        delivered = pump(c, now) || delivered;
    }
    reap_finished(loop);
    return delivered;
}

void event_loop_flush(event_loop *loop)
{
    flush_connections(loop);
}

static int64_t next_tick_ms(const event_loop *loop)
{
    int64_t next = INT64_MAX;

    for (const loop_connection *c = loop->connections; c != NULL; c = c->next) {
        if (c->tick_at_ms > 0 && c->tick_at_ms < next) {
            next = c->tick_at_ms;
        }
    }
    return next;
}

static void handle_connection_io(loop_connection *c, uint32_t events)
{
    if (c->fd < 0) {
        return;
    }
    if (c->connecting) {
        finish_connect(c);
        return;
    }
    if (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
        read_input(c);
    }
    /* Output, EPOLLOUT included, is written when the connection is pumped. */
}

bool event_loop_run(event_loop *loop, int64_t timeout_ms)
{
    struct epoll_event events[MAX_EVENTS];

    /* Events delivered here may have given the application work, and the timeout it passed
     * was computed before them, so only poll. */
    bool delivered = flush_connections(loop);

    int64_t now = now_ms();
    int64_t tick = next_tick_ms(loop);
    int64_t wait = timeout_ms < 0 || delivered ? 0 : timeout_ms;
    if (tick != INT64_MAX && tick - now < wait) {
        wait = tick > now ? tick - now : 0;
    }
    /* A wake requested since the flush needs no check here: it made the eventfd readable. */
    if (wait > INT32_MAX) {
        wait = INT32_MAX;
    }

    int count = epoll_wait(loop->epoll_fd, events, MAX_EVENTS, (int)wait);
    for (int i = 0; i < count; i++) {
        source *from = events[i].data.ptr;
        switch (from->kind) {
        case SOURCE_WAKE: {
            uint64_t value;
            if (read(loop->wake_fd, &value, sizeof value) < 0) {
                /* EAGAIN: another thread's wake was consumed already */
            }
            break;
        }
        case SOURCE_CONNECTION:
            handle_connection_io((loop_connection *)from, events[i].events);
            break;
        case SOURCE_WATCH: {
            loop_watch *watch = (loop_watch *)from;
            watch->on_ready(watch->ctx);
            break;
        }
        }
    }

    event_loop_flush(loop);
    return atomic_exchange(&loop->interrupted, false);
}

bool event_loop_has_ready(const event_loop *loop)
{
    struct epoll_event event;

    return epoll_wait(loop->epoll_fd, &event, 1, 0) > 0;
}

int event_loop_connection_count(const event_loop *loop)
{
    int count = 0;

    for (const loop_connection *c = loop->connections; c != NULL; c = c->next) {
        count++;
    }
    return count;
}
