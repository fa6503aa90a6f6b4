/*
 * CBS put-token checks of the Service Bus emulator. The signatures below were computed
 * independently of this project with the OpenSSL command line, for example:
 *
 *   printf 'sb%3A%2F%2Flocalhost%3A5672%2Forders\n1893456000' |
 *       openssl dgst -sha256 -hmac SAS_KEY_VALUE -binary | base64
 */
#include "check.h"
#include "sbe_auth.h"

#include <stdlib.h>
#include <string.h>

#define EXPIRY_SECONDS   1893456000LL /* 2030-01-01T00:00:00Z */
#define BEFORE_EXPIRY_MS ((EXPIRY_SECONDS - 3600) * 1000)

/* sr=sb://localhost:5672/orders, key SAS_KEY_VALUE. */
static const char orders_token[] =
    "SharedAccessSignature sr=sb%3A%2F%2Flocalhost%3A5672%2Forders"
    "&sig=lxzopzRiLraPov7SK%2F9scKgCoq%2BmUsdOXCQnd0kFEpM%3D&se=1893456000"
    "&skn=RootManageSharedAccessKey";
/* sr=sb://sbemulatorns.servicebus.windows.net/ (the whole namespace), key SAS_KEY_VALUE. */
static const char namespace_token[] =
    "SharedAccessSignature sr=sb%3A%2F%2Fsbemulatorns.servicebus.windows.net%2F"
    "&sig=NMxmUncP17j8sDBD2vayO%2FYnX3Q3ILzIFTm8LCmZaQc%3D&se=1893456000"
    "&skn=RootManageSharedAccessKey";
/* sr=sb://localhost:5672/orders signed with "other-key". */
static const char wrong_key_token[] =
    "SharedAccessSignature sr=sb%3A%2F%2Flocalhost%3A5672%2Forders"
    "&sig=yWAGg5DAqOVGoqYszIKgRt6xXLcsZ1cLk%2BVth1QLqHc%3D&se=1893456000"
    "&skn=RootManageSharedAccessKey";

static const sbe_auth_policy policy = {
    .key_name = "RootManageSharedAccessKey",
    .key = "SAS_KEY_VALUE",
    .allow_jwt = false,
};

static sbe_token_check check_sas(const sbe_auth_policy *with_policy, const char *audience,
                                 const char *token, int64_t now_ms)
{
    sbe_token_check check;

    sbe_check_put_token(with_policy, SBE_SAS_TOKEN_TYPE, audience, token, now_ms, &check);
    return check;
}

TEST_CASE(sas_valid_token_accepted)
{
    sbe_token_check check =
        check_sas(&policy, "sb://localhost:5672/orders", orders_token, BEFORE_EXPIRY_MS);

    CHECK_INT_EQ(check.status_code, 202);
    CHECK_STR_EQ(check.scope, "orders");
    CHECK_INT_EQ(check.expires_at_ms, EXPIRY_SECONDS * 1000);
    free(check.scope);
}

TEST_CASE(sas_any_host_accepted)
{
    sbe_token_check check =
        check_sas(&policy, "sb://127.0.0.1:41234/orders", orders_token, BEFORE_EXPIRY_MS);

    CHECK_INT_EQ(check.status_code, 202);
    CHECK_STR_EQ(check.scope, "orders");
    free(check.scope);
}

TEST_CASE(sas_covers_management_node)
{
    sbe_token_check check = check_sas(&policy, "sb://localhost:5672/orders/$management",
                                      orders_token, BEFORE_EXPIRY_MS);

    CHECK_INT_EQ(check.status_code, 202);
    CHECK_STR_EQ(check.scope, "orders/$management");
    free(check.scope);
}

TEST_CASE(sas_namespace_token_covers_queue)
{
    sbe_token_check check =
        check_sas(&policy, "sb://localhost/orders", namespace_token, BEFORE_EXPIRY_MS);

    CHECK_INT_EQ(check.status_code, 202);
    CHECK_STR_EQ(check.scope, "orders");
    free(check.scope);
}

TEST_CASE(sas_wrong_key_rejected)
{
    sbe_token_check check =
        check_sas(&policy, "sb://localhost:5672/orders", wrong_key_token, BEFORE_EXPIRY_MS);

    CHECK_INT_EQ(check.status_code, 401);
    CHECK(strstr(check.description, "InvalidSignature") != NULL);
    CHECK(check.scope == NULL);
}

TEST_CASE(sas_wrong_key_name_rejected)
{
    sbe_auth_policy other = policy;
    other.key_name = "SendOnly";
    sbe_token_check check =
        check_sas(&other, "sb://localhost:5672/orders", orders_token, BEFORE_EXPIRY_MS);

    CHECK_INT_EQ(check.status_code, 401);
    CHECK(strstr(check.description, "RootManageSharedAccessKey") != NULL);
}

TEST_CASE(sas_expired_rejected)
{
    sbe_token_check check =
        check_sas(&policy, "sb://localhost:5672/orders", orders_token, EXPIRY_SECONDS * 1000 + 1);

    CHECK_INT_EQ(check.status_code, 401);
    CHECK(strstr(check.description, "ExpiredToken") != NULL);
}

