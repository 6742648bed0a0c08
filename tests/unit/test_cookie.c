/*
 * Unit tests for lib/core/cookie: finding the session cookie among others.
 *
 * The Cookie header comes from the browser with whatever other cookies the
 * CRM's domain has set, so the tests cover neighbours with similar names
 * (a prefix, a suffix), spacing variants, a first match winning, and a
 * value too long for the caller's buffer, which must be refused rather
 * than cut (a cut token could match another session's prefix).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "core/cookie.h"

static void test_finds_among_others(void **state)
{
    (void)state;
    char value[64];
    assert_int_equal(
        cookie_find("a=1; hv_session=tok-EN_1; b=2", "hv_session", value, sizeof value), 1);
    assert_string_equal(value, "tok-EN_1");
    assert_int_equal(cookie_find("hv_session=first", "hv_session", value, sizeof value), 1);
    assert_string_equal(value, "first");
    assert_int_equal(cookie_find("x=y;hv_session=tight", "hv_session", value, sizeof value), 1);
    assert_string_equal(value, "tight");
    assert_int_equal(cookie_find("  hv_session = spaced ;x=1", "hv_session", value, sizeof value),
                     1);
    assert_string_equal(value, "spaced");
    assert_int_equal(cookie_find("hv_session=a; hv_session=b", "hv_session", value, sizeof value),
                     1);
    assert_string_equal(value, "a");
    assert_int_equal(cookie_find("hv_session=", "hv_session", value, sizeof value), 1);
    assert_string_equal(value, "");
}

static void test_similar_names_do_not_match(void **state)
{
    (void)state;
    char value[64];
    assert_int_equal(cookie_find("xhv_session=1; hv_session_old=2; hv_sessio=3", "hv_session",
                                 value, sizeof value),
                     0);
    assert_string_equal(value, "");
    assert_int_equal(cookie_find("hv_session", "hv_session", value, sizeof value), 0);
    assert_int_equal(cookie_find("", "hv_session", value, sizeof value), 0);
    assert_int_equal(cookie_find(NULL, "hv_session", value, sizeof value), 0);
    assert_int_equal(cookie_find(";;; ;", "hv_session", value, sizeof value), 0);
}

static void test_too_long_is_refused(void **state)
{
    (void)state;
    char value[8];
    assert_int_equal(cookie_find("hv_session=1234567", "hv_session", value, sizeof value), 1);
    assert_string_equal(value, "1234567");
    assert_int_equal(cookie_find("hv_session=12345678", "hv_session", value, sizeof value), -1);
    assert_string_equal(value, "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_finds_among_others),
        cmocka_unit_test(test_similar_names_do_not_match),
        cmocka_unit_test(test_too_long_is_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
