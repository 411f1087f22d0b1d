'use strict';
// A burst of POST /lyrics at once (default 1,000, each its own connection): acceptance latency; then the time until
// every task is `submitted` under the create budget (default 20 per 10,000 ms, KIE's limit: about 8-9 minutes for
// 1,000), the budget's use measured from the sandbox's own request log (accepted creates by arrival time, over
// sliding windows), upstream 429s (must be 0), and the service's RSS throughout. The sandbox enforces the same
// limit as the budget, and its results take an hour, so tasks stay submitted and nothing else runs.
//
// With --accounts N (N > 1) the service and the sandbox get N KIE accounts (KIE_API_KEYS), each with the budget, and
// the same burst is first drained on one account (a fresh stack), the baseline of the same run: throughput must grow
// N-fold, no account may exceed its budget in any window, and no create may be throttled.
//
//   npm run bench:burst                                              # the default run, ~8.5 minutes
//   npm run bench:burst -- --tasks 200 --budget 50 --window-ms 2000  # a short trial, ~10 s
//   npm run bench:burst -- --accounts 3 --tasks 600 --window-ms 5000 # one account, then three: ~4 minutes
const { mkdirSync } = require('node:fs');
const { join } = require('node:path');
const { setTimeout: sleep } = require('node:timers/promises');
const { analyseProfile, monotonicMicros, newestProfile, printProfile } = require('./lib/profile');
const { burst } = require('./lib/load');
const { fmt, machineInfo, parseFlags, pct, printTable, printTargets, saveResults } = require('./lib/report');
const { cpuMeter, Stack, sampleRss, waitUntil } = require('./lib/stack');
const { slidingWindowUse, summarize } = require('./lib/stats');
const { clientHeaders, HMAC_KEY } = require('./lib/tasks');

const flags = parseFlags({
  tasks: { default: 1000, help: 'POST /lyrics sent at once' },
  budget: { default: 20, help: 'LYRICS_CREATE_BUDGET, and the sandbox create limit (--create-max)' },
  'window-ms': { default: 10000, help: 'LYRICS_CREATE_WINDOW_MS, and the sandbox --create-window-ms' },
  accounts: { default: 1, help: 'KIE accounts, each with the budget; above 1, one account is measured first, as the baseline' },
  warmup: { default: 300, help: 'unmeasured requests first (reads, refused bodies, idempotent replays: one create in all)' },
  'time-limit-s': { default: 0, help: 'stop after this long (0: twice the ideal drain time plus 3 minutes)' },
  profile: { default: false, help: 'profile the service (--cpu-prof) while it accepts the burst, print the top frames and stop there' },
  keep: { default: false, help: 'keep logs and data in the temp folder' },
});

async function main() {
  const startedAt = new Date().toISOString();
  if (flags.accounts <= 1) {
    const results = await measured(1);
    if (!results) return;
    report(results);
    if (!flags.profile) saveResults('burst', { ...results, startedAt, finishedAt: new Date().toISOString() });
    return;
  }
  const baseline = await measured(1);
  const many = baseline && (await measured(flags.accounts));
  if (!many) return;
  report(baseline);
  report(many);
  compare(baseline, many);
  saveResults('burst-accounts', { bench: 'burst', startedAt, finishedAt: new Date().toISOString(), flags, baseline, accounts: many });
}

/** One burst on a stack of its own, with `accounts` KIE accounts; undefined when the run failed (reported). */
async function measured(accounts) {
  const { tasks: count, budget, 'window-ms': windowMs } = flags;
  // The fastest any dispatcher can drain the queue: the first `budget` of every account at once, then `budget` per
  // window and account.
  const idealMs = Math.ceil(count / (budget * accounts) - 1) * windowMs;
  const timeLimitMs = flags['time-limit-s'] > 0 ? flags['time-limit-s'] * 1000 : 2 * idealMs + 180000;
  const stack = new Stack(`burst-${accounts}`, { timeLimitMs, keep: flags.keep });
  try {
    return await run(stack, accounts, idealMs);
  } catch (error) {
    stack.failed(error);
    return undefined;
  } finally {
    await stack.shutdown();
  }
}

