import request from 'supertest';
import { answeredDeliveries, kieFixture, receiptsOf, signatureHeaders } from './support/callbacks';
import { LyricsContext, useLyricsApp } from './support/lyrics-client';
import { waitFor } from './support/wait';

const HMAC_KEY = 'routes-test-hmac-key';

/** What KIE receives on each route (the sandbox plays only the route it is given; the other one's paths answer 404). */
const PATHS = {
  legacy: { create: '/api/v1/lyrics', recordInfo: '/api/v1/lyrics/record-info' },
  jobs: { create: '/api/v1/jobs/createTask', recordInfo: '/api/v1/jobs/recordInfo' },
} as const;

const FAILURES = [
  ['GENERATE_LYRICS_FAILED', 'generation_failed'],
  ['CREATE_TASK_FAILED', 'generation_failed'],
  ['CALLBACK_EXCEPTION', 'generation_failed'],
  ['SENSITIVE_WORD_ERROR', 'sensitive_content'],
] as const;

/** The task's variants as the API shows them: exactly the lyrics KIE (the sandbox) wrote. */
function expectSandboxLyrics(ctx: LyricsContext, task: any): void {
  const truth = ctx.sandbox.task(task.kieTaskId)!;
  expect(task.variants).toEqual(truth.variants.map((v) => ({ title: v.title, text: v.text, status: 'complete', errorMessage: null })));
  expect(task.variants.length).toBeGreaterThanOrEqual(2);
}

