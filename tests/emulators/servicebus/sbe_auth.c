#include "sbe_auth.h"

#include "encoding.h"
#include "sas.h"
#include "status.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

char *sbe_entity_path(const char *address)
{
    const char *path = address;
    const char *scheme = strstr(address, "://");

    if (scheme != NULL) {
        const char *slash = strchr(scheme + 3, '/');
        path = slash != NULL ? slash + 1 : scheme + strlen(scheme);
    }
    while (*path == '/') {
        path++;
    }
    size_t length = strlen(path);
    while (length > 0 && path[length - 1] == '/') {
        length--;
    }
    return wl_xstrndup(path, length);
}

bool sbe_scope_covers(const char *scope, const char *path)
{
    size_t length = strlen(scope);

    if (length == 0) {
        return true;
    }
    return strncasecmp(scope, path, length) == 0 && (path[length] == '\0' || path[length] == '/');
}

/* Reads the "exp" claim of a JWT, in Unix milliseconds; 0 when it cannot be read. */
static int64_t jwt_expiry_ms(const char *token)
{
    const char *payload = strchr(token, '.');
    const char *end = payload ? strchr(payload + 1, '.') : NULL;
    int64_t expiry = 0;

    if (end == NULL) {
        return 0;
    }
    size_t length = (size_t)(end - payload - 1);
    char *base64 = wl_xmalloc(length + 4);
    for (size_t i = 0; i < length; i++) {
        char c = payload[1 + i];
        base64[i] = c == '-' ? '+' : c == '_' ? '/' : c;
    }
    while (length % 4 != 0) {
        base64[length++] = '=';
    }
    base64[length] = '\0';
    size_t json_length = 0;
    uint8_t *json = wl_base64_decode(base64, &json_length);
    free(base64);
    if (json == NULL) {
        return 0;
    }
    cJSON *claims = cJSON_ParseWithLength((const char *)json, json_length);
    const cJSON *exp = cJSON_GetObjectItemCaseSensitive(claims, "exp");
    if (cJSON_IsNumber(exp)) {
        expiry = (int64_t)exp->valuedouble * 1000;
    }
    cJSON_Delete(claims);
    free(json);
    return expiry;
}

static void check_jwt(const sbe_auth_policy *policy, const char *audience_path, const char *token,
                      int64_t now_ms, sbe_token_check *out)
{
    if (!policy->allow_jwt) {
        snprintf(out->description, sizeof out->description,
                 "jwt tokens are not accepted: start the emulator with --allow-jwt to accept "
                 "them without validation");
        return;
    }
    int64_t expiry = jwt_expiry_ms(token);
    if (expiry != 0 && expiry <= now_ms) {
        snprintf(out->description, sizeof out->description, "ExpiredToken: the jwt expired");
        return;
    }
    out->status_code = 202;
    out->scope = wl_xstrdup(audience_path);
    out->expires_at_ms = expiry != 0 ? expiry : now_ms + SBE_JWT_DEFAULT_LIFETIME_MS;
    snprintf(out->description, sizeof out->description, "Accepted");
}

static void check_sas(const sbe_auth_policy *policy, const char *audience,
                      const char *audience_path, const char *token, int64_t now_ms,
                      sbe_token_check *out)
{
    sas_token_fields fields;
    wl_error err = {0};

    if (sas_token_parse(token, &fields, &err) != WL_OK) {
        snprintf(out->description, sizeof out->description, "InvalidSignature: %s", err.message);
        return;
    }
    /* The signature is checked against the token's own resource, whatever host it names;
     * the entity paths are compared below. */
    char *resource_path = sbe_entity_path(fields.resource);
    if (sas_token_verify(token, fields.resource, policy->key_name, policy->key, now_ms / 1000,
                         &err) != WL_OK) {
        snprintf(out->description, sizeof out->description, "%s", err.message);
    } else if (!sbe_scope_covers(resource_path, audience_path)) {
        snprintf(out->description, sizeof out->description,
                 "InvalidAudience: the token resource \"%s\" does not cover \"%s\"",
                 fields.resource, audience);
    } else {
        out->status_code = 202;
        out->scope = wl_xstrdup(audience_path);
        out->expires_at_ms = fields.expiry_unix_seconds * 1000;
        snprintf(out->description, sizeof out->description, "Accepted");
    }
    free(resource_path);
    sas_token_fields_free(&fields);
}

void sbe_check_put_token(const sbe_auth_policy *policy, const char *type, const char *audience,
                         const char *token, int64_t now_ms, sbe_token_check *out)
{
    *out = (sbe_token_check){.status_code = 401};
    if (type == NULL || audience == NULL || token == NULL) {
        out->status_code = 400;
        snprintf(out->description, sizeof out->description,
                 "put-token needs application-properties type and name and a string body");
        return;
    }
    if (strcmp(type, "jwt") != 0 && strcmp(type, SBE_SAS_TOKEN_TYPE) != 0) {
        out->status_code = 400;
        snprintf(out->description, sizeof out->description,
                 "token type \"%s\" is not supported; use %s or jwt", type, SBE_SAS_TOKEN_TYPE);
        return;
    }

    char *audience_path = sbe_entity_path(audience);
    if (strcmp(type, "jwt") == 0) {
        check_jwt(policy, audience_path, token, now_ms, out);
    } else {
        check_sas(policy, audience, audience_path, token, now_ms, out);
    }
    free(audience_path);
}
