'use strict';
// Client webhooks: N final events delivered by the service's WebhookRelay to a local receiver (a separate node
// process, bench/lib/webhook-receiver.js, answering 200 at once), through the shipped path only: N tasks submitted
// with POST /lyrics {prompt, webhookUrl}, created on the sandbox by the dispatcher (whose results are an hour away),
// then all made final in a burst of their signed KIE callbacks on POST /lyrics/callback/<taskId>/<token>, the way
// bench/callbacks.js fires them: callback -> the one door -> event + delivery rows -> the relay (woken in-process)
// -> signed POST. Two kinds of run:
//  - burst: the receiver answers at once; commit-to-receipt (lyrics_events.created_at, written by clock_timestamp()
//    in the committing statement, to the receiver's arrival time; same machine, same clock) and deliveries/s from the
//    first commit to the last receipt, which the callback ingest rate bounds;
//  - backlog: the receiver holds its answers while the callbacks commit (so the relay's places stay taken and the
//    rest of the deliveries wait in the table), then answers them all: the relay's own rate draining the backlog.
// Baseline in the same run: a bare node:http client (one keep-alive agent, as many requests in flight as the relay's
// LYRICS_WEBHOOK_CONCURRENCY) POSTing the same bodies with the same headers to the same receiver, three passes back to
// back in each repeat (the median reported). The target is read on the median over repeats of each repeat's drain
// rate over its own baseline; the burst's rate is bounded by the callbacks' and is shown, not judged.
// Every run checks that each task succeeded, each webhook delivery is `delivered` after one attempt, and every
// signature the receiver got verifies with `standardwebhooks` against its owner's GET /lyrics/webhook-secret.
//
//   npm run bench:deliveries                                   # 1,000 tasks, 3 repeats, one owner and four owners
//   npm run bench:deliveries -- --tasks 300 --repeats 1 --owners 0 --warmup 200 --profile=false   # a quick trial
const http = require('node:http');
const https = require('node:https');
const { execFileSync } = require('node:child_process');
const { mkdirSync, readFileSync } = require('node:fs');
const { join } = require('node:path');
const { Webhook } = require('standardwebhooks');
const { analyseProfile, monotonicMicros, newestProfile, printProfile } = require('./lib/profile');
const { fmt, machineInfo, parseFlags, pct, printTable, printTargets, saveResults } = require('./lib/report');
const { cpuMeter, requireDist, Stack, sampleRss, waitUntil, withClient } = require('./lib/stack');
const { median, ratio, summarize } = require('./lib/stats');
const { CLIENT, CLIENT_KEY, callbackRequest, HMAC_KEY } = require('./lib/tasks');
const { startReceiver } = require('./lib/webhook-receiver');

const flags = parseFlags({
  tasks: { default: 1000, help: 'tasks (final events, webhook deliveries) per measured run' },
  concurrency: { default: 128, help: "LYRICS_WEBHOOK_CONCURRENCY (its default), and the baseline client's requests in flight" },
  'callback-concurrency': { default: 20, help: 'callbacks in flight while the tasks are made final (as bench/callbacks.js)' },
  repeats: { default: 3, help: 'measured repeats of each run (burst, baseline, backlog); medians reported' },
  owners: {
    default: 4,
    help: 'owners of the several-owners phase, with the default per-owner cap (LYRICS_WEBHOOK_OWNER_CONCURRENCY unset); 0 to skip it',
  },
  'webhook-host': { default: 'localhost', help: "the webhook URLs' host: a name is resolved by the relay on every send, 127.0.0.1 is not" },
  tls: {
    default: false,
    help: 'https receiver (a throwaway self-signed certificate): the service in production mode, the host in LYRICS_WEBHOOK_ALLOWED_HOSTS',
  },
  'baseline-passes': { default: 3, help: "the baseline's passes per repeat, back to back; the median one is reported" },
  warmup: { default: 1000, help: 'tasks of the unmeasured run after each service start' },
  vacuum: {
    default: true,
    help: 'VACUUM ANALYZE the tables before each measured run, when none of its deliveries exists yet (autovacuum stays on)',
  },
  diagnostics: {
    default: true,
    help: 'also one backlog run (one owner) with lyrics_deliveries analyzed at the release, so the claim is planned knowing the backlog',
  },
  explain: {
    default: true,
    help: "EXPLAIN ANALYZE the relay's claim (the service's own builder, rolled back) at the last backlog's release",
  },
  profile: { default: true, help: 'also run once more with the service under --cpu-prof and print its top frames (burst and backlog)' },
  'time-limit-s': { default: 1500, help: 'the whole run is stopped after this long' },
  keep: { default: false, help: 'keep logs and data in the temp folder' },
});

const now = () => performance.timeOrigin + performance.now();

/** The owners' names and keys: `bench` alone, or owner-1..owner-N. */
function ownersOf(count) {
  if (count <= 1) return [{ name: CLIENT, key: CLIENT_KEY }];
  return Array.from({ length: count }, (_, i) => ({ name: `owner-${i + 1}`, key: `bench-owner-key-${String(i + 1).padStart(4, '0')}` }));
}

/**
 * Sends every request in `requests` ({ method, path, headers, body }) to `baseUrl` with `concurrency` in flight, over
 * one keep-alive agent of as many sockets (`agent`, or a new one): the bare client of the baseline, also used to submit
 * and to call back.
 * Each outcome: { status, sentAt, answeredAt (ms, Unix clock), body (with keepBody) } or { error }.
 */
