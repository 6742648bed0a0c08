/*
 * GET, POST /api/haravan/settings: what the merchant configures on the
 * settings page (docs/CONNECT.md, "Connector routes").
 *
 * GET shows every setting except the client secret, of which it says only
 * whether one is set, and whether a rotation is in progress (the previous
 * secret still accepted, "rotation":{"previous_until":...}, else null),
 * with the CRM users a default owner can be chosen
 * from, the order sources, and the values to paste into Haravan's partner
 * dashboard. POST changes what it is given, all together in one
 * transaction or not at all: every field is checked first
 * (haravan/settings_form.h, then default_owner against crm_users), and one
 * wrong field is a 400 naming it with nothing saved. end_rotation drops
 * the previous client secret (after a new one, if both come together), as
 * `haravan-ctl settings unset client_secret_previous` does. The commit carries
 * `NOTIFY hv_settings`, so every worker picks up a new secret at once.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cJSON.h>

#include "admin.h"
#include "core/crypto.h"
#include "core/json.h"
#include "core/log.h"
#include "core/settings.h"
#include "handlers.h"
#include "haravan/settings_form.h"

/* A generated verify token: 16 random bytes as 32 hex digits. */
#define VERIFY_TOKEN_BYTES 16

#define MESSAGE_NOT_A_USER "Không có người dùng CRM nào đang hoạt động có email này"

/* ---- reading ----------------------------------------------------------- */

/* A setting's value as a string member of `object` ("" when not set).
 * Returns 0, or -1 (database, master key, memory). */
static int add_setting(worker *w, cJSON *object, const char *json_name, const char *name)
{
    buffer value = BUFFER_INIT;
    char error[256];
    int found = settings_get(&w->database, w->configuration->master_key, name, &value, NULL, error,
                             sizeof error);
    if (found < 0)
        log_message("error", "cannot read setting %s: %s", name, error);
    int ok = found >= 0 &&
             cJSON_AddStringToObject(object, json_name, found > 0 ? value.data : "") != NULL;
    crypto_wipe(value.data, value.length);
    buffer_free(&value);
    return ok ? 0 : -1;
}

static int add_secret_set(worker *w, cJSON *object)
{
    PGresult *result = db_query(&w->database, DB_IDEMPOTENT,
                                "SELECT count(*) FROM hv_settings WHERE name = 'client_secret'", 0,
                                NULL, NULL, NULL);
    if (result == NULL)
        return -1;
    int set = strcmp(PQgetvalue(result, 0, 0), "0") != 0;
    PQclear(result);
    return cJSON_AddBoolToObject(object, "client_secret_set", set) != NULL ? 0 : -1;
}

/* "rotation": {"previous_until": "...Z"} while the previous client secret
 * is still accepted (secrets.h counts its 72 hours from its updated_at),
 * else null. */
static int add_rotation(worker *w, cJSON *object)
{
    char grace[32];
    snprintf(grace, sizeof grace, "%d", SETTINGS_ROTATION_GRACE_SECONDS);
    const char *values[] = {grace};
    PGresult *result =
        db_query(&w->database, DB_IDEMPOTENT,
                 "SELECT to_char((updated_at + make_interval(secs => $1::int)) AT TIME ZONE 'UTC',"
                 " 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') FROM hv_settings"
                 " WHERE name = 'client_secret_previous'"
                 " AND updated_at + make_interval(secs => $1::int) > now()",
                 1, values, NULL, NULL);
    if (result == NULL)
        return -1;
    int ok;
    if (PQntuples(result) == 0) {
        ok = cJSON_AddNullToObject(object, "rotation") != NULL;
    } else {
        cJSON *rotation = cJSON_AddObjectToObject(object, "rotation");
        ok = rotation != NULL &&
             cJSON_AddStringToObject(rotation, "previous_until", PQgetvalue(result, 0, 0)) != NULL;
    }
    PQclear(result);
    return ok ? 0 : -1;
}

/* An array of objects, one per row, with `keys` naming the columns. */
static int add_rows(worker *w, cJSON *object, const char *name, const char *sql,
                    const char *const keys[2])
{
    PGresult *result = db_query(&w->database, DB_IDEMPOTENT, sql, 0, NULL, NULL, NULL);
    if (result == NULL)
        return -1;
    cJSON *array = cJSON_AddArrayToObject(object, name);
    int ok = array != NULL;
    for (int row = 0; ok && row < PQntuples(result); row++) {
        cJSON *item = cJSON_CreateObject();
        ok = item != NULL && cJSON_AddItemToArray(array, item);
        for (int column = 0; ok && column < 2; column++)
            ok = cJSON_AddStringToObject(item, keys[column], PQgetvalue(result, row, column)) !=
                 NULL;
    }
    PQclear(result);
    return ok ? 0 : -1;
}

/* `{public}{path}`, or "" when HARAVAN_PUBLIC_URL is not configured. */
static int add_url(const worker *w, cJSON *object, const char *name, const char *path)
{
    char url[1024] = "";
    if (w->configuration->public_url != NULL)
        snprintf(url, sizeof url, "%s%s", w->configuration->public_url, path);
    return cJSON_AddStringToObject(object, name, url) != NULL ? 0 : -1;
}

