/*
 * Unit tests for lib/core/form: application/x-www-form-urlencoded parsing
 * and encoding.
 *
 * Forms come from the network (Haravan's form_post, the settings page), so
 * besides decoding ('+', %-escapes, Vietnamese UTF-8) the tests check the
 * refusals form.h promises: bad %-escapes and more than FORM_MAX_FIELDS
 * fields give -1 and leave an empty form. Texts are handed over as
 * exact-length copies without a NUL after them, as a request body is, so
 * ASan catches any read past `length`.
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
#include "core/form.h"

#define COUNT(array) (sizeof(array) / sizeof((array)[0]))

/* form_parse over an exact-length copy of `text` (no NUL after it). */
static int parse_text(form *out, const char *text)
{
    size_t length = strlen(text);
    char *copy = malloc(length > 0 ? length : 1);
    assert_non_null(copy);
    memcpy(copy, text, length);
    int result = form_parse(out, copy, length);
    free(copy);
    return result;
}

typedef struct field {
    const char *name;
    const char *value;
} field;

typedef struct parse_case {
    const char *text;
    size_t count;
    field fields[4];
} parse_case;

static void test_parse_decodes_fields(void **state)
{
    (void)state;
    static const parse_case cases[] = {
        {"a=1&b=two+words&c=%C4%90%E1%BB%93ng",
         3,
         {{"a", "1"}, {"b", "two words"}, {"c", "\xC4\x90\xE1\xBB\x93ng"}}},
        {"c=%c4%90%e1%bb%93ng", 1, {{"c", "Đồng"}}}, /* lower-case hex */
        {"flag", 1, {{"flag", ""}}},
        {"flag&x=1", 2, {{"flag", ""}, {"x", "1"}}},
        {"empty=", 1, {{"empty", ""}}},
        {"&&a=1&", 1, {{"a", "1"}}},
        {"", 0, {{NULL, NULL}}},
        {"&", 0, {{NULL, NULL}}},
        {"q=a%2Bb%26c%3Dd", 1, {{"q", "a+b&c=d"}}},
        {"eq=a=b", 1, {{"eq", "a=b"}}},
        {"my+name=x", 1, {{"my name", "x"}}},
        {"shop=hv.myharavan.com&code=ab12&hmac=dGVzdA%3D%3D",
         3,
         {{"shop", "hv.myharavan.com"}, {"code", "ab12"}, {"hmac", "dGVzdA=="}}},
    };
    for (size_t i = 0; i < COUNT(cases); i++) {
        form f;
        int result = parse_text(&f, cases[i].text);
        if (result != 0)
            fail_msg("form_parse(\"%s\") returned %d, expected 0", cases[i].text, result);
        if (f.count != cases[i].count)
            fail_msg("form_parse(\"%s\"): %zu fields, expected %zu", cases[i].text, f.count,
                     cases[i].count);
        for (size_t j = 0; j < cases[i].count; j++) {
            assert_string_equal(f.fields[j].name, cases[i].fields[j].name);
            assert_string_equal(f.fields[j].value, cases[i].fields[j].value);
        }
        form_free(&f);
        assert_int_equal(f.count, 0);
    }
}

/* Only `length` bytes are read, whatever follows them. */
static void test_parse_honours_length(void **state)
{
    (void)state;
    form f;
    assert_int_equal(form_parse(&f, "a=1&b=2", 3), 0);
    assert_int_equal(f.count, 1);
    assert_string_equal(form_get(&f, "a"), "1");
    assert_null(form_get(&f, "b"));
    form_free(&f);
    /* A %-escape cut by `length` is a bad escape. */
    assert_int_equal(form_parse(&f, "a=%41", 4), -1);
    assert_int_equal(f.count, 0);
}

static void test_parse_refuses_bad_escapes(void **state)
{
    (void)state;
    static const char *const texts[] = {
        "%zz", "%4", "%", "a=%zz", "a=%4", "a=%", "%zz=1", "a=1&b=%g0&c=3", "a=%%41", "a=%4g",
    };
    for (size_t i = 0; i < COUNT(texts); i++) {
        form f;
        int result = parse_text(&f, texts[i]);
        if (result != -1)
            fail_msg("form_parse(\"%s\") returned %d, expected -1", texts[i], result);
        if (f.count != 0)
            fail_msg("form_parse(\"%s\") left %zu fields, expected 0", texts[i], f.count);
        assert_null(form_get(&f, "a"));
        form_free(&f); /* harmless on an emptied form */
    }
}