async function postAll({ baseUrl, requests, concurrency, keepBody = false, agent: given }) {
  const url = new URL(baseUrl);
  const client = url.protocol === 'https:' ? https : http;
  const agent = given ?? new client.Agent({ keepAlive: true, maxSockets: concurrency });
  const outcomes = new Array(requests.length);
  const cpu0 = process.cpuUsage();
  const started = now();
  let next = 0;
  const one = (i) =>
    new Promise((resolve) => {
      const spec = requests[i];
      const sentAt = now();
      const body = spec.body ?? '';
      const request = client.request(
        {
          hostname: url.hostname,
          port: url.port,
          method: spec.method ?? 'POST',
          path: spec.path,
          headers: { ...spec.headers, 'content-length': Buffer.byteLength(body) },
          agent,
        },
        (response) => {
          const chunks = [];
          response.on('data', (chunk) => keepBody && chunks.push(chunk));
          response.on('end', () => {
            outcomes[i] = {
              status: response.statusCode,
              sentAt,
              answeredAt: now(),
              ...(keepBody ? { body: Buffer.concat(chunks).toString('utf8') } : {}),
            };
            resolve();
          });
        },
      );
      request.on('error', (error) => {
        outcomes[i] = { error: error.message, sentAt, answeredAt: now() };
        resolve();
      });
      request.end(body);
    });
  const worker = async () => {
    while (next < requests.length) await one(next++);
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, requests.length) }, worker));
  if (!given) agent.destroy();
  const cpu = process.cpuUsage(cpu0);
  const finished = Math.max(...outcomes.map((o) => o.answeredAt));
  const statusCodes = {};
  for (const o of outcomes) {
    const key = o.status ?? o.error;
    statusCodes[key] = (statusCodes[key] ?? 0) + 1;
  }
  const ok = outcomes.filter((o) => o.status >= 200 && o.status < 300).length;
  return {
    outcomes,
    count: requests.length,
    ok,
    statusCodes,
    seconds: (finished - started) / 1000,
    perSecond: (ok * 1000) / (finished - started),
    latencyMs: summarize(outcomes.map((o) => o.answeredAt - o.sentAt)),
    clientCpuMsPerRequest: (cpu.user + cpu.system) / 1000 / requests.length,
  };
}

/** A throwaway self-signed certificate for localhost and 127.0.0.1 (openssl), for --tls. */
function selfSignedCertificate(dir) {
  const cert = join(dir, 'receiver-cert.pem');
  const key = join(dir, 'receiver-key.pem');
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-keyout',
      key,
      '-out',
      cert,
      '-days',
      '1',
    ].concat(['-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1']),
    { stdio: 'ignore' },
  );
  return { cert, key };
}

/**
 * EXPLAIN (ANALYZE, BUFFERS) of the webhook relay's claim as the service builds it (recordAndClaimDeliveries from dist/, nothing to record, the
 * limit a relay with every place free would ask for), in a transaction rolled back, so nothing is claimed: once with
 * the statistics as they are, once more after ANALYZE of lyrics_deliveries inside the same transaction (rolled back
 * too, so the service's plans keep the statistics they had). With the table's statistics at that moment.
 */
async function explainClaim(database, { perOwner }) {
  const { recordAndClaimDeliveries } = requireDist('lyrics/persistence/deliveries.sql');
  const statement = recordAndClaimDeliveries({
    consumer: 'webhook',
    outcomes: [],
    keepAttempts: 1,
    limit: flags.concurrency,
    perOwner,
    allowances: new Map(),
    leaseMs: 45000,
  });
  return withClient(database.url, async (client) => {
    const [stats] = (
      await client.query(
        `SELECT n_live_tup::int AS "liveRows", n_mod_since_analyze::int AS "changedSinceAnalyze",
                round(extract(epoch FROM now() - greatest(last_analyze, last_autoanalyze)))::int AS "analyzedSecondsAgo"
         FROM pg_stat_user_tables WHERE relname = 'lyrics_deliveries'`,
      )
    ).rows;
    const explain = async () =>
      (await client.query(`EXPLAIN (ANALYZE, BUFFERS) ${statement.text}`, statement.values)).rows.map((row) => row['QUERY PLAN']);
    await client.query('BEGIN');
    try {
      const asIs = await explain();
      await client.query('ANALYZE lyrics_deliveries');
      const analyzed = await explain();
      return { stats, asIs, analyzed };
    } finally {
      await client.query('ROLLBACK');
    }
  });
}

/**
 * The lines of a plan worth printing: the execution time, and for the per-task order check (the subquery over
 * lyrics_deliveries AS earlier) the index it reads and the rows that index scan removed by filter (a walk of the
 * backlog instead of one probe per task shows as thousands).
 */
function planSummary(plan) {
  const executionMs = Number(/Execution Time: ([\d.]+)/.exec(plan.join('\n'))?.[1]);
  const at = plan.findIndex((line) => /Scan using \S+ on lyrics_deliveries earlier/.test(line));
  const removed = [];
  for (let i = at + 1; at >= 0 && i < plan.length && !/->/.test(plan[i]); i++) {
    const match = /Rows Removed by Filter: (\d+)/.exec(plan[i]);
    if (match) removed.push(Number(match[1]));
  }
  return {
    executionMs,
    earlierScan: at >= 0 ? /using (\S+)/.exec(plan[at])[1] : '-',
    rowsRemovedByFilter: removed.reduce((a, b) => a + b, 0),
  };
}

