/*
 * hv_api: Haravan's REST API over libcurl, paced by the shop's leaky
 * bucket. See api.h for the why; this file is the how:
 *
 *   hv_api_get: check arguments -> build URL and headers -> loop {
 *       wait for the bucket (pace) -> one attempt -> remember the level ->
 *       429 with retries left? wait Retry-After, again : stop }
 *   -> category and message from the last attempt -> parse the body.
 */
#define _POSIX_C_SOURCE 200809L
#include "haravan/api.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "core/clock.h"
#include "core/crypto.h"
#include "haravan/http.h"

#define MAX_PATH_LENGTH     2000
#define MAX_HEADER_VALUE    64
#define MAX_DETAIL_LENGTH   160 /* of Haravan's "errors" in a message */
#define MAX_PATH_IN_MESSAGE 120
#define CALL_LIMIT_HEADER   "X-Haravan-Api-Call-Limit:"
#define RETRY_AFTER_HEADER  "Retry-After:"

/* What one HTTP exchange brought back. */
typedef struct attempt {
    buffer body;
    size_t max_body;
    int too_large;
    int has_call_limit;
    int used;
    int size;
    int has_retry_after;
    double retry_after;
} attempt;

/* ---- clock ------------------------------------------------------------ */

static void sleep_seconds(double seconds)
{
    if (seconds <= 0)
        return;
    struct timespec remaining;
    remaining.tv_sec = (time_t)seconds;
    remaining.tv_nsec = (long)((seconds - (double)remaining.tv_sec) * 1e9);
    while (nanosleep(&remaining, &remaining) != 0 && errno == EINTR)
        continue;
}

/* ---- header values ---------------------------------------------------- */

static const char *skip_spaces(const char *text)
{
    while (*text == ' ' || *text == '\t')
        text++;
    return text;
}

/* Reads 1 to 9 digits at *cursor into *value, advancing the cursor. */
static int read_count(const char **cursor, int *value)
{
    size_t digits = strspn(*cursor, "0123456789");
    if (digits == 0 || digits > 9)
        return -1;
    *value = (int)strtol(*cursor, NULL, 10);
    *cursor += digits;
    return 0;
}

int hv_api_parse_call_limit(const char *value, int *used, int *size)
{
    if (value == NULL)
        return -1;
    const char *cursor = skip_spaces(value);
    int parsed_used = 0;
    int parsed_size = 0;
    if (read_count(&cursor, &parsed_used) != 0)
        return -1;
    cursor = skip_spaces(cursor);
    if (*cursor != '/')
        return -1;
    cursor = skip_spaces(cursor + 1);
    if (read_count(&cursor, &parsed_size) != 0 || parsed_size < 1)
        return -1;
    if (*skip_spaces(cursor) != '\0')
        return -1;
    *used = parsed_used;
    *size = parsed_size;
    return 0;
}

int hv_api_parse_retry_after(const char *value, double *seconds)
{
    if (value == NULL)
        return -1;
    const char *start = skip_spaces(value);
    size_t whole = strspn(start, "0123456789");
    size_t fraction = 0;
    if (start[whole] == '.')
        fraction = strspn(start + whole + 1, "0123456789");
    size_t length = whole + (start[whole] == '.' ? 1 + fraction : 0);
    /* Digits on at least one side of the point; at most a year of seconds. */
    if (whole + fraction == 0 || whole > 8 || *skip_spaces(start + length) != '\0')
        return -1;
    *seconds = strtod(start, NULL);
    return 0;
}

double hv_api_pace_delay(int used, int size, double elapsed, int headroom, double drain_per_second)
{
    if (size < 1 || drain_per_second <= 0)
        return 0;
    double threshold = (double)(size - headroom);
    if (threshold < 0)
        threshold = 0;
    double level = (double)used - (elapsed > 0 ? elapsed : 0) * drain_per_second;
    if (level <= threshold)
        return 0;
    return (level - threshold) / drain_per_second;
}

/* ---- curl callbacks --------------------------------------------------- */

static size_t on_body(char *data, size_t size, size_t count, void *context)
{
    attempt *current = context;
    size_t length = size * count;
    if (current->body.length + length > current->max_body) {
        current->too_large = 1;
        return 0; /* makes curl stop with CURLE_WRITE_ERROR */
    }
    return buffer_append(&current->body, data, length) == 0 ? length : 0;
}

