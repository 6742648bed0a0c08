/*
 * inbox_body: what a stored body is, read the one way intake, processing
 * and replay all read it.
 *
 * The inbox keeps a delivery's bytes exactly as they came (hv_events.body);
 * whether those bytes can be read, and what had to be repaired to read
 * them, is decided here and only here, so that intake (which stores an
 * unreadable body dead with the reason), the processors and a replay give
 * one body one answer. It belongs to the inbox, not to either side: the
 * Haravan side (haravan/webhook.c) and the CRM side (crm/processor.c) both
 * call it, and neither includes the other.
 *
 * Ownership: a parsed tree is the caller's (cJSON_Delete()); notes are
 * written into caller buffers.
 */
#ifndef HARAVAN_INBOX_BODY_H
#define HARAVAN_INBOX_BODY_H

#include <stddef.h>

#include <cJSON.h>

#include "core/json.h"

/* Deepest JSON nesting accepted; Haravan's resources nest about 4 deep. */
#define INBOX_BODY_MAX_DEPTH 64

/* The one parse of a delivery's body, shared by intake, processing and
 * replay so that they agree on what can be read: json_parse_checked() with
 * INBOX_BODY_MAX_DEPTH, and the refusals' wording (a body refused here is
 * stored dead with `reason`). Returns 0 with *json the tree (the caller's,
 * cJSON_Delete() it), or NULL and `reason` saying why the body can never be
 * read; -1 when memory ran out (no verdict: try again). */
int inbox_body_parse(const char *body, size_t length, cJSON **json, json_repairs *repairs,
                     char *reason, size_t size);

/* What intake needs of a body: inbox_body_parse()'s verdict and the
 * top-level `members` (json.h), without building the tree when the body is
 * plain JSON (every delivery Haravan sends; json_peek_members()), else
 * from inbox_body_parse()'s tree, so that the verdict, the repairs and the
 * members are always that function's. Returns 1 when the body is readable
 * (members filled, `repairs` counted), 0 when it is not (`reason` says
 * why, as inbox_body_parse() words it), -1 when memory ran out. */
int inbox_body_read_members(const char *body, size_t length, json_member *members, size_t count,
                            json_repairs *repairs, char *reason, size_t size);

/* A note for the event saying what inbox_body_parse() repaired in the
 * body's tree ("body: 1 byte sequence(s) that are not UTF-8 read as
 * U+FFFD"), "" when nothing was. */
void inbox_body_repairs_note(const json_repairs *repairs, char *out, size_t size);

/* The key under which intake lists, in the stored headers, the headers
 * whose bytes that are not UTF-8 it stored as U+FFFD. */
#define INBOX_NOT_UTF8_KEY "_not_utf8"

/* A note for the event naming those headers (`names`, the list stored
 * under INBOX_NOT_UTF8_KEY: "User-Agent, X-Haravan-Org-Id"); "" when
 * `names` is NULL or empty. Intake writes it, and processing writes it
 * again, so that the note outlives the processing that rewrites the notes
 * and a replay says it once. */
void inbox_header_note(const char *names, char *out, size_t size);

#endif
