#include "check.h"
#include "connstr.h"

TEST_CASE(cloud_sas_key)
{
    connstr cs;
    wl_error err = {0};

    CHECK_INT_EQ(connstr_parse("Endpoint=sb://ns1.servicebus.windows.net/;SharedAccessKeyName=send;"
                               "SharedAccessKey=abc+def/ghi=;EntityPath=orders",
                               &cs, &err),
                 WL_OK);
    CHECK_STR_EQ(cs.host, "ns1.servicebus.windows.net");
    CHECK_INT_EQ(cs.port, 5671);
    CHECK(!cs.port_explicit);
    CHECK(cs.tls);
    CHECK_STR_EQ(cs.key_name, "send");
    CHECK_STR_EQ(cs.key, "abc+def/ghi=");
    CHECK_STR_EQ(cs.entity_path, "orders");
    CHECK(cs.shared_access_signature == NULL);
    CHECK(!cs.use_development_emulator);
    connstr_free(&cs);
}

TEST_CASE(emulator_plain_tcp)
{
    connstr cs;
    wl_error err = {0};

    CHECK_INT_EQ(connstr_parse("Endpoint=sb://localhost;SharedAccessKeyName="
                               "RootManageSharedAccessKey;SharedAccessKey=SAS_KEY_VALUE;"
                               "UseDevelopmentEmulator=true;",
                               &cs, &err),
                 WL_OK);
    CHECK_STR_EQ(cs.host, "localhost");
    CHECK_INT_EQ(cs.port, 5672);
    CHECK(!cs.tls);
    CHECK(cs.use_development_emulator);
    connstr_free(&cs);
}

TEST_CASE(port_overrides_default)
{
    connstr cs;
    wl_error err = {0};

    CHECK_INT_EQ(connstr_parse("endpoint=sb://localhost:40123/;sharedaccesskeyname=k;"
                               "SHAREDACCESSKEY=v;usedevelopmentemulator=TRUE",
                               &cs, &err),
                 WL_OK);
    CHECK_INT_EQ(cs.port, 40123);
    CHECK(cs.port_explicit);
    CHECK(!cs.tls);
    connstr_free(&cs);

    CHECK_INT_EQ(connstr_parse("Endpoint=amqps://broker:6000;SharedAccessKeyName=k;"
                               "SharedAccessKey=v",
                               &cs, &err),
                 WL_OK);
    CHECK(cs.tls);
    CHECK_INT_EQ(cs.port, 6000);
    connstr_free(&cs);

    CHECK_INT_EQ(connstr_parse("Endpoint=amqp://127.0.0.1;SharedAccessKeyName=guest;"
                               "SharedAccessKey=guest",
                               &cs, &err),
                 WL_OK);
    CHECK(!cs.tls);
    CHECK_INT_EQ(cs.port, 5672);
    connstr_free(&cs);
}

TEST_CASE(shared_access_signature)
{
    connstr cs;
    wl_error err = {0};

    CHECK_INT_EQ(
        connstr_parse(" Endpoint = sb://ns.servicebus.windows.net ; "
                      "SharedAccessSignature=SharedAccessSignature sr=a&sig=b%3D&se=1&skn=c",
                      &cs, &err),
        WL_OK);
    CHECK_STR_EQ(cs.host, "ns.servicebus.windows.net");
    CHECK_STR_EQ(cs.shared_access_signature, "SharedAccessSignature sr=a&sig=b%3D&se=1&skn=c");
    CHECK(cs.key == NULL);
    connstr_free(&cs);
}

TEST_CASE(unknown_keys_ignored)
{
    connstr cs;
    wl_error err = {0};

    CHECK_INT_EQ(connstr_parse("Endpoint=sb://h;TransportType=Amqp;SharedAccessKeyName=k;"
                               "SharedAccessKey=v",
                               &cs, &err),
                 WL_OK);
    CHECK_STR_EQ(cs.key, "v");
    connstr_free(&cs);
}