/* The value of header line `line` when it is `name`, trimmed, in `out`. */
static int header_value(const char *line, size_t length, const char *name, char *out,
                        size_t out_size)
{
    size_t name_length = strlen(name);
    if (length < name_length || strncasecmp(line, name, name_length) != 0)
        return 0;
    const char *value = line + name_length;
    size_t value_length = length - name_length;
    while (value_length > 0 && (*value == ' ' || *value == '\t'))
        value++, value_length--;
    while (value_length > 0 && (value[value_length - 1] == '\r' ||
                                value[value_length - 1] == '\n' || value[value_length - 1] == ' '))
        value_length--;
    if (value_length >= out_size)
        return 0;
    memcpy(out, value, value_length);
    out[value_length] = '\0';
    return 1;
}

static size_t on_header(char *data, size_t size, size_t count, void *context)
{
    attempt *current = context;
    size_t length = size * count;
    char value[MAX_HEADER_VALUE];
    if (length >= 5 && strncmp(data, "HTTP/", 5) == 0) {
        /* A new response (after a 100 Continue): forget the last one's. */
        current->has_call_limit = 0;
        current->has_retry_after = 0;
    } else if (header_value(data, length, CALL_LIMIT_HEADER, value, sizeof value)) {
        current->has_call_limit =
            hv_api_parse_call_limit(value, &current->used, &current->size) == 0;
    } else if (header_value(data, length, RETRY_AFTER_HEADER, value, sizeof value)) {
        current->has_retry_after = hv_api_parse_retry_after(value, &current->retry_after) == 0;
    }
    return length;
}

/* ---- client ----------------------------------------------------------- */

int hv_api_global_init(void)
{
    return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : -1;
}

void hv_api_global_cleanup(void)
{
    curl_global_cleanup();
}

void hv_api_options_defaults(hv_api_options *options, const char *base_url)
{
    memset(options, 0, sizeof *options);
    options->base_url = base_url;
    options->connect_timeout_ms = HV_API_DEFAULT_CONNECT_TIMEOUT_MS;
    options->timeout_ms = HV_API_DEFAULT_TIMEOUT_MS;
    options->max_retries = HV_API_DEFAULT_MAX_RETRIES;
    options->max_retry_after_seconds = HV_API_DEFAULT_MAX_RETRY_AFTER;
    options->pace_headroom = HV_API_DEFAULT_PACE_HEADROOM;
    options->drain_per_second = HV_API_DEFAULT_DRAIN_PER_SECOND;
    options->max_body_bytes = HV_API_DEFAULT_MAX_BODY;
}

static int options_valid(const hv_api_options *options, char *error, size_t error_size)
{
    const char *url = options->base_url;
    if (url == NULL || (strncmp(url, "https://", 8) != 0 && strncmp(url, "http://", 7) != 0)) {
        snprintf(error, error_size, "the API base URL must start with https:// or http://");
        return -1;
    }
    if (options->connect_timeout_ms < 1 || options->timeout_ms < 1 || options->max_retries < 0 ||
        options->max_retry_after_seconds < 0 || options->pace_headroom < 0 ||
        options->drain_per_second <= 0 || options->max_body_bytes < 1) {
        snprintf(error, error_size, "API client options out of range");
        return -1;
    }
    return 0;
}

/* The options every call shares, set once so that the handle is reused. */
static CURLcode set_fixed_options(hv_api_client *client)
{
    CURL *curl = client->curl;
    CURLcode code =
        hv_http_set_common_options(curl, client->options.connect_timeout_ms,
                                   client->options.timeout_ms, client->ca_file, client->curl_error);
    if (code == CURLE_OK)
        code = curl_easy_setopt(curl, CURLOPT_ACCEPT_ENCODING, "");
    if (code == CURLE_OK)
        code = curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
    if (code == CURLE_OK)
        code = curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, on_header);
    return code;
}

/* Copies `text` (may be NULL) into *slot, without trailing '/'. */
static int copy_string(const char *text, char **slot)
{
    *slot = NULL;
    if (text == NULL)
        return 0;
    *slot = strdup(text);
    if (*slot == NULL)
        return -1;
    size_t length = strlen(*slot);
    while (length > 0 && (*slot)[length - 1] == '/')
        (*slot)[--length] = '\0';
    return 0;
}

int hv_api_client_init(hv_api_client *client, const hv_api_options *options, char *error,
                       size_t error_size)
{
    memset(client, 0, sizeof *client);
    if (options_valid(options, error, error_size) != 0)
        return -1;
    client->options = *options;
    client->curl = curl_easy_init();
    if (client->curl == NULL || copy_string(options->base_url, &client->base_url) != 0 ||
        copy_string(options->ca_file, &client->ca_file) != 0) {
        snprintf(error, error_size, "cannot create the API client: out of memory");
        hv_api_client_free(client);
        return -1;
    }
    client->options.base_url = client->base_url;
    client->options.ca_file = client->ca_file;
    CURLcode code = set_fixed_options(client);
    if (code != CURLE_OK) {
        snprintf(error, error_size, "libcurl refused a setting: %s", curl_easy_strerror(code));
        hv_api_client_free(client);
        return -1;
    }
    return 0;
}

