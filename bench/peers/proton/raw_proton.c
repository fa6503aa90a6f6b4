/*
 * The physical limit of a Proton-C client against a Service Bus peer: no configuration table,
 * no retries, no message generation beyond a per-message id. It runs one of two modes on one
 * connection and one thread (the proactor's):
 *
 *   send     encodes one message once (200-byte JSON body by default, one data section) and
 *            sends COUNT copies, each with its own message-id. Up to WINDOW transfers stay
 *            unsettled in flight within the link credit, and it exits when all are settled.
 *   receive  receives COUNT messages in peek-lock (unsettled sends from the peer) and accepts
 *            and settles each one at once, which measures the peer's dispatch rate with no
 *            work. With --idle-ms it also stops once no message has arrived for that long,
 *            and with --count 0 it receives until then. The harness counts and empties a
 *            queue that way.
 *
 * Authentication is one CBS put-token with a SAS token before the entity link is attached, the
 * way the SDKs do it (SASL ANONYMOUS), or SASL PLAIN with the key name and key (--sasl plain).
 * Prints one JSON line with the counts and the elapsed seconds, and exits 0 only when every
 * message was accepted (send) or received (receive). In receive mode with --idle-ms, the
 * seconds include the final idle wait.
 */
#include "sas.h"
#include "timefmt.h"

#include <proton/condition.h>
#include <proton/connection.h>
#include <proton/delivery.h>
#include <proton/event.h>
#include <proton/link.h>
#include <proton/message.h>
#include <proton/proactor.h>
#include <proton/sasl.h>
#include <proton/session.h>
#include <proton/terminus.h>
#include <proton/transport.h>

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/types.h>
#include <time.h>

enum { MODE_SEND, MODE_RECEIVE };

typedef struct options {
    int mode;
    const char *connection_string;
    const char *queue;
    uint64_t count;
    int window;
    size_t size;
    bool sasl_plain;
    int idle_ms; /* receive: stop after this long without a message; 0 waits forever */
} options;

/* The parts of a Service Bus connection string that this program uses. */
typedef struct endpoint {
    char host[256];
    char port[16];
    char key_name[256];
    char key[256];
} endpoint;

typedef struct run {
    options opt;
    endpoint ep;
    pn_proactor_t *proactor;
    pn_connection_t *connection;
    pn_session_t *session;
    pn_link_t *cbs_sender;
    pn_link_t *cbs_receiver;
    pn_link_t *link;
    pn_rwbytes_t encoded; /* the message sent, encoded once */
    size_t id_offset;     /* where the 36-character message-id sits in `encoded` */
    char *receive_buffer; /* scratch space that received transfers are read into */
    size_t receive_capacity;
    uint64_t sent;
    uint64_t accepted;
    uint64_t rejected;
    uint64_t received;
    uint64_t received_at_last_timeout;
    double start_s;
    double end_s;
    bool token_sent;
    bool idle_expired;
    bool failed;
    char error[512];
} run;

static double monotonic_seconds(void)
{
    struct timespec now;

    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)now.tv_sec + (double)now.tv_nsec / 1e9;
}

static void fail(run *r, const char *what, pn_condition_t *condition)
{
    if (r->failed) {
        return;
    }
    r->failed = true;
    if (condition != NULL && pn_condition_is_set(condition)) {
        snprintf(r->error, sizeof r->error, "%s: %s: %s", what, pn_condition_get_name(condition),
                 pn_condition_get_description(condition) ? pn_condition_get_description(condition)
                                                         : "");
    } else {
        snprintf(r->error, sizeof r->error, "%s", what);
    }
    if (r->connection != NULL) {
        pn_connection_close(r->connection);
    }
}

/* Copies the value of `name=` from a connection string into `out`; false when absent. */
static bool connection_string_value(const char *text, const char *name, char *out, size_t size)
{
    size_t name_length = strlen(name);
    const char *cursor = text;

    while (*cursor != '\0') {
        const char *end = strchr(cursor, ';');
        size_t length = end ? (size_t)(end - cursor) : strlen(cursor);

        if (length > name_length && strncasecmp(cursor, name, name_length) == 0 &&
            cursor[name_length] == '=') {
            size_t value_length = length - name_length - 1;

            if (value_length >= size) {
                return false;
            }
            memcpy(out, cursor + name_length + 1, value_length);
            out[value_length] = '\0';
            return true;
        }
        cursor += length;
        if (*cursor == ';') {
            cursor++;
        }
    }
    return false;
}

