// The fault scenario shared by test/faults.e2e-spec.ts (small, in CI) and bench/faults.js (1,000 tasks): two
// service instances on one PostgreSQL, a sandbox misbehaving by its mix (dropped, duplicated, camelCase and forged
// callbacks, failures, creates accepted but never answered, creates accepted but answered with a gateway's 502/504
// page), one instance killed with SIGKILL mid-run and restarted on its port, the database restarted once while work
// is in flight; then every invariant checked against the sandbox's record of truth. The tasks belong to two owners,
// each submitted with a webhookUrl on the scenario's own receiver (bench/lib/fault-webhook-receiver.ts, a path per owner):
// once the run has settled, every event must have reached its owner's webhook, signed with its owner's secret and
// nobody else's, and a host handler (the service's LyricsEvents log line), at least once each.
//
// The parts are given by the caller (the test's ServiceProcess and in-process sandbox, or the bench's processes),
// so this file only drives the run and judges it. jest compiles it with the test; the build compiles it into
// dist/bench/ for bench/faults.js (tsconfig.bench.json), outside the npm package.
import { FaultWebhookReceiver, ReceivedWebhook } from './fault-webhook-receiver';
import { waitUntil } from './wait-until';

const isFinal = (status: string | undefined) => status === 'succeeded' || status === 'failed';
const UNKNOWN = 'submit_outcome_unknown';
const EVENTS = new Set(['lyrics.succeeded', 'lyrics.failed']);

/** The parts of the sandbox's records the checks read (src/sandbox/sandbox-records.ts has them whole). */
export interface SandboxRequestRecord {
  endpoint: string;
  prompt?: string;
  taskId?: string;
  httpStatus?: number;
}

export interface SandboxDeliveryRecord {
  taskId: string;
  url: string;
  copy: number;
  sentAt: number;
  status?: number;
  error?: string;
  forged: boolean;
}

export interface SandboxTaskRecord {
  taskId: string;
  prompt: string;
  behaviours: {
    drop: boolean;
    copies: number;
    spelling: 'snake' | 'camel';
    forge: boolean;
    /** Accepted (and billed), never answered. */
    hang: boolean;
    /** How an accepted create was answered: KIE's envelope, or a gateway's page / an empty body. */
    acceptedAnswer: { body: 'envelope' | 'html' | 'empty'; status: number };
  };
  readyAt: number | null;
  outcome: string;
  variants: { title: string; text: string }[];
  errorMessage: string | null;
}

export interface FaultInstance {
  url: string;
  logs(): string;
  /** SIGKILL; resolves once the process has exited. */
  kill(): Promise<unknown>;
  stop(): Promise<unknown>;
  running(): boolean;
}

export interface FaultParts {
  sandbox: {
    url: string;
    requests(): Promise<SandboxRequestRecord[]>;
    callbacks(): Promise<SandboxDeliveryRecord[]>;
    tasks(): Promise<SandboxTaskRecord[]>;
  };
  /** start() on the same folder and port. */
  database: { url: string; query(sql: string, params?: unknown[]): Promise<any[]>; stop(): Promise<void>; start(): Promise<void> };
  /**
   * Starts an instance (NODE_ENV=production, PORT and PUBLIC_BASE_URL its own) and resolves once it is healthy.
   * `env` is the scenario's part of its environment (API_KEYS with the run's owners, the webhook receiver's
   * settings): it goes on top of the caller's.
   */
  startService(options: { name: string; port: number; env: Record<string, string> }): Promise<FaultInstance>;
  freePort(): Promise<number>;
  /** How many tasks the run submits. */
  tasks: number;
  /** How long every task may take to be final after the database restart; default 60000. */
  timeoutMs?: number;
  /**
   * How long the deliveries may take to settle (none pending) once every task is final and KIE's callbacks are over;
   * default 120000. A delivery claimed by the killed instance, or whose record the database restart lost, is claimed
   * again only when its lease ends: 60 s for host handlers, LYRICS_WEBHOOK_TIMEOUT_MS + 30 s for webhooks.
   */
  deliveryTimeoutMs?: number;
  log?: (line: string) => void;
}

interface TaskRow {
  id: string;
  owner: string;
  prompt: string;
  status: string;
  error_code: string | null;
  error_message: string | null;
  kie_task_id: string | null;
  result_source: string | null;
  attempts: number;
  polls: number;
  sent_at: Date | null;
}

interface VariantRow {
  task_id: string;
  position: number;
  title: string;
  text: string;
  status: string;
}

interface ReceiptRow {
  task_id: string;
  kie_task_id: string | null;
  outcome: string;
  detail: string | null;
  received_at: Date;
}

interface OutboxRow {
  /** The event id (consumers dedupe by it). */
  id: string;
  owner: string;
  task_id: string;
  type: string;
  status: string;
  error_code: string | null;
}

/** A row of lyrics_deliveries (one per event and consumer), with its event's id. */
interface DeliveryRow {
  event_id: string;
  task_id: string;
  owner: string;
  consumer: 'host' | 'webhook';
  status: 'pending' | 'delivered' | 'failed' | 'stopped';
  url: string | null;
  /** Claims made (an attempt each, recorded or not). */
  attempt_count: number;
  /** Attempts recorded. */
  recorded: number;
}

interface StatusCounts {
  queued: number;
  submitted: number;
  final: number;
}

/** One LyricsEvents log line: a host handler's delivery (src/logging/lyrics-event-logger.ts). */
export interface FaultEvent {
  instance: string;
  /** The event id; one event is logged again on each redelivery (at least once). */
  eventId?: string;
  owner?: string;
  taskId: string;
  name: string;
  /** A failure's code: a revived task's first event is lyrics.failed with submit_outcome_unknown (or timed_out). */
  errorCode?: string;
  at: string;
}

export interface FaultTimeline {
  startedAt: number;
  killAt: number;
  atKill: StatusCounts;
  restartedAt: number;
  atDatabaseStop: StatusCounts;
  databaseDownAt: number;
  databaseUpAt: number;
  allFinalAt: number;
  callbacksSettledAt: number;
  /** When no delivery of the run's tasks was pending any more (or the deadline passed). */
  deliveriesSettledAt: number;
  /** Deliveries still pending then: 0 unless the deadline passed. */
  deliveriesPending: number;
}

