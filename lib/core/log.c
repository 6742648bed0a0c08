/*
 * log: JSON lines on standard error. See log.h.
 *
 * If a line cannot be built (memory) it is dropped rather than written
 * half: a truncated JSON line would break the collector downstream.
 */
#define _POSIX_C_SOURCE 200809L
#include "core/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

/* Drops the record when an append failed, so that no half line is written. */
static void keep_if(log_record *record, int result)
{
    if (result != 0)
        buffer_free(&record->line);
}

void log_begin(log_record *record, const char *level, const char *event)
{
    struct timeval now;
    struct tm utc;
    char stamp[40];
    gettimeofday(&now, NULL);
    gmtime_r(&now.tv_sec, &utc);
    strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &utc);

    record->line = (buffer)BUFFER_INIT;
    int result =
        buffer_printf(&record->line, "{\"time\":\"%s.%03ldZ\",\"level\":\"%s\",\"pid\":%ld", stamp,
                      (long)(now.tv_usec / 1000), level, (long)getpid());
    keep_if(record, result);
    if (event != NULL)
        log_string(record, "event", event);
}

void log_string(log_record *record, const char *name, const char *value)
{
    if (value == NULL || record->line.data == NULL)
        return;
    int result = buffer_printf(&record->line, ",\"%s\":\"", name);
    if (result == 0)
        result = buffer_append_json_escaped(&record->line, value, strlen(value));
    if (result == 0)
        result = buffer_append_char(&record->line, '"');
    keep_if(record, result);
}

void log_number(log_record *record, const char *name, long long value)
{
    if (record->line.data == NULL)
        return;
    keep_if(record, buffer_printf(&record->line, ",\"%s\":%lld", name, value));
}

void log_decimal(log_record *record, const char *name, double value)
{
    if (record->line.data == NULL)
        return;
    keep_if(record, buffer_printf(&record->line, ",\"%s\":%.3f", name, value));
}

void log_end(log_record *record)
{
    if (record->line.data != NULL && buffer_append(&record->line, "}\n", 2) == 0) {
        ssize_t written = write(STDERR_FILENO, record->line.data, record->line.length);
        (void)written; /* nowhere left to report a failed log write */
    }
    buffer_free(&record->line);
}

void log_message(const char *level, const char *format, ...)
{
    char text[1024];
    va_list args;
    va_start(args, format);
    vsnprintf(text, sizeof text, format, args);
    va_end(args);

    log_record record;
    log_begin(&record, level, NULL);
    log_string(&record, "msg", text);
    log_end(&record);
}