/** Names and keys of `count` KIE accounts, as the sandbox (--account) and the service (KIE_API_KEYS) are given them. */
function benchAccounts(count) {
  return Array.from({ length: count }, (_, i) => ({
    name: `account-${i + 1}`,
    apiKey: `bench-kie-key-${i + 1}`,
    hmacKey: `${HMAC_KEY}-${i + 1}`,
  }));
}

async function run(stack, accountCount, idealMs) {
  const { tasks: count, budget, 'window-ms': windowMs } = flags;
  const results = { bench: 'burst', flags, accounts: accountCount, idealDrainMs: idealMs };
  const database = await stack.postgres({ statements: true });
  const accounts = accountCount > 1 ? benchAccounts(accountCount) : undefined;
  const sandbox = await stack.sandbox({
    ...(accounts
      ? { account: accounts.map((account) => `${account.name}:${account.apiKey}:${account.hmacKey}`) }
      : { 'hmac-key': HMAC_KEY }),
    'create-max': budget,
    'create-window-ms': windowMs,
    'result-delay-ms': 3600000,
    credits: count + 1000,
  });
  const profileDir = join(stack.tmp, 'profile');
  if (flags.profile) mkdirSync(profileDir, { recursive: true });
  const service = await stack.service({
    database,
    sandbox,
    env: {
      LYRICS_CREATE_BUDGET: String(budget),
      LYRICS_CREATE_WINDOW_MS: String(windowMs),
      LYRICS_POLL_INITIAL_DELAY_MS: '3600000',
      ...(accounts && {
        KIE_API_KEYS: accounts.map((account) => `${account.name}:${account.apiKey}`).join(','),
        KIE_WEBHOOK_HMAC_KEYS: accounts.map((account) => `${account.name}:${account.hmacKey}`).join(','),
      }),
    },
    nodeArgs: flags.profile ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`, '--cpu-prof-interval=500'] : [],
  });
  results.machine = machineInfo(await database.version());
  console.log(
    `PostgreSQL ${results.machine.postgres}; sandbox ${sandbox.url} (limit ${budget}/${windowMs} ms); service ${service.url} (pid ${service.pid})`,
  );
  console.log(`${count} POST /lyrics at once on ${accountCount} account(s); ideal drain ${fmt(idealMs / 1000)} s`);

  // Warm-up (JIT) of the routes the burst takes, spending one create: reads, refused bodies (400: nothing stored),
  // and replays of one idempotent submission (the insert, the conflict and the read back).
  const post = (body, headers = {}) =>
    fetch(`${service.url}/lyrics`, {
      method: 'POST',
      headers: { ...clientHeaders, 'content-type': 'application/json', ...headers },
      body: JSON.stringify(body),
    }).then(async (r) => ({ status: r.status, body: await r.json() }));
  for (let i = 0; i < flags.warmup; i += 20) {
    await Promise.all(
      Array.from({ length: 20 }, (_, j) =>
        j % 3 === 0
          ? fetch(`${service.url}/lyrics?limit=5`, { headers: clientHeaders }).then((r) => r.arrayBuffer())
          : j % 3 === 1
            ? post({ prompt: '' })
            : post({ prompt: 'burst warm-up', metadata: { bench: 'warm-up' } }, { 'idempotency-key': 'burst-warm-up' }),
      ),
    );
  }
  const [{ id: warmId }] = await database.query(`SELECT id FROM lyrics_tasks WHERE idempotency_key = 'burst-warm-up'`);
  await waitUntil(
    'the warm-up task to be submitted',
    async () => (await database.query(`SELECT status FROM lyrics_tasks WHERE id = $1`, [warmId]))[0].status === 'submitted',
  );
  // The warm-up's create frees its slot one window later: the burst starts with the whole budget.
  await sleep(windowMs);

  // Baseline: the same burst of trivial GETs (each on its own connection), on the same app.
  const getBurst = await burst({
    baseUrl: service.url,
    requests: Array.from({ length: count }, () => ({ path: '/health/live', headers: clientHeaders })),
  });
  console.log(
    `Baseline: ${count} GET /health/live at once: p50 ${fmt(getBurst.latencyMs.p50)} ms, p99 ${fmt(getBurst.latencyMs.p99)} ms in ${fmt(getBurst.seconds)} s`,
  );
  results.getBurst = { ...getBurst, outcomes: undefined };

  const rss = sampleRss(service.pid, 250);
  await database.resetStatements();
  const since = Date.now();

  const requests = Array.from({ length: count }, (_, i) => ({
    method: 'POST',
    path: '/lyrics',
    headers: { ...clientHeaders, 'content-type': 'application/json' },
    body: JSON.stringify({ prompt: `burst ${i}: a song about the number ${i}`, metadata: { bench: 'burst', i } }),
  }));
  const meter = cpuMeter({ services: [service], database });
  const t0 = Date.now();
  const window = { fromMicros: monotonicMicros() };
  const accepted = await burst({ baseUrl: service.url, requests });
  window.toMicros = monotonicMicros();
  const acceptCpu = meter();
  if (flags.profile) {
    // Profile of the accept phase only; the drain is skipped (a profile of minutes would be huge).
    await service.stop();
    const p = analyseProfile(newestProfile(profileDir), { ...window, top: 25 });
    console.log(`\nCPU profile of the service while it accepted the burst: ${fmt(p.sampledMs)} ms sampled, idle ${pct(p.idleShare)}`);
    printProfile(p);
    results.profile = { accept: { ...accepted, outcomes: undefined }, ...p };
    saveResults('burst-profile', results);
    return undefined;
  }
  const acceptedIds = accepted.outcomes.filter((o) => o.status === 202).map((o) => JSON.parse(o.body).id);
  console.log(
    `Accepted ${acceptedIds.length}/${count} in ${fmt(accepted.seconds)} s: p50 ${fmt(accepted.latencyMs.p50)} ms, p99 ${fmt(accepted.latencyMs.p99)} ms, max ${fmt(accepted.latencyMs.max)} ms`,
  );
  const statementsAtAccept = await database.statements(12);

  // Until every accepted task is submitted (or failed, which would be a finding), with progress every ~30 s.
  const progress = [];
  let lastPrint = Date.now();
  let counts;
  for (;;) {
    const [row] = await database.query(
      `SELECT count(*) FILTER (WHERE status = 'queued')::int AS queued, count(*) FILTER (WHERE status = 'submitted')::int AS submitted,
                count(*) FILTER (WHERE status IN ('succeeded', 'failed'))::int AS final
         FROM lyrics_tasks WHERE id = ANY($1::uuid[])`,
      [acceptedIds],
    );
    counts = row;
    progress.push({ atMs: Date.now() - t0, ...row, rssMiB: service.rssMiB() });
    if (Date.now() - lastPrint >= 30000) {
      lastPrint = Date.now();
      console.log(
        `  ${fmt((Date.now() - t0) / 1000)} s: ${row.submitted} submitted, ${row.queued} queued, ${row.final} final, RSS ${fmt(service.rssMiB())} MiB`,
      );
    }
    if (row.queued === 0) break;
    await sleep(1000); // the drain's own time comes from the rows (submitted_at), not from this loop
  }
  const drainMs = Date.now() - t0;
  const drainCpu = meter();
  const [times] = await database.query(
    `SELECT EXTRACT(EPOCH FROM max(submitted_at) - min(created_at)) * 1000 AS span_ms FROM lyrics_tasks WHERE id = ANY($1::uuid[])`,
    [acceptedIds],
  );
  const log = (await sandbox.requests()).filter((r) => r.startedAt >= since);
  const creates = log.filter((r) => r.endpoint === 'create');
  const acceptedCreates = creates.filter((r) => r.httpStatus === 200 && r.code === 200);
  const throttled = creates.filter((r) => r.httpStatus === 429 || [405, 429, 430].includes(r.code));
  const use = slidingWindowUse(
    acceptedCreates.map((r) => r.startedAt),
    windowMs,
    budget * accountCount,
  );
  // Each account's own windows: KIE limits every account on its own.
  const perAccount = [...new Set(acceptedCreates.map((r) => r.account))].sort().map((account) => ({
    account,
    ...slidingWindowUse(
      acceptedCreates.filter((r) => r.account === account).map((r) => r.startedAt),
      windowMs,
      budget,
    ),
  }));
  const createLatency = summarize(creates.filter((r) => r.finishedAt).map((r) => r.finishedAt - r.startedAt));
  // How long each slot sat idle: from a create's answer to the next create that reused the window, i.e. the gap
  // between the create i and create i+budget beyond one window.
  const arrivals = acceptedCreates.map((r) => r.startedAt).sort((a, b) => a - b);
  const reuseGaps = [];
  const slots = budget * accountCount;
  for (let i = slots; i < arrivals.length; i++) reuseGaps.push(arrivals[i] - arrivals[i - slots] - windowMs);

  Object.assign(results, {
    accept: { ...accepted, outcomes: undefined, cpuSeconds: acceptCpu },
    drain: {
      ms: drainMs,
      dbSpanMs: Number(times.span_ms),
      idealMs,
      idealShare: idealMs / Number(times.span_ms),
      counts,
      cpuSeconds: drainCpu,
      progress: progress.filter((_, i) => i % 25 === 0 || i === progress.length - 1),
    },
    upstream: {
      creates: creates.length,
      accepted: acceptedCreates.length,
      throttled: throttled.length,
      otherRefusals: creates.length - acceptedCreates.length - throttled.length,
      recordInfo: log.filter((r) => r.endpoint === 'record-info').length,
      credit: log.filter((r) => r.endpoint === 'credit').length,
      createLatencyMs: createLatency,
    },
    budgetUse: use,
    budgetUseByAccount: perAccount,
    // Steady creates per second: those after every slot's first use, over the span of the accepted creates (the
    // first `budget` of each account go at once, whatever the number of windows, and would flatter short runs).
    createsPerS: (use.events - budget * accountCount) / (use.spanMs / 1000),
    slotIdleAfterWindowMs: summarize(reuseGaps),
    rssMiB: rss.stop(),
    statementsDuringAccept: statementsAtAccept,
    statementsTotal: await database.statements(15),
  });
  return results;
}

/** One account against several, from the same run: steady create rate, each account's windows, throttles. */
function compare(one, many) {
  const ratio = many.createsPerS / one.createsPerS;
  printTable(
    `${many.accounts} KIE accounts against one, ${flags.tasks} tasks, ${flags.budget} creates per ${flags['window-ms']} ms each`,
    ['accounts', 'until all submitted s', 'steady creates per s', 'ideal / actual', 'busiest window per account', 'upstream 429s'],
    [one, many].map((r) => [
      r.accounts,
      r.drain.dbSpanMs / 1000,
      r.createsPerS,
      pct(r.drain.idealShare),
      r.budgetUseByAccount.map((a) => `${a.account ?? 'default'} ${a.busiestWindow}`).join(', '),
      r.upstream.throttled,
    ]),
  );
  const over = many.budgetUseByAccount.filter((a) => a.busiestWindow > flags.budget);
  printTargets([
    { target: `throughput >= 2.9x one account's (${many.accounts} accounts)`, measured: `${fmt(ratio)}x`, met: ratio >= 2.9 },
    {
      target: 'every account within its budget in every sliding window',
      measured: many.budgetUseByAccount.map((a) => `${a.account} ${a.busiestWindow}/${flags.budget}`).join(', '),
      met: over.length === 0 && many.budgetUseByAccount.length === many.accounts,
    },
    {
      target: 'zero upstream 429s',
      measured: String(many.upstream.throttled + one.upstream.throttled),
      met: many.upstream.throttled + one.upstream.throttled === 0,
    },
  ]);
}

