import { join } from 'node:path';
import { KieSandbox, SandboxRequest } from '../src/sandbox/kie-sandbox';
import { busiestWindow } from './support/busiest-window';
import { createTestDatabase, TestDatabase } from './support/database';
import { LyricsContext, TaskBody } from './support/lyrics-client';
import { freePort } from './support/postgres-server';
import { ServiceProcess } from './support/service-process';
import { teardownAfterAll } from './support/teardown';
import { waitFor } from './support/wait';

const MINUTE_MS = 60_000;
const HMAC_KEY = 'clock-skew-hmac-key';
/** The preload that shifts the child's Date (and nothing else: the monotonic clock and timers are the real ones). */
const SHIFTED_CLOCK = join(__dirname, 'support', 'shifted-clock.js');

const MAX_AGE_MS = 3500;
const POLL_INITIAL_DELAY_MS = 500;
const POLL_INTERVAL_MS = 300;
const POLL_MAX_INTERVAL_MS = 450;
const CREATE_RETRY_BASE_MS = 400;
const CREATE_BUDGET = 3;
const CREATE_WINDOW_MS = 1500;
/** Milliseconds of rounding between the sandbox's clock (Date.now() in whole ms) and the database's. */
const TOLERANCE_MS = 15;

const gaps = (requests: SandboxRequest[]) => requests.slice(1).map((r, i) => r.startedAt - requests[i].startedAt);

/**
 * When the service logged "Listening on", by its own clock: Nest stamps every line with Date.now(), as
 * "MM/DD/YYYY, h:mm:ss AM" in the child's locale and zone (en-US and UTC, set below).
 */
function listeningLoggedAt(logs: string): number {
  const line = /(\d{2})\/(\d{2})\/(\d{4}), (\d{1,2}):(\d{2}):(\d{2})\s(AM|PM)\s.*\[Bootstrap\].*Listening on/.exec(logs);
  if (!line) throw new Error(`no stamped "Listening on" line in the service's output:\n${logs}`);
  const [month, day, year, hour, minute, second] = line.slice(1, 7).map(Number);
  return Date.UTC(year, month - 1, day, (hour % 12) + (line[7] === 'PM' ? 12 : 0), minute, second);
}