/* What to paste into Haravan's partner dashboard. */
static int add_paste(const worker *w, cJSON *object, const char *verify_token)
{
    cJSON *paste = cJSON_AddObjectToObject(object, "paste");
    if (paste == NULL)
        return -1;
    if (add_url(w, paste, "login_redirect_url", "/api/haravan/login") != 0 ||
        add_url(w, paste, "grant_redirect_url", "/api/haravan/grandservice") != 0 ||
        add_url(w, paste, "webhook_url", "/api/haravan/webhook") != 0)
        return -1;
    return cJSON_AddStringToObject(paste, "verify_token", verify_token) != NULL ? 0 : -1;
}

/* The GET body, as a string the caller frees. NULL on failure. */
static char *settings_json(worker *w)
{
    static const char *const user_keys[2] = {"email", "name"};
    static const char *const source_keys[2] = {"haravan_channel", "name"};
    cJSON *root = cJSON_CreateObject();
    int ok =
        root != NULL && add_setting(w, root, "client_id", "client_id") == 0 &&
        add_secret_set(w, root) == 0 && add_rotation(w, root) == 0 &&
        add_setting(w, root, "verify_token", "verify_token") == 0 &&
        add_setting(w, root, "default_owner", "default_owner") == 0 &&
        add_rows(w, root, "users",
                 "SELECT email, name FROM crm_users WHERE active ORDER BY lower(email)",
                 user_keys) == 0 &&
        add_rows(w, root, "sources", "SELECT haravan_channel, name FROM order_sources ORDER BY id",
                 source_keys) == 0 &&
        add_paste(w, root, json_string(root, "verify_token")) == 0;
    char *text = ok ? cJSON_PrintUnformatted(root) : NULL;
    const cJSON *token = cJSON_GetObjectItemCaseSensitive(root, "verify_token");
    if (cJSON_IsString(token))
        crypto_wipe(token->valuestring, strlen(token->valuestring));
    cJSON_Delete(root);
    return text;
}

static void reply_settings(worker *w, request *r)
{
    char *body = settings_json(w);
    if (body == NULL) {
        r->outcome = "database unavailable";
        request_reply_error(r, 503, "cannot read the settings now; please retry");
        return;
    }
    request_reply_json(r, 200, body);
    crypto_wipe(body, strlen(body));
    free(body);
}

void handle_settings_get(worker *w, request *r)
{
    if (!admin_require(w, r, 0))
        return;
    r->outcome = "shown";
    reply_settings(w, r);
}

/* ---- saving ------------------------------------------------------------ */

/* Replaces f->default_owner by the CRM user's email as the CRM spells it,
 * or records why it cannot be. Returns 0, or -1 (database, memory). */
static int resolve_owner(worker *w, settings_form *f)
{
    if (f->default_owner == NULL ||
        (f->errors != NULL && cJSON_HasObjectItem(f->errors, "default_owner")))
        return 0;
    const char *values[] = {f->default_owner};
    PGresult *result = db_query(&w->database, DB_IDEMPOTENT,
                                "SELECT email FROM crm_users WHERE lower(email) = lower($1)"
                                " AND active",
                                1, values, NULL, NULL);
    if (result == NULL)
        return -1;
    int found = PQntuples(result) > 0;
    char *email = found ? strdup(PQgetvalue(result, 0, 0)) : NULL;
    PQclear(result);
    if (!found)
        return settings_form_fail(f, "default_owner", MESSAGE_NOT_A_USER);
    if (email == NULL)
        return -1;
    free(f->default_owner);
    f->default_owner = email;
    return 0;
}

static int run(db *database, const char *sql, int count, const char *const *values)
{
    PGresult *result = db_query(database, DB_ONCE, sql, count, values, NULL, NULL);
    if (result == NULL)
        return -1;
    PQclear(result);
    return 0;
}

static int verify_token_set(db *database)
{
    PGresult *result =
        db_query(database, DB_ONCE, "SELECT count(*) FROM hv_settings WHERE name = 'verify_token'",
                 0, NULL, NULL, NULL);
    if (result == NULL)
        return -1;
    int set = strcmp(PQgetvalue(result, 0, 0), "0") != 0;
    PQclear(result);
    return set;
}

/* A new verify token into `out` (2 * VERIFY_TOKEN_BYTES + 1 bytes). */
static int generate_verify_token(char *out)
{
    unsigned char bytes[VERIFY_TOKEN_BYTES];
    if (crypto_random(bytes, sizeof bytes) != 0)
        return -1;
    for (size_t i = 0; i < sizeof bytes; i++)
        snprintf(out + 2 * i, 3, "%02x", bytes[i]);
    crypto_wipe(bytes, sizeof bytes);
    return 0;
}

