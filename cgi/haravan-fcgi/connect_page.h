/*
 * connect_page: the pages a connect callback (/api/haravan/login,
 * /api/haravan/grandservice) answers itself, in Vietnamese and English,
 * when it cannot send the merchant back to the settings page with a
 * ?connect=CODE:
 *
 * - CONNECT_PAGE_METHOD (405, Allow: POST): the callback was opened with
 *   GET (or any method but POST). Haravan answers by form_post, as the
 *   authorize request asks, so a code or id_token never sits in a URL, an
 *   access log or the browser's history; a GET is refused and nothing in
 *   its query is read, used or logged.
 * - CONNECT_PAGE_OTHER_BROWSER (403): the state is good, but this browser
 *   is not the one that pressed Kết nối (its cookie is missing or another).
 *   Someone who saw the authorize URL must not finish the flow with their
 *   own shop; the merchant's own flow stays usable.
 *
 * Neither page redirects: the one who sees it may not be signed in on the
 * settings page. Both link to it, send no Referer, load nothing (a CSP of
 * default-src 'none') and are not cached (request_reply's no-store).
 *
 * Ownership: nothing is kept.
 */
#ifndef HARAVAN_FCGI_CONNECT_PAGE_H
#define HARAVAN_FCGI_CONNECT_PAGE_H

#include "request.h"
#include "worker.h"

typedef enum connect_page_kind {
    CONNECT_PAGE_METHOD,
    CONNECT_PAGE_OTHER_BROWSER,
} connect_page_kind;

/* Replies with the page of `kind`. */
void connect_page_reply(const worker *w, request *r, connect_page_kind kind);

#endif
