/* The health server on a free loopback port, fetched with libcurl. */
#include "check.h"
#include "health.h"

#include <curl/curl.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/socket.h>
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
                 "{\"status\":\"not-ready\",\"component\":\"amqp\",\"reason\":\"connecting\"}");

    health_component_set(amqp, true, NULL);
    fetched second = get(port, "/readyz", NULL);
    CHECK_INT_EQ(second.status, 503);
    CHECK_STR_EQ(second.body, "{\"status\":\"not-ready\",\"component\":\"cosmos\",\"reason\":"
                              "\"no \\\"write\\\" yet\"}");

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

TEST_MAIN(TEST_ENTRY(endpoints_and_readiness), TEST_ENTRY(bind_errors_named),
          TEST_ENTRY(port_in_use_invalid))
