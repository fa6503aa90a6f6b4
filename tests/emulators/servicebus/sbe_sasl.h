/*
 * Server-side SASL for the emulator, offering what Service Bus offers except EXTERNAL:
 * MSSBCBS (uamqp's default: "authentication follows on $cbs") and ANONYMOUS, both of which
 * leave every entity to CBS tokens, and PLAIN with the SAS key name as user name and the key
 * as password. Proton-C
 * built without Cyrus SASL cannot check PLAIN on a server, so this plugs in through Proton's
 * SASL implementation interface.
 */
#ifndef SBE_SASL_H
#define SBE_SASL_H

#include <proton/transport.h>

#include <stdbool.h>

/* Credentials to check and the result for one transport; owned by the caller. */
typedef struct sbe_sasl_context {
    const char *key_name; /* valid while the transport lives */
    const char *key;
    bool plain_authenticated; /* set when PLAIN succeeded with the right key */
    char mechanism[16];       /* the mechanism the client chose, for logs */
} sbe_sasl_context;

/*
 * Enables server SASL on `transport` with MSSBCBS, PLAIN and ANONYMOUS (PLAIN allowed without TLS,
 * as Microsoft's emulator does on its plain port). `context` must outlive the transport.
 */
void sbe_sasl_configure(pn_transport_t *transport, sbe_sasl_context *context);

#endif
