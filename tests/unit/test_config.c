/*
 * Unit tests for lib/core/config: defaults, NAME=value text, single
 * settings, the master key file, and config_load's file-then-environment
 * order.
 *
 * The configuration decides where the connector listens and which key
 * opens the stored secrets, so an operator's typo must fail loudly with
 * the line number rather than leave a default in force (config.h), and
 * every invalid value must be refused with the message the operator will
 * read. The tests that touch the environment save every HARAVAN_ variable
 * first and put them back afterwards, so they neither depend on nor
 * disturb the caller's environment; temporary files are removed.
 */
#define _POSIX_C_SOURCE 200809L

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/config.h"

#define COUNT(array) (sizeof(array) / sizeof((array)[0]))

#define HEX_KEY "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"

/* ---- environment and temporary files ------------------------------------ */

static const char *const haravan_variables[] = {
    "HARAVAN_CONFIG",       "HARAVAN_DB",          "HARAVAN_PUBLIC_URL", "HARAVAN_ACCOUNTS_URL",
    "HARAVAN_API_URL",      "HARAVAN_WEBHOOK_URL", "HARAVAN_SOCKET",     "HARAVAN_SOCKET_GROUP",
    "HARAVAN_SOCKET_MODE",  "HARAVAN_WORKERS",     "HARAVAN_MASTER_KEY", "HARAVAN_MASTER_KEY_FILE",
    "HARAVAN_ADMIN_HEADER", "HARAVAN_ADMIN_AUTH",  "HARAVAN_PROCESSORS", "HARAVAN_CRM_SCHEMA",
};

static char *saved_values[COUNT(haravan_variables)];

static int unset_haravan_variables(void **state)
{
    (void)state;
    for (size_t i = 0; i < COUNT(haravan_variables); i++)
        unsetenv(haravan_variables[i]);
    return 0;
}

static int save_environment(void **state)
{
    for (size_t i = 0; i < COUNT(haravan_variables); i++) {
        const char *value = getenv(haravan_variables[i]);
        saved_values[i] = value != NULL ? strdup(value) : NULL;
        if (value != NULL && saved_values[i] == NULL)
            return -1;
    }
    return unset_haravan_variables(state);
}

static int restore_environment(void **state)
{
    (void)state;
    for (size_t i = 0; i < COUNT(haravan_variables); i++) {
        if (saved_values[i] != NULL)
            setenv(haravan_variables[i], saved_values[i], 1);
        else
            unsetenv(haravan_variables[i]);
        free(saved_values[i]);
        saved_values[i] = NULL;
    }
    return 0;
}

/* Temporary files of the running test, removed by its teardown even when
 * an assertion stopped it halfway. */
#define MAX_TEMP_FILES 8
static char temp_files[MAX_TEMP_FILES][512];
static size_t temp_file_count;

static int remove_temp_files(void **state)
{
    for (size_t i = 0; i < temp_file_count; i++)
        (void)unlink(temp_files[i]); /* most were already removed by the test */
    temp_file_count = 0;
    return unset_haravan_variables(state);
}

/* Writes `text` to a new temporary file whose name goes into `path`. */
static void write_temp_file(char *path, size_t size, const char *text)
{
    assert_true(temp_file_count < MAX_TEMP_FILES && size <= sizeof temp_files[0]);
    const char *directory = getenv("TMPDIR");
    snprintf(path, size, "%s/haravan-test-config-XXXXXX",
             directory != NULL && directory[0] != '\0' ? directory : "/tmp");
    int fd = mkstemp(path);
    if (fd < 0)
        fail_msg("mkstemp(%s) failed", path);
    snprintf(temp_files[temp_file_count++], sizeof temp_files[0], "%s", path);
    size_t length = strlen(text);
    assert_int_equal(write(fd, text, length), (ssize_t)length);
    assert_int_equal(close(fd), 0);
}

/* ---- helpers -------------------------------------------------------------- */

static void assert_string_or_null(const char *actual, const char *expected, const char *field)
{
    if (expected == NULL && actual == NULL)
        return;
    if (expected == NULL || actual == NULL || strcmp(actual, expected) != 0)
        fail_msg("%s is \"%s\", expected \"%s\"", field, actual != NULL ? actual : "(NULL)",
                 expected != NULL ? expected : "(NULL)");
}

