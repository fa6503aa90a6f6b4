#include "credential.h"

#include "encoding.h"
#include "log.h"
#include "sas.h"
#include "timefmt.h"

#include <cjson/cJSON.h>
#include <curl/curl.h>

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

typedef enum cred_kind_id {
    CRED_SAS,
    CRED_SAS_STATIC,
    CRED_WORKLOAD_IDENTITY,
} cred_kind_id;

struct cred {
    cred_kind_id kind;
    const wl_clock *clock;

    /* CRED_SAS */
    char *key_name;
    char *key;
    int64_t validity_s;

    /* CRED_SAS_STATIC */
    char *signature;
    int64_t signature_expiry;

    /* CRED_WORKLOAD_IDENTITY: the options, and the cached token guarded by `lock`. */
    char *authority_host;
    char *token_url;
    char *client_id;
    char *token_file;
    char *scope;
    char *ca_file;
    int64_t request_timeout_ms;
    unsigned max_attempts;
    backoff_policy backoff;
    const backoff_random *random;
    pthread_mutex_t lock;
    cred_token cached;
    atomic_uint_fast64_t exchanges;

    /* Background refresh (cred_start_background_refresh), guarded by `lock`. */
    bool background;
    pthread_t refresher;
    pthread_cond_t wake;   /* broadcast after each exchange and to stop the refresher */
    bool exchanged;        /* the first exchange has finished */
    atomic_bool stopping;  /* read by curl's progress callback without the lock */
    wl_error last_failure; /* the last failed exchange, until one succeeds */
};

void cred_token_free(cred_token *token)
{
    wl_free_secret(token->token);
    memset(token, 0, sizeof *token);
}

int64_t cred_refresh_at_unix(int64_t issued_at_unix, int64_t expires_at_unix)
{
    int64_t lifetime = expires_at_unix - issued_at_unix;

    if (lifetime < 1200) {
        return issued_at_unix + lifetime / 2;
    }
    return expires_at_unix - 600;
}

static int64_t now_unix(const cred *credential)
{
    return wl_clock_realtime_us(credential->clock) / 1000000;
}

static cred *cred_new(cred_kind_id kind, const wl_clock *clock)
{
    cred *credential = wl_xcalloc(1, sizeof *credential);

    credential->kind = kind;
    credential->clock = clock != NULL ? clock : wl_clock_system();
    pthread_mutex_init(&credential->lock, NULL);
    return credential;
}

cred *cred_sas_create(const char *key_name, const char *key, int64_t validity_s,
                      const wl_clock *clock)
{
    cred *credential = cred_new(CRED_SAS, clock);

    credential->key_name = wl_xstrdup(key_name);
    credential->key = wl_xstrdup(key);
    credential->validity_s = validity_s > 0 ? validity_s : 3600;
    return credential;
}

cred *cred_sas_static_create(const char *signature, wl_error *err)
{
    sas_token_fields fields = {0};
    cred *credential;

    if (sas_token_parse(signature, &fields, err) != WL_OK) {
        return NULL;
    }
    credential = cred_new(CRED_SAS_STATIC, NULL);
    credential->signature = wl_xstrdup(signature);
    credential->signature_expiry = fields.expiry_unix_seconds;
    sas_token_fields_free(&fields);
    return credential;
}

static wl_status get_sas(cred *credential, const char *audience, cred_token *out, wl_error *err)
{
    int64_t now = now_unix(credential);
    int64_t expiry = now + credential->validity_s;

    out->token = sas_token_create(audience, credential->key_name, credential->key, expiry, err);
    if (out->token == NULL) {
        return err != NULL && err->status != WL_OK ? err->status : WL_ERR_INVALID;
    }
    out->type = CRED_TYPE_SAS;
    out->expires_at_unix = expiry;
    out->refresh_at_unix = cred_refresh_at_unix(now, expiry);
    return WL_OK;
}

static wl_status get_sas_static(cred *credential, cred_token *out, wl_error *err)
{
    int64_t now = now_unix(credential);
    char expired_at[WL_ISO8601_SIZE];

    if (credential->signature_expiry <= now) {
        wl_format_iso8601(credential->signature_expiry * 1000, expired_at);
        return wl_error_set(err, WL_ERR_AUTH,
                            "the SharedAccessSignature in the connection string expired at %s; "
                            "issue a new one",
                            expired_at);
    }
    out->token = wl_xstrdup(credential->signature);
    out->type = CRED_TYPE_SAS;
    out->expires_at_unix = credential->signature_expiry;
    /* Nothing can renew a given signature, so holders keep it until it expires. */
    out->refresh_at_unix = credential->signature_expiry;
    return WL_OK;
}

