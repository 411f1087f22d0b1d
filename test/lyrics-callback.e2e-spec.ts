import request from 'supertest';
import { KieSandbox } from '../src/sandbox/kie-sandbox';
import { LyricsFinalEvent } from '../src/lyrics/lyrics.events';
import { answeredDeliveries, kieFixture, receiptsOf, recordEvents, signatureHeaders } from './support/callbacks';
import { startTestApp, TestApp } from './support/test-app';
import { waitFor } from './support/wait';

const HMAC_KEY = 'callback-test-hmac-key';

describe("KIE's callbacks", () => {
  let sandbox: KieSandbox;
  let testApp: TestApp;
  let events: LyricsFinalEvent[];

  beforeAll(async () => {
    sandbox = await KieSandbox.start({ hmacKey: HMAC_KEY, resultDelayMs: 30, callbackRetryDelayMs: 20 });
    testApp = await startTestApp({ sandbox, env: { KIE_WEBHOOK_HMAC_KEY: HMAC_KEY } });
    events = recordEvents(testApp);
  });

  afterAll(async () => {
    await testApp.close();
    await sandbox.stop();
  });

  const getTask = async (id: string) => (await request(testApp.url).get(`/lyrics/${id}`).expect(200)).body;
  const waitForStatus = (id: string, status: string) =>
    waitFor(`task ${id} to be ${status}`, async () => {
      const task = await getTask(id);
      return task.status === status ? task : undefined;
    });
  const eventsFor = (id: string) => events.filter((event) => event.task.id === id);

  /** A task KIE accepted and will never call back about, and the callBackUrl KIE was given for it. */
  async function submittedTask(prompt: string) {
    const { body } = await request(testApp.url)
      .post('/lyrics')
      .send({ prompt: `[sandbox:drop] ${prompt}` })
      .expect(202);
    const task = await waitForStatus(body.id, 'submitted');
    const create = sandbox.requests.find((r) => r.endpoint === 'create' && r.taskId === task.kieTaskId)!;
    return { id: body.id as string, kieTaskId: task.kieTaskId as string, callbackPath: new URL(create.callBackUrl!).pathname };
  }

  function snakeCaseSuccess(kieTaskId: string) {
    const body = kieFixture('callback-success-kie-snake_case.json');
    body.data.task_id = kieTaskId;
    return body;
  }

  it("applies the sandbox's signed callback: succeeded with exactly its variants, one event, one receipt, no polling", async () => {
    const { body } = await request(testApp.url).post('/lyrics').send({ prompt: 'A song about the tide' }).expect(202);
    const task = await waitForStatus(body.id, 'succeeded');
    const truth = sandbox.task(task.kieTaskId)!;
    expect(task.variants).toEqual(truth.variants.map((v) => ({ title: v.title, text: v.text, status: 'complete', errorMessage: null })));
    expect(task.variants.length).toBeGreaterThanOrEqual(2);
    expect(task.error).toBeNull();
    expect((await answeredDeliveries(sandbox, task.kieTaskId)).map((d) => d.status)).toEqual([200]);
    await waitFor('the event', () => eventsFor(body.id).length === 1);
    expect(eventsFor(body.id)[0]).toMatchObject({
      name: 'lyrics.succeeded',
      task: { id: body.id, status: 'succeeded', variants: task.variants },
    });
    const receipts = await receiptsOf(testApp, body.id);
    expect(receipts).toMatchObject([
      { outcome: 'applied', kie_task_id: task.kieTaskId, remote_address: expect.stringContaining('127.0.0.1') },
    ]);
    expect(JSON.parse(receipts[0].body).data.task_id).toBe(task.kieTaskId);
    const [{ result_source }] = await testApp.dataSource.query('SELECT result_source FROM lyrics_tasks WHERE id = $1', [body.id]);
    expect(result_source).toBe('callback');
    expect(sandbox.requests.filter((r) => r.endpoint === 'record-info')).toHaveLength(0);
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
    await request(testApp.url).post(callbackPath).set(signatureHeaders(kieTaskId, HMAC_KEY)).send(makeBody(kieTaskId)).expect(200);
    const task = await getTask(id);
    expect(task.status).toBe('succeeded');
    expect(task.variants.map((v: { title: string }) => v.title)).toEqual(['Harbor Night', 'City Sleeps']);
    expect(task.variants[0].text).toContain('[Verse]\nLamplight on the harbor wall');
  });

  it('takes five concurrent copies of one callback as one transition: five 200s, one event, five receipts', async () => {
    const { id, kieTaskId, callbackPath } = await submittedTask('five copies');
    const headers = signatureHeaders(kieTaskId, HMAC_KEY);
    const body = snakeCaseSuccess(kieTaskId);
    const answers = await Promise.all(Array.from({ length: 5 }, () => request(testApp.url).post(callbackPath).set(headers).send(body)));
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 200, 200]);
    expect((await getTask(id)).variants).toHaveLength(2);
    await waitFor('the event', () => eventsFor(id).length === 1);
    const outcomes = (await receiptsOf(testApp, id)).map((r) => r.outcome).sort();
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
      const before = await getTask(id);
      const { path, headers } = attack(kieTaskId, callbackPath);
      const answer = await request(testApp.url).post(path).set(headers).send(snakeCaseSuccess(kieTaskId)).expect(401);
      expect(JSON.stringify(answer.body)).not.toMatch(/token|hmac/i);
      expect(await getTask(id)).toEqual(before);
      expect(eventsFor(id)).toHaveLength(0);
      if (path === callbackPath) expect((await receiptsOf(testApp, id)).map((r) => r.outcome)).toEqual(['unauthorized']);
    });
  });

  it("refuses a body whose task id is not the URL's task (401, mismatch), changing nothing", async () => {
    const { id, callbackPath } = await submittedTask('mismatch');
    const other = 'ee9c2715375b7837f8bb51d641ff5863';
    await request(testApp.url).post(callbackPath).set(signatureHeaders(other, HMAC_KEY)).send(snakeCaseSuccess(other)).expect(401);
    expect((await getTask(id)).status).toBe('submitted');
    expect((await receiptsOf(testApp, id)).map((r) => r.outcome)).toEqual(['mismatch']);
  });

  it("fails the task on a failure callback with data: null, keeping KIE's message", async () => {
    const { body } = await request(testApp.url).post('/lyrics').send({ prompt: '[sandbox:fail] a failing song' }).expect(202);
    const task = await waitForStatus(body.id, 'failed');
    expect(task.error).toEqual({ code: 'generation_failed', message: sandbox.task(task.kieTaskId)!.errorMessage });
    expect(task.variants).toEqual([]);
    await waitFor('the event', () => eventsFor(body.id).length === 1);
    expect(eventsFor(body.id)[0]).toMatchObject({ name: 'lyrics.failed', task: { status: 'failed' } });
    const delivered = sandbox.callbacks.find((d) => d.taskId === task.kieTaskId)!;
    expect((delivered.body as { data: { data: unknown } }).data.data).toBeNull();
  });

  it('reads a moderation failure (the KIE failure fixture) as sensitive_content', async () => {
    const { id, kieTaskId, callbackPath } = await submittedTask('moderated');
    const failure = kieFixture('callback-failure-kie.json');
    failure.data.task_id = kieTaskId;
    await request(testApp.url).post(callbackPath).set(signatureHeaders(kieTaskId, HMAC_KEY)).send(failure).expect(200);
    expect((await getTask(id)).error).toEqual({ code: 'sensitive_content', message: 'Song Description flagged for moderation' });
  });

  it('answers 200 to a callback for a task already final, changing nothing', async () => {
    const { id, kieTaskId, callbackPath } = await submittedTask('late');
    await request(testApp.url).post(callbackPath).set(signatureHeaders(kieTaskId, HMAC_KEY)).send(snakeCaseSuccess(kieTaskId)).expect(200);
    const done = await getTask(id);
    const failure = kieFixture('callback-failure-kie.json');
    failure.data.task_id = kieTaskId;
    const answer = await request(testApp.url).post(callbackPath).set(signatureHeaders(kieTaskId, HMAC_KEY)).send(failure).expect(200);
    expect(answer.body).toEqual({ status: 'received', outcome: 'already_final' });
    expect(await getTask(id)).toEqual(done);
    expect(eventsFor(id)).toHaveLength(1);
  });

  it('applies a callback that arrives before the create was answered, and the late answer does not undo it', async () => {
    const { body } = await request(testApp.url).post('/lyrics').send({ prompt: '[sandbox:early] a fast song' }).expect(202);
    const task = await waitForStatus(body.id, 'succeeded');
    const create = sandbox.requests.find((r) => r.endpoint === 'create' && r.prompt === '[sandbox:early] a fast song')!;
    const [delivery] = await answeredDeliveries(sandbox, create.taskId!);
    expect(delivery.status).toBe(200);
    // The callback was answered before the create's answer left the sandbox, and that answer changed nothing.
    const createAnsweredAt = await waitFor('the create to be answered', () => create.finishedAt);
    expect(delivery.sentAt).toBeLessThan(createAnsweredAt);
    await waitFor('the create answer to be handled', () => create.httpStatus === 200);
    expect((await request(testApp.url).get(`/lyrics/${body.id}`).expect(200)).body.status).toBe('succeeded');
    expect(task.kieTaskId).toBe(create.taskId);
    expect(task.variants).toHaveLength(sandbox.task(create.taskId!)!.variants.length);
    await waitFor('the event', () => eventsFor(body.id).length === 1);
    expect((await receiptsOf(testApp, body.id)).map((r) => r.outcome)).toEqual(['applied']);
  });

  it('applies duplicated and camelCase deliveries from the sandbox once', async () => {
    const { body } = await request(testApp.url)
      .post('/lyrics')
      .send({ prompt: '[sandbox:duplicate=3,camel,lyricsData] twice told' })
      .expect(202);
    const task = await waitForStatus(body.id, 'succeeded');
    await waitFor('three deliveries', () => sandbox.callbacks.filter((d) => d.taskId === task.kieTaskId).length === 3);
    await waitFor('three receipts', async () => (await receiptsOf(testApp, body.id)).length === 3);
    expect((await receiptsOf(testApp, body.id)).map((r) => r.outcome).sort()).toEqual(['applied', 'duplicate', 'duplicate']);
    expect(task.variants.map((v: { title: string }) => v.title)).toEqual(sandbox.task(task.kieTaskId)!.variants.map((v) => v.title));
    expect(eventsFor(body.id)).toHaveLength(1);
  });

  describe('bad bodies: never a 5xx, and the process stays healthy', () => {
    it('answers 413 to a body over the limit', async () => {
      const { kieTaskId, callbackPath } = await submittedTask('huge');
      const body = { ...snakeCaseSuccess(kieTaskId), padding: 'x'.repeat(300 * 1024) };
      await request(testApp.url).post(callbackPath).set(signatureHeaders(kieTaskId, HMAC_KEY)).send(body).expect(413);
    });

    it('answers 400 to malformed JSON, and records it', async () => {
      const { id, kieTaskId, callbackPath } = await submittedTask('garbled');
      await request(testApp.url)
        .post(callbackPath)
        .set(signatureHeaders(kieTaskId, HMAC_KEY))
        .set('content-type', 'application/json')
        .send('{"code": 200, "data": {')
        .expect(400);
      expect(await receiptsOf(testApp, id)).toMatchObject([
        { outcome: 'malformed', body: '{"code": 200, "data": {', detail: expect.stringContaining('not valid JSON') },
      ]);
      expect((await getTask(id)).status).toBe('submitted');
    });

    it('answers 400 to JSON that is not a callback', async () => {
      const { kieTaskId, callbackPath } = await submittedTask('shapeless');
      const answer = await request(testApp.url)
        .post(callbackPath)
        .set(signatureHeaders(kieTaskId, HMAC_KEY))
        .send({ hello: 'world' })
        .expect(400);
      expect(answer.body.message).toMatch(/data/);
    });

    afterAll(async () => {
      await request(testApp.url).get('/health').expect(200);
    });
  });

  it('documents the route in Swagger as KIE webhook', async () => {
    const { body } = await request(testApp.url).get('/docs-json').expect(200);
    const route = body.paths['/lyrics/callback/{taskId}/{token}'].post;
    expect(route.tags).toEqual(['kie-webhook']);
    expect(route.summary).toMatch(/called by KIE, not by clients/);
  });
});

