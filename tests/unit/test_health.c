/* The health server on a free loopback port, fetched with libcurl. */
#include "check.h"
#include "clock.h"
#include "health.h"

#include <curl/curl.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

typedef struct fetched {
    long status;
    char body[4096];
    size_t length;
    char content_type[128];
} fetched;

static size_t collect(char *data, size_t size, size_t count, void *user)
{
    fetched *out = user;
    size_t length = size * count;
    size_t room = sizeof out->body - 1 - out->length;
    size_t take = length < room ? length : room;

    memcpy(out->body + out->length, data, take);
    out->length += take;
    out->body[out->length] = '\0';
    return length;
}

static fetched get(uint16_t port, const char *path, const char *method)
{
    fetched out = {0};
    char url[128];
    char *content_type = NULL;
    CURL *curl = curl_easy_init();

    snprintf(url, sizeof url, "http://127.0.0.1:%u%s", (unsigned)port, path);
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &out);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, 10000L);
    if (method != NULL) {
        curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
    }
    if (curl_easy_perform(curl) == CURLE_OK) {
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &out.status);
        curl_easy_getinfo(curl, CURLINFO_CONTENT_TYPE, &content_type);
        snprintf(out.content_type, sizeof out.content_type, "%s",
                 content_type != NULL ? content_type : "");
    }
    curl_easy_cleanup(curl);
    return out;
}

TEST_CASE(endpoints_and_readiness)
{
    metrics_registry *metrics = metrics_registry_create();
    metrics_counter_inc(metrics_counter_add(metrics, "demo_total", NULL, "Demo."), 7);
    health_server *server = health_server_create(metrics);
    health_component *amqp = health_component_add(server, "amqp", "connecting");
    health_component *cosmos = health_component_add(server, "cosmos", "no \"write\" yet");
    wl_error err = {0};

    CHECK_INT_EQ(health_server_start(server, "127.0.0.1", 0, &err), WL_OK);
    uint16_t port = health_server_port(server);
    CHECK(port != 0);

    fetched live = get(port, "/healthz", NULL);
    CHECK_INT_EQ(live.status, 200);
    CHECK_STR_EQ(live.body, "{\"status\":\"ok\"}");

    fetched not_ready = get(port, "/readyz", NULL);
    CHECK_INT_EQ(not_ready.status, 503);
    CHECK_STR_EQ(not_ready.body,
                 "{\"status\":\"not-ready\",\"component\":\"amqp\",\"reason\":\"connecting\","
                 "\"not_ready\":[{\"component\":\"amqp\",\"reason\":\"connecting\"},"
                 "{\"component\":\"cosmos\",\"reason\":\"no \\\"write\\\" yet\"}]}");

    health_component_set(amqp, true, NULL);
    fetched second = get(port, "/readyz", NULL);
    CHECK_INT_EQ(second.status, 503);
    CHECK_STR_EQ(second.body, "{\"status\":\"not-ready\",\"component\":\"cosmos\",\"reason\":"
                              "\"no \\\"write\\\" yet\",\"not_ready\":[{\"component\":\"cosmos\","
                              "\"reason\":\"no \\\"write\\\" yet\"}]}");

    health_component_set(cosmos, true, NULL);
    fetched ready = get(port, "/readyz", NULL);
    CHECK_INT_EQ(ready.status, 200);
    CHECK_STR_EQ(ready.body, "{\"status\":\"ready\"}");
    CHECK_STR_EQ(ready.content_type, "application/json");

    fetched scraped = get(port, "/metrics", NULL);
    CHECK_INT_EQ(scraped.status, 200);
    CHECK(strstr(scraped.body, "demo_total 7\n") != NULL);
    CHECK(strncmp(scraped.content_type, "text/plain; version=0.0.4", 25) == 0);

    CHECK_INT_EQ(get(port, "/nothing", NULL).status, 404);
    CHECK_INT_EQ(get(port, "/healthz", "POST").status, 405);

    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%u/healthz", (unsigned)port);
    CHECK_INT_EQ(health_check_url(url, 5000, &err), WL_OK);
    snprintf(url, sizeof url, "http://127.0.0.1:%u/nothing", (unsigned)port);
    CHECK_INT_EQ(health_check_url(url, 5000, &err), WL_ERR_UNAVAILABLE);
    CHECK(strstr(err.message, "HTTP 404") != NULL);

    health_server_destroy(server);
    metrics_registry_destroy(metrics);
}