/** CPU seconds of one process since the returned function was made. */
function processCpu(target) {
  const start = target.cpuSeconds() ?? 0;
  return () => (target.cpuSeconds() ?? start) - start;
}

class Bench {
  constructor({ stack, database, sandbox, receiver, tls }) {
    Object.assign(this, { stack, database, sandbox, receiver, tls });
    this.batch = 0;
  }

  async startService({ name, owners, ownerCap, nodeArgs = [] }) {
    const host = flags['webhook-host'];
    const env = {
      // The tasks' first poll is an hour away, and so are the sandbox's results: only our callbacks finish them.
      LYRICS_POLL_INITIAL_DELAY_MS: '3600000',
      // Submitting N tasks must not wait for KIE's 20-per-10-s budget (the sandbox's limit is raised to match).
      LYRICS_CREATE_BUDGET: '10000',
      LYRICS_CREATE_WINDOW_MS: '1000',
      LYRICS_DISPATCH_CONCURRENCY: '16',
      LYRICS_WEBHOOK_CONCURRENCY: String(flags.concurrency),
      ...(ownerCap ? { LYRICS_WEBHOOK_OWNER_CONCURRENCY: String(ownerCap) } : {}),
      API_KEYS: owners.map((o) => `${o.name}:${o.key}`).join(','),
      // Plain-http loopback webhooks are allowed outside production only; with --tls the service runs in production
      // mode like the other benches and the receiver's host is allow-listed (its public-address check skipped).
      ...(this.tls ? { LYRICS_WEBHOOK_ALLOWED_HOSTS: host, NODE_EXTRA_CA_CERTS: this.tls.cert } : { NODE_ENV: 'development' }),
    };
    this.service = await this.stack.service({ database: this.database, sandbox: this.sandbox, env, name, nodeArgs });
    this.owners = owners;
    this.ownerCap = ownerCap;
    this.secrets = new Map();
    for (const owner of owners) {
      // The owner's secret is made here, on first use, before any delivery needs it.
      const response = await fetch(`${this.service.url}/lyrics/webhook-secret`, { headers: { authorization: `Bearer ${owner.key}` } });
      if (!response.ok) throw new Error(`GET /lyrics/webhook-secret: HTTP ${response.status}`);
      this.secrets.set(owner.name, (await response.json()).secret);
    }
    return this.service;
  }

  /** How often autovacuum has analyzed lyrics_deliveries so far (new statistics re-plan the relay's claim). */
  async autoAnalyses() {
    const [{ n }] = await this.database.query(
      `SELECT autoanalyze_count::int AS n FROM pg_stat_user_tables WHERE relname = 'lyrics_deliveries'`,
    );
    return n;
  }

  async stopService() {
    await this.service?.stop();
    this.service = undefined;
  }

  /** N tasks submitted with webhookUrl (owners in turn), created on the sandbox, and their signed callbacks. */
  async prepare(count) {
    const label = `d${this.batch++}`;
    const hookBase = this.receiver.url(flags['webhook-host']);
    const submissions = Array.from({ length: count }, (_, i) => {
      const owner = this.owners[i % this.owners.length];
      return {
        method: 'POST',
        path: '/lyrics',
        headers: { authorization: `Bearer ${owner.key}`, 'content-type': 'application/json' },
        body: JSON.stringify({ prompt: `deliveries ${label} ${i}`, webhookUrl: `${hookBase}/hook/${owner.name}` }),
      };
    });
    const submitted = await postAll({ baseUrl: this.service.url, requests: submissions, concurrency: 20, keepBody: true });
    if (submitted.ok !== count) throw new Error(`POST /lyrics: ${JSON.stringify(submitted.statusCodes)}`);
    const ids = submitted.outcomes.map((o) => JSON.parse(o.body).id);
    await waitUntil(
      `${count} tasks created on the sandbox`,
      async () => {
        const [{ n }] = await this.database.query(
          `SELECT count(*)::int AS n FROM lyrics_tasks WHERE id = ANY($1::uuid[]) AND status = 'submitted'`,
          [ids],
        );
        return n === count;
      },
      { timeoutMs: 120000, intervalMs: 200 },
    );
    // KIE's side of each task: its id, its lyrics, and the callback URL with our task id and callback token.
    const wanted = new Set(ids);
    const tasks = [];
    for (const kieTask of await this.sandbox.tasks()) {
      const match = /\/lyrics\/callback\/([^/]+)\/([^/?]+)/.exec(kieTask.callBackUrl ?? '');
      if (!match || !wanted.has(match[1])) continue;
      tasks.push({ id: match[1], token: match[2], kieTaskId: kieTask.taskId, variants: kieTask.variants });
    }
    if (tasks.length !== count) throw new Error(`the sandbox holds ${tasks.length} of the ${count} tasks`);
    await fetch(`${this.sandbox.url}/sandbox/reset`, { method: 'POST' });
    return { ids, tasks };
  }

