#include "connstr.h"

#include "encoding.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static bool key_is(const char *key, size_t key_length, const char *expected)
{
    return strlen(expected) == key_length && strncasecmp(key, expected, key_length) == 0;
}

static char *trimmed_copy(const char *text, size_t length)
{
    while (length > 0 && isspace((unsigned char)*text)) {
        text++;
        length--;
    }
    while (length > 0 && isspace((unsigned char)text[length - 1])) {
        length--;
    }
    return wl_xstrndup(text, length);
}

bool connstr_host_valid(const char *host, size_t length)
{
    size_t label_start = 0;

    if (length > 0 && host[length - 1] == '.') {
        length--; /* a fully qualified name may end with the root's dot */
    }
    if (length == 0 || length > 253) {
        return false;
    }
    for (size_t i = 0; i <= length; i++) {
        if (i == length || host[i] == '.') {
            size_t label_length = i - label_start;
            if (label_length == 0 || label_length > 63 || host[label_start] == '-' ||
                host[i - 1] == '-') {
                return false;
            }
            label_start = i + 1;
        } else if (!isalnum((unsigned char)host[i]) && host[i] != '-' && host[i] != '_') {
            return false;
        }
    }
    return true;
}

bool connstr_ipv6_valid(const char *text, size_t length)
{
    char copy[INET6_ADDRSTRLEN];
    struct in6_addr address;

    if (length == 0 || length >= sizeof copy) {
        return false;
    }
    memcpy(copy, text, length);
    copy[length] = '\0';
    return inet_pton(AF_INET6, copy, &address) == 1;
}

bool connstr_host_is_ip(const char *host)
{
    struct addrinfo hints = {.ai_flags = AI_NUMERICHOST};
    struct addrinfo *addresses = NULL;

    if (getaddrinfo(host, NULL, &hints, &addresses) != 0) {
        return false;
    }
    freeaddrinfo(addresses);
    return true;
}

/* Splits "sb://host:port/path" into host, port and transport; the host loses an IPv6 literal's
 * brackets. */
static wl_status parse_endpoint(const char *endpoint, connstr *out, wl_error *err)
{
    const char *rest = strstr(endpoint, "://");
    size_t scheme_length;
    char shown[300]; /* the endpoint for messages, without a password that it may contain */

    wl_url_redact_userinfo(endpoint, shown, sizeof shown);

    if (rest == NULL) {
        return wl_error_set(err, WL_ERR_INVALID,
                            "invalid Endpoint \"%s\" in the connection string: expected "
                            "sb://HOST, amqps://HOST or amqp://HOST",
                            shown);
    }
    scheme_length = (size_t)(rest - endpoint);
    rest += 3;
    /* A user name or password before '@' would otherwise be read as part of the host and shown
     * in the message about it. */
    const char *at = memchr(rest, '@', strcspn(rest, "/?#"));
    if (at != NULL) {
        return wl_error_set(err, WL_ERR_INVALID,
                            "invalid Endpoint \"%s\" in the connection string: it contains user "
                            "information before '@'; put the credentials in SharedAccessKeyName "
                            "and SharedAccessKey (or SharedAccessSignature) instead",
                            shown);
    }
    if (scheme_length == 2 && strncasecmp(endpoint, "sb", 2) == 0) {
        out->tls = true;
    } else if (scheme_length == 5 && strncasecmp(endpoint, "amqps", 5) == 0) {
        out->tls = true;
    } else if (scheme_length == 4 && strncasecmp(endpoint, "amqp", 4) == 0) {
        out->tls = false;
    } else {
        return wl_error_set(
            err, WL_ERR_INVALID,
            "invalid Endpoint scheme in \"%s\": expected sb://, amqps:// or amqp://", shown);
    }

    if (*rest == '[') {
        /* An IPv6 literal in brackets, as RFC 3986 writes it in URIs. */
        size_t literal_length = strcspn(rest + 1, "]");
        if (rest[1 + literal_length] != ']' || !connstr_ipv6_valid(rest + 1, literal_length)) {
            return wl_error_set(err, WL_ERR_INVALID,
                                "invalid host in Endpoint \"%s\": expected an IPv6 address "
                                "between [ and ], such as [::1]",
                                shown);
        }
        out->host = wl_xstrndup(rest + 1, literal_length);
        rest += literal_length + 2;
    } else {
        size_t host_length = strcspn(rest, ":/");
        if (host_length == 0) {
            return wl_error_set(err, WL_ERR_INVALID,
                                "invalid Endpoint \"%s\" in the connection string: the host is "
                                "empty",
                                shown);
        }
        if (!connstr_host_valid(rest, host_length)) {
            return wl_error_set(err, WL_ERR_INVALID,
                                "invalid host \"%.*s\" in Endpoint \"%s\": expected a DNS name "
                                "such as NAMESPACE.servicebus.windows.net, an IPv4 address or an "
                                "IPv6 address in brackets",
                                (int)host_length, rest, shown);
        }
        out->host = wl_xstrndup(rest, host_length);
        rest += host_length;
    }
    if (*rest != '\0' && *rest != ':' && *rest != '/') {
        return wl_error_set(err, WL_ERR_INVALID,
                            "invalid Endpoint \"%s\" in the connection string: expected a port "
                            "or a path after the host",
                            shown);
    }

    if (*rest == ':') {
        char *end = NULL;
        long port = strtol(rest + 1, &end, 10);
        if (!isdigit((unsigned char)rest[1]) || (*end != '\0' && *end != '/') || port < 1 ||
            port > 65535) {
            return wl_error_set(err, WL_ERR_INVALID,
                                "invalid port in Endpoint \"%s\": expected 1 to 65535", shown);
        }
        out->port = (uint16_t)port;
        out->port_explicit = true;
    }
    return WL_OK;
}

