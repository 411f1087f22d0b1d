'use strict';
// Upstream calls per task, counted from the sandbox's own request log (creates + record-info + credits):
//  A. callbacks delivered (the sandbox's default) with the default first-poll delay: target exactly 1 (the create);
//  B. callbacks dropped (--mix drop=1), short poll settings: record-info calls per task against the bound the poll
//     schedule implies (first check LYRICS_POLL_INITIAL_DELAY_MS after submission, then waits doubling from
//     LYRICS_POLL_INTERVAL_MS, each jittered between half and all, capped at LYRICS_POLL_MAX_INTERVAL_MS, against
//     the sandbox's result delay);
//  C. callbacks delivered but the first poll due before the result (the same short settings): what a too-short
//     LYRICS_POLL_INITIAL_DELAY_MS costs.
//
//   npm run bench:economy                 # 200 tasks per scenario, about a minute
//   npm run bench:economy -- --tasks 50
const { setTimeout: sleep } = require('node:timers/promises');
const { fmt, machineInfo, parseFlags, pct, printTable, printTargets, saveResults } = require('./lib/report');
const { cpuMeter, requireDist, Stack, waitUntil } = require('./lib/stack');
const { summarize } = require('./lib/stats');
const { clientHeaders, HMAC_KEY } = require('./lib/tasks');

const flags = parseFlags({
  tasks: { default: 200, help: 'tasks per scenario' },
  'result-delay-ms': { default: 1500, help: "the sandbox's result delay (when the result is ready, and the callback sent)" },
  'poll-initial-ms': { default: 200, help: 'LYRICS_POLL_INITIAL_DELAY_MS of scenarios B and C' },
  'poll-interval-ms': { default: 200, help: 'LYRICS_POLL_INTERVAL_MS of scenarios B and C' },
  'poll-max-ms': { default: 5000, help: 'LYRICS_POLL_MAX_INTERVAL_MS of scenarios B and C' },
  'poll-concurrency': { default: 32, help: 'LYRICS_POLL_CONCURRENCY of scenarios B and C' },
  'time-limit-s': { default: 600, help: 'the whole run is stopped after this long' },
  keep: { default: false, help: 'keep logs and data in the temp folder' },
});

/**
 * Record-info calls one task needs under the poll schedule, for a result ready `readyMs` after submission: checks at
 * initial, then after each unfinished one a wait drawn from [c/2, c], c = min(max, interval * 2^(n-1)) (backoffMs
 * in src/lyrics/workers/backoff.ts), until a check at or after readyMs. `jitter` picks the draw (0: half, 1: all).
 */
function pollsNeeded({ readyMs, initialMs, intervalMs, maxMs }, jitter) {
  let t = initialMs;
  let polls = 1;
  while (t < readyMs) {
    const ceiling = Math.min(maxMs, intervalMs * 2 ** (polls - 1));
    t += ceiling / 2 + (jitter() * ceiling) / 2;
    polls++;
  }
  return polls;
}

function pollBound(schedule) {
  const fewest = pollsNeeded(schedule, () => 1); // the longest waits: fewest checks
  const most = pollsNeeded(schedule, () => 0); // the shortest waits: most checks
  let sum = 0;
  const trials = 100000;
  for (let i = 0; i < trials; i++) sum += pollsNeeded(schedule, Math.random);
  return { lowerBound: fewest, upperBound: most, expected: sum / trials };
}

/**
 * Checks no record-info call came earlier than the schedule allows: the first at least `initialMs` after the create,
 * the n-th wait at least half of min(max, interval * 2^(n-1)). Returns the violations (a few ms of slack for clocks).
 */
function scheduleViolations(times, createdAt, { initialMs, intervalMs, maxMs }, slackMs = 5) {
  const violations = [];
  if (times.length === 0) return violations;
  if (times[0] - createdAt < initialMs - slackMs) violations.push(`first check ${times[0] - createdAt} ms after the create`);
  for (let n = 1; n < times.length; n++) {
    const floor = Math.min(maxMs, intervalMs * 2 ** (n - 1)) / 2;
    if (times[n] - times[n - 1] < floor - slackMs) violations.push(`wait ${n}: ${times[n] - times[n - 1]} ms < ${floor} ms`);
  }
  return violations;
}

