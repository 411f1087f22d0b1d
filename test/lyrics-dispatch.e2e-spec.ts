import request from 'supertest';
import { KieSandbox, SandboxRequest } from '../src/sandbox/kie-sandbox';
import { createTestDatabase } from './support/database';
import { startTestApp, TestApp } from './support/test-app';
import { waitFor } from './support/wait';

const createsFor = (sandbox: KieSandbox, prompt: string) => sandbox.requests.filter((r) => r.endpoint === 'create' && r.prompt === prompt);

async function statusOf(testApp: TestApp, id: string) {
  return (await request(testApp.url).get(`/lyrics/${id}`).expect(200)).body;
}

function waitForFinal(testApp: TestApp, id: string, status: string, timeoutMs = 15000) {
  return waitFor(
    `task ${id} to be ${status}`,
    async () => {
      const task = await statusOf(testApp, id);
      return task.status === status ? task : undefined;
    },
    { timeoutMs },
  );
}

/** The most accepted creates KIE saw in any window of `windowMs` (by arrival time). */
function busiestWindow(requests: SandboxRequest[], windowMs: number): number {
  const arrivals = requests
    .filter((r) => r.endpoint === 'create' && r.code === 200)
    .map((r) => r.startedAt)
    .sort((a, b) => a - b);
  let busiest = 0;
  for (let start = 0, end = 0; end < arrivals.length; end++) {
    while (arrivals[end] - arrivals[start] >= windowMs) start++;
    busiest = Math.max(busiest, end - start + 1);
  }
  return busiest;
}

