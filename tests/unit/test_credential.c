/*
 * Credentials: SAS tokens checked against a signature computed here with OpenSSL directly, the
 * refresh schedule on a fake clock, and the workload-identity exchange against a token endpoint
 * that this test serves on 127.0.0.1 with libmicrohttpd.
 */
#include "cbs.h"
#include "check.h"
#include "clock.h"
#include "credential.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define NOW_UNIX 1700000000

/* ---- SAS ---- */

/* Percent-encodes as RFC 3986 unreserved-only, written out here independently of the library. */
static void encode_uri_component(const char *text, char *out)
{
    for (; *text != '\0'; text++) {
        unsigned char c = (unsigned char)*text;
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '.' || c == '_' || c == '~') {
            *out++ = (char)c;
        } else {
            out += sprintf(out, "%%%02X", c);
        }
    }
    *out = '\0';
}

TEST_CASE(sas_token_matches_openssl)
{
    wl_fake_clock fake;
    cred_token token = {0};
    wl_error err = {0};
    char encoded_uri[256];
    char string_to_sign[300];
    unsigned char digest[32];
    unsigned int digest_length = 0;
    unsigned char base64[64];
    char encoded_sig[128];
    char expected[600];

    wl_fake_clock_init(&fake, 0, (int64_t)NOW_UNIX * 1000000);
    cred *credential = cred_sas_create("send-policy", "c2VjcmV0S2V5", 3600, &fake.clock);
    CHECK_INT_EQ(cred_get_token(credential, "sb://ns.servicebus.windows.net/orders", &token, &err),
                 WL_OK);

    encode_uri_component("sb://ns.servicebus.windows.net/orders", encoded_uri);
    snprintf(string_to_sign, sizeof string_to_sign, "%s\n%d", encoded_uri, NOW_UNIX + 3600);
    /* The key is used as its text bytes, not base64-decoded. */
    HMAC(EVP_sha256(), "c2VjcmV0S2V5", 12, (const unsigned char *)string_to_sign,
         strlen(string_to_sign), digest, &digest_length);
    EVP_EncodeBlock(base64, digest, (int)digest_length);
    encode_uri_component((const char *)base64, encoded_sig);
    snprintf(expected, sizeof expected, "SharedAccessSignature sr=%s&sig=%s&se=%d&skn=send-policy",
             encoded_uri, encoded_sig, NOW_UNIX + 3600);

    CHECK_STR_EQ(token.token, expected);
    CHECK_STR_EQ(token.type, CRED_TYPE_SAS);
    CHECK_INT_EQ(token.expires_at_unix, NOW_UNIX + 3600);
    CHECK_INT_EQ(token.refresh_at_unix, NOW_UNIX + 3000);
    CHECK_STR_EQ(cred_type(credential), "servicebus.windows.net:sastoken");
    cred_token_free(&token);
    cred_destroy(credential);
}

TEST_CASE(sas_static_expiry)
{
    wl_error err = {0};
    cred_token token = {0};
    char text[200];

    snprintf(text, sizeof text,
             "SharedAccessSignature sr=sb%%3A%%2F%%2Fh%%2Fq&sig=abc%%3D&se=%ld&skn=k",
             (long)NOW_UNIX - 10);
    cred *expired = cred_sas_static_create(text, &err);
    CHECK(expired != NULL);
    CHECK_INT_EQ(cred_get_token(expired, "sb://h/q", &token, &err), WL_ERR_AUTH);
    CHECK(strstr(err.message, "expired at 2023-11-14T22:13:10.000Z") != NULL);
    cred_destroy(expired);

    wl_error_clear(&err);
    snprintf(text, sizeof text,
             "SharedAccessSignature sr=sb%%3A%%2F%%2Fh%%2Fq&sig=abc%%3D&se=%ld&skn=k", 4000000000L);
    cred *valid = cred_sas_static_create(text, &err);
    CHECK_INT_EQ(cred_get_token(valid, "sb://h/q", &token, &err), WL_OK);
    CHECK_STR_EQ(token.token, text);
    CHECK_INT_EQ(token.expires_at_unix, 4000000000);
    cred_token_free(&token);
    cred_destroy(valid);

    CHECK(cred_sas_static_create("not a token", &err) == NULL);
}

