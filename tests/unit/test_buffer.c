/*
 * Unit tests for lib/core/buffer: the growable byte string every request
 * body, log line and SQL result is built in.
 *
 * Growth is exercised across many appends (content checked byte for byte,
 * so a lost or doubled chunk after a realloc shows), together with the
 * ownership rules of buffer.h (buffer_text of an untouched buffer,
 * buffer_detach, buffer_clear) and the JSON escaping that log lines and
 * stored headers rely on; escaped output is also parsed back with cJSON to
 * show it is valid JSON meaning the original text.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "core/buffer.h"

#define COUNT(array) (sizeof(array) / sizeof((array)[0]))

static void test_untouched_buffer_is_empty_text(void **state)
{
    (void)state;
    buffer b = BUFFER_INIT;
    assert_null(b.data);
    assert_int_equal(b.length, 0);
    assert_non_null(buffer_text(&b));
    assert_string_equal(buffer_text(&b), "");
    buffer_free(&b); /* freeing an untouched buffer is harmless */
    assert_string_equal(buffer_text(&b), "");
}

static void test_many_appends(void **state)
{
    (void)state;
    static const char chunk[] = "0123456789";
    const size_t appends = 10000;
    buffer b = BUFFER_INIT;
    size_t capacity_changes = 0;
    size_t last_capacity = 0;
    for (size_t i = 0; i < appends; i++) {
        assert_int_equal(buffer_append(&b, chunk, 10), 0);
        if (b.capacity != last_capacity) {
            capacity_changes++;
            last_capacity = b.capacity;
        }
    }
    assert_int_equal(b.length, appends * 10);
    /* Geometric growth (buffer.h): 100,000 bytes take about log2(100000 / 64)
     * reallocations, not one per append. */
    if (capacity_changes > 20)
        fail_msg("capacity changed %zu times over %zu appends", capacity_changes, appends);
    assert_true(b.capacity > b.length);
    assert_int_equal(strlen(buffer_text(&b)), appends * 10);
    for (size_t i = 0; i < appends; i++)
        if (memcmp(b.data + i * 10, chunk, 10) != 0)
            fail_msg("chunk %zu is \"%.10s\"", i, b.data + i * 10);
    buffer_free(&b);
    assert_null(b.data);
    assert_int_equal(b.length, 0);
    assert_int_equal(b.capacity, 0);
}

static void test_many_printfs(void **state)
{
    (void)state;
    buffer b = BUFFER_INIT;
    for (int i = 0; i < 10000; i++)
        assert_int_equal(buffer_printf(&b, "%d,", i), 0);
    /* 10 x 2 + 90 x 3 + 900 x 4 + 9000 x 5 characters. */
    assert_int_equal(b.length, 48890);
    assert_int_equal(b.data[b.length], '\0');
    const char *cursor = buffer_text(&b);
    for (long expected = 0; expected < 10000; expected++) {
        char *end = NULL;
        long number = strtol(cursor, &end, 10);
        if (number != expected || *end != ',')
            fail_msg("number %ld read as %ld", expected, number);
        cursor = end + 1;
    }
    assert_string_equal(cursor, "");
    buffer_free(&b);
}

/* One append larger than any capacity reached so far. */
static void test_large_single_appends(void **state)
{
    (void)state;
    char big[5000];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    buffer b = BUFFER_INIT;
    assert_int_equal(buffer_append_string(&b, "<"), 0);
    assert_int_equal(buffer_printf(&b, "%s|%s", big, big), 0);
    assert_int_equal(buffer_append_char(&b, '>'), 0);
    assert_int_equal(b.length, 1 + 4999 + 1 + 4999 + 1);
    assert_int_equal(b.data[0], '<');
    assert_int_equal(b.data[5000], '|');
    assert_int_equal(b.data[b.length - 1], '>');
    assert_int_equal(b.data[b.length], '\0');
    buffer_free(&b);
}

static void test_bytes_with_nul(void **state)
{
    (void)state;
    buffer b = BUFFER_INIT;
    assert_int_equal(buffer_append(&b, "a\0b", 3), 0);
    assert_int_equal(buffer_append_char(&b, '\0'), 0);
    assert_int_equal(buffer_append(&b, "c", 1), 0);
    assert_int_equal(b.length, 5);
    assert_memory_equal(b.data, "a\0b\0c", 6); /* and the terminating NUL */
    assert_int_equal(buffer_append(&b, "", 0), 0);
    assert_int_equal(b.length, 5);
    buffer_free(&b);
}

static void test_reserve(void **state)
{
    (void)state;
    buffer b = BUFFER_INIT;
    assert_int_equal(buffer_reserve(&b, 100), 0);
    assert_true(b.capacity >= 101);
    assert_int_equal(b.length, 0);
    char *data = b.data;
    size_t capacity = b.capacity;
    for (int i = 0; i < 100; i++)
        assert_int_equal(buffer_append_char(&b, 'r'), 0);
    assert_ptr_equal(b.data, data); /* no reallocation within the reserve */
    assert_int_equal(b.capacity, capacity);

    /* Sizes that would overflow are refused and change nothing. */
    assert_int_equal(buffer_reserve(&b, SIZE_MAX), -1);
    assert_int_equal(buffer_reserve(&b, SIZE_MAX - b.length), -1);
    assert_int_equal(buffer_append(&b, "x", SIZE_MAX), -1);
    assert_int_equal(b.length, 100);
    assert_ptr_equal(b.data, data);
    assert_int_equal(b.capacity, capacity);
    buffer_free(&b);
}

