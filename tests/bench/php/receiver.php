<?php
// receiver.php: the PHP-FPM peer of tests/bench/run.sh.
//
// What most CRMs run to take a Haravan webhook, written the way a careful
// PHP developer would, doing the same work as haravan-fcgi's intake: check
// base64(HMAC-SHA256(client secret, raw body)) in constant time, check the
// topic and the org header, read id and updated_at from the JSON for the
// same dedupe key, and store the delivery with the intake's own statement
// (one INSERT ... ON CONFLICT, with its pg_notify as often as the intake
// sends it) into the same hv_events table, answering 200 only after it
// committed. One persistent connection per FPM child, as haravan-fcgi keeps
// one per worker; the statement goes through pg_query_params, as PHP code
// usually sends it (haravan-fcgi prepares it once per connection). run.sh
// gives the secret and the database in the pool's environment.

function reply(int $status, string $json): void
{
    http_response_code($status);
    header('Content-Type: application/json');
    header('Cache-Control: no-store');
    echo $json;
}

$secret = getenv('HARAVAN_CLIENT_SECRET');
$body = file_get_contents('php://input');
$signature = $_SERVER['HTTP_X_HARAVAN_HMACSHA256'] ?? '';
if ($secret === false || $secret === '' || $body === false) {
    reply(503, '{"error":"not configured"}');
    exit;
}
$expected = base64_encode(hash_hmac('sha256', $body, $secret, true));
if (!hash_equals($expected, $signature)) {
    reply(401, '{"error":"invalid signature"}');
    exit;
}
$topic = $_SERVER['HTTP_X_HARAVAN_TOPIC'] ?? '';
// The intake's topic rule (hv_webhook_topic_valid): 1 to 100 of [a-z0-9_/.-].
if (preg_match('~^[a-z0-9_/.\-]{1,100}$~', $topic) !== 1) {
    reply(400, '{"error":"invalid X-Haravan-Topic header"}');
    exit;
}
$org = $_SERVER['HTTP_X_HARAVAN_ORG_ID'] ?? '';
if (strlen($org) >= 64) {
    reply(400, '{"error":"X-Haravan-Org-Id header longer than 63 bytes"}');
    exit;
}
// Integers beyond PHP_INT_MAX stay exact as text, as the intake's checked
// parser keeps integers beyond 2^53.
$data = json_decode($body, true, 64, JSON_BIGINT_AS_STRING);
// An id as the intake copies it (copy_id): a string, or a whole number.
function id_text($value): string
{
    if (is_string($value) && strlen($value) < 64) return $value;
    if (is_int($value) && $value >= 0) return (string)$value;
    return '';
}
$id = is_array($data) ? id_text($data['id'] ?? null) : '';
$updated = is_array($data) ? id_text($data['updated_at'] ?? null) : '';
if ($org === '' && is_array($data)) {
    $org = id_text($data['org_id'] ?? null);
}
// The same dedupe key as webhook.c's make_key.
$key = ($id !== '' && $updated !== '' && strpos($id, ':') === false && strpos($org, ':') === false)
    ? "v1:$org:$topic:$id:$updated"
    : "sha256:$org:$topic:" . hash('sha256', $body);
$headers = json_encode([
    'Content-Type' => $_SERVER['CONTENT_TYPE'] ?? '',
    'X-Haravan-Topic' => $topic,
    'X-Haravan-Org-Id' => $org,
    'User-Agent' => $_SERVER['HTTP_USER_AGENT'] ?? '',
]);

$db = pg_pconnect(getenv('HARAVAN_PHP_DB'));
if ($db === false) {
    reply(503, '{"error":"database unavailable"}');
    exit;
}
// The intake's own statement (lib/inbox/inbox.c, insert_sql), text for
// text: both identities (dedupe key, body digest), the per-resource columns
// the processors claim by, and the NOTIFY that wakes them on commit, sent
// as often as the intake sends it: at most once per 50 ms per worker
// (INBOX_WAKE_MS), here per persistent connection, the time of the last
// announcing statement kept in a session setting (a PHP request keeps no
// memory of its own from one request to the next).
$result = pg_query_params(
    $db,
    "WITH stored AS (INSERT INTO hv_events (org_id, topic, resource_id, resource_updated_at,"
    . " dedupe_key, headers, body, body_sha256, is_test, status, reason, notes, next_attempt_at,"
    . " processed_at, resource, resource_version)"
    . " VALUES (nullif($1, ''), $2, nullif($3, ''), nullif($4, ''), $5, $6::jsonb, $7,"
    . " sha256($7::bytea), $8::boolean, $9::text, $10, $11, now(),"
    . " CASE WHEN $9::text = 'dead' THEN now() END,"
    . " CASE WHEN $3 <> '' THEN split_part($2, '/', 1) || ':' || $1 || ':' || $3 END,"
    . " hv_timestamptz(nullif($4, '')))"
    . " ON CONFLICT DO NOTHING RETURNING id),"
    . " clock AS (SELECT floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint AS now_ms)"
    . " SELECT id, CASE WHEN coalesce(nullif(current_setting('bench.announced_ms', true), '')::bigint, 0)"
    . " <= now_ms - 50 THEN set_config('bench.announced_ms', now_ms::text, false)"
    . " || pg_notify('hv_events', '')::text END FROM stored, clock",
    [$org, $topic, $id, $updated, $key, $headers, pg_escape_bytea($db, $body), 'false',
     is_array($data) ? 'pending' : 'dead', is_array($data) ? null : 'body is not valid JSON', null]
);
if ($result === false) {
    reply(503, '{"error":"cannot store the delivery now; please retry"}');
    exit;
}
$row = pg_fetch_row($result);
if ($row === false) {
    reply(200, '{"status":"duplicate"}');
    exit;
}
reply(200, '{"status":"stored","event_id":' . $row[0] . '}');
