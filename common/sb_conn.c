#include "sb_conn.h"

#include "amqp.h"
#include "cbs.h"
#include "proton_log.h"
#include "sb_internal.h"
#include "timefmt.h"

#include <proton/connection.h>
#include <proton/link.h>
#include <proton/object.h>
#include <proton/sasl.h>
#include <proton/ssl.h>
#include <proton/transport.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

PN_HANDLE(SB_CONN_CONNECTION)

/* How long a connection must stay working for its loss to start a new stretch: reset the
 * backoff and the give-up time. A peer that closes every connection at once after the attach
 * would otherwise be reconnected to at the first backoff step, without end. */
#define STABLE_MS 1000

typedef enum conn_state {
    CONN_IDLE,       /* created, not started */
    CONN_CONNECTING, /* transport and AMQP open in progress */
    CONN_READY,      /* connection and session open */
    CONN_WAITING,    /* lost; reconnecting at reconnect_at_ms */
    CONN_STOPPED,    /* closed for good */
} conn_state;

typedef struct rpc_node {
    sb_rpc *rpc;
    struct rpc_node *next;
} rpc_node;

struct sb_conn {
    sb_io io;
    sb_conn_options options; /* its strings point at the owned copies below */
    char *host;
    char *ca_file;
    char *username;
    char *password;
    char *container_id;
    char address[300]; /* "host:port" for messages */
    const wl_clock *clock;
    pn_ssl_domain_t *ssl_domain;

    conn_state state;
    pn_connection_t *connection;
    pthread_mutex_t wake_lock;    /* guards wake_target */
    pn_connection_t *wake_target; /* `connection` as other threads may wake it, or NULL */
    pn_session_t *session;
    bool close_requested;
    bool abort_requested; /* close the transport without the AMQP close handshake */
    bool drop_requested;  /* close the transport at once and reconnect (sb_conn_drop) */
    bool dropped;         /* this attempt was closed by sb_conn_drop */
    wl_error drop_cause;
    int64_t worked_until_ms; /* sb_conn_drop: when the connection last did useful work */
    bool cut_at_deadline; /* this attempt was closed at its connect timeout or the give-up time */
    bool tearing_down;    /* CBS results of a lost connection are not reported */
    atomic_bool woken;    /* a wake for our own timers is already pending */

    int64_t attempt_started_ms;
    int64_t unready_since_ms; /* start of the current stretch without a ready connection */
    int64_t reconnect_at_ms;
    unsigned failures; /* consecutive attempts that did not become working for STABLE_MS */
    bool last_closed_had_opened; /* the connection that closed last had become ready */
    bool working;                /* the application reported the open connection as usable */
    int64_t working_since_ms;
    unsigned connect_count;
    unsigned link_serial;
    wl_error cause;        /* first failure of the current attempt */
    wl_error last_failure; /* latest failure of an attempt, or of CBS on the open connection */

    rpc_node *rpcs;
    sb_rpc *cbs_rpc;
    cbs *cbs;
};

static char *copy_or_null(const char *text)
{
    return text != NULL ? wl_xstrdup(text) : NULL;
}

static wl_status make_ssl_domain(sb_conn *conn, wl_error *err)
{
    conn->ssl_domain = pn_ssl_domain(PN_SSL_MODE_CLIENT);
    if (conn->ssl_domain == NULL) {
        return wl_error_set(err, WL_ERR_IO, "Proton-C was built without TLS support");
    }
    if (conn->options.ca_file != NULL &&
        pn_ssl_domain_set_trusted_ca_db(conn->ssl_domain, conn->options.ca_file) != 0) {
        return wl_error_set(err, WL_ERR_INVALID,
                            "cannot load the CA file %s: expected a readable PEM bundle",
                            conn->options.ca_file);
    }
    pn_ssl_verify_mode_t mode =
        conn->options.tls_skip_verify ? PN_SSL_ANONYMOUS_PEER : PN_SSL_VERIFY_PEER_NAME;
    if (pn_ssl_domain_set_peer_authentication(conn->ssl_domain, mode, NULL) != 0) {
        return wl_error_set(err, WL_ERR_INVALID, "cannot configure TLS peer verification");
    }
    return WL_OK;
}

