/*
 * settings_form: what the settings page submits, read and checked.
 *
 * POST /api/haravan/settings takes the same fields as a form
 * (application/x-www-form-urlencoded) or as a JSON object:
 *
 *   client_id, client_secret, verify_token, default_owner   strings
 *   sources   JSON: [{"haravan_channel": "pos", "name": "Cửa hàng"}, ...]
 *             form: one field per channel, source.pos=Cửa+hàng
 *   end_rotation   JSON true / form "1": stop accepting the previous
 *             client secret now instead of at the end of its 72 hours
 *             (false, null, "" or "0": leave it)
 *   csrf      the CSRF token (admin.h); ignored here
 *
 * Values are trimmed of surrounding whitespace (pasted values often carry
 * some). An empty or absent scalar means "leave it as it is" (an empty
 * verify_token also means "make one if there is none"). Each field that is
 * wrong gets a message for the merchant, in Vietnamese like the page, under
 * its own name ("source.pos" for a source), so the page can show it next
 * to the input. What needs the database (is default_owner a CRM user?) is
 * the handler's to check; it adds its messages with settings_form_fail().
 *
 * Ownership: the form owns copies of every value and its `errors` object;
 * settings_form_free() wipes the secrets and releases everything.
 */
#ifndef HARAVAN_HARAVAN_SETTINGS_FORM_H
#define HARAVAN_HARAVAN_SETTINGS_FORM_H

#include <stddef.h>

#include <cJSON.h>

#define SETTINGS_FORM_MAX_SOURCES 64
#define SETTINGS_FORM_JSON_DEPTH  8

typedef struct settings_source {
    char *channel; /* Haravan's source_name: "web", "pos", "shopee", ...;
                      "" for the orders that name none */
    char *name;    /* the CRM's name for it */
} settings_source;

typedef struct settings_form {
    char *client_id;     /* NULL: unchanged */
    char *client_secret; /* NULL: unchanged */
    char *verify_token;  /* NULL: unchanged (made when none is set) */
    char *default_owner; /* NULL: unchanged */
    settings_source sources[SETTINGS_FORM_MAX_SOURCES];
    size_t source_count;
    int end_rotation; /* 1: drop client_secret_previous */
    cJSON *errors;    /* {"field": "message", ...}; NULL while there is none */
} settings_form;

enum settings_form_result {
    SETTINGS_FORM_READ = 0,       /* read; `errors` says whether it is valid */
    SETTINGS_FORM_MALFORMED = 1,  /* not a form, or not a JSON object */
    SETTINGS_FORM_NO_MEMORY = -1, /* the form is empty */
};

/* Reads `length` bytes of `body` as JSON (`is_json`) or a form. */
enum settings_form_result settings_form_read(settings_form *out, const char *body, size_t length,
                                             int is_json);

/* Records `message` for `field` (the first message of a field stays).
 * Returns 0, or -1 when out of memory. */
int settings_form_fail(settings_form *f, const char *field, const char *message);

void settings_form_free(settings_form *f);

#endif
