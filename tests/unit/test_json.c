/*
 * Unit tests for the checked JSON parser (lib/core/json_parse.c) and the
 * id reader it serves (crm_field_id in lib/crm/haravan_field.c).
 *
 * Each case is a text from the network and what must come out of it: the
 * refusal (and where), or the tree, printed exactly (print_tree: numbers
 * with all their digits, strings as their raw bytes), with the repairs
 * counted. The expected trees were written by hand from the rules
 * in json.h; the UTF-8 cases follow Unicode's "maximal subpart" practice,
 * checked against Python's bytes.decode("utf-8", "replace"), which follows
 * it too. Texts are handed over as malloc'd copies of exactly their length
 * (no NUL after them), as a request body is, so ASan catches an over-read.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buffer.h"
#include "core/json.h"
#include "crm/haravan_field.h"

#define COUNT(array) (sizeof(array) / sizeof((array)[0]))
#define FFFD         "\xEF\xBF\xBD"
#define ANY_OFFSET   ((size_t)-1)
/* A literal and its length, embedded NUL bytes included. */
#define TEXT(literal) literal, sizeof(literal) - 1

typedef struct parse_case {
    const char *text;
    size_t length;
    json_refusal refusal;
    size_t offset;       /* for refusals; ANY_OFFSET when not asserted */
    const char *printed; /* the tree as print_tree() writes it */
    json_repairs repairs;
} parse_case;