sb_conn *sb_conn_create(sb_io io, const sb_conn_options *options, wl_error *err)
{
    sb_conn *conn;

    if ((io.proactor == NULL) == (io.loop == NULL)) {
        wl_error_set(err, WL_ERR_INVALID, "an AMQP connection needs a proactor or an event loop");
        return NULL;
    }
    if (options->host == NULL || *options->host == '\0' || options->port == 0) {
        wl_error_set(err, WL_ERR_INVALID, "an AMQP connection needs a host and a port");
        return NULL;
    }
    if (options->auth == SB_AUTH_PLAIN && !options->tls && !options->allow_insecure_plain) {
        wl_error_set(err, WL_ERR_INVALID,
                     "SASL PLAIN over plain TCP to %s:%u would send the password unencrypted: "
                     "use TLS, or allow insecure PLAIN explicitly",
                     options->host, (unsigned)options->port);
        return NULL;
    }
    if (options->auth == SB_AUTH_PLAIN &&
        (options->username == NULL || options->password == NULL)) {
        wl_error_set(err, WL_ERR_INVALID, "SASL PLAIN needs a username and a password");
        return NULL;
    }
    if (options->auth == SB_AUTH_CBS && options->credential == NULL) {
        wl_error_set(err, WL_ERR_INVALID, "CBS authorization needs a credential");
        return NULL;
    }

    conn = wl_xcalloc(1, sizeof *conn);
    conn->io = io;
    pthread_mutex_init(&conn->wake_lock, NULL);
    conn->options = *options;
    conn->options.host = conn->host = wl_xstrdup(options->host);
    conn->options.ca_file = conn->ca_file = copy_or_null(options->ca_file);
    conn->options.username = conn->username = copy_or_null(options->username);
    conn->options.password = conn->password = copy_or_null(options->password);
    conn->container_id = copy_or_null(options->container_id);
    if (conn->options.idle_timeout_ms <= 0) {
        conn->options.idle_timeout_ms = 60000;
    }
    if (conn->options.connect_timeout_ms <= 0) {
        conn->options.connect_timeout_ms = 30000;
    }
    if (conn->options.reconnect_backoff.initial_ms <= 0) {
        conn->options.reconnect_backoff = backoff_policy_default();
    }
    conn->clock = options->clock != NULL ? options->clock : wl_clock_system();
    if (strchr(conn->host, ':') != NULL) {
        snprintf(conn->address, sizeof conn->address, "[%s]:%u", conn->host,
                 (unsigned)options->port);
    } else {
        snprintf(conn->address, sizeof conn->address, "%s:%u", conn->host, (unsigned)options->port);
    }
    if (conn->container_id == NULL) {
        char id[WL_UUID_SIZE];
        wl_uuid_v4(id);
        conn->container_id = wl_xstrdup(id);
    }
    conn->options.container_id = conn->container_id;
    if (options->tls && make_ssl_domain(conn, err) != WL_OK) {
        sb_conn_destroy(conn);
        return NULL;
    }
    return conn;
}

const wl_clock *sb_conn_clock(const sb_conn *conn)
{
    return conn->clock;
}

static int64_t now_ms(const sb_conn *conn)
{
    return wl_clock_monotonic_ms(conn->clock);
}

/* Returns when reconnecting stops, or INT64_MAX when it never does. */
static int64_t give_up_at_ms(const sb_conn *conn)
{
    if (conn->options.give_up_after_ms <= 0) {
        return INT64_MAX;
    }
    return conn->unready_since_ms + conn->options.give_up_after_ms;
}

/* Stops reconnecting for good, with the bound added to the latest cause. */
static void give_up(sb_conn *conn)
{
    size_t used = strlen(conn->cause.message);

    conn->state = CONN_STOPPED;
    snprintf(conn->cause.message + used, sizeof conn->cause.message - used,
             "; gave up after %lld ms in which this connection did not work",
             (long long)conn->options.give_up_after_ms);
    if (conn->options.callbacks.on_disconnected != NULL) {
        conn->options.callbacks.on_disconnected(conn, &conn->cause, false, conn->options.ctx);
    }
}

