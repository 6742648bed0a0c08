/*
 * hv_staff: staff ids to e-mails through a day-long cache. See staff.h for
 * what is cached, what is not, and why Haravan is left alone for a while
 * after it failed.
 */
#define _POSIX_C_SOURCE 200809L

#include "haravan/staff.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/buffer.h"
#include "haravan/rate_bucket.h"
#include "haravan/shop.h"

/* What hv_staff holds for one staff member. */
typedef struct cached_staff {
    int present;   /* a row exists */
    int fresh;     /* younger than HV_STAFF_CACHE_SECONDS */
    int has_email; /* else `missing` says why there is none */
    char email[320];
    char missing[128];
} cached_staff;

int hv_staff_directory_init(hv_staff_directory *directory, const char *api_url,
                            const hv_api_options *api_options, const unsigned char *master_key,
                            char *error, size_t error_size)
{
    memset(directory, 0, sizeof *directory);
    hv_api_options defaults;
    if (api_options == NULL) {
        hv_api_options_defaults(&defaults, api_url);
        api_options = &defaults;
    }
    /* Every call takes a slot of the shop's shared bucket first: the
     * client itself neither paces nor sleeps on a 429. */
    hv_api_options options = *api_options;
    options.shared_bucket = 1;
    hv_rate_limits_defaults(&directory->limits);
    directory->master_key = master_key;
    return hv_api_client_init(&directory->client, &options, error, error_size);
}

void hv_staff_directory_free(hv_staff_directory *directory)
{
    hv_api_client_free(&directory->client);
    memset(directory, 0, sizeof *directory);
}

/* Returns 0 (cached->present says whether a row was found) or -1. */
static int read_cache(db *database, const char *org_id, const char *staff_id, cached_staff *cached)
{
    char max_age[32];
    snprintf(max_age, sizeof max_age, "%d", HV_STAFF_CACHE_SECONDS);
    const char *values[] = {org_id, staff_id, max_age};
    PGresult *result = db_query(database, DB_IDEMPOTENT,
                                "SELECT email, coalesce(missing, ''),"
                                " fetched_at > now() - make_interval(secs => $3::int)"
                                " FROM hv_staff WHERE org_id = $1 AND user_id = $2",
                                3, values, NULL, NULL);
    if (result == NULL)
        return -1;
    memset(cached, 0, sizeof *cached);
    if (PQntuples(result) > 0) {
        cached->present = 1;
        cached->has_email = !PQgetisnull(result, 0, 0);
        snprintf(cached->email, sizeof cached->email, "%s", PQgetvalue(result, 0, 0));
        snprintf(cached->missing, sizeof cached->missing, "%s", PQgetvalue(result, 0, 1));
        cached->fresh = strcmp(PQgetvalue(result, 0, 2), "t") == 0;
    }
    PQclear(result);
    return 0;
}

/* Remembers Haravan's answer: an e-mail, or (email NULL) why there is none. */
static int write_cache(db *database, const char *org_id, const char *staff_id, const char *email,
                       const char *missing)
{
    const char *values[] = {org_id, staff_id, email, missing};
    PGresult *result = db_query(database, DB_IDEMPOTENT,
                                "INSERT INTO hv_staff (org_id, user_id, email, missing, fetched_at)"
                                " VALUES ($1, $2, $3, $4, now())"
                                " ON CONFLICT (org_id, user_id) DO UPDATE SET email = $3,"
                                " missing = $4, fetched_at = now()",
                                4, values, NULL, NULL);
    if (result == NULL)
        return -1;
    PQclear(result);
    return 0;
}

static void wipe_token(buffer *token)
{
    if (token->data != NULL)
        crypto_wipe(token->data, token->length);
    buffer_free(token);
}

static int is_staff_id(const char *text)
{
    if (text[0] == '\0' || strlen(text) > 18)
        return 0;
    for (const char *c = text; *c != '\0'; c++)
        if (*c < '0' || *c > '9')
            return 0;
    return 1;
}

/* Haravan is down or refusing for now: worth a pause, not a verdict. */
static int is_unavailable(hv_api_category category)
{
    return category == HV_API_SERVER_ERROR || category == HV_API_TIMEOUT ||
           category == HV_API_NETWORK || category == HV_API_RATE_LIMITED;
}

/* The shop's entry in the 403 pauses, or NULL when it has none. */
static hv_staff_forbidden *forbidden_entry(hv_staff_directory *directory, const char *org_id)
{
    for (int i = 0; i < HV_STAFF_FORBIDDEN_SHOPS; i++)
        if (strcmp(directory->forbidden[i].org_id, org_id) == 0)
            return &directory->forbidden[i];
    return NULL;
}

