'use strict';
// The pg baseline of the callback benchmark: PostgreSQL's own rate for the writes one callback makes, from a bare
// `pg` pool at the same concurrency as the HTTP run, with no Nest, no TypeORM and no HTTP in between.
const { Pool } = require('pg');
const { summarize } = require('./stats');

const TASK_COLUMNS = [
  'id',
  'status',
  'prompt',
  'metadata',
  'idempotency_key',
  'request_hash',
  'kie_task_id',
  'callback_token_hash',
  'error_code',
  'error_message',
  'attempts',
  'result_source',
  'polls',
  'next_attempt_at',
  'lease_until',
  'created_at',
  'submitted_at',
  'completed_at',
  'updated_at',
]
  .map((c) => `"LyricsTaskEntity"."${c}" AS "LyricsTaskEntity_${c}"`)
  .join(', ');

// Statement texts exactly as TypeORM sends them for one callback (read from pg_stat_statements during a service
// run: LyricsCallbackService.handle, then LyricsService.transition and its receipt, then the event's variants).
const SQL = {
  findForAuth:
    'SELECT "LyricsTaskEntity"."id" AS "LyricsTaskEntity_id", "LyricsTaskEntity"."status" AS "LyricsTaskEntity_status", ' +
    '"LyricsTaskEntity"."kie_task_id" AS "LyricsTaskEntity_kie_task_id", "LyricsTaskEntity"."callback_token_hash" AS "LyricsTaskEntity_callback_token_hash" ' +
    'FROM "lyrics_tasks" "LyricsTaskEntity" WHERE (("LyricsTaskEntity"."id" = $1)) LIMIT 1',
  update:
    'UPDATE "lyrics_tasks" SET "status" = $1, "error_code" = $2, "error_message" = $3, "result_source" = $4, ' +
    '"kie_task_id" = COALESCE("kie_task_id", $5), "submitted_at" = COALESCE("submitted_at", clock_timestamp()), ' +
    '"completed_at" = clock_timestamp(), "next_attempt_at" = $6, "lease_until" = $7, "updated_at" = clock_timestamp() ' +
    `WHERE "id" = $8 AND ("status" IN ('queued', 'submitted') OR ("status" = 'failed' AND "error_code" = 'timed_out')) RETURNING "id"`,
  notify: 'SELECT pg_notify($1, $2)',
  findFull: `SELECT ${TASK_COLUMNS} FROM "lyrics_tasks" "LyricsTaskEntity" WHERE (("LyricsTaskEntity"."id" = $1)) LIMIT 1`,
  receipt:
    'INSERT INTO "lyrics_callback_receipts"("received_at", "task_id", "kie_task_id", "outcome", "detail", "remote_address", "body", "body_truncated") ' +
    'VALUES (DEFAULT, $1, $2, $3, $4, $5, $6, $7) RETURNING "id", "received_at", "body_truncated"',
  variantsOf:
    'SELECT "variant"."task_id" AS "variant_task_id", "variant"."position" AS "variant_position", "variant"."title" AS "variant_title", ' +
    '"variant"."text" AS "variant_text", "variant"."status" AS "variant_status", "variant"."error_message" AS "variant_error_message" ' +
    'FROM "lyrics_variants" "variant" WHERE "variant"."task_id" = ANY($1) ORDER BY "variant"."task_id" ASC, "variant"."position" ASC',
};

function insertVariants(client, task) {
  const values = [];
  const params = [];
  task.variants.forEach((variant, position) => {
    const base = params.length;
    values.push(`($${base + 1}, $${base + 2}, $${base + 3}, $${base + 4}, $${base + 5}, $${base + 6})`);
    params.push(task.id, position, variant.title, variant.text, 'complete', null);
  });
  return client.query(
    `INSERT INTO "lyrics_variants"("task_id", "position", "title", "text", "status", "error_message") VALUES ${values.join(', ')}`,
    params,
  );
}

/**
 * The same statements, in the same order and transaction, as the service sends for one callback (9 round trips:
 * an authentication read, then BEGIN, the guarded UPDATE, pg_notify, the variants, a re-read of the task, the
 * receipt, COMMIT, and after commit the event's read of the variants).
 */
