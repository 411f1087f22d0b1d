import request from 'supertest';
import { KieSandbox } from '../src/sandbox/kie-sandbox';
import { LyricsFinalEvent } from '../src/lyrics/lyrics.events';
import { kieFixture, recordEvents, signatureHeaders } from './support/callbacks';
import { createTestDatabase } from './support/database';
import { startLyricsApp, useLyricsApp } from './support/lyrics-client';
import { teardownAfterEach } from './support/teardown';
import { waitFor } from './support/wait';

const HMAC_KEY = 'polling-test-hmac-key';
/** Short delays, so that polling runs in a test's time. */
const FAST_POLLING = {
  LYRICS_POLL_INITIAL_DELAY_MS: '100',
  LYRICS_POLL_INTERVAL_MS: '50',
  LYRICS_POLL_MAX_INTERVAL_MS: '200',
  LYRICS_DISPATCH_INTERVAL_MS: '50',
};

describe('polling: the safety net', () => {
  const ctx = useLyricsApp({
    sandbox: { hmacKey: HMAC_KEY, resultDelayMs: 50 },
    env: { ...FAST_POLLING, KIE_WEBHOOK_HMAC_KEY: HMAC_KEY, LYRICS_TASK_MAX_AGE_MS: '1500' },
  });
  let events: LyricsFinalEvent[];

  beforeAll(() => {
    events = recordEvents(ctx.testApp);
  });

  it.each([
    ['data', '[sandbox:drop,null-polls=1,pending-polls=1] lost callback'],
    ['lyricsData', '[sandbox:drop,null-polls=1,pending-polls=1,lyricsData] lost callback, other spelling'],
  ])('finishes a task whose callback was dropped, through 422-null, PENDING, SUCCESS (array key %s)', async (_, prompt) => {
    const { id } = await ctx.submit(prompt);
    const task = await ctx.waitForStatus(id, 'succeeded');
    const truth = ctx.sandbox.task(task.kieTaskId)!;
    expect(task.variants.map((v: { title: string; text: string }) => [v.title, v.text])).toEqual(
      truth.variants.map((v) => [v.title, v.text]),
    );
    expect(ctx.requestsTo('record-info', task.kieTaskId).map((r) => (r.code === 422 ? 'null' : 'record'))).toEqual([
      'null',
      'record',
      'record',
    ]);
    expect(await ctx.taskRow(id)).toMatchObject({ result_source: 'poll', polls: 3 });
    await waitFor('one event', () => events.filter((e) => e.task.id === id).length === 1);
  });

  it.each([
    ['GENERATE_LYRICS_FAILED', 'generation_failed'],
    ['CREATE_TASK_FAILED', 'generation_failed'],
    ['CALLBACK_EXCEPTION', 'generation_failed'],
    ['SENSITIVE_WORD_ERROR', 'sensitive_content'],
  ])('ends a task whose record shows %s as failed (%s)', async (status, code) => {
    const { id } = await ctx.submit(`[sandbox:drop,status=${status}] failing quietly`);
    const task = await ctx.waitForStatus(id, 'failed');
    expect(task.error).toEqual({ code, message: ctx.sandbox.task(task.kieTaskId)!.errorMessage });
    expect((await ctx.taskRow(id)).result_source).toBe('poll');
  });

  it('ends a task that never finishes as timed_out at its maximum age, and a late verified success still counts, once', async () => {
    const { id } = await ctx.submit('[sandbox:never] an endless song');
    const timedOut = await ctx.waitForStatus(id, 'failed');
    expect(timedOut.error.code).toBe('timed_out');
    expect(Date.parse(timedOut.completedAt) - Date.parse(timedOut.submittedAt)).toBeGreaterThanOrEqual(1500);
    // Checked several times, the last one when the maximum age was reached (which is what the failure records).
    expect(ctx.requestsTo('record-info', timedOut.kieTaskId).length).toBeGreaterThan(1);

    const late = kieFixture('callback-success-kie-snake_case.json');
    late.data.task_id = timedOut.kieTaskId;
    const path = ctx.callbackPathOf(timedOut.kieTaskId);
    await request(ctx.url).post(path).set(signatureHeaders(timedOut.kieTaskId, HMAC_KEY)).send(late).expect(200);
    await request(ctx.url).post(path).set(signatureHeaders(timedOut.kieTaskId, HMAC_KEY)).send(late).expect(200);
    const succeeded = await ctx.task(id);
    expect(succeeded).toMatchObject({ status: 'succeeded', error: null });
    expect(succeeded.variants).toHaveLength(2);
    await waitFor('two events', () => events.filter((e) => e.task.id === id).length === 2);
    expect(events.filter((e) => e.task.id === id).map((e) => e.name)).toEqual(['lyrics.failed', 'lyrics.succeeded']);
  });
});