static void configure_transport(sb_conn *conn, pn_transport_t *transport)
{
    /* Every failure of this transport reaches on_disconnected with its condition, and the
     * application logs it there at the level it chooses. */
    proton_log_route_reported(transport);
    pn_transport_set_idle_timeout(transport, (pn_millis_t)conn->options.idle_timeout_ms);
    /* Proton reports a received transfer frame by frame, and with no limit a peer may send a
     * 256 KB message as one frame. On a slow link a smaller frame shows sooner that bytes still
     * arrive, which the consumer's stall check relies on. */
    pn_transport_set_max_frame(transport, SB_CONN_MAX_FRAME);
    if (conn->options.tls) {
        pn_ssl_t *ssl = pn_ssl(transport);
        pn_ssl_init(ssl, conn->ssl_domain, NULL);
        /* SNI and the certificate name check both use the endpoint host, which is a DNS name:
         * sb_settings_resolve rejects TLS to an IP address, which Proton-C cannot verify. */
        pn_ssl_set_peer_hostname(ssl, conn->options.host);
    }

    /* Proton prefers EXTERNAL when offered, which Service Bus offers, so name the mechanism. */
    pn_sasl_t *sasl = pn_sasl(transport);
    pn_sasl_allowed_mechs(sasl, conn->options.auth == SB_AUTH_PLAIN ? "PLAIN" : "ANONYMOUS");
    if (conn->options.allow_insecure_plain) {
        pn_sasl_set_allow_insecure_mechs(sasl, true);
    }
}

static void start_attempt(sb_conn *conn)
{
    pn_transport_t *transport = pn_transport();
    pn_connection_t *connection = pn_connection();
    char address[PN_MAX_ADDR];
    char port[8];

    configure_transport(conn, transport);
    pn_connection_set_container(connection, conn->options.container_id);
    pn_connection_set_hostname(connection, conn->options.host);
    if (conn->options.auth == SB_AUTH_PLAIN) {
        pn_connection_set_user(connection, conn->options.username);
        pn_connection_set_password(connection, conn->options.password);
    }
    pn_record_t *record = pn_connection_attachments(connection);
    pn_record_def(record, SB_CONN_CONNECTION, PN_VOID);
    pn_record_set(record, SB_CONN_CONNECTION, conn);
    pn_connection_open(connection);

    wl_error_clear(&conn->cause);
    conn->connection = connection;
    pthread_mutex_lock(&conn->wake_lock);
    conn->wake_target = connection;
    pthread_mutex_unlock(&conn->wake_lock);
    conn->session = NULL;
    conn->cut_at_deadline = false;
    conn->drop_requested = false;
    conn->dropped = false;
    conn->state = CONN_CONNECTING;
    conn->attempt_started_ms = now_ms(conn);

    snprintf(port, sizeof port, "%u", (unsigned)conn->options.port);
    if (conn->io.loop != NULL) {
        event_loop_connect(conn->io.loop, connection, transport, conn->options.host, port);
        return;
    }
    pn_proactor_addr(address, sizeof address, conn->options.host, port);
    pn_proactor_connect2(conn->io.proactor, connection, transport, address);
}

wl_status sb_conn_start(sb_conn *conn, wl_error *err)
{
    if (conn->state != CONN_IDLE) {
        return wl_error_set(err, WL_ERR_CONFLICT, "the connection was started already");
    }
    conn->unready_since_ms = now_ms(conn);
    start_attempt(conn);
    return WL_OK;
}

sb_conn *sb_conn_from_event(pn_event_t *event)
{
    pn_connection_t *connection = pn_event_connection(event);

    if (connection == NULL) {
        return NULL;
    }
    return pn_record_get(pn_connection_attachments(connection), SB_CONN_CONNECTION);
}

void sb_conn_add_rpc(sb_conn *conn, sb_rpc *rpc)
{
    rpc_node *node = wl_xcalloc(1, sizeof *node);

    node->rpc = rpc;
    node->next = conn->rpcs;
    conn->rpcs = node;
}

void sb_conn_link_name(sb_conn *conn, const char *prefix, char *out, size_t capacity)
{
    snprintf(out, capacity, "%s-%s-%u", prefix, conn->options.container_id, ++conn->link_serial);
}

