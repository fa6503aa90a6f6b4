#include "check.h"
#include "clock.h"
#include "cosmos.h"
#include "encoding.h"
#include "timefmt.h"
#include "writer.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/socket.h>
#include <unistd.h>

#define EMULATOR_KEY                                                                               \
    "C2y6yDjf5/R+ob0N8A7Cgv30VRDJIWEHLM+4QDU5DE2nQ9nDuVTqobD4b8mGGyPMbIZnqyMsEcaGQy67XIw/Jw=="

/* The signature computed here with OpenSSL directly, without the code under test. */
static void independent_signature(const char *key_base64, const char *payload, char *out,
                                  size_t capacity)
{
    unsigned char key[128];
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int digest_length = 0;
    unsigned char encoded[128];

    int key_length =
        EVP_DecodeBlock(key, (const unsigned char *)key_base64, (int)strlen(key_base64));
    /* EVP_DecodeBlock counts the padding as data bytes: drop one per '='. */
    for (const char *c = key_base64 + strlen(key_base64) - 1; *c == '='; c--) {
        key_length--;
    }
    HMAC(EVP_sha256(), key, key_length, (const unsigned char *)payload, strlen(payload), digest,
         &digest_length);
    EVP_EncodeBlock(encoded, digest, (int)digest_length);

    /* URL-encode "type=master&ver=1.0&sig=" + signature by hand. */
    char plain[256];
    snprintf(plain, sizeof plain, "type=master&ver=1.0&sig=%s", encoded);
    size_t used = 0;
    for (const char *c = plain; *c && used + 4 < capacity; c++) {
        if (isalnum((unsigned char)*c) || strchr("-._~", *c)) {
            out[used++] = *c;
        } else {
            used += (size_t)snprintf(out + used, capacity - used, "%%%02X", (unsigned char)*c);
        }
    }
    out[used] = '\0';
}

TEST_CASE(master_auth_matches_independent_hmac)
{
    size_t key_length = 0;
    uint8_t *key = wl_base64_decode(EMULATOR_KEY, &key_length);
    char expected[256];

    independent_signature(EMULATOR_KEY,
                          "post\ndocs\ndbs/Orders/colls/Results\nfri, 04 dec 2026 06:14:27 gmt\n\n",
                          expected, sizeof expected);
    char *actual = cosmos_master_auth(key, key_length, "POST", "docs", "dbs/Orders/colls/Results",
                                      "Fri, 04 Dec 2026 06:14:27 GMT");
    CHECK_STR_EQ(actual, expected);
    CHECK(strncmp(actual, "type%3Dmaster%26ver%3D1.0%26sig%3D", 34) == 0);
    free(actual);
    free(key);
}

TEST_CASE(master_auth_keeps_link_case)
{
    size_t key_length = 0;
    uint8_t *key = wl_base64_decode(EMULATOR_KEY, &key_length);
    char *upper = cosmos_master_auth(key, key_length, "GET", "colls", "dbs/DB/colls/C", "x");
    char *lower = cosmos_master_auth(key, key_length, "GET", "colls", "dbs/db/colls/c", "x");
    char *verb = cosmos_master_auth(key, key_length, "get", "COLLS", "dbs/DB/colls/C", "X");

    CHECK(strcmp(upper, lower) != 0);
    CHECK_STR_EQ(verb, upper);
    free(upper);
    free(lower);
    free(verb);
    free(key);
}

/* The worked example of Microsoft's "access control on Cosmos DB resources" REST page. */
TEST_CASE(master_auth_documented_example)
{
    size_t key_length = 0;
    uint8_t *key = wl_base64_decode(
        "dsZQi3KtZmCv1ljt3VNWNm7sQUF1y5rJfC6kv5JiwvW0EndXdDku/dkKBp8/ufDToSxLzR4y+O/0H/t4bQtVNw==",
        &key_length);
    char *actual = cosmos_master_auth(key, key_length, "GET", "dbs", "dbs/ToDoList",
                                      "Thu, 27 Apr 2017 00:51:12 GMT");
    char *decoded = wl_url_decode(actual, false);

    CHECK_STR_EQ(decoded, "type=master&ver=1.0&sig=c09PEVJrgp2uQRkr934kFbTqhByc7TVr3OHyqlu+c+c=");
    free(decoded);
    free(actual);
    free(key);
}

TEST_CASE(aad_auth_format)
{
    char *auth = cosmos_aad_auth("eyJ0eXAi.eyJhdWQi.sig-_");

    CHECK_STR_EQ(auth, "type%3Daad%26ver%3D1.0%26sig%3DeyJ0eXAi.eyJhdWQi.sig-_");
    free(auth);
}

TEST_CASE(status_classes)
{
    CHECK_INT_EQ(cosmos_status_class(201), WL_OK);
    CHECK_INT_EQ(cosmos_status_class(200), WL_OK);
    CHECK_INT_EQ(cosmos_status_class(0), WL_ERR_IO);
    CHECK_INT_EQ(cosmos_status_class(400), WL_ERR_INVALID);
    CHECK_INT_EQ(cosmos_status_class(401), WL_ERR_AUTH);
    CHECK_INT_EQ(cosmos_status_class(403), WL_ERR_AUTH);
    CHECK_INT_EQ(cosmos_status_class(404), WL_ERR_NOT_FOUND);
    CHECK_INT_EQ(cosmos_status_class(408), WL_ERR_TIMEOUT);
    CHECK_INT_EQ(cosmos_status_class(409), WL_ERR_CONFLICT);
    CHECK_INT_EQ(cosmos_status_class(413), WL_ERR_TOO_LARGE);
    CHECK_INT_EQ(cosmos_status_class(429), WL_ERR_THROTTLED);
    CHECK_INT_EQ(cosmos_status_class(449), WL_ERR_UNAVAILABLE);
    CHECK_INT_EQ(cosmos_status_class(503), WL_ERR_UNAVAILABLE);
}

TEST_CASE(rfc1123_date_for_x_ms_date)
{
    char date[WL_RFC1123_SIZE];
    int64_t parsed = 0;

    wl_format_rfc1123(1796364867, date); /* 2026-12-04 06:14:27 UTC */
    CHECK_STR_EQ(date, "Fri, 04 Dec 2026 06:14:27 GMT");
    CHECK(wl_parse_rfc1123(date, &parsed));
    CHECK_INT_EQ(parsed, 1796364867);
    wl_format_rfc1123(0, date);
    CHECK_STR_EQ(date, "Thu, 01 Jan 1970 00:00:00 GMT");
}

TEST_CASE(create_rejects_bad_options)
{
    cosmos_options options = {
        .endpoint = "ftp://x", .database = "db", .container = "c", .max_connections = 1};
    wl_error err = {0};

    CHECK(cosmos_client_create(&options, &err) == NULL);
    CHECK(strstr(err.message, "ftp://x") != NULL);

    options.endpoint = "https://127.0.0.1:1";
    options.database = "bad/name";
    wl_error_clear(&err);
    CHECK(cosmos_client_create(&options, &err) == NULL);
    CHECK(strstr(err.message, "bad/name") != NULL);

    options.database = "db";
    options.master_key = "not base64!";
    wl_error_clear(&err);
    CHECK(cosmos_client_create(&options, &err) == NULL);
    CHECK_INT_EQ(err.status, WL_ERR_INVALID);
}

