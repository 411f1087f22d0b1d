import request from 'supertest';
import { LyricsFinalEvent } from '../src/lyrics/lyrics.events';
import { answeredDeliveries, kieFixture, receiptsOf, recordEvents, signatureHeaders } from './support/callbacks';
import { startLyricsApp, useLyricsApp } from './support/lyrics-client';
import { teardownAfterEach } from './support/teardown';
import { waitFor } from './support/wait';

const HMAC_KEY = 'callback-test-hmac-key';

describe("KIE's callbacks", () => {
  const ctx = useLyricsApp({
    sandbox: { hmacKey: HMAC_KEY, resultDelayMs: 30, callbackRetryDelayMs: 20 },
    env: { KIE_WEBHOOK_HMAC_KEY: HMAC_KEY },
  });
  let events: LyricsFinalEvent[];

  beforeAll(() => {
    events = recordEvents(ctx.testApp);
  });

  const eventsFor = (id: string) => events.filter((event) => event.task.id === id);

  /** A task KIE accepted and will never call back about, and the callBackUrl KIE was given for it. */
  async function submittedTask(prompt: string) {
    const { id } = await ctx.submit(`[sandbox:drop] ${prompt}`);
    const { kieTaskId } = await ctx.waitForStatus(id, 'submitted');
    return { id: id as string, kieTaskId: kieTaskId as string, callbackPath: ctx.callbackPathOf(kieTaskId) };
  }

  function snakeCaseSuccess(kieTaskId: string) {
    const body = kieFixture('callback-success-kie-snake_case.json');
    body.data.task_id = kieTaskId;
    return body;
  }

  it("applies the sandbox's signed callback: succeeded with exactly its variants, one event, one receipt, no polling", async () => {
    const { id } = await ctx.submit('A song about the tide');
    const task = await ctx.waitForStatus(id, 'succeeded');
    const truth = ctx.sandbox.task(task.kieTaskId)!;
    expect(task.variants).toEqual(truth.variants.map((v) => ({ title: v.title, text: v.text, status: 'complete', errorMessage: null })));
    expect(task.variants.length).toBeGreaterThanOrEqual(2);
    expect(task.error).toBeNull();
    expect((await answeredDeliveries(ctx.sandbox, task.kieTaskId)).map((d) => d.status)).toEqual([200]);
    await waitFor('the event', () => eventsFor(id).length === 1);
    expect(eventsFor(id)[0]).toMatchObject({
      name: 'lyrics.succeeded',
      task: { id, status: 'succeeded', variants: task.variants },
    });
    const receipts = await receiptsOf(ctx.testApp, id);
    expect(receipts).toMatchObject([
      { outcome: 'applied', kie_task_id: task.kieTaskId, remote_address: expect.stringContaining('127.0.0.1') },
    ]);
    expect(JSON.parse(receipts[0].body).data.task_id).toBe(task.kieTaskId);
    expect((await ctx.taskRow(id)).result_source).toBe('callback');
    expect(ctx.requestsTo('record-info')).toHaveLength(0);
  });

  it.each([
    ["KIE's snake_case fixture", (kieTaskId: string) => snakeCaseSuccess(kieTaskId)],
    [
      'the camelCase fixture',
      (kieTaskId: string) => {
        const body = kieFixture('callback-success-camelCase-variant.json');
        body.data.taskId = kieTaskId;
        return body;
      },
    ],
  ])('applies %s, signed as the docs say', async (_, makeBody) => {
    const { id, kieTaskId, callbackPath } = await submittedTask('fixture');
    await request(ctx.url).post(callbackPath).set(signatureHeaders(kieTaskId, HMAC_KEY)).send(makeBody(kieTaskId)).expect(200);
    const task = await ctx.task(id);
    expect(task.status).toBe('succeeded');
    expect(task.variants.map((v: { title: string }) => v.title)).toEqual(['Harbor Night', 'City Sleeps']);
    expect(task.variants[0].text).toContain('[Verse]\nLamplight on the harbor wall');
  });

  it('takes five concurrent copies of one callback as one transition: five 200s, one event, five receipts', async () => {
    const { id, kieTaskId, callbackPath } = await submittedTask('five copies');
    const headers = signatureHeaders(kieTaskId, HMAC_KEY);
    const body = snakeCaseSuccess(kieTaskId);
    const answers = await Promise.all(Array.from({ length: 5 }, () => request(ctx.url).post(callbackPath).set(headers).send(body)));
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 200, 200]);
    expect((await ctx.task(id)).variants).toHaveLength(2);
    await waitFor('the event', () => eventsFor(id).length === 1);
    const outcomes = (await receiptsOf(ctx.testApp, id)).map((r) => r.outcome).sort();
    expect(outcomes).toEqual(['applied', 'duplicate', 'duplicate', 'duplicate', 'duplicate']);
    expect(eventsFor(id)).toHaveLength(1);
  });

  describe('refuses unauthenticated callbacks with 401 and leaves the task unchanged', () => {
    const now = () => Math.floor(Date.now() / 1000);
    const cases: [string, (kieTaskId: string, path: string) => { path: string; headers: Record<string, string> }][] = [
      ['a wrong token', (k, path) => ({ path: path.replace(/\/[^/]+$/, '/wrong-token'), headers: signatureHeaders(k, HMAC_KEY) })],
      [
        'an unknown task',
        (k) => ({ path: '/lyrics/callback/7a4c1c39-5a0e-4a54-9d8a-000000000000/token', headers: signatureHeaders(k, HMAC_KEY) }),
      ],
      ['a forged signature', (k, path) => ({ path, headers: signatureHeaders(k, 'not-the-key') })],
      ['a stale timestamp (301 s old)', (k, path) => ({ path, headers: signatureHeaders(k, HMAC_KEY, now() - 301) })],
      ['a future timestamp (301 s ahead)', (k, path) => ({ path, headers: signatureHeaders(k, HMAC_KEY, now() + 301) })],
      ['missing signature headers', (_, path) => ({ path, headers: {} })],
      [
        'a signature over another task id',
        (_, path) => ({ path, headers: signatureHeaders('ee9c2715375b7837f8bb51d641ff5863', HMAC_KEY) }),
      ],
    ];

    it.each(cases)('%s', async (_, attack) => {
      const { id, kieTaskId, callbackPath } = await submittedTask('attacked');
      const before = await ctx.task(id);
      const { path, headers } = attack(kieTaskId, callbackPath);
      const answer = await request(ctx.url).post(path).set(headers).send(snakeCaseSuccess(kieTaskId)).expect(401);
      expect(JSON.stringify(answer.body)).not.toMatch(/token|hmac/i);
      expect(await ctx.task(id)).toEqual(before);
      expect(eventsFor(id)).toHaveLength(0);
      // A refused signature is recorded against its task; a callback matching no task and token stores nothing.
      expect((await receiptsOf(ctx.testApp, id)).map((r) => r.outcome)).toEqual(path === callbackPath ? ['unauthorized'] : []);
    });
  });

  it("refuses a body whose task id is not the URL's task (401, mismatch), changing nothing", async () => {
    const { id, callbackPath } = await submittedTask('mismatch');
    const other = 'ee9c2715375b7837f8bb51d641ff5863';
    await request(ctx.url).post(callbackPath).set(signatureHeaders(other, HMAC_KEY)).send(snakeCaseSuccess(other)).expect(401);
    expect((await ctx.task(id)).status).toBe('submitted');
    expect((await receiptsOf(ctx.testApp, id)).map((r) => r.outcome)).toEqual(['mismatch']);
  });

  it("fails the task on a failure callback with data: null, keeping KIE's message", async () => {
    const { id } = await ctx.submit('[sandbox:fail] a failing song');
    const task = await ctx.waitForStatus(id, 'failed');
    expect(task.error).toEqual({ code: 'generation_failed', message: ctx.sandbox.task(task.kieTaskId)!.errorMessage });
    expect(task.variants).toEqual([]);
    await waitFor('the event', () => eventsFor(id).length === 1);
    expect(eventsFor(id)[0]).toMatchObject({ name: 'lyrics.failed', task: { status: 'failed' } });
    const delivered = ctx.sandbox.callbacks.find((d) => d.taskId === task.kieTaskId)!;
    expect((delivered.body as { data: { data: unknown } }).data.data).toBeNull();
  });

  it('reads a moderation failure (the KIE failure fixture) as sensitive_content', async () => {
    const { id, kieTaskId, callbackPath } = await submittedTask('moderated');
    const failure = kieFixture('callback-failure-kie.json');
    failure.data.task_id = kieTaskId;
    await request(ctx.url).post(callbackPath).set(signatureHeaders(kieTaskId, HMAC_KEY)).send(failure).expect(200);
    expect((await ctx.task(id)).error).toEqual({ code: 'sensitive_content', message: 'Song Description flagged for moderation' });
  });

  it('answers 200 to a callback for a task already final, changing nothing', async () => {
    const { id, kieTaskId, callbackPath } = await submittedTask('late');
    await request(ctx.url).post(callbackPath).set(signatureHeaders(kieTaskId, HMAC_KEY)).send(snakeCaseSuccess(kieTaskId)).expect(200);
    const done = await ctx.task(id);
    const failure = kieFixture('callback-failure-kie.json');
    failure.data.task_id = kieTaskId;
    const answer = await request(ctx.url).post(callbackPath).set(signatureHeaders(kieTaskId, HMAC_KEY)).send(failure).expect(200);
    expect(answer.body).toEqual({ status: 'received', outcome: 'already_final' });
    expect(await ctx.task(id)).toEqual(done);
    expect(eventsFor(id)).toHaveLength(1);
  });

  it('applies a callback that arrives before the create was answered, and the late answer does not undo it', async () => {
    const { id } = await ctx.submit('[sandbox:early] a fast song');
    const task = await ctx.waitForStatus(id, 'succeeded');
    const [create] = ctx.createsFor('[sandbox:early] a fast song');
    const [delivery] = await answeredDeliveries(ctx.sandbox, create.taskId!);
    expect(delivery.status).toBe(200);
    // The callback was answered before the create's answer left the sandbox, and that answer changed nothing.
    const createAnsweredAt = await waitFor('the create to be answered', () => create.finishedAt);
    expect(delivery.sentAt).toBeLessThan(createAnsweredAt);
    await waitFor('the create answer to be handled', () => create.httpStatus === 200);
    expect((await ctx.task(id)).status).toBe('succeeded');
    expect(task.kieTaskId).toBe(create.taskId);
    expect(task.variants).toHaveLength(ctx.sandbox.task(create.taskId!)!.variants.length);
    await waitFor('the event', () => eventsFor(id).length === 1);
    expect((await receiptsOf(ctx.testApp, id)).map((r) => r.outcome)).toEqual(['applied']);
  });

  it('applies duplicated and camelCase deliveries from the sandbox once', async () => {
    const { id } = await ctx.submit('[sandbox:duplicate=3,camel,lyricsData] twice told');
    const task = await ctx.waitForStatus(id, 'succeeded');
    await waitFor('three deliveries', () => ctx.sandbox.callbacks.filter((d) => d.taskId === task.kieTaskId).length === 3);
    await waitFor('three receipts', async () => (await receiptsOf(ctx.testApp, id)).length === 3);
    expect((await receiptsOf(ctx.testApp, id)).map((r) => r.outcome).sort()).toEqual(['applied', 'duplicate', 'duplicate']);
    expect(task.variants.map((v: { title: string }) => v.title)).toEqual(ctx.sandbox.task(task.kieTaskId)!.variants.map((v) => v.title));
    expect(eventsFor(id)).toHaveLength(1);

    // The client sees the same trail, oldest first, without KIE's bodies.
    const { items } = (await request(ctx.url).get(`/lyrics/${id}/callbacks`).expect(200)).body;
    expect(items.map((item: { outcome: string }) => item.outcome)).toEqual(['applied', 'duplicate', 'duplicate']);
    for (const item of items) {
      expect(Object.keys(item).sort()).toEqual(['outcome', 'receivedAt', 'remoteAddress']);
      expect(item.remoteAddress).toMatch(/127\.0\.0\.1/);
    }
    expect(items.map((item: { receivedAt: string }) => item.receivedAt)).toEqual(
      items.map((item: { receivedAt: string }) => item.receivedAt).sort(),
    );
    await request(ctx.url).get('/lyrics/00000000-0000-4000-8000-000000000000/callbacks').expect(404);
    await request(ctx.url).get('/lyrics/not-a-uuid/callbacks').expect(400);
  });

  describe('bad bodies: never a 5xx, and the process stays healthy', () => {
    it('answers 413 to a body over the limit', async () => {
      const { kieTaskId, callbackPath } = await submittedTask('huge');
      const body = { ...snakeCaseSuccess(kieTaskId), padding: 'x'.repeat(300 * 1024) };
      await request(ctx.url).post(callbackPath).set(signatureHeaders(kieTaskId, HMAC_KEY)).send(body).expect(413);
    });

    it('answers 400 to malformed JSON, and records it', async () => {
      const { id, kieTaskId, callbackPath } = await submittedTask('garbled');
      await request(ctx.url)
        .post(callbackPath)
        .set(signatureHeaders(kieTaskId, HMAC_KEY))
        .set('content-type', 'application/json')
        .send('{"code": 200, "data": {')
        .expect(400);
      expect(await receiptsOf(ctx.testApp, id)).toMatchObject([
        { outcome: 'malformed', body: '{"code": 200, "data": {', detail: expect.stringContaining('not valid JSON') },
      ]);
      expect((await ctx.task(id)).status).toBe('submitted');
    });

    it('answers 400 to JSON that is not an object, and records it', async () => {
      const { id, kieTaskId, callbackPath } = await submittedTask('shapeless');
      const answer = await request(ctx.url)
        .post(callbackPath)
        .set(signatureHeaders(kieTaskId, HMAC_KEY))
        .send([{ hello: 'world' }])
        .expect(400);
      expect(answer.body.message).toMatch(/not a JSON object/);
      expect((await receiptsOf(ctx.testApp, id)).map((r) => r.outcome)).toEqual(['malformed']);
    });

    afterAll(async () => {
      await request(ctx.url).get('/health').expect(200);
    });
  });

  it('documents the route in Swagger as KIE webhook', async () => {
    const { body } = await request(ctx.url).get('/docs-json').expect(200);
    const route = body.paths['/lyrics/callback/{taskId}/{token}'].post;
    expect(route.tags).toEqual(['kie-webhook']);
    expect(route.summary).toMatch(/called by KIE, not by clients/);
  });
});

