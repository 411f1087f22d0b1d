import request from 'supertest';
import { LyricsFinalEvent } from '../src/lyrics/lyrics.events';
import { kieFixture, recordEvents, receiptsOf } from './support/callbacks';
import { LyricsContext, startLyricsApp, useLyricsApp } from './support/lyrics-client';
import { teardownAfterEach } from './support/teardown';
import { waitFor } from './support/wait';

/**
 * Paid work is never lost: KIE bills a create when it accepts it, so a task whose create's answer was lost still
 * takes the result KIE sends later; a result the database cannot store ends its task instead of a retry loop; a task
 * that cannot be sent ends after the queue's maximum age.
 */

/** Makes the database refuse variants of the tasks listed in test_poisoned_tasks, with that row's SQLSTATE. */
async function poisonVariants(ctx: LyricsContext): Promise<(taskId: string, sqlState: string) => Promise<void>> {
  await ctx.query(`CREATE TABLE test_poisoned_tasks (task_id uuid PRIMARY KEY, sql_state text NOT NULL)`);
  await ctx.query(`
    CREATE FUNCTION test_refuse_poisoned_variants() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE state text;
    BEGIN
      SELECT sql_state INTO state FROM test_poisoned_tasks WHERE task_id = NEW.task_id;
      IF state IS NOT NULL THEN RAISE EXCEPTION 'this variant cannot be stored' USING ERRCODE = state; END IF;
      RETURN NEW;
    END $$`);
  await ctx.query(`
    CREATE TRIGGER test_refuse_poisoned_variants BEFORE INSERT ON lyrics_variants
    FOR EACH ROW EXECUTE FUNCTION test_refuse_poisoned_variants()`);
  return async (taskId, sqlState) => {
    await ctx.query('INSERT INTO test_poisoned_tasks (task_id, sql_state) VALUES ($1, $2)', [taskId, sqlState]);
  };
}

const eventsOf = (events: LyricsFinalEvent[], id: string) => events.filter((event) => event.task.id === id).map((event) => event.name);