static const parse_case cases[] = {
    /* Nothing to repair: the tree is cJSON's own. */
    {TEXT("{\"id\":1,\"a\":[true,null,\"x\"]}"),
     JSON_ACCEPTED,
     0,
     "{\"id\":1,\"a\":[true,null,\"x\"]}",
     {0, 0, 0}},
    {TEXT(" \t\r\n{}\n"), JSON_ACCEPTED, 0, "{}", {0, 0, 0}},

    /* Integers: 2^53 is a double exactly; one more is not. */
    {TEXT("{\"id\":9007199254740992}"), JSON_ACCEPTED, 0, "{\"id\":9007199254740992}", {0, 0, 0}},
    {TEXT("{\"id\":9007199254740993}"),
     JSON_ACCEPTED,
     0,
     "{\"id\":\"9007199254740993\"}",
     {0, 0, 1}},
    {TEXT("{\"id\":-9007199254740992}"), JSON_ACCEPTED, 0, "{\"id\":-9007199254740992}", {0, 0, 0}},
    {TEXT("{\"id\":-9007199254740993}"),
     JSON_ACCEPTED,
     0,
     "{\"id\":\"-9007199254740993\"}",
     {0, 0, 1}},
    {TEXT("[123456789012345678901234567890123456789012345678901234567890123456789012345]"),
     JSON_ACCEPTED,
     0,
     "[\"123456789012345678901234567890123456789012345678901234567890123456789012345\"]",
     {0, 0, 1}},
    {TEXT("[18446744073709551616 , 9999999999999999,1]"),
     JSON_ACCEPTED,
     0,
     "[\"18446744073709551616\",\"9999999999999999\",1]",
     {0, 0, 2}},
    {TEXT("9007199254740993"), JSON_ACCEPTED, 0, "\"9007199254740993\"", {0, 0, 1}},
    /* Exponent and fraction forms are not integer literals: numbers. */
    {TEXT("[9007199254740993e0,1e20,9007199254740993.0,-1E+2]"),
     JSON_ACCEPTED,
     0,
     "[9007199254740992,1e+20,9007199254740992,-100]",
     {0, 0, 0}},
    /* Digits in a string are text. */
    {TEXT("{\"id\":\"9007199254740993\"}"),
     JSON_ACCEPTED,
     0,
     "{\"id\":\"9007199254740993\"}",
     {0, 0, 0}},
    /* A number is no key: left for cJSON to refuse, not made one. */
    {TEXT("{12345678901234567890:1}"), JSON_SYNTAX, ANY_OFFSET, NULL, {0, 0, 0}},
    {TEXT("{\"a\":1,12345678901234567890 :1}"), JSON_SYNTAX, ANY_OFFSET, NULL, {0, 0, 0}},

    /* Bytes that are not UTF-8, in values and keys. */
    {TEXT("{\"note\":\"a\xFF"
          "b\"}"),
     JSON_ACCEPTED,
     0,
     "{\"note\":\"a" FFFD "b\"}",
     {1, 0, 0}},
    {TEXT("{\"k\xFE\":\"v\"}"), JSON_ACCEPTED, 0, "{\"k" FFFD "\":\"v\"}", {1, 0, 0}},
    /* Overlong forms: C0 is never a lead byte; E0 80 is no sequence. */
    {TEXT("[\"\xC0\xAF\"]"), JSON_ACCEPTED, 0, "[\"" FFFD FFFD "\"]", {2, 0, 0}},
    {TEXT("[\"\xE0\x80\xAF\"]"), JSON_ACCEPTED, 0, "[\"" FFFD FFFD FFFD "\"]", {3, 0, 0}},
    /* An encoded surrogate, and a code point above U+10FFFF. */
    {TEXT("[\"\xED\xA0\x80\"]"), JSON_ACCEPTED, 0, "[\"" FFFD FFFD FFFD "\"]", {3, 0, 0}},
    {TEXT("[\"\xF4\x90\x80\x80\"]"), JSON_ACCEPTED, 0, "[\"" FFFD FFFD FFFD FFFD "\"]", {4, 0, 0}},
    /* A sequence cut short is one U+FFFD; the quote still ends the string. */
    {TEXT("[\"\xF0\x9F\x98\",\"\xC3\"]"),
     JSON_ACCEPTED,
     0,
     "[\"" FFFD "\",\"" FFFD "\"]",
     {2, 0, 0}},
    /* Well-formed Vietnamese and emoji are left alone. */
    {TEXT("[\"Nguy\xE1\xBB\x85n \xF0\x9F\x98\x80\"]"),
     JSON_ACCEPTED,
     0,
     "[\"Nguy\xE1\xBB\x85n \xF0\x9F\x98\x80\"]",
     {0, 0, 0}},

    /* Escapes: \u0000 no longer ends the string. */
    {TEXT("{\"note\":\"a\\u0000b\"}"), JSON_ACCEPTED, 0, "{\"note\":\"a" FFFD "b\"}", {0, 1, 0}},
    {TEXT("{\"a\\u0000\":1}"), JSON_ACCEPTED, 0, "{\"a" FFFD "\":1}", {0, 1, 0}},
    {TEXT("[\"\\\\u0000\"]"), JSON_ACCEPTED, 0, "[\"\\u0000\"]", {0, 0, 0}},
    /* Surrogate escapes: a pair is one character, a lone half U+FFFD. */
    {TEXT("[\"\\ud83d\\ude00\"]"), JSON_ACCEPTED, 0, "[\"\xF0\x9F\x98\x80\"]", {0, 0, 0}},
    {TEXT("[\"\\uD83Dx\"]"), JSON_ACCEPTED, 0, "[\"" FFFD "x\"]", {1, 0, 0}},
    {TEXT("[\"\\ude00\"]"), JSON_ACCEPTED, 0, "[\"" FFFD "\"]", {1, 0, 0}},
    {TEXT("[\"\\ud83d\\u0041\"]"), JSON_ACCEPTED, 0, "[\"" FFFD "A\"]", {1, 0, 0}},
    {TEXT("[\"\\ud800\\ud83d\\ude00\"]"),
     JSON_ACCEPTED,
     0,
     "[\"" FFFD "\xF0\x9F\x98\x80\"]",
     {1, 0, 0}},
    {TEXT("[\"\\u12\"]"), JSON_SYNTAX, ANY_OFFSET, NULL, {0, 0, 0}},
    /* Everything at once. */
    {TEXT("{\"id\":9007199254740993,\"n\\u0000\":\"\xFF\"}"),
     JSON_ACCEPTED,
     0,
     "{\"id\":\"9007199254740993\",\"n" FFFD "\":\"" FFFD "\"}",
     {1, 1, 1}},

    /* Refusals, with offsets in the text as sent (not the repaired copy). */
    {TEXT("{\"a\":\"x\"\0}"), JSON_NUL_BYTE, 8, NULL, {0, 0, 0}},
    {TEXT("[[[[1]]]]"), JSON_TOO_DEEP, 3, NULL, {0, 0, 0}},
    {TEXT("{\"a\":\"[[[[[[\"}"), JSON_ACCEPTED, 0, "{\"a\":\"[[[[[[\"}", {0, 0, 0}},
    {TEXT("{\"a\":tru}"), JSON_SYNTAX, 5, NULL, {0, 0, 0}},
    /* The same error with and without bytes to repair before it. */
    {TEXT("{\"a\":\"xx\",tru}"), JSON_SYNTAX, 11, NULL, {0, 0, 0}},
    {TEXT("{\"a\":\"\xFF\xFF\",tru}"), JSON_SYNTAX, 11, NULL, {0, 0, 0}},
    /* An error inside a run of plain bytes after a repair: the offset is
     * the byte's own, not the run's start. */
    {TEXT("{\"a\":\"x\",   tru}"), JSON_SYNTAX, 13, NULL, {0, 0, 0}},
    {TEXT("{\"a\":\"\xFF\",   tru}"), JSON_SYNTAX, 13, NULL, {0, 0, 0}},
    {TEXT("{\"a\":1} x"), JSON_TRAILING, 8, NULL, {0, 0, 0}},
    {TEXT("{\"a\":\"\xFF\"} x"), JSON_TRAILING, 10, NULL, {0, 0, 0}},
    {TEXT("[9007199254740993] 9007199254740993"), JSON_TRAILING, 19, NULL, {0, 0, 0}},
    {TEXT(""), JSON_SYNTAX, 0, NULL, {0, 0, 0}},
};