export interface FaultObservations {
  runId: string;
  tasks: number;
  /** The run's owners (API_KEYS clients), each with its path on the receiver. */
  owners: string[];
  submitted: { id: string; prompt: string; via: string; owner: string; webhookUrl: string }[];
  timeline: FaultTimeline;
  rows: TaskRow[];
  variants: VariantRow[];
  receipts: ReceiptRow[];
  /** The outbox's events of the run's tasks, in feed order. */
  outbox: OutboxRow[];
  requests: SandboxRequestRecord[];
  callbacks: SandboxDeliveryRecord[];
  sandboxTasks: SandboxTaskRecord[];
  events: FaultEvent[];
  /** The run's tasks' rows of lyrics_deliveries, at the end. */
  deliveries: DeliveryRow[];
  /** Every POST the webhook receiver got. */
  webhooks: ReceivedWebhook[];
  alive: { name: string; running: boolean }[];
  logTails: Record<string, string>;
}

export interface FaultCheck {
  id:
    | 'final'
    | 'creates'
    | 'billed-once'
    | 'never-received'
    | 'kie-finished'
    | 'truth'
    | 'events-once'
    | 'events-present'
    | 'outbox'
    | 'host-handled'
    | 'webhooks-delivered'
    | 'webhooks-isolated'
    | 'forged'
    | 'genuine'
    | 'no-5xx'
    | 'alive';
  name: string;
  ok: boolean;
  /** Up to 10 examples. */
  failures: string[];
  failureCount: number;
  detail: string;
}

/** Runs `fn` over `items` with at most `limit` at once; resolves with the results in order. */
async function pool<T, R>(items: T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        results[i] = await fn(items[i], i);
      }
    }),
  );
  return results;
}

/** KIE's retry policy (src/sandbox/sandbox-callbacks.ts): a first attempt and 3 retries. */
const MAX_ATTEMPTS = 4;

/**
 * True when the sandbox will send no more callbacks: every copy of every finished, undropped task has a delivery
 * answered 2xx or all its attempts made, and no attempt is waiting for its answer.
 */
export function callbacksSettled(callbacks: SandboxDeliveryRecord[], tasks: SandboxTaskRecord[]): boolean {
  if (callbacks.some((d) => d.status === undefined && d.error === undefined)) return false;
  const byCopy = new Map<string, SandboxDeliveryRecord[]>();
  for (const d of callbacks) {
    const key = `${d.taskId} ${d.copy}`;
    byCopy.set(key, [...(byCopy.get(key) ?? []), d]);
  }
  for (const task of tasks) {
    if (task.behaviours.drop || task.readyAt === null) continue;
    for (let copy = 1; copy <= task.behaviours.copies; copy++) {
      const attempts = byCopy.get(`${task.taskId} ${copy}`) ?? [];
      const delivered = attempts.some((d) => d.status !== undefined && d.status >= 200 && d.status < 300);
      if (!delivered && attempts.length < MAX_ATTEMPTS) return false;
    }
  }
  return true;
}

/**
 * Every lyrics.succeeded / lyrics.failed line an instance logged (JSON lines; eventId, owner, taskId and errorCode top
 * level, or in params).
 */
export function eventsIn(logs: string, instance: string): FaultEvent[] {
  const events: FaultEvent[] = [];
  for (const line of logs.split('\n')) {
    if (!line.startsWith('{') || !line.includes('lyrics.')) continue;
    let record: {
      message?: string;
      context?: string;
      eventId?: string;
      owner?: string;
      taskId?: string;
      errorCode?: string;
      params?: { eventId?: string; owner?: string; taskId?: string; errorCode?: string };
      timestamp: string;
    };
    try {
      record = JSON.parse(line);
    } catch {
      continue; // a line cut short by SIGKILL
    }
    if (record.message === undefined || !EVENTS.has(record.message) || record.context !== 'LyricsEvents') continue;
    const taskId = record.taskId ?? record.params?.taskId ?? '';
    const eventId = record.eventId ?? record.params?.eventId;
    const owner = record.owner ?? record.params?.owner;
    const errorCode = record.errorCode ?? record.params?.errorCode;
    events.push({
      instance,
      ...(eventId ? { eventId } : {}),
      ...(owner ? { owner } : {}),
      taskId,
      name: record.message,
      ...(errorCode ? { errorCode } : {}),
      at: record.timestamp,
    });
  }
  return events;
}

/** The run's owners: two API_KEYS clients (production keys have at least 16 characters). */
const OWNERS = [
  { name: 'fault-alpha', key: 'fault-alpha-key-0001' },
  { name: 'fault-beta', key: 'fault-beta-key-00001' },
];

/**
 * The webhook settings of the run's instances: the receiver's address let through the public-address check, its
 * certificate trusted, a short time limit and a short retry schedule (the defaults retry after 5 s, then 5 min), so
 * that a failed attempt is retried within the run.
 */
const webhookEnv = (receiver: FaultWebhookReceiver): Record<string, string> => ({
  API_KEYS: OWNERS.map((o) => `${o.name}:${o.key}`).join(','),
  LYRICS_WEBHOOK_ALLOWED_HOSTS: '127.0.0.1',
  NODE_EXTRA_CA_CERTS: receiver.caFile,
  LYRICS_WEBHOOK_TIMEOUT_MS: '5000',
  LYRICS_WEBHOOK_RETRY_MS: '200,500,1000,2000,5000,10000,20000',
});

/** Drives the run. Waits only on conditions (tasks reaching states, instances answering), never on fixed delays. */
export async function runFaultScenario(parts: FaultParts): Promise<FaultObservations> {
  const receiver = await FaultWebhookReceiver.start();
  try {
    return await run(parts, receiver);
  } finally {
    await receiver.stop();
  }
}

