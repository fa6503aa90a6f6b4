/*
 * Fuzzes SAS tokens (sas.c). The input is parsed as a token, and its parts before the first
 * two newlines and after them serve as resource URI, key name and key of a new token. Checks:
 *   - a parsed token has every field, and a positive expiry;
 *   - a created token parses back to the same URI, key name and expiry, with the URI encoded
 *     as wl_url_encode does;
 *   - sas_token_verify accepts it for that URI before the expiry, and rejects it at the
 *     expiry, for another key name and for another key.
 */
#include "encoding.h"
#include "fuzz.h"
#include "sas.h"

static void check_parse(const char *text)
{
    sas_token_fields fields;
    wl_error err = {0};

    if (sas_token_parse(text, &fields, &err) != WL_OK) {
        FUZZ_CHECK(err.status == WL_ERR_INVALID && fields.resource == NULL);
        return;
    }
    FUZZ_CHECK(fields.resource != NULL && fields.resource_encoded != NULL);
    FUZZ_CHECK(fields.signature != NULL && fields.key_name != NULL);
    FUZZ_CHECK(fields.expiry_unix_seconds > 0);
    sas_token_fields_free(&fields);
}

static void check_roundtrip(const char *uri, const char *key_name, const char *key, int64_t expiry)
{
    wl_error err = {0};
    char *token = sas_token_create(uri, key_name, key, expiry, &err);

    if (uri[0] == '\0' || key_name[0] == '\0' || key[0] == '\0') {
        FUZZ_CHECK(token == NULL && err.status == WL_ERR_INVALID);
        return;
    }
    FUZZ_CHECK(token != NULL);

    sas_token_fields fields;
    FUZZ_CHECK(sas_token_parse(token, &fields, &err) == WL_OK);
    FUZZ_CHECK(strcmp(fields.resource, uri) == 0);
    FUZZ_CHECK(strcmp(fields.key_name, key_name) == 0);
    FUZZ_CHECK(fields.expiry_unix_seconds == expiry);
    char *encoded = wl_url_encode(uri);
    FUZZ_CHECK(strcmp(fields.resource_encoded, encoded) == 0);
    free(encoded);
    sas_token_fields_free(&fields);

    FUZZ_CHECK(sas_token_verify(token, uri, key_name, key, expiry - 1, &err) == WL_OK);
    wl_error expired = {0};
    FUZZ_CHECK(sas_token_verify(token, uri, key_name, key, expiry, &expired) == WL_ERR_AUTH);

    char *other_key = malloc(strlen(key) + 2);
    char *other_name = malloc(strlen(key_name) + 2);
    FUZZ_CHECK(other_key != NULL && other_name != NULL);
    sprintf(other_key, "%sx", key);
    sprintf(other_name, "%sx", key_name);
    wl_error wrong_key = {0};
    FUZZ_CHECK(sas_token_verify(token, uri, key_name, other_key, expiry - 1, &wrong_key) ==
               WL_ERR_AUTH);
    wl_error wrong_name = {0};
    FUZZ_CHECK(sas_token_verify(token, uri, other_name, key, expiry - 1, &wrong_name) ==
               WL_ERR_AUTH);
    free(other_name);
    free(other_key);
    free(token);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = fuzz_text(data, size);
    uint64_t hash = 1469598103934665603u;

    check_parse(text);

    for (size_t i = 0; i < size; i++) {
        hash = (hash ^ data[i]) * 1099511628211u;
    }
    char *key_name = strchr(text, '\n');
    char *key = key_name != NULL ? strchr(key_name + 1, '\n') : NULL;
    if (key != NULL) {
        *key_name++ = '\0';
        *key++ = '\0';
        check_roundtrip(text, key_name, key, 1 + (int64_t)(hash % INT64_C(4102444800)));
    }
    free(text);
    return 0;
}