/* ---- workload identity ---- */

typedef struct response_body {
    char *data;
    size_t length;
} response_body;

static size_t collect_body(char *data, size_t size, size_t count, void *user)
{
    response_body *body = user;
    size_t length = size * count;

    /* Token responses are a few kilobytes; cap what a broken endpoint can make us hold. */
    if (body->length + length > 1024 * 1024) {
        return 0;
    }
    body->data = wl_xrealloc(body->data, body->length + length + 1);
    memcpy(body->data + body->length, data, length);
    body->length += length;
    body->data[body->length] = '\0';
    return length;
}

static wl_status read_token_file(const char *path, char **out_assertion, wl_error *err)
{
    FILE *file = fopen(path, "rb");
    char *data = NULL;
    size_t length = 0;
    char chunk[4096];
    size_t got;

    if (file == NULL) {
        return wl_error_set(err, WL_ERR_AUTH,
                            "cannot read the federated token file %s (AZURE_FEDERATED_TOKEN_FILE): "
                            "%s",
                            path, strerror(errno));
    }
    while ((got = fread(chunk, 1, sizeof chunk, file)) > 0 && length < 1024 * 1024) {
        data = wl_xrealloc(data, length + got + 1);
        memcpy(data + length, chunk, got);
        length += got;
    }
    fclose(file);
    while (length > 0 &&
           (data[length - 1] == '\n' || data[length - 1] == '\r' || data[length - 1] == ' ')) {
        length--;
    }
    if (length == 0) {
        free(data);
        return wl_error_set(err, WL_ERR_AUTH,
                            "the federated token file %s (AZURE_FEDERATED_TOKEN_FILE) is empty",
                            path);
    }
    data[length] = '\0';
    *out_assertion = data;
    return WL_OK;
}

static char *build_form(const cred *credential, const char *assertion)
{
    char *client_id = wl_url_encode(credential->client_id);
    char *scope = wl_url_encode(credential->scope);
    char *encoded_assertion = wl_url_encode(assertion);
    char *form =
        wl_xasprintf("client_id=%s&scope=%s&grant_type=client_credentials&client_assertion_type="
                     "urn%%3Aietf%%3Aparams%%3Aoauth%%3Aclient-assertion-type%%3Ajwt-bearer"
                     "&client_assertion=%s",
                     client_id, scope, encoded_assertion);

    free(client_id);
    free(scope);
    wl_free_secret(encoded_assertion);
    return form;
}

/* Reads expires_in, which Entra sends as a number and some endpoints as a string. */
static bool read_expires_in(const cJSON *reply, int64_t *out_seconds)
{
    const cJSON *field = cJSON_GetObjectItemCaseSensitive(reply, "expires_in");

    if (cJSON_IsNumber(field) && field->valuedouble > 0) {
        *out_seconds = (int64_t)field->valuedouble;
        return true;
    }
    if (cJSON_IsString(field)) {
        char *end = NULL;
        long long value = strtoll(field->valuestring, &end, 10);
        if (end != field->valuestring && *end == '\0' && value > 0) {
            *out_seconds = value;
            return true;
        }
    }
    return false;
}

/* Turns an OAuth error reply into WL_ERR_AUTH with the AADSTS text kept whole. */
static wl_status oauth_error(const cred *credential, long http_status, const cJSON *reply,
                             wl_error *err)
{
    const cJSON *code = cJSON_GetObjectItemCaseSensitive(reply, "error");
    const cJSON *description = cJSON_GetObjectItemCaseSensitive(reply, "error_description");
    const char *code_text = cJSON_IsString(code) ? code->valuestring : "unknown_error";
    char first_line[400] = "no error_description";

    if (cJSON_IsString(description)) {
        snprintf(first_line, sizeof first_line, "%s", description->valuestring);
        first_line[strcspn(first_line, "\r\n")] = '\0';
    }
    wl_status status = wl_error_set_condition(
        err, http_status >= 500 || http_status == 429 ? WL_ERR_UNAVAILABLE : WL_ERR_AUTH, code_text,
        "token request to %s was rejected (HTTP %ld, %s): %s", credential->token_url, http_status,
        code_text, first_line);
    if (err != NULL) {
        err->http_status = (int)http_status;
    }
    return status;
}