describe.each(['legacy', 'jobs'] as const)('KIE_API_ROUTE=%s', (route) => {
  describe('results by callback', () => {
    // No check is due for a minute: any record-info read during a test was woken by a callback.
    const ctx = useLyricsApp({
      sandbox: { route, hmacKey: HMAC_KEY, resultDelayMs: 30, callbackRetryDelayMs: 20 },
      env: {
        KIE_API_ROUTE: route,
        KIE_WEBHOOK_HMAC_KEY: HMAC_KEY,
        LYRICS_POLL_INITIAL_DELAY_MS: '60000',
        LYRICS_DISPATCH_INTERVAL_MS: '50',
      },
    });

    it.each([
      ['the legacy shape, snake_case', 'shape=legacy', 'snake'],
      ['the legacy shape, camelCase', 'shape=legacy,camel', 'camel'],
      ['the legacy shape, lyricsData', 'shape=legacy,lyricsData', 'snake'],
      ['the Market shape', 'shape=market', 'snake'],
      ['the Market shape, resultObject.lyricsData', 'shape=market,lyricsData', 'snake'],
    ])(
      "succeeds by the sandbox's signed callback in %s, with one create on the route and no record-info read",
      async (_, markers, spelling) => {
        const { id } = await ctx.submit(`[sandbox:${markers}] a song about the harbor`);
        const task = await ctx.waitForStatus(id, 'succeeded');
        expectSandboxLyrics(ctx, task);
        expect(ctx.createOf(task.kieTaskId).path).toBe(PATHS[route].create);
        const [delivery] = await answeredDeliveries(ctx.sandbox, task.kieTaskId);
        expect(delivery).toMatchObject({ shape: markers.includes('market') ? 'market' : 'legacy', spelling, status: 200 });
        expect((await receiptsOf(ctx.testApp, id)).map((r) => r.outcome)).toEqual(['applied']);
        expect((await ctx.taskRow(id)).result_source).toBe('callback');
        expect(ctx.requestsTo('record-info', task.kieTaskId)).toHaveLength(0);
      },
    );

    it.each(FAILURES)("fails by callback in the route's own shape when KIE reports %s (%s), keeping its message", async (status, code) => {
      const { id } = await ctx.submit(`[sandbox:status=${status}] a song that fails`);
      const task = await ctx.waitForStatus(id, 'failed');
      expect(task.error).toEqual({ code, message: ctx.sandbox.task(task.kieTaskId)!.errorMessage });
      expect(task.variants).toEqual([]);
      const [delivery] = await answeredDeliveries(ctx.sandbox, task.kieTaskId);
      expect(delivery.shape).toBe(route === 'jobs' ? 'market' : 'legacy');
      expect((await ctx.taskRow(id)).result_source).toBe('callback');
    });

    it('wakes an immediate record-info check for a signed callback in a shape it does not know, and the check finds the result', async () => {
      // Called back once the task is surely submitted: a task still queued has no KIE id to check yet.
      const { id } = await ctx.submit('[sandbox:shape=unknown,delay=300] a song told strangely');
      const task = await ctx.waitForStatus(id, 'succeeded');
      expectSandboxLyrics(ctx, task);
      const [delivery] = await answeredDeliveries(ctx.sandbox, task.kieTaskId);
      expect(delivery).toMatchObject({ shape: 'unknown', status: 200 });
      expect((await receiptsOf(ctx.testApp, id)).map((r) => r.outcome)).toEqual(['woken']);
      expect((await ctx.taskRow(id)).result_source).toBe('poll');
      // One read, long before the first scheduled check: the one the callback woke.
      expect(ctx.requestsTo('record-info', task.kieTaskId).map((r) => r.path)).toEqual([
        `${PATHS[route].recordInfo}?taskId=${task.kieTaskId}`,
      ]);
    });

    /** A task KIE accepted and will never call back about, and the callBackUrl KIE was given for it. */
    async function submittedTask(prompt: string) {
      const { id } = await ctx.submit(`[sandbox:drop] ${prompt}`);
      const { kieTaskId } = await ctx.waitForStatus(id, 'submitted');
      return { id: id as string, kieTaskId: kieTaskId as string, callbackPath: ctx.callbackPathOf(kieTaskId) };
    }

    it("wakes a check for a body with no task id at all, signed over the task's KIE id", async () => {
      const { id, kieTaskId, callbackPath } = await submittedTask('no id in the body');
      const answer = await request(ctx.url)
        .post(callbackPath)
        .set(signatureHeaders(kieTaskId, HMAC_KEY))
        .send({ hello: 'world' })
        .expect(200);
      expect(answer.body).toEqual({ status: 'received', outcome: 'woken' });
      await ctx.waitForStatus(id, 'succeeded');
      expect(await receiptsOf(ctx.testApp, id)).toMatchObject([{ outcome: 'woken', kie_task_id: kieTaskId, body: '{"hello":"world"}' }]);
    });

    it('refuses an unknown shape whose signature is missing (401), and reads nothing', async () => {
      const { id, kieTaskId, callbackPath } = await submittedTask('unsigned and unknown');
      await request(ctx.url).post(callbackPath).send({ taskId: kieTaskId, event: 'done' }).expect(401);
      expect((await ctx.task(id)).status).toBe('submitted');
      expect((await receiptsOf(ctx.testApp, id)).map((r) => r.outcome)).toEqual(['unauthorized']);
      expect(ctx.requestsTo('record-info', kieTaskId)).toHaveLength(0);
    });

    it('checks the signature over the id where the body carries it: a legacy body with only a top-level taskId', async () => {
      const { id, kieTaskId, callbackPath } = await submittedTask('top-level id');
      const body = kieFixture('callback-success-kie-snake_case.json');
      delete body.data.task_id;
      body.taskId = kieTaskId;
      await request(ctx.url).post(callbackPath).set(signatureHeaders(kieTaskId, HMAC_KEY)).send(body).expect(200);
      expect(await ctx.task(id)).toMatchObject({ status: 'succeeded', variants: [{ title: 'Harbor Night' }, { title: 'City Sleeps' }] });
    });

    it("refuses an unknown shape naming another KIE task (401, mismatch), even signed over that task's id", async () => {
      const { id, callbackPath } = await submittedTask('someone else');
      const other = 'task_someone_else_0001';
      await request(ctx.url).post(callbackPath).set(signatureHeaders(other, HMAC_KEY)).send({ taskId: other }).expect(401);
      expect((await receiptsOf(ctx.testApp, id)).map((r) => r.outcome)).toEqual(['mismatch']);
      expect((await ctx.task(id)).status).toBe('submitted');
    });

    it('refuses an unknown shape as malformed (400) while the task has no KIE id to check, and wakes it once it has one', async () => {
      const prompt = '[sandbox:drop,answer-delay=1500] answered late';
      const { id } = await ctx.submit(prompt);
      const create = await waitFor('the create to reach KIE', () => ctx.createsFor(prompt).find((r) => r.taskId !== undefined));
      const kieTaskId = create.taskId!;
      const path = new URL(create.callBackUrl!).pathname;
      const early = await request(ctx.url).post(path).set(signatureHeaders(kieTaskId, HMAC_KEY)).send({ taskId: kieTaskId }).expect(400);
      expect(early.body.message).toMatch(/no KIE task to check yet/);
      expect((await ctx.taskRow(id)).status).toBe('queued');
      await ctx.waitForStatus(id, 'submitted');
      const later = await request(ctx.url).post(path).set(signatureHeaders(kieTaskId, HMAC_KEY)).send({ taskId: kieTaskId }).expect(200);
      expect(later.body).toEqual({ status: 'received', outcome: 'woken' });
      await ctx.waitForStatus(id, 'succeeded');
      expect((await receiptsOf(ctx.testApp, id)).map((r) => r.outcome)).toEqual(['malformed', 'woken']);
    });

    it('answers 200 already_final to an unknown shape for a finished task, reading nothing', async () => {
      const { id } = await ctx.submit('finished first');
      const { kieTaskId } = await ctx.waitForStatus(id, 'succeeded');
      const path = ctx.callbackPathOf(kieTaskId);
      const answer = await request(ctx.url).post(path).set(signatureHeaders(kieTaskId, HMAC_KEY)).send({ taskId: kieTaskId }).expect(200);
      expect(answer.body).toEqual({ status: 'received', outcome: 'already_final' });
      expect(ctx.requestsTo('record-info', kieTaskId)).toHaveLength(0);
    });
  });

  describe('results by polling', () => {
    const ctx = useLyricsApp({
      sandbox: { route, hmacKey: HMAC_KEY, resultDelayMs: 50 },
      env: {
        KIE_API_ROUTE: route,
        KIE_WEBHOOK_HMAC_KEY: HMAC_KEY,
        LYRICS_POLL_INITIAL_DELAY_MS: '100',
        LYRICS_POLL_INTERVAL_MS: '50',
        LYRICS_POLL_MAX_INTERVAL_MS: '200',
        LYRICS_DISPATCH_INTERVAL_MS: '50',
        LYRICS_TASK_MAX_AGE_MS: '1500',
      },
    });

    it("succeeds by polling the route's record endpoint when the callback is lost: not ready, still running, then the lyrics", async () => {
      const { id } = await ctx.submit('[sandbox:drop,null-polls=1,pending-polls=1] a lost callback');
      const task = await ctx.waitForStatus(id, 'succeeded');
      expectSandboxLyrics(ctx, task);
      expect(ctx.requestsTo('record-info', task.kieTaskId).map((r) => [r.path.split('?')[0], r.code])).toEqual([
        [PATHS[route].recordInfo, 422],
        [PATHS[route].recordInfo, 200],
        [PATHS[route].recordInfo, 200],
      ]);
      expect(await ctx.taskRow(id)).toMatchObject({ result_source: 'poll', polls: 3 });
    });

    it("keeps KIE's reason for refusing a create when KIE spells its message `message`", async () => {
      const { id } = await ctx.submit('[sandbox:message,reject=400] refused, spelled otherwise');
      const task = await ctx.waitForStatus(id, 'failed');
      expect(task.error.code).toBe('upstream_rejected');
      expect(task.error.message).toContain('Invalid parameters');
    });

    it.each(FAILURES)('fails by polling when the record shows %s (%s)', async (status, code) => {
      const { id } = await ctx.submit(`[sandbox:drop,status=${status}] failing quietly`);
      const task = await ctx.waitForStatus(id, 'failed');
      expect(task.error).toEqual({ code, message: ctx.sandbox.task(task.kieTaskId)!.errorMessage });
      expect((await ctx.taskRow(id)).result_source).toBe('poll');
    });

    it('reads the record at once for an unknown-shape callback about a task that timed out, and takes the late result', async () => {
      const { id } = await ctx.submit('[sandbox:drop,delay=2500] finished after its maximum age');
      const timedOut = await ctx.waitForStatus(id, 'failed');
      expect(timedOut.error.code).toBe('timed_out');
      const readsBefore = ctx.requestsTo('record-info', timedOut.kieTaskId).length;
      const kieTask = ctx.sandbox.task(timedOut.kieTaskId)!;
      await waitFor('KIE to finish the task', () => Date.now() >= kieTask.readyAt!);
      const answer = await request(ctx.url)
        .post(ctx.callbackPathOf(timedOut.kieTaskId))
        .set(signatureHeaders(timedOut.kieTaskId, HMAC_KEY))
        .send({ taskId: timedOut.kieTaskId, event: 'done' })
        .expect(200);
      expect(answer.body).toEqual({ status: 'received', outcome: 'woken' });
      const task = await ctx.task(id);
      expect(task).toMatchObject({ status: 'succeeded', error: null });
      expectSandboxLyrics(ctx, task);
      expect(ctx.requestsTo('record-info', timedOut.kieTaskId)).toHaveLength(readsBefore + 1);
      expect((await receiptsOf(ctx.testApp, id)).map((r) => r.outcome)).toEqual(['woken']);
    });

    it('retries a throttled read (HTTP 429) and then succeeds', async () => {
      const { id } = await ctx.submit('[sandbox:drop,throttle-polls=1] throttled read');
      const task = await ctx.waitForStatus(id, 'succeeded');
      expect(ctx.requestsTo('record-info', task.kieTaskId).map((r) => r.httpStatus)).toEqual([429, 200]);
    });
  });
});
