/*
 * fuzz_form: the urlencoded parser (core/form.h: query strings, Haravan's
 * form_post, the settings page's forms) and the Cookie header reader
 * (core/cookie.h), on any bytes a request can carry.
 *
 * Besides "no crash, no leak, no undefined behaviour":
 * - form_parse() either fails with an empty form or keeps at most
 *   FORM_MAX_FIELDS fields, and encoding those fields again with
 *   form_append_encoded() and parsing the result gives the same fields
 *   (the encoder and the decoder are each other's inverse, so what the
 *   connector sends in a token request is what a server reads);
 * - cookie_find() (the input split at its first newline into the cookie's
 *   name and the header) copies a value only when it fits, without the
 *   spaces around it and without a ';', and says -1 with "" otherwise.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/buffer.h"
#include "core/cookie.h"
#include "core/form.h"

static void check_round_trip(const form *parsed)
{
    buffer encoded = BUFFER_INIT;
    for (size_t i = 0; i < parsed->count; i++) {
        if ((i > 0 && buffer_append_char(&encoded, '&') != 0) ||
            form_append_encoded(&encoded, parsed->fields[i].name) != 0 ||
            buffer_append_char(&encoded, '=') != 0 ||
            form_append_encoded(&encoded, parsed->fields[i].value) != 0) {
            buffer_free(&encoded);
            return;
        }
    }
    form again;
    if (form_parse(&again, encoded.data != NULL ? encoded.data : "", encoded.length) != 0 ||
        again.count != parsed->count)
        abort();
    for (size_t i = 0; i < parsed->count; i++)
        if (strcmp(again.fields[i].name, parsed->fields[i].name) != 0 ||
            strcmp(again.fields[i].value, parsed->fields[i].value) != 0)
            abort();
    form_free(&again);
    buffer_free(&encoded);
}

static void check_form(const char *text, size_t length)
{
    form parsed;
    if (form_parse(&parsed, text, length) != 0) {
        if (parsed.count != 0)
            abort();
        return;
    }
    if (parsed.count > FORM_MAX_FIELDS)
        abort();
    check_round_trip(&parsed);
    (void)form_get(&parsed, "id_token");
    form_free(&parsed);
}

static void check_cookie(const char *text)
{
    const char *newline = strchr(text, '\n');
    if (newline == NULL)
        return;
    size_t name_length = (size_t)(newline - text);
    char name[64];
    if (name_length >= sizeof name)
        return;
    memcpy(name, text, name_length);
    name[name_length] = '\0';
    char out[48];
    memset(out, 'x', sizeof out);
    int found = cookie_find(newline + 1, name, out, sizeof out);
    if (found < -1 || found > 1 || (found != 1 && out[0] != '\0'))
        abort();
    size_t length = strlen(out);
    if (found == 1 && (length >= sizeof out || strchr(out, ';') != NULL ||
                       (length > 0 && (out[0] == ' ' || out[length - 1] == ' '))))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (text == NULL)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    check_form(text, size);
    check_cookie(text);
    free(text);
    return 0;
}
