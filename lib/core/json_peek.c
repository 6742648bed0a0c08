/*
 * json_peek: a few top-level members of a JSON text, read in one pass
 * without building a tree. See json.h.
 *
 * Intake reads three members of every delivery and needs to know whether
 * the body is readable; the processors parse it whole later. Building
 * cJSON's tree for that (a few hundred allocations and frees for a 6 kB
 * order) was most of intake's parsing cost.
 *
 * The answer must be the one json_parse_checked() gives, or none: a body
 * intake calls readable and the processors cannot read (or the other way
 * round) would be stored under the wrong status. So this reader accepts
 * only RFC 8259 JSON that json_parse_checked() reads as it is (nothing it
 * would repair or refuse: bytes that are not UTF-8, \u0000, a lone
 * surrogate, an integer beyond 2^53, a NUL byte, nesting deeper than the
 * limit), in the narrowest form that cJSON reads the same way, and
 * answers "unsure" (0) for everything else: text cJSON refuses, and
 * text it accepts by leniency (bytes below 0x20 that it skips as
 * whitespace, a byte-order mark, numbers such as 01, control characters
 * inside strings). It also answers 0 where reading a member would need
 * cJSON's own decoding: an escape in a top-level key (it may spell a
 * wanted name) or in a wanted string, a number longer than
 * PEEK_NUMBER_MAX characters. The caller then parses, and the full parse
 * decides. tests/unit/test_json_peek.c compares the two on every sample and on
 * thousands of mutations of them.
 */
#include "core/json.h"

#include <stdlib.h>
#include <string.h>

#include "core/utf8.h"

/* Longer numbers are left to cJSON, which reads at most 63 characters of
 * one (and then refuses the rest). */
#define PEEK_NUMBER_MAX 32
/* Deeper documents are left to the full parse. */
#define PEEK_MAX_DEPTH 256

typedef enum peek_state {
    PEEK_VALUE,       /* a value comes next */
    PEEK_FIRST_VALUE, /* just after '[': a value or ']' */
    PEEK_FIRST_KEY,   /* just after '{': a key or '}' */
    PEEK_KEY,         /* a key, then ':' */
    PEEK_AFTER,       /* after a value: ',', a closer, or the end */
    PEEK_FAILED,
} peek_state;

typedef struct peek {
    const unsigned char *text;
    size_t length;
    size_t at;
    unsigned char open[PEEK_MAX_DEPTH]; /* '{' or '[' per level */
    int depth;
    int max_depth; /* the caller's, at most PEEK_MAX_DEPTH */
    json_member *members;
    size_t count;
    json_member *wanted; /* the member whose value comes next, or NULL */
} peek;

static void skip_whitespace(peek *k)
{
    while (k->at < k->length) {
        unsigned char c = k->text[k->at];
        if (c != ' ' && c != '\n' && c != '\r' && c != '\t')
            return;
        k->at++;
    }
}

static int is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