static wl_status parse_token_reply(const cred *credential, long http_status,
                                   const response_body *body, int64_t now, cred_token *out,
                                   wl_error *err)
{
    cJSON *reply = body->data != NULL ? cJSON_Parse(body->data) : NULL;
    wl_status status = WL_OK;
    int64_t expires_in = 0;

    if (http_status != 200) {
        if (reply == NULL) {
            status = wl_error_set(
                err, http_status >= 500 || http_status == 429 ? WL_ERR_UNAVAILABLE : WL_ERR_AUTH,
                "token request to %s failed with HTTP %ld and no JSON body", credential->token_url,
                http_status);
            if (err != NULL) {
                err->http_status = (int)http_status;
            }
        } else {
            status = oauth_error(credential, http_status, reply, err);
        }
        goto out;
    }
    const cJSON *access_token = cJSON_GetObjectItemCaseSensitive(reply, "access_token");
    if (!cJSON_IsString(access_token) || *access_token->valuestring == '\0') {
        status = wl_error_set(err, WL_ERR_PROTOCOL, "token reply from %s has no access_token",
                              credential->token_url);
        goto out;
    }
    if (!read_expires_in(reply, &expires_in)) {
        status = wl_error_set(err, WL_ERR_PROTOCOL, "token reply from %s has no valid expires_in",
                              credential->token_url);
        goto out;
    }
    out->token = wl_xstrdup(access_token->valuestring);
    out->type = CRED_TYPE_JWT;
    out->expires_at_unix = now + expires_in;
    out->refresh_at_unix = cred_refresh_at_unix(now, now + expires_in);

out:
    if (reply != NULL) {
        /* The parsed tree contains the access token, so wipe it before freeing. */
        const cJSON *access = cJSON_GetObjectItemCaseSensitive(reply, "access_token");
        if (cJSON_IsString(access)) {
            memset(access->valuestring, 0, strlen(access->valuestring));
        }
        cJSON_Delete(reply);
    }
    return status;
}

/* Ends an exchange in progress once cred_destroy stops the background refresh. */
static int abort_when_stopping(void *ctx, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                               curl_off_t ulnow)
{
    cred *credential = ctx;

    (void)dltotal;
    (void)dlnow;
    (void)ultotal;
    (void)ulnow;
    return atomic_load(&credential->stopping) ? 1 : 0;
}

/* One POST to the token endpoint. */
static wl_status exchange_once(cred *credential, cred_token *out, wl_error *err)
{
    char *assertion = NULL;
    char *form = NULL;
    response_body body = {0};
    char curl_error[CURL_ERROR_SIZE] = "";
    CURL *curl = NULL;
    long http_status = 0;
    wl_status status;

    status = read_token_file(credential->token_file, &assertion, err);
    if (status != WL_OK) {
        goto out;
    }
    form = build_form(credential, assertion);

    curl = curl_easy_init();
    if (curl == NULL) {
        status = wl_error_set(err, WL_ERR_IO, "curl_easy_init failed");
        goto out;
    }
    curl_easy_setopt(curl, CURLOPT_URL, credential->token_url);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, form);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, collect_body);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &body);
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, curl_error);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, (long)credential->request_timeout_ms);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, abort_when_stopping);
    curl_easy_setopt(curl, CURLOPT_XFERINFODATA, credential);
    curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
    if (credential->ca_file != NULL) {
        curl_easy_setopt(curl, CURLOPT_CAINFO, credential->ca_file);
    }

    atomic_fetch_add(&credential->exchanges, 1);
    int64_t started = now_unix(credential);
    CURLcode code = curl_easy_perform(curl);
    if (code != CURLE_OK) {
        status = wl_error_set(err, code == CURLE_OPERATION_TIMEDOUT ? WL_ERR_TIMEOUT : WL_ERR_IO,
                              "token request to %s failed: %s", credential->token_url,
                              curl_error[0] != '\0' ? curl_error : curl_easy_strerror(code));
        goto out;
    }
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &http_status);
    status = parse_token_reply(credential, http_status, &body, started, out, err);