describe.each([
  ['10 minutes ahead of', 10 * MINUTE_MS],
  ['10 minutes behind', -10 * MINUTE_MS],
])('an instance whose clock is %s the database', (_, shiftMs) => {
  const afterAllTests = teardownAfterAll();
  let sandbox: KieSandbox;
  let database: TestDatabase;
  let service: ServiceProcess;
  let ctx: LyricsContext;
  let startedAt: number;
  let healthyAt: number;

  beforeAll(async () => {
    // The sandbox keeps the real clock, and KIE's own limit is the budget the service is given.
    sandbox = afterAllTests.add(
      await KieSandbox.start({ hmacKey: HMAC_KEY, createLimit: { max: CREATE_BUDGET, windowMs: CREATE_WINDOW_MS } }),
      (kie) => kie.stop(),
    );
    database = afterAllTests.add(await createTestDatabase(), (own) => own.drop());
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    startedAt = Date.now();
    service = afterAllTests.add(
      ServiceProcess.start({
        NODE_ENV: 'test',
        NODE_OPTIONS: `--require "${SHIFTED_CLOCK}"`,
        CLOCK_SHIFT_MS: String(shiftMs),
        TZ: 'UTC',
        LANG: 'en_US.UTF-8',
        PORT: String(port),
        DATABASE_URL: database.url,
        KIE_API_KEY: 'clock-skew-key',
        KIE_BASE_URL: sandbox.url,
        KIE_WEBHOOK_HMAC_KEY: HMAC_KEY,
        KIE_TIMEOUT_MS: '1000',
        PUBLIC_BASE_URL: url,
        LYRICS_LEASE_MS: '2000',
        LYRICS_DISPATCH_INTERVAL_MS: '100',
        LYRICS_TASK_MAX_AGE_MS: String(MAX_AGE_MS),
        LYRICS_POLL_INITIAL_DELAY_MS: String(POLL_INITIAL_DELAY_MS),
        LYRICS_POLL_INTERVAL_MS: String(POLL_INTERVAL_MS),
        LYRICS_POLL_MAX_INTERVAL_MS: String(POLL_MAX_INTERVAL_MS),
        LYRICS_CREATE_RETRY_BASE_MS: String(CREATE_RETRY_BASE_MS),
        LYRICS_CREATE_RETRY_MAX_MS: String(4 * CREATE_RETRY_BASE_MS),
        LYRICS_CREATE_BUDGET: String(CREATE_BUDGET),
        LYRICS_CREATE_WINDOW_MS: String(CREATE_WINDOW_MS),
      }),
      (child) => child.stop(),
    );
    ctx = new LyricsContext({ url, query: database.query, sandbox });
    await service.waitForHealthy(url);
    healthyAt = Date.now();
  });

  const kieTaskIdOf = async (id: string): Promise<string> =>
    waitFor(`task ${id} to be submitted`, async () => ((await ctx.taskRow(id)).kie_task_id as string | null) ?? undefined);
  const ageAtCompletionMs = async (id: string): Promise<number> => {
    const [{ ms }] = await ctx.query(
      'SELECT EXTRACT(EPOCH FROM completed_at - submitted_at) * 1000 AS ms FROM lyrics_tasks WHERE id = $1',
      [id],
    );
    return Number(ms);
  };

  it("runs on the shifted clock, while the task rows keep the database's", async () => {
    // The line is stamped to the second, between the child's start and its first healthy answer, plus the shift.
    const loggedAt = listeningLoggedAt(service.logs);
    expect(loggedAt).toBeGreaterThanOrEqual(startedAt + shiftMs - 1000);
    expect(loggedAt).toBeLessThanOrEqual(healthyAt + shiftMs);

    const before = Date.now();
    const task: TaskBody = await ctx.submit('[sandbox:drop,never] which clock');
    const row = await ctx.taskRow(task.id);
    expect(row.created_at.getTime()).toBeGreaterThanOrEqual(before - 1000);
    expect(row.created_at.getTime()).toBeLessThanOrEqual(Date.now() + 1000);
  });

  it('times a task out only at its maximum age by the database, and polls an ordinary task to success', async () => {
    const never = await ctx.submit('[sandbox:drop,never] never finishes');
    const ordinary = await ctx.submit('[sandbox:drop,pending-polls=2] finishes by polling');

    const done = await ctx.waitForStatus(ordinary.id, 'succeeded', { timeoutMs: 10_000 });
    expect(done.error).toBeNull();
    expect((await ctx.taskRow(ordinary.id)).result_source).toBe('poll');
    expect(ctx.requestsTo('record-info', await kieTaskIdOf(ordinary.id)).length).toBeGreaterThanOrEqual(3);
    expect(await ageAtCompletionMs(ordinary.id)).toBeLessThan(MAX_AGE_MS);

    const timedOut = await ctx.waitForStatus(never.id, 'failed', { timeoutMs: 10_000 });
    expect(timedOut.error).toMatchObject({ code: 'timed_out' });
    expect(ctx.requestsTo('record-info', await kieTaskIdOf(never.id)).length).toBeGreaterThan(1);
    // Not early, and not far late either: the last check is due at the maximum age.
    const ageMs = await ageAtCompletionMs(never.id);
    expect(ageMs).toBeGreaterThanOrEqual(MAX_AGE_MS);
    expect(ageMs).toBeLessThan(MAX_AGE_MS + 1500);
  });

  it("keeps a throttled create's backoff", async () => {
    const prompt = '[sandbox:drop,throttle=3] throttled three times';
    const { id } = await ctx.submit(prompt);
    await kieTaskIdOf(id);
    const creates = ctx.createsFor(prompt);
    expect(creates.map((r) => r.code)).toEqual([430, 430, 430, 200]);
    // The n-th retry waits at least half of base * 2^(n-1) after KIE's answer, which came after its arrival.
    gaps(creates).forEach((gap, n) => expect(gap).toBeGreaterThanOrEqual((CREATE_RETRY_BASE_MS * 2 ** n) / 2 - TOLERANCE_MS));
  });

  it("keeps the first check's delay and the backoff between record-info reads", async () => {
    const { id } = await ctx.submit('[sandbox:drop,pending-polls=4] checked five times');
    await ctx.waitForStatus(id, 'succeeded', { timeoutMs: 10_000 });
    const kieTaskId = await kieTaskIdOf(id);
    const reads = ctx.requestsTo('record-info', kieTaskId);
    expect(reads.length).toBeGreaterThanOrEqual(5);
    expect(reads[0].startedAt).toBeGreaterThanOrEqual(ctx.createOf(kieTaskId).finishedAt! + POLL_INITIAL_DELAY_MS - TOLERANCE_MS);
    for (const gap of gaps(reads)) expect(gap).toBeGreaterThanOrEqual(POLL_INTERVAL_MS / 2 - TOLERANCE_MS);
  });

  it("takes a callback KIE signed by the real clock: the signature's 300 s window is the database's", async () => {
    // record-info keeps answering PENDING, so only the signed callback can finish the task.
    const { id } = await ctx.submit('[sandbox:pending-polls=1000] signed ten minutes away');
    const task = await ctx.waitForStatus(id, 'succeeded', { timeoutMs: 10_000 });
    expect((await ctx.taskRow(id)).result_source).toBe('callback');
    expect(sandbox.callbacks.filter((delivery) => delivery.taskId === task.kieTaskId).map((delivery) => delivery.status)).toEqual([200]);
  });

  it(`sends a burst within the create budget: never more than ${CREATE_BUDGET} in any ${CREATE_WINDOW_MS} ms`, async () => {
    const prompts = Array.from({ length: 3 * CREATE_BUDGET }, (_, i) => `[sandbox:drop,never] burst ${i}`);
    const tasks = await Promise.all(prompts.map((prompt) => ctx.submit(prompt)));
    await waitFor(
      'every task of the burst to be submitted',
      async () => {
        const [{ n }] = await ctx.query('SELECT count(*) AS n FROM lyrics_tasks WHERE id = ANY($1) AND kie_task_id IS NOT NULL', [
          tasks.map((task) => task.id as string),
        ]);
        return Number(n) === tasks.length;
      },
      { timeoutMs: 15_000, intervalMs: 100 },
    );
    for (const prompt of prompts) expect(ctx.createsFor(prompt).map((r) => r.code)).toEqual([200]);
    // By KIE's clock, over every create of this instance: its own limit never refused one, and the budget was used.
    expect(ctx.requestsTo('create').filter((r) => r.httpStatus === 429 || r.code === 429)).toEqual([]);
    expect(busiestWindow(sandbox.requests, CREATE_WINDOW_MS)).toBe(CREATE_BUDGET);
  });
});