static void assert_defaults(const config *c)
{
    assert_string_or_null(c->database, NULL, "database");
    assert_string_or_null(c->public_url, NULL, "public_url");
    assert_string_or_null(c->accounts_url, "https://accounts.haravan.com", "accounts_url");
    assert_string_or_null(c->api_url, "https://apis.haravan.com", "api_url");
    assert_string_or_null(c->webhook_url, "https://webhook.haravan.com", "webhook_url");
    assert_string_or_null(c->socket_path, "/run/haravan-crm/fcgi.sock", "socket_path");
    assert_string_or_null(c->socket_group, NULL, "socket_group");
    assert_int_equal(c->admin_crm, 0);
    assert_int_equal(c->crm_own, 0);
    assert_int_equal(c->socket_mode, 0660);
    assert_int_equal(c->workers, 0);
    assert_int_equal(c->processors, -1);
    assert_int_equal(c->has_master_key, 0);
}

static void assert_test_key(const config *c)
{
    assert_int_equal(c->has_master_key, 1);
    for (size_t i = 0; i < CRYPTO_KEY_SIZE; i++)
        assert_int_equal(c->master_key[i], i);
}

/* ---- defaults and text ---------------------------------------------------- */

static void test_defaults(void **state)
{
    (void)state;
    config c;
    memset(&c, 0x5a, sizeof c); /* config_defaults must not rely on zeroed memory */
    config_defaults(&c);
    assert_defaults(&c);
    config_free(&c);
    assert_null(c.accounts_url);
}

static void test_apply_text_full_file(void **state)
{
    (void)state;
    static const char text[] = "# haravan-crm configuration\n"
                               "\n"
                               "   \n"
                               "export HARAVAN_DB=\"host=localhost dbname=crm user=crm\"\n"
                               "HARAVAN_PUBLIC_URL=https://crm.example.com/\n"
                               "  HARAVAN_API_URL = 'https://apis.example.com//'  \n"
                               "HARAVAN_ACCOUNTS_URL=http://accounts.example.test\n"
                               "\t# an indented comment\n"
                               "HARAVAN_WEBHOOK_URL=\"https://webhook.example.com/\"\n"
                               "HARAVAN_SOCKET=/run/test/fcgi.sock\r\n"
                               "export HARAVAN_SOCKET_GROUP='www-data'\n"
                               "HARAVAN_SOCKET_MODE=0600\n"
                               "HARAVAN_WORKERS=8\n"
                               "HARAVAN_MASTER_KEY=" HEX_KEY "\n"
                               "PGPASSWORD=not-ours\n"
                               "HARAVAN_BASE_URL=http://127.0.0.1:8080\n"
                               "HARAVAN_VAR=/tmp/var";
    config c;
    config_defaults(&c);
    char error[256] = "";
    int result = config_apply_text(&c, text, error, sizeof error);
    if (result != 0)
        fail_msg("config_apply_text failed: %s", error);
    assert_string_or_null(c.database, "host=localhost dbname=crm user=crm", "database");
    assert_string_or_null(c.public_url, "https://crm.example.com", "public_url");
    assert_string_or_null(c.api_url, "https://apis.example.com", "api_url");
    assert_string_or_null(c.accounts_url, "http://accounts.example.test", "accounts_url");
    assert_string_or_null(c.webhook_url, "https://webhook.example.com", "webhook_url");
    assert_string_or_null(c.socket_path, "/run/test/fcgi.sock", "socket_path");
    assert_string_or_null(c.socket_group, "www-data", "socket_group");
    assert_int_equal(c.socket_mode, 0600);
    assert_int_equal(c.workers, 8);
    assert_test_key(&c);
    config_free(&c);
}

static void test_apply_text_ignores_names_not_ours(void **state)
{
    (void)state;
    static const char text[] = "PATH=/usr/bin\n"
                               "PGHOST=db.example.com\n"
                               "MY_HARAVAN_DB=elsewhere\n"
                               "haravan_workers=abc\n"
                               "export POSTGRES_PASSWORD='x'\n"
                               "HARAVAN_BASE_URL=not a url\n"
                               "HARAVAN_VAR=/var/lib/haravan\n"
                               "HARAVAN_CONFIG=/etc/haravan-crm.env\n";
    config c;
    config_defaults(&c);
    char error[256] = "";
    int result = config_apply_text(&c, text, error, sizeof error);
    if (result != 0)
        fail_msg("config_apply_text failed: %s", error);
    assert_defaults(&c);
    config_free(&c);
}