static int is_hex(unsigned char c)
{
    return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* The code unit of the \uXXXX escape at `at` (its backslash), or -1. */
static long unicode_escape(const peek *k, size_t at)
{
    if (k->length - at < 6 || k->text[at] != '\\' || k->text[at + 1] != 'u')
        return -1;
    long code = 0;
    for (size_t i = 2; i < 6; i++) {
        unsigned char c = k->text[at + i];
        if (!is_hex(c))
            return -1;
        code = code * 16 + (is_digit(c) ? c - '0' : (c | 0x20) - 'a' + 10);
    }
    return code;
}

/* The escape at k->at (the backslash): 1 and past it when JSON has it and
 * json_parse_checked() reads it unrepaired: not \u0000, and a surrogate
 * only as a high one directly followed by its low one (json.h). */
static int skip_escape(peek *k)
{
    if (k->at + 1 >= k->length)
        return 0;
    unsigned char e = k->text[k->at + 1];
    if (e == 'u') {
        long code = unicode_escape(k, k->at);
        if (code <= 0 || (code >= 0xDC00 && code <= 0xDFFF))
            return 0;
        if (code >= 0xD800 && code <= 0xDBFF) {
            long low = unicode_escape(k, k->at + 6);
            if (low < 0xDC00 || low > 0xDFFF)
                return 0;
            k->at += 6;
        }
        k->at += 6;
        return 1;
    }
    if (e != '"' && e != '\\' && e != '/' && e != 'b' && e != 'f' && e != 'n' && e != 'r' &&
        e != 't')
        return 0;
    k->at += 2;
    return 1;
}

/* A string from its opening quote to past its closing one; [*start, *end)
 * is its content as written. Bytes that are not UTF-8 would be repaired
 * (json.h): unsure. */
static int read_string(peek *k, size_t *start, size_t *end, int *escaped)
{
    if (k->at >= k->length || k->text[k->at] != '"')
        return 0;
    k->at++;
    *start = k->at;
    *escaped = 0;
    while (k->at < k->length) {
        unsigned char c = k->text[k->at];
        if (c == '"') {
            *end = k->at;
            k->at++;
            return 1;
        }
        if (c < 0x20)
            return 0;
        if (c == '\\') {
            *escaped = 1;
            if (!skip_escape(k))
                return 0;
            continue;
        }
        if (c < 0x80) {
            k->at++;
            continue;
        }
        long n = utf8_sequence(k->text + k->at, k->length - k->at);
        if (n <= 0)
            return 0;
        k->at += (size_t)n;
    }
    return 0;
}

static void skip_digits(peek *k)
{
    while (k->at < k->length && is_digit(k->text[k->at]))
        k->at++;
}

/* 1 when the integer digits [from, to) are beyond 2^53, which
 * json_parse_checked() repairs into a string (json.h). */
static int beyond_exact(const peek *k, size_t from, size_t to)
{
    static const char limit[] = "9007199254740992";
    size_t n = to - from;
    size_t limit_length = sizeof limit - 1;
    return n > limit_length || (n == limit_length && memcmp(k->text + from, limit, n) > 0);
}

/* -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?, RFC 8259 section 6; an
 * integer beyond 2^53 would be repaired: unsure. */
static int read_number(peek *k)
{
    size_t start = k->at;
    if (k->at < k->length && k->text[k->at] == '-')
        k->at++;
    if (k->at >= k->length || !is_digit(k->text[k->at]))
        return 0;
    size_t digits = k->at;
    if (k->text[k->at] == '0')
        k->at++;
    else
        skip_digits(k);
    int integer = k->at >= k->length ||
                  (k->text[k->at] != '.' && k->text[k->at] != 'e' && k->text[k->at] != 'E');
    if (integer && beyond_exact(k, digits, k->at))
        return 0;
    if (k->at < k->length && k->text[k->at] == '.') {
        k->at++;
        if (k->at >= k->length || !is_digit(k->text[k->at]))
            return 0;
        skip_digits(k);
    }
    if (k->at < k->length && (k->text[k->at] == 'e' || k->text[k->at] == 'E')) {
        k->at++;
        if (k->at < k->length && (k->text[k->at] == '+' || k->text[k->at] == '-'))
            k->at++;
        if (k->at >= k->length || !is_digit(k->text[k->at]))
            return 0;
        skip_digits(k);
    }
    return k->at - start <= PEEK_NUMBER_MAX;
}

static int read_literal(peek *k, const char *word)
{
    size_t n = strlen(word);
    if (k->length - k->at < n || memcmp(k->text + k->at, word, n) != 0)
        return 0;
    k->at += n;
    return 1;
}

/* A string value: kept when it is the wanted member's. */
static peek_state string_value(peek *k)
{
    size_t start = 0;
    size_t end = 0;
    int escaped = 0;
    if (!read_string(k, &start, &end, &escaped))
        return PEEK_FAILED;
    json_member *member = k->wanted;
    if (member != NULL) {
        if (escaped)
            return PEEK_FAILED; /* cJSON's decoding would be needed */
        member->kind = JSON_MEMBER_STRING;
        member->length = end - start;
        if (member->length < JSON_MEMBER_TEXT_MAX) {
            memcpy(member->text, k->text + start, member->length);
            member->text[member->length] = '\0';
        }
    }
    return PEEK_AFTER;
}

/* A number value: read with strtod, as cJSON reads it, when wanted. */
static peek_state number_value(peek *k)
{
    size_t start = k->at;
    if (!read_number(k))
        return PEEK_FAILED;
    json_member *member = k->wanted;
    if (member != NULL) {
        char digits[PEEK_NUMBER_MAX + 1];
        memcpy(digits, k->text + start, k->at - start);
        digits[k->at - start] = '\0';
        member->kind = JSON_MEMBER_NUMBER;
        member->number = strtod(digits, NULL);
    }
    return PEEK_AFTER;
}

static peek_state open_container(peek *k, unsigned char c)
{
    if (k->depth == k->max_depth)
        return PEEK_FAILED; /* refused as too deep, or deeper than this reader goes */
    k->open[k->depth++] = c;
    k->at++;
    return c == '{' ? PEEK_FIRST_KEY : PEEK_FIRST_VALUE;
}

static peek_state value(peek *k)
{
    if (k->at >= k->length)
        return PEEK_FAILED;
    unsigned char c = k->text[k->at];
    if (c == '"')
        return string_value(k);
    if (k->wanted != NULL)
        k->wanted->kind = JSON_MEMBER_OTHER; /* unless a number overwrites it */
    peek_state next = PEEK_FAILED;
    if (c == '{' || c == '[')
        next = open_container(k, c);
    else if (c == '-' || is_digit(c))
        next = number_value(k);
    else if (read_literal(k, "true") || read_literal(k, "false") || read_literal(k, "null"))
        next = PEEK_AFTER;
    return next;
}

/* The first wanted member named [start, end) not seen yet, or NULL. */
static json_member *member_named(peek *k, size_t start, size_t end)
{
    size_t n = end - start;
    for (size_t i = 0; i < k->count; i++) {
        json_member *member = &k->members[i];
        if (strlen(member->name) == n && memcmp(member->name, k->text + start, n) == 0)
            return member->kind == JSON_MEMBER_ABSENT ? member : NULL;
    }
    return NULL;
}

static peek_state key(peek *k)
{
    size_t start = 0;
    size_t end = 0;
    int escaped = 0;
    if (!read_string(k, &start, &end, &escaped))
        return PEEK_FAILED;
    if (k->depth == 1) {
        if (escaped)
            return PEEK_FAILED; /* it may spell a wanted name */
        k->wanted = member_named(k, start, end);
    }
    skip_whitespace(k);
    if (k->at >= k->length || k->text[k->at] != ':')
        return PEEK_FAILED;
    k->at++;
    return PEEK_VALUE;
}

static peek_state close_or_first(peek *k, unsigned char closer, peek_state otherwise)
{
    if (k->at < k->length && k->text[k->at] == closer) {
        k->at++;
        k->depth--;
        return PEEK_AFTER;
    }
    return otherwise;
}

static peek_state after_value(peek *k)
{
    if (k->at >= k->length)
        return PEEK_FAILED;
    unsigned char open = k->open[k->depth - 1];
    unsigned char c = k->text[k->at];
    if (c == (open == '{' ? '}' : ']')) {
        k->at++;
        k->depth--;
        return PEEK_AFTER;
    }
    if (c != ',')
        return PEEK_FAILED;
    k->at++;
    return open == '{' ? PEEK_KEY : PEEK_VALUE;
}

static peek_state step(peek *k, peek_state state)
{
    switch (state) {
    case PEEK_VALUE: {
        peek_state next = value(k);
        k->wanted = NULL;
        return next;
    }
    case PEEK_FIRST_VALUE:
        return close_or_first(k, ']', PEEK_VALUE);
    case PEEK_FIRST_KEY:
        return close_or_first(k, '}', PEEK_KEY);
    case PEEK_KEY:
        return key(k);
    case PEEK_AFTER:
        return after_value(k);
    case PEEK_FAILED:
        break;
    }
    return PEEK_FAILED;
}

static void clear(json_member *members, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        members[i].kind = JSON_MEMBER_ABSENT;
        members[i].text[0] = '\0';
        members[i].length = 0;
        members[i].number = 0;
    }
}

