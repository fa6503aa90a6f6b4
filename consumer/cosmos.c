#include "cosmos.h"

#include "encoding.h"
#include "timefmt.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <openssl/ssl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#define COSMOS_API_VERSION "2018-12-31"
/* Bytes of an error response body kept for the error message. */
#define RESPONSE_KEEP 1024

typedef struct cosmos_request {
    cosmos_client *client;
    CURL *easy;
    struct curl_slist *headers;
    char *url;
    char *body;
    cosmos_done_fn done;
    void *user;
    int64_t started_us;
    cosmos_result result;
    char response[RESPONSE_KEEP];
    size_t response_length;
    char curl_error[CURL_ERROR_SIZE];
    struct cosmos_request *next; /* in the client's list of requests in progress */
} cosmos_request;

struct cosmos_client {
    CURLM *multi;
    int epoll_fd;             /* sockets curl asked us to watch, plus wake_fd */
    int wake_fd;              /* eventfd written by cosmos_wakeup */
    int64_t curl_timer_at_ms; /* system monotonic time curl's timer fires; -1 when unset */
    char *endpoint;
    char *database;
    char *container;
    char *partition_key_path;
    char *ca_file;
    uint8_t *key;
    size_t key_length;
    char *aad_token;
    int64_t request_timeout_ms;
    const wl_clock *clock;
    CURL **idle; /* pooled easy handles, at most max_connections */
    int idle_count;
    int max_connections;
    int in_flight;
    cosmos_request *requests;
};

static bool valid_id(const char *id)
{
    if (id == NULL || id[0] == '\0' || strlen(id) > 255) {
        return false;
    }
    for (const char *c = id; *c; c++) {
        if (!isalnum((unsigned char)*c) && *c != '-' && *c != '_' && *c != '.') {
            return false;
        }
    }
    return true;
}

static wl_status check_options(const cosmos_options *options, wl_error *err)
{
    if (options->endpoint == NULL || (strncmp(options->endpoint, "https://", 8) != 0 &&
                                      strncmp(options->endpoint, "http://", 7) != 0)) {
        return wl_error_set(err, WL_ERR_INVALID,
                            "invalid Cosmos endpoint \"%s\": expected https://HOST[:PORT]",
                            options->endpoint ? options->endpoint : "");
    }
    if (!valid_id(options->database)) {
        return wl_error_set(err, WL_ERR_INVALID,
                            "invalid Cosmos database id \"%s\": use 1-255 letters, digits, "
                            "'-', '_' or '.'",
                            options->database ? options->database : "");
    }
    if (!valid_id(options->container)) {
        return wl_error_set(err, WL_ERR_INVALID,
                            "invalid Cosmos container id \"%s\": use 1-255 letters, digits, "
                            "'-', '_' or '.'",
                            options->container ? options->container : "");
    }
    if (options->max_connections < 1) {
        return wl_error_set(err, WL_ERR_INVALID, "Cosmos max_connections must be at least 1");
    }
    return WL_OK;
}

/* Keeps the epoll set equal to the sockets curl wants watched (CURLMOPT_SOCKETFUNCTION). */
static int on_socket(CURL *easy, curl_socket_t fd, int what, void *user, void *socket_user)
{
    cosmos_client *client = user;
    struct epoll_event event = {.data.fd = fd};

    (void)easy;
    if (what == CURL_POLL_REMOVE) {
        epoll_ctl(client->epoll_fd, EPOLL_CTL_DEL, fd, NULL);
        curl_multi_assign(client->multi, fd, NULL);
        return 0;
    }
    event.events = (what & CURL_POLL_IN ? EPOLLIN : 0u) | (what & CURL_POLL_OUT ? EPOLLOUT : 0u);
    if (socket_user == NULL) {
        epoll_ctl(client->epoll_fd, EPOLL_CTL_ADD, fd, &event);
        curl_multi_assign(client->multi, fd, client); /* any non-NULL marks "added" */
    } else {
        epoll_ctl(client->epoll_fd, EPOLL_CTL_MOD, fd, &event);
    }
    return 0;
}

/* Records when curl wants curl_multi_socket_action(CURL_SOCKET_TIMEOUT) (TIMERFUNCTION). */
static int on_timer(CURLM *multi, long timeout_ms, void *user)
{
    cosmos_client *client = user;

    (void)multi;
    client->curl_timer_at_ms =
        timeout_ms < 0 ? -1 : wl_clock_monotonic_ms(wl_clock_system()) + timeout_ms;
    return 0;
}

