#include "cosmos.h"

#include "encoding.h"
#include "timefmt.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#define COSMOS_API_VERSION "2018-12-31"
/* Bytes of an error response body kept for the error message. A Cosmos DB error body can carry
 * request diagnostics after the message, so it may be far longer than the message. */
#define ERROR_BODY_KEEP       (16 * 1024)
#define MASTER_AUTH_LINE_SIZE (sizeof "authorization: " - 1 + COSMOS_MASTER_AUTH_SIZE)
#define DATE_LINE_SIZE        (sizeof "x-ms-date: " - 1 + WL_RFC1123_SIZE)

static const char authorization_prefix[] = "authorization: ";
static const char partition_key_prefix[] = "x-ms-documentdb-partitionkey: ";

/* The header lines of an upsert, in the order they are sent. */
enum {
    UPSERT_DATE,
    UPSERT_VERSION,
    UPSERT_ACCEPT,
    UPSERT_CONTENT_TYPE,
    UPSERT_EXPECT,
    UPSERT_PARTITION_KEY,
    UPSERT_IS_UPSERT,
    UPSERT_AUTHORIZATION,
    UPSERT_HEADER_COUNT,
};

/* The upsert header lines that never change. curl only reads header data, so the nodes of
 * every request may point at these shared arrays. */
static char version_line[] = "x-ms-version: " COSMOS_API_VERSION;
/* Cosmos DB returns JSON only and Accept is optional, so no Accept is sent. The empty value
 * stops curl from adding its own, which saves bytes that curl 7.88 formats one at a time (about
 * 100 instructions a byte, measured with callgrind). */
static char accept_line[] = "Accept:";
static char content_type_line[] = "Content-Type: application/json";
static char expect_line[] = "Expect:"; /* no 100-continue round trip for bodies over 1 KB */
static char is_upsert_line[] = "x-ms-documentdb-is-upsert: true";

/* A growable text buffer that is reused from request to request. */
typedef struct text_buffer {
    char *data;
    size_t capacity;
} text_buffer;

typedef enum request_kind {
    REQUEST_UNSET,  /* a new or reset easy handle */
    REQUEST_UPSERT, /* set up for document upserts: only the changing headers and body are set */
    REQUEST_OTHER,  /* database and container requests, set up in full each time */
} request_kind;

/*
 * One request slot: an easy handle and the buffers its transfer reads. Slots are pooled and
 * reused, so once the pool has warmed up an upsert allocates nothing in this file (curl still
 * allocates inside). A slot belongs to the client and is idle or carries one request.
 */
typedef struct cosmos_request {
    cosmos_client *client;
    CURL *easy;
    request_kind kind;
    bool in_progress;

    /* The upsert header list. Its nodes are part of the slot, not allocated by curl, and
     * point at the constant lines above and at the three buffers below. */
    struct curl_slist upsert_headers[UPSERT_HEADER_COUNT];
    char date_line[DATE_LINE_SIZE];
    text_buffer authorization_line;
    text_buffer partition_key_line;

    /* For REQUEST_OTHER only, and freed when the request ends. */
    struct curl_slist *other_headers;
    char *url;
    char *body;

    cosmos_done_fn done;
    void *user;
    int64_t started_us;
    cosmos_result result;
    text_buffer error_body;   /* the start of a response body with a status of 300 or more */
    size_t error_body_length; /* bytes in error_body, without the terminating NUL */
    char curl_error[CURL_ERROR_SIZE];
    bool resumed_tls_session; /* the connection of the current transfer resumed a session */
    long connected_port;      /* local port of that connection, to match it at the end */
} cosmos_request;

/*
 * The epoll registration of one socket, indexed by descriptor. When curl puts a connection
 * back in its pool, the socket stays registered for input ("parked"), so the next request on
 * it needs no epoll_ctl calls. An event on a parked socket means that the server closed it or
 * sent data that no request asked for. cosmos_poll then shuts the socket down and takes it out
 * of the set, so curl finds the connection dead when it next tries to reuse it. Only sockets opened
 * through on_open_socket are parked, because on_close_socket reports their closing, and a closed
 * descriptor leaves the epoll set by itself while its number may come back for a new socket.
 */
typedef struct socket_watch {
    uint32_t events; /* registered EPOLLIN and EPOLLOUT bits; 0 when not in the epoll set */
    bool opened;     /* true when on_open_socket opened it, so its closing is reported */
    bool parked;     /* true while registered although curl does not watch it */
} socket_watch;

struct cosmos_client {
    CURLM *multi;
    CURLSH *share;         /* the TLS session cache of every request slot */
    bool https;            /* the endpoint's scheme is https */
    bool pin_no_proxy;     /* no proxy variable is set, so requests need not look them up */
    bool trust_one_file;   /* the trusted CAs come from one file, not also from a directory */
    int epoll_fd;          /* the sockets that curl watches */
    socket_watch *watches; /* indexed by descriptor; watch_capacity entries */
    int watch_capacity;
    int64_t curl_timer_at_ms; /* system monotonic time curl's timer fires; -1 when unset */
    char *endpoint;
    char *database;
    char *container;
    char *partition_key_path;
    char *ca_file;
    char *docs_link; /* "dbs/{db}/colls/{coll}", the resource link that upserts sign */
    char *docs_url;  /* endpoint + "/" + docs_link + "/docs" */
    /* docs_url parsed once, so curl skips parsing and rebuilding the URL on every upsert (about
     * 13,000 instructions each, measured with callgrind). NULL when curl_url or curl_url_set
     * failed, in which case upserts pass docs_url as a string. */
    CURLU *docs_location;
    uint8_t *key;
    size_t key_length;
    text_buffer aad_line; /* "authorization: type%3Daad..." for the current Entra token */
    int64_t request_timeout_ms;
    const wl_clock *clock;

