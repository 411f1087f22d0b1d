'use strict';
// Lyrics tasks made directly in SQL for the benchmarks (as the dispatcher would have left them), and the signed
// KIE callbacks that finish them.
const { randomBytes, randomUUID } = require('node:crypto');
const { requireDist } = require('./stack');

const HMAC_KEY = 'bench-hmac-key';
const { CLIENT, CLIENT_KEY, clientHeaders } = require('./client');

/**
 * `count` tasks as the dispatcher leaves them after KIE accepted the create: status 'submitted', a KIE task id and
 * the SHA-256 of a fresh callback token (which we keep, as KIE would have it in its callBackUrl). Each carries the
 * lyrics the sandbox writes for its prompt (2 or 3 variants).
 */
function makeSubmittedTasks(count, label) {
  const { hashCallbackToken, newCallbackToken } = requireDist('lyrics/callback-token');
  const { writeLyrics } = requireDist('sandbox/sandbox-lyrics');
  return Array.from({ length: count }, (_, i) => {
    const token = newCallbackToken();
    const prompt = `bench ${label} ${i} ${randomBytes(4).toString('hex')}`;
    return {
      id: randomUUID(),
      token,
      tokenHash: hashCallbackToken(token),
      kieTaskId: randomBytes(16).toString('hex'),
      prompt,
      variants: writeLyrics(prompt),
    };
  });
}

/** Inserts the tasks in one statement; their first poll is a day away, so only callbacks finish them. */
async function insertSubmittedTasks(database, tasks) {
  await database.query(
    `INSERT INTO lyrics_tasks (id, owner, status, prompt, kie_task_id, callback_token_hash, attempts, next_attempt_at, submitted_at)
     SELECT id, '${CLIENT}', 'submitted', prompt, kie_task_id, hash, 1, now() + interval '1 day', now()
     FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[]) AS t(id, prompt, kie_task_id, hash)`,
    [tasks.map((t) => t.id), tasks.map((t) => t.prompt), tasks.map((t) => t.kieTaskId), tasks.map((t) => t.tokenHash)],
  );
}

/** KIE's snake_case success callback for a task (the sandbox's own payload builder), signed as KIE signs it. */
function callbackRequest(task, hmacKey = HMAC_KEY) {
  const { callbackBody } = requireDist('sandbox/sandbox-payloads');
  const { signWebhook } = requireDist('lyrics/kie/kie-signature');
  const body = JSON.stringify(
    callbackBody(
      { taskId: task.kieTaskId, callbackShape: 'legacy', outcome: 'success', variants: task.variants, behaviours: { messageKey: false } },
      'snake',
      'data',
    ),
  );
  const timestamp = String(Math.floor(Date.now() / 1000));
  return {
    method: 'POST',
    path: `/lyrics/callback/${task.id}/${task.token}`,
    headers: {
      'content-type': 'application/json',
      'x-webhook-timestamp': timestamp,
      'x-webhook-signature': signWebhook(task.kieTaskId, timestamp, hmacKey),
    },
    body,
  };
}

/**
 * Checks in SQL that every task succeeded by callback with exactly its variants, in order, and has exactly one
 * receipt, 'applied'. Returns counts and up to 5 examples of what was wrong.
 */
async function verifyCallbacks(database, tasks) {
  const rows = await database.query(
    `SELECT t.id, t.status, t.result_source,
            (SELECT coalesce(array_agg(v.title || E'\\n' || v.text ORDER BY v.position), '{}') FROM lyrics_variants v WHERE v.task_id = t.id) AS variants,
            (SELECT count(*) FROM lyrics_callback_receipts r WHERE r.task_id = t.id AND r.outcome = 'applied')::int AS applied,
            (SELECT count(*) FROM lyrics_callback_receipts r WHERE r.task_id = t.id AND r.outcome <> 'applied')::int AS other
     FROM lyrics_tasks t WHERE t.id = ANY($1::uuid[])`,
    [tasks.map((t) => t.id)],
  );
  const byId = new Map(rows.map((row) => [row.id, row]));
  let verified = 0;
  const problems = [];
  for (const task of tasks) {
    const row = byId.get(task.id);
    const expected = task.variants.map((v) => `${v.title}\n${v.text}`);
    const issue = !row
      ? 'missing'
      : row.status !== 'succeeded'
        ? `status ${row.status}`
        : row.result_source !== 'callback'
          ? `result_source ${row.result_source}`
          : JSON.stringify(row.variants) !== JSON.stringify(expected)
            ? `variants ${row.variants.length} vs ${expected.length}`
            : row.applied !== 1 || row.other !== 0
              ? `receipts applied=${row.applied} other=${row.other}`
              : undefined;
    if (issue === undefined) verified++;
    else if (problems.length < 5) problems.push(`${task.id}: ${issue}`);
  }
  return { tasks: tasks.length, verified, failed: tasks.length - verified, problems };
}

module.exports = {
  HMAC_KEY,
  CLIENT,
  CLIENT_KEY,
  clientHeaders,
  makeSubmittedTasks,
  insertSubmittedTasks,
  callbackRequest,
  verifyCallbacks,
};
