/*
 * /api/haravan/admin/{login,logout,session}: signing in to the settings
 * page with the admin password. admin.h says how sessions work.
 *
 * A login costs the same whatever happens after the throttle: one PBKDF2
 * derivation of the stored iteration count (against a dummy hash when no
 * password is set), so timing tells nothing about whether a password is
 * configured or how close a guess came. A wrong password is answered as
 * soon as it is known: the throttle (throttle.h), per client address,
 * does the slowing, and a worker never sleeps, since Haravan's deliveries
 * need it. The login gate (login_gate.h) keeps password checks to half of
 * the workers.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "admin.h"
#include "core/crypto.h"
#include "core/form.h"
#include "core/json.h"
#include "core/log.h"
#include "core/password.h"
#include "core/settings.h"
#include "handlers.h"
#include "login_gate.h"
#include "throttle.h"

#define LOGIN_JSON_DEPTH 8

/* What a login verifies against when no password is set: a real hash of
 * a random string nobody knows, with the production iteration count. */
#define DUMMY_HASH                                                                                 \
    "pbkdf2-sha256$600000$aGFyYXZhbi1zYWx0LTE2Yg==$O5Nrw9Ih5kseNYBT/RcqwuVwtAqjlt3qIOJ9nW65EyA="

static int is_json(const request *r)
{
    const char *type = request_param(r, "CONTENT_TYPE");
    return type != NULL && strncasecmp(type, "application/json", strlen("application/json")) == 0;
}

/* The submitted password, as a copy the caller wipes and frees; NULL when
 * the body has none. */
static char *submitted_password(const request *r)
{
    char *copy = NULL;
    if (is_json(r)) {
        cJSON *document = json_parse_bounded(r->body.data, r->body.length, LOGIN_JSON_DEPTH);
        cJSON *item = cJSON_GetObjectItemCaseSensitive(document, "password");
        if (cJSON_IsString(item) && item->valuestring != NULL) {
            copy = strdup(item->valuestring);
            crypto_wipe(item->valuestring, strlen(item->valuestring));
        }
        cJSON_Delete(document);
        return copy;
    }
    form fields;
    if (form_parse(&fields, r->body.data, r->body.length) != 0)
        return NULL;
    const char *value = form_get(&fields, "password");
    if (value != NULL)
        copy = strdup(value);
    for (size_t i = 0; i < fields.count; i++)
        crypto_wipe(fields.fields[i].value, strlen(fields.fields[i].value));
    form_free(&fields);
    return copy;
}

static void wipe_free(char *text)
{
    if (text != NULL) {
        crypto_wipe(text, strlen(text));
        free(text);
    }
}

/* The stored hash, or NULL when none is set; -1 in *failed when it cannot
 * be read. Free with wipe_free. */
static char *stored_hash(worker *w, int *failed)
{
    buffer value = BUFFER_INIT;
    char error[256];
    *failed = 0;
    int found = settings_get(&w->database, w->configuration->master_key, "admin_password_hash",
                             &value, NULL, error, sizeof error);
    if (found < 0) {
        log_message("error", "cannot read the admin password hash: %s", error);
        *failed = 1;
    }
    char *hash = found > 0 ? buffer_detach(&value) : NULL;
    buffer_free(&value);
    return hash;
}

static void reply_signed_in(worker *w, request *r)
{
    char token[ADMIN_TOKEN_SIZE];
    char csrf[ADMIN_TOKEN_SIZE];
    if (admin_session_start(w, token, csrf) != 0) {
        r->outcome = "database unavailable";
        request_reply_error(r, 503, "cannot start a session now; please retry");
        return;
    }
    buffer cookie = BUFFER_INIT;
    buffer body = BUFFER_INIT;
    if (admin_cookie_line(w, token, &cookie) != 0 ||
        buffer_printf(&body, "{\"authenticated\":true,\"csrf\":\"%s\"}", csrf) != 0) {
        r->outcome = "out of memory";
        request_reply_error(r, 503, "out of memory; please retry");
    } else {
        r->outcome = "signed in";
        request_reply(r, 200, "application/json", cookie.data, body.data, body.length);
    }
    crypto_wipe(token, sizeof token);
    crypto_wipe(cookie.data, cookie.length);
    buffer_free(&cookie);
    buffer_free(&body);
}