TEST_CASE(refresh_schedule)
{
    /* An hour-long token is replaced 10 minutes early, a short one half-way. */
    CHECK_INT_EQ(cred_refresh_at_unix(1000, 4600), 4000);
    CHECK_INT_EQ(cred_refresh_at_unix(1000, 2200), 1600);
    CHECK_INT_EQ(cred_refresh_at_unix(1000, 1060), 1030);
}

static uint64_t always(void *ctx)
{
    return *(const uint64_t *)ctx;
}

TEST_CASE(cbs_refresh_window)
{
    uint64_t low = 0;
    uint64_t high = UINT64_MAX;
    backoff_random random_low = {always, &low};
    backoff_random random_high = {always, &high};
    cred_token token = {.expires_at_unix = 10000, .refresh_at_unix = 9400};
    int64_t now_ms = 6400 * 1000;

    /* The put happens in [refresh, min(refresh + 60 s, expiry - margin)]. */
    CHECK_INT_EQ(cbs_refresh_delay_ms(&token, now_ms, 420000, &random_low), 3000 * 1000);
    CHECK_INT_EQ(cbs_refresh_delay_ms(&token, now_ms, 420000, &random_high), 3060 * 1000);
    /* A margin larger than the refresh lead leaves no window: put at the refresh time. */
    CHECK_INT_EQ(cbs_refresh_delay_ms(&token, now_ms, 900000, &random_high), 3000 * 1000);
    /* Past the refresh time (a failed renewal) it retries within 1 to 30 s. */
    CHECK_INT_EQ(cbs_refresh_delay_ms(&token, 9500 * 1000, 420000, &random_low), 30000);
    CHECK_INT_EQ(cbs_refresh_delay_ms(&token, 9999 * 1000, 420000, &random_low), 1000);
}

/* ---- workload identity against a local token endpoint ---- */

typedef struct endpoint {
    struct MHD_Daemon *daemon;
    uint16_t port;
    atomic_int requests; /* written by the server's thread, read by the test */
    int fail_first;      /* reply 503 to this many requests first */
    bool aadsts;         /* reply with a 400 AADSTS error */
    int hold_from;       /* from this request on (0: never), reply only once `release` is set */
    atomic_bool holding; /* a reply is being held back */
    atomic_bool release;
    int expires_in;
    char last_body[8192];
    char last_path[256];
} endpoint;

typedef struct upload {
    char data[8192];
    size_t length;
} upload;

static enum MHD_Result answer(void *cls, struct MHD_Connection *connection, const char *url,
                              const char *method, const char *version, const char *data,
                              size_t *data_size, void **state)
{
    endpoint *server = cls;
    upload *body = *state;
    const char *reply;
    unsigned int status = 200;
    char text[512];

    (void)method;
    (void)version;
    if (body == NULL) {
        *state = calloc(1, sizeof(upload));
        return MHD_YES;
    }
    if (*data_size > 0) {
        size_t room = sizeof body->data - 1 - body->length;
        size_t take = *data_size < room ? *data_size : room;
        memcpy(body->data + body->length, data, take);
        body->length += take;
        *data_size = 0;
        return MHD_YES;
    }
    server->requests++;
    if (server->hold_from > 0 && server->requests >= server->hold_from) {
        atomic_store(&server->holding, true);
        /* Released by the test; after 20 s anyway, so that a failing case cannot hang. */
        for (int waited = 0; !atomic_load(&server->release) && waited < 2000; waited++) {
            usleep(10 * 1000);
        }
        atomic_store(&server->holding, false);
    }
    snprintf(server->last_body, sizeof server->last_body, "%s", body->data);
    snprintf(server->last_path, sizeof server->last_path, "%s", url);
    free(body);
    *state = NULL;

    if (server->requests <= server->fail_first) {
        status = 503;
        reply =
            "{\"error\":\"temporarily_unavailable\",\"error_description\":\"AADSTS90000: busy\"}";
    } else if (server->aadsts) {
        status = 400;
        reply = "{\"error\":\"invalid_client\",\"error_description\":\"AADSTS700016: Application "
                "with identifier 'abc' was not found in the directory.\\r\\nTrace ID: 1\"}";
    } else {
        snprintf(text, sizeof text,
                 "{\"token_type\":\"Bearer\",\"expires_in\":%d,\"access_token\":\"jwt-%d\"}",
                 server->expires_in, server->requests);
        reply = text;
    }
    struct MHD_Response *response = MHD_create_response_from_buffer(
        strlen(reply), (void *)(uintptr_t)reply, MHD_RESPMEM_MUST_COPY);
    enum MHD_Result result = MHD_queue_response(connection, status, response);
    MHD_destroy_response(response);
    return result;
}

