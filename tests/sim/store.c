/*
 * store: seed loading and lookups. See store.h.
 *
 * Orgs are kept as an array of pointers so that an sim_org pointer stays
 * valid when another org is added. The data is small (a seed and what the
 * tests add), so lookups are linear and inserts shift arrays: simple code
 * over clever code in a test double.
 */
#define _POSIX_C_SOURCE 200809L
#include "store.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buffer.h"

/* ---- records ---------------------------------------------------------- */

long long sim_record_id(const cJSON *record)
{
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(record, "id");
    if (!cJSON_IsNumber(id))
        return -1;
    double value = id->valuedouble;
    if (value < 1 || value > 9e15 || floor(value) != value)
        return -1;
    return (long long)value;
}

cJSON *sim_record_find(const cJSON *records, long long id)
{
    const cJSON *record = NULL;
    cJSON_ArrayForEach(record, records)
    {
        if (sim_record_id(record) == id)
            return (cJSON *)record;
    }
    return NULL;
}

static int compare_records(const void *left, const void *right)
{
    long long a = sim_record_id(*(cJSON *const *)left);
    long long b = sim_record_id(*(cJSON *const *)right);
    return (a > b) - (a < b);
}

/* Puts the records back in id order. Done by detaching and re-adding:
 * Debian 12's cJSON 1.7.15 (+deb12u4) refuses cJSON_InsertItemInArray
 * anywhere but at the front. */
static int sort_records(cJSON *records)
{
    int count = cJSON_GetArraySize(records);
    cJSON **items = malloc((size_t)count * sizeof *items);
    if (items == NULL)
        return -1;
    for (int i = 0; i < count; i++)
        items[i] = cJSON_DetachItemFromArray(records, 0);
    qsort(items, (size_t)count, sizeof *items, compare_records);
    int result = 0;
    for (int i = 0; i < count; i++) {
        if (!cJSON_AddItemToArray(records, items[i])) {
            cJSON_Delete(items[i]);
            result = -1;
        }
    }
    free(items);
    return result;
}

int sim_record_put(cJSON *records, cJSON *record)
{
    long long id = sim_record_id(record);
    if (id < 0 || !cJSON_IsArray(records)) {
        cJSON_Delete(record);
        return -1;
    }
    int index = 0;
    long long last_id = -1;
    const cJSON *existing = NULL;
    cJSON_ArrayForEach(existing, records)
    {
        last_id = sim_record_id(existing);
        if (last_id == id && cJSON_ReplaceItemInArray(records, index, record))
            return 0;
        if (last_id == id) {
            cJSON_Delete(record);
            return -1;
        }
        index++;
    }
    if (!cJSON_AddItemToArray(records, record)) {
        cJSON_Delete(record);
        return -1;
    }
    return last_id > id ? sort_records(records) : 0;
}

/* ---- orgs ------------------------------------------------------------- */

static cJSON *minimal_shop(long long id)
{
    char name[64];
    char domain[128];
    snprintf(name, sizeof name, "shop-%lld", id);
    snprintf(domain, sizeof domain, "https://shop-%lld.myharavan.com", id);
    cJSON *shop = cJSON_CreateObject();
    if (shop == NULL)
        return NULL;
    int complete = cJSON_AddNumberToObject(shop, "id", (double)id) != NULL &&
                   cJSON_AddStringToObject(shop, "name", name) != NULL &&
                   cJSON_AddStringToObject(shop, "myharavan_domain", domain) != NULL &&
                   cJSON_AddStringToObject(shop, "currency", "VND") != NULL &&
                   cJSON_AddStringToObject(shop, "timezone", "(GMT+07:00) Hanoi") != NULL;
    if (!complete) {
        cJSON_Delete(shop);
        return NULL;
    }
    return shop;
}

static void org_free(sim_org *org)
{
    if (org == NULL)
        return;
    cJSON_Delete(org->shop);
    cJSON_Delete(org->users);
    cJSON_Delete(org->orders);
    cJSON_Delete(org->customers);
    free(org);
}

static sim_org *org_new(long long id)
{
    sim_org *org = calloc(1, sizeof *org);
    if (org == NULL)
        return NULL;
    org->id = id;
    org->shop = minimal_shop(id);
    org->users = cJSON_CreateArray();
    org->orders = cJSON_CreateArray();
    org->customers = cJSON_CreateArray();
    if (org->shop == NULL || org->users == NULL || org->orders == NULL || org->customers == NULL) {
        org_free(org);
        return NULL;
    }
    return org;
}

