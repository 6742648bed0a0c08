/*
 * Unit tests for json_peek_members() (lib/core/json_peek.c): reading a few
 * top-level members without a tree must never disagree with the checked
 * parser it stands in for.
 *
 * The oracle is json_parse_checked() followed by json_members_of(). Every
 * text below goes through both; whenever the peek says it is sure, the
 * parser must accept the text without repairs and the members must be
 * equal, kind, bytes and number. The texts: hand-written edge cases (each
 * leniency of cJSON, each way a member can hide), every sample in
 * tests/data/samples, and thousands of seeded mutations of each sample
 * (bytes replaced by JSON's special characters, removed, inserted, the
 * text cut short). The peek must also be sure of the unmodified order and
 * customer samples: a peek that gave up on everything would agree
 * trivially and save nothing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buffer.h"
#include "core/json.h"

#define COUNT(array)  (sizeof(array) / sizeof((array)[0]))
#define TEXT(literal) literal, sizeof(literal) - 1
#define DEPTH         64
#define MUTATIONS     3000

typedef struct tally {
    size_t texts;
    size_t sure;
} tally;

static void set_names(json_member *members)
{
    members[0].name = "id";
    members[1].name = "updated_at";
    members[2].name = "org_id";
}

static void expect_same_member(const char *label, const json_member *peeked,
                               const json_member *parsed)
{
    if (peeked->kind != parsed->kind)
        fail_msg("%s: member %s: kind %d, the parser's %d", label, parsed->name, peeked->kind,
                 parsed->kind);
    if (peeked->length != parsed->length)
        fail_msg("%s: member %s: length %zu, the parser's %zu", label, parsed->name, peeked->length,
                 parsed->length);
    if (parsed->kind == JSON_MEMBER_STRING && parsed->length < JSON_MEMBER_TEXT_MAX &&
        memcmp(peeked->text, parsed->text, parsed->length + 1) != 0)
        fail_msg("%s: member %s: \"%s\", the parser's \"%s\"", label, parsed->name, peeked->text,
                 parsed->text);
    if (parsed->kind == JSON_MEMBER_NUMBER &&
        memcmp(&peeked->number, &parsed->number, sizeof parsed->number) != 0)
        fail_msg("%s: member %s: %.17g, the parser's %.17g", label, parsed->name, peeked->number,
                 parsed->number);
}

/* Runs one text (an exact-length copy, no NUL after it, so ASan sees an
 * over-read) through both readers; returns whether the peek was sure. */
static int compare_at(const char *label, const char *bytes, size_t length, int depth, tally *count)
{
    char *text = malloc(length > 0 ? length : 1);
    assert_non_null(text);
    memcpy(text, bytes, length);
    json_member peeked[3] = {{0}};
    json_member parsed[3] = {{0}};
    set_names(peeked);
    set_names(parsed);
    int sure = json_peek_members(text, length, depth, peeked, COUNT(peeked));
    json_repairs repairs;
    json_refusal refusal = JSON_ACCEPTED;
    cJSON *tree = json_parse_checked(text, length, depth, &refusal, NULL, &repairs);
    if (sure) {
        if (tree == NULL)
            fail_msg("%s: peek sure, the parser refuses (%d)", label, refusal);
        if (repairs.invalid_utf8 + repairs.nul_escapes + repairs.big_integers != 0)
            fail_msg("%s: peek sure, the parser repaired something", label);
        json_members_of(tree, parsed, COUNT(parsed));
        for (size_t i = 0; i < COUNT(parsed); i++)
            expect_same_member(label, &peeked[i], &parsed[i]);
    } else {
        for (size_t i = 0; i < COUNT(peeked); i++)
            if (peeked[i].kind != JSON_MEMBER_ABSENT)
                fail_msg("%s: peek unsure but left member %s filled", label, peeked[i].name);
    }
    cJSON_Delete(tree);
    free(text);
    count->texts++;
    count->sure += (size_t)sure;
    return sure;
}

static int compare(const char *label, const char *bytes, size_t length, tally *count)
{
    return compare_at(label, bytes, length, DEPTH, count);
}

typedef struct edge_case {
    const char *text;
    size_t length;
    int sure; /* what the peek must answer */
} edge_case;