    /* The x-ms-date changes once a second, and the master-key signature depends only on it, the
     * verb and the resource type and link, so upserts in the same second share both. */
    int64_t upsert_second; /* the second of upsert_date; -1 until the first upsert */
    char upsert_date[WL_RFC1123_SIZE];
    char upsert_auth_line[MASTER_AUTH_LINE_SIZE]; /* with the master key only */
    size_t upsert_auth_length;

    cosmos_request **slots; /* every slot, idle or in progress */
    int slot_count;
    int slot_capacity;
    cosmos_request **idle; /* a stack of idle slots; room for every slot */
    int idle_count;
    int max_connections;
    int in_flight;
};

static char *text_reserve(text_buffer *buffer, size_t size)
{
    if (size > buffer->capacity) {
        /* The buffer may hold an Entra token, so it is wiped before it is given back. */
        char *grown = wl_xmalloc(size);
        if (buffer->data) {
            explicit_bzero(buffer->data, buffer->capacity);
            free(buffer->data);
        }
        buffer->data = grown;
        buffer->capacity = size;
    }
    return buffer->data;
}

static void text_free(text_buffer *buffer)
{
    if (buffer->data) {
        explicit_bzero(buffer->data, buffer->capacity);
        free(buffer->data);
    }
    buffer->data = NULL;
    buffer->capacity = 0;
}

/* Writes `length` bytes of `text` to `out` percent-encoded except for the RFC 3986 unreserved
 * characters, and returns the length written. `out` must have room for 3 * length bytes. */
static size_t url_encode_into(const char *text, size_t length, char *out)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t used = 0;

    for (size_t i = 0; i < length; i++) {
        unsigned char c = (unsigned char)text[i];

        if (isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
            out[used++] = (char)c;
        } else {
            out[used++] = '%';
            out[used++] = hex[c >> 4];
            out[used++] = hex[c & 0x0F];
        }
    }
    return used;
}

/* Appends `text` lowercased at `out` and returns the position after it. */
static char *append_lower(char *out, const char *text, size_t length)
{
    for (size_t i = 0; i < length; i++) {
        out[i] = (char)tolower((unsigned char)text[i]);
    }
    return out + length;
}

/*
 * Writes the URL-encoded master-key authorization value into `out` (at least
 * COSMOS_MASTER_AUTH_SIZE bytes) and returns its length, or 0 when HMAC-SHA256 fails.
 */
static size_t master_auth_into(const uint8_t *key, size_t key_length, const char *verb,
                               const char *resource_type, const char *resource_link,
                               const char *date, char *out)
{
    static const char prefix[] = "type=master&ver=1.0&sig=";
    size_t verb_length = strlen(verb);
    size_t type_length = strlen(resource_type);
    size_t link_length = strlen(resource_link);
    size_t date_length = strlen(date);
    size_t payload_length = verb_length + type_length + link_length + date_length + 5;
    char local[640];
    char *payload = payload_length <= sizeof local ? local : wl_xmalloc(payload_length);
    uint8_t digest[WL_SHA256_SIZE];
    unsigned char signature[4 * ((WL_SHA256_SIZE + 2) / 3) + 1];

    /* Verb, resource type and date are signed in lowercase; the resource link keeps its case. */
    char *at = append_lower(payload, verb, verb_length);
    *at++ = '\n';
    at = append_lower(at, resource_type, type_length);
    *at++ = '\n';
    memcpy(at, resource_link, link_length);
    at += link_length;
    *at++ = '\n';
    at = append_lower(at, date, date_length);
    *at++ = '\n';
    *at++ = '\n';

    bool signed_ok = wl_hmac_sha256(key, key_length, payload, payload_length, digest);
    if (payload != local) {
        free(payload);
    }
    if (!signed_ok) {
        return 0;
    }

    int signature_length = EVP_EncodeBlock(signature, digest, (int)sizeof digest);
    size_t used = url_encode_into(prefix, sizeof prefix - 1, out);
    used += url_encode_into((const char *)signature, (size_t)signature_length, out + used);
    out[used] = '\0';
    return used;
}

char *cosmos_master_auth(const uint8_t *key, size_t key_length, const char *verb,
                         const char *resource_type, const char *resource_link, const char *date)
{
    char *out = wl_xmalloc(COSMOS_MASTER_AUTH_SIZE);

    if (master_auth_into(key, key_length, verb, resource_type, resource_link, date, out) == 0) {
        free(out);
        return NULL;
    }
    return out;
}

char *cosmos_aad_auth(const char *access_token)
{
    char *plain = wl_xasprintf("type=aad&ver=1.0&sig=%s", access_token);
    char *encoded = wl_url_encode(plain);

    wl_free_secret(plain);
    return encoded;
}

static char *append_unicode_escape(char *out, uint32_t code_unit)
{
    static const char hex[] = "0123456789abcdef";

    *out++ = '\\';
    *out++ = 'u';
    *out++ = hex[(code_unit >> 12) & 0xF];
    *out++ = hex[(code_unit >> 8) & 0xF];
    *out++ = hex[(code_unit >> 4) & 0xF];
    *out++ = hex[code_unit & 0xF];
    return out;
}

