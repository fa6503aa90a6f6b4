/*
 * An AMQP 1.0 connection to Service Bus (or a generic AMQP 1.0 broker) on a Proton proactor or
 * an event loop (see sb_io), with its session, its CBS client and automatic reconnection.
 *
 * The application owns the proactor or loop and the thread that drives it. For every event it
 * calls sb_conn_dispatch() on the connection the event belongs to (see sb_conn_from_event).
 * The connection consumes the events of its own session, CBS and request/response links. It
 * returns false for the rest (the application's links, deliveries and PN_CONNECTION_WAKE),
 * which the application then handles itself. On a proactor:
 *
 *   while (running) {
 *       pn_event_batch_t *batch = pn_proactor_wait(proactor);
 *       for (pn_event_t *e; (e = pn_event_batch_next(batch)) != NULL;) {
 *           sb_conn *conn = sb_conn_from_event(e);
 *           if (conn == NULL || !sb_conn_dispatch(conn, e)) app_handle(e);
 *       }
 *       pn_proactor_done(proactor, batch);
 *       // on PN_PROACTOR_TIMEOUT: sb_conn_tick() each connection, then re-arm the timeout at
 *       // the earliest sb_conn_next_deadline_ms() (and the application's own deadlines).
 *   }
 *
 * On an event loop, the loop's on_event handler does the same dispatch for each event, and the
 * thread calls sb_conn_tick() once sb_conn_next_deadline_ms() has passed, between
 * event_loop_run() and event_loop_flush() (see event_loop.h).
 *
 * Threads: use one thread per proactor or event loop. Every function here, and every Proton
 * object reached through it, must be used only on that thread, except sb_conn_wake.
 *
 * Lifecycle: sb_conn_start connects; on_ready runs when the peer has opened the connection and
 * the session. The application then calls sb_conn_authorize for each entity (its result arrives
 * in on_authorized; with CBS off it succeeds at once) and attaches its links. When the
 * connection is lost, every link, session and sb_rpc on it is gone: on_disconnected runs, and
 * unless the connection gives up, it reconnects after a jittered backoff and runs on_ready
 * again. Audiences must be authorized again after each on_ready.
 *
 * Security defaults: TLS verifies the peer certificate and its name, and SNI and the AMQP open
 * hostname are the endpoint host. SASL mechanisms are chosen explicitly (ANONYMOUS with CBS, or
 * PLAIN). sb_conn_create rejects PLAIN over plain TCP unless allow_insecure_plain is set.
 */
#ifndef WL_SB_CONN_H
#define WL_SB_CONN_H

#include "backoff.h"
#include "clock.h"
#include "credential.h"
#include "event_loop.h"
#include "sb_rpc.h"
#include "status.h"

#include <proton/connection.h>
#include <proton/event.h>
#include <proton/proactor.h>
#include <proton/session.h>

#include <stdbool.h>
#include <stdint.h>

typedef struct sb_conn sb_conn;

typedef enum sb_auth {
    SB_AUTH_CBS,   /* SASL ANONYMOUS, then CBS put-token with the credential (Service Bus) */
    SB_AUTH_PLAIN, /* SASL PLAIN with username and password, no CBS (generic brokers, or SAS
                      key name and key on Service Bus) */
    SB_AUTH_NONE,  /* SASL ANONYMOUS and no CBS (brokers that allow anonymous clients) */
} sb_auth;

typedef struct sb_conn_callbacks {
    /* The connection and session are open; attach links and authorize audiences now. */
    void (*on_ready)(sb_conn *conn, void *ctx);
    /* A put-token for `audience` succeeded (`err` NULL) or failed. */
    void (*on_authorized)(sb_conn *conn, const char *audience, const wl_error *err, void *ctx);
    /*
     * The connection is gone (or never opened): `cause` gives the reason. When `will_retry` is
     * false the connection has stopped for good (sb_conn_close, or give_up_after_ms passed) and may
     * be destroyed after this callback returns. A rejected login or certificate gives
     * WL_ERR_AUTH and a missing entity WL_ERR_NOT_FOUND; retrying rarely helps those, so an
     * application may call sb_conn_close instead.
     */
    void (*on_disconnected)(sb_conn *conn, const wl_error *cause, bool will_retry, void *ctx);
} sb_conn_callbacks;