describe('dispatching creates to KIE', () => {
  describe('outcomes of a create', () => {
    let sandbox: KieSandbox;
    let testApp: TestApp;

    beforeAll(async () => {
      sandbox = await KieSandbox.start({ resultDelayMs: 60_000 });
      testApp = await startTestApp({
        sandbox,
        env: { KIE_TIMEOUT_MS: '300', LYRICS_LEASE_MS: '1000', LYRICS_CREATE_RETRY_BASE_MS: '20', LYRICS_CREATE_RETRY_MAX_MS: '100' },
      });
    });

    afterAll(async () => {
      await testApp.close();
      await sandbox.stop();
    });

    it.each([
      ['a body code 430 ("call frequency is too high")', '[sandbox:throttle=2] throttled by body code', [430, 430, 200]],
      ['an HTTP 429', '[sandbox:throttle-http=2] throttled by HTTP status', [429, 429, 200]],
    ])('retries a create refused with %s, with backoff, until KIE accepts it', async (_, prompt, codes) => {
      const { body } = await request(testApp.url).post('/lyrics').send({ prompt }).expect(202);
      const task = await waitForFinal(testApp, body.id, 'submitted');
      const creates = createsFor(sandbox, prompt);
      expect(creates.map((r) => r.code)).toEqual(codes);
      expect(task.kieTaskId).toBe(creates[2].taskId);
      const [{ attempts }] = await testApp.dataSource.query('SELECT attempts FROM lyrics_tasks WHERE id = $1', [body.id]);
      expect(attempts).toBe(3);
    });

    it.each([
      [402, 'Insufficient credits'],
      [413, 'Theme or prompt too long'],
      [401, 'You do not have access permissions'],
    ])('fails a create KIE rejects with %s as upstream_rejected, with its message, and does not resend it', async (code, message) => {
      const prompt = `[sandbox:reject=${code}] rejected`;
      const { body } = await request(testApp.url).post('/lyrics').send({ prompt }).expect(202);
      const task = await waitForFinal(testApp, body.id, 'failed');
      expect(task.error.code).toBe('upstream_rejected');
      expect(task.error.message).toContain(message);
      expect(task.completedAt).not.toBeNull();
      expect(createsFor(sandbox, prompt)).toHaveLength(1);
    });

    it('fails a create that was sent but never answered as submit_outcome_unknown, and never sends it again', async () => {
      const prompt = '[sandbox:hang] a create whose answer is lost';
      const { body } = await request(testApp.url).post('/lyrics').send({ prompt }).expect(202);
      const task = await waitForFinal(testApp, body.id, 'failed');
      expect(task.error.code).toBe('submit_outcome_unknown');
      expect(createsFor(sandbox, prompt)).toHaveLength(1);
      // KIE did create (and bill) it: the reason the create must never be repeated.
      expect(sandbox.tasks().filter((t) => t.prompt === prompt)).toHaveLength(1);
    });

    it('fails, without sending, a task whose claim expired mid-create (its instance died), and sends a never-claimed one', async () => {
      const orphanPrompt = 'a task an instance claimed and died with';
      const waitingPrompt = 'a task an instance stored and died before claiming';
      const [orphan] = await testApp.dataSource.query(
        `INSERT INTO lyrics_tasks (status, prompt, next_attempt_at, lease_until, attempts, callback_token_hash)
         VALUES ('queued', $1, clock_timestamp(), clock_timestamp() - interval '1 second', 1, repeat('a', 64)) RETURNING id`,
        [orphanPrompt],
      );
      const [waiting] = await testApp.dataSource.query(
        `INSERT INTO lyrics_tasks (status, prompt, next_attempt_at) VALUES ('queued', $1, clock_timestamp()) RETURNING id`,
        [waitingPrompt],
      );
      const failed = await waitForFinal(testApp, orphan.id, 'failed');
      expect(failed.error.code).toBe('submit_outcome_unknown');
      await waitForFinal(testApp, waiting.id, 'submitted');
      expect(createsFor(sandbox, orphanPrompt)).toHaveLength(0);
      expect(createsFor(sandbox, waitingPrompt)).toHaveLength(1);
    });
  });

  it.each([
    ['could not be sent (connection refused)', false],
    ['was answered with HTTP 503 (so not accepted)', true],
  ])('keeps a create that %s queued, and retries it', async (_, withSandbox) => {
    const sandbox = withSandbox ? await KieSandbox.start() : undefined;
    const testApp = await startTestApp({ sandbox, env: { LYRICS_CREATE_RETRY_BASE_MS: '20', LYRICS_CREATE_RETRY_MAX_MS: '50' } });
    try {
      const prompt = '[sandbox:http-status=503] nobody is answering';
      const { body } = await request(testApp.url).post('/lyrics').send({ prompt }).expect(202);
      await waitFor('a few attempts', async () => {
        const [{ attempts }] = await testApp.dataSource.query('SELECT attempts FROM lyrics_tasks WHERE id = $1', [body.id]);
        return attempts >= 3;
      });
      expect(await statusOf(testApp, body.id)).toMatchObject({ status: 'queued', error: null, kieTaskId: null });
      if (sandbox) expect(createsFor(sandbox, prompt).every((r) => r.httpStatus === 503)).toBe(true);
    } finally {
      await testApp.close();
      await sandbox?.stop();
    }
  });

  describe('the global create budget: 20 per 10 s, as KIE allows', () => {
    const burst = async (instances: TestApp[], sandbox: KieSandbox, label: string) => {
      const prompts = Array.from({ length: 50 }, (_, i) => `${label} burst ${i}`);
      const accepted = await Promise.all(
        prompts.map((prompt, i) =>
          request(instances[i % instances.length].url)
            .post('/lyrics')
            .send({ prompt })
            .expect(202),
        ),
      );
      const ids = accepted.map((response) => response.body.id as string);
      await waitFor(
        'all 50 tasks to be submitted',
        async () => {
          const [{ n }] = await instances[0].dataSource.query(
            `SELECT count(*) AS n FROM lyrics_tasks WHERE id = ANY($1) AND status = 'submitted'`,
            [ids],
          );
          return Number(n) === 50;
        },
        { timeoutMs: 40000, intervalMs: 200 },
      );
      const creates = sandbox.requests.filter((r) => r.endpoint === 'create');
      expect(creates.filter((r) => r.httpStatus === 429)).toHaveLength(0);
      expect(creates).toHaveLength(50);
      expect(busiestWindow(sandbox.requests, 10_000)).toBe(20);
      return creates;
    };

    it('sends a burst of 50 without one 429 and never more than 20 in any 10 s', async () => {
      const sandbox = await KieSandbox.start({ resultDelayMs: 120_000, createLimit: { max: 20, windowMs: 10_000 } });
      const testApp = await startTestApp({ sandbox });
      try {
        const creates = await burst([testApp], sandbox, 'one instance');
        // The first 20 go at once (within about 100 ms of their submission), the rest as the window allows.
        const first = creates.map((r) => r.startedAt).sort((a, b) => a - b);
        expect(first[19] - first[0]).toBeLessThan(2000);
        expect(first[20] - first[0]).toBeGreaterThanOrEqual(10_000);
      } finally {
        await testApp.close();
        await sandbox.stop();
      }
    });

    it('keeps the same budget across two instances sharing one database', async () => {
      const sandbox = await KieSandbox.start({ resultDelayMs: 120_000, createLimit: { max: 20, windowMs: 10_000 } });
      const database = await createTestDatabase();
      const first = await startTestApp({ sandbox, database });
      const second = await startTestApp({ sandbox, database });
      try {
        await burst([first, second], sandbox, 'two instances');
      } finally {
        await first.close();
        await second.close();
        await database.drop();
        await sandbox.stop();
      }
    });
  });
});