size_t cosmos_partition_key_json(const char *value, size_t length, char *out)
{
    const unsigned char *text = (const unsigned char *)value;
    char *at = out;
    size_t i = 0;

    *at++ = '[';
    *at++ = '"';
    while (i < length) {
        size_t step = 1;
        int32_t code = wl_utf8_decode(text + i, length - i, &step);

        if (code == '"' || code == '\\') {
            *at++ = '\\';
            *at++ = (char)code;
        } else if (code == '\b' || code == '\f' || code == '\n' || code == '\r' || code == '\t') {
            static const char short_escape[] = {
                ['\b'] = 'b', ['\f'] = 'f', ['\n'] = 'n', ['\r'] = 'r', ['\t'] = 't'};
            *at++ = '\\';
            *at++ = short_escape[code];
        } else if (code >= 0x20 && code < 0x7F) {
            *at++ = (char)code;
        } else if (code < 0) {
            at = append_unicode_escape(at, 0xFFFD);
        } else if (code > 0xFFFF) {
            /* UTF-16 surrogate pair, as JavaScript strings hold such characters. */
            uint32_t offset = (uint32_t)code - 0x10000;
            at = append_unicode_escape(at, 0xD800 + (offset >> 10));
            at = append_unicode_escape(at, 0xDC00 + (offset & 0x3FF));
        } else {
            at = append_unicode_escape(at, (uint32_t)code);
        }
        i += step;
    }
    *at++ = '"';
    *at++ = ']';
    *at = '\0';
    return (size_t)(at - out);
}

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
    /* URL schemes are case-insensitive (RFC 3986, section 3.1). */
    if (options->endpoint == NULL || (strncasecmp(options->endpoint, "https://", 8) != 0 &&
                                      strncasecmp(options->endpoint, "http://", 7) != 0)) {
        return wl_error_set(err, WL_ERR_INVALID,
                            "invalid Cosmos endpoint \"%s\": expected https://HOST[:PORT] or "
                            "http://HOST[:PORT]",
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

/* Returns the watch of `fd`, growing the table to hold it. */
static socket_watch *watch_of(cosmos_client *client, int fd)
{
    if (fd >= client->watch_capacity) {
        int capacity = client->watch_capacity ? client->watch_capacity : 64;
        while (capacity <= fd) {
            capacity *= 2;
        }
        client->watches = wl_xrealloc(client->watches, (size_t)capacity * sizeof *client->watches);
        memset(client->watches + client->watch_capacity, 0,
               (size_t)(capacity - client->watch_capacity) * sizeof *client->watches);
        client->watch_capacity = capacity;
    }
    return &client->watches[fd];
}

/* Takes `fd` out of the epoll set. */
static void unwatch(cosmos_client *client, int fd, socket_watch *watch)
{
    if (watch->events != 0) {
        epoll_ctl(client->epoll_fd, EPOLL_CTL_DEL, fd, NULL);
        watch->events = 0;
    }
    watch->parked = false;
}

/*
 * Registers the sockets that curl watches with the events it requests (CURLMOPT_SOCKETFUNCTION).
 * A pooled connection is parked instead of removed (see socket_watch).
 */
static int on_socket(CURL *easy, curl_socket_t fd, int what, void *user, void *socket_user)
{
    cosmos_client *client = user;
    socket_watch *watch = watch_of(client, fd);

    (void)easy;
    (void)socket_user;
    if (what == CURL_POLL_REMOVE) {
        if (watch->opened && watch->events == EPOLLIN) {
            watch->parked = true;
        } else {
            unwatch(client, fd, watch);
        }
        return 0;
    }

    uint32_t events = (what & CURL_POLL_IN ? EPOLLIN : 0u) | (what & CURL_POLL_OUT ? EPOLLOUT : 0u);
    watch->parked = false;
    if (watch->opened && watch->events == events) {
        return 0;
    }
    struct epoll_event event = {.events = events, .data.fd = fd};
    if (watch->events == 0 ||
        (epoll_ctl(client->epoll_fd, EPOLL_CTL_MOD, fd, &event) != 0 && errno == ENOENT)) {
        /* ENOENT: the recorded registration belonged to a closed socket with the same number. */
        epoll_ctl(client->epoll_fd, EPOLL_CTL_ADD, fd, &event);
    }
    watch->events = events;
    return 0;
}

/* Opens the sockets of curl's connections (CURLOPT_OPENSOCKETFUNCTION) to track them. */
static curl_socket_t on_open_socket(void *user, curlsocktype purpose, struct curl_sockaddr *address)
{
    cosmos_client *client = user;

    (void)purpose;
    int fd = socket(address->family, address->socktype | SOCK_CLOEXEC, address->protocol);
    if (fd < 0) {
        return CURL_SOCKET_BAD;
    }
    *watch_of(client, fd) = (socket_watch){.opened = true};
    return fd;
}

/* Closes a connection's socket (CURLOPT_CLOSESOCKETFUNCTION). The kernel drops it from the
 * epoll set, so its watch is cleared for the next socket that gets the same number. */
static int on_close_socket(void *user, curl_socket_t fd)
{
    cosmos_client *client = user;

    if (fd < client->watch_capacity) {
        client->watches[fd] = (socket_watch){0};
    }
    return close(fd);
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

/*
 * Checks that the CA file is a readable regular file with at least one PEM certificate.
 * curl reads the file only when it opens the first TLS connection, so without this check a
 * wrong path would show up as a TLS failure long after start.
 */
static wl_status check_ca_file(const char *path, wl_error *err)
{
    struct stat info;
    FILE *file = fopen(path, "r");

    if (file == NULL) {
        return wl_error_set(err, WL_ERR_INVALID,
                            "cannot read the Cosmos CA file \"%s\" (COSMOS_CA_FILE, "
                            "--cosmos-ca-file): %s; set it to a PEM file of CA certificates",
                            path, strerror(errno));
    }
    if (fstat(fileno(file), &info) != 0 || !S_ISREG(info.st_mode)) {
        fclose(file);
        return wl_error_set(err, WL_ERR_INVALID,
                            "the Cosmos CA file \"%s\" (COSMOS_CA_FILE, --cosmos-ca-file) is not "
                            "a regular file; set it to a PEM file of CA certificates",
                            path);
    }
    X509 *certificate = PEM_read_X509(file, NULL, NULL, NULL);
    fclose(file);
    ERR_clear_error(); /* leave no stale error for curl's OpenSSL calls to find */
    if (certificate == NULL) {
        return wl_error_set(err, WL_ERR_INVALID,
                            "the Cosmos CA file \"%s\" (COSMOS_CA_FILE, --cosmos-ca-file) "
                            "contains no PEM certificate; set it to a file with \"-----BEGIN "
                            "CERTIFICATE-----\" blocks",
                            path);
    }
    X509_free(certificate);
    return WL_OK;
}

/*
 * Returns true when the environment names a proxy that curl would use for the endpoint, which
 * is https when `https` is true and http otherwise. curl reads http_proxy (lower case only) for
 * http URLs, https_proxy or HTTPS_PROXY for https, and all_proxy or ALL_PROXY for both. An
 * empty value means no proxy, as it does for curl. When none is set, the client pins "no proxy"
 * on its requests, because curl otherwise reads six variables through getenv for every request.
 * A pod's environment contains a variable for every service in its namespace.
 */
static bool proxy_configured(bool https)
{
    const char *names[] = {https ? "https_proxy" : "http_proxy", https ? "HTTPS_PROXY" : NULL,
                           "all_proxy", "ALL_PROXY"};

    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        const char *value = names[i] ? getenv(names[i]) : NULL;
        if (value != NULL && value[0] != '\0') {
            return true;
        }
    }
    return false;
}

/*
 * Returns true when the CA bundle file that curl was built with is readable. curl also trusts
 * the CA directory it was built with (Debian: /etc/ssl/certs, the same certificates as the
 * bundle). While a directory is in use, curl parses the CA file again for every connection
 * instead of keeping the parsed store in the multi handle. So the client drops the directory
 * when one file contains the trusted CAs: COSMOS_CA_FILE, or else this bundle.
 */
static bool default_ca_bundle_readable(void)
{
    const char *bundle = NULL;
    CURL *probe = curl_easy_init();
    bool readable = probe != NULL &&
                    curl_easy_getinfo(probe, CURLINFO_CAINFO, &bundle) == CURLE_OK &&
                    bundle != NULL && access(bundle, R_OK) == 0;

    curl_easy_cleanup(probe);
    return readable;
}

cosmos_client *cosmos_client_create(const cosmos_options *options, wl_error *err)
{
    cosmos_client *client;

    if (check_options(options, err) != WL_OK) {
        return NULL;
    }
    if (options->ca_file != NULL && check_ca_file(options->ca_file, err) != WL_OK) {
        return NULL;
    }

    client = wl_xcalloc(1, sizeof *client);
    client->epoll_fd = -1;
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
    client->docs_link = wl_xasprintf("dbs/%s/colls/%s", client->database, client->container);
    client->docs_url = wl_xasprintf("%s/%s/docs", client->endpoint, client->docs_link);
    client->docs_location = curl_url();
    if (client->docs_location != NULL &&
        curl_url_set(client->docs_location, CURLUPART_URL, client->docs_url, 0) != CURLUE_OK) {
        curl_url_cleanup(client->docs_location);
        client->docs_location = NULL;
    }
    client->request_timeout_ms =
        options->request_timeout_ms > 0 ? options->request_timeout_ms : 30000;
    client->clock = options->clock ? options->clock : wl_clock_system();
    client->max_connections = options->max_connections;
    client->upsert_second = -1;

    if (options->master_key != NULL) {
        client->key = wl_base64_decode(options->master_key, &client->key_length);
        if (client->key == NULL || client->key_length == 0) {
            wl_error_set(err, WL_ERR_INVALID,
                         "invalid Cosmos key: it must be the base64 master key from the "
                         "account's Keys page");
            cosmos_client_destroy(client);
            return NULL;
        }
    } else {
        cosmos_client_set_aad_token(client, ""); /* until the writer sets the first token */
    }

    client->multi = curl_multi_init();
    if (client->multi == NULL) {
        wl_error_set(err, WL_ERR_IO, "curl_multi_init failed");
        cosmos_client_destroy(client);
        return NULL;
    }
    /* Every request slot has its own easy handle, and so by default its own TLS session cache.
     * Sharing one lets a new connection resume the session of an earlier one instead of
     * verifying the server's certificate chain again, which costs about as much CPU as 30
     * requests on a kept-alive connection (counted with callgrind). OpenSSL offers a TLS 1.3
     * session only once, so a connection that starts before an earlier one has received a
     * session of its own still makes a full handshake. The client has one thread, so the share
     * needs no lock functions. */
    client->share = curl_share_init();
    if (client->share == NULL || curl_share_setopt(client->share, CURLSHOPT_SHARE,
                                                   CURL_LOCK_DATA_SSL_SESSION) != CURLSHE_OK) {
        wl_error_set(err, WL_ERR_IO, "curl_share_init failed");
        cosmos_client_destroy(client);
        return NULL;
    }
    client->https = strncasecmp(client->endpoint, "https:", 6) == 0;
    client->pin_no_proxy = !proxy_configured(client->https);
    client->trust_one_file = client->ca_file != NULL || default_ca_bundle_readable();
    client->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
    if (client->epoll_fd < 0) {
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

static void release_other(cosmos_request *request)
{
    curl_slist_free_all(request->other_headers);
    free(request->url);
    free(request->body);
    request->other_headers = NULL;
    request->url = NULL;
    request->body = NULL;
}

static void slot_free(cosmos_request *request)
{
    if (request->easy) {
        curl_easy_cleanup(request->easy);
    }
    release_other(request);
    text_free(&request->authorization_line);
    text_free(&request->partition_key_line);
    text_free(&request->error_body);
    free(request);
}

void cosmos_client_destroy(cosmos_client *client)
{
    if (client == NULL) {
        return;
    }
    for (int i = 0; i < client->slot_count; i++) {
        cosmos_request *request = client->slots[i];

        if (request->in_progress) {
            curl_multi_remove_handle(client->multi, request->easy);
        }
        slot_free(request);
    }
    if (client->multi) {
        curl_multi_cleanup(client->multi);
    }
    if (client->share) {
        curl_share_cleanup(client->share); /* after the easy handles that use it */
    }
    if (client->docs_location) {
        curl_url_cleanup(client->docs_location); /* after the easy handles that use it */
    }
    if (client->epoll_fd >= 0) {
        close(client->epoll_fd);
    }
    if (client->key) {
        explicit_bzero(client->key, client->key_length);
    }
    free(client->key);
    explicit_bzero(client->upsert_auth_line, sizeof client->upsert_auth_line);
    text_free(&client->aad_line);
    free(client->slots);
    free(client->idle);
    free(client->watches);
    free(client->endpoint);
    free(client->database);
    free(client->container);
    free(client->partition_key_path);
    free(client->ca_file);
    free(client->docs_link);
    free(client->docs_url);
    free(client);
}

void cosmos_client_set_aad_token(cosmos_client *client, const char *access_token)
{
    char *value = cosmos_aad_auth(access_token);
    size_t value_length = strlen(value);
    char *line = text_reserve(&client->aad_line, sizeof authorization_prefix + value_length);

    memcpy(line, authorization_prefix, sizeof authorization_prefix - 1);
    memcpy(line + sizeof authorization_prefix - 1, value, value_length + 1);
    wl_free_secret(value);
}

bool cosmos_client_uses_key(const cosmos_client *client)
{
    return client->key != NULL;
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

/*
 * Returns the delay of an x-ms-retry-after-ms value in whole milliseconds (digits, with an
 * optional fraction that is dropped), or -1 for anything else. The caller backs off by itself
 * on -1, which is safer than reading a bad value as 0 and retrying a throttling server at once.
 */
static int64_t parse_retry_after_ms(const char *text)
{
    size_t digits = strspn(text, "0123456789");

    if (digits == 0 || digits > 12) {
        return -1;
    }
    if (text[digits] == '.' && text[digits + 1] != '\0' &&
        strspn(text + digits + 1, "0123456789") == strlen(text + digits + 1)) {
        return strtoll(text, NULL, 10);
    }
    return text[digits] == '\0' ? strtoll(text, NULL, 10) : -1;
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
        request->result.retry_after_ms = parse_retry_after_ms(value);
    } else if (name_length == 16 && strncasecmp(data, "x-ms-activity-id", 16) == 0) {
        wl_utf8_copy(request->result.activity_id, sizeof request->result.activity_id, value);
    } else if (name_length == 19 && strncasecmp(data, "x-ms-request-charge", 19) == 0) {
        request->result.request_charge = strtod(value, NULL);
    } else if (name_length == 14 && strncasecmp(data, "x-ms-substatus", 14) == 0) {
        request->result.substatus = (int)strtol(value, NULL, 10);
    }
    return length;
}

/*
 * Records whether the request's connection resumed an earlier TLS session
 * (CURLOPT_PREREQFUNCTION). curl calls it once the connection is ready, handshake included, and
 * before the request is sent. After the transfer, the connection is no longer reachable.
 */
static int on_connected(void *user, char *remote_ip, char *local_ip, int remote_port,
                        int local_port)
{
    cosmos_request *request = user;
    struct curl_tlssessioninfo *info = NULL;

    (void)remote_ip;
    (void)local_ip;
    (void)remote_port;
    request->connected_port = local_port;
    request->resumed_tls_session =
        curl_easy_getinfo(request->easy, CURLINFO_TLS_SSL_PTR, &info) == CURLE_OK && info != NULL &&
        info->backend == CURLSSLBACKEND_OPENSSL && info->internals != NULL &&
        SSL_session_reused(info->internals) == 1;
    return CURL_PREREQFUNC_OK;
}

/* Keeps the start of an error response's body for describe_failure. The body of a success is
 * the stored document, which nothing reads, so it is not copied. */
static size_t on_body(char *data, size_t size, size_t count, void *user)
{
    cosmos_request *request = user;
    size_t length = size * count;
    long status = 0;

    curl_easy_getinfo(request->easy, CURLINFO_RESPONSE_CODE, &status);
    if (status < 300) {
        return length;
    }

    size_t room = ERROR_BODY_KEEP - request->error_body_length;
    size_t take = length < room ? length : room;
    if (take == 0) {
        return length;
    }
    /* Allocated whole on the slot's first error body, and kept for the slot's later ones. */
    char *body = text_reserve(&request->error_body, ERROR_BODY_KEEP + 1);
    memcpy(body + request->error_body_length, data, take);
    request->error_body_length += take;
    body[request->error_body_length] = '\0';
    return length;
}

/* Returns an idle slot, making a new one when every slot is busy. */
static cosmos_request *take_slot(cosmos_client *client)
{
    if (client->idle_count > 0) {
        return client->idle[--client->idle_count];
    }

    cosmos_request *request = wl_xcalloc(1, sizeof *request);
    request->client = client;
    request->easy = curl_easy_init();
    if (request->easy == NULL) {
        abort();
    }
    if (client->slot_count == client->slot_capacity) {
        int capacity = client->slot_capacity ? 2 * client->slot_capacity : 8;
        client->slots = wl_xrealloc(client->slots, (size_t)capacity * sizeof *client->slots);
        client->idle = wl_xrealloc(client->idle, (size_t)capacity * sizeof *client->idle);
        client->slot_capacity = capacity;
    }
    client->slots[client->slot_count++] = request;
    return request;
}

static void return_slot(cosmos_client *client, cosmos_request *request)
{
    request->in_progress = false;
    client->idle[client->idle_count++] = request;
}

/* Sets the options that every request of the client shares. */
static void configure_common(cosmos_request *request, const char *url)
{
    cosmos_client *client = request->client;
    CURL *easy = request->easy;

    curl_easy_setopt(easy, CURLOPT_URL, url);
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
    if (client->trust_one_file) {
        curl_easy_setopt(easy, CURLOPT_CAPATH, NULL);
    }
    curl_easy_setopt(easy, CURLOPT_SHARE, client->share);
    if (client->pin_no_proxy) {
        curl_easy_setopt(easy, CURLOPT_PROXY, "");
        curl_easy_setopt(easy, CURLOPT_NOPROXY, "");
    }
    if (client->https) {
        curl_easy_setopt(easy, CURLOPT_PREREQFUNCTION, on_connected);
        curl_easy_setopt(easy, CURLOPT_PREREQDATA, request);
    }
    curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(easy, CURLOPT_HEADERDATA, request);
    curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(easy, CURLOPT_WRITEDATA, request);
    curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, request->curl_error);
    curl_easy_setopt(easy, CURLOPT_PRIVATE, request);
    curl_easy_setopt(easy, CURLOPT_OPENSOCKETFUNCTION, on_open_socket);
    curl_easy_setopt(easy, CURLOPT_OPENSOCKETDATA, client);
    curl_easy_setopt(easy, CURLOPT_CLOSESOCKETFUNCTION, on_close_socket);
    curl_easy_setopt(easy, CURLOPT_CLOSESOCKETDATA, client);
    /* curl keeps one receive buffer per handle for the handle's life, 16 KiB by default. A
     * response to an upsert contains the document, and a longer response only takes more reads.
     * 1 KiB, curl's minimum, cut the steady RSS at concurrency 128 by about 0.5 MB with no
     * change in CPU (docs/BENCHMARKS.md). */
    curl_easy_setopt(easy, CURLOPT_BUFFERSIZE, 1024L);
}

/* Sets a slot up for upserts once; later upserts on it change only headers and body. */
static void configure_upsert(cosmos_request *request)
{
    struct curl_slist *nodes = request->upsert_headers;

    if (request->kind == REQUEST_UPSERT) {
        return;
    }
    if (request->kind != REQUEST_UNSET) {
        curl_easy_reset(request->easy);
    }
    configure_common(request, request->client->docs_url);
    if (request->client->docs_location) {
        curl_easy_setopt(request->easy, CURLOPT_CURLU, request->client->docs_location);
    }
    nodes[UPSERT_DATE].data = request->date_line;
    nodes[UPSERT_VERSION].data = version_line;
    nodes[UPSERT_ACCEPT].data = accept_line;
    nodes[UPSERT_CONTENT_TYPE].data = content_type_line;
    nodes[UPSERT_EXPECT].data = expect_line;
    nodes[UPSERT_IS_UPSERT].data = is_upsert_line;
    /* The partition key and authorization nodes get their data per request, because their
     * buffers may move when they grow. */
    for (int i = 0; i < UPSERT_HEADER_COUNT; i++) {
        nodes[i].next = i + 1 < UPSERT_HEADER_COUNT ? &nodes[i + 1] : NULL;
    }
    curl_easy_setopt(request->easy, CURLOPT_HTTPHEADER, nodes);
    curl_easy_setopt(request->easy, CURLOPT_POST, 1L);
    request->kind = REQUEST_UPSERT;
}

/* Clears what the previous request left in the slot and starts the clock of the next one. */
static void begin_request(cosmos_request *request, cosmos_done_fn done, void *user, int64_t now_us)
{
    memset(&request->result, 0, sizeof request->result);
    request->resumed_tls_session = false;
    request->result.retry_after_ms = -1;
    request->error_body_length = 0;
    request->curl_error[0] = '\0';
    request->done = done;
    request->user = user;
    request->started_us = now_us;
}

static void add_to_multi(cosmos_client *client, cosmos_request *request)
{
    if (curl_multi_add_handle(client->multi, request->easy) != CURLM_OK) {
        abort(); /* only on misuse: a handle added twice or a NULL handle */
    }
    request->in_progress = true;
    client->in_flight++;
}

static void write_date_line(cosmos_request *request, const char *date)
{
    static const char prefix[] = "x-ms-date: ";

    memcpy(request->date_line, prefix, sizeof prefix - 1);
    memcpy(request->date_line + sizeof prefix - 1, date, strlen(date) + 1);
}

/* Formats the x-ms-date of `second` for upserts and, with the master key, signs it, unless the
 * previous upsert was in the same second. Formatting alone takes about 3,400 instructions
 * (callgrind). */
static void set_upsert_second(cosmos_client *client, int64_t second)
{
    if (second == client->upsert_second) {
        return;
    }
    client->upsert_second = second;
    wl_format_rfc1123(second, client->upsert_date);
    if (client->key == NULL) {
        return;
    }

    char *line = client->upsert_auth_line;
    size_t prefix_length = sizeof authorization_prefix - 1;
    memcpy(line, authorization_prefix, prefix_length);
    if (master_auth_into(client->key, client->key_length, "POST", "docs", client->docs_link,
                         client->upsert_date, line + prefix_length) == 0) {
        abort(); /* HMAC-SHA256 fails only on an internal OpenSSL error */
    }
    client->upsert_auth_length = strlen(line);
}

/* Returns the authorization line of an upsert in the second that set_upsert_second set. */
static const char *upsert_authorization(const cosmos_client *client, size_t *out_length)
{
    if (client->key == NULL) {
        *out_length = strlen(client->aad_line.data);
        return client->aad_line.data;
    }
    *out_length = client->upsert_auth_length;
    return client->upsert_auth_line;
}

void cosmos_upsert(cosmos_client *client, const char *partition_key, size_t partition_key_length,
                   const char *document, size_t length, cosmos_done_fn done, void *user)
{
    cosmos_request *request = take_slot(client);
    struct curl_slist *nodes = request->upsert_headers;
    int64_t now_us = wl_clock_realtime_us(client->clock);
    size_t auth_length = 0;

    configure_upsert(request);
    begin_request(request, done, user, now_us);

    set_upsert_second(client, now_us / 1000000);
    write_date_line(request, client->upsert_date);
    const char *auth = upsert_authorization(client, &auth_length);
    char *auth_line = text_reserve(&request->authorization_line, auth_length + 1);
    memcpy(auth_line, auth, auth_length + 1);
    nodes[UPSERT_AUTHORIZATION].data = auth_line;

    size_t prefix_length = sizeof partition_key_prefix - 1;
    size_t key_size = prefix_length + COSMOS_PARTITION_KEY_JSON_SIZE(partition_key_length);
    char *key_line = text_reserve(&request->partition_key_line, key_size);
    memcpy(key_line, partition_key_prefix, prefix_length);
    cosmos_partition_key_json(partition_key, partition_key_length, key_line + prefix_length);
    nodes[UPSERT_PARTITION_KEY].data = key_line;

    curl_easy_setopt(request->easy, CURLOPT_POSTFIELDS, document);
    curl_easy_setopt(request->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)length);
    add_to_multi(client, request);
}

static void add_other_header(cosmos_request *request, const char *line)
{
    struct curl_slist *list = curl_slist_append(request->other_headers, line);

    if (list == NULL) {
        abort();
    }
    request->other_headers = list;
}

/*
 * Queues a database or container request. `link` is the resource link that is signed, `path`
 * the URL path after the endpoint; `body` (NULL for GET) is copied.
 */
static void start_other(cosmos_client *client, const char *verb, const char *type, const char *link,
                        const char *path, const char *body, cosmos_done_fn done, void *user)
{
    cosmos_request *request = take_slot(client);
    int64_t now_us = wl_clock_realtime_us(client->clock);
    char date[WL_RFC1123_SIZE];
    char line[DATE_LINE_SIZE];

    if (request->kind != REQUEST_UNSET) {
        curl_easy_reset(request->easy);
    }
    request->kind = REQUEST_OTHER;
    begin_request(request, done, user, now_us);
    request->url = wl_xasprintf("%s/%s", client->endpoint, path);
    configure_common(request, request->url);

    wl_format_rfc1123(now_us / 1000000, date);
    snprintf(line, sizeof line, "x-ms-date: %s", date);
    add_other_header(request, line);
    add_other_header(request, version_line);
    add_other_header(request, accept_line);
    add_other_header(request, expect_line);
    if (client->key) {
        char auth[sizeof authorization_prefix + COSMOS_MASTER_AUTH_SIZE];
        size_t prefix_length = sizeof authorization_prefix - 1;

        memcpy(auth, authorization_prefix, prefix_length);
        if (master_auth_into(client->key, client->key_length, verb, type, link, date,
                             auth + prefix_length) == 0) {
            abort(); /* HMAC-SHA256 fails only on an internal OpenSSL error */
        }
        add_other_header(request, auth);
        explicit_bzero(auth, sizeof auth);
    } else {
        add_other_header(request, client->aad_line.data);
    }

    if (body) {
        add_other_header(request, content_type_line);
        request->body = wl_xstrdup(body);
        curl_easy_setopt(request->easy, CURLOPT_POST, 1L);
        curl_easy_setopt(request->easy, CURLOPT_POSTFIELDS, request->body);
        curl_easy_setopt(request->easy, CURLOPT_POSTFIELDSIZE_LARGE,
                         (curl_off_t)strlen(request->body));
    } else {
        curl_easy_setopt(request->easy, CURLOPT_HTTPGET, 1L);
    }
    curl_easy_setopt(request->easy, CURLOPT_HTTPHEADER, request->other_headers);
    add_to_multi(client, request);
}

void cosmos_create_database(cosmos_client *client, cosmos_done_fn done, void *user)
{
    char *text = wl_xasprintf("{\"id\":\"%s\"}", client->database);

    start_other(client, "POST", "dbs", "", "dbs", text, done, user);
    free(text);
}

void cosmos_create_container(cosmos_client *client, cosmos_done_fn done, void *user)
{
    char *link = wl_xasprintf("dbs/%s", client->database);
    char *path = wl_xasprintf("%s/colls", link);
    char *text = wl_xasprintf("{\"id\":\"%s\",\"partitionKey\":{\"paths\":[\"%s\"],"
                              "\"kind\":\"Hash\",\"version\":2}}",
                              client->container, client->partition_key_path);

    start_other(client, "POST", "colls", link, path, text, done, user);
    free(text);
    free(link);
    free(path);
}

void cosmos_read_container(cosmos_client *client, cosmos_done_fn done, void *user)
{
    start_other(client, "GET", "colls", client->docs_link, client->docs_link, NULL, done, user);
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

    const char *text = request->error_body_length > 0 ? request->error_body.data : "";
    cJSON *body = cJSON_Parse(text);
    const cJSON *message = cJSON_GetObjectItemCaseSensitive(body, "message");
    const cJSON *error_code = cJSON_GetObjectItemCaseSensitive(body, "code");
    if (cJSON_IsString(message)) {
        text = message->valuestring;
    }
    /* The text goes on into logs and into a dead-letter description, which must be UTF-8, so
     * the excerpt ends at a character boundary and invalid bytes become U+FFFD. */
    char excerpt[401];
    wl_utf8_copy(excerpt, sizeof excerpt, text);
    wl_error_set_condition(&result->error, cosmos_status_class(result->http_status),
                           cJSON_IsString(error_code) ? error_code->valuestring : "",
                           "Cosmos returned HTTP %d: %s", result->http_status, excerpt);
    cJSON_Delete(body);
    result->error.http_status = result->http_status;
    snprintf(result->error.activity_id, sizeof result->error.activity_id, "%s",
             result->activity_id);
}

/* Socket events taken from the epoll set at a time; more stay queued for the next call. */
#define MAX_SOCKET_EVENTS 64

static void finish_request(cosmos_client *client, CURL *easy, CURLcode code)
{
    cosmos_request *request = NULL;
    long http_status = 0;

    long new_connections = 0;

    curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&request);
    curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &http_status);
    curl_easy_getinfo(easy, CURLINFO_NUM_CONNECTS, &new_connections);
    request->result.opened_connection = new_connections > 0;
    if (new_connections > 0 && request->resumed_tls_session) {
        /* curl may retry on a new connection after a kept-alive one failed, and the new one
         * may fail before the callback runs for it. The flag counts only when the ports match. */
        long local_port = 0;
        curl_easy_getinfo(easy, CURLINFO_LOCAL_PORT, &local_port);
        request->result.resumed_tls_session = local_port == request->connected_port;
    }
    curl_multi_remove_handle(client->multi, easy);
    client->in_flight--;

    request->result.http_status = code == CURLE_OK ? (int)http_status : 0;
    request->result.kept_alive_connection_lost =
        new_connections == 0 &&
        (code == CURLE_SEND_ERROR || code == CURLE_RECV_ERROR || code == CURLE_GOT_NOTHING);
    request->result.latency_us = wl_clock_realtime_us(client->clock) - request->started_us;
    if (code != CURLE_OK || http_status < 200 || http_status >= 300) {
        describe_failure(request, code);
    }
    if (request->kind == REQUEST_OTHER) {
        release_other(request);
    }

    /* Return the slot before the callback, so that a callback that queues a new request can
     * reuse it. The callback gets a copy of the result. */
    cosmos_result result = request->result;
    cosmos_done_fn done = request->done;
    void *user = request->user;
    return_slot(client, request);
    if (done) {
        done(user, &result);
    }
}