/* Checks `password` (after the throttle let it through) and replies. */
static void check_password(worker *w, request *r, const char *password, long long attempt)
{
    int failed = 0;
    char *hash = stored_hash(w, &failed);
    if (failed) {
        r->outcome = "settings unavailable";
        request_reply_error(r, 503, "cannot check the password now; please retry");
        return;
    }
    int configured = hash != NULL;
    int verdict = password_verify(password, configured ? hash : DUMMY_HASH);
    int right = configured && verdict == 1;
    if (configured && verdict < 0)
        log_message("error", "admin_password_hash is not a stored password: set it again with "
                             "haravan-ctl admin password");
    wipe_free(hash);
    if (!right) {
        /* The reply is the same either way; the operator's log says which. */
        r->outcome = configured ? "wrong password" : "no admin password set";
        request_reply_error(r, 401, "wrong password");
        return;
    }
    if (throttle_forget(&w->database, attempt) != 0)
        log_message("warning", "a right admin password still counts as a failure: %s",
                    w->database.error);
    reply_signed_in(w, r);
}

static void reply_too_many(request *r, int retry_after, const char *message)
{
    char header[64];
    snprintf(header, sizeof header, "Retry-After: %d\r\n", retry_after);
    request_reply(r, 429, "application/json", header, message, strlen(message));
}

/* Inside the login gate: the throttle, then the password. */
static void throttled_check(worker *w, request *r, const char *password)
{
    long long attempt = 0;
    int retry_after = 0;
    int allowed =
        throttle_begin(&w->database, request_param(r, "REMOTE_ADDR"), &attempt, &retry_after);
    if (allowed < 0) {
        r->outcome = "database unavailable";
        request_reply_error(r, 503, "cannot check the password now; please retry");
    } else if (allowed == 0) {
        r->outcome = "throttled";
        reply_too_many(r, retry_after, "{\"error\":\"too many failed logins; try again later\"}");
    } else {
        check_password(w, r, password, attempt);
    }
}

void handle_admin_login(worker *w, request *r)
{
    if (admin_crm_mode(w)) {
        r->outcome = "sessions off";
        request_reply_error(r, 400, "sign in through the CRM (HARAVAN_ADMIN_AUTH is crm)");
        return;
    }
    /* Login CSRF: a foreign page must not sign the browser in either. */
    if (!admin_same_origin(w, r)) {
        r->outcome = "cross-site refused";
        request_reply_error(r, 403, "cross-site request refused");
        return;
    }
    enum request_body_result body = admin_read_body(r);
    if (body != REQUEST_BODY_OK) {
        r->outcome = body == REQUEST_BODY_TOO_LARGE ? "too large" : "incomplete body";
        request_reply_error(r, body == REQUEST_BODY_TOO_LARGE ? 413 : 400,
                            body == REQUEST_BODY_TOO_LARGE ? "body larger than 64 KiB"
                                                           : "incomplete request body");
        return;
    }
    char *password = submitted_password(r);
    crypto_wipe(r->body.data, r->body.length);
    if (password == NULL) {
        r->outcome = "no password";
        request_reply_error(r, 400, "password required");
        return;
    }
    int slot = login_gate_enter(w->shared, w->configuration->workers);
    if (slot < 0) {
        r->outcome = "busy";
        reply_too_many(r, 1,
                       "{\"error\":\"another sign-in is being checked; try again\",\"busy\":true}");
    } else {
        throttled_check(w, r, password);
        login_gate_leave(w->shared, slot);
    }
    wipe_free(password);
}

void handle_admin_logout(worker *w, request *r)
{
    if (admin_crm_mode(w)) {
        r->outcome = "sessions off";
        request_reply_error(r, 400, "sign out through the CRM (HARAVAN_ADMIN_AUTH is crm)");
        return;
    }
    if (!admin_require(w, r, 1))
        return;
    buffer cookie = BUFFER_INIT;
    if (admin_session_end(w, r) != 0) {
        r->outcome = "database unavailable";
        request_reply_error(r, 503, "cannot end the session now; please retry");
    } else if (admin_cookie_line(w, NULL, &cookie) != 0) {
        r->outcome = "out of memory";
        request_reply_error(r, 503, "out of memory; please retry");
    } else {
        r->outcome = "signed out";
        const char *body = "{\"authenticated\":false}";
        request_reply(r, 200, "application/json", cookie.data, body, strlen(body));
    }
    buffer_free(&cookie);
}

void handle_admin_session(worker *w, request *r)
{
    char csrf[ADMIN_TOKEN_SIZE];
    int identified = admin_identify(w, r, csrf);
    if (identified < 0) {
        r->outcome = "database unavailable";
        request_reply_error(r, 503, "cannot check the session now; please retry");
        return;
    }
    if (identified == 0) {
        admin_reply_unauthenticated(w, r);
        return;
    }
    char body[128];
    snprintf(body, sizeof body, "{\"authenticated\":true,\"csrf\":\"%s\"}", csrf);
    r->outcome = "signed in";
    request_reply_json(r, 200, body);
    crypto_wipe(csrf, sizeof csrf);
}