static const edge_case edge_cases[] = {
    {TEXT("{\"id\":5,\"updated_at\":\"2024-01-02T03:04:05Z\",\"org_id\":1000114691}"), 1},
    {TEXT("{\"id\":\"6141d6266e269fed5b515c89\"}"), 1},
    {TEXT(" \r\n\t{\"id\":1} \r\n\t"), 1},
    {TEXT("{\"id\":1,\"id\":2}"), 1}, /* the first wins, as cJSON finds it */
    {TEXT("{\"a\":{\"id\":7},\"id\":8}"), 1},
    {TEXT("{\"id\":{\"x\":[1,2,{\"y\":null}]},\"org_id\":true}"), 1},
    {TEXT("{\"id\":-0,\"updated_at\":1E2,\"org_id\":-1.5e-3}"), 1},
    {TEXT("[1,2,3]"), 1},
    {TEXT("\"just a string\""), 1},
    {TEXT("{}"), 1},
    {TEXT("[]"), 1},
    {TEXT("{\"s\":\"caf\xC3\xA9 \\u00e9 \\ud83d\\ude00\"}"), 1},
    {TEXT("{\"id\":\"a\\nb\"}"), 0},       /* a wanted string with an escape */
    {TEXT("{\"i\\u0064\":5}"), 0},         /* a top-level key with an escape */
    {TEXT("{\"a\":{\"i\\u0064\":5}}"), 1}, /* deeper: no member of ours */
    {TEXT("{\"id\":01}"), 0},
    {TEXT("{\"id\":1.}"), 0},
    {TEXT("{\"id\":.5}"), 0},
    {TEXT("{\"id\":1e}"), 0},
    {TEXT("{\"id\":+1}"), 0},
    {TEXT("{\"id\":0x10}"), 0},
    {TEXT("{\"id\":1.000000000000000000000000000000000001}"), 0}, /* longer than 32 */
    {TEXT("{\"id\":123456789012345678901234567890}"), 0},         /* repaired: beyond 2^53 */
    {TEXT("{\"id\":\"\\x\"}"), 0},
    {TEXT("{\"id\":\"tab\there\"}"), 0}, /* a raw control character */
    {TEXT("\xEF\xBB\xBF{\"id\":1}"), 0}, /* cJSON skips a byte-order mark */
    {TEXT("\x0B{\"id\":1}"), 0},         /* cJSON skips any byte <= 0x20 */
    {TEXT("{\"id\":1}\x0B"), 0},
    {TEXT("{\"id\":1,}"), 0},
    {TEXT("[1,]"), 0},
    {TEXT("{,}"), 0},
    {TEXT("{\"id\" 1}"), 0},
    {TEXT("{\"id\":1} x"), 0},
    {TEXT("{\"id\":1}{}"), 0},
    {TEXT("nul"), 0},
    {TEXT("tru"), 0},
    {TEXT(""), 0},
    {TEXT("   "), 0},
    {TEXT("{\"id\":\"\xFF\"}"), 0},         /* repaired: not UTF-8 */
    {TEXT("{\"id\":\"\\u0000\"}"), 0},      /* repaired: \u0000 */
    {TEXT("{\"id\":\"\\ud800\"}"), 0},      /* repaired: a lone surrogate */
    {TEXT("{\"x\":\"\xFF\",\"id\":1}"), 0}, /* the same in a member not wanted */
    {TEXT("{\"x\":\"\\u0000\",\"id\":1}"), 0},
    {TEXT("{\"x\":\"\\udc00\",\"id\":1}"), 0},
    {TEXT("{\"x\":\"\\ud800\\u0041\",\"id\":1}"), 0},
    {TEXT("{\"x\":[9007199254740993],\"id\":1}"), 0},
    {TEXT("{\"x\":[9007199254740992,-9007199254740992],\"id\":1}"), 1}, /* 2^53 itself */
    {TEXT("{\"x\":9007199254740993.5,\"id\":1}"), 1},                   /* fractions stay numbers */
    {TEXT("{\"id\":1,\"x\":\"a\0b\"}"), 0},                             /* a NUL byte */
    {TEXT("{\"id\":\"unterminated}"), 0},
    {TEXT("[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["
          "]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]"),
     0}, /* 65 levels: refused by the depth limit */
    {TEXT("[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["
          "]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]"),
     1}, /* 64: the limit itself */
};