/* URL schemes are case-insensitive, and the error lists both schemes that the client takes. */
TEST_CASE(create_accepts_scheme_in_any_case)
{
    static const char *const accepted[] = {"HTTPS://127.0.0.1:1", "Http://127.0.0.1:1/",
                                           "https://[::1]:1/"};
    cosmos_options options = {.database = "db", .container = "c", .max_connections = 1};
    wl_error err = {0};

    for (size_t i = 0; i < sizeof accepted / sizeof accepted[0]; i++) {
        options.endpoint = accepted[i];
        wl_error_clear(&err);
        cosmos_client *client = cosmos_client_create(&options, &err);
        if (client == NULL) {
            fprintf(stderr, "endpoint %s rejected: %s\n", accepted[i], err.message);
            check_failures++;
        }
        cosmos_client_destroy(client);
    }

    options.endpoint = "ftp://127.0.0.1:1";
    wl_error_clear(&err);
    CHECK(cosmos_client_create(&options, &err) == NULL);
    CHECK(strstr(err.message, "https://HOST[:PORT]") != NULL);
    CHECK(strstr(err.message, "http://HOST[:PORT]") != NULL);
}

/*
 * A one-connection-at-a-time HTTP/1.1 server on a loopback port: it answers each request with
 * the next canned response, records the request heads and counts accepted connections. After
 * response i it closes the connection when bit i of close_after is set, and otherwise sends
 * unsolicited[i] 100 ms later when that is set, as a broken server or proxy might.
 */
typedef struct fake_server {
    int listener;
    int port;
    const char *const *responses;
    int response_count;
    unsigned close_after;
    const char *const *unsolicited;
    int partial_reset; /* 1 + the index of the request that gets part of a response and a reset */
    atomic_int closed; /* connections the server has closed */
    int connections;
    char heads[8][2048];
    char bodies[8][512];
    int served;
    pthread_t thread;
} fake_server;

static bool read_request(int fd, char *head, size_t capacity, char *body, size_t body_capacity)
{
    size_t used = 0;
    long content_length = 0;

    while (used + 1 < capacity) {
        ssize_t got = recv(fd, head + used, 1, 0);
        if (got <= 0) {
            return false;
        }
        used++;
        head[used] = '\0';
        if (used >= 4 && strcmp(head + used - 4, "\r\n\r\n") == 0) {
            break;
        }
    }
    const char *length_header = strstr(head, "Content-Length:");
    if (length_header) {
        content_length = strtol(length_header + 15, NULL, 10);
    }
    for (long i = 0; i < content_length; i++) {
        char byte;
        if (recv(fd, &byte, 1, 0) != 1) {
            return false;
        }
        if ((size_t)i + 1 < body_capacity) {
            body[i] = byte;
            body[i + 1] = '\0';
        }
    }
    return true;
}

static void *serve(void *arg)
{
    fake_server *server = arg;

    while (server->served < server->response_count) {
        int fd = accept(server->listener, NULL, NULL);
        if (fd < 0) {
            break;
        }
        server->connections++;
        while (server->served < server->response_count &&
               read_request(fd, server->heads[server->served], sizeof server->heads[0],
                            server->bodies[server->served], sizeof server->bodies[0])) {
            int index = server->served++;
            const char *response = server->responses[index];
            if (index + 1 == server->partial_reset) {
                static const char partial[] =
                    "HTTP/1.1 201 Created\r\nContent-Length: 100\r\n\r\n{";
                struct linger linger = {.l_onoff = 1, .l_linger = 0};

                send(fd, partial, sizeof partial - 1, 0);
                usleep(50 * 1000); /* let the client read the part before the reset */
                setsockopt(fd, SOL_SOCKET, SO_LINGER, &linger, sizeof linger);
                break;
            }
            if (send(fd, response, strlen(response), 0) < 0 ||
                (server->close_after & (1u << index)) != 0) {
                break;
            }
            if (server->unsolicited != NULL && server->unsolicited[index] != NULL) {
                usleep(100 * 1000);
                send(fd, server->unsolicited[index], strlen(server->unsolicited[index]), 0);
            }
        }
        close(fd);
        atomic_fetch_add(&server->closed, 1);
    }
    return NULL;
}

/* Returns a socket listening on a free loopback port, and the port in `out_port`. */
static int listen_loopback(int *out_port)
{
    struct sockaddr_in address = {.sin_family = AF_INET};
    socklen_t length = sizeof address;
    int listener = socket(AF_INET, SOCK_STREAM, 0);

    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    CHECK(bind(listener, (struct sockaddr *)&address, sizeof address) == 0);
    CHECK(listen(listener, 8) == 0);
    getsockname(listener, (struct sockaddr *)&address, &length);
    *out_port = ntohs(address.sin_port);
    return listener;
}

static void fake_server_start(fake_server *server, const char *const *responses, int count,
                              unsigned close_after)
{
    memset(server, 0, sizeof *server);
    atomic_init(&server->closed, 0);
    server->close_after = close_after;
    server->responses = responses;
    server->response_count = count;
    server->listener = listen_loopback(&server->port);
    pthread_create(&server->thread, NULL, serve, server);
}

static void fake_server_stop(fake_server *server)
{
    pthread_join(server->thread, NULL);
    close(server->listener);
}

typedef struct captured {
    int calls;
    cosmos_result results[8];
} captured;

static void capture(void *user, const cosmos_result *result)
{
    captured *out = user;

    out->results[out->calls++] = *result;
}

static void run_until(cosmos_client *client, const captured *out, int calls)
{
    for (int i = 0; i < 2000 && out->calls < calls; i++) {
        wl_error err = {0};
        CHECK_INT_EQ(cosmos_poll(client, 50, &err), WL_OK);
    }
}

/* Upserts the document {"id": ID} and polls until its request finishes. */
static void upsert_and_wait(cosmos_client *client, const char *id, captured *out)
{
    char document[64];
    int length = snprintf(document, sizeof document, "{\"id\":\"%s\"}", id);

    cosmos_upsert(client, id, strlen(id), document, (size_t)length, capture, out);
    run_until(client, out, out->calls + 1);
}

/* Waits up to 5 s until the server has closed `count` connections. */
static void wait_closed(fake_server *server, int count)
{
    for (int i = 0; i < 5000 && atomic_load(&server->closed) < count; i++) {
        usleep(1000);
    }
    CHECK_INT_EQ(atomic_load(&server->closed), count);
}

static cosmos_client *client_for(const fake_server *server, const wl_clock *clock)
{
    char endpoint[64];
    wl_error err = {0};

    snprintf(endpoint, sizeof endpoint, "http://127.0.0.1:%d/", server->port);
    cosmos_options options = {
        .endpoint = endpoint,
        .database = "Orders",
        .container = "Results",
        .master_key = EMULATOR_KEY,
        .max_connections = 1,
        .request_timeout_ms = 10000,
        .clock = clock,
    };
    cosmos_client *client = cosmos_client_create(&options, &err);
    CHECK(client != NULL);
    return client;
}

/* A retry delay that is not a number counts as absent, so the consumer backs off by itself
 * rather than retrying at once. A fraction is dropped. */