typedef struct text_error_case {
    const char *text;
    const char *error;
} text_error_case;

static void test_apply_text_errors_name_the_line(void **state)
{
    (void)state;
    static const text_error_case cases[] = {
        {"HARAVAN_DB=x\n\nHARAVAN_WORKER=4\nHARAVAN_WORKERS=7\n",
         "line 3: unknown setting HARAVAN_WORKER"},
        {"export HARAVAN_TYPO=1", "line 1: unknown setting HARAVAN_TYPO"},
        {"# comment\nHARAVAN_SOCKET_MODE=999\n",
         "line 2: HARAVAN_SOCKET_MODE must be octal, e.g. 0660"},
        {"HARAVAN_WORKERS=0", "line 1: HARAVAN_WORKERS must be a number from 1 to 256"},
        {"\n\n\nHARAVAN_PUBLIC_URL=crm.example.com\n",
         "line 4: HARAVAN_PUBLIC_URL must be an http:// or https:// URL with a host"},
        {"HARAVAN_DB=x\r\nHARAVAN_MASTER_KEY=abc\r\n",
         "line 2: HARAVAN_MASTER_KEY must be 64 hex digits (32 bytes)"},
        {"HARAVAN_DB=''", "line 1: HARAVAN_DB must not be empty"},
        {"# ok\nthis is not a setting\n", "line 2: expected NAME=value"},
    };
    for (size_t i = 0; i < COUNT(cases); i++) {
        config c;
        config_defaults(&c);
        char error[256] = "";
        int result = config_apply_text(&c, cases[i].text, error, sizeof error);
        if (result != -1)
            fail_msg("text %zu: config_apply_text returned %d, expected -1", i, result);
        assert_string_equal(error, cases[i].error);
        /* Nothing after the bad line was applied. */
        assert_int_equal(c.workers, 0);
        config_free(&c);
    }
}

/* ---- single settings ------------------------------------------------------ */

typedef struct refused_setting {
    const char *name;
    const char *value;
    const char *error;
} refused_setting;

#define WORKERS_ERROR    "HARAVAN_WORKERS must be a number from 1 to 256"
#define PROCESSORS_ERROR "HARAVAN_PROCESSORS must be a number from 0 to 256"
#define MODE_ERROR       "HARAVAN_SOCKET_MODE must be octal, e.g. 0660"
#define KEY_ERROR        "HARAVAN_MASTER_KEY must be 64 hex digits (32 bytes)"
#define ADMIN_AUTH_ERROR "HARAVAN_ADMIN_AUTH must be password or crm"
/* The request header mode is gone (a client could send the header): a
 * configuration still naming it must stop the start, saying what to do. */
#define ADMIN_HEADER_ERROR                                                                         \
    "HARAVAN_ADMIN_HEADER is no longer read: a request header can be sent by anyone; set"          \
    " HARAVAN_ADMIN_AUTH=crm and wire the CRM's sign-in check (README, Admin sign-in)"
#define OPEN_MODE_ERROR(mode)                                                                      \
    "HARAVAN_SOCKET_MODE " mode " lets every local user connect; give nginx's group access"        \
    " instead (0660 with HARAVAN_SOCKET_GROUP)"