static void test_edge_cases(void **state)
{
    (void)state;
    tally count = {0};
    for (size_t i = 0; i < COUNT(edge_cases); i++) {
        char label[64];
        snprintf(label, sizeof label, "edge case %zu", i);
        int sure = compare(label, edge_cases[i].text, edge_cases[i].length, &count);
        if (sure != edge_cases[i].sure)
            fail_msg("%s: peek %s, expected %s", label, sure ? "sure" : "unsure",
                     edge_cases[i].sure ? "sure" : "unsure");
    }
}

static void read_file(const char *path, buffer *out)
{
    FILE *file = fopen(path, "rb");
    if (file == NULL)
        fail_msg("cannot open %s", path);
    char chunk[8192];
    for (size_t got = fread(chunk, 1, sizeof chunk, file); got > 0;
         got = fread(chunk, 1, sizeof chunk, file))
        assert_int_equal(buffer_append(out, chunk, got), 0);
    fclose(file);
}

/* A small deterministic generator (xorshift64), so that a failure names a
 * mutation that can be run again. */
static uint64_t next_random(uint64_t *seed)
{
    uint64_t x = *seed;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    *seed = x;
    return x;
}

/* One to three edits of `original` into `out`. */
static void mutate(const buffer *original, buffer *out, uint64_t *seed)
{
    static const char special[] = "\"\\{}[],:0123-.eE+ \t\nutfnl\x01\x0B\x7F\x80\xC3\xFF";
    out->length = 0;
    assert_int_equal(buffer_append(out, original->data, original->length), 0);
    int edits = 1 + (int)(next_random(seed) % 3);
    for (int e = 0; e < edits && out->length > 0; e++) {
        size_t at = next_random(seed) % out->length;
        char c = special[next_random(seed) % (sizeof special - 1)];
        switch (next_random(seed) % 4) {
        case 0:
            out->data[at] = c;
            break;
        case 1:
            memmove(out->data + at, out->data + at + 1, out->length - at - 1);
            out->length--;
            break;
        case 2:
            assert_int_equal(buffer_append_char(out, ' '), 0);
            memmove(out->data + at + 1, out->data + at, out->length - at - 1);
            out->data[at] = c;
            break;
        default:
            out->length = at;
            break;
        }
    }
}

static int is_sample(const char *name)
{
    size_t n = strlen(name);
    return n > 5 && strcmp(name + n - 5, ".json") == 0;
}

static void test_samples_and_their_mutations(void **state)
{
    (void)state;
    DIR *directory = opendir(HARAVAN_SAMPLES_DIR);
    assert_non_null(directory);
    tally count = {0};
    size_t samples_sure = 0;
    int order_sure = 0;
    uint64_t seed = 0x9E3779B97F4A7C15ULL;
    for (struct dirent *entry = readdir(directory); entry != NULL; entry = readdir(directory)) {
        if (!is_sample(entry->d_name))
            continue;
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", HARAVAN_SAMPLES_DIR, entry->d_name);
        buffer original = BUFFER_INIT;
        read_file(path, &original);
        int sure = compare(entry->d_name, original.data, original.length, &count);
        /* Nesting at and around the limit: the same verdict as the parser. */
        for (int depth = 0; depth <= 5; depth++)
            compare_at(entry->d_name, original.data, original.length, depth, &count);
        samples_sure += (size_t)sure;
        if (strstr(entry->d_name, "captured") != NULL)
            order_sure = sure;
        buffer mutated = BUFFER_INIT;
        for (int m = 0; m < MUTATIONS; m++) {
            uint64_t start = seed;
            mutate(&original, &mutated, &seed);
            char label[1200];
            snprintf(label, sizeof label, "%s, mutation from seed %llu", entry->d_name,
                     (unsigned long long)start);
            compare(label, mutated.data, mutated.length, &count);
        }
        buffer_free(&mutated);
        buffer_free(&original);
    }
    closedir(directory);
    print_message("%zu texts, peek sure of %zu; %zu samples sure\n", count.texts, count.sure,
                  samples_sure);
    assert_true(order_sure);
    assert_true(samples_sure >= 8);
    /* The mutations must reach both answers, or they test nothing. */
    assert_true(count.sure > count.texts / 20);
    assert_true(count.sure < count.texts);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_edge_cases),
        cmocka_unit_test(test_samples_and_their_mutations),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
