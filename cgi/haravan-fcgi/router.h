/*
 * router: maps a request's path and method to its handler.
 *
 * Routes are a static table (router.c), matched exactly on the path that
 * nginx passes as DOCUMENT_URI. A known path with another method gets 405
 * and an Allow header listing the methods it does take; anything else 404.
 */
#ifndef HARAVAN_FCGI_ROUTER_H
#define HARAVAN_FCGI_ROUTER_H

#include "request.h"
#include "worker.h"

void router_dispatch(worker *w, request *r);

#endif
