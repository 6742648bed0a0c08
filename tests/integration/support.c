/*
 * support: HTTP, SQL and command helpers for the integration tests.
 * See support.h.
 */
#define _POSIX_C_SOURCE 200809L
#include "support.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <dirent.h>
#include <sys/wait.h>
#include <time.h>

#include <cmocka.h>
#include <curl/curl.h>

#include "core/base64.h"
#include "core/crypto.h"

static PGconn *connection;

const char *it_env(const char *name)
{
    const char *value = getenv(name);
    if (value == NULL || value[0] == '\0')
        fail_msg("environment variable %s is not set: run through tests/run-tests.sh", name);
    return value;
}

static size_t collect_body(char *data, size_t size, size_t count, void *context)
{
    buffer *body = context;
    return buffer_append(body, data, size * count) == 0 ? size * count : 0;
}

static void copy_header_value(const char *line, size_t length, const char *name, char *out,
                              size_t size)
{
    size_t name_length = strlen(name);
    if (length <= name_length || strncasecmp(line, name, name_length) != 0)
        return;
    const char *value = line + name_length;
    size_t value_length = length - name_length;
    while (value_length > 0 && (*value == ' '))
        value++, value_length--;
    while (value_length > 0 && (value[value_length - 1] == '\n' || value[value_length - 1] == '\r'))
        value_length--;
    snprintf(out, size, "%.*s", (int)value_length, value);
}

static size_t collect_header(char *data, size_t size, size_t count, void *context)
{
    it_response *response = context;
    if (buffer_append(&response->headers, data, size * count) != 0)
        return 0;
    copy_header_value(data, size * count, "Content-Type:", response->content_type,
                      sizeof response->content_type);
    copy_header_value(data, size * count, "Allow:", response->allow, sizeof response->allow);
    copy_header_value(data, size * count, "Location:", response->location,
                      sizeof response->location);
    return size * count;
}

it_response it_request(const char *method, const char *path, const char *const *headers,
                       const void *body, size_t length)
{
    it_response response;
    memset(&response, 0, sizeof response);
    /* Sized to the path: the hostile tests send paths of kilobytes. */
    size_t url_size = strlen(it_env("HARAVAN_BASE_URL")) + strlen(path) + 1;
    char *url = malloc(url_size);
    assert_non_null(url);
    snprintf(url, url_size, "%s%s", it_env("HARAVAN_BASE_URL"), path);

    CURL *curl = curl_easy_init();
    assert_non_null(curl);
    struct curl_slist *list = curl_slist_append(NULL, "Expect:");
    for (size_t i = 0; headers != NULL && headers[i] != NULL; i++)
        list = curl_slist_append(list, headers[i]);
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, list);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, collect_body);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &response.body);
    curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, collect_header);
    curl_easy_setopt(curl, CURLOPT_HEADERDATA, &response);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT, (long)(30 * it_time_scale()));
    if (body != NULL) {
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)length);
    }
    if (curl_easy_perform(curl) == CURLE_OK)
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &response.status);
    curl_slist_free_all(list);
    curl_easy_cleanup(curl);
    free(url);
    assert_int_equal(buffer_append(&response.body, "", 0), 0);
    assert_int_equal(buffer_append(&response.headers, "", 0), 0);
    it_save_response(method, path, response.status, response.headers.data, response.body.data,
                     response.body.length);
    return response;
}

/* Appends one line to the file named by environment variable `name`, when
 * it is set (tests/run-tests.sh sets both). */
static void append_to(const char *name, const char *format, ...)
{
    const char *path = getenv(name);
    if (path == NULL || path[0] == '\0')
        return;
    FILE *file = fopen(path, "a");
    if (file == NULL)
        fail_msg("cannot append to %s (%s)", path, name);
    va_list arguments;
    va_start(arguments, format);
    vfprintf(file, format, arguments);
    va_end(arguments);
    fclose(file);
}

void it_save_response(const char *method, const char *path, long status, const char *headers,
                      const char *body, size_t length)
{
    append_to("HARAVAN_TEST_RESPONSES", "== %s %s -> %ld\n%s%.*s\n", method, path, status,
              headers != NULL ? headers : "", (int)(length > 65536 ? 65536 : length),
              body != NULL ? body : "");
}

void it_secret_used(const char *secret)
{
    append_to("HARAVAN_TEST_SECRETS", "%s\n", secret);
}

void it_response_free(it_response *response)
{
    buffer_free(&response->body);
    buffer_free(&response->headers);
}

void it_sign(const char *secret, const void *body, size_t length, char *out)
{
    unsigned char digest[CRYPTO_SHA256_SIZE];
    assert_int_equal(crypto_hmac_sha256(secret, strlen(secret), body, length, digest), 0);
    base64_encode(digest, sizeof digest, out);
}