  /**
   * One measured run. `kind` burst: callbacks fired, deliveries answered at once. backlog: the receiver holds its
   * answers until every callback is answered, then answers all; measured from that release.
   */
  async run(kind, count, { statements = true, profileWindow = false, explain = false, analyzeAtRelease = false } = {}) {
    const { ids, tasks } = await this.prepare(count);
    const callbacks = tasks.map((task) => callbackRequest(task, HMAC_KEY));
    await this.receiver.reset();
    const backlog = kind === 'backlog';
    if (backlog) await this.receiver.hold();
    const startMeters = () => ({
      machine: cpuMeter({ services: [this.service], database: this.database }),
      receiver: processCpu(this.receiver),
      from: monotonicMicros(),
    });
    if (flags.vacuum && statements) await this.database.query('VACUUM ANALYZE lyrics_deliveries, lyrics_events, lyrics_tasks');
    const analyses0 = await this.autoAnalyses();
    if (statements && !backlog) await this.database.resetStatements();
    let meters = backlog ? undefined : startMeters();
    const fired = await postAll({ baseUrl: this.service.url, requests: callbacks, concurrency: flags['callback-concurrency'] });
    if (fired.ok !== count) throw new Error(`callbacks: ${JSON.stringify(fired.statusCodes)}`);
    fired.taskIds = tasks.map((task) => task.id);
    let release;
    let pendingAtRelease;
    if (backlog) {
      const [{ n }] = await this.database.query(
        `SELECT count(*)::int AS n FROM lyrics_deliveries WHERE task_id = ANY($1::uuid[]) AND consumer = 'webhook' AND status = 'pending'`,
        [ids],
      );
      pendingAtRelease = n;
      if (explain) this.claimPlan = await explainClaim(this.database, { perOwner: this.ownerCap ?? 8 });
      // New statistics invalidate the service's cached plans: its next claims are planned with the backlog counted.
      if (analyzeAtRelease) await this.database.query('ANALYZE lyrics_deliveries');
      if (statements) await this.database.resetStatements();
      meters = startMeters();
      release = await this.receiver.release();
    }
    await waitUntil(`${count} deliveries at the receiver`, async () => (await this.receiver.count()).distinct >= count, {
      timeoutMs: 120000,
      intervalMs: 20,
    });
    const lastReceiptAt = now();
    // Every attempt recorded (the relay writes each one after its answer).
    await waitUntil(
      `${count} deliveries recorded`,
      async () => {
        const [{ n }] = await this.database.query(
          `SELECT count(*)::int AS n FROM lyrics_deliveries WHERE task_id = ANY($1::uuid[]) AND consumer = 'webhook' AND status <> 'pending'`,
          [ids],
        );
        return n === count;
      },
      { timeoutMs: 60000, intervalMs: 20 },
    );
    const to = monotonicMicros();
    const cpu = meters.machine();
    const receiverCpu = meters.receiver();
    const statementsOfRun = statements ? await this.database.statements(12) : undefined;
    const totals = statements ? await this.database.statementTotals() : undefined;
    const { records, autoReleases } = await this.receiver.records({ full: true });
    const analysis = await this.analyse({ kind, ids, records, fired, release, count });
    // Unmeasured: the host relay's deliveries of the same events (the standalone service's event logger is a host
    // handler, so every final event is owed to the host too) finish before the next run starts.
    await waitUntil(
      'the host deliveries to finish',
      async () => {
        const [{ n }] = await this.database.query(
          `SELECT count(*)::int AS n FROM lyrics_deliveries WHERE task_id = ANY($1::uuid[]) AND status = 'pending'`,
          [ids],
        );
        return n === 0;
      },
      { timeoutMs: 120000, intervalMs: 50 },
    );
    const hostSettledAfterMs = now() - lastReceiptAt;
    const autoAnalysesDuringRun = (await this.autoAnalyses()) - analyses0;
    return {
      kind,
      owners: this.owners.length,
      count,
      pendingAtRelease,
      autoReleases,
      callbacks: { perSecond: fired.perSecond, seconds: fired.seconds, latencyMs: fired.latencyMs },
      ...analysis,
      cpuSeconds: { ...cpu, receiver: receiverCpu },
      cpuMsPerDelivery: {
        service: (cpu.service * 1000) / count,
        postgres: (cpu.postgres * 1000) / count,
        receiver: (receiverCpu * 1000) / count,
      },
      window: profileWindow ? { from: meters.from, to } : undefined,
      waitedMs: lastReceiptAt - (release?.at ?? fired.outcomes[0].sentAt),
      hostSettledAfterMs,
      autoAnalysesDuringRun,
      claimPlan: explain ? this.claimPlan : undefined,
      statements: statementsOfRun,
      postgresMs: totals ? { executing: totals.execMs, planning: totals.planMs, calls: totals.calls } : undefined,
      records,
    };
  }

