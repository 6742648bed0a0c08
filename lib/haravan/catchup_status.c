/*
 * hv_catchup_status_json: the catch-up jobs as the status route shows
 * them (docs/CONNECT.md, "Catching up"). One statement; the JSON is
 * built by PostgreSQL (json_agg), so the shape is in one place.
 */
#include <stdlib.h>

#include "haravan/catchup.h"

static const char status_sql[] =
    "SELECT json_build_object("
    " 'imports', coalesce((SELECT json_agg(json_build_object('org_id', org_id,"
    "  'kind', split_part(job, '/', 1), 'state', state, 'since', since, 'done', done,"
    "  'stored', stored, 'total', total, 'calls', calls, 'errors', errors,"
    "  'last_error', last_error, 'watermark', watermark, 'started_at', started_at,"
    "  'updated_at', updated_at, 'finished_at', finished_at,"
    "  'records_per_second', CASE WHEN started_at IS NOT NULL AND done > 0 THEN"
    "   round((done / greatest(extract(epoch FROM coalesce(finished_at, updated_at) - started_at),"
    "   0.001))::numeric, 1) END) ORDER BY org_id, job)"
    "  FROM hv_catchup WHERE job LIKE '%/import' AND ($1::text IS NULL OR org_id = $1)), '[]'),"
    " 'reconciliations', coalesce((SELECT json_agg(json_build_object('org_id', org_id,"
    "  'kind', split_part(job, '/', 1), 'state', state, 'watermark', watermark,"
    "  'last_run_at', last_run_at, 'last_found', last_found, 'last_new', last_new,"
    "  'errors', errors, 'last_error', last_error) ORDER BY org_id, job)"
    "  FROM hv_catchup WHERE job LIKE '%/reconcile' AND ($1::text IS NULL OR org_id = $1)), '[]')"
    ")::text";

cJSON *hv_catchup_status_json(db *database, const char *org_id)
{
    const char *values[] = {org_id};
    PGresult *result = db_query(database, DB_IDEMPOTENT, status_sql, 1, values, NULL, NULL);
    if (result == NULL)
        return NULL;
    cJSON *document = cJSON_Parse(PQgetvalue(result, 0, 0));
    PQclear(result);
    return document;
}
