/*
 * worker: the accept loop of one FastCGI worker. See worker.h.
 *
 * Shutdown without losing a request: SIGTERM is blocked while a request is
 * being handled, so a signal can never cut a body read or a COMMIT short.
 * It is unblocked only around accept; the handler then sets the stop flag
 * and closes this process's copy of the listening socket, so an accept
 * that was about to start fails at once instead of waiting for one more
 * connection. (close() is async-signal-safe; the master and the other
 * workers keep their copies open.)
 *
 * A worker only checks, stores and answers: no CRM processing and no call
 * to Haravan's API follows a delivery in this process (the admin routes
 * that connect a shop or register webhooks call Haravan because that is
 * what the admin asked for).
 */
#define _POSIX_C_SOURCE 200809L
#include "worker.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#include <fcgiapp.h>

#include "core/log.h"
#include "haravan/refresh_log.h"
#include "request.h"
#include "router.h"

#define MAX_ACCEPT_FAILURES 100

static volatile sig_atomic_t stop_requested;
static volatile sig_atomic_t listen_socket = -1;

static void on_terminate(int signal_number)
{
    (void)signal_number;
    stop_requested = 1;
    FCGX_ShutdownPending();
    if (listen_socket >= 0) {
        close(listen_socket);
        listen_socket = -1;
    }
}

static int install_signals(sigset_t *terminate_set)
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
    action.sa_handler = SIG_DFL;
    if (sigaction(SIGCHLD, &action, NULL) != 0)
        return -1;
    sigemptyset(terminate_set);
    sigaddset(terminate_set, SIGTERM);
    sigaddset(terminate_set, SIGINT);
    /* A worker whose master is gone must not linger on the socket. */
    if (prctl(PR_SET_PDEATHSIG, SIGTERM) != 0)
        return -1;
    return 0;
}

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
    log_begin(&record, r->status >= 500 ? "error" : "info", "request");
    log_string(&record, "method", r->method);
    log_string(&record, "path", r->path);
    log_number(&record, "status", r->status);
    log_decimal(&record, "duration_ms", elapsed_ms(&r->started));
    log_string(&record, "topic", r->topic);
    log_string(&record, "org_id", r->org_id[0] != '\0' ? r->org_id : NULL);
    if (r->event_id > 0)
        log_number(&record, "event_id", r->event_id);
    log_string(&record, "outcome", r->outcome);
    log_end(&record);
}

/* Handles one request. Nothing else happens in a worker: an event it
 * stored is processed by the processors (processing.h), woken by the
 * INSERT's notification, never here. */
static void serve(worker *w, FCGX_Request *fcgi)
{
    request r;
    request_begin(&r, fcgi);
    counters_add(&w->shared->requests);
    router_dispatch(w, &r);
    if (r.status == 0)
        request_reply_error(&r, 500, "internal error");
    log_request(&r);
    request_end(&r);
}

static int setup(worker *w, const config *configuration, counters *shared)
{
    memset(w, 0, sizeof *w);
    w->configuration = configuration;
    w->shared = shared;
    if (db_init(&w->database, configuration->database, "haravan-fcgi") != 0)
        return -1;
    w->database.on_connect = secrets_on_connect;
    w->database.on_connect_context = &w->cache;
    w->cache.loads = &shared->settings_loads;
    char error[256];
    if (hv_clients_init(&w->haravan, configuration, hv_refresh_log, error, sizeof error) != 0) {
        log_message("error", "worker cannot prepare its Haravan clients: %s", error);
        return -1;
    }
    /* Connecting now is an optimisation; a database that is down is fine,
     * requests will reconnect. */
    if (db_connect(&w->database) != 0)
        log_message("warning", "worker starts without database: %s", w->database.error);
    return 0;
}

/* Ends a request. libfcgi closes a connection by shutting down its side
 * and waiting (up to 2 s) for nginx to close first, a lingering close, so
 * that input left unread cannot turn the close into a reset that loses
 * the reply. Once a request's input has been read to its end (every
 * delivery's has: the body is read whole), nothing more can arrive for
 * it, and the wait buys nothing but three system calls and a wake-up per
 * delivery; FCGX_Detach makes that close a plain close(). A request whose
 * input was not read to its end keeps the lingering close. */
static void finish(FCGX_Request *fcgi)
{
    if (fcgi->in != NULL && FCGX_HasSeenEOF(fcgi->in) == EOF)
        FCGX_Detach(fcgi);
    FCGX_Finish_r(fcgi);
    fcgi->detached = 0; /* the next request starts with libfcgi's default */
}

int worker_run(const config *configuration, counters *shared, int listen_fd)
{
    sigset_t terminate_set;
    worker w;
    listen_socket = listen_fd;
    if (install_signals(&terminate_set) != 0 || FCGX_Init() != 0 ||
        setup(&w, configuration, shared) != 0) {
        log_message("error", "worker cannot start: %s", strerror(errno));
        return 1;
    }
    sigprocmask(SIG_BLOCK, &terminate_set, NULL);
    FCGX_Request fcgi;
    if (FCGX_InitRequest(&fcgi, listen_fd, FCGI_FAIL_ACCEPT_ON_INTR) != 0) {
        log_message("error", "worker cannot start: FCGX_InitRequest failed");
        return 1;
    }
    int failures_in_a_row = 0;
    while (!stop_requested) {
        sigprocmask(SIG_UNBLOCK, &terminate_set, NULL);
        int accepted = stop_requested ? -1 : FCGX_Accept_r(&fcgi);
        sigprocmask(SIG_BLOCK, &terminate_set, NULL);
        if (accepted < 0) {
            if (stop_requested)
                break;
            /* A connection reset before we read it is a passing failure of
             * one request; a socket that keeps failing is not, and the
             * master will start a fresh worker. */
            if (++failures_in_a_row == MAX_ACCEPT_FAILURES) {
                log_message("error", "accept keeps failing; worker exits");
                break;
            }
            continue;
        }
        failures_in_a_row = 0;
        serve(&w, &fcgi);
        finish(&fcgi);
    }
    FCGX_Finish_r(&fcgi);
    secrets_free(&w.cache);
    subscriptions_cache_clear(&w.subscriptions);
    hv_clients_free(&w.haravan);
    db_close(&w.database);
    return stop_requested ? 0 : 1;
}