describe('paid work is never lost', () => {
  describe('a create whose answer was lost takes the result KIE sends for it', () => {
    const ctx = useLyricsApp({
      sandbox: { resultDelayMs: 60_000 },
      // The create's answer is given up on after 500 ms; the results come seconds later.
      env: { KIE_TIMEOUT_MS: '500', LYRICS_POLL_INITIAL_DELAY_MS: '60000' },
    });
    let events: LyricsFinalEvent[];
    beforeAll(() => {
      events = recordEvents(ctx.testApp);
    });

    it('applies a callback that arrives while the create is still unanswered, and keeps it when the create then times out', async () => {
      const prompt = '[sandbox:early,hang] a result before the answer';
      const { id } = await ctx.submit(prompt);
      const task = await ctx.waitForStatus(id, 'succeeded');
      const [create] = ctx.createsFor(prompt);
      expect(task).toMatchObject({ kieTaskId: create.taskId, error: null });
      expect(task.variants.length).toBeGreaterThan(0);
      // The create then gave up (its answer never came: an ambiguous outcome): the task stays succeeded, with one event.
      await waitFor('the create to give up', async () => {
        const metrics = (await request(ctx.url).get('/metrics').expect(200)).text;
        return /kie_requests_total\{endpoint="create",outcome="ambiguous",account="default"\} 1/.test(metrics);
      });
      expect(await ctx.task(id)).toMatchObject({ status: 'succeeded', error: null });
      expect((await ctx.taskRow(id)).result_source).toBe('callback');
      expect(eventsOf(events, id)).toEqual(['lyrics.succeeded']);
      expect(ctx.createsFor(prompt)).toHaveLength(1);
    });

    it.each([
      ['a success', '[sandbox:hang,delay=2000] billed and answered late', 'succeeded', null],
      ['a failure', '[sandbox:hang,delay=2000,fail] billed and failed late', 'failed', 'generation_failed'],
    ])('revives a task failed as submit_outcome_unknown with %s sent by callback later', async (_, prompt, status, code) => {
      const { id } = await ctx.submit(prompt);
      const unknown = await ctx.waitForStatus(id, 'failed');
      expect(unknown).toMatchObject({ kieTaskId: null, error: { code: 'submit_outcome_unknown' } });

      const revived = await waitFor(
        'the late result',
        async () => {
          const task = await ctx.task(id);
          return task.error?.code !== 'submit_outcome_unknown' ? task : undefined;
        },
        { timeoutMs: 10_000 },
      );
      expect(revived.status).toBe(status);
      const [create] = ctx.createsFor(prompt);
      // The callback supplies KIE's task id, which the lost answer never did.
      expect(revived.kieTaskId).toBe(create.taskId);
      expect(revived.error?.code ?? null).toBe(code);
      if (status === 'succeeded') expect(revived.variants.length).toBeGreaterThan(0);
      const row = await ctx.taskRow(id);
      expect(row.result_source).toBe('callback');
      expect(eventsOf(events, id)).toEqual(['lyrics.failed', `lyrics.${status}`]);
      expect((await receiptsOf(ctx.testApp, id)).map((receipt) => receipt.outcome)).toEqual(['applied']);
      expect(ctx.createsFor(prompt)).toHaveLength(1);
    });
  });

  describe("a create answered without KIE's envelope (a gateway's page)", () => {
    const afterEach = teardownAfterEach();
    const ctx = useLyricsApp({
      sandbox: { resultDelayMs: 60_000 },
      env: { LYRICS_POLL_INITIAL_DELAY_MS: '60000', LYRICS_CREATE_RETRY_BASE_MS: '20', LYRICS_CREATE_RETRY_MAX_MS: '50' },
    });

    it.each([
      ['a 502 page', 'gateway=502'],
      ['a 504 page', 'gateway=504'],
      ['a 500 with an empty body', 'empty-answer=500'],
    ])('never resends a create answered with %s, and its callback still brings the result', async (_, marker) => {
      const prompt = `[sandbox:${marker},delay=1500] forwarded, then the answer was lost`;
      const { id } = await ctx.submit(prompt);
      const unknown = await ctx.waitForStatus(id, 'failed');
      expect(unknown.error.code).toBe('submit_outcome_unknown');
      const revived = await ctx.waitForStatus(id, 'succeeded', { timeoutMs: 10_000 });
      const creates = ctx.createsFor(prompt);
      expect(creates).toHaveLength(1);
      expect(revived.kieTaskId).toBe(creates[0].taskId);
    });

    it('takes any answer that carries a task id as accepted, whatever its status', async () => {
      const prompt = '[sandbox:answer-status=502] accepted under a 502';
      const { id } = await ctx.submit(prompt);
      const task = await ctx.waitForStatus(id, 'submitted');
      const creates = ctx.createsFor(prompt);
      expect(creates.map((create) => create.httpStatus)).toEqual([502]);
      expect(task.kieTaskId).toBe(creates[0].taskId);
    });

    it('honours Retry-After only up to LYRICS_CREATE_RETRY_MAX_MS, so one odd header cannot park a task for years', async () => {
      const prompt = '[sandbox:throttle-http=1,retry-after=999999999] come back in 31 years';
      const { id } = await ctx.submit(prompt);
      await ctx.waitForStatus(id, 'submitted', { timeoutMs: 5000 });
      expect(ctx.createsFor(prompt).map((create) => create.httpStatus)).toEqual([429, 200]);
    });

    it('honours Retry-After on record-info only up to LYRICS_POLL_MAX_INTERVAL_MS', async () => {
      const app = await startLyricsApp(afterEach, {
        sandbox: { resultDelayMs: 0 },
        env: { LYRICS_POLL_INITIAL_DELAY_MS: '50', LYRICS_POLL_INTERVAL_MS: '50', LYRICS_POLL_MAX_INTERVAL_MS: '300' },
      });
      const { id } = await app.submit('[sandbox:drop,throttle-polls=2,retry-after=999999999] read me in 31 years');
      const task = await app.waitForStatus(id, 'succeeded', { timeoutMs: 5000 });
      expect(app.requestsTo('record-info', task.kieTaskId).map((read) => read.httpStatus)).toEqual([429, 429, 200]);
    });

    it("retries a create KIE's own envelope calls a server error, since KIE says it did not take it", async () => {
      const prompt = '[sandbox:http-status=500] KIE itself failed';
      const { id } = await ctx.submit(prompt);
      await waitFor('a few attempts', async () => (await ctx.taskRow(id)).attempts >= 3);
      expect(await ctx.task(id)).toMatchObject({ status: 'queued', error: null });
      expect(ctx.sandbox.tasks().filter((task) => task.prompt === prompt)).toEqual([]);
    });
  });

  describe('a result the database cannot store', () => {
    const afterTest = teardownAfterEach();
    const env = {
      LYRICS_POLL_INITIAL_DELAY_MS: '100',
      LYRICS_POLL_INTERVAL_MS: '100',
      LYRICS_POLL_MAX_INTERVAL_MS: '200',
      LYRICS_DISPATCH_INTERVAL_MS: '50',
      KIE_TIMEOUT_MS: '500',
      LYRICS_LEASE_MS: '1000',
    };

    it('ends the task as result_unstorable when a callback brings it, answering 200 so KIE stops resending', async () => {
      const ctx = await startLyricsApp(afterTest, {
        sandbox: { resultDelayMs: 1500 },
        env: { ...env, LYRICS_POLL_INITIAL_DELAY_MS: '60000' },
      });
      const poison = await poisonVariants(ctx);
      const events = recordEvents(ctx.testApp);
      const { id } = await ctx.submit('[sandbox:] lyrics the database refuses');
      await poison(id, '22023');
      const task = await ctx.waitForStatus(id, 'failed');
      expect(task.error.code).toBe('result_unstorable');
      expect(task.error.message).toContain('this variant cannot be stored');
      expect(task.variants).toEqual([]);
      await waitFor('KIE to have its answer', () => ctx.sandbox.callbacks.every((delivery) => delivery.status !== undefined));
      expect(ctx.sandbox.callbacks.map((delivery) => delivery.status)).toEqual([200]);
      const receipts = await receiptsOf(ctx.testApp, id);
      expect(receipts.map((receipt) => receipt.outcome)).toEqual(['unstorable']);
      expect(eventsOf(events, id)).toEqual(['lyrics.failed']);
    });

    it('ends the task as result_unstorable when polling reads it, and reads it no more', async () => {
      const ctx = await startLyricsApp(afterTest, { sandbox: { resultDelayMs: 1000 }, env });
      const poison = await poisonVariants(ctx);
      const { id } = await ctx.submit('[sandbox:drop] unreadable lyrics, found by polling');
      await poison(id, '22P02');
      const task = await ctx.waitForStatus(id, 'failed');
      expect(task.error.code).toBe('result_unstorable');
      expect((await ctx.taskRow(id)).result_source).toBe('poll');
      const reads = ctx.requestsTo('record-info', task.kieTaskId).length;
      // Another task polled to its end meanwhile; this one was not read again.
      await ctx.waitForStatus((await ctx.submit('[sandbox:drop] another task, polled to its end')).id, 'succeeded');
      expect(ctx.requestsTo('record-info', task.kieTaskId)).toHaveLength(reads);
    });

    it('keeps the maximum age while every write of the result fails: the task times out instead of being read forever', async () => {
      const ctx = await startLyricsApp(afterTest, { sandbox: { resultDelayMs: 200 }, env: { ...env, LYRICS_TASK_MAX_AGE_MS: '3000' } });
      const poison = await poisonVariants(ctx);
      const { id } = await ctx.submit('[sandbox:drop] lyrics whose writes keep failing');
      // 40001 (serialization failure) reads as a passing trouble of the database: worth retrying, until the maximum age.
      await poison(id, '40001');
      const task = await ctx.waitForStatus(id, 'failed', { timeoutMs: 10_000 });
      expect(task.error.code).toBe('timed_out');
      expect(Date.parse(task.completedAt) - Date.parse(task.submittedAt)).toBeGreaterThanOrEqual(3000);
      const reads = ctx.requestsTo('record-info', task.kieTaskId).length;
      expect(reads).toBeGreaterThan(1);
      await ctx.waitForStatus((await ctx.submit('[sandbox:drop] another task, polled to its end')).id, 'succeeded');
      expect(ctx.requestsTo('record-info', task.kieTaskId)).toHaveLength(reads);
    });
  });

  describe('results KIE can send that PostgreSQL cannot hold as they are', () => {
    const ctx = useLyricsApp({ sandbox: { resultDelayMs: 60_000 }, env: { LYRICS_POLL_INITIAL_DELAY_MS: '60000' } });

    /** A task KIE accepted and has not called back about yet, and a callback body of KIE's for it. */
    async function submitted(prompt: string) {
      const { id } = await ctx.submit(`[sandbox:drop] ${prompt}`);
      const { kieTaskId } = await ctx.waitForStatus(id, 'submitted');
      const body = kieFixture('callback-success-kie-snake_case.json');
      body.data.task_id = kieTaskId;
      return { id: id as string, kieTaskId: kieTaskId as string, body, path: ctx.callbackPathOf(kieTaskId) };
    }

    it('stores NUL characters and lone surrogates as U+FFFD', async () => {
      const { id, body, path } = await submitted('lyrics with a NUL');
      body.data.data[0].title = 'Nul\u0000Title';
      body.data.data[0].text = 'a line\u0000with a NUL and a lone \ud800 surrogate';
      await request(ctx.url).post(path).send(body).expect(200);
      const task = await ctx.waitForStatus(id, 'succeeded');
      expect(task.variants[0]).toMatchObject({ title: 'Nul\uFFFDTitle', text: 'a line\uFFFDwith a NUL and a lone \uFFFD surrogate' });
      expect(task.variants[1].title).toBe(body.data.data[1].title);
    });

    it('keeps the first 20 of 2,000 variants, in order', async () => {
      const { id, body, path } = await submitted('a flood of variants');
      body.data.data = Array.from({ length: 2000 }, (_, i) => ({ title: `v${i}`, text: `t${i}`, status: 'complete', error_message: '' }));
      await request(ctx.url).post(path).send(body).expect(200);
      const task = await ctx.waitForStatus(id, 'succeeded');
      expect(task.variants.map((variant: { title: string }) => variant.title)).toEqual(Array.from({ length: 20 }, (_, i) => `v${i}`));
    });

    it('refuses, as malformed, a callback whose KIE task id could not be stored', async () => {
      const { id, body, path } = await submitted('an over-long id');
      body.data.task_id = 'k'.repeat(65);
      const response = await request(ctx.url).post(path).send(body).expect(400);
      expect(response.body.message).toMatch(/task id/);
      expect(await ctx.task(id)).toMatchObject({ status: 'submitted', variants: [] });
      expect((await receiptsOf(ctx.testApp, id)).map((receipt) => receipt.outcome)).toEqual(['malformed']);
    });
  });

  describe('a task that cannot be sent', () => {
    const afterTest = teardownAfterEach();

    it('fails as queue_expired once unsent for LYRICS_QUEUE_MAX_AGE_MS, having never been accepted', async () => {
      const ctx = await startLyricsApp(afterTest, {
        sandbox: {},
        env: {
          LYRICS_QUEUE_MAX_AGE_MS: '2000',
          LYRICS_CREATE_RETRY_BASE_MS: '100',
          LYRICS_CREATE_RETRY_MAX_MS: '300',
          LYRICS_DISPATCH_INTERVAL_MS: '50',
        },
      });
      const prompt = '[sandbox:throttle=1000] throttled every time';
      const { id } = await ctx.submit(prompt);
      const task = await ctx.waitForStatus(id, 'failed', { timeoutMs: 10_000 });
      expect(task.error).toEqual({ code: 'queue_expired', message: expect.stringContaining('2 seconds') });
      expect(Date.parse(task.completedAt) - Date.parse(task.createdAt)).toBeGreaterThanOrEqual(2000);
      const creates = ctx.createsFor(prompt);
      expect(creates.length).toBeGreaterThan(1);
      expect(creates.every((create) => create.code === 430)).toBe(true);
      // Ended: not sent again.
      await ctx.waitForNoQueuedTask();
      const seen = ctx.createsFor(prompt).length;
      const other = await ctx.submit('[sandbox:] sent at once');
      await ctx.waitForStatus(other.id, 'submitted');
      expect(ctx.createsFor(prompt)).toHaveLength(seen);
    });
  });
});