async function scenario(stack, database, { name, sandboxFlags, env, count, schedule }) {
  const sandbox = await stack.sandbox({
    'hmac-key': HMAC_KEY,
    'create-max': count,
    'create-window-ms': 10000,
    credits: count * 2,
    ...sandboxFlags,
  });
  const service = await stack.service({
    database,
    sandbox,
    name: `service-${name}`,
    env: { LYRICS_CREATE_BUDGET: String(count), LYRICS_CREATE_WINDOW_MS: '10000', LYRICS_DISPATCH_INTERVAL_MS: '100', ...env },
  });
  const started = Date.now();
  const ids = [];
  for (let i = 0; i < count; i += 20) {
    const batch = await Promise.all(
      Array.from({ length: Math.min(20, count - i) }, async (_, j) => {
        const response = await fetch(`${service.url}/lyrics`, {
          method: 'POST',
          headers: { ...clientHeaders, 'content-type': 'application/json' },
          body: JSON.stringify({ prompt: `economy ${name} ${i + j}` }),
        });
        if (response.status !== 202) throw new Error(`POST /lyrics answered ${response.status}`);
        return (await response.json()).id;
      }),
    );
    ids.push(...batch);
  }
  await waitUntil(
    `${count} tasks of scenario ${name} to be final`,
    async () => {
      const [{ n }] = await database.query(
        `SELECT count(*)::int AS n FROM lyrics_tasks WHERE id = ANY($1::uuid[]) AND status IN ('succeeded', 'failed')`,
        [ids],
      );
      return n === count;
    },
    { timeoutMs: 120000, intervalMs: 200 },
  );
  const finishedMs = Date.now() - started;
  await sleep(300); // let a callback retry or a check already in flight land in the log before it is read
  const rows = await database.query(
    `SELECT status, result_source, count(*)::int AS n FROM lyrics_tasks WHERE id = ANY($1::uuid[]) GROUP BY 1, 2 ORDER BY 1, 2`,
    [ids],
  );
  const log = await sandbox.requests();
  const creates = log.filter((r) => r.endpoint === 'create');
  const recordInfo = log.filter((r) => r.endpoint === 'record-info');
  const credit = log.filter((r) => r.endpoint === 'credit');
  const perTask = new Map();
  for (const r of recordInfo) perTask.set(r.taskId, (perTask.get(r.taskId) ?? 0) + 1);
  const tasks = await sandbox.tasks();
  const recordInfoPerTask = tasks.map((t) => perTask.get(t.taskId) ?? 0);
  // Each task's checks against its own clock: when the first came after the create, how many came before the result
  // was ready (the schedule's cost), how many after (1 is ideal), and how late the deciding one was.
  const checksOf = new Map();
  for (const r of recordInfo) {
    if (!checksOf.has(r.taskId)) checksOf.set(r.taskId, []);
    checksOf.get(r.taskId).push(r.startedAt);
  }
  const firstCheck = [];
  const violations = [];
  const before = [];
  const after = [];
  const lateness = [];
  for (const t of tasks) {
    const times = (checksOf.get(t.taskId) ?? []).sort((a, b) => a - b);
    if (times.length === 0) continue;
    firstCheck.push(times[0] - t.createdAt);
    if (schedule) violations.push(...scheduleViolations(times, t.createdAt, schedule).map((v) => `${t.taskId}: ${v}`));
    before.push(times.filter((x) => x < t.readyAt).length);
    const late = times.filter((x) => x >= t.readyAt);
    after.push(late.length);
    if (late.length > 0) lateness.push(late[0] - t.readyAt);
  }
  const histogram = {};
  for (const n of recordInfoPerTask) histogram[n] = (histogram[n] ?? 0) + 1;
  await service.stop();
  await sandbox.stop();
  return {
    name,
    tasks: count,
    finishedMs,
    outcomes: rows,
    creates: creates.length,
    acceptedCreates: creates.filter((r) => r.code === 200).length,
    throttledCreates: creates.filter((r) => r.httpStatus === 429 || [405, 429, 430].includes(r.code)).length,
    recordInfo: recordInfo.length,
    credit: credit.length,
    callsPerTask: (creates.length + recordInfo.length + credit.length) / count,
    recordInfoPerTask: summarize(recordInfoPerTask),
    recordInfoHistogram: histogram,
    checks: {
      scheduleViolations: violations.length,
      violationExamples: violations.slice(0, 5),
      firstAfterCreateMs: summarize(firstCheck),
      beforeReady: summarize(before),
      afterReady: summarize(after),
      decidingCheckAfterReadyMs: summarize(lateness),
    },
  };
}

/**
 * What an instance with nothing to do costs PostgreSQL: statements per second and CPU, over 10 s. Each worker
 * (dispatcher, poller) should look once per LYRICS_DISPATCH_INTERVAL_MS (1000 ms by default) when nothing is due.
 */
