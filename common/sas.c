#include "sas.h"

#include "encoding.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char token_prefix[] = "SharedAccessSignature ";

/* Computes base64(HMAC-SHA256(key, encoded_uri + "\n" + expiry)). Caller frees. */
static char *compute_signature(const char *encoded_uri, const char *key, int64_t expiry)
{
    char *string_to_sign = wl_xasprintf("%s\n%" PRId64, encoded_uri, expiry);
    uint8_t digest[WL_SHA256_SIZE];
    char *signature = NULL;

    if (wl_hmac_sha256(key, strlen(key), string_to_sign, strlen(string_to_sign), digest)) {
        signature = wl_base64_encode(digest, sizeof digest);
    }
    free(string_to_sign);
    return signature;
}

char *sas_token_create(const char *resource_uri, const char *key_name, const char *key,
                       int64_t expiry_unix_seconds, wl_error *err)
{
    char *encoded_uri;
    char *signature;
    char *encoded_signature;
    char *encoded_key_name;
    char *token;

    if (resource_uri == NULL || resource_uri[0] == '\0' || key_name == NULL ||
        key_name[0] == '\0' || key == NULL || key[0] == '\0') {
        wl_error_set(err, WL_ERR_INVALID,
                     "a SAS token needs a resource URI, a key name and a key; one is empty");
        return NULL;
    }

    encoded_uri = wl_url_encode(resource_uri);
    signature = compute_signature(encoded_uri, key, expiry_unix_seconds);
    if (signature == NULL) {
        free(encoded_uri);
        wl_error_set(err, WL_ERR_INVALID, "HMAC-SHA256 failed while signing the SAS token");
        return NULL;
    }
    encoded_signature = wl_url_encode(signature);
    encoded_key_name = wl_url_encode(key_name);
    token = wl_xasprintf("%ssr=%s&sig=%s&se=%" PRId64 "&skn=%s", token_prefix, encoded_uri,
                         encoded_signature, expiry_unix_seconds, encoded_key_name);

    free(encoded_key_name);
    free(encoded_signature);
    free(signature);
    free(encoded_uri);
    return token;
}

void sas_token_fields_free(sas_token_fields *fields)
{
    free(fields->resource);
    free(fields->resource_encoded);
    free(fields->signature);
    free(fields->key_name);
    memset(fields, 0, sizeof *fields);
}

static wl_status parse_expiry(const char *text, int64_t *out, wl_error *err)
{
    char *end;
    long long value;

    errno = 0;
    value = strtoll(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0' || value <= 0) {
        return wl_error_set(err, WL_ERR_INVALID,
                            "SAS token expiry se=\"%s\" is not a positive number of seconds", text);
    }
    *out = (int64_t)value;
    return WL_OK;
}

/* Stores the decoded `value` of field `name` in `fields`; rejects repeated fields. */
static wl_status store_field(sas_token_fields *fields, const char *name, const char *value,
                             wl_error *err)
{
    char **slot = NULL;
    char *decoded;

    if (strcmp(name, "se") == 0) {
        if (fields->expiry_unix_seconds != 0) {
            return wl_error_set(err, WL_ERR_INVALID, "SAS token repeats the field se");
        }
        return parse_expiry(value, &fields->expiry_unix_seconds, err);
    }
    if (strcmp(name, "sr") == 0) {
        slot = &fields->resource;
    } else if (strcmp(name, "sig") == 0) {
        slot = &fields->signature;
    } else if (strcmp(name, "skn") == 0) {
        slot = &fields->key_name;
    } else {
        /* Service Bus ignores fields it does not know; so do we. */
        return WL_OK;
    }
    if (*slot != NULL) {
        return wl_error_set(err, WL_ERR_INVALID, "SAS token repeats the field %s", name);
    }
    decoded = wl_url_decode(value, false);
    if (decoded == NULL) {
        return wl_error_set(err, WL_ERR_INVALID, "SAS token field %s has an invalid %%-escape",
                            name);
    }
    *slot = decoded;
    if (slot == &fields->resource) {
        fields->resource_encoded = wl_xstrdup(value);
    }
    return WL_OK;
}

