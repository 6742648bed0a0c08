/*
 * load: the HTTP load generator of tests/bench (run.sh, docs/PERFORMANCE.md).
 *
 * Every HTTP row of the benchmark is measured by this one program, so the
 * ratios between rows (intake / no-op, intake / static) compare like with
 * like: same client, same connection handling, same clock, same histogram.
 *
 * How it is built, and why:
 * - One thread, epoll, plain non-blocking sockets, HTTP/1.1 keep-alive,
 *   one request in flight per connection. The machine has two cores shared
 *   by this client, nginx, the workers and PostgreSQL; a second client
 *   thread would only take CPU from the server under test.
 * - Two modes. `closed`: each connection sends its next request as soon as
 *   the previous answer is complete (maximum throughput). `open`: requests
 *   are scheduled at a fixed rate on a timerfd, whatever the server does;
 *   a request that finds no free connection waits in the client, and its
 *   latency is counted from its scheduled time, not from when it could be
 *   sent, so a stalled server cannot hide its stall (no coordinated
 *   omission). A closed run may instead be a burst (`--requests N`,
 *   burst.sh): N requests as fast as the connections allow, then stop; the
 *   result line's elapsed_s is the time until the last of them was answered.
 * - A response belongs to the measured window when its request was started
 *   (closed) or scheduled (open) inside the window. Requests still in
 *   flight at the end are waited for (up to --drain seconds), so every
 *   request sent is answered and counted: run.sh compares the number of
 *   200 answers with the rows in hv_events, which only works if the client
 *   never walks away from a request it sent.
 * - Webhook mode: each request carries a unique body, made from a captured
 *   Haravan payload whose top-level "id" is replaced by a fresh number, and
 *   is signed on the fly with the project's own HMAC and base64 (lib/core),
 *   as Haravan signs: base64(HMAC-SHA256(client secret, raw body)).
 * - A template may instead mark where the id goes: every "@ID@" becomes
 *   the request's fresh number and every "@ID7@" its last seven digits
 *   (zero-padded), so one body can carry the same new id as an order's
 *   and its customer's id and make a phone number and an e-mail address
 *   of its own (tests/soak/soak.sh: new customers, every delivery unique).
 * - --record FILE writes one line per request, as it ends: wall-clock
 *   time, topic, id and HTTP status (0: no answer, the connection failed
 *   or the drain time ran out), so that tests/soak/invariants.sh can look
 *   for each delivery that got a 200 in the inbox.
 * - Latencies go into a log-linear histogram (64 sub-buckets per power of
 *   two, so a percentile is within 1.6% of the true value) in microseconds.
 *
 * Output: one line on standard output of `name=value` pairs, for run.sh.
 * Exit status: 0 when the run happened (its errors are in the line), 1 on a
 * usage or setup error.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "core/base64.h"
#include "core/crypto.h"

#define MAX_CONNECTIONS   1024
#define MAX_EVENTS        256
#define MAX_OTHER_STATUS  8
#define RESPONSE_INITIAL  4096
#define HISTOGRAM_SUB     64
#define HISTOGRAM_SHIFT   6 /* log2(HISTOGRAM_SUB) */
#define HISTOGRAM_BUCKETS (HISTOGRAM_SUB + 40 * HISTOGRAM_SUB)
#define RECONNECT_DELAY_S 0.01
#define TIMER_TOKEN       UINT64_MAX

/* ---------------------------------------------------------------- options */

enum load_mode { MODE_CLOSED, MODE_OPEN };

typedef struct options {
    const char *label;
    const char *url;
    enum load_mode mode;
    int connections;
    double duration_s;
    double warmup_s;
    double drain_s;
    double rate;
    int expected_status;
    const char *webhook_file;
    const char *secret;
    const char *org_id;
    const char *topic;
    long long id_base;
    int id_base_given;
    uint64_t requests; /* closed mode: send this many, then stop (0: by time) */
    const char *record_file;
} options;

typedef struct target {
    struct sockaddr_in address;
    char host_header[128];
    char path[512];
} target;

/* ------------------------------------------------------------- histogram */

typedef struct histogram {
    uint64_t counts[HISTOGRAM_BUCKETS];
    uint64_t total;
    uint64_t max_us;
} histogram;

static int bucket_of(uint64_t value_us)
{
    if (value_us < HISTOGRAM_SUB)
        return (int)value_us;
    int power = 63 - __builtin_clzll(value_us); /* >= HISTOGRAM_SHIFT */
    int sub = (int)(value_us >> (power - HISTOGRAM_SHIFT)) - HISTOGRAM_SUB;
    int index = HISTOGRAM_SUB + (power - HISTOGRAM_SHIFT) * HISTOGRAM_SUB + sub;
    return index < HISTOGRAM_BUCKETS ? index : HISTOGRAM_BUCKETS - 1;
}

/* The highest value that falls into bucket `index`. */
static uint64_t bucket_upper(int index)
{
    if (index < HISTOGRAM_SUB)
        return (uint64_t)index;
    int power = (index - HISTOGRAM_SUB) / HISTOGRAM_SUB + HISTOGRAM_SHIFT;
    uint64_t sub = (uint64_t)((index - HISTOGRAM_SUB) % HISTOGRAM_SUB) + HISTOGRAM_SUB;
    return ((sub + 1) << (power - HISTOGRAM_SHIFT)) - 1;
}

static void histogram_record(histogram *h, uint64_t value_us)
{
    h->counts[bucket_of(value_us)]++;
    h->total++;
    if (value_us > h->max_us)
        h->max_us = value_us;
}

