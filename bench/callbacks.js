'use strict';
// Callback ingest: N tasks already submitted (inserted in SQL), then their signed KIE callbacks fired at
// POST /lyrics/callback/<taskId>/<token> with concurrency C. Throughput, acknowledgement latency, errors, and a
// check in SQL that every task succeeded with its variants and one 'applied' receipt. Baselines in the same run:
// a trivial Nest GET (/health/live) at the same concurrency, and PostgreSQL's own rate for the statements one
// callback sends (the service's builders from dist/) from a bare pg pool. Where the time goes: CPU seconds of the
// service and of PostgreSQL during each run, per-statement totals (executing and planning) from pg_stat_statements,
// and (unless --profile=false) a CPU profile of the service during one run.
//
//   npm run bench:callbacks                      # 2000 tasks at 20 and at 50, plus 1000 at 20, plus the profile
//   npm run bench:callbacks -- --tasks 500 --concurrency 20 --profile=false   # a quick trial
const { join } = require('node:path');
const { mkdirSync } = require('node:fs');
const { pgBaseline } = require('./lib/callback-baseline');
const { loopbackRoundTrip } = require('./lib/rtt');
const { fire, repeat } = require('./lib/load');
const { analyseProfile, monotonicMicros, newestProfile, printProfile } = require('./lib/profile');
const { machineInfo, parseFlags, pct, printTable, printTargets, saveResults, fmt } = require('./lib/report');
const { cpuMeter, Stack, sampleRss } = require('./lib/stack');
const { ratio } = require('./lib/stats');
const { callbackRequest, clientHeaders, HMAC_KEY, insertSubmittedTasks, makeSubmittedTasks, verifyCallbacks } = require('./lib/tasks');

const flags = parseFlags({
  tasks: { default: 2000, help: 'callbacks (fresh tasks) per measured run' },
  concurrency: { default: '20,50', help: 'comma-separated concurrencies to measure' },
  small: { default: 1000, help: 'tasks of the extra "N callbacks at 20 concurrent" line (issue 5); 0 to skip' },
  warmup: { default: 3000, help: 'unmeasured requests of each kind first (the service reaches its pace after a few thousand callbacks)' },
  'service-node-args': { default: '', help: 'extra node flags for the service, space-separated (e.g. --max-old-space-size=96)' },
  profile: { default: true, help: 'also run once more with the service under --cpu-prof and print its top frames' },
  diagnostics: { default: true, help: 'also run once more with LOG_LEVEL=warn (what the log lines cost)' },
  'time-limit-s': { default: 900, help: 'the whole run is stopped after this long' },
  keep: { default: false, help: 'keep logs and data in the temp folder' },
});

const SERVICE_ENV = {
  // The inserted tasks' first poll is a day away anyway; nothing else runs.
  LYRICS_POLL_INITIAL_DELAY_MS: '3600000',
};

