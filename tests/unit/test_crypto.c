/*
 * Unit tests for lib/core/crypto: HMAC-SHA256, SHA-256, constant-time
 * comparison, master key parsing and AES-256-GCM sealing.
 *
 * HMAC and SHA-256 are checked against published vectors (RFC 4231 test
 * cases 1, 2 and 6; FIPS 180-2 "abc") so that a wrong key or length
 * handling cannot hide behind a round trip. Sealing protects the secrets
 * at rest, so besides round trips (empty and Vietnamese UTF-8 plaintexts)
 * the tests check that every kind of tampering crypto.h lists is refused:
 * any single flipped byte, another key, another label, truncation.
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
#include "core/crypto.h"

#define COUNT(array) (sizeof(array) / sizeof((array)[0]))

static void digest_to_hex(const unsigned char digest[CRYPTO_SHA256_SIZE],
                          char hex[2 * CRYPTO_SHA256_SIZE + 1])
{
    for (size_t i = 0; i < CRYPTO_SHA256_SIZE; i++)
        snprintf(hex + 2 * i, 3, "%02x", digest[i]);
}

/* ---- HMAC-SHA256 and SHA-256 ------------------------------------------ */

typedef struct hmac_vector {
    const char *name;
    unsigned char key_byte; /* 0: use key_text */
    size_t key_repeat;
    const char *key_text;
    const char *message;
    const char *expected_hex;
} hmac_vector;

/* RFC 4231 section 4. */
static const hmac_vector rfc4231_vectors[] = {
    {"test case 1", 0x0b, 20, NULL, "Hi There",
     "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"},
    {"test case 2", 0, 0, "Jefe", "what do ya want for nothing?",
     "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"},
    {"test case 6 (key longer than a block)", 0xaa, 131, NULL,
     "Test Using Larger Than Block-Size Key - Hash Key First",
     "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"},
};

static void test_hmac_sha256_rfc4231(void **state)
{
    (void)state;
    for (size_t i = 0; i < COUNT(rfc4231_vectors); i++) {
        const hmac_vector *v = &rfc4231_vectors[i];
        unsigned char key[256];
        size_t key_length;
        if (v->key_text != NULL) {
            key_length = strlen(v->key_text);
            memcpy(key, v->key_text, key_length);
        } else {
            key_length = v->key_repeat;
            memset(key, v->key_byte, key_length);
        }
        unsigned char digest[CRYPTO_SHA256_SIZE];
        assert_int_equal(
            crypto_hmac_sha256(key, key_length, v->message, strlen(v->message), digest), 0);
        char hex[2 * CRYPTO_SHA256_SIZE + 1];
        digest_to_hex(digest, hex);
        if (strcmp(hex, v->expected_hex) != 0)
            fail_msg("RFC 4231 %s: got %s, expected %s", v->name, hex, v->expected_hex);
    }
}

/* An empty message is what an empty webhook body is signed as. Expected
 * value from: printf '' | openssl dgst -sha256 -hmac key */
static void test_hmac_sha256_empty_message(void **state)
{
    (void)state;
    unsigned char digest[CRYPTO_SHA256_SIZE];
    assert_int_equal(crypto_hmac_sha256("key", 3, "", 0, digest), 0);
    char hex[2 * CRYPTO_SHA256_SIZE + 1];
    digest_to_hex(digest, hex);
    assert_string_equal(hex, "5d5d139563c95b5967b9bd9a8c9b233a9dedb45072794cd232dc1b74832607d0");
}

typedef struct sha256_vector {
    const char *message;
    const char *expected_hex;
} sha256_vector;