out:
    if (curl != NULL) {
        curl_easy_cleanup(curl);
    }
    wl_free_secret(assertion);
    wl_free_secret(form);
    free(body.data);
    return status;
}

static bool exchange_is_retryable(wl_status status)
{
    return status == WL_ERR_IO || status == WL_ERR_TIMEOUT || status == WL_ERR_UNAVAILABLE ||
           status == WL_ERR_PROTOCOL;
}

/* Exchanges the federated token, retrying transient failures; called with `lock` held. */
static wl_status exchange(cred *credential, wl_error *err)
{
    wl_status status = WL_OK;

    for (unsigned attempt = 0; attempt < credential->max_attempts; attempt++) {
        wl_error attempt_err = {0};
        cred_token fresh = {0};

        status = exchange_once(credential, &fresh, &attempt_err);
        if (status == WL_OK) {
            cred_token_free(&credential->cached);
            credential->cached = fresh;
            return WL_OK;
        }
        if (!exchange_is_retryable(status) || attempt + 1 == credential->max_attempts) {
            if (err != NULL && err->status == WL_OK) {
                *err = attempt_err;
                if (attempt > 0) {
                    size_t used = strlen(err->message);
                    snprintf(err->message + used, sizeof err->message - used,
                             " (after %u attempts)", attempt + 1);
                }
            }
            return status;
        }
        credential->clock->sleep_ms(
            credential->clock->ctx,
            backoff_delay_ms(&credential->backoff, attempt, credential->random));
    }
    return status;
}

/* Returns the cached token while it is valid, without an exchange; called with `lock` held. */
static wl_status get_cached(cred *credential, cred_token *out, wl_error *err)
{
    if (credential->cached.token != NULL &&
        now_unix(credential) < credential->cached.expires_at_unix) {
        *out = credential->cached;
        out->token = wl_xstrdup(credential->cached.token);
        return WL_OK;
    }
    if (credential->last_failure.status != WL_OK) {
        if (err != NULL) {
            *err = credential->last_failure;
        }
        return credential->last_failure.status;
    }
    return wl_error_set(err, WL_ERR_UNAVAILABLE,
                        "no valid Entra token: the exchange with %s is still in progress",
                        credential->token_url);
}

static wl_status get_workload_identity(cred *credential, cred_token *out, wl_error *err)
{
    wl_status status = WL_OK;

    pthread_mutex_lock(&credential->lock);
    if (credential->background) {
        status = get_cached(credential, out, err);
        pthread_mutex_unlock(&credential->lock);
        return status;
    }
    if (credential->cached.token == NULL ||
        now_unix(credential) >= credential->cached.refresh_at_unix) {
        status = exchange(credential, err);
        /* A failed refresh keeps serving a token that has not expired yet. */
        if (status != WL_OK && credential->cached.token != NULL &&
            now_unix(credential) < credential->cached.expires_at_unix) {
            status = WL_OK;
            if (err != NULL) {
                wl_error_clear(err);
            }
        }
    }
    if (status == WL_OK) {
        *out = credential->cached;
        out->token = wl_xstrdup(credential->cached.token);
    }
    pthread_mutex_unlock(&credential->lock);
    return status;
}

/*
 * Waits until `deadline_unix` on the credential's clock, or until cred_destroy stops the
 * refresher; called with `lock` held. Returns false when stopping. Each wait lasts at most a
 * minute of real time, so a clock that jumps is noticed.
 */
static bool wait_until(cred *credential, int64_t deadline_unix)
{
    while (!atomic_load(&credential->stopping)) {
        int64_t left_s = deadline_unix - now_unix(credential);
        if (left_s <= 0) {
            return true;
        }
        struct timespec until;
        clock_gettime(CLOCK_MONOTONIC, &until);
        until.tv_sec += left_s < 60 ? left_s : 60;
        pthread_cond_timedwait(&credential->wake, &credential->lock, &until);
    }
    return false;
}

/*
 * The refresher: exchanges the token at its refresh time, and after a failure again with
 * backoff, until cred_destroy stops it. The lock is released during each exchange, so
 * cred_get_token keeps returning the cached token meanwhile.
 */