sim_org *sim_store_org(sim_store *store, long long id)
{
    for (size_t i = 0; i < store->org_count; i++)
        if (store->orgs[i]->id == id)
            return store->orgs[i];
    return NULL;
}

sim_org *sim_store_org_create(sim_store *store, long long id)
{
    sim_org *existing = sim_store_org(store, id);
    if (existing != NULL)
        return existing;
    sim_org **grown = realloc(store->orgs, (store->org_count + 1) * sizeof *grown);
    if (grown == NULL)
        return NULL;
    store->orgs = grown;
    sim_org *org = org_new(id);
    if (org == NULL)
        return NULL;
    store->orgs[store->org_count++] = org;
    return org;
}

sim_org *sim_store_default_org(sim_store *store)
{
    return store->org_count > 0 ? store->orgs[0] : NULL;
}

/* ---- tokens ----------------------------------------------------------- */

const sim_token *sim_store_token(const sim_store *store, const char *token)
{
    for (size_t i = 0; i < store->token_count; i++)
        if (strcmp(store->tokens[i].token, token) == 0)
            return &store->tokens[i];
    return NULL;
}

const sim_token *sim_store_live_token(const sim_store *store, const char *token, double now)
{
    const sim_token *found = sim_store_token(store, token);
    if (found == NULL || found->expired || (found->expires_at > 0 && now >= found->expires_at))
        return NULL;
    return found;
}

static void token_free(sim_token *token)
{
    free(token->token);
    free(token->scopes);
    free(token->client_id);
    free(token->family);
}

static int put_token(sim_store *store, const char *token, const sim_token_grant *grant)
{
    if (sim_store_org_create(store, grant->org_id) == NULL)
        return -1;
    sim_token record = {
        .token = strdup(token),
        .org_id = grant->org_id,
        .scopes = strdup(grant->scopes),
        .client_id = grant->client_id != NULL ? strdup(grant->client_id) : NULL,
        .user_id = grant->user_id,
        .expires_at = grant->expires_at,
        .family = grant->family != NULL ? strdup(grant->family) : NULL,
    };
    sim_token *grown = realloc(store->tokens, (store->token_count + 1) * sizeof *grown);
    if (grown != NULL)
        store->tokens = grown;
    if (record.token == NULL || record.scopes == NULL ||
        (grant->client_id != NULL && record.client_id == NULL) ||
        (grant->family != NULL && record.family == NULL) || grown == NULL) {
        token_free(&record);
        return -1;
    }
    sim_store_revoke_token(store, token);
    store->tokens[store->token_count++] = record;
    return 0;
}

int sim_store_put_token(sim_store *store, const char *token, long long org_id, const char *scopes)
{
    sim_token_grant grant = {.org_id = org_id, .scopes = scopes};
    return put_token(store, token, &grant);
}

/* Issued tokens past their expiry answer 401 whether kept or not; dropping
 * them keeps a long test run's memory flat. Seeded tokens never expire. */
static void drop_expired(sim_store *store, double now)
{
    size_t i = 0;
    while (i < store->token_count) {
        sim_token *token = &store->tokens[i];
        if (token->expires_at > 0 && now >= token->expires_at) {
            token_free(token);
            *token = store->tokens[--store->token_count];
        } else {
            i++;
        }
    }
}

int sim_store_issue_token(sim_store *store, const char *token, const sim_token_grant *grant,
                          double now)
{
    drop_expired(store, now);
    if (store->token_count >= SIM_MAX_TOKENS)
        return -1;
    return put_token(store, token, grant);
}

int sim_store_expire_token(sim_store *store, const char *token)
{
    for (size_t i = 0; i < store->token_count; i++) {
        if (strcmp(store->tokens[i].token, token) == 0) {
            store->tokens[i].expired = 1;
            return 1;
        }
    }
    return 0;
}

size_t sim_store_expire_family(sim_store *store, const char *family)
{
    size_t expired = 0;
    for (size_t i = 0; family != NULL && family[0] != '\0' && i < store->token_count; i++) {
        sim_token *token = &store->tokens[i];
        if (token->family != NULL && strcmp(token->family, family) == 0 && !token->expired) {
            token->expired = 1;
            expired++;
        }
    }
    return expired;
}

