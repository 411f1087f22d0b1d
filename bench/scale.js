'use strict';
// One million task rows (10% active: queued or submitted), generated in SQL on a migrated database; then
//  (a) the due-work claims of the dispatcher and the poller (the service's own statements, built by
//      dist/lyrics/persistence/ and named as the service names them, each inside a transaction that is rolled back):
//      p50/p99 over many runs, with EXPLAIN (ANALYZE, BUFFERS) plans;
//  (b) GET /lyrics pages over HTTP with the service running on that database (first page, a deep page by cursor,
//      status filters): p50/p99, with EXPLAIN (ANALYZE, BUFFERS) of the list and variants statements the service sends;
// and the service's RSS meanwhile.
//
//   npm run bench:scale                                   # 1,000,000 rows, ~3-5 minutes (mostly generating rows)
//   npm run bench:scale -- --rows 100000 --runs 200       # a quicker trial
const { setTimeout: sleep } = require('node:timers/promises');
const { Client } = require('pg');
const { fmt, machineInfo, parseFlags, printTable, printTargets, saveResults } = require('./lib/report');
const { requireDist, Stack, sampleRss, withClient } = require('./lib/stack');
const { summarize } = require('./lib/stats');
const { CLIENT, clientHeaders } = require('./lib/client');
const { HMAC_KEY } = require('./lib/tasks');

const flags = parseFlags({
  rows: { default: 1000000, help: 'task rows to generate' },
  'active-share': { default: 0.1, help: 'share of the rows that are active (half queued, half submitted), all among the newest' },
  variants: { default: true, help: 'give every succeeded task 2-3 variant rows (as the list endpoint reads them)' },
  runs: { default: 500, help: 'runs of each claim statement and of each list request' },
  'time-limit-s': { default: 1200, help: 'the whole run is stopped after this long' },
  keep: { default: false, help: 'keep logs and data in the temp folder' },
});

// The work claims' statements, built by the service's own builders (dist/lyrics/persistence/), with the default
// settings: 4 free places per worker, the create budget's 10 s window, tasks' 30 min maximum age, 60 s leases.
const PLACES = 4;
const CREATE_WINDOW_MS = 10000;
const TASK_MAX_AGE_MS = 1800000;
const LEASE_MS = 60000;

function claimStatements() {
  const tasks = requireDist('lyrics/persistence/tasks.sql');
  const slots = requireDist('lyrics/persistence/rate-slots.sql');
  return {
    'dispatcher: fair share of due creates': tasks.lockFairDueCreates(PLACES),
    'dispatcher: free create slots': slots.lockFreeSlots({ bucket: 'create', windowMs: CREATE_WINDOW_MS, count: PLACES }),
    'dispatcher: orphan sweep': tasks.orphanedCreates(100),
    'dispatcher: next due (wait)': tasks.msUntilDue('create'),
    'poller: due submitted tasks': tasks.lockDueChecks({ limit: PLACES, maxAgeMs: TASK_MAX_AGE_MS }),
    'poller: next due (wait)': tasks.msUntilDue('check'),
  };
}

/** What a /metrics scrape runs (src/lyrics/lyrics.metrics.ts: the final counts at most every 30 s). */
function metricsStatements() {
  const tasks = requireDist('lyrics/persistence/tasks.sql');
  return {
    'active tasks by status': tasks.countActiveTasks(),
    'final tasks by status (every 30 s)': tasks.countFinalTasks(),
    'due backlog': tasks.dueBacklog(),
  };
}

/** EXPLAIN (ANALYZE, BUFFERS) of a statement, with its values: the plan PostgreSQL makes for these values. */
async function explain(client, statement) {
  const plan = (await client.query(`EXPLAIN (ANALYZE, BUFFERS) ${statement.text}`, statement.values)).rows.map((r) => r['QUERY PLAN']);
  return { plan, executionMs: Number(/Execution Time: ([\d.]+) ms/.exec(plan.join('\n'))?.[1]) };
}

