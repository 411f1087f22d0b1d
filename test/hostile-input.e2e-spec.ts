import { connect } from 'node:net';
import request from 'supertest';
import { bearer, useLyricsApp } from './support/lyrics-client';

const KEY = 'hostile-client-key-0001';

/** Sends `raw` bytes as one HTTP request and resolves with the response's status code (0 when the socket closed first). */
function rawStatus(url: string, raw: string): Promise<number> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname, () => socket.end(raw));
    let answer = '';
    socket.on('data', (chunk) => (answer += chunk.toString('latin1')));
    socket.on('close', () => resolve(Number(/^HTTP\/1\.1 (\d{3})/.exec(answer)?.[1] ?? 0)));
    socket.on('error', reject);
  });
}

/**
 * Every route against a list of hostile requests: each gets a 2xx or a 4xx, never a 5xx, and a refused request
 * leaves no row behind.
 */
describe('hostile input at every route', () => {
  const ctx = useLyricsApp({ env: { API_KEYS: `hostile:${KEY}` } });
  const routes = [
    ['POST', '/lyrics'],
    ['GET', '/lyrics'],
    ['GET', '/lyrics/7a4c1c39-5a0e-4a54-9d8a-000000000000'],
    ['POST', '/lyrics/callback/7a4c1c39-5a0e-4a54-9d8a-000000000000/some-token'],
    ['GET', '/health'],
    ['GET', '/health/live'],
    ['GET', '/metrics'],
    ['GET', '/docs-json'],
  ] as const;
  const huge = 'q'.repeat(6000);
  const impossibleCursor = Buffer.from('2026-02-30T24:00:00.000000Z|7a4c1c39-5a0e-4a54-9d8a-000000000000').toString('base64url');
  const attacks: [string, (method: string, path: string) => request.Test][] = [
    ['a huge query parameter', (method, path) => send(method, `${path}?limit=${huge}&cursor=${huge}&status=${huge}`)],
    ['repeated query parameters', (method, path) => send(method, `${path}?limit=1&limit=2&status=a&status=b&cursor=x&cursor=y`)],
    ['a cursor naming an impossible date', (method, path) => send(method, `${path}?cursor=${impossibleCursor}`)],
    ['a 300-character Idempotency-Key', (method, path) => send(method, path).set('Idempotency-Key', 'k'.repeat(300))],
    ['an XML body', (method, path) => send(method, path).set('content-type', 'application/xml').send('<prompt>hi</prompt>')],
    ['a JSON array body', (method, path) => send(method, path).set('content-type', 'application/json').send('[1,2,3]')],
    ['truncated JSON', (method, path) => send(method, path).set('content-type', 'application/json').send('{"prompt": "a')],
    [
      'a body over the size limit',
      (method, path) =>
        send(method, path)
          .set('content-type', 'application/json')
          .send(`"${'x'.repeat(2 << 20)}"`),
    ],
    ['a form body', (method, path) => send(method, path).type('form').send({ prompt: 'form' })],
  ];

  function send(method: string, path: string): request.Test {
    const test = method === 'POST' ? request(ctx.url).post(path) : request(ctx.url).get(path);
    return test.set(bearer(KEY));
  }

  const rowCount = async () =>
    Number((await ctx.query('SELECT (SELECT count(*) FROM lyrics_tasks) + (SELECT count(*) FROM lyrics_callback_receipts) AS n'))[0].n);

  it.each(routes.flatMap(([method, path]) => attacks.map(([name, attack]) => [method, path, name, attack] as const)))(
    '%s %s with %s: a 2xx or 4xx, and no row when refused',
    async (method, path, _, attack) => {
      const before = await rowCount();
      const { status } = await attack(method, path);
      expect(status).toBeLessThan(500);
      if (status >= 400) expect(await rowCount()).toBe(before);
    },
  );

  it.each(routes)('%s %s with control characters in a header: a 4xx from the HTTP parser, nothing stored', async (method, path) => {
    const before = await rowCount();
    const status = await rawStatus(
      ctx.url,
      `${method} ${path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${KEY}\r\nIdempotency-Key: a\u0001b\u0007c\r\nContent-Length: 0\r\n\r\n`,
    );
    expect(status).toBeGreaterThanOrEqual(400);
    expect(status).toBeLessThan(500);
    expect(await rowCount()).toBe(before);
  });
});