async function idle(stack, database) {
  const sandbox = await stack.sandbox({ 'hmac-key': HMAC_KEY }, 'sandbox-idle');
  const service = await stack.service({ database, sandbox, name: 'service-idle' });
  await sleep(2000);
  await database.resetStatements();
  const meter = cpuMeter({ services: [service], database });
  await sleep(10000);
  const cpu = meter();
  const statements = (await database.statements(20)).filter((st) => !/pg_stat_statements/.test(st.query));
  await service.stop();
  await sandbox.stop();
  const calls = statements.reduce((sum, st) => sum + Number(st.calls), 0);
  // Rounds of the two workers: each starts with its budget's slot lock (lockFreeSlots), found in pg_stat_statements
  // by its text before the WHERE (after it, pg_stat_statements shows the constants as parameters).
  const { lockFreeSlots } = requireDist('lyrics/persistence/rate-slots.sql');
  const slotLockText = lockFreeSlots({ bucket: '', windowMs: 0, count: 0 }).text.replace(/\s+/g, ' ');
  const slotLock = slotLockText.slice(0, slotLockText.indexOf(' WHERE '));
  return {
    seconds: cpu.seconds,
    statementsPerSecond: calls / cpu.seconds,
    roundsPerSecond: statements.filter((st) => st.query.startsWith(slotLock)).reduce((sum, st) => sum + Number(st.calls), 0) / cpu.seconds,
    serviceCpuShare: cpu.service / cpu.seconds,
    postgresCpuShare: cpu.postgres / cpu.seconds,
    statements: statements.slice(0, 8),
  };
}

async function main() {
  const stack = new Stack('economy', { timeLimitMs: flags['time-limit-s'] * 1000, keep: flags.keep });
  const results = { bench: 'economy', startedAt: new Date().toISOString(), flags };
  try {
    const database = await stack.postgres({ statements: true });
    results.machine = machineInfo(await database.version());
    const count = flags.tasks;
    const short = {
      LYRICS_POLL_INITIAL_DELAY_MS: String(flags['poll-initial-ms']),
      LYRICS_POLL_INTERVAL_MS: String(flags['poll-interval-ms']),
      LYRICS_POLL_MAX_INTERVAL_MS: String(flags['poll-max-ms']),
      // The record-info budget (100 per 10 s by default) would space the checks out further than the schedule does,
      // and hide what the schedule itself costs: out of the way here.
      // (Not far beyond need: the budget is one row per slot, and a claim sorts the bucket's rows.)
      LYRICS_POLL_BUDGET: String(Math.max(100, flags.tasks * 10)),
      // With all tasks due at once, 4 checks in flight (the default) make checks queue behind each other and come
      // late (fewer calls than the schedule, for the wrong reason): enough places for the schedule to be what is measured.
      LYRICS_POLL_CONCURRENCY: String(flags['poll-concurrency']),
    };
    const schedule = {
      readyMs: flags['result-delay-ms'],
      initialMs: flags['poll-initial-ms'],
      intervalMs: flags['poll-interval-ms'],
      maxMs: flags['poll-max-ms'],
    };
    results.bound = pollBound(schedule);
    console.log(
      `Poll schedule ${flags['poll-initial-ms']} ms, then from ${flags['poll-interval-ms']} ms doubling (jitter 1/2..1) up to ${flags['poll-max-ms']} ms, ` +
        `result after ${flags['result-delay-ms']} ms: ${results.bound.lowerBound}..${results.bound.upperBound} record-info calls per task ` +
        `(expected ${fmt(results.bound.expected)})`,
    );
    console.log(`A: ${count} tasks, callbacks delivered, default first-poll delay...`);
    results.delivered = await scenario(stack, database, {
      name: 'A',
      sandboxFlags: { 'result-delay-ms': flags['result-delay-ms'] },
      env: {},
      count,
    });
    console.log(`B: ${count} tasks, callbacks dropped, short poll settings...`);
    results.dropped = await scenario(stack, database, {
      name: 'B',
      sandboxFlags: { 'result-delay-ms': flags['result-delay-ms'], mix: 'drop=1' },
      env: short,
      count,
      schedule,
    });
    console.log(`C: ${count} tasks, callbacks delivered, short poll settings...`);
    results.deliveredShortDelay = await scenario(stack, database, {
      name: 'C',
      sandboxFlags: { 'result-delay-ms': flags['result-delay-ms'] },
      env: short,
      count,
      schedule,
    });
    console.log('D: an idle instance (no queued or submitted task), default settings, for 10 s...');
    results.idle = await idle(stack, database);
    report(results);
    results.finishedAt = new Date().toISOString();
    saveResults('economy', results);
  } catch (error) {
    stack.failed(error);
  } finally {
    await stack.shutdown();
  }
}

