/*
 * processing: a processor's loop: wait for a notification, claim, process,
 * refresh tokens. See processing.h.
 */
#define _GNU_SOURCE /* ppoll */
#include "processing.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/db.h"
#include "core/log.h"
#include "crm/processor.h"
#include "haravan/catchup.h"
#include "haravan/clients.h"
#include "haravan/refresh_log.h"
#include "haravan/uninstall.h"
#include "inbox/claim.h"
#include "inbox/inbox.h"

#define BATCH 100
/* Its own class: no resource's hash can ever be mistaken for it. */
#define REFRESH_DUTY_LOCK     "SELECT pg_try_advisory_lock(" CRM_PROCESSOR_DUTY_CLASS ", 0)"
#define REFRESH_EVERY_SECONDS 1
/* The catch-up duty (imports queued by POST /api/haravan/backfill, and
 * the reconciliation): one holder across hosts, like the refresh duty,
 * with a lock of its own so that the two may sit with two processors. */
#define CATCHUP_DUTY_LOCK "SELECT pg_try_advisory_lock(" CRM_PROCESSOR_DUTY_CLASS ", 1)"
/* How soon an idle catch-up duty looks for due jobs again. */
#define CATCHUP_IDLE_SECONDS            1.0
#define PROCESSING_BUSY_RECHECK_SECONDS "1"

static volatile sig_atomic_t stop_requested;

typedef struct processing {
    db database;
    hv_clients haravan;
    crm_processor processor;
    int fresh_session;    /* set by every (re)connection: sweep at once */
    PGconn *duty_session; /* the session holding the refresh duty, or NULL */
    int duty_backend;     /* and its backend's pid (a new PGconn may reuse the address) */
    time_t refreshed_at;
    hv_catchup_runner catchup;
    PGconn *catchup_session; /* the session holding the catch-up duty, or NULL */
    int catchup_backend;
    double catchup_at; /* clock_monotonic_seconds of the next catch-up step */
    /* When to look again although no notification came
     * (clock_monotonic_seconds; 0: no such promise pending): INBOX_WAKE_MS
     * + INBOX_WAKE_MARGIN_MS after the last notification, for the events
     * the workers stored without announcing (inbox/inbox.h, "Waking"). */
    double look_again_at;
} processing;

static void on_terminate(int signal_number)
{
    (void)signal_number;
    stop_requested = 1;
}

/* SIGTERM and SIGINT are blocked except inside ppoll (`waiting`). */
static int install_signals(sigset_t *waiting)
{
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = on_terminate;
    sigemptyset(&action.sa_mask);
    if (sigaction(SIGTERM, &action, NULL) != 0 || sigaction(SIGINT, &action, NULL) != 0)
        return -1;
    action.sa_handler = SIG_IGN;
    if (sigaction(SIGPIPE, &action, NULL) != 0 || sigaction(SIGHUP, &action, NULL) != 0)
        return -1;
    sigset_t terminate;
    sigemptyset(&terminate);
    sigaddset(&terminate, SIGTERM);
    sigaddset(&terminate, SIGINT);
    if (sigprocmask(SIG_BLOCK, &terminate, waiting) != 0)
        return -1;
    sigdelset(waiting, SIGTERM);
    sigdelset(waiting, SIGINT);
    return prctl(PR_SET_PDEATHSIG, SIGTERM);
}

/* Every new session is readied for processing
 * (crm_processor_prepare_session) and listens before it looks, so that no
 * event committed after the look goes unannounced. */
static int session_on_connect(db *database, void *context)
{
    processing *p = context;
    p->fresh_session = 1;
    if (crm_processor_prepare_session(database) != 0)
        return -1;
    return db_command(database, "LISTEN " INBOX_CHANNEL);
}

/* The refresh duty: taken when free (its holder died, or nobody had it),
 * then kept for the life of the session. */
static void refresh_tokens_if_on_duty(processing *p)
{
    time_t now = time(NULL);
    if (now - p->refreshed_at < REFRESH_EVERY_SECONDS)
        return;
    p->refreshed_at = now;
    if (p->duty_session != NULL && (p->duty_session != p->database.connection ||
                                    PQbackendPID(p->database.connection) != p->duty_backend))
        p->duty_session = NULL; /* the session, and its lock, are gone */
    if (p->duty_session == NULL) {
        PGresult *result = db_query(&p->database, DB_ONCE, REFRESH_DUTY_LOCK, 0, NULL, NULL, NULL);
        if (result == NULL)
            return;
        if (PQgetvalue(result, 0, 0)[0] == 't') {
            p->duty_session = p->database.connection;
            p->duty_backend = PQbackendPID(p->database.connection);
        }
        PQclear(result);
    }
    if (p->duty_session != NULL)
        (void)hv_token_refresh_due_shops(&p->haravan.refresher, &p->database);
}