static void record_condition(sb_conn *conn, pn_condition_t *condition, const char *what)
{
    char context[400];

    bool first = conn->cause.status == WL_OK;

    snprintf(context, sizeof context, "%s (%s)", what, conn->address);
    amqp_condition_to_error(condition, WL_ERR_UNAVAILABLE, context, &conn->cause);

    /* Proton reports a rejected certificate as a framing error, but retrying cannot fix it. */
    const char *description = pn_condition_get_description(condition);
    if (first && description != NULL && strstr(description, "certificate verify failed") != NULL) {
        conn->cause.status = WL_ERR_AUTH;
    }
}

/* Schedules a PN_CONNECTION_WAKE for `connection` through whatever drives it. */
static void wake_connection(const sb_conn *conn, pn_connection_t *connection)
{
    if (conn->io.loop != NULL) {
        event_loop_wake(conn->io.loop, connection);
    } else {
        pn_connection_wake(connection);
    }
}

static void on_cbs_result(void *ctx, const char *audience, const wl_error *err)
{
    sb_conn *conn = ctx;

    if (err != NULL && !conn->tearing_down) {
        conn->last_failure = *err; /* the cause to report if the connection never works */
    }
    if (!conn->tearing_down && conn->options.callbacks.on_authorized != NULL) {
        conn->options.callbacks.on_authorized(conn, audience, err, conn->options.ctx);
    }
}

static void become_ready(sb_conn *conn)
{
    conn->state = CONN_READY;
    conn->working = false;
    wl_error_clear(&conn->last_failure); /* only this connection's own failures count now */
    conn->connect_count++;
    if (conn->options.callbacks.on_ready != NULL) {
        conn->options.callbacks.on_ready(conn, conn->options.ctx);
    }
}

/*
 * Fails every pending request with `cause` and frees CBS. The results of CBS requests failed
 * here are not reported as authorization failures.
 */
static void fail_pending_requests(sb_conn *conn, const wl_error *cause)
{
    conn->tearing_down = true;
    while (conn->rpcs != NULL) {
        rpc_node *node = conn->rpcs;
        conn->rpcs = node->next;
        sb_rpc_free(node->rpc, cause);
        free(node);
    }
    conn->tearing_down = false;
    cbs_destroy(conn->cbs);
    conn->cbs = NULL;
    conn->cbs_rpc = NULL;
}

/* Frees what lived on the lost connection and decides whether to reconnect. */
static void handle_transport_closed(sb_conn *conn, pn_event_t *event)
{
    pn_transport_t *transport = pn_event_transport(event);
    wl_error closed = {0};
    bool will_retry;

    if (transport != NULL && pn_condition_is_set(pn_transport_condition(transport))) {
        record_condition(conn, pn_transport_condition(transport), "the connection closed");
    }
    if (conn->cause.status == WL_OK && conn->close_requested) {
        wl_error_set(&conn->cause, WL_ERR_CLOSED, "the application closed the connection to %s",
                     conn->address);
    } else if (conn->cause.status == WL_OK) {
        wl_error_set(&conn->cause, WL_ERR_UNAVAILABLE, "the connection to %s closed",
                     conn->address);
    }
    pn_record_set(pn_connection_attachments(conn->connection), SB_CONN_CONNECTION, NULL);

    /* Pending requests fail with the connection's cause. */
    closed = conn->cause;
    closed.status = WL_ERR_CLOSED;
    fail_pending_requests(conn, &closed);

    conn->last_closed_had_opened = conn->state == CONN_READY;
    /* A dropped connection worked only until the time the application gave. If that was a
     * stable stretch, a new one starts now with the drop as its first failed attempt, so that
     * the give-up time runs from the drop. Otherwise the drop is one more failed attempt, so
     * that a peer that stalls every connection is given up on. */
    int64_t worked_until_ms = conn->dropped ? conn->worked_until_ms : now_ms(conn);
    if (conn->working && worked_until_ms - conn->working_since_ms >= STABLE_MS) {
        conn->unready_since_ms = now_ms(conn);
        conn->failures = conn->dropped ? 1 : 0;
    } else {
        conn->failures++;
    }
    conn->working = false;
    conn->last_failure = conn->cause;
    /* The proactor or the event loop frees the connection after this batch, so no thread may
     * wake it from now on. */
    pthread_mutex_lock(&conn->wake_lock);
    conn->wake_target = NULL;
    pthread_mutex_unlock(&conn->wake_lock);
    conn->connection = NULL;
    conn->session = NULL;

    int64_t now = now_ms(conn);
    if (!conn->close_requested && now >= give_up_at_ms(conn)) {
        give_up(conn);
        return;
    }
    /* A retry due after the give-up time does not happen: sb_conn_tick gives up at that time. */
    will_retry = !conn->close_requested;
    if (will_retry) {
        conn->state = CONN_WAITING;
        conn->reconnect_at_ms = now + backoff_delay_ms(&conn->options.reconnect_backoff,
                                                       conn->failures > 0 ? conn->failures - 1 : 0,
                                                       conn->options.random);
    } else {
        conn->state = CONN_STOPPED;
    }
    if (conn->options.callbacks.on_disconnected != NULL) {
        conn->options.callbacks.on_disconnected(conn, &conn->cause, will_retry, conn->options.ctx);
    }
}