/* "f0=0&f1=1&..." with `count` fields and an optional trailing '&'. */
static void build_many_fields(buffer *text, size_t count, int trailing_ampersand)
{
    for (size_t i = 0; i < count; i++)
        assert_int_equal(buffer_printf(text, "%sf%zu=%zu", i > 0 ? "&" : "", i, i), 0);
    if (trailing_ampersand)
        assert_int_equal(buffer_append_char(text, '&'), 0);
}

typedef struct field_limit_case {
    size_t fields;
    int trailing_ampersand;
    int expected;
    size_t expected_count;
} field_limit_case;

static void test_parse_field_limit(void **state)
{
    (void)state;
    static const field_limit_case cases[] = {
        {FORM_MAX_FIELDS, 0, 0, FORM_MAX_FIELDS},
        {FORM_MAX_FIELDS, 1, 0, FORM_MAX_FIELDS}, /* an empty pair is not a field */
        {FORM_MAX_FIELDS + 1, 0, -1, 0},
        {1000, 0, -1, 0},
    };
    assert_int_equal(FORM_MAX_FIELDS, 64);
    for (size_t i = 0; i < COUNT(cases); i++) {
        buffer text = BUFFER_INIT;
        build_many_fields(&text, cases[i].fields, cases[i].trailing_ampersand);
        form f;
        int result = parse_text(&f, buffer_text(&text));
        if (result != cases[i].expected || f.count != cases[i].expected_count)
            fail_msg("%zu fields: form_parse returned %d with %zu fields, expected %d with %zu",
                     cases[i].fields, result, f.count, cases[i].expected, cases[i].expected_count);
        if (result == 0) {
            assert_string_equal(form_get(&f, "f0"), "0");
            assert_string_equal(form_get(&f, "f63"), "63");
        }
        form_free(&f);
        buffer_free(&text);
    }
}

static void test_get_returns_first_of_repeated_names(void **state)
{
    (void)state;
    form f;
    assert_int_equal(parse_text(&f, "a=1&b=x&a=2&A=3"), 0);
    assert_int_equal(f.count, 4);
    assert_string_equal(form_get(&f, "a"), "1");
    assert_string_equal(form_get(&f, "A"), "3"); /* names are case-sensitive */
    assert_string_equal(form_get(&f, "b"), "x");
    assert_null(form_get(&f, "c"));
    assert_null(form_get(&f, ""));
    form_free(&f);
}

typedef struct encode_case {
    const char *text;
    const char *encoded;
} encode_case;

static void test_append_encoded(void **state)
{
    (void)state;
    static const encode_case cases[] = {
        {"a b&c=đ~", "a%20b%26c%3D%C4%91~"},
        {"", ""},
        {"AZaz09-._~", "AZaz09-._~"},
        {"+/?#%", "%2B%2F%3F%23%25"},
        {"Đồng ý", "%C4%90%E1%BB%93ng%20%C3%BD"},
        {"https://crm.example.com/haravan/install",
         "https%3A%2F%2Fcrm.example.com%2Fharavan%2Finstall"},
        {"\x01\x7f\xff", "%01%7F%FF"},
    };
    for (size_t i = 0; i < COUNT(cases); i++) {
        buffer out = BUFFER_INIT;
        assert_int_equal(buffer_append_string(&out, "q="), 0);
        assert_int_equal(form_append_encoded(&out, cases[i].text), 0);
        /* Appended after what the buffer held. */
        assert_memory_equal(buffer_text(&out), "q=", 2);
        assert_string_equal(buffer_text(&out) + 2, cases[i].encoded);
        assert_int_equal(out.length, 2 + strlen(cases[i].encoded));

        /* And parsing gives the text back. */
        form f;
        assert_int_equal(parse_text(&f, buffer_text(&out)), 0);
        assert_int_equal(f.count, 1);
        assert_string_equal(form_get(&f, "q"), cases[i].text);
        form_free(&f);
        buffer_free(&out);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_decodes_fields),
        cmocka_unit_test(test_parse_honours_length),
        cmocka_unit_test(test_parse_refuses_bad_escapes),
        cmocka_unit_test(test_parse_field_limit),
        cmocka_unit_test(test_get_returns_first_of_repeated_names),
        cmocka_unit_test(test_append_encoded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
