import request from 'supertest';
import { KieSandbox } from '../src/sandbox/kie-sandbox';
import { LyricsFinalEvent } from '../src/lyrics/lyrics.events';
import { kieFixture, recordEvents, signatureHeaders } from './support/callbacks';
import { createTestDatabase } from './support/database';
import { startTestApp, TestApp } from './support/test-app';
import { waitFor } from './support/wait';

const HMAC_KEY = 'polling-test-hmac-key';
/** Short delays, so that polling runs in a test's time. */
const FAST_POLLING = {
  LYRICS_POLL_INITIAL_DELAY_MS: '100',
  LYRICS_POLL_INTERVAL_MS: '50',
  LYRICS_POLL_MAX_INTERVAL_MS: '200',
  LYRICS_DISPATCH_INTERVAL_MS: '50',
};

const recordInfoCalls = (sandbox: KieSandbox, kieTaskId: string) =>
  sandbox.requests.filter((r) => r.endpoint === 'record-info' && r.taskId === kieTaskId);

async function submit(testApp: TestApp, prompt: string): Promise<string> {
  return (await request(testApp.url).post('/lyrics').send({ prompt }).expect(202)).body.id;
}

function waitForStatus(testApp: TestApp, id: string, status: string, timeoutMs = 15000) {
  return waitFor(
    `task ${id} to be ${status}`,
    async () => {
      const task = (await request(testApp.url).get(`/lyrics/${id}`).expect(200)).body;
      return task.status === status ? task : undefined;
    },
    { timeoutMs },
  );
}

async function resultSource(testApp: TestApp, id: string): Promise<{ result_source: string | null; polls: number }> {
  return (await testApp.dataSource.query('SELECT result_source, polls FROM lyrics_tasks WHERE id = $1', [id]))[0];
}

describe('polling: the safety net', () => {
  let sandbox: KieSandbox;
  let testApp: TestApp;
  let events: LyricsFinalEvent[];

  beforeAll(async () => {
    sandbox = await KieSandbox.start({ hmacKey: HMAC_KEY, resultDelayMs: 50 });
    testApp = await startTestApp({ sandbox, env: { ...FAST_POLLING, KIE_WEBHOOK_HMAC_KEY: HMAC_KEY, LYRICS_TASK_MAX_AGE_MS: '1500' } });
    events = recordEvents(testApp);
  });

  afterAll(async () => {
    await testApp.close();
    await sandbox.stop();
  });

  it.each([
    ['data', '[sandbox:drop,null-polls=1,pending-polls=1] lost callback'],
    ['lyricsData', '[sandbox:drop,null-polls=1,pending-polls=1,lyricsData] lost callback, other spelling'],
  ])('finishes a task whose callback was dropped, through 422-null, PENDING, SUCCESS (array key %s)', async (_, prompt) => {
    const id = await submit(testApp, prompt);
    const task = await waitForStatus(testApp, id, 'succeeded');
    const truth = sandbox.task(task.kieTaskId)!;
    expect(task.variants.map((v: { title: string; text: string }) => [v.title, v.text])).toEqual(
      truth.variants.map((v) => [v.title, v.text]),
    );
    expect(recordInfoCalls(sandbox, task.kieTaskId).map((r) => (r.code === 422 ? 'null' : 'record'))).toEqual(['null', 'record', 'record']);
    expect(await resultSource(testApp, id)).toEqual({ result_source: 'poll', polls: 3 });
    await waitFor('one event', () => events.filter((e) => e.task.id === id).length === 1);
  });

  it.each([
    ['GENERATE_LYRICS_FAILED', 'generation_failed'],
    ['CREATE_TASK_FAILED', 'generation_failed'],
    ['CALLBACK_EXCEPTION', 'generation_failed'],
    ['SENSITIVE_WORD_ERROR', 'sensitive_content'],
  ])('ends a task whose record shows %s as failed (%s)', async (status, code) => {
    const id = await submit(testApp, `[sandbox:drop,status=${status}] failing quietly`);
    const task = await waitForStatus(testApp, id, 'failed');
    expect(task.error).toEqual({ code, message: sandbox.task(task.kieTaskId)!.errorMessage });
    expect((await resultSource(testApp, id)).result_source).toBe('poll');
  });

  it('ends a task that never finishes as timed_out at its maximum age, and a late verified success still counts, once', async () => {
    const id = await submit(testApp, '[sandbox:never] an endless song');
    const timedOut = await waitForStatus(testApp, id, 'failed');
    expect(timedOut.error.code).toBe('timed_out');
    expect(Date.parse(timedOut.completedAt) - Date.parse(timedOut.submittedAt)).toBeGreaterThanOrEqual(1500);
    // Checked several times, the last one when the maximum age was reached (which is what the failure records).
    expect(recordInfoCalls(sandbox, timedOut.kieTaskId).length).toBeGreaterThan(1);

    const create = sandbox.requests.find((r) => r.endpoint === 'create' && r.taskId === timedOut.kieTaskId)!;
    const late = kieFixture('callback-success-kie-snake_case.json');
    late.data.task_id = timedOut.kieTaskId;
    const path = new URL(create.callBackUrl!).pathname;
    await request(testApp.url).post(path).set(signatureHeaders(timedOut.kieTaskId, HMAC_KEY)).send(late).expect(200);
    await request(testApp.url).post(path).set(signatureHeaders(timedOut.kieTaskId, HMAC_KEY)).send(late).expect(200);
    const succeeded = (await request(testApp.url).get(`/lyrics/${id}`)).body;
    expect(succeeded).toMatchObject({ status: 'succeeded', error: null });
    expect(succeeded.variants).toHaveLength(2);
    await waitFor('two events', () => events.filter((e) => e.task.id === id).length === 2);
    expect(events.filter((e) => e.task.id === id).map((e) => e.name)).toEqual(['lyrics.failed', 'lyrics.succeeded']);
  });
});