describe("KIE's callbacks, confirmed with record-info (LYRICS_CONFIRM_CALLBACKS=true)", () => {
  const afterTest = teardownAfterEach();

  it("stores record-info's result, not the (unsigned) body's", async () => {
    const ctx = await startLyricsApp(afterTest, {
      sandbox: { hmacKey: HMAC_KEY, resultDelayMs: 0 },
      env: { KIE_WEBHOOK_HMAC_KEY: HMAC_KEY, LYRICS_CONFIRM_CALLBACKS: 'true' },
    });
    const { id } = await ctx.submit('[sandbox:drop] confirmed');
    const task = await ctx.waitForStatus(id, 'submitted');
    const tampered = kieFixture('callback-success-kie-snake_case.json');
    tampered.data.task_id = task.kieTaskId;
    tampered.data.data[0].text = 'words KIE never wrote';
    await request(ctx.url)
      .post(ctx.callbackPathOf(task.kieTaskId))
      .set(signatureHeaders(task.kieTaskId, HMAC_KEY))
      .send(tampered)
      .expect(200);
    const stored = await ctx.task(id);
    expect(stored.variants.map((v: { text: string }) => v.text)).toEqual(ctx.sandbox.task(task.kieTaskId)!.variants.map((v) => v.text));
    expect(ctx.requestsTo('record-info')).toHaveLength(1);
  });

  it('counts each confirming read against the record-info budget: with none left, the callback is recorded and polling reads the result', async () => {
    const ctx = await startLyricsApp(afterTest, {
      sandbox: { hmacKey: HMAC_KEY, resultDelayMs: 300 },
      // One read per minute in all, and no poll before the test ends.
      env: {
        KIE_WEBHOOK_HMAC_KEY: HMAC_KEY,
        LYRICS_CONFIRM_CALLBACKS: 'true',
        LYRICS_POLL_BUDGET: '1',
        LYRICS_POLL_WINDOW_MS: '60000',
        LYRICS_POLL_INITIAL_DELAY_MS: '60000',
      },
    });
    const first = await ctx.submit('confirmed with the one read of the window');
    await ctx.waitForStatus(first.id, 'succeeded');
    const second = await ctx.submit('a callback beyond the budget');
    await waitFor('the second callback to be recorded', async () => {
      const receipts = await receiptsOf(ctx.testApp, second.id);
      return receipts.some((receipt) => receipt.outcome === 'unconfirmed');
    });
    expect(ctx.requestsTo('record-info')).toHaveLength(1);
    expect(await ctx.task(second.id)).toMatchObject({ status: 'submitted', variants: [] });
  });

  it("answers within KIE's 15 s even when record-info is slower: the confirming read gives up first", async () => {
    const ctx = await startLyricsApp(afterTest, {
      sandbox: { hmacKey: HMAC_KEY, resultDelayMs: 0, recordInfoLatencyMs: 12_000 },
      env: { KIE_WEBHOOK_HMAC_KEY: HMAC_KEY, LYRICS_CONFIRM_CALLBACKS: 'true', KIE_TIMEOUT_MS: '15000', LYRICS_LEASE_MS: '30000' },
    });
    const { id } = await ctx.submit('[sandbox:drop] confirmed by a slow record-info');
    const task = await ctx.waitForStatus(id, 'submitted');
    const body = kieFixture('callback-success-kie-snake_case.json');
    body.data.task_id = task.kieTaskId;
    const started = Date.now();
    await request(ctx.url).post(ctx.callbackPathOf(task.kieTaskId)).set(signatureHeaders(task.kieTaskId, HMAC_KEY)).send(body).expect(200);
    // Answered inside KIE's limit, and before record-info's answer came (12 s): the read gave up, unconfirmed.
    expect(Date.now() - started).toBeLessThan(15_000);
    expect((await receiptsOf(ctx.testApp, id)).map((receipt) => receipt.outcome)).toEqual(['unconfirmed']);
  }, 30_000);
});
