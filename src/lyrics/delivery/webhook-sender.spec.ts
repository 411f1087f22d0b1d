import { randomBytes, randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { createServer, IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import { AddressInfo } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import { Webhook, WebhookVerificationError } from 'standardwebhooks';
import { teardownAfterEach } from '../../../test/support/teardown';
import { DestinationPolicy, Resolver } from './webhook-destination';
import { WebhookSender } from './webhook-sender';

const production: DestinationPolicy = { requirePublic: true, allowedHosts: new Set() };
const development: DestinationPolicy = { requirePublic: false, allowedHosts: new Set() };

const newSecret = () => `whsec_${randomBytes(32).toString('base64')}`;
const eventBody = (id: string) => JSON.stringify({ id, type: 'lyrics.succeeded', createdAt: new Date().toISOString(), data: { id: 't1' } });

interface Received {
  method: string;
  headers: IncomingHttpHeaders;
  body: string;
}

type Answer = (request: IncomingMessage, response: ServerResponse) => void;

const teardown = teardownAfterEach();

/** A client's webhook endpoint on 127.0.0.1: records what reaches it (connections too) and answers with `answer`. */
async function receiver(answer: Answer = (_request, response) => response.end('ok')) {
  const state = { requests: [] as Received[], connections: 0, port: 0, url: '' };
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      state.requests.push({ method: request.method!, headers: request.headers, body: Buffer.concat(chunks).toString('utf8') });
      answer(request, response);
    });
  });
  server.on('connection', () => state.connections++);
  teardown.add(server, (started) => {
    started.closeAllConnections();
    return new Promise((resolve) => started.close(resolve));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  state.port = (server.address() as AddressInfo).port;
  state.url = `http://127.0.0.1:${state.port}/hooks/lyrics`;
  return state;
}

/** A port that was just free and is closed again, so that connecting to it is refused. */
async function closedPort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

const answerWith =
  (status: number, headers: Record<string, string> = {}): Answer =>
  (_request, response) =>
    response.writeHead(status, headers).end();

function senderWith(options: Partial<ConstructorParameters<typeof WebhookSender>[0]> = {}) {
  return new WebhookSender({ timeoutMs: 2000, policy: development, ...options });
}

describe('WebhookSender', () => {
  it('POSTs the body with Standard Webhooks headers that the standardwebhooks library verifies', async () => {
    const hook = await receiver();
    const secret = newSecret();
    const eventId = randomUUID();
    const body = eventBody(eventId);

    const attempt = await senderWith().send({ url: hook.url, eventId, body, secrets: [secret] });

    expect(attempt).toEqual({ httpStatus: 200, error: null, refused: false, durationMs: expect.any(Number) });
    expect(hook.requests).toHaveLength(1);
    const [{ method, headers, body: received }] = hook.requests;
    expect(method).toBe('POST');
    expect(received).toBe(body);
    expect(headers).toMatchObject({
      'content-type': 'application/json',
      'content-length': String(Buffer.byteLength(body)),
      'user-agent': 'nestjs-kie-lyrics',
      'webhook-id': eventId,
      'webhook-timestamp': expect.stringMatching(/^\d+$/),
    });
    expect(new Webhook(secret).verify(received, headers as Record<string, string>)).toEqual(JSON.parse(body));
  });

  it('signs with the given timestamp, in Unix seconds', async () => {
    const hook = await receiver();
    const timestamp = new Date(Date.now() - 60_000);
    const eventId = randomUUID();
    const secret = newSecret();

    await senderWith().send({ url: hook.url, eventId, body: eventBody(eventId), secrets: [secret], timestamp });

    const { headers, body } = hook.requests[0];
    expect(headers['webhook-timestamp']).toBe(String(Math.floor(timestamp.getTime() / 1000)));
    expect(() => new Webhook(secret).verify(body, headers as Record<string, string>)).not.toThrow();
  });

  it('signs with every secret during a rotation, so either one alone verifies, the current one first', async () => {
    const hook = await receiver();
    const [current, previous] = [newSecret(), newSecret()];
    const eventId = randomUUID();
    const timestamp = new Date();
    const body = eventBody(eventId);

    await senderWith().send({ url: hook.url, eventId, body, secrets: [current, previous], timestamp });

    const headers = hook.requests[0].headers as Record<string, string>;
    expect(headers['webhook-signature'].split(' ')).toEqual([
      new Webhook(current).sign(eventId, timestamp, body),
      new Webhook(previous).sign(eventId, timestamp, body),
    ]);
    expect(() => new Webhook(current).verify(body, headers)).not.toThrow();
    expect(() => new Webhook(previous).verify(body, headers)).not.toThrow();
    expect(() => new Webhook(newSecret()).verify(body, headers)).toThrow(WebhookVerificationError);
  });

  it('signs each send with its own secrets when one sender signs for several secrets in turn (keys are kept per secret)', async () => {
    const hook = await receiver();
    const sender = senderWith();
    const [a, b, c] = [newSecret(), newSecret(), newSecret()];
    const sends = [[a], [b, a], [b], [c], [a], [c, b]];
    const timestamp = new Date();
    const bodies = sends.map((_, i) => eventBody(`e${i}`));

    for (const [i, secrets] of sends.entries()) {
      await sender.send({ url: hook.url, eventId: `e${i}`, body: bodies[i], secrets, timestamp });
    }

    expect(hook.requests.map(({ headers }) => headers['webhook-signature'])).toEqual(
      sends.map((secrets, i) => secrets.map((secret) => new Webhook(secret).sign(`e${i}`, timestamp, bodies[i])).join(' ')),
    );
  });

  it('sends the configured user-agent', async () => {
    const hook = await receiver();
    await senderWith({ userAgent: 'acme-relay/2' }).send({ url: hook.url, eventId: 'e1', body: '{}', secrets: [newSecret()] });
    expect(hook.requests[0].headers['user-agent']).toBe('acme-relay/2');
  });

  it.each([
    [500, 'HTTP 500'],
    [410, 'HTTP 410'],
    [400, 'HTTP 400'],
  ])('reports an answer of %i as not delivered', async (status, error) => {
    const hook = await receiver(answerWith(status));
    const attempt = await senderWith().send({ url: hook.url, eventId: 'e1', body: '{}', secrets: [newSecret()] });
    expect(attempt).toEqual({ httpStatus: status, error, refused: false, durationMs: expect.any(Number) });
  });

  it('does not follow a redirect: a 3xx is an answer like any other non-2xx', async () => {
    const hook = await receiver(answerWith(307, { location: '/elsewhere' }));
    const attempt = await senderWith().send({ url: hook.url, eventId: 'e1', body: '{}', secrets: [newSecret()] });
    expect(attempt).toMatchObject({ httpStatus: 307, error: 'HTTP 307' });
    expect(hook.requests.map(({ method }) => method)).toEqual(['POST']);
  });

  it('reads Retry-After in seconds on a 429', async () => {
    const hook = await receiver(answerWith(429, { 'retry-after': '7' }));
    const attempt = await senderWith().send({ url: hook.url, eventId: 'e1', body: '{}', secrets: [newSecret()] });
    expect(attempt).toMatchObject({ httpStatus: 429, error: 'HTTP 429', retryAfterMs: 7000 });
  });

  it('reads Retry-After as an HTTP-date on a 503, measured from now', async () => {
    const hook = await receiver(answerWith(503, { 'retry-after': new Date(Date.now() + 30_000).toUTCString() }));
    const attempt = await senderWith().send({ url: hook.url, eventId: 'e1', body: '{}', secrets: [newSecret()] });
    expect(attempt).toMatchObject({ httpStatus: 503, error: 'HTTP 503' });
    // The date has whole seconds, so up to a second is lost; the exchange itself takes a little more.
    expect(attempt.retryAfterMs).toBeGreaterThan(28_000);
    expect(attempt.retryAfterMs).toBeLessThanOrEqual(30_000);
  });

  it.each([
    ['on a 500', 500, '7'],
    ['when unreadable', 429, 'soon'],
    ['when negative', 429, '-5'],
    ['when the date has passed', 503, new Date(Date.now() - 60_000).toUTCString()],
  ])('ignores Retry-After %s', async (_case, status, retryAfter) => {
    const hook = await receiver(answerWith(status, { 'retry-after': retryAfter }));
    const attempt = await senderWith().send({ url: hook.url, eventId: 'e1', body: '{}', secrets: [newSecret()] });
    expect(attempt).toMatchObject({ httpStatus: status });
    expect(attempt).not.toHaveProperty('retryAfterMs');
  });

  it('counts a 2xx as delivered however large its body, without reading all of it', async () => {
    const hook = await receiver((_request, response) => response.end(Buffer.alloc(4 * 1024 * 1024, 'x')));
    const attempt = await senderWith().send({ url: hook.url, eventId: 'e1', body: '{}', secrets: [newSecret()] });
    expect(attempt).toMatchObject({ httpStatus: 200, error: null });
  });

  it('reuses one connection for consecutive deliveries to a receiver', async () => {
    const hook = await receiver();
    const sender = senderWith();
    for (const eventId of ['e1', 'e2', 'e3']) {
      expect(await sender.send({ url: hook.url, eventId, body: '{}', secrets: [newSecret()] })).toMatchObject({ httpStatus: 200 });
    }
    expect(hook.requests).toHaveLength(3);
    expect(hook.connections).toBe(1);
  });

  it('gives up on a receiver that does not answer within timeoutMs', async () => {
    const hook = await receiver(() => undefined);
    const attempt = await senderWith({ timeoutMs: 200 }).send({ url: hook.url, eventId: 'e1', body: '{}', secrets: [newSecret()] });
    expect(attempt).toEqual({ httpStatus: null, error: 'timed out after 200 ms', refused: false, durationMs: expect.any(Number) });
    expect(attempt.durationMs).toBeGreaterThanOrEqual(190);
    expect(attempt.durationMs).toBeLessThan(1500);
    expect(hook.requests).toHaveLength(1);
  });

  it('counts a resolver that does not answer against the same deadline', async () => {
    const resolve: Resolver = () => new Promise(() => undefined);
    const attempt = await senderWith({ timeoutMs: 200, resolve }).send({
      url: 'http://receiver.test/',
      eventId: 'e1',
      body: '{}',
      secrets: [newSecret()],
    });
    expect(attempt).toMatchObject({ httpStatus: null, error: 'timed out after 200 ms', refused: false });
  });

  it('reports a refused connection with no status', async () => {
    const port = await closedPort();
    const attempt = await senderWith().send({ url: `http://127.0.0.1:${port}/`, eventId: 'e1', body: '{}', secrets: [newSecret()] });
    expect(attempt).toEqual({
      httpStatus: null,
      error: `connect ECONNREFUSED 127.0.0.1:${port}`,
      refused: false,
      durationMs: expect.any(Number),
    });
  });

  describe('with requirePublic', () => {
    it('refuses an http URL without connecting', async () => {
      const hook = await receiver();
      const attempt = await senderWith({ policy: production }).send({ url: hook.url, eventId: 'e1', body: '{}', secrets: [newSecret()] });
      expect(attempt).toEqual({
        httpStatus: null,
        error: 'refused: webhookUrl must be https in production',
        refused: true,
        durationMs: expect.any(Number),
      });
      expect(hook.connections).toBe(0);
    });

    it('refuses https://localhost as non-public without connecting to the receiver listening there', async () => {
      const hook = await receiver();
      const attempt = await senderWith({ policy: production }).send({
        url: `https://localhost:${hook.port}/`,
        eventId: 'e1',
        body: '{}',
        secrets: [newSecret()],
      });
      expect(attempt).toMatchObject({
        httpStatus: null,
        error: expect.stringMatching(/^refused: localhost resolves to a non-public address \((127\.0\.0\.1|::1)\)$/),
        refused: true,
      });
      expect(hook.connections).toBe(0);
    });
  });

  it('connects to the address the destination check resolved, keeping the name in the Host header', async () => {
    const hook = await receiver();
    const resolve = jest.fn<ReturnType<Resolver>, Parameters<Resolver>>(() => Promise.resolve([{ address: '127.0.0.1', family: 4 }]));
    const url = `http://receiver.test:${hook.port}/hooks/lyrics`;

    const attempt = await senderWith({ resolve }).send({ url, eventId: 'e1', body: '{}', secrets: [newSecret()] });

    expect(attempt).toMatchObject({ httpStatus: 200, error: null });
    expect(hook.requests[0].headers.host).toBe(`receiver.test:${hook.port}`);
    expect(resolve.mock.calls).toEqual([['receiver.test']]);
  });

  it("reuses a host name's passed check for a while (checkCacheMs), but never a failed one", async () => {
    const hook = await receiver();
    const url = `http://receiver.test:${hook.port}/hooks/lyrics`;
    const resolve = jest.fn<ReturnType<Resolver>, Parameters<Resolver>>(() => Promise.resolve([{ address: '127.0.0.1', family: 4 }]));
    const cached = senderWith({ resolve });
    for (const eventId of ['e1', 'e2', 'e3']) {
      expect(await cached.send({ url, eventId, body: '{}', secrets: [newSecret()] })).toMatchObject({ httpStatus: 200 });
    }
    expect(resolve).toHaveBeenCalledTimes(1);

    const uncached = jest.fn<ReturnType<Resolver>, Parameters<Resolver>>(() => Promise.resolve([{ address: '127.0.0.1', family: 4 }]));
    const everyTime = senderWith({ resolve: uncached, checkCacheMs: 0 });
    await everyTime.send({ url, eventId: 'e4', body: '{}', secrets: [newSecret()] });
    await everyTime.send({ url, eventId: 'e5', body: '{}', secrets: [newSecret()] });
    expect(uncached).toHaveBeenCalledTimes(2);

    const failing = jest.fn<ReturnType<Resolver>, Parameters<Resolver>>(() =>
      Promise.reject(Object.assign(new Error('no such host'), { code: 'ENOTFOUND' })),
    );
    const refusing = senderWith({ resolve: failing });
    for (const eventId of ['e6', 'e7']) {
      expect(await refusing.send({ url, eventId, body: '{}', secrets: [newSecret()] })).toMatchObject({ refused: true });
    }
    expect(failing).toHaveBeenCalledTimes(2);
    expect(hook.requests.map((request) => request.headers['webhook-id'])).toEqual(['e1', 'e2', 'e3', 'e4', 'e5']);
  });

  it('reports a secret that is not base64 as an attempt that did not connect', async () => {
    const hook = await receiver();
    const attempt = await senderWith().send({ url: hook.url, eventId: 'e1', body: '{}', secrets: ['whsec_not base64!'] });
    expect(attempt).toMatchObject({ httpStatus: null, error: 'cannot sign: the secret is not base64', refused: false });
    expect(hook.connections).toBe(0);
  });

  it('over https, connects to the pinned address but names the host in SNI (and no name for an IP literal)', async () => {
    // A TLS server with no certificate at all: it records the name the client asks for, then fails the handshake.
    const serverNames: string[] = [];
    const server = createTlsServer({
      SNICallback: (name, callback) => {
        serverNames.push(name);
        callback(new Error('no certificate here'));
      },
    });
    teardown.add(server, (started) => new Promise((resolve) => started.close(resolve)));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const { port } = server.address() as AddressInfo;
    const sender = senderWith({ resolve: () => Promise.resolve([{ address: '127.0.0.1', family: 4 }]) });

    const named = await sender.send({ url: `https://receiver.test:${port}/`, eventId: 'e1', body: '{}', secrets: [newSecret()] });
    const literal = await sender.send({ url: `https://127.0.0.1:${port}/`, eventId: 'e2', body: '{}', secrets: [newSecret()] });

    expect(named).toMatchObject({ httpStatus: null, error: expect.stringMatching(/TLS|socket/), refused: false });
    expect(literal).toMatchObject({ httpStatus: null, refused: false });
    expect(serverNames).toEqual(['receiver.test']);
  });

  it('reports an event id that cannot be a header value as an attempt that did not connect', async () => {
    const hook = await receiver();
    const attempt = await senderWith().send({ url: hook.url, eventId: 'e1\r\nx-injected: 1', body: '{}', secrets: [newSecret()] });
    expect(attempt).toMatchObject({
      httpStatus: null,
      error: expect.stringContaining('Invalid character in header content'),
      refused: false,
    });
    expect(hook.connections).toBe(0);
  });

  it('reports an unusable URL as refused', async () => {
    const attempt = await senderWith().send({ url: 'not a url', eventId: 'e1', body: '{}', secrets: [newSecret()] });
    expect(attempt).toMatchObject({ httpStatus: null, error: 'refused: webhookUrl is not a URL', refused: true });
  });

  it.each([
    ['no secret', [], 'cannot sign: no signing secret'],
    ['a secret that is not base64', ['whsec_!!not-base64!!'], expect.stringMatching(/^cannot sign: /)],
  ])('reports %s as an attempt that did not connect, without the secret', async (_case, secrets, error) => {
    const hook = await receiver();
    const attempt = await senderWith().send({ url: hook.url, eventId: 'e1', body: '{}', secrets });
    expect(attempt).toMatchObject({ httpStatus: null, error, refused: false });
    expect(attempt.error).not.toContain('not-base64');
    expect(hook.connections).toBe(0);
  });
});
