/*
 * commands: migrate, settings, events, status. See commands.h.
 */
#define _POSIX_C_SOURCE 200809L
#include "commands.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/crypto.h"
#include "core/migrate.h"
#include "core/settings.h"
#include "inbox/view.h"

static void print_applied(const migration *applied)
{
    printf("applied %s %s\n", applied->set, applied->name);
}

static void print_missing(const char *what)
{
    fprintf(stderr, "haravan-ctl: migrate: missing %s\n", what);
}

/* One line per set: its version, or why it has none. */
static void print_versions(ctl_context *context, const char *prefix)
{
    printf("%sconnector version %d\n", prefix,
           migrate_current_version(&context->database, MIGRATE_SET_CONNECTOR));
    if (context->configuration.crm_own)
        printf("%scrm: the CRM's own tables (HARAVAN_CRM_SCHEMA=own)\n", prefix);
    else
        printf("%scrm version %d\n", prefix,
               migrate_current_version(&context->database, MIGRATE_SET_CRM));
}

int command_migrate(ctl_context *context, int argc, char **argv)
{
    (void)argv;
    if (argc != 0) {
        fprintf(stderr, "usage: haravan-ctl migrate\n");
        return 2;
    }
    migrate_options options = {context->configuration.crm_own, print_applied, print_missing};
    int applied = migrate_apply(&context->database, &options);
    if (applied < 0) {
        fprintf(stderr, "haravan-ctl: migrate: %s\n", context->database.error);
        return 1;
    }
    printf("%d applied now; schema is at\n", applied);
    print_versions(context, "  ");
    return 0;
}

/* Reads one line from standard input, so secrets stay out of argv (and so
 * out of `ps` and shell history). Returns a malloc'd string or NULL. */
static char *read_secret_line(void)
{
    char *line = NULL;
    size_t capacity = 0;
    ssize_t length = getline(&line, &capacity, stdin);
    if (length < 0) {
        free(line);
        return NULL;
    }
    while (length > 0 && (line[length - 1] == '\n' || line[length - 1] == '\r'))
        line[--length] = '\0';
    return line;
}

static const unsigned char *master_key(const ctl_context *context)
{
    return context->configuration.has_master_key ? context->configuration.master_key : NULL;
}

static int settings_show(ctl_context *context, const char *name)
{
    buffer value = BUFFER_INIT;
    char error[256];
    int found = settings_get(&context->database, master_key(context), name, &value, NULL, error,
                             sizeof error);
    int status = 0;
    if (found < 0) {
        fprintf(stderr, "haravan-ctl: %s\n", error);
        status = 1;
    } else if (!found) {
        printf("%s\t(not set)\n", name);
    } else if (settings_write_only(name)) {
        printf("%s\t(set; write-only)\n", name);
    } else {
        printf("%s\t%s\n", name, value.data);
    }
    crypto_wipe(value.data, value.length);
    buffer_free(&value);
    return status;
}

static int is_crm_user(ctl_context *context, const char *email)
{
    const char *values[] = {email};
    PGresult *result = db_query(&context->database, DB_ONCE,
                                "SELECT 1 FROM crm_users WHERE lower(email) = lower(btrim($1))"
                                " AND active",
                                1, values, NULL, NULL);
    int found = result != NULL && PQntuples(result) > 0;
    PQclear(result);
    return found;
}

static int settings_store(ctl_context *context, const char *name, const char *argument)
{
    char *from_stdin = strcmp(argument, "-") == 0 ? read_secret_line() : NULL;
    if (strcmp(argument, "-") == 0 && from_stdin == NULL) {
        fprintf(stderr, "haravan-ctl: no value on standard input\n");
        return 1;
    }
    const char *value = from_stdin != NULL ? from_stdin : argument;
    if (strcmp(name, "admin_password_hash") == 0) {
        /* A hash typed here would skip the length rule and the session
         * reset; there is one way to set the password. */
        fprintf(stderr, "haravan-ctl: use `haravan-ctl admin password`\n");
        if (from_stdin != NULL) {
            crypto_wipe(from_stdin, strlen(from_stdin));
            free(from_stdin);
        }
        return 1;
    }
    if (strcmp(name, "default_owner") == 0 && !is_crm_user(context, value)) {
        fprintf(stderr,
                "haravan-ctl: no active CRM user has the email '%s' "
                "(haravan-ctl user add --email ...)\n",
                value);
        free(from_stdin);
        return 1;
    }
    char error[256];
    int result =
        settings_set(&context->database, master_key(context), name, value, error, sizeof error);
    if (from_stdin != NULL) {
        crypto_wipe(from_stdin, strlen(from_stdin));
        free(from_stdin);
    }
    if (result != 0) {
        fprintf(stderr, "haravan-ctl: settings set: %s\n", error);
        return 1;
    }
    printf("%s saved\n", name);
    return 0;
}

