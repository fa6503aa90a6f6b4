/*
 * amqp_bench: a Proton-C client that measures one side of a broker's throughput.
 *
 *   amqp_bench send    --url HOST:PORT --address ADDR --count N --size BYTES [auth options]
 *   amqp_bench receive --url HOST:PORT --address ADDR --count N [--credit N] [auth options]
 *
 * send pipelines unsettled transfers within the broker's credit and stops when every one is
 * accepted; receive grants credit, accepts and settles each message (rcv-settle-mode first,
 * which RabbitMQ also supports) and stops after N. Each prints one JSON line with the count,
 * the seconds from the first transfer to the last outcome, and the rate. Auth options:
 * --user NAME --password SECRET for SASL PLAIN (the emulator's key name and key, or a
 * RabbitMQ user); ANONYMOUS otherwise. Single-threaded: the proactor thread does everything.
 */
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
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct bench {
    bool sending;
    const char *url;
    const char *address;
    const char *user;
    const char *password;
    long count;
    long size;
    int credit;
    long sent;
    long settled;
    long accepted;
    long received;
    long granted; /* credit granted so far, in messages */
    long failed;
    double started_s;
    double finished_s;
    char *payload;
    size_t payload_size;
    char *receive_buffer;
    size_t receive_capacity;
    pn_proactor_t *proactor;
    pn_connection_t *connection;
    int exit_code;
} bench;

static double now_s(void)
{
    struct timespec now;

    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)now.tv_sec + (double)now.tv_nsec / 1e9;
}

static void usage(void)
{
    fputs("usage: amqp_bench send|receive --url HOST:PORT --address ADDRESS --count N\n"
          "                  [--size BYTES] [--credit N] [--user NAME --password SECRET]\n",
          stderr);
    exit(2);
}

/* Encodes one message like the producer's: a JSON data section, a message-id, content-type. */
static void encode_payload(bench *b)
{
    pn_message_t *message = pn_message();
    char *body = malloc((size_t)b->size + 1);
    size_t capacity = (size_t)b->size + 512;

    memset(body, 'x', (size_t)b->size);
    memcpy(body, "{\"msg\":\"", 8);
    memcpy(body + b->size - 2, "\"}", 2);
    pn_data_put_string(pn_message_id(message),
                       pn_bytes(36, "00000000-0000-4000-8000-000000000000"));
    pn_message_set_content_type(message, "application/json");
    pn_message_set_durable(message, true);
    pn_message_set_inferred(message, true);
    pn_data_put_binary(pn_message_body(message), pn_bytes((size_t)b->size, body));
    b->payload = malloc(capacity);
    b->payload_size = capacity;
    if (pn_message_encode(message, b->payload, &b->payload_size) != 0) {
        fputs("amqp_bench: cannot encode the message\n", stderr);
        exit(1);
    }
    free(body);
    pn_message_free(message);
}

static void send_within_credit(bench *b, pn_link_t *link)
{
    while (pn_link_credit(link) > 0 && b->sent < b->count) {
        uint64_t tag = (uint64_t)b->sent;
        if (b->sent == 0) {
            b->started_s = now_s();
        }
        pn_delivery(link, pn_dtag((const char *)&tag, sizeof tag));
        pn_link_send(link, b->payload, b->payload_size);
        pn_link_advance(link);
        b->sent++;
    }
}

static void finish(bench *b)
{
    b->finished_s = now_s();
    pn_connection_close(b->connection);
}

static void on_sender_delivery(bench *b, pn_delivery_t *delivery)
{
    if (!pn_delivery_updated(delivery)) {
        return;
    }
    if (pn_delivery_remote_state(delivery) == PN_ACCEPTED) {
        b->accepted++;
    } else {
        b->failed++;
    }
    pn_delivery_settle(delivery);
    if (++b->settled == b->count) {
        finish(b);
    }
}

/* Tops credit up to the window, never past the messages still to receive, so that a queue
 * holding more than --count keeps the rest. */
static void grant_credit(bench *b, pn_link_t *link)
{
    long outstanding = b->granted - b->received;
    long wanted = b->count - b->received;

    if (wanted > b->credit) {
        wanted = b->credit;
    }
    if (outstanding < wanted / 2 || (outstanding == 0 && wanted > 0)) {
        pn_link_flow(link, (int)(wanted - outstanding));
        b->granted += wanted - outstanding;
    }
}

static void on_receiver_delivery(bench *b, pn_delivery_t *delivery)
{
    pn_link_t *link = pn_delivery_link(delivery);

    if (!pn_delivery_readable(delivery) || pn_delivery_partial(delivery)) {
        return;
    }
    size_t pending = pn_delivery_pending(delivery);
    if (pending > b->receive_capacity) {
        b->receive_capacity = pending;
        b->receive_buffer = realloc(b->receive_buffer, pending);
    }
    pn_link_recv(link, b->receive_buffer, pending);
    pn_link_advance(link);
    if (b->received == 0) {
        b->started_s = now_s();
    }
    pn_delivery_update(delivery, PN_ACCEPTED);
    pn_delivery_settle(delivery);
    b->received++;
    if (b->received == b->count) {
        finish(b);
        return;
    }
    grant_credit(b, link);
}

