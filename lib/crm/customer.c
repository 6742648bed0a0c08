/*
 * crm_customer: match by Haravan id, phone, email; fill, never overwrite.
 * See customer.h for the rules and why the unique indexes are the arbiter.
 */
#include "crm/customer.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char match_sql[] =
    "SELECT id,"
    " coalesce(haravan_org_id = $1::text AND haravan_customer_id = $2::text, false),"
    " coalesce(phone = $3::text, false), coalesce(email = $4::text, false),"
    " coalesce(haravan_updated_at > hv_timestamptz($5::text), false)"
    " FROM customers"
    " WHERE (haravan_org_id = $1::text AND haravan_customer_id = $2::text) OR phone = $3::text OR "
    "email = $4::text"
    " ORDER BY id FOR UPDATE";

static const char insert_sql[] =
    "INSERT INTO customers (name, phone, email, gender, birthday, description, address,"
    " province, district, ward, owner_id, source, haravan_org_id, haravan_customer_id,"
    " phone_raw, email_raw, haravan_updated_at)"
    " VALUES ($1::text, $2::text, $3::text, $4::text, hv_date_in_vietnam($5::text), $6::text, "
    "$7::text, $8::text, $9::text, $10::text,"
    " nullif($11::text, '0')::bigint, 'haravan', $12::text, $13::text, $14::text, $15::text, "
    "hv_timestamptz($16::text))"
    " RETURNING id";

/* Fills what is empty; the WHERE makes an update that changes nothing a
 * no-op, so a redelivery writes nothing and emits no event. */
static const char fill_sql[] =
    "UPDATE customers SET"
    " name = CASE WHEN name = '' THEN coalesce($2::text, '') ELSE name END,"
    " phone = coalesce(phone, $3::text), email = coalesce(email, $4::text),"
    " gender = coalesce(gender, $5::text), birthday = coalesce(birthday, "
    "hv_date_in_vietnam($6::text)),"
    " description = coalesce(nullif(description, ''), $7::text),"
    " address = coalesce(nullif(address, ''), $8::text), province = coalesce(nullif(province, ''), "
    "$9::text),"
    " district = coalesce(nullif(district, ''), $10::text), ward = coalesce(nullif(ward, ''), "
    "$11::text),"
    " haravan_org_id = coalesce(haravan_org_id, $12::text),"
    " haravan_customer_id = coalesce(haravan_customer_id, $13::text),"
    " phone_raw = coalesce(phone_raw, $14::text), email_raw = coalesce(email_raw, $15::text),"
    " haravan_updated_at = greatest(haravan_updated_at, hv_timestamptz($16::text)),"
    " updated_at = now()"
    " WHERE id = $1::bigint AND ("
    "  (name = '' AND coalesce($2::text, '') <> '') OR (phone IS NULL AND $3::text IS NOT NULL)"
    "  OR (email IS NULL AND $4::text IS NOT NULL) OR (gender IS NULL AND $5::text IS NOT NULL)"
    "  OR (birthday IS NULL AND hv_date_in_vietnam($6::text) IS NOT NULL)"
    "  OR (coalesce(description, '') = '' AND $7::text IS NOT NULL)"
    "  OR (coalesce(address, '') = '' AND $8::text IS NOT NULL)"
    "  OR (coalesce(province, '') = '' AND $9::text IS NOT NULL)"
    "  OR (coalesce(district, '') = '' AND $10::text IS NOT NULL)"
    "  OR (coalesce(ward, '') = '' AND $11::text IS NOT NULL)"
    "  OR (haravan_customer_id IS NULL AND $13::text IS NOT NULL))"
    " RETURNING id";

static const char *or_null(const char *text)
{
    return text != NULL && text[0] != '\0' ? text : NULL;
}

typedef struct matches {
    long long by_haravan, by_phone, by_email;
    int stored_is_newer; /* of the Haravan-linked match */
} matches;

static int find_matches(db *database, const crm_customer_input *in, matches *found)
{
    const char *values[] = {in->org_id, or_null(in->haravan_id), or_null(in->phone),
                            or_null(in->email), in->updated_at};
    memset(found, 0, sizeof *found);
    PGresult *result = db_query(database, DB_ONCE, match_sql, 5, values, NULL, NULL);
    if (result == NULL)
        return -1;
    for (int row = 0; row < PQntuples(result); row++) {
        long long id = strtoll(PQgetvalue(result, row, 0), NULL, 10);
        if (PQgetvalue(result, row, 1)[0] == 't') {
            found->by_haravan = id;
            found->stored_is_newer = PQgetvalue(result, row, 4)[0] == 't';
        }
        if (PQgetvalue(result, row, 2)[0] == 't')
            found->by_phone = id;
        if (PQgetvalue(result, row, 3)[0] == 't')
            found->by_email = id;
    }
    PQclear(result);
    return 0;
}

static long long returned_id(PGresult *result)
{
    long long id = PQntuples(result) > 0 ? strtoll(PQgetvalue(result, 0, 0), NULL, 10) : 0;
    PQclear(result);
    return id;
}