async function generate(database, rows, activeShare, withVariants) {
  const timings = {};
  const client = new Client({ connectionString: database.url });
  await client.connect();
  try {
    const activeFrom = Math.round(rows * (1 - 2 * activeShare)); // active rows are half of the newest 2 * share
    let t = Date.now();
    // Creation times spread over 30 days, oldest first. Among the newest rows every other one is active: queued
    // (all due, 1% of them leased: being sent) or submitted (next check from 10 minutes ago to 30 minutes ahead,
    // 1% leased). The rest are final: 1 in 9 failed, the others succeeded.
    await client.query(
      `INSERT INTO lyrics_tasks (owner, status, prompt, metadata, idempotency_key, request_hash, kie_task_id, callback_token_hash,
                                 error_code, error_message, attempts, result_source, polls, next_attempt_at, lease_until,
                                 created_at, submitted_at, completed_at, updated_at)
       SELECT CASE WHEN g % 10 = 0 THEN 'other-' || (g % 50) ELSE '${CLIENT}' END,
              s.status,
              'A song about the number ' || g,
              CASE WHEN g % 3 = 0 THEN jsonb_build_object('customerRef', 'C-' || g) END,
              CASE WHEN g % 5 = 0 THEN 'idem-' || g END,
              CASE WHEN g % 5 = 0 THEN md5('r' || g) || md5('q' || g) END,
              CASE WHEN s.status <> 'queued' THEN md5('k' || g) END,
              md5('t' || g) || md5('u' || g),
              CASE WHEN s.status = 'failed' THEN 'generation_failed' END,
              CASE WHEN s.status = 'failed' THEN 'Unable to generate lyrics from song description' END,
              1,
              CASE WHEN s.status IN ('succeeded', 'failed') THEN (CASE WHEN g % 7 = 0 THEN 'poll' ELSE 'callback' END) END,
              CASE WHEN g % 7 = 0 THEN 1 ELSE 0 END,
              CASE s.status
                WHEN 'queued' THEN c.created_at
                WHEN 'submitted' THEN now() + make_interval(secs => ((g::bigint * 7919) % 2400) - 600)
              END,
              CASE WHEN s.status IN ('queued', 'submitted') AND g % 100 = 0 THEN now() + interval '30 seconds' END,
              c.created_at,
              CASE WHEN s.status <> 'queued' THEN c.created_at + interval '1 second' END,
              CASE WHEN s.status IN ('succeeded', 'failed') THEN c.created_at + interval '40 seconds' END,
              c.created_at + interval '40 seconds'
       FROM generate_series(1, $1::int) AS g
       CROSS JOIN LATERAL (SELECT now() - make_interval(secs => ($1::int - g) * 2592000.0 / $1::int) AS created_at) AS c
       CROSS JOIN LATERAL (SELECT CASE
                                    WHEN g > $2::int AND g % 4 = 0 THEN 'queued'
                                    WHEN g > $2::int AND g % 4 = 2 THEN 'submitted'
                                    WHEN g % 9 = 0 THEN 'failed'
                                    ELSE 'succeeded' END AS status) AS s`,
      [rows, activeFrom],
    );
    timings.tasksMs = Date.now() - t;
    if (withVariants) {
      t = Date.now();
      await client.query(
        `INSERT INTO lyrics_variants (task_id, position, title, text, status, error_message)
         SELECT t.id, p, 'Variant ' || p || ' of ' || left(t.prompt, 40),
                '[Verse]' || E'\\n' || repeat('Lonely harbor, waiting till morning ', 3) || E'\\n\\n[Chorus]\\n' || repeat('Oh, quiet river, hold on ', 3),
                'complete', NULL
         FROM lyrics_tasks t CROSS JOIN LATERAL generate_series(0, 1 + (get_byte(decode(md5(t.id::text), 'hex'), 0) % 2)) AS p
         WHERE t.status = 'succeeded'`,
      );
      timings.variantsMs = Date.now() - t;
    }
    t = Date.now();
    await client.query('VACUUM (ANALYZE) lyrics_tasks');
    await client.query('VACUUM (ANALYZE) lyrics_variants');
    await client.query('CHECKPOINT');
    timings.vacuumMs = Date.now() - t;
    const counts = (await client.query(`SELECT status, count(*)::int AS n FROM lyrics_tasks GROUP BY status ORDER BY status`)).rows;
    const due = (
      await client.query(
        `SELECT count(*) FILTER (WHERE status = 'queued' AND lease_until IS NULL AND next_attempt_at <= now())::int AS due_queued,
                count(*) FILTER (WHERE status = 'submitted' AND next_attempt_at <= now() AND (lease_until IS NULL OR lease_until < now()))::int AS due_submitted
         FROM lyrics_tasks WHERE status IN ('queued', 'submitted')`,
      )
    ).rows[0];
    const sizes = (
      await client.query(
        `SELECT relname AS name, pg_size_pretty(pg_total_relation_size(oid)) AS total, pg_size_pretty(pg_relation_size(oid)) AS heap
         FROM pg_class WHERE relname IN ('lyrics_tasks', 'lyrics_variants') ORDER BY relname`,
      )
    ).rows;
    const [{ n: variantRows }] = (await client.query('SELECT count(*)::int AS n FROM lyrics_variants')).rows;
    return { timings, counts, due, sizes, variantRows };
  } finally {
    await client.end();
  }
}