int json_peek_members(const char *text, size_t length, int max_depth, json_member *members,
                      size_t count)
{
    clear(members, count);
    if (text == NULL || max_depth < 0)
        return 0;
    peek k = {.text = (const unsigned char *)text,
              .length = length,
              .members = members,
              .count = count,
              .max_depth = max_depth < PEEK_MAX_DEPTH ? max_depth : PEEK_MAX_DEPTH};
    peek_state state = PEEK_VALUE;
    for (;;) {
        skip_whitespace(&k);
        if (state == PEEK_AFTER && k.depth == 0)
            break;
        state = step(&k, state);
        if (state == PEEK_FAILED) {
            clear(members, count);
            return 0;
        }
    }
    if (k.at == k.length)
        return 1;
    clear(members, count);
    return 0;
}

void json_members_of(const cJSON *document, json_member *members, size_t count)
{
    clear(members, count);
    if (!cJSON_IsObject(document))
        return;
    for (size_t i = 0; i < count; i++) {
        const cJSON *item = cJSON_GetObjectItemCaseSensitive(document, members[i].name);
        json_member *member = &members[i];
        if (item == NULL) {
            continue;
        } else if (cJSON_IsString(item)) {
            member->kind = JSON_MEMBER_STRING;
            member->length = strlen(item->valuestring);
            if (member->length < JSON_MEMBER_TEXT_MAX)
                memcpy(member->text, item->valuestring, member->length + 1);
        } else if (cJSON_IsNumber(item)) {
            member->kind = JSON_MEMBER_NUMBER;
            member->number = item->valuedouble;
        } else {
            member->kind = JSON_MEMBER_OTHER;
        }
    }
}
