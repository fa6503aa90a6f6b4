/*
 * The emulator's HTTP side on libmicrohttpd, as Microsoft's emulator serves it on port 5300:
 *
 *   GET /health                       {"status":"healthy"}
 *   GET /{queue}?api-version=2021-05  the Atom entry with QueueDescription and CountDetails
 *                                     that the Service Bus admin API (and KEDA) read; a
 *                                     missing queue returns 200 with an empty feed
 *
 * libmicrohttpd runs its own thread, which only reads queue names and atomic counts.
 */
#ifndef SBE_HTTP_H
#define SBE_HTTP_H

#include "clock.h"
#include "sbe_store.h"
#include "status.h"

typedef struct sbe_http sbe_http;

typedef struct sbe_http_options {
    const char *bind_address; /* host name or address; its first address is bound */
    int port;                 /* 0 picks a free port */
    const char *key_name;     /* SAS policy checked when a request carries Authorization */
    const char *key;
} sbe_http_options;

/*
 * Starts serving `store` (which must outlive the server). Returns NULL with `err` set when
 * the address cannot be resolved or the port cannot be bound. Caller frees with sbe_http_destroy.
 */
sbe_http *sbe_http_start(sbe_store *store, const sbe_http_options *options, const wl_clock *clock,
                         wl_error *err);

/* Returns the bound port. */
int sbe_http_port(const sbe_http *http);

void sbe_http_destroy(sbe_http *http);

#endif
