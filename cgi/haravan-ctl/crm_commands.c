/*
 * crm_commands: the CRM side of haravan-ctl: users, replay, sources, and
 * following the automation events.
 *
 * `user` manages crm_users, which in production is the CRM's own staff
 * table; the command exists for the local stack, the tests, and CRMs that
 * let the connector keep it. `follow` is the reference consumer of
 * crm_events: what the CRM's automation does with LISTEN crm_events.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "crm/customer.h"
#include "core/crypto.h"
#include "crm/processor.h"
#include "haravan/api.h"
#include "haravan/clients.h"
#include "haravan/refresh_log.h"
#include "haravan/shop.h"
#include "haravan/staff.h"
#include "haravan/uninstall.h"
#include "inbox/view.h"

static int print_rows(PGresult *result, const char *header)
{
    printf("%s\n", header);
    for (int row = 0; row < PQntuples(result); row++) {
        for (int column = 0; column < PQnfields(result); column++)
            printf("%s%s", column > 0 ? "\t" : "", PQgetvalue(result, row, column));
        printf("\n");
    }
    PQclear(result);
    return 0;
}

static int query_failed(ctl_context *context)
{
    fprintf(stderr, "haravan-ctl: %s\n", context->database.error);
    return 1;
}

static int user_add(ctl_context *context, const char *email, const char *name)
{
    char normalised[320];
    if (strchr(email, '@') == NULL || strlen(email) >= sizeof normalised) {
        fprintf(stderr, "haravan-ctl: '%s' is not an email address\n", email);
        return 1;
    }
    const char *values[] = {email, name};
    PGresult *result = db_query(&context->database, DB_ONCE,
                                "INSERT INTO crm_users (email, name) VALUES (btrim($1), $2)"
                                " ON CONFLICT (lower(email)) DO UPDATE SET name = EXCLUDED.name,"
                                " active = true RETURNING id",
                                2, values, NULL, NULL);
    if (result == NULL)
        return query_failed(context);
    printf("user %s: %s <%s>\n", PQgetvalue(result, 0, 0), name, email);
    PQclear(result);
    return 0;
}

int command_user(ctl_context *context, int argc, char **argv)
{
    if (argc == 1 && strcmp(argv[0], "list") == 0) {
        PGresult *result = db_query(&context->database, DB_ONCE,
                                    "SELECT id, email, name, active FROM crm_users ORDER BY id", 0,
                                    NULL, NULL, NULL);
        return result == NULL ? query_failed(context)
                              : print_rows(result, "ID\tEMAIL\tNAME\tACTIVE");
    }
    const char *email = NULL, *name = "";
    for (int i = 1; argc > 0 && strcmp(argv[0], "add") == 0 && i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--email") == 0)
            email = argv[i + 1];
        else if (strcmp(argv[i], "--name") == 0)
            name = argv[i + 1];
    }
    if (email == NULL) {
        fprintf(stderr, "usage: haravan-ctl user add --email E [--name N] | user list\n");
        return 2;
    }
    return user_add(context, email, name);
}

static int replay_one(ctl_context *context, crm_processor *processor, const char *id)
{
    crm_outcome outcome = CRM_OUTCOME_SKIPPED;
    crm_replay_result replayed = crm_replay_event(processor, strtoll(id, NULL, 10), &outcome);
    switch (replayed) {
    case CRM_REPLAY_PROCESSED:
        break;
    case CRM_REPLAY_NO_SUCH_EVENT:
        fprintf(stderr, "haravan-ctl: event %s does not exist\n", id);
        return 1;
    case CRM_REPLAY_STILL_PENDING:
        fprintf(stderr, "haravan-ctl: event %s is pending or being processed already\n", id);
        return 1;
    case CRM_REPLAY_UNAVAILABLE:
        return query_failed(context);
    case CRM_REPLAY_DEFERRED:
    case CRM_REPLAY_QUEUED:
        fprintf(stderr,
                "haravan-ctl: event %s is pending again but could not be processed now (%s);"
                " the processors will take it\n",
                id,
                context->database.error[0] != '\0' ? context->database.error
                                                   : "a processor kept its resource busy");
        return 1;
    }
    printf("event %s: %s\n", id, crm_outcome_name(outcome));
    if (outcome == CRM_OUTCOME_WAITING) {
        /* Not a failure: the event is pending again, due when the shop's
         * bucket has room, and the processors will finish it. */
        printf("event %s waits for the shop's Haravan API rate limit; the processors finish it\n",
               id);
        return 0;
    }
    return outcome == CRM_OUTCOME_DONE || outcome == CRM_OUTCOME_IGNORED ? 0 : 1;
}