describe("KIE's callbacks, confirmed with record-info (LYRICS_CONFIRM_CALLBACKS=true)", () => {
  it("stores record-info's result, not the (unsigned) body's", async () => {
    const sandbox = await KieSandbox.start({ hmacKey: HMAC_KEY, resultDelayMs: 0 });
    const testApp = await startTestApp({ sandbox, env: { KIE_WEBHOOK_HMAC_KEY: HMAC_KEY, LYRICS_CONFIRM_CALLBACKS: 'true' } });
    try {
      const { body } = await request(testApp.url).post('/lyrics').send({ prompt: '[sandbox:drop] confirmed' }).expect(202);
      const task = await waitFor('submitted', async () => {
        const t = (await request(testApp.url).get(`/lyrics/${body.id}`)).body;
        return t.status === 'submitted' ? t : undefined;
      });
      const create = sandbox.requests.find((r) => r.taskId === task.kieTaskId && r.endpoint === 'create')!;
      const tampered = kieFixture('callback-success-kie-snake_case.json');
      tampered.data.task_id = task.kieTaskId;
      tampered.data.data[0].text = 'words KIE never wrote';
      await request(testApp.url)
        .post(new URL(create.callBackUrl!).pathname)
        .set(signatureHeaders(task.kieTaskId, HMAC_KEY))
        .send(tampered)
        .expect(200);
      const stored = (await request(testApp.url).get(`/lyrics/${body.id}`)).body;
      expect(stored.variants.map((v: { text: string }) => v.text)).toEqual(sandbox.task(task.kieTaskId)!.variants.map((v) => v.text));
      expect(sandbox.requests.filter((r) => r.endpoint === 'record-info')).toHaveLength(1);
    } finally {
      await testApp.close();
      await sandbox.stop();
    }
  });
});