static void endpoint_start(endpoint *server)
{
    struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = 0};

    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (server->expires_in == 0) {
        server->expires_in = 3600;
    }
    server->daemon =
        MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL, NULL, answer, server,
                         MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&address, MHD_OPTION_END);
    CHECK(server->daemon != NULL);
    server->port = MHD_get_daemon_info(server->daemon, MHD_DAEMON_INFO_BIND_PORT)->port;
}

static void write_file(const char *path, const char *text)
{
    FILE *file = fopen(path, "w");

    fputs(text, file);
    fclose(file);
}

typedef struct wi_fixture {
    endpoint server;
    wl_fake_clock fake;
    char token_file[64];
    char authority[64];
    cred *credential;
} wi_fixture;

/* Sets up the fixture on the fake clock, or on the system clock when `real_clock` is set. */
static void wi_setup_with(wi_fixture *fixture, bool real_clock)
{
    cred_wi_options options = {0};
    wl_error err = {0};

    endpoint_start(&fixture->server);
    wl_fake_clock_init(&fixture->fake, 0, (int64_t)NOW_UNIX * 1000000);
    snprintf(fixture->token_file, sizeof fixture->token_file, "/tmp/test-wi-XXXXXX");
    close(mkstemp(fixture->token_file));
    write_file(fixture->token_file, "eyJ.first-assertion.sig\n");
    snprintf(fixture->authority, sizeof fixture->authority, "http://127.0.0.1:%u/",
             (unsigned)fixture->server.port);

    options.authority_host = fixture->authority;
    options.tenant_id = "tenant-1";
    options.client_id = "client-1";
    options.token_file = fixture->token_file;
    options.scope = "https://servicebus.azure.net/.default";
    options.clock = real_clock ? NULL : &fixture->fake.clock;
    fixture->credential = cred_workload_identity_create(&options, &err);
    CHECK(fixture->credential != NULL);
}

static void wi_setup(wi_fixture *fixture)
{
    wi_setup_with(fixture, false);
}

static void wi_teardown(wi_fixture *fixture)
{
    cred_destroy(fixture->credential);
    MHD_stop_daemon(fixture->server.daemon);
    unlink(fixture->token_file);
}

TEST_CASE(wi_exchange_sends_form)
{
    wi_fixture fixture = {0};
    cred_token token = {0};
    wl_error err = {0};

    wi_setup(&fixture);
    CHECK_INT_EQ(cred_get_token(fixture.credential, NULL, &token, &err), WL_OK);
    CHECK_STR_EQ(token.token, "jwt-1");
    CHECK_STR_EQ(token.type, "jwt");
    CHECK_INT_EQ(token.expires_at_unix, NOW_UNIX + 3600);
    CHECK_STR_EQ(fixture.server.last_path, "/tenant-1/oauth2/v2.0/token");
    const char *fields[] = {
        "client_id=client-1",
        "scope=https%3A%2F%2Fservicebus.azure.net%2F.default",
        "grant_type=client_credentials",
        "client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer",
        "client_assertion=eyJ.first-assertion.sig",
    };
    for (size_t i = 0; i < 5; i++) {
        if (strstr(fixture.server.last_body, fields[i]) == NULL) {
            fprintf(stderr, "form \"%s\" lacks \"%s\"\n", fixture.server.last_body, fields[i]);
            check_failures++;
        }
    }
    cred_token_free(&token);
    wi_teardown(&fixture);
}

