/*
 * haravan-sim: a stand-in for Haravan (docs/HARAVAN.md sections 1 to 3): the
 * REST API, accounts.haravan.com's OpenID Connect and webhook.haravan.com's
 * subscriptions and deliveries, so that the connector, its tests and
 * `make run` work offline.
 *
 *     haravan-sim --socket PATH [--seed DIR] [--pid-file FILE]
 *                 [--socket-mode 0660] [--bucket-size 80] [--drain-rate 4]
 *                 [--base-url URL] [--samples DIR]
 *     haravan-sim fire TOPIC --sample FILE [--url SIM_URL] [--org ORG]
 *
 * The same settings may come from the environment: HARAVAN_SIM_SOCKET,
 * HARAVAN_SIM_SEED_DIR, HARAVAN_SIM_SOCKET_MODE (flags win). It is a
 * FastCGI program like haravan-fcgi, behind its own nginx server block
 * (nginx/dev-server.conf.in), and runs as ONE process on purpose: the rate
 * limit buckets, the injected failures, the data, the apps and the grants
 * are one copy that every request sees. A stalled call (an injected
 * timeout, or a webhook call to a slow callback) therefore holds up the
 * calls behind it, as a test of timeouts wants; outbound calls have
 * bounded timeouts for that reason (outbound.h).
 *
 * Logs: one JSON line per request on standard error (path, status, org,
 * outcome); never a header, so never a token.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <fcgiapp.h>

#include "core/log.h"
#include "fire_cli.h"
#include "reply.h"
#include "sim.h"

#ifndef HARAVAN_SIM_DEFAULT_SEED_DIR
#define HARAVAN_SIM_DEFAULT_SEED_DIR "tests/sim/seed"
#endif
#ifndef HARAVAN_SIM_DEFAULT_SAMPLES_DIR
#define HARAVAN_SIM_DEFAULT_SAMPLES_DIR "tests/data/samples"
#endif

#define MAX_ACCEPT_FAILURES 100

static volatile sig_atomic_t stop_requested;
static volatile sig_atomic_t listen_socket = -1;

/* ---- settings --------------------------------------------------------- */

static int usage(FILE *out, int status)
{
    fprintf(out, "usage: haravan-sim --socket PATH [--seed DIR] [--pid-file FILE]\n"
                 "                   [--socket-mode 0660] [--bucket-size 80] [--drain-rate 4]\n"
                 "                   [--base-url URL] [--samples DIR]\n"
                 "       haravan-sim fire TOPIC --sample FILE [--url SIM_URL] [--org ORG]\n"
                 "Plays Haravan's REST API (/com/), accounts (/connect/), webhooks\n"
                 "(/api/subscribe) and test controls (/sim/) over FastCGI.\n"
                 "Environment: HARAVAN_SIM_SOCKET, HARAVAN_SIM_SEED_DIR, "
                 "HARAVAN_SIM_SOCKET_MODE.\n");
    return status;
}

static int parse_number(const char *text, double minimum, double maximum, double *out)
{
    char *end = NULL;
    errno = 0;
    double value = strtod(text, &end);
    if (errno != 0 || end == text || *end != '\0' || !(value >= minimum && value <= maximum))
        return -1;
    *out = value;
    return 0;
}

static int parse_mode(const char *text, unsigned *out)
{
    char *end = NULL;
    errno = 0;
    unsigned long value = strtoul(text, &end, 8);
    if (errno != 0 || end == text || *end != '\0' || value > 0777)
        return -1;
    *out = (unsigned)value;
    return 0;
}

static void defaults(sim_settings *settings)
{
    memset(settings, 0, sizeof *settings);
    settings->socket_path = getenv("HARAVAN_SIM_SOCKET");
    settings->seed_dir = getenv("HARAVAN_SIM_SEED_DIR");
    if (settings->seed_dir == NULL || settings->seed_dir[0] == '\0')
        settings->seed_dir = HARAVAN_SIM_DEFAULT_SEED_DIR;
    settings->samples_dir = HARAVAN_SIM_DEFAULT_SAMPLES_DIR;
    settings->socket_mode = 0660;
    settings->bucket_size = 80;
    settings->drain_per_second = 4;
}

/* An absolute http(s) URL without a trailing slash: it is the issuer,
 * which must match what clients were told exactly. */
