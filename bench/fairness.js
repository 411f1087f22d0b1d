'use strict';
// Fair share of the create budget: one client (`bench`) queues 1,000 tasks at once; a second client (`late`) then
// submits 4. Measured: how many budget windows pass from the late client's submission until KIE has received all
// 4 of its creates (target: within the next two), and how many of the first client's creates went out meanwhile.
// Baseline, in the same run before the burst: the same 4 submissions on an idle service. The sandbox enforces the
// budget's own limit, and its results take an hour, so tasks stay submitted and nothing else runs.
//
//   npm run bench:fairness                                          # default: 1,000 behind, budget 20 per 10 s
//   npm run bench:fairness -- --tasks 200 --budget 10 --window-ms 2000
const { setTimeout: sleep } = require('node:timers/promises');
const { CLIENT, clientHeaders } = require('./lib/client');
const { burst } = require('./lib/load');
const { fmt, machineInfo, parseFlags, printTable, printTargets, saveResults } = require('./lib/report');
const { Stack, waitUntil } = require('./lib/stack');
const { HMAC_KEY } = require('./lib/tasks');

const flags = parseFlags({
  tasks: { default: 1000, help: "the first client's queue, POSTed at once" },
  late: { default: 4, help: "the late client's tasks" },
  budget: { default: 20, help: 'LYRICS_CREATE_BUDGET, and the sandbox create limit' },
  'window-ms': { default: 10000, help: 'LYRICS_CREATE_WINDOW_MS, and the sandbox create window' },
  keep: { default: false, help: 'keep logs and data in the temp folder' },
});

const LATE = 'late';
const LATE_KEY = 'late-client-key-0001';
const lateHeaders = { authorization: `Bearer ${LATE_KEY}` };

async function main() {
  const { tasks: count, late, budget, 'window-ms': windowMs } = flags;
  const stack = new Stack('fairness', { timeLimitMs: 10 * 60 * 1000, keep: flags.keep });
  const results = { bench: 'fairness', startedAt: new Date().toISOString(), flags };
  try {
    const database = await stack.postgres({ statements: false });
    const sandbox = await stack.sandbox({
      'hmac-key': HMAC_KEY,
      'create-max': budget,
      'create-window-ms': windowMs,
      'result-delay-ms': 3600000,
      credits: count + 1000,
    });
    const service = await stack.service({
      database,
      sandbox,
      env: {
        API_KEYS: `${CLIENT}:bench-client-key-0001,${LATE}:${LATE_KEY}`,
        LYRICS_CREATE_BUDGET: String(budget),
        LYRICS_CREATE_WINDOW_MS: String(windowMs),
        LYRICS_POLL_INITIAL_DELAY_MS: '3600000',
      },
    });
    results.machine = machineInfo(await database.version());
    const post = (prompt, headers) =>
      fetch(`${service.url}/lyrics`, {
        method: 'POST',
        headers: { ...headers, 'content-type': 'application/json' },
        body: JSON.stringify({ prompt }),
      }).then(async (r) => (await r.json()).id);

    /** Submits the late client's tasks; resolves with how long until KIE received each of their creates. */
    const lateRound = async (label) => {
      const at = Date.now();
      const ids = [];
      for (let i = 0; i < late; i++) ids.push(await post(`${label} ${i}`, lateHeaders));
      await waitUntil(
        `the ${label} tasks to be submitted`,
        async () =>
          (
            await database.query(`SELECT count(*)::int AS n FROM lyrics_tasks WHERE id = ANY($1::uuid[]) AND status = 'submitted'`, [ids])
          )[0].n === late,
        { timeoutMs: 20 * windowMs },
      );
      const creates = (await sandbox.requests()).filter((r) => r.endpoint === 'create' && r.startedAt >= at);
      const lastLate = Math.max(...creates.filter((r) => r.prompt.startsWith(`${label} `)).map((r) => r.startedAt));
      return {
        lastCreateMs: lastLate - at,
        windows: (lastLate - at) / windowMs,
        othersMeanwhile: creates.filter((r) => !r.prompt.startsWith(`${label} `) && r.startedAt <= lastLate).length,
      };
    };

    results.idle = await lateRound('idle');
    console.log(`Baseline (idle service): the late client's ${late} creates within ${fmt(results.idle.lastCreateMs)} ms`);
    // The baseline's creates free their slots one window later: the burst starts with the whole budget.
    await sleep(windowMs);

    const requests = Array.from({ length: count }, (_, i) => ({
      method: 'POST',
      path: '/lyrics',
      headers: { ...clientHeaders, 'content-type': 'application/json' },
      body: JSON.stringify({ prompt: `deep ${i}` }),
    }));
    const accepted = await burst({ baseUrl: service.url, requests });
    console.log(`The first client queued ${accepted.outcomes.filter((o) => o.status === 202).length} tasks in ${fmt(accepted.seconds)} s`);
    // The late client arrives once the first client has used the whole window's budget: the hardest moment.
    await waitUntil(
      "the first client to have used the window's budget",
      async () => (await sandbox.requests()).filter((r) => r.endpoint === 'create' && r.prompt.startsWith('deep ')).length >= budget,
      { timeoutMs: 5 * windowMs },
    );
    results.behind = await lateRound('late');
    const [queued] = await database.query(`SELECT count(*)::int AS n FROM lyrics_tasks WHERE owner = $1 AND status = 'queued'`, [CLIENT]);
    results.behind.firstClientStillQueued = queued.n;
    // First come, first served would have sent the late tasks after every one queued before them: this many windows.
    results.fifoWindows = Math.ceil((queued.n + results.behind.othersMeanwhile + late) / budget);

    printTable(
      `Fair share: ${late} tasks of a late client, submitted behind ${count} of another (budget ${budget} per ${windowMs} ms)`,
      ['case', 'last late create after (ms)', 'windows', "other client's creates meanwhile", 'ratio to idle'],
      [
        ['idle service (baseline)', results.idle.lastCreateMs, fmt(results.idle.windows, 2), results.idle.othersMeanwhile, '1.00'],
        [
          `behind ${count} queued`,
          results.behind.lastCreateMs,
          fmt(results.behind.windows, 2),
          results.behind.othersMeanwhile,
          fmt(results.behind.lastCreateMs / Math.max(1, results.idle.lastCreateMs), 2),
        ],
      ],
    );
    console.log(`First come, first served would have made the late client wait about ${results.fifoWindows} windows.`);
    printTargets([
      {
        target: `all ${late} late creates within the next two budget windows`,
        measured: `${fmt(results.behind.windows, 2)} windows`,
        met: results.behind.windows <= 2,
      },
    ]);
    saveResults('fairness', results);
  } finally {
    await stack.shutdown();
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