static int insert(db *database, const crm_customer_input *in, long long owner_id,
                  crm_customer_result *out)
{
    char owner[32];
    snprintf(owner, sizeof owner, "%lld", owner_id);
    const char *values[] = {
        in->name,
        or_null(in->phone),
        or_null(in->email),
        in->gender,
        in->birthday,
        or_null(in->description),
        or_null(in->address),
        or_null(in->province),
        or_null(in->district),
        or_null(in->ward),
        owner,
        in->org_id,
        or_null(in->haravan_id),
        or_null(in->phone_raw),
        or_null(in->email_raw),
        in->updated_at,
    };
    PGresult *result = db_query(database, DB_ONCE, insert_sql, 16, values, NULL, NULL);
    if (result == NULL)
        return -1;
    out->id = returned_id(result);
    out->created = 1;
    return 0;
}

static int fill(db *database, const crm_customer_input *in, long long id, const matches *found,
                crm_customer_result *out)
{
    char id_text[32];
    snprintf(id_text, sizeof id_text, "%lld", id);
    /* Never copy a phone or email that identifies someone else. */
    const char *phone = found->by_phone == 0 || found->by_phone == id ? or_null(in->phone) : NULL;
    const char *email = found->by_email == 0 || found->by_email == id ? or_null(in->email) : NULL;
    const char *haravan_id = found->by_haravan == 0 ? or_null(in->haravan_id) : NULL;
    const char *values[] = {
        id_text,
        or_null(in->name),
        phone,
        email,
        in->gender,
        in->birthday,
        or_null(in->description),
        or_null(in->address),
        or_null(in->province),
        or_null(in->district),
        or_null(in->ward),
        haravan_id ? in->org_id : NULL,
        haravan_id,
        or_null(in->phone_raw),
        or_null(in->email_raw),
        in->updated_at,
    };
    PGresult *result = db_query(database, DB_ONCE, fill_sql, 16, values, NULL, NULL);
    if (result == NULL)
        return -1;
    out->id = id;
    out->changed = returned_id(result) != 0;
    return 0;
}

int crm_customer_upsert(db *database, const crm_customer_input *input, long long owner_id,
                        crm_customer_result *result)
{
    matches found;
    memset(result, 0, sizeof *result);
    if (find_matches(database, input, &found) != 0)
        return -1;
    if (found.by_phone != 0 && found.by_email != 0 && found.by_phone != found.by_email)
        snprintf(result->note, sizeof result->note,
                 "phone %s is customer %lld but email %s is customer %lld: attached to %lld "
                 "by phone, not merged",
                 input->phone, found.by_phone, input->email, found.by_email,
                 found.by_haravan != 0 ? found.by_haravan : found.by_phone);
    long long chosen = found.by_haravan != 0 ? found.by_haravan
                       : found.by_phone != 0 ? found.by_phone
                                             : found.by_email;
    if (chosen == 0)
        return insert(database, input, owner_id, result);
    if (found.by_haravan != 0 && found.stored_is_newer) {
        result->id = chosen; /* an older version of this customer: nothing to learn */
        return 0;
    }
    return fill(database, input, chosen, &found, result);
}

/* Addresses that stand for "no email": Haravan's own placeholders, the
 * documentation domains, and the local parts shops type to skip the field. */
static int is_placeholder(const char *local, const char *domain)
{
    static const char *const domains[] = {"haravan.com", "example.com", "example.net",
                                          "example.org", "localhost",   NULL};
    static const char *const locals[] = {"guest",   "noemail",  "no-email", "none",  "null",
                                         "noreply", "no-reply", "khachle",  "khach", NULL};
    for (size_t i = 0; domains[i] != NULL; i++)
        if (strcmp(domain, domains[i]) == 0)
            return 1;
    for (size_t i = 0; locals[i] != NULL; i++)
        if (strcmp(local, locals[i]) == 0)
            return 1;
    return 0;
}

int crm_customer_normalise_email(const char *email, char *out, size_t size)
{
    out[0] = '\0';
    if (email == NULL)
        return 0;
    while (isspace((unsigned char)*email))
        email++;
    size_t length = strlen(email);
    while (length > 0 && isspace((unsigned char)email[length - 1]))
        length--;
    if (length == 0 || length >= size)
        return 0;
    for (size_t i = 0; i < length; i++) {
        unsigned char c = (unsigned char)email[i];
        if (isspace(c) || c < 0x20)
            return 0;
        out[i] = (char)tolower(c);
    }
    out[length] = '\0';
    char *at = strchr(out, '@');
    int valid = at != NULL && at != out && strchr(at + 1, '@') == NULL &&
                strchr(at + 1, '.') != NULL && at[1] != '.' && out[length - 1] != '.';
    if (valid) {
        *at = '\0';
        valid = !is_placeholder(out, at + 1);
        *at = '@';
    }
    if (!valid)
        out[0] = '\0';
    return valid;
}
