/*
 * The Service Bus settings that the producer and the consumer share: one option table
 * (sb_settings_table, loaded as a config_section), its checks, and the resolution of the
 * settings into a connection target with its credential.
 *
 * Authentication (--auth, SERVICEBUS_AUTH):
 *   cbs    SASL ANONYMOUS, then a CBS put-token: a SAS token signed with the connection
 *          string's key, its SharedAccessSignature, or an Entra token from workload identity
 *          when only --namespace is set. Service Bus and its emulators.
 *   plain  SASL PLAIN with --username and --password, which default to the connection
 *          string's SharedAccessKeyName and SharedAccessKey. No CBS (generic AMQP brokers).
 *   none   SASL ANONYMOUS and no CBS.
 * PLAIN over plain TCP sends the password unencrypted, so it needs --allow-insecure-plain.
 *
 * Not thread-safe: resolve at start-up. The target may then be read from any thread.
 */
#ifndef WL_SB_SETTINGS_H
#define WL_SB_SETTINGS_H

#include "clock.h"
#include "config.h"
#include "credential.h"
#include "sb_conn.h"
#include "status.h"

#include <stdbool.h>
#include <stdint.h>

typedef struct sb_settings {
    char *connection_string; /* SERVICEBUS_CONNECTION_STRING (secret) */
    char *namespace_name;    /* SERVICEBUS_NAMESPACE, with workload identity */
    char *queue;             /* SERVICEBUS_QUEUE; the connection string's EntityPath when NULL */
    char *ca_file;           /* SERVICEBUS_CA_FILE; NULL for the system store */
    char *auth;              /* "cbs", "plain" or "none" */
    char *username;          /* SASL PLAIN; NULL for SharedAccessKeyName */
    char *password;          /* SASL PLAIN; NULL for SharedAccessKey (secret) */
    bool allow_insecure_plain;
    int64_t connect_timeout_ms;
    int64_t give_up_after_ms; /* 0 reconnects forever */
    int64_t idle_timeout_ms;
} sb_settings;

/* The options of sb_settings, with the variables and flags both programs use. */
extern const config_table sb_settings_table;

/* Where and how to connect, resolved from sb_settings. Strings and the credential are owned. */
typedef struct sb_target {
    char *host;
    uint16_t port;
    bool tls;
    char *queue;
    sb_auth auth;
    char *username;         /* SB_AUTH_PLAIN */
    char *password;         /* SB_AUTH_PLAIN; a secret */
    cred *credential;       /* SB_AUTH_CBS; NULL otherwise */
    bool workload_identity; /* the credential exchanges a federated token with Entra */
} sb_target;

/*
 * Checks what the table cannot express and resolves `settings` into `out` (zeroed first). The
 * checks include what would otherwise fail only at the first connection: an unreadable or
 * non-PEM --ca-file, an unreadable AZURE_FEDERATED_TOKEN_FILE, and a SharedAccessSignature
 * that has already expired at `clock`'s time.
 * `clock` (NULL for the system clock) signs SAS tokens and must outlive the target. A
 * workload-identity credential is created but makes no request yet. Returns WL_ERR_INVALID with
 * a message naming the flag and variable; the caller exits 2. Free with sb_target_free, also
 * after a failure.
 */
wl_status sb_settings_resolve(const sb_settings *settings, const wl_clock *clock, sb_target *out,
                              wl_error *err);

/*
 * Fills the transport, authentication and timeout fields of `out` from `target` and
 * `settings`, and leaves every other field as it is. The strings are borrowed from both.
 */
void sb_target_conn_options(const sb_target *target, const sb_settings *settings,
                            sb_conn_options *out);

/*
 * Logs one warning when the target sends a credential over plain TCP: CBS tokens (a SAS token
 * signed with the key, a SharedAccessSignature or an Entra token) or a SASL PLAIN password.
 * Call it once at start, after logging starts.
 */
void sb_target_warn_unencrypted(const sb_target *target);

/* Returns how the target authenticates, for logs: "sas", "workload-identity", "SASL PLAIN"... */
const char *sb_target_auth_name(const sb_target *target);

/* Frees the strings and the credential, wipes the password and zeroes `target`. */
void sb_target_free(sb_target *target);

#endif