async function run(parts: FaultParts, receiver: FaultWebhookReceiver): Promise<FaultObservations> {
  const { sandbox, database, startService, tasks: count, log = () => {} } = parts;
  const runId = Math.random().toString(36).slice(2, 8);
  const timeline = { startedAt: Date.now() } as FaultTimeline;
  const portA = await parts.freePort();
  const portB = await parts.freePort();
  const env = webhookEnv(receiver);
  const instances: { name: string; instance: FaultInstance }[] = [];
  const start = async (name: string, port: number) => {
    const t0 = Date.now();
    const instance = await startService({ name, port, env });
    instances.push({ name, instance });
    log(`${name} healthy on port ${port} after ${Date.now() - t0} ms`);
    return instance;
  };
  // A first, alone: it runs the migrations.
  const a1 = await start('A', portA);
  const b = await start('B', portB);

  // Each owner's webhook secret (made on first need), so that the receiver can tell whose a delivery is.
  for (const owner of OWNERS) {
    const response = await fetch(`${b.url}/lyrics/webhook-secret`, { headers: { authorization: `Bearer ${owner.key}` } });
    const body = (await response.json()) as { secret?: string };
    if (response.status !== 200 || typeof body.secret !== 'string') {
      throw new Error(`GET /lyrics/webhook-secret for ${owner.name} answered ${response.status}: ${JSON.stringify(body)}`);
    }
    receiver.trust(owner.name, body.secret);
  }

  // Task n: its prompt, and its owner (alternating in pairs, so that both instances get both owners' tasks).
  const prompt = (n: number) => `fault run ${runId}: a song about the number ${n}`;
  const ownerOf = (n: number) => OWNERS[Math.floor(n / 2) % OWNERS.length];
  const submitted: FaultObservations['submitted'] = [];
  const submit = async (instance: FaultInstance, name: string, numbers: number[]) => {
    const rows = await pool(numbers, 20, async (n) => {
      const owner = ownerOf(n);
      const webhookUrl = `${receiver.url}/${owner.name}/${runId}-${n}`;
      const response = await fetch(`${instance.url}/lyrics`, {
        method: 'POST',
        headers: { authorization: `Bearer ${owner.key}`, 'content-type': 'application/json' },
        body: JSON.stringify({ prompt: prompt(n), webhookUrl }),
      });
      const body = (await response.json()) as { id: string };
      if (response.status !== 202) throw new Error(`POST /lyrics to ${name} answered ${response.status}: ${JSON.stringify(body)}`);
      return { id: body.id, prompt: prompt(n), via: name, owner: owner.name, webhookUrl };
    });
    submitted.push(...rows);
    return rows;
  };
  const range = (from: number, length: number) => Array.from({ length }, (_, i) => from + i);
  const wave1 = Math.round(count / 2);
  const wave2 = Math.round(count / 4);
  const wave3 = count - wave1 - wave2;
  const statusCounts = async (ids: string[]): Promise<StatusCounts> => {
    const [row] = await database.query(
      `SELECT count(*) FILTER (WHERE status = 'queued')::int AS queued, count(*) FILTER (WHERE status = 'submitted')::int AS submitted,
              count(*) FILTER (WHERE status IN ('succeeded', 'failed'))::int AS final
       FROM lyrics_tasks WHERE id = ANY($1::uuid[])`,
      [ids],
    );
    return row;
  };

  // Wave 1, over both instances; A is killed as soon as part of it has reached KIE, with the rest in flight.
  const numbers1 = range(0, wave1);
  await Promise.all([
    submit(
      a1,
      'A',
      numbers1.filter((n) => n % 2 === 0),
    ),
    submit(
      b,
      'B',
      numbers1.filter((n) => n % 2 === 1),
    ),
  ]);
  const ids1 = submitted.map((s) => s.id);
  await waitUntil(
    'a tenth of wave 1 to reach KIE',
    async () => {
      const c = await statusCounts(ids1);
      return c.submitted + c.final >= Math.max(1, Math.floor(wave1 / 10));
    },
    { timeoutMs: 30000, intervalMs: 20 },
  );
  timeline.killAt = Date.now();
  timeline.atKill = await statusCounts(ids1);
  await a1.kill();
  log(`A killed (SIGKILL) with wave 1 at ${JSON.stringify(timeline.atKill)}`);

  // Wave 2 to B alone while A is down; then A again, on its port (its callback URLs point there).
  await submit(b, 'B', range(wave1, wave2));
  const a2 = await start('A (restarted)', portA);
  timeline.restartedAt = Date.now();

  // Wave 3 over both; the database is restarted while its creates, callbacks, checks and deliveries are in flight.
  const numbers3 = range(wave1 + wave2, wave3);
  await Promise.all([
    submit(
      a2,
      'A',
      numbers3.filter((n) => n % 2 === 0),
    ),
    submit(
      b,
      'B',
      numbers3.filter((n) => n % 2 === 1),
    ),
  ]);
  const allIds = submitted.map((s) => s.id);
  timeline.atDatabaseStop = await statusCounts(allIds);
  timeline.databaseDownAt = Date.now();
  await database.stop();
  await database.start();
  timeline.databaseUpAt = Date.now();
  log(`database restarted in ${timeline.databaseUpAt - timeline.databaseDownAt} ms with ${JSON.stringify(timeline.atDatabaseStop)}`);

  await waitUntil(`all ${count} tasks to be final`, async () => (await statusCounts(allIds)).final === count, {
    timeoutMs: parts.timeoutMs ?? 60000,
    intervalMs: 250,
  });
  timeline.allFinalAt = Date.now();

  // KIE keeps delivering after the tasks are final (duplicates, retries of refused callbacks: up to 4 attempts, a
  // second apart): wait until every delivery chain is over, so that the records compared below are complete.
  await waitUntil(
    'the sandbox to finish delivering callbacks',
    async () => callbacksSettled(await sandbox.callbacks(), await sandbox.tasks()),
    { timeoutMs: 30000, intervalMs: 200 },
  );
  timeline.callbacksSettledAt = Date.now();

  // Then our own deliveries: until none of the run's is pending (claims the killed instance held, or whose record
  // the database restart lost, come due again when their lease ends). Past the deadline the checks report what is
  // missing rather than the run failing here. A delivery is recorded after its attempt, so the receiver already has
  // every delivered webhook; the LyricsEvents lines may still be on their way from a process's output to us, so the
  // logs get a moment more, also on a condition.
  const pending = async () => {
    const [row] = await database.query(
      `SELECT count(*)::int AS n FROM lyrics_deliveries WHERE task_id = ANY($1::uuid[]) AND status = 'pending'`,
      [allIds],
    );
    return row.n as number;
  };
  const deliveryTimeoutMs = parts.deliveryTimeoutMs ?? 120000;
  await waitUntil('no delivery pending', async () => (await pending()) === 0, { timeoutMs: deliveryTimeoutMs, intervalMs: 250 }).catch(
    (error: Error) => log(error.message),
  );
  timeline.deliveriesSettledAt = Date.now();
  timeline.deliveriesPending = await pending();
  const eventIds: { id: string }[] = await database.query(`SELECT id::text AS id FROM lyrics_events WHERE task_id = ANY($1::uuid[])`, [
    allIds,
  ]);
  const loggedEvents = () => instances.flatMap(({ name, instance }) => eventsIn(instance.logs(), name));
  await waitUntil(
    'every event in an instance log',
    () => {
      const logged = new Set(loggedEvents().map((e) => e.eventId));
      return eventIds.every((e) => logged.has(e.id));
    },
    { timeoutMs: 5000, intervalMs: 100 },
  ).catch((error: Error) => log(error.message));
  log(
    `deliveries settled ${timeline.deliveriesSettledAt - timeline.allFinalAt} ms after the last task was final` +
      ` (${timeline.deliveriesPending} pending)`,
  );

  const requests = await sandbox.requests();
  const callbacks = await sandbox.callbacks();
  const sandboxTasks = await sandbox.tasks();
  const observations: FaultObservations = {
    runId,
    tasks: count,
    owners: OWNERS.map((o) => o.name),
    submitted,
    timeline,
    rows: await database.query(
      `SELECT id, owner, prompt, status, error_code, error_message, kie_task_id, result_source, attempts, polls, sent_at
       FROM lyrics_tasks WHERE id = ANY($1::uuid[])`,
      [allIds],
    ),
    variants: await database.query(
      `SELECT task_id, position, title, text, status FROM lyrics_variants WHERE task_id = ANY($1::uuid[]) ORDER BY task_id, position`,
      [allIds],
    ),
    receipts: await database.query(
      `SELECT task_id, kie_task_id, outcome, detail, received_at FROM lyrics_callback_receipts WHERE task_id = ANY($1::uuid[]) ORDER BY id`,
      [allIds],
    ),
    outbox: await database.query(
      `SELECT id::text AS id, owner, task_id, type, data->>'status' AS status, data->'error'->>'code' AS error_code
       FROM lyrics_events WHERE task_id = ANY($1::uuid[]) ORDER BY tx_id, seq`,
      [allIds],
    ),
    requests,
    callbacks,
    sandboxTasks,
    events: loggedEvents(),
    deliveries: await database.query(
      `SELECT event.id::text AS event_id, d.task_id, d.owner, d.consumer, d.status, d.url, d.attempt_count,
              jsonb_array_length(d.attempts)::int AS recorded
       FROM lyrics_deliveries AS d JOIN lyrics_events AS event ON event.seq = d.event_seq
       WHERE d.task_id = ANY($1::uuid[]) ORDER BY d.event_seq, d.consumer`,
      [allIds],
    ),
    webhooks: receiver.deliveries(),
    alive: instances.filter(({ instance }) => instance !== a1).map(({ name, instance }) => ({ name, running: instance.running() })),
    logTails: Object.fromEntries(
      instances.map(({ name, instance }) => [name, instance.logs().trimEnd().split('\n').slice(-20).join('\n')]),
    ),
  };
  return observations;
}

