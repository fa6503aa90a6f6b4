#include "sbe_sasl.h"

#include "encoding.h"

#include <proton/sasl.h>
#include <proton/sasl_plugin.h>

#include <stdio.h>
#include <string.h>

static void sasl_free(pn_transport_t *transport)
{
    /* The context belongs to the connection, which frees it. */
    (void)transport;
}

static const char *sasl_list_mechanisms(pn_transport_t *transport)
{
    (void)transport;
    return "MSSBCBS PLAIN ANONYMOUS";
}

static bool sasl_init_server(pn_transport_t *transport)
{
    pnx_sasl_set_desired_state(transport, SASL_POSTED_MECHANISMS);
    return true;
}

static bool sasl_init_client(pn_transport_t *transport)
{
    (void)transport;
    return false;
}

static void sasl_prepare_write(pn_transport_t *transport)
{
    (void)transport;
}

static bool equal_text(const char *expected, const char *actual, size_t actual_length)
{
    size_t expected_length = strlen(expected);

    return expected_length == actual_length &&
           wl_equal_constant_time(expected, actual, actual_length);
}

/* PLAIN (RFC 4616) sends authzid NUL authcid NUL password. */
static bool plain_credentials_match(const sbe_sasl_context *context, const pn_bytes_t *recv)
{
    const char *start = recv->start;
    size_t size = recv->size;
    const char *first_nul = memchr(start, '\0', size);

    if (first_nul == NULL) {
        return false;
    }
    const char *user = first_nul + 1;
    size_t rest = size - (size_t)(user - start);
    const char *second_nul = memchr(user, '\0', rest);
    if (second_nul == NULL) {
        return false;
    }
    const char *password = second_nul + 1;
    size_t password_length = size - (size_t)(password - start);
    return equal_text(context->key_name, user, (size_t)(second_nul - user)) &
           equal_text(context->key, password, password_length);
}

static void sasl_process_init(pn_transport_t *transport, const char *mechanism,
                              const pn_bytes_t *recv)
{
    sbe_sasl_context *context = pnx_sasl_get_context(transport);

    snprintf(context->mechanism, sizeof context->mechanism, "%s", mechanism);
    if (strcmp(mechanism, "ANONYMOUS") == 0 || strcmp(mechanism, "MSSBCBS") == 0) {
        pnx_sasl_set_succeeded(transport, "anonymous", NULL);
    } else if (strcmp(mechanism, "PLAIN") == 0 && plain_credentials_match(context, recv)) {
        context->plain_authenticated = true;
        pnx_sasl_set_succeeded(transport, context->key_name, NULL);
    } else {
        pnx_sasl_set_failed(transport);
    }
    pnx_sasl_set_desired_state(transport, SASL_POSTED_OUTCOME);
}

static void sasl_process_response(pn_transport_t *transport, const pn_bytes_t *recv)
{
    (void)transport;
    (void)recv;
}

static bool sasl_process_mechanisms(pn_transport_t *transport, const char *mechanisms)
{
    (void)transport;
    (void)mechanisms;
    return false;
}

static void sasl_process_challenge(pn_transport_t *transport, const pn_bytes_t *recv)
{
    (void)transport;
    (void)recv;
}

static void sasl_process_outcome(pn_transport_t *transport, const pn_bytes_t *recv)
{
    (void)transport;
    (void)recv;
}

static bool sasl_can_encrypt(pn_transport_t *transport)
{
    (void)transport;
    return false;
}

static ssize_t sasl_max_encrypt_size(pn_transport_t *transport)
{
    (void)transport;
    return 0;
}

static ssize_t sasl_encode(pn_transport_t *transport, pn_bytes_t in, pn_bytes_t *out)
{
    (void)transport;
    (void)in;
    (void)out;
    return 0;
}

static ssize_t sasl_decode(pn_transport_t *transport, pn_bytes_t in, pn_bytes_t *out)
{
    (void)transport;
    (void)in;
    (void)out;
    return 0;
}

static const pnx_sasl_implementation server_sasl = {
    .free = sasl_free,
    .list_mechanisms = sasl_list_mechanisms,
    .init_server = sasl_init_server,
    .init_client = sasl_init_client,
    .prepare_write = sasl_prepare_write,
    .process_init = sasl_process_init,
    .process_response = sasl_process_response,
    .process_mechanisms = sasl_process_mechanisms,
    .process_challenge = sasl_process_challenge,
    .process_outcome = sasl_process_outcome,
    .can_encrypt = sasl_can_encrypt,
    .max_encrypt_size = sasl_max_encrypt_size,
    .encode = sasl_encode,
    .decode = sasl_decode,
};

void sbe_sasl_configure(pn_transport_t *transport, sbe_sasl_context *context)
{
    pn_sasl_t *sasl = pn_sasl(transport);

    pnx_sasl_set_implementation(transport, &server_sasl, context);
    pn_sasl_allowed_mechs(sasl, "MSSBCBS PLAIN ANONYMOUS");
    pn_sasl_set_allow_insecure_mechs(sasl, true);
}
