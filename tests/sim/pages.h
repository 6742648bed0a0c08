/*
 * pages: the HTML that accounts.haravan.com shows in the browser during
 * the connect flow: the consent page, the auto-submitting form_post page
 * that carries the answer back to the app, and the error page shown
 * instead of a redirect when the client or its redirect_uri is not
 * registered.
 *
 * Plain HTML, Vietnamese labels, no script except the one-line onload
 * submit of the form_post page (with a <noscript> button), so that a test
 * can drive it with curl and a person with any browser. Every value that
 * came from a request or from seed data passes through sim_html_escape():
 * state, nonce and names are attacker-chosen in real life.
 *
 * Ownership: the builders append to a caller's buffer and keep nothing.
 */
#ifndef HARAVAN_SIM_PAGES_H
#define HARAVAN_SIM_PAGES_H

#include <stddef.h>

#include <cJSON.h>

#include "core/buffer.h"

/* A form field: name and value, both escaped when written. */
typedef struct sim_field {
    const char *name;
    const char *value;
} sim_field;

/* Appends `text` with & < > " ' written as character references. Returns
 * 0 or -1. */
int sim_html_escape(buffer *out, const char *text);

/* What the consent page shows and carries. */
typedef struct sim_consent {
    const char *app_name;
    const char *shop_name;
    const char *scopes;      /* space separated */
    const cJSON *users;      /* the shop's staff, Haravan's user objects */
    const sim_field *hidden; /* the authorize parameters to POST back */
    size_t hidden_count;
} sim_consent;

/* The consent page: the staff in a <select name="user_id">, account owner
 * first and selected; buttons decision=allow "Đồng ý" and decision=deny
 * "Từ chối"; POSTs to /connect/authorize. Returns 0 or -1. */
int sim_page_consent(buffer *out, const sim_consent *consent);

/* The form_post answer (OAuth 2.0 Form Post Response Mode): a form
 * POSTing `fields` to `action`, submitted on load. Returns 0 or -1. */
int sim_page_form_post(buffer *out, const char *action, const sim_field *fields, size_t count);

/* The developer portal: each registered app (`apps`, an array of the app
 * objects of apps.h, may be NULL) with its client id, secret and Redirect
 * URLs, and a form POSTing client_id, callback_url and verify_token to
 * /sim/portal, which is where a merchant pastes what the CRM's settings
 * page shows. `notice` (may be NULL) is said above the apps, `error` (may
 * be NULL) too, as a refusal. Returns 0 or -1. */
int sim_page_portal(buffer *out, const cJSON *apps, const char *notice, const char *error);

/* An error page with a title and a message. Returns 0 or -1. */
int sim_page_error(buffer *out, const char *title, const char *message);

#endif