static void open_link(bench *b, pn_connection_t *connection)
{
    pn_session_t *session = pn_session(connection);
    pn_link_t *link;

    pn_session_open(session);
    if (b->sending) {
        link = pn_sender(session, "amqp-bench-sender");
        pn_terminus_set_address(pn_link_target(link), b->address);
        pn_link_set_snd_settle_mode(link, PN_SND_UNSETTLED);
    } else {
        link = pn_receiver(session, "amqp-bench-receiver");
        pn_terminus_set_address(pn_link_source(link), b->address);
        pn_link_set_snd_settle_mode(link, PN_SND_UNSETTLED);
        pn_link_set_rcv_settle_mode(link, PN_RCV_FIRST);
    }
    pn_link_open(link);
    if (!b->sending) {
        grant_credit(b, link);
    }
}

static void report_condition(bench *b, const char *what, pn_condition_t *condition)
{
    if (pn_condition_is_set(condition)) {
        fprintf(stderr, "amqp_bench: %s: %s: %s\n", what, pn_condition_get_name(condition),
                pn_condition_get_description(condition));
        b->exit_code = 1;
    }
}

/* Returns false once the connection is gone. */
static bool handle(bench *b, pn_event_t *event)
{
    switch (pn_event_type(event)) {
    case PN_CONNECTION_INIT: {
        pn_connection_t *connection = pn_event_connection(event);
        pn_connection_set_container(connection, "amqp-bench");
        pn_connection_set_hostname(connection, "localhost");
        if (b->user != NULL) {
            pn_connection_set_user(connection, b->user);
            pn_connection_set_password(connection, b->password);
        }
        pn_connection_open(connection);
        open_link(b, connection);
        break;
    }
    case PN_CONNECTION_BOUND: {
        pn_sasl_t *sasl = pn_sasl(pn_event_transport(event));
        pn_sasl_allowed_mechs(sasl, b->user != NULL ? "PLAIN" : "ANONYMOUS");
        pn_sasl_set_allow_insecure_mechs(sasl, true);
        break;
    }
    case PN_LINK_FLOW:
        if (b->sending) {
            send_within_credit(b, pn_event_link(event));
        }
        break;
    case PN_DELIVERY:
        if (b->sending) {
            on_sender_delivery(b, pn_event_delivery(event));
        } else {
            on_receiver_delivery(b, pn_event_delivery(event));
        }
        break;
    case PN_LINK_REMOTE_CLOSE:
    case PN_LINK_REMOTE_DETACH:
        report_condition(b, "link closed", pn_link_remote_condition(pn_event_link(event)));
        pn_connection_close(pn_event_connection(event));
        break;
    case PN_TRANSPORT_CLOSED:
        report_condition(b, "transport closed", pn_transport_condition(pn_event_transport(event)));
        break;
    case PN_PROACTOR_INACTIVE:
        return false;
    default:
        break;
    }
    return true;
}

static void parse(int argc, char **argv, bench *b)
{
    if (argc < 2) {
        usage();
    }
    *b = (bench){.count = 100000, .size = 200, .credit = 1000};
    if (strcmp(argv[1], "send") == 0) {
        b->sending = true;
    } else if (strcmp(argv[1], "receive") != 0) {
        usage();
    }
    for (int i = 2; i + 1 < argc; i += 2) {
        const char *name = argv[i];
        const char *value = argv[i + 1];
        if (strcmp(name, "--url") == 0) {
            b->url = value;
        } else if (strcmp(name, "--address") == 0) {
            b->address = value;
        } else if (strcmp(name, "--count") == 0) {
            b->count = atol(value);
        } else if (strcmp(name, "--size") == 0) {
            b->size = atol(value);
        } else if (strcmp(name, "--credit") == 0) {
            b->credit = atoi(value);
        } else if (strcmp(name, "--user") == 0) {
            b->user = value;
        } else if (strcmp(name, "--password") == 0) {
            b->password = value;
        } else {
            usage();
        }
    }
    if (b->url == NULL || b->address == NULL || b->count <= 0 || b->size < 16 || b->credit <= 0 ||
        (b->user != NULL) != (b->password != NULL)) {
        usage();
    }
}

int main(int argc, char **argv)
{
    bench b;

    parse(argc, argv, &b);
    if (b.sending) {
        encode_payload(&b);
    }
    b.proactor = pn_proactor();
    b.connection = pn_connection();
    pn_proactor_connect2(b.proactor, b.connection, NULL, b.url);

    bool running = true;
    while (running) {
        pn_event_batch_t *batch = pn_proactor_wait(b.proactor);
        pn_event_t *event;
        while ((event = pn_event_batch_next(batch)) != NULL) {
            running = handle(&b, event) && running;
        }
        pn_proactor_done(b.proactor, batch);
    }

    long done = b.sending ? b.accepted : b.received;
    double seconds = b.finished_s > b.started_s ? b.finished_s - b.started_s : 0;
    printf("{\"mode\":\"%s\",\"count\":%ld,\"done\":%ld,\"failed\":%ld,\"seconds\":%.3f,"
           "\"rate\":%.0f}\n",
           b.sending ? "send" : "receive", b.count, done, b.failed, seconds,
           seconds > 0 ? (double)done / seconds : 0.0);
    if (done != b.count) {
        b.exit_code = 1;
    }
    pn_proactor_free(b.proactor);
    free(b.payload);
    free(b.receive_buffer);
    return b.exit_code;
}
