/*
 * master: bind, fork, supervise, reload, drain. See master.h.
 *
 * Signal handlers only set flags; all work happens in the main loop, which
 * sleeps in sigsuspend() with every signal it handles blocked otherwise, so
 * no signal is ever lost between a check and the sleep.
 */
#define _POSIX_C_SOURCE 200809L
#include "master.h"

#include <errno.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/config.h"
#include "core/log.h"
#include "haravan/api.h"
#include "counters.h"
#include "processing.h"
#include "worker.h"

#define MAX_CHILDREN        512
#define RESPAWNS_PER_WORKER 2

typedef enum child_role { ROLE_WORKER, ROLE_PROCESSOR } child_role;

typedef struct child {
    pid_t pid;
    int generation;
    child_role role;
} child;

typedef struct master {
    config configuration;
    const char *config_path;
    int listen_fd;
    counters *shared;
    child children[MAX_CHILDREN];
    int generation;
    time_t respawn_window; /* second in which respawns are being counted */
    int respawns_in_window;
    int respawn_delayed; /* an alarm is set for the next replacement */
} master;

static volatile sig_atomic_t got_child, got_terminate, got_reload, got_alarm;

static void on_signal(int signal_number)
{
    if (signal_number == SIGCHLD)
        got_child = 1;
    else if (signal_number == SIGHUP)
        got_reload = 1;
    else if (signal_number == SIGALRM)
        got_alarm = 1;
    else
        got_terminate = 1;
}

static int install_signals(sigset_t *handled)
{
    static const int numbers[] = {SIGCHLD, SIGHUP, SIGALRM, SIGTERM, SIGINT};
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = on_signal;
    sigemptyset(&action.sa_mask);
    sigemptyset(handled);
    for (size_t i = 0; i < sizeof numbers / sizeof numbers[0]; i++) {
        sigaddset(handled, numbers[i]);
        if (sigaction(numbers[i], &action, NULL) != 0)
            return -1;
    }
    action.sa_handler = SIG_IGN;
    if (sigaction(SIGPIPE, &action, NULL) != 0)
        return -1;
    return sigprocmask(SIG_BLOCK, handled, NULL);
}

/* A socket file left by a crashed run is removed; one that still answers
 * belongs to a running instance and is left alone. */
static int clear_stale_socket(const struct sockaddr_un *address)
{
    struct stat info;
    if (lstat(address->sun_path, &info) != 0)
        return errno == ENOENT ? 0 : -1;
    if (!S_ISSOCK(info.st_mode)) {
        errno = EEXIST;
        return -1;
    }
    int probe = socket(AF_UNIX, SOCK_STREAM, 0);
    if (probe < 0)
        return -1;
    int in_use = connect(probe, (const struct sockaddr *)address, sizeof *address) == 0;
    close(probe);
    if (in_use) {
        errno = EADDRINUSE;
        return -1;
    }
    return unlink(address->sun_path);
}

static int set_permissions(const config *c)
{
    if (chmod(c->socket_path, c->socket_mode) != 0)
        return -1;
    if (c->socket_group == NULL)
        return 0;
    struct group *entry = getgrnam(c->socket_group);
    if (entry == NULL) {
        errno = ENOENT;
        return -1;
    }
    return chown(c->socket_path, (uid_t)-1, entry->gr_gid);
}

static int bind_socket(const config *c)
{
    struct sockaddr_un address;
    memset(&address, 0, sizeof address);
    address.sun_family = AF_UNIX;
    if (strlen(c->socket_path) >= sizeof address.sun_path) {
        errno = ENAMETOOLONG;
        return -1;
    }
    strcpy(address.sun_path, c->socket_path);
    if (clear_stale_socket(&address) != 0)
        return -1;
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    if (bind(fd, (struct sockaddr *)&address, sizeof address) != 0 || set_permissions(c) != 0 ||
        listen(fd, SOMAXCONN) != 0) {
        int saved = errno;
        close(fd);
        errno = saved;
        return -1;
    }
    return fd;
}

static child *free_slot(master *m)
{
    for (int i = 0; i < MAX_CHILDREN; i++)
        if (m->children[i].pid == 0)
            return &m->children[i];
    return NULL;
}

