/*
 * process: the processing driver of tests/bench/processing.sh (issue #3,
 * docs/PERFORMANCE.md "Processing").
 *
 * It runs the product's own processing code (lib/crm/processor.c through
 * libharavan.a) against a backlog already stored in hv_events, with the
 * product's staff lookup (haravan/staff.h) as the executor hook, exactly as
 * haravan-fcgi's processors set it up. Nothing of
 * the processing is reimplemented here: this file only decides which
 * process handles which event, and times it.
 *
 *   process workers --processes N --first ID --last ID
 *       N processes; process k calls crm_process_event() on every event id
 *       in [first, last] with (id - first) % N == k, oldest first. That is
 *       what the workers did before issue #10 (each processed the event it
 *       had stored), at the concurrency of N processes.
 *   process background
 *       one process calling crm_process_due(processor, 100) until it finds
 *       nothing due: what a processor (cgi/haravan-fcgi/processing.c) does with a backlog.
 *   process lookup --customers N --seconds S [--batch B]
 *       the dedupe step alone: crm_customer_upsert() for existing customers
 *       (customer k has phone 039xxxxxxx and email customerK@mail.bench.vn,
 *       see processing-data.sql), alternately by phone and by email, chosen
 *       at random, with nothing new to fill, B calls per transaction, rolled
 *       back (nothing changes: the point is the cost of finding the person).
 *
 * The configuration is read like haravan-ctl's (HARAVAN_CONFIG or --config:
 * HARAVAN_DB, HARAVAN_API_URL, the master key). The staff lookup must be
 * answered from hv_staff's cache (processing.sh seeds it): a call to the API
 * would show as a note on the event, and processing.sh checks there is none.
 *
 * Output: one line of name=value pairs on standard output (events, done,
 * other outcomes, seconds, rate); exit status 0 when every event was
 * processed and every process succeeded, 1 otherwise.
 */
#define _POSIX_C_SOURCE 200809L
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/config.h"
#include "core/db.h"
#include "crm/customer.h"
#include "crm/processor.h"
#include "haravan/api.h"
#include "haravan/staff.h"

#define BACKGROUND_BATCH 100 /* cgi/haravan-fcgi/processing.c's BATCH */

typedef struct options {
    const char *config_path;
    const char *mode;
    int processes;
    long long first, last;
    long long customers;
    double seconds;
    int batch;
    const char *org_id;
} options;

/* What one process did, sent to the parent through a pipe. */
typedef struct tally {
    long long outcomes[CRM_OUTCOME_WAITING + 1];
    long long failures; /* crm_process_event returned -1 */
    long long lookups;
    long long created; /* lookups that did not find the person: a data error */
} tally;

static double now_seconds(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)now.tv_sec + (double)now.tv_nsec / 1e9;
}

static int usage(void)
{
    fprintf(stderr, "usage: process [--config FILE] workers --processes N --first ID --last ID\n"
                    "       process [--config FILE] background\n"
                    "       process [--config FILE] lookup --customers N --seconds S [--batch B]"
                    " [--org ORG]\n");
    return 1;
}

/* ---------------------------------------------------------- processing */

typedef struct session {
    config configuration;
    db database;
    hv_staff_directory staff;
    crm_processor processor;
} session;

static int prepare_session(db *database, void *context)
{
    (void)context;
    return crm_processor_prepare_session(database);
}

/* The processor as the workers set it up (worker.c): the staff directory
 * as executor lookup. No token refresher: the lookups are answered from
 * the cache, and a refresh would be a network call the run must not make. */
static int session_open(session *s, const char *config_path)
{
    char error[512];
    memset(s, 0, sizeof *s);
    if (config_load(&s->configuration, config_path, error, sizeof error) != 0) {
        fprintf(stderr, "process: configuration: %s\n", error);
        return -1;
    }
    if (db_init(&s->database, s->configuration.database, "bench-process") != 0) {
        fprintf(stderr, "process: out of memory\n");
        return -1;
    }
    /* As haravan-fcgi's processors ready each session. */
    s->database.on_connect = prepare_session;
    if (db_connect(&s->database) != 0) {
        fprintf(stderr, "process: %s\n", s->database.error);
        return -1;
    }
    const unsigned char *key = s->configuration.has_master_key ? s->configuration.master_key : NULL;
    if (hv_staff_directory_init(&s->staff, s->configuration.api_url, NULL, key, error,
                                sizeof error) != 0) {
        fprintf(stderr, "process: staff directory: %s\n", error);
        return -1;
    }
    s->processor.database = &s->database;
    s->processor.staff_lookup = hv_staff_lookup;
    s->processor.staff_context = &s->staff;
    return 0;
}

