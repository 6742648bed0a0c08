/*
 * Unit tests for lib/haravan/settings_form: reading the settings page's
 * form and JSON submissions.
 *
 * The page sends what the merchant typed, so the tests cover trimming,
 * empty meaning "unchanged", the two spellings of sources, and a message
 * under the right name for every kind of wrong value: characters Haravan's
 * ids never have, lengths, a second copy of a field, unknown fields, wrong
 * JSON types, bad UTF-8 that PostgreSQL would refuse, a channel given two
 * names. Bodies are handed over as exact-length copies without a NUL after
 * them, as a request body is, so ASan catches any read past the end.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "haravan/settings_form.h"

#define COUNT(array) (sizeof(array) / sizeof((array)[0]))

static enum settings_form_result read_text(settings_form *f, const char *text, int is_json)
{
    size_t length = strlen(text);
    char *copy = malloc(length > 0 ? length : 1);
    assert_non_null(copy);
    memcpy(copy, text, length);
    enum settings_form_result result = settings_form_read(f, copy, length, is_json);
    free(copy);
    return result;
}

static const char *message(const settings_form *f, const char *field)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(f->errors, field);
    return cJSON_IsString(item) ? item->valuestring : NULL;
}

static void test_form_fields_are_trimmed_and_read(void **state)
{
    (void)state;
    settings_form f;
    assert_int_equal(read_text(&f,
                               "client_id=+abc-123+&client_secret=secret%21&verify_token="
                               "&default_owner=Boss%40crm.vn&source.pos=C%E1%BB%ADa+h%C3%A0ng"
                               "&source.web=+Website+&csrf=xyz",
                               0),
                     SETTINGS_FORM_READ);
    assert_null(f.errors);
    assert_string_equal(f.client_id, "abc-123");
    assert_string_equal(f.client_secret, "secret!");
    settings_form_free(&f);
    /* A secret may be any UTF-8 without spaces, as `haravan-ctl settings` takes it. */
    assert_int_equal(read_text(&f,
                               "client_id=+abc-123+&client_secret=s%C3%AAcret%21&verify_token="
                               "&default_owner=Boss%40crm.vn&source.pos=C%E1%BB%ADa+h%C3%A0ng"
                               "&source.web=+Website+&csrf=xyz",
                               0),
                     SETTINGS_FORM_READ);
    assert_null(f.errors);
    assert_string_equal(f.client_secret, "sêcret!");
    assert_null(f.verify_token);
    assert_string_equal(f.default_owner, "Boss@crm.vn");
    assert_int_equal(f.source_count, 2);
    assert_string_equal(f.sources[0].channel, "pos");
    assert_string_equal(f.sources[0].name, "Cửa hàng");
    assert_string_equal(f.sources[1].channel, "web");
    assert_string_equal(f.sources[1].name, "Website");
    settings_form_free(&f);
}

static void test_json_fields_are_read(void **state)
{
    (void)state;
    settings_form f;
    assert_int_equal(read_text(&f,
                               "{\"client_id\":\"id-1\",\"client_secret\":null,"
                               "\"verify_token\":\"  token-of-8  \",\"default_owner\":\"\","
                               "\"sources\":[{\"haravan_channel\":\"shopee\",\"name\":\"Sàn\"}],"
                               "\"csrf\":\"x\"}",
                               1),
                     SETTINGS_FORM_READ);
    assert_null(f.errors);
    assert_string_equal(f.client_id, "id-1");
    assert_null(f.client_secret);
    assert_string_equal(f.verify_token, "token-of-8");
    assert_null(f.default_owner);
    assert_int_equal(f.source_count, 1);
    assert_string_equal(f.sources[0].name, "Sàn");
    settings_form_free(&f);

    assert_int_equal(read_text(&f, "{}", 1), SETTINGS_FORM_READ);
    assert_null(f.errors);
    assert_null(f.client_id);
    settings_form_free(&f);
}

typedef struct wrong_case {
    const char *text;
    int is_json;
    const char *fields[4];
} wrong_case;

