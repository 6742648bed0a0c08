/*
 * router: maps a request's path and method to its handler.
 *
 * Routes are a static table (router.c), matched on the path that nginx
 * passes as DOCUMENT_URI: exactly, except that a `*` in a route stands for
 * one whole, non-empty path segment (the event id of the replay route; the
 * handler reads it from the path). A known path with another method gets
 * 405 and an Allow header listing the methods it does take, unless the
 * path has a route of method "*" (after its others), which then answers
 * every other method itself; anything else 404.
 */
#ifndef HARAVAN_FCGI_ROUTER_H
#define HARAVAN_FCGI_ROUTER_H

#include "request.h"
#include "worker.h"

void router_dispatch(worker *w, request *r);

/* 1 when `path` matches route `pattern` (see above), else 0. */
int router_path_matches(const char *pattern, const char *path);

#endif