static int replay_all_dead(ctl_context *context, crm_processor *processor)
{
    PGresult *result = inbox_dead_ids(&context->database);
    if (result == NULL)
        return query_failed(context);
    int status = 0;
    for (int row = 0; row < PQntuples(result); row++)
        status |= replay_one(context, processor, PQgetvalue(result, row, 0));
    if (PQntuples(result) == 0)
        printf("no dead events\n");
    PQclear(result);
    return status;
}

int command_replay(ctl_context *context, int argc, char **argv)
{
    int replay_dead = argc == 1 && strcmp(argv[0], "--dead") == 0;
    if (!replay_dead && (argc != 1 || strtoll(argv[0], NULL, 10) <= 0)) {
        fprintf(stderr, "usage: haravan-ctl replay ID | --dead\n");
        return 2;
    }
    hv_clients haravan;
    char error[256] = "libcurl cannot start";
    if (hv_api_global_init() != 0 || hv_clients_init(&haravan, &context->configuration,
                                                     hv_refresh_log, error, sizeof error) != 0) {
        fprintf(stderr, "haravan-ctl: cannot prepare Haravan's clients: %s\n", error);
        return 1;
    }
    /* As a worker does: a shop token Haravan refuses is refreshed once. */
    crm_processor processor = {.database = &context->database,
                               .staff_lookup = hv_staff_lookup,
                               .staff_context = &haravan.staff,
                               .shop_topics = hv_shop_topics,
                               .shop_event = hv_uninstall_apply};
    int status = replay_dead ? replay_all_dead(context, &processor)
                             : replay_one(context, &processor, argv[0]);
    hv_clients_free(&haravan);
    hv_api_global_cleanup();
    return status;
}

int command_sources(ctl_context *context, int argc, char **argv)
{
    if (argc == 1 && strcmp(argv[0], "list") == 0) {
        PGresult *result = db_query(&context->database, DB_ONCE,
                                    "SELECT id, haravan_channel, name FROM order_sources"
                                    " ORDER BY id",
                                    0, NULL, NULL, NULL);
        return result == NULL ? query_failed(context) : print_rows(result, "ID\tCHANNEL\tNAME");
    }
    if (argc == 3 && strcmp(argv[0], "set") == 0 && argv[2][0] != '\0') {
        const char *values[] = {argv[1], argv[2]};
        PGresult *result = db_query(&context->database, DB_ONCE,
                                    "INSERT INTO order_sources (haravan_channel, name)"
                                    " VALUES ($1, $2) ON CONFLICT (haravan_channel)"
                                    " DO UPDATE SET name = EXCLUDED.name",
                                    2, values, NULL, NULL);
        if (result == NULL)
            return query_failed(context);
        PQclear(result);
        printf("channel '%s' is source '%s'\n", argv[1], argv[2]);
        return 0;
    }
    fprintf(stderr, "usage: haravan-ctl sources list | sources set CHANNEL NAME\n"
                    "e.g.   haravan-ctl sources set pos \"Cửa hàng\"\n");
    return 2;
}