TEST_CASE(wi_cache_and_rotation)
{
    wi_fixture fixture = {0};
    cred_token token = {0};
    wl_error err = {0};

    wi_setup(&fixture);
    CHECK_INT_EQ(cred_get_token(fixture.credential, NULL, &token, &err), WL_OK);
    cred_token_free(&token);

    /* Before the refresh time the cached token is returned without an exchange. */
    wl_fake_clock_advance(&fixture.fake, 2999 * 1000);
    CHECK_INT_EQ(cred_get_token(fixture.credential, NULL, &token, &err), WL_OK);
    CHECK_STR_EQ(token.token, "jwt-1");
    CHECK_INT_EQ(fixture.server.requests, 1);
    CHECK_INT_EQ(cred_exchange_count(fixture.credential), 1);
    cred_token_free(&token);

    /* The kubelet rotated the file; at the refresh time the new assertion is sent. */
    write_file(fixture.token_file, "eyJ.rotated-assertion.sig");
    wl_fake_clock_advance(&fixture.fake, 1000);
    CHECK_INT_EQ(cred_get_token(fixture.credential, NULL, &token, &err), WL_OK);
    CHECK_STR_EQ(token.token, "jwt-2");
    CHECK_INT_EQ(fixture.server.requests, 2);
    CHECK(strstr(fixture.server.last_body, "client_assertion=eyJ.rotated-assertion.sig") != NULL);
    CHECK_INT_EQ(token.expires_at_unix, NOW_UNIX + 3000 + 3600);
    cred_token_free(&token);
    wi_teardown(&fixture);
}

TEST_CASE(wi_aadsts_error)
{
    wi_fixture fixture = {0};
    cred_token token = {0};
    wl_error err = {0};

    fixture.server.aadsts = true;
    wi_setup(&fixture);
    CHECK_INT_EQ(cred_get_token(fixture.credential, NULL, &token, &err), WL_ERR_AUTH);
    CHECK_STR_EQ(err.condition, "invalid_client");
    CHECK_INT_EQ(err.http_status, 400);
    CHECK(strstr(err.message, "AADSTS700016: Application with identifier 'abc' was not found") !=
          NULL);
    CHECK(strstr(err.message, "Trace ID") == NULL); /* only the first line is kept */
    /* A rejected client is not retried. */
    CHECK_INT_EQ(fixture.server.requests, 1);
    CHECK(token.token == NULL);
    wi_teardown(&fixture);
}

TEST_CASE(wi_transient_retried)
{
    wi_fixture fixture = {0};
    cred_token token = {0};
    wl_error err = {0};

    fixture.server.fail_first = 2;
    wi_setup(&fixture);
    CHECK_INT_EQ(cred_get_token(fixture.credential, NULL, &token, &err), WL_OK);
    CHECK_INT_EQ(fixture.server.requests, 3);
    CHECK_STR_EQ(token.token, "jwt-3");
    /* Two backoff sleeps on the fake clock, each within the default ceilings (100, 200 ms). */
    CHECK(fixture.fake.slept_ms <= 300);
    cred_token_free(&token);
    wi_teardown(&fixture);

    wi_fixture exhausted = {0};
    exhausted.server.fail_first = 100;
    wi_setup(&exhausted);
    wl_error_clear(&err);
    CHECK_INT_EQ(cred_get_token(exhausted.credential, NULL, &token, &err), WL_ERR_UNAVAILABLE);
    CHECK_INT_EQ(exhausted.server.requests, 4);
    CHECK(strstr(err.message, "after 4 attempts") != NULL);
    wi_teardown(&exhausted);
}

TEST_CASE(wi_missing_token_file)
{
    wi_fixture fixture = {0};
    cred_token token = {0};
    wl_error err = {0};

    wi_setup(&fixture);
    unlink(fixture.token_file);
    CHECK_INT_EQ(cred_get_token(fixture.credential, NULL, &token, &err), WL_ERR_AUTH);
    CHECK(strstr(err.message, "AZURE_FEDERATED_TOKEN_FILE") != NULL);
    CHECK_INT_EQ(fixture.server.requests, 0);
    wi_teardown(&fixture);
}

