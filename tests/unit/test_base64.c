/*
 * Unit tests for lib/core/base64: RFC 4648 encoding and strict decoding.
 *
 * base64 is what carries a Haravan webhook signature, so the decoder is a
 * security boundary: besides the RFC 4648 section 10 vectors both ways,
 * these tests pin down every refusal base64.h promises (illegal and
 * URL-safe letters, whitespace, wrong padding, non-zero leftover bits,
 * output too small), because a lenient decoder would let two different
 * headers name one signature.
 *
 * base64url (RFC 4648 section 5, unpadded) carries the parts of JSON Web
 * Tokens and JWKs: the same vectors without padding, the two letters that
 * differ, and the refusals (padding, standard letters, leftover bits).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "core/base64.h"

typedef struct text_vector {
    const char *plain;
    const char *encoded;
} text_vector;

/* RFC 4648 section 10. */
static const text_vector rfc4648_vectors[] = {
    {"", ""},
    {"f", "Zg=="},
    {"fo", "Zm8="},
    {"foo", "Zm9v"},
    {"foob", "Zm9vYg=="},
    {"fooba", "Zm9vYmE="},
    {"foobar", "Zm9vYmFy"},
};

#define COUNT(array) (sizeof(array) / sizeof((array)[0]))

static void test_encode_rfc4648_vectors(void **state)
{
    (void)state;
    for (size_t i = 0; i < COUNT(rfc4648_vectors); i++) {
        const text_vector *v = &rfc4648_vectors[i];
        size_t length = strlen(v->plain);
        char output[BASE64_ENCODED_SIZE(6) + 8];
        memset(output, '#', sizeof output);
        base64_encode((const unsigned char *)v->plain, length, output);
        assert_string_equal(output, v->encoded);
        /* The NUL is the last byte of BASE64_ENCODED_SIZE: nothing beyond. */
        assert_int_equal(strlen(output) + 1, BASE64_ENCODED_SIZE(length));
        assert_int_equal(output[BASE64_ENCODED_SIZE(length)], '#');
    }
}

static void test_decode_rfc4648_vectors(void **state)
{
    (void)state;
    for (size_t i = 0; i < COUNT(rfc4648_vectors); i++) {
        const text_vector *v = &rfc4648_vectors[i];
        size_t expected_length = strlen(v->plain);
        unsigned char output[16];
        memset(output, 0xee, sizeof output);
        /* Capacity exactly the decoded length: a tight fit must succeed. */
        long written = base64_decode(v->encoded, strlen(v->encoded), output, expected_length);
        if (written != (long)expected_length)
            fail_msg("base64_decode(\"%s\") returned %ld, expected %zu", v->encoded, written,
                     expected_length);
        assert_memory_equal(output, v->plain, expected_length);
        assert_int_equal(output[expected_length], 0xee);
    }
}

static void test_decode_without_padding(void **state)
{
    (void)state;
    static const text_vector unpadded[] = {
        {"f", "Zg"},
        {"fo", "Zm8"},
        {"foob", "Zm9vYg"},
        {"fooba", "Zm9vYmE"},
    };
    for (size_t i = 0; i < COUNT(unpadded); i++) {
        unsigned char output[16];
        long written =
            base64_decode(unpadded[i].encoded, strlen(unpadded[i].encoded), output, sizeof output);
        if (written != (long)strlen(unpadded[i].plain))
            fail_msg("base64_decode(\"%s\") returned %ld, expected %zu", unpadded[i].encoded,
                     written, strlen(unpadded[i].plain));
        assert_memory_equal(output, unpadded[i].plain, strlen(unpadded[i].plain));
    }
}

/* '+' and '/' are the two letters where the standard and URL-safe
 * alphabets differ; the RFC vectors never use them. */
static void test_plus_and_slash_letters(void **state)
{
    (void)state;
    static const unsigned char bytes[] = {0xfb, 0xff, 0xbf};
    char encoded[BASE64_ENCODED_SIZE(sizeof bytes)];
    base64_encode(bytes, sizeof bytes, encoded);
    assert_string_equal(encoded, "+/+/");

    unsigned char decoded[8];
    assert_int_equal(base64_decode("+/+/", 4, decoded, sizeof decoded), 3);
    assert_memory_equal(decoded, bytes, sizeof bytes);
    assert_int_equal(base64_decode("+/8=", 4, decoded, sizeof decoded), 2);
    assert_memory_equal(decoded, bytes, 2);
}

