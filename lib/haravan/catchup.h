/*
 * hv_catchup: the catch-up engine (issue #11): the historical import of a
 * shop's customers and orders, and the reconciliation that finds what
 * webhooks lost. Both page Haravan's listings (GET com/customers.json,
 * com/orders.json with status=any, limit=50, order=updated_at asc,
 * updated_at_min) and store every record in the inbox as an event of its
 * own topic ("orders/import", "customers/import", "orders/reconcile",
 * "customers/reconcile"), which the processors treat exactly as
 * "orders/updated" and "customers/update" (crm/processor.c).
 *
 * The files, one concern each:
 *   catchup_job.c     the checkpoint table (hv_catchup, sql/connector/
 *                     010_catchup.sql): request, load, save, finish, lock
 *   catchup_page.c    one call to Haravan in the shop's shared bucket, at
 *                     the catch-up's lower ceiling
 *   catchup_store.c   a page's records into the inbox, with the checkpoint,
 *                     in one transaction
 *   catchup.c         one step of a job: which page comes next, and what
 *                     the checkpoint becomes
 *   catchup_status.c  the jobs as JSON for GET /api/haravan/status
 *
 * The checkpoint (docs/CONNECT.md, "Catching up", says what is promised):
 * a position in the listing ordered by updated_at, never a page number
 * (records updated during the import move to the end and would shift
 * every later page). It is the updated_at of the last record stored (the
 * watermark) and the ids stored at exactly that instant; the next page
 * asks updated_at_min = watermark and skips those ids. When a whole page
 * is one instant (more records than a page share one updated_at), the
 * instant is paged by id (updated_at_min = updated_at_max = watermark,
 * order=id asc, since_id), and then left behind (updated_at_min = the
 * watermark plus one microsecond). The records of a page and the
 * checkpoint after it are committed in one transaction: a run stopped at
 * any point (Ctrl-C, kill -9) resumes at the last committed page, and
 * what it stores again is the same event (the same dedupe key), so the
 * final rows are those of an uninterrupted run.
 *
 * Rate limit: every call takes a slot of the shop's shared bucket
 * (haravan/rate_bucket.h) with HV_CATCHUP_HEADROOM slots kept free, where
 * live staff lookups keep HV_RATE_HEADROOM: the import only takes a slot
 * while the bucket is at most size - HV_CATCHUP_HEADROOM full, so the
 * slots between that and the staff lookups' ceiling are always there for
 * today's orders. A 429 is waited out (Retry-After) by the whole bucket.
 *
 * Ownership: a runner owns its API client (hv_catchup_runner_free); the
 * master key and refresher are borrowed. Job rows are plain values.
 */
#ifndef HARAVAN_HARAVAN_CATCHUP_H
#define HARAVAN_HARAVAN_CATCHUP_H

#include <stddef.h>

#include <cJSON.h>

#include "core/buffer.h"
#include "core/db.h"
#include "haravan/api.h"
#include "haravan/rate_bucket.h"
#include "haravan/token_refresh.h"

#define HV_CATCHUP_PAGE       50
#define HV_CATCHUP_HEADROOM   30      /* the import takes a slot up to 50 of 80 */
#define HV_CATCHUP_LOCK_CLASS "26744" /* advisory locks: one runner per job */
/* How far back each reconciliation looks again before its watermark: a
 * record Haravan stamped before the watermark but listed only after it
 * (its search index lags its database by seconds; its servers' clocks
 * differ) is still found. Two minutes is many times those lags and costs
 * one page or two per run. */
#define HV_RECONCILE_OVERLAP_SECONDS 120
/* After a failed call (Haravan down, a timeout), a job waits this long. */
#define HV_CATCHUP_RETRY_MS 5000
#define HV_CATCHUP_MAX_TEXT 64
/* requested_by of the jobs `haravan-ctl backfill` runs in the foreground:
 * the processors leave them to it (run the command again to resume). */
#define HV_CATCHUP_BY_CTL "haravan-ctl"

typedef struct hv_catchup_job {
    char org_id[HV_CATCHUP_MAX_TEXT];
    char job[32];                         /* "orders/import", "customers/reconcile", ... */
    char kind[16];                        /* "orders" or "customers" */
    int reconcile;                        /* 1 for a reconciliation */
    char state[16];                       /* queued, running, done, stopped, failed, idle */
    char since[HV_CATCHUP_MAX_TEXT];      /* ISO 8601; "" when none */
    char watermark[HV_CATCHUP_MAX_TEXT];  /* Haravan's updated_at text; "" when none */
    char high_water[HV_CATCHUP_MAX_TEXT]; /* a reconciliation's watermark before its run */
    long long watermark_ids[HV_CATCHUP_PAGE * 2];
    int watermark_id_count;
    int in_instant;
    long long instant_since;
    int past_instant;
    long long done, stored, total, calls; /* total: -1 until count.json answered */
    long long errors;
} hv_catchup_job;