async function main() {
  const concurrencies = String(flags.concurrency)
    .split(',')
    .map(Number)
    .filter((c) => c > 0);
  const stack = new Stack('callbacks', { timeLimitMs: flags['time-limit-s'] * 1000, keep: flags.keep });
  const results = { bench: 'callbacks', startedAt: new Date().toISOString(), flags, runs: [] };
  try {
    const database = await stack.postgres({ statements: true });
    const sandbox = await stack.sandbox({ 'hmac-key': HMAC_KEY });
    const nodeArgs = String(flags['service-node-args']).split(' ').filter(Boolean);
    let service = await stack.service({ database, sandbox, env: SERVICE_ENV, nodeArgs });
    results.machine = machineInfo(await database.version());
    results.machine.loopback = await loopbackRoundTrip();
    console.log(
      `PostgreSQL ${results.machine.postgres} on ${database.url}; sandbox ${sandbox.url}; service ${service.url} (pid ${service.pid})`,
    );
    const rss = sampleRss(service.pid);

    let batch = 0;
    const callbackRun = async (target, count, connections, { statements = false } = {}) => {
      const tasks = makeSubmittedTasks(count, `b${batch++}`);
      await insertSubmittedTasks(database, tasks);
      const requests = tasks.map((task) => callbackRequest(task));
      if (statements) await database.resetStatements();
      const meter = cpuMeter({ services: [target], database });
      const window = { from: monotonicMicros() };
      const load = await fire({ baseUrl: target.url, connections, requests });
      window.to = monotonicMicros();
      const cpuUsed = meter();
      // Read before the verification, whose own statement is not the service's.
      const statementsOfRun = statements ? await statementsSinceReset(database, count) : undefined;
      const verification = await verifyCallbacks(database, tasks);
      const run = {
        kind: 'service callbacks',
        count,
        connections,
        ...load,
        verified: verification.verified,
        verifiedPerSecond: verification.verified / load.seconds,
        verification,
        cpuSeconds: cpuUsed,
        cpuMsPerRequest: { service: (cpuUsed.service * 1000) / count, postgres: (cpuUsed.postgres * 1000) / count },
        window,
        ...statementsOfRun,
      };
      return { run, tasks, requests };
    };
    const getRun = async (count, connections) => {
      const meter = cpuMeter({ services: [service], database });
      const load = await fire({
        baseUrl: service.url,
        connections,
        requests: repeat(count, { path: '/health/live', headers: clientHeaders }),
      });
      const cpuUsed = meter();
      return {
        kind: 'GET /health/live',
        count,
        connections,
        ...load,
        cpuSeconds: cpuUsed,
        cpuMsPerRequest: { service: (cpuUsed.service * 1000) / count },
      };
    };
    const pgRun = async (count, connections, poolSize) => {
      const tasks = makeSubmittedTasks(count, `pg${batch++}`);
      await insertSubmittedTasks(database, tasks);
      const bodies = tasks.map((task) => callbackRequest(task).body);
      const meter = cpuMeter({ database });
      const run = await pgBaseline({
        url: database.url,
        tasks,
        bodies,
        concurrency: connections,
        poolSize,
        beforeEnd: () => ({ cpuSeconds: meter() }),
      });
      const verification = await verifyCallbacks(database, tasks);
      return {
        kind: `pg, one callback's statements (pool ${run.poolSize})`,
        count,
        connections,
        ...run,
        verified: verification.verified,
        cpuMsPerRequest: { postgres: (run.cpuSeconds.postgres * 1000) / count },
      };
    };

    console.log(`Warming up (${flags.warmup} GETs and ${flags.warmup} callbacks)...`);
    await getRun(flags.warmup, concurrencies[0]);
    await callbackRun(service, flags.warmup, concurrencies[0]);

    for (const connections of concurrencies) {
      console.log(`Concurrency ${connections}: GET baseline, ${flags.tasks} callbacks, pg baselines...`);
      const get = await getRun(flags.tasks, connections);
      const { run: callbacks } = await callbackRun(service, flags.tasks, connections, { statements: connections === concurrencies[0] });
      callbacks.memory = await service.memoryBreakdown();
      const pg = {
        service: await pgRun(flags.tasks, connections),
        servicePool10: connections === 10 ? undefined : await pgRun(flags.tasks, connections, 10),
      };
      results.runs.push({
        connections,
        get,
        callbacks,
        pg,
        ratios: {
          serviceVsGet: ratio(callbacks.verifiedPerSecond, get.okPerSecond),
          serviceVsPg: ratio(callbacks.verifiedPerSecond, pg.service.perSecond),
          serviceVsPgPool10: pg.servicePool10 ? ratio(callbacks.verifiedPerSecond, pg.servicePool10.perSecond) : null,
        },
      });
    }
    if (flags.small > 0) {
      console.log(`${flags.small} callbacks at 20 concurrent...`);
      results.small = (await callbackRun(service, flags.small, 20)).run;
    }
    results.rssMiB = rss.stop();
    results.memoryAtEnd = await service.memoryBreakdown();

    if (flags.diagnostics) {
      // The same run with LOG_LEVEL=warn: no access line and no event lines (3 JSON lines per callback otherwise).
      console.log('Diagnostic: the same run with LOG_LEVEL=warn...');
      await service.stop();
      service = await stack.service({ database, sandbox, env: { ...SERVICE_ENV, LOG_LEVEL: 'warn' }, name: 'service-quiet', nodeArgs });
      await callbackRun(service, flags.warmup, concurrencies[0]);
      results.quiet = (await callbackRun(service, flags.tasks, concurrencies[0])).run;
    }

    if (flags.profile) {
      // Another service on the same database, under the profiler; its samples are cut to the measured window.
      console.log('Profiling: a service under --cpu-prof, warm-up, then one measured run...');
      await service.stop();
      const profileDir = join(stack.tmp, 'profile');
      mkdirSync(profileDir, { recursive: true });
      service = await stack.service({
        database,
        sandbox,
        env: SERVICE_ENV,
        name: 'service-profiled',
        nodeArgs: [...nodeArgs, '--cpu-prof', `--cpu-prof-dir=${profileDir}`, '--cpu-prof-interval=500'],
      });
      await callbackRun(service, flags.warmup, concurrencies[0]);
      const { run } = await callbackRun(service, flags.tasks, concurrencies[0]);
      await service.stop();
      const analysis = analyseProfile(newestProfile(profileDir), { fromMicros: run.window.from, toMicros: run.window.to, top: 25 });
      results.profile = { run: summaryOf(run), ...analysis };
    }

    report(results);
    results.finishedAt = new Date().toISOString();
    saveResults('callbacks', results);
  } catch (error) {
    stack.failed(error);
  } finally {
    await stack.shutdown();
  }
}