static bool parse_bool(const char *text, bool *out)
{
    if (strcasecmp(text, "true") == 0) {
        *out = true;
        return true;
    }
    if (strcasecmp(text, "false") == 0) {
        *out = false;
        return true;
    }
    return false;
}

static wl_status store_pair(connstr *out, const char *key, size_t key_length, const char *value,
                            size_t value_length, char **endpoint, wl_error *err)
{
    char **slot = NULL;

    if (key_is(key, key_length, "Endpoint")) {
        slot = endpoint;
    } else if (key_is(key, key_length, "SharedAccessKeyName")) {
        slot = &out->key_name;
    } else if (key_is(key, key_length, "SharedAccessKey")) {
        slot = &out->key;
    } else if (key_is(key, key_length, "SharedAccessSignature")) {
        slot = &out->shared_access_signature;
    } else if (key_is(key, key_length, "EntityPath")) {
        slot = &out->entity_path;
    } else if (key_is(key, key_length, "UseDevelopmentEmulator")) {
        if (out->use_development_emulator_set) {
            return wl_error_set(err, WL_ERR_INVALID,
                                "the connection string sets UseDevelopmentEmulator twice");
        }
        out->use_development_emulator_set = true;
        char *text = trimmed_copy(value, value_length);
        bool ok = parse_bool(text, &out->use_development_emulator);
        wl_status status = WL_OK;
        if (!ok) {
            status = wl_error_set(err, WL_ERR_INVALID,
                                  "invalid UseDevelopmentEmulator \"%s\" in the connection string: "
                                  "expected true or false",
                                  text);
        }
        free(text);
        return status;
    } else {
        return WL_OK; /* unknown keys are ignored, as the SDKs do */
    }

    if (*slot != NULL) {
        return wl_error_set(err, WL_ERR_INVALID, "the connection string sets %.*s twice",
                            (int)key_length, key);
    }
    *slot = trimmed_copy(value, value_length);
    if (**slot == '\0') {
        return wl_error_set(err, WL_ERR_INVALID, "the connection string has an empty %.*s",
                            (int)key_length, key);
    }
    return WL_OK;
}