static const char *environment_without_tenant(const char *name)
{
    if (strcmp(name, "AZURE_CLIENT_ID") == 0) {
        return "client";
    }
    if (strcmp(name, "AZURE_FEDERATED_TOKEN_FILE") == 0) {
        return "/var/run/secrets/azure/tokens/azure-identity-token";
    }
    return NULL;
}

TEST_CASE(wi_environment_named)
{
    cred_wi_options options = {0};
    wl_error err = {0};

    CHECK_INT_EQ(cred_wi_options_from_env(&options, environment_without_tenant, &err),
                 WL_ERR_INVALID);
    CHECK(strncmp(err.message, "AZURE_TENANT_ID is not set", 26) == 0);
}

/* Polls `done` every 10 ms for up to 10 s; returns whether it became true. */
static bool wait_for(bool (*done)(wi_fixture *), wi_fixture *fixture)
{
    for (int i = 0; i < 1000; i++) {
        if (done(fixture)) {
            return true;
        }
        usleep(10 * 1000);
    }
    return done(fixture);
}

static bool second_exchange_held(wi_fixture *fixture)
{
    return atomic_load(&fixture->server.holding) && fixture->server.requests >= 2;
}

static bool newer_token_cached(wi_fixture *fixture)
{
    cred_token token = {0};
    wl_error err = {0};
    bool fresh = cred_get_token(fixture->credential, NULL, &token, &err) == WL_OK &&
                 strcmp(token.token, "jwt-1") != 0;

    cred_token_free(&token);
    return fresh;
}

TEST_CASE(wi_background_serves_cache)
{
    wi_fixture fixture = {0};
    cred_token token = {0};
    wl_error err = {0};

    /* Tokens live 4 s, so the refresher exchanges again after 2 s, and that reply is held while
     * the first token is still valid. */
    fixture.server.expires_in = 4;
    fixture.server.hold_from = 2;
    wi_setup_with(&fixture, true);
    CHECK_INT_EQ(cred_start_background_refresh(fixture.credential, &err), WL_OK);
    CHECK_INT_EQ(fixture.server.requests, 1); /* the first exchange ran before the return */
    CHECK_INT_EQ(cred_get_token(fixture.credential, NULL, &token, &err), WL_OK);
    CHECK_STR_EQ(token.token, "jwt-1");
    cred_token_free(&token);

    /* While the refresh hangs, the cached token comes back without waiting for it. */
    CHECK(wait_for(second_exchange_held, &fixture));
    CHECK_INT_EQ(cred_get_token(fixture.credential, NULL, &token, &err), WL_OK);
    CHECK_STR_EQ(token.token, "jwt-1");
    CHECK(atomic_load(&fixture.server.holding)); /* the call did not wait for the reply */
    CHECK_INT_EQ(cred_exchange_count(fixture.credential), 2);
    cred_token_free(&token);

    /* Once the reply arrives, the new token replaces the cached one. */
    atomic_store(&fixture.server.release, true);
    CHECK(wait_for(newer_token_cached, &fixture));
    wi_teardown(&fixture);
}

TEST_CASE(wi_background_after_fetch)
{
    wi_fixture fixture = {0};
    cred_token token = {0};
    wl_error err = {0};

    /* A program that fetched its first token itself, then hands refreshing to the thread. */
    wi_setup_with(&fixture, true);
    CHECK_INT_EQ(cred_get_token(fixture.credential, NULL, &token, &err), WL_OK);
    cred_token_free(&token);
    CHECK_INT_EQ(cred_start_background_refresh(fixture.credential, &err), WL_OK);
    CHECK_INT_EQ(fixture.server.requests, 1); /* no exchange before the refresh time */
    CHECK_INT_EQ(cred_get_token(fixture.credential, NULL, &token, &err), WL_OK);
    CHECK_STR_EQ(token.token, "jwt-1");
    cred_token_free(&token);
    wi_teardown(&fixture);
}

