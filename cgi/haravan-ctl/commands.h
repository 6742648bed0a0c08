/*
 * commands: the subcommands of haravan-ctl, one function each.
 *
 * A command gets its arguments after its own name and a context holding
 * the loaded configuration and an open database. It prints results to
 * standard output and problems to standard error, and returns the process
 * exit status: 0 success, 1 failure, 2 wrong usage.
 */
#ifndef HARAVAN_CTL_COMMANDS_H
#define HARAVAN_CTL_COMMANDS_H

#include "core/config.h"
#include "core/db.h"

typedef struct ctl_context {
    config configuration;
    db database;
} ctl_context;

int command_migrate(ctl_context *context, int argc, char **argv);
int command_settings(ctl_context *context, int argc, char **argv);
int command_events(ctl_context *context, int argc, char **argv);
int command_status(ctl_context *context, int argc, char **argv);
int command_user(ctl_context *context, int argc, char **argv);
int command_replay(ctl_context *context, int argc, char **argv);
int command_sources(ctl_context *context, int argc, char **argv);
int command_follow(ctl_context *context, int argc, char **argv);
int command_shop(ctl_context *context, int argc, char **argv);
int command_admin(ctl_context *context, int argc, char **argv);
int command_backfill(ctl_context *context, int argc, char **argv);

#endif