  async analyse({ kind, ids, records, fired, release, count }) {
    const events = await this.database.query(
      `SELECT e.id, e.task_id AS "taskId", e.owner, extract(epoch FROM e.created_at)::float8 * 1000 AS "committedAt",
              d.status, d.attempt_count AS attempts, t.status AS "taskStatus"
       FROM lyrics_events e
       JOIN lyrics_tasks t ON t.id = e.task_id
       LEFT JOIN lyrics_deliveries d ON d.event_seq = e.seq AND d.consumer = 'webhook'
       WHERE e.task_id = ANY($1::uuid[])`,
      [ids],
    );
    const firstArrival = new Map();
    for (const record of records) if (!firstArrival.has(record.id)) firstArrival.set(record.id, record);
    const answeredAt = new Map(fired.outcomes.map((o, i) => [fired.taskIds[i], o.answeredAt]));
    const commitToReceipt = [];
    const answerToReceipt = [];
    const perOwner = new Map();
    let delivered = 0;
    let oneAttempt = 0;
    let succeeded = 0;
    const problems = [];
    for (const event of events) {
      if (event.taskStatus === 'succeeded') succeeded++;
      if (event.status === 'delivered') delivered++;
      if (event.attempts === 1) oneAttempt++;
      const record = firstArrival.get(event.id);
      if (!record) {
        if (problems.length < 5) problems.push(`${event.id}: not received`);
        continue;
      }
      const ms = record.arrivedAt - event.committedAt;
      commitToReceipt.push(ms);
      answerToReceipt.push(record.arrivedAt - answeredAt.get(event.taskId));
      if (!perOwner.has(event.owner)) perOwner.set(event.owner, []);
      perOwner.get(event.owner).push(ms);
    }
    // Every signature the receiver got, against its owner's secret (the owner is the path's last segment).
    let verified = 0;
    for (const record of firstArrival.values()) {
      const owner = record.path.split('/').pop();
      try {
        new Webhook(this.secrets.get(owner)).verify(record.body, record.headers);
        verified++;
      } catch (error) {
        if (problems.length < 5) problems.push(`${record.id}: signature ${error.message}`);
      }
    }
    const arrivals = [...firstArrival.values()].map((r) => r.arrivedAt).sort((a, b) => a - b);
    const commits = events.map((e) => e.committedAt).sort((a, b) => a - b);
    const lastArrival = arrivals[arrivals.length - 1];
    let deliveriesPerSecond;
    let drained;
    if (kind === 'backlog') {
      // Deliveries whose request came after the release (the ones held until then were already in flight).
      drained = arrivals.filter((at) => at >= release.at).length;
      deliveriesPerSecond = (drained * 1000) / (lastArrival - release.at);
    } else {
      deliveriesPerSecond = (count * 1000) / (lastArrival - commits[0]);
    }
    return {
      verification: {
        events: events.length,
        succeeded,
        delivered,
        oneAttempt,
        received: firstArrival.size,
        duplicates: records.length - firstArrival.size,
        signaturesVerified: verified,
        problems,
      },
      deliveriesPerSecond,
      drained,
      released: release?.released,
      spanMs: lastArrival - (release?.at ?? commits[0]),
      commitSpanMs: commits[commits.length - 1] - commits[0],
      commitToReceiptMs: summarize(commitToReceipt),
      /** From the callback's answer (as its sender saw it) to the receipt; negative when the webhook came first. */
      answerToReceiptMs: summarize(answerToReceipt),
      perOwner: Object.fromEntries([...perOwner].map(([owner, values]) => [owner, summarize(values)])),
    };
  }

  /**
   * The baseline: the bodies and headers of `records` POSTed again to the receiver by a bare keep-alive client,
   * `--baseline-passes` times in a row; the pass of median rate is reported (its CPU and latency with it), and every
   * pass's rate is kept. A pass of 1,000 takes about 0.1 s, a window in which this machine's speed swings by a factor
   * of two; the drain it is compared with takes about 0.25 s.
   */
  async baseline(records) {
    const first = new Map();
    for (const record of records) if (!first.has(record.id)) first.set(record.id, record);
    const requests = [...first.values()].map((r) => ({
      method: 'POST',
      path: r.path,
      headers: { 'content-type': 'application/json', ...r.headers },
      body: r.body,
    }));
    // One agent for every baseline run, its connections (and TLS sessions) kept warm between runs as the relay's are.
    this.baselineAgent ??= this.tls
      ? new https.Agent({ keepAlive: true, maxSockets: flags.concurrency, ca: readFileSync(this.tls.cert) })
      : new http.Agent({ keepAlive: true, maxSockets: flags.concurrency });
    const passes = [];
    for (let pass = 0; pass < flags['baseline-passes']; pass++) {
      await this.receiver.reset();
      const receiverCpu = processCpu(this.receiver);
      const meter = cpuMeter({ services: [this.service], database: this.database });
      const run = await postAll({
        baseUrl: this.receiver.url(flags['webhook-host']),
        requests,
        concurrency: flags.concurrency,
        agent: this.baselineAgent,
      });
      const cpu = meter();
      const receiverSeconds = receiverCpu();
      const { distinct } = await this.receiver.count();
      const summary = { ...run };
      delete summary.outcomes;
      passes.push({
        kind: 'baseline',
        ...summary,
        received: distinct,
        deliveriesPerSecond: run.perSecond,
        cpuSeconds: { ...cpu, receiver: receiverSeconds },
        cpuMsPerDelivery: { client: run.clientCpuMsPerRequest, receiver: (receiverSeconds * 1000) / run.count },
      });
    }
    const byRate = [...passes].sort((a, b) => a.deliveriesPerSecond - b.deliveriesPerSecond);
    const reported = byRate[Math.floor((byRate.length - 1) / 2)];
    return {
      ...reported,
      passes: passes.map((p) => p.deliveriesPerSecond),
      received: Math.min(...passes.map((p) => p.received)),
      count: Math.min(...passes.map((p) => p.count)),
    };
  }
}

