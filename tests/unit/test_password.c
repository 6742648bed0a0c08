/*
 * Unit tests for lib/core/password: PBKDF2-HMAC-SHA256, the stored form,
 * verification and the acceptance rules.
 *
 * The expected values were computed with an independent implementation,
 * Python's hashlib.pbkdf2_hmac (see each vector), so that a wrong salt,
 * iteration or length handling cannot hide behind a round trip. Parsing
 * refuses every stored form we would not have written: the row comes from
 * the database, and a login must never accept a weakened or malformed hash.
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
#include "core/password.h"

#define COUNT(array) (sizeof(array) / sizeof((array)[0]))

static void to_hex(const unsigned char *bytes, size_t length, char *hex)
{
    for (size_t i = 0; i < length; i++)
        snprintf(hex + 2 * i, 3, "%02x", bytes[i]);
}

/* python3 -c "import hashlib; print(hashlib.pbkdf2_hmac('sha256', b'password',
 *             b'salt', 4096, 32).hex())" */
static void test_pbkdf2_matches_hashlib(void **state)
{
    (void)state;
    unsigned char out[32];
    char hex[65];
    assert_int_equal(
        password_pbkdf2("password", 8, (const unsigned char *)"salt", 4, 4096, out, sizeof out), 0);
    to_hex(out, sizeof out, hex);
    assert_string_equal(hex, "c5e478d59288c841aa530db6845c4c8d962893a001ce4e11a4963873aa98134a");
    /* hashlib.pbkdf2_hmac('sha256', b'password', b'salt', 1, 32), base64:
     * Eg+2z/z4syxD5yJSVsT4N6hlSMkszDVICAWYfLcL4Xs= */
    assert_int_equal(
        password_pbkdf2("password", 8, (const unsigned char *)"salt", 4, 1, out, sizeof out), 0);
    to_hex(out, sizeof out, hex);
    assert_string_equal(hex, "120fb6cffcf8b32c43e7225256c4f837a86548c92ccc35480805987cb70be17b");
}

/* Stored forms written by Python:
 *   h = hashlib.pbkdf2_hmac('sha256', pw.encode(), salt, it, 32)
 *   "pbkdf2-sha256$%d$%s$%s" % (it, b64encode(salt), b64encode(h)) */
#define STORED_1000                                                                                \
    "pbkdf2-sha256$1000$AAECAwQFBgcICQoLDA0ODw==$AhaeZ02AwPxykuhhDI8XvhQN8GKvmqM+qF6qvs/98I0="
#define STORED_600000                                                                              \
    "pbkdf2-sha256$600000$aGFyYXZhbi1zYWx0LTE2Yg==$O5Nrw9Ih5kseNYBT/RcqwuVwtAqjlt3qIOJ9nW65EyA="

static void test_hash_with_writes_the_python_form(void **state)
{
    (void)state;
    unsigned char salt[16];
    for (size_t i = 0; i < sizeof salt; i++)
        salt[i] = (unsigned char)i;
    buffer out = BUFFER_INIT;
    assert_int_equal(password_hash_with("correct horse battery", 1000, salt, sizeof salt, &out), 0);
    assert_string_equal(out.data, STORED_1000);
    buffer_free(&out);
}

static void test_verify_accepts_python_hashes(void **state)
{
    (void)state;
    assert_int_equal(password_verify("correct horse battery", STORED_1000), 1);
    assert_int_equal(password_verify("correct horse batterY", STORED_1000), 0);
    assert_int_equal(password_verify("", STORED_1000), 0);
    /* The production iteration count, and Vietnamese UTF-8. */
    assert_int_equal(password_verify("mật khẩu quản trị 2026", STORED_600000), 1);
    assert_int_equal(password_verify("mat khau quan tri 2026", STORED_600000), 0);
}

static void test_hash_round_trip_uses_fresh_salt(void **state)
{
    (void)state;
    buffer first = BUFFER_INIT, second = BUFFER_INIT;
    assert_int_equal(password_hash("Đây là mật khẩu", &first), 0);
    assert_int_equal(password_hash("Đây là mật khẩu", &second), 0);
    assert_string_not_equal(first.data, second.data);
    assert_true(strncmp(first.data, "pbkdf2-sha256$600000$", 21) == 0);
    password_stored parsed;
    assert_int_equal(password_parse(first.data, &parsed), 0);
    assert_int_equal(parsed.iterations, PASSWORD_ITERATIONS);
    assert_int_equal(parsed.salt_length, PASSWORD_SALT_SIZE);
    assert_int_equal(password_verify("Đây là mật khẩu", first.data), 1);
    assert_int_equal(password_verify("Đây là mật khẩu ", first.data), 0);
    buffer_free(&first);
    buffer_free(&second);
}

