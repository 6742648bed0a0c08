/*
 * backfill_command: `haravan-ctl backfill [--shop ORG] [--since DATE]
 * [--customers] [--orders]`, the historical import in the foreground
 * (haravan/catchup.h is the engine; docs/CONNECT.md, "Catching up").
 *
 * Customers first, then orders (both unless one is named). Each job is
 * recorded in hv_catchup before its first page, so a run stopped in any
 * way (Ctrl-C, kill -9, a reboot) is resumed by running the command
 * again: its checkpoint is in the database, committed with each page.
 * One runner per job: the job's advisory lock is held for the whole run;
 * a second command, or a processor running the job for the settings
 * page, makes this one say so and exit 1. The processors leave the jobs
 * this command records to it (HV_CATCHUP_BY_CTL).
 *
 * Progress: on a terminal, a bar redrawn in place (done / total from
 * count.json, records a second, time left); otherwise one line every
 * PROGRESS_LINE_SECONDS, for logs.
 *
 * Exit status: 0 caught up, 1 stopped (interrupted, no token, another
 * runner, a failure), 2 usage.
 */
#define _POSIX_C_SOURCE 200809L
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "commands.h"
#include "core/clock.h"
#include "haravan/api.h"
#include "haravan/catchup.h"
#include "haravan/clients.h"
#include "haravan/refresh_log.h"
#include "haravan/shop.h"

#define PROGRESS_LINE_SECONDS 5.0
#define BAR_WIDTH             30
#define MAX_DATABASE_FAILURES 5

static volatile sig_atomic_t interrupted;

static void on_interrupt(int signal_number)
{
    (void)signal_number;
    interrupted = 1;
}

typedef struct backfill_options {
    const char *shop;
    const char *since;
    int customers;
    int orders;
} backfill_options;

static int usage(void)
{
    fprintf(stderr, "usage: haravan-ctl backfill [--shop ORG] [--since YYYY-MM-DD] [--customers] "
                    "[--orders]\n");
    return 2;
}

static int parse_options(int argc, char **argv, backfill_options *options)
{
    memset(options, 0, sizeof *options);
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--shop") == 0 && i + 1 < argc)
            options->shop = argv[++i];
        else if (strcmp(argv[i], "--since") == 0 && i + 1 < argc)
            options->since = argv[++i];
        else if (strcmp(argv[i], "--customers") == 0)
            options->customers = 1;
        else if (strcmp(argv[i], "--orders") == 0)
            options->orders = 1;
        else
            return -1;
    }
    if (!options->customers && !options->orders)
        options->customers = options->orders = 1;
    return options->since == NULL || hv_catchup_since_valid(options->since) ? 0 : -1;
}

typedef struct progress {
    int terminal;
    double started;      /* clock_monotonic_seconds */
    long long done_then; /* done when this run started */
    double printed;      /* when the last line was printed */
} progress;

static void show(progress *p, const hv_catchup_job *job, int final)
{
    double now = clock_monotonic_seconds();
    if (!final && !p->terminal && now - p->printed < PROGRESS_LINE_SECONDS)
        return;
    p->printed = now;
    double elapsed = now - p->started;
    double rate = elapsed > 0 ? (double)(job->done - p->done_then) / elapsed : 0;
    long long total = job->total > job->done ? job->total : job->done;
    double share = total > 0 ? (double)job->done / (double)total : 1;
    double left = rate > 0 ? (double)(total - job->done) / rate : 0;
    if (p->terminal) {
        char bar[BAR_WIDTH + 1];
        int filled = (int)(share * BAR_WIDTH);
        for (int i = 0; i < BAR_WIDTH; i++)
            bar[i] = i < filled ? '#' : '.';
        bar[BAR_WIDTH] = '\0';
        fprintf(stderr, "\r%-9s [%s] %lld/%lld %3.0f%% %6.1f records/s, %4.0f s left  ", job->kind,
                bar, job->done, total, share * 100, rate, left);
        if (final)
            fprintf(stderr, "\n");
    } else {
        fprintf(stderr, "backfill %s: %lld/%lld (%.0f%%), %.1f records/s, %.0f s left\n", job->kind,
                job->done, total, share * 100, rate, left);
    }
    fflush(stderr);
}

/* Sleeps `milliseconds`, or less when interrupted. */
static void pause_ms(long milliseconds)
{
    struct timespec wait = {.tv_sec = milliseconds / 1000,
                            .tv_nsec = (milliseconds % 1000) * 1000000L};
    (void)nanosleep(&wait, NULL);
}