/* Every byte value survives a round trip, at every length modulo 3. */
static void test_round_trip_every_byte_value(void **state)
{
    (void)state;
    unsigned char input[256];
    for (size_t i = 0; i < sizeof input; i++)
        input[i] = (unsigned char)i;
    for (size_t length = 253; length <= 256; length++) {
        char encoded[BASE64_ENCODED_SIZE(256)];
        base64_encode(input, length, encoded);
        assert_int_equal(strlen(encoded), BASE64_ENCODED_SIZE(length) - 1);
        unsigned char decoded[256];
        assert_int_equal(base64_decode(encoded, strlen(encoded), decoded, sizeof decoded),
                         (long)length);
        assert_memory_equal(decoded, input, length);
    }
}

typedef struct refused_text {
    const char *why;
    const char *text;
    size_t length; /* 0: strlen(text) */
} refused_text;

static void test_decode_refuses_invalid_text(void **state)
{
    (void)state;
    static const refused_text refused[] = {
        {"illegal character '!'", "Zm9v!A==", 0},
        {"illegal character '*'", "Zm9*", 0},
        {"illegal character '.'", "Zm9v.g==", 0},
        {"non-ASCII byte", "Zm9v\xc4\x90==", 0},
        {"URL-safe '-'", "Zm-v", 0},
        {"URL-safe '_'", "Zm9_", 0},
        {"URL-safe encoding of +/+/", "-_-_", 0},
        {"space inside", "Zm9v Yg==", 0},
        {"newline inside", "Zm9v\nYg==", 0},
        {"leading space", " Zm9v", 0},
        {"trailing newline", "Zm9v\n", 0},
        {"trailing tab", "Zm9vYg==\t", 0},
        {"CRLF after padding", "Zg==\r\n", 0},
        {"embedded NUL", "Zm9v\0Zg==", 9},
        {"one '=' where two are due", "Zg=", 0},
        {"padding after a full group", "Zm9v=", 0},
        {"two '=' after a full group", "Zm9v==", 0},
        {"two '=' where one is due", "Zm8==", 0},
        {"three '='", "Zg===", 0},
        {"only padding", "=", 0},
        {"only two padding", "==", 0},
        {"four padding", "====", 0},
        {"padding in the middle", "Zg==Zg==", 0},
        {"'=' inside a group", "Zm=v", 0},
        {"one letter", "Z", 0},
        {"5 letters", "Zm9vY", 0},
        {"5 letters padded", "Zm9vY===", 0},
        {"non-zero leftover bits, 1 byte", "Zh==", 0},
        {"non-zero leftover bits, unpadded", "Zh", 0},
        {"non-zero leftover bits, 2 bytes", "Zm9=", 0},
        {"non-zero leftover bits, 2 bytes unpadded", "Zm9", 0},
    };
    for (size_t i = 0; i < COUNT(refused); i++) {
        const refused_text *r = &refused[i];
        size_t length = r->length != 0 ? r->length : strlen(r->text);
        unsigned char output[64];
        long written = base64_decode(r->text, length, output, sizeof output);
        if (written != -1)
            fail_msg("%s: base64_decode returned %ld, expected -1", r->why, written);
    }
}

typedef struct capacity_case {
    const char *text;
    size_t capacity;
    long expected;
} capacity_case;

static void test_decode_output_capacity(void **state)
{
    (void)state;
    static const capacity_case cases[] = {
        {"Zm9vYmFy", 5, -1}, {"Zm9vYmFy", 6, 6}, {"Zm9vYmE=", 4, -1}, {"Zm9vYmE=", 5, 5},
        {"Zg==", 0, -1},     {"Zg", 0, -1},      {"Zg==", 1, 1},      {"", 0, 0},
    };
    for (size_t i = 0; i < COUNT(cases); i++) {
        unsigned char output[16];
        memset(output, 0xee, sizeof output);
        long written =
            base64_decode(cases[i].text, strlen(cases[i].text), output, cases[i].capacity);
        if (written != cases[i].expected)
            fail_msg("base64_decode(\"%s\", capacity %zu) returned %ld, expected %ld",
                     cases[i].text, cases[i].capacity, written, cases[i].expected);
        /* Never a byte past the capacity, even when refusing. */
        assert_int_equal(output[cases[i].capacity], 0xee);
    }
}