static char *exact_copy(const char *bytes, size_t length)
{
    char *copy = malloc(length > 0 ? length : 1);
    assert_non_null(copy);
    memcpy(copy, bytes, length);
    return copy;
}

/* The tree in JSON's shape, exactly: integral numbers below 1e17 with all
 * their digits, others with 17 significant ones; strings (keys too) as
 * their raw bytes between quotes, nothing escaped. */
static void print_tree(buffer *out, const cJSON *item)
{
    if (cJSON_IsObject(item) || cJSON_IsArray(item)) {
        int object = cJSON_IsObject(item);
        assert_int_equal(buffer_append_char(out, object ? '{' : '['), 0);
        for (const cJSON *child = item->child; child != NULL; child = child->next) {
            if (child != item->child)
                assert_int_equal(buffer_append_char(out, ','), 0);
            if (object)
                assert_int_equal(buffer_printf(out, "\"%s\":", child->string), 0);
            print_tree(out, child);
        }
        assert_int_equal(buffer_append_char(out, object ? '}' : ']'), 0);
    } else if (cJSON_IsString(item)) {
        assert_int_equal(buffer_printf(out, "\"%s\"", item->valuestring), 0);
    } else if (cJSON_IsNumber(item)) {
        double v = item->valuedouble;
        if (v == (double)(long long)v && v < 1e17 && v > -1e17)
            assert_int_equal(buffer_printf(out, "%.0f", v), 0);
        else
            assert_int_equal(buffer_printf(out, "%.17g", v), 0);
    } else {
        assert_int_equal(buffer_append_string(out, cJSON_IsTrue(item)    ? "true"
                                                   : cJSON_IsFalse(item) ? "false"
                                                                         : "null"),
                         0);
    }
}

static void check_case(size_t i, const parse_case *c)
{
    char *text = exact_copy(c->text, c->length);
    json_refusal refusal = JSON_ACCEPTED;
    size_t offset = ANY_OFFSET;
    json_repairs repairs = {99, 99, 99};
    cJSON *tree = json_parse_checked(text, c->length, 3, &refusal, &offset, &repairs);
    if (refusal != c->refusal)
        fail_msg("case %zu: refusal %d, expected %d", i, (int)refusal, (int)c->refusal);
    if (c->refusal != JSON_ACCEPTED) {
        assert_null(tree);
        if (c->offset != ANY_OFFSET && offset != c->offset)
            fail_msg("case %zu: offset %zu, expected %zu", i, offset, c->offset);
        assert_int_equal(repairs.invalid_utf8 + repairs.nul_escapes + repairs.big_integers, 0);
        free(text);
        return;
    }
    assert_non_null(tree);
    buffer printed = BUFFER_INIT;
    print_tree(&printed, tree);
    if (strcmp(buffer_text(&printed), c->printed) != 0)
        fail_msg("case %zu: tree %s, expected %s", i, buffer_text(&printed), c->printed);
    if (repairs.invalid_utf8 != c->repairs.invalid_utf8 ||
        repairs.nul_escapes != c->repairs.nul_escapes ||
        repairs.big_integers != c->repairs.big_integers)
        fail_msg("case %zu: repairs %zu/%zu/%zu, expected %zu/%zu/%zu", i, repairs.invalid_utf8,
                 repairs.nul_escapes, repairs.big_integers, c->repairs.invalid_utf8,
                 c->repairs.nul_escapes, c->repairs.big_integers);
    buffer_free(&printed);
    cJSON_Delete(tree);
    free(text);
}

static void test_parse_cases(void **state)
{
    (void)state;
    for (size_t i = 0; i < COUNT(cases); i++)
        check_case(i, &cases[i]);
}

/* The parser never writes into the text it was given. */
static void test_parse_leaves_text_alone(void **state)
{
    (void)state;
    static const char sent[] = "{\"id\":9007199254740993,\"n\\u0000\":\"\xFF\\ud800\"}";
    char *text = exact_copy(sent, sizeof sent - 1);
    cJSON *tree = json_parse_checked(text, sizeof sent - 1, 8, NULL, NULL, NULL);
    assert_non_null(tree);
    assert_memory_equal(text, sent, sizeof sent - 1);
    cJSON_Delete(tree);
    free(text);
}

