/*
 * haravan-ctl: the operator's command line for the Haravan connector.
 *
 *     haravan-ctl [--config FILE] COMMAND [ARGS]
 *
 * It reads the same configuration as haravan-fcgi (environment, or a file
 * of NAME=value lines such as var/stack.env) and talks to the same
 * database. `keygen` needs neither.
 */
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "core/crypto.h"

typedef int (*command_function)(ctl_context *context, int argc, char **argv);

typedef struct command {
    const char *name;
    command_function run;
    const char *summary;
} command;

static const command commands[] = {
    {"migrate", command_migrate, "apply the database migrations built into this binary"},
    {"settings", command_settings, "settings list | get NAME | set NAME VALUE|- | unset NAME"},
    {"events", command_events, "events [--status S] [--topic T] [--limit N] | events show ID"},
    {"status", command_status, "events counted by status, the schema version of each migration set"},
    {"replay", command_replay, "replay ID | --dead: process an event again"},
    {"user", command_user, "user add --email E [--name N] | user list: CRM users"},
    {"sources", command_sources, "sources list | set CHANNEL NAME: order sources"},
    {"shop", command_shop,
     "shop list | shop token ORG_ID [SCOPES] < token: connected shops; store an access token"},
    {"follow", command_follow, "print crm_events as they are committed (automation feed)"},
    {"backfill", command_backfill,
     "backfill [--shop ORG] [--since DATE] [--customers] [--orders]: the historical import"},
    {"admin", command_admin, "admin password < password: the settings page's password"},
};

#define COMMAND_COUNT (sizeof commands / sizeof commands[0])

static int usage(FILE *out, int status)
{
    fprintf(out, "usage: haravan-ctl [--config FILE] COMMAND [ARGS]\n\ncommands:\n");
    for (size_t i = 0; i < COMMAND_COUNT; i++)
        fprintf(out, "  %-9s %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "  %-9s %s\n", "keygen", "print a new random HARAVAN_MASTER_KEY");
    return status;
}

static int keygen(void)
{
    unsigned char key[CRYPTO_KEY_SIZE];
    if (crypto_random(key, sizeof key) != 0) {
        fprintf(stderr, "haravan-ctl: no randomness available\n");
        return 1;
    }
    for (size_t i = 0; i < sizeof key; i++)
        printf("%02x", key[i]);
    printf("\n");
    crypto_wipe(key, sizeof key);
    return 0;
}

static int run(const command *chosen, const char *config_path, int argc, char **argv)
{
    ctl_context context;
    char error[512];
    if (config_load(&context.configuration, config_path, error, sizeof error) != 0) {
        fprintf(stderr, "haravan-ctl: configuration: %s\n", error);
        return 1;
    }
    if (db_init(&context.database, context.configuration.database, "haravan-ctl") != 0 ||
        db_connect(&context.database) != 0) {
        fprintf(stderr, "haravan-ctl: %s\n", context.database.error);
        db_close(&context.database);
        config_free(&context.configuration);
        return 1;
    }
    int status = chosen->run(&context, argc, argv);
    db_close(&context.database);
    config_free(&context.configuration);
    return status;
}

int main(int argc, char **argv)
{
    const char *config_path = NULL;
    int first = 1;
    if (argc > 2 && strcmp(argv[1], "--config") == 0) {
        config_path = argv[2];
        first = 3;
    }
    if (first >= argc)
        return usage(stderr, 2);
    const char *name = argv[first];
    if (strcmp(name, "--help") == 0 || strcmp(name, "help") == 0)
        return usage(stdout, 0);
    if (strcmp(name, "keygen") == 0)
        return keygen();
    for (size_t i = 0; i < COMMAND_COUNT; i++)
        if (strcmp(commands[i].name, name) == 0)
            return run(&commands[i], config_path, argc - first - 1, argv + first + 1);
    fprintf(stderr, "haravan-ctl: unknown command '%s'\n", name);
    return usage(stderr, 2);
}
