/*
 * Service Bus connection strings:
 *
 *   Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=send;SharedAccessKey=...;
 *   EntityPath=orders
 *   Endpoint=sb://localhost;SharedAccessKeyName=RootManageSharedAccessKey;
 *   SharedAccessKey=SAS_KEY_VALUE;UseDevelopmentEmulator=true;
 *
 * Keys are case-insensitive, pairs are separated by ';', and a value may itself contain '='
 * (base64 keys end with it). Endpoint schemes: sb:// (TLS on 5671, or plain TCP on 5672 with
 * UseDevelopmentEmulator=true), amqps:// (TLS, 5671) and amqp:// (plain TCP, 5672, for generic
 * AMQP 1.0 brokers). amqps:// with UseDevelopmentEmulator=true is rejected, because the two select
 * opposite transports. A port in the endpoint overrides the default. An IPv6 address is
 * written in brackets, as in sb://[::1]:5672.
 */
#ifndef WL_CONNSTR_H
#define WL_CONNSTR_H

#include "status.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct connstr {
    char *host;                    /* endpoint host without scheme, port, path or brackets */
    uint16_t port;                 /* effective port: explicit, or the scheme's default */
    bool port_explicit;            /* the endpoint named a port */
    bool tls;                      /* false for amqp:// and for the development emulator */
    char *key_name;                /* SharedAccessKeyName, or NULL */
    char *key;                     /* SharedAccessKey, or NULL (secret) */
    char *shared_access_signature; /* SharedAccessSignature, or NULL (secret) */
    char *entity_path;             /* EntityPath, or NULL */
    bool use_development_emulator;
    bool use_development_emulator_set; /* the key appeared, so that a second one is rejected */
} connstr;

/*
 * Parses `text` into `out` (zeroed first). Requires Endpoint and either SharedAccessKeyName with
 * SharedAccessKey or SharedAccessSignature (not both). Unknown keys are ignored, as the SDKs do.
 * On failure returns WL_ERR_INVALID with a message that names the key and never the secret
 * value. Free with connstr_free.
 */
wl_status connstr_parse(const char *text, connstr *out, wl_error *err);

void connstr_free(connstr *cs);

/*
 * Returns whether the first `length` bytes of `host` form a DNS name or an IPv4 address. Labels
 * have 1 to 63 letters, digits, '-' or '_' and neither start nor end with '-'. Dots separate
 * them, a final dot is allowed, and the name has at most 253 bytes. IPv6 literals are rejected.
 */
bool connstr_host_valid(const char *host, size_t length);

/* Returns whether the first `length` bytes of `text` form an IPv6 address, without brackets. */
bool connstr_ipv6_valid(const char *text, size_t length);

/*
 * Returns whether `host` is an IP address in any form that getaddrinfo takes without a DNS
 * lookup: IPv6, dotted IPv4 and the short and numeric IPv4 forms (127.1, 2130706433,
 * 0x7f.0.0.1), as Proton-C resolves hosts with getaddrinfo.
 */
bool connstr_host_is_ip(const char *host);

#endif