async function main() {
  const stack = new Stack('deliveries', { timeLimitMs: flags['time-limit-s'] * 1000, keep: flags.keep });
  const results = { bench: 'deliveries', startedAt: new Date().toISOString(), flags, phases: [] };
  try {
    const tls = flags.tls ? selfSignedCertificate(stack.tmp) : undefined;
    const database = await stack.postgres({ statements: true });
    const sandbox = await stack.sandbox({
      'hmac-key': HMAC_KEY,
      'result-delay-ms': 3600000,
      'create-max': 100000,
      'create-window-ms': 1000,
      credits: 10000000,
    });
    const receiver = await startReceiver(stack, { tls });
    const bench = new Bench({ stack, database, sandbox, receiver, tls });
    results.machine = machineInfo(await database.version());
    console.log(
      `PostgreSQL ${results.machine.postgres} on ${database.url}; sandbox ${sandbox.url}; receiver ${receiver.url(flags['webhook-host'])}`,
    );

    const phases = [{ name: 'one owner', owners: ownersOf(1), ownerCap: flags.concurrency }];
    if (flags.owners > 1) phases.push({ name: `${flags.owners} owners`, owners: ownersOf(flags.owners), ownerCap: undefined });
    for (const phase of phases) {
      const service = await bench.startService({ name: `service-${phase.owners.length}`, owners: phase.owners, ownerCap: phase.ownerCap });
      console.log(`\n${phase.name}: service ${service.url} (pid ${service.pid}); warming up with ${flags.warmup} tasks...`);
      const rss = sampleRss(service.pid);
      const warm = await bench.run('burst', flags.warmup, { statements: false });
      await bench.baseline(warm.records);
      const runs = [];
      for (let r = 1; r <= flags.repeats; r++) {
        console.log(`${phase.name}, repeat ${r}/${flags.repeats}: burst, baseline, backlog (${flags.tasks} tasks each)...`);
        const burst = await bench.run('burst', flags.tasks);
        const baseline = await bench.baseline(burst.records);
        const backlog = await bench.run('backlog', flags.tasks, { explain: flags.explain && r === flags.repeats });
        runs.push({ burst: strip(burst), baseline, backlog: strip(backlog) });
        console.log(
          `  burst ${fmt(burst.deliveriesPerSecond)}/s (p99 ${fmt(burst.commitToReceiptMs.p99)} ms), baseline ${fmt(baseline.deliveriesPerSecond)}/s, ` +
            `backlog drained at ${fmt(backlog.deliveriesPerSecond)}/s; host deliveries done ${fmt(burst.hostSettledAfterMs)} / ` +
            `${fmt(backlog.hostSettledAfterMs)} ms after the last webhook; autovacuum analyzed lyrics_deliveries ` +
            `${burst.autoAnalysesDuringRun + backlog.autoAnalysesDuringRun} times meanwhile`,
        );
      }
      let analyzed;
      if (flags.diagnostics && phase === phases[0]) {
        console.log(`${phase.name}, diagnostic: a backlog with lyrics_deliveries analyzed at the release...`);
        analyzed = strip(await bench.run('backlog', flags.tasks, { analyzeAtRelease: true }));
      }
      results.phases.push({
        name: phase.name,
        analyzed,
        owners: phase.owners.length,
        ownerCap: phase.ownerCap ?? 'default',
        runs,
        rssMiB: rss.stop(),
      });
      await bench.stopService();
    }

    if (flags.profile) {
      console.log(
        '\nProfiling: the one-owner service under --cpu-prof, warm-up, then one burst and one backlog run (analyzed at the release)...',
      );
      const profileDir = join(stack.tmp, 'profile');
      mkdirSync(profileDir, { recursive: true });
      const nodeArgs = ['--cpu-prof', `--cpu-prof-dir=${profileDir}`, '--cpu-prof-interval=500'];
      await bench.startService({ name: 'service-profiled', owners: ownersOf(1), ownerCap: flags.concurrency, nodeArgs });
      await bench.run('burst', flags.warmup, { statements: false });
      const burst = await bench.run('burst', flags.tasks, { statements: false, profileWindow: true });
      // Analyzed at the release, so that the claim does not hide the service's own costs (see the diagnostic run).
      const backlog = await bench.run('backlog', flags.tasks, { statements: false, profileWindow: true, analyzeAtRelease: true });
      await bench.stopService();
      const file = newestProfile(profileDir);
      results.profile = {
        burst: { run: summaryOf(burst), ...analyseProfile(file, { fromMicros: burst.window.from, toMicros: burst.window.to, top: 25 }) },
        backlog: {
          run: summaryOf(backlog),
          ...analyseProfile(file, { fromMicros: backlog.window.from, toMicros: backlog.window.to, top: 25 }),
        },
      };
    }

    bench.baselineAgent?.destroy();
    report(results);
    results.finishedAt = new Date().toISOString();
    saveResults('deliveries', results);
  } catch (error) {
    stack.failed(error);
  } finally {
    await stack.shutdown();
  }
}

/** A run without its raw records (they are the baseline's input, not results). */
function strip(run) {
  const rest = { ...run };
  delete rest.records;
  return rest;
}

const summaryOf = (run) => ({
  kind: run.kind,
  count: run.count,
  perSecond: run.deliveriesPerSecond,
  commitToReceiptMs: run.commitToReceiptMs,
});

const medianOf = (runs, pick) => median(runs.map(pick).filter((v) => v !== null && v !== undefined));