TEST_CASE(healthz_fails_stalled_loop)
{
    wl_fake_clock fake;
    health_server *server = health_server_create(NULL);
    wl_error err = {0};

    wl_fake_clock_init(&fake, 1000, 0);
    CHECK_INT_EQ(health_server_start(server, "127.0.0.1", 0, &err), WL_OK);
    uint16_t port = health_server_port(server);

    /* Before the loop is watched, /healthz only shows that the server runs. */
    wl_fake_clock_advance(&fake, 60000);
    CHECK_INT_EQ(get(port, "/healthz", NULL).status, 200);

    health_server_watch_beats(server, &fake.clock, 15000);
    wl_fake_clock_advance(&fake, 15000);
    CHECK_INT_EQ(get(port, "/healthz", NULL).status, 200);

    wl_fake_clock_advance(&fake, 1);
    fetched stalled = get(port, "/healthz", NULL);
    CHECK_INT_EQ(stalled.status, 503);
    CHECK_STR_EQ(stalled.body, "{\"status\":\"stalled\",\"reason\":\"the event loop has not "
                               "run for 15001 ms (limit 15000 ms)\"}");
    /* A stalled loop processes nothing, so the consumer is not ready either. */
    fetched not_ready = get(port, "/readyz", NULL);
    CHECK_INT_EQ(not_ready.status, 503);
    CHECK_STR_EQ(not_ready.body,
                 "{\"status\":\"not-ready\",\"component\":\"loop\",\"reason\":\"the event loop "
                 "has not run for 15001 ms (limit 15000 ms)\",\"not_ready\":[{\"component\":"
                 "\"loop\",\"reason\":\"the event loop has not run for 15001 ms (limit 15000 "
                 "ms)\"}]}");

    health_server_beat(server);
    CHECK_INT_EQ(get(port, "/healthz", NULL).status, 200);
    CHECK_INT_EQ(get(port, "/readyz", NULL).status, 200);
    health_server_destroy(server);
}

/* Sends `request` from `source` (a loopback address) and returns the socket, or -1. */
static int send_from(const char *source, uint16_t port, const char *request)
{
    struct sockaddr_in local = {.sin_family = AF_INET};
    struct sockaddr_in remote = {.sin_family = AF_INET, .sin_port = htons(port)};
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    inet_pton(AF_INET, source, &local.sin_addr);
    remote.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || bind(fd, (struct sockaddr *)&local, sizeof local) != 0 ||
        connect(fd, (struct sockaddr *)&remote, sizeof remote) != 0 ||
        write(fd, request, strlen(request)) != (ssize_t)strlen(request)) {
        if (fd >= 0) {
            close(fd);
        }
        return -1;
    }
    return fd;
}

/* Reads what the server sends until it closes the connection or 5 s pass. */
static void read_reply(int fd, char *out, size_t capacity)
{
    struct timeval timeout = {.tv_sec = 5};
    size_t length = 0;
    ssize_t got;

    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    while (length + 1 < capacity && (got = read(fd, out + length, capacity - 1 - length)) > 0) {
        length += (size_t)got;
    }
    out[length] = '\0';
}