int sim_store_revoke_token(sim_store *store, const char *token)
{
    for (size_t i = 0; i < store->token_count; i++) {
        if (strcmp(store->tokens[i].token, token) != 0)
            continue;
        token_free(&store->tokens[i]);
        store->tokens[i] = store->tokens[--store->token_count];
        return 1;
    }
    return 0;
}

static int scope_listed(const char *scopes, const char *scope)
{
    size_t length = strlen(scope);
    const char *cursor = scopes;
    while (*cursor != '\0') {
        while (*cursor == ' ')
            cursor++;
        size_t word = strcspn(cursor, " ");
        if (word == length && strncmp(cursor, scope, length) == 0)
            return 1;
        cursor += word;
    }
    return 0;
}

int sim_token_has_scope(const sim_token *token, const char *scope)
{
    if (scope_listed(token->scopes, scope))
        return 1;
    static const char read_prefix[] = "com.read_";
    if (strncmp(scope, read_prefix, sizeof read_prefix - 1) != 0)
        return 0;
    char write_scope[128];
    snprintf(write_scope, sizeof write_scope, "com.write_%s", scope + sizeof read_prefix - 1);
    return scope_listed(token->scopes, write_scope);
}

/* ---- loading ---------------------------------------------------------- */

/* Reads and parses a JSON file. Returns NULL with a message in `error`;
 * a missing file is reported with *missing set. */
static cJSON *read_json_file(const char *path, int *missing, char *error, size_t error_size)
{
    *missing = 0;
    FILE *file = fopen(path, "rb");
    if (file == NULL) {
        *missing = errno == ENOENT;
        snprintf(error, error_size, "cannot read %s: %s", path, strerror(errno));
        return NULL;
    }
    buffer text = BUFFER_INIT;
    char chunk[8192];
    int failed = 0;
    for (size_t got = fread(chunk, 1, sizeof chunk, file); got > 0 && !failed;
         got = fread(chunk, 1, sizeof chunk, file))
        failed = buffer_append(&text, chunk, got) != 0;
    failed = failed || ferror(file);
    fclose(file);
    cJSON *json = failed ? NULL : cJSON_ParseWithLength(buffer_text(&text), text.length);
    buffer_free(&text);
    if (json == NULL)
        snprintf(error, error_size, "%s is not readable JSON", path);
    return json;
}

/* Moves every element of file's `wrapper` array into `records`. */
static int load_records(const char *directory, const char *wrapper, cJSON *records, char *error,
                        size_t error_size)
{
    char path[4096];
    snprintf(path, sizeof path, "%.4000s/%.40s.json", directory, wrapper);
    int missing = 0;
    cJSON *document = read_json_file(path, &missing, error, error_size);
    if (document == NULL)
        return missing ? 0 : -1;
    cJSON *list = cJSON_GetObjectItemCaseSensitive(document, wrapper);
    int result = cJSON_IsArray(list) ? 0 : -1;
    while (result == 0 && cJSON_GetArraySize(list) > 0)
        result = sim_record_put(records, cJSON_DetachItemFromArray(list, 0));
    if (result != 0)
        snprintf(error, error_size, "%s: expected {\"%s\":[records with numeric ids]}", path,
                 wrapper);
    cJSON_Delete(document);
    return result;
}

static int load_shop(const char *directory, sim_org *org, char *error, size_t error_size)
{
    char path[4096];
    snprintf(path, sizeof path, "%.4000s/shop.json", directory);
    int missing = 0;
    cJSON *document = read_json_file(path, &missing, error, error_size);
    if (document == NULL)
        return missing ? 0 : -1;
    cJSON *shop = cJSON_DetachItemFromObjectCaseSensitive(document, "shop");
    cJSON_Delete(document);
    if (sim_record_id(shop) != org->id) {
        snprintf(error, error_size, "%s: expected {\"shop\":{\"id\":%lld,...}}", path, org->id);
        cJSON_Delete(shop);
        return -1;
    }
    cJSON_Delete(org->shop);
    org->shop = shop;
    return 0;
}

static int load_org(sim_store *store, const char *seed_dir, long long id, char *error,
                    size_t error_size)
{
    char directory[4096];
    snprintf(directory, sizeof directory, "%.4000s/%lld", seed_dir, id);
    sim_org *org = sim_store_org_create(store, id);
    if (org == NULL) {
        snprintf(error, error_size, "out of memory");
        return -1;
    }
    if (load_shop(directory, org, error, error_size) != 0 ||
        load_records(directory, "users", org->users, error, error_size) != 0 ||
        load_records(directory, "orders", org->orders, error, error_size) != 0 ||
        load_records(directory, "customers", org->customers, error, error_size) != 0)
        return -1;
    return 0;
}