/* Depth: exactly max_depth is accepted, one more refused, arrays and
 * objects alike, and brackets inside strings are text. */
static void test_parse_depth_limit(void **state)
{
    (void)state;
    for (int objects = 0; objects < 2; objects++) {
        for (int depth = 63; depth <= 65; depth++) {
            buffer text = BUFFER_INIT;
            for (int d = 0; d < depth; d++)
                assert_int_equal(buffer_append_string(&text, objects ? "{\"[\":" : "[\"{\","), 0);
            assert_int_equal(buffer_append_string(&text, "9007199254740993"), 0);
            for (int d = 0; d < depth; d++)
                assert_int_equal(buffer_append_char(&text, objects ? '}' : ']'), 0);
            json_refusal refusal = JSON_SYNTAX;
            cJSON *tree = json_parse_checked(text.data, text.length, 64, &refusal, NULL, NULL);
            assert_int_equal(refusal, depth <= 64 ? JSON_ACCEPTED : JSON_TOO_DEEP);
            assert_int_equal(tree != NULL, depth <= 64);
            cJSON_Delete(tree);
            buffer_free(&text);
        }
    }
}

/* A big body that needs repair everywhere: still linear, and the copy
 * (three bytes for one) is parsed whole. */
static void test_parse_large_repaired_body(void **state)
{
    (void)state;
    buffer text = BUFFER_INIT;
    assert_int_equal(buffer_append_string(&text, "{\"s\":\""), 0);
    for (int i = 0; i < 300000; i++)
        assert_int_equal(buffer_append_char(&text, (char)0xFF), 0);
    assert_int_equal(buffer_append_string(&text, "\",\"id\":99999999999999999999}"), 0);
    json_repairs repairs;
    cJSON *tree = json_parse_checked(text.data, text.length, 64, NULL, NULL, &repairs);
    assert_non_null(tree);
    assert_int_equal(repairs.invalid_utf8, 300000);
    assert_int_equal(repairs.big_integers, 1);
    assert_int_equal(strlen(json_string(tree, "s")), 3 * 300000);
    assert_string_equal(json_string(tree, "id"), "99999999999999999999");
    cJSON_Delete(tree);
    buffer_free(&text);
}

typedef struct id_case {
    const char *text;
    crm_field read;
    const char *id;
} id_case;

/* Through the checked parser, the id reader intake and processing share
 * (crm/haravan_field.h): a number and the string of its digits are the same
 * id, at 2^53 and beyond it, where the parser hands the digits over. */
static void test_ids_read_exactly_after_parsing(void **state)
{
    (void)state;
    static const id_case ids[] = {
        {"{\"id\":123}", CRM_FIELD_READ, "123"},
        {"{\"id\":\"123\"}", CRM_FIELD_READ, "123"},
        {"{\"id\":1000114691.0}", CRM_FIELD_READ, "1000114691"},
        {"{\"id\":9007199254740992}", CRM_FIELD_READ, "9007199254740992"},
        {"{\"id\":\"9007199254740992\"}", CRM_FIELD_READ, "9007199254740992"},
        {"{\"id\":9007199254740993}", CRM_FIELD_READ, "9007199254740993"},
        {"{\"id\":\"9007199254740993\"}", CRM_FIELD_READ, "9007199254740993"},
        {"{\"id\":12345678901234567890}", CRM_FIELD_READ, "12345678901234567890"},
        {"{\"id\":0}", CRM_FIELD_ABSENT, ""},
        {"{\"id\":\"0\"}", CRM_FIELD_ABSENT, ""},
        {"{\"id\":-5}", CRM_FIELD_UNREADABLE, ""},
        {"{\"id\":1.5}", CRM_FIELD_UNREADABLE, ""},
        {"{\"id\":1e3}", CRM_FIELD_READ, "1000"},
        {"{\"id\":null}", CRM_FIELD_ABSENT, ""},
        {"{}", CRM_FIELD_ABSENT, ""},
    };
    for (size_t i = 0; i < COUNT(ids); i++) {
        cJSON *tree = json_parse_checked(ids[i].text, strlen(ids[i].text), 8, NULL, NULL, NULL);
        assert_non_null(tree);
        char out[64];
        crm_field read = crm_field_id(tree, "id", out, sizeof out);
        if (read != ids[i].read || strcmp(out, ids[i].id) != 0)
            fail_msg("%s: crm_field_id %d \"%s\", expected %d \"%s\"", ids[i].text, read, out,
                     ids[i].read, ids[i].id);
        cJSON_Delete(tree);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_cases),
        cmocka_unit_test(test_parse_leaves_text_alone),
        cmocka_unit_test(test_parse_depth_limit),
        cmocka_unit_test(test_parse_large_repaired_body),
        cmocka_unit_test(test_ids_read_exactly_after_parsing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