cosmos_client *cosmos_client_create(const cosmos_options *options, wl_error *err)
{
    cosmos_client *client;

    if (check_options(options, err) != WL_OK) {
        return NULL;
    }

    client = wl_xcalloc(1, sizeof *client);
    client->epoll_fd = -1;
    client->wake_fd = -1;
    client->endpoint = wl_xstrdup(options->endpoint);
    size_t length = strlen(client->endpoint);
    while (length > 0 && client->endpoint[length - 1] == '/') {
        client->endpoint[--length] = '\0';
    }
    client->database = wl_xstrdup(options->database);
    client->container = wl_xstrdup(options->container);
    client->partition_key_path =
        wl_xstrdup(options->partition_key_path ? options->partition_key_path : "/id");
    client->ca_file = options->ca_file ? wl_xstrdup(options->ca_file) : NULL;
    client->request_timeout_ms =
        options->request_timeout_ms > 0 ? options->request_timeout_ms : 30000;
    client->clock = options->clock ? options->clock : wl_clock_system();
    client->max_connections = options->max_connections;
    client->idle = wl_xcalloc((size_t)options->max_connections, sizeof *client->idle);

    if (options->master_key != NULL) {
        client->key = wl_base64_decode(options->master_key, &client->key_length);
        if (client->key == NULL || client->key_length == 0) {
            wl_error_set(err, WL_ERR_INVALID,
                         "invalid Cosmos key: it must be the base64 master key from the "
                         "account's Keys page");
            cosmos_client_destroy(client);
            return NULL;
        }
    }

    client->multi = curl_multi_init();
    if (client->multi == NULL) {
        wl_error_set(err, WL_ERR_IO, "curl_multi_init failed");
        cosmos_client_destroy(client);
        return NULL;
    }
    client->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
    client->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    struct epoll_event wake_event = {.events = EPOLLIN, .data.fd = client->wake_fd};
    if (client->epoll_fd < 0 || client->wake_fd < 0 ||
        epoll_ctl(client->epoll_fd, EPOLL_CTL_ADD, client->wake_fd, &wake_event) != 0) {
        wl_error_set(err, WL_ERR_IO, "cannot create the Cosmos client's epoll set");
        cosmos_client_destroy(client);
        return NULL;
    }
    client->curl_timer_at_ms = -1;
    curl_multi_setopt(client->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
    curl_multi_setopt(client->multi, CURLMOPT_SOCKETDATA, client);
    curl_multi_setopt(client->multi, CURLMOPT_TIMERFUNCTION, on_timer);
    curl_multi_setopt(client->multi, CURLMOPT_TIMERDATA, client);
    /* HTTP/1.1 without pipelining: one request per connection at a time, connections kept. */
    curl_multi_setopt(client->multi, CURLMOPT_PIPELINING, (long)CURLPIPE_NOTHING);
    curl_multi_setopt(client->multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)client->max_connections);
    curl_multi_setopt(client->multi, CURLMOPT_MAXCONNECTS, (long)client->max_connections);
    return client;
}

static void request_free(cosmos_request *request)
{
    curl_slist_free_all(request->headers);
    free(request->url);
    free(request->body);
    free(request);
}

void cosmos_client_destroy(cosmos_client *client)
{
    if (client == NULL) {
        return;
    }
    while (client->requests != NULL) {
        cosmos_request *request = client->requests;

        client->requests = request->next;
        curl_multi_remove_handle(client->multi, request->easy);
        curl_easy_cleanup(request->easy);
        request_free(request);
    }
    for (int i = 0; i < client->idle_count; i++) {
        curl_easy_cleanup(client->idle[i]);
    }
    if (client->multi) {
        curl_multi_cleanup(client->multi);
    }
    if (client->epoll_fd >= 0) {
        close(client->epoll_fd);
    }
    if (client->wake_fd >= 0) {
        close(client->wake_fd);
    }
    if (client->key) {
        explicit_bzero(client->key, client->key_length);
    }
    free(client->key);
    wl_free_secret(client->aad_token);
    free(client->idle);
    free(client->endpoint);
    free(client->database);
    free(client->container);
    free(client->partition_key_path);
    free(client->ca_file);
    free(client);
}