/* A directory entry named by digits only is an org. */
static long long org_directory_id(const char *name)
{
    if (name[0] < '1' || name[0] > '9' || strspn(name, "0123456789") != strlen(name) ||
        strlen(name) > 15)
        return -1;
    return strtoll(name, NULL, 10);
}

static int compare_orgs(const void *left, const void *right)
{
    long long a = (*(sim_org *const *)left)->id;
    long long b = (*(sim_org *const *)right)->id;
    return (a > b) - (a < b);
}

static int load_orgs(sim_store *store, const char *seed_dir, char *error, size_t error_size)
{
    DIR *directory = opendir(seed_dir);
    if (directory == NULL) {
        snprintf(error, error_size, "cannot open seed directory %s: %s", seed_dir, strerror(errno));
        return -1;
    }
    int result = 0;
    for (struct dirent *entry = readdir(directory); entry != NULL && result == 0;
         entry = readdir(directory)) {
        long long id = org_directory_id(entry->d_name);
        if (id > 0)
            result = load_org(store, seed_dir, id, error, error_size);
    }
    closedir(directory);
    /* The lowest org id is the default one, whatever order readdir gave. */
    if (store->org_count > 1)
        qsort(store->orgs, store->org_count, sizeof *store->orgs, compare_orgs);
    return result;
}

int sim_scopes_text(const cJSON *scopes, buffer *out)
{
    if (cJSON_IsString(scopes))
        return buffer_append_string(out, scopes->valuestring);
    if (!cJSON_IsArray(scopes))
        return -1;
    const cJSON *scope = NULL;
    cJSON_ArrayForEach(scope, scopes)
    {
        if (!cJSON_IsString(scope) ||
            buffer_printf(out, "%s%s", out->length > 0 ? " " : "", scope->valuestring) != 0)
            return -1;
    }
    return buffer_append(out, "", 0);
}

static int load_token(sim_store *store, const cJSON *entry)
{
    const cJSON *token = cJSON_GetObjectItemCaseSensitive(entry, "token");
    const cJSON *org_id = cJSON_GetObjectItemCaseSensitive(entry, "org_id");
    if (!cJSON_IsString(token) || !cJSON_IsNumber(org_id) || org_id->valuedouble < 1)
        return -1;
    buffer scopes = BUFFER_INIT;
    int result = sim_scopes_text(cJSON_GetObjectItemCaseSensitive(entry, "scopes"), &scopes);
    if (result == 0)
        result = sim_store_put_token(store, token->valuestring, (long long)org_id->valuedouble,
                                     buffer_text(&scopes));
    buffer_free(&scopes);
    return result;
}

static int load_tokens(sim_store *store, const char *seed_dir, char *error, size_t error_size)
{
    char path[4096];
    snprintf(path, sizeof path, "%.4000s/tokens.json", seed_dir);
    int missing = 0;
    cJSON *document = read_json_file(path, &missing, error, error_size);
    if (document == NULL)
        return missing ? 0 : -1;
    const cJSON *tokens = cJSON_GetObjectItemCaseSensitive(document, "tokens");
    int result = cJSON_IsArray(tokens) ? 0 : -1;
    const cJSON *entry = NULL;
    cJSON_ArrayForEach(entry, tokens)
    {
        if (result == 0)
            result = load_token(store, entry);
    }
    if (result != 0)
        snprintf(error, error_size, "%s: expected {\"tokens\":[{\"token\",\"org_id\",\"scopes\"}]}",
                 path);
    cJSON_Delete(document);
    return result;
}

int sim_store_load(sim_store *store, const char *seed_dir, char *error, size_t error_size)
{
    memset(store, 0, sizeof *store);
    if (load_orgs(store, seed_dir, error, error_size) != 0 ||
        load_tokens(store, seed_dir, error, error_size) != 0) {
        sim_store_free(store);
        return -1;
    }
    return 0;
}

void sim_store_free(sim_store *store)
{
    for (size_t i = 0; i < store->org_count; i++)
        org_free(store->orgs[i]);
    for (size_t i = 0; i < store->token_count; i++)
        token_free(&store->tokens[i]);
    free(store->orgs);
    free(store->tokens);
    memset(store, 0, sizeof *store);
}