static int base_url_acceptable(const char *url)
{
    size_t length = strlen(url);
    return sim_url_acceptable(url) && url[length - 1] != '/' && strchr(url, '?') == NULL;
}

/* One "--name value" pair. Returns 0, or -1 for an unknown name or a bad
 * value. */
static int apply_flag(sim_settings *settings, const char *name, const char *value)
{
    if (strcmp(name, "--socket") == 0)
        settings->socket_path = value;
    else if (strcmp(name, "--seed") == 0)
        settings->seed_dir = value;
    else if (strcmp(name, "--pid-file") == 0)
        settings->pid_file = value;
    else if (strcmp(name, "--base-url") == 0 && base_url_acceptable(value))
        settings->base_url = value;
    else if (strcmp(name, "--samples") == 0)
        settings->samples_dir = value;
    else if (strcmp(name, "--socket-mode") == 0)
        return parse_mode(value, &settings->socket_mode);
    else if (strcmp(name, "--bucket-size") == 0)
        return parse_number(value, 1, 100000, &settings->bucket_size);
    else if (strcmp(name, "--drain-rate") == 0)
        return parse_number(value, 0.001, 100000, &settings->drain_per_second);
    else
        return -1;
    return 0;
}

static int read_settings(sim_settings *settings, int argc, char **argv)
{
    defaults(settings);
    const char *mode = getenv("HARAVAN_SIM_SOCKET_MODE");
    if (mode != NULL && mode[0] != '\0' && parse_mode(mode, &settings->socket_mode) != 0)
        return -1;
    for (int i = 1; i < argc; i += 2) {
        if (i + 1 >= argc || apply_flag(settings, argv[i], argv[i + 1]) != 0)
            return -1;
    }
    return settings->socket_path != NULL && settings->socket_path[0] != '\0' ? 0 : -1;
}

/* ---- process ---------------------------------------------------------- */

static void on_terminate(int signal_number)
{
    (void)signal_number;
    stop_requested = 1;
    FCGX_ShutdownPending();
    /* An accept about to start fails at once instead of waiting for one
     * more client (the same reasoning as cgi/haravan-fcgi/worker.c). */
    if (listen_socket >= 0) {
        close(listen_socket);
        listen_socket = -1;
    }
}

static int install_signals(void)
{
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = on_terminate; /* no SA_RESTART: accept must return */
    sigemptyset(&action.sa_mask);
    if (sigaction(SIGTERM, &action, NULL) != 0 || sigaction(SIGINT, &action, NULL) != 0)
        return -1;
    action.sa_handler = SIG_IGN;
    if (sigaction(SIGPIPE, &action, NULL) != 0 || sigaction(SIGHUP, &action, NULL) != 0)
        return -1;
    return 0;
}

/* Binds the unix socket, replacing a stale socket file but never a file
 * of another kind. Returns the listening descriptor or -1. */
static int listen_on(const char *path, unsigned mode)
{
    struct sockaddr_un address;
    memset(&address, 0, sizeof address);
    address.sun_family = AF_UNIX;
    if (strlen(path) >= sizeof address.sun_path) {
        errno = ENAMETOOLONG;
        return -1;
    }
    strcpy(address.sun_path, path);
    struct stat info;
    if (lstat(path, &info) == 0 && (!S_ISSOCK(info.st_mode) || unlink(path) != 0)) {
        errno = EEXIST;
        return -1;
    }
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    if (bind(fd, (struct sockaddr *)&address, sizeof address) != 0 || chmod(path, mode) != 0 ||
        listen(fd, SOMAXCONN) != 0) {
        int saved = errno;
        close(fd);
        errno = saved;
        return -1;
    }
    return fd;
}

static int write_pid_file(const char *path)
{
    FILE *file = fopen(path, "w");
    if (file == NULL)
        return -1;
    fprintf(file, "%ld\n", (long)getpid());
    return fclose(file);
}

/* ---- requests --------------------------------------------------------- */

static double elapsed_ms(const struct timespec *start)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - start->tv_sec) * 1e3 +
           (double)(now.tv_nsec - start->tv_nsec) / 1e6;
}