describe('polling waits for the callback first', () => {
  it('never reads record-info for a task whose callback arrived before the first check: one upstream call in all', async () => {
    const sandbox = await KieSandbox.start({ resultDelayMs: 20 });
    const testApp = await startTestApp({ sandbox, env: { ...FAST_POLLING, LYRICS_POLL_INITIAL_DELAY_MS: '2000' } });
    try {
      const id = await submit(testApp, 'a prompt answered by callback');
      const task = await waitForStatus(testApp, id, 'succeeded');
      expect(await resultSource(testApp, id)).toEqual({ result_source: 'callback', polls: 0 });
      expect(recordInfoCalls(sandbox, task.kieTaskId)).toHaveLength(0);
      expect(sandbox.requests.filter((r) => r.taskId === task.kieTaskId).map((r) => r.endpoint)).toEqual(['create']);
    } finally {
      await testApp.close();
      await sandbox.stop();
    }
  });
});

describe('polling across instances', () => {
  it('has one instance at a time check a task: two instances, 30 tasks, callbacks dropped, all succeed', async () => {
    const sandbox = await KieSandbox.start({ resultDelayMs: 300, recordInfoLatencyMs: 20, createLimit: { max: 100, windowMs: 10000 } });
    const database = await createTestDatabase();
    const env = { ...FAST_POLLING, LYRICS_CREATE_BUDGET: '100' };
    const first = await startTestApp({ sandbox, database, env });
    const second = await startTestApp({ sandbox, database, env });
    try {
      const ids = await Promise.all(
        Array.from({ length: 30 }, (_, i) => submit(i % 2 ? first : second, `[sandbox:drop,pending-polls=2] shared ${i}`)),
      );
      await waitFor(
        'all 30 succeeded',
        async () => {
          const [{ n }] = await first.dataSource.query(
            `SELECT count(*) AS n FROM lyrics_tasks WHERE id = ANY($1) AND status = 'succeeded'`,
            [ids],
          );
          return Number(n) === 30;
        },
        { timeoutMs: 30000, intervalMs: 100 },
      );
      const byTask = new Map<string, { startedAt: number; finishedAt?: number }[]>();
      for (const r of sandbox.requests.filter((r) => r.endpoint === 'record-info'))
        byTask.set(r.taskId!, [...(byTask.get(r.taskId!) ?? []), r]);
      expect(byTask.size).toBe(30);
      for (const calls of byTask.values()) {
        expect(calls.length).toBeGreaterThanOrEqual(3);
        for (let i = 1; i < calls.length; i++) expect(calls[i].startedAt).toBeGreaterThanOrEqual(calls[i - 1].finishedAt!);
      }
    } finally {
      await first.close();
      await second.close();
      await database.drop();
      await sandbox.stop();
    }
  });

  it('gives its checks back at shutdown, so another instance can take them at once', async () => {
    const sandbox = await KieSandbox.start({ resultDelayMs: 0, recordInfoLatencyMs: 3000 });
    const testApp = await startTestApp({ sandbox, env: { ...FAST_POLLING, LYRICS_SHUTDOWN_GRACE_MS: '100' } });
    let closed = false;
    try {
      const id = await submit(testApp, '[sandbox:drop] slow to read');
      await waitFor('a check in flight', async () => {
        const [{ lease_until }] = await testApp.dataSource.query(
          `SELECT lease_until FROM lyrics_tasks WHERE id = $1 AND status = 'submitted'`,
          [id],
        );
        return (
          lease_until !== null && recordInfoCalls(sandbox, sandbox.requests.find((r) => r.endpoint === 'create')!.taskId!).length === 1
        );
      });
      await testApp.app.close();
      closed = true;
      expect(await testApp.database.query('SELECT status, lease_until FROM lyrics_tasks WHERE id = $1', [id])).toEqual([
        { status: 'submitted', lease_until: null },
      ]);
      await testApp.database.drop();
    } finally {
      if (!closed) await testApp.close();
      await sandbox.stop();
    }
  });
});
