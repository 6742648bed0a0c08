/*
 * support: what the integration tests share. They drive a running stack
 * (tests/stack/stack.sh, started by tests/run-tests.sh) the way Haravan and
 * an operator would: HTTP through nginx, SQL through libpq, haravan-ctl and
 * the stack script as commands.
 *
 * Environment (from the stack's stack.env): HARAVAN_BASE_URL, HARAVAN_DB,
 * HARAVAN_VAR, HARAVAN_CONFIG, HARAVAN_CTL, HARAVAN_STACK_SCRIPT, BUILD.
 *
 * Ownership: a response owns its body and header buffers
 * (it_response_free). Strings
 * from it_env() belong to the environment.
 */
#ifndef HARAVAN_TESTS_SUPPORT_H
#define HARAVAN_TESTS_SUPPORT_H

#include <stddef.h>
#include <sys/types.h>

#include <libpq-fe.h>

#include "core/buffer.h"

typedef struct it_response {
    long status; /* 0 when the request failed at the transport */
    buffer body;
    buffer headers; /* the raw header block ("Name: value\r\n" lines), NUL-terminated */
    char content_type[128];
    char allow[128];
    char location[1024];
} it_response;

/* The value of a required environment variable; fails the test without. */
const char *it_env(const char *name);

/* The pid in the pid file `relative` to the stack's HARAVAN_VAR
 * ("haravan-fcgi.pid", "host2/haravan-fcgi.pid"), or 0 when there is none. */
pid_t it_pid_in(const char *relative);

/* The live (not zombie) children of `master`, from /proc: all of them when
 * `name` is NULL, else those whose process name is `name` ("hv-processor").
 * Writes up to `capacity` pids to `out`; returns how many. */
int it_children_of(pid_t master, const char *name, pid_t *out, int capacity);

/* The value of header `name` (case-insensitive; the first one, without its
 * CR LF) in `headers`, the raw header block of a response ("Name: value\r\n"
 * lines), or NULL when absent. The value is in a static buffer, good until
 * the next call. */
const char *it_header_value(const char *headers, const char *name);

/* `headers` is NULL or a NULL-terminated list of "Name: value" lines. */
it_response it_request(const char *method, const char *path, const char *const *headers,
                       const void *body, size_t length);
void it_response_free(it_response *response);

/* For the secret scan at the end of `make test` (tests/no-secrets.sh):
 * it_save_response appends a reply (its status, the header lines given,
 * the first 64 KiB of its body) to the file $HARAVAN_TEST_RESPONSES, and
 * it_secret_used a secret the test uses to $HARAVAN_TEST_SECRETS; both do
 * nothing when the variable is unset. it_request saves every reply. */
void it_save_response(const char *method, const char *path, long status, const char *headers,
                      const char *body, size_t length);
void it_secret_used(const char *secret);

/* base64(HMAC-SHA256(secret, body)) into `out` (at least 64 bytes). */
void it_sign(const char *secret, const void *body, size_t length, char *out);

/* A signed webhook POST with the given signature header spelling. `org`
 * may be NULL (header left out). */
it_response it_deliver(const char *secret, const char *spelling, const char *topic, const char *org,
                       const void *body, size_t length);

/* The test database connection, opened on first use. */
PGconn *it_db(void);
/* The first column of the first row of `sql` as a number (one text
 * parameter, may be NULL). */
long long it_scalar(const char *sql, const char *parameter);
/* Runs a statement; fails the test on error. */
void it_exec(const char *sql);

/* Runs `haravan-ctl ARGS` (a shell fragment); returns its exit status. */
int it_ctl(const char *arguments);
/* Runs `stack.sh VERB $HARAVAN_VAR`; returns its exit status. */
int it_stack(const char *verb);

/* Reads a whole file; fails the test when it cannot. */
void it_read_file(const char *path, buffer *out);

/* Milliseconds since an arbitrary start. */
double it_now_ms(void);

/* HARAVAN_TEST_TIME_SCALE (default 1, at most 100): how many times longer
 * the waits for the stack may be, for a stack under valgrind
 * (tests/valgrind.sh), which is 20 to 50 times slower. It lengthens
 * deadlines and client timeouts only, never changes what is asserted. */
double it_time_scale(void);

/* ---- the Haravan simulator (tests/sim) -------------------------------
 * Environment: HARAVAN_SIM_URL (the simulator's base URL, which is also
 * HARAVAN_API_URL in a stack) and HARAVAN_SIM_TOKEN (its seeded token with
 * every read scope), both written by tests/stack/stack.sh. */

typedef struct it_sim_response {
    long status; /* 0 when the request failed at the transport */
    buffer body;
    char call_limit[32];  /* X-Haravan-Api-Call-Limit, "" when absent */
    char retry_after[32]; /* Retry-After, "" when absent */
} it_sim_response;

/* A request to the simulator: `path` like "/com/shop.json" or
 * "/sim/reset"; `token` NULL or a Bearer token; `json` NULL or a body sent
 * as application/json. Ownership: free the response with
 * it_sim_response_free. */
it_sim_response it_sim_request(const char *method, const char *path, const char *token,
                               const char *json);
void it_sim_response_free(it_sim_response *response);

/* POSTs `json` to the simulator's control `path` ("/sim/failures", ...);
 * fails the test unless the answer is 2xx. */
void it_sim_admin(const char *path, const char *json);

#endif

/* Delivers a signed webhook (X-Haravan-Hmacsha256) and returns the new
 * event's id; fails the test unless the answer is 200 "stored". */
long long it_deliver_event(const char *secret, const char *topic, const char *org,
                           const char *body);

/* Waits (up to 15 s) until event `id` is no longer pending; returns its
 * status ("done", "dead", "ignored") in a static buffer. */
const char *it_wait_processed(long long id);

/* The first column of the first row of `sql` as text (static buffer), or
 * NULL for SQL NULL or no row. Up to two text parameters (may be NULL). */
const char *it_text(const char *sql, const char *first, const char *second);
