'use strict';
// The fault test (test/faults.e2e-spec.ts) at a larger size: 1,000 tasks over two instances of the service, one
// killed with SIGKILL mid-run and restarted on its port, the database restarted while work is in flight, and a
// sandbox that drops, duplicates, re-spells and forges callbacks, fails some tasks, never answers some accepted creates
// and answers others with a gateway's 502/504 page; the tasks of two owners, each with a webhookUrl on the scenario's
// receiver, whose deliveries (and the host handlers') are counted once the run settles. Prints every check of
// bench/lib/fault-scenario.ts (built into dist/bench/) and the run's figures. Every part is a separate process.
//
//   npm run bench:faults                     # 1,000 tasks, about 1-2 minutes
//   npm run bench:faults -- --tasks 200
const { fmt, machineInfo, parseFlags, printTable, saveResults } = require('./lib/report');
const { freePort, requireBenchBuild, Stack } = require('./lib/stack');
const { HMAC_KEY } = require('./lib/tasks');

const { checkFaultRun, figuresOf, runFaultScenario } = requireBenchBuild('lib/fault-scenario');

const flags = parseFlags({
  tasks: { default: 1000, help: 'tasks in the run (half before the kill, a quarter while the instance is down, a quarter after)' },
  budget: { default: 1000, help: 'LYRICS_CREATE_BUDGET per 10 s, and the sandbox create limit' },
  seed: { default: 20261127, help: "the sandbox mix's seed" },
  mix: { default: 'drop=0.3,duplicate=0.2,camelCase=0.1,forged=0.05,failure=0.05,hang=0.03,gateway=0.05', help: 'the sandbox --mix' },
  'result-delay-ms': { default: 200, help: "the sandbox's result delay" },
  'final-timeout-s': { default: 180, help: 'how long every task may take to be final after the database restart' },
  'delivery-timeout-s': { default: 120, help: 'how long the deliveries may take to settle once every task is final' },
  'time-limit-s': { default: 420, help: 'the whole run is stopped after this long' },
  keep: { default: false, help: 'keep logs and data in the temp folder' },
});

const SERVICE_ENV = {
  KIE_TIMEOUT_MS: '1000',
  LYRICS_LEASE_MS: '2000',
  LYRICS_DISPATCH_INTERVAL_MS: '100',
  LYRICS_POLL_INITIAL_DELAY_MS: '300',
  LYRICS_POLL_INTERVAL_MS: '200',
  LYRICS_POLL_MAX_INTERVAL_MS: '1000',
  LYRICS_SHUTDOWN_GRACE_MS: '1000',
};

async function main() {
  const stack = new Stack('faults', { timeLimitMs: flags['time-limit-s'] * 1000, keep: flags.keep });
  const results = { bench: 'faults', startedAt: new Date().toISOString(), flags };
  try {
    const database = await stack.postgres({ statements: false });
    results.machine = machineInfo(await database.version());
    const sandbox = await stack.sandbox({
      'hmac-key': HMAC_KEY,
      mix: flags.mix,
      seed: flags.seed,
      'result-delay-ms': flags['result-delay-ms'],
      'create-max': flags.budget,
      'create-window-ms': 10000,
      credits: flags.tasks * 2,
    });
    const started = Date.now();
    const observations = await runFaultScenario({
      sandbox,
      database: {
        url: database.url,
        query: (sql, params) => database.query(sql, params),
        stop: () => database.stop(),
        start: () => database.start(),
      },
      startService: async ({ name, port, env }) => {
        const service = await stack.service({
          database,
          sandbox,
          port,
          name: name.startsWith('A') ? 'service-A' : 'service-B',
          // The scenario's env last: API_KEYS with its two owners, and the webhook receiver's settings.
          env: { ...SERVICE_ENV, LYRICS_CREATE_BUDGET: String(flags.budget), LYRICS_CREATE_WINDOW_MS: '10000', ...env },
        });
        return {
          url: service.url,
          logs: () => service.logs(),
          kill: () => service.stop('SIGKILL'),
          stop: () => service.stop('SIGTERM'),
          running: () => service.running,
        };
      },
      freePort,
      tasks: flags.tasks,
      timeoutMs: flags['final-timeout-s'] * 1000,
      deliveryTimeoutMs: flags['delivery-timeout-s'] * 1000,
      log: (line) => console.log(`  +${fmt((Date.now() - started) / 1000)} s: ${line}`),
    });
    const checks = checkFaultRun(observations);
    const figures = figuresOf(observations);
    Object.assign(results, { checks, figures, logTails: observations.logTails });
    report(checks, figures);
    results.finishedAt = new Date().toISOString();
    saveResults('faults', results);
    if (checks.some((c) => !c.ok)) process.exitCode = 1;
  } catch (error) {
    stack.failed(error);
  } finally {
    await stack.shutdown();
  }
}

function report(checks, f) {
  printTable(
    `Checks over ${f.tasks} tasks`,
    ['check', 'result', 'detail'],
    checks.map((c) => [c.name, c.ok ? 'ok' : `FAILED (${c.failureCount})`, c.detail]),
  );
  for (const c of checks.filter((x) => !x.ok)) console.log(`\n${c.name}, first failures:\n  ${c.failures.join('\n  ')}`);
  const t = f.timeline;
  printTable(
    'Run',
    ['measure', 'value'],
    [
      ['A killed after (s)', t.killAfterMs / 1000],
      ['  wave 1 at the kill', JSON.stringify(t.atKill)],
      ['A healthy again after (s)', t.restartedAfterMs / 1000],
      ['database stopped after (s)', t.databaseDownAfterMs / 1000],
      ['  all tasks at the stop', JSON.stringify(t.atDatabaseStop)],
      ['  database outage (s)', t.databaseOutageMs / 1000],
      ['all final after (s)', t.allFinalAfterMs / 1000],
      ['  of which after the database came back (s)', t.lastFinalAfterDatabaseMs / 1000],
      [
        'final states',
        Object.entries(f.byStatus)
          .map(([k, v]) => `${k}: ${v}`)
          .join(', '),
      ],
      ['sandbox mix drawn', JSON.stringify(f.sandboxMix)],
      ['upstream calls', JSON.stringify(f.upstream)],
      ['callback deliveries by answer', JSON.stringify(f.callbackDeliveries)],
      ['receipts by outcome', JSON.stringify(f.receipts)],
      ['outbox events', f.outboxEvents],
      ['host handler lines (distinct events)', `${f.deliveries.hostLines} (${f.deliveries.hostEvents})`],
      ['webhook POSTs (distinct events)', `${f.deliveries.webhookPosts} (${f.deliveries.webhookEvents})`],
      ['  by owner', JSON.stringify(f.deliveries.webhookPostsByOwner)],
      ['delivery rows by consumer and status', JSON.stringify(f.deliveries.rows)],
      ['  claims by consumer', JSON.stringify(f.deliveries.claims)],
      ['deliveries settled after the last final (s)', f.deliveries.settledAfterFinalMs / 1000],
      ['  pending at the end', f.deliveries.pendingAtEnd],
    ],
  );
}

main();