TEST_CASE(wi_background_short_lifetime)
{
    wi_fixture fixture = {0};
    wl_error err = {0};

    /* A token that lives one second is due for refresh at once. */
    fixture.server.expires_in = 1;
    wi_setup_with(&fixture, true);
    CHECK_INT_EQ(cred_start_background_refresh(fixture.credential, &err), WL_OK);
    usleep(2500 * 1000);
    /* One exchange a second at most: the first, then up to three in 2.5 s. */
    CHECK(cred_exchange_count(fixture.credential) >= 2);
    CHECK(cred_exchange_count(fixture.credential) <= 4);
    wi_teardown(&fixture);
}

TEST_CASE(wi_background_failure_reported)
{
    wi_fixture fixture = {0};
    cred_token token = {0};
    wl_error err = {0};

    fixture.server.aadsts = true;
    wi_setup_with(&fixture, true);
    /* A failed first exchange does not fail the start: the refresher tries again later. */
    CHECK_INT_EQ(cred_start_background_refresh(fixture.credential, &err), WL_OK);
    CHECK_INT_EQ(cred_get_token(fixture.credential, NULL, &token, &err), WL_ERR_AUTH);
    CHECK_STR_EQ(err.condition, "invalid_client");
    CHECK(strstr(err.message, "AADSTS700016") != NULL);
    CHECK(token.token == NULL);
    wi_teardown(&fixture);
}

TEST_CASE(wi_background_none_for_sas)
{
    cred *credential = cred_sas_create("send", "key", 60, NULL);
    cred_token token = {0};
    wl_error err = {0};

    CHECK_INT_EQ(cred_start_background_refresh(credential, &err), WL_OK);
    CHECK_INT_EQ(cred_get_token(credential, "sb://ns/q", &token, &err), WL_OK);
    CHECK(strncmp(token.token, "SharedAccessSignature ", 22) == 0);
    cred_token_free(&token);
    cred_destroy(credential);
}

/* The authority host's scheme is case-insensitive, and the error lists both schemes taken. */
TEST_CASE(wi_authority_scheme_any_case)
{
    static const char *const accepted[] = {"HTTPS://login.microsoftonline.com/",
                                           "Http://127.0.0.1:1/"};
    cred_wi_options options = {.tenant_id = "tenant-1",
                               .client_id = "client-1",
                               .token_file = "/nonexistent/token",
                               .scope = "https://servicebus.azure.net/.default"};
    wl_error err = {0};

    for (size_t i = 0; i < sizeof accepted / sizeof accepted[0]; i++) {
        options.authority_host = accepted[i];
        wl_error_clear(&err);
        cred *credential = cred_workload_identity_create(&options, &err);
        if (credential == NULL) {
            fprintf(stderr, "authority %s rejected: %s\n", accepted[i], err.message);
            check_failures++;
        }
        cred_destroy(credential);
    }

    options.authority_host = "ftp://login.microsoftonline.com/";
    wl_error_clear(&err);
    CHECK(cred_workload_identity_create(&options, &err) == NULL);
    CHECK(strstr(err.message, "https:// URL") != NULL);
    CHECK(strstr(err.message, "http:// URL") != NULL);
}

TEST_MAIN(TEST_ENTRY(sas_token_matches_openssl), TEST_ENTRY(sas_static_expiry),
          TEST_ENTRY(refresh_schedule), TEST_ENTRY(cbs_refresh_window),
          TEST_ENTRY(wi_exchange_sends_form), TEST_ENTRY(wi_cache_and_rotation),
          TEST_ENTRY(wi_aadsts_error), TEST_ENTRY(wi_transient_retried),
          TEST_ENTRY(wi_missing_token_file), TEST_ENTRY(wi_environment_named),
          TEST_ENTRY(wi_background_serves_cache), TEST_ENTRY(wi_background_after_fetch),
          TEST_ENTRY(wi_background_short_lifetime), TEST_ENTRY(wi_background_failure_reported),
          TEST_ENTRY(wi_background_none_for_sas), TEST_ENTRY(wi_authority_scheme_any_case))