TEST_CASE(method_not_allowed_lists_allow)
{
    health_server *server = health_server_create(NULL);
    wl_error err = {0};
    char reply[2048];

    CHECK_INT_EQ(health_server_start(server, "127.0.0.1", 0, &err), WL_OK);
    int fd = send_from("127.0.0.1", health_server_port(server),
                       "DELETE /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    CHECK(fd >= 0);
    read_reply(fd, reply, sizeof reply);
    close(fd);
    CHECK(strncmp(reply, "HTTP/1.1 405 ", 13) == 0);
    CHECK(strstr(reply, "\r\nAllow: GET, HEAD\r\n") != NULL);
    health_server_destroy(server);
}

TEST_CASE(one_address_cannot_fill_server)
{
    health_server *server = health_server_create(NULL);
    wl_error err = {0};
    int held[16];
    char reply[2048];

    CHECK_INT_EQ(health_server_start(server, "127.0.0.1", 0, &err), WL_OK);
    uint16_t port = health_server_port(server);
    /* Sixteen unfinished requests from one address, as a slow client would leave them. */
    for (size_t i = 0; i < 16; i++) {
        held[i] = send_from("127.0.0.2", port, "GET /healthz HTTP/1.1\r\n");
        CHECK(held[i] >= 0);
    }
    /* Another address, as the kubelet's probe comes from, is still served. */
    int fd = send_from("127.0.0.1", port,
                       "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    CHECK(fd >= 0);
    read_reply(fd, reply, sizeof reply);
    close(fd);
    CHECK(strncmp(reply, "HTTP/1.1 200 ", 13) == 0);

    /* The server closed the connections from 127.0.0.2 beyond its limit of 8. */
    size_t closed = 0;
    for (size_t i = 0; i < 16; i++) {
        char byte;
        struct timeval timeout = {.tv_usec = 200000};
        setsockopt(held[i], SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
        /* EOF or a reset means closed. A timeout means open, and errno counts only then,
         * because a read that returns 0 leaves the previous read's EAGAIN in it. */
        ssize_t got = read(held[i], &byte, 1);
        if (got == 0 || (got < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) {
            closed++;
        }
        close(held[i]);
    }
    CHECK_INT_EQ(closed, 8);
    health_server_destroy(server);
}

TEST_CASE(bind_errors_named)
{
    health_server *server = health_server_create(NULL);
    wl_error err = {0};

    CHECK_INT_EQ(health_server_start(server, "not-an-address", 0, &err), WL_ERR_INVALID);
    CHECK(strstr(err.message, "not-an-address") != NULL);
    health_server_destroy(server);
}

TEST_CASE(port_in_use_invalid)
{
    struct sockaddr_in address = {.sin_family = AF_INET};
    socklen_t length = sizeof address;
    int holder = socket(AF_INET, SOCK_STREAM, 0);
    char port_text[16];

    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    CHECK(holder >= 0);
    CHECK_INT_EQ(bind(holder, (struct sockaddr *)&address, sizeof address), 0);
    CHECK_INT_EQ(listen(holder, 1), 0);
    CHECK_INT_EQ(getsockname(holder, (struct sockaddr *)&address, &length), 0);
    uint16_t port = ntohs(address.sin_port);
    snprintf(port_text, sizeof port_text, ":%u:", (unsigned)port);

    health_server *server = health_server_create(NULL);
    wl_error err = {0};
    CHECK_INT_EQ(health_server_start(server, "127.0.0.1", port, &err), WL_ERR_INVALID);
    CHECK(strstr(err.message, port_text) != NULL);
    CHECK(strstr(err.message, "Address already in use") != NULL);
    CHECK(strstr(err.message, "--health-port (HEALTH_PORT)") != NULL);
    health_server_destroy(server);
    close(holder);
}

TEST_MAIN(TEST_ENTRY(endpoints_and_readiness), TEST_ENTRY(healthz_fails_stalled_loop),
          TEST_ENTRY(method_not_allowed_lists_allow), TEST_ENTRY(one_address_cannot_fill_server),
          TEST_ENTRY(bind_errors_named), TEST_ENTRY(port_in_use_invalid))