/* The value at `fraction` (0.5 = median), in microseconds; 0 when empty. */
static uint64_t histogram_percentile(const histogram *h, double fraction)
{
    if (h->total == 0)
        return 0;
    uint64_t rank = (uint64_t)ceil(fraction * (double)h->total);
    if (rank < 1)
        rank = 1;
    uint64_t seen = 0;
    for (int i = 0; i < HISTOGRAM_BUCKETS; i++) {
        seen += h->counts[i];
        if (seen >= rank) {
            uint64_t upper = bucket_upper(i);
            return upper < h->max_us ? upper : h->max_us;
        }
    }
    return h->max_us;
}

/* --------------------------------------------------------------- requests */

/* What every request is made from. In webhook mode the body is
 * prefix + unique id + suffix, signed per request. */
typedef struct request_factory {
    const options *opts;
    const target *where;
    char *fixed_request; /* GET mode: the whole request */
    size_t fixed_length;
    char *body_prefix; /* webhook mode */
    size_t prefix_length;
    char *body_suffix;
    size_t suffix_length;
    char *body_scratch;
    size_t body_capacity;
    char *marked; /* a template with @ID@ / @ID7@ markers, or NULL */
    size_t marked_length;
    long long next_id;
} request_factory;

typedef struct statistics {
    histogram latencies;       /* measured window only */
    uint64_t measured;         /* responses to requests started in the window */
    uint64_t sent_total;       /* requests written, all phases */
    uint64_t answered_total;   /* complete responses, all phases */
    uint64_t expected_total;   /* responses with the expected status, all phases */
    uint64_t unexpected_total; /* responses with any other status, all phases */
    uint64_t socket_errors;    /* connect, read, write failures, early closes */
    uint64_t abandoned;        /* still in flight when the drain time ran out */
    uint64_t backlog_max;      /* open mode: most requests waiting for a connection */
    int other_status[MAX_OTHER_STATUS];
    uint64_t other_count[MAX_OTHER_STATUS];
} statistics;

static void fail(const char *format, ...) __attribute__((format(printf, 1, 2), noreturn));

static void fail(const char *format, ...)
{
    va_list args;
    va_start(args, format);
    fputs("load: ", stderr);
    vfprintf(stderr, format, args);
    fputc('\n', stderr);
    va_end(args);
    exit(1);
}

static void *allocate(size_t size)
{
    void *memory = malloc(size);
    if (memory == NULL)
        fail("out of memory");
    return memory;
}

static char *read_file(const char *path, size_t *length)
{
    FILE *file = fopen(path, "rb");
    if (file == NULL)
        fail("cannot open %s: %s", path, strerror(errno));
    if (fseek(file, 0, SEEK_END) != 0)
        fail("cannot seek %s: %s", path, strerror(errno));
    long size = ftell(file);
    if (size < 0)
        fail("cannot size %s: %s", path, strerror(errno));
    if (fseek(file, 0, SEEK_SET) != 0)
        fail("cannot seek %s: %s", path, strerror(errno));
    char *data = allocate((size_t)size + 1);
    size_t got = fread(data, 1, (size_t)size, file);
    if (got != (size_t)size)
        fail("cannot read %s", path);
    if (fclose(file) != 0)
        fail("cannot close %s: %s", path, strerror(errno));
    data[got] = '\0';
    *length = got;
    return data;
}

/* Finds the value of the top-level "id" key in a JSON object: its start
 * and length (a number, or the inside of a string). Returns 0 or -1. */
static int find_top_level_id(const char *json, size_t length, size_t *start, size_t *span)
{
    int depth = 0;
    size_t i = 0;
    while (i < length) {
        char c = json[i];
        if (c == '{' || c == '[') {
            depth++;
            i++;
            continue;
        }
        if (c == '}' || c == ']') {
            depth--;
            i++;
            continue;
        }
        if (c != '"') {
            i++;
            continue;
        }
        size_t string_start = ++i;
        while (i < length && json[i] != '"') {
            i += json[i] == '\\' ? 2 : 1;
        }
        if (i >= length)
            return -1;
        size_t string_length = i - string_start;
        i++; /* closing quote */
        size_t after = i;
        while (after < length && isspace((unsigned char)json[after]))
            after++;
        int is_key = after < length && json[after] == ':';
        if (!(is_key && depth == 1 && string_length == 2 &&
              memcmp(json + string_start, "id", 2) == 0))
            continue;
        after++;
        while (after < length && isspace((unsigned char)json[after]))
            after++;
        if (after < length && json[after] == '"') {
            size_t value_start = after + 1;
            size_t end = value_start;
            while (end < length && json[end] != '"')
                end++;
            *start = value_start;
            *span = end - value_start;
            return end < length ? 0 : -1;
        }
        size_t end = after;
        while (end < length && (isdigit((unsigned char)json[end]) || json[end] == '-'))
            end++;
        if (end == after)
            return -1;
        *start = after;
        *span = end - after;
        return 0;
    }
    return -1;
}

/* Marker mode: the template is kept whole and expanded per request; each
 * marker grows by at most 20 bytes (a long long in decimal). */
static void factory_init_marked(request_factory *factory, char *template, size_t length)
{
    size_t markers = 0;
    for (const char *at = strstr(template, "@ID"); at != NULL; at = strstr(at + 1, "@ID"))
        markers++;
    factory->marked = template;
    factory->marked_length = length;
    factory->body_capacity = length + markers * 24 + 32;
    factory->body_scratch = allocate(factory->body_capacity);
    factory->next_id = factory->opts->id_base;
}

