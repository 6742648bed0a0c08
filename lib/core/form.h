/*
 * form: application/x-www-form-urlencoded, as query strings and as the
 * bodies of HTML form posts (Haravan's form_post, the settings page).
 *
 * Parsing copies and decodes every field, so a form outlives the text it
 * came from. The number of fields is capped: input from the network must
 * not choose how much work or memory we spend.
 *
 * Ownership: a form owns its fields; form_free() releases them. Strings
 * returned by form_get() belong to the form.
 */
#ifndef HARAVAN_CORE_FORM_H
#define HARAVAN_CORE_FORM_H

#include <stddef.h>

#define FORM_MAX_FIELDS 64

typedef struct form_field {
    char *name;
    char *value;
} form_field;

typedef struct form {
    form_field fields[FORM_MAX_FIELDS];
    size_t count;
} form;

/* Parses `length` bytes of `text`. Returns 0, or -1 when there are more
 * than FORM_MAX_FIELDS fields, a bad %-escape, or no memory (the form is
 * then empty). */
int form_parse(form *out, const char *text, size_t length);

/* The first value of `name`, or NULL. */
const char *form_get(const form *f, const char *name);

void form_free(form *f);

/* Appends `text` %-encoded for a query string or form body (RFC 3986
 * unreserved characters kept). Returns 0 or -1. */
struct buffer;
int form_append_encoded(struct buffer *out, const char *text);

#endif