TEST_CASE(bad_retry_after_counts_as_absent)
{
    static const char *const values[] = {"", "abc", "-5", "12abc", "1e3", "7.", "25.5", "9"};
    static const int64_t expected[] = {-1, -1, -1, -1, -1, -1, 25, 9};
    enum { COUNT = sizeof values / sizeof values[0] };
    char responses_text[COUNT][160];
    const char *responses[COUNT];
    fake_server server;
    captured out = {0};
    wl_fake_clock fake;

    for (int i = 0; i < COUNT; i++) {
        snprintf(responses_text[i], sizeof responses_text[i],
                 "HTTP/1.1 429 Too Many Requests\r\nContent-Length: 2\r\n"
                 "x-ms-retry-after-ms: %s\r\n\r\n{}",
                 values[i]);
        responses[i] = responses_text[i];
    }
    wl_fake_clock_init(&fake, 0, 1796364867000000);
    fake_server_start(&server, responses, COUNT, 0);
    cosmos_client *client = client_for(&server, &fake.clock);

    for (int i = 0; i < COUNT; i++) {
        cosmos_upsert(client, "a", 1, "{\"id\":\"a\"}", 10, capture, &out);
        run_until(client, &out, i + 1);
    }
    fake_server_stop(&server);

    CHECK_INT_EQ(out.calls, COUNT);
    for (int i = 0; i < COUNT && i < out.calls; i++) {
        CHECK_INT_EQ(out.results[i].http_status, 429);
        if (out.results[i].retry_after_ms != expected[i]) {
            fprintf(stderr, "x-ms-retry-after-ms \"%s\" gave %lld, expected %lld\n", values[i],
                    (long long)out.results[i].retry_after_ms, (long long)expected[i]);
            check_failures++;
        }
    }
    cosmos_client_destroy(client);
}

TEST_CASE(upsert_headers_and_connection_reuse)
{
    static const char *const responses[] = {
        "HTTP/1.1 201 Created\r\nContent-Length: 2\r\nx-ms-activity-id: act-1\r\n"
        "x-ms-request-charge: 6.29\r\n\r\n{}",
        "HTTP/1.1 429 Too Many Requests\r\nContent-Length: 43\r\nx-ms-retry-after-ms: 17\r\n"
        "x-ms-substatus: 3200\r\n\r\n{\"code\":\"TooManyRequests\",\"message\":\"slow\"}",
        "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}",
    };
    fake_server server;
    captured out = {0};
    wl_fake_clock fake;

    wl_fake_clock_init(&fake, 0, 1796364867000000); /* 2026-12-04 06:14:27 UTC */
    fake_server_start(&server, responses, 3, 0);
    cosmos_client *client = client_for(&server, &fake.clock);

    for (int i = 0; i < 3; i++) {
        cosmos_upsert(client, "id-\"1\"", 6, "{\"id\":\"id-\\\"1\\\"\"}", 17, capture, &out);
        CHECK_INT_EQ(cosmos_in_flight(client), 1);
        run_until(client, &out, i + 1);
    }
    fake_server_stop(&server);

    CHECK_INT_EQ(out.calls, 3);
    CHECK_INT_EQ(server.connections, 1);
    CHECK_INT_EQ(out.results[0].http_status, 201);
    CHECK_STR_EQ(out.results[0].activity_id, "act-1");
    CHECK(out.results[0].request_charge > 6.28 && out.results[0].request_charge < 6.30);
    CHECK_INT_EQ(out.results[0].retry_after_ms, -1);
    CHECK_INT_EQ(out.results[1].http_status, 429);
    CHECK_INT_EQ(out.results[1].retry_after_ms, 17);
    CHECK_INT_EQ(out.results[1].substatus, 3200);
    CHECK_INT_EQ(out.results[1].error.status, WL_ERR_THROTTLED);
    CHECK_STR_EQ(out.results[1].error.condition, "TooManyRequests");
    CHECK(strstr(out.results[1].error.message, "slow") != NULL);
    CHECK_INT_EQ(out.results[2].http_status, 200);
    CHECK(out.results[0].opened_connection);
    CHECK(!out.results[1].opened_connection);
    CHECK(!out.results[2].opened_connection);

    const char *head = server.heads[0];
    CHECK(strncmp(head, "POST /dbs/Orders/colls/Results/docs HTTP/1.1\r\n", 46) == 0);
    CHECK(strstr(head, "x-ms-date: Fri, 04 Dec 2026 06:14:27 GMT\r\n") != NULL);
    CHECK(strstr(head, "x-ms-version: 2018-12-31\r\n") != NULL);
    CHECK(strstr(head, "x-ms-documentdb-partitionkey: [\"id-\\\"1\\\"\"]\r\n") != NULL);
    CHECK(strstr(head, "x-ms-documentdb-is-upsert: true\r\n") != NULL);
    CHECK(strstr(head, "Content-Type: application/json\r\n") != NULL);
    CHECK(strstr(head, "\r\nAccept:") == NULL); /* no Accept line, ours or curl's default */

    size_t key_length = 0;
    uint8_t *key = wl_base64_decode(EMULATOR_KEY, &key_length);
    char *auth = cosmos_master_auth(key, key_length, "POST", "docs", "dbs/Orders/colls/Results",
                                    "Fri, 04 Dec 2026 06:14:27 GMT");
    char expected[512];
    snprintf(expected, sizeof expected, "authorization: %s\r\n", auth);
    CHECK(strstr(head, expected) != NULL);
    free(auth);
    free(key);
    cosmos_client_destroy(client);
}

/* A Cosmos DB error body with several KiB of diagnostics after its message still yields the
 * message and the code. */
TEST_CASE(long_error_body_keeps_message)
{
    static char long_error[6144];
    static const char *const responses[] = {long_error};
    char diagnostics[4097];
    fake_server server;
    captured out = {0};
    wl_fake_clock fake;

    memset(diagnostics, 'x', sizeof diagnostics - 1);
    diagnostics[sizeof diagnostics - 1] = '\0';
    char body[5120];
    int body_length = snprintf(body, sizeof body,
                               "{\"code\":\"BadRequest\",\"message\":\"Message: One of the "
                               "specified inputs is invalid\\r\\nRequestStats: %s\"}",
                               diagnostics);
    snprintf(long_error, sizeof long_error,
             "HTTP/1.1 400 Bad Request\r\nContent-Length: %d\r\n\r\n%s", body_length, body);

    wl_fake_clock_init(&fake, 0, 1796364867000000);
    fake_server_start(&server, responses, 1, 0);
    cosmos_client *client = client_for(&server, &fake.clock);
    upsert_and_wait(client, "long-error", &out);
    fake_server_stop(&server);

    CHECK_INT_EQ(out.calls, 1);
    CHECK_INT_EQ(out.results[0].http_status, 400);
    CHECK_STR_EQ(out.results[0].error.condition, "BadRequest");
    CHECK(strncmp(out.results[0].error.message,
                  "Cosmos returned HTTP 400: Message: One of the specified inputs is invalid",
                  72) == 0);
    cosmos_client_destroy(client);
}

/* Environment variables that would change which proxy curl uses, cleared around a test. */
static const char *const proxy_variables[] = {"http_proxy", "all_proxy", "ALL_PROXY", "no_proxy",
                                              "NO_PROXY"};
#define PROXY_VARIABLE_COUNT (sizeof proxy_variables / sizeof proxy_variables[0])