static void test_wrong_values_get_messages_by_name(void **state)
{
    (void)state;
    static const wrong_case cases[] = {
        {"client_id=a+b", 0, {"client_id", NULL}},
        {"client_id=%C3%A9", 0, {"client_id", NULL}},
        {"client_secret=tab%09inside", 0, {"client_secret", NULL}},
        {"client_secret=two+words", 0, {"client_secret", NULL}},
        {"verify_token=1234567", 0, {"verify_token", NULL}},
        {"default_owner=no-at-sign", 0, {"default_owner", NULL}},
        {"client_id=a&client_id=b", 0, {"client_id", NULL}},
        {"surprise=1&csrf=2", 0, {"surprise", NULL}},
        /* An empty name is refused; an empty channel is the source of the
         * orders that name none (test_no_channel_source). */
        {"source.pos=&source.=x", 0, {"source.pos", NULL}},
        {"source.web=%C3%28", 0, {"source.web", NULL}},    /* bad UTF-8 */
        {"source.web=%ED%A0%80", 0, {"source.web", NULL}}, /* a surrogate */
        {"source.web=%C0%AF", 0, {"source.web", NULL}},    /* overlong */
        {"source.web=a%0Ab", 0, {"source.web", NULL}},     /* control */
        {"{\"client_id\":1,\"verify_token\":true}", 1, {"client_id", "verify_token", NULL}},
        {"{\"sources\":\"web\"}", 1, {"sources", NULL}},
        {"{\"sources\":[1,{\"name\":\"x\"}]}", 1, {"sources[0]", "sources[1]", NULL}},
        {"{\"sources\":[{\"haravan_channel\":\"a\",\"name\":\"x\"},"
         "{\"haravan_channel\":\"a\",\"name\":\"y\"}]}",
         1,
         {"source.a", NULL}},
        {"{\"other\":{}}", 1, {"other", NULL}},
        {"end_rotation=yes", 0, {"end_rotation", NULL}},
        {"{\"end_rotation\":\"true\"}", 1, {"end_rotation", NULL}},
        {"{\"end_rotation\":1}", 1, {"end_rotation", NULL}},
    };
    for (size_t i = 0; i < COUNT(cases); i++) {
        settings_form f;
        if (read_text(&f, cases[i].text, cases[i].is_json) != SETTINGS_FORM_READ)
            fail_msg("case %zu not read", i);
        size_t expected = 0;
        for (; cases[i].fields[expected] != NULL; expected++)
            if (message(&f, cases[i].fields[expected]) == NULL)
                fail_msg("case %zu: no message for %s", i, cases[i].fields[expected]);
        if (f.errors == NULL || cJSON_GetArraySize(f.errors) != (int)expected)
            fail_msg("case %zu: %d messages, expected %zu", i,
                     f.errors != NULL ? cJSON_GetArraySize(f.errors) : 0, expected);
        settings_form_free(&f);
    }
}

/* The connector files orders without a source_name under channel "" and
 * the page sends that source back with the others: in both spellings it
 * is read, trimmed, and named like any other. */
static void test_no_channel_source(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        int is_json;
    } cases[] = {
        {"source.=+Haravan+&source.pos=POS", 0},
        {"{\"sources\":[{\"haravan_channel\":\" \",\"name\":\"Haravan\"},"
         "{\"haravan_channel\":\"pos\",\"name\":\"POS\"}]}",
         1},
    };
    for (size_t i = 0; i < COUNT(cases); i++) {
        settings_form f;
        assert_int_equal(read_text(&f, cases[i].text, cases[i].is_json), SETTINGS_FORM_READ);
        assert_null(f.errors);
        assert_int_equal(f.source_count, 2);
        assert_string_equal(f.sources[0].channel, "");
        assert_string_equal(f.sources[0].name, "Haravan");
        settings_form_free(&f);
    }
}

/* Ending a rotation: a yes/no, in either spelling; "no" leaves it. */
static void test_end_rotation(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        int is_json;
        int expected;
    } cases[] = {
        {"end_rotation=1", 0, 1},          {"end_rotation=true", 0, 1},
        {"end_rotation=0", 0, 0},          {"end_rotation=", 0, 0},
        {"end_rotation=false", 0, 0},      {"client_id=x", 0, 0},
        {"{\"end_rotation\":true}", 1, 1}, {"{\"end_rotation\":false}", 1, 0},
        {"{\"end_rotation\":null}", 1, 0}, {"{}", 1, 0},
    };
    for (size_t i = 0; i < COUNT(cases); i++) {
        settings_form f;
        assert_int_equal(read_text(&f, cases[i].text, cases[i].is_json), SETTINGS_FORM_READ);
        if (f.errors != NULL)
            fail_msg("%s: refused", cases[i].text);
        if (f.end_rotation != cases[i].expected)
            fail_msg("%s: end_rotation %d, expected %d", cases[i].text, f.end_rotation,
                     cases[i].expected);
        settings_form_free(&f);
    }
}

static void test_malformed_bodies(void **state)
{
    (void)state;
    static const char *const json[] = {"", "[]", "\"x\"", "{\"a\":1} x", "{", "null"};
    for (size_t i = 0; i < COUNT(json); i++) {
        settings_form f;
        if (read_text(&f, json[i], 1) != SETTINGS_FORM_MALFORMED)
            fail_msg("accepted JSON %s", json[i]);
    }
    char deep[64] = "{\"sources\":";
    for (int i = 0; i < SETTINGS_FORM_JSON_DEPTH; i++)
        strcat(deep, "[");
    settings_form f;
    assert_int_equal(read_text(&f, deep, 1), SETTINGS_FORM_MALFORMED);
    assert_int_equal(read_text(&f, "client_id=%zz", 0), SETTINGS_FORM_MALFORMED);
}

static void test_fail_keeps_the_first_message(void **state)
{
    (void)state;
    settings_form f;
    assert_int_equal(read_text(&f, "client_id=x", 0), SETTINGS_FORM_READ);
    assert_int_equal(settings_form_fail(&f, "default_owner", "first"), 0);
    assert_int_equal(settings_form_fail(&f, "default_owner", "second"), 0);
    assert_string_equal(message(&f, "default_owner"), "first");
    settings_form_free(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_form_fields_are_trimmed_and_read),
        cmocka_unit_test(test_json_fields_are_read),
        cmocka_unit_test(test_wrong_values_get_messages_by_name),
        cmocka_unit_test(test_no_channel_source),
        cmocka_unit_test(test_end_rotation),
        cmocka_unit_test(test_malformed_bodies),
        cmocka_unit_test(test_fail_keeps_the_first_message),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
