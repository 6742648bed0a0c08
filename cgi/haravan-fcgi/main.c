/*
 * haravan-fcgi: the FastCGI server of the Haravan connector.
 *
 *     haravan-fcgi [--config FILE] [--pid-file FILE]
 *
 * Configuration comes from the environment and, optionally, a file of the
 * same NAME=value lines (README, "Configuration"). The process stays in
 * the foreground and logs JSON lines to standard error, as systemd and
 * `make run` both expect.
 */
#include <stdio.h>
#include <string.h>

#include "master.h"

static int usage(FILE *out, int status)
{
    fprintf(out, "usage: haravan-fcgi [--config FILE] [--pid-file FILE]\n"
                 "Serves /api/haravan/ over FastCGI on HARAVAN_SOCKET.\n"
                 "Signals: TERM/INT drain and stop, HUP reloads the configuration.\n");
    return status;
}

int main(int argc, char **argv)
{
    const char *config_path = NULL;
    const char *pid_file = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--config") == 0 && i + 1 < argc)
            config_path = argv[++i];
        else if (strcmp(argv[i], "--pid-file") == 0 && i + 1 < argc)
            pid_file = argv[++i];
        else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
            return usage(stdout, 0);
        else
            return usage(stderr, 2);
    }
    return master_run(config_path, pid_file);
}