static void test_set_refuses_invalid_values(void **state)
{
    (void)state;
    static const refused_setting cases[] = {
        {"HARAVAN_WORKERS", "0", WORKERS_ERROR},
        {"HARAVAN_WORKERS", "257", WORKERS_ERROR},
        {"HARAVAN_WORKERS", "abc", WORKERS_ERROR},
        {"HARAVAN_WORKERS", "", WORKERS_ERROR},
        {"HARAVAN_WORKERS", "4x", WORKERS_ERROR},
        {"HARAVAN_WORKERS", "-1", WORKERS_ERROR},
        {"HARAVAN_WORKERS", "1.5", WORKERS_ERROR},
        {"HARAVAN_WORKERS", "99999999999999999999", WORKERS_ERROR},
        {"HARAVAN_PROCESSORS", "257", PROCESSORS_ERROR},
        {"HARAVAN_PROCESSORS", "abc", PROCESSORS_ERROR},
        {"HARAVAN_PROCESSORS", "", PROCESSORS_ERROR},
        {"HARAVAN_PROCESSORS", "4x", PROCESSORS_ERROR},
        {"HARAVAN_PROCESSORS", "-1", PROCESSORS_ERROR},
        {"HARAVAN_PROCESSORS", "1.5", PROCESSORS_ERROR},
        {"HARAVAN_PROCESSORS", "99999999999999999999", PROCESSORS_ERROR},
        {"HARAVAN_SOCKET_MODE", "999", MODE_ERROR},
        {"HARAVAN_SOCKET_MODE", "0668", MODE_ERROR},
        {"HARAVAN_SOCKET_MODE", "1000", MODE_ERROR},
        {"HARAVAN_SOCKET_MODE", "rw-rw----", MODE_ERROR},
        {"HARAVAN_SOCKET_MODE", "", MODE_ERROR},
        {"HARAVAN_PUBLIC_URL", "crm.example.com",
         "HARAVAN_PUBLIC_URL must be an http:// or https:// URL with a host"},
        {"HARAVAN_API_URL", "ftp://apis.haravan.com",
         "HARAVAN_API_URL must be an http:// or https:// URL with a host"},
        {"HARAVAN_ACCOUNTS_URL", "//accounts.haravan.com",
         "HARAVAN_ACCOUNTS_URL must be an http:// or https:// URL with a host"},
        {"HARAVAN_WEBHOOK_URL", "",
         "HARAVAN_WEBHOOK_URL must be an http:// or https:// URL with a host"},
        {"HARAVAN_MASTER_KEY", "abc", KEY_ERROR},
        {"HARAVAN_MASTER_KEY", "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1",
         KEY_ERROR},
        {"HARAVAN_MASTER_KEY", HEX_KEY "0", KEY_ERROR},
        {"HARAVAN_MASTER_KEY", "", KEY_ERROR},
        {"HARAVAN_DB", "", "HARAVAN_DB must not be empty"},
        {"HARAVAN_SOCKET", "", "HARAVAN_SOCKET must not be empty"},
        {"HARAVAN_SOCKET_GROUP", "", "HARAVAN_SOCKET_GROUP must not be empty"},
        {"HARAVAN_ADMIN_HEADER", "", ADMIN_HEADER_ERROR},
        {"HARAVAN_ADMIN_HEADER", "X_CRM_Admin", ADMIN_HEADER_ERROR},
        {"HARAVAN_ADMIN_HEADER", "X-CRM-Admin:", ADMIN_HEADER_ERROR},
        {"HARAVAN_ADMIN_HEADER", "X CRM", ADMIN_HEADER_ERROR},
        {"HARAVAN_ADMIN_HEADER", "X-CRM-Admin", ADMIN_HEADER_ERROR},
        {"HARAVAN_ADMIN_AUTH", "", ADMIN_AUTH_ERROR},
        {"HARAVAN_ADMIN_AUTH", "header", ADMIN_AUTH_ERROR},
        {"HARAVAN_ADMIN_AUTH", "CRM", ADMIN_AUTH_ERROR},
        {"HARAVAN_ADMIN_AUTH", "crm ", ADMIN_AUTH_ERROR},
        {"HARAVAN_SOCKET_MODE", "0777", OPEN_MODE_ERROR("0777")},
        {"HARAVAN_SOCKET_MODE", "0666", OPEN_MODE_ERROR("0666")},
        {"HARAVAN_SOCKET_MODE", "0661", OPEN_MODE_ERROR("0661")},
        {"HARAVAN_SOCKET_MODE", "0604", OPEN_MODE_ERROR("0604")},
        {"HARAVAN_SOCKET_MODE", "2", OPEN_MODE_ERROR("0002")},
        {"HARAVAN_WORKER", "4", "unknown setting HARAVAN_WORKER"},
        {"HARAVAN_MASTERKEY", HEX_KEY, "unknown setting HARAVAN_MASTERKEY"},
    };
    for (size_t i = 0; i < COUNT(cases); i++) {
        config c;
        config_defaults(&c);
        char error[256] = "";
        int result = config_set(&c, cases[i].name, cases[i].value, error, sizeof error);
        if (result != -1)
            fail_msg("%s=\"%s\": config_set returned %d, expected -1", cases[i].name,
                     cases[i].value, result);
        assert_string_equal(error, cases[i].error);
        /* A refused value leaves the setting as it was. */
        assert_defaults(&c);
        config_free(&c);
    }
}