int command_settings(ctl_context *context, int argc, char **argv)
{
    const char *verb = argc > 0 ? argv[0] : "";
    if (strcmp(verb, "list") == 0 && argc == 1) {
        int status = 0;
        for (const char *const *name = settings_names(); *name != NULL; name++)
            status |= settings_show(context, *name);
        return status;
    }
    if (strcmp(verb, "get") == 0 && argc == 2) {
        if (!settings_known(argv[1], NULL)) {
            fprintf(stderr, "haravan-ctl: unknown setting '%s'\n", argv[1]);
            return 1;
        }
        return settings_show(context, argv[1]);
    }
    if (strcmp(verb, "set") == 0 && argc == 3)
        return settings_store(context, argv[1], argv[2]);
    if (strcmp(verb, "unset") == 0 && argc == 2) {
        char error[256];
        if (settings_unset(&context->database, argv[1], error, sizeof error) != 0) {
            fprintf(stderr, "haravan-ctl: settings unset: %s\n", error);
            return 1;
        }
        printf("%s removed\n", argv[1]);
        return 0;
    }
    fprintf(stderr, "usage: haravan-ctl settings list | get NAME | set NAME VALUE|- | unset NAME\n"
                    "names:");
    for (const char *const *name = settings_names(); *name != NULL; name++)
        fprintf(stderr, " %s", *name);
    fprintf(stderr, "\n");
    return 2;
}

static int events_show(ctl_context *context, const char *id)
{
    PGresult *result = inbox_show_event(&context->database, id);
    if (result == NULL) {
        fprintf(stderr, "haravan-ctl: %s\n", context->database.error);
        return 1;
    }
    if (PQntuples(result) == 0) {
        fprintf(stderr, "haravan-ctl: no event %s\n", id);
        PQclear(result);
        return 1;
    }
    static const char *const labels[] = {"id",          "status",     "topic",  "org_id",
                                         "resource",    "updated_at", "dedupe", "headers",
                                         "received_at", "attempts",   "reason", "notes"};
    for (int i = 0; i < 12; i++)
        printf("%-12s %s\n", labels[i], PQgetvalue(result, 0, i));
    size_t length = 0;
    unsigned char *body = PQunescapeBytea(
        (const unsigned char *)PQgetvalue(result, 0, INBOX_SHOW_BODY_COLUMN), &length);
    printf("body (%zu bytes):\n", length);
    if (body != NULL)
        fwrite(body, 1, length, stdout);
    printf("\n");
    PQfreemem(body);
    PQclear(result);
    return 0;
}

static int events_list(ctl_context *context, const char *status, const char *topic,
                       const char *limit)
{
    PGresult *result = inbox_list_events_brief(&context->database, status, topic, limit);
    if (result == NULL) {
        fprintf(stderr, "haravan-ctl: %s\n", context->database.error);
        return 1;
    }
    printf("%-8s %-20s %-10s %-22s %-12s %-14s %s\n", "ID", "RECEIVED", "STATUS", "TOPIC", "ORG",
           "RESOURCE", "REASON");
    for (int row = 0; row < PQntuples(result); row++)
        printf("%-8s %-20s %-10s %-22s %-12s %-14s %s\n", PQgetvalue(result, row, 0),
               PQgetvalue(result, row, 1), PQgetvalue(result, row, 2), PQgetvalue(result, row, 3),
               PQgetvalue(result, row, 4), PQgetvalue(result, row, 5), PQgetvalue(result, row, 6));
    PQclear(result);
    return 0;
}

int command_events(ctl_context *context, int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[0], "show") == 0)
        return events_show(context, argv[1]);
    const char *status = NULL, *topic = NULL, *limit = "50";
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--status") == 0 && i + 1 < argc)
            status = argv[++i];
        else if (strcmp(argv[i], "--topic") == 0 && i + 1 < argc)
            topic = argv[++i];
        else if (strcmp(argv[i], "--limit") == 0 && i + 1 < argc && atoi(argv[i + 1]) > 0)
            limit = argv[++i];
        else {
            fprintf(stderr, "usage: haravan-ctl events [--status S] [--topic T] [--limit N]\n"
                            "       haravan-ctl events show ID\n");
            return 2;
        }
    }
    return events_list(context, status, topic, limit);
}

int command_status(ctl_context *context, int argc, char **argv)
{
    (void)argv;
    if (argc != 0) {
        fprintf(stderr, "usage: haravan-ctl status\n");
        return 2;
    }
    print_versions(context, "schema ");
    PGresult *result = inbox_count_by_status(&context->database);
    if (result == NULL) {
        fprintf(stderr, "haravan-ctl: %s\n", context->database.error);
        return 1;
    }
    printf("events:\n");
    for (int row = 0; row < PQntuples(result); row++)
        printf("  %-10s %s\n", PQgetvalue(result, row, 0), PQgetvalue(result, row, 1));
    if (PQntuples(result) == 0)
        printf("  (none)\n");
    PQclear(result);
    return 0;
}
