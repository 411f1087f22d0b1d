'use strict';
// The pg baseline of the callback benchmark: PostgreSQL's own rate for the statements one callback sends, from a
// bare `pg` pool at the same concurrency as the HTTP run, with no Nest, no Express and no HTTP in between. The
// statements are the service's own builders, loaded from dist/: the same text, values and names (so each is
// prepared once per connection, as in the service).
const { Pool } = require('pg');
const { requireDist } = require('./stack');
const { summarize } = require('./stats');

/**
 * What LyricsCallbackService sends for a genuine callback that finishes its task: the authentication read
 * (callbackTarget), then the one door's statement with the applied receipt (applyTransition). The change is built
 * from the body by the service's own parser, as the service builds it.
 */
function callbackStatements(task, body) {
  const { applyTransition, callbackTarget } = requireDist('lyrics/persistence/tasks.sql');
  const { parseCallback } = requireDist('lyrics/kie/kie-payloads');
  const { resultChange } = requireDist('lyrics/task-transitions');
  const callback = parseCallback(JSON.parse(body));
  const receipt = { kieTaskId: callback.kieTaskId, remoteAddress: '127.0.0.1', body, bodyTruncated: false };
  return [callbackTarget(task.id), applyTransition(task.id, resultChange('callback', callback.kieTaskId, callback.result), receipt)];
}

/**
 * Sends every task's callback statements, one after the other on any pooled connection (as the service's pool
 * queries do: the callback path uses no explicit transaction), with `concurrency` workers on a pool of `poolSize`
 * connections (default: one per worker). The statements are built before the clock starts. Returns throughput and
 * per-callback latency, measured like the HTTP runs.
 */
async function pgBaseline({ url, tasks, bodies, concurrency, poolSize = concurrency, beforeEnd }) {
  const statements = tasks.map((task, i) => callbackStatements(task, bodies[i]));
  const pool = new Pool({ connectionString: url, max: poolSize });
  // Open the connections first, as the service's pool already has them.
  const clients = await Promise.all(Array.from({ length: poolSize }, () => pool.connect()));
  clients.forEach((client) => client.release());
  const latencies = [];
  let errors = 0;
  let firstError;
  let next = 0;
  const started = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < tasks.length) {
        const i = next++;
        const [target, transition] = statements[i];
        const t0 = process.hrtime.bigint();
        try {
          await pool.query(target);
          const { rowCount } = await pool.query(transition);
          if (rowCount !== 1) throw new Error(`the transition of ${tasks[i].id} changed ${rowCount} rows`);
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

module.exports = { callbackStatements, pgBaseline };