/* Runs one job to its end. Returns 0 caught up, 1 otherwise. */
static int run_job(ctl_context *context, hv_catchup_runner *runner, const char *org_id,
                   const char *name)
{
    db *database = &context->database;
    progress p = {.terminal = isatty(STDERR_FILENO), .started = clock_monotonic_seconds()};
    hv_catchup_job job;
    int failures = 0, first = 1;
    while (!interrupted) {
        if (hv_catchup_load(database, org_id, name, &job) != 1) {
            fprintf(stderr, "haravan-ctl: cannot read the %s job: %s\n", name, database->error);
            return 1;
        }
        if (first)
            p.done_then = job.done;
        first = 0;
        long wait_ms = 0;
        hv_catchup_outcome outcome = hv_catchup_step(runner, database, &job, &wait_ms);
        if (outcome == HV_CATCHUP_FINISHED) {
            show(&p, &job, 1);
            printf("%s: caught up: %lld records listed, %lld new events, %lld calls\n", name,
                   job.done, job.stored, job.calls);
            return 0;
        }
        if (outcome == HV_CATCHUP_STOPPED) {
            show(&p, &job, 1);
            fprintf(stderr,
                    "haravan-ctl: %s of shop %s stopped: the shop has no token "
                    "(disconnected, or it needs reconnecting): connect it again, then run "
                    "this again\n",
                    name, org_id);
            return 1;
        }
        if (outcome == HV_CATCHUP_FAILED) {
            fprintf(stderr, "haravan-ctl: %s: %s\n", name, database->error);
            if (++failures >= MAX_DATABASE_FAILURES)
                return 1;
            pause_ms(HV_CATCHUP_RETRY_MS);
            continue;
        }
        failures = 0;
        show(&p, &job, 0);
        if (outcome == HV_CATCHUP_WAIT)
            pause_ms(wait_ms);
    }
    show(&p, &job, 1);
    (void)hv_catchup_set_state(database, &job, "stopped",
                               "interrupted; run the backfill again to resume");
    fprintf(stderr, "haravan-ctl: interrupted; run the same command again to resume\n");
    return 1;
}

/* Records, locks and runs the import of `kind`. */
static int backfill_kind(ctl_context *context, hv_catchup_runner *runner, const char *org_id,
                         const char *kind, const char *since)
{
    char name[32];
    snprintf(name, sizeof name, "%s/import", kind);
    int locked = hv_catchup_lock(&context->database, org_id, name);
    if (locked != 1) {
        if (locked == 0)
            fprintf(stderr,
                    "haravan-ctl: the %s of shop %s is being run by another runner "
                    "(another haravan-ctl backfill, or a processor for the settings page); "
                    "wait for it to finish\n",
                    name, org_id);
        else
            fprintf(stderr, "haravan-ctl: %s\n", context->database.error);
        return 1;
    }
    int resumed = 0;
    if (hv_catchup_request(&context->database, org_id, kind, since, HV_CATCHUP_BY_CTL, &resumed) !=
        0) {
        fprintf(stderr, "haravan-ctl: cannot record the %s: %s\n", name, context->database.error);
        hv_catchup_unlock(&context->database, org_id, name);
        return 1;
    }
    printf("%s of shop %s: %s\n", name, org_id,
           resumed ? "resuming at its checkpoint" : "starting");
    fflush(stdout);
    int status = run_job(context, runner, org_id, name);
    hv_catchup_unlock(&context->database, org_id, name);
    return status;
}

static int install_interrupt(void)
{
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = on_interrupt;
    sigemptyset(&action.sa_mask);
    return sigaction(SIGINT, &action, NULL) == 0 && sigaction(SIGTERM, &action, NULL) == 0 ? 0 : -1;
}

static int backfill_shop(ctl_context *context, hv_clients *haravan, const backfill_options *options,
                         const char *org_id)
{
    hv_catchup_runner runner;
    char error[256] = "";
    const config *c = &context->configuration;
    if (hv_catchup_runner_init(&runner, c->api_url, c->has_master_key ? c->master_key : NULL,
                               c->reconcile_seconds, error, sizeof error) != 0) {
        fprintf(stderr, "haravan-ctl: %s\n", error);
        return 1;
    }
    runner.refresher = &haravan->refresher;
    int status = 0;
    if (options->customers)
        status = backfill_kind(context, &runner, org_id, "customers", options->since);
    if (status == 0 && options->orders && !interrupted)
        status = backfill_kind(context, &runner, org_id, "orders", options->since);
    hv_catchup_runner_free(&runner);
    return status;
}

int command_backfill(ctl_context *context, int argc, char **argv)
{
    backfill_options options;
    if (parse_options(argc, argv, &options) != 0)
        return usage();
    if (!context->configuration.has_master_key) {
        fprintf(stderr,
                "haravan-ctl: backfill needs HARAVAN_MASTER_KEY to open the shop's token\n");
        return 1;
    }
    char org_id[HV_SHOP_ORG_ID_SIZE], error[256] = "";
    int picked = hv_shop_pick(&context->database, options.shop, org_id, error, sizeof error);
    if (picked != 1) {
        fprintf(stderr, "haravan-ctl: %s\n",
                picked < 0 ? error : "no such connected shop (haravan-ctl shop, or connect one)");
        return 1;
    }
    hv_clients haravan;
    if (install_interrupt() != 0 || hv_api_global_init() != 0 ||
        hv_clients_init(&haravan, &context->configuration, hv_refresh_log, error, sizeof error) !=
            0) {
        fprintf(stderr, "haravan-ctl: cannot prepare Haravan's clients: %s\n", error);
        return 1;
    }
    int status = backfill_shop(context, &haravan, &options, org_id);
    hv_clients_free(&haravan);
    hv_api_global_cleanup();
    return status;
}