typedef struct number_setting {
    const char *name;
    const char *value;
    long expected;
} number_setting;

static void test_set_accepts_boundaries(void **state)
{
    (void)state;
    static const number_setting cases[] = {
        {"HARAVAN_WORKERS", "1", 1},           {"HARAVAN_WORKERS", "256", 256},
        {"HARAVAN_WORKERS", "16", 16},         {"HARAVAN_SOCKET_MODE", "0660", 0660},
        {"HARAVAN_SOCKET_MODE", "600", 0600},  {"HARAVAN_SOCKET_MODE", "0", 0},
        {"HARAVAN_SOCKET_MODE", "0770", 0770}, {"HARAVAN_PROCESSORS", "0", 0},
        {"HARAVAN_PROCESSORS", "1", 1},        {"HARAVAN_PROCESSORS", "256", 256},
    };
    for (size_t i = 0; i < COUNT(cases); i++) {
        config c;
        config_defaults(&c);
        char error[256] = "";
        int result = config_set(&c, cases[i].name, cases[i].value, error, sizeof error);
        if (result != 0)
            fail_msg("%s=%s refused: %s", cases[i].name, cases[i].value, error);
        long actual = strcmp(cases[i].name, "HARAVAN_WORKERS") == 0      ? (long)c.workers
                      : strcmp(cases[i].name, "HARAVAN_PROCESSORS") == 0 ? (long)c.processors
                                                                         : (long)c.socket_mode;
        if (actual != cases[i].expected)
            fail_msg("%s=%s gave %ld, expected %ld", cases[i].name, cases[i].value, actual,
                     cases[i].expected);
        config_free(&c);
    }
}

typedef struct url_case {
    const char *value;
    const char *stored;
} url_case;

static void test_set_url_strips_trailing_slashes(void **state)
{
    (void)state;
    static const url_case cases[] = {
        {"https://crm.example.com/", "https://crm.example.com"},
        {"https://crm.example.com///", "https://crm.example.com"},
        {"http://localhost:8080/", "http://localhost:8080"},
        {"https://crm.example.com/haravan/", "https://crm.example.com/haravan"},
        {"https://crm.example.com", "https://crm.example.com"},
    };
    for (size_t i = 0; i < COUNT(cases); i++) {
        config c;
        config_defaults(&c);
        char error[256] = "";
        assert_int_equal(config_set(&c, "HARAVAN_PUBLIC_URL", cases[i].value, error, sizeof error),
                         0);
        assert_string_equal(c.public_url, cases[i].stored);
        config_free(&c);
    }
}

/* A URL with no host, as `HARAVAN_PUBLIC_URL=https://$DOMAIN` gives when
 * DOMAIN is unset, is not a URL; stripping its slashes would store
 * "https:". */
static void test_set_refuses_url_without_host(void **state)
{
    (void)state;
    static const char *const values[] = {"https://", "http://", "https:///"};
    for (size_t i = 0; i < COUNT(values); i++) {
        config c;
        config_defaults(&c);
        char error[256] = "";
        int result = config_set(&c, "HARAVAN_PUBLIC_URL", values[i], error, sizeof error);
        char stored[64];
        snprintf(stored, sizeof stored, "%s", c.public_url != NULL ? c.public_url : "(NULL)");
        config_free(&c); /* before any failure, so LSan reports only real leaks */
        if (result != -1)
            fail_msg("HARAVAN_PUBLIC_URL=%s: config_set returned %d and stored \"%s\", "
                     "expected -1",
                     values[i], result, stored);
    }
}

/* ---- the master key file -------------------------------------------------- */