static void save_proxy_variables(char *saved[PROXY_VARIABLE_COUNT])
{
    for (size_t i = 0; i < PROXY_VARIABLE_COUNT; i++) {
        const char *value = getenv(proxy_variables[i]);
        saved[i] = value ? strdup(value) : NULL;
        unsetenv(proxy_variables[i]);
    }
}

static void restore_proxy_variables(char *saved[PROXY_VARIABLE_COUNT])
{
    for (size_t i = 0; i < PROXY_VARIABLE_COUNT; i++) {
        if (saved[i] != NULL) {
            setenv(proxy_variables[i], saved[i], 1);
            free(saved[i]);
        } else {
            unsetenv(proxy_variables[i]);
        }
    }
}

/*
 * A proxy named in the environment is used: the client pins "no proxy" on its requests only
 * when no proxy variable is set. Nothing listens at the endpoint, so the request can only
 * succeed through the proxy, which gets the absolute URL.
 */
TEST_CASE(proxy_from_environment_used)
{
    char *saved[PROXY_VARIABLE_COUNT];
    static const char *const responses[] = {"HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\n{}"};
    fake_server proxy;
    captured out = {0};
    char proxy_url[64];
    wl_error err = {0};

    save_proxy_variables(saved); /* a no_proxy that covers 127.0.0.2 would bypass the proxy */
    fake_server_start(&proxy, responses, 1, 0);
    snprintf(proxy_url, sizeof proxy_url, "http://127.0.0.1:%d", proxy.port);
    CHECK(setenv("http_proxy", proxy_url, 1) == 0); /* curl reads it for every request */
    cosmos_options options = {
        .endpoint = "http://127.0.0.2:1/",
        .database = "Orders",
        .container = "Results",
        .master_key = EMULATOR_KEY,
        .max_connections = 1,
        .request_timeout_ms = 10000,
    };
    cosmos_client *client = cosmos_client_create(&options, &err);
    CHECK(client != NULL);
    upsert_and_wait(client, "a", &out);
    restore_proxy_variables(saved);
    cosmos_client_destroy(client);

    CHECK_INT_EQ(out.results[0].http_status, 201);
    if (out.results[0].http_status != 201) {
        return; /* the proxy got no request, and its thread still waits for one */
    }
    fake_server_stop(&proxy);
    const char expected[] = "POST http://127.0.0.2:1/dbs/Orders/colls/Results/docs HTTP/1.1\r\n";
    CHECK(strncmp(proxy.heads[0], expected, sizeof expected - 1) == 0);
}

/*
 * A pooled connection stays in the epoll set between requests and leaves it when the server
 * closes it. The next request then opens a new connection.
 */
TEST_CASE(pooled_connection_watched_until_closed)
{
    static const char *const responses[] = {
        "HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\n{}",
        "HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\n{}",
        "HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\n{}",
    };
    fake_server server;
    captured out = {0};
    wl_error err = {0};

    fake_server_start(&server, responses, 3, 1u << 1);
    cosmos_client *client = client_for(&server, NULL);
    upsert_and_wait(client, "a", &out);
    CHECK_INT_EQ(cosmos_watched_sockets(client), 1);

    upsert_and_wait(client, "b", &out);
    wait_closed(&server, 1);
    for (int i = 0; i < 100 && cosmos_watched_sockets(client) > 0; i++) {
        CHECK_INT_EQ(cosmos_poll(client, 20, &err), WL_OK);
    }
    CHECK_INT_EQ(cosmos_watched_sockets(client), 0);

    upsert_and_wait(client, "c", &out);
    fake_server_stop(&server);

    CHECK_INT_EQ(out.calls, 3);
    for (int i = 0; i < 3; i++) {
        CHECK_INT_EQ(out.results[i].http_status, 201);
    }
    CHECK_INT_EQ(server.connections, 2);
    CHECK_INT_EQ(cosmos_watched_sockets(client), 1);
    cosmos_client_destroy(client);
}

/*
 * A request is queued after the server closed the pooled connection but before any poll saw
 * the close. curl finds the connection dead and opens a new socket, which may get the same
 * descriptor number and must be registered afresh.
 */
TEST_CASE(request_after_pooled_connection_closed)
{
    static const char *const responses[] = {
        "HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\n{}",
        "HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\n{}",
    };
    fake_server server;
    captured out = {0};

    fake_server_start(&server, responses, 2, 1u << 0);
    cosmos_client *client = client_for(&server, NULL);
    upsert_and_wait(client, "a", &out);
    wait_closed(&server, 1);

    upsert_and_wait(client, "b", &out);
    fake_server_stop(&server);

    CHECK_INT_EQ(out.calls, 2);
    CHECK_INT_EQ(out.results[0].http_status, 201);
    CHECK_INT_EQ(out.results[1].http_status, 201);
    CHECK_INT_EQ(server.connections, 2);
    CHECK_INT_EQ(cosmos_watched_sockets(client), 1);
    cosmos_client_destroy(client);
}

/*
 * Bytes that arrive on an idle pooled connection belong to no request, and curl would take them
 * as the response to the next request on it. The client closes such a connection, so the next
 * request gets the response that the server sends for it on a new connection.
 */
TEST_CASE(unsolicited_response_not_reused)
{
    static const char *const responses[] = {
        "HTTP/1.1 201 Created\r\nContent-Length: 2\r\nx-ms-activity-id: first\r\n\r\n{}",
        "HTTP/1.1 201 Created\r\nContent-Length: 2\r\nx-ms-activity-id: second\r\n\r\n{}",
    };
    static const char *const unsolicited[] = {
        "HTTP/1.1 201 Created\r\nContent-Length: 2\r\nx-ms-activity-id: stale\r\n\r\n{}",
        NULL,
    };
    fake_server server;
    captured out = {0};
    wl_error err = {0};

    fake_server_start(&server, responses, 2, 0);
    server.unsolicited = unsolicited;
    cosmos_client *client = client_for(&server, NULL);
    upsert_and_wait(client, "a", &out);
    for (int i = 0; i < 100 && cosmos_watched_sockets(client) > 0; i++) {
        CHECK_INT_EQ(cosmos_poll(client, 20, &err), WL_OK);
    }
    CHECK_INT_EQ(cosmos_watched_sockets(client), 0);

    upsert_and_wait(client, "b", &out);
    fake_server_stop(&server);

    CHECK_INT_EQ(out.calls, 2);
    CHECK_STR_EQ(out.results[0].activity_id, "first");
    CHECK_INT_EQ(out.results[1].http_status, 201);
    CHECK_STR_EQ(out.results[1].activity_id, "second");
    CHECK_INT_EQ(server.connections, 2);
    cosmos_client_destroy(client);
}

/*
 * A kept-alive connection that fails during a response is reported as lost, so the writer
 * retries without declaring Cosmos DB unreachable. A refused new connection is not.
 */
