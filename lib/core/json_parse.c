/*
 * json_parse: the one checked JSON parser for text from the network.
 * See json.h for what it refuses and what it repairs.
 *
 * cJSON alone gets three things wrong for bodies we must keep: it recurses
 * once per nesting level (a deep body exhausts the stack), it reads a
 * \u0000 escape as a NUL that silently ends the C string, and it reads
 * every number as a double (an id above 2^53 comes out rounded: two orders
 * become one). It also copies bytes that are not UTF-8 into the tree, where
 * PostgreSQL refuses them later, and refuses a whole body for one lone
 * surrogate escape.
 *
 * So one linear scan runs first. It tracks strings exactly as cJSON does
 * (a string ends at the first '"' not after a backslash), counts nesting,
 * and counts what needs repair. Only when something does is a repaired
 * copy written (a second run of the same scan), and cJSON parses that
 * copy. A repair never changes what a valid document means elsewhere, and
 * never turns text cJSON refuses as a syntax error into a document, with
 * one exception that JSON's grammar allows: a lone surrogate escape.
 * The copy is at most three times the text; a refusal's offset is mapped
 * back to the text by a third run.
 */
#include "core/json.h"

#include <stdlib.h>
#include <string.h>

#include "core/utf8.h"

#define REPLACEMENT_ESCAPE "\\uFFFD"
/* 2^53, the largest integer below which every integer is a double. */
#define EXACT_LIMIT "9007199254740992"

typedef struct scan {
    const char *text;
    size_t length;
    size_t at; /* next byte of text to read */
    int depth;
    int max_depth;
    char *out;   /* NULL: count only */
    size_t used; /* bytes written (or counted) */
    /* Mapping an offset of the copy back: the first byte of text whose
     * output reaches `target`. */
    size_t target;
    size_t origin;
    int mapped;
    json_repairs repairs;
} scan;

/* Writes (or counts) n bytes of output that stand for the text from
 * `from` on as one unit: an offset inside them maps back to `from`. */
static void emit(scan *s, const char *bytes, size_t n, size_t from)
{
    if (!s->mapped && s->target < s->used + n) {
        s->origin = from;
        s->mapped = 1;
    }
    if (s->out != NULL)
        memcpy(s->out + s->used, bytes, n);
    s->used += n;
}

/* Writes (or counts) n bytes copied unchanged from the text at `from`: an
 * offset inside them maps back to the same byte of the text. Most of a
 * body is such runs, so they go in one step rather than a byte at a time
 * (the scan runs over every delivery). */
static void emit_verbatim(scan *s, size_t n, size_t from)
{
    if (!s->mapped && s->target < s->used + n) {
        s->origin = from + (s->target - s->used);
        s->mapped = 1;
    }
    if (s->out != NULL)
        memcpy(s->out + s->used, s->text + from, n);
    s->used += n;
}

/* How many bytes from `from` on are plain inside a string: ASCII, and
 * neither the closing quote nor an escape. */
static size_t plain_string_run(const scan *s, size_t from)
{
    size_t end = from;
    while (end < s->length) {
        unsigned char c = (unsigned char)s->text[end];
        if (c >= 0x80 || c == '"' || c == '\\')
            break;
        end++;
    }
    return end - from;
}

/* Bytes that start a string, a number or a level of nesting: the only
 * ones the scan looks at outside strings. */
static int starts_something(char c)
{
    return c == '"' || c == '-' || (c >= '0' && c <= '9') || c == '{' || c == '[' || c == '}' ||
           c == ']';
}

/* How many bytes from `from` on are structure the scan copies as they are:
 * whitespace, ':', ',', literals, and whatever cJSON will refuse. */
static size_t plain_structure_run(const scan *s, size_t from)
{
    size_t end = from;
    while (end < s->length && !starts_something(s->text[end]))
        end++;
    return end - from;
}