/* The template with its markers replaced by `id`; returns the length. */
static size_t expand_markers(request_factory *factory, long long id)
{
    char full[32], last7[16];
    int full_length = snprintf(full, sizeof full, "%lld", id);
    int last7_length = snprintf(last7, sizeof last7, "%07lld", id % 10000000);
    if (full_length < 0 || last7_length < 0)
        fail("cannot format an id");
    const char *in = factory->marked;
    const char *end = in + factory->marked_length;
    char *out = factory->body_scratch;
    while (in < end) {
        size_t left = (size_t)(end - in);
        if (left >= 5 && memcmp(in, "@ID7@", 5) == 0) {
            memcpy(out, last7, (size_t)last7_length);
            out += last7_length;
            in += 5;
        } else if (left >= 4 && memcmp(in, "@ID@", 4) == 0) {
            memcpy(out, full, (size_t)full_length);
            out += full_length;
            in += 4;
        } else {
            *out++ = *in++;
        }
    }
    return (size_t)(out - factory->body_scratch);
}

static void factory_init(request_factory *factory, const options *opts, const target *where)
{
    memset(factory, 0, sizeof *factory);
    factory->opts = opts;
    factory->where = where;
    if (opts->webhook_file == NULL) {
        size_t capacity = strlen(where->path) + strlen(where->host_header) + 128;
        factory->fixed_request = allocate(capacity);
        int written =
            snprintf(factory->fixed_request, capacity,
                     "GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: haravan-bench-load\r\n\r\n",
                     where->path, where->host_header);
        if (written < 0 || (size_t)written >= capacity)
            fail("request line too long");
        factory->fixed_length = (size_t)written;
        return;
    }
    size_t length = 0;
    char *template = read_file(opts->webhook_file, &length);
    if (strstr(template, "@ID") != NULL) {
        factory_init_marked(factory, template, length);
        return;
    }
    size_t id_start = 0;
    size_t id_span = 0;
    if (find_top_level_id(template, length, &id_start, &id_span) != 0)
        fail("%s: no top-level \"id\" to replace", opts->webhook_file);
    factory->prefix_length = id_start;
    factory->body_prefix = allocate(id_start + 1);
    memcpy(factory->body_prefix, template, id_start);
    factory->suffix_length = length - id_start - id_span;
    factory->body_suffix = allocate(factory->suffix_length + 1);
    memcpy(factory->body_suffix, template + id_start + id_span, factory->suffix_length);
    free(template);
    factory->body_capacity = factory->prefix_length + factory->suffix_length + 32;
    factory->body_scratch = allocate(factory->body_capacity);
    factory->next_id = opts->id_base;
}

/* Upper bound of one request's size, for the connection's buffer. */
static size_t factory_request_capacity(const request_factory *factory)
{
    if (factory->fixed_request != NULL)
        return factory->fixed_length + 1;
    return factory->body_capacity + strlen(factory->where->path) +
           strlen(factory->where->host_header) + strlen(factory->opts->org_id) +
           strlen(factory->opts->topic) + 512;
}

/* Writes the next request into `out` (capacity from factory_request_capacity)
 * and returns its length. */
static size_t factory_next(request_factory *factory, char *out, size_t capacity)
{
    if (factory->fixed_request != NULL) {
        memcpy(out, factory->fixed_request, factory->fixed_length);
        return factory->fixed_length;
    }
    char *body = factory->body_scratch;
    size_t body_length = 0;
    if (factory->marked != NULL) {
        body_length = expand_markers(factory, factory->next_id++);
    } else {
        char id_text[32];
        int id_length = snprintf(id_text, sizeof id_text, "%lld", factory->next_id++);
        if (id_length < 0)
            fail("cannot format an id");
        body_length = factory->prefix_length + (size_t)id_length + factory->suffix_length;
        memcpy(body, factory->body_prefix, factory->prefix_length);
        memcpy(body + factory->prefix_length, id_text, (size_t)id_length);
        memcpy(body + factory->prefix_length + (size_t)id_length, factory->body_suffix,
               factory->suffix_length);
    }

    unsigned char digest[CRYPTO_SHA256_SIZE];
    const char *secret = factory->opts->secret;
    if (crypto_hmac_sha256(secret, strlen(secret), body, body_length, digest) != 0)
        fail("HMAC failed");
    char signature[BASE64_ENCODED_SIZE(CRYPTO_SHA256_SIZE)];
    base64_encode(digest, sizeof digest, signature);

    int head_length = snprintf(out, capacity,
                               "POST %s HTTP/1.1\r\n"
                               "Host: %s\r\n"
                               "User-Agent: haravan-bench-load\r\n"
                               "Content-Type: application/json\r\n"
                               "X-Haravan-Topic: %s\r\n"
                               "X-Haravan-Org-Id: %s\r\n"
                               "X-Haravan-Hmacsha256: %s\r\n"
                               "Content-Length: %zu\r\n"
                               "\r\n",
                               factory->where->path, factory->where->host_header,
                               factory->opts->topic, factory->opts->org_id, signature, body_length);
    if (head_length < 0 || (size_t)head_length + body_length > capacity)
        fail("request does not fit its buffer");
    memcpy(out + head_length, body, body_length);
    return (size_t)head_length + body_length;
}

/* ------------------------------------------------------------ connections */

enum connection_state { CONN_CLOSED, CONN_CONNECTING, CONN_IDLE, CONN_BUSY };

typedef struct connection {
    int fd;
    enum connection_state state;
    double retry_at; /* CONN_CLOSED: when to connect again */
    int wants_write; /* registered for EPOLLOUT */
    char *request;   /* the request in flight */
    size_t request_capacity;
    size_t request_length;
    size_t request_sent;
    char *response;
    size_t response_capacity;
    size_t response_length;
    double started; /* scheduled (open) or sent (closed) time */
    int measured;   /* started inside the measured window */
    long long id;   /* webhook mode: the id of the request in flight */
} connection;