/* Accepts only plain-TCP emulator endpoints: a benchmark on loopback has no TLS peer name. */
static bool parse_endpoint(const char *text, endpoint *out)
{
    char value[256];
    char flag[16] = "";
    const char *host;
    char *colon;

    if (!connection_string_value(text, "Endpoint", value, sizeof value) ||
        !connection_string_value(text, "SharedAccessKeyName", out->key_name,
                                 sizeof out->key_name) ||
        !connection_string_value(text, "SharedAccessKey", out->key, sizeof out->key)) {
        return false;
    }
    connection_string_value(text, "UseDevelopmentEmulator", flag, sizeof flag);
    if (strcasecmp(flag, "true") != 0) {
        return false;
    }
    host = strncmp(value, "sb://", 5) == 0 ? value + 5 : value;
    snprintf(out->host, sizeof out->host, "%s", host);
    out->host[strcspn(out->host, "/")] = '\0';
    snprintf(out->port, sizeof out->port, "5672");
    colon = strrchr(out->host, ':');
    if (colon != NULL) {
        snprintf(out->port, sizeof out->port, "%s", colon + 1);
        *colon = '\0';
    }
    return out->host[0] != '\0';
}

/* Builds the JSON body, padded with a "pad" field to exactly `size` bytes when it fits. */
static char *make_body(size_t size, size_t *out_length)
{
    char stamp[WL_STAMP_SIZE];
    struct timespec now;
    char *body;
    int head;

    clock_gettime(CLOCK_REALTIME, &now);
    wl_format_stamp((int64_t)now.tv_sec * 1000000 + now.tv_nsec / 1000, stamp);
    body = wl_xmalloc(size + 128);
    head = snprintf(body, size + 128,
                    "{\"msg\": \"Scale Test Message : COUNT 1\", \"srcStamp\": \"%s\"", stamp);
    if ((size_t)head + 12 <= size) {
        size_t pad = size - (size_t)head - 12;

        memcpy(body + head, ", \"pad\": \"", 10);
        memset(body + head + 10, 'x', pad);
        memcpy(body + head + 10 + pad, "\"}", 2);
        *out_length = size;
    } else {
        memcpy(body + head, "}", 1);
        *out_length = (size_t)head + 1;
    }
    return body;
}

static char *find_bytes(char *haystack, size_t size, const char *needle, size_t length)
{
    for (size_t i = 0; i + length <= size; i++) {
        if (memcmp(haystack + i, needle, length) == 0) {
            return haystack + i;
        }
    }
    return NULL;
}

static void encode_message(run *r)
{
    char id[WL_UUID_SIZE];
    size_t body_length;
    char *body = make_body(r->opt.size, &body_length);
    pn_message_t *message = pn_message();
    size_t capacity = body_length + 512;
    char *found;

    wl_uuid_v4(id);
    pn_data_put_string(pn_message_id(message), pn_bytes(strlen(id), id));
    pn_message_set_content_type(message, "application/json");
    pn_message_set_inferred(message, true);
    pn_data_put_binary(pn_message_body(message), pn_bytes(body_length, body));

    r->encoded.start = wl_xmalloc(capacity);
    r->encoded.size = capacity;
    if (pn_message_encode(message, r->encoded.start, &r->encoded.size) != 0) {
        fprintf(stderr, "raw_proton: encoding the message failed\n");
        exit(1);
    }
    found = find_bytes(r->encoded.start, r->encoded.size, id, strlen(id));
    if (found == NULL) {
        fprintf(stderr, "raw_proton: the message-id is missing from the encoded message\n");
        exit(1);
    }
    r->id_offset = (size_t)(found - r->encoded.start);
    pn_message_free(message);
    free(body);
}

/* Overwrites the last 12 hex digits of the encoded message-id with the sequence number. */
static void stamp_message_id(run *r, uint64_t sequence)
{
    char digits[13];

    snprintf(digits, sizeof digits, "%012" PRIx64, (uint64_t)(sequence & 0xffffffffffffULL));
    memcpy(r->encoded.start + r->id_offset + 24, digits, 12);
}

