/*
 * crm_customer: one person in the CRM, found or created, never twice.
 *
 * A customer from Haravan matches an existing CRM customer by, in order:
 *   1. the same Haravan customer of the same shop (already linked);
 *   2. the same canonical phone (lib/core/phone.h);
 *   3. the same email (trimmed, lower case).
 * Values that are not a real phone or a real person's email are kept in
 * phone_raw / email_raw and never matched on. When the phone and the email
 * point to two different customers, the phone wins and the conflict is
 * reported in the result's note; nothing is merged.
 *
 * A match never loses what the CRM knows: only empty fields are filled, and
 * a phone or email already belonging to someone else is not copied. The
 * unique indexes on phone and email are the last word: when two
 * transactions create the same person at once, one of them fails with a
 * unique violation and its caller retries, then finds the person
 * (lib/crm/processor.c).
 *
 * Runs inside the caller's transaction. Ownership: inputs are borrowed.
 */
#ifndef HARAVAN_CRM_CUSTOMER_H
#define HARAVAN_CRM_CUSTOMER_H

#include <stddef.h>

#include "core/db.h"
#include "core/phone.h"

typedef struct crm_customer_input {
    const char *org_id;
    char haravan_id[32]; /* "" when Haravan gave none */
    char name[512];
    char phone[PHONE_CANONICAL_SIZE]; /* canonical, "" when not usable */
    const char *phone_raw;            /* as sent, when not usable */
    char email[320];                  /* normalised, "" when not usable */
    const char *email_raw;            /* as sent, when not usable */
    const char *gender;               /* "male", "female" or NULL */
    const char *birthday;             /* Haravan's text, or NULL */
    const char *description;
    char address[1024];
    const char *province;
    const char *district;
    const char *ward;
    const char *updated_at; /* Haravan's text, or NULL */
} crm_customer_input;

typedef struct crm_customer_result {
    long long id;
    int created;
    int changed;    /* an existing customer got new values */
    char note[768]; /* a conflict worth a person's eye, or "" */
} crm_customer_result;

/* Finds or creates the customer. `owner_id` (0 = none) is the owner of a
 * newly created customer; a matched customer keeps its owner. Returns 0, or
 * -1 with database->error set (a unique violation among them: retry). */
int crm_customer_upsert(db *database, const crm_customer_input *input, long long owner_id,
                        crm_customer_result *result);

/* Lower-cases and trims `email` into `out`. Returns 1 when it is a real
 * person's address (well formed, not a placeholder such as
 * guest@haravan.com or anything @example.com), else 0. */
int crm_customer_normalise_email(const char *email, char *out, size_t size);

#endif