static int spawn(master *m, child_role role)
{
    child *slot = free_slot(m);
    if (slot == NULL)
        return -1;
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        if (role == ROLE_PROCESSOR) {
            close(m->listen_fd); /* a processor never answers HTTP */
            _exit(processing_run(&m->configuration, m->shared));
        }
        _exit(worker_run(&m->configuration, m->shared, m->listen_fd));
    }
    slot->pid = pid;
    slot->generation = m->generation;
    slot->role = role;
    return 0;
}

static int count_current(const master *m, child_role role)
{
    int count = 0;
    for (int i = 0; i < MAX_CHILDREN; i++)
        if (m->children[i].pid != 0 && m->children[i].generation == m->generation &&
            m->children[i].role == role)
            count++;
    return count;
}

/* The role of the next child the current generation lacks; -1 when whole:
 * HARAVAN_WORKERS workers and HARAVAN_PROCESSORS processors. */
static int missing_role(const master *m)
{
    if (count_current(m, ROLE_WORKER) < m->configuration.workers)
        return ROLE_WORKER;
    if (count_current(m, ROLE_PROCESSOR) < m->configuration.processors)
        return ROLE_PROCESSOR;
    return -1;
}

static int count_all(const master *m)
{
    int count = 0;
    for (int i = 0; i < MAX_CHILDREN; i++)
        if (m->children[i].pid != 0)
            count++;
    return count;
}

/* Starts workers until the current generation is complete, unless workers
 * are dying faster than RESPAWNS_PER_WORKER batches per second (a crash
 * loop): then the rest wait for SIGALRM, a second later. */
static void fill(master *m, int is_replacement)
{
    time_t now = time(NULL);
    if (now != m->respawn_window) {
        m->respawn_window = now;
        m->respawns_in_window = 0;
    }
    for (int role = missing_role(m); role >= 0; role = missing_role(m)) {
        if (is_replacement &&
            m->respawns_in_window >=
                RESPAWNS_PER_WORKER * (m->configuration.workers + m->configuration.processors)) {
            if (!m->respawn_delayed)
                log_message("error", "workers are dying fast; next restart in one second");
            m->respawn_delayed = 1;
            alarm(1);
            return;
        }
        if (spawn(m, (child_role)role) != 0) {
            log_message("error", "cannot start a worker: %s", strerror(errno));
            alarm(1);
            return;
        }
        if (is_replacement) {
            m->respawns_in_window++;
            counters_add(&m->shared->workers_restarted);
        }
    }
}

static void describe_exit(pid_t pid, int status)
{
    if (WIFSIGNALED(status))
        log_message("error", "worker %ld killed by signal %d; replacing it", (long)pid,
                    WTERMSIG(status));
    else
        log_message("error", "worker %ld exited with status %d; replacing it", (long)pid,
                    WEXITSTATUS(status));
}

/* Frees the slot of an exited worker. Returns 1 when it belonged to the
 * current generation, i.e. nobody asked it to stop. */
static int record_exit(master *m, pid_t pid, int status)
{
    for (int i = 0; i < MAX_CHILDREN; i++) {
        if (m->children[i].pid != pid)
            continue;
        m->children[i].pid = 0;
        if (m->children[i].generation == m->generation) {
            describe_exit(pid, status);
            return 1;
        }
    }
    return 0;
}

/* Collects every exited worker without waiting. Returns 1 when one of the
 * current generation died unasked. */
static int reap(master *m)
{
    int lost = 0;
    for (;;) {
        int status;
        pid_t pid = waitpid(-1, &status, WNOHANG);
        if (pid <= 0)
            break;
        lost |= record_exit(m, pid, status);
    }
    return lost;
}

static void signal_generation(master *m, int generation_below, int signal_number)
{
    for (int i = 0; i < MAX_CHILDREN; i++)
        if (m->children[i].pid != 0 && m->children[i].generation < generation_below)
            kill(m->children[i].pid, signal_number);
}