/** Judges a run: each check is one invariant of the service under the faults of the run. */
export function checkFaultRun(o: FaultObservations): FaultCheck[] {
  const checks: FaultCheck[] = [];
  const check = (id: FaultCheck['id'], name: string, failures: string[], detail = '') =>
    checks.push({ id, name, ok: failures.length === 0, failures: failures.slice(0, 10), failureCount: failures.length, detail });
  const rowById = new Map(o.rows.map((r) => [r.id, r]));
  const truthById = new Map(o.sandboxTasks.map((t) => [t.taskId, t]));
  const creates = o.requests.filter((r) => r.endpoint === 'create');
  const createsByPrompt = new Map<string | undefined, SandboxRequestRecord[]>();
  for (const r of creates) createsByPrompt.set(r.prompt, [...(createsByPrompt.get(r.prompt) ?? []), r]);
  const variantsOf = new Map<string, VariantRow[]>();
  for (const v of o.variants) variantsOf.set(v.task_id, [...(variantsOf.get(v.task_id) ?? []), v]);
  const taskIdOfUrl = (url: string) => /\/lyrics\/callback\/([^/]+)\//.exec(url)?.[1];
  const outage = { from: o.timeline.databaseDownAt - 1000, to: o.timeline.databaseUpAt + 3000 };
  const inOutage = (at: number) => at >= outage.from && at <= outage.to;

  // 1. Every task is final.
  check(
    'final',
    'every task is final',
    o.submitted.filter((s) => !isFinal(rowById.get(s.id)?.status)).map((s) => `${s.id} is ${rowById.get(s.id)?.status ?? 'missing'}`),
  );

  // 2. No create sent twice (none of this run's creates is throttled, so every create KIE received was accepted); the
  //    ones whose answer was lost (a gateway's page, no answer, the sender killed) end submit_outcome_unknown.
  const createFailures: string[] = [];
  const unknownReasons = { ambiguousAnswer: 0, senderKilled: 0 };
  for (const s of o.submitted) {
    const row = rowById.get(s.id);
    const sent = createsByPrompt.get(s.prompt) ?? [];
    const unknown = row?.status === 'failed' && row.error_code === UNKNOWN;
    if (sent.length > 1) createFailures.push(`${s.id}: ${sent.length} creates for one prompt`);
    else if (sent.length === 1 && !unknown && row?.kie_task_id !== sent[0].taskId) {
      createFailures.push(`${s.id}: stored KIE id ${row?.kie_task_id} is not the one its create got (${sent[0].taskId})`);
    }
    if (unknown && sent.length === 1) {
      const truth = sent[0].taskId === undefined ? undefined : truthById.get(sent[0].taskId);
      const ambiguous = truth !== undefined && (truth.behaviours.hang || truth.behaviours.acceptedAnswer.body !== 'envelope');
      unknownReasons[ambiguous ? 'ambiguousAnswer' : 'senderKilled']++;
    }
  }
  const strangers = creates.filter((r) => !o.submitted.some((s) => s.prompt === r.prompt));
  for (const r of strangers) createFailures.push(`a create for a prompt nobody submitted: ${r.prompt}`);
  check(
    'creates',
    'no create sent twice; creates whose answer was lost end submit_outcome_unknown (until a callback revives them)',
    createFailures,
    `still unknown: ${JSON.stringify(unknownReasons)}`,
  );

  // 2a. No create billed twice: KIE made at most one task per prompt.
  const billed = new Map<string, number>();
  for (const t of o.sandboxTasks) billed.set(t.prompt, (billed.get(t.prompt) ?? 0) + 1);
  check(
    'billed-once',
    'no create billed twice',
    [...billed.entries()].filter(([, n]) => n > 1).map(([prompt, n]) => `${n} KIE tasks for "${prompt}"`),
    `${o.sandboxTasks.length} KIE tasks for ${o.submitted.length} submissions`,
  );

  // 2b. No task KIE never received is failed: a claim orphaned before its send was recorded is sent again, so every
  //     task (all final by now) reached KIE. The one exception is inherent: the send is recorded just before the request
  //     goes out (never after: a crash in between would then resend a billed create), so a create whose send the
  //     killed instance had recorded, in the moment of the SIGKILL, but not yet written to the socket ends unknown.
  const neverReceived: string[] = [];
  let cutAtTheKill = 0;
  for (const s of o.submitted) {
    if ((createsByPrompt.get(s.prompt) ?? []).length > 0) continue;
    const row = rowById.get(s.id);
    const recordedAtKill = row?.sent_at != null && Math.abs(new Date(row.sent_at).getTime() - o.timeline.killAt) <= 1000;
    if (row?.error_code === UNKNOWN && recordedAtKill) cutAtTheKill++;
    else neverReceived.push(`${s.id}: never sent, yet ${row?.status}/${row?.error_code ?? '-'} (sent_at ${row?.sent_at ?? 'unset'})`);
  }
  check(
    'never-received',
    'no task KIE never received is failed (unsent orphans are sent again)',
    neverReceived,
    `${cutAtTheKill} recorded as sent in the moment of the kill, not yet written`,
  );

  // 2c. No task that KIE finished and told us about is left failed: a task whose answer was lost still takes its
  //     result from a genuine callback we answered 2xx. Without one (dropped or forged, or sent while its instance was
  //     down), nothing can tell us KIE's task id: those stay submit_outcome_unknown, and are counted.
  const finishedFailures: string[] = [];
  let unreachable = 0;
  for (const row of o.rows) {
    if (row.status !== 'failed' || row.error_code !== UNKNOWN) continue;
    const [create] = createsByPrompt.get(row.prompt) ?? [];
    const truth = create?.taskId === undefined ? undefined : truthById.get(create.taskId);
    if (!truth || truth.readyAt === null) continue;
    const told = o.callbacks.some(
      (d) => !d.forged && d.taskId === truth.taskId && d.status !== undefined && d.status >= 200 && d.status < 300,
    );
    if (told) finishedFailures.push(`${row.id}: KIE finished ${truth.taskId} and its callback was answered, yet the task is ${UNKNOWN}`);
    else unreachable++;
  }
  check(
    'kie-finished',
    'no task KIE finished and called back about is left failed',
    finishedFailures,
    `${unreachable} finished by KIE with no genuine callback answered (ambiguous create, callbacks dropped, forged or unreachable)`,
  );

  // 3. Every stored result is the sandbox's record of truth.
  const truthFailures: string[] = [];
  for (const row of o.rows) {
    const variants = (variantsOf.get(row.id) ?? []).map((v) => ({ title: v.title, text: v.text, status: v.status }));
    if (row.status === 'failed' && row.error_code === UNKNOWN) {
      if (variants.length > 0) truthFailures.push(`${row.id}: submit_outcome_unknown with ${variants.length} variants`);
      continue;
    }
    if (!isFinal(row.status)) continue; // reported by check 1
    const truth = row.kie_task_id === null ? undefined : truthById.get(row.kie_task_id);
    if (!truth) {
      truthFailures.push(`${row.id}: ${row.status}/${row.error_code ?? '-'} but KIE has no task ${row.kie_task_id}`);
    } else if (truth.outcome === 'success') {
      const expected = truth.variants.map((v) => ({ title: v.title, text: v.text, status: 'complete' }));
      if (row.status !== 'succeeded') truthFailures.push(`${row.id}: KIE succeeded, stored ${row.status}/${row.error_code}`);
      else if (JSON.stringify(variants) !== JSON.stringify(expected))
        truthFailures.push(`${row.id}: ${variants.length} variants stored, KIE has ${expected.length} (or other text)`);
    } else if (row.status !== 'failed' || row.error_code !== 'generation_failed' || row.error_message !== truth.errorMessage) {
      truthFailures.push(
        `${row.id}: KIE ${truth.outcome} "${truth.errorMessage}", stored ${row.status}/${row.error_code} "${row.error_message}"`,
      );
    }
  }
  check('truth', 'every stored result equals the sandbox record of truth', truthFailures);

  // 4. One event per transition. Delivery to host handlers is at least once: an event whose handler ran but whose
  //    delivery was not recorded (its instance killed, the database restarted) is handed again, by any instance, and
  //    logged again with the same eventId. So repeats are allowed and counted; what must never happen is a repeat
  //    that says something else (another task, name or error code), or one transition under two event ids (a
  //    transition written twice; the outbox check below looks at the rows themselves). A revived task has two
  //    transitions (lyrics.failed with submit_outcome_unknown, then KIE's result): a transition is its task, name and
  //    error code. Across every instance, the killed one included.
  const onceFailures: string[] = [];
  const linesById = new Map<string, FaultEvent[]>();
  const idsByTransition = new Map<string, Set<string>>();
  const describeLine = (e: FaultEvent) => `${e.taskId} ${e.name}/${e.errorCode ?? '-'} owner ${e.owner ?? '-'}`;
  for (const e of o.events) {
    if (e.eventId === undefined) {
      onceFailures.push(`a LyricsEvents line without an eventId (${e.instance}: ${describeLine(e)})`);
      continue;
    }
    linesById.set(e.eventId, [...(linesById.get(e.eventId) ?? []), e]);
    const transition = `${e.taskId} ${e.name} ${e.errorCode ?? ''}`;
    idsByTransition.set(transition, (idsByTransition.get(transition) ?? new Set()).add(e.eventId));
  }
  for (const [id, lines] of linesById) {
    const versions = new Set(lines.map(describeLine));
    if (versions.size > 1) onceFailures.push(`event ${id} logged as ${[...versions].join(' and as ')}`);
  }
  for (const [transition, ids] of idsByTransition) {
    if (ids.size > 1) onceFailures.push(`${transition}: one transition under ${ids.size} event ids (${[...ids].join(', ')})`);
  }
  const repeats = o.events.length - linesById.size;
  check(
    'events-once',
    'a repeated event (at least once) is the same event; no transition has two event ids',
    onceFailures,
    `${o.events.length} lines for ${linesById.size} events, ${repeats} repeats`,
  );

  // 5. Events match the final states, and every final task's current state reached a host handler: its event is in
  //    the outbox with the transition, and the relay hands it on whichever instance is alive, so nothing may be
  //    missing once the deliveries have settled. (Before the outbox, an event was emitted after commit and a SIGKILL
  //    in between lost it; this check's floor was then 90%.)
  const eventFailures: string[] = [];
  const withEvent = new Set<string>();
  for (const e of o.events) {
    const row = rowById.get(e.taskId);
    const superseded = e.name === 'lyrics.failed' && (e.errorCode === UNKNOWN || e.errorCode === 'timed_out');
    if (!row) eventFailures.push(`event ${e.name} for unknown task ${e.taskId}`);
    else if (e.name === `lyrics.${row.status}` && (e.errorCode ?? null) === row.error_code) withEvent.add(e.taskId);
    else if (!superseded)
      eventFailures.push(`${e.taskId}: ${e.name}/${e.errorCode ?? '-'} but the task is ${row.status}/${row.error_code ?? '-'}`);
  }
  const finals = o.rows.filter((r) => isFinal(r.status));
  const missing = finals.filter((r) => !withEvent.has(r.id));
  for (const r of missing) {
    eventFailures.push(`${r.id}: ${r.status}/${r.error_code ?? r.result_source}, and no host handler got that event`);
  }
  check(
    'events-present',
    "events match final states, and every final task's current state reached a host handler",
    eventFailures,
    `${withEvent.size}/${finals.length} final tasks with their current state's event`,
  );

  // 5a. The outbox holds every final transition, whatever was killed or restarted: each final task's last event is its
  //     final state, and no event is the same transition twice.
  const outboxFailures: string[] = [];
  const lastEvent = new Map<string, OutboxRow>();
  const outboxSeen = new Set<string>();
  for (const e of o.outbox) {
    const key = `${e.task_id} ${e.type} ${e.error_code ?? ''}`;
    if (outboxSeen.has(key)) outboxFailures.push(`${e.task_id}: two outbox events ${e.type}/${e.error_code ?? '-'}`);
    outboxSeen.add(key);
    lastEvent.set(e.task_id, e);
  }
  for (const row of o.rows.filter((r) => isFinal(r.status))) {
    const last = lastEvent.get(row.id);
    if (!last) outboxFailures.push(`${row.id}: ${row.status} without an outbox event`);
    else if (last.status !== row.status || last.error_code !== row.error_code)
      outboxFailures.push(
        `${row.id}: ${row.status}/${row.error_code ?? '-'}, but its last event says ${last.status}/${last.error_code ?? '-'}`,
      );
  }
  check('outbox', "every final task's last outbox event is its final state, none twice", outboxFailures, `${o.outbox.length} events`);

  // The deliveries: one row per event and consumer, each delivered once the run has settled.
  const outboxById = new Map(o.outbox.map((e) => [e.id, e]));
  const deliveryRows = (consumer: DeliveryRow['consumer']) => {
    const byEvent = new Map<string, DeliveryRow[]>();
    for (const d of o.deliveries.filter((x) => x.consumer === consumer)) byEvent.set(d.event_id, [...(byEvent.get(d.event_id) ?? []), d]);
    const failures: string[] = [];
    const byStatus: Record<string, number> = {};
    let reclaimed = 0;
    for (const e of o.outbox) {
      const rows = byEvent.get(e.id) ?? [];
      if (rows.length !== 1) failures.push(`event ${e.id} (${e.task_id} ${e.type}) has ${rows.length} ${consumer} delivery rows`);
      for (const d of rows) {
        byStatus[d.status] = (byStatus[d.status] ?? 0) + 1;
        if (d.attempt_count > 1) reclaimed++;
        if (d.status !== 'delivered') {
          failures.push(`event ${e.id} (${e.task_id} ${e.type}): ${consumer} delivery ${d.status} after ${d.attempt_count} claims`);
        }
        if (d.owner !== e.owner) failures.push(`event ${e.id}: ${consumer} delivery for ${d.owner}, the event is ${e.owner}'s`);
      }
    }
    const strays = o.deliveries.filter((d) => d.consumer === consumer && !outboxById.has(d.event_id));
    for (const d of strays) failures.push(`${consumer} delivery of event ${d.event_id}, which is not in the outbox`);
    return { failures, summary: `rows ${JSON.stringify(byStatus)}, ${reclaimed} claimed more than once` };
  };
  const settled =
    o.timeline.deliveriesPending === 0
      ? `settled ${o.timeline.deliveriesSettledAt - o.timeline.allFinalAt} ms after the last final`
      : `${o.timeline.deliveriesPending} still pending at the deadline`;

  // 5b. Every event reached a host handler at least once (a LyricsEvents line of any instance, the killed one
  //     included), as the outbox has it (owner, task, name, error code); repeats are counted.
  const hostFailures: string[] = [];
  const hostRows = deliveryRows('host');
  hostFailures.push(...hostRows.failures);
  const repeatsByInstance: Record<string, number> = {};
  for (const e of o.outbox) {
    const lines = linesById.get(e.id) ?? [];
    if (lines.length === 0) hostFailures.push(`event ${e.id} (${e.task_id} ${e.type}/${e.error_code ?? '-'}) reached no host handler`);
    for (const line of lines) {
      if (line.owner !== e.owner || line.taskId !== e.task_id || line.name !== e.type || (line.errorCode ?? null) !== e.error_code) {
        hostFailures.push(
          `event ${e.id} is ${e.task_id} ${e.type}/${e.error_code ?? '-'} of ${e.owner}, ${line.instance} logged ${describeLine(line)}`,
        );
      }
    }
    for (const line of lines.slice(1)) repeatsByInstance[line.instance] = (repeatsByInstance[line.instance] ?? 0) + 1;
  }
  for (const id of linesById.keys()) if (!outboxById.has(id)) hostFailures.push(`event ${id} was logged, but is not in the outbox`);
  const linesByInstance: Record<string, number> = {};
  for (const e of o.events) linesByInstance[e.instance] = (linesByInstance[e.instance] ?? 0) + 1;
  check(
    'host-handled',
    'every event reached a host handler at least once, with its owner',
    hostFailures,
    `${o.outbox.length} events, ${o.events.length} lines ${JSON.stringify(linesByInstance)}, ${repeats} repeats` +
      `${repeats ? ` ${JSON.stringify(repeatsByInstance)}` : ''}; ${hostRows.summary}; ${settled}`,
  );

  // 5c. Every event reached its task's webhook at least once, signed with its owner's secret (verified on arrival,
  //     timestamp included), carrying the event as the outbox has it; repeats (at least once) are counted.
  const submittedById = new Map(o.submitted.map((s) => [s.id, s]));
  const pathOf = (url: string) => new URL(url).pathname;
  const postsById = new Map<string, ReceivedWebhook[]>();
  for (const w of o.webhooks) if (w.webhookId !== undefined) postsById.set(w.webhookId, [...(postsById.get(w.webhookId) ?? []), w]);
  const webhookFailures: string[] = [];
  const webhookRows = deliveryRows('webhook');
  webhookFailures.push(...webhookRows.failures);
  let webhookRepeats = 0;
  let mostForOne = 0;
  for (const e of o.outbox) {
    const task = submittedById.get(e.task_id);
    const posts = postsById.get(e.id) ?? [];
    const good = posts.filter(
      (w) =>
        task !== undefined &&
        w.path === pathOf(task.webhookUrl) &&
        w.verifiedBy.includes(e.owner) &&
        'id' in w.body &&
        w.body.id === e.id &&
        w.body.type === e.type &&
        w.body.taskId === e.task_id &&
        w.body.status === e.status &&
        w.body.errorCode === e.error_code,
    );
    if (good.length === 0) {
      const why = posts.length === 0 ? 'never arrived' : `arrived ${posts.length} times, never verified and as the outbox has it`;
      webhookFailures.push(`event ${e.id} (${e.task_id} ${e.type}/${e.error_code ?? '-'} of ${e.owner}) ${why}`);
    }
    webhookRepeats += Math.max(0, posts.length - 1);
    mostForOne = Math.max(mostForOne, posts.length);
  }
  check(
    'webhooks-delivered',
    "every event reached its task's webhook at least once, signed with its owner's secret",
    webhookFailures,
    `${o.outbox.length} events, ${o.webhooks.length} POSTs, ${webhookRepeats} repeats (at most ${mostForOne} for one event); ` +
      `${webhookRows.summary}; ${settled}`,
  );

  // 5d. No owner got another's: every POST arrived at its task's own webhookUrl under its owner's path, names an event
  //     of that task, verifies with that owner's secret and with no other owner's.
  const isolationFailures: string[] = [];
  const postsByOwner: Record<string, number> = {};
  for (const w of o.webhooks) {
    postsByOwner[w.pathOwner] = (postsByOwner[w.pathOwner] ?? 0) + 1;
    const where = `POST to ${w.path}`;
    if (!('id' in w.body)) {
      isolationFailures.push(`${where}: unreadable body (${w.body.unreadable})`);
      continue;
    }
    const task = w.body.taskId === undefined ? undefined : submittedById.get(w.body.taskId);
    const event = w.webhookId === undefined ? undefined : outboxById.get(w.webhookId);
    if (!o.owners.includes(w.pathOwner)) isolationFailures.push(`${where}: no owner has this path`);
    if (!task) isolationFailures.push(`${where}: data.id ${w.body.taskId} is none of the run's tasks`);
    else if (task.owner !== w.pathOwner) isolationFailures.push(`${where}: data.id ${task.id} is ${task.owner}'s task`);
    else if (pathOf(task.webhookUrl) !== w.path) isolationFailures.push(`${where}: task ${task.id}'s webhookUrl is ${task.webhookUrl}`);
    if (task && w.body.webhookUrl !== task.webhookUrl) isolationFailures.push(`${where}: data.webhookUrl is ${w.body.webhookUrl}`);
    if (!event) isolationFailures.push(`${where}: webhook-id ${w.webhookId} is no event of the run`);
    else if (event.task_id !== w.body.taskId || event.owner !== w.pathOwner || w.body.id !== event.id) {
      isolationFailures.push(
        `${where}: webhook-id ${event.id} is ${event.owner}'s event of ${event.task_id}, body says ${w.body.id}/${w.body.taskId}`,
      );
    }
    const others = w.verifiedBy.filter((owner) => owner !== w.pathOwner);
    if (others.length > 0) isolationFailures.push(`${where}: verifies with ${others.join(', ')}'s secret`);
    if (!w.verifiedBy.includes(w.pathOwner)) isolationFailures.push(`${where}: does not verify with its owner's secret (${w.verifyError})`);
  }
  check(
    'webhooks-isolated',
    "no webhook reached another owner, named another owner's task or verified with another owner's secret",
    isolationFailures,
    `POSTs by owner path ${JSON.stringify(postsByOwner)}`,
  );

  // 6. No forged callback applied: each forged delivery answered was refused with 401 (or got no answer: its instance
  //    was down; or a 5xx while the database was), each left an 'unauthorized' receipt, and forged tasks were decided
  //    by polling.
  const forgedFailures: string[] = [];
  const forgedTasks = new Set<string | null>(o.sandboxTasks.filter((t) => t.behaviours.forge).map((t) => t.taskId));
  const forgedDeliveries = o.callbacks.filter((d) => d.forged);
  for (const d of forgedDeliveries) {
    if (d.status === undefined || d.status === 401) continue;
    if (d.status >= 500 && inOutage(d.sentAt)) continue;
    forgedFailures.push(`forged callback for KIE ${d.taskId} answered ${d.status}`);
  }
  for (const row of o.rows) {
    if (!forgedTasks.has(row.kie_task_id)) continue;
    const receipts = o.receipts.filter((r) => r.task_id === row.id);
    const mine = forgedDeliveries.filter((d) => d.taskId === row.kie_task_id);
    const refused = mine.filter((d) => d.status === 401).length;
    // A receipt is written before the 401 goes out: an instance killed in between leaves one for a delivery that got
    // no answer.
    const unanswered = mine.filter((d) => d.status === undefined).length;
    if (receipts.some((r) => r.outcome !== 'unauthorized'))
      forgedFailures.push(`${row.id}: receipts ${receipts.map((r) => r.outcome).join(',')} for forged callbacks`);
    if (receipts.length < refused || receipts.length > refused + unanswered) {
      forgedFailures.push(`${row.id}: ${receipts.length} receipts for ${refused} forged callbacks refused (${unanswered} unanswered)`);
    }
    if (row.result_source === 'callback') forgedFailures.push(`${row.id}: decided by callback, but every callback for it was forged`);
  }
  check(
    'forged',
    'no forged callback applied (401 and an unauthorized receipt each)',
    forgedFailures,
    `${forgedDeliveries.length} forged deliveries, ${forgedTasks.size} forged tasks`,
  );

  // 7. A result by callback came from a genuine delivery and is its task's one 'applied' receipt (written in the
  //    transition's transaction); a result by poll has none.
  const genuineFailures: string[] = [];
  for (const row of o.rows) {
    const applied = o.receipts.filter((r) => r.task_id === row.id && r.outcome === 'applied').length;
    const expected = row.result_source === 'callback' ? 1 : 0;
    if (applied !== expected) genuineFailures.push(`${row.id}: decided by ${row.result_source ?? '-'} with ${applied} applied receipts`);
    if (row.result_source === 'callback' && !o.callbacks.some((d) => !d.forged && d.taskId === row.kie_task_id)) {
      genuineFailures.push(`${row.id}: decided by callback, but KIE sent it no genuine one`);
    }
  }
  check('genuine', "a result by callback is a genuine callback's one applied receipt; a result by poll has none", genuineFailures);

  // 8. Never a 5xx to KIE outside the database outage (anything else would be resent forever).
  const serverErrors = o.callbacks.filter((d) => d.status !== undefined && d.status >= 500);
  check(
    'no-5xx',
    'callbacks answered 5xx only while the database was down',
    serverErrors
      .filter((d) => !inOutage(d.sentAt))
      .map((d) => `callback for ${taskIdOfUrl(d.url)} answered ${d.status} at +${d.sentAt - o.timeline.startedAt} ms`),
    `${serverErrors.length} during the outage`,
  );

  // 9. The instances that were not killed are still up.
  check(
    'alive',
    'the surviving instances are still running',
    o.alive.filter((a) => !a.running).map((a) => `${a.name} exited`),
  );
  return checks;
}