static void test_sha256_hex(void **state)
{
    (void)state;
    static const sha256_vector vectors[] = {
        /* FIPS 180-2 appendix B.1 */
        {"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
        {"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
    };
    for (size_t i = 0; i < COUNT(vectors); i++) {
        char hex[2 * CRYPTO_SHA256_SIZE + 1];
        memset(hex, '#', sizeof hex);
        assert_int_equal(crypto_sha256_hex(vectors[i].message, strlen(vectors[i].message), hex), 0);
        assert_string_equal(hex, vectors[i].expected_hex);
    }
}

/* ---- comparison ---------------------------------------------------------- */

typedef struct bytes_case {
    const char *a;
    const char *b;
    size_t length;
    int expected;
} bytes_case;

static void test_bytes_equal(void **state)
{
    (void)state;
    static const bytes_case cases[] = {
        {"signature-0123456789", "signature-0123456789", 20, 1},
        {"signature-0123456789", "signature-0123456788", 20, 0}, /* last byte */
        {"signature-0123456789", "Signature-0123456789", 20, 0}, /* first byte */
        {"abc", "abd", 2, 1},                                    /* only `length` bytes */
        {"a\0b", "a\0c", 3, 0},                                  /* NUL is not an end */
        {"x", "y", 0, 1},                                        /* empty */
    };
    for (size_t i = 0; i < COUNT(cases); i++) {
        int result = crypto_bytes_equal(cases[i].a, cases[i].b, cases[i].length);
        if (result != cases[i].expected)
            fail_msg("case %zu: crypto_bytes_equal returned %d, expected %d", i, result,
                     cases[i].expected);
    }
}

typedef struct strings_case {
    const char *a;
    const char *b;
    int expected;
} strings_case;

static void test_strings_equal(void **state)
{
    (void)state;
    static const strings_case cases[] = {
        {"verify-token-2026", "verify-token-2026", 1},
        {"verify-token-2026", "verify-token-2027", 0}, /* last byte */
        {"verify-token-2026", "verify-token-202", 0},  /* a prefix */
        {"verify-token", "verify-token-2026", 0},      /* longer */
        {"", "", 1},
        {"", "x", 0},
        {"x", "", 0},
        {"Đồng ý", "Đồng ý", 1},
        {"Đồng ý", "Đông ý", 0},
    };
    for (size_t i = 0; i < COUNT(cases); i++) {
        int result = crypto_strings_equal(cases[i].a, cases[i].b);
        if (result != cases[i].expected)
            fail_msg("crypto_strings_equal(\"%s\", \"%s\") returned %d, expected %d", cases[i].a,
                     cases[i].b, result, cases[i].expected);
    }
}

/* ---- wipe and random ----------------------------------------------------- */

static void test_wipe_overwrites_every_byte(void **state)
{
    (void)state;
    char secret[] = "hv-client-secret";
    size_t length = strlen(secret);
    crypto_wipe(secret, length);
    for (size_t i = 0; i < length; i++)
        if (secret[i] == "hv-client-secret"[i])
            fail_msg("byte %zu of the secret survived crypto_wipe", i);
    crypto_wipe(NULL, 16); /* documented as harmless: no crash */
}

static void test_random_fills_differently(void **state)
{
    (void)state;
    unsigned char first[32] = {0};
    unsigned char second[32] = {0};
    static const unsigned char zeros[32] = {0};
    assert_int_equal(crypto_random(first, sizeof first), 0);
    assert_int_equal(crypto_random(second, sizeof second), 0);
    assert_memory_not_equal(first, zeros, sizeof first);
    assert_memory_not_equal(first, second, sizeof first);
}

/* ---- crypto_parse_key ---------------------------------------------------- */

#define HEX_KEY "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"

typedef struct key_case {
    const char *why;
    const char *text;
    int expected;
} key_case;

static void test_parse_key(void **state)
{
    (void)state;
    static const key_case cases[] = {
        {"64 hex digits", HEX_KEY, 0},
        {"upper-case hex", "000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F", 0},
        {"surrounding whitespace", " \t" HEX_KEY "\n", 0},
        {"trailing CRLF", HEX_KEY "\r\n", 0},
        {"63 digits", "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1", -1},
        {"65 digits", HEX_KEY "0", -1},
        {"63 digits and a space",
         "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1 ", -1},
        {"non-hex 'g'", "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1g", -1},
        {"non-hex in the middle",
         "000102030405060708090a0b0c0d0e0fz01112131415161718191a1b1c1d1e1f", -1},
        {"0x prefix", "0x0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f", -1},
        {"space inside", "000102030405060708090a0b0c0d0e0f 101112131415161718191a1b1c1d1e1f", -1},
        {"text after the key", HEX_KEY " extra", -1},
        {"empty", "", -1},
        {"only whitespace", "   \n", -1},
    };
    for (size_t i = 0; i < COUNT(cases); i++) {
        unsigned char key[CRYPTO_KEY_SIZE];
        int result = crypto_parse_key(cases[i].text, key);
        if (result != cases[i].expected)
            fail_msg("%s: crypto_parse_key returned %d, expected %d", cases[i].why, result,
                     cases[i].expected);
        if (result == 0)
            for (size_t b = 0; b < CRYPTO_KEY_SIZE; b++)
                assert_int_equal(key[b], b);
    }
}

/* ---- AES-256-GCM sealing ------------------------------------------------- */

static const char *const client_secret_label = "haravan.client_secret";

static void load_test_key(unsigned char key[CRYPTO_KEY_SIZE])
{
    assert_int_equal(crypto_parse_key(HEX_KEY, key), 0);
}

typedef struct plaintext_case {
    const char *name;
    const char *text;
    size_t length;
} plaintext_case;

static void test_seal_open_round_trip(void **state)
{
    (void)state;
    static const plaintext_case cases[] = {
        {"empty", "", 0},
        {"ASCII secret", "0b3f9a8c7d6e5f4a3b2c1d0e9f8a7b6c", 32},
        {"Vietnamese UTF-8", "Đồng ý", sizeof "Đồng ý" - 1},
        {"binary with NUL", "a\0b\xff", 4},
    };
    unsigned char key[CRYPTO_KEY_SIZE];
    load_test_key(key);
    for (size_t i = 0; i < COUNT(cases); i++) {
        buffer sealed = BUFFER_INIT;
        buffer opened = BUFFER_INIT;
        assert_int_equal(
            crypto_seal(key, client_secret_label, cases[i].text, cases[i].length, &sealed), 0);
        if (sealed.length != cases[i].length + CRYPTO_SEAL_OVERHEAD)
            fail_msg("%s: sealed %zu bytes, expected %zu", cases[i].name, sealed.length,
                     cases[i].length + CRYPTO_SEAL_OVERHEAD);
        assert_int_equal((unsigned char)sealed.data[0], 0x01); /* version byte */
        assert_int_equal(crypto_open(key, client_secret_label, sealed.data, sealed.length, &opened),
                         0);
        assert_int_equal(opened.length, cases[i].length);
        if (cases[i].length > 0)
            assert_memory_equal(opened.data, cases[i].text, cases[i].length);
        assert_string_equal(buffer_text(&opened) + cases[i].length, ""); /* NUL-terminated */
        buffer_free(&sealed);
        buffer_free(&opened);
    }
}

/* 0xc4 0x90 is "Đ"; the UTF-8 bytes must come back unchanged. */
static void test_open_gives_vietnamese_text(void **state)
{
    (void)state;
    unsigned char key[CRYPTO_KEY_SIZE];
    load_test_key(key);
    buffer sealed = BUFFER_INIT;
    buffer opened = BUFFER_INIT;
    assert_int_equal(crypto_seal(key, "label", "Đồng ý", strlen("Đồng ý"), &sealed), 0);
    assert_int_equal(crypto_open(key, "label", sealed.data, sealed.length, &opened), 0);
    assert_string_equal(buffer_text(&opened), "\xc4\x90\xe1\xbb\x93ng \xc3\xbd");
    buffer_free(&sealed);
    buffer_free(&opened);
}

/* crypto.h: seal and open append; what the buffer held stays. */
static void test_seal_and_open_append(void **state)
{
    (void)state;
    unsigned char key[CRYPTO_KEY_SIZE];
    load_test_key(key);
    buffer sealed = BUFFER_INIT;
    buffer opened = BUFFER_INIT;
    assert_int_equal(buffer_append_string(&sealed, "prefix"), 0);
    assert_int_equal(buffer_append_string(&opened, "secret="), 0);
    assert_int_equal(crypto_seal(key, "label", "hello", 5, &sealed), 0);
    assert_int_equal(sealed.length, 6 + 5 + CRYPTO_SEAL_OVERHEAD);
    assert_memory_equal(sealed.data, "prefix", 6);
    assert_int_equal(crypto_open(key, "label", sealed.data + 6, sealed.length - 6, &opened), 0);
    assert_string_equal(buffer_text(&opened), "secret=hello");
    buffer_free(&sealed);
    buffer_free(&opened);
}

static void test_seals_of_same_plaintext_differ(void **state)
{
    (void)state;
    unsigned char key[CRYPTO_KEY_SIZE];
    load_test_key(key);
    buffer first = BUFFER_INIT;
    buffer second = BUFFER_INIT;
    assert_int_equal(crypto_seal(key, client_secret_label, "same", 4, &first), 0);
    assert_int_equal(crypto_seal(key, client_secret_label, "same", 4, &second), 0);
    assert_int_equal(first.length, second.length);
    /* The nonces (bytes 1..12) differ, and so do the whole values. */
    assert_memory_not_equal(first.data + 1, second.data + 1, 12);
    assert_memory_not_equal(first.data, second.data, first.length);
    buffer_free(&first);
    buffer_free(&second);
}

/* Opens `sealed` and checks it is refused and `out` left as it was. */
static void assert_open_refused(const unsigned char key[CRYPTO_KEY_SIZE], const char *label,
                                const void *sealed, size_t length, const char *why)
{
    buffer out = BUFFER_INIT;
    assert_int_equal(buffer_append_string(&out, "kept"), 0);
    int result = crypto_open(key, label, sealed, length, &out);
    if (result != -1)
        fail_msg("%s: crypto_open returned %d, expected -1", why, result);
    assert_int_equal(out.length, 4);
    assert_string_equal(buffer_text(&out), "kept");
    buffer_free(&out);
}

static void test_open_refuses_any_flipped_byte(void **state)
{
    (void)state;
    unsigned char key[CRYPTO_KEY_SIZE];
    load_test_key(key);
    buffer sealed = BUFFER_INIT;
    assert_int_equal(crypto_seal(key, client_secret_label, "short", 5, &sealed), 0);
    static const unsigned char flips[] = {0x01, 0x80, 0xff};
    unsigned char *tampered = malloc(sealed.length);
    assert_non_null(tampered);
    for (size_t position = 0; position < sealed.length; position++) {
        for (size_t f = 0; f < COUNT(flips); f++) {
            memcpy(tampered, sealed.data, sealed.length);
            tampered[position] ^= flips[f];
            char why[64];
            snprintf(why, sizeof why, "byte %zu xor 0x%02x", position, flips[f]);
            assert_open_refused(key, client_secret_label, tampered, sealed.length, why);
        }
    }
    free(tampered);
    buffer_free(&sealed);
}

static void test_open_refuses_wrong_key_and_label(void **state)
{
    (void)state;
    unsigned char key[CRYPTO_KEY_SIZE];
    load_test_key(key);
    buffer sealed = BUFFER_INIT;
    assert_int_equal(crypto_seal(key, client_secret_label, "client-secret", 13, &sealed), 0);

    unsigned char other_key[CRYPTO_KEY_SIZE];
    memcpy(other_key, key, sizeof other_key);
    other_key[CRYPTO_KEY_SIZE - 1] ^= 0x01;
    assert_open_refused(other_key, client_secret_label, sealed.data, sealed.length,
                        "key differing in its last bit");

    static const char *const other_labels[] = {"haravan.access_token", "haravan.client_secreT",
                                               "haravan.client_secret ", ""};
    for (size_t i = 0; i < COUNT(other_labels); i++)
        assert_open_refused(key, other_labels[i], sealed.data, sealed.length, other_labels[i]);

    /* The right key and label still open it: the refusals were not luck. */
    buffer opened = BUFFER_INIT;
    assert_int_equal(crypto_open(key, client_secret_label, sealed.data, sealed.length, &opened), 0);
    assert_string_equal(buffer_text(&opened), "client-secret");
    buffer_free(&opened);
    buffer_free(&sealed);
}

static void test_open_refuses_truncated_and_extended(void **state)
{
    (void)state;
    unsigned char key[CRYPTO_KEY_SIZE];
    load_test_key(key);
    buffer sealed = BUFFER_INIT;
    assert_int_equal(crypto_seal(key, client_secret_label, "truncate me", 11, &sealed), 0);
    for (size_t length = 0; length < sealed.length; length++) {
        /* A copy of exactly `length` bytes, so ASan sees any over-read. */
        unsigned char *prefix = malloc(length + 1);
        assert_non_null(prefix);
        memcpy(prefix, sealed.data, length);
        char why[48];
        snprintf(why, sizeof why, "truncated to %zu bytes", length);
        assert_open_refused(key, client_secret_label, prefix, length, why);
        free(prefix);
    }
    assert_int_equal(buffer_append_char(&sealed, 'x'), 0);
    assert_open_refused(key, client_secret_label, sealed.data, sealed.length, "one byte added");
    buffer_free(&sealed);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hmac_sha256_rfc4231),
        cmocka_unit_test(test_hmac_sha256_empty_message),
        cmocka_unit_test(test_sha256_hex),
        cmocka_unit_test(test_bytes_equal),
        cmocka_unit_test(test_strings_equal),
        cmocka_unit_test(test_wipe_overwrites_every_byte),
        cmocka_unit_test(test_random_fills_differently),
        cmocka_unit_test(test_parse_key),
        cmocka_unit_test(test_seal_open_round_trip),
        cmocka_unit_test(test_open_gives_vietnamese_text),
        cmocka_unit_test(test_seal_and_open_append),
        cmocka_unit_test(test_seals_of_same_plaintext_differ),
        cmocka_unit_test(test_open_refuses_any_flipped_byte),
        cmocka_unit_test(test_open_refuses_wrong_key_and_label),
        cmocka_unit_test(test_open_refuses_truncated_and_extended),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