TEST_CASE(sas_tampered_expiry_rejected)
{
    char tampered[sizeof orders_token + 1];
    const char *se = strstr(orders_token, "se=1893456000");

    CHECK(se != NULL);
    memcpy(tampered, orders_token, sizeof orders_token);
    tampered[se - orders_token + 12] = '1'; /* se=1893456001 */
    sbe_token_check check =
        check_sas(&policy, "sb://localhost:5672/orders", tampered, BEFORE_EXPIRY_MS);
    CHECK_INT_EQ(check.status_code, 401);
    CHECK(strstr(check.description, "InvalidSignature") != NULL);
}

TEST_CASE(sas_other_entity_rejected)
{
    sbe_token_check check =
        check_sas(&policy, "sb://localhost:5672/payments", orders_token, BEFORE_EXPIRY_MS);

    CHECK_INT_EQ(check.status_code, 401);
    CHECK(strstr(check.description, "InvalidAudience") != NULL);

    /* "orders" is no prefix of "orders-archive" at a path boundary. */
    check =
        check_sas(&policy, "sb://localhost:5672/orders-archive", orders_token, BEFORE_EXPIRY_MS);
    CHECK_INT_EQ(check.status_code, 401);
}

TEST_CASE(malformed_requests_get_400)
{
    sbe_token_check check;

    sbe_check_put_token(&policy, NULL, "sb://localhost/orders", orders_token, 0, &check);
    CHECK_INT_EQ(check.status_code, 400);
    sbe_check_put_token(&policy, SBE_SAS_TOKEN_TYPE, "sb://localhost/orders", NULL, 0, &check);
    CHECK_INT_EQ(check.status_code, 400);
    sbe_check_put_token(&policy, "x509", "sb://localhost/orders", orders_token, 0, &check);
    CHECK_INT_EQ(check.status_code, 400);
    CHECK(strstr(check.description, "x509") != NULL);

    check = check_sas(&policy, "sb://localhost/orders", "SharedAccessSignature sr=x", 0);
    CHECK_INT_EQ(check.status_code, 401);
}

TEST_CASE(jwt_needs_allow_option)
{
    /* Header {"alg":"none"}, payload {"exp":1893456000}, no signature. */
    static const char jwt[] = "eyJhbGciOiJub25lIn0.eyJleHAiOjE4OTM0NTYwMDB9.";
    sbe_auth_policy allowing = policy;
    sbe_token_check check;

    sbe_check_put_token(&policy, "jwt", "sb://localhost/orders", jwt, BEFORE_EXPIRY_MS, &check);
    CHECK_INT_EQ(check.status_code, 401);
    CHECK(strstr(check.description, "--allow-jwt") != NULL);

    allowing.allow_jwt = true;
    sbe_check_put_token(&allowing, "jwt", "sb://localhost/orders", jwt, BEFORE_EXPIRY_MS, &check);
    CHECK_INT_EQ(check.status_code, 202);
    CHECK_INT_EQ(check.expires_at_ms, EXPIRY_SECONDS * 1000);
    CHECK_STR_EQ(check.scope, "orders");
    free(check.scope);

    sbe_check_put_token(&allowing, "jwt", "sb://localhost/orders", jwt, EXPIRY_SECONDS * 1000,
                        &check);
    CHECK_INT_EQ(check.status_code, 401);
}

TEST_CASE(entity_path_forms)
{
    static const struct {
        const char *address;
        const char *path;
    } cases[] = {
        {"orders", "orders"},
        {"sb://localhost:5672/orders", "orders"},
        {"sb://localhost:5672/orders/", "orders"},
        {"amqps://localhost/orders/$DeadLetterQueue", "orders/$DeadLetterQueue"},
        {"sb://ns.servicebus.windows.net", ""},
        {"sb://ns.servicebus.windows.net/", ""},
        {"/orders", "orders"},
    };

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *path = sbe_entity_path(cases[i].address);
        CHECK_STR_EQ(path, cases[i].path);
        free(path);
    }
}

TEST_CASE(scope_covers_boundaries)
{
    CHECK(sbe_scope_covers("", "orders"));
    CHECK(sbe_scope_covers("orders", "orders"));
    CHECK(sbe_scope_covers("Orders", "orders"));
    CHECK(sbe_scope_covers("orders", "orders/$management"));
    CHECK(!sbe_scope_covers("orders", "orders-archive"));
    CHECK(!sbe_scope_covers("orders/$management", "orders"));
    CHECK(!sbe_scope_covers("payments", "orders"));
}

TEST_MAIN(TEST_ENTRY(sas_valid_token_accepted), TEST_ENTRY(sas_any_host_accepted),
          TEST_ENTRY(sas_covers_management_node), TEST_ENTRY(sas_namespace_token_covers_queue),
          TEST_ENTRY(sas_wrong_key_rejected), TEST_ENTRY(sas_wrong_key_name_rejected),
          TEST_ENTRY(sas_expired_rejected), TEST_ENTRY(sas_tampered_expiry_rejected),
          TEST_ENTRY(sas_other_entity_rejected), TEST_ENTRY(malformed_requests_get_400),
          TEST_ENTRY(jwt_needs_allow_option), TEST_ENTRY(entity_path_forms),
          TEST_ENTRY(scope_covers_boundaries))