static void reload(master *m)
{
    config fresh;
    char error[512];
    if (config_load(&fresh, m->config_path, error, sizeof error) != 0 || !fresh.has_master_key) {
        log_message("error", "reload refused, keeping the running configuration: %s",
                    fresh.has_master_key ? error : "no HARAVAN_MASTER_KEY");
        config_free(&fresh);
        return;
    }
    if (strcmp(fresh.socket_path, m->configuration.socket_path) != 0)
        log_message("warning", "HARAVAN_SOCKET changes only on restart; keeping %s",
                    m->configuration.socket_path);
    char *kept_socket = m->configuration.socket_path;
    m->configuration.socket_path = NULL;
    free(fresh.socket_path);
    fresh.socket_path = kept_socket;
    config_free(&m->configuration);
    m->configuration = fresh;

    m->generation++;
    fill(m, 0);
    signal_generation(m, m->generation, SIGTERM);
    log_message("info", "reloaded: %d new workers and %d processors, old ones finishing",
                m->configuration.workers, m->configuration.processors);
}

static void drain(master *m, const sigset_t *wait_mask)
{
    close(m->listen_fd);
    unlink(m->configuration.socket_path);
    /* No generation is current any more: exits are expected, not replaced. */
    m->generation++;
    signal_generation(m, m->generation, SIGTERM);
    log_message("info", "stopping: waiting for %d workers to finish", count_all(m));
    alarm(MASTER_DRAIN_SECONDS);
    got_alarm = 0;
    while (count_all(m) > 0 && !got_alarm) {
        sigsuspend(wait_mask);
        reap(m);
    }
    if (count_all(m) > 0) {
        log_message("error", "workers still busy after %d s; killing them", MASTER_DRAIN_SECONDS);
        signal_generation(m, m->generation, SIGKILL);
        while (count_all(m) > 0) {
            int status;
            pid_t pid = waitpid(-1, &status, 0);
            if (pid <= 0)
                break;
            record_exit(m, pid, status);
        }
    }
}

static int write_pid_file(const char *path)
{
    FILE *file = fopen(path, "w");
    if (file == NULL)
        return -1;
    fprintf(file, "%ld\n", (long)getpid());
    return fclose(file);
}

static void supervise(master *m, const sigset_t *wait_mask)
{
    for (;;) {
        sigsuspend(wait_mask);
        if (got_terminate)
            return;
        int lost = 0;
        if (got_child) {
            got_child = 0;
            lost = reap(m);
        }
        if (got_reload) {
            got_reload = 0;
            reload(m);
        }
        if (got_alarm || lost) {
            if (got_alarm)
                m->respawn_delayed = 0;
            got_alarm = 0;
            fill(m, 1);
        }
    }
}

int master_run(const char *config_path, const char *pid_file)
{
    static master m; /* large; and there is one per process */
    char error[512];
    m.config_path = config_path;
    if (config_load(&m.configuration, config_path, error, sizeof error) != 0) {
        log_message("error", "configuration: %s", error);
        return 2;
    }
    if (!m.configuration.has_master_key) {
        log_message("error", "configuration: HARAVAN_MASTER_KEY or HARAVAN_MASTER_KEY_FILE is "
                             "required (secrets are sealed with it)");
        return 2;
    }
    /* The mask we start with is the one to sleep with: everything the
     * master handles is blocked except inside sigsuspend(). */
    sigset_t handled, wait_mask;
    if (sigprocmask(SIG_BLOCK, NULL, &wait_mask) != 0 || install_signals(&handled) != 0) {
        log_message("error", "cannot install signal handlers: %s", strerror(errno));
        return 1;
    }
    /* libcurl's global state, once, before any process forks (haravan/api.h). */
    if (hv_api_global_init() != 0) {
        log_message("error", "libcurl cannot be initialised");
        return 1;
    }
    m.shared = counters_create();
    m.listen_fd = bind_socket(&m.configuration);
    if (m.shared == NULL || m.listen_fd < 0) {
        log_message("error", "cannot listen on %s: %s", m.configuration.socket_path,
                    strerror(errno));
        return 1;
    }
    if (pid_file != NULL && write_pid_file(pid_file) != 0)
        log_message("warning", "cannot write pid file %s: %s", pid_file, strerror(errno));
    log_message("info", "listening on %s with %d workers and %d processors",
                m.configuration.socket_path, m.configuration.workers, m.configuration.processors);
    m.generation = 1;
    fill(&m, 0);
    supervise(&m, &wait_mask);
    drain(&m, &wait_mask);
    if (pid_file != NULL)
        unlink(pid_file);
    log_message("info", "stopped");
    config_free(&m.configuration);
    return 0;
}