/* Sets the cause of an attempt cut at the give-up time to `description`, followed by the latest
 * earlier failure, which usually names the actual problem. */
static void set_cut_cause(sb_conn *conn, wl_status status, const char *description)
{
    if (conn->last_failure.status == WL_OK) {
        wl_error_set(&conn->cause, status, "%s", description);
    } else {
        wl_error_set(&conn->cause, status, "%s (latest failure: %s)", description,
                     conn->last_failure.message);
    }
}

/* Returns when the current attempt ends: its connect timeout, or the give-up time if earlier. */
static int64_t attempt_deadline_ms(const sb_conn *conn)
{
    int64_t timeout_at = conn->attempt_started_ms + conn->options.connect_timeout_ms;
    int64_t give_up_at = give_up_at_ms(conn);

    return give_up_at < timeout_at ? give_up_at : timeout_at;
}

/* Closes the current connection's transport at once, without the AMQP close handshake. */
static void close_transport_now(sb_conn *conn)
{
    pn_transport_t *transport = pn_connection_transport(conn->connection);

    if (transport != NULL) {
        pn_transport_close_tail(transport);
        pn_transport_close_head(transport);
    } else {
        pn_connection_close(conn->connection);
    }
}

static void run_timers(sb_conn *conn)
{
    int64_t now = now_ms(conn);

    if (conn->state == CONN_CONNECTING && conn->connection != NULL && !conn->cut_at_deadline &&
        now >= attempt_deadline_ms(conn)) {
        conn->cut_at_deadline = true;
        if (now - conn->attempt_started_ms >= conn->options.connect_timeout_ms) {
            wl_error_set(&conn->cause, WL_ERR_TIMEOUT, "connecting to %s timed out after %lld ms",
                         conn->address, (long long)conn->options.connect_timeout_ms);
        } else if (conn->cause.status == WL_OK) {
            /* Cut at the give-up time, with no failure of its own yet. */
            char what[340];
            snprintf(what, sizeof what, "connecting to %s had not finished", conn->address);
            set_cut_cause(conn, WL_ERR_TIMEOUT, what);
        }
        close_transport_now(conn);
    }
    if (conn->state == CONN_READY && !conn->working && !conn->cut_at_deadline &&
        now >= give_up_at_ms(conn)) {
        char what[360];
        conn->cut_at_deadline = true;
        snprintf(what, sizeof what, "the connection to %s is open, but no link is attached on it",
                 conn->address);
        set_cut_cause(conn, WL_ERR_UNAVAILABLE, what);
        close_transport_now(conn);
    }
    if (conn->drop_requested && conn->connection != NULL && !conn->close_requested) {
        conn->drop_requested = false;
        conn->dropped = true;
        conn->cause = conn->drop_cause;
        close_transport_now(conn);
    }
    if (conn->abort_requested && conn->connection != NULL) {
        wl_error_set(&conn->cause, WL_ERR_CLOSED,
                     "the application closed the connection to %s without waiting for the peer",
                     conn->address);
        close_transport_now(conn);
    }
    if (conn->close_requested && conn->connection != NULL &&
        !(pn_connection_state(conn->connection) & PN_LOCAL_CLOSED)) {
        pn_connection_close(conn->connection);
    }
    if (conn->state != CONN_READY) {
        return;
    }
    for (rpc_node *node = conn->rpcs; node != NULL; node = node->next) {
        sb_rpc_tick(node->rpc, now);
    }
    if (conn->cbs != NULL && cbs_next_deadline_ms(conn->cbs) <= now) {
        cbs_tick(conn->cbs);
    }
}