void cosmos_client_set_aad_token(cosmos_client *client, const char *access_token)
{
    wl_free_secret(client->aad_token);
    client->aad_token = wl_xstrdup(access_token);
}

bool cosmos_client_uses_key(const cosmos_client *client)
{
    return client->key != NULL;
}

char *cosmos_master_auth(const uint8_t *key, size_t key_length, const char *verb,
                         const char *resource_type, const char *resource_link, const char *date)
{
    uint8_t digest[WL_SHA256_SIZE];
    char *payload = wl_xasprintf("%s\n%s\n%s\n%s\n\n", verb, resource_type, resource_link, date);

    /* Verb, resource type and date are signed in lowercase; the resource link keeps its case. */
    size_t verb_length = strlen(verb);
    size_t type_length = strlen(resource_type);
    size_t link_length = strlen(resource_link);
    for (size_t i = 0; i < verb_length + 1 + type_length; i++) {
        payload[i] = (char)tolower((unsigned char)payload[i]);
    }
    char *date_part = payload + verb_length + type_length + link_length + 3;
    for (char *c = date_part; *c && *c != '\n'; c++) {
        *c = (char)tolower((unsigned char)*c);
    }

    bool signed_ok = wl_hmac_sha256(key, key_length, payload, strlen(payload), digest);
    free(payload);
    if (!signed_ok) {
        return NULL;
    }

    char *signature = wl_base64_encode(digest, sizeof digest);
    char *plain = wl_xasprintf("type=master&ver=1.0&sig=%s", signature);
    char *encoded = wl_url_encode(plain);
    free(signature);
    free(plain);
    return encoded;
}

char *cosmos_aad_auth(const char *access_token)
{
    char *plain = wl_xasprintf("type=aad&ver=1.0&sig=%s", access_token);
    char *encoded = wl_url_encode(plain);

    wl_free_secret(plain);
    return encoded;
}

wl_status cosmos_status_class(int http_status)
{
    if (http_status >= 200 && http_status < 300) {
        return WL_OK;
    }
    switch (http_status) {
    case 0:
        return WL_ERR_IO;
    case 400:
        return WL_ERR_INVALID;
    case 401:
    case 403:
        return WL_ERR_AUTH;
    case 404:
        return WL_ERR_NOT_FOUND;
    case 408:
        return WL_ERR_TIMEOUT;
    case 409:
        return WL_ERR_CONFLICT;
    case 413:
        return WL_ERR_TOO_LARGE;
    case 429:
        return WL_ERR_THROTTLED;
    default:
        return http_status >= 500 || http_status == 449 ? WL_ERR_UNAVAILABLE : WL_ERR_PROTOCOL;
    }
}

/* Copies a header value without surrounding whitespace into `out`. */
static void copy_header_value(const char *value, size_t length, char *out, size_t capacity)
{
    while (length > 0 && (*value == ' ' || *value == '\t')) {
        value++, length--;
    }
    while (length > 0 &&
           (value[length - 1] == '\r' || value[length - 1] == '\n' || value[length - 1] == ' ')) {
        length--;
    }
    if (length >= capacity) {
        length = capacity - 1;
    }
    memcpy(out, value, length);
    out[length] = '\0';
}

static size_t on_header(char *data, size_t size, size_t count, void *user)
{
    cosmos_request *request = user;
    size_t length = size * count;
    const char *colon = memchr(data, ':', length);
    char value[96];

    if (colon == NULL) {
        return length;
    }
    size_t name_length = (size_t)(colon - data);
    copy_header_value(colon + 1, length - name_length - 1, value, sizeof value);

    if (name_length == 19 && strncasecmp(data, "x-ms-retry-after-ms", 19) == 0) {
        request->result.retry_after_ms = strtoll(value, NULL, 10);
    } else if (name_length == 16 && strncasecmp(data, "x-ms-activity-id", 16) == 0) {
        copy_header_value(value, strlen(value), request->result.activity_id,
                          sizeof request->result.activity_id);
    } else if (name_length == 19 && strncasecmp(data, "x-ms-request-charge", 19) == 0) {
        request->result.request_charge = strtod(value, NULL);
    } else if (name_length == 14 && strncasecmp(data, "x-ms-substatus", 14) == 0) {
        request->result.substatus = (int)strtol(value, NULL, 10);
    }
    return length;
}