it_response it_deliver(const char *secret, const char *spelling, const char *topic, const char *org,
                       const void *body, size_t length)
{
    char signature[64];
    char lines[3][200];
    const char *headers[5] = {"Content-Type: application/json; charset=utf-8"};
    size_t count = 1;
    it_sign(secret, body, length, signature);
    snprintf(lines[0], sizeof lines[0], "%s: %s", spelling, signature);
    headers[count++] = lines[0];
    if (topic != NULL) {
        snprintf(lines[1], sizeof lines[1], "X-Haravan-Topic: %s", topic);
        headers[count++] = lines[1];
    }
    if (org != NULL) {
        snprintf(lines[2], sizeof lines[2], "X-Haravan-Org-Id: %s", org);
        headers[count++] = lines[2];
    }
    headers[count] = NULL;
    return it_request("POST", "/api/haravan/webhook", headers, body, length);
}

PGconn *it_db(void)
{
    if (connection != NULL && PQstatus(connection) == CONNECTION_OK)
        return connection;
    if (connection != NULL)
        PQfinish(connection);
    connection = PQconnectdb(it_env("HARAVAN_DB"));
    if (PQstatus(connection) != CONNECTION_OK)
        fail_msg("cannot connect to the test database: %s", PQerrorMessage(connection));
    return connection;
}

long long it_scalar(const char *sql, const char *parameter)
{
    const char *values[] = {parameter};
    PGresult *result = PQexecParams(it_db(), sql, parameter != NULL ? 1 : 0, NULL,
                                    parameter != NULL ? values : NULL, NULL, NULL, 0);
    if (PQresultStatus(result) != PGRES_TUPLES_OK || PQntuples(result) < 1) {
        char message[512];
        snprintf(message, sizeof message, "%s: %s", sql, PQresultErrorMessage(result));
        PQclear(result);
        fail_msg("%s", message);
    }
    long long value = strtoll(PQgetvalue(result, 0, 0), NULL, 10);
    PQclear(result);
    return value;
}

void it_exec(const char *sql)
{
    PGresult *result = PQexec(it_db(), sql);
    ExecStatusType status = PQresultStatus(result);
    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
        char message[512];
        snprintf(message, sizeof message, "%s: %s", sql, PQresultErrorMessage(result));
        PQclear(result);
        fail_msg("%s", message);
    }
    PQclear(result);
}

static int run_shell(const char *command)
{
    int status = system(command);
    if (status == -1 || !WIFEXITED(status))
        return -1;
    return WEXITSTATUS(status);
}

int it_ctl(const char *arguments)
{
    char command[2048];
    snprintf(command, sizeof command, "'%s' %s", it_env("HARAVAN_CTL"), arguments);
    return run_shell(command);
}

int it_stack(const char *verb)
{
    char command[2048];
    snprintf(command, sizeof command, "'%s' %s '%s'", it_env("HARAVAN_STACK_SCRIPT"), verb,
             it_env("HARAVAN_VAR"));
    return run_shell(command);
}

void it_read_file(const char *path, buffer *out)
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

double it_time_scale(void)
{
    const char *text = getenv("HARAVAN_TEST_TIME_SCALE");
    double scale = text != NULL ? strtod(text, NULL) : 1.0;
    return scale >= 1.0 && scale <= 100.0 ? scale : 1.0;
}

double it_now_ms(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)now.tv_sec * 1e3 + (double)now.tv_nsec / 1e6;
}

long long it_deliver_event(const char *secret, const char *topic, const char *org, const char *body)
{
    it_response response =
        it_deliver(secret, "X-Haravan-Hmacsha256", topic, org, body, strlen(body));
    if (response.status != 200 || strstr(response.body.data, "\"stored\"") == NULL)
        fail_msg("%s: expected 200 stored, got %ld %s", topic, response.status, response.body.data);
    const char *id = strstr(response.body.data, "\"event_id\":");
    long long event_id = id != NULL ? strtoll(id + strlen("\"event_id\":"), NULL, 10) : 0;
    it_response_free(&response);
    assert_true(event_id > 0);
    return event_id;
}

const char *it_wait_processed(long long id)
{
    static char status[32];
    char text[32];
    snprintf(text, sizeof text, "%lld", id);
    double deadline = it_now_ms() + 15000 * it_time_scale();
    while (it_now_ms() < deadline) {
        const char *value =
            it_text("SELECT status FROM hv_events WHERE id = $1::bigint", text, NULL);
        if (value != NULL && strcmp(value, "pending") != 0) {
            snprintf(status, sizeof status, "%s", value);
            return status;
        }
        struct timespec pause = {0, 20 * 1000 * 1000};
        nanosleep(&pause, NULL);
    }
    fail_msg("event %lld still pending after %.0f s", id, 15 * it_time_scale());
    return NULL;
}