void hv_api_client_free(hv_api_client *client)
{
    if (client->curl != NULL)
        curl_easy_cleanup(client->curl);
    free(client->base_url);
    free(client->ca_file);
    memset(client, 0, sizeof *client);
}

const char *hv_api_category_name(hv_api_category category)
{
    static const char *const names[] = {
        "ok",      "not_found", "unauthorized", "forbidden", "rate_limited", "server_error",
        "refused", "timeout",   "network",      "bad_json",  "internal",
    };
    if ((size_t)category >= sizeof names / sizeof names[0])
        return "unknown";
    return names[category];
}

/* ---- one call --------------------------------------------------------- */

/* FNV-1a: enough to tell that the token changed, useless to recover it. */
static unsigned long long token_print(const char *token)
{
    unsigned long long hash = 1469598103934665603ULL;
    for (const unsigned char *byte = (const unsigned char *)token; *byte != '\0'; byte++) {
        hash ^= *byte;
        hash *= 1099511628211ULL;
    }
    return hash;
}

/* Printable ASCII, no spaces: a Bearer token, or a path already encoded. */
static int is_visible_ascii(const char *text, size_t maximum)
{
    size_t length = strlen(text);
    if (length == 0 || length > maximum)
        return 0;
    for (size_t i = 0; i < length; i++)
        if (text[i] <= ' ' || text[i] > '~')
            return 0;
    return 1;
}

static void fail(hv_api_result *result, hv_api_category category, const char *path,
                 const char *what)
{
    result->category = category;
    snprintf(result->message, sizeof result->message, "%.*s: %.255s", MAX_PATH_IN_MESSAGE,
             path != NULL ? path : "(no path)", what);
}

static int arguments_valid(const hv_api_client *client, const char *token, const char *path,
                           hv_api_result *result)
{
    if (client == NULL || client->curl == NULL) {
        fail(result, HV_API_INTERNAL, path, "the API client is not initialised");
        return 0;
    }
    if (path == NULL || path[0] == '/' || !is_visible_ascii(path, MAX_PATH_LENGTH) ||
        strstr(path, "..") != NULL) {
        fail(result, HV_API_INTERNAL, path, "not a valid API path");
        return 0;
    }
    if (token == NULL || !is_visible_ascii(token, 4096)) {
        fail(result, HV_API_INTERNAL, path, "the access token is missing or malformed");
        return 0;
    }
    return 1;
}

/* Waits until the bucket, as last seen, has room below the headroom. */
static void pace(hv_api_client *client, hv_api_result *result)
{
    if (!client->bucket_known || client->options.shared_bucket)
        return;
    double elapsed = clock_monotonic_seconds() - client->bucket_seen_at;
    double delay =
        hv_api_pace_delay(client->bucket_used, client->bucket_size, elapsed,
                          client->options.pace_headroom, client->options.drain_per_second);
    sleep_seconds(delay);
    result->waited_seconds += delay;
}

static void remember_bucket(hv_api_client *client, const attempt *current, long status,
                            hv_api_result *result)
{
    if (current->has_call_limit) {
        client->bucket_known = 1;
        client->bucket_used = current->used;
        client->bucket_size = current->size;
        client->bucket_seen_at = clock_monotonic_seconds();
        result->call_limit_used = current->used;
        result->call_limit_size = current->size;
    } else if (status == 429 && client->bucket_known) {
        /* Full, whatever we thought. */
        client->bucket_used = client->bucket_size;
        client->bucket_seen_at = clock_monotonic_seconds();
    }
}

/* One HTTP exchange. Returns curl's code; *status is 0 without an answer. */
static CURLcode perform(hv_api_client *client, const char *url, struct curl_slist *headers,
                        attempt *current, long *status)
{
    CURL *curl = client->curl;
    *status = 0;
    client->curl_error[0] = '\0';
    CURLcode code = curl_easy_setopt(curl, CURLOPT_URL, url);
    if (code == CURLE_OK)
        code = curl_easy_setopt(curl, CURLOPT_HTTPGET, 1L);
    if (code == CURLE_OK)
        code = curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    if (code == CURLE_OK)
        code = curl_easy_setopt(curl, CURLOPT_WRITEDATA, current);
    if (code == CURLE_OK)
        code = curl_easy_setopt(curl, CURLOPT_HEADERDATA, current);
    if (code == CURLE_OK)
        code = curl_easy_perform(curl);
    if (code == CURLE_OK)
        code = curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, status);
    /* The list is freed after this call: the handle must not keep it.
     * Unsetting a pointer option cannot fail. */
    (void)curl_easy_setopt(curl, CURLOPT_HTTPHEADER, NULL);
    return code;
}