/* ---- base64url --------------------------------------------------------- */

static void test_base64url_vectors(void **state)
{
    (void)state;
    static const text_vector unpadded[] = {
        {"", ""},           {"f", "Zg"},          {"fo", "Zm8"},          {"foo", "Zm9v"},
        {"foob", "Zm9vYg"}, {"fooba", "Zm9vYmE"}, {"foobar", "Zm9vYmFy"},
    };
    for (size_t i = 0; i < COUNT(unpadded); i++) {
        const text_vector *v = &unpadded[i];
        size_t length = strlen(v->plain);
        char encoded[BASE64URL_ENCODED_SIZE(6) + 4];
        memset(encoded, '#', sizeof encoded);
        base64url_encode((const unsigned char *)v->plain, length, encoded);
        assert_string_equal(encoded, v->encoded);
        assert_true(strlen(encoded) + 1 <= BASE64URL_ENCODED_SIZE(length));
        unsigned char decoded[16];
        assert_int_equal(base64url_decode(v->encoded, strlen(v->encoded), decoded, length),
                         (long)length);
        assert_memory_equal(decoded, v->plain, length);
    }
}

static void test_base64url_letters_and_round_trip(void **state)
{
    (void)state;
    static const unsigned char bytes[] = {0xfb, 0xff, 0xbf};
    char encoded[BASE64URL_ENCODED_SIZE(256)];
    base64url_encode(bytes, sizeof bytes, encoded);
    assert_string_equal(encoded, "-_-_");
    unsigned char input[256];
    for (size_t i = 0; i < sizeof input; i++)
        input[i] = (unsigned char)(255 - i);
    for (size_t length = 253; length <= 256; length++) {
        base64url_encode(input, length, encoded);
        assert_int_equal(strlen(encoded) + 1, BASE64URL_ENCODED_SIZE(length));
        assert_null(strchr(encoded, '='));
        unsigned char decoded[256];
        assert_int_equal(base64url_decode(encoded, strlen(encoded), decoded, sizeof decoded),
                         (long)length);
        assert_memory_equal(decoded, input, length);
    }
}

static void test_base64url_refuses_invalid_text(void **state)
{
    (void)state;
    static const refused_text refused[] = {
        {"padding", "Zg==", 0},
        {"one '='", "Zm8=", 0},
        {"standard '+'", "Zm+v", 0},
        {"standard '/'", "Zm9/", 0},
        {"space", "Zm9v Yg", 0},
        {"dot (a JWS separator)", "Zm9v.Yg", 0},
        {"one letter", "Z", 0},
        {"non-zero leftover bits", "Zh", 0},
        {"non-zero leftover bits, 2 bytes", "Zm9", 0},
        {"embedded NUL", "Zm9v\0Zg", 7},
    };
    for (size_t i = 0; i < COUNT(refused); i++) {
        const refused_text *r = &refused[i];
        size_t length = r->length != 0 ? r->length : strlen(r->text);
        unsigned char output[64];
        long written = base64url_decode(r->text, length, output, sizeof output);
        if (written != -1)
            fail_msg("%s: base64url_decode returned %ld, expected -1", r->why, written);
    }
    unsigned char small[5];
    assert_int_equal(base64url_decode("Zm9vYmFy", 8, small, sizeof small), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_encode_rfc4648_vectors),
        cmocka_unit_test(test_decode_rfc4648_vectors),
        cmocka_unit_test(test_decode_without_padding),
        cmocka_unit_test(test_plus_and_slash_letters),
        cmocka_unit_test(test_round_trip_every_byte_value),
        cmocka_unit_test(test_decode_refuses_invalid_text),
        cmocka_unit_test(test_decode_output_capacity),
        cmocka_unit_test(test_base64url_vectors),
        cmocka_unit_test(test_base64url_letters_and_round_trip),
        cmocka_unit_test(test_base64url_refuses_invalid_text),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