/* Runs curl for one socket event (or for its timer when `fd` is CURL_SOCKET_TIMEOUT). */
static CURLMcode drive(cosmos_client *client, curl_socket_t fd, int mask)
{
    int running = 0;

    return curl_multi_socket_action(client->multi, fd, mask, &running);
}

/* Drives curl for the `count` socket events in `events`, then for its timer when due, and
 * finishes the requests that completed. */
static wl_status dispatch_events(cosmos_client *client, const struct epoll_event *events, int count,
                                 wl_error *err)
{
    CURLMcode code = CURLM_OK;
    const wl_clock *system = wl_clock_system(); /* curl's timers run on the system clock */

    for (int i = 0; i < count && code == CURLM_OK; i++) {
        int fd = events[i].data.fd;
        socket_watch *watch = watch_of(client, fd);
        if (watch->parked) {
            /* An idle connection has nothing to read unless the server closed it or sent bytes
             * that no request asked for, and curl would parse those as the next response.
             * After shutdown() curl finds the connection dead and opens a new one. */
            shutdown(fd, SHUT_RDWR);
            unwatch(client, fd, watch);
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

/* Takes the ready socket events, waiting up to `timeout_ms` for one, and dispatches them. */
static wl_status wait_and_dispatch(cosmos_client *client, int timeout_ms, wl_error *err)
{
    struct epoll_event events[MAX_SOCKET_EVENTS];

    int count = epoll_wait(client->epoll_fd, events, MAX_SOCKET_EVENTS, timeout_ms);
    if (count < 0 && errno != EINTR) {
        return wl_error_set(err, WL_ERR_IO, "epoll_wait failed: %s", strerror(errno));
    }
    return dispatch_events(client, events, count < 0 ? 0 : count, err);
}

wl_status cosmos_poll(cosmos_client *client, int timeout_ms, wl_error *err)
{
    int wait = timeout_ms;

    if (client->curl_timer_at_ms >= 0) {
        int64_t remaining = client->curl_timer_at_ms - wl_clock_monotonic_ms(wl_clock_system());
        if (remaining < wait) {
            wait = remaining > 0 ? (int)remaining : 0;
        }
    }
    return wait_and_dispatch(client, wait, err);
}

wl_status cosmos_dispatch(cosmos_client *client, bool sockets_ready, wl_error *err)
{
    if (!sockets_ready) {
        return dispatch_events(client, NULL, 0, err);
    }
    return wait_and_dispatch(client, 0, err);
}

int cosmos_fd(const cosmos_client *client)
{
    return client->epoll_fd;
}

int64_t cosmos_next_timer_ms(const cosmos_client *client)
{
    return client->curl_timer_at_ms >= 0 ? client->curl_timer_at_ms : INT64_MAX;
}

int cosmos_in_flight(const cosmos_client *client)
{
    return client->in_flight;
}

int cosmos_watched_sockets(const cosmos_client *client)
{
    int count = 0;

    for (int fd = 0; fd < client->watch_capacity; fd++) {
        count += client->watches[fd].events != 0;
    }
    return count;
}