static void send_cbs_put_token(run *r)
{
    char audience[512];
    char *token;
    pn_message_t *request = pn_message();
    pn_data_t *properties = pn_message_properties(request);
    char buffer[2048];
    size_t size = sizeof buffer;
    pn_delivery_t *delivery;
    wl_error err = {0};

    snprintf(audience, sizeof audience, "sb://%s:%s/%s", r->ep.host, r->ep.port, r->opt.queue);
    token = sas_token_create(audience, r->ep.key_name, r->ep.key, (int64_t)time(NULL) + 3600, &err);
    if (token == NULL) {
        fail(r, err.message, NULL);
        pn_message_free(request);
        return;
    }
    pn_data_put_ulong(pn_message_id(request), 1);
    pn_message_set_reply_to(request, "bench-cbs-reply");
    pn_data_put_map(properties);
    pn_data_enter(properties);
    pn_data_put_string(properties, pn_bytes(9, "operation"));
    pn_data_put_string(properties, pn_bytes(9, "put-token"));
    pn_data_put_string(properties, pn_bytes(4, "type"));
    pn_data_put_string(properties, pn_bytes(strlen("servicebus.windows.net:sastoken"),
                                            "servicebus.windows.net:sastoken"));
    pn_data_put_string(properties, pn_bytes(4, "name"));
    pn_data_put_string(properties, pn_bytes(strlen(audience), audience));
    pn_data_exit(properties);
    pn_data_put_string(pn_message_body(request), pn_bytes(strlen(token), token));
    if (pn_message_encode(request, buffer, &size) != 0) {
        fail(r, "encoding the put-token request failed", NULL);
    } else {
        delivery = pn_delivery(r->cbs_sender, pn_dtag("cbs", 3));
        pn_link_send(r->cbs_sender, buffer, size);
        pn_link_advance(r->cbs_sender);
        (void)delivery;
    }
    pn_message_free(request);
    free(token);
}

/* Reads a whole transfer into the scratch buffer; returns its length. */
static size_t read_delivery(run *r, pn_link_t *link, pn_delivery_t *delivery)
{
    size_t pending = pn_delivery_pending(delivery);
    ssize_t n;

    if (pending > r->receive_capacity) {
        r->receive_capacity = pending;
        r->receive_buffer = wl_xrealloc(r->receive_buffer, pending);
    }
    n = pn_link_recv(link, r->receive_buffer, pending);
    return n > 0 ? (size_t)n : 0;
}

static void handle_cbs_reply(run *r, pn_delivery_t *delivery)
{
    size_t length = read_delivery(r, r->cbs_receiver, delivery);
    pn_message_t *reply = pn_message();
    pn_data_t *properties;
    int64_t status = 0;

    pn_link_advance(r->cbs_receiver);
    if (pn_message_decode(reply, r->receive_buffer, length) == 0) {
        properties = pn_message_properties(reply);
        pn_data_rewind(properties);
        if (pn_data_next(properties) && pn_data_type(properties) == PN_MAP) {
            pn_data_enter(properties);
            while (pn_data_next(properties)) {
                pn_bytes_t key = pn_data_get_string(properties);

                pn_data_next(properties);
                if (key.size == 11 && memcmp(key.start, "status-code", 11) == 0) {
                    status = pn_data_type(properties) == PN_INT ? pn_data_get_int(properties)
                                                                : pn_data_get_long(properties);
                }
            }
        }
    }
    pn_message_free(reply);
    pn_delivery_update(delivery, PN_ACCEPTED);
    pn_delivery_settle(delivery);
    if (status != 200 && status != 202) {
        fail(r, "the CBS put-token was rejected", NULL);
        return;
    }
    pn_link_open(r->link);
}