static void *refresh_in_background(void *arg)
{
    cred *credential = arg;
    unsigned failures = 0;
    int64_t not_before = 0; /* the second after the last success, so short lifetimes cannot spin */

    pthread_mutex_lock(&credential->lock);
    for (;;) {
        int64_t due = credential->cached.token != NULL ? credential->cached.refresh_at_unix : 0;
        if (!wait_until(credential, due > not_before ? due : not_before)) {
            break;
        }

        cred_token fresh = {0};
        wl_error failure = {0};
        pthread_mutex_unlock(&credential->lock);
        wl_status status = exchange_once(credential, &fresh, &failure);
        pthread_mutex_lock(&credential->lock);
        credential->exchanged = true;
        pthread_cond_broadcast(&credential->wake);
        if (atomic_load(&credential->stopping)) {
            cred_token_free(&fresh);
            break;
        }

        if (status == WL_OK) {
            cred_token_free(&credential->cached);
            credential->cached = fresh;
            wl_error_clear(&credential->last_failure);
            failures = 0;
            not_before = now_unix(credential) + 1;
            continue;
        }
        credential->last_failure = failure;
        int64_t delay_ms = backoff_delay_ms(&credential->backoff, failures, credential->random);
        failures++;
        LOG_WARN("token-refresh-failed", "%s; next attempt in %lld ms", failure.message,
                 (long long)delay_ms);
        /* Whole seconds on the credential's clock: at least one, so a failure cannot spin. */
        int64_t wait_s = (delay_ms + 999) / 1000;
        if (!wait_until(credential, now_unix(credential) + (wait_s > 0 ? wait_s : 1))) {
            break;
        }
    }
    pthread_mutex_unlock(&credential->lock);
    return NULL;
}

wl_status cred_start_background_refresh(cred *credential, wl_error *err)
{
    if (credential->kind != CRED_WORKLOAD_IDENTITY) {
        return WL_OK;
    }

    pthread_mutex_lock(&credential->lock);
    if (credential->background) {
        pthread_mutex_unlock(&credential->lock);
        return WL_OK;
    }
    /* A token fetched before counts as the first exchange: the refresher then first waits for
     * its refresh time. */
    credential->exchanged = credential->cached.token != NULL;
    int error = pthread_create(&credential->refresher, NULL, refresh_in_background, credential);
    credential->background = error == 0;
    while (error == 0 && !credential->exchanged) {
        pthread_cond_wait(&credential->wake, &credential->lock);
    }
    pthread_mutex_unlock(&credential->lock);
    if (error != 0) {
        return wl_error_set(err, WL_ERR_IO, "starting the token refresh thread failed: %s",
                            strerror(error));
    }
    return WL_OK;
}

wl_status cred_wi_options_from_env(cred_wi_options *options, const char *(*getenv_fn)(const char *),
                                   wl_error *err)
{
    static const char *const names[] = {"AZURE_AUTHORITY_HOST", "AZURE_TENANT_ID",
                                        "AZURE_CLIENT_ID", "AZURE_FEDERATED_TOKEN_FILE"};
    const char *values[4];

    for (size_t i = 0; i < 4; i++) {
        values[i] = getenv_fn != NULL ? getenv_fn(names[i]) : getenv(names[i]);
        /* The public cloud's authority is the default, as in the Azure SDKs. */
        if ((values[i] == NULL || *values[i] == '\0') && i == 0) {
            values[i] = "https://login.microsoftonline.com/";
        }
        if (values[i] == NULL || *values[i] == '\0') {
            return wl_error_set(err, WL_ERR_INVALID,
                                "%s is not set: workload identity needs AZURE_TENANT_ID, "
                                "AZURE_CLIENT_ID and AZURE_FEDERATED_TOKEN_FILE (the AKS webhook "
                                "injects them into pods labelled azure.workload.identity/use)",
                                names[i]);
        }
    }
    options->authority_host = values[0];
    options->tenant_id = values[1];
    options->client_id = values[2];
    options->token_file = values[3];
    return WL_OK;
}

