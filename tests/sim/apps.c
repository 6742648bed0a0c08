/*
 * apps: the registry of apps. See apps.h.
 *
 * Updates are made on a copy that is validated whole and then swapped in,
 * so that a bad field leaves the app exactly as it was, the way a form that
 * fails validation saves nothing.
 */
#include "apps.h"

#include <stdio.h>
#include <string.h>

void sim_apps_free(sim_apps *apps)
{
    cJSON_Delete(apps->list);
    apps->list = NULL;
}

const cJSON *sim_apps_find(const sim_apps *apps, const char *client_id)
{
    const cJSON *app = NULL;
    cJSON_ArrayForEach(app, apps->list)
    {
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(app, "client_id");
        if (cJSON_IsString(id) && strcmp(id->valuestring, client_id) == 0)
            return app;
    }
    return NULL;
}

static int printable_text(const char *text, size_t maximum, int allow_empty)
{
    size_t length = strlen(text);
    if ((length == 0 && !allow_empty) || length > maximum)
        return 0;
    for (size_t i = 0; i < length; i++)
        if (text[i] <= ' ' || text[i] > '~')
            return 0;
    return 1;
}

int sim_url_acceptable(const char *url)
{
    if (!printable_text(url, SIM_MAX_URL_LENGTH, 0) || strpbrk(url, "\"'<>\\`") != NULL)
        return 0;
    const char *rest = NULL;
    if (strncmp(url, "http://", 7) == 0)
        rest = url + 7;
    else if (strncmp(url, "https://", 8) == 0)
        rest = url + 8;
    return rest != NULL && rest[0] != '\0' && rest[0] != '/';
}

const char *sim_app_text(const cJSON *app, const char *name)
{
    const cJSON *value = cJSON_GetObjectItemCaseSensitive(app, name);
    return cJSON_IsString(value) ? value->valuestring : "";
}

const char *sim_app_webhook_text(const cJSON *app, const char *name)
{
    return sim_app_text(cJSON_GetObjectItemCaseSensitive(app, "webhook"), name);
}

int sim_app_redirect_registered(const cJSON *app, const char *redirect_uri)
{
    const cJSON *uri = NULL;
    cJSON_ArrayForEach(uri, cJSON_GetObjectItemCaseSensitive(app, "redirect_uris"))
    {
        if (cJSON_IsString(uri) && strcmp(uri->valuestring, redirect_uri) == 0)
            return 1;
    }
    return 0;
}

const cJSON *sim_app_topics(const cJSON *app)
{
    return cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(app, "webhook"),
                                            "topics");
}

/* ---- validation -------------------------------------------------------- */

static int fail(char *error, size_t size, const char *message)
{
    snprintf(error, size, "%s", message);
    return -1;
}

int sim_topic_acceptable(const char *topic)
{
    size_t length = strlen(topic);
    const char *slash = strchr(topic, '/');
    if (length == 0 || length > SIM_MAX_TOPIC_LENGTH || slash == NULL || slash == topic ||
        slash[1] == '\0' || strchr(slash + 1, '/') != NULL)
        return 0;
    return strspn(topic, "abcdefghijklmnopqrstuvwxyz0123456789_/") == length;
}

static int check_string_array(const cJSON *array, size_t maximum, int (*acceptable)(const char *))
{
    if (!cJSON_IsArray(array) || (size_t)cJSON_GetArraySize(array) > maximum)
        return -1;
    const cJSON *item = NULL;
    cJSON_ArrayForEach(item, array)
    {
        if (!cJSON_IsString(item) || !acceptable(item->valuestring))
            return -1;
    }
    return 0;
}

static int name_acceptable(const cJSON *name)
{
    return cJSON_IsString(name) && strlen(name->valuestring) <= SIM_MAX_ID_LENGTH;
}

/* The whole app, as it would be stored. */
static int check_app(const cJSON *app, char *error, size_t size)
{
    const cJSON *webhook = cJSON_GetObjectItemCaseSensitive(app, "webhook");
    const cJSON *callback = cJSON_GetObjectItemCaseSensitive(webhook, "callback_url");
    const cJSON *verify = cJSON_GetObjectItemCaseSensitive(webhook, "verify_token");
    if (!printable_text(sim_app_text(app, "client_id"), SIM_MAX_ID_LENGTH, 0))
        return fail(error, size, "client_id: 1 to 200 printable characters, no spaces");
    if (!printable_text(sim_app_text(app, "client_secret"), SIM_MAX_ID_LENGTH, 0))
        return fail(error, size, "client_secret: 1 to 200 printable characters, no spaces");
    if (!name_acceptable(cJSON_GetObjectItemCaseSensitive(app, "name")))
        return fail(error, size, "name: a string of at most 200 bytes");
    if (check_string_array(cJSON_GetObjectItemCaseSensitive(app, "redirect_uris"),
                           SIM_MAX_REDIRECT_URIS, sim_url_acceptable) != 0)
        return fail(error, size, "redirect_uris: at most 20 absolute http(s) URLs");
    if (!cJSON_IsObject(webhook))
        return fail(error, size, "webhook: an object");
    if (!cJSON_IsString(callback) ||
        (callback->valuestring[0] != '\0' && !sim_url_acceptable(callback->valuestring)))
        return fail(error, size, "webhook.callback_url: an absolute http(s) URL or \"\"");
    if (!cJSON_IsString(verify) || !printable_text(verify->valuestring, SIM_MAX_VERIFY_TOKEN, 1))
        return fail(error, size, "webhook.verify_token: at most 512 printable characters");
    if (check_string_array(cJSON_GetObjectItemCaseSensitive(webhook, "topics"), SIM_MAX_TOPICS,
                           sim_topic_acceptable) != 0)
        return fail(error, size, "webhook.topics: at most 50 topics like \"orders/create\"");
    return 0;
}

