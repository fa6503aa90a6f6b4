/*
 * Token credentials behind one interface: a credential returns a token for an audience,
 * with its type (for a CBS put-token) and its expiry.
 *
 * - SAS: signs a fresh token per request with a key name and key (see sas.h).
 * - Static SAS: a SharedAccessSignature given in the connection string, returned as is.
 * - Workload identity: exchanges the Kubernetes service-account token in
 *   AZURE_FEDERATED_TOKEN_FILE for an Entra access token at
 *   POST {AZURE_AUTHORITY_HOST}{AZURE_TENANT_ID}/oauth2/v2.0/token (client_credentials grant
 *   with a jwt-bearer client assertion). The file is re-read on every exchange because the
 *   kubelet rotates it. One credential serves one scope; the audience argument is ignored.
 *   Tokens are cached and exchanged again once the refresh time has passed (see
 *   cred_refresh_at_unix); failed exchanges are retried with backoff and jitter.
 *
 * Every function may be called from any thread. A workload-identity exchange blocks the caller
 * for at most the request timeout times the attempts, plus the backoff between them, unless
 * the credential refreshes in the background (cred_start_background_refresh).
 */
#ifndef WL_CREDENTIAL_H
#define WL_CREDENTIAL_H

#include "backoff.h"
#include "clock.h"
#include "status.h"

#include <stdbool.h>
#include <stdint.h>

#define CRED_TYPE_SAS "servicebus.windows.net:sastoken"
#define CRED_TYPE_JWT "jwt"

typedef struct cred cred;

typedef struct cred_token {
    char *token;             /* the whole token text; a secret, never log it */
    const char *type;        /* CRED_TYPE_SAS or CRED_TYPE_JWT (static storage) */
    int64_t expires_at_unix; /* seconds since the epoch */
    int64_t refresh_at_unix; /* when a holder should fetch a new one */
} cred_token;

/* Frees the token text and zeroes the struct; safe on a zeroed struct. */
void cred_token_free(cred_token *token);

/*
 * Gets a token for `audience` (for example "sb://ns.servicebus.windows.net/orders") into
 * `out` (caller frees with cred_token_free). WL_ERR_AUTH carries the OAuth error code in
 * err->condition and the AADSTS description in err->message.
 */
wl_status cred_get_token(cred *credential, const char *audience, cred_token *out, wl_error *err);

/* Logs one warning when a workload identity credential fetches tokens over plain HTTP. Call it
 * after logging is set up, because credentials are created while the options load. */
void cred_warn_unencrypted(const cred *credential);

/* Returns CRED_TYPE_SAS or CRED_TYPE_JWT. */
const char *cred_type(const cred *credential);

/* Returns a short name for logs: "sas", "sas-static" or "workload-identity". */
const char *cred_kind(const cred *credential);

void cred_destroy(cred *credential);

/*
 * Returns the time at which a token issued at `issued_at_unix` and expiring at
 * `expires_at_unix` should be replaced: 10 minutes before expiry, or half-way through a
 * lifetime shorter than 20 minutes. CBS puts the next token between this time and its own
 * margin before expiry, so this window must open earlier than that margin.
 */
int64_t cred_refresh_at_unix(int64_t issued_at_unix, int64_t expires_at_unix);

/*
 * Creates a SAS credential. Tokens are valid for `validity_s` seconds (3600 when 0) from the
 * clock's real time (`clock` NULL for the system clock; it must outlive the credential).
 */
cred *cred_sas_create(const char *key_name, const char *key, int64_t validity_s,
                      const wl_clock *clock);

/*
 * Creates a credential that always returns `signature` (a whole "SharedAccessSignature ..."
 * token). Returns NULL with WL_ERR_INVALID when the token cannot be parsed.
 */
cred *cred_sas_static_create(const char *signature, wl_error *err);

typedef struct cred_wi_options {
    const char *authority_host; /* AZURE_AUTHORITY_HOST (https://, or http:// for local tests), e.g.
                                   "https://login.microsoftonline.com/" */
    const char *tenant_id;      /* AZURE_TENANT_ID */
    const char *client_id;      /* AZURE_CLIENT_ID */
    const char *token_file;     /* AZURE_FEDERATED_TOKEN_FILE */
    const char *scope;          /* for example "https://servicebus.azure.net/.default" */
    const char *ca_file;        /* CA bundle for the authority, or NULL for the system store */
    int64_t request_timeout_ms; /* per HTTP exchange, including connect; 10000 when 0 */
    unsigned max_attempts;      /* exchanges per cred_get_token; 4 when 0 */
    backoff_policy backoff;     /* between attempts; backoff_policy_default() when zeroed */
    const wl_clock *clock;      /* NULL for the system clock; must outlive the credential */
    const backoff_random *random; /* NULL for backoff_random_system() */
} cred_wi_options;

/*
 * Fills the string fields of `options` from AZURE_AUTHORITY_HOST, AZURE_TENANT_ID,
 * AZURE_CLIENT_ID and AZURE_FEDERATED_TOKEN_FILE (`getenv_fn` NULL means getenv). The
 * pointers are the environment's. Returns WL_ERR_INVALID naming the first missing variable.
 */
wl_status cred_wi_options_from_env(cred_wi_options *options, const char *(*getenv_fn)(const char *),
                                   wl_error *err);

/* Creates a workload-identity credential; copies every string in `options`. */
cred *cred_workload_identity_create(const cred_wi_options *options, wl_error *err);

/*
 * Starts a thread that exchanges the workload-identity token at its refresh time, and after a
 * failure again with backoff. cred_get_token then never waits on the network. It returns the
 * cached token while that is valid, else at once the last exchange's error. This is for event
 * loops that must not block. With no token cached yet the call returns once the first exchange
 * has finished, so that a token is ready when it succeeded; a failed first exchange is not an
 * error here. After a success the next exchange waits at least for the clock's next whole second,
 * whatever the token's lifetime. Does nothing for SAS credentials, which need no network.
 * cred_destroy stops the thread and ends an exchange in progress.
 */
wl_status cred_start_background_refresh(cred *credential, wl_error *err);

/* Number of token exchanges that reached the authority (for tests and metrics). */
uint64_t cred_exchange_count(cred *credential);

#endif