static bool handle_link_event(sb_conn *conn, pn_event_t *event)
{
    pn_link_t *link = pn_event_link(event);
    sb_rpc *rpc = link != NULL ? sb_rpc_of_link(link) : NULL;

    (void)conn;
    if (rpc == NULL) {
        return false;
    }
    sb_rpc_handle(rpc, event);
    return true;
}

bool sb_conn_dispatch(sb_conn *conn, pn_event_t *event)
{
    switch (pn_event_type(event)) {
    case PN_CONNECTION_REMOTE_OPEN:
        if (conn->session == NULL) {
            conn->session = pn_session(conn->connection);
            pn_session_open(conn->session);
        }
        return true;

    case PN_SESSION_REMOTE_OPEN:
        if (pn_event_session(event) == conn->session && conn->state == CONN_CONNECTING) {
            become_ready(conn);
        }
        return true;

    case PN_SESSION_REMOTE_CLOSE:
        /* Brokers such as RabbitMQ report link errors by ending the session: start over. */
        if (pn_event_session(event) == conn->session) {
            record_condition(conn, pn_session_remote_condition(conn->session),
                             "the peer ended the session");
            pn_connection_close(conn->connection);
        }
        return true;

    case PN_CONNECTION_REMOTE_CLOSE:
        /* The peer's reply to our own close is no failure unless it carries a condition. */
        if (!conn->close_requested ||
            pn_condition_is_set(pn_connection_remote_condition(conn->connection))) {
            record_condition(conn, pn_connection_remote_condition(conn->connection),
                             "the peer closed the connection");
        }
        pn_connection_close(conn->connection);
        return true;

    case PN_TRANSPORT_ERROR:
        record_condition(conn, pn_transport_condition(pn_event_transport(event)),
                         "the connection failed");
        return true;

    case PN_TRANSPORT_CLOSED:
        handle_transport_closed(conn, event);
        return true;

    case PN_CONNECTION_WAKE:
        atomic_store(&conn->woken, false);
        run_timers(conn);
        return false; /* the application may have asked for this wake too */

    case PN_LINK_INIT:
    case PN_LINK_LOCAL_OPEN:
    case PN_LINK_REMOTE_OPEN:
    case PN_LINK_LOCAL_CLOSE:
    case PN_LINK_REMOTE_CLOSE:
    case PN_LINK_LOCAL_DETACH:
    case PN_LINK_REMOTE_DETACH:
    case PN_LINK_FLOW:
    case PN_LINK_FINAL:
    case PN_DELIVERY:
        return handle_link_event(conn, event);

    default:
        /* Connection, session and transport bookkeeping events need nothing from us. */
        return pn_event_link(event) == NULL;
    }
}

void sb_conn_wake(sb_conn *conn)
{
    pthread_mutex_lock(&conn->wake_lock);
    if (conn->wake_target != NULL) {
        wake_connection(conn, conn->wake_target);
    }
    pthread_mutex_unlock(&conn->wake_lock);
}

static int64_t own_deadline_ms(const sb_conn *conn)
{
    int64_t next = INT64_MAX;

    switch (conn->state) {
    case CONN_WAITING:
        next = give_up_at_ms(conn);
        return conn->reconnect_at_ms < next ? conn->reconnect_at_ms : next;
    case CONN_CONNECTING:
        return conn->cut_at_deadline ? INT64_MAX : attempt_deadline_ms(conn);
    case CONN_READY:
        for (const rpc_node *node = conn->rpcs; node != NULL; node = node->next) {
            int64_t deadline = sb_rpc_next_deadline_ms(node->rpc);
            next = deadline < next ? deadline : next;
        }
        if (conn->cbs != NULL) {
            int64_t deadline = cbs_next_deadline_ms(conn->cbs);
            next = deadline < next ? deadline : next;
        }
        if (!conn->working && !conn->cut_at_deadline && give_up_at_ms(conn) < next) {
            next = give_up_at_ms(conn);
        }
        return next;
    default:
        return INT64_MAX;
    }
}

