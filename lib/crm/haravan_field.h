/*
 * crm_field: reading one field of a Haravan payload, telling "not there"
 * from "there but unusable", and writing down what went wrong.
 *
 * core/json.h's readers fold absent, null and wrong-typed values into one
 * answer, which is right for data we only glance at but let a `price` of
 * "abc" become 0.00 and a `customer` given as a string vanish. Payload
 * mapping (crm/haravan_payload.c) must decide per field: a field the CRM record
 * cannot be right without fails the event, a descriptive one is left empty
 * and noted. These readers give it the three answers it needs to decide,
 * and crm_report keeps the reason and the notes, each naming the field by
 * its path in the payload ("line_items[2].price") and quoting the value.
 *
 * Ids: Haravan's ids are whole numbers sent as JSON numbers or strings.
 * Both forms of one id give the same text; a number is used only while a
 * double holds it exactly (up to 2^53: json_parse_checked hands larger
 * integers over as strings of their digits), so no id is ever rounded.
 *
 * Ownership: text returned through `const char **` belongs to the cJSON
 * tree; everything else is written into caller buffers.
 */
#ifndef HARAVAN_CRM_HARAVAN_FIELD_H
#define HARAVAN_CRM_HARAVAN_FIELD_H

#include <stddef.h>

#include <cJSON.h>

typedef enum crm_field {
    CRM_FIELD_ABSENT = 0, /* missing, null, "" or only spaces (Haravan's ways of saying none) */
    CRM_FIELD_READ,       /* read; the output is set */
    CRM_FIELD_UNREADABLE, /* present but of a type or form that cannot be used */
} crm_field;

/* A string with something in it. Numbers, booleans, objects are unreadable:
 * turning them into text would be a guess. */
crm_field crm_field_text(const cJSON *object, const char *key, const char **out);

/* An id: a whole number above 0 (a double only up to 2^53), or a string of
 * letters, digits, '-' and '_' of at most size-1 characters. Digit strings
 * lose leading zeros, so "00123", "123" and 123 are one id. 0 and "0" are
 * Haravan's "none": absent. */
crm_field crm_field_id(const cJSON *object, const char *key, char *out, size_t size);

/* An amount: a finite number, or a string that is a plain decimal
 * ("980000", "-12.5"), below 10^15 in magnitude; written with two
 * decimals. */
crm_field crm_field_amount(const cJSON *object, const char *key, char *out, size_t size);

/* A whole number (a number without fraction, or a string of digits with an
 * optional '-'), below 9 * 10^15 in magnitude. */
crm_field crm_field_count(const cJSON *object, const char *key, long long *out);

crm_field crm_field_object(const cJSON *object, const char *key, const cJSON **out);
crm_field crm_field_array(const cJSON *object, const char *key, const cJSON **out);

/* What reading one payload found wrong. `reason` is set once, by the
 * first failure; `notes` collect every field left empty, "; " between. */
#define CRM_REPORT_REASON_SIZE 512
#define CRM_REPORT_NOTES_SIZE  1536
typedef struct crm_report {
    char reason[CRM_REPORT_REASON_SIZE];
    char notes[CRM_REPORT_NOTES_SIZE];
} crm_report;

/* "{subject}: {path}.{key}: {value} is not {expected}", or "...: missing"
 * when the field is absent. `subject` ("order 123") and `path`
 * ("line_items[2]") may be NULL or "". Keeps an earlier reason. */
void crm_report_fail(crm_report *report, const char *subject, const char *path, const cJSON *object,
                     const char *key, const char *expected);

/* Notes "{path}.{key}: {value} is not {expected}; {consequence}". */
void crm_report_note(crm_report *report, const char *path, const cJSON *object, const char *key,
                     const char *expected, const char *consequence);

/* Adds a note of free text, unless the notes hold it already. */
void crm_report_add(crm_report *report, const char *note);

/* The reason set by hand (printf-style), unless one is set already. */
void crm_report_reason(crm_report *report, const char *format, ...)
    __attribute__((format(printf, 2, 3)));

/* Notes where the tree holds U+FFFD ("U+FFFD in: note, customer.first_name"):
 * after json_parse_checked() replaced bytes that are not UTF-8 or \u0000
 * escapes, this says which fields a person should check. Keys count as
 * their object's path; at most a few paths are listed. */
void crm_report_replacements(crm_report *report, const cJSON *tree);

/* Copies `text` into `out` (size > 0) cut to fit at a UTF-8 character
 * boundary, so a cut never leaves half a character that PostgreSQL would
 * refuse. Returns 1 when it had to cut, else 0. */
int crm_copy_utf8(char *out, size_t size, const char *text);

#endif