/* Each invalid string must fail with a message that names what is wrong, not the secret. */
TEST_CASE(invalid_strings)
{
    static const struct {
        const char *text;
        const char *expected_in_message;
    } cases[] = {
        {"", "empty"},
        {"SharedAccessKeyName=k;SharedAccessKey=v", "no Endpoint"},
        {"Endpoint=ns.servicebus.windows.net;SharedAccessKeyName=k;SharedAccessKey=v",
         "expected sb://"},
        {"Endpoint=http://h;SharedAccessKeyName=k;SharedAccessKey=v", "scheme"},
        {"Endpoint=sb://;SharedAccessKeyName=k;SharedAccessKey=v", "host is empty"},
        {"Endpoint=sb://h:0;SharedAccessKeyName=k;SharedAccessKey=v", "port"},
        {"Endpoint=sb://h:70000;SharedAccessKeyName=k;SharedAccessKey=v", "port"},
        {"Endpoint=sb://h:12ab;SharedAccessKeyName=k;SharedAccessKey=v", "port"},
        {"Endpoint=sb://h:+5671;SharedAccessKeyName=k;SharedAccessKey=v", "port"},
        {"Endpoint=sb://h: 5671;SharedAccessKeyName=k;SharedAccessKey=v", "port"},
        {"Endpoint=sb://bad host;SharedAccessKeyName=k;SharedAccessKey=v",
         "invalid host \"bad host\""},
        {"Endpoint=sb://user@h;SharedAccessKeyName=k;SharedAccessKey=v",
         "user information before '@'"},
        {"Endpoint=sb://user:topsecret@h:5671/;SharedAccessKeyName=k;SharedAccessKey=v",
         "Endpoint \"sb://***@h:5671/\""},
        {"Endpoint=amqp://[::1]:1@h;SharedAccessKeyName=k;SharedAccessKey=v",
         "user information before '@'"},
        {"Endpoint=sb://h;SharedAccessKeyName=k;SharedAccessKey=v;UseDevelopmentEmulator=false;"
         "UseDevelopmentEmulator=true",
         "sets UseDevelopmentEmulator twice"},
        {"Endpoint=sb://h?x=1;SharedAccessKeyName=k;SharedAccessKey=v", "invalid host"},
        {"Endpoint=sb://[::1:5672;SharedAccessKeyName=k;SharedAccessKey=v", "invalid host"},
        {"Endpoint=sb://h;SharedAccessKey=topsecret", "no SharedAccessKeyName"},
        {"Endpoint=sb://h;SharedAccessKeyName=k", "no SharedAccessKey"},
        {"Endpoint=sb://h;SharedAccessKeyName=k;SharedAccessKey=", "empty SharedAccessKey"},
        {"Endpoint=sb://h;SharedAccessKeyName=k;SharedAccessKey=topsecret;"
         "SharedAccessSignature=x",
         "both"},
        {"Endpoint=sb://h;Endpoint=sb://g;SharedAccessKeyName=k;SharedAccessKey=v", "twice"},
        {"Endpoint=sb://h;SharedAccessKeyName=k;SharedAccessKey=v;UseDevelopmentEmulator=maybe",
         "UseDevelopmentEmulator"},
        {"Endpoint=sb://h;topsecret;SharedAccessKeyName=k;SharedAccessKey=v", "not KEY=VALUE"},
        {"Endpoint=amqps://h;SharedAccessKeyName=k;SharedAccessKey=topsecret;"
         "UseDevelopmentEmulator=true",
         "Endpoint \"amqps://h\", which requests TLS, and UseDevelopmentEmulator=true"},
        {"Endpoint=AMQPS://h:5671/;SharedAccessKeyName=k;SharedAccessKey=topsecret;"
         "UseDevelopmentEmulator=true",
         "remove UseDevelopmentEmulator"},
    };

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        connstr cs;
        wl_error err = {0};

        CHECK_INT_EQ(connstr_parse(cases[i].text, &cs, &err), WL_ERR_INVALID);
        if (strstr(err.message, cases[i].expected_in_message) == NULL) {
            fprintf(stderr, "case %zu: \"%s\" lacks \"%s\"\n", i, err.message,
                    cases[i].expected_in_message);
            check_failures++;
        }
        if (strstr(err.message, "topsecret") != NULL) {
            fprintf(stderr, "case %zu leaks the secret: %s\n", i, err.message);
            check_failures++;
        }
        CHECK(cs.host == NULL);
    }
}

/* The host check accepts the names that DNS and getaddrinfo accept, and rejects names that
 * would only fail when they are resolved. */
TEST_CASE(host_names_checked)
{
    static const char *const valid[] = {
        "localhost", "ns1.servicebus.windows.net", "127.0.0.1", "a-b.c_d", "fqdn.example.", "x"};
    static const char *const invalid[] = {"",      ".",      "bad host", "a..b",  "-a.b",
                                          "a-.b",  "a/b",    "user@h",   "h?x=1", "::1",
                                          "[::1]", "h\tost", "é.com",    "a b."};
    char long_label[80];
    char long_name[300];

    for (size_t i = 0; i < sizeof valid / sizeof valid[0]; i++) {
        if (!connstr_host_valid(valid[i], strlen(valid[i]))) {
            fprintf(stderr, "rejected \"%s\"\n", valid[i]);
        }
        CHECK(connstr_host_valid(valid[i], strlen(valid[i])));
    }
    for (size_t i = 0; i < sizeof invalid / sizeof invalid[0]; i++) {
        if (connstr_host_valid(invalid[i], strlen(invalid[i]))) {
            fprintf(stderr, "accepted \"%s\"\n", invalid[i]);
        }
        CHECK(!connstr_host_valid(invalid[i], strlen(invalid[i])));
    }

    /* Only the first `length` bytes count: "host" of "host:5671". */
    CHECK(connstr_host_valid("host:5671", 4));

    /* A label has at most 63 bytes and a name at most 253. */
    memset(long_label, 'a', 63);
    long_label[63] = '\0';
    CHECK(connstr_host_valid(long_label, 63));
    long_label[63] = 'a';
    CHECK(!connstr_host_valid(long_label, 64));
    for (size_t i = 0; i < sizeof long_name; i++) {
        long_name[i] = i % 4 == 3 ? '.' : 'a';
    }
    CHECK(connstr_host_valid(long_name, 251));
    CHECK(!connstr_host_valid(long_name, 255));
}

