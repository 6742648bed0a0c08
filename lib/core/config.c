/*
 * config: defaults, then a NAME=value file, then the environment.
 * See config.h for why the file uses the environment's names.
 */
#define _POSIX_C_SOURCE 200809L
#include "core/config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fcntl.h>

#include "core/buffer.h"

#define MAX_WORKERS    256
#define MAX_PROCESSORS 256

static int replace(char **slot, const char *value)
{
    char *copy = strdup(value);
    if (copy == NULL)
        return -1;
    free(*slot);
    *slot = copy;
    return 0;
}

void config_defaults(config *c)
{
    memset(c, 0, sizeof *c);
    c->socket_mode = 0660;
    c->processors = -1; /* 0 is a choice (intake only); -1 is "not set" */
    c->reconcile_seconds = 300;
    /* Allocation failures here leave NULLs that config_load reports. */
    (void)replace(&c->accounts_url, "https://accounts.haravan.com");
    (void)replace(&c->api_url, "https://apis.haravan.com");
    (void)replace(&c->webhook_url, "https://webhook.haravan.com");
    (void)replace(&c->socket_path, "/run/haravan-crm/fcgi.sock");
}

static int read_file(const char *path, buffer *out)
{
    FILE *file = fopen(path, "r");
    if (file == NULL)
        return -1;
    char chunk[4096];
    int result = 0;
    for (;;) {
        size_t got = fread(chunk, 1, sizeof chunk, file);
        if (got == 0)
            break;
        if (buffer_append(out, chunk, got) != 0) {
            result = -1;
            break;
        }
    }
    if (ferror(file))
        result = -1;
    fclose(file);
    return result;
}

/* The key opens every sealed secret: a file that anyone but its owner
 * can read (or write: a key swapped under us seals new secrets with the
 * attacker's key) is refused, as ssh refuses a private key. fstat on the
 * descriptor we read from, so the mode checked is the file's we read. */
static int open_key_file(const char *path, char *error, size_t error_size)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(error, error_size, "HARAVAN_MASTER_KEY_FILE: cannot read %s: %s", path,
                 strerror(errno));
        return -1;
    }
    struct stat status;
    if (fstat(fd, &status) != 0) {
        snprintf(error, error_size, "HARAVAN_MASTER_KEY_FILE: cannot read %s: %s", path,
                 strerror(errno));
        close(fd);
        return -1;
    }
    if ((status.st_mode & 077) != 0) {
        snprintf(error, error_size,
                 "HARAVAN_MASTER_KEY_FILE: %s is mode %04o; group and others must have no"
                 " access to the master key (chmod 600 %s)",
                 path, (unsigned)(status.st_mode & 07777), path);
        close(fd);
        return -1;
    }
    return fd;
}

static int read_key_file(int fd, buffer *out)
{
    char chunk[256];
    for (;;) {
        ssize_t got = read(fd, chunk, sizeof chunk);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0)
            return -1;
        if (got == 0)
            return 0;
        if (out->length + (size_t)got > 4096 || buffer_append(out, chunk, (size_t)got) != 0)
            return -1; /* a key is 64 digits; a large file is not a key */
    }
}

static int set_master_key_file(config *c, const char *path, char *error, size_t error_size)
{
    int fd = open_key_file(path, error, error_size);
    if (fd < 0)
        return -1;
    buffer text = BUFFER_INIT;
    int result = read_key_file(fd, &text);
    close(fd);
    if (result == 0)
        result = crypto_parse_key(buffer_text(&text), c->master_key);
    crypto_wipe(text.data, text.length);
    buffer_free(&text);
    if (result != 0) {
        snprintf(error, error_size, "HARAVAN_MASTER_KEY_FILE: %s must hold 64 hex digits", path);
        return -1;
    }
    c->has_master_key = 1;
    return 0;
}

static int parse_int(const char *value, int base, long minimum, long maximum, long *out)
{
    char *end = NULL;
    errno = 0;
    long number = strtol(value, &end, base);
    if (errno != 0 || end == value || *end != '\0' || number < minimum || number > maximum)
        return -1;
    *out = number;
    return 0;
}

