#include "check.h"
#include "encoding.h"
#include "sas.h"

#include <stdlib.h>

/*
 * Expected values were computed outside this code base with
 *   printf 'sb%%3A%%2F%%2Fns.example.net%%2Forders\n1796364867' |
 *     openssl dgst -sha256 -hmac 'SAS_KEY_VALUE' -binary | base64
 */
static const char resource[] = "sb://ns.example.net/orders";
static const char expected_signature[] = "uzdGt8NKMAzilT8B3GAM5MBqGHTxptDCnmh7B18F2YA=";

TEST_CASE(create_matches_openssl)
{
    wl_error err = {0};
    char *token = sas_token_create(resource, "RootManageSharedAccessKey", "SAS_KEY_VALUE",
                                   INT64_C(1796364867), &err);
    char *expected_token = NULL;
    char *encoded_signature;

    CHECK(token != NULL);
    CHECK_INT_EQ(err.status, WL_OK);
    encoded_signature = wl_url_encode(expected_signature);
    expected_token = wl_xasprintf("SharedAccessSignature sr=sb%%3A%%2F%%2Fns.example.net%%2Forders"
                                  "&sig=%s&se=1796364867&skn=RootManageSharedAccessKey",
                                  encoded_signature);
    CHECK_STR_EQ(token, expected_token);
    free(encoded_signature);
    free(expected_token);
    free(token);
}

TEST_CASE(create_rejects_empty)
{
    wl_error err = {0};

    CHECK(sas_token_create("", "name", "key", 1, &err) == NULL);
    CHECK_INT_EQ(err.status, WL_ERR_INVALID);
}

TEST_CASE(verify_accepts_covered_audience)
{
    wl_error err = {0};
    char *token = sas_token_create("sb://ns.example.net/", "policy", "secret", 2000, &err);

    CHECK_INT_EQ(
        sas_token_verify(token, "sb://ns.example.net/orders", "policy", "secret", 1000, &err),
        WL_OK);
    CHECK_INT_EQ(sas_token_verify(token, "SB://NS.EXAMPLE.NET/orders/$management", "policy",
                                  "secret", 1000, &err),
                 WL_OK);
    free(token);
}

TEST_CASE(verify_rejects_each_fault)
{
    wl_error err = {0};
    char *token = sas_token_create(resource, "policy", "secret", 2000, &err);

    struct {
        const char *audience, *key_name, *key;
        int64_t now;
        const char *reason;
    } cases[] = {
        {"sb://ns.example.net/orders", "policy", "wrong", 1000, "InvalidSignature"},
        {"sb://ns.example.net/orders", "other", "secret", 1000, "InvalidSignature"},
        {"sb://ns.example.net/orders", "policy", "secret", 2000, "ExpiredToken"},
        {"sb://ns.example.net/ordersx", "policy", "secret", 1000, "InvalidAudience"},
        {"sb://ns.example.net/other", "policy", "secret", 1000, "InvalidAudience"},
    };

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        wl_error case_error = {0};

        CHECK_INT_EQ(sas_token_verify(token, cases[i].audience, cases[i].key_name, cases[i].key,
                                      cases[i].now, &case_error),
                     WL_ERR_AUTH);
        CHECK(strstr(case_error.message, cases[i].reason) != NULL);
    }
    free(token);
}

TEST_CASE(parse_rejects_malformed)
{
    static const char *const invalid[] = {
        "sr=a&sig=b&se=1&skn=c",
        "SharedAccessSignature sig=b&se=1&skn=c",
        "SharedAccessSignature sr=a&sig=b&se=soon&skn=c",
        "SharedAccessSignature sr=a&sr=a&sig=b&se=1&skn=c",
        "SharedAccessSignature sr=%zz&sig=b&se=1&skn=c",
        "SharedAccessSignature sr=a&sig&se=1&skn=c",
    };

    for (size_t i = 0; i < sizeof invalid / sizeof invalid[0]; i++) {
        sas_token_fields fields;
        wl_error err = {0};

        CHECK_INT_EQ(sas_token_parse(invalid[i], &fields, &err), WL_ERR_INVALID);
        CHECK(err.message[0] != '\0');
    }
}

TEST_MAIN(TEST_ENTRY(create_matches_openssl), TEST_ENTRY(create_rejects_empty),
          TEST_ENTRY(verify_accepts_covered_audience), TEST_ENTRY(verify_rejects_each_fault),
          TEST_ENTRY(parse_rejects_malformed))
