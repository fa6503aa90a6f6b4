/*
 * Authorization rules of the emulator: which entity an address or audience names, whether a
 * token's scope covers it, and the checks of a CBS put-token. Host names are not compared,
 * because clients reach the emulator as localhost or 127.0.0.1 with any port; entity paths
 * are.
 */
#ifndef SBE_AUTH_H
#define SBE_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SBE_SAS_TOKEN_TYPE "servicebus.windows.net:sastoken"
/* Lifetime given to an accepted `jwt` token whose expiry cannot be read. */
#define SBE_JWT_DEFAULT_LIFETIME_MS (3600 * 1000)

/* The one shared access policy the emulator has. Strings are borrowed. */
typedef struct sbe_auth_policy {
    const char *key_name;
    const char *key;
    bool allow_jwt; /* accept `jwt` tokens without validating them (tests only) */
} sbe_auth_policy;

/* The outcome of a put-token. */
typedef struct sbe_token_check {
    int status_code;       /* 202 accepted, 400 malformed request, 401 rejected token */
    char description[600]; /* for the reply's status-description */
    char *scope;           /* entity path granted when 202; caller frees with free() */
    int64_t expires_at_ms; /* Unix milliseconds when 202 */
} sbe_token_check;

/*
 * Checks a put-token of `type` (SBE_SAS_TOKEN_TYPE or "jwt") for `audience` at `now_ms`. A
 * SAS token must be signed with the policy's key under its key name, not be expired, and have
 * a resource whose entity path covers the audience's. Any argument but `policy` and `out` may
 * be NULL, which gives 400. Fills `out` in every case.
 */
void sbe_check_put_token(const sbe_auth_policy *policy, const char *type, const char *audience,
                         const char *token, int64_t now_ms, sbe_token_check *out);

/*
 * Returns the entity path of an AMQP address or SAS audience: "sb://host:5672/orders/" and
 * "orders" both give "orders", "sb://host" gives "". Caller frees with free().
 */
char *sbe_entity_path(const char *address);

/* True when a token scoped to `scope` (an entity path, "" for the namespace) covers `path`;
 * compared case-insensitively at '/' boundaries, as Service Bus entity names are. */
bool sbe_scope_covers(const char *scope, const char *path);

#endif