static void session_close(session *s)
{
    hv_staff_directory_free(&s->staff);
    db_close(&s->database);
    config_free(&s->configuration);
}

static void run_worker_share(const options *o, int index, tally *t)
{
    session s;
    if (session_open(&s, o->config_path) != 0) {
        t->failures++;
        return;
    }
    for (long long id = o->first + index; id <= o->last; id += o->processes) {
        crm_outcome outcome = CRM_OUTCOME_SKIPPED;
        if (crm_process_event(&s.processor, id, &outcome) != 0) {
            fprintf(stderr, "process: event %lld: %s\n", id, s.database.error);
            t->failures++;
            continue;
        }
        t->outcomes[outcome]++;
    }
    session_close(&s);
}

/* crm_process_due reports how many it processed, not their outcomes: the
 * script reads those from hv_events afterwards. */
static void run_background(const options *o, tally *t)
{
    session s;
    if (session_open(&s, o->config_path) != 0) {
        t->failures++;
        return;
    }
    for (;;) {
        int looked_at = crm_process_due(&s.processor, BACKGROUND_BATCH); /* processed */
        if (looked_at < 0) {
            fprintf(stderr, "process: %s\n", s.database.error);
            t->failures++;
            break;
        }
        t->outcomes[CRM_OUTCOME_DONE] += looked_at;
        if (looked_at < BACKGROUND_BATCH)
            break;
    }
    session_close(&s);
}

/* ---------------------------------------------------------- lookups */

static void run_lookups(const options *o, tally *t)
{
    session s;
    if (session_open(&s, o->config_path) != 0) {
        t->failures++;
        return;
    }
    unsigned int seed = (unsigned int)getpid() ^ (unsigned int)time(NULL);
    double end = now_seconds() + o->seconds;
    while (now_seconds() < end) {
        if (db_command(&s.database, "BEGIN") != 0) {
            t->failures++;
            break;
        }
        for (int i = 0; i < o->batch; i++) {
            /* 1..customers; below 10^7 (parse), so 039 + 7 digits. */
            long long k = 1 + (long long)(((double)rand_r(&seed) / ((double)RAND_MAX + 1.0)) *
                                          (double)o->customers);
            crm_customer_input input;
            memset(&input, 0, sizeof input);
            input.org_id = o->org_id;
            /* The stored person's own values and nothing new: the fill that
             * follows a match changes nothing, as for a repeat customer
             * whose record is complete. */
            if (rand_r(&seed) & 1)
                snprintf(input.phone, sizeof input.phone, "039%07d", (int)k);
            else
                snprintf(input.email, sizeof input.email, "customer%lld@mail.bench.vn", k);
            crm_customer_result result;
            if (crm_customer_upsert(&s.database, &input, 0, &result) != 0) {
                fprintf(stderr, "process: lookup: %s\n", s.database.error);
                t->failures++;
                break;
            }
            t->lookups++;
            if (result.created || result.changed)
                t->created++;
        }
        if (db_command(&s.database, "ROLLBACK") != 0 || t->failures > 0) {
            t->failures++;
            break;
        }
    }
    session_close(&s);
}

/* ---------------------------------------------------------- processes */

/* Runs `processes` children, each doing its share, and sums their tallies. */
static int run_children(const options *o, int processes, tally *total)
{
    int pipes[64][2];
    pid_t children[64];
    memset(total, 0, sizeof *total);
    for (int i = 0; i < processes; i++) {
        if (pipe(pipes[i]) != 0)
            return -1;
        children[i] = fork();
        if (children[i] < 0)
            return -1;
        if (children[i] == 0) {
            close(pipes[i][0]);
            tally mine;
            memset(&mine, 0, sizeof mine);
            if (strcmp(o->mode, "workers") == 0)
                run_worker_share(o, i, &mine);
            else if (strcmp(o->mode, "background") == 0)
                run_background(o, &mine);
            else
                run_lookups(o, &mine);
            ssize_t written = write(pipes[i][1], &mine, sizeof mine);
            _exit(written == (ssize_t)sizeof mine ? 0 : 1);
        }
        close(pipes[i][1]);
    }
    int status = 0;
    for (int i = 0; i < processes; i++) {
        tally theirs;
        ssize_t got = read(pipes[i][0], &theirs, sizeof theirs);
        close(pipes[i][0]);
        int child_status = 0;
        if (waitpid(children[i], &child_status, 0) < 0 || !WIFEXITED(child_status) ||
            WEXITSTATUS(child_status) != 0 || got != (ssize_t)sizeof theirs) {
            status = -1;
            continue;
        }
        for (int outcome = 0; outcome <= CRM_OUTCOME_WAITING; outcome++)
            total->outcomes[outcome] += theirs.outcomes[outcome];
        total->failures += theirs.failures;
        total->lookups += theirs.lookups;
        total->created += theirs.created;
    }
    return status;
}