typedef struct sb_conn_options {
    const char *host; /* TCP host; also SNI, certificate name and AMQP open hostname */
    uint16_t port;
    bool tls;
    const char *ca_file;  /* trusted CAs (PEM) for TLS, or NULL for the system store */
    bool tls_skip_verify; /* accept any certificate; for tests only */
    sb_auth auth;
    const char *username;             /* SB_AUTH_PLAIN */
    const char *password;             /* SB_AUTH_PLAIN; a secret */
    bool allow_insecure_plain;        /* permit SASL PLAIN without TLS */
    cred *credential;                 /* SB_AUTH_CBS; borrowed, must outlive the connection */
    const char *container_id;         /* NULL for a random one */
    int64_t idle_timeout_ms;          /* advertised idle timeout; 60000 when 0 */
    int64_t connect_timeout_ms;       /* per attempt, from TCP connect to on_ready; 30000 when 0 */
    int64_t give_up_after_ms;         /* stop reconnecting after this long without a working
                                         connection (sb_conn_mark_working), also during a
                                         backoff delay, an attempt or an open connection that
                                         is not working; 0 reconnects forever */
    backoff_policy reconnect_backoff; /* backoff_policy_default() when zeroed */
    int64_t cbs_timeout_ms;           /* put-token reply deadline; 20000 when 0 */
    int64_t cbs_refresh_margin_ms;    /* see cbs.h; 420000 when 0 */
    const wl_clock *clock;            /* NULL for the system clock */
    const backoff_random *random;     /* NULL for backoff_random_system() */
    sb_conn_callbacks callbacks;
    void *ctx; /* passed to every callback */
} sb_conn_options;

/*
 * What drives a connection's I/O: a Proton proactor that the application's thread waits on, or
 * an event loop (event_loop.h) that the application runs on one thread. Exactly one is set.
 * With an event loop the application calls sb_conn_dispatch from the loop's event handler, and
 * the wait loop shown above becomes event_loop_run.
 */
typedef struct sb_io {
    pn_proactor_t *proactor;
    event_loop *loop;
} sb_io;

/* Creates a connection object; copies every string. Nothing is sent until sb_conn_start. */
sb_conn *sb_conn_create(sb_io io, const sb_conn_options *options, wl_error *err);

/* Starts the first connection attempt. */
wl_status sb_conn_start(sb_conn *conn, wl_error *err);

/* Returns the sb_conn whose connection produced `event`, or NULL. */
sb_conn *sb_conn_from_event(pn_event_t *event);

/* Handles `event` if it belongs to the connection's own machinery; returns false otherwise. */
bool sb_conn_dispatch(sb_conn *conn, pn_event_t *event);

/* Runs due timers: reconnects, connect timeouts, CBS refreshes and request timeouts. */
void sb_conn_tick(sb_conn *conn);

/* Returns the monotonic ms of the next timer, or INT64_MAX. */
int64_t sb_conn_next_deadline_ms(const sb_conn *conn);

/* Schedules a PN_CONNECTION_WAKE for the application; safe from any thread. */
void sb_conn_wake(sb_conn *conn);

/* Valid between on_ready and on_disconnected; NULL otherwise. */
pn_connection_t *sb_conn_connection(const sb_conn *conn);
pn_session_t *sb_conn_session(const sb_conn *conn);
bool sb_conn_is_ready(const sb_conn *conn);

/* Returns true once the connection has stopped for good. */
bool sb_conn_is_stopped(const sb_conn *conn);

/* Authorizes `audience` through CBS (see the file comment); a no-op success without CBS. */
wl_status sb_conn_authorize(sb_conn *conn, const char *audience, wl_error *err);

/*
 * Writes the CBS audience for `entity`: "sb://HOST/ENTITY", with ":PORT" after the host when the
 * port is not the default for the transport (as the JavaScript SDK does), and an IPv6 HOST in
 * brackets ("sb://[::1]:5673/orders").
 */