/* Pauses the shop's lookups after a 403, in its own entry, else in the one
 * whose pause ends first (a free entry's ended at 0). */
static void pause_forbidden(hv_staff_directory *directory, const char *org_id, const char *message)
{
    hv_staff_forbidden *entry = forbidden_entry(directory, org_id);
    if (entry == NULL) {
        entry = &directory->forbidden[0];
        for (int i = 1; i < HV_STAFF_FORBIDDEN_SHOPS; i++)
            if (directory->forbidden[i].until < entry->until)
                entry = &directory->forbidden[i];
    }
    snprintf(entry->org_id, sizeof entry->org_id, "%s", org_id);
    entry->until = clock_monotonic_seconds() + HV_STAFF_FORBIDDEN_SECONDS;
    snprintf(entry->message, sizeof entry->message, "%s", message);
}

/* The answer when Haravan could not be asked: a stale e-mail beats none. */
static int fall_back(const cached_staff *cached, const char *why, char *email, size_t email_size,
                     char *reason, size_t reason_size)
{
    if (cached->present && cached->has_email) {
        snprintf(email, email_size, "%s", cached->email);
        return 1;
    }
    snprintf(reason, reason_size, "%s", why);
    return 0;
}

/* Reads the shop's token into `token`. Returns 1, or 0 with `why` filled
 * (no key, not connected, cannot be opened). */
static int read_token(hv_staff_directory *directory, db *database, const char *org_id,
                      buffer *token, char *why, size_t why_size)
{
    char error[256] = "";
    int has_token =
        directory->master_key == NULL
            ? 0
            : hv_shop_token(database, directory->master_key, org_id, token, error, sizeof error);
    if (has_token == 1)
        return 1;
    snprintf(why, why_size, "%s",
             has_token < 0                   ? error
             : directory->master_key == NULL ? "no HARAVAN_MASTER_KEY to open the shop's token"
                                             : "the shop is not connected (no access token)");
    return 0;
}

/* ask_with_token's answers beside hv_api_staff_email's 0, 1 and -1. */
#define NO_TOKEN        -2 /* `why` says why */
#define DATABASE_FAILED -3
#define NOT_NOW         -4 /* the shop's bucket is full: *wait_ms */

/* The answer's word on the shop's bucket: its level, or a 429. Returns 0,
 * NOT_NOW (a 429: *wait_ms set) or DATABASE_FAILED. */
static int record_in_bucket(hv_staff_directory *directory, db *database, const char *org_id,
                            long long ticket, const hv_api_result *result, long *wait_ms)
{
    if (result->http_status == 429) {
        if (hv_rate_refused(database, org_id, &directory->limits, result->retry_after) != 0)
            return DATABASE_FAILED;
        double seconds = result->retry_after > 0 ? result->retry_after : 1.0;
        *wait_ms = (long)(seconds * 1000) + HV_RATE_MIN_WAIT_MS;
        return NOT_NOW;
    }
    if (result->call_limit_used >= 0 &&
        hv_rate_observe(database, org_id, &directory->limits, ticket, result->call_limit_used) != 0)
        return DATABASE_FAILED;
    return 0;
}

/* One call with a slot of the shop's bucket. Returns hv_api_staff_email's
 * answer, NOT_NOW or DATABASE_FAILED. */
static int ask_in_turn(hv_staff_directory *directory, db *database, const char *org_id,
                       const char *staff_id, const char *token, buffer *address,
                       hv_api_result *result, long *wait_ms)
{
    long long ticket = 0;
    int slot = hv_rate_take(database, org_id, &directory->limits, &ticket, wait_ms);
    if (slot != 1)
        return slot == 0 ? NOT_NOW : DATABASE_FAILED;
    int found =
        hv_api_staff_email(&directory->client, token, strtoll(staff_id, NULL, 10), address, result);
    int recorded = record_in_bucket(directory, database, org_id, ticket, result, wait_ms);
    return recorded != 0 ? recorded : found;
}

/* Asks Haravan for the e-mail with the shop's token; after a 401, when the
 * directory has a refresher, refreshes the token once and asks once more.
 * Returns hv_api_staff_email's answer (result says why on -1), NO_TOKEN
 * with `why` filled, NOT_NOW with *wait_ms, or DATABASE_FAILED. */