/* ---- merging ------------------------------------------------------------ */

/* Sets `name` of `target` to a copy of `value` when the body gave one. */
static int take(cJSON *target, const cJSON *source, const char *name)
{
    const cJSON *value = cJSON_GetObjectItemCaseSensitive(source, name);
    if (value == NULL)
        return 0;
    cJSON *copy = cJSON_Duplicate(value, 1);
    if (copy == NULL)
        return -1;
    if (cJSON_GetObjectItemCaseSensitive(target, name) != NULL)
        return cJSON_ReplaceItemInObjectCaseSensitive(target, name, copy) ? 0 : -1;
    if (!cJSON_AddItemToObject(target, name, copy)) {
        cJSON_Delete(copy);
        return -1;
    }
    return 0;
}

/* What a new app starts from: every field present, so that readers never
 * meet a missing one. */
static cJSON *blank_app(const char *client_id)
{
    cJSON *app = cJSON_CreateObject();
    cJSON *webhook = cJSON_CreateObject();
    int built = app != NULL && webhook != NULL &&
                cJSON_AddStringToObject(app, "client_id", client_id) != NULL &&
                cJSON_AddStringToObject(app, "client_secret", "") != NULL &&
                cJSON_AddStringToObject(app, "name", client_id) != NULL &&
                cJSON_AddArrayToObject(app, "redirect_uris") != NULL &&
                cJSON_AddStringToObject(webhook, "callback_url", "") != NULL &&
                cJSON_AddStringToObject(webhook, "verify_token", "") != NULL &&
                cJSON_AddArrayToObject(webhook, "topics") != NULL;
    if (built && cJSON_AddItemToObject(app, "webhook", webhook))
        return app;
    cJSON_Delete(webhook);
    cJSON_Delete(app);
    return NULL;
}

static int merge(cJSON *app, const cJSON *body)
{
    const cJSON *webhook = cJSON_GetObjectItemCaseSensitive(body, "webhook");
    if (webhook != NULL && !cJSON_IsObject(webhook))
        return -1;
    cJSON *target_webhook = cJSON_GetObjectItemCaseSensitive(app, "webhook");
    if (take(app, body, "client_secret") != 0 || take(app, body, "name") != 0 ||
        take(app, body, "redirect_uris") != 0 ||
        take(target_webhook, webhook, "callback_url") != 0 ||
        take(target_webhook, webhook, "verify_token") != 0 ||
        take(target_webhook, webhook, "topics") != 0)
        return -1;
    return 0;
}

const cJSON *sim_apps_put(sim_apps *apps, const cJSON *body, char *error, size_t error_size)
{
    const cJSON *client_id = cJSON_GetObjectItemCaseSensitive(body, "client_id");
    if (!cJSON_IsString(client_id) ||
        !printable_text(client_id->valuestring, SIM_MAX_ID_LENGTH, 0)) {
        fail(error, error_size, "client_id: 1 to 200 printable characters, no spaces");
        return NULL;
    }
    if (apps->list == NULL)
        apps->list = cJSON_CreateArray();
    const cJSON *existing = sim_apps_find(apps, client_id->valuestring);
    if (apps->list == NULL ||
        (existing == NULL && cJSON_GetArraySize(apps->list) >= SIM_MAX_APPS)) {
        fail(error, error_size, "too many apps (or out of memory)");
        return NULL;
    }
    cJSON *candidate =
        existing != NULL ? cJSON_Duplicate(existing, 1) : blank_app(client_id->valuestring);
    if (candidate == NULL || merge(candidate, body) != 0) {
        cJSON_Delete(candidate);
        fail(error, error_size, "webhook: an object (or out of memory)");
        return NULL;
    }
    if (check_app(candidate, error, error_size) != 0) {
        cJSON_Delete(candidate);
        return NULL;
    }
    int index = 0;
    const cJSON *app = NULL;
    cJSON_ArrayForEach(app, apps->list)
    {
        if (app == existing)
            break;
        index++;
    }
    int stored = existing != NULL ? cJSON_ReplaceItemInArray(apps->list, index, candidate)
                                  : cJSON_AddItemToArray(apps->list, candidate);
    if (!stored) {
        cJSON_Delete(candidate);
        fail(error, error_size, "out of memory");
        return NULL;
    }
    return candidate;
}