async function measureClaims(database, runs) {
  const slots = requireDist('lyrics/persistence/rate-slots.sql');
  const tasks = requireDist('lyrics/persistence/tasks.sql');
  const client = new Client({ connectionString: database.url });
  await client.connect();
  const out = {};
  try {
    // The rate slots as RateBudget makes them at start (20 create, 100 record-info), all free.
    await client.query(slots.addSlots({ bucket: 'create', size: 20 }));
    await client.query(slots.addSlots({ bucket: 'record-info', size: 100 }));
    for (const [name, statement] of Object.entries(claimStatements())) {
      const latencies = [];
      let rows = 0;
      for (let i = 0; i < runs; i++) {
        await client.query('BEGIN');
        const t0 = process.hrtime.bigint();
        const result = await client.query(statement);
        latencies.push(Number(process.hrtime.bigint() - t0) / 1e6);
        rows = result.rowCount;
        await client.query('ROLLBACK');
      }
      await client.query('BEGIN');
      const { plan, executionMs } = await explain(client, statement);
      await client.query('ROLLBACK');
      out[name] = { latencyMs: summarize(latencies), rows, executionMs, plan };
    }
    // The dispatcher's whole claim round, as LyricsDispatcher.claim sends it in its transaction (free slots, due
    // rows, the slots marked used, the leases), rolled back.
    const latencies = [];
    for (let i = 0; i < runs; i++) {
      const t0 = process.hrtime.bigint();
      await client.query('BEGIN');
      const free = (await client.query(slots.lockFreeSlots({ bucket: 'create', windowMs: CREATE_WINDOW_MS, count: PLACES }))).rows;
      await client.query(tasks.lockCreateClaims());
      const due = (await client.query(tasks.lockFairDueCreates(free.length))).rows;
      await client.query(slots.markSlotsUsed({ bucket: 'create', slots: free.slice(0, due.length).map((row) => row.slot) }));
      await client.query(
        tasks.leaseCreates({
          ids: due.map((row) => row.id),
          tokenHashes: due.map(() => 'x'.repeat(64)),
          accounts: due.map(() => 'default'),
          leaseMs: LEASE_MS,
        }),
      );
      await client.query('ROLLBACK');
      latencies.push(Number(process.hrtime.bigint() - t0) / 1e6);
    }
    out['dispatcher: whole claim transaction (BEGIN, 5 statements, ROLLBACK)'] = {
      latencyMs: summarize(latencies),
      rows: null,
      executionMs: null,
      plan: [],
    };
  } finally {
    await client.end();
  }
  return out;
}

/** A list page's statement as LyricsService.list builds it (its variants are read by `variantsOf` the page's ids). */
function listPageStatement({ status, limit, cursor }) {
  const { decodeCursor } = requireDist('lyrics/lyrics-cursor');
  const { taskPage } = requireDist('lyrics/persistence/tasks.sql');
  return taskPage({ owner: CLIENT, status, limit, after: cursor ? decodeCursor(cursor) : undefined });
}

async function cursorAt(database, offset, status) {
  const { encodeCursor } = requireDist('lyrics/lyrics-cursor');
  const [row] = await database.query(
    `SELECT to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS created_at, id FROM lyrics_tasks
     WHERE owner = $2 ${status ? 'AND status = $3' : ''} ORDER BY created_at DESC, id DESC OFFSET $1 LIMIT 1`,
    status ? [offset, CLIENT, status] : [offset, CLIENT],
  );
  return encodeCursor({ createdAt: row.created_at, id: row.id });
}