TEST_CASE(kept_alive_connection_lost_reported)
{
    static const char *const responses[] = {
        "HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\n{}",
        "HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\n{}",
    };
    fake_server server;
    captured out = {0};

    fake_server_start(&server, responses, 2, 0);
    server.partial_reset = 2;
    cosmos_client *client = client_for(&server, NULL);
    upsert_and_wait(client, "a", &out);
    upsert_and_wait(client, "b", &out);
    fake_server_stop(&server);

    CHECK_INT_EQ(out.calls, 2);
    CHECK_INT_EQ(out.results[0].http_status, 201);
    CHECK(!out.results[0].kept_alive_connection_lost);
    CHECK_INT_EQ(out.results[1].http_status, 0);
    CHECK_INT_EQ(out.results[1].error.status, WL_ERR_IO);
    CHECK(out.results[1].kept_alive_connection_lost);
    CHECK_INT_EQ(server.connections, 1);
    cosmos_client_destroy(client);
}

TEST_CASE(create_and_read_requests)
{
    static const char *const responses[] = {
        "HTTP/1.1 409 Conflict\r\nContent-Length: 2\r\n\r\n{}",
        "HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\n{}",
        "HTTP/1.1 404 Not Found\r\nContent-Length: 2\r\n\r\n{}",
    };
    fake_server server;
    captured out = {0};

    fake_server_start(&server, responses, 3, 0);
    cosmos_client *client = client_for(&server, NULL);
    cosmos_create_database(client, capture, &out);
    run_until(client, &out, 1);
    cosmos_create_container(client, capture, &out);
    run_until(client, &out, 2);
    cosmos_read_container(client, capture, &out);
    run_until(client, &out, 3);
    fake_server_stop(&server);

    CHECK_INT_EQ(out.results[0].http_status, 409);
    CHECK_INT_EQ(out.results[1].http_status, 201);
    CHECK_INT_EQ(out.results[2].http_status, 404);
    CHECK_INT_EQ(out.results[2].error.status, WL_ERR_NOT_FOUND);
    CHECK(strncmp(server.heads[0], "POST /dbs HTTP/1.1\r\n", 20) == 0);
    CHECK(strncmp(server.heads[1], "POST /dbs/Orders/colls HTTP/1.1\r\n", 33) == 0);
    CHECK(strncmp(server.heads[2], "GET /dbs/Orders/colls/Results HTTP/1.1\r\n", 40) == 0);
    cosmos_client_destroy(client);
}

TEST_CASE(connection_refused_is_transport_error)
{
    fake_server server;
    captured out = {0};

    fake_server_start(&server, NULL, 0, 0);
    pthread_join(server.thread, NULL);
    close(server.listener); /* nothing listens on the port now */
    cosmos_client *client = client_for(&server, NULL);
    upsert_and_wait(client, "a", &out);

    CHECK_INT_EQ(out.calls, 1);
    CHECK_INT_EQ(out.results[0].http_status, 0);
    CHECK_INT_EQ(out.results[0].error.status, WL_ERR_IO);
    CHECK(out.results[0].error.message[0] != '\0');
    CHECK(!out.results[0].kept_alive_connection_lost);
    cosmos_client_destroy(client);
}

TEST_CASE(partition_key_json_escapes)
{
    /* Expected values follow @azure/cosmos 4.9.3: JSON.stringify, then \uXXXX in lowercase for
     * every UTF-16 code unit from U+007F up. */
    static const struct {
        const char *name;
        const char *value;
        size_t length;
        const char *expected;
    } cases[] = {
        {"ascii", "order-42_x.y", 12, "[\"order-42_x.y\"]"},
        {"empty", "", 0, "[\"\"]"},
        {"quote and backslash", "a\"b\\c", 5, "[\"a\\\"b\\\\c\"]"},
        {"slash stays", "a/b", 3, "[\"a/b\"]"},
        {"2-byte", "caf\xc3\xa9", 5, "[\"caf\\u00e9\"]"},
        {"3-byte",
         "\xe2\x82\xac"
         "5",
         4, "[\"\\u20ac5\"]"},
        {"3-byte CJK", "\xe6\x97\xa5\xe6\x9c\xac", 6, "[\"\\u65e5\\u672c\"]"},
        {"4-byte", "\xf0\x9f\x98\x80", 4, "[\"\\ud83d\\ude00\"]"},
        {"highest", "\xf4\x8f\xbf\xbf", 4, "[\"\\udbff\\udfff\"]"},
        {"U+FFFF", "\xef\xbf\xbf", 3, "[\"\\uffff\"]"},
        {"short escapes", "\b\f\n\r\t", 5, "[\"\\b\\f\\n\\r\\t\"]"},
        {"other controls", "\x01\x1f", 2, "[\"\\u0001\\u001f\"]"},
        {"NUL", "a\0b", 3, "[\"a\\u0000b\"]"},
        {"DEL", "\x7f", 1, "[\"\\u007f\"]"},
        {"U+0080", "\xc2\x80", 2, "[\"\\u0080\"]"},
        {"malformed byte", "a\xff", 2, "[\"a\\ufffd\"]"},
        {"truncated sequence", "\xe2\x82", 2, "[\"\\ufffd\\ufffd\"]"},
        {"encoded surrogate", "\xed\xa0\x80", 3, "[\"\\ufffd\\ufffd\\ufffd\"]"},
    };

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char out[COSMOS_PARTITION_KEY_JSON_SIZE(16)];
        size_t length = cosmos_partition_key_json(cases[i].value, cases[i].length, out);

        fprintf(stderr, "case %s\n", cases[i].name);
        CHECK_STR_EQ(out, cases[i].expected);
        CHECK_INT_EQ(length, strlen(cases[i].expected));
        for (size_t j = 0; j < length; j++) {
            CHECK(out[j] >= 0x20);
            CHECK(out[j] < 0x7f);
        }
    }
}

TEST_CASE(partition_key_json_worst_case_fits)
{
    char value[64];
    char out[COSMOS_PARTITION_KEY_JSON_SIZE(sizeof value)];

    memset(value, 0x01, sizeof value);
    size_t length = cosmos_partition_key_json(value, sizeof value, out);
    CHECK_INT_EQ(length + 1, sizeof out);
    CHECK_INT_EQ(strlen(out), length);
}

TEST_CASE(upsert_escapes_partition_key)
{
    static const char *const responses[] = {
        "HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\n{}",
        "HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\n{}",
        "HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\n{}",
    };
    static const struct {
        const char *key;
        size_t length;
        const char *line;
    } cases[] = {
        {"caf\xc3\xa9-\xf0\x9f\x98\x80", 10,
         "x-ms-documentdb-partitionkey: [\"caf\\u00e9-\\ud83d\\ude00\"]\r\n"},
        {"a\0b\nc", 5, "x-ms-documentdb-partitionkey: [\"a\\u0000b\\nc\"]\r\n"},
        {"plain", 5, "x-ms-documentdb-partitionkey: [\"plain\"]\r\n"},
    };
    fake_server server;
    captured out = {0};

    fake_server_start(&server, responses, 3, 0);
    cosmos_client *client = client_for(&server, NULL);
    for (int i = 0; i < 3; i++) {
        cosmos_upsert(client, cases[i].key, cases[i].length, "{}", 2, capture, &out);
        run_until(client, &out, i + 1);
    }
    fake_server_stop(&server);

    for (int i = 0; i < 3; i++) {
        CHECK_INT_EQ(out.results[i].http_status, 201);
        CHECK(strstr(server.heads[i], cases[i].line) != NULL);
        /* Exactly one partition key header, even though the slot was reused. */
        const char *first = strstr(server.heads[i], "x-ms-documentdb-partitionkey:");
        CHECK(first != NULL);
        if (first != NULL) {
            CHECK(strstr(first + 1, "x-ms-documentdb-partitionkey:") == NULL);
        }
    }
    cosmos_client_destroy(client);
}