/** The relay's claim statement in a run's pg_stat_statements: its mean, and its calls and time per delivery. */
function claimOf(run) {
  const row = run.statements?.find((st) => /claimed_by_owner/.test(st.query));
  if (!row) return undefined;
  return {
    meanMs: Number(row.mean_ms),
    callsPerDelivery: Number(row.calls) / run.count,
    msPerDelivery: Number(row.total_ms) / run.count,
  };
}

/** One line of the runs table: a relay run, or the baseline (its latency is request to answer, its CPU the client's). */
function runRow(label, run, callbacksPerSecond) {
  const latency = run.commitToReceiptMs ?? run.latencyMs;
  const cpu = run.cpuMsPerDelivery;
  const delivered = run.verification ? `${run.verification.delivered}/${run.count}` : `${run.received}/${run.count}`;
  return [
    label,
    run.deliveriesPerSecond,
    callbacksPerSecond,
    latency.p50,
    latency.p99,
    latency.max,
    cpu.service ?? cpu.client,
    cpu.postgres ?? null,
    cpu.receiver,
    delivered,
    othersShare(run.cpuSeconds),
  ];
}

/** How much of the machine's CPU processes not ours took meanwhile (cpuMeter counts the receiver among the others). */
function othersShare(cpu) {
  return cpu ? pct(Math.max(0, cpu.others - (cpu.receiver ?? 0)) / cpu.capacity) : '-';
}