/* http(s):// and a host: "https://$DOMAIN" with DOMAIN unset must fail. */
static int is_url(const char *value)
{
    const char *host = NULL;
    if (strncmp(value, "http://", 7) == 0)
        host = value + 7;
    else if (strncmp(value, "https://", 8) == 0)
        host = value + 8;
    return host != NULL && host[0] != '\0' && host[0] != '/';
}

/* URLs are stored without a trailing slash so that paths join cleanly. */
static int set_url(char **slot, const char *name, const char *value, char *error, size_t error_size)
{
    if (!is_url(value)) {
        snprintf(error, error_size, "%s must be an http:// or https:// URL with a host", name);
        return -1;
    }
    if (replace(slot, value) != 0) {
        snprintf(error, error_size, "%s: out of memory", name);
        return -1;
    }
    size_t length = strlen(*slot);
    while (length > 0 && (*slot)[length - 1] == '/')
        (*slot)[--length] = '\0';
    return 0;
}

/* password (the default) or crm (docs: README "Admin sign-in"). */
static int set_admin_auth(config *c, const char *name, const char *value, char *error,
                          size_t error_size)
{
    if (strcmp(value, "password") == 0 || strcmp(value, "crm") == 0) {
        c->admin_crm = strcmp(value, "crm") == 0;
        return 0;
    }
    snprintf(error, error_size, "%s must be password or crm", name);
    return -1;
}

/* ours (the default: migrate creates the CRM tables) or own (the CRM has
 * them; migrate checks them): lib/core/migrate.h. */
static int set_crm_schema(config *c, const char *name, const char *value, char *error,
                          size_t error_size)
{
    if (strcmp(value, "ours") == 0 || strcmp(value, "own") == 0) {
        c->crm_own = strcmp(value, "own") == 0;
        return 0;
    }
    snprintf(error, error_size, "%s must be ours or own", name);
    return -1;
}

static int set_string(char **slot, const char *name, const char *value, char *error,
                      size_t error_size)
{
    if (value[0] == '\0') {
        snprintf(error, error_size, "%s must not be empty", name);
        return -1;
    }
    if (replace(slot, value) != 0) {
        snprintf(error, error_size, "%s: out of memory", name);
        return -1;
    }
    return 0;
}

