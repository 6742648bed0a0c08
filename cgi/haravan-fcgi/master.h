/*
 * master: the parent process of haravan-fcgi, in the manner of php-fpm.
 *
 * It binds the FastCGI unix socket once, forks HARAVAN_WORKERS workers
 * that all accept on it and HARAVAN_PROCESSORS processors that process
 * what the workers stored (processing.h; 0 processors: this host only
 * takes deliveries), and then only supervises both alike:
 *   - a child that dies is replaced at once (a crash loop is slowed to a
 *     batch of replacements per second, so a broken build cannot fork-bomb);
 *   - SIGTERM or SIGINT: stop accepting (the socket is closed and removed),
 *     let every worker finish its request, exit; workers still busy after
 *     MASTER_DRAIN_SECONDS are killed;
 *   - SIGHUP: re-read the configuration, start a new generation of workers
 *     and processors (their counts may have changed) on the same socket,
 *     then ask the old generation to finish and exit.
 *     Connections wait in the socket's backlog meanwhile: none is refused.
 */
#ifndef HARAVAN_FCGI_MASTER_H
#define HARAVAN_FCGI_MASTER_H

#define MASTER_DRAIN_SECONDS 30

/* Runs until told to stop. `config_path` may be NULL ($HARAVAN_CONFIG);
 * `pid_file` may be NULL. Returns the process exit status. */
int master_run(const char *config_path, const char *pid_file);

#endif