const char *it_text(const char *sql, const char *first, const char *second)
{
    static char value[4096];
    const char *values[] = {first, second};
    int count = second != NULL ? 2 : first != NULL ? 1 : 0;
    PGresult *result = PQexecParams(it_db(), sql, count, NULL, values, NULL, NULL, 0);
    if (PQresultStatus(result) != PGRES_TUPLES_OK) {
        char message[512];
        snprintf(message, sizeof message, "%s: %s", sql, PQresultErrorMessage(result));
        PQclear(result);
        fail_msg("%s", message);
    }
    const char *found = NULL;
    if (PQntuples(result) > 0 && !PQgetisnull(result, 0, 0)) {
        snprintf(value, sizeof value, "%s", PQgetvalue(result, 0, 0));
        found = value;
    }
    PQclear(result);
    return found;
}

/* ---- the Haravan simulator ------------------------------------------- */

static size_t collect_sim_header(char *data, size_t size, size_t count, void *context)
{
    it_sim_response *response = context;
    copy_header_value(data, size * count, "X-Haravan-Api-Call-Limit:", response->call_limit,
                      sizeof response->call_limit);
    copy_header_value(data, size * count, "Retry-After:", response->retry_after,
                      sizeof response->retry_after);
    return size * count;
}

static struct curl_slist *sim_headers(const char *token, const char *json)
{
    struct curl_slist *list = curl_slist_append(NULL, "Expect:");
    char line[1024];
    if (token != NULL) {
        snprintf(line, sizeof line, "Authorization: Bearer %s", token);
        list = curl_slist_append(list, line);
    }
    if (json != NULL)
        list = curl_slist_append(list, "Content-Type: application/json");
    assert_non_null(list);
    return list;
}

it_sim_response it_sim_request(const char *method, const char *path, const char *token,
                               const char *json)
{
    it_sim_response response;
    memset(&response, 0, sizeof response);
    char url[1024];
    snprintf(url, sizeof url, "%s%s", it_env("HARAVAN_SIM_URL"), path);
    CURL *curl = curl_easy_init();
    assert_non_null(curl);
    struct curl_slist *list = sim_headers(token, json);
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, list);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, collect_body);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &response.body);
    curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, collect_sim_header);
    curl_easy_setopt(curl, CURLOPT_HEADERDATA, &response);
    /* the simulator may be stalling on purpose */
    curl_easy_setopt(curl, CURLOPT_TIMEOUT, (long)(150 * it_time_scale()));
    if (json != NULL) {
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, json);
        curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(json));
    }
    if (curl_easy_perform(curl) == CURLE_OK)
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &response.status);
    curl_slist_free_all(list);
    curl_easy_cleanup(curl);
    if (response.body.data == NULL)
        assert_int_equal(buffer_append(&response.body, "", 0), 0);
    return response;
}

void it_sim_response_free(it_sim_response *response)
{
    buffer_free(&response->body);
}

void it_sim_admin(const char *path, const char *json)
{
    it_sim_response response = it_sim_request("POST", path, NULL, json);
    if (response.status < 200 || response.status > 299) {
        char message[512];
        snprintf(message, sizeof message, "POST %s: HTTP %ld %s", path, response.status,
                 response.body.data);
        it_sim_response_free(&response);
        fail_msg("%s", message);
    }
    it_sim_response_free(&response);
}

const char *it_header_value(const char *headers, const char *name)
{
    static char value[1024];
    size_t length = strlen(name);
    for (const char *line = headers; line != NULL && *line != '\0';) {
        const char *end = strstr(line, "\r\n");
        size_t line_length = end != NULL ? (size_t)(end - line) : strlen(line);
        if (line_length > length && strncasecmp(line, name, length) == 0 && line[length] == ':') {
            const char *start = line + length + 1;
            while (*start == ' ')
                start++;
            snprintf(value, sizeof value, "%.*s", (int)(line_length - (size_t)(start - line)),
                     start);
            return value;
        }
        line = end != NULL ? end + 2 : NULL;
    }
    return NULL;
}

pid_t it_pid_in(const char *relative)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", it_env("HARAVAN_VAR"), relative);
    FILE *file = fopen(path, "r");
    if (file == NULL)
        return 0;
    long pid = 0;
    if (fscanf(file, "%ld", &pid) != 1)
        pid = 0;
    fclose(file);
    return (pid_t)pid;
}

int it_children_of(pid_t master, const char *name, pid_t *out, int capacity)
{
    DIR *proc = opendir("/proc");
    assert_non_null(proc);
    int count = 0;
    for (struct dirent *entry = readdir(proc); entry != NULL && count < capacity;
         entry = readdir(proc)) {
        char path[300];
        snprintf(path, sizeof path, "/proc/%s/stat", entry->d_name);
        FILE *file = fopen(path, "r");
        if (file == NULL)
            continue;
        long pid = 0, parent = 0;
        char comm[64] = "", state = 0;
        /* pid (comm) state ppid: our processes' names have no ')' */
        if (fscanf(file, "%ld (%63[^)]) %c %ld", &pid, comm, &state, &parent) == 4 &&
            parent == master && state != 'Z' && (name == NULL || strcmp(comm, name) == 0))
            out[count++] = (pid_t)pid;
        fclose(file);
    }
    closedir(proc);
    return count;
}
