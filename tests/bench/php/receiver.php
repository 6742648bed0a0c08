<?php
// receiver.php: the PHP-FPM peer of tests/bench/run.sh.
//
// What most CRMs run to take a Haravan webhook, written the way a careful
// PHP developer would, doing the same work as haravan-fcgi's intake: check
// base64(HMAC-SHA256(client secret, raw body)) in constant time, check the
// topic, read id and updated_at from the JSON for the same dedupe key, and
// store the delivery with the same single INSERT ... ON CONFLICT into the
// same hv_events table, answering 200 only after it committed. One
// persistent connection per FPM child, as haravan-fcgi keeps one per worker.
// run.sh gives the secret and the database in the pool's environment.

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
if (preg_match('~^[a-z0-9_]+/[a-z0-9_]+$~', $topic) !== 1) {
    reply(400, '{"error":"invalid X-Haravan-Topic header"}');
    exit;
}
$org = $_SERVER['HTTP_X_HARAVAN_ORG_ID'] ?? '';
$data = json_decode($body, true, 64);
$id = is_array($data) && isset($data['id']) ? (string)$data['id'] : '';
$updated = is_array($data) && isset($data['updated_at']) ? (string)$data['updated_at'] : '';
$key = ($id !== '' && $updated !== '')
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
$result = pg_query_params(
    $db,
    'INSERT INTO hv_events (org_id, topic, resource_id, resource_updated_at, dedupe_key,'
    . ' headers, body, is_test, status, reason, next_attempt_at)'
    . ' VALUES (nullif($1, \'\'), $2, nullif($3, \'\'), nullif($4, \'\'), $5, $6::jsonb, $7,'
    . ' $8::boolean, $9, $10, now() + interval \'5 seconds\')'
    . ' ON CONFLICT (dedupe_key) DO NOTHING RETURNING id',
    [$org, $topic, $id, $updated, $key, $headers, pg_escape_bytea($db, $body), 'false',
     is_array($data) ? 'pending' : 'dead', is_array($data) ? null : 'body is not valid JSON']
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