static int parse(int argc, char **argv, options *o)
{
    static const struct option long_options[] = {{"config", required_argument, NULL, 'c'},
                                                 {"processes", required_argument, NULL, 'p'},
                                                 {"first", required_argument, NULL, 'f'},
                                                 {"last", required_argument, NULL, 'l'},
                                                 {"customers", required_argument, NULL, 'n'},
                                                 {"seconds", required_argument, NULL, 's'},
                                                 {"batch", required_argument, NULL, 'b'},
                                                 {"org", required_argument, NULL, 'o'},
                                                 {NULL, 0, NULL, 0}};
    memset(o, 0, sizeof *o);
    o->processes = 1;
    o->batch = 100;
    o->org_id = "1000";
    /* The mode first, options after it. */
    if (argc < 2)
        return -1;
    int first_option = 1;
    if (strcmp(argv[1], "--config") == 0 && argc > 3) {
        o->config_path = argv[2];
        first_option = 3;
    }
    o->mode = argv[first_option];
    optind = first_option + 1;
    int c;
    while ((c = getopt_long(argc, argv, "", long_options, NULL)) != -1) {
        switch (c) {
        case 'c':
            o->config_path = optarg;
            break;
        case 'p':
            o->processes = atoi(optarg);
            break;
        case 'f':
            o->first = atoll(optarg);
            break;
        case 'l':
            o->last = atoll(optarg);
            break;
        case 'n':
            o->customers = atoll(optarg);
            break;
        case 's':
            o->seconds = atof(optarg);
            break;
        case 'b':
            o->batch = atoi(optarg);
            break;
        case 'o':
            o->org_id = optarg;
            break;
        default:
            return -1;
        }
    }
    if (o->processes < 1 || o->processes > 64 || o->batch < 1)
        return -1;
    if (strcmp(o->mode, "workers") == 0)
        return o->first > 0 && o->last >= o->first ? 0 : -1;
    if (strcmp(o->mode, "background") == 0)
        return o->processes == 1 ? 0 : -1;
    if (strcmp(o->mode, "lookup") == 0)
        return o->customers > 0 && o->customers < 10000000 && o->seconds > 0 ? 0 : -1;
    return -1;
}

int main(int argc, char **argv)
{
    options o;
    if (parse(argc, argv, &o) != 0)
        return usage();
    if (hv_api_global_init() != 0) {
        fprintf(stderr, "process: cannot initialise libcurl\n");
        return 1;
    }
    tally total;
    double started = now_seconds();
    int status = run_children(&o, o.processes, &total);
    double seconds = now_seconds() - started;
    hv_api_global_cleanup();
    if (strcmp(o.mode, "lookup") == 0) {
        printf("mode=lookup processes=%d lookups=%lld not_found=%lld failures=%lld seconds=%.3f"
               " rate=%.1f us_per_lookup=%.2f\n",
               o.processes, total.lookups, total.created, total.failures, seconds,
               (double)total.lookups / seconds,
               total.lookups > 0 ? 1e6 * seconds * o.processes / (double)total.lookups : 0.0);
        return status == 0 && total.failures == 0 && total.created == 0 && total.lookups > 0 ? 0
                                                                                             : 1;
    }
    long long events = 0;
    for (int outcome = 0; outcome <= CRM_OUTCOME_WAITING; outcome++)
        events += total.outcomes[outcome];
    printf("mode=%s processes=%d events=%lld done=%lld ignored=%lld skipped=%lld retry=%lld"
           " dead=%lld failures=%lld seconds=%.3f rate=%.1f\n",
           o.mode, o.processes, events, total.outcomes[CRM_OUTCOME_DONE],
           total.outcomes[CRM_OUTCOME_IGNORED], total.outcomes[CRM_OUTCOME_SKIPPED],
           total.outcomes[CRM_OUTCOME_RETRY], total.outcomes[CRM_OUTCOME_DEAD], total.failures,
           seconds, (double)events / seconds);
    return status == 0 && total.failures == 0 ? 0 : 1;
}