/** Figures of a run, for the bench's report. */
export function figuresOf(o: FaultObservations) {
  const byStatus: Record<string, number> = {};
  for (const r of o.rows) {
    const key = `${r.status}${r.error_code ? `/${r.error_code}` : ''}${r.result_source ? ` by ${r.result_source}` : ''}`;
    byStatus[key] = (byStatus[key] ?? 0) + 1;
  }
  const mix = { drop: 0, duplicate: 0, camel: 0, forged: 0, failure: 0, hang: 0, gateway: 0 };
  for (const t of o.sandboxTasks) {
    if (t.behaviours.hang) mix.hang++;
    if (t.behaviours.acceptedAnswer.body === 'html') mix.gateway++;
    if (t.behaviours.drop) mix.drop++;
    if (t.behaviours.copies > 1) mix.duplicate++;
    if (t.behaviours.spelling === 'camel') mix.camel++;
    if (t.behaviours.forge) mix.forged++;
    if (t.outcome !== 'success') mix.failure++;
  }
  const deliveries: Record<string, number> = {};
  for (const d of o.callbacks) {
    const key = d.status ?? d.error ?? 'none';
    deliveries[key] = (deliveries[key] ?? 0) + 1;
  }
  const receipts: Record<string, number> = {};
  for (const r of o.receipts) receipts[r.outcome] = (receipts[r.outcome] ?? 0) + 1;
  const deliveryRows: Record<string, Record<string, number>> = {};
  const claims: Record<string, number> = {};
  for (const d of o.deliveries) {
    deliveryRows[d.consumer] = { ...deliveryRows[d.consumer], [d.status]: (deliveryRows[d.consumer]?.[d.status] ?? 0) + 1 };
    claims[d.consumer] = (claims[d.consumer] ?? 0) + d.attempt_count;
  }
  const distinct = (ids: (string | undefined)[]) => new Set(ids.filter((id) => id !== undefined)).size;
  const t = o.timeline;
  return {
    tasks: o.tasks,
    byStatus,
    sandboxMix: mix,
    upstream: {
      creates: o.requests.filter((r) => r.endpoint === 'create').length,
      recordInfo: o.requests.filter((r) => r.endpoint === 'record-info').length,
      credit: o.requests.filter((r) => r.endpoint === 'credit').length,
    },
    callbackDeliveries: deliveries,
    receipts,
    events: o.events.length,
    outboxEvents: o.outbox.length,
    deliveries: {
      rows: deliveryRows,
      claims,
      hostLines: o.events.length,
      hostEvents: distinct(o.events.map((e) => e.eventId)),
      webhookPosts: o.webhooks.length,
      webhookEvents: distinct(o.webhooks.map((w) => w.webhookId)),
      webhookPostsByOwner: Object.fromEntries(o.owners.map((owner) => [owner, o.webhooks.filter((w) => w.pathOwner === owner).length])),
      settledAfterFinalMs: t.deliveriesSettledAt - t.allFinalAt,
      pendingAtEnd: t.deliveriesPending,
    },
    timeline: {
      killAfterMs: t.killAt - t.startedAt,
      restartedAfterMs: t.restartedAt - t.startedAt,
      databaseDownAfterMs: t.databaseDownAt - t.startedAt,
      databaseOutageMs: t.databaseUpAt - t.databaseDownAt,
      allFinalAfterMs: t.allFinalAt - t.startedAt,
      lastFinalAfterDatabaseMs: t.allFinalAt - t.databaseUpAt,
      atKill: t.atKill,
      atDatabaseStop: t.atDatabaseStop,
    },
  };
}