/* Returns the value of the authorization header in a request head, or "" when absent. */
static void authorization_of(const char *head, char *out, size_t capacity)
{
    const char *line = strstr(head, "authorization: ");
    size_t length = 0;

    out[0] = '\0';
    if (line == NULL) {
        return;
    }
    line += strlen("authorization: ");
    while (line[length] != '\0' && line[length] != '\r' && length + 1 < capacity) {
        length++;
    }
    memcpy(out, line, length);
    out[length] = '\0';
}

TEST_CASE(upsert_signature_per_second)
{
    static const char *const responses[] = {
        "HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\n{}",
        "HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\n{}",
        "HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\n{}",
    };
    static const char *const dates[] = {
        "Fri, 04 Dec 2026 06:14:27 GMT",
        "Fri, 04 Dec 2026 06:14:27 GMT",
        "Fri, 04 Dec 2026 06:14:28 GMT",
    };
    static const char *const payloads[] = {
        "post\ndocs\ndbs/Orders/colls/Results\nfri, 04 dec 2026 06:14:27 gmt\n\n",
        "post\ndocs\ndbs/Orders/colls/Results\nfri, 04 dec 2026 06:14:27 gmt\n\n",
        "post\ndocs\ndbs/Orders/colls/Results\nfri, 04 dec 2026 06:14:28 gmt\n\n",
    };
    fake_server server;
    captured out = {0};
    wl_fake_clock fake;

    /* Start 0.2 s into the second, step 0.5 s: the second upsert is in the same second as the
     * first, the third in the next one. */
    wl_fake_clock_init(&fake, 0, 1796364867200000);
    fake_server_start(&server, responses, 3, 0);
    cosmos_client *client = client_for(&server, &fake.clock);
    for (int i = 0; i < 3; i++) {
        cosmos_upsert(client, "k", 1, "{\"id\":\"k\"}", 10, capture, &out);
        run_until(client, &out, i + 1);
        wl_fake_clock_advance(&fake, 500);
    }
    fake_server_stop(&server);

    for (int i = 0; i < 3; i++) {
        char date_line[64];
        char expected[256];
        char actual[256];

        snprintf(date_line, sizeof date_line, "x-ms-date: %s\r\n", dates[i]);
        CHECK(strstr(server.heads[i], date_line) != NULL);
        independent_signature(EMULATOR_KEY, payloads[i], expected, sizeof expected);
        authorization_of(server.heads[i], actual, sizeof actual);
        CHECK_STR_EQ(actual, expected);
    }
    cosmos_client_destroy(client);
}

TEST_CASE(upsert_after_other_requests)
{
    static const char *const responses[] = {
        "HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\n{}",
        "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}",
        "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}",
    };
    fake_server server;
    captured out = {0};

    fake_server_start(&server, responses, 3, 0);
    cosmos_client *client = client_for(&server, NULL);
    cosmos_upsert(client, "first", 5, "{\"id\":\"first\"}", 14, capture, &out);
    run_until(client, &out, 1);
    cosmos_read_container(client, capture, &out);
    run_until(client, &out, 2);
    cosmos_upsert(client, "second", 6, "{\"id\":\"second\"}", 15, capture, &out);
    run_until(client, &out, 3);
    fake_server_stop(&server);

    CHECK_INT_EQ(out.calls, 3);
    CHECK(strncmp(server.heads[0], "POST /dbs/Orders/colls/Results/docs HTTP/1.1\r\n", 46) == 0);
    CHECK_STR_EQ(server.bodies[0], "{\"id\":\"first\"}");
    CHECK(strncmp(server.heads[1], "GET /dbs/Orders/colls/Results HTTP/1.1\r\n", 40) == 0);
    CHECK(strstr(server.heads[1], "x-ms-documentdb-partitionkey") == NULL);
    CHECK(strstr(server.heads[1], "authorization: type%3Dmaster") != NULL);
    CHECK(strncmp(server.heads[2], "POST /dbs/Orders/colls/Results/docs HTTP/1.1\r\n", 46) == 0);
    CHECK(strstr(server.heads[2], "x-ms-documentdb-partitionkey: [\"second\"]\r\n") != NULL);
    CHECK(strstr(server.heads[2], "x-ms-documentdb-is-upsert: true\r\n") != NULL);
    CHECK(strstr(server.heads[2], "Content-Length: 15\r\n") != NULL);
    CHECK_STR_EQ(server.bodies[2], "{\"id\":\"second\"}");
    cosmos_client_destroy(client);
}

TEST_CASE(upserts_queued_together)
{
    static const char *const responses[] = {
        "HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\n{}",
        "HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\n{}",
        "HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\n{}",
        "HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\n{}",
    };
    static const char *const keys[] = {"k0", "k1", "k2", "k3"};
    static const char *const documents[] = {"{\"id\":\"k0\"}", "{\"id\":\"k1\"}", "{\"id\":\"k2\"}",
                                            "{\"id\":\"k3\"}"};
    fake_server server;
    captured out = {0};

    /* Four requests on one connection at a time: curl queues three while the first runs, so
     * four slots carry requests at once and each must keep its own headers and body. */
    fake_server_start(&server, responses, 4, 0);
    cosmos_client *client = client_for(&server, NULL);
    for (int i = 0; i < 4; i++) {
        cosmos_upsert(client, keys[i], 2, documents[i], strlen(documents[i]), capture, &out);
    }
    CHECK_INT_EQ(cosmos_in_flight(client), 4);
    run_until(client, &out, 4);
    fake_server_stop(&server);

    CHECK_INT_EQ(out.calls, 4);
    CHECK_INT_EQ(server.connections, 1);
    for (int i = 0; i < 4; i++) {
        char line[64];
        int found = -1;

        /* curl may send queued requests in any order; match each body to its header. */
        for (int j = 0; j < 4; j++) {
            if (strcmp(server.bodies[i], documents[j]) == 0) {
                found = j;
            }
        }
        CHECK(found >= 0);
        if (found >= 0) {
            snprintf(line, sizeof line, "x-ms-documentdb-partitionkey: [\"%s\"]\r\n", keys[found]);
            CHECK(strstr(server.heads[i], line) != NULL);
        }
    }
    cosmos_client_destroy(client);
}

/* Writes `text` to a new file in `dir` and returns its path in `out`. */
static void write_file(const char *dir, const char *name, const char *text, char *out,
                       size_t capacity)
{
    snprintf(out, capacity, "%s/%s", dir, name);
    FILE *file = fopen(out, "w");
    CHECK(file != NULL);
    if (file) {
        fputs(text, file);
        fclose(file);
    }
}