static void test_clear_keeps_memory(void **state)
{
    (void)state;
    buffer b = BUFFER_INIT;
    assert_int_equal(buffer_append_string(&b, "first line"), 0);
    char *data = b.data;
    size_t capacity = b.capacity;
    buffer_clear(&b);
    assert_int_equal(b.length, 0);
    assert_string_equal(buffer_text(&b), "");
    assert_ptr_equal(b.data, data);
    assert_int_equal(b.capacity, capacity);
    assert_int_equal(buffer_append_string(&b, "second"), 0);
    assert_string_equal(buffer_text(&b), "second");
    buffer_free(&b);

    buffer untouched = BUFFER_INIT;
    buffer_clear(&untouched);
    assert_string_equal(buffer_text(&untouched), "");
}

static void test_detach_hands_over_data(void **state)
{
    (void)state;
    buffer b = BUFFER_INIT;
    assert_int_equal(buffer_printf(&b, "event %d stored", 42), 0);
    char *data = buffer_detach(&b);
    assert_non_null(data);
    assert_string_equal(data, "event 42 stored");
    assert_null(b.data);
    assert_int_equal(b.length, 0);
    assert_int_equal(b.capacity, 0);
    assert_string_equal(buffer_text(&b), "");

    /* The buffer is usable again, with memory of its own. */
    assert_int_equal(buffer_append_string(&b, "next"), 0);
    assert_ptr_not_equal(b.data, data);
    assert_string_equal(buffer_text(&b), "next");
    assert_string_equal(data, "event 42 stored");
    free(data);
    buffer_free(&b);

    buffer empty = BUFFER_INIT;
    free(buffer_detach(&empty)); /* may be NULL; free(NULL) is fine */
    assert_null(empty.data);
}

typedef struct escape_case {
    const char *name;
    const char *text;
    size_t length; /* 0: strlen(text) */
    const char *escaped;
} escape_case;

static const escape_case escape_cases[] = {
    {"quote", "say \"hi\"", 0, "say \\\"hi\\\""},
    {"backslash", "C:\\path\\file", 0, "C:\\\\path\\\\file"},
    {"newline", "line1\nline2\n", 0, "line1\\nline2\\n"},
    {"control byte 0x01", "a\x01z", 0, "a\\u0001z"},
    {"tab and carriage return", "\t\r", 0, "\\u0009\\u000d"},
    {"0x1f and DEL", "\x1f\x7f", 0, "\\u001f\\u007f"},
    {"NUL inside", "a\0b", 3, "a\\u0000b"},
    {"Vietnamese UTF-8 unchanged", "Đồng ý", 0, "Đồng ý"},
    {"slash and other ASCII unchanged", "orders/create {x} <y> 'z'", 0,
     "orders/create {x} <y> 'z'"},
    {"4-byte UTF-8 unchanged", "\xf0\x9f\x9b\x92", 0, "\xf0\x9f\x9b\x92"},
    {"empty", "", 0, ""},
};

static void test_json_escaped(void **state)
{
    (void)state;
    for (size_t i = 0; i < COUNT(escape_cases); i++) {
        const escape_case *c = &escape_cases[i];
        size_t length = c->length != 0 ? c->length : strlen(c->text);
        buffer b = BUFFER_INIT;
        assert_int_equal(buffer_append_char(&b, '"'), 0);
        assert_int_equal(buffer_append_json_escaped(&b, c->text, length), 0);
        assert_int_equal(buffer_append_char(&b, '"'), 0);
        if (strncmp(b.data + 1, c->escaped, b.length - 2) != 0 ||
            b.length - 2 != strlen(c->escaped))
            fail_msg("%s: escaped as %s, expected \"%s\"", c->name, b.data, c->escaped);

        /* Valid JSON that means the original text (cJSON stops at NUL). */
        cJSON *parsed = cJSON_Parse(b.data);
        if (!cJSON_IsString(parsed))
            fail_msg("%s: %s is not a JSON string", c->name, b.data);
        if (memchr(c->text, '\0', length) == NULL)
            assert_string_equal(parsed->valuestring, c->text);
        cJSON_Delete(parsed);
        buffer_free(&b);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_untouched_buffer_is_empty_text),
        cmocka_unit_test(test_many_appends),
        cmocka_unit_test(test_many_printfs),
        cmocka_unit_test(test_large_single_appends),
        cmocka_unit_test(test_bytes_with_nul),
        cmocka_unit_test(test_reserve),
        cmocka_unit_test(test_clear_keeps_memory),
        cmocka_unit_test(test_detach_hands_over_data),
        cmocka_unit_test(test_json_escaped),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
