/*
 * buffer: a growable byte string.
 *
 * Request bodies, JSON log lines and SQL results are built piece by piece
 * and may hold any byte (a webhook body is kept byte for byte, NUL included),
 * so a buffer carries an explicit length and is always NUL-terminated as a
 * convenience for text. Growth is geometric; every append can fail on
 * allocation and says so, so a caller under memory pressure answers 503
 * instead of crashing.
 *
 * Ownership: the buffer owns `data`. buffer_free() releases it;
 * buffer_detach() hands it to the caller (free() it) and resets the buffer.
 */
#ifndef HARAVAN_CORE_BUFFER_H
#define HARAVAN_CORE_BUFFER_H

#include <stdarg.h>
#include <stddef.h>

typedef struct buffer {
    char *data;      /* NULL until the first append; else NUL-terminated */
    size_t length;   /* bytes in use, not counting the terminating NUL */
    size_t capacity; /* bytes allocated */
} buffer;

#define BUFFER_INIT                                                                                \
    {                                                                                              \
        NULL, 0, 0                                                                                 \
    }

/* Returns 0, or -1 when memory ran out (the buffer is left as it was). */
int buffer_reserve(buffer *b, size_t extra);
int buffer_append(buffer *b, const void *bytes, size_t length);
int buffer_append_string(buffer *b, const char *text);
int buffer_append_char(buffer *b, char c);
int buffer_printf(buffer *b, const char *format, ...) __attribute__((format(printf, 2, 3)));
int buffer_vprintf(buffer *b, const char *format, va_list args)
    __attribute__((format(printf, 2, 0)));

/* Appends `text` as the inside of a JSON string (quotes not included):
 * escapes quotes, backslashes and control bytes; other bytes pass as they
 * are, so UTF-8 stays UTF-8. */
int buffer_append_json_escaped(buffer *b, const char *text, size_t length);

/* Empties the buffer, keeping its memory for reuse. */
void buffer_clear(buffer *b);

/* The text, or "" for a buffer never written to. Owned by the buffer. */
const char *buffer_text(const buffer *b);

/* Hands the data to the caller, who must free() it; may return NULL for an
 * empty buffer. The buffer is reset to empty. */
char *buffer_detach(buffer *b);

void buffer_free(buffer *b);

#endif