static size_t on_body(char *data, size_t size, size_t count, void *user)
{
    cosmos_request *request = user;
    size_t length = size * count;
    size_t room = sizeof request->response - 1 - request->response_length;
    size_t take = length < room ? length : room;

    memcpy(request->response + request->response_length, data, take);
    request->response_length += take;
    request->response[request->response_length] = '\0';
    return length;
}

static CURL *take_easy(cosmos_client *client)
{
    if (client->idle_count > 0) {
        CURL *easy = client->idle[--client->idle_count];

        curl_easy_reset(easy);
        return easy;
    }
    CURL *easy = curl_easy_init();
    if (easy == NULL) {
        abort();
    }
    return easy;
}

static void return_easy(cosmos_client *client, CURL *easy)
{
    if (client->idle_count < client->max_connections) {
        client->idle[client->idle_count++] = easy;
    } else {
        curl_easy_cleanup(easy);
    }
}

static void add_header(cosmos_request *request, const char *line)
{
    struct curl_slist *list = curl_slist_append(request->headers, line);

    if (list == NULL) {
        abort();
    }
    request->headers = list;
}

static void add_header_value(cosmos_request *request, const char *name, const char *value)
{
    char *line = wl_xasprintf("%s: %s", name, value);

    add_header(request, line);
    free(line);
}

static void add_authorization(cosmos_request *request, const char *verb, const char *type,
                              const char *link, const char *date)
{
    cosmos_client *client = request->client;
    char *auth;

    if (client->key) {
        auth = cosmos_master_auth(client->key, client->key_length, verb, type, link, date);
    } else {
        auth = cosmos_aad_auth(client->aad_token ? client->aad_token : "");
    }
    if (auth == NULL) {
        abort(); /* HMAC-SHA256 fails only when OpenSSL is broken */
    }
    add_header_value(request, "authorization", auth);
    wl_free_secret(auth);
}

/* Lets idle TLS connections give back their 16 KB read and write buffers, which matters with
 * one kept-alive connection per concurrent request. */
static CURLcode release_tls_buffers(CURL *easy, void *ssl_ctx, void *user)
{
    (void)easy;
    (void)user;
    SSL_CTX_set_mode((SSL_CTX *)ssl_ctx, SSL_MODE_RELEASE_BUFFERS);
    return CURLE_OK;
}