void sb_conn_audience(const sb_conn *conn, const char *entity, char *out, size_t capacity);

/* Closes the connection gracefully; on_disconnected(will_retry=false) follows. */
void sb_conn_close(sb_conn *conn);

/*
 * Closes the connection at once, without sending a close frame or waiting for the peer's, for a
 * peer that stopped responding after sb_conn_close. The socket closes in the connection's next
 * batch and on_disconnected(will_retry=false) follows, as after sb_conn_close.
 */
void sb_conn_abort(sb_conn *conn);

/*
 * The shortest time an application waits for the outcomes or settlements that a peer owes it
 * before it calls sb_conn_drop, when none comes and no other sign shows that bytes still move.
 * Once a socket's send buffer is full, the kernel reports it writable only after part of the
 * buffer has drained, so on a slow link the writes come in bursts with gaps between them. With
 * a bound of 100 ms, connections through a 2 MB/s proxy were dropped while their bytes moved.
 */
#define SB_CONN_STALL_MS 10000

/* The max-frame-size that connections advertise, in bytes (see configure_transport). */
#define SB_CONN_MAX_FRAME 65536

/*
 * Closes the open connection at once, without the AMQP close handshake, because the application
 * found it unusable, for example because it took no bytes for too long. `worked_until_ms` (on
 * the connection's clock) is when it last did useful work. It counts as working only up to then:
 * if that was less than a second after sb_conn_mark_working, the connection counts as a failed
 * attempt, and otherwise give_up_after_ms runs from the drop. on_disconnected follows
 * with `cause`, and the connection reconnects after its backoff delay. Does nothing unless the
 * connection is open (on_ready has run) and sb_conn_close has not been called.
 */
void sb_conn_drop(sb_conn *conn, const wl_error *cause, int64_t worked_until_ms);

/*
 * Frees the object. A connection that has not stopped may be destroyed too, once no thread
 * waits on the proactor any more and before pn_proactor_free or event_loop_destroy, which free
 * its Proton objects and close its socket. Its pending requests then fail with WL_ERR_CLOSED in
 * this call, and on_disconnected does not run.
 */
void sb_conn_destroy(sb_conn *conn);

/* Returns the `ctx` given in the options. */
void *sb_conn_context(const sb_conn *conn);

/* Returns "host:port" for logs. */
const char *sb_conn_address(const sb_conn *conn);

/* Number of connections opened so far (1 after the first on_ready). */
unsigned sb_conn_connect_count(const sb_conn *conn);

/* Returns the consecutive attempts that failed, counting connections that closed before they
 * had worked for a second. In on_disconnected it is 0 when an open connection was lost and at
 * least 1 when an attempt to connect failed. */
unsigned sb_conn_failed_attempts(const sb_conn *conn);

/*
 * Reports the open connection as usable, for example once the application's link is attached.
 * Until then it counts as not working: give_up_after_ms runs on, and closes it when it passes.
 * A connection lost within a second of this call counts as a failed attempt, so that the
 * reconnect backoff grows against a peer that closes every connection at once.
 */
void sb_conn_mark_working(sb_conn *conn);

/*
 * Reports that the application's link on the open connection failed with `cause`, for example
 * a detach with amqp:not-found. The connection counts as not working until the next
 * sb_conn_mark_working, so give_up_after_ms runs again, and `cause` is named when it passes.
 */
void sb_conn_mark_not_working(sb_conn *conn, const wl_error *cause);

/* Returns the milliseconds until the next attempt to connect, or -1 when none is scheduled
 * before the connection stops, for example because the give-up time comes first. */
int64_t sb_conn_reconnect_in_ms(const sb_conn *conn);

/* Writes the next attempt for a log line: "next attempt in 400 ms", or "no further attempt"
 * when sb_conn_reconnect_in_ms is -1. */
void sb_conn_describe_next_attempt(const sb_conn *conn, char *out, size_t capacity);

#endif
