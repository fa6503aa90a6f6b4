/*
 * Fuzzes connstr_parse. An accepted connection string must give a host that
 * connstr_host_valid or connstr_ipv6_valid accepts, a port, and either SharedAccessSignature or
 * SharedAccessKeyName with SharedAccessKey, none of them empty. A rejected one must give the
 * same message when the values of SharedAccessKey and SharedAccessSignature are masked, so
 * that the message cannot show a secret.
 */
#include "connstr.h"
#include "fuzz.h"

#include <ctype.h>
#include <strings.h>

/*
 * Returns a copy of `text` in which the value of every SharedAccessKey and
 * SharedAccessSignature pair is overwritten with as many 'k' bytes, found by a plain split
 * at ';' and the first '='. Caller frees.
 */
static char *mask_secrets(const char *text)
{
    char *masked = strdup(text);

    FUZZ_CHECK(masked != NULL);
    for (size_t at = 0; masked[at] != '\0';) {
        size_t pair_length = strcspn(masked + at, ";");
        char *pair = masked + at;
        char *equals = memchr(pair, '=', pair_length);

        if (equals != NULL) {
            size_t key_first = 0;
            size_t key_last = (size_t)(equals - pair);
            while (key_first < key_last && isspace((unsigned char)pair[key_first])) {
                key_first++;
            }
            while (key_last > key_first && isspace((unsigned char)pair[key_last - 1])) {
                key_last--;
            }
            size_t key_length = key_last - key_first;
            bool secret =
                (key_length == 15 && strncasecmp(pair + key_first, "SharedAccessKey", 15) == 0) ||
                (key_length == 21 &&
                 strncasecmp(pair + key_first, "SharedAccessSignature", 21) == 0);
            for (char *p = equals + 1; secret && p < pair + pair_length; p++) {
                if (!isspace((unsigned char)*p)) {
                    *p = 'k';
                }
            }
        }
        at += pair_length;
        if (masked[at] == ';') {
            at++;
        }
    }
    return masked;
}

/* Fails the run when the error for `text` differs from the error for `text` with its secret
 * values masked, as it then depends on, and may show, a secret. */
static void check_secrets_hidden(const char *text, const wl_error *err)
{
    char *masked = mask_secrets(text);
    connstr parsed;
    wl_error masked_err = {0};

    FUZZ_CHECK(connstr_parse(masked, &parsed, &masked_err) == err->status);
    FUZZ_CHECK(strcmp(masked_err.message, err->message) == 0);
    free(masked);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = fuzz_text(data, size);
    connstr parsed;
    wl_error err = {0};

    if (connstr_parse(text, &parsed, &err) != WL_OK) {
        FUZZ_CHECK(err.status == WL_ERR_INVALID && err.message[0] != '\0');
        FUZZ_CHECK(parsed.host == NULL && parsed.key == NULL);
        check_secrets_hidden(text, &err);
        free(text);
        return 0;
    }
    FUZZ_CHECK(parsed.host != NULL && parsed.host[0] != '\0');
    FUZZ_CHECK(connstr_host_valid(parsed.host, strlen(parsed.host)) ||
               connstr_ipv6_valid(parsed.host, strlen(parsed.host)));
    FUZZ_CHECK(parsed.port != 0);
    FUZZ_CHECK(parsed.port_explicit || parsed.port == (parsed.tls ? 5671 : 5672));
    FUZZ_CHECK(!parsed.use_development_emulator || !parsed.tls);
    if (parsed.shared_access_signature != NULL) {
        FUZZ_CHECK(parsed.shared_access_signature[0] != '\0');
        FUZZ_CHECK(parsed.key_name == NULL && parsed.key == NULL);
    } else {
        FUZZ_CHECK(parsed.key_name != NULL && parsed.key_name[0] != '\0');
        FUZZ_CHECK(parsed.key != NULL && parsed.key[0] != '\0');
    }
    FUZZ_CHECK(parsed.entity_path == NULL || parsed.entity_path[0] != '\0');
    connstr_free(&parsed);
    free(text);
    return 0;
}
