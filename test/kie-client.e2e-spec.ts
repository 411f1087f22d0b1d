import { Logger } from '@nestjs/common';
import { readFileSync } from 'node:fs';
import { createServer, Server } from 'node:http';
import { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { KieClient } from '../src/lyrics/kie/kie.client';
import { KieSandbox } from '../src/sandbox/kie-sandbox';
import { FileLogger } from './support/service-logs';
import { teardownAfterEach } from './support/teardown';

const API_KEY = 'kie-client-test-key';

// The client logs through Nest's static Logger; these tests read outcomes, and its warnings go to the test's log.
beforeAll(() => Logger.overrideLogger(new FileLogger()));
const fixture = (name: string) => readFileSync(join(__dirname, 'fixtures', 'kie', name), 'utf8');

function clientFor(baseUrl: string, overrides: Partial<ConstructorParameters<typeof KieClient>[0]> = {}) {
  return new KieClient({ apiKey: API_KEY, baseUrl, route: 'legacy', timeoutMs: 2000, connectTimeoutMs: 1000, ...overrides });
}

/** A server answering every request with fixed bytes (or a behaviour), to replay KIE's documented answers. */
async function fixedServer(handler: (req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse) => void) {
  const server: Server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

describe('KieClient against the sandbox over HTTP', () => {
  let sandbox: KieSandbox;
  let kie: KieClient;

  beforeAll(async () => {
    sandbox = await KieSandbox.start({ apiKeys: [API_KEY], resultDelayMs: 0 });
    kie = clientFor(sandbox.url);
  });

  afterAll(async () => {
    await sandbox.stop();
  });

  describe('createLyricsTask', () => {
    it('is accepted with the KIE task id, sending the prompt, callBackUrl and bearer key', async () => {
      const outcome = await kie.createLyricsTask('A song about a harbor', 'https://example.com/cb/1');
      expect(outcome).toEqual({ kind: 'accepted', kieTaskId: expect.stringMatching(/^[0-9a-f]{32}$/) });
      const task = sandbox.task((outcome as { kieTaskId: string }).kieTaskId)!;
      expect(task).toMatchObject({ prompt: 'A song about a harbor', callBackUrl: 'https://example.com/cb/1' });
    });

    it.each([
      ['body code 430', '[sandbox:throttle=1] t1', 'throttled'],
      ['HTTP 429 with body code 429', '[sandbox:throttle-http=1] t2', 'throttled'],
      ['body code 405 (legacy rate limit)', '[sandbox:reject=405] t3', 'throttled'],
      ['body code 455 (maintenance)', '[sandbox:reject=455] t4', 'maintenance'],
      ['body code 500 under HTTP 200', '[sandbox:reject=500] t5', 'server_error'],
      ['HTTP 500 with body code 500', '[sandbox:http-status=500] t6', 'server_error'],
      ['HTTP 502 with body code 502', '[sandbox:http-status=502] t7', 'server_error'],
      ['HTTP 503 with body code 503', '[sandbox:http-status=503] t8', 'maintenance'],
    ])("classifies KIE's envelope saying %s as retry (%s), making no task", async (_, prompt, reason) => {
      expect(await kie.createLyricsTask(prompt, 'https://example.com/cb')).toMatchObject({ kind: 'retry', reason });
      expect(sandbox.tasks().some((task) => task.prompt === prompt)).toBe(false);
    });

    it.each([
      ['a 502 HTML page', 'gateway=502'],
      ['a 504 HTML page', 'gateway=504'],
      ['a 520 HTML page', 'gateway=520'],
      ['an empty 500', 'empty-answer=500'],
      ['an empty 200', 'empty-answer=200'],
    ])('classifies %s after the create was forwarded (no envelope) as ambiguous: the task was made', async (_, marker) => {
      const prompt = `[sandbox:${marker}] lost answer`;
      const outcome = await kie.createLyricsTask(prompt, 'https://example.com/cb');
      expect(outcome).toEqual({ kind: 'ambiguous', message: expect.stringContaining("without KIE's envelope") });
      expect(sandbox.tasks().filter((task) => task.prompt === prompt)).toHaveLength(1);
    });

    it.each([500, 502, 201])('classifies HTTP %i carrying a task id as accepted with that id', async (status) => {
      const outcome = await kie.createLyricsTask(`[sandbox:answer-status=${status}] odd status ${status}`, 'https://example.com/cb');
      expect(outcome).toEqual({ kind: 'accepted', kieTaskId: expect.stringMatching(/^[0-9a-f]{32}$/) });
      expect(sandbox.task((outcome as { kieTaskId: string }).kieTaskId)).toBeDefined();
    });

    it.each([
      [400, 'invalid parameters'],
      [413, 'Theme or prompt too long'],
      [422, ''],
      [501, ''],
      [505, ''],
    ])('classifies body code %s as rejected, with KIE message', async (code, message) => {
      const outcome = await kie.createLyricsTask(`[sandbox:reject=${code}] r`, 'https://example.com/cb');
      expect(outcome).toMatchObject({ kind: 'rejected', code });
      expect((outcome as { message: string }).message.toLowerCase()).toContain(message.toLowerCase());
    });

    it.each([
      [402, 'credits', 'Insufficient credits'],
      [433, 'sub_key_limit', 'Request Limit'],
    ])("classifies body code %s as the account's pause (%s), not the task's failure", async (code, reason, message) => {
      const outcome = await kie.createLyricsTask(`[sandbox:reject=${code}] paused`, 'https://example.com/cb');
      expect(outcome).toEqual({ kind: 'account_paused', reason, message: expect.stringContaining(message) });
    });

    it("classifies an HTTP 402 without KIE's envelope as the account out of credits", async () => {
      const outcome = await kie.createLyricsTask('[sandbox:http-status=402] bare 402', 'https://example.com/cb');
      expect(outcome).toMatchObject({ kind: 'account_paused', reason: 'credits' });
    });

    it('classifies a wrong API key as rejected 401, and never repeats the key', async () => {
      const outcome = await clientFor(sandbox.url, { apiKey: 'wrong-secret-key' }).createLyricsTask('p', 'https://example.com/cb');
      expect(outcome).toEqual({ kind: 'rejected', code: 401, message: 'You do not have access permissions' });
      expect(JSON.stringify(outcome)).not.toContain('wrong-secret-key');
    });

    it('classifies a create that was sent and never answered as ambiguous', async () => {
      const outcome = await clientFor(sandbox.url, { timeoutMs: 200 }).createLyricsTask('[sandbox:hang] h', 'https://example.com/cb');
      expect(outcome).toMatchObject({ kind: 'ambiguous' });
      expect(sandbox.tasks().some((task) => task.prompt === '[sandbox:hang] h')).toBe(true);
    });
  });

  describe('getLyricsRecord', () => {
    const create = async (prompt: string) => {
      const outcome = await kie.createLyricsTask(prompt, 'https://example.com/cb');
      return (outcome as { kieTaskId: string }).kieTaskId;
    };

    it('reads 422 "recordInfo is null", then PENDING, then SUCCESS with the sandbox variants', async () => {
      const id = await create('[sandbox:null-polls=1,pending-polls=1,drop] sequence');
      expect(await kie.getLyricsRecord(id)).toEqual({ kind: 'not_ready' });
      expect(await kie.getLyricsRecord(id)).toEqual({ kind: 'record', result: { state: 'pending' } });
      const done = await kie.getLyricsRecord(id);
      expect(done).toEqual({
        kind: 'record',
        result: {
          state: 'succeeded',
          variants: sandbox.task(id)!.variants.map((v) => ({ ...v, status: 'complete', errorMessage: null })),
          droppedVariants: 0,
        },
      });
    });

    it('reads the lyricsData spelling the same way', async () => {
      const id = await create('[sandbox:lyricsData,drop] spelled');
      const outcome = await kie.getLyricsRecord(id);
      expect(outcome).toMatchObject({ kind: 'record', result: { state: 'succeeded' } });
      expect((outcome as any).result.variants.map((v: { title: string }) => v.title)).toEqual(
        sandbox.task(id)!.variants.map((v) => v.title),
      );
    });

    it.each([
      ['GENERATE_LYRICS_FAILED', 'generation_failed'],
      ['CREATE_TASK_FAILED', 'generation_failed'],
      ['CALLBACK_EXCEPTION', 'generation_failed'],
      ['SENSITIVE_WORD_ERROR', 'sensitive_content'],
    ])('reads %s as failed (%s) with KIE message', async (status, code) => {
      const id = await create(`[sandbox:status=${status},drop] failing`);
      expect(await kie.getLyricsRecord(id)).toEqual({
        kind: 'record',
        result: { state: 'failed', code, message: sandbox.task(id)!.errorMessage },
      });
    });

    it('reads an unknown task as not ready', async () => {
      expect(await kie.getLyricsRecord('0123456789abcdef0123456789abcdef')).toEqual({ kind: 'not_ready' });
    });
  });

  it('reads the credits', async () => {
    expect(await kie.getCredits()).toEqual({ kind: 'credits', credits: expect.any(Number) });
  });
});

describe('KieClient on the transport edges', () => {
  const afterTest = teardownAfterEach();
  const fixedServerForTest = async (handler: Parameters<typeof fixedServer>[0]) =>
    afterTest.add(await fixedServer(handler), (server) => server.close());

  it('classifies connection refused (nothing sent) as retry not_sent, without the key in the message', async () => {
    const closed = await fixedServer(() => undefined);
    await closed.close();
    const outcome = await clientFor(closed.url).createLyricsTask('p', 'https://example.com/cb');
    expect(outcome).toMatchObject({ kind: 'retry', reason: 'not_sent' });
    expect(JSON.stringify(outcome)).not.toContain(API_KEY);
  });

  it('classifies a reset after the request was sent as ambiguous', async () => {
    const server = await fixedServerForTest((req) => req.on('end', () => req.socket.destroy()).resume());
    expect(await clientFor(server.url).createLyricsTask('p', 'https://example.com/cb')).toMatchObject({ kind: 'ambiguous' });
  });

  it("gives one record-info read a time limit of its own, shorter than the client's", async () => {
    const silent = await fixedServerForTest(() => undefined);
    const outcome = await clientFor(silent.url, { timeoutMs: 30000 }).getLyricsRecord('abc', { timeoutMs: 100 });
    expect(outcome).toEqual({ kind: 'retry', reason: 'not_sent', message: 'record-info failed: no answer within 100 ms' });
  });

  it('classifies a 200 whose body has no task id as ambiguous', async () => {
    const server = await fixedServerForTest((_, res) => res.writeHead(200, { 'content-type': 'text/html' }).end('<html>ok</html>'));
    expect(await clientFor(server.url).createLyricsTask('p', 'https://example.com/cb')).toMatchObject({ kind: 'ambiguous' });
  });

  const createAgainst = async (handler: Parameters<typeof fixedServer>[0]) =>
    clientFor((await fixedServerForTest(handler)).url).createLyricsTask('p', 'https://example.com/cb');

  it('honours Retry-After in seconds on a throttle', async () => {
    const outcome = await createAgainst((_, res) =>
      res.writeHead(429, { 'retry-after': '7' }).end('{"code":429,"msg":"slow down","data":null}'),
    );
    expect(outcome).toEqual({ kind: 'retry', reason: 'throttled', message: 'slow down', retryAfterMs: 7000 });
  });

  it("measures a Retry-After HTTP-date against the answer's own Date header, whatever this machine's clock says", async () => {
    const outcome = await createAgainst((_, res) => {
      res.sendDate = false;
      res
        .writeHead(429, { date: 'Wed, 21 Oct 2015 07:28:00 GMT', 'retry-after': 'Wed, 21 Oct 2015 07:28:30 GMT' })
        .end('{"code":429,"msg":"slow down","data":null}');
    });
    expect(outcome).toMatchObject({ kind: 'retry', reason: 'throttled', retryAfterMs: 30000 });
  });

  it('measures a Retry-After HTTP-date against now without a Date header, and never below 0', async () => {
    const inTwentySeconds = new Date(Date.now() + 20000).toUTCString();
    const ahead = await createAgainst((_, res) => {
      res.sendDate = false;
      res.writeHead(429, { 'retry-after': inTwentySeconds }).end('{"code":430,"msg":"slow down","data":null}');
    });
    // The date has whole seconds, and the answer took a little time.
    expect((ahead as { retryAfterMs: number }).retryAfterMs).toBeGreaterThan(17000);
    expect((ahead as { retryAfterMs: number }).retryAfterMs).toBeLessThanOrEqual(20000);
    const past = await createAgainst((_, res) => res.writeHead(429, { 'retry-after': 'Thu, 01 Jan 2015 00:00:00 GMT' }).end());
    expect(past).toMatchObject({ kind: 'retry', reason: 'throttled', retryAfterMs: 0 });
  });

  it('ignores a Retry-After that is neither seconds nor an HTTP-date', async () => {
    const outcome = await createAgainst((_, res) => res.writeHead(429, { 'retry-after': 'soon' }).end());
    expect(outcome).toEqual({ kind: 'retry', reason: 'throttled', message: "HTTP 429 without KIE's envelope", retryAfterMs: undefined });
  });

  it.each([
    ['an empty 429', 429, '', { kind: 'retry', reason: 'throttled' }],
    ['a plain-text 429', 429, 'Too Many Requests', { kind: 'retry', reason: 'throttled' }],
    ['an HTML 403', 403, '<html><body>403 Forbidden</body></html>', { kind: 'rejected', code: 403 }],
    ['an empty 404', 404, '', { kind: 'rejected', code: 404 }],
    ['a 301 redirect', 301, '', { kind: 'rejected', code: 301 }],
    ['an HTML 503', 503, '<html><body>503 Service Unavailable</body></html>', { kind: 'ambiguous' }],
    ['a JSON 502 without a numeric code', 502, '{"code":"502","message":"bad gateway"}', { kind: 'ambiguous' }],
    ['a JSON array 500', 500, '[]', { kind: 'ambiguous' }],
  ])('classifies %s without KIE envelope by its status', async (_, status, text, expected) => {
    expect(await createAgainst((__, res) => res.writeHead(status).end(text))).toMatchObject(expected);
  });

  it.each([
    ['HTTP 500 and body code 500', 500, 500],
    ['HTTP 200 and body code 422', 200, 422],
    ['HTTP 429 and body code 429', 429, 429],
  ])('classifies a task id under %s as accepted: KIE took (and billed) it', async (_, status, code) => {
    const body = JSON.stringify({ code, msg: 'odd', data: { taskId: 'a41f7c2e9b8d4e0f9c3a6b5d2e1f0a97' } });
    expect(await createAgainst((__, res) => res.writeHead(status).end(body))).toEqual({
      kind: 'accepted',
      kieTaskId: 'a41f7c2e9b8d4e0f9c3a6b5d2e1f0a97',
    });
  });

  it.each([
    ['empty', ''],
    ['with a space', 'a41f 7c2e'],
    ['with a newline', 'a41f\n'],
    ['65 characters', 'a'.repeat(65)],
    ['non-ASCII', 'tâche'],
  ])('classifies a create answered with a task id %s as ambiguous, never accepted', async (_, taskId) => {
    const body = JSON.stringify({ code: 200, msg: 'success', data: { taskId } });
    expect(await createAgainst((__, res) => res.writeHead(200).end(body))).toEqual({
      kind: 'ambiguous',
      message: 'create answered 200 with an invalid task id (not 1 to 64 visible ASCII characters)',
    });
  });

  it('classifies a code 200 without a task id as ambiguous, whatever the status', async () => {
    const outcome = await createAgainst((_, res) => res.writeHead(502).end('{"code":200,"msg":"success","data":null}'));
    expect(outcome).toEqual({ kind: 'ambiguous', message: 'create answered 502 with code 200 but no task id' });
  });

  it.each([
    ['record-info', (client: KieClient) => client.getLyricsRecord('a41f'), 502],
    ['credit', (client: KieClient) => client.getCredits(), 504],
  ])('retries a %s read answered by a gateway page (reads are safe to repeat)', async (_, read, status) => {
    const server = await fixedServerForTest((__, res) =>
      res.writeHead(status, { 'content-type': 'text/html' }).end('<html>gateway</html>'),
    );
    expect(await read(clientFor(server.url))).toEqual({ kind: 'retry', reason: 'server_error', message: `HTTP ${status}` });
  });

  it.each([
    ['generate-lyrics-response.json', 'create', { kind: 'accepted', kieTaskId: 'a41f7c2e9b8d4e0f9c3a6b5d2e1f0a97' }],
    ['error-response-401-no-permission.json', 'create', { kind: 'rejected', code: 401, message: 'You do not have access permissions' }],
    ['record-info-pending.json', 'record', { kind: 'record', result: { state: 'pending' } }],
    [
      'record-info-failed-sensitive-word.json',
      'record',
      { kind: 'record', result: { state: 'failed', code: 'sensitive_content', message: 'Song Description flagged for moderation' } },
    ],
  ])('reads the fixture %s as KIE sends it', async (name, call, expected) => {
    const server = await fixedServerForTest((_, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(fixture(name)));
    const client = clientFor(server.url);
    const outcome = call === 'create' ? await client.createLyricsTask('p', 'https://example.com/cb') : await client.getLyricsRecord('a41f');
    expect(outcome).toEqual(expected);
  });

  it('reads the record-info-success fixture (lyricsData) to its two variants', async () => {
    const server = await fixedServerForTest((_, res) => res.writeHead(200).end(fixture('record-info-success.json')));
    const outcome = await clientFor(server.url).getLyricsRecord('a41f7c2e9b8d4e0f9c3a6b5d2e1f0a97');
    expect(outcome).toMatchObject({
      kind: 'record',
      result: { state: 'succeeded', variants: [{ title: 'Harbor Night' }, { title: 'City Sleeps' }] },
    });
  });
});

describe('KieClient on the Jobs route, against the sandbox playing it', () => {
  let sandbox: KieSandbox;
  let kie: KieClient;

  beforeAll(async () => {
    sandbox = await KieSandbox.start({ apiKeys: [API_KEY], resultDelayMs: 0, route: 'jobs' });
    kie = clientFor(sandbox.url, { route: 'jobs' });
  });

  afterAll(async () => {
    await sandbox.stop();
  });

  /** A create calling back https://example.com/cb, or (callBackUrl null) no one. */
  const create = async (prompt: string, callBackUrl: string | null = 'https://example.com/cb') => {
    const outcome = await kie.createLyricsTask(prompt, callBackUrl ?? undefined);
    expect(outcome).toMatchObject({ kind: 'accepted' });
    return (outcome as { kieTaskId: string }).kieTaskId;
  };

  it('creates through POST /api/v1/jobs/createTask with the lyrics model, the prompt as input and the callBackUrl', async () => {
    const id = await create('A song about a lighthouse');
    const [request] = sandbox.requests.filter((r) => r.taskId === id);
    expect(request).toMatchObject({
      method: 'POST',
      path: '/api/v1/jobs/createTask',
      model: 'ai-music-api/generate-lyrics',
      prompt: 'A song about a lighthouse',
      callBackUrl: 'https://example.com/cb',
    });
  });

  it('sends no callBackUrl when there is none to give (it is optional on this route)', async () => {
    const id = await create('[sandbox:] polled only', null);
    expect(sandbox.requests.find((r) => r.taskId === id)).toMatchObject({ endpoint: 'create', callBackUrl: undefined });
    expect(sandbox.task(id)!.callBackUrl).toBeNull();
  });

  it('reads recordInfo: 422 "recordInfo is null", then a state that is not final, then success with the sandbox variants', async () => {
    const id = await create('[sandbox:null-polls=1,pending-polls=1,drop] jobs sequence');
    expect(await kie.getLyricsRecord(id)).toEqual({ kind: 'not_ready' });
    expect(await kie.getLyricsRecord(id)).toEqual({ kind: 'record', result: { state: 'pending' } });
    expect(await kie.getLyricsRecord(id)).toEqual({
      kind: 'record',
      result: {
        state: 'succeeded',
        variants: sandbox.task(id)!.variants.map((v) => ({ ...v, status: 'complete', errorMessage: null })),
        droppedVariants: 0,
      },
    });
    expect(sandbox.requests.filter((r) => r.taskId === id && r.endpoint === 'record-info').map((r) => r.path)).toEqual(
      Array(3).fill(`/api/v1/jobs/recordInfo?taskId=${id}`),
    );
  });

  it.each([
    ['GENERATE_LYRICS_FAILED', 'generation_failed'],
    ['CREATE_TASK_FAILED', 'generation_failed'],
    ['CALLBACK_EXCEPTION', 'generation_failed'],
    ['SENSITIVE_WORD_ERROR', 'sensitive_content'],
  ])('reads a task failed like %s (state fail, failMsg) as failed (%s)', async (status, code) => {
    const id = await create(`[sandbox:status=${status},drop] failing on jobs`);
    expect(await kie.getLyricsRecord(id)).toEqual({
      kind: 'record',
      result: { state: 'failed', code, message: sandbox.task(id)!.errorMessage },
    });
  });

  it("answers the legacy route's paths 404, as a KIE that switched them off would: the legacy client is refused", async () => {
    expect(await clientFor(sandbox.url).createLyricsTask('p', 'https://example.com/cb')).toMatchObject({ kind: 'rejected', code: 404 });
  });

  it.each([
    ['throttled (HTTP 429)', '[sandbox:throttle-http=1] j1', { kind: 'retry', reason: 'throttled' }],
    ['out of credits (body code 402)', '[sandbox:reject=402] j2', { kind: 'account_paused', reason: 'credits' }],
    ['in maintenance (body code 455)', '[sandbox:reject=455] j3', { kind: 'retry', reason: 'maintenance' }],
  ])('classifies a create %s as on the legacy route', async (_, prompt, expected) => {
    expect(await kie.createLyricsTask(prompt, 'https://example.com/cb')).toMatchObject(expected);
  });
});

describe("KieClient on the Jobs route, replaying the answers KIE's pages document", () => {
  const afterTest = teardownAfterEach();
  const jobsClientAnswered = async (status: number, body: unknown) => {
    const server = afterTest.add(
      await fixedServer((_, res) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body))),
      (own) => own.close(),
    );
    return clientFor(server.url, { route: 'jobs' });
  };

  it.each([
    [
      '400 "taskId parameter is required"',
      200,
      { code: 400, msg: 'taskId parameter is required', data: null },
      { kind: 'rejected', code: 400 },
    ],
    ['401 "Unauthorized"', 401, { code: 401, msg: 'Unauthorized', data: null }, { kind: 'rejected', code: 401 }],
    ['404 "Task not found"', 200, { code: 404, msg: 'Task not found', data: null }, { kind: 'rejected', code: 404 }],
    ['422 "recordInfo is null"', 200, { code: 422, msg: 'recordInfo is null', data: null }, { kind: 'not_ready' }],
    ['422 "recordInfo is null", spelled message', 200, { code: 422, message: 'recordInfo is null', data: null }, { kind: 'not_ready' }],
    ['429 "Rate limit exceeded"', 429, { code: 429, msg: 'Rate limit exceeded', data: null }, { kind: 'retry', reason: 'throttled' }],
    [
      '429 "Rate limit exceeded", spelled message',
      200,
      { code: 429, message: 'Rate limit exceeded' },
      { kind: 'retry', reason: 'throttled' },
    ],
  ])('maps the recordInfo answer %s as its legacy equivalent', async (_, status, body, expected) => {
    expect(await (await jobsClientAnswered(status, body)).getLyricsRecord('task_1')).toMatchObject(expected);
  });

  it("keeps KIE's message when it is spelled message", async () => {
    const client = await jobsClientAnswered(200, { code: 402, message: 'Insufficient credits', data: null });
    expect(await client.createLyricsTask('p', undefined)).toEqual({
      kind: 'account_paused',
      reason: 'credits',
      message: 'Insufficient credits',
    });
  });

  it('accepts a create answered with message rather than msg', async () => {
    const client = await jobsClientAnswered(200, { code: 200, message: 'success', data: { taskId: 'task_lyrics_1759748400' } });
    expect(await client.createLyricsTask('p', 'https://example.com/cb')).toEqual({ kind: 'accepted', kieTaskId: 'task_lyrics_1759748400' });
  });

  it('retries a success record whose resultJson holds no lyrics (unreadable, read again later)', async () => {
    const client = await jobsClientAnswered(200, { code: 200, msg: 'success', data: { taskId: 't', state: 'success', resultJson: '{}' } });
    expect(await client.getLyricsRecord('t')).toMatchObject({ kind: 'retry', reason: 'server_error' });
  });
});