static void open_links(run *r)
{
    r->session = pn_session(r->connection);
    pn_session_set_incoming_capacity(r->session, 64u * 1024 * 1024);
    pn_session_open(r->session);
    if (r->opt.mode == MODE_SEND) {
        r->link = pn_sender(r->session, "bench-raw-sender");
        pn_terminus_set_address(pn_link_target(r->link), r->opt.queue);
        pn_link_set_snd_settle_mode(r->link, PN_SND_UNSETTLED);
    } else {
        r->link = pn_receiver(r->session, "bench-raw-receiver");
        pn_terminus_set_address(pn_link_source(r->link), r->opt.queue);
        pn_terminus_set_address(pn_link_target(r->link), "bench-raw-receiver");
        pn_link_set_snd_settle_mode(r->link, PN_SND_UNSETTLED);
        pn_link_set_rcv_settle_mode(r->link, PN_RCV_FIRST);
    }
    if (r->opt.sasl_plain) {
        pn_link_open(r->link);
        return;
    }
    r->cbs_sender = pn_sender(r->session, "bench-cbs-sender");
    pn_terminus_set_address(pn_link_target(r->cbs_sender), "$cbs");
    pn_link_open(r->cbs_sender);
    r->cbs_receiver = pn_receiver(r->session, "bench-cbs-receiver");
    pn_terminus_set_address(pn_link_source(r->cbs_receiver), "$cbs");
    pn_terminus_set_address(pn_link_target(r->cbs_receiver), "bench-cbs-reply");
    pn_link_open(r->cbs_receiver);
    pn_link_flow(r->cbs_receiver, 1);
}

static void send_within_credit(run *r)
{
    while (r->sent < r->opt.count && pn_link_credit(r->link) > 0 &&
           r->sent - r->accepted - r->rejected < (uint64_t)r->opt.window) {
        uint64_t tag = r->sent;

        pn_delivery(r->link, pn_dtag((const char *)&tag, sizeof tag));
        stamp_message_id(r, r->sent);
        pn_link_send(r->link, r->encoded.start, r->encoded.size);
        pn_link_advance(r->link);
        r->sent++;
    }
}

static void finish(run *r)
{
    r->end_s = monotonic_seconds();
    /* An armed idle timer keeps the proactor active, so the run would wait it out. */
    pn_proactor_cancel_timeout(r->proactor);
    pn_link_close(r->link);
    pn_session_close(r->session);
    pn_connection_close(r->connection);
}

static void handle_delivery(run *r, pn_delivery_t *delivery)
{
    pn_link_t *link = pn_delivery_link(delivery);

    if (link == r->cbs_receiver) {
        if (pn_delivery_readable(delivery) && !pn_delivery_partial(delivery)) {
            handle_cbs_reply(r, delivery);
        }
        return;
    }
    if (link == r->cbs_sender) {
        if (pn_delivery_settled(delivery) || pn_delivery_remote_state(delivery)) {
            pn_delivery_settle(delivery);
        }
        return;
    }
    if (r->opt.mode == MODE_SEND) {
        uint64_t state = pn_delivery_remote_state(delivery);

        if (state == 0 && !pn_delivery_settled(delivery)) {
            return;
        }
        if (state == PN_ACCEPTED) {
            r->accepted++;
        } else {
            r->rejected++;
        }
        pn_delivery_settle(delivery);
        if (r->accepted + r->rejected == r->opt.count) {
            finish(r);
        } else {
            send_within_credit(r);
        }
        return;
    }
    if (!pn_delivery_readable(delivery) || pn_delivery_partial(delivery)) {
        return;
    }
    read_delivery(r, link, delivery);
    pn_link_advance(link);
    pn_delivery_update(delivery, PN_ACCEPTED);
    pn_delivery_settle(delivery);
    r->received++;
    if (r->received == r->opt.count) {
        finish(r);
        return;
    }
    if (pn_link_credit(link) < r->opt.window / 2 + 1) {
        int top_up = r->opt.window - pn_link_credit(link);

        if (r->opt.count > 0 && (uint64_t)top_up > r->opt.count - r->received) {
            top_up = (int)(r->opt.count - r->received);
        }
        pn_link_flow(link, top_up);
    }
}

static void handle_link_remote_open(run *r, pn_link_t *link)
{
    if (link == r->cbs_sender && pn_link_credit(link) > 0) {
        return; /* the put-token goes out on PN_LINK_FLOW */
    }
    if (link != r->link) {
        return;
    }
    r->start_s = monotonic_seconds();
    if (r->opt.mode == MODE_RECEIVE) {
        int credit = r->opt.window;

        if (r->opt.count > 0 && (uint64_t)credit > r->opt.count) {
            credit = (int)r->opt.count;
        }
        pn_link_flow(link, credit);
        if (r->opt.idle_ms > 0) {
            pn_proactor_set_timeout(r->proactor, (pn_millis_t)r->opt.idle_ms);
        }
    } else {
        send_within_credit(r);
    }
}