function report(r) {
  const rows = [
    ['A: callbacks delivered, default first poll (30 s)', r.delivered],
    ['B: callbacks dropped, short poll settings', r.dropped],
    ['C: callbacks delivered, short poll settings', r.deliveredShortDelay],
  ];
  printTable(
    'Upstream calls per task (from the sandbox request log)',
    ['scenario', 'tasks', 'creates', 'record-info', 'credit', 'calls/task', 'r-i/task p50', 'r-i/task max', 'results by', 'wall s'],
    rows.map(([label, s]) => [
      label,
      s.tasks,
      s.creates,
      s.recordInfo,
      s.credit,
      s.callsPerTask,
      s.recordInfoPerTask.p50,
      s.recordInfoPerTask.max,
      s.outcomes.map((o) => `${o.status}/${o.result_source ?? '-'} ${o.n}`).join(', '),
      s.finishedMs / 1000,
    ]),
  );
  const b = r.bound;
  const measured = r.dropped.recordInfo / r.dropped.tasks;
  printTable(
    'B: record-info calls per task against the poll schedule',
    ['measure', 'value'],
    [
      ['lower bound (longest jittered waits)', b.lowerBound],
      ['upper bound (shortest jittered waits)', b.upperBound],
      ['expected under uniform jitter', fmt(b.expected)],
      ['measured mean', fmt(measured)],
      ['measured / lower bound', fmt(measured / b.lowerBound)],
      ['measured / expected', fmt(measured / b.expected)],
      [
        'per-task histogram (calls: tasks)',
        Object.entries(r.dropped.recordInfoHistogram)
          .map(([k, v]) => `${k}: ${v}`)
          .join(', '),
      ],
      ['checks earlier than the schedule allows', r.dropped.checks.scheduleViolations],
      [
        'first check after the create, p50 / p99 ms',
        `${fmt(r.dropped.checks.firstAfterCreateMs.p50)} / ${fmt(r.dropped.checks.firstAfterCreateMs.p99)}`,
      ],
      ['checks before the result was ready, mean / max', `${fmt(r.dropped.checks.beforeReady.mean)} / ${r.dropped.checks.beforeReady.max}`],
      [
        'checks after it was ready, mean / max (1 is ideal)',
        `${fmt(r.dropped.checks.afterReady.mean)} / ${r.dropped.checks.afterReady.max}`,
      ],
      [
        'deciding check after ready, p50 / p99 ms',
        `${fmt(r.dropped.checks.decidingCheckAfterReadyMs.p50)} / ${fmt(r.dropped.checks.decidingCheckAfterReadyMs.p99)}`,
      ],
    ],
  );
  const d = r.idle;
  printTable(
    'D: an idle instance (nothing queued or submitted; LYRICS_DISPATCH_INTERVAL_MS 1000)',
    ['measure', 'value'],
    [
      ['worker rounds per second (dispatcher + poller; expected 2)', fmt(d.roundsPerSecond)],
      ['statements per second to PostgreSQL', fmt(d.statementsPerSecond)],
      ['service CPU (share of one core)', pct(d.serviceCpuShare)],
      ['PostgreSQL CPU (share of one core)', pct(d.postgresCpuShare)],
      ...d.statements.slice(0, 5).map((st) => [`  ${st.calls} x ${st.query.slice(0, 70)}`, '']),
    ],
  );
  printTargets([
    {
      target: 'A: exactly 1 upstream call per task (the create)',
      measured: fmt(r.delivered.callsPerTask),
      met: r.delivered.callsPerTask === 1,
    },
    {
      target: 'B: never more record-info calls per task than the schedule allows',
      measured: `max ${r.dropped.recordInfoPerTask.max}, mean ${fmt(measured)} (schedule: ${b.lowerBound}..${b.upperBound})`,
      met: r.dropped.recordInfoPerTask.max <= b.upperBound,
    },
    {
      target: 'B and C: no check earlier than the schedule allows',
      measured: String(r.dropped.checks.scheduleViolations + r.deliveredShortDelay.checks.scheduleViolations),
      met: r.dropped.checks.scheduleViolations + r.deliveredShortDelay.checks.scheduleViolations === 0,
    },
    {
      target: 'D: an idle instance looks about once per interval per worker (<= 3 rounds/s)',
      measured: fmt(d.roundsPerSecond),
      met: d.roundsPerSecond <= 3,
    },
    {
      target: 'no throttled creates',
      measured: String(r.delivered.throttledCreates + r.dropped.throttledCreates + r.deliveredShortDelay.throttledCreates),
      met: r.delivered.throttledCreates + r.dropped.throttledCreates + r.deliveredShortDelay.throttledCreates === 0,
    },
  ]);
}

main();
