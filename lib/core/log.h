/*
 * log: one JSON object per line on standard error.
 *
 * Operators feed these lines to whatever collects logs, so every line is
 * complete JSON written with a single write(2): lines from many worker
 * processes sharing one file never interleave. A record names each field
 * explicitly; nothing here dumps headers or bodies wholesale, which is how
 * secrets, tokens and signatures stay out of the log.
 *
 * Usage:
 *     log_record record;
 *     log_begin(&record, "info", "request");
 *     log_string(&record, "path", path);
 *     log_number(&record, "status", 200);
 *     log_end(&record);            // writes and releases the record
 *
 *     log_message("error", "cannot bind %s: %s", path, strerror(errno));
 */
#ifndef HARAVAN_CORE_LOG_H
#define HARAVAN_CORE_LOG_H

#include "core/buffer.h"

typedef struct log_record {
    buffer line;
} log_record;

/* Starts a record with time, level, pid and the event name. */
void log_begin(log_record *record, const char *level, const char *event);
/* Adds "name": "value"; a NULL value is left out. */
void log_string(log_record *record, const char *name, const char *value);
void log_number(log_record *record, const char *name, long long value);
/* Adds a number with three decimals (durations in milliseconds). */
void log_decimal(log_record *record, const char *name, double value);
/* Writes the line and frees the record. */
void log_end(log_record *record);

/* A one-field record: {"time":..., "level":..., "pid":..., "msg":"..."}. */
void log_message(const char *level, const char *format, ...) __attribute__((format(printf, 2, 3)));

#endif