int64_t sb_conn_next_deadline_ms(const sb_conn *conn)
{
    return own_deadline_ms(conn);
}

void sb_conn_tick(sb_conn *conn)
{
    int64_t now = now_ms(conn);

    if (conn->state == CONN_WAITING && now >= give_up_at_ms(conn)) {
        give_up(conn);
        return;
    }
    if (conn->state == CONN_WAITING && now >= conn->reconnect_at_ms) {
        start_attempt(conn);
        return;
    }
    /* Proton objects may only change inside the connection's own event batch, so due timers
     * run on the wake that this requests. */
    if (conn->connection != NULL && own_deadline_ms(conn) <= now &&
        !atomic_exchange(&conn->woken, true)) {
        wake_connection(conn, conn->connection);
    }
}

pn_connection_t *sb_conn_connection(const sb_conn *conn)
{
    return conn->state == CONN_READY ? conn->connection : NULL;
}

pn_session_t *sb_conn_session(const sb_conn *conn)
{
    return conn->state == CONN_READY ? conn->session : NULL;
}

bool sb_conn_is_ready(const sb_conn *conn)
{
    return conn->state == CONN_READY;
}

bool sb_conn_is_stopped(const sb_conn *conn)
{
    return conn->state == CONN_STOPPED;
}

void *sb_conn_context(const sb_conn *conn)
{
    return conn->options.ctx;
}

const char *sb_conn_address(const sb_conn *conn)
{
    return conn->address;
}

unsigned sb_conn_connect_count(const sb_conn *conn)
{
    return conn->connect_count;
}

unsigned sb_conn_failed_attempts(const sb_conn *conn)
{
    return conn->last_closed_had_opened ? 0 : conn->failures;
}

void sb_conn_mark_working(sb_conn *conn)
{
    if (conn->state == CONN_READY && !conn->working) {
        conn->working = true;
        conn->working_since_ms = now_ms(conn);
    }
}

void sb_conn_mark_not_working(sb_conn *conn, const wl_error *cause)
{
    if (conn->state != CONN_READY) {
        return;
    }
    conn->last_failure = *cause;
    if (!conn->working) {
        return;
    }
    /* As for a lost connection: only one that worked for STABLE_MS starts a new stretch. */
    if (now_ms(conn) - conn->working_since_ms >= STABLE_MS) {
        conn->unready_since_ms = now_ms(conn);
        conn->failures = 0;
    }
    conn->working = false;
}

int64_t sb_conn_reconnect_in_ms(const sb_conn *conn)
{
    if (conn->state != CONN_WAITING || conn->reconnect_at_ms >= give_up_at_ms(conn)) {
        return -1;
    }
    int64_t delay = conn->reconnect_at_ms - now_ms(conn);
    return delay > 0 ? delay : 0;
}

void sb_conn_describe_next_attempt(const sb_conn *conn, char *out, size_t capacity)
{
    int64_t delay = sb_conn_reconnect_in_ms(conn);

    if (delay < 0) {
        snprintf(out, capacity, "no further attempt");
    } else {
        snprintf(out, capacity, "next attempt in %lld ms", (long long)delay);
    }
}

wl_status sb_conn_authorize(sb_conn *conn, const char *audience, wl_error *err)
{
    if (conn->state != CONN_READY) {
        return wl_error_set(err, WL_ERR_CLOSED, "cannot authorize %s: the connection is not ready",
                            audience);
    }
    if (conn->options.auth != SB_AUTH_CBS) {
        on_cbs_result(conn, audience, NULL);
        return WL_OK;
    }
    if (conn->cbs == NULL) {
        conn->cbs_rpc = sb_rpc_open(conn, "$cbs", err);
        if (conn->cbs_rpc == NULL) {
            return err != NULL ? err->status : WL_ERR_CLOSED;
        }
        cbs_options options = {
            .credential = conn->options.credential,
            .timeout_ms = conn->options.cbs_timeout_ms,
            .refresh_margin_ms = conn->options.cbs_refresh_margin_ms,
            .clock = conn->clock,
            .random = conn->options.random,
            .on_result = on_cbs_result,
            .ctx = conn,
        };
        conn->cbs = cbs_create(conn->cbs_rpc, &options);
    }
    return cbs_authorize(conn->cbs, audience, err);
}

