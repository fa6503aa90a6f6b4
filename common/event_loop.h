/*
 * A single-threaded event loop on epoll that drives Proton connections through
 * pn_connection_driver next to other file descriptors, such as the epoll set of a curl multi
 * handle. One thread can then own an AMQP connection and an HTTP client together, with no
 * wake-ups between threads. Proton's proactor cannot watch descriptors of its own, which is
 * why this loop exists.
 *
 * The loop owns each connection's socket and Proton objects from event_loop_connect until the
 * connection's PN_TRANSPORT_CLOSED event has been handled. It then closes the socket and frees
 * the connection and transport. Each Proton event goes to the `on_event` handler given at
 * creation, in the order Proton produces it.
 *
 *   while (running) {
 *       event_loop_run(loop, timeout_ms);   // I/O, watched descriptors, wakes, interrupts
 *       ... application work that may change Proton objects ...
 *       event_loop_flush(loop);             // handle the events that work caused, and write
 *   }
 *
 * Threads: every function must be called on the thread that calls event_loop_run, except
 * event_loop_wake and event_loop_interrupt, which are safe from any thread.
 */
#ifndef WL_EVENT_LOOP_H
#define WL_EVENT_LOOP_H

#include "status.h"

#include <proton/connection.h>
#include <proton/event.h>
#include <proton/transport.h>

#include <netdb.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct event_loop event_loop;

typedef void (*event_loop_event_fn)(void *ctx, pn_event_t *event);
typedef void (*event_loop_ready_fn)(void *ctx);

/* Creates a loop whose connections deliver their events to `on_event(ctx, event)`. */
event_loop *event_loop_create(event_loop_event_fn on_event, void *ctx, wl_error *err);

/*
 * Frees the loop. Connections still open are closed without the AMQP close handshake and freed
 * with their Proton objects, and no event is delivered for them.
 */
void event_loop_destroy(event_loop *loop);

/*
 * Connects to `host`:`port` over TCP and drives `connection` and `transport`, which the loop
 * takes over (configure both first, as for pn_proactor_connect2). An address literal is used
 * at once. A host name is looked up on a thread of its own, so that a slow DNS server does not
 * hold up the loop, whereas Proton's proactor looks it up blocking. A failure to resolve or
 * connect sets the transport condition "proton:io" and closes the transport, so
 * PN_TRANSPORT_ERROR and PN_TRANSPORT_CLOSED follow as for any lost connection.
 */
void event_loop_connect(event_loop *loop, pn_connection_t *connection, pn_transport_t *transport,
                        const char *host, const char *port);

/* A host-name lookup with getaddrinfo's contract. */
typedef int (*event_loop_resolve_fn)(const char *host, const char *port,
                                     const struct addrinfo *hints, struct addrinfo **result);

/* Sets the lookup that event_loop_connect runs for host names: getaddrinfo unless a test sets
 * one that it can hold up. It runs on the lookup's own thread. */
void event_loop_set_resolver(event_loop *loop, event_loop_resolve_fn resolve);

/*
 * Queues a PN_CONNECTION_WAKE event for `connection`, which must be driven by this loop and
 * not yet closed. The event is delivered by the next event_loop_run or event_loop_flush.
 */
void event_loop_wake(event_loop *loop, pn_connection_t *connection);

/* Makes the running or next event_loop_run return early and report an interrupt. */
void event_loop_interrupt(event_loop *loop);

/* Calls `on_ready(ctx)` from event_loop_run whenever `fd` is readable. */
wl_status event_loop_watch(event_loop *loop, int fd, event_loop_ready_fn on_ready, void *ctx,
                           wl_error *err);

/*
 * Waits up to `timeout_ms` (0 polls) for socket I/O, a watched descriptor, a wake or an
 * interrupt, and handles what is ready, delivering Proton events and writing their output. It
 * also runs the idle-timeout and heartbeat timers of the connections, which may end the wait
 * early. Returns true when an interrupt arrived since the previous call.
 */
bool event_loop_run(event_loop *loop, int64_t timeout_ms);

/*
 * Delivers the events and writes the output that changes to Proton objects made outside an
 * event handler have caused. Call it after such changes, before waiting again.
 */
void event_loop_flush(event_loop *loop);

/*
 * Returns true when a socket, a watched descriptor or a wake is ready now, without handling
 * it, so that the next event_loop_run will not wait. Every descriptor is registered
 * level-triggered, so the check consumes nothing.
 */
bool event_loop_has_ready(const event_loop *loop);

/* Returns the number of connections the loop drives, closing ones included. */
int event_loop_connection_count(const event_loop *loop);

#endif