function report(results) {
  for (const phase of results.phases) {
    const rows = [];
    phase.runs.forEach((r, i) => {
      const k = r.backlog;
      rows.push(runRow(`${i + 1} burst`, r.burst, r.burst.callbacks.perSecond));
      rows.push(
        runRow(
          `${i + 1}   baseline (bare client, C=${results.flags.concurrency}; median of ${r.baseline.passes?.map((p) => fmt(p)).join(', ') ?? 'one pass'})`,
          r.baseline,
          null,
        ),
      );
      rows.push(runRow(`${i + 1} backlog drain (${k.pendingAtRelease} pending, ${k.released} held)`, k, k.callbacks.perSecond));
    });
    if (phase.analyzed)
      rows.push(runRow('diagnostic: backlog drain, ANALYZE at the release', phase.analyzed, phase.analyzed.callbacks.perSecond));
    printTable(
      `Deliveries, ${phase.name} (per-owner cap ${phase.ownerCap}, ${results.flags.concurrency} per instance): ` +
        'latency = commit to receipt (baseline: request to answer); CPU per delivery (baseline: the client in the svc column)',
      [
        'run',
        'deliveries/s',
        'callbacks/s',
        'p50 ms',
        'p99 ms',
        'max ms',
        'svc CPU ms',
        'pg CPU ms',
        'receiver CPU ms',
        'delivered',
        'others CPU',
      ],
      rows,
    );
    const runs = phase.runs;
    const m = {
      burst: medianOf(runs, (r) => r.burst.deliveriesPerSecond),
      backlog: medianOf(runs, (r) => r.backlog.deliveriesPerSecond),
      baseline: medianOf(runs, (r) => r.baseline.deliveriesPerSecond),
      p50: medianOf(runs, (r) => r.burst.commitToReceiptMs.p50),
      p99: medianOf(runs, (r) => r.burst.commitToReceiptMs.p99),
      max: medianOf(runs, (r) => r.burst.commitToReceiptMs.max),
      callbacks: medianOf(runs, (r) => r.burst.callbacks.perSecond),
    };
    phase.medians = {
      ...m,
      backlogVsBaseline: ratio(m.backlog, m.baseline),
      // Each repeat's drain over the baseline measured just before it: the machine's speed drifts between repeats,
      // and a pair measured seconds apart shares more of it than two medians do. The target is read on this one.
      pairedBacklogVsBaseline: median(runs.map((r) => ratio(r.backlog.deliveriesPerSecond, r.baseline.deliveriesPerSecond))),
      burstVsBaseline: ratio(m.burst, m.baseline),
    };
    const claimRow = (label, pick) => {
      const claims = runs.map((r) => claimOf(pick(r))).filter(Boolean);
      if (claims.length === 0) return [label, '-'];
      return [
        label,
        `${fmt(median(claims.map((c) => c.meanMs)))} ms each, ${fmt(median(claims.map((c) => c.callsPerDelivery)), 2)} per delivery ` +
          `(${fmt(median(claims.map((c) => c.msPerDelivery)), 2)} ms per delivery)`,
      ];
    };
    const diagnostic = phase.analyzed;
    printTable(
      `Medians of ${runs.length} repeats, ${phase.name}`,
      ['measure', 'value'],
      [
        ['backlog drain, deliveries/s', m.backlog],
        ['baseline, deliveries/s', m.baseline],
        ['backlog drain / baseline (of the medians)', pct(phase.medians.backlogVsBaseline)],
        ["backlog drain / baseline (median of each repeat's pair)", pct(phase.medians.pairedBacklogVsBaseline)],
        ['burst, deliveries/s (first commit to last receipt)', m.burst],
        ['burst / baseline (the callbacks bound the burst: not a target)', pct(phase.medians.burstVsBaseline)],
        ['burst, callbacks/s (the bound on it)', m.callbacks],
        ['burst, commit to receipt p50 / p99 / max ms', `${fmt(m.p50)} / ${fmt(m.p99)} / ${fmt(m.max)}`],
        claimRow('the claim statement during the backlog drain (pg_stat_statements)', (r) => r.backlog),
        claimRow('the claim statement during the burst (both relays)', (r) => r.burst),
        ...(diagnostic
          ? [
              ['diagnostic: backlog drain with the backlog analyzed, deliveries/s', diagnostic.deliveriesPerSecond],
              ['diagnostic / baseline', pct(ratio(diagnostic.deliveriesPerSecond, m.baseline))],
              claimRow('diagnostic: its claim statement', () => diagnostic),
            ]
          : []),
        ['checks (every repeat)', checksOf(runs)],
      ],
    );
    const last = runs[runs.length - 1];
    if (phase.owners > 1) {
      printTable(
        `Commit to receipt per owner, last burst, ${phase.name}`,
        ['owner', 'n', 'p50 ms', 'p99 ms', 'max ms'],
        Object.entries(last.burst.perOwner).map(([owner, s]) => [owner, s.n, s.p50, s.p99, s.max]),
      );
    }
    const plan = last.backlog.claimPlan;
    if (plan) {
      const st = plan.stats;
      printTable(
        `The relay's claim with ${last.backlog.pendingAtRelease} deliveries pending (${last.backlog.released} held), ${phase.name}: ` +
          `EXPLAIN ANALYZE, rolled back (lyrics_deliveries: ${st.liveRows} rows, ${st.changedSinceAnalyze} changed since its last analyze, ` +
          `${st.analyzedSecondsAgo ?? 'never'} s ago)`,
        [
          'statistics (a new connection: custom plan)',
          'execution ms',
          "per-task order check: 'earlier' scan",
          'its rows removed by filter (per loop)',
        ],
        [
          ['as they are', ...Object.values(planSummary(plan.asIs))],
          ['after ANALYZE (the backlog counted)', ...Object.values(planSummary(plan.analyzed))],
        ],
      );
    }
    for (const kind of ['backlog', 'burst']) {
      const run = last[kind];
      if (!run.statements) continue;
      printTable(
        `PostgreSQL during the last ${kind} run, ${phase.name} (pg_stat_statements${kind === 'backlog' ? ', from the release' : ''}; ` +
          `${fmt(run.postgresMs.executing / run.count, 3)} ms executing + ${fmt(run.postgresMs.planning / run.count, 3)} ms planning per delivery)`,
        ['calls/delivery', 'exec ms total', 'exec ms mean', 'plan ms total', 'statement'],
        run.statements
          .filter((s) => !/pg_stat_statements/.test(s.query))
          .slice(0, 10)
          .map((s) => [
            fmt(Number(s.calls) / run.count, 2),
            Number(s.total_ms),
            Number(s.mean_ms),
            Number(s.plan_ms),
            s.query.slice(0, 90),
          ]),
      );
    }
  }
  if (results.profile) {
    for (const kind of ['backlog', 'burst']) {
      const p = results.profile[kind];
      console.log(
        `\nCPU profile of the service, ${kind === 'backlog' ? 'backlog drain (ANALYZE at the release)' : 'burst'} run (${fmt(p.run.perSecond)} deliveries/s under the profiler): ${fmt(p.sampledMs)} ms sampled, idle ${pct(p.idleShare)}`,
      );
      printProfile(p, { packages: 12 });
    }
  }
  const one = results.phases[0];
  if (one?.medians) {
    const m = one.medians;
    const allChecked = results.phases.every((phase) => checksOf(phase.runs) === 'ok');
    printTargets([
      {
        target: ">= 50% of the baseline rate (backlog drain, one owner; median of each repeat's drain / baseline)",
        measured: `${pct(m.pairedBacklogVsBaseline)} (medians: ${fmt(m.backlog)}/s vs ${fmt(m.baseline)}/s)`,
        met: m.pairedBacklogVsBaseline >= 0.5,
      },
      { target: 'commit-to-receipt p99 <= 1 s (burst, one owner)', measured: `${fmt(m.p99)} ms`, met: m.p99 <= 1000 },
      ...results.phases.slice(1).map((phase) => ({
        target: `commit-to-receipt p99 <= 1 s (burst, ${phase.name})`,
        measured: `${fmt(phase.medians.p99)} ms`,
        met: phase.medians.p99 <= 1000,
      })),
      {
        target: 'every task succeeded, every delivery delivered once and verified',
        measured: allChecked ? 'ok' : 'see the tables',
        met: allChecked,
      },
    ]);
  }
}

/** "ok" when every run's every task succeeded and was delivered at its first attempt, received, and verified. */
function checksOf(runs) {
  const issues = [];
  for (const r of runs) {
    for (const run of [r.burst, r.backlog]) {
      const v = run.verification;
      const n = run.count;
      if (
        v.events !== n ||
        v.succeeded !== n ||
        v.delivered !== n ||
        v.oneAttempt !== n ||
        v.received !== n ||
        v.signaturesVerified !== n
      ) {
        issues.push(`${run.kind}: ${JSON.stringify({ ...v, problems: v.problems.slice(0, 2) })}`);
      }
      if (run.autoReleases) issues.push(`${run.kind}: the hold outlasted its limit`);
    }
    if (r.baseline.received !== r.baseline.count) issues.push(`baseline: ${r.baseline.received}/${r.baseline.count} received`);
  }
  return issues.length === 0 ? 'ok' : issues.join('; ');
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