int config_set(config *c, const char *name, const char *value, char *error, size_t error_size)
{
    long number = 0;
    if (strcmp(name, "HARAVAN_DB") == 0)
        return set_string(&c->database, name, value, error, error_size);
    if (strcmp(name, "HARAVAN_PUBLIC_URL") == 0)
        return set_url(&c->public_url, name, value, error, error_size);
    if (strcmp(name, "HARAVAN_ACCOUNTS_URL") == 0)
        return set_url(&c->accounts_url, name, value, error, error_size);
    if (strcmp(name, "HARAVAN_API_URL") == 0)
        return set_url(&c->api_url, name, value, error, error_size);
    if (strcmp(name, "HARAVAN_WEBHOOK_URL") == 0)
        return set_url(&c->webhook_url, name, value, error, error_size);
    if (strcmp(name, "HARAVAN_ADMIN_AUTH") == 0)
        return set_admin_auth(c, name, value, error, error_size);
    if (strcmp(name, "HARAVAN_CRM_SCHEMA") == 0)
        return set_crm_schema(c, name, value, error, error_size);
    if (strcmp(name, "HARAVAN_ADMIN_HEADER") == 0) {
        /* Named so that a deployment still setting it stops loudly rather
         * than silently losing (or keeping) a header anyone could send. */
        snprintf(error, error_size,
                 "HARAVAN_ADMIN_HEADER is no longer read: a request header can be sent by"
                 " anyone; set HARAVAN_ADMIN_AUTH=crm and wire the CRM's sign-in check"
                 " (README, Admin sign-in)");
        return -1;
    }
    if (strcmp(name, "HARAVAN_SOCKET") == 0)
        return set_string(&c->socket_path, name, value, error, error_size);
    if (strcmp(name, "HARAVAN_SOCKET_GROUP") == 0)
        return set_string(&c->socket_group, name, value, error, error_size);
    if (strcmp(name, "HARAVAN_SOCKET_MODE") == 0) {
        if (parse_int(value, 8, 0, 0777, &number) != 0) {
            snprintf(error, error_size, "HARAVAN_SOCKET_MODE must be octal, e.g. 0660");
            return -1;
        }
        /* Whoever can connect speaks FastCGI to the workers and sets every
         * parameter, the CRM's admin identity included: only nginx may. */
        if ((number & 07) != 0) {
            snprintf(error, error_size,
                     "HARAVAN_SOCKET_MODE %04lo lets every local user connect; give nginx's group"
                     " access instead (0660 with HARAVAN_SOCKET_GROUP)",
                     number);
            return -1;
        }
        c->socket_mode = (unsigned)number;
        return 0;
    }
    if (strcmp(name, "HARAVAN_WORKERS") == 0) {
        if (parse_int(value, 10, 1, MAX_WORKERS, &number) != 0) {
            snprintf(error, error_size, "HARAVAN_WORKERS must be a number from 1 to %d",
                     MAX_WORKERS);
            return -1;
        }
        c->workers = (int)number;
        return 0;
    }
    if (strcmp(name, "HARAVAN_PROCESSORS") == 0) {
        /* 0 is allowed: a host that only takes deliveries, while other
         * hosts on the same database process them. */
        if (parse_int(value, 10, 0, MAX_PROCESSORS, &number) != 0) {
            snprintf(error, error_size, "HARAVAN_PROCESSORS must be a number from 0 to %d",
                     MAX_PROCESSORS);
            return -1;
        }
        c->processors = (int)number;
        return 0;
    }
    if (strcmp(name, "HARAVAN_RECONCILE_SECONDS") == 0) {
        /* How often each shop's listings are compared with the inbox
         * (haravan/catchup.h); a day at most, so it never stops. */
        if (parse_int(value, 10, 1, 86400, &number) != 0) {
            snprintf(error, error_size,
                     "HARAVAN_RECONCILE_SECONDS must be a number from 1 to 86400");
            return -1;
        }
        c->reconcile_seconds = (int)number;
        return 0;
    }
    if (strcmp(name, "HARAVAN_MASTER_KEY") == 0) {
        if (crypto_parse_key(value, c->master_key) != 0) {
            snprintf(error, error_size, "HARAVAN_MASTER_KEY must be 64 hex digits (32 bytes)");
            return -1;
        }
        c->has_master_key = 1;
        return 0;
    }
    if (strcmp(name, "HARAVAN_MASTER_KEY_FILE") == 0)
        return set_master_key_file(c, value, error, error_size);
    if (strcmp(name, "HARAVAN_CONFIG") == 0)
        return 0; /* names the file itself */
    snprintf(error, error_size, "unknown setting %s", name);
    return -1;
}

/* Names a file may set that are not ours (a stack.env also carries the
 * test stack's own variables); only HARAVAN_ names are checked. */
static int is_ours(const char *name)
{
    return strncmp(name, "HARAVAN_", 8) == 0;
}

static int known_elsewhere(const char *name)
{
    /* Written to var/stack.env for tools, tests and people, not read by us. */
    static const char *const names[] = {"HARAVAN_BASE_URL",
                                        "HARAVAN_VAR",
                                        "HARAVAN_SIM_URL",
                                        "HARAVAN_SIM_TOKEN",
                                        "HARAVAN_SIM_CLIENT_ID",
                                        "HARAVAN_SIM_CLIENT_SECRET",
                                        NULL};
    for (size_t i = 0; names[i] != NULL; i++)
        if (strcmp(name, names[i]) == 0)
            return 1;
    return 0;
}

static char *unquote(char *value)
{
    size_t length = strlen(value);
    if (length >= 2 && (value[0] == '"' || value[0] == '\'') && value[length - 1] == value[0]) {
        value[length - 1] = '\0';
        return value + 1;
    }
    return value;
}

static char *trim(char *text)
{
    while (*text == ' ' || *text == '\t')
        text++;
    size_t length = strlen(text);
    while (length > 0 &&
           (text[length - 1] == ' ' || text[length - 1] == '\t' || text[length - 1] == '\r'))
        text[--length] = '\0';
    return text;
}