static void log_request(const request *r)
{
    log_record record;
    log_begin(&record, r->status >= 500 ? "error" : "info", "sim_request");
    log_string(&record, "method", r->method);
    log_string(&record, "path", r->path);
    log_number(&record, "status", r->status);
    log_decimal(&record, "duration_ms", elapsed_ms(&r->started));
    log_string(&record, "org_id", r->org_id[0] != '\0' ? r->org_id : NULL);
    log_string(&record, "outcome", r->outcome);
    log_end(&record);
}

static void serve(sim *s, FCGX_Request *fcgi)
{
    request r;
    request_begin(&r, fcgi);
    int is_api = strncmp(r.path, "/com/", 5) == 0;
    if (is_api)
        sim_handle_api(s, &r);
    else if (strncmp(r.path, "/sim/", 5) == 0)
        sim_handle_admin(s, &r);
    else if (strncmp(r.path, "/.well-known/", 13) == 0 || strncmp(r.path, "/connect/", 9) == 0)
        sim_handle_oidc(s, &r);
    else if (strcmp(r.path, "/api/subscribe") == 0)
        sim_handle_subscribe(s, &r);
    else
        sim_reply_errors(&r, 404, "", "Not Found");
    if (r.status == 0)
        sim_reply_errors(&r, 500, "", "Internal Server Error");
    if (is_api && sim_counters_record(&s->counters, r.path, r.status) != 0)
        log_message("warning", "counters: out of memory");
    log_request(&r);
    request_end(&r);
}

static int accept_loop(sim *s, int listen_fd)
{
    FCGX_Request fcgi;
    if (FCGX_Init() != 0 || FCGX_InitRequest(&fcgi, listen_fd, FCGI_FAIL_ACCEPT_ON_INTR) != 0) {
        log_message("error", "cannot initialise libfcgi");
        return 1;
    }
    int failures_in_a_row = 0;
    while (!stop_requested) {
        if (FCGX_Accept_r(&fcgi) < 0) {
            if (stop_requested || ++failures_in_a_row == MAX_ACCEPT_FAILURES)
                break;
            continue;
        }
        failures_in_a_row = 0;
        serve(s, &fcgi);
        FCGX_Finish_r(&fcgi);
    }
    FCGX_Finish_r(&fcgi);
    return stop_requested ? 0 : 1;
}

static int run(sim *s)
{
    char error[512];
    if (sim_store_load(&s->store, s->settings.seed_dir, error, sizeof error) != 0) {
        log_message("error", "seed: %s", error);
        return 2;
    }
    if (sim_key_generate(&s->key) != 0) {
        log_message("error", "cannot make the RSA signing key");
        return 1;
    }
    sim_config_defaults(&s->config);
    int fd = listen_on(s->settings.socket_path, s->settings.socket_mode);
    if (fd < 0) {
        log_message("error", "cannot listen on %s: %s", s->settings.socket_path, strerror(errno));
        return 1;
    }
    listen_socket = fd;
    if (s->settings.pid_file != NULL && write_pid_file(s->settings.pid_file) != 0)
        log_message("warning", "cannot write pid file %s: %s", s->settings.pid_file,
                    strerror(errno));
    log_message("info",
                "haravan-sim listening on %s: %zu shops, %zu tokens, bucket %g at %g/s, "
                "base URL %s, signing key %s",
                s->settings.socket_path, s->store.org_count, s->store.token_count,
                s->settings.bucket_size, s->settings.drain_per_second,
                s->settings.base_url != NULL ? s->settings.base_url : "(from Host)", s->key.kid);
    int status = accept_loop(s, fd);
    unlink(s->settings.socket_path);
    if (s->settings.pid_file != NULL)
        unlink(s->settings.pid_file);
    log_message("info", "haravan-sim stopped");
    return status;
}

int main(int argc, char **argv)
{
    if (argc == 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0))
        return usage(stdout, 0);
    static sim s; /* large (the status counters); one per process */
    int is_fire = argc >= 2 && strcmp(argv[1], "fire") == 0;
    if (!is_fire && read_settings(&s.settings, argc, argv) != 0)
        return usage(stderr, 2);
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        log_message("error", "cannot initialise libcurl");
        return 1;
    }
    int status = 1;
    s.stop_requested = &stop_requested;
    if (is_fire)
        status = sim_fire_command(argc - 1, argv + 1);
    else if (install_signals() != 0)
        log_message("error", "cannot install signal handlers: %s", strerror(errno));
    else
        status = run(&s);
    sim_free(&s);
    curl_global_cleanup();
    return status;
}