wl_status sas_token_parse(const char *token, sas_token_fields *out_fields, wl_error *err)
{
    size_t prefix_length = sizeof token_prefix - 1;
    wl_status status = WL_OK;
    char *copy;
    char *cursor;
    char *pair;

    memset(out_fields, 0, sizeof *out_fields);
    if (token == NULL || strncmp(token, token_prefix, prefix_length) != 0) {
        return wl_error_set(err, WL_ERR_INVALID,
                            "the token does not start with \"SharedAccessSignature \"");
    }

    copy = wl_xstrdup(token + prefix_length);
    cursor = copy;
    while (status == WL_OK && (pair = strsep(&cursor, "&")) != NULL) {
        char *equals = strchr(pair, '=');

        if (pair[0] == '\0') {
            continue;
        }
        if (equals == NULL) {
            status = wl_error_set(err, WL_ERR_INVALID, "SAS token field \"%s\" has no value", pair);
            break;
        }
        *equals = '\0';
        status = store_field(out_fields, pair, equals + 1, err);
    }
    free(copy);

    if (status == WL_OK) {
        const char *missing = out_fields->resource == NULL           ? "sr"
                              : out_fields->signature == NULL        ? "sig"
                              : out_fields->key_name == NULL         ? "skn"
                              : out_fields->expiry_unix_seconds == 0 ? "se"
                                                                     : NULL;
        if (missing != NULL) {
            status = wl_error_set(err, WL_ERR_INVALID, "SAS token has no %s field", missing);
        }
    }
    if (status != WL_OK) {
        sas_token_fields_free(out_fields);
    }
    return status;
}

/* Length of `text` without trailing slashes. */
static size_t trimmed_length(const char *text)
{
    size_t length = strlen(text);

    while (length > 0 && text[length - 1] == '/') {
        length--;
    }
    return length;
}

/* True when `resource` equals `audience` or is a prefix of it ending at a '/' boundary. */
static bool resource_covers(const char *resource, const char *audience)
{
    size_t resource_length = trimmed_length(resource);
    size_t audience_length = trimmed_length(audience);

    if (resource_length > audience_length ||
        strncasecmp(resource, audience, resource_length) != 0) {
        return false;
    }
    return resource_length == audience_length || audience[resource_length] == '/';
}

wl_status sas_token_verify(const char *token, const char *audience, const char *key_name,
                           const char *key, int64_t now_unix_seconds, wl_error *err)
{
    sas_token_fields fields;
    wl_error parse_error = {0};
    wl_status status = WL_OK;
    char *expected = NULL;

    if (sas_token_parse(token, &fields, &parse_error) != WL_OK) {
        return wl_error_set(err, WL_ERR_AUTH, "InvalidSignature: %s", parse_error.message);
    }

    if (strcmp(fields.key_name, key_name) != 0) {
        status = wl_error_set(err, WL_ERR_AUTH,
                              "InvalidSignature: the key name \"%s\" is not a configured "
                              "shared access policy",
                              fields.key_name);
        goto out;
    }
    if (fields.expiry_unix_seconds <= now_unix_seconds) {
        status = wl_error_set(err, WL_ERR_AUTH,
                              "ExpiredToken: the token expired at %" PRId64 " (now %" PRId64
                              " seconds since the epoch)",
                              fields.expiry_unix_seconds, now_unix_seconds);
        goto out;
    }

    /* The signature covers sr as the client encoded it, and clients differ in which characters
     * they escape, so sign the field exactly as it arrived. */
    expected = compute_signature(fields.resource_encoded, key, fields.expiry_unix_seconds);
    if (expected == NULL || strlen(expected) != strlen(fields.signature) ||
        !wl_equal_constant_time(expected, fields.signature, strlen(expected))) {
        status = wl_error_set(err, WL_ERR_AUTH,
                              "InvalidSignature: the token signature does not match the key of "
                              "policy \"%s\"",
                              key_name);
        goto out;
    }
    if (!resource_covers(fields.resource, audience)) {
        status = wl_error_set(err, WL_ERR_AUTH,
                              "InvalidAudience: the token resource \"%s\" does not cover \"%s\"",
                              fields.resource, audience);
        goto out;
    }

out:
    free(expected);
    sas_token_fields_free(&fields);
    return status;
}