static void test_master_key_file(void **state)
{
    (void)state;
    char path[512];
    write_temp_file(path, sizeof path, "  " HEX_KEY "\n");

    config c;
    config_defaults(&c);
    char error[512] = "";
    int result = config_set(&c, "HARAVAN_MASTER_KEY_FILE", path, error, sizeof error);
    if (result != 0)
        fail_msg("HARAVAN_MASTER_KEY_FILE=%s refused: %s", path, error);
    assert_test_key(&c);
    config_free(&c);

    /* The same through a configuration text. */
    char text[600];
    snprintf(text, sizeof text, "# key\nHARAVAN_MASTER_KEY_FILE=%s\n", path);
    config_defaults(&c);
    assert_int_equal(config_apply_text(&c, text, error, sizeof error), 0);
    assert_test_key(&c);
    config_free(&c);
    assert_int_equal(unlink(path), 0);

    /* Gone: refused, naming the file and the reason. */
    config_defaults(&c);
    assert_int_equal(config_set(&c, "HARAVAN_MASTER_KEY_FILE", path, error, sizeof error), -1);
    char expected[600];
    snprintf(expected, sizeof expected,
             "HARAVAN_MASTER_KEY_FILE: cannot read %s: No such file or directory", path);
    assert_string_equal(error, expected);
    assert_int_equal(c.has_master_key, 0);
    config_free(&c);
}

static void test_master_key_file_with_bad_content(void **state)
{
    (void)state;
    static const char *const contents[] = {
        "not a key\n",
        "",
        "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1\n",
        HEX_KEY "\n" HEX_KEY "\n",
    };
    for (size_t i = 0; i < COUNT(contents); i++) {
        char path[512];
        write_temp_file(path, sizeof path, contents[i]);
        config c;
        config_defaults(&c);
        char error[600] = "";
        int result = config_set(&c, "HARAVAN_MASTER_KEY_FILE", path, error, sizeof error);
        char expected[600];
        snprintf(expected, sizeof expected, "HARAVAN_MASTER_KEY_FILE: %s must hold 64 hex digits",
                 path);
        assert_int_equal(unlink(path), 0);
        if (result != -1)
            fail_msg("key file content %zu: config_set returned %d, expected -1", i, result);
        assert_string_equal(error, expected);
        assert_int_equal(c.has_master_key, 0);
        config_free(&c);
    }
}

/* ---- config_load ---------------------------------------------------------- */

static const char config_file_text[] = "# written by test_config\n"
                                       "HARAVAN_DB=dbname=from_file\n"
                                       "HARAVAN_WORKERS=3\n"
                                       "HARAVAN_PROCESSORS=3\n"
                                       "HARAVAN_API_URL=https://apis.file.example/\n"
                                       "HARAVAN_SOCKET_MODE=0640\n";

static void assert_loaded_from_file(const config *c)
{
    assert_string_or_null(c->database, "dbname=from_file", "database");
    assert_int_equal(c->workers, 3);
    assert_int_equal(c->processors, 3);
    assert_string_or_null(c->api_url, "https://apis.file.example", "api_url");
    assert_int_equal(c->socket_mode, 0640);
    assert_string_or_null(c->accounts_url, "https://accounts.haravan.com", "accounts_url");
    assert_int_equal(c->has_master_key, 0);
}

static void load_or_fail(config *c, const char *path)
{
    char error[512] = "";
    int result = config_load(c, path, error, sizeof error);
    if (result != 0)
        fail_msg("config_load(%s) failed: %s", path != NULL ? path : "NULL", error);
}