/* What one step did. */
typedef enum hv_catchup_outcome {
    HV_CATCHUP_PROGRESS, /* a page (or the count) was done: step again */
    HV_CATCHUP_WAIT,     /* no slot in the bucket yet, or a failure: step after *wait_ms */
    HV_CATCHUP_FINISHED, /* caught up: the job is done (a reconciliation: idle) */
    HV_CATCHUP_STOPPED,  /* the shop has no token: state stopped, last_error says why */
    HV_CATCHUP_FAILED,   /* the database failed: database->error */
} hv_catchup_outcome;

typedef struct hv_catchup_runner {
    hv_api_client client;            /* shared_bucket: slots come from `limits` */
    hv_rate_limits limits;           /* Haravan's, with HV_CATCHUP_HEADROOM */
    const unsigned char *master_key; /* borrowed */
    hv_token_refresher *refresher;   /* borrowed; NULL: a 401 stops the job */
    int overlap_seconds;             /* HV_RECONCILE_OVERLAP_SECONDS */
    int reconcile_seconds;           /* the reconciliation's interval */
} hv_catchup_runner;

/* ---- catchup.c ---- */

int hv_catchup_runner_init(hv_catchup_runner *runner, const char *api_url,
                           const unsigned char *master_key, int reconcile_seconds, char *error,
                           size_t error_size);
void hv_catchup_runner_free(hv_catchup_runner *runner);

/* One step of `job` (loaded, and locked by the caller): a page, or the
 * count first. Saves the checkpoint. Sets *wait_ms for HV_CATCHUP_WAIT. */
hv_catchup_outcome hv_catchup_step(hv_catchup_runner *runner, db *database, hv_catchup_job *job,
                                   long *wait_ms);

/* ---- catchup_job.c ---- */

/* 1 when `day` has the shape hv_catchup_request() takes for `since`:
 * YYYY-MM-DD (a day in the shop's time, as the settings page and
 * haravan-ctl backfill give it), digits where digits go. */
int hv_catchup_since_valid(const char *day);

/* Records an import of `kind` ("orders", "customers") for shop `org_id`
 * from `since` (NULL or "": everything), for `requested_by` (an admin, or
 * HV_CATCHUP_BY_CTL). A job that exists and is not done is kept with its
 * checkpoint, to be resumed (*resumed = 1; its `since` stays); a done
 * one, or none, starts anew. Returns 0 or -1. */
int hv_catchup_request(db *database, const char *org_id, const char *kind, const char *since,
                       const char *requested_by, int *resumed);

/* Loads job `job` of `org_id`. Returns 1, 0 when there is none, -1. */
int hv_catchup_load(db *database, const char *org_id, const char *job, hv_catchup_job *out);

/* Saves `job`'s checkpoint and counters (inside the caller's transaction
 * when there is one). Returns 0 or -1. */
int hv_catchup_save(db *database, const hv_catchup_job *job);

/* Sets the job's state (and last_error, NULL to clear it; finished_at
 * for done, idle, stopped and failed). Returns 0 or -1. */
int hv_catchup_set_state(db *database, const hv_catchup_job *job, const char *state,
                         const char *last_error);

/* The session advisory lock that makes one runner per job. Returns 1
 * taken, 0 held by another session, -1. */
int hv_catchup_lock(db *database, const char *org_id, const char *job);
void hv_catchup_unlock(db *database, const char *org_id, const char *job);

/* The jobs the processors should step now: queued or running imports,
 * and the reconciliations of connected shops whose interval has passed
 * (rows made for shops that have none yet). Appends "org_id\tjob\n" lines
 * to `out`. Returns 0 or -1. */
int hv_catchup_due(db *database, int reconcile_seconds, buffer *out);

/* ---- catchup_status.c ---- */

/* {"imports":[...],"reconciliations":[...]} for `org_id` (NULL: every
 * shop), as docs/CONNECT.md describes. NULL when the database failed. The
 * caller cJSON_Delete()s it. */
cJSON *hv_catchup_status_json(db *database, const char *org_id);

#endif