typedef struct load_run {
    const options *opts;
    const target *where;
    request_factory factory;
    connection *connections;
    int epoll_fd;
    int timer_fd;
    double start;             /* monotonic seconds */
    double measure_start;     /* start + warm-up */
    double send_end;          /* measure_start + duration */
    double finished;          /* when the last answer came (or the drain gave up) */
    long long next_scheduled; /* open mode: index of the next request to send */
    int sending;
    statistics stats;
    FILE *record; /* --record: one line per request as it ends, or NULL */
} load_run;

static double now_seconds(void)
{
    struct timespec now;
    if (clock_gettime(CLOCK_MONOTONIC, &now) != 0)
        fail("clock_gettime: %s", strerror(errno));
    return (double)now.tv_sec + (double)now.tv_nsec / 1e9;
}

static double scheduled_time(const load_run *run, long long index)
{
    return run->start + (double)index / run->opts->rate;
}

/* A burst (--requests N) is over once its N requests are out. */
static int all_sent(const load_run *run)
{
    return run->opts->requests > 0 && run->stats.sent_total >= run->opts->requests;
}

static int in_flight(const load_run *run)
{
    int count = 0;
    for (int i = 0; i < run->opts->connections; i++) {
        if (run->connections[i].state == CONN_BUSY)
            count++;
    }
    return count;
}

static void watch(load_run *run, int index, int want_write)
{
    connection *c = &run->connections[index];
    struct epoll_event event;
    memset(&event, 0, sizeof event);
    event.events = EPOLLIN | EPOLLRDHUP | (want_write ? EPOLLOUT : 0);
    event.data.u64 = (uint64_t)index;
    if (epoll_ctl(run->epoll_fd, EPOLL_CTL_MOD, c->fd, &event) != 0)
        fail("epoll_ctl: %s", strerror(errno));
    c->wants_write = want_write;
}

/* --record: how the request on connection `index` ended (status 0: no
 * answer). The line is written as the request ends, so a run cut short
 * still leaves the requests answered so far. */
static void record_outcome(load_run *run, int index, int status)
{
    if (run->record == NULL)
        return;
    struct timespec wall;
    if (clock_gettime(CLOCK_REALTIME, &wall) != 0)
        fail("clock_gettime: %s", strerror(errno));
    if (fprintf(run->record, "%lld.%03ld %s %lld %d\n", (long long)wall.tv_sec,
                wall.tv_nsec / 1000000, run->opts->topic, run->connections[index].id, status) < 0)
        fail("cannot write the record: %s", strerror(errno));
}

static void close_connection(load_run *run, int index, int after_error)
{
    connection *c = &run->connections[index];
    if (c->state == CONN_BUSY)
        record_outcome(run, index, 0);
    if (c->fd >= 0) {
        if (epoll_ctl(run->epoll_fd, EPOLL_CTL_DEL, c->fd, NULL) != 0)
            fail("epoll_ctl del: %s", strerror(errno));
        if (close(c->fd) != 0 && errno != EINTR)
            fail("close: %s", strerror(errno));
    }
    if (after_error)
        run->stats.socket_errors++;
    c->fd = -1;
    c->state = CONN_CLOSED;
    c->wants_write = 0;
    c->response_length = 0;
    c->retry_at = now_seconds() + (after_error ? RECONNECT_DELAY_S : 0.0);
}

static void open_connection(load_run *run, int index)
{
    connection *c = &run->connections[index];
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        fail("socket: %s", strerror(errno));
    int on = 1;
    if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on) != 0)
        fail("setsockopt TCP_NODELAY: %s", strerror(errno));
    struct epoll_event event;
    memset(&event, 0, sizeof event);
    event.events = EPOLLIN | EPOLLRDHUP | EPOLLOUT;
    event.data.u64 = (uint64_t)index;
    if (epoll_ctl(run->epoll_fd, EPOLL_CTL_ADD, fd, &event) != 0)
        fail("epoll_ctl add: %s", strerror(errno));
    c->fd = fd;
    c->wants_write = 1;
    c->response_length = 0;
    int connected =
        connect(fd, (const struct sockaddr *)&run->where->address, sizeof run->where->address);
    if (connected == 0 || errno == EINPROGRESS) {
        c->state = CONN_CONNECTING; /* EPOLLOUT says when it is done */
        return;
    }
    close_connection(run, index, 1);
}

/* Writes as much of the pending request as the socket takes. */
static void flush_request(load_run *run, int index)
{
    connection *c = &run->connections[index];
    while (c->request_sent < c->request_length) {
        ssize_t written = send(c->fd, c->request + c->request_sent,
                               c->request_length - c->request_sent, MSG_NOSIGNAL);
        if (written < 0 && errno == EINTR)
            continue;
        if (written < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (!c->wants_write)
                watch(run, index, 1);
            return;
        }
        if (written < 0) {
            close_connection(run, index, 1);
            return;
        }
        c->request_sent += (size_t)written;
    }
    if (c->wants_write)
        watch(run, index, 0);
}

static void send_request(load_run *run, int index, double started)
{
    connection *c = &run->connections[index];
    c->id = run->factory.next_id;
    c->request_length = factory_next(&run->factory, c->request, c->request_capacity);
    c->request_sent = 0;
    c->started = started;
    c->measured = started >= run->measure_start && started < run->send_end;
    c->state = CONN_BUSY;
    run->stats.sent_total++;
    flush_request(run, index);
}