static void test_load_file_then_environment(void **state)
{
    (void)state;
    char path[512];
    write_temp_file(path, sizeof path, config_file_text);
    config c;

    load_or_fail(&c, path);
    assert_loaded_from_file(&c);
    config_free(&c);

    /* The environment overrides the file, setting by setting. */
    assert_int_equal(setenv("HARAVAN_WORKERS", "5", 1), 0);
    assert_int_equal(setenv("HARAVAN_API_URL", "https://apis.env.example/", 1), 0);
    assert_int_equal(setenv("HARAVAN_MASTER_KEY", HEX_KEY, 1), 0);
    load_or_fail(&c, path);
    assert_int_equal(c.workers, 5);
    assert_int_equal(c.processors, 3); /* the file's */
    assert_string_equal(c.api_url, "https://apis.env.example");
    assert_string_equal(c.database, "dbname=from_file");
    assert_int_equal(c.socket_mode, 0640);
    assert_test_key(&c);
    config_free(&c);

    /* An empty variable is as good as unset. */
    assert_int_equal(setenv("HARAVAN_WORKERS", "", 1), 0);
    assert_int_equal(unsetenv("HARAVAN_API_URL"), 0);
    assert_int_equal(unsetenv("HARAVAN_MASTER_KEY"), 0);
    load_or_fail(&c, path);
    assert_loaded_from_file(&c);
    config_free(&c);

    /* An invalid variable is an error, even over a valid file. */
    assert_int_equal(setenv("HARAVAN_WORKERS", "0", 1), 0);
    char error[512] = "";
    assert_int_equal(config_load(&c, path, error, sizeof error), -1);
    assert_string_equal(error, WORKERS_ERROR);
    config_free(&c);
    assert_int_equal(unsetenv("HARAVAN_WORKERS"), 0);

    /* 0 processors (intake only) from the environment beats the file's 3;
     * a bad value is refused like HARAVAN_WORKERS'. */
    assert_int_equal(setenv("HARAVAN_PROCESSORS", "0", 1), 0);
    load_or_fail(&c, path);
    assert_int_equal(c.processors, 0);
    config_free(&c);
    assert_int_equal(setenv("HARAVAN_PROCESSORS", "x", 1), 0);
    assert_int_equal(config_load(&c, path, error, sizeof error), -1);
    assert_string_equal(error, PROCESSORS_ERROR);
    config_free(&c);
    assert_int_equal(unsetenv("HARAVAN_PROCESSORS"), 0);

    /* With no path, HARAVAN_CONFIG names the file. */
    assert_int_equal(setenv("HARAVAN_CONFIG", path, 1), 0);
    load_or_fail(&c, NULL);
    assert_loaded_from_file(&c);
    config_free(&c);

    assert_int_equal(unlink(path), 0);
}

static void test_load_without_file(void **state)
{
    (void)state;
    config c;
    load_or_fail(&c, NULL);
    assert_string_equal(c.database, "");
    assert_null(c.public_url);
    assert_string_equal(c.accounts_url, "https://accounts.haravan.com");
    assert_string_equal(c.api_url, "https://apis.haravan.com");
    assert_string_equal(c.webhook_url, "https://webhook.haravan.com");
    assert_string_equal(c.socket_path, "/run/haravan-crm/fcgi.sock");
    assert_int_equal(c.socket_mode, 0660);
    assert_int_equal(c.has_master_key, 0);
    /* config.h: workers 0 until loaded = 2 x cores (at most 256). */
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    long expected = cores > 0 ? (cores * 2 > 256 ? 256 : cores * 2) : 2;
    assert_int_equal(c.workers, expected);
    /* config.h: processors -1 until loaded = the cores (at most 256). */
    assert_int_equal(c.processors, cores > 0 ? (cores > 256 ? 256 : cores) : 1);
    config_free(&c);
}

static void test_load_errors(void **state)
{
    (void)state;
    config c;
    char error[512] = "";

    const char *missing = "/nonexistent/haravan-crm/test.env";
    assert_int_equal(config_load(&c, missing, error, sizeof error), -1);
    assert_string_equal(error,
                        "cannot read /nonexistent/haravan-crm/test.env: No such file or directory");
    config_free(&c);

    char path[512];
    write_temp_file(path, sizeof path, "HARAVAN_DB=x\nHARAVAN_NOPE=1\n");
    assert_int_equal(config_load(&c, path, error, sizeof error), -1);
    char expected[600];
    snprintf(expected, sizeof expected, "%s: line 2: unknown setting HARAVAN_NOPE", path);
    assert_string_equal(error, expected);
    config_free(&c);
    assert_int_equal(unlink(path), 0);
}

static void test_set_admin_auth(void **state)
{
    (void)state;
    config c;
    config_defaults(&c);
    char error[256] = "";
    assert_int_equal(config_set(&c, "HARAVAN_ADMIN_AUTH", "crm", error, sizeof error), 0);
    assert_int_equal(c.admin_crm, 1);
    assert_int_equal(config_apply_text(&c, "HARAVAN_ADMIN_AUTH=password\n", error, sizeof error),
                     0);
    assert_int_equal(c.admin_crm, 0);
    /* In a file, the old name stops the load at its line. */
    assert_int_equal(
        config_apply_text(&c, "HARAVAN_ADMIN_HEADER=X-CRM-Admin\n", error, sizeof error), -1);
    assert_string_equal(error, "line 1: " ADMIN_HEADER_ERROR);
    config_free(&c);
}