cred *cred_workload_identity_create(const cred_wi_options *options, wl_error *err)
{
    cred *credential;
    const char *host = options->authority_host;

    if (host == NULL || options->tenant_id == NULL || options->client_id == NULL ||
        options->token_file == NULL || options->scope == NULL) {
        wl_error_set(err, WL_ERR_INVALID,
                     "workload identity needs an authority host, tenant id, client id, token "
                     "file and scope");
        return NULL;
    }
    /* URL schemes are case-insensitive (RFC 3986, section 3.1). */
    if (strncasecmp(host, "https://", 8) != 0 && strncasecmp(host, "http://", 7) != 0) {
        wl_error_set(err, WL_ERR_INVALID,
                     "invalid AZURE_AUTHORITY_HOST \"%s\": expected an https:// URL, or an "
                     "http:// URL for a local test endpoint",
                     host);
        return NULL;
    }

    credential = cred_new(CRED_WORKLOAD_IDENTITY, options->clock);
    pthread_condattr_t attributes;
    pthread_condattr_init(&attributes);
    pthread_condattr_setclock(&attributes, CLOCK_MONOTONIC);
    pthread_cond_init(&credential->wake, &attributes);
    pthread_condattr_destroy(&attributes);
    size_t host_length = strlen(host);
    /* The webhook sets the host with a trailing slash; accept it without one too. */
    credential->token_url = wl_xasprintf("%s%s%s/oauth2/v2.0/token", host,
                                         host_length > 0 && host[host_length - 1] == '/' ? "" : "/",
                                         options->tenant_id);
    credential->authority_host = wl_xstrdup(host);
    credential->client_id = wl_xstrdup(options->client_id);
    credential->token_file = wl_xstrdup(options->token_file);
    credential->scope = wl_xstrdup(options->scope);
    credential->ca_file = options->ca_file != NULL ? wl_xstrdup(options->ca_file) : NULL;
    credential->request_timeout_ms =
        options->request_timeout_ms > 0 ? options->request_timeout_ms : 10000;
    credential->max_attempts = options->max_attempts > 0 ? options->max_attempts : 4;
    credential->backoff =
        options->backoff.initial_ms > 0 ? options->backoff : backoff_policy_default();
    credential->random = options->random;
    return credential;
}

wl_status cred_get_token(cred *credential, const char *audience, cred_token *out, wl_error *err)
{
    memset(out, 0, sizeof *out);
    switch (credential->kind) {
    case CRED_SAS:
        return get_sas(credential, audience, out, err);
    case CRED_SAS_STATIC:
        return get_sas_static(credential, out, err);
    case CRED_WORKLOAD_IDENTITY:
        return get_workload_identity(credential, out, err);
    }
    return wl_error_set(err, WL_ERR_INVALID, "unknown credential kind");
}

void cred_warn_unencrypted(const cred *credential)
{
    /* Allowed for local token servers, but the federated token that proves the pod's identity
     * and the access token granted for it would cross the network readable by anyone on it. */
    if (credential == NULL || credential->kind != CRED_WORKLOAD_IDENTITY ||
        strncasecmp(credential->authority_host, "http://", 7) != 0) {
        return;
    }
    LOG_WARN("unencrypted-credential",
             "AZURE_AUTHORITY_HOST %s is plain HTTP, so the federated token and the access "
             "token for scope %s travel unencrypted; use https:// outside local tests",
             credential->authority_host, credential->scope);
}

const char *cred_type(const cred *credential)
{
    return credential->kind == CRED_WORKLOAD_IDENTITY ? CRED_TYPE_JWT : CRED_TYPE_SAS;
}

const char *cred_kind(const cred *credential)
{
    switch (credential->kind) {
    case CRED_SAS:
        return "sas";
    case CRED_SAS_STATIC:
        return "sas-static";
    case CRED_WORKLOAD_IDENTITY:
        return "workload-identity";
    }
    return "unknown";
}

uint64_t cred_exchange_count(cred *credential)
{
    return atomic_load(&credential->exchanges);
}

void cred_destroy(cred *credential)
{
    if (credential == NULL) {
        return;
    }
    if (credential->background) {
        pthread_mutex_lock(&credential->lock);
        atomic_store(&credential->stopping, true);
        pthread_cond_broadcast(&credential->wake);
        pthread_mutex_unlock(&credential->lock);
        pthread_join(credential->refresher, NULL);
    }
    if (credential->kind == CRED_WORKLOAD_IDENTITY) {
        pthread_cond_destroy(&credential->wake);
    }
    free(credential->key_name);
    wl_free_secret(credential->key);
    wl_free_secret(credential->signature);
    free(credential->authority_host);
    free(credential->token_url);
    free(credential->client_id);
    free(credential->token_file);
    free(credential->scope);
    free(credential->ca_file);
    cred_token_free(&credential->cached);
    pthread_mutex_destroy(&credential->lock);
    free(credential);
}