function report(r) {
  const a = r.accept;
  printTable(
    `Burst of ${r.flags.tasks} POST /lyrics at once (each on its own connection; latency includes connecting)`,
    ['requests', 'answered', 'wall s', 'per s', 'p50 ms', 'p99 ms', 'max ms', 'errors', 'svc CPU ms/req', 'pg CPU ms/req', 'others CPU'],
    [
      [
        'POST /lyrics',
        `${a.statusCodes[202] ?? 0}/${a.requests} (202)`,
        a.seconds,
        a.requests / a.seconds,
        a.latencyMs.p50,
        a.latencyMs.p99,
        a.latencyMs.max,
        a.errors,
        (a.cpuSeconds.service * 1000) / a.requests,
        (a.cpuSeconds.postgres * 1000) / a.requests,
        pct(a.cpuSeconds.others / a.cpuSeconds.capacity),
      ],
      [
        '  baseline GET /health/live',
        `${r.getBurst.statusCodes[200] ?? 0}/${r.getBurst.requests} (200)`,
        r.getBurst.seconds,
        r.getBurst.requests / r.getBurst.seconds,
        r.getBurst.latencyMs.p50,
        r.getBurst.latencyMs.p99,
        r.getBurst.latencyMs.max,
        r.getBurst.errors,
        '-',
        '-',
        '-',
      ],
    ],
  );
  // A burst is queued and served one request after another on the service's JS thread: the last answers come about
  // (n x time per request) after the first, so p99 is close to the whole span.
  const perPost = (a.seconds * 1000) / a.requests;
  const perGet = (r.getBurst.seconds * 1000) / r.getBurst.requests;
  console.log(
    `The ${a.requests} answers came over ${fmt(a.seconds)} s, one every ${fmt(perPost)} ms (GETs: one every ${fmt(perGet)} ms): a p99 of 100 ms ` +
      `for ${a.requests} at once needs about ${fmt(100 / (0.99 * a.requests), 3)} ms per request.`,
  );
  const d = r.drain;
  const u = r.budgetUse;
  printTable(
    `Dispatch at ${r.flags.budget} creates per ${r.flags['window-ms']} ms on ${r.accounts} account${r.accounts > 1 ? 's' : ''}`,
    ['measure', 'value'],
    [
      ['time until all submitted (s, from the rows)', d.dbSpanMs / 1000],
      ['ideal at the budget (s)', d.idealMs / 1000],
      ['ideal / actual', pct(d.idealShare)],
      ['accepted creates (sandbox log)', u.events],
      ['busiest sliding window', `${u.busiestWindow} (${pct(u.busiestShare)} of the budget)`],
      ['mean creates per window / budget', pct(u.meanShare)],
      ['windows below the budget', `${u.windowsBelowBudget} of ${u.windowsMeasured} (fewest ${u.minWindow ?? '-'})`],
      ['slot idle after its window, p50/p99 ms', `${fmt(r.slotIdleAfterWindowMs.p50)} / ${fmt(r.slotIdleAfterWindowMs.p99)}`],
      ['create latency at the sandbox p50/p99 ms', `${fmt(r.upstream.createLatencyMs.p50)} / ${fmt(r.upstream.createLatencyMs.p99)}`],
      ['upstream 429s / throttles', r.upstream.throttled],
      ['other refused creates', r.upstream.otherRefusals],
      ['record-info / credit calls', `${r.upstream.recordInfo} / ${r.upstream.credit}`],
      ['tasks final (should be 0)', d.counts.final],
      ['service CPU s / pg CPU s during the drain', `${fmt(d.cpuSeconds.service)} / ${fmt(d.cpuSeconds.postgres)}`],
      ['service RSS max / last (MiB)', `${fmt(r.rssMiB.maxMiB)} / ${fmt(r.rssMiB.lastMiB)}`],
    ],
  );
  printTable(
    'PostgreSQL statements during the accept phase (pg_stat_statements)',
    ['calls', 'total ms', 'mean ms', 'statement'],
    r.statementsDuringAccept
      .filter((s) => !/pg_stat_statements/.test(s.query))
      .slice(0, 8)
      .map((s) => [Number(s.calls), Number(s.total_ms), Number(s.mean_ms), s.query.slice(0, 100)]),
  );
  printTargets([
    { target: 'acceptance p99 <= 100 ms', measured: `${fmt(a.latencyMs.p99)} ms`, met: a.latencyMs.p99 <= 100 },
    {
      target: 'every POST accepted (202)',
      measured: `${a.statusCodes[202] ?? 0}/${a.requests}`,
      met: (a.statusCodes[202] ?? 0) === a.requests,
    },
    { target: 'budget use >= 90% (mean per sliding window)', measured: pct(u.meanShare), met: u.meanShare >= 0.9 },
    {
      target: 'never above the budget in any window (per account)',
      measured: r.budgetUseByAccount.map((x) => `${x.busiestWindow}/${r.flags.budget}`).join(', '),
      met: r.budgetUseByAccount.every((x) => x.busiestWindow <= r.flags.budget),
    },
    { target: 'zero upstream 429s', measured: String(r.upstream.throttled), met: r.upstream.throttled === 0 },
    { target: 'service RSS <= 200 MB', measured: `${fmt(r.rssMiB.maxMiB)} MiB`, met: r.rssMiB.maxMiB <= 200 },
  ]);
}

main();
