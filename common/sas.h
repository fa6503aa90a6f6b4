/*
 * Service Bus shared access signatures (SAS):
 *
 *   SharedAccessSignature sr={urlenc(uri)}&sig={urlenc(base64(HMAC-SHA256(key,
 *   urlenc(uri) + "\n" + expiry)))}&se={expiry}&skn={key name}
 *
 * The HMAC key is the key string's bytes as written, not base64-decoded. Producing a token is
 * used by the clients; parsing and verifying it by the Service Bus emulator.
 */
#ifndef WL_SAS_H
#define WL_SAS_H

#include "status.h"

#include <stdbool.h>
#include <stdint.h>

/*
 * Creates a token for `resource_uri` (for example "sb://ns.servicebus.windows.net/orders")
 * that expires at `expiry_unix_seconds`. Returns a string the caller frees with free(), or
 * NULL with `err` set when an argument is empty or signing fails.
 */
char *sas_token_create(const char *resource_uri, const char *key_name, const char *key,
                       int64_t expiry_unix_seconds, wl_error *err);

/* The fields of a parsed token; every string is owned and freed by sas_token_fields_free. */
typedef struct sas_token_fields {
    char *resource;              /* sr, URL-decoded */
    char *resource_encoded;      /* sr exactly as sent, which is what the signature covers */
    char *signature;             /* sig, URL-decoded base64 */
    char *key_name;              /* skn */
    int64_t expiry_unix_seconds; /* se */
} sas_token_fields;

/* Parses a token; fields may come in any order. Returns WL_ERR_INVALID naming what is wrong. */
wl_status sas_token_parse(const char *token, sas_token_fields *out_fields, wl_error *err);
void sas_token_fields_free(sas_token_fields *fields);

/*
 * Verifies `token` as Service Bus does: the key name matches `key_name`, the signature matches
 * the one computed with `key`, the token has not expired at `now_unix_seconds`, and its
 * resource covers `audience` (equal to it, or a prefix ending at a '/' boundary; compared
 * case-insensitively, with or without a trailing slash). Returns WL_OK, or WL_ERR_AUTH with a
 * description fit for a CBS status-description.
 */
wl_status sas_token_verify(const char *token, const char *audience, const char *key_name,
                           const char *key, int64_t now_unix_seconds, wl_error *err);

#endif