/* Takes the catch-up duty when free. Returns 1 when this session holds it. */
static int on_catchup_duty(processing *p)
{
    if (p->catchup_session != NULL && (p->catchup_session != p->database.connection ||
                                       PQbackendPID(p->database.connection) != p->catchup_backend))
        p->catchup_session = NULL; /* the session, and its lock, are gone */
    if (p->catchup_session != NULL)
        return 1;
    PGresult *result = db_query(&p->database, DB_ONCE, CATCHUP_DUTY_LOCK, 0, NULL, NULL, NULL);
    if (result == NULL)
        return 0;
    if (PQgetvalue(result, 0, 0)[0] == 't') {
        p->catchup_session = p->database.connection;
        p->catchup_backend = PQbackendPID(p->database.connection);
    }
    PQclear(result);
    return p->catchup_session != NULL;
}

/* One step of the first due job that no other runner (haravan-ctl
 * backfill) holds. Returns the seconds until the next step. */
static double step_one_job(processing *p, const char *org_id, const char *name)
{
    if (hv_catchup_lock(&p->database, org_id, name) != 1)
        return -1; /* another runner has it */
    hv_catchup_job job;
    long wait_ms = 0;
    hv_catchup_outcome outcome = HV_CATCHUP_FAILED;
    if (hv_catchup_load(&p->database, org_id, name, &job) == 1)
        outcome = hv_catchup_step(&p->catchup, &p->database, &job, &wait_ms);
    hv_catchup_unlock(&p->database, org_id, name);
    if (outcome == HV_CATCHUP_FAILED)
        log_message("error", "catch-up %s of shop %s: %s", name, org_id, p->database.error);
    if (outcome == HV_CATCHUP_WAIT)
        return wait_ms / 1000.0;
    return outcome == HV_CATCHUP_FAILED ? HV_CATCHUP_RETRY_MS / 1000.0 : 0;
}

/* The catch-up duty: one page of one due job per pass, so events keep
 * being processed between pages. */
static void catch_up_if_on_duty(processing *p)
{
    double now = clock_monotonic_seconds();
    if (now < p->catchup_at)
        return;
    if (!on_catchup_duty(p)) {
        p->catchup_at = now + CATCHUP_IDLE_SECONDS;
        return;
    }
    buffer due = BUFFER_INIT;
    double next = CATCHUP_IDLE_SECONDS;
    if (hv_catchup_due(&p->database, p->catchup.reconcile_seconds, &due) == 0) {
        for (char *line = (char *)buffer_text(&due); *line != '\0';) {
            char *tab = strchr(line, '\t');
            char *end = strchr(line, '\n');
            if (tab == NULL || end == NULL)
                break;
            *tab = '\0';
            *end = '\0';
            double wait = step_one_job(p, line, tab + 1);
            line = end + 1;
            if (wait >= 0) {
                next = wait;
                break;
            }
        }
    }
    buffer_free(&due);
    p->catchup_at = clock_monotonic_seconds() + next;
}

/* Drains the notifications libpq already holds. Returns how many; when
 * any, the look they promise (look_again_at) moves to after the last. */
static int take_notifications(processing *p, PGconn *connection)
{
    int count = 0;
    if (PQconsumeInput(connection) == 0)
        return 1; /* broken: the next query reconnects and sweeps */
    for (PGnotify *n = PQnotifies(connection); n != NULL; n = PQnotifies(connection)) {
        count++;
        PQfreemem(n);
    }
    if (count > 0)
        p->look_again_at =
            clock_monotonic_seconds() + (INBOX_WAKE_MS + INBOX_WAKE_MARGIN_MS) / 1000.0;
    return count;
}

/* Seconds until the promised look (negative: due), or `otherwise` when no
 * look is promised. */
static double seconds_to_promised_look(const processing *p, double otherwise)
{
    if (p->look_again_at == 0)
        return otherwise;
    double seconds = p->look_again_at - clock_monotonic_seconds();
    return seconds < otherwise ? seconds : otherwise;
}

/* Seconds until the next look: soon (PROCESSING_BUSY_RECHECK_SECONDS) when
 * something due was left because its resource was busy (its holder loops
 * on when done, but a holder that died, or a session on another host, does
 * not tell us), else when the next pending event comes due (a retry, a
 * replay's lease), at most the sweep period. */
static double seconds_to_next_look(db *database)
{
    double seconds = PROCESSING_SWEEP_SECONDS;
    if (inbox_seconds_to_next_due(database, PROCESSING_BUSY_RECHECK_SECONDS, &seconds) < 0)
        return 1; /* the database is away: try again soon */
    if (seconds > PROCESSING_SWEEP_SECONDS)
        seconds = PROCESSING_SWEEP_SECONDS;
    return seconds < 0.01 ? 0.01 : seconds;
}

/* Sleeps until a notification, the next due time, the promised look, or
 * SIGTERM. */