static void configure_easy(cosmos_request *request)
{
    cosmos_client *client = request->client;
    CURL *easy = request->easy;

    curl_easy_setopt(easy, CURLOPT_URL, request->url);
    curl_easy_setopt(easy, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
    curl_easy_setopt(easy, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(easy, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, (long)client->request_timeout_ms);
    curl_easy_setopt(easy, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(easy, CURLOPT_SSL_VERIFYHOST, 2L);
    if (client->ca_file) {
        curl_easy_setopt(easy, CURLOPT_CAINFO, client->ca_file);
    }
    curl_easy_setopt(easy, CURLOPT_SSL_CTX_FUNCTION, release_tls_buffers);
    curl_easy_setopt(easy, CURLOPT_HTTPHEADER, request->headers);
    curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(easy, CURLOPT_HEADERDATA, request);
    curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(easy, CURLOPT_WRITEDATA, request);
    curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, request->curl_error);
    curl_easy_setopt(easy, CURLOPT_PRIVATE, request);
    if (request->body) {
        curl_easy_setopt(easy, CURLOPT_POST, 1L);
        curl_easy_setopt(easy, CURLOPT_POSTFIELDS, request->body);
        curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(request->body));
    } else {
        curl_easy_setopt(easy, CURLOPT_HTTPGET, 1L);
    }
}

/*
 * Queues one request. `link` is the resource link that is signed, `path` the URL path after
 * the endpoint; `body` (NULL for GET) is copied.
 */
static void start_request(cosmos_client *client, const char *verb, const char *type,
                          const char *link, const char *path, const char *body, size_t body_length,
                          const char *partition_key_json, cosmos_done_fn done, void *user)
{
    cosmos_request *request = wl_xcalloc(1, sizeof *request);
    char date[WL_RFC1123_SIZE];
    int64_t now_us = wl_clock_realtime_us(client->clock);

    request->client = client;
    request->done = done;
    request->user = user;
    request->started_us = now_us;
    request->result.retry_after_ms = -1;
    request->url = wl_xasprintf("%s/%s", client->endpoint, path);
    if (body) {
        request->body = wl_xstrndup(body, body_length);
    }

    wl_format_rfc1123(now_us / 1000000, date);
    add_header_value(request, "x-ms-date", date);
    add_header(request, "x-ms-version: " COSMOS_API_VERSION);
    add_header(request, "Accept: application/json");
    if (body) {
        add_header(request, "Content-Type: application/json");
    }
    add_header(request, "Expect:"); /* no 100-continue round trip for bodies over 1 KB */
    if (partition_key_json) {
        add_header_value(request, "x-ms-documentdb-partitionkey", partition_key_json);
        add_header(request, "x-ms-documentdb-is-upsert: true");
    }
    add_authorization(request, verb, type, link, date);

    request->easy = take_easy(client);
    configure_easy(request);
    if (curl_multi_add_handle(client->multi, request->easy) != CURLM_OK) {
        abort(); /* only on misuse: a handle added twice or a NULL handle */
    }
    request->next = client->requests;
    client->requests = request;
    client->in_flight++;
}

void cosmos_upsert(cosmos_client *client, const char *partition_key, const char *document,
                   size_t length, cosmos_done_fn done, void *user)
{
    char *link = wl_xasprintf("dbs/%s/colls/%s", client->database, client->container);
    char *path = wl_xasprintf("%s/docs", link);

    /* The partition key header is a JSON array holding the document's key value. */
    cJSON *key_array = cJSON_CreateArray();
    if (key_array == NULL || !cJSON_AddItemToArray(key_array, cJSON_CreateString(partition_key))) {
        abort();
    }
    char *key_json = cJSON_PrintUnformatted(key_array);
    if (key_json == NULL) {
        abort();
    }

    start_request(client, "POST", "docs", link, path, document, length, key_json, done, user);
    cJSON_free(key_json);
    cJSON_Delete(key_array);
    free(link);
    free(path);
}

void cosmos_create_database(cosmos_client *client, cosmos_done_fn done, void *user)
{
    cJSON *body = cJSON_CreateObject();

    if (body == NULL || !cJSON_AddStringToObject(body, "id", client->database)) {
        abort();
    }
    char *text = cJSON_PrintUnformatted(body);
    if (text == NULL) {
        abort();
    }
    start_request(client, "POST", "dbs", "", "dbs", text, strlen(text), NULL, done, user);
    cJSON_free(text);
    cJSON_Delete(body);
}

void cosmos_create_container(cosmos_client *client, cosmos_done_fn done, void *user)
{
    char *link = wl_xasprintf("dbs/%s", client->database);
    char *path = wl_xasprintf("%s/colls", link);
    char *text = wl_xasprintf("{\"id\":\"%s\",\"partitionKey\":{\"paths\":[\"%s\"],"
                              "\"kind\":\"Hash\",\"version\":2}}",
                              client->container, client->partition_key_path);

    start_request(client, "POST", "colls", link, path, text, strlen(text), NULL, done, user);
    free(text);
    free(link);
    free(path);
}

void cosmos_read_container(cosmos_client *client, cosmos_done_fn done, void *user)
{
    char *link = wl_xasprintf("dbs/%s/colls/%s", client->database, client->container);

    start_request(client, "GET", "colls", link, link, NULL, 0, NULL, done, user);
    free(link);
}

/* Fills request->result.error from the response: Cosmos error bodies are {"code","message"}. */
static void describe_failure(cosmos_request *request, CURLcode code)
{
    cosmos_result *result = &request->result;

    if (code != CURLE_OK) {
        wl_status status = code == CURLE_OPERATION_TIMEDOUT ? WL_ERR_TIMEOUT : WL_ERR_IO;
        wl_error_set_condition(&result->error, status, curl_easy_strerror(code), "%s",
                               request->curl_error[0] ? request->curl_error
                                                      : curl_easy_strerror(code));
        return;
    }

    const char *text = request->response;
    cJSON *body = cJSON_Parse(request->response);
    const cJSON *message = cJSON_GetObjectItemCaseSensitive(body, "message");
    const cJSON *error_code = cJSON_GetObjectItemCaseSensitive(body, "code");
    if (cJSON_IsString(message)) {
        text = message->valuestring;
    }
    wl_error_set_condition(&result->error, cosmos_status_class(result->http_status),
                           cJSON_IsString(error_code) ? error_code->valuestring : "",
                           "Cosmos returned HTTP %d: %.400s", result->http_status, text);
    cJSON_Delete(body);
    result->error.http_status = result->http_status;
    snprintf(result->error.activity_id, sizeof result->error.activity_id, "%s",
             result->activity_id);
}

static void unlink_request(cosmos_client *client, cosmos_request *request)
{
    for (cosmos_request **link = &client->requests; *link; link = &(*link)->next) {
        if (*link == request) {
            *link = request->next;
            return;
        }
    }
}

static void finish_request(cosmos_client *client, CURL *easy, CURLcode code)
{
    cosmos_request *request = NULL;
    long http_status = 0;

    curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&request);
    curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &http_status);
    curl_multi_remove_handle(client->multi, easy);
    unlink_request(client, request);
    client->in_flight--;

    request->result.http_status = code == CURLE_OK ? (int)http_status : 0;
    request->result.latency_us = wl_clock_realtime_us(client->clock) - request->started_us;
    if (code != CURLE_OK || http_status < 200 || http_status >= 300) {
        describe_failure(request, code);
    }

    /* Return the handle first so that a callback that queues a new request can reuse it. */
    return_easy(client, easy);
    request->easy = NULL;
    if (request->done) {
        request->done(request->user, &request->result);
    }
    request_free(request);
}