static int save_verify_token(worker *w, const settings_form *f, char *error, size_t size)
{
    const unsigned char *key = w->configuration->master_key;
    if (f->verify_token != NULL)
        return settings_set_in(&w->database, key, "verify_token", f->verify_token, error, size);
    int set = verify_token_set(&w->database);
    if (set != 0)
        return set < 0 ? -1 : 0;
    char token[2 * VERIFY_TOKEN_BYTES + 1];
    int result = generate_verify_token(token) == 0
                     ? settings_set_in(&w->database, key, "verify_token", token, error, size)
                     : -1;
    crypto_wipe(token, sizeof token);
    return result;
}

/* The statements of one save, inside the caller's transaction. */
static int save_all(worker *w, const settings_form *f, char *error, size_t size)
{
    const unsigned char *key = w->configuration->master_key;
    db *database = &w->database;
    if (f->client_id != NULL &&
        settings_set_in(database, key, "client_id", f->client_id, error, size) != 0)
        return -1;
    if (f->client_secret != NULL &&
        settings_set_in(database, key, "client_secret", f->client_secret, error, size) != 0)
        return -1;
    if (f->end_rotation && settings_unset_in(database, "client_secret_previous", error, size) < 0)
        return -1;
    if (save_verify_token(w, f, error, size) != 0)
        return -1;
    if (f->default_owner != NULL &&
        settings_set_in(database, key, "default_owner", f->default_owner, error, size) != 0)
        return -1;
    for (size_t i = 0; i < f->source_count; i++) {
        const char *values[] = {f->sources[i].channel, f->sources[i].name};
        if (run(database,
                "INSERT INTO order_sources (haravan_channel, name) VALUES ($1, $2)"
                " ON CONFLICT (haravan_channel) DO UPDATE SET name = EXCLUDED.name",
                2, values) != 0)
            return -1;
    }
    return run(database, "NOTIFY " SETTINGS_CHANNEL, 0, NULL);
}

typedef struct save_work {
    worker *w;
    const settings_form *form;
    char error[256]; /* why a statement refused, when it says more than the database */
} save_work;

static int save_body(db *database, void *context)
{
    (void)database; /* the worker's own, which save_all reaches through it */
    save_work *work = context;
    return save_all(work->w, work->form, work->error, sizeof work->error);
}

/* Saves `f` all together. Returns 0, or -1 with nothing saved. */
static int save(worker *w, const settings_form *f)
{
    save_work work = {.w = w, .form = f};
    int result = db_transaction(&w->database, save_body, &work);
    if (result != 0)
        log_message("error", "settings not saved: %s",
                    work.error[0] != '\0' ? work.error : w->database.error);
    /* This worker's own cache, without waiting for its notification. */
    secrets_invalidate(&w->cache);
    return result != 0 ? -1 : 0;
}

static int is_json(const request *r)
{
    const char *type = request_param(r, "CONTENT_TYPE");
    return type != NULL && strncasecmp(type, "application/json", strlen("application/json")) == 0;
}

static void reply_invalid(request *r, cJSON *errors)
{
    cJSON *root = cJSON_CreateObject();
    int ok = root != NULL && cJSON_AddStringToObject(root, "error", "invalid") != NULL &&
             cJSON_AddItemReferenceToObject(root, "fields", errors);
    char *body = ok ? cJSON_PrintUnformatted(root) : NULL;
    cJSON_Delete(root);
    r->outcome = "invalid";
    if (body == NULL) {
        request_reply_error(r, 503, "out of memory; please retry");
        return;
    }
    request_reply_json(r, 400, body);
    free(body);
}

void handle_settings_post(worker *w, request *r)
{
    if (!admin_require(w, r, 1))
        return;
    enum request_body_result body = admin_read_body(r);
    if (body != REQUEST_BODY_OK) {
        r->outcome = body == REQUEST_BODY_TOO_LARGE ? "too large" : "incomplete body";
        request_reply_error(r, body == REQUEST_BODY_TOO_LARGE ? 413 : 400,
                            body == REQUEST_BODY_TOO_LARGE ? "body larger than 64 KiB"
                                                           : "incomplete request body");
        return;
    }
    settings_form f;
    enum settings_form_result read =
        settings_form_read(&f, r->body.data, r->body.length, is_json(r));
    crypto_wipe(r->body.data, r->body.length);
    if (read == SETTINGS_FORM_MALFORMED) {
        r->outcome = "malformed";
        request_reply_error(r, 400,
                            is_json(r) ? "the body is not a JSON object"
                                       : "the body is not a well-formed form");
        return;
    }
    if (read != SETTINGS_FORM_READ || resolve_owner(w, &f) != 0) {
        r->outcome = "unavailable";
        request_reply_error(r, 503, "cannot check the settings now; please retry");
    } else if (f.errors != NULL) {
        reply_invalid(r, f.errors);
    } else if (save(w, &f) != 0) {
        r->outcome = "not saved";
        request_reply_error(r, 503, "cannot save the settings now; nothing was changed");
    } else {
        r->outcome = "saved";
        reply_settings(w, r);
    }
    settings_form_free(&f);
}