async function asTheService(pool, task, body) {
  const client = await pool.connect();
  try {
    await client.query(SQL.findForAuth, [task.id]);
    await client.query('START TRANSACTION');
    try {
      await client.query(SQL.update, ['succeeded', null, null, 'callback', task.kieTaskId, null, null, task.id]);
      await client.query(SQL.notify, ['lyrics_task_final', task.id]);
      await insertVariants(client, task);
      await client.query(SQL.findFull, [task.id]);
      await client.query(SQL.receipt, [task.id, task.kieTaskId, 'applied', null, '127.0.0.1', body, false]);
      await client.query('COMMIT');
    } catch (error) {
      await client.query('ROLLBACK');
      throw error;
    }
    await client.query(SQL.variantsOf, [[task.id]]);
  } finally {
    client.release();
  }
}

/** The writes alone (the brief's "select task, update guarded, insert variants, insert receipt, in one transaction"). */
async function minimal(pool, task, body) {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    try {
      await client.query(SQL.findForAuth, [task.id]);
      await client.query(SQL.update, ['succeeded', null, null, 'callback', task.kieTaskId, null, null, task.id]);
      await insertVariants(client, task);
      await client.query(SQL.receipt, [task.id, task.kieTaskId, 'applied', null, '127.0.0.1', body, false]);
      await client.query('COMMIT');
    } catch (error) {
      await client.query('ROLLBACK');
      throw error;
    }
  } finally {
    client.release();
  }
}

/**
 * The same effect in two round trips: the authentication read, then one statement (data-modifying CTEs: the guarded
 * UPDATE ... RETURNING, the variants, the receipt and the notification, atomic as one statement is). What the
 * database can do for a callback when the service sends no more than it needs.
 */
async function single(pool, task, body) {
  const client = await pool.connect();
  try {
    await client.query(SQL.findForAuth, [task.id]);
    await client.query(
      `WITH updated AS (
         UPDATE lyrics_tasks SET status = 'succeeded', error_code = NULL, error_message = NULL, result_source = 'callback',
                kie_task_id = COALESCE(kie_task_id, $2), submitted_at = COALESCE(submitted_at, clock_timestamp()),
                completed_at = clock_timestamp(), next_attempt_at = NULL, lease_until = NULL, updated_at = clock_timestamp()
         WHERE id = $1 AND (status IN ('queued', 'submitted') OR (status = 'failed' AND error_code = 'timed_out'))
         RETURNING *
       ), variants AS (
         INSERT INTO lyrics_variants (task_id, position, title, text, status, error_message)
         SELECT updated.id, v.position - 1, v.title, v.text, 'complete', NULL
         FROM updated, unnest($3::text[], $4::text[]) WITH ORDINALITY AS v(title, text, position)
       ), receipt AS (
         INSERT INTO lyrics_callback_receipts (task_id, kie_task_id, outcome, detail, remote_address, body, body_truncated)
         SELECT $1, $2, CASE WHEN EXISTS (SELECT 1 FROM updated) THEN 'applied' ELSE 'duplicate' END, NULL, '127.0.0.1', $5, false
       )
       SELECT updated.*, pg_notify('lyrics_task_final', updated.id::text) AS notified FROM updated`,
      [task.id, task.kieTaskId, task.variants.map((v) => v.title), task.variants.map((v) => v.text), body],
    );
  } finally {
    client.release();
  }
}

const FLAVOURS = { service: asTheService, minimal, single };

/**
 * Runs `flavour` for every task with `concurrency` workers on a pool of `poolSize` connections (default: one per
 * worker). Returns throughput and per-transaction latency, measured like the HTTP runs.
 */
async function pgBaseline({ url, tasks, bodies, concurrency, flavour, poolSize = concurrency, beforeEnd }) {
  const pool = new Pool({ connectionString: url, max: poolSize });
  // Open the connections first, as the service's pool already has them.
  const clients = await Promise.all(Array.from({ length: poolSize }, () => pool.connect()));
  clients.forEach((client) => client.release());
  const run = FLAVOURS[flavour];
  const latencies = [];
  let errors = 0;
  let firstError;
  let next = 0;
  const started = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < tasks.length) {
        const i = next++;
        const t0 = process.hrtime.bigint();
        try {
          await run(pool, tasks[i], bodies[i]);
        } catch (error) {
          if (errors++ === 0) firstError = error.message;
        }
        latencies.push(Number(process.hrtime.bigint() - t0) / 1e6);
      }
    }),
  );
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  // Measured while the pool's backends are alive (an exited backend's CPU time is counted only once reaped).
  const extra = beforeEnd?.();
  await pool.end();
  return {
    flavour,
    poolSize,
    concurrency,
    requests: tasks.length,
    errors,
    firstError,
    seconds,
    perSecond: tasks.length / seconds,
    latencyMs: summarize(latencies),
    ...extra,
  };
}

module.exports = { pgBaseline, SQL };