static wl_status check_complete(connstr *out, const char *endpoint, wl_error *err)
{
    wl_status status;

    if (endpoint == NULL) {
        return wl_error_set(err, WL_ERR_INVALID,
                            "the connection string has no Endpoint: expected "
                            "Endpoint=sb://NAMESPACE.servicebus.windows.net/;...");
    }
    status = parse_endpoint(endpoint, out, err);
    if (status != WL_OK) {
        return status;
    }
    if (out->shared_access_signature != NULL && (out->key_name != NULL || out->key != NULL)) {
        return wl_error_set(err, WL_ERR_INVALID,
                            "the connection string sets both SharedAccessSignature and "
                            "SharedAccessKeyName/SharedAccessKey: keep one of them");
    }
    if (out->shared_access_signature == NULL) {
        if (out->key_name == NULL) {
            return wl_error_set(err, WL_ERR_INVALID,
                                "the connection string has no SharedAccessKeyName (or "
                                "SharedAccessSignature)");
        }
        if (out->key == NULL) {
            return wl_error_set(err, WL_ERR_INVALID,
                                "the connection string has no SharedAccessKey for key name \"%s\"",
                                out->key_name);
        }
    }

    /* The development emulator listens on plain TCP; an sb:// endpoint means TLS otherwise.
     * @azure/core-amqp 4.4 drops TLS with the emulator flag whatever the scheme, but amqps://
     * requests TLS explicitly, so that pair is rejected rather than silently sent in the clear. */
    if (out->use_development_emulator) {
        if (strncasecmp(endpoint, "amqps:", 6) == 0) {
            /* TLS to an IP address fails the certificate check (sb_settings.c), so keeping TLS
             * is offered only for a DNS name. */
            char shown[300];
            wl_url_redact_userinfo(endpoint, shown, sizeof shown);
            return wl_error_set(err, WL_ERR_INVALID,
                                "the connection string sets Endpoint \"%s\", which requests TLS, "
                                "and UseDevelopmentEmulator=true, which selects plain TCP: use "
                                "sb:// or amqp:// for the development emulator%s",
                                shown,
                                connstr_host_is_ip(out->host)
                                    ? ""
                                    : ", or remove UseDevelopmentEmulator to keep TLS");
        }
        out->tls = false;
    }
    if (!out->port_explicit) {
        out->port = out->tls ? 5671 : 5672;
    }
    return WL_OK;
}

wl_status connstr_parse(const char *text, connstr *out, wl_error *err)
{
    char *endpoint = NULL;
    wl_status status = WL_OK;
    const char *cursor = text;
    unsigned part = 0;

    memset(out, 0, sizeof *out);
    if (text == NULL || *text == '\0') {
        return wl_error_set(err, WL_ERR_INVALID, "the connection string is empty");
    }

    while (*cursor != '\0') {
        size_t pair_length = strcspn(cursor, ";");
        const char *equals = memchr(cursor, '=', pair_length);
        const char *key = cursor;

        part++;
        while (pair_length > 0 && isspace((unsigned char)*key)) {
            key++;
            pair_length--;
        }
        if (pair_length > 0) {
            if (equals == NULL) {
                /* The text is not echoed: a pasted key without its name would leak. */
                status = wl_error_set(err, WL_ERR_INVALID,
                                      "invalid connection string: part %u is not KEY=VALUE", part);
                goto out;
            }
            size_t key_length = (size_t)(equals - key);
            while (key_length > 0 && isspace((unsigned char)key[key_length - 1])) {
                key_length--;
            }
            const char *value = equals + 1;
            size_t value_length = pair_length - (size_t)(value - key);
            status = store_pair(out, key, key_length, value, value_length, &endpoint, err);
            if (status != WL_OK) {
                goto out;
            }
        }
        cursor += strcspn(cursor, ";");
        if (*cursor == ';') {
            cursor++;
        }
    }
    status = check_complete(out, endpoint, err);

out:
    free(endpoint);
    if (status != WL_OK) {
        connstr_free(out);
    }
    return status;
}

void connstr_free(connstr *cs)
{
    free(cs->host);
    free(cs->key_name);
    free(cs->key);
    free(cs->shared_access_signature);
    free(cs->entity_path);
    memset(cs, 0, sizeof *cs);
}