static void count_status(statistics *stats, int status, int expected)
{
    if (status == expected) {
        stats->expected_total++;
        return;
    }
    stats->unexpected_total++;
    for (int i = 0; i < MAX_OTHER_STATUS; i++) {
        if (stats->other_status[i] == status || stats->other_status[i] == 0) {
            stats->other_status[i] = status;
            stats->other_count[i]++;
            return;
        }
    }
}

/* Case-insensitive search for a header line "name: value" in the head;
 * returns the value's start or NULL. */
static const char *find_header(const char *head, size_t head_length, const char *name)
{
    size_t name_length = strlen(name);
    const char *line = memchr(head, '\n', head_length);
    while (line != NULL && (size_t)(line - head) + 1 < head_length) {
        line++;
        size_t left = head_length - (size_t)(line - head);
        if (left > name_length && strncasecmp(line, name, name_length) == 0 &&
            line[name_length] == ':') {
            const char *value = line + name_length + 1;
            while (*value == ' ' || *value == '\t')
                value++;
            return value;
        }
        line = memchr(line, '\n', left);
    }
    return NULL;
}

/* Length of a complete chunked body starting at `body`, or 0 when more
 * bytes are needed. */
static size_t chunked_length(const char *body, size_t available)
{
    size_t offset = 0;
    for (;;) {
        const char *line_end = memmem(body + offset, available - offset, "\r\n", 2);
        if (line_end == NULL)
            return 0;
        char *digits_end = NULL;
        unsigned long long chunk = strtoull(body + offset, &digits_end, 16);
        if (digits_end == body + offset)
            return 0;
        offset = (size_t)(line_end - body) + 2;
        if (chunk == 0) {
            /* No trailers expected: the final CRLF ends the message. */
            return available - offset >= 2 ? offset + 2 : 0;
        }
        if (available - offset < chunk + 2)
            return 0;
        offset += (size_t)chunk + 2;
    }
}

enum parse_result { PARSE_INCOMPLETE, PARSE_COMPLETE, PARSE_INVALID };

/* Decides whether the buffered bytes hold one complete response. */
static enum parse_result parse_response(const connection *c, int peer_closed, int *status,
                                        int *keep_alive)
{
    const char *data = c->response;
    size_t length = c->response_length;
    const char *head_end = memmem(data, length, "\r\n\r\n", 4);
    if (head_end == NULL)
        return peer_closed ? PARSE_INVALID : PARSE_INCOMPLETE;
    size_t head_length = (size_t)(head_end - data) + 4;
    if (head_length < 12 || strncmp(data, "HTTP/1.", 7) != 0)
        return PARSE_INVALID;
    *status = atoi(data + 9);
    const char *connection_header = find_header(data, head_length, "Connection");
    *keep_alive = !(connection_header != NULL && strncasecmp(connection_header, "close", 5) == 0);
    size_t body_available = length - head_length;
    const char *content_length = find_header(data, head_length, "Content-Length");
    if (content_length != NULL) {
        size_t declared = (size_t)strtoull(content_length, NULL, 10);
        if (body_available >= declared)
            return PARSE_COMPLETE;
        return peer_closed ? PARSE_INVALID : PARSE_INCOMPLETE;
    }
    const char *encoding = find_header(data, head_length, "Transfer-Encoding");
    if (encoding != NULL && strncasecmp(encoding, "chunked", 7) == 0) {
        if (chunked_length(head_end + 4, body_available) > 0)
            return PARSE_COMPLETE;
        return peer_closed ? PARSE_INVALID : PARSE_INCOMPLETE;
    }
    if (*status == 204 || *status == 304)
        return PARSE_COMPLETE;
    /* Body delimited by the end of the connection. */
    *keep_alive = 0;
    return peer_closed ? PARSE_COMPLETE : PARSE_INCOMPLETE;
}

static void finish_response(load_run *run, int index, int status, int keep_alive)
{
    connection *c = &run->connections[index];
    statistics *stats = &run->stats;
    stats->answered_total++;
    count_status(stats, status, run->opts->expected_status);
    record_outcome(run, index, status);
    if (c->measured) {
        double latency_s = now_seconds() - c->started;
        stats->measured++;
        histogram_record(&stats->latencies, (uint64_t)(latency_s > 0 ? latency_s * 1e6 : 0));
    }
    c->response_length = 0;
    c->state = CONN_IDLE;
    if (!keep_alive)
        close_connection(run, index, 0);
}

static void read_response(load_run *run, int index)
{
    connection *c = &run->connections[index];
    int peer_closed = 0;
    for (;;) {
        if (c->response_capacity - c->response_length < 1024) {
            size_t bigger = c->response_capacity * 2;
            char *grown = realloc(c->response, bigger);
            if (grown == NULL)
                fail("out of memory");
            c->response = grown;
            c->response_capacity = bigger;
        }
        ssize_t got = recv(c->fd, c->response + c->response_length,
                           c->response_capacity - c->response_length - 1, 0);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        if (got < 0) {
            close_connection(run, index, 1);
            return;
        }
        if (got == 0) {
            peer_closed = 1;
            break;
        }
        c->response_length += (size_t)got;
    }
    c->response[c->response_length] = '\0';
    if (c->state != CONN_BUSY) {
        /* An idle keep-alive connection closed by the server (timeout or
         * request limit) is not an error; bytes nobody asked for are. */
        int unexpected_bytes = c->response_length > 0;
        if (peer_closed || unexpected_bytes)
            close_connection(run, index, unexpected_bytes);
        return;
    }
    int status = 0;
    int keep_alive = 1;
    enum parse_result parsed = parse_response(c, peer_closed, &status, &keep_alive);
    if (parsed == PARSE_INCOMPLETE)
        return;
    if (parsed == PARSE_INVALID) {
        close_connection(run, index, 1);
        return;
    }
    finish_response(run, index, status, keep_alive && !peer_closed);
}