static int ask_with_token(hv_staff_directory *directory, db *database, const char *org_id,
                          const char *staff_id, buffer *address, hv_api_result *result, char *why,
                          size_t why_size, long *wait_ms)
{
    for (int attempt = 0;; attempt++) {
        buffer token = BUFFER_INIT;
        if (read_token(directory, database, org_id, &token, why, why_size) != 1) {
            wipe_token(&token);
            return NO_TOKEN;
        }
        int found = ask_in_turn(directory, database, org_id, staff_id, (const char *)token.data,
                                address, result, wait_ms);
        if (found != -1 || result->category != HV_API_UNAUTHORIZED || attempt > 0 ||
            directory->refresher == NULL) {
            wipe_token(&token);
            return found;
        }
        char error[512] = "";
        hv_refresh_outcome outcome = hv_token_refresh_rejected(
            directory->refresher, database, org_id, (const char *)token.data, error, sizeof error);
        wipe_token(&token);
        if (outcome != HV_REFRESH_REFRESHED && outcome != HV_REFRESH_NOT_NEEDED) {
            size_t used = strlen(result->message);
            snprintf(result->message + used, sizeof result->message - used,
                     "; token refresh %s: %.200s", hv_refresh_outcome_name(outcome), error);
            return found;
        }
        buffer_clear(address);
    }
}

/* Asks Haravan. Returns 1 (email set), 0 (reason set), HV_STAFF_NOT_NOW
 * (*wait_ms set) or -1 (database). */
static int ask_haravan(hv_staff_directory *directory, db *database, const char *org_id,
                       const char *staff_id, const cached_staff *cached, char *email,
                       size_t email_size, char *reason, size_t reason_size, long *wait_ms)
{
    buffer address = {0};
    hv_api_result result;
    char why[300] = "";
    int found = ask_with_token(directory, database, org_id, staff_id, &address, &result, why,
                               sizeof why, wait_ms);
    if (found == NO_TOKEN || found == NOT_NOW || found == DATABASE_FAILED)
        buffer_free(&address);
    if (found == NO_TOKEN)
        return fall_back(cached, why, email, email_size, reason, reason_size);
    if (found == DATABASE_FAILED)
        return -1;
    if (found == NOT_NOW) {
        /* A stale e-mail now rather than a fresh one later, as after a
         * failure: the slot goes to a staff member we know nothing of. */
        if (cached->present && cached->has_email)
            return fall_back(cached, "", email, email_size, reason, reason_size);
        return HV_STAFF_NOT_NOW;
    }
    int stored = 0;
    int answer;
    if (found == 0) {
        stored = write_cache(database, org_id, staff_id, (const char *)address.data, NULL);
        snprintf(email, email_size, "%s", (const char *)address.data);
        answer = 1;
    } else if (found == 1 || result.category == HV_API_NOT_FOUND) {
        const char *missing = found == 1 ? "no e-mail on Haravan" : "not a Haravan user";
        stored = write_cache(database, org_id, staff_id, NULL, missing);
        snprintf(reason, reason_size, "%s", missing);
        answer = 0;
    } else {
        if (result.category == HV_API_FORBIDDEN)
            pause_forbidden(directory, org_id, result.message);
        if (is_unavailable(result.category)) {
            directory->unavailable_until = clock_monotonic_seconds() + HV_STAFF_BACKOFF_SECONDS;
            snprintf(directory->last_failure, sizeof directory->last_failure, "%s", result.message);
        }
        answer = fall_back(cached, result.message, email, email_size, reason, reason_size);
    }
    buffer_free(&address);
    return stored == 0 ? answer : -1;
}

int hv_staff_lookup(void *context, db *database, const char *org_id, const char *staff_id,
                    char *email, size_t email_size, char *reason, size_t reason_size,
                    long *retry_after_ms)
{
    hv_staff_directory *directory = context;
    *retry_after_ms = 0;
    if (!is_staff_id(staff_id)) {
        snprintf(reason, reason_size, "\"%.40s\" is not a Haravan staff id", staff_id);
        return 0;
    }
    cached_staff cached;
    if (read_cache(database, org_id, staff_id, &cached) != 0)
        return -1;
    if (cached.present && cached.fresh) {
        if (!cached.has_email) {
            snprintf(reason, reason_size, "%s", cached.missing);
            return 0;
        }
        snprintf(email, email_size, "%s", cached.email);
        return 1;
    }
    const hv_staff_forbidden *forbidden = forbidden_entry(directory, org_id);
    if (forbidden != NULL && clock_monotonic_seconds() < forbidden->until) {
        char why[300];
        snprintf(why, sizeof why, "%.200s; not asked again for a while", forbidden->message);
        return fall_back(&cached, why, email, email_size, reason, reason_size);
    }
    if (clock_monotonic_seconds() < directory->unavailable_until) {
        char why[300];
        snprintf(why, sizeof why, "Haravan unavailable a moment ago (%.200s); not asked again yet",
                 directory->last_failure);
        return fall_back(&cached, why, email, email_size, reason, reason_size);
    }
    return ask_haravan(directory, database, org_id, staff_id, &cached, email, email_size, reason,
                       reason_size, retry_after_ms);
}