async function main() {
  const stack = new Stack('scale', { timeLimitMs: flags['time-limit-s'] * 1000, keep: flags.keep });
  const results = { bench: 'scale', startedAt: new Date().toISOString(), flags };
  try {
    const database = await stack.postgres({ statements: true });
    results.machine = machineInfo(await database.version());
    const { DataSource } = require('typeorm');
    const { typeOrmOptions } = requireDist('database/typeorm-options');
    const dataSource = new DataSource(typeOrmOptions({ url: database.url, migrationsRun: false }));
    await dataSource.initialize();
    await dataSource.runMigrations();
    console.log(`PostgreSQL ${results.machine.postgres}, migrated. Generating ${flags.rows.toLocaleString('en-US')} task rows...`);
    results.data = await generate(database, flags.rows, flags['active-share'], flags.variants);
    const d = results.data;
    console.log(
      `  tasks ${fmt(d.timings.tasksMs / 1000)} s, variants ${fmt((d.timings.variantsMs ?? 0) / 1000)} s (${d.variantRows.toLocaleString('en-US')} rows), vacuum ${fmt(d.timings.vacuumMs / 1000)} s; ` +
        `${d.counts.map((c) => `${c.status} ${c.n.toLocaleString('en-US')}`).join(', ')}; due: ${d.due.due_queued} queued, ${d.due.due_submitted} submitted`,
    );

    console.log(`Claims: ${flags.runs} runs of each statement, each in a transaction rolled back...`);
    results.claims = await measureClaims(database, flags.runs);

    // The service on that database, with its workers running (they claim and send a little meanwhile, as in life).
    const sandbox = await stack.sandbox({ 'hmac-key': HMAC_KEY, 'result-delay-ms': 3600000 });
    const service = await stack.service({ database, sandbox });
    const rss = sampleRss(service.pid, 250);
    const pages = {
      'baseline: GET /health/live': '/health/live',
      'first page': '/lyrics?limit=20',
      'deep page (cursor mid-table)': `/lyrics?limit=20&cursor=${await cursorAt(database, Math.floor(flags.rows / 2))}`,
      'status=failed, first page': '/lyrics?status=failed&limit=20',
      'status=queued, first page': '/lyrics?status=queued&limit=20',
      'status=succeeded, deep page': `/lyrics?status=succeeded&limit=20&cursor=${await cursorAt(database, Math.floor(flags.rows / 4), 'succeeded')}`,
      'limit=100, first page': '/lyrics?limit=100',
    };
    const get = async (path) => {
      const t0 = process.hrtime.bigint();
      const response = await fetch(`${service.url}${path}`, { headers: clientHeaders });
      const body = await response.json();
      return { ms: Number(process.hrtime.bigint() - t0) / 1e6, status: response.status, items: body.items?.length };
    };
    for (let i = 0; i < 100; i++) for (const path of Object.values(pages)) await get(path); // warm-up
    await database.resetStatements();
    results.list = {};
    for (const [name, path] of Object.entries(pages)) {
      const samples = [];
      let last;
      for (let i = 0; i < flags.runs; i++) {
        last = await get(path);
        if (last.status !== 200) throw new Error(`GET ${path} answered ${last.status}`);
        samples.push(last.ms);
      }
      results.list[name] = { path, items: last.items, latencyMs: summarize(samples) };
    }
    // A Prometheus scrape: the lyrics gauges count the task table at scrape time (src/lyrics/lyrics.metrics.ts).
    const scrapes = [];
    for (let i = 0; i < Math.min(50, flags.runs); i++) {
      const t0 = process.hrtime.bigint();
      await service.metrics();
      scrapes.push(Number(process.hrtime.bigint() - t0) / 1e6);
    }
    results.metricsScrape = { latencyMs: summarize(scrapes), plans: {} };
    results.memory = await service.memoryBreakdown();
    results.listStatements = await database.statements(10);
    // EXPLAIN (ANALYZE, BUFFERS) of the statements a scrape sends, and of each page's list and variants statements.
    results.listPlans = {};
    await withClient(database.url, async (client) => {
      for (const [name, statement] of Object.entries(metricsStatements()))
        results.metricsScrape.plans[name] = await explain(client, statement);
      const { variantsOf } = requireDist('lyrics/persistence/tasks.sql');
      for (const [name, path] of Object.entries(pages)) {
        if (!path.startsWith('/lyrics')) continue;
        const params = new URL(path, 'http://x').searchParams;
        const page = listPageStatement({
          status: params.get('status') ?? undefined,
          limit: Number(params.get('limit')),
          cursor: params.get('cursor') ?? undefined,
        });
        const list = await explain(client, page);
        const ids = (await client.query(page)).rows.map((row) => row.id);
        const variants = await explain(client, variantsOf(ids));
        results.listPlans[name] = {
          sql: page.text,
          plan: list.plan,
          executionMs: list.executionMs,
          variantsPlan: variants.plan,
          variantsExecutionMs: variants.executionMs,
        };
      }
    });
    await sleep(500);
    results.rssMiB = rss.stop();
    await dataSource.destroy();
    report(results);
    results.finishedAt = new Date().toISOString();
    saveResults('scale', results);
  } catch (error) {
    stack.failed(error);
  } finally {
    await stack.shutdown();
  }
}