static void on_connected(load_run *run, int index)
{
    connection *c = &run->connections[index];
    int error = 0;
    socklen_t size = sizeof error;
    if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &error, &size) != 0 || error != 0) {
        close_connection(run, index, 1);
        return;
    }
    c->state = CONN_IDLE;
    watch(run, index, 0);
}

static void handle_event(load_run *run, const struct epoll_event *event)
{
    int index = (int)event->data.u64;
    connection *c = &run->connections[index];
    if (c->fd < 0)
        return;
    if (c->state == CONN_CONNECTING) {
        if (event->events & (EPOLLOUT | EPOLLERR | EPOLLHUP))
            on_connected(run, index);
        return;
    }
    if ((event->events & EPOLLOUT) && c->state == CONN_BUSY)
        flush_request(run, index);
    if (c->fd >= 0 && (event->events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)))
        read_response(run, index);
}

/* Sends whatever is due on the idle connections, and reopens closed ones. */
static void dispatch(load_run *run, double now)
{
    for (int i = 0; i < run->opts->connections; i++) {
        connection *c = &run->connections[i];
        if (c->state == CONN_CLOSED && run->sending && now >= c->retry_at)
            open_connection(run, i);
    }
    if (!run->sending)
        return;
    for (int i = 0; i < run->opts->connections; i++) {
        if (run->connections[i].state != CONN_IDLE)
            continue;
        if (run->opts->mode == MODE_CLOSED) {
            if (all_sent(run))
                break;
            send_request(run, i, now_seconds());
            continue;
        }
        double due = scheduled_time(run, run->next_scheduled);
        if (due > now || due >= run->send_end)
            break;
        run->next_scheduled++;
        send_request(run, i, due);
    }
    if (run->opts->mode == MODE_OPEN) {
        /* Requests already due that no connection could take yet. */
        double horizon = now < run->send_end ? now : run->send_end;
        long long last_due = (long long)floor((horizon - run->start) * run->opts->rate);
        if (scheduled_time(run, last_due) >= run->send_end)
            last_due--;
        long long waiting = last_due - run->next_scheduled + 1;
        if (waiting > 0 && (uint64_t)waiting > run->stats.backlog_max)
            run->stats.backlog_max = (uint64_t)waiting;
    }
}

/* Wakes the loop when the next request is due. A request already due
 * found no free connection; the answer that frees one wakes the loop, so
 * the timer is disarmed rather than left firing in a busy loop. */
static void arm_timer(load_run *run, double now)
{
    double due = scheduled_time(run, run->next_scheduled);
    struct itimerspec timer;
    memset(&timer, 0, sizeof timer);
    if (due > now) {
        timer.it_value.tv_sec = (time_t)due;
        timer.it_value.tv_nsec = (long)((due - (double)(time_t)due) * 1e9);
    }
    if (timerfd_settime(run->timer_fd, TFD_TIMER_ABSTIME, &timer, NULL) != 0)
        fail("timerfd_settime: %s", strerror(errno));
}

static void event_loop(load_run *run)
{
    struct epoll_event events[MAX_EVENTS];
    double drain_deadline = 0;
    for (;;) {
        double now = now_seconds();
        /* Closed mode stops at the end of the window; open mode once every
         * request scheduled inside it has been sent, however late, or
         * --drain seconds after the window when no connection could take
         * them (the server is gone: tests/soak kills a host). */
        int window_over = run->opts->mode == MODE_CLOSED
                              ? now >= run->send_end || all_sent(run)
                              : scheduled_time(run, run->next_scheduled) >= run->send_end ||
                                    now >= run->send_end + run->opts->drain_s;
        if (run->sending && window_over) {
            run->sending = 0;
            drain_deadline = now + run->opts->drain_s;
        }
        dispatch(run, now);
        if (!run->sending) {
            int pending = in_flight(run);
            if (pending == 0)
                return;
            if (now >= drain_deadline) {
                run->stats.abandoned = (uint64_t)pending;
                for (int i = 0; i < run->opts->connections; i++) {
                    if (run->connections[i].state == CONN_BUSY)
                        record_outcome(run, i, 0);
                }
                return;
            }
        }
        if (run->opts->mode == MODE_OPEN && run->sending)
            arm_timer(run, now_seconds());
        /* The timerfd gives open mode its precision; the timeout only
         * bounds how late the end of the run and reconnects are noticed. */
        int ready = epoll_wait(run->epoll_fd, events, MAX_EVENTS, 5);
        if (ready < 0 && errno == EINTR)
            continue;
        if (ready < 0)
            fail("epoll_wait: %s", strerror(errno));
        for (int i = 0; i < ready; i++) {
            if (events[i].data.u64 == TIMER_TOKEN) {
                uint64_t expirations = 0;
                ssize_t got = read(run->timer_fd, &expirations, sizeof expirations);
                if (got < 0 && errno != EAGAIN)
                    fail("timerfd read: %s", strerror(errno));
                continue;
            }
            handle_event(run, &events[i]);
        }
    }
}

/* ------------------------------------------------------------------ setup */