static void attempt_reset(attempt *current, size_t max_body)
{
    buffer_free(&current->body);
    memset(current, 0, sizeof *current);
    current->max_body = max_body;
}

/* ---- outcome ---------------------------------------------------------- */

static void fail_transport(hv_api_result *result, const hv_api_client *client, CURLcode code,
                           const attempt *current, const char *path)
{
    char what[256];
    if (code == CURLE_OPERATION_TIMEDOUT) {
        snprintf(what, sizeof what, "no answer from Haravan within %ld ms",
                 client->options.timeout_ms);
        fail(result, HV_API_TIMEOUT, path, what);
        return;
    }
    if (current->too_large) {
        snprintf(what, sizeof what, "Haravan's answer is larger than %zu bytes",
                 client->options.max_body_bytes);
    } else {
        snprintf(what, sizeof what, "cannot reach Haravan: %.200s",
                 client->curl_error[0] != '\0' ? client->curl_error : curl_easy_strerror(code));
    }
    fail(result, code == CURLE_OUT_OF_MEMORY ? HV_API_INTERNAL : HV_API_NETWORK, path, what);
}

static hv_api_category category_of(long status)
{
    if (status >= 200 && status < 300)
        return HV_API_OK;
    switch (status) {
    case 401:
        return HV_API_UNAUTHORIZED;
    case 403:
        return HV_API_FORBIDDEN;
    case 404:
        return HV_API_NOT_FOUND;
    case 429:
        return HV_API_RATE_LIMITED;
    default:
        return status >= 500 && status < 600 ? HV_API_SERVER_ERROR : HV_API_REFUSED;
    }
}

/* Haravan's {"errors": ...} as short text, unless it mentions the token. */
static void error_detail(const attempt *current, const char *token, char *out, size_t size)
{
    out[0] = '\0';
    cJSON *document = cJSON_ParseWithLength(buffer_text(&current->body), current->body.length);
    const cJSON *errors = cJSON_GetObjectItemCaseSensitive(document, "errors");
    char *printed = NULL;
    if (cJSON_IsString(errors))
        snprintf(out, size, "%s", errors->valuestring);
    else if (errors != NULL)
        printed = cJSON_PrintUnformatted(errors);
    if (printed != NULL)
        snprintf(out, size, "%s", printed);
    free(printed);
    cJSON_Delete(document);
    if (strstr(out, token) != NULL)
        out[0] = '\0';
}

static void fail_status(hv_api_result *result, const attempt *current, const char *token,
                        const char *path)
{
    char detail[MAX_DETAIL_LENGTH + 1];
    char what[256];
    error_detail(current, token, detail, sizeof detail);
    if (result->http_status == 429)
        snprintf(what, sizeof what, "HTTP 429 from Haravan, still rate limited after %d attempts",
                 result->attempts);
    else if (detail[0] != '\0')
        snprintf(what, sizeof what, "HTTP %ld from Haravan: %s", result->http_status, detail);
    else
        snprintf(what, sizeof what, "HTTP %ld from Haravan", result->http_status);
    fail(result, category_of(result->http_status), path, what);
}

static cJSON *parse_object(const attempt *current, const char *path, hv_api_result *result)
{
    cJSON *document = cJSON_ParseWithLength(buffer_text(&current->body), current->body.length);
    if (!cJSON_IsObject(document)) {
        cJSON_Delete(document);
        fail(result, HV_API_BAD_JSON, path, "Haravan's answer is not a JSON object");
        return NULL;
    }
    result->category = HV_API_OK;
    snprintf(result->message, sizeof result->message, "%.*s: HTTP %ld", MAX_PATH_IN_MESSAGE, path,
             result->http_status);
    return document;
}

/* ---- the call loop ---------------------------------------------------- */

/* How long to wait before retrying a 429, or -1 when no retry is left. */
static double retry_delay(const hv_api_client *client, const attempt *current,
                          const hv_api_result *result)
{
    if (client->options.shared_bucket || result->attempts > client->options.max_retries)
        return -1;
    double delay = current->has_retry_after ? current->retry_after : HV_API_FALLBACK_RETRY_AFTER;
    if (delay > client->options.max_retry_after_seconds)
        delay = client->options.max_retry_after_seconds;
    return delay;
}

