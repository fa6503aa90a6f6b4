/*
 * The server side of the unit tests' loopback AMQP peers, which run on the test's own proactor
 * beside the sb_conn under test.
 */
#ifndef WL_TEST_AMQP_PEER_H
#define WL_TEST_AMQP_PEER_H

#include <proton/condition.h>
#include <proton/event.h>
#include <proton/listener.h>
#include <proton/netaddr.h>
#include <proton/proactor.h>
#include <proton/sasl.h>
#include <proton/transport.h>

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

/* Starts `listener` on a free port of 127.0.0.1 and returns the port once it is open. Call it
 * before any connection exists on `proactor`: it drops the other events of the batches it reads. */
static inline uint16_t amqp_peer_listen(pn_proactor_t *proactor, pn_listener_t *listener)
{
    char host[64];
    char port[16];

    pn_proactor_listen(proactor, listener, "127.0.0.1:0", 16);
    for (bool open = false; !open;) {
        pn_event_batch_t *batch = pn_proactor_wait(proactor);
        for (pn_event_t *event; (event = pn_event_batch_next(batch)) != NULL;) {
            open = open || pn_event_type(event) == PN_LISTENER_OPEN;
        }
        pn_proactor_done(proactor, batch);
    }
    pn_netaddr_host_port(pn_listener_addr(listener), host, sizeof host, port, sizeof port);
    return (uint16_t)atoi(port);
}

/* Accepts the connection of a PN_LISTENER_ACCEPT event as a server that allows SASL
 * ANONYMOUS. */
static inline void amqp_peer_accept(pn_event_t *event)
{
    pn_transport_t *transport = pn_transport();

    pn_transport_set_server(transport);
    pn_sasl_allowed_mechs(pn_sasl(transport), "ANONYMOUS");
    pn_listener_accept2(pn_event_listener(event), NULL, transport);
}

#endif
