/*
 * admin_commands: `haravan-ctl admin password`, the settings page's
 * password.
 *
 * The password is read from standard input, never from argv (which `ps`
 * and shell history show). On a terminal it is asked for twice without
 * echo; from a pipe or a here-document the first line is the password.
 * It is stored as a PBKDF2 hash (core/password.h), sealed like every
 * secret, and every open session ends: whoever knew the old password is
 * signed out.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "commands.h"
#include "core/crypto.h"
#include "core/password.h"
#include "core/settings.h"

static void wipe_free(char *text)
{
    if (text != NULL) {
        crypto_wipe(text, strlen(text));
        free(text);
    }
}

/* One line from standard input without its line end; NULL at end of
 * input. The caller wipes and frees it. */
static char *read_line(void)
{
    char *line = NULL;
    size_t capacity = 0;
    ssize_t length = getline(&line, &capacity, stdin);
    if (length < 0) {
        if (line != NULL)
            crypto_wipe(line, capacity);
        free(line);
        return NULL;
    }
    while (length > 0 && (line[length - 1] == '\n' || line[length - 1] == '\r'))
        line[--length] = '\0';
    return line;
}

/* Asks on the terminal with echo off. */
static char *prompt(const char *question)
{
    struct termios saved;
    struct termios quiet;
    fprintf(stderr, "%s", question);
    fflush(stderr);
    int restore = tcgetattr(STDIN_FILENO, &saved) == 0;
    if (restore) {
        quiet = saved;
        quiet.c_lflag &= ~(tcflag_t)ECHO;
        restore = tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet) == 0;
    }
    char *line = read_line();
    if (restore)
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved);
    fprintf(stderr, "\n");
    return line;
}

/* The new password from a terminal (twice) or a pipe; NULL with a message
 * printed when there is none or the two do not match. */
static char *new_password(void)
{
    if (!isatty(STDIN_FILENO)) {
        char *line = read_line();
        if (line == NULL)
            fprintf(stderr, "haravan-ctl: no password on standard input\n");
        return line;
    }
    char *first = prompt("New admin password: ");
    char *second = first != NULL ? prompt("Again: ") : NULL;
    int same = first != NULL && second != NULL && strcmp(first, second) == 0;
    wipe_free(second);
    if (!same) {
        fprintf(stderr, "haravan-ctl: the passwords differ\n");
        wipe_free(first);
        return NULL;
    }
    return first;
}

static int end_sessions(ctl_context *context)
{
    PGresult *result = db_query(&context->database, DB_IDEMPOTENT, "DELETE FROM hv_admin_sessions",
                                0, NULL, NULL, NULL);
    if (result == NULL)
        return -1;
    printf("%s open session(s) ended\n", PQcmdTuples(result));
    PQclear(result);
    return 0;
}

static int set_password(ctl_context *context)
{
    if (!context->configuration.has_master_key) {
        fprintf(stderr, "haravan-ctl: the password hash is sealed: set HARAVAN_MASTER_KEY first\n");
        return 1;
    }
    char *password = new_password();
    if (password == NULL)
        return 1;
    if (!password_acceptable(password)) {
        fprintf(stderr,
                "haravan-ctl: the password must have %d to %d characters and no control "
                "characters\n",
                PASSWORD_MIN_LENGTH, PASSWORD_MAX_LENGTH);
        wipe_free(password);
        return 1;
    }
    buffer hash = BUFFER_INIT;
    int hashed = password_hash(password, &hash);
    wipe_free(password);
    if (hashed != 0) {
        fprintf(stderr, "haravan-ctl: cannot hash the password\n");
        buffer_free(&hash);
        return 1;
    }
    char error[256];
    int result = settings_set(&context->database, context->configuration.master_key,
                              "admin_password_hash", hash.data, error, sizeof error);
    crypto_wipe(hash.data, hash.length);
    buffer_free(&hash);
    if (result != 0) {
        fprintf(stderr, "haravan-ctl: %s\n", error);
        return 1;
    }
    printf("admin password saved\n");
    if (end_sessions(context) != 0) {
        fprintf(stderr, "haravan-ctl: cannot end the open sessions: %s\n", context->database.error);
        return 1;
    }
    return 0;
}

int command_admin(ctl_context *context, int argc, char **argv)
{
    if (argc == 1 && strcmp(argv[0], "password") == 0)
        return set_password(context);
    fprintf(stderr, "usage: haravan-ctl admin password   (reads it from standard input)\n");
    return 2;
}