/* Attempts until an answer that is not a retryable 429. Returns curl's
 * code of the last attempt, whose answer is left in `current`. */
static CURLcode exchange(hv_api_client *client, const char *url, struct curl_slist *headers,
                         attempt *current, hv_api_result *result)
{
    for (;;) {
        pace(client, result);
        attempt_reset(current, client->options.max_body_bytes);
        CURLcode code = perform(client, url, headers, current, &result->http_status);
        result->attempts++;
        remember_bucket(client, current, result->http_status, result);
        result->retry_after =
            result->http_status == 429 && current->has_retry_after ? current->retry_after : -1;
        if (code != CURLE_OK || result->http_status != 429)
            return code;
        double delay = retry_delay(client, current, result);
        if (delay < 0)
            return code;
        sleep_seconds(delay);
        result->waited_seconds += delay;
    }
}

static void wipe_headers(struct curl_slist *headers)
{
    for (struct curl_slist *node = headers; node != NULL; node = node->next)
        crypto_wipe(node->data, strlen(node->data));
    curl_slist_free_all(headers);
}

/* The request's headers; the Authorization line is wiped by the caller. */
static struct curl_slist *request_headers(const char *token)
{
    buffer authorization = BUFFER_INIT;
    if (buffer_printf(&authorization, "Authorization: Bearer %s", token) != 0)
        return NULL;
    struct curl_slist *headers = curl_slist_append(NULL, authorization.data);
    crypto_wipe(authorization.data, authorization.length);
    buffer_free(&authorization);
    struct curl_slist *more =
        headers != NULL ? curl_slist_append(headers, "Accept: application/json") : NULL;
    if (more == NULL) {
        wipe_headers(headers);
        return NULL;
    }
    return more;
}

static void result_begin(hv_api_result *result)
{
    memset(result, 0, sizeof *result);
    result->call_limit_used = -1;
    result->call_limit_size = -1;
    result->retry_after = -1;
}

static void forget_bucket_if_new_token(hv_api_client *client, const char *token)
{
    unsigned long long print = token_print(token);
    if (print != client->token_print)
        client->bucket_known = 0;
    client->token_print = print;
}

cJSON *hv_api_get(hv_api_client *client, const char *token, const char *path, hv_api_result *result)
{
    result_begin(result);
    if (!arguments_valid(client, token, path, result))
        return NULL;
    forget_bucket_if_new_token(client, token);
    buffer url = BUFFER_INIT;
    struct curl_slist *headers = request_headers(token);
    if (headers == NULL || buffer_printf(&url, "%s/com/%s", client->base_url, path) != 0) {
        wipe_headers(headers);
        buffer_free(&url);
        fail(result, HV_API_INTERNAL, path, "out of memory");
        return NULL;
    }
    attempt current;
    memset(&current, 0, sizeof current);
    CURLcode code = exchange(client, url.data, headers, &current, result);
    wipe_headers(headers);
    buffer_free(&url);
    cJSON *document = NULL;
    if (code != CURLE_OK)
        fail_transport(result, client, code, &current, path);
    else if (category_of(result->http_status) != HV_API_OK)
        fail_status(result, &current, token, path);
    else
        document = parse_object(&current, path, result);
    buffer_free(&current.body);
    return document;
}

/* ---- staff ------------------------------------------------------------ */

int hv_api_staff_email(hv_api_client *client, const char *token, long long user_id, buffer *email,
                       hv_api_result *result)
{
    char path[64];
    snprintf(path, sizeof path, "users/%lld.json", user_id);
    if (user_id < 1) {
        result_begin(result);
        fail(result, HV_API_INTERNAL, path, "a staff user id must be positive");
        return -1;
    }
    cJSON *document = hv_api_get(client, token, path, result);
    if (document == NULL)
        return -1;
    const cJSON *user = cJSON_GetObjectItemCaseSensitive(document, "user");
    const cJSON *address = cJSON_GetObjectItemCaseSensitive(user, "email");
    int outcome = 1;
    if (!cJSON_IsObject(user)) {
        fail(result, HV_API_BAD_JSON, path, "Haravan's answer has no \"user\" object");
        outcome = -1;
    } else if (cJSON_IsString(address) && address->valuestring[0] != '\0') {
        outcome = buffer_append_string(email, address->valuestring) == 0 ? 0 : -1;
        if (outcome != 0)
            fail(result, HV_API_INTERNAL, path, "out of memory");
    }
    cJSON_Delete(document);
    return outcome;
}
