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
  return new KieClient({ apiKey: API_KEY, baseUrl, timeoutMs: 2000, connectTimeoutMs: 1000, ...overrides });
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
      ['HTTP 429', '[sandbox:throttle-http=1] t2', 'throttled'],
      ['body code 405 (legacy rate limit)', '[sandbox:reject=405] t3', 'throttled'],
      ['body code 455 (maintenance)', '[sandbox:reject=455] t4', 'maintenance'],
      ['body code 500', '[sandbox:reject=500] t5', 'server_error'],
      ['HTTP 502', '[sandbox:http-status=502] t6', 'server_error'],
      ['HTTP 503', '[sandbox:http-status=503] t7', 'maintenance'],
    ])('classifies %s as retry (%s)', async (_, prompt, reason) => {
      expect(await kie.createLyricsTask(prompt, 'https://example.com/cb')).toMatchObject({ kind: 'retry', reason });
    });

    it.each([
      [400, 'invalid parameters'],
      [402, 'Insufficient credits'],
      [413, 'Theme or prompt too long'],
      [422, ''],
      [501, ''],
      [505, ''],
    ])('classifies body code %s as rejected, with KIE message', async (code, message) => {
      const outcome = await kie.createLyricsTask(`[sandbox:reject=${code}] r`, 'https://example.com/cb');
      expect(outcome).toMatchObject({ kind: 'rejected', code });
      expect((outcome as { message: string }).message.toLowerCase()).toContain(message.toLowerCase());
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

  it('honours Retry-After on a throttle', async () => {
    const server = await fixedServerForTest((_, res) =>
      res.writeHead(429, { 'retry-after': '7' }).end('{"code":429,"msg":"slow down","data":null}'),
    );
    expect(await clientFor(server.url).createLyricsTask('p', 'https://example.com/cb')).toEqual({
      kind: 'retry',
      reason: 'throttled',
      message: 'slow down',
      retryAfterMs: 7000,
    });
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