/* Writes a self-signed certificate in PEM form to `path`. */
static void write_certificate(const char *path)
{
    EVP_PKEY *key = EVP_EC_gen("P-256");
    X509 *certificate = X509_new();
    FILE *file = fopen(path, "w");

    CHECK(key != NULL);
    CHECK(certificate != NULL);
    CHECK(file != NULL);
    ASN1_INTEGER_set(X509_get_serialNumber(certificate), 1);
    X509_gmtime_adj(X509_getm_notBefore(certificate), 0);
    X509_gmtime_adj(X509_getm_notAfter(certificate), 3600);
    X509_set_pubkey(certificate, key);
    X509_NAME_add_entry_by_txt(X509_get_subject_name(certificate), "CN", MBSTRING_ASC,
                               (const unsigned char *)"test CA", -1, -1, 0);
    X509_set_issuer_name(certificate, X509_get_subject_name(certificate));
    CHECK(X509_sign(certificate, key, EVP_sha256()) > 0);
    CHECK(PEM_write_X509(file, certificate) == 1);
    fclose(file);
    X509_free(certificate);
    EVP_PKEY_free(key);
}

static void check_ca_rejected(const char *ca_file, const char *expected_text)
{
    cosmos_options options = {.endpoint = "https://127.0.0.1:1",
                              .database = "db",
                              .container = "c",
                              .master_key = EMULATOR_KEY,
                              .ca_file = ca_file,
                              .max_connections = 1};
    wl_error err = {0};

    CHECK(cosmos_client_create(&options, &err) == NULL);
    CHECK_INT_EQ(err.status, WL_ERR_INVALID);
    CHECK(strstr(err.message, ca_file) != NULL);
    CHECK(strstr(err.message, "COSMOS_CA_FILE") != NULL);
    CHECK(strstr(err.message, "--cosmos-ca-file") != NULL);
    CHECK(strstr(err.message, expected_text) != NULL);
}

TEST_CASE(create_checks_ca_file)
{
    char dir[] = "/tmp/test_cosmos_ca.XXXXXX";
    char path[512];

    CHECK(mkdtemp(dir) != NULL);
    snprintf(path, sizeof path, "%s/missing.pem", dir);
    check_ca_rejected(path, "No such file or directory");
    check_ca_rejected(dir, "not a regular file");
    write_file(dir, "empty.pem", "", path, sizeof path);
    check_ca_rejected(path, "no PEM certificate");
    write_file(dir, "key.pem",
               "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIA==\n"
               "-----END PRIVATE KEY-----\n",
               path, sizeof path);
    check_ca_rejected(path, "no PEM certificate");
    write_file(dir, "broken.pem",
               "-----BEGIN CERTIFICATE-----\nnot base64\n"
               "-----END CERTIFICATE-----\n",
               path, sizeof path);
    check_ca_rejected(path, "no PEM certificate");
    unlink(path);
    snprintf(path, sizeof path, "%s/key.pem", dir);
    unlink(path);
    snprintf(path, sizeof path, "%s/empty.pem", dir);
    unlink(path);

    /* A real certificate passes, and the client is usable. */
    snprintf(path, sizeof path, "%s/ca.pem", dir);
    write_certificate(path);
    cosmos_options options = {.endpoint = "https://127.0.0.1:1",
                              .database = "db",
                              .container = "c",
                              .master_key = EMULATOR_KEY,
                              .ca_file = path,
                              .max_connections = 1};
    wl_error err = {0};
    cosmos_client *client = cosmos_client_create(&options, &err);
    CHECK(client != NULL);
    CHECK_STR_EQ(err.message, "");
    cosmos_client_destroy(client);
    unlink(path);
    rmdir(dir);
}

/* A job for the writer: message `id` with a valid body, due within a minute. */
static consumer_job *writer_job(const char *id)
{
    static const char body[] = "{\"msg\": \"m\", \"srcStamp\": \"2026-12-04 06:14:27.123456\"}";
    consumer_job *job = wl_xcalloc(1, sizeof *job);

    job->message_id = wl_xstrdup(id);
    job->message_id_length = strlen(id);
    job->body = wl_xmalloc(sizeof body - 1);
    memcpy(job->body, body, sizeof body - 1);
    job->body_length = sizeof body - 1;
    job->sequence_number = -1;
    job->enqueued_unix_ms = -1;
    job->delivery_count = 1;
    job->deadline_ms = wl_clock_monotonic_ms(wl_clock_system()) + 60000;
    return job;
}

/* A writer with its metrics, health server and outbox, against the server on `port`. */
typedef struct writer_fixture {
    metrics_registry *metrics;
    consumer_stats stats;
    health_server *health;
    job_queue outbox;
    writer *writer;
} writer_fixture;

static void writer_fixture_start(writer_fixture *f, int port, int concurrency,
                                 int64_t coalesce_max_us)
{
    char endpoint[64];
    wl_error err = {0};

    snprintf(endpoint, sizeof endpoint, "http://127.0.0.1:%d/", port);
    f->metrics = metrics_registry_create();
    consumer_stats_register(&f->stats, f->metrics);
    f->health = health_server_create(f->metrics);
    job_queue_init(&f->outbox, 8);
    writer_options options = {
        .cosmos = {.endpoint = endpoint,
                   .database = "Orders",
                   .container = "Results",
                   .master_key = EMULATOR_KEY,
                   .max_connections = concurrency,
                   .request_timeout_ms = 10000},
        .partition_key_field = "id",
        .concurrency = concurrency,
        .coalesce_max_us = coalesce_max_us,
        .queue_capacity = 8,
        .stats = &f->stats,
        .health = health_component_add(f->health, "cosmos", "starting"),
        .outbox = &f->outbox,
    };
    f->writer = writer_create(&options, &err);
    CHECK(f->writer != NULL);
}

static void writer_fixture_stop(writer_fixture *f)
{
    writer_destroy(f->writer);
    job_queue_destroy(&f->outbox);
    health_server_destroy(f->health);
    metrics_registry_destroy(f->metrics);
}

TEST_CASE(writer_starts_oldest_first)
{
    static const char *const created = "HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\n{}";
    /* The database and the container, then one upsert per job. */
    static const char *const responses[] = {created, created, created, created,
                                            created, created, created};
    fake_server server;
    writer_fixture fixture;

    fake_server_start(&server, responses, 7, 0);
    writer_fixture_start(&fixture, server.port, 1, 0);
    writer *w = fixture.writer;

    /* Five jobs wait for the one request slot; they must start in the order they came. */
    const char *ids[] = {"m0", "m1", "m2", "m3", "m4"};
    for (size_t i = 0; i < 5; i++) {
        CHECK(writer_submit(w, writer_job(ids[i])));
    }
    int finished = 0;
    for (int round = 0; round < 2000 && finished < 5; round++) {
        struct pollfd ready = {.fd = writer_fd(w), .events = POLLIN};
        if (poll(&ready, 1, 5) > 0) {
            writer_sockets_ready(w);
        }
        writer_run(w);
        for (consumer_job *job; (job = job_queue_pop(&fixture.outbox)) != NULL; finished++) {
            CHECK_INT_EQ(job->action, SETTLE_COMPLETE);
            CHECK_STR_EQ(job->message_id, ids[finished]);
            consumer_job_free(job);
        }
    }
    CHECK_INT_EQ(finished, 5);
    for (int i = 0; i < 5; i++) {
        char expected[32];
        snprintf(expected, sizeof expected, "\"id\":\"%s\"", ids[i]);
        CHECK(strstr(server.bodies[2 + i], expected) != NULL);
    }

    writer_fixture_stop(&fixture);
    fake_server_stop(&server);
}

/*
 * A server that responds to the database and container calls at once and holds back the
 * responses to document upserts, so that a test decides when each goes out. Once HELD_UPSERTS
 * upserts wait, it responds to the first after 30 ms, then to up to two together at each step
 * of `release`.
 */