static void parse_url(const char *url, target *where)
{
    memset(where, 0, sizeof *where);
    const char *prefix = "http://";
    if (strncmp(url, prefix, strlen(prefix)) != 0)
        fail("only http:// URLs: %s", url);
    const char *host = url + strlen(prefix);
    const char *slash = strchr(host, '/');
    const char *path = slash != NULL ? slash : "/";
    size_t host_length = slash != NULL ? (size_t)(slash - host) : strlen(host);
    if (host_length == 0 || host_length >= sizeof where->host_header)
        fail("bad host in %s", url);
    memcpy(where->host_header, host, host_length);
    where->host_header[host_length] = '\0';
    if (strlen(path) >= sizeof where->path)
        fail("path too long in %s", url);
    snprintf(where->path, sizeof where->path, "%s", path);

    char address[128];
    snprintf(address, sizeof address, "%s", where->host_header);
    int port = 80;
    char *colon = strrchr(address, ':');
    if (colon != NULL) {
        *colon = '\0';
        char *end = NULL;
        long parsed = strtol(colon + 1, &end, 10);
        if (*end != '\0' || parsed <= 0 || parsed > 65535)
            fail("bad port in %s", url);
        port = (int)parsed;
    }
    if (strcmp(address, "localhost") == 0)
        snprintf(address, sizeof address, "127.0.0.1");
    where->address.sin_family = AF_INET;
    where->address.sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, address, &where->address.sin_addr) != 1)
        fail("host must be an IPv4 address or localhost: %s", address);
}

static void usage(void)
{
    fprintf(stderr,
            "usage: load --url http://127.0.0.1:PORT/PATH [options]\n"
            "  --label NAME          name printed in the result line\n"
            "  --mode closed|open    closed: max throughput; open: fixed --rate (default closed)\n"
            "  --connections N       keep-alive connections (default 8)\n"
            "  --duration S          measured seconds (default 10)\n"
            "  --warmup S            seconds before measuring, same load (default 2)\n"
            "  --drain S             most seconds to wait for answers at the end (default 10)\n"
            "  --rate R              open mode: requests per second\n"
            "  --expect STATUS       the status that counts as success (default 200)\n"
            "  --webhook FILE        POST signed webhooks made from this JSON body\n"
            "  --secret S            client secret to sign with (webhook mode)\n"
            "  --org-id ID           X-Haravan-Org-Id (default 1000)\n"
            "  --topic T             X-Haravan-Topic (default orders/create)\n"
            "  --id-base N           first top-level id (default: from the clock)\n"
            "  --requests N          closed mode: send N requests as fast as the connections\n"
            "                        allow, then stop (a burst; --duration is then a cap)\n"
            "  --record FILE         one line per request as it ends: unix time, topic, id,\n"
            "                        status (0: no answer)\n");
    exit(1);
}

static double parse_number(const char *text, const char *name)
{
    char *end = NULL;
    errno = 0;
    double value = strtod(text, &end);
    if (errno != 0 || end == text || *end != '\0' || value < 0)
        fail("bad value for %s: %s", name, text);
    return value;
}

static void parse_options(int argc, char **argv, options *opts)
{
    static const struct option long_options[] = {
        {"label", required_argument, NULL, 'l'},    {"url", required_argument, NULL, 'u'},
        {"mode", required_argument, NULL, 'm'},     {"connections", required_argument, NULL, 'c'},
        {"duration", required_argument, NULL, 'd'}, {"warmup", required_argument, NULL, 'w'},
        {"drain", required_argument, NULL, 'D'},    {"rate", required_argument, NULL, 'r'},
        {"expect", required_argument, NULL, 'e'},   {"webhook", required_argument, NULL, 'W'},
        {"secret", required_argument, NULL, 's'},   {"org-id", required_argument, NULL, 'o'},
        {"topic", required_argument, NULL, 't'},    {"id-base", required_argument, NULL, 'i'},
        {"requests", required_argument, NULL, 'n'}, {"record", required_argument, NULL, 'R'},
        {"help", no_argument, NULL, 'h'},           {NULL, 0, NULL, 0},
    };
    memset(opts, 0, sizeof *opts);
    opts->label = "load";
    opts->mode = MODE_CLOSED;
    opts->connections = 8;
    opts->duration_s = 10;
    opts->warmup_s = 2;
    opts->drain_s = 10;
    opts->expected_status = 200;
    opts->org_id = "1000";
    opts->topic = "orders/create";
    for (;;) {
        int option = getopt_long(argc, argv, "", long_options, NULL);
        if (option == -1)
            break;
        switch (option) {
        case 'l':
            opts->label = optarg;
            break;
        case 'u':
            opts->url = optarg;
            break;
        case 'm':
            if (strcmp(optarg, "closed") == 0)
                opts->mode = MODE_CLOSED;
            else if (strcmp(optarg, "open") == 0)
                opts->mode = MODE_OPEN;
            else
                fail("--mode is closed or open");
            break;
        case 'c':
            opts->connections = (int)parse_number(optarg, "--connections");
            break;
        case 'd':
            opts->duration_s = parse_number(optarg, "--duration");
            break;
        case 'w':
            opts->warmup_s = parse_number(optarg, "--warmup");
            break;
        case 'D':
            opts->drain_s = parse_number(optarg, "--drain");
            break;
        case 'r':
            opts->rate = parse_number(optarg, "--rate");
            break;
        case 'e':
            opts->expected_status = (int)parse_number(optarg, "--expect");
            break;
        case 'W':
            opts->webhook_file = optarg;
            break;
        case 's':
            opts->secret = optarg;
            break;
        case 'o':
            opts->org_id = optarg;
            break;
        case 't':
            opts->topic = optarg;
            break;
        case 'i':
            opts->id_base = (long long)parse_number(optarg, "--id-base");
            opts->id_base_given = 1;
            break;
        case 'n':
            opts->requests = (uint64_t)parse_number(optarg, "--requests");
            break;
        case 'R':
            opts->record_file = optarg;
            break;
        default:
            usage();
        }
    }
    if (optind != argc || opts->url == NULL)
        usage();
    if (opts->connections < 1 || opts->connections > MAX_CONNECTIONS)
        fail("--connections must be 1..%d", MAX_CONNECTIONS);
    if (opts->duration_s <= 0)
        fail("--duration must be positive");
    if (opts->mode == MODE_OPEN && opts->rate <= 0)
        fail("open mode needs --rate");
    if (opts->requests > 0 && opts->mode != MODE_CLOSED)
        fail("--requests is for closed mode");
    if (opts->webhook_file != NULL && (opts->secret == NULL || opts->secret[0] == '\0'))
        fail("--webhook needs --secret");
    if (!opts->id_base_given) {
        /* Milliseconds since the epoch times 1000: later runs start past
         * earlier ones unless they sent more than 1,000 requests per
         * millisecond, and the ids stay below 2^53 (exact as JSON numbers). */
        struct timespec wall;
        if (clock_gettime(CLOCK_REALTIME, &wall) != 0)
            fail("clock_gettime: %s", strerror(errno));
        opts->id_base = ((long long)wall.tv_sec * 1000 + wall.tv_nsec / 1000000) * 1000;
    }
}

