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
#include "haravan/http.h"
#include "haravan/oidc.h"
#include "haravan/staff.h"
#include "haravan/token_refresh.h"
#include "refresh_log.h"

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

/* The Haravan clients of this process: for the token endpoint (refresh)
 * and the REST API (staff lookups). Returns 0, or -1 after logging. */
static int prepare_clients(const config *configuration, hv_http *http, hv_oidc *oidc,
                           hv_token_refresher *refresher, hv_staff_directory *staff)
{
    char error[256];
    if (hv_http_init(http, NULL, error, sizeof error) != 0) {
        log_message("error", "background processor cannot prepare its HTTP client: %s", error);
        return -1;
    }
    if (hv_oidc_init(oidc, http, configuration->accounts_url, error, sizeof error) != 0) {
        log_message("error", "background processor: %s", error);
        hv_http_free(http);
        return -1;
    }
    const unsigned char *key = configuration->has_master_key ? configuration->master_key : NULL;
    hv_token_refresher_init(refresher, oidc, key, refresh_log);
    if (hv_staff_directory_init(staff, configuration->api_url, NULL, key, error, sizeof error) !=
        0) {
        log_message("error", "background processor cannot reach Haravan's API: %s", error);
        hv_oidc_free(oidc);
        hv_http_free(http);
        return -1;
    }
    staff->refresher = refresher;
    return 0;
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
    hv_http http;
    hv_oidc oidc;
    hv_token_refresher refresher;
    hv_staff_directory staff;
    if (prepare_clients(configuration, &http, &oidc, &refresher, &staff) != 0) {
        db_close(&database);
        return 1;
    }
    crm_processor processor = {
        .database = &database, .staff_lookup = hv_staff_lookup, .staff_context = &staff};
    while (!stop_requested) {
        /* Tokens first: the events below may need the shop's token. A
         * database that is down shows in the processing below as well. */
        (void)hv_token_refresh_due_shops(&refresher, &database);
        int looked_at = crm_process_due(&processor, BATCH);
        if (looked_at == BATCH)
            continue; /* a backlog: keep going */
        struct timespec pause = {.tv_sec = 1, .tv_nsec = 0};
        nanosleep(&pause, NULL);
    }
    hv_staff_directory_free(&staff);
    hv_oidc_free(&oidc);
    hv_http_free(&http);
    db_close(&database);
    return 0;
}
