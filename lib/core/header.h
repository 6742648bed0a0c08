/*
 * header: HTTP header names as CGI and FastCGI pass them.
 *
 * nginx hands a request header to FastCGI as HTTP_ + the name upper-cased
 * with '-' turned into '_'. That mapping is what makes header names
 * case-insensitive here, and what folds Haravan's spellings
 * X-Haravan-Hmacsha256 and X-Haravan-HmacSha256 into one variable.
 */
#ifndef HARAVAN_CORE_HEADER_H
#define HARAVAN_CORE_HEADER_H

#include <stddef.h>

/* Writes the CGI variable for header `name` into `out`. Returns 0, or -1
 * when it does not fit. */
int header_cgi_name(const char *name, char *out, size_t size);

#endif