static int hex4(const char *p, size_t available, unsigned *value)
{
    if (available < 4)
        return 0;
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        char c = p[i];
        unsigned digit;
        if (c >= '0' && c <= '9')
            digit = (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f')
            digit = (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            digit = (unsigned)(c - 'A' + 10);
        else
            return 0;
        v = v * 16 + digit;
    }
    *value = v;
    return 1;
}

/* The escape \uXXXX at s->at (the backslash). A valid surrogate pair is
 * copied whole; \u0000 and a lone surrogate become \uFFFD (same length).
 * Anything cJSON would refuse is copied for cJSON to refuse. */
static void scan_unicode_escape(scan *s)
{
    size_t from = s->at;
    const char *p = s->text + from;
    size_t available = s->length - from;
    unsigned code = 0;
    unsigned low = 0;
    if (!hex4(p + 2, available - 2, &code)) {
        emit(s, p, 2, from);
        s->at += 2;
        return;
    }
    int high_surrogate = code >= 0xD800 && code <= 0xDBFF;
    int paired = high_surrogate && available >= 12 && p[6] == '\\' && p[7] == 'u' &&
                 hex4(p + 8, available - 8, &low) && low >= 0xDC00 && low <= 0xDFFF;
    if (paired) {
        emit(s, p, 12, from);
        s->at += 12;
        return;
    }
    if (code == 0) {
        s->repairs.nul_escapes++;
        emit(s, REPLACEMENT_ESCAPE, 6, from);
    } else if (code >= 0xD800 && code <= 0xDFFF) {
        s->repairs.invalid_utf8++;
        emit(s, REPLACEMENT_ESCAPE, 6, from);
    } else {
        emit(s, p, 6, from);
    }
    s->at += 6;
}

/* A string, from its opening quote to its closing one (or the end). */
static void scan_string(scan *s)
{
    emit(s, "\"", 1, s->at);
    s->at++;
    while (s->at < s->length) {
        size_t plain = plain_string_run(s, s->at);
        if (plain > 0) {
            emit_verbatim(s, plain, s->at);
            s->at += plain;
            continue;
        }
        const char *p = s->text + s->at;
        if (*p == '"') {
            emit(s, p, 1, s->at);
            s->at++;
            return;
        }
        if (*p == '\\' && s->at + 1 < s->length && p[1] == 'u') {
            scan_unicode_escape(s);
        } else if (*p == '\\') {
            size_t n = s->at + 1 < s->length ? 2 : 1;
            emit(s, p, n, s->at);
            s->at += n;
        } else {
            long n = utf8_sequence((const unsigned char *)p, s->length - s->at);
            if (n > 0) {
                emit(s, p, (size_t)n, s->at);
                s->at += (size_t)n;
            } else {
                s->repairs.invalid_utf8++;
                emit(s, UTF8_REPLACEMENT, 3, s->at);
                s->at += (size_t)-n;
            }
        }
    }
}

static int is_number_char(char c)
{
    return (c >= '0' && c <= '9') || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E';
}

/* A plain integer by JSON's grammar, -?(0|[1-9][0-9]*), beyond 2^53. */
static int is_big_integer(const char *p, size_t n)
{
    if (n > 0 && p[0] == '-') {
        p++;
        n--;
    }
    if (n == 0 || p[0] == '0')
        return 0;
    for (size_t i = 0; i < n; i++)
        if (p[i] < '0' || p[i] > '9')
            return 0;
    size_t limit = sizeof EXACT_LIMIT - 1;
    return n > limit || (n == limit && memcmp(p, EXACT_LIMIT, limit) > 0);
}

/* The next byte that is not whitespace as cJSON sees it (<= ' '). */
static char next_significant(const scan *s, size_t from)
{
    while (from < s->length && (unsigned char)s->text[from] <= ' ')
        from++;
    return from < s->length ? s->text[from] : '\0';
}

/* A run of number characters. A big integer becomes a string of its
 * digits, unless a ':' follows: there it would be a key, and a number is
 * not a valid key, so it is left for cJSON to refuse. */
static void scan_number(scan *s)
{
    size_t from = s->at;
    size_t end = from;
    while (end < s->length && is_number_char(s->text[end]))
        end++;
    size_t n = end - from;
    s->at = end;
    if (is_big_integer(s->text + from, n) && next_significant(s, end) != ':') {
        s->repairs.big_integers++;
        emit(s, "\"", 1, from);
        emit(s, s->text + from, n, from);
        emit(s, "\"", 1, end - 1);
        return;
    }
    emit(s, s->text + from, n, from);
}

/* One run over the text. Returns JSON_ACCEPTED or JSON_TOO_DEEP (with
 * s->at where the limit was crossed). */
static json_refusal run(scan *s)
{
    s->at = 0;
    s->depth = 0;
    s->used = 0;
    memset(&s->repairs, 0, sizeof s->repairs);
    while (s->at < s->length) {
        size_t plain = plain_structure_run(s, s->at);
        if (plain > 0) {
            emit_verbatim(s, plain, s->at);
            s->at += plain;
            continue;
        }
        char c = s->text[s->at];
        if (c == '"') {
            scan_string(s);
            continue;
        }
        if (c == '-' || (c >= '0' && c <= '9')) {
            scan_number(s);
            continue;
        }
        if (c == '{' || c == '[') {
            if (++s->depth > s->max_depth)
                return JSON_TOO_DEEP;
        } else if (c == '}' || c == ']') {
            s->depth--;
        }
        emit(s, &c, 1, s->at);
        s->at++;
    }
    return JSON_ACCEPTED;
}

static int any_repair(const json_repairs *repairs)
{
    return repairs->invalid_utf8 + repairs->nul_escapes + repairs->big_integers > 0;
}

static cJSON *refuse(json_refusal why, size_t where, json_refusal *refusal, size_t *offset)
{
    if (refusal != NULL)
        *refusal = why;
    if (offset != NULL)
        *offset = where;
    return NULL;
}

/* The offset in the original text of byte `at` of the repaired copy. */
static size_t original_offset(scan *s, size_t at)
{
    char *out = s->out;
    s->out = NULL;
    s->target = at;
    s->mapped = 0;
    run(s);
    s->out = out;
    return s->mapped ? s->origin : s->length;
}

/* cJSON over `text` (the original or the repaired copy): the value, then
 * nothing but whitespace. */
static cJSON *parse_exactly(scan *s, const char *text, size_t length, json_refusal *refusal,
                            size_t *offset)
{
    const char *end = NULL;
    cJSON *document = cJSON_ParseWithLengthOpts(text, length, &end, 0);
    json_refusal why = JSON_SYNTAX;
    if (document != NULL) {
        while (end != NULL && (size_t)(end - text) < length &&
               (*end == ' ' || *end == '\n' || *end == '\r' || *end == '\t'))
            end++;
        if (end != NULL && (size_t)(end - text) == length)
            return document;
        cJSON_Delete(document);
        why = JSON_TRAILING;
    }
    size_t at = end != NULL && end >= text ? (size_t)(end - text) : 0;
    if (text != s->text)
        at = original_offset(s, at);
    return refuse(why, at, refusal, offset);
}

cJSON *json_parse_checked(const char *text, size_t length, int max_depth, json_refusal *refusal,
                          size_t *offset, json_repairs *repairs)
{
    if (repairs != NULL)
        memset(repairs, 0, sizeof *repairs);
    if (text == NULL)
        return refuse(JSON_SYNTAX, 0, refusal, offset);
    const char *nul = memchr(text, '\0', length);
    if (nul != NULL)
        return refuse(JSON_NUL_BYTE, (size_t)(nul - text), refusal, offset);
    scan s = {.text = text, .length = length, .max_depth = max_depth, .mapped = 1};
    if (run(&s) == JSON_TOO_DEEP)
        return refuse(JSON_TOO_DEEP, s.at, refusal, offset);
    json_repairs found = s.repairs;
    cJSON *document = NULL;
    if (!any_repair(&found)) {
        document = parse_exactly(&s, text, length, refusal, offset);
    } else {
        s.out = malloc(s.used + 1);
        if (s.out == NULL)
            return refuse(JSON_NO_MEMORY, 0, refusal, offset);
        run(&s);
        document = parse_exactly(&s, s.out, s.used, refusal, offset);
        free(s.out);
    }
    if (document == NULL)
        return NULL;
    if (repairs != NULL)
        *repairs = found;
    if (refusal != NULL)
        *refusal = JSON_ACCEPTED;
    return document;
}

cJSON *json_parse_bounded(const char *text, size_t length, int max_depth)
{
    return json_parse_checked(text, length, max_depth, NULL, NULL, NULL);
}
