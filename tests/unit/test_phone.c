/*
 * phone_canonical(): every form docs/HARAVAN.md section 5 lists for one number,
 * all 21 prefixes of the 2018 renumbering (read from the team's CSV, so the
 * C table cannot drift from it), foreign numbers, and junk that must never
 * be used to match two customers.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "core/phone.h"

typedef struct phone_case {
    const char *input;
    const char *canonical; /* NULL: not a phone number */
} phone_case;

static const phone_case cases[] = {
    /* One mobile number in every form seen. */
    {"0912345678", "0912345678"},
    {"+84912345678", "0912345678"},
    {"84912345678", "0912345678"},
    {"+84 91 234 5678", "0912345678"},
    {"091.234.5678", "0912345678"},
    {"(091) 234-5678", "0912345678"},
    {"0084 912 345 678", "0912345678"},
    {"912345678", "0912345678"},
    {"  0912345678  ", "0912345678"},
    /* The same subscriber before and after 2018. */
    {"01691234567", "0391234567"},
    {"+84 169 123 4567", "0391234567"},
    {"841691234567", "0391234567"},
    {"(0169) 123-4567", "0391234567"},
    {"1691234567", "0391234567"},
    {"0391234567", "0391234567"},
    /* Landlines (2017 area codes), kept as they are. */
    {"024 3826 1234", "02438261234"},
    {"+84 28 3822 1234", "02838221234"},
    /* Other countries keep E.164. */
    {"+1 415 555 0100", "+14155550100"},
    {"+65 6123 4567", "+6561234567"},
    {"0065 6123 4567", "+6561234567"},
    /* Not phone numbers. */
    {"", NULL},
    {"   ", NULL},
    {"0", NULL},
    {"12345", NULL},
    {"0000000000", NULL},
    {"0123456789", NULL},
    {"09123456789", NULL},
    {"091234567", NULL},
    {"0912 345 678 ext 9", NULL},
    {"abc0912345678", NULL},
    {"+84 12", NULL},
    {"+0 123 456 789", NULL},
    {"++84912345678", NULL},
    {"0912345678901234567", NULL},
    {"guest@haravan.com", NULL},
};

static void test_forms_of_one_number(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char out[PHONE_CANONICAL_SIZE];
        int valid = phone_canonical(cases[i].input, out);
        if (cases[i].canonical == NULL) {
            if (valid || out[0] != '\0')
                fail_msg("'%s': expected no canonical form, got '%s'", cases[i].input, out);
        } else if (!valid || strcmp(out, cases[i].canonical) != 0) {
            fail_msg("'%s': expected '%s', got '%s' (valid=%d)", cases[i].input, cases[i].canonical,
                     out, valid);
        }
    }
}

static void test_null_is_not_a_number(void **state)
{
    (void)state;
    char out[PHONE_CANONICAL_SIZE];
    assert_int_equal(phone_canonical(NULL, out), 0);
    assert_string_equal(out, "");
}

/* Every row of the CSV: an old number in national, +84 and 84 forms maps to
 * the new number, and the new number maps to itself. */
static void test_every_2018_prefix_from_the_csv(void **state)
{
    (void)state;
    FILE *csv = fopen(HARAVAN_TEST_DATA_DIR "/vn-phone-prefix-2018.csv", "r");
    assert_non_null(csv);
    char line[256];
    int rows = 0;
    assert_non_null(fgets(line, sizeof line, csv)); /* header */
    while (fgets(line, sizeof line, csv) != NULL) {
        char old_prefix[8], new_prefix[8];
        if (sscanf(line, "%7[0-9],%7[0-9],", old_prefix, new_prefix) != 2)
            continue;
        rows++;
        char expected[PHONE_CANONICAL_SIZE], out[PHONE_CANONICAL_SIZE];
        snprintf(expected, sizeof expected, "%s%s", new_prefix, "7654321");
        char inputs[3][64];
        snprintf(inputs[0], sizeof inputs[0], "%s7654321", old_prefix);
        snprintf(inputs[1], sizeof inputs[1], "+84 %s 765 4321", old_prefix + 1);
        snprintf(inputs[2], sizeof inputs[2], "84%s7654321", old_prefix + 1);
        for (size_t f = 0; f < 3; f++) {
            assert_int_equal(phone_canonical(inputs[f], out), 1);
            if (strcmp(out, expected) != 0)
                fail_msg("'%s': expected '%s', got '%s'", inputs[f], expected, out);
        }
        assert_int_equal(phone_canonical(expected, out), 1);
        assert_string_equal(out, expected);
        /* The C table says the same as the CSV. */
        int found = 0;
        for (const phone_prefix_change *change = phone_prefix_changes_2018;
             change->old_prefix != NULL; change++)
            found += strcmp(change->old_prefix, old_prefix) == 0 &&
                     strcmp(change->new_prefix, new_prefix) == 0;
        assert_int_equal(found, 1);
    }
    fclose(csv);
    assert_int_equal(rows, 21);
    int table_rows = 0;
    for (const phone_prefix_change *change = phone_prefix_changes_2018; change->old_prefix != NULL;
         change++)
        table_rows++;
    assert_int_equal(table_rows, 21);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_forms_of_one_number),
        cmocka_unit_test(test_null_is_not_a_number),
        cmocka_unit_test(test_every_2018_prefix_from_the_csv),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