function report(r) {
  printTable(
    `Work claims at ${r.flags.rows.toLocaleString('en-US')} rows (client-side, inside BEGIN ... ROLLBACK; ${r.flags.runs} runs each)`,
    ['statement', 'rows', 'p50 ms', 'p99 ms', 'max ms', 'server exec ms'],
    Object.entries(r.claims).map(([name, c]) => [
      name,
      c.rows ?? '-',
      c.latencyMs.p50,
      c.latencyMs.p99,
      c.latencyMs.max,
      c.executionMs ?? '-',
    ]),
  );
  for (const name of ['dispatcher: fair share of due creates', 'poller: due submitted tasks']) {
    console.log(`\nEXPLAIN (ANALYZE, BUFFERS) ${name}:\n  ${r.claims[name].plan.join('\n  ')}`);
  }
  printTable(
    `GET /lyrics over HTTP (sequential, ${r.flags.runs} runs each, the service's workers running)`,
    ['page', 'items', 'p50 ms', 'p99 ms', 'max ms', 'list query exec ms', 'variants exec ms'],
    Object.entries(r.list).map(([name, l]) => [
      name,
      l.items ?? '-',
      l.latencyMs.p50,
      l.latencyMs.p99,
      l.latencyMs.max,
      r.listPlans[name]?.executionMs ?? '-',
      r.listPlans[name]?.variantsExecutionMs ?? '-',
    ]),
  );
  const m = r.metricsScrape;
  printTable(
    'GET /metrics (a Prometheus scrape, sequential)',
    ['measure', 'p50 ms', 'p99 ms', 'max ms', ...Object.keys(m.plans).map((n) => `${n} exec ms`)],
    [['scrape', m.latencyMs.p50, m.latencyMs.p99, m.latencyMs.max, ...Object.values(m.plans).map((p) => p.executionMs)]],
  );
  console.log(
    `\nEXPLAIN (ANALYZE, BUFFERS) of the scrape's count of active tasks:\n  ${m.plans['active tasks by status'].plan.join('\n  ')}`,
  );
  const mem = r.memory;
  console.log(
    `\nService memory at the end: RSS ${fmt(mem.rssMiB)} MiB = V8 heap ${fmt(mem.heapTotalMiB)} MiB committed (${fmt(mem.heapUsedMiB)} used; ` +
      `${Object.entries(mem.heapSpacesMiB)
        .map(([k, v]) => `${k} ${fmt(v)}`)
        .join(', ')}) + external ${fmt(mem.externalMiB)} MiB + code, stacks and the rest`,
  );
  console.log(`\nEXPLAIN (ANALYZE, BUFFERS) list query, deep page:\n  ${r.listPlans['deep page (cursor mid-table)'].plan.join('\n  ')}`);
  console.log(`\nEXPLAIN (ANALYZE, BUFFERS) list query, status=failed:\n  ${r.listPlans['status=failed, first page'].plan.join('\n  ')}`);
  const claimP99 = Math.max(
    ...['dispatcher: fair share of due creates', 'poller: due submitted tasks'].map((n) => r.claims[n].latencyMs.p99),
  );
  const listP99 = Math.max(
    ...Object.entries(r.list)
      .filter(([name]) => !name.startsWith('baseline'))
      .map(([, l]) => l.latencyMs.p99),
  );
  printTargets([
    { target: 'claim p99 <= 5 ms (worst of the two claim SELECTs)', measured: `${fmt(claimP99)} ms`, met: claimP99 <= 5 },
    { target: 'list page p99 <= 20 ms (worst page)', measured: `${fmt(listP99)} ms`, met: listP99 <= 20 },
    { target: 'service RSS <= 200 MB', measured: `${fmt(r.rssMiB.maxMiB)} MiB`, met: r.rssMiB.maxMiB <= 200 },
  ]);
}

main();