/* Returns false once the connection is finished. */
static bool handle_event(run *r, pn_event_t *event)
{
    switch (pn_event_type(event)) {
    case PN_CONNECTION_INIT:
        pn_connection_set_container(r->connection, "bench-raw-proton");
        pn_connection_set_hostname(r->connection, r->ep.host);
        if (r->opt.sasl_plain) {
            pn_connection_set_user(r->connection, r->ep.key_name);
            pn_connection_set_password(r->connection, r->ep.key);
        }
        pn_connection_open(r->connection);
        open_links(r);
        break;
    case PN_LINK_FLOW: {
        pn_link_t *link = pn_event_link(event);

        if (link == r->cbs_sender && !r->token_sent && pn_link_credit(link) > 0) {
            r->token_sent = true;
            send_cbs_put_token(r);
        } else if (link == r->link && r->opt.mode == MODE_SEND && r->start_s > 0) {
            send_within_credit(r);
        }
        break;
    }
    case PN_LINK_REMOTE_OPEN:
        handle_link_remote_open(r, pn_event_link(event));
        break;
    case PN_DELIVERY:
        handle_delivery(r, pn_event_delivery(event));
        break;
    case PN_LINK_REMOTE_CLOSE:
    case PN_LINK_REMOTE_DETACH:
        /* After finish() the peer is answering our own detach and end. */
        if (r->end_s == 0) {
            fail(r, "the peer closed a link", pn_link_remote_condition(pn_event_link(event)));
        }
        break;
    case PN_SESSION_REMOTE_CLOSE:
        if (r->end_s == 0) {
            fail(r, "the peer ended the session",
                 pn_session_remote_condition(pn_event_session(event)));
        }
        break;
    case PN_CONNECTION_REMOTE_CLOSE:
        if (r->end_s == 0) {
            fail(r, "the peer closed the connection",
                 pn_connection_remote_condition(pn_event_connection(event)));
        }
        pn_connection_close(r->connection);
        break;
    case PN_TRANSPORT_CLOSED:
        if (r->end_s == 0) {
            fail(r, "the transport closed", pn_transport_condition(pn_event_transport(event)));
        }
        break;
    case PN_PROACTOR_TIMEOUT:
        /* Re-armed while messages keep arriving, so one timer serves the whole run. The
         * timeout arrives outside the connection's event batch, so the connection is closed
         * from its own PN_CONNECTION_WAKE; closed here, its frames would wait for the next
         * I/O on the connection. */
        if (r->received == r->received_at_last_timeout) {
            r->idle_expired = true;
            pn_connection_wake(r->connection);
        } else {
            r->received_at_last_timeout = r->received;
            pn_proactor_set_timeout(r->proactor, (pn_millis_t)r->opt.idle_ms);
        }
        break;
    case PN_CONNECTION_WAKE:
        if (r->idle_expired && r->end_s == 0) {
            finish(r);
        }
        break;
    case PN_PROACTOR_INACTIVE:
        return false;
    default:
        break;
    }
    return true;
}

static void usage(FILE *out)
{
    fprintf(
        out,
        "usage: raw_proton send|receive [options]\n"
        "  --connection-string S  Service Bus emulator connection string with\n"
        "                         UseDevelopmentEmulator=true (env SERVICEBUS_CONNECTION_STRING)\n"
        "  --queue NAME           queue (env SERVICEBUS_QUEUE)\n"
        "  --count N              messages to send or receive (default 10000); with\n"
        "                         receive, 0 receives until --idle-ms passes without one\n"
        "  --idle-ms MS           receive: stop after MS milliseconds without a message\n"
        "  --inflight W           unsettled transfers (send) or link credit (receive),\n"
        "                         default 1000\n"
        "  --size BYTES           body size of sent messages (default 200)\n"
        "  --sasl plain           SASL PLAIN with the key instead of a CBS put-token\n");
}