void sb_conn_audience(const sb_conn *conn, const char *entity, char *out, size_t capacity)
{
    uint16_t default_port = conn->options.tls ? 5671 : 5672;
    /* A URI writes an IPv6 address in brackets (RFC 3986, section 3.2.2). */
    bool ipv6 = strchr(conn->options.host, ':') != NULL;

    if (conn->options.port != default_port) {
        snprintf(out, capacity, "sb://%s%s%s:%u/%s", ipv6 ? "[" : "", conn->options.host,
                 ipv6 ? "]" : "", (unsigned)conn->options.port, entity);
    } else {
        snprintf(out, capacity, "sb://%s%s%s/%s", ipv6 ? "[" : "", conn->options.host,
                 ipv6 ? "]" : "", entity);
    }
}

void sb_conn_close(sb_conn *conn)
{
    conn->close_requested = true;
    switch (conn->state) {
    case CONN_IDLE:
    case CONN_WAITING: {
        wl_error cause = {0};
        conn->state = CONN_STOPPED;
        wl_error_set(&cause, WL_ERR_CLOSED, "the connection was closed by the application");
        if (conn->options.callbacks.on_disconnected != NULL) {
            conn->options.callbacks.on_disconnected(conn, &cause, false, conn->options.ctx);
        }
        break;
    }
    case CONN_CONNECTING:
        /* No AMQP connection is open yet, so there is no close handshake to wait for, and a
         * peer that never replies would hold the close until the application's own timeout. */
        conn->abort_requested = true;
        wake_connection(conn, conn->connection);
        break;
    case CONN_READY:
        /* The close itself happens in the connection's own batch. */
        wake_connection(conn, conn->connection);
        break;
    case CONN_STOPPED:
        break;
    }
}

void sb_conn_drop(sb_conn *conn, const wl_error *cause, int64_t worked_until_ms)
{
    if (conn->state != CONN_READY || conn->close_requested) {
        return;
    }
    conn->drop_requested = true;
    conn->drop_cause = *cause;
    conn->worked_until_ms = worked_until_ms;
    wake_connection(conn, conn->connection);
}

void sb_conn_abort(sb_conn *conn)
{
    conn->abort_requested = true;
    sb_conn_close(conn); /* wakes the connection, whose batch then closes the transport */
}

/*
 * Releases what a connection that never stopped keeps on its Proton objects: the record that
 * points back at it, its request links and CBS. The objects themselves are freed by
 * pn_proactor_free or event_loop_destroy, which emit no events, so nothing reaches the freed
 * sb_conn.
 * NOTE: no test reaches this path, because the consumer's forced close stops its connection.
 */
static void release_live_connection(sb_conn *conn)
{
    wl_error closed = {0};

    wl_error_set(&closed, WL_ERR_CLOSED, "the connection to %s was destroyed before it closed",
                 conn->address);
    pn_record_set(pn_connection_attachments(conn->connection), SB_CONN_CONNECTION, NULL);
    fail_pending_requests(conn, &closed);
    pthread_mutex_lock(&conn->wake_lock);
    conn->wake_target = NULL;
    pthread_mutex_unlock(&conn->wake_lock);
    conn->connection = NULL;
    conn->session = NULL;
}

void sb_conn_destroy(sb_conn *conn)
{
    if (conn == NULL) {
        return;
    }
    if (conn->connection != NULL) {
        release_live_connection(conn);
    }
    if (conn->ssl_domain != NULL) {
        pn_ssl_domain_free(conn->ssl_domain);
    }
    free(conn->host);
    free(conn->ca_file);
    free(conn->username);
    wl_free_secret(conn->password);
    free(conn->container_id);
    pthread_mutex_destroy(&conn->wake_lock);
    free(conn);
}
