import { Module } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { TypeOrmModule } from '@nestjs/typeorm';
import request from 'supertest';
import { LyricsModule } from '../src/lyrics';
import { KieSandbox } from '../src/sandbox/kie-sandbox';
import { createTestDatabase } from './support/database';
import { LyricsContext, useLyricsApp } from './support/lyrics-client';
import { freePort } from './support/postgres-server';
import { FileLogger } from './support/service-logs';
import { teardownAfterAll } from './support/teardown';

const HOST_PREFIX = '/api/v1';

/** One request, sent to the app at `url` whose lyrics routes live under `base`. */
type Send = (url: string, base: string) => request.Test;

const postJson =
  (json: string): Send =>
  (url, base) =>
    request(url).post(`${base}/lyrics`).set('content-type', 'application/json').send(json);
const get =
  (path: string): Send =>
  (url, base) =>
    request(url).get(`${base}${path}`);

describe('LyricsModule in a host app with no global pipes validates as the standalone service does', () => {
  // Results take a minute and the dispatchers' idle rounds too: every create seen was woken by a submission.
  const standalone = useLyricsApp({ sandbox: { resultDelayMs: 60_000 }, env: { LYRICS_DISPATCH_INTERVAL_MS: '60000' } });
  const host = new LyricsContext();
  const teardown = teardownAfterAll();

  beforeAll(async () => {
    const sandbox = teardown.add(await KieSandbox.start({ resultDelayMs: 60_000 }), (own) => own.stop());
    const database = teardown.add(await createTestDatabase(), (own) => own.drop());
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;

    /** The README's host: its own TypeORM connection, the module under a prefix, and no global pipes at all. */
    @Module({
      imports: [
        TypeOrmModule.forRoot({ type: 'postgres', url: database.url, autoLoadEntities: true }),
        LyricsModule.forRoot({
          kie: { apiKey: 'host-kie-key', baseUrl: sandbox.url },
          publicBaseUrl: url,
          resolveOwner: () => 'host-client',
          dispatchIntervalMs: 60_000,
          routePrefix: HOST_PREFIX.slice(1),
        }),
      ],
    })
    class HostModule {}

    const moduleRef = await Test.createTestingModule({ imports: [HostModule] }).compile();
    const app = teardown.add(moduleRef.createNestApplication({ logger: new FileLogger() }), (own) => own.close());
    await app.listen(port, '127.0.0.1');
    host.bind({ url, query: database.query, sandbox, basePath: HOST_PREFIX });
  });

  const badInputs: [string, Send][] = [
    ['a prompt that is a number', postJson('{"prompt": 5}')],
    ['a missing prompt', postJson('{}')],
    ['a blank prompt', postJson('{"prompt": " \\n "}')],
    ['a prompt over 200 code points', postJson(JSON.stringify({ prompt: '😀'.repeat(201) }))],
    ['a prompt with a NUL', postJson(JSON.stringify({ prompt: 'a\u0000b' }))],
    ['metadata with a lone surrogate', postJson('{"prompt": "ok", "metadata": {"a": "\\ud800"}}')],
    ['metadata that is an array', postJson('{"prompt": "ok", "metadata": [1]}')],
    ['metadata over 4 KiB', postJson(JSON.stringify({ prompt: 'ok', metadata: { blob: 'x'.repeat(4100) } }))],
    ['an unknown field', postJson('{"prompt": "ok", "model": "v5"}')],
    ['a body that is a JSON array', postJson('[]')],
    ['malformed JSON', postJson('{"prompt": "ok"')],
    ['no body', (url, base) => request(url).post(`${base}/lyrics`)],
    [
      'an Idempotency-Key over 255 characters',
      (url, base) => request(url).post(`${base}/lyrics`).set('Idempotency-Key', 'k'.repeat(256)).send({ prompt: 'ok' }),
    ],
    ['a limit that is not a number', get('/lyrics?limit=abc')],
    ['a limit over 100', get('/lyrics?limit=1000')],
    ['a repeated status', get('/lyrics?status=queued&status=failed')],
    ['a cursor of garbage', get('/lyrics?cursor=garbage')],
    ['an unknown query parameter', get('/lyrics?sort=asc')],
    ['an id that is not a UUID', get('/lyrics/not-a-uuid')],
  ];

  it.each(badInputs)('%s: the same 400, and nothing stored or sent', async (_, send) => {
    await host.waitForNoQueuedTask();
    const tasksBefore = await host.taskCount();
    const createsBefore = host.requestsTo('create').length;
    const [alone, hosted] = await Promise.all([send(standalone.url, ''), send(host.url, HOST_PREFIX)]);
    expect(alone.status).toBe(400);
    expect({ status: hosted.status, body: hosted.body }).toEqual({ status: alone.status, body: alone.body });
    expect(await host.taskCount()).toBe(tasksBefore);
    expect(host.requestsTo('create')).toHaveLength(createsBefore);
  });

  it('lists with the query converted (limit a number), as the standalone service does', async () => {
    const { body: firstPage } = await get('/lyrics')(host.url, HOST_PREFIX).expect(200);
    expect(firstPage).toEqual({ items: expect.any(Array), nextCursor: null });
    await host.submit('A host song to list');
    await host.submit('Another host song to list');
    const { body: page } = await get('/lyrics?limit=1')(host.url, HOST_PREFIX).expect(200);
    expect(page.items).toHaveLength(1);
    expect(page.items[0].prompt).toBe('Another host song to list');
    expect(page.nextCursor).toEqual(expect.any(String));
  });

  it('stores and returns metadata with any key names and a prompt of emoji exactly', async () => {
    const json = '{"prompt": "🎵🎶 host", "metadata": {"constructor": {"a": 1}, "__proto__": {"x": [1, {"prototype": null}]}}}';
    const sent = JSON.parse(json);
    const { body: created } = await postJson(json)(host.url, HOST_PREFIX).expect(202);
    expect(created.prompt).toBe(sent.prompt);
    expect(created.metadata).toEqual(sent.metadata);
    expect(Object.keys(created.metadata).sort()).toEqual(['__proto__', 'constructor']);
    const row = await host.taskRow(created.id);
    expect(row.prompt).toBe(sent.prompt);
    expect(row.metadata).toEqual(sent.metadata);
    const read = await host.task(created.id);
    expect(read.prompt).toBe(sent.prompt);
    expect(read.metadata).toEqual(sent.metadata);
    await host.waitForStatus(created.id, 'submitted');
    expect(host.createsFor(sent.prompt)).toHaveLength(1);
  });
});