/* ours (the default) or own, from a file or the environment; anything else
 * stops the load rather than leave `migrate` creating tables a CRM has. */
static void test_set_crm_schema(void **state)
{
    (void)state;
    config c;
    config_defaults(&c);
    char error[256] = "";
    assert_int_equal(config_apply_text(&c, "HARAVAN_CRM_SCHEMA=own\n", error, sizeof error), 0);
    assert_int_equal(c.crm_own, 1);
    assert_int_equal(config_set(&c, "HARAVAN_CRM_SCHEMA", "ours", error, sizeof error), 0);
    assert_int_equal(c.crm_own, 0);
    assert_int_equal(config_set(&c, "HARAVAN_CRM_SCHEMA", "mine", error, sizeof error), -1);
    assert_string_equal(error, "HARAVAN_CRM_SCHEMA must be ours or own");
    assert_int_equal(c.crm_own, 0);
    config_free(&c);

    setenv("HARAVAN_CRM_SCHEMA", "own", 1);
    load_or_fail(&c, NULL);
    assert_int_equal(c.crm_own, 1);
    config_free(&c);
    unsetenv("HARAVAN_CRM_SCHEMA");
}

/* A key file with any access for group or others is refused, naming the
 * file, its mode and the fix; read-only or read-write for its owner is
 * fine. */
static void test_master_key_file_mode(void **state)
{
    (void)state;
    static const mode_t refused[] = {0640, 0604, 0620, 0602, 0644, 0660, 0666, 0610};
    static const mode_t accepted[] = {0600, 0400};
    char path[512];
    write_temp_file(path, sizeof path, HEX_KEY "\n");
    for (size_t i = 0; i < COUNT(refused); i++) {
        assert_int_equal(chmod(path, refused[i]), 0);
        config c;
        config_defaults(&c);
        char error[600] = "";
        assert_int_equal(config_set(&c, "HARAVAN_MASTER_KEY_FILE", path, error, sizeof error), -1);
        char expected[1200];
        snprintf(expected, sizeof expected,
                 "HARAVAN_MASTER_KEY_FILE: %s is mode %04o; group and others must have no access"
                 " to the master key (chmod 600 %s)",
                 path, (unsigned)refused[i], path);
        assert_string_equal(error, expected);
        assert_int_equal(c.has_master_key, 0);
        config_free(&c);
    }
    for (size_t i = 0; i < COUNT(accepted); i++) {
        assert_int_equal(chmod(path, accepted[i]), 0);
        config c;
        config_defaults(&c);
        char error[600] = "";
        int result = config_set(&c, "HARAVAN_MASTER_KEY_FILE", path, error, sizeof error);
        if (result != 0)
            fail_msg("mode %04o refused: %s", (unsigned)accepted[i], error);
        assert_test_key(&c);
        config_free(&c);
    }
    assert_int_equal(unlink(path), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_apply_text_full_file),
        cmocka_unit_test(test_apply_text_ignores_names_not_ours),
        cmocka_unit_test(test_apply_text_errors_name_the_line),
        cmocka_unit_test(test_set_refuses_invalid_values),
        cmocka_unit_test(test_set_accepts_boundaries),
        cmocka_unit_test(test_set_url_strips_trailing_slashes),
        cmocka_unit_test(test_set_admin_auth),
        cmocka_unit_test(test_set_crm_schema),
        cmocka_unit_test_teardown(test_master_key_file_mode, remove_temp_files),
        cmocka_unit_test(test_set_refuses_url_without_host),
        cmocka_unit_test_teardown(test_master_key_file, remove_temp_files),
        cmocka_unit_test_teardown(test_master_key_file_with_bad_content, remove_temp_files),
        cmocka_unit_test_teardown(test_load_file_then_environment, remove_temp_files),
        cmocka_unit_test_teardown(test_load_without_file, remove_temp_files),
        cmocka_unit_test_teardown(test_load_errors, remove_temp_files),
    };
    return cmocka_run_group_tests(tests, save_environment, restore_environment);
}
