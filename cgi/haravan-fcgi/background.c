/*
 * background: the retry and catch-up loop. See background.h.
 */
#define _POSIX_C_SOURCE 200809L
#include "background.h"

#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>

#include "core/db.h"
#include "core/log.h"
#include "crm/processor.h"
#include "haravan/clients.h"
#include "haravan/refresh_log.h"

#define BATCH 100

static volatile sig_atomic_t stop_requested;

static void on_terminate(int signal_number)
{
    (void)signal_number;
    stop_requested = 1;
}

static int install_signals(void)
{
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = on_terminate; /* no SA_RESTART: the sleep must end */
    sigemptyset(&action.sa_mask);
    if (sigaction(SIGTERM, &action, NULL) != 0 || sigaction(SIGINT, &action, NULL) != 0)
        return -1;
    action.sa_handler = SIG_IGN;
    if (sigaction(SIGPIPE, &action, NULL) != 0 || sigaction(SIGHUP, &action, NULL) != 0)
        return -1;
    return prctl(PR_SET_PDEATHSIG, SIGTERM);
}

int background_run(const config *configuration, counters *shared)
{
    (void)shared;
    db database;
    if (install_signals() != 0 ||
        db_init(&database, configuration->database, "haravan-fcgi background") != 0) {
        log_message("error", "background processor cannot start");
        return 1;
    }
    hv_clients haravan;
    char error[256];
    if (hv_clients_init(&haravan, configuration, hv_refresh_log, error, sizeof error) != 0) {
        log_message("error", "background processor cannot prepare its Haravan clients: %s", error);
        db_close(&database);
        return 1;
    }
    crm_processor processor = {
        .database = &database, .staff_lookup = hv_staff_lookup, .staff_context = &haravan.staff};
    while (!stop_requested) {
        /* Tokens first: the events below may need the shop's token. A
         * database that is down shows in the processing below as well. */
        (void)hv_token_refresh_due_shops(&haravan.refresher, &database);
        int looked_at = crm_process_due(&processor, BATCH);
        if (looked_at == BATCH)
            continue; /* a backlog: keep going */
        struct timespec pause = {.tv_sec = 1, .tv_nsec = 0};
        nanosleep(&pause, NULL);
    }
    hv_clients_free(&haravan);
    db_close(&database);
    return 0;
}