describe('polling waits for the callback first', () => {
  const afterTest = teardownAfterEach();

  it('never reads record-info for a task whose callback arrived before the first check: one upstream call in all', async () => {
    const ctx = await startLyricsApp(afterTest, {
      sandbox: { resultDelayMs: 20 },
      env: { ...FAST_POLLING, LYRICS_POLL_INITIAL_DELAY_MS: '2000' },
    });
    const { id } = await ctx.submit('a prompt answered by callback');
    const task = await ctx.waitForStatus(id, 'succeeded');
    expect(await ctx.taskRow(id)).toMatchObject({ result_source: 'callback', polls: 0 });
    expect(ctx.requestsTo('record-info', task.kieTaskId)).toHaveLength(0);
    expect(ctx.sandbox.requests.filter((r) => r.taskId === task.kieTaskId).map((r) => r.endpoint)).toEqual(['create']);
  });
});

describe('polling across instances', () => {
  const afterTest = teardownAfterEach();

  it('has one instance at a time check a task: two instances, 30 tasks, callbacks dropped, all succeed', async () => {
    const sandbox = afterTest.add(
      await KieSandbox.start({ resultDelayMs: 300, recordInfoLatencyMs: 20, createLimit: { max: 100, windowMs: 10000 } }),
      (kie) => kie.stop(),
    );
    const database = afterTest.add(await createTestDatabase(), (own) => own.drop());
    const env = { ...FAST_POLLING, LYRICS_CREATE_BUDGET: '100' };
    const first = await startLyricsApp(afterTest, { sandbox, database, env });
    const second = await startLyricsApp(afterTest, { sandbox, database, env });

    const accepted = await Promise.all(
      Array.from({ length: 30 }, (_, i) => (i % 2 ? first : second).submit(`[sandbox:drop,pending-polls=2] shared ${i}`)),
    );
    await first.waitForAll(
      accepted.map((task) => task.id as string),
      'succeeded',
      { timeoutMs: 30000, intervalMs: 100 },
    );

    const byTask = new Map<string, { startedAt: number; finishedAt?: number }[]>();
    for (const r of first.requestsTo('record-info')) byTask.set(r.taskId!, [...(byTask.get(r.taskId!) ?? []), r]);
    expect(byTask.size).toBe(30);
    for (const calls of byTask.values()) {
      expect(calls.length).toBeGreaterThanOrEqual(3);
      for (let i = 1; i < calls.length; i++) expect(calls[i].startedAt).toBeGreaterThanOrEqual(calls[i - 1].finishedAt!);
    }
  });

  it('gives its checks back at shutdown, so another instance can take them at once', async () => {
    const ctx = await startLyricsApp(afterTest, {
      sandbox: { resultDelayMs: 0, recordInfoLatencyMs: 3000 },
      env: { ...FAST_POLLING, LYRICS_SHUTDOWN_GRACE_MS: '100' },
    });
    const { id } = await ctx.submit('[sandbox:drop] slow to read');
    await waitFor('a check in flight', async () => {
      const { status, lease_until, kie_task_id } = await ctx.taskRow(id);
      return status === 'submitted' && lease_until !== null && ctx.requestsTo('record-info', kie_task_id).length === 1;
    });

    await ctx.testApp.shutdown();

    expect(await ctx.testApp.database.query('SELECT status, lease_until FROM lyrics_tasks WHERE id = $1', [id])).toEqual([
      { status: 'submitted', lease_until: null },
    ]);
  });
});