/** The top statements since the last reset, and PostgreSQL's executing and planning time per request over all of them. */
async function statementsSinceReset(database, requests) {
  const totals = await database.statementTotals();
  return {
    statements: await database.statements(20),
    postgresMsPerRequest: { executing: totals.execMs / requests, planning: totals.planMs / requests },
  };
}

const summaryOf = (run) => ({
  count: run.count,
  connections: run.connections,
  perSecond: run.verifiedPerSecond ?? run.perSecond,
  latencyMs: run.latencyMs,
});

function row(label, run, perSecond) {
  const l = run.latencyMs;
  const failures = (run.non2xx ?? 0) + (run.errors ?? 0);
  const c = run.cpuSeconds;
  // How much of the machine's CPU capacity other processes (not ours) used meanwhile: a noisy run shows here.
  const others = c ? pct(c.others / c.capacity) : '-';
  return [
    label,
    run.connections,
    run.count,
    perSecond,
    l.p50,
    l.p99,
    l.max,
    failures,
    run.cpuMsPerRequest?.service ?? null,
    run.cpuMsPerRequest?.postgres ?? null,
    others,
  ];
}

function report(results) {
  const header = ['run', 'C', 'n', 'per s', 'p50 ms', 'p99 ms', 'max ms', 'errors', 'svc CPU ms/req', 'pg CPU ms/req', 'others CPU'];
  const rows = [];
  for (const r of results.runs) {
    rows.push(row('callbacks (verified)', r.callbacks, r.callbacks.verifiedPerSecond));
    rows.push(row('  baseline GET /health/live', r.get, r.get.okPerSecond));
    rows.push(row("  baseline pg, one callback's statements (2)", r.pg.service, r.pg.service.perSecond));
    if (r.pg.servicePool10) rows.push(row('  baseline pg, the same, pool of 10', r.pg.servicePool10, r.pg.servicePool10.perSecond));
  }
  if (results.small) rows.push(row(`${results.small.count} callbacks at 20 concurrent`, results.small, results.small.verifiedPerSecond));
  if (results.quiet) rows.push(row('diagnostic: callbacks with LOG_LEVEL=warn', results.quiet, results.quiet.verifiedPerSecond));
  printTable("Callback ingest (latency = time to acknowledgement; pg rows: one callback's statements each)", header, rows);

  printTable(
    'Ratios (verified callbacks/s over the baseline)',
    ['C', 'vs GET', 'vs pg', 'vs pg, pool of 10', 'verified', 'status codes'],
    results.runs.map((r) => [
      r.connections,
      pct(r.ratios.serviceVsGet),
      pct(r.ratios.serviceVsPg),
      pct(r.ratios.serviceVsPgPool10),
      `${r.callbacks.verified}/${r.callbacks.count}`,
      JSON.stringify(r.callbacks.statusCodes),
    ]),
  );
  const rtt = results.machine.loopback;
  console.log(
    `\nThis machine's loopback TCP between two processes: ${fmt(rtt.roundTripMicros)} µs per round trip, ${fmt(rtt.cpuMicrosPerRoundTrip)} µs ` +
      `of the asking process's CPU each: every SQL statement and HTTP exchange pays this, on both sides.`,
  );
  const m = results.memoryAtEnd;
  if (m) {
    console.log(
      `\nService memory after the runs: RSS ${fmt(m.rssMiB)} MiB (max sampled ${fmt(results.rssMiB.maxMiB)}) = V8 heap ${fmt(m.heapTotalMiB)} MiB committed ` +
        `(${fmt(m.heapUsedMiB)} used; ${Object.entries(m.heapSpacesMiB)
          .map(([k, v]) => `${k} ${fmt(v)}`)
          .join(', ')}) + external ${fmt(m.externalMiB)} MiB + code, stacks and the rest`,
    );
  }

  const first = results.runs[0]?.callbacks;
  if (first?.statements) {
    const calls = first.count;
    const perCallback = first.postgresMsPerRequest;
    console.log(
      `\nPostgreSQL per callback during the C=${first.connections} run (pg_stat_statements, every statement): ` +
        `${fmt(perCallback.planning, 3)} ms planning, ${fmt(perCallback.executing, 3)} ms executing`,
    );
    printTable(
      `PostgreSQL time per statement during the C=${first.connections} run (pg_stat_statements)`,
      ['calls/callback', 'exec ms total', 'exec ms mean', 'plan ms total', 'statement'],
      first.statements
        .filter((s) => !/pg_stat_statements/.test(s.query))
        .slice(0, 12)
        .map((s) => [fmt(Number(s.calls) / calls, 2), Number(s.total_ms), Number(s.mean_ms), Number(s.plan_ms), s.query.slice(0, 100)]),
    );
  }
  if (results.profile) {
    const p = results.profile;
    console.log(
      `\nCPU profile of the service during ${p.run.count} callbacks at ${p.run.connections} (${fmt(p.run.perSecond)}/s under the profiler): ` +
        `${fmt(p.sampledMs)} ms sampled, idle ${pct(p.idleShare)}`,
    );
    printProfile(p);
  }
  const main = results.runs.find((r) => r.connections === 20) ?? results.runs[0];
  if (main) {
    const c = main.callbacks;
    printTargets([
      {
        target: `>= 1,000 verified callbacks/s (C=${main.connections})`,
        measured: fmt(c.verifiedPerSecond),
        met: c.verifiedPerSecond >= 1000,
      },
      { target: `p99 <= 50 ms (C=${main.connections})`, measured: `${fmt(c.latencyMs.p99)} ms`, met: c.latencyMs.p99 <= 50 },
      { target: '>= 40% of the trivial-GET baseline', measured: pct(main.ratios.serviceVsGet), met: main.ratios.serviceVsGet >= 0.4 },
      { target: 'every callback verified in SQL', measured: `${c.verified}/${c.count}`, met: c.verified === c.count },
      { target: 'service RSS <= 200 MB', measured: `${fmt(results.rssMiB.maxMiB)} MiB max`, met: results.rssMiB.maxMiB <= 200 },
    ]);
  }
}

main();