static bool parse_options(int argc, char **argv, options *opt)
{
    opt->connection_string = getenv("SERVICEBUS_CONNECTION_STRING");
    opt->queue = getenv("SERVICEBUS_QUEUE");
    opt->count = 10000;
    opt->window = 1000;
    opt->size = 200;
    if (argc < 2) {
        return false;
    }
    if (strcmp(argv[1], "send") == 0) {
        opt->mode = MODE_SEND;
    } else if (strcmp(argv[1], "receive") == 0) {
        opt->mode = MODE_RECEIVE;
    } else {
        return false;
    }
    for (int i = 2; i + 1 < argc; i += 2) {
        const char *value = argv[i + 1];

        if (strcmp(argv[i], "--connection-string") == 0) {
            opt->connection_string = value;
        } else if (strcmp(argv[i], "--queue") == 0) {
            opt->queue = value;
        } else if (strcmp(argv[i], "--count") == 0) {
            opt->count = strtoull(value, NULL, 10);
        } else if (strcmp(argv[i], "--inflight") == 0) {
            opt->window = atoi(value);
        } else if (strcmp(argv[i], "--size") == 0) {
            opt->size = strtoull(value, NULL, 10);
        } else if (strcmp(argv[i], "--idle-ms") == 0) {
            opt->idle_ms = atoi(value);
        } else if (strcmp(argv[i], "--sasl") == 0) {
            opt->sasl_plain = strcmp(value, "plain") == 0;
        } else {
            return false;
        }
    }
    if (opt->count == 0 && (opt->mode == MODE_SEND || opt->idle_ms <= 0)) {
        return false; /* nothing would end the run */
    }
    return (argc % 2) == 0 && opt->window > 0 && opt->size > 0 && opt->idle_ms >= 0;
}

int main(int argc, char **argv)
{
    run r = {0};
    pn_transport_t *transport;
    char address[PN_MAX_ADDR];
    bool running = true;
    double seconds;

    if (!parse_options(argc, argv, &r.opt)) {
        usage(stderr);
        return 2;
    }
    if (r.opt.connection_string == NULL || r.opt.queue == NULL ||
        !parse_endpoint(r.opt.connection_string, &r.ep)) {
        fprintf(stderr, "raw_proton: a connection string with Endpoint, SharedAccessKeyName, "
                        "SharedAccessKey and UseDevelopmentEmulator=true, and a queue, are "
                        "required; set SERVICEBUS_CONNECTION_STRING and SERVICEBUS_QUEUE\n");
        return 2;
    }
    if (r.opt.mode == MODE_SEND) {
        encode_message(&r);
    }

    r.proactor = pn_proactor();
    r.connection = pn_connection();
    transport = pn_transport();
    pn_sasl_allowed_mechs(pn_sasl(transport), r.opt.sasl_plain ? "PLAIN" : "ANONYMOUS");
    pn_sasl_set_allow_insecure_mechs(pn_sasl(transport), true);
    pn_transport_set_idle_timeout(transport, 60000);
    pn_proactor_addr(address, sizeof address, r.ep.host, r.ep.port);
    pn_proactor_connect2(r.proactor, r.connection, transport, address);

    while (running) {
        pn_event_batch_t *batch = pn_proactor_wait(r.proactor);
        pn_event_t *event;

        while ((event = pn_event_batch_next(batch)) != NULL) {
            running = handle_event(&r, event) && running;
        }
        pn_proactor_done(r.proactor, batch);
    }
    pn_proactor_free(r.proactor);

    seconds = r.end_s > r.start_s ? r.end_s - r.start_s : 0;
    printf("{\"mode\": \"%s\", \"sent\": %" PRIu64 ", \"accepted\": %" PRIu64
           ", \"rejected\": %" PRIu64 ", \"received\": %" PRIu64
           ", \"seconds\": %.6f, \"msgs_per_s\": %.1f}\n",
           r.opt.mode == MODE_SEND ? "send" : "receive", r.sent, r.accepted, r.rejected, r.received,
           seconds, seconds > 0 ? (double)(r.accepted + r.received) / seconds : 0.0);
    if (r.failed) {
        fprintf(stderr, "raw_proton: %s\n", r.error);
    }
    free(r.encoded.start);
    free(r.receive_buffer);
    if (r.opt.mode == MODE_SEND) {
        return !r.failed && r.accepted == r.opt.count ? 0 : 1;
    }
    if (r.opt.count == 0) {
        return r.failed ? 1 : 0;
    }
    return r.received == r.opt.count ? 0 : 1;
}
