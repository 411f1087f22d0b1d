import { ChildProcess, execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer, IncomingHttpHeaders, Server } from 'node:http';
import { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { verifyWebhook } from '../src/lyrics/kie/kie-signature';
import { KieSandbox, KieSandboxOptions, SandboxDelivery } from '../src/sandbox/kie-sandbox';
import { teardownAfterEach } from './support/teardown';
import { waitFor } from './support/wait';

const HMAC_KEY = 'kie-sim-test-hmac-key-0001';
const API_KEY = 'sandbox-test-key';
const TASK_ID = /^[0-9a-f]{32}$/;

// Parsed JSON from the wire; the assertions check its shape.
type Json = any;

interface Received {
  body: Json;
  headers: IncomingHttpHeaders;
}

/** The callback receiver: records every POST; answers 200 unless told to answer otherwise, or not at all. */
class Receiver {
  readonly received: Received[] = [];
  readonly plan: Array<number | 'no-answer'> = [];
  onReceive?: () => void;

  private constructor(
    private readonly server: Server,
    readonly url: string,
  ) {}

  static async start(): Promise<Receiver> {
    const server = createServer();
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const receiver = new Receiver(server, `http://127.0.0.1:${(server.address() as AddressInfo).port}/kie/callback`);
    server.on('request', async (req, res) => {
      const chunks: Buffer[] = [];
      for await (const chunk of req) chunks.push(chunk as Buffer);
      receiver.received.push({ body: JSON.parse(Buffer.concat(chunks).toString('utf8')), headers: req.headers });
      receiver.onReceive?.();
      const answer = receiver.plan.shift() ?? 200;
      if (answer !== 'no-answer') res.writeHead(answer, { 'Content-Type': 'application/json' }).end('{"status":"received"}');
    });
    return receiver;
  }

  /** Callback bodies of one task, whichever spelling carries its id. */
  bodiesFor(taskId: string): Json[] {
    return this.received.map((r) => r.body).filter((body) => (body.data?.task_id ?? body.data?.taskId ?? body.taskId) === taskId);
  }

  forget(): void {
    this.received.length = 0;
    this.plan.length = 0;
    this.onReceive = undefined;
  }

  async close(): Promise<void> {
    const closed = new Promise((resolve) => this.server.close(resolve));
    this.server.closeAllConnections();
    await closed;
  }
}

let receiver: Receiver;
let sandbox: KieSandbox;
const afterTest = teardownAfterEach();

/** A sandbox of the test's own, stopped after it. */
async function startSandbox(options: KieSandboxOptions): Promise<KieSandbox> {
  return afterTest.add(await KieSandbox.start({ resultDelayMs: 30, callbackRetryDelayMs: 10, ...options }), (own) => own.stop());
}

async function call(
  target: KieSandbox | string,
  path: string,
  init: { method?: string; key?: string | null; body?: string; signal?: AbortSignal } = {},
): Promise<{ status: number; contentType: string | null; body: Json }> {
  const base = typeof target === 'string' ? target : target.url;
  const key = init.key === undefined ? API_KEY : init.key;
  const response = await fetch(`${base}${path}`, {
    method: init.method ?? 'GET',
    headers: { 'Content-Type': 'application/json', ...(key === null ? {} : { Authorization: `Bearer ${key}` }) },
    body: init.body,
    signal: init.signal,
  });
  return { status: response.status, contentType: response.headers.get('content-type'), body: await response.json() };
}

function create(target: KieSandbox | string, prompt: string, options: { key?: string; signal?: AbortSignal } = {}) {
  return call(target, '/api/v1/lyrics', { method: 'POST', body: JSON.stringify({ prompt, callBackUrl: receiver.url }), ...options });
}

async function createTask(target: KieSandbox | string, prompt: string, key?: string): Promise<string> {
  const answer = await create(target, prompt, { key });
  expect(answer).toMatchObject({ status: 200, body: { code: 200, msg: 'success', data: { taskId: expect.stringMatching(TASK_ID) } } });
  return answer.body.data.taskId;
}

/** A create whose answer may be no JSON at all: its status, content type and raw text. */
async function createRaw(target: KieSandbox, prompt: string, signal?: AbortSignal) {
  const response = await fetch(`${target.url}/api/v1/lyrics`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${API_KEY}` },
    body: JSON.stringify({ prompt, callBackUrl: receiver.url }),
    signal,
  });
  return { status: response.status, contentType: response.headers.get('content-type'), text: await response.text() };
}

/** The sandbox's tasks as its inspection API serves them. */
async function listedTasks(target: KieSandbox): Promise<Json[]> {
  return (await (await fetch(`${target.url}/sandbox/tasks`)).json()) as Json[];
}

function recordInfo(target: KieSandbox, taskId: string, key?: string) {
  return call(target, `/api/v1/lyrics/record-info?taskId=${taskId}`, { key });
}

function waitForCallbacks(taskId: string, count = 1): Promise<Json[]> {
  return waitFor(`${count} callback(s) of ${taskId}`, () => receiver.bodiesFor(taskId).length >= count && receiver.bodiesFor(taskId), {
    timeoutMs: 5000,
    intervalMs: 10,
  });
}

/** The sandbox's records of a task's delivery attempts, once `count` of them have finished. */
function settledDeliveries(target: KieSandbox, taskId: string, count = 1): Promise<SandboxDelivery[]> {
  return waitFor(`${count} finished delivery attempt(s) of ${taskId}`, () => {
    const settled = target.callbacks.filter((d) => d.taskId === taskId && (d.status !== undefined || d.error !== undefined));
    return settled.length >= count && settled;
  });
}

beforeAll(async () => {
  receiver = await Receiver.start();
  sandbox = await KieSandbox.start({ apiKeys: [API_KEY], hmacKey: HMAC_KEY, resultDelayMs: 30, callbackRetryDelayMs: 10 });
});

afterEach(() => {
  sandbox.reset();
  receiver.forget();
});

afterAll(async () => {
  await sandbox.stop();
  await receiver.close();
});

describe('KIE sandbox: API surface', () => {
  it("answers in KIE's envelope, and refuses a missing or unknown key with the documented 401", async () => {
    const refused = { status: 401, contentType: 'application/json', body: { code: 401, msg: 'You do not have access permissions' } };
    expect(await call(sandbox, '/api/v1/chat/credit', { key: null })).toEqual(refused);
    expect(await call(sandbox, '/api/v1/chat/credit', { key: 'someone-else' })).toEqual(refused);
    expect(await call(sandbox, '/api/v1/chat/credit', { key: '' })).toEqual(refused);
    expect(await create(sandbox, 'A song', { key: 'someone-else' })).toEqual(refused);

    expect(await call(sandbox, '/api/v1/chat/credit')).toEqual({
      status: 200,
      contentType: 'application/json',
      body: { code: 200, msg: 'success', data: 10000 },
    });
    expect(await call(sandbox, '/api/v1/music')).toMatchObject({ status: 404, body: { code: 404, msg: 'Not found', data: null } });
    expect(await call(sandbox, '/api/v1/lyrics/record-info')).toMatchObject({ status: 200, body: { code: 400, data: null } });
    expect(await recordInfo(sandbox, 'f'.repeat(32))).toEqual({
      status: 200,
      contentType: 'application/json',
      body: { code: 422, msg: 'recordInfo is null', data: null },
    });
    expect(sandbox.requests.map((r) => [r.endpoint, r.httpStatus, r.code])).toEqual([
      ['credit', 401, 401],
      ['credit', 401, 401],
      ['credit', 401, 401],
      ['create', 401, 401],
      ['credit', 200, 200],
      ['unknown', 404, 404],
      ['record-info', 200, 400],
      ['record-info', 200, 422],
    ]);
  });

  it('accepts any non-empty bearer when no keys are configured', async () => {
    const open = await startSandbox({});
    expect(await call(open, '/api/v1/chat/credit', { key: 'anything' })).toMatchObject({ status: 200, body: { code: 200 } });
    expect(await call(open, '/api/v1/chat/credit', { key: null })).toMatchObject({ status: 401 });
  });

  it('validates a create as KIE does: required fields, JSON, a prompt of at most 200 characters, known markers', async () => {
    const post = (body: string) => call(sandbox, '/api/v1/lyrics', { method: 'POST', body });
    const refusal = (code: number, msg: string) => ({ status: 200, contentType: 'application/json', body: { code, msg, data: null } });
    expect(await post('{}')).toEqual(refusal(400, 'prompt is required'));
    expect(await post(JSON.stringify({ prompt: 42, callBackUrl: receiver.url }))).toEqual(refusal(400, 'prompt is required'));
    expect(await post(JSON.stringify({ prompt: 'A song' }))).toEqual(refusal(400, 'callBackUrl is required'));
    expect(await post(JSON.stringify({ prompt: 'A song', callBackUrl: 'nowhere' }))).toEqual(
      refusal(400, 'callBackUrl must be an http(s) URL'),
    );
    expect(await post('{"prompt":')).toEqual(refusal(400, 'Request body must be JSON'));
    expect(await create(sandbox, 'x'.repeat(201))).toEqual(refusal(413, 'Theme or prompt too long'));
    expect(await create(sandbox, 'A song [sandbox:explode]')).toEqual(refusal(400, 'unknown sandbox marker "explode"'));
    expect(await create(sandbox, 'A song [sandbox:delay=soon]')).toMatchObject({ body: { code: 400 } });
    await createTask(sandbox, 'x'.repeat(200));
    await createTask(sandbox, '🎵'.repeat(200));
    expect(sandbox.tasks()).toHaveLength(2);
  });

  it('serves its history and tasks under /sandbox/, without auth, and resets them', async () => {
    const taskId = await createTask(sandbox, 'A song about inspection');
    await waitForCallbacks(taskId);
    const inspect = async (path: string, method = 'GET') => {
      const response = await fetch(`${sandbox.url}${path}`, { method });
      return { status: response.status, body: (await response.json()) as Json };
    };
    expect(await inspect(`/sandbox/tasks/${taskId}`)).toEqual({ status: 200, body: JSON.parse(JSON.stringify(sandbox.task(taskId))) });
    expect((await inspect('/sandbox/tasks')).body.map((t: Json) => t.taskId)).toEqual([taskId]);
    expect((await inspect('/sandbox/requests')).body).toEqual([
      expect.objectContaining({
        endpoint: 'create',
        taskId,
        prompt: 'A song about inspection',
        callBackUrl: receiver.url,
        httpStatus: 200,
        code: 200,
      }),
    ]);
    expect((await inspect('/sandbox/callbacks')).body).toEqual([expect.objectContaining({ taskId, attempt: 1, status: 200 })]);
    expect((await inspect('/sandbox/tasks/nope')).status).toBe(404);

    expect((await inspect('/sandbox/reset', 'POST')).status).toBe(200);
    expect(sandbox.tasks()).toEqual([]);
    expect(sandbox.requests).toEqual([]);
    expect(sandbox.callbacks).toEqual([]);
  });
});

describe('KIE sandbox: results and callbacks', () => {
  it("calls back in KIE's snake_case with 2 or 3 signed variants", async () => {
    const taskId = await createTask(sandbox, 'A calm song about the sea');
    const [received] = await waitForCallbacks(taskId);
    const task = sandbox.task(taskId)!;

    expect(received).toEqual({
      code: 200,
      msg: 'All generated successfully.',
      data: {
        callbackType: 'complete',
        task_id: taskId,
        data: task.variants.map(({ text, title }) => ({ text, title, status: 'complete', error_message: '' })),
      },
    });
    expect(task.variants.length).toBeGreaterThanOrEqual(2);
    expect(task.variants.length).toBeLessThanOrEqual(3);
    for (const variant of task.variants) {
      expect(variant.title).toMatch(/\S/);
      expect(variant.text).toMatch(/^\[Verse\]\n(.+\n)+\n\[Chorus\]\n.+/);
    }

    const { headers } = receiver.received[0];
    expect(headers['content-type']).toBe('application/json');
    const check = verifyWebhook({
      taskId,
      timestamp: headers['x-webhook-timestamp'] as string,
      signature: headers['x-webhook-signature'] as string,
      hmacKey: HMAC_KEY,
      toleranceSeconds: 300,
    });
    expect(check).toEqual({ valid: true });
    expect(await settledDeliveries(sandbox, taskId)).toEqual([
      expect.objectContaining({
        taskId,
        url: receiver.url,
        copy: 1,
        attempt: 1,
        status: 200,
        spelling: 'snake',
        arrayKey: 'data',
        forged: false,
        body: received,
      }),
    ]);
    expect(task).toMatchObject({ outcome: 'success', errorMessage: null, readyAt: task.createdAt + 30 });
  });

  it('sends no signature headers without an hmacKey', async () => {
    const unsigned = await startSandbox({});
    const taskId = await createTask(unsigned, 'A song without a signature');
    await waitForCallbacks(taskId);
    expect(receiver.received[0].headers).not.toHaveProperty('x-webhook-signature');
    expect(receiver.received[0].headers).not.toHaveProperty('x-webhook-timestamp');
  });

  it('writes the same lyrics for the same prompt, and other lyrics for another prompt', async () => {
    const first = await createTask(sandbox, 'A calm song about the sea');
    const again = await createTask(sandbox, 'A calm song about the sea');
    const other = await createTask(sandbox, 'A loud song about the city');
    expect(sandbox.task(again)!.variants).toEqual(sandbox.task(first)!.variants);
    expect(sandbox.task(other)!.variants).not.toEqual(sandbox.task(first)!.variants);
  });

  it('record-info: PENDING until the result is ready, then SUCCESS with the variants under data', async () => {
    const prompt = 'A slow song [sandbox:delay=300]';
    const taskId = await createTask(sandbox, prompt);
    const param = JSON.stringify({ prompt, callBackUrl: receiver.url });
    expect(await recordInfo(sandbox, taskId)).toEqual({
      status: 200,
      contentType: 'application/json',
      body: {
        code: 200,
        msg: 'success',
        data: { taskId, param, response: null, status: 'PENDING', type: 'LYRICS', errorCode: null, errorMessage: null },
      },
    });
    await waitForCallbacks(taskId);
    const items = sandbox.task(taskId)!.variants.map(({ text, title }) => ({ text, title, status: 'complete', errorMessage: '' }));
    expect((await recordInfo(sandbox, taskId)).body).toEqual({
      code: 200,
      msg: 'success',
      data: { taskId, param, response: { taskId, data: items }, status: 'SUCCESS', type: 'LYRICS', errorCode: null, errorMessage: null },
    });
    expect(sandbox.task(taskId)!.recordInfoCalls).toBe(2);
  });

  it('uses lyricsData as the array key: in record-info by option, in record-info and callback by marker', async () => {
    const byOption = await startSandbox({ recordInfoArrayKey: 'lyricsData' });
    const optionTask = await createTask(byOption, 'A song keyed by option');
    expect((await waitForCallbacks(optionTask))[0].data).toHaveProperty('data');
    expect((await recordInfo(byOption, optionTask)).body.data.response).toEqual({
      taskId: optionTask,
      lyricsData: expect.arrayContaining([expect.objectContaining({ status: 'complete', errorMessage: '' })]),
    });

    const markerTask = await createTask(sandbox, 'A song keyed by marker [sandbox:lyricsData]');
    const [body] = await waitForCallbacks(markerTask);
    expect(Object.keys(body.data)).toEqual(['callbackType', 'task_id', 'lyricsData']);
    expect(Object.keys((await recordInfo(sandbox, markerTask)).body.data.response)).toEqual(['taskId', 'lyricsData']);
    expect(sandbox.callbacks[0]).toMatchObject({ taskId: markerTask, arrayKey: 'lyricsData' });
  });

  it.each([
    ['fail', 'GENERATE_LYRICS_FAILED', 400, 'Unable to generate lyrics from song description'],
    ['status=GENERATE_LYRICS_FAILED', 'GENERATE_LYRICS_FAILED', 400, 'Unable to generate lyrics from song description'],
    ['status=SENSITIVE_WORD_ERROR', 'SENSITIVE_WORD_ERROR', 400, 'Song Description flagged for moderation'],
    ['status=CREATE_TASK_FAILED', 'CREATE_TASK_FAILED', 500, 'Internal error, please try again later'],
    ['status=CALLBACK_EXCEPTION', 'CALLBACK_EXCEPTION', 500, 'Internal error, please try again later'],
  ])('[sandbox:%s] fails the task as %s, in the callback and in record-info', async (marker, status, code, message) => {
    const taskId = await createTask(sandbox, `A doomed song [sandbox:${marker}]`);
    const [body] = await waitForCallbacks(taskId);
    expect(body).toEqual({ code, msg: message, data: { callbackType: 'complete', task_id: taskId, data: null } });
    expect((await recordInfo(sandbox, taskId)).body.data).toMatchObject({
      response: { taskId, data: [] },
      status,
      type: 'LYRICS',
      errorCode: code,
      errorMessage: message,
    });
    expect(sandbox.task(taskId)).toMatchObject({ outcome: status, variants: [], errorMessage: message });
  });

  it('camel: taskId and errorMessage instead of task_id and error_message, callbackType error on failure', async () => {
    const succeeded = await createTask(sandbox, 'A camel song [sandbox:camel]');
    const failed = await createTask(sandbox, 'A failed camel song [sandbox:camel,status=SENSITIVE_WORD_ERROR]');
    const [success] = await waitForCallbacks(succeeded);
    const [failure] = await waitForCallbacks(failed);
    expect(success).toEqual({
      code: 200,
      msg: 'All generated successfully.',
      data: {
        callbackType: 'complete',
        taskId: succeeded,
        data: sandbox.task(succeeded)!.variants.map(({ text, title }) => ({ text, title, status: 'complete', errorMessage: '' })),
      },
    });
    expect(failure).toEqual({
      code: 400,
      msg: 'Song Description flagged for moderation',
      data: { callbackType: 'error', taskId: failed, data: null },
    });
    // The signature covers the id as the body spells it.
    const headers = receiver.received.find((r) => r.body === success)!.headers;
    expect(
      verifyWebhook({
        taskId: succeeded,
        timestamp: headers['x-webhook-timestamp'] as string,
        signature: headers['x-webhook-signature'] as string,
        hmacKey: HMAC_KEY,
        toleranceSeconds: 300,
      }),
    ).toEqual({ valid: true });
  });

  it('duplicate sends 2 copies, duplicate=N sends N, all alike', async () => {
    const twice = await createTask(sandbox, 'An echo [sandbox:duplicate]');
    const thrice = await createTask(sandbox, 'An echo echo [sandbox:duplicate=3]');
    const copies = await waitForCallbacks(thrice, 3);
    expect(await waitForCallbacks(twice, 2)).toHaveLength(2);
    expect(new Set(copies.map((body) => JSON.stringify(body))).size).toBe(1);
    expect(
      sandbox.callbacks
        .filter((d) => d.taskId === thrice)
        .map((d) => d.copy)
        .sort(),
    ).toEqual([1, 2, 3]);
  });

  it('drop sends no callback, though the task succeeds', async () => {
    const dropped = await createTask(sandbox, 'A lost song [sandbox:drop]');
    // Created later with the same delay, its callback comes after the one a dropped task would have had.
    const later = await createTask(sandbox, 'A found song');
    await waitForCallbacks(later);
    expect(receiver.bodiesFor(dropped)).toEqual([]);
    expect(sandbox.callbacks.map((d) => d.taskId)).toEqual([later]);
    expect((await recordInfo(sandbox, dropped)).body.data.status).toBe('SUCCESS');
  });

  it('forge signs the callback with a wrong key', async () => {
    const taskId = await createTask(sandbox, 'A forged song [sandbox:forge]');
    await waitForCallbacks(taskId);
    const { headers } = receiver.received[0];
    expect(headers['x-webhook-signature']).toMatch(/^[A-Za-z0-9+/]{43}=$/);
    const check = verifyWebhook({
      taskId,
      timestamp: headers['x-webhook-timestamp'] as string,
      signature: headers['x-webhook-signature'] as string,
      hmacKey: HMAC_KEY,
      toleranceSeconds: 300,
    });
    expect(check).toEqual({ valid: false, reason: 'bad_signature' });
    expect(sandbox.callbacks[0]).toMatchObject({ taskId, forged: true });
  });

  it('early delivers the callback before the create is answered', async () => {
    let answered = false;
    let arrivedBeforeAnswer: boolean | undefined;
    receiver.onReceive = () => (arrivedBeforeAnswer ??= !answered);
    const answer = await create(sandbox, 'A hasty song [sandbox:early]').then((a) => {
      answered = true;
      return a;
    });
    expect(arrivedBeforeAnswer).toBe(true);
    const taskId = answer.body.data.taskId;
    expect(receiver.bodiesFor(taskId)).toHaveLength(1);
    expect(sandbox.task(taskId)!.readyAt).toBe(sandbox.task(taskId)!.createdAt);
    expect(sandbox.requests[0].finishedAt).toBeGreaterThanOrEqual(sandbox.callbacks[0].sentAt);
  });

  it('never: PENDING for ever, no callback', async () => {
    const never = await createTask(sandbox, 'An endless song [sandbox:never]');
    const later = await createTask(sandbox, 'A finished song');
    await waitForCallbacks(later);
    expect(receiver.bodiesFor(never)).toEqual([]);
    expect((await recordInfo(sandbox, never)).body.data).toMatchObject({ status: 'PENDING', response: null });
    expect(sandbox.task(never)).toMatchObject({ outcome: 'never', readyAt: null, variants: [] });
  });

  it('null-polls and pending-polls: 422 "recordInfo is null", then PENDING, then the result', async () => {
    const taskId = await createTask(sandbox, 'A shy song [sandbox:null-polls=2,pending-polls=2]');
    await waitForCallbacks(taskId); // ready: what follows is the markers' doing
    const answers = [];
    for (let i = 0; i < 5; i++) {
      const { body } = await recordInfo(sandbox, taskId);
      answers.push(body.code === 200 ? body.data.status : body.code);
    }
    expect(answers).toEqual([422, 422, 'PENDING', 'PENDING', 'SUCCESS']);
    expect(sandbox.task(taskId)!.recordInfoCalls).toBe(5);
  });
});

describe('KIE sandbox: refused creates', () => {
  it('throttle=N answers body code 430 N times, throttle-http=N HTTP 429 N times, then accepts', async () => {
    const throttled = 'A busy song [sandbox:throttle=2]';
    const frequency = { status: 200, body: { code: 430, msg: 'Your call frequency is too high. Please try again later.', data: null } };
    expect(await create(sandbox, throttled)).toMatchObject(frequency);
    expect(await create(sandbox, throttled)).toMatchObject(frequency);
    await createTask(sandbox, throttled);

    const limited = 'A busier song [sandbox:throttle-http=1]';
    expect(await create(sandbox, limited)).toMatchObject({ status: 429, body: { code: 429, data: null } });
    await createTask(sandbox, limited);
    expect(sandbox.tasks()).toHaveLength(2);
  });

  it.each([
    [400, 'Invalid parameters'],
    [401, 'You do not have access permissions'],
    [402, 'Insufficient credits'],
    [413, 'Theme or prompt too long'],
    [422, 'Validation error'],
    [455, 'Service unavailable: system maintenance'],
    [500, 'Server Error - An unexpected error occurred while processing the request'],
    [505, 'Feature disabled'],
  ])('reject=%i answers HTTP 200 with that body code and KIE message, and creates no task', async (code, msg) => {
    expect(await create(sandbox, `A refused song [sandbox:reject=${code}]`)).toMatchObject({ status: 200, body: { code, msg } });
    expect(sandbox.tasks()).toEqual([]);
    expect(await call(sandbox, '/api/v1/chat/credit')).toMatchObject({ body: { data: 10000 } });
  });

  it('http-status=NNN answers that HTTP status with the matching envelope', async () => {
    expect(await create(sandbox, 'A broken song [sandbox:http-status=503]')).toEqual({
      status: 503,
      contentType: 'application/json',
      body: { code: 503, msg: 'Service Unavailable', data: null },
    });
    expect(await create(sandbox, 'A broken song [sandbox:http-status=500]')).toMatchObject({ status: 500, body: { code: 500 } });
    expect(sandbox.tasks()).toEqual([]);
  });

  it('limits creates per key with a sliding window: over the limit is HTTP 429 and not counted', async () => {
    const limited = await startSandbox({ createLimit: { max: 3, windowMs: 500 } });
    const started = Date.now();
    for (let i = 0; i < 3; i++) await createTask(limited, `A song number ${i}`);
    expect(await create(limited, 'One song too many')).toEqual({
      status: 429,
      contentType: 'application/json',
      body: { code: 429, msg: 'Rate limit exceeded: up to 3 requests per 0.5 seconds', data: null },
    });
    // Another key has a window of its own.
    expect(await create(limited, 'A song from elsewhere', { key: 'other-key' })).toMatchObject({ status: 200 });
    // Refused tries do not count, so the first create after the window slid passes.
    await waitFor('a create to pass again', async () => (await create(limited, 'A patient song')).status === 200, { intervalMs: 25 });
    expect(Date.now() - started).toBeGreaterThanOrEqual(500);
    expect(limited.tasks()).toHaveLength(5);
  });

  it('answers body code 402 once the credits are spent', async () => {
    const poor = await startSandbox({ credits: 2 });
    await createTask(poor, 'A song');
    await createTask(poor, 'Another song');
    expect(await create(poor, 'A third song')).toMatchObject({ status: 200, body: { code: 402, msg: 'Insufficient credits', data: null } });
    expect(await call(poor, '/api/v1/chat/credit')).toMatchObject({ body: { code: 200, data: 0 } });
    expect(poor.tasks()).toHaveLength(2);
  });

  it('hang creates the task but never answers the create', async () => {
    const error = await create(sandbox, 'A silent song [sandbox:hang]', { signal: AbortSignal.timeout(300) }).then(
      () => undefined,
      (e: Error) => e,
    );
    expect(error?.name).toBe('TimeoutError');
    const [task] = sandbox.tasks();
    expect(task).toMatchObject({ prompt: 'A silent song [sandbox:hang]', outcome: 'success' });
    expect(sandbox.requests[0]).toMatchObject({ endpoint: 'create', taskId: task.taskId, httpStatus: 0 });
    expect(sandbox.requests[0].finishedAt).toBeUndefined();
    // It was created upstream, so it finishes and calls back like any other task.
    await waitForCallbacks(task.taskId);
  });
});

describe('KIE sandbox: creates accepted but answered oddly', () => {
  it.each([
    [502, 'Bad Gateway'],
    [504, 'Gateway Timeout'],
    [520, 'Error'],
  ])("gateway=%i: the task is made and billed, the answer is a gateway's HTML page", async (status, reason) => {
    const prompt = `A song behind a gateway [sandbox:gateway=${status}]`;
    const answer = await createRaw(sandbox, prompt);
    expect(answer).toMatchObject({ status, contentType: 'text/html' });
    expect(answer.text).toMatch(new RegExp(`^<html>[\\s\\S]*<title>${status} ${reason}</title>[\\s\\S]*</html>\\s*$`));
    const [task] = await listedTasks(sandbox);
    expect(task).toMatchObject({ prompt, outcome: 'success' });
    expect(await call(sandbox, '/api/v1/chat/credit')).toMatchObject({ body: { data: 9999 } });
    expect(sandbox.requests[0]).toMatchObject({ endpoint: 'create', taskId: task.taskId, httpStatus: status, code: undefined });
    // Created upstream: it calls back like any other task.
    await waitForCallbacks(task.taskId);
  });

  it.each([500, 200])('empty-answer=%i: the task is made and billed, the answer has no body', async (status) => {
    const prompt = `A song answered with nothing [sandbox:empty-answer=${status}]`;
    expect(await createRaw(sandbox, prompt)).toEqual({ status, contentType: null, text: '' });
    const [task] = await listedTasks(sandbox);
    expect(task).toMatchObject({ prompt });
    expect(sandbox.requests[0]).toMatchObject({ taskId: task.taskId, httpStatus: status, code: undefined });
    await waitForCallbacks(task.taskId);
  });

  it("answer-status=500: KIE's success envelope with the task id, under that status", async () => {
    const answer = await create(sandbox, 'A song with a confused status [sandbox:answer-status=500]');
    const [task] = await listedTasks(sandbox);
    expect(answer).toEqual({
      status: 500,
      contentType: 'application/json',
      body: { code: 200, msg: 'success', data: { taskId: task.taskId } },
    });
    expect(sandbox.requests[0]).toMatchObject({ httpStatus: 500, code: 200 });
  });

  it('answer-delay=MS holds the answer while the callback keeps its schedule from creation', async () => {
    let answered = false;
    let arrivedBeforeAnswer: boolean | undefined;
    receiver.onReceive = () => (arrivedBeforeAnswer ??= !answered);
    const answer = await createTask(sandbox, 'A patient answer [sandbox:answer-delay=400]');
    answered = true;
    expect(arrivedBeforeAnswer).toBe(true);
    const [request] = sandbox.requests;
    expect(request.finishedAt! - request.startedAt).toBeGreaterThanOrEqual(400);
    expect(sandbox.callbacks[0].sentAt).toBeLessThan(request.finishedAt!);
    expect(receiver.bodiesFor(answer)).toHaveLength(1);
  });
});

describe('KIE sandbox: callback delivery', () => {
  it('retries a failed delivery: 500, 500, then 200 makes 3 attempts', async () => {
    receiver.plan.push(500, 500);
    const taskId = await createTask(sandbox, 'A stubborn song');
    const attempts = await settledDeliveries(sandbox, taskId, 3);
    expect(receiver.bodiesFor(taskId)).toHaveLength(3);
    expect(attempts.map((d) => [d.copy, d.attempt, d.status])).toEqual([
      [1, 1, 500],
      [1, 2, 500],
      [1, 3, 200],
    ]);
    expect(sandbox.callbacks[1].sentAt - sandbox.callbacks[0].sentAt).toBeGreaterThanOrEqual(10);
  });

  it('gives up after 3 retries', async () => {
    receiver.plan.push(500, 500, 500, 500);
    const taskId = await createTask(sandbox, 'A rejected song');
    await waitForCallbacks(taskId, 4);
    // The retry waits are 10 ms; a task created now calls back 30 ms later, after any fifth attempt.
    const later = await createTask(sandbox, 'A later song');
    await waitForCallbacks(later);
    expect(receiver.bodiesFor(taskId)).toHaveLength(4);
    expect(sandbox.callbacks.filter((d) => d.taskId === taskId).map((d) => d.attempt)).toEqual([1, 2, 3, 4]);
  });

  it('counts an attempt unanswered within the timeout as failed, and a refused connection too', async () => {
    const impatient = await startSandbox({ callbackTimeoutMs: 100 });
    receiver.plan.push('no-answer');
    const taskId = await createTask(impatient, 'A slow receiver');
    const [timedOut, answered] = await settledDeliveries(impatient, taskId, 2);
    expect(timedOut).toMatchObject({ attempt: 1, error: 'timeout' });
    expect(timedOut.status).toBeUndefined();
    expect(answered).toMatchObject({ attempt: 2, status: 200 });

    const gone = await KieSandbox.start();
    await gone.stop(); // nothing listens at its address any more
    const nowhere = await call(impatient, '/api/v1/lyrics', {
      method: 'POST',
      body: JSON.stringify({ prompt: 'A song for nobody', callBackUrl: `${gone.url}/callback` }),
    });
    const lostId = nowhere.body.data.taskId;
    const refused = await settledDeliveries(impatient, lostId, 4);
    expect(refused.map((d) => d.error)).toEqual(Array(4).fill(expect.stringMatching(/ECONNREFUSED/)));
  });

  it('stop() cancels pending callbacks and closes hanging and held creates at once', async () => {
    const stopping = await startSandbox({ resultDelayMs: 60000 });
    await createTask(stopping, 'A song for later');
    const outcome = (prompt: string) =>
      create(stopping, prompt).then(
        () => 'answered',
        () => 'failed',
      );
    const hanging = outcome('A silent song [sandbox:hang]');
    const held = outcome('A slow answer [sandbox:answer-delay=60000]');
    await waitFor('the hanging and held creates to arrive', () => stopping.tasks().length === 3);
    const started = Date.now();
    await stopping.stop();
    expect(Date.now() - started).toBeLessThan(1000);
    expect(await hanging).toBe('failed');
    expect(await held).toBe('failed');
    expect(stopping.callbacks).toEqual([]);
  });
});

describe('KIE sandbox: the random mix', () => {
  it('draws behaviours for tasks without markers, and leaves marked ones alone', async () => {
    const mixed = await startSandbox({ mix: { camelCase: 1, duplicate: 1 }, seed: 7 });
    const drawn = await createTask(mixed, 'A song left to chance');
    const marked = await createTask(mixed, 'A plain song [sandbox:]');
    const copies = await waitForCallbacks(drawn, 2);
    expect(copies.map((body) => body.data.taskId)).toEqual([drawn, drawn]);
    await waitForCallbacks(marked);
    expect(mixed.task(drawn)!.behaviours).toMatchObject({ source: 'mix', spelling: 'camel', copies: 2 });
    expect(mixed.task(marked)!.behaviours).toMatchObject({ source: 'markers', spelling: 'snake', copies: 1 });
  });

  it('gateway: accepted creates answered 502 or 504 with an HTML page, the tasks made and billed', async () => {
    const gateways = await startSandbox({ apiKeys: [API_KEY], mix: { gateway: 1 }, seed: 3 });
    const answers = [];
    for (let i = 0; i < 10; i++) answers.push(await createRaw(gateways, `A song through a flaky gateway ${i}`));
    expect(answers.every((a) => a.contentType === 'text/html' && a.text.startsWith('<html>'))).toBe(true);
    expect(new Set(answers.map((a) => a.status))).toEqual(new Set([502, 504]));
    expect(await listedTasks(gateways)).toHaveLength(10);
    expect(await call(gateways, '/api/v1/chat/credit')).toMatchObject({ body: { data: 9990 } });
  });

  it('hang: accepted creates never answered, the tasks made', async () => {
    const hanging = await startSandbox({ apiKeys: [API_KEY], mix: { hang: 1 } });
    const error = await createRaw(hanging, 'A song left hanging', AbortSignal.timeout(300)).then(
      () => undefined,
      (e: Error) => e,
    );
    expect(error?.name).toBe('TimeoutError');
    expect(await listedTasks(hanging)).toEqual([expect.objectContaining({ prompt: 'A song left hanging' })]);
    expect(hanging.requests[0]).toMatchObject({ endpoint: 'create', httpStatus: 0 });
    expect(hanging.requests[0].finishedAt).toBeUndefined();
  });
});

describe('KIE sandbox: several accounts', () => {
  const ALPHA = { name: 'alpha', apiKey: 'alpha-api-key', hmacKey: 'alpha-hmac-key' };
  const BETA = { name: 'beta', apiKey: 'beta-api-key', hmacKey: 'beta-hmac-key' };
  const credit = (target: KieSandbox, key: string) => call(target, '/api/v1/chat/credit', { key });
  const inspect = async (target: KieSandbox, path: string, init: { method?: string; body?: string } = {}) => {
    const response = await fetch(`${target.url}${path}`, init);
    return { status: response.status, body: (await response.json()) as Json };
  };

  /** The signature check of a task's first callback, against one HMAC key. */
  async function signatureCheck(taskId: string, hmacKey: string) {
    await waitForCallbacks(taskId);
    const { headers } = receiver.received.find((r) => (r.body.data?.task_id ?? r.body.data?.taskId) === taskId)!;
    return verifyWebhook({
      taskId,
      timestamp: headers['x-webhook-timestamp'] as string,
      signature: headers['x-webhook-signature'] as string,
      hmacKey,
      toleranceSeconds: 300,
    });
  }

  it("selects the account by its key, and signs each account's callbacks with that account's HMAC key (none: unsigned)", async () => {
    const gamma = { name: 'gamma', apiKey: 'gamma-api-key' };
    const kie = await startSandbox({ accounts: [ALPHA, BETA, gamma] });
    expect(await credit(kie, API_KEY)).toMatchObject({ status: 401, body: { code: 401 } });
    const alphaTask = await createTask(kie, 'A song of alpha', ALPHA.apiKey);
    const betaTask = await createTask(kie, 'A song of beta', BETA.apiKey);
    const gammaTask = await createTask(kie, 'A song of gamma', gamma.apiKey);

    expect(await signatureCheck(alphaTask, ALPHA.hmacKey)).toEqual({ valid: true });
    expect(await signatureCheck(alphaTask, BETA.hmacKey)).toEqual({ valid: false, reason: 'bad_signature' });
    expect(await signatureCheck(betaTask, BETA.hmacKey)).toEqual({ valid: true });
    expect(await signatureCheck(betaTask, ALPHA.hmacKey)).toEqual({ valid: false, reason: 'bad_signature' });
    await waitForCallbacks(gammaTask);
    const gammaHeaders = receiver.received.find((r) => r.body.data.task_id === gammaTask)!.headers;
    expect(gammaHeaders).not.toHaveProperty('x-webhook-signature');
    expect(gammaHeaders).not.toHaveProperty('x-webhook-timestamp');

    expect([alphaTask, betaTask, gammaTask].map((id) => kie.task(id)!.account)).toEqual(['alpha', 'beta', 'gamma']);
    expect(kie.requests.map((r) => [r.account, r.httpStatus])).toEqual([
      [undefined, 401],
      ['alpha', 200],
      ['beta', 200],
      ['gamma', 200],
    ]);
  });

  it("counts each account's creates in its own window, with its own limit: one account's full window does not throttle the other", async () => {
    const kie = await startSandbox({
      createLimit: { max: 3, windowMs: 60000 },
      accounts: [{ ...ALPHA, createLimit: { max: 2, windowMs: 60000 } }, BETA],
    });
    await createTask(kie, 'Alpha one', ALPHA.apiKey);
    await createTask(kie, 'Alpha two', ALPHA.apiKey);
    expect(await create(kie, 'Alpha three', { key: ALPHA.apiKey })).toMatchObject({
      status: 429,
      body: { code: 429, msg: 'Rate limit exceeded: up to 2 requests per 60 seconds' },
    });
    for (let i = 0; i < 3; i++) await createTask(kie, `Beta ${i}`, BETA.apiKey);
    expect(await create(kie, 'Beta too many', { key: BETA.apiKey })).toMatchObject({
      status: 429,
      body: { code: 429, msg: 'Rate limit exceeded: up to 3 requests per 60 seconds' },
    });
    const created = (account: string) => kie.requests.filter((r) => r.account === account && r.httpStatus === 200).length;
    expect([created('alpha'), created('beta')]).toEqual([2, 3]);
  });

  it('spends credits per account: each credit endpoint answers its own, and an account at 0 answers 402 while the other creates', async () => {
    const kie = await startSandbox({ credits: 5, accounts: [{ ...ALPHA, credits: 2 }, BETA] });
    await createTask(kie, 'Alpha one', ALPHA.apiKey);
    await createTask(kie, 'Alpha two', ALPHA.apiKey);
    expect(await create(kie, 'Alpha broke', { key: ALPHA.apiKey })).toMatchObject({
      status: 200,
      body: { code: 402, msg: 'Insufficient credits', data: null },
    });
    await createTask(kie, 'Beta one', BETA.apiKey);
    expect(await credit(kie, ALPHA.apiKey)).toMatchObject({ status: 200, body: { code: 200, data: 0 } });
    expect(await credit(kie, BETA.apiKey)).toMatchObject({ status: 200, body: { code: 200, data: 4 } });
    expect(kie.tasks().map((t) => t.account)).toEqual(['alpha', 'alpha', 'beta']);
  });

  it('answers 433 while an account is over its sub-key limit (no credit, no window slot), its credit endpoint as usual', async () => {
    const kie = await startSandbox({ credits: 5, createLimit: { max: 1, windowMs: 60000 }, accounts: [ALPHA, BETA] });
    kie.setAccount('alpha', { subKeyLimited: true });
    expect(await create(kie, 'A limited song', { key: ALPHA.apiKey })).toEqual({
      status: 200,
      contentType: 'application/json',
      body: { code: 433, msg: 'Request Limit - Sub-key Usage Exceeds Limit', data: null },
    });
    expect(await credit(kie, ALPHA.apiKey)).toMatchObject({ status: 200, body: { code: 200, data: 5 } });
    await createTask(kie, 'A song of the other account', BETA.apiKey);
    expect(kie.tasks().map((t) => t.account)).toEqual(['beta']);

    kie.setAccount('alpha', { subKeyLimited: false });
    // Its one window slot is still free: the refused create took none.
    await createTask(kie, 'A song once the limit is lifted', ALPHA.apiKey);
    expect(await credit(kie, ALPHA.apiKey)).toMatchObject({ body: { data: 4 } });
  });

  it("answers record-info of another account's task as for an unknown task", async () => {
    const kie = await startSandbox({ accounts: [ALPHA, BETA] });
    const taskId = await createTask(kie, '[sandbox:drop] A private song', ALPHA.apiKey);
    expect(await recordInfo(kie, taskId, BETA.apiKey)).toEqual(await recordInfo(kie, 'f'.repeat(32), BETA.apiKey));
    expect(await recordInfo(kie, taskId, BETA.apiKey)).toMatchObject({ status: 200, body: { code: 422, msg: 'recordInfo is null' } });
    expect(await recordInfo(kie, taskId, ALPHA.apiKey)).toMatchObject({ status: 200, body: { code: 200, data: { taskId } } });
    expect(kie.task(taskId)!.recordInfoCalls).toBe(1);
  });

  it('lists the accounts under /sandbox/accounts without any key, sets them by POST, and reset() restores them', async () => {
    const kie = await startSandbox({
      accounts: [
        { ...ALPHA, credits: 3 },
        { ...BETA, createLimit: { max: 5, windowMs: 1000 } },
      ],
    });
    const listed = await inspect(kie, '/sandbox/accounts');
    expect(listed).toEqual({
      status: 200,
      body: [
        { name: 'alpha', credits: 3, subKeyLimited: false, createLimit: { max: 20, windowMs: 10000 } },
        { name: 'beta', credits: 10000, subKeyLimited: false, createLimit: { max: 5, windowMs: 1000 } },
      ],
    });
    expect(listed.body).toEqual(kie.accounts());
    expect(JSON.stringify(listed.body)).not.toMatch(/api-key|hmac-key/);

    const post = (name: string, body: string) => inspect(kie, `/sandbox/accounts/${name}`, { method: 'POST', body });
    expect(await post('alpha', JSON.stringify({ credits: 0, subKeyLimited: true }))).toEqual({
      status: 200,
      body: { name: 'alpha', credits: 0, subKeyLimited: true, createLimit: { max: 20, windowMs: 10000 } },
    });
    expect(await post('beta', JSON.stringify({ credits: 1 }))).toMatchObject({ status: 200, body: { credits: 1, subKeyLimited: false } });
    expect(await post('gamma', '{}')).toMatchObject({ status: 404, body: { code: 404 } });
    expect(await post('beta', '{"credits":')).toMatchObject({ status: 400, body: { code: 400 } });
    expect(await post('beta', JSON.stringify({ credits: -1 }))).toMatchObject({
      status: 400,
      body: { code: 400, msg: 'credits must be an integer of at least 0, got -1' },
    });
    expect(await post('beta', JSON.stringify({ subKeyLimited: 'yes' }))).toMatchObject({ status: 400 });
    expect(await create(kie, 'A song over the limit', { key: ALPHA.apiKey })).toMatchObject({ body: { code: 433 } });
    expect(await create(kie, 'A song of the last credit', { key: BETA.apiKey })).toMatchObject({ body: { code: 200 } });
    expect(await create(kie, 'A song of no credit', { key: BETA.apiKey })).toMatchObject({ body: { code: 402 } });
    expect(() => kie.setAccount('gamma', { credits: 1 })).toThrow(RangeError);

    expect((await inspect(kie, '/sandbox/reset', { method: 'POST' })).status).toBe(200);
    expect((await inspect(kie, '/sandbox/accounts')).body).toEqual(listed.body);
    await createTask(kie, 'A song after the reset', ALPHA.apiKey);
  });

  it('without accounts, is one account named default: setAccount runs it out of credits and tops it up, and reset() refills it', async () => {
    expect(sandbox.accounts()).toEqual([
      { name: 'default', credits: 10000, subKeyLimited: false, createLimit: { max: 20, windowMs: 10000 } },
    ]);
    expect((await inspect(sandbox, '/sandbox/accounts')).body).toEqual(sandbox.accounts());
    sandbox.setAccount('default', { credits: 0 });
    expect(await create(sandbox, 'A song of an empty pool')).toMatchObject({ status: 200, body: { code: 402 } });
    sandbox.setAccount('default', { credits: 1 });
    const taskId = await createTask(sandbox, 'A song of a topped-up pool');
    expect(await credit(sandbox, API_KEY)).toMatchObject({ body: { data: 0 } });
    expect(sandbox.task(taskId)!.account).toBe('default');
    expect(sandbox.requests.map((r) => r.account)).toEqual(['default', 'default', 'default']);
    sandbox.reset();
    expect(sandbox.accounts()[0].credits).toBe(10000);
  });
});

describe('KIE sandbox: the standalone CLI (node dist/sandbox/main.js)', () => {
  const root = join(__dirname, '..');
  const run = (args: string[]) =>
    spawn(process.execPath, [join(root, 'dist', 'sandbox', 'main.js'), ...args], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  const output = (child: ChildProcess) => {
    const text = { stdout: '', stderr: '' };
    child.stdout!.on('data', (chunk: Buffer) => (text.stdout += chunk.toString()));
    child.stderr!.on('data', (chunk: Buffer) => (text.stderr += chunk.toString()));
    return text;
  };

  beforeAll(async () => {
    await promisify(execFile)(process.execPath, [join(root, 'scripts', 'build.js'), '--if-stale'], { cwd: root });
  }, 120000);

  it('listens, speaks KIE, calls back, and exits 0 on SIGTERM', async () => {
    const child = run(['--port', '0', '--api-key', 'k1', '--api-key', 'k2', '--hmac-key', HMAC_KEY, '--result-delay-ms', '20']);
    const text = output(child);
    const exited = once(child, 'exit');
    afterTest.add(child, (started) => started.exitCode === null && started.signalCode === null && started.kill('SIGKILL'));
    await waitFor('the listening line', () => text.stdout.includes('\n'), { timeoutMs: 10000 });
    expect(text.stdout).toMatch(/^KIE sandbox listening on http:\/\/127\.0\.0\.1:\d+\n$/);
    const url = text.stdout.trim().split(' ').pop()!;
    expect(await call(url, '/api/v1/chat/credit', { key: 'k2' })).toMatchObject({ status: 200, body: { data: 10000 } });
    expect(await call(url, '/api/v1/chat/credit', { key: 'k3' })).toMatchObject({ status: 401 });
    const taskId = (await create(url, 'A song from the command line', { key: 'k1' })).body.data.taskId;
    await waitForCallbacks(taskId);
    expect(receiver.received[0].headers['x-webhook-signature']).toBeDefined();

    child.kill('SIGTERM');
    expect(await exited).toEqual([0, null]);
    expect(text.stderr).toBe('');
  });

  it.each([
    [['--port', 'eighty'], 'kie-sandbox: --port must be a whole number, got "eighty"'],
    [['--mix', 'drop=2'], 'kie-sandbox: --mix drop needs a probability from 0 to 1, got "2"'],
    [['--account', 'a:k1', '--account', 'a:k2'], 'kie-sandbox: accounts has two accounts named "a"'],
    [['--colour'], expect.stringMatching(/^kie-sandbox: Unknown option '--colour'/)],
  ])('refuses %j in one line and exits 1', async (args, message) => {
    const child = run(args as string[]);
    const text = output(child);
    const [code] = await once(child, 'exit');
    expect(code).toBe(1);
    expect(text.stderr.trim().split('\n')).toEqual([message]);
    expect(text.stdout).toBe('');
  });
});

describe('KIE sandbox: the Jobs route', () => {
  const LYRICS_MODEL = 'ai-music-api/generate-lyrics';
  const createJob = (target: KieSandbox, body: object) =>
    call(target, '/api/v1/jobs/createTask', { method: 'POST', body: JSON.stringify(body) });

  /** A Jobs create calling back the receiver, or (callBackUrl null) not at all. */
  async function createJobTask(target: KieSandbox, prompt: string, callBackUrl: string | null = receiver.url): Promise<string> {
    const answer = await createJob(target, { model: LYRICS_MODEL, ...(callBackUrl === null ? {} : { callBackUrl }), input: { prompt } });
    expect(answer).toMatchObject({ status: 200, body: { code: 200, msg: 'success', data: { taskId: expect.stringMatching(TASK_ID) } } });
    return answer.body.data.taskId;
  }

  const jobRecord = (target: KieSandbox, taskId: string) => call(target, `/api/v1/jobs/recordInfo?taskId=${taskId}`);

  it("serves only the Jobs route's paths: the legacy ones answer 404", async () => {
    const jobs = await startSandbox({ route: 'jobs', apiKeys: [API_KEY] });
    expect(await create(jobs, 'A legacy create')).toMatchObject({ status: 404, body: { code: 404 } });
    expect(await call(jobs, '/api/v1/lyrics/record-info?taskId=x')).toMatchObject({ status: 404, body: { code: 404 } });
    expect(await call(jobs, '/api/v1/chat/credit')).toMatchObject({ status: 200, body: { code: 200 } });
    expect(await createJob(sandbox, { model: LYRICS_MODEL, input: { prompt: 'x' } })).toMatchObject({ status: 404 });
  });

  it.each([
    ['another model', { model: 'suno/v4', input: { prompt: 'p' } }, 'model must be ai-music-api/generate-lyrics'],
    ['no input', { model: 'ai-music-api/generate-lyrics' }, 'input.prompt is required'],
    [
      'a callBackUrl that is no URL',
      { model: 'ai-music-api/generate-lyrics', callBackUrl: 'nowhere', input: { prompt: 'p' } },
      'callBackUrl',
    ],
  ])('refuses a create with %s (body code 422), making no task', async (_, body, message) => {
    const jobs = await startSandbox({ route: 'jobs', apiKeys: [API_KEY] });
    const answer = await createJob(jobs, body);
    expect(answer).toMatchObject({ status: 200, body: { code: 422, data: null } });
    expect(answer.body.msg).toContain(message);
    expect(jobs.tasks()).toEqual([]);
  });

  it('reads a task through waiting, queuing, generating to success, resultJson a JSON string with resultObject', async () => {
    const jobs = await startSandbox({ route: 'jobs', apiKeys: [API_KEY], resultDelayMs: 900 });
    const taskId = await createJobTask(jobs, '[sandbox:drop] A song read while written');
    const states = new Set<string>();
    const done = await waitFor('the record to show success', async () => {
      const { body } = await jobRecord(jobs, taskId);
      states.add(body.data.state);
      return body.data.state === 'success' && body;
    });
    expect([...states]).toEqual(expect.arrayContaining(['waiting', 'generating', 'success']));
    expect(done.data).toMatchObject({ taskId, model: LYRICS_MODEL, failCode: null, failMsg: null, resultJson: expect.any(String) });
    expect(JSON.parse(done.data.param)).toEqual({
      model: LYRICS_MODEL,
      callBackUrl: receiver.url,
      input: { prompt: '[sandbox:drop] A song read while written' },
    });
    const lyrics = JSON.parse(done.data.resultJson).resultObject.data;
    expect(lyrics.map((v: Json) => v.title)).toEqual(jobs.task(taskId)!.variants.map((v) => v.title));
  });

  it('shows a failure as state fail with failCode a string and failMsg', async () => {
    const jobs = await startSandbox({ route: 'jobs', apiKeys: [API_KEY], resultDelayMs: 0 });
    const taskId = await createJobTask(jobs, '[sandbox:drop,status=SENSITIVE_WORD_ERROR] A flagged song');
    const { body } = await jobRecord(jobs, taskId);
    expect(body.data).toMatchObject({
      state: 'fail',
      resultJson: null,
      failCode: '400',
      failMsg: 'Song Description flagged for moderation',
    });
  });

  it('posts the Market shape by default, signed over data.taskId; a failure has body code 501 and failCode a number', async () => {
    const jobs = await startSandbox({ route: 'jobs', apiKeys: [API_KEY], hmacKey: HMAC_KEY });
    const ok = await createJobTask(jobs, 'A Market song');
    const failed = await createJobTask(jobs, '[sandbox:fail] A failing Market song');
    const [success] = await waitForCallbacks(ok);
    const [failure] = await waitForCallbacks(failed);
    expect(success).toMatchObject({ code: 200, msg: 'success', data: { taskId: ok, state: 'success', consumeCredits: 0.4 } });
    expect(JSON.parse(success.data.resultJson).resultObject.data).toHaveLength(jobs.task(ok)!.variants.length);
    expect(failure).toMatchObject({
      code: 501,
      data: { taskId: failed, state: 'fail', failCode: 400, failMsg: jobs.task(failed)!.errorMessage },
    });
    const { headers } = receiver.received.find((r) => r.body.data?.taskId === ok)!;
    expect(
      verifyWebhook({
        taskId: ok,
        timestamp: headers['x-webhook-timestamp'] as string,
        signature: headers['x-webhook-signature'] as string,
        hmacKey: HMAC_KEY,
        toleranceSeconds: 300,
      }),
    ).toEqual({ valid: true });
    expect((await settledDeliveries(jobs, ok))[0]).toMatchObject({ shape: 'market', status: 200 });
  });

  it('alternates the Market and the legacy shape with jobsCallbackShape alternate, and takes a shape marker on any route', async () => {
    const jobs = await startSandbox({ route: 'jobs', apiKeys: [API_KEY], jobsCallbackShape: 'alternate' });
    const first = await createJobTask(jobs, 'first');
    const second = await createJobTask(jobs, 'second');
    const unknown = await createJobTask(jobs, '[sandbox:shape=unknown] third');
    const [firstBody] = await waitForCallbacks(first);
    const [secondBody] = await waitForCallbacks(second);
    const [unknownBody] = await waitForCallbacks(unknown);
    expect(firstBody.data).toMatchObject({ taskId: first, state: 'success' });
    expect(secondBody.data).toMatchObject({ task_id: second, callbackType: 'complete', data: expect.any(Array) });
    expect(unknownBody).toEqual({ taskId: unknown, event: 'task.finished', detail: { finished: true } });
    const legacyTask = await createTask(sandbox, '[sandbox:shape=market] a Market callback from the legacy route');
    const [marketBody] = await waitForCallbacks(legacyTask);
    expect(marketBody.data).toMatchObject({ taskId: legacyTask, state: 'success' });
  });

  it('spells the envelope message `message` for a task with the message marker: create, record-info and callback', async () => {
    const jobs = await startSandbox({ route: 'jobs', apiKeys: [API_KEY], resultDelayMs: 0 });
    const created = await createJob(jobs, {
      model: LYRICS_MODEL,
      callBackUrl: receiver.url,
      input: { prompt: '[sandbox:message,null-polls=1] m' },
    });
    expect(created.body).toEqual({ code: 200, message: 'success', data: { taskId: expect.stringMatching(TASK_ID) } });
    const taskId = created.body.data.taskId;
    expect((await jobRecord(jobs, taskId)).body).toEqual({ code: 422, message: 'recordInfo is null', data: null });
    expect((await jobRecord(jobs, taskId)).body).toMatchObject({ code: 200, message: 'success', data: { state: 'success' } });
    const [callback] = await waitForCallbacks(taskId);
    expect(callback).toMatchObject({ code: 200, message: 'success' });
    expect(callback).not.toHaveProperty('msg');
    expect(await createJob(jobs, { model: LYRICS_MODEL, input: { prompt: '[sandbox:message,reject=402] m' } })).toMatchObject({
      body: { code: 402, message: 'Insufficient credits' },
    });
  });

  it('never calls back a task created without a callBackUrl (optional on this route)', async () => {
    const jobs = await startSandbox({ route: 'jobs', apiKeys: [API_KEY], resultDelayMs: 0 });
    const taskId = await createJobTask(jobs, 'A polled song', null);
    await waitFor('the task to be ready', async () => (await jobRecord(jobs, taskId)).body.data.state === 'success');
    expect(jobs.task(taskId)!.callBackUrl).toBeNull();
    expect(jobs.callbacks).toEqual([]);
  });
});