static int print_crm_event(ctl_context *context, const char *id)
{
    const char *values[] = {id};
    PGresult *result = db_query(&context->database, DB_ONCE,
                                "SELECT id, type, entity_id, payload::text FROM crm_events"
                                " WHERE id = $1::bigint",
                                1, values, NULL, NULL);
    if (result == NULL)
        return query_failed(context);
    for (int row = 0; row < PQntuples(result); row++)
        printf("%s\t%s\t%s\t%s\n", PQgetvalue(result, row, 0), PQgetvalue(result, row, 1),
               PQgetvalue(result, row, 2), PQgetvalue(result, row, 3));
    fflush(stdout);
    PQclear(result);
    return 0;
}

/* LISTEN crm_events and print each event as it commits, until killed. */
int command_follow(ctl_context *context, int argc, char **argv)
{
    (void)argv;
    if (argc != 0) {
        fprintf(stderr, "usage: haravan-ctl follow\n");
        return 2;
    }
    if (db_command(&context->database, "LISTEN crm_events") != 0)
        return query_failed(context);
    PGconn *connection = context->database.connection;
    for (;;) {
        struct pollfd watch = {.fd = PQsocket(connection), .events = POLLIN};
        if (poll(&watch, 1, -1) < 0 && errno != EINTR)
            return 1;
        if (PQconsumeInput(connection) == 0) {
            fprintf(stderr, "haravan-ctl: %s", PQerrorMessage(connection));
            return 1;
        }
        for (PGnotify *note = PQnotifies(connection); note != NULL; note = PQnotifies(connection)) {
            char id[32];
            snprintf(id, sizeof id, "%s", note->extra);
            PQfreemem(note);
            if (print_crm_event(context, id) != 0)
                return 1;
        }
    }
}

/* The connected shops as an operator needs them: whether each works, and
 * if not why (status_reason, e.g. a refresh token Haravan refused). */
static int shop_list(ctl_context *context)
{
    PGresult *result = db_query(
        &context->database, DB_ONCE,
        "SELECT org_id, name, status, coalesce(to_char(expires_at AT TIME ZONE 'UTC',"
        " 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), '-'), coalesce(connected_by, '-'),"
        " refresh_token IS NOT NULL, coalesce(status_reason, '') FROM hv_shops ORDER BY org_id",
        0, NULL, NULL, NULL);
    return result == NULL
               ? query_failed(context)
               : print_rows(result, "ORG\tNAME\tSTATUS\tEXPIRES\tCONNECTED_BY\tREFRESH\tREASON");
}

/* Stores a shop's access token by hand: `shop token ORG -` reads it from
 * standard input, so it stays out of argv and shell history. */
int command_shop(ctl_context *context, int argc, char **argv)
{
    if (argc == 1 && strcmp(argv[0], "list") == 0)
        return shop_list(context);
    if (argc < 2 || argc > 4 || strcmp(argv[0], "token") != 0) {
        fprintf(stderr, "usage: haravan-ctl shop list | shop token ORG_ID [SCOPES] < token\n");
        return 2;
    }
    if (!context->configuration.has_master_key) {
        fprintf(stderr, "haravan-ctl: tokens are sealed: set HARAVAN_MASTER_KEY first\n");
        return 1;
    }
    char *token = NULL;
    size_t capacity = 0;
    ssize_t length = getline(&token, &capacity, stdin);
    while (length > 0 && (token[length - 1] == '\n' || token[length - 1] == '\r'))
        token[--length] = '\0';
    if (length <= 0) {
        fprintf(stderr, "haravan-ctl: no token on standard input\n");
        free(token);
        return 1;
    }
    char error[256];
    int result = hv_shop_store_token(&context->database, context->configuration.master_key, argv[1],
                                     "", token, argc > 2 ? argv[2] : "", error, sizeof error);
    crypto_wipe(token, (size_t)length);
    free(token);
    if (result != 0) {
        fprintf(stderr, "haravan-ctl: %s\n", error);
        return 1;
    }
    printf("token of shop %s saved\n", argv[1]);
    return 0;
}
