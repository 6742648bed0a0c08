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
#include "haravan/staff.h"

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
    hv_staff_directory staff;
    char error[256];
    if (hv_staff_directory_init(&staff, configuration->api_url, NULL,
                                configuration->has_master_key ? configuration->master_key : NULL,
                                error, sizeof error) != 0) {
        log_message("error", "background processor cannot reach Haravan's API: %s", error);
        db_close(&database);
        return 1;
    }
    crm_processor processor = {
        .database = &database, .staff_lookup = hv_staff_lookup, .staff_context = &staff};
    while (!stop_requested) {
        int looked_at = crm_process_due(&processor, BATCH);
        if (looked_at == BATCH)
            continue; /* a backlog: keep going */
        struct timespec pause = {.tv_sec = 1, .tv_nsec = 0};
        nanosleep(&pause, NULL);
    }
    hv_staff_directory_free(&staff);
    db_close(&database);
    return 0;
}