#define HELD_UPSERTS 8

typedef struct held_server {
    int listener;
    int port;
    atomic_int release;  /* steps the test has allowed */
    atomic_int answered; /* upsert responses sent */
    atomic_bool stop;
    int held[HELD_UPSERTS]; /* connections of the upserts held, in arrival order */
    int held_count;
    pthread_t thread;
} held_server;

static void *serve_held(void *arg)
{
    static const char created[] = "HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\n{}";
    held_server *server = arg;
    struct pollfd fds[1 + HELD_UPSERTS + 2] = {{.fd = server->listener, .events = POLLIN}};
    int count = 1;
    int step = -1;

    while (!atomic_load(&server->stop)) {
        if (poll(fds, (nfds_t)count, 10) > 0) {
            if ((fds[0].revents & POLLIN) != 0 && count < (int)(sizeof fds / sizeof fds[0])) {
                fds[count++] =
                    (struct pollfd){.fd = accept(server->listener, NULL, NULL), .events = POLLIN};
            }
            for (int i = 1; i < count; i++) {
                char head[2048];
                char body[512];
                if ((fds[i].revents & POLLIN) == 0 ||
                    !read_request(fds[i].fd, head, sizeof head, body, sizeof body)) {
                    continue;
                }
                if (strstr(head, "/docs ") != NULL && server->held_count < HELD_UPSERTS) {
                    server->held[server->held_count++] = fds[i].fd;
                } else {
                    send(fds[i].fd, created, sizeof created - 1, 0);
                }
            }
        }
        if (server->held_count < HELD_UPSERTS) {
            continue;
        }
        if (step < 0) {
            usleep(30 * 1000); /* a latency far above the shortest pause */
            send(server->held[0], created, sizeof created - 1, 0);
            atomic_store(&server->answered, 1);
            step = 0;
        }
        for (; step < atomic_load(&server->release); step++) {
            /* Two responses in one burst, so that one pass of the writer reads both. */
            int answered = atomic_load(&server->answered);
            for (int i = 0; i < 2 && answered < HELD_UPSERTS; i++) {
                send(server->held[answered++], created, sizeof created - 1, 0);
            }
            atomic_store(&server->answered, answered);
        }
    }
    for (int i = 1; i < count; i++) {
        close(fds[i].fd);
    }
    return NULL;
}

/* Allows the next step of `server` and waits until its responses are sent, which on loopback
 * puts them in the writer's socket buffers. */
static void release_step(held_server *server, int answered)
{
    atomic_fetch_add(&server->release, 1);
    for (int i = 0; i < 5000 && atomic_load(&server->answered) < answered; i++) {
        usleep(1000);
    }
    CHECK_INT_EQ(atomic_load(&server->answered), answered);
}

/* Runs the writer until `count` finished jobs are in the outbox or 5 s pass, and returns how
 * many arrived. Every job must be a completion. */
static int run_writer_until(writer *w, job_queue *outbox, int count)
{
    int finished = 0;

    for (int round = 0; round < 1000 && finished < count; round++) {
        struct pollfd ready = {.fd = writer_fd(w), .events = POLLIN};
        if (poll(&ready, 1, 5) > 0) {
            writer_sockets_ready(w);
        }
        writer_run(w);
        for (consumer_job *job; (job = job_queue_pop(outbox)) != NULL; finished++) {
            CHECK_INT_EQ(job->action, SETTLE_COMPLETE);
            consumer_job_free(job);
        }
    }
    return finished;
}

/* The pause that writer_pause_us offers describes the last writer_run: one response with four or
 * more requests still out gives a pause, two responses in one run or fewer than four out give
 * none. */
TEST_CASE(writer_pause_follows_last_run)
{
    held_server server = {0};
    writer_fixture fixture;

    atomic_init(&server.release, 0);
    atomic_init(&server.answered, 0);
    atomic_init(&server.stop, false);
    server.listener = listen_loopback(&server.port);
    pthread_create(&server.thread, NULL, serve_held, &server);
    writer_fixture_start(&fixture, server.port, HELD_UPSERTS, 1000);
    writer *w = fixture.writer;
    job_queue *outbox = &fixture.outbox;
    for (int i = 0; i < HELD_UPSERTS; i++) {
        char id[16];
        snprintf(id, sizeof id, "m%d", i);
        CHECK(writer_submit(w, writer_job(id)));
    }

    /* The first response comes alone after 30 ms while seven requests are out: the pause is the
     * maximum, because an eighth of the latency is longer. */
    CHECK_INT_EQ(run_writer_until(w, outbox, 1), 1);
    CHECK_INT_EQ(writer_pause_us(w), 1000);

    /* Two responses read in one run: no pause, although five requests are still out. */
    release_step(&server, 3);
    CHECK_INT_EQ(run_writer_until(w, outbox, 2), 2);
    CHECK_INT_EQ(writer_pause_us(w), 0);

    /* A run that finishes nothing while five are out may pause again. */
    writer_run(w);
    CHECK_INT_EQ(writer_pause_us(w), 1000);

    /* Two more, then a run that finishes nothing with three out, fewer than four: no pause. */
    release_step(&server, 5);
    CHECK_INT_EQ(run_writer_until(w, outbox, 2), 2);
    CHECK_INT_EQ(writer_pause_us(w), 0);
    writer_run(w);
    CHECK_INT_EQ(writer_pause_us(w), 0);

    release_step(&server, 7);
    release_step(&server, 8);
    CHECK_INT_EQ(run_writer_until(w, outbox, 3), 3);

    writer_fixture_stop(&fixture);
    atomic_store(&server.stop, true);
    pthread_join(server.thread, NULL);
    close(server.listener);
}

TEST_MAIN(TEST_ENTRY(master_auth_matches_independent_hmac), TEST_ENTRY(master_auth_keeps_link_case),
          TEST_ENTRY(master_auth_documented_example), TEST_ENTRY(aad_auth_format),
          TEST_ENTRY(status_classes), TEST_ENTRY(rfc1123_date_for_x_ms_date),
          TEST_ENTRY(create_rejects_bad_options), TEST_ENTRY(upsert_headers_and_connection_reuse),
          TEST_ENTRY(bad_retry_after_counts_as_absent), TEST_ENTRY(long_error_body_keeps_message),
          TEST_ENTRY(create_and_read_requests), TEST_ENTRY(connection_refused_is_transport_error),
          TEST_ENTRY(partition_key_json_escapes), TEST_ENTRY(partition_key_json_worst_case_fits),
          TEST_ENTRY(upsert_escapes_partition_key), TEST_ENTRY(upsert_signature_per_second),
          TEST_ENTRY(upsert_after_other_requests), TEST_ENTRY(upserts_queued_together),
          TEST_ENTRY(create_checks_ca_file), TEST_ENTRY(pooled_connection_watched_until_closed),
          TEST_ENTRY(request_after_pooled_connection_closed),
          TEST_ENTRY(unsolicited_response_not_reused),
          TEST_ENTRY(kept_alive_connection_lost_reported), TEST_ENTRY(writer_starts_oldest_first),
          TEST_ENTRY(proxy_from_environment_used), TEST_ENTRY(writer_pause_follows_last_run),
          TEST_ENTRY(create_accepts_scheme_in_any_case))
