/*
 * json: small, NULL-safe readers over cJSON for payloads we do not control.
 *
 * Haravan's values vary in type from sender to sender (ids as numbers or
 * strings, gender as 1 or "male", amounts as 980000 or 980000.0), and any
 * key may be missing or null. These readers turn "absent, null or of a type
 * we cannot use" into one answer (NULL or 0), so callers state what they
 * need and the rest is handled in one place.
 *
 * Ownership: returned strings belong to the cJSON tree; text written into
 * caller buffers belongs to the caller.
 */
#ifndef HARAVAN_CORE_JSON_H
#define HARAVAN_CORE_JSON_H

#include <stddef.h>

#include <cJSON.h>

/* The string value of `key` in `object`, or NULL (absent, null, not a
 * string). A string of only spaces is returned as it is. */
const char *json_string(const cJSON *object, const char *key);

/* Like json_string, but NULL also for "" and strings of only spaces. */
const char *json_text(const cJSON *object, const char *key);

/* The array under `key`, or NULL when absent or not an array. */
const cJSON *json_array(const cJSON *object, const char *key);

/* Why json_parse_checked() refused a text. */
typedef enum json_refusal {
    JSON_ACCEPTED = 0,
    JSON_NUL_BYTE,  /* a NUL byte inside the text */
    JSON_TOO_DEEP,  /* arrays and objects nested deeper than allowed */
    JSON_SYNTAX,    /* not JSON; *offset is near the error */
    JSON_TRAILING,  /* something after the value; *offset is where */
    JSON_NO_MEMORY, /* not a verdict on the text: try again */
} json_refusal;

/* What json_parse_checked() changed in the tree so that it could be read.
 * The text itself is never changed. */
typedef struct json_repairs {
    size_t invalid_utf8; /* byte sequences that are not UTF-8, each now U+FFFD */
    size_t nul_escapes;  /* \u0000 escapes in strings, each now U+FFFD */
    size_t big_integers; /* integers beyond 2^53 in magnitude, now strings of their exact digits */
} json_repairs;

/* Parses `length` bytes of JSON from the network: refuses (NULL) text that
 * nests arrays and objects deeper than `max_depth` before cJSON recurses
 * into it, text with a NUL byte, and anything after the value but
 * whitespace; *refusal says which and *offset where (a byte offset in
 * `text`), when it is known (either may be NULL).
 *
 * What cJSON would read wrongly is repaired in the tree, never refused:
 * bytes that are not UTF-8 inside strings (keys too) become U+FFFD, one
 * per maximal ill-formed subsequence as Unicode recommends; a \u0000
 * escape becomes U+FFFD instead of ending the C string; a lone surrogate
 * escape (\uD800 without its pair) becomes U+FFFD and counts as
 * invalid_utf8 (its UTF-8 form would be); a plain integer literal,
 * -?[1-9][0-9]*, beyond 2^53 in magnitude becomes a string of exactly its
 * characters (sign included), so that an id reader (crm/haravan_field.h) reads it exactly.
 * Fractions and exponent forms stay numbers. `repairs` (may be NULL) is
 * zeroed and then counts what was repaired.
 *
 * The tree belongs to the caller: cJSON_Delete() it. */
cJSON *json_parse_checked(const char *text, size_t length, int max_depth, json_refusal *refusal,
                          size_t *offset, json_repairs *repairs);

/* json_parse_checked() for callers that need no reason. */
cJSON *json_parse_bounded(const char *text, size_t length, int max_depth);

/* ---- top-level members, without a tree (json_peek.c) -------------------
 *
 * Intake needs three members of a delivery (id, updated_at, org_id) and
 * the verdict "readable or not"; building cJSON's tree of a 6 kB order for
 * that was most of its parsing cost (a few hundred allocations and frees
 * per delivery). json_peek_members() reads them in one pass over the text
 * instead, and says when it cannot be sure that json_parse_checked() would
 * give the same answer; the caller then parses. */

#define JSON_MEMBER_TEXT_MAX 128

typedef enum json_member_kind {
    JSON_MEMBER_ABSENT = 0, /* not a member (or the document is not an object) */
    JSON_MEMBER_STRING,
    JSON_MEMBER_NUMBER,
    JSON_MEMBER_OTHER, /* object, array, true, false or null */
} json_member_kind;

/* One wanted top-level member. `name` is set by the caller; the rest is
 * written. A string's bytes (as cJSON's valuestring holds them) are in
 * `text` when `length` < JSON_MEMBER_TEXT_MAX; `length` is their true
 * length either way. */
typedef struct json_member {
    const char *name;
    json_member_kind kind;
    char text[JSON_MEMBER_TEXT_MAX];
    size_t length;
    double number;
} json_member;

/* 1 when `text` is one JSON document that json_parse_checked(text,
 * length, max_depth, ...) accepts without repairing anything, with each
 * member filled as json_members_of() fills it from that tree (the first
 * member of that name, as cJSON_GetObjectItemCaseSensitive() finds it).
 * 0 when it cannot be sure (any text json_parse_checked() refuses or
 * repairs, cJSON's leniencies, escapes in a top-level key or in a wanted
 * string, very long numbers): then parse. Never allocates. */
int json_peek_members(const char *text, size_t length, int max_depth, json_member *members,
                      size_t count);

/* Fills `members` from a parsed document (ABSENT for all when it is not
 * an object). */
void json_members_of(const cJSON *document, json_member *members, size_t count);

#endif