static void setup_run(load_run *run, const options *opts, const target *where)
{
    memset(run, 0, sizeof *run);
    run->opts = opts;
    run->where = where;
    factory_init(&run->factory, opts, where);
    run->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
    if (run->epoll_fd < 0)
        fail("epoll_create1: %s", strerror(errno));
    run->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (run->timer_fd < 0)
        fail("timerfd_create: %s", strerror(errno));
    struct epoll_event event;
    memset(&event, 0, sizeof event);
    event.events = EPOLLIN;
    event.data.u64 = TIMER_TOKEN;
    if (epoll_ctl(run->epoll_fd, EPOLL_CTL_ADD, run->timer_fd, &event) != 0)
        fail("epoll_ctl timer: %s", strerror(errno));

    size_t request_capacity = factory_request_capacity(&run->factory);
    run->connections = allocate(sizeof(connection) * (size_t)opts->connections);
    for (int i = 0; i < opts->connections; i++) {
        connection *c = &run->connections[i];
        memset(c, 0, sizeof *c);
        c->fd = -1;
        c->state = CONN_CLOSED;
        c->request = allocate(request_capacity);
        c->request_capacity = request_capacity;
        c->response = allocate(RESPONSE_INITIAL);
        c->response_capacity = RESPONSE_INITIAL;
    }
    run->start = now_seconds();
    run->measure_start = run->start + opts->warmup_s;
    run->send_end = run->measure_start + opts->duration_s;
    run->sending = 1;
    if (opts->record_file != NULL) {
        run->record = fopen(opts->record_file, "w");
        if (run->record == NULL)
            fail("cannot open %s: %s", opts->record_file, strerror(errno));
        /* A line at a time: tests/soak reads the record while it grows. */
        if (setvbuf(run->record, NULL, _IOLBF, 0) != 0)
            fail("cannot set the buffering of %s", opts->record_file);
    }
}

static void print_result(const load_run *run)
{
    const statistics *stats = &run->stats;
    const options *opts = run->opts;
    double rate = (double)stats->measured / opts->duration_s;
    printf("label=%s mode=%s connections=%d duration_s=%.3f target_rate=%.1f requests=%" PRIu64
           " rate=%.1f p50_ms=%.3f p90_ms=%.3f p99_ms=%.3f max_ms=%.3f sent_total=%" PRIu64
           " answered_total=%" PRIu64 " expected_total=%" PRIu64 " unexpected=%" PRIu64
           " socket_errors=%" PRIu64 " abandoned=%" PRIu64 " backlog_max=%" PRIu64
           " first_id=%lld next_id=%lld elapsed_s=%.3f",
           opts->label, opts->mode == MODE_OPEN ? "open" : "closed", opts->connections,
           opts->duration_s, opts->mode == MODE_OPEN ? opts->rate : 0.0, stats->measured, rate,
           (double)histogram_percentile(&stats->latencies, 0.50) / 1e3,
           (double)histogram_percentile(&stats->latencies, 0.90) / 1e3,
           (double)histogram_percentile(&stats->latencies, 0.99) / 1e3,
           (double)stats->latencies.max_us / 1e3, stats->sent_total, stats->answered_total,
           stats->expected_total, stats->unexpected_total, stats->socket_errors, stats->abandoned,
           stats->backlog_max, opts->id_base,
           opts->webhook_file != NULL ? run->factory.next_id : opts->id_base,
           run->finished - run->start);
    printf(" other_status=");
    int printed = 0;
    for (int i = 0; i < MAX_OTHER_STATUS && stats->other_status[i] != 0; i++) {
        printf("%s%d:%" PRIu64, printed ? "," : "", stats->other_status[i], stats->other_count[i]);
        printed = 1;
    }
    printf("%s\n", printed ? "" : "-");
    if (fflush(stdout) != 0)
        fail("cannot write the result: %s", strerror(errno));
}

int main(int argc, char **argv)
{
    options opts;
    target where;
    parse_options(argc, argv, &opts);
    parse_url(opts.url, &where);
    if (signal(SIGPIPE, SIG_IGN) == SIG_ERR)
        fail("signal: %s", strerror(errno));
    load_run *run = allocate(sizeof *run);
    setup_run(run, &opts, &where);
    event_loop(run);
    run->finished = now_seconds();
    if (run->record != NULL && fclose(run->record) != 0)
        fail("cannot write %s: %s", opts.record_file, strerror(errno));
    print_result(run);
    return 0;
}