/* Runs curl for one socket event (or for its timer when `fd` is CURL_SOCKET_TIMEOUT). */
static CURLMcode drive(cosmos_client *client, curl_socket_t fd, int mask)
{
    int running = 0;

    return curl_multi_socket_action(client->multi, fd, mask, &running);
}

wl_status cosmos_poll(cosmos_client *client, int timeout_ms, wl_error *err)
{
    struct epoll_event events[64];
    CURLMcode code = CURLM_OK;
    int wait = timeout_ms;

    /* curl's timers run on the system clock, whatever clock the client stamps dates with. */
    const wl_clock *system = wl_clock_system();
    if (client->curl_timer_at_ms >= 0) {
        int64_t remaining = client->curl_timer_at_ms - wl_clock_monotonic_ms(system);
        if (remaining < wait) {
            wait = remaining > 0 ? (int)remaining : 0;
        }
    }
    int count = epoll_wait(client->epoll_fd, events, 64, wait);
    if (count < 0 && errno != EINTR) {
        return wl_error_set(err, WL_ERR_IO, "epoll_wait failed: %s", strerror(errno));
    }

    for (int i = 0; i < count && code == CURLM_OK; i++) {
        int fd = events[i].data.fd;
        if (fd == client->wake_fd) {
            uint64_t value;
            if (read(client->wake_fd, &value, sizeof value) < 0) {
                /* EAGAIN: another wakeup was already consumed; nothing to do */
            }
            continue;
        }
        int mask = (events[i].events & EPOLLIN ? CURL_CSELECT_IN : 0) |
                   (events[i].events & EPOLLOUT ? CURL_CSELECT_OUT : 0) |
                   (events[i].events & (EPOLLERR | EPOLLHUP) ? CURL_CSELECT_ERR : 0);
        code = drive(client, fd, mask);
    }
    /* The timer covers new requests (curl asks for 0 ms when a handle is added), connect and
     * request timeouts. Driving it clears or re-arms it through on_timer. */
    if (code == CURLM_OK && client->curl_timer_at_ms >= 0 &&
        wl_clock_monotonic_ms(system) >= client->curl_timer_at_ms) {
        client->curl_timer_at_ms = -1;
        code = drive(client, CURL_SOCKET_TIMEOUT, 0);
    }
    if (code != CURLM_OK) {
        return wl_error_set(err, WL_ERR_IO, "curl multi interface failed: %s",
                            curl_multi_strerror(code));
    }

    CURLMsg *message;
    int queued = 0;
    while ((message = curl_multi_info_read(client->multi, &queued)) != NULL) {
        if (message->msg == CURLMSG_DONE) {
            finish_request(client, message->easy_handle, message->data.result);
        }
    }
    return WL_OK;
}

void cosmos_wakeup(cosmos_client *client)
{
    uint64_t one = 1;

    if (write(client->wake_fd, &one, sizeof one) < 0) {
        /* EAGAIN: the counter is saturated, so a wakeup is pending anyway */
    }
}

int cosmos_in_flight(const cosmos_client *client)
{
    return client->in_flight;
}