static int apply_line(config *c, char *line, char *error, size_t error_size)
{
    line = trim(line);
    if (line[0] == '\0' || line[0] == '#')
        return 0;
    if (strncmp(line, "export ", 7) == 0)
        line = trim(line + 7);
    char *equals = strchr(line, '=');
    if (equals == NULL) {
        snprintf(error, error_size, "expected NAME=value");
        return -1;
    }
    *equals = '\0';
    char *name = trim(line);
    char *value = unquote(trim(equals + 1));
    if (!is_ours(name) || known_elsewhere(name))
        return 0;
    return config_set(c, name, value, error, error_size);
}

int config_apply_text(config *c, const char *text, char *error, size_t error_size)
{
    char *copy = strdup(text);
    if (copy == NULL) {
        snprintf(error, error_size, "out of memory");
        return -1;
    }
    int line_number = 0;
    int result = 0;
    char *cursor = copy;
    while (cursor != NULL && result == 0) {
        char *next = strchr(cursor, '\n');
        if (next != NULL)
            *next++ = '\0';
        line_number++;
        char message[256];
        if (apply_line(c, cursor, message, sizeof message) != 0) {
            snprintf(error, error_size, "line %d: %s", line_number, message);
            result = -1;
        }
        cursor = next;
    }
    free(copy);
    return result;
}

static const char *const environment_names[] = {
    "HARAVAN_DB",
    "HARAVAN_PUBLIC_URL",
    "HARAVAN_ACCOUNTS_URL",
    "HARAVAN_API_URL",
    "HARAVAN_WEBHOOK_URL",
    "HARAVAN_SOCKET",
    "HARAVAN_SOCKET_GROUP",
    "HARAVAN_SOCKET_MODE",
    "HARAVAN_WORKERS",
    "HARAVAN_PROCESSORS",
    "HARAVAN_MASTER_KEY",
    "HARAVAN_MASTER_KEY_FILE",
    "HARAVAN_ADMIN_AUTH",
    "HARAVAN_ADMIN_HEADER",
    "HARAVAN_CRM_SCHEMA",
    "HARAVAN_RECONCILE_SECONDS",
    NULL,
};

static int apply_environment(config *c, char *error, size_t error_size)
{
    for (size_t i = 0; environment_names[i] != NULL; i++) {
        const char *value = getenv(environment_names[i]);
        if (value != NULL && value[0] != '\0' &&
            config_set(c, environment_names[i], value, error, error_size) != 0)
            return -1;
    }
    return 0;
}

static int apply_file(config *c, const char *path, char *error, size_t error_size)
{
    buffer text = BUFFER_INIT;
    if (read_file(path, &text) != 0) {
        snprintf(error, error_size, "cannot read %s: %s", path, strerror(errno));
        buffer_free(&text);
        return -1;
    }
    char message[256];
    int result = config_apply_text(c, buffer_text(&text), message, sizeof message);
    if (result != 0)
        snprintf(error, error_size, "%s: %s", path, message);
    buffer_free(&text);
    return result;
}

int config_load(config *c, const char *path, char *error, size_t error_size)
{
    config_defaults(c);
    if (c->accounts_url == NULL || c->api_url == NULL || c->webhook_url == NULL ||
        c->socket_path == NULL) {
        snprintf(error, error_size, "out of memory");
        return -1;
    }
    if (path == NULL)
        path = getenv("HARAVAN_CONFIG");
    if (path != NULL && path[0] != '\0' && apply_file(c, path, error, error_size) != 0)
        return -1;
    if (apply_environment(c, error, error_size) != 0)
        return -1;
    if (c->database == NULL && replace(&c->database, "") != 0) {
        snprintf(error, error_size, "out of memory");
        return -1;
    }
    if (c->workers == 0) {
        long cores = sysconf(_SC_NPROCESSORS_ONLN);
        c->workers = cores > 0 ? (int)(cores * 2 > MAX_WORKERS ? MAX_WORKERS : cores * 2) : 2;
    }
    if (c->processors < 0) {
        long cores = sysconf(_SC_NPROCESSORS_ONLN);
        c->processors = cores > 0 ? (int)(cores > MAX_PROCESSORS ? MAX_PROCESSORS : cores) : 1;
    }
    return 0;
}

void config_free(config *c)
{
    free(c->database);
    free(c->public_url);
    free(c->accounts_url);
    free(c->api_url);
    free(c->webhook_url);
    free(c->socket_path);
    free(c->socket_group);
    memset(c, 0, sizeof *c);
}