static void test_parse_refuses_what_we_would_not_write(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "",
        "pbkdf2-sha256",
        "pbkdf2-sha1$1000$AAECAwQFBgcICQoLDA0ODw==$AhaeZ02AwPxykuhhDI8XvhQN8GKvmqM+qF6qvs/98I0=",
        /* too few iterations, too many, leading zero, not a number */
        "pbkdf2-sha256$999$AAECAwQFBgcICQoLDA0ODw==$AhaeZ02AwPxykuhhDI8XvhQN8GKvmqM+qF6qvs/98I0=",
        "pbkdf2-sha256$10000001$AAECAwQFBgcICQoLDA0ODw==$AhaeZ02AwPxykuhhDI8XvhQN8GKvmqM+qF6qvs/"
        "98I0=",
        "pbkdf2-sha256$01000$AAECAwQFBgcICQoLDA0ODw==$AhaeZ02AwPxykuhhDI8XvhQN8GKvmqM+qF6qvs/98I0=",
        "pbkdf2-sha256$1e3$AAECAwQFBgcICQoLDA0ODw==$AhaeZ02AwPxykuhhDI8XvhQN8GKvmqM+qF6qvs/98I0=",
        /* salt shorter than 8 bytes, not base64 */
        "pbkdf2-sha256$1000$AAEC$AhaeZ02AwPxykuhhDI8XvhQN8GKvmqM+qF6qvs/98I0=",
        "pbkdf2-sha256$1000$AAECAwQFBgcICQoLDA0OD!==$AhaeZ02AwPxykuhhDI8XvhQN8GKvmqM+qF6qvs/98I0=",
        /* hash truncated, too long, missing, extra part */
        "pbkdf2-sha256$1000$AAECAwQFBgcICQoLDA0ODw==$AhaeZ02AwPxykuhhDI8XvhQN8GKvmqM+qF6q",
        "pbkdf2-sha256$1000$AAECAwQFBgcICQoLDA0ODw==$AhaeZ02AwPxykuhhDI8XvhQN8GKvmqM+qF6qvs/98I0AAA"
        "A=",
        "pbkdf2-sha256$1000$AAECAwQFBgcICQoLDA0ODw==",
        "pbkdf2-sha256$1000$AAECAwQFBgcICQoLDA0ODw==$AhaeZ02AwPxykuhhDI8XvhQN8GKvmqM+qF6qvs/98I0=$",
    };
    for (size_t i = 0; i < COUNT(bad); i++) {
        password_stored parsed;
        if (password_parse(bad[i], &parsed) != -1)
            fail_msg("accepted: %s", bad[i]);
        assert_int_equal(password_verify("correct horse battery", bad[i]), -1);
    }
}

static void test_acceptable_lengths_and_characters(void **state)
{
    (void)state;
    assert_false(password_acceptable(""));
    assert_false(password_acceptable("123456789"));
    assert_true(password_acceptable("1234567890"));
    assert_true(password_acceptable("mật khẩu đủ dài"));
    assert_false(password_acceptable("1234567890\t"));
    assert_false(password_acceptable("12345\n67890"));
    char longest[PASSWORD_MAX_LENGTH + 2];
    memset(longest, 'a', sizeof longest);
    longest[PASSWORD_MAX_LENGTH] = '\0';
    assert_true(password_acceptable(longest));
    longest[PASSWORD_MAX_LENGTH] = 'a';
    longest[PASSWORD_MAX_LENGTH + 1] = '\0';
    assert_false(password_acceptable(longest));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pbkdf2_matches_hashlib),
        cmocka_unit_test(test_hash_with_writes_the_python_form),
        cmocka_unit_test(test_verify_accepts_python_hashes),
        cmocka_unit_test(test_hash_round_trip_uses_fresh_salt),
        cmocka_unit_test(test_parse_refuses_what_we_would_not_write),
        cmocka_unit_test(test_acceptable_lengths_and_characters),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