static void wait_for_work(processing *p, const sigset_t *waiting)
{
    PGconn *connection = p->database.connection;
    if (connection != NULL && take_notifications(p, connection) > 0)
        return;
    double seconds = connection != NULL ? seconds_to_next_look(&p->database) : 1;
    connection = p->database.connection;
    if (connection != NULL && take_notifications(p, connection) > 0)
        return;
    seconds = seconds_to_promised_look(p, seconds);
    /* The refresh duty is tried (or done) once a second, idle or not: when
     * its holder dies, another processor takes it over within a second. */
    double to_duty = (double)(p->refreshed_at + REFRESH_EVERY_SECONDS - time(NULL));
    if (to_duty < seconds)
        seconds = to_duty > 0.01 ? to_duty : 0.01;
    double to_catchup = p->catchup_at - clock_monotonic_seconds();
    if (to_catchup < seconds)
        seconds = to_catchup > 0.01 ? to_catchup : 0.01;
    if (seconds <= 0) {
        p->look_again_at = 0; /* kept: look now */
        return;
    }
    struct timespec timeout = {.tv_sec = (time_t)seconds,
                               .tv_nsec = (long)((seconds - (double)(time_t)seconds) * 1e9)};
    struct pollfd socket = {.fd = connection != NULL ? PQsocket(connection) : -1, .events = POLLIN};
    if (stop_requested)
        return;
    (void)ppoll(&socket, socket.fd >= 0 ? 1 : 0, &timeout, waiting);
    if (seconds_to_promised_look(p, 1) <= 0)
        p->look_again_at = 0; /* kept by the look that follows */
    if (connection != NULL && connection == p->database.connection)
        (void)take_notifications(p, connection);
}

/* Which host's processor a session is, for pg_stat_activity and for the
 * test of several hosts on one database (test_hosts.c): its master's pid
 * and the host's name, known without any setting. PostgreSQL keeps 63
 * bytes of it; the pid comes first so a long host name cannot push it out. */
static const char *application_name(void)
{
    static char name[64];
    char host[64] = "";
    if (gethostname(host, sizeof host) != 0)
        host[0] = '\0';
    host[sizeof host - 1] = '\0';
    /* Cut at 63 bytes on purpose, as PostgreSQL would. */
    if (snprintf(name, sizeof name, "haravan-fcgi processor %ld@%s", (long)getppid(), host) < 0)
        return "haravan-fcgi processor";
    return name;
}

static int setup(processing *p, const config *configuration)
{
    memset(p, 0, sizeof *p);
    if (db_init(&p->database, configuration->database, application_name()) != 0)
        return -1;
    p->database.on_connect = session_on_connect;
    p->database.on_connect_context = p;
    char error[256];
    if (hv_clients_init(&p->haravan, configuration, hv_refresh_log, error, sizeof error) != 0) {
        log_message("error", "processor cannot prepare its Haravan clients: %s", error);
        db_close(&p->database);
        return -1;
    }
    if (hv_catchup_runner_init(&p->catchup, configuration->api_url,
                               configuration->has_master_key ? configuration->master_key : NULL,
                               configuration->reconcile_seconds, error, sizeof error) != 0) {
        log_message("error", "processor cannot prepare its catch-up client: %s", error);
        hv_clients_free(&p->haravan);
        db_close(&p->database);
        return -1;
    }
    p->catchup.refresher = &p->haravan.refresher;
    p->processor.database = &p->database;
    p->processor.staff_lookup = hv_staff_lookup;
    p->processor.staff_context = &p->haravan.staff;
    p->processor.shop_topics = hv_shop_topics;
    p->processor.shop_event = hv_uninstall_apply;
    if (db_connect(&p->database) != 0)
        log_message("warning", "processor starts without database: %s", p->database.error);
    return 0;
}

int processing_run(const config *configuration, counters *shared)
{
    (void)shared;
    sigset_t waiting;
    static processing p; /* one per process */
    /* Its own name in ps and /proc (workers keep haravan-fcgi's). */
    (void)prctl(PR_SET_NAME, "hv-processor");
    if (install_signals(&waiting) != 0 || setup(&p, configuration) != 0) {
        log_message("error", "processor cannot start: %s", strerror(errno));
        return 1;
    }
    while (!stop_requested) {
        p.fresh_session = 0;
        refresh_tokens_if_on_duty(&p);
        catch_up_if_on_duty(&p);
        int processed = crm_process_due(&p.processor, BATCH);
        if (processed < 0)
            log_message("error", "processing: %s", p.database.error);
        /* Work done may have let a newer version of its resource through;
         * a new session may have missed notifications: look again. */
        if (processed > 0 || p.fresh_session || p.catchup_at <= clock_monotonic_seconds())
            continue;
        wait_for_work(&p, &waiting);
    }
    hv_catchup_runner_free(&p.catchup);
    hv_clients_free(&p.haravan);
    db_close(&p.database);
    return 0;
}