/* An IPv6 address in brackets, as RFC 3986 writes it, gives the address without them. */
TEST_CASE(ipv6_endpoint_in_brackets)
{
    static const struct {
        const char *endpoint;
        const char *host;
        unsigned port;
    } valid[] = {
        {"sb://[::1]:5673", "::1", 5673},
        {"sb://[::1]", "::1", 5672},
        {"amqps://[2001:db8::7]:5671/", "2001:db8::7", 5671},
        {"amqp://[::ffff:127.0.0.1]/", "::ffff:127.0.0.1", 5672},
    };
    static const char *const invalid[] = {"sb://[::1",   "sb://[]:1", "sb://[localhost]:1",
                                          "sb://[::1]x", "sb://::1",  "sb://[::1]:0"};
    char text[256];
    connstr cs;
    wl_error err = {0};

    for (size_t i = 0; i < sizeof valid / sizeof valid[0]; i++) {
        snprintf(text, sizeof text,
                 "Endpoint=%s;SharedAccessKeyName=k;SharedAccessKey=v;UseDevelopmentEmulator=%s",
                 valid[i].endpoint, strncmp(valid[i].endpoint, "sb:", 3) == 0 ? "true" : "false");
        wl_error_clear(&err);
        CHECK_INT_EQ(connstr_parse(text, &cs, &err), WL_OK);
        if (cs.host != NULL) {
            CHECK_STR_EQ(cs.host, valid[i].host);
            CHECK_INT_EQ(cs.port, valid[i].port);
        }
        connstr_free(&cs);
    }
    for (size_t i = 0; i < sizeof invalid / sizeof invalid[0]; i++) {
        snprintf(text, sizeof text, "Endpoint=%s;SharedAccessKeyName=k;SharedAccessKey=v",
                 invalid[i]);
        wl_error_clear(&err);
        CHECK_INT_EQ(connstr_parse(text, &cs, &err), WL_ERR_INVALID);
        if (strstr(err.message, invalid[i]) == NULL) {
            fprintf(stderr, "the message does not name %s: %s\n", invalid[i], err.message);
            check_failures++;
        }
    }
}

/* amqps:// requests TLS and the emulator flag plain TCP. Keeping TLS is offered only for a DNS
 * name, because TLS to an IP address fails Proton-C's certificate check. */
TEST_CASE(emulator_flag_with_amqps)
{
    static const struct {
        const char *endpoint;
        bool offers_tls;
    } cases[] = {
        {"amqps://localhost:5671", true},  {"AMQPS://ns.servicebus.windows.net/", true},
        {"amqps://127.0.0.1:5671", false}, {"amqps://[::1]:5671", false},
        {"amqps://127.1", false},
    };
    char text[256];

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        connstr cs;
        wl_error err = {0};

        snprintf(text, sizeof text,
                 "Endpoint=%s;SharedAccessKeyName=k;SharedAccessKey=v;UseDevelopmentEmulator=true",
                 cases[i].endpoint);
        CHECK_INT_EQ(connstr_parse(text, &cs, &err), WL_ERR_INVALID);
        CHECK(strstr(err.message, "use sb:// or amqp:// for the development emulator") != NULL);
        bool offers_tls = strstr(err.message, "remove UseDevelopmentEmulator") != NULL;
        if (offers_tls != cases[i].offers_tls) {
            fprintf(stderr, "%s: %s\n", cases[i].endpoint, err.message);
        }
        CHECK(offers_tls == cases[i].offers_tls);
        connstr_free(&cs);
    }
}

TEST_MAIN(TEST_ENTRY(cloud_sas_key), TEST_ENTRY(emulator_plain_tcp),
          TEST_ENTRY(port_overrides_default), TEST_ENTRY(shared_access_signature),
          TEST_ENTRY(unknown_keys_ignored), TEST_ENTRY(invalid_strings),
          TEST_ENTRY(host_names_checked), TEST_ENTRY(ipv6_endpoint_in_brackets),
          TEST_ENTRY(emulator_flag_with_amqps))
