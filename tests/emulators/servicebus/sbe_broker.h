/*
 * The AMQP side of the emulator: listeners on Proton-C's proactor, SASL, CBS put-token on
 * `$cbs`, sender and receiver links on queues, and the `$management` node of each queue.
 *
 * Thread rule: one thread runs sbe_broker_run and is the only one that touches Proton objects
 * and the store. Each connection's links are served only while handling that connection's
 * events; a message that arrives for a receiver on another connection wakes that connection
 * (pn_connection_wake), which then pulls from the store. sbe_broker_stop may be called from
 * any thread.
 */
#ifndef SBE_BROKER_H
#define SBE_BROKER_H

#include "clock.h"
#include "sbe_store.h"
#include "status.h"

#include <stdbool.h>

/* Service Bus Standard's limit, also Microsoft's emulator's. */
#define SBE_MAX_MESSAGE_SIZE 262144

typedef struct sbe_broker_options {
    const char *bind_address; /* host to listen on */
    const char *port;         /* plain AMQP port; "0" picks a free one */
    const char *tls_port;     /* TLS port, or NULL for none */
    const char *tls_cert;     /* PEM certificate file, with tls_port */
    const char *tls_key;      /* PEM private key file, with tls_port */
    const char *key_name;     /* shared access policy name that SAS tokens and PLAIN must use */
    const char *key;          /* that policy's key */
    bool allow_jwt;           /* accept `jwt` CBS tokens without validation (tests only) */
    /* Released outcomes return the message without counting a delivery, as in Service Bus.
     * When false, released counts as an abandon. */
    bool release_keeps_delivery_count;
    /* Fault injection: drains that are never completed, so a receiver's credit stays until
     * messages use it up, as with a peer that does not respond to drain requests. */
    bool ignore_drain;
} sbe_broker_options;

typedef struct sbe_broker sbe_broker;

/* Called once every listener is bound, with the ports chosen (tls_port 0 when none). */
typedef void sbe_ready_fn(int amqp_port, int tls_port, void *ctx);

/*
 * Creates the broker over `store` (which must outlive it) and starts listening. Strings in
 * `options` must outlive the broker. Returns NULL with `err` set when TLS files cannot be
 * loaded. Caller frees with sbe_broker_destroy after sbe_broker_run returns.
 */
sbe_broker *sbe_broker_create(sbe_store *store, const sbe_broker_options *options,
                              const wl_clock *clock, wl_error *err);
void sbe_broker_destroy(sbe_broker *broker);

/*
 * Runs the event loop until sbe_broker_stop, then closes every connection and returns.
 * Returns WL_ERR_IO when a listener fails (for example, the port is in use).
 */
wl_status sbe_broker_run(sbe_broker *broker, sbe_ready_fn *ready, void *ready_ctx, wl_error *err);

/* Asks the loop to finish. Safe from any thread, but not from a signal handler. */
void sbe_broker_stop(sbe_broker *broker);

#endif
