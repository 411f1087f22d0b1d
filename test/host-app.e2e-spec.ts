import { CanActivate, ExecutionContext, Injectable, Module } from '@nestjs/common';
import { ConfigModule, ConfigService } from '@nestjs/config';
import { EventEmitterModule, OnEvent } from '@nestjs/event-emitter';
import { Test } from '@nestjs/testing';
import { TypeOrmModule } from '@nestjs/typeorm';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Request } from 'express';
import request from 'supertest';
import {
  LYRICS_FAILED,
  LYRICS_MIGRATIONS,
  LYRICS_SUCCEEDED,
  LyricsModule,
  LyricsModuleExtras,
  LyricsService,
  LyricsFinalEvent,
} from '../src/lyrics';
import { KieSandbox } from '../src/sandbox/kie-sandbox';
import { answeredDeliveries } from './support/callbacks';
import { createTestDatabase, TestDatabase } from './support/database';
import { LyricsContext } from './support/lyrics-client';
import { freePort } from './support/postgres-server';
import { FileLogger } from './support/service-logs';
import { teardownAfterEach } from './support/teardown';
import { waitFor } from './support/wait';

/** The host's own authentication: only Alice may use the lyrics API. */
@Injectable()
class HostAuthGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    return context.switchToHttp().getRequest().headers['x-host-user'] === 'alice';
  }
}

/** The host's reaction to results. */
@Injectable()
class HostListener {
  readonly succeeded: LyricsFinalEvent[] = [];
  readonly failedCalls: LyricsFinalEvent[] = [];

  @OnEvent(LYRICS_SUCCEEDED)
  onSucceeded(event: LyricsFinalEvent): void {
    this.succeeded.push(event);
  }

  /** Not ready for the first two calls: a handler that rejects, and says so to the relay (suppressErrors: false). */
  @OnEvent(LYRICS_FAILED, { suppressErrors: false })
  async onFailed(event: LyricsFinalEvent): Promise<void> {
    this.failedCalls.push(event);
    if (this.failedCalls.length <= 2) throw new Error(`the host is not ready (call ${this.failedCalls.length})`);
  }
}

/** A host app of its own: its ConfigModule, its named TypeORM connection, its guard, a route prefix. */
function hostModule(settings: { databaseUrl: string; kieUrl: string; publicBaseUrl: string }, extras: LyricsModuleExtras) {
  @Module({
    imports: [
      ConfigModule.forRoot({ ignoreEnvFile: true, isGlobal: true, load: [() => settings] }),
      EventEmitterModule.forRoot(),
      TypeOrmModule.forRootAsync({
        name: 'hostdb',
        inject: [ConfigService],
        useFactory: (config: ConfigService) => ({
          type: 'postgres',
          url: config.getOrThrow<string>('databaseUrl'),
          autoLoadEntities: true,
          migrations: LYRICS_MIGRATIONS,
          migrationsRun: true,
        }),
      }),
      LyricsModule.forRootAsync({
        inject: [ConfigService],
        useFactory: (config: ConfigService) => ({
          kie: { apiKey: 'host-kie-key', baseUrl: config.getOrThrow<string>('kieUrl') },
          publicBaseUrl: config.getOrThrow<string>('publicBaseUrl'),
          resolveOwner: (request: Request) => request.header('x-host-user'),
          pollInitialDelayMs: 100,
          pollIntervalMs: 50,
          dispatchIntervalMs: 50,
        }),
        dataSource: 'hostdb',
        ...extras,
      }),
    ],
    providers: [HostListener],
  })
  class HostModule {}
  return HostModule;
}

describe('LyricsModule inside a host app', () => {
  const afterTest = teardownAfterEach();
  let sandbox: KieSandbox;
  let database: TestDatabase;

  beforeAll(async () => {
    sandbox = await KieSandbox.start({ resultDelayMs: 30 });
  });

  beforeEach(async () => {
    // The host runs the module's migrations itself, on an empty database.
    database = afterTest.add(await createTestDatabase(), (own) => own.drop());
    await database.query(
      'DROP TABLE lyrics_variants, lyrics_tasks, lyrics_rate_slots, lyrics_callback_receipts, lyrics_owner_turns, lyrics_deliveries, lyrics_events, lyrics_webhook_secrets, lyrics_kie_accounts, migrations',
    );
  });

  afterAll(async () => {
    await sandbox.stop();
  });

  /** The host app on a free port, closed after the test, and a context speaking to its API as the host mounted it. */
  async function startHost(extras: LyricsModuleExtras, mounting: { basePath?: string; headers?: Record<string, string> } = {}) {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const logger = new FileLogger();
    const moduleRef = await Test.createTestingModule({
      imports: [hostModule({ databaseUrl: database.url, kieUrl: sandbox.url, publicBaseUrl: url }, extras)],
    })
      .setLogger(logger)
      .compile();
    const app = afterTest.add(moduleRef.createNestApplication({ logger }), (host) => host.close());
    await app.listen(port, '127.0.0.1');
    return { app, ctx: new LyricsContext({ url, query: database.query, sandbox, ...mounting }) };
  }

  it('serves the API under its prefix behind the host guard, takes the callback there, and emits lyrics.succeeded once', async () => {
    const { app, ctx } = await startHost(
      { routePrefix: 'api/v1', clientGuards: [HostAuthGuard] },
      { basePath: '/api/v1', headers: { 'x-host-user': 'alice' } },
    );
    await request(ctx.url).post('/api/v1/lyrics').send({ prompt: 'A host song' }).expect(403);
    await request(ctx.url).post('/lyrics').set('x-host-user', 'alice').send({ prompt: 'A host song' }).expect(404);
    const { id } = await ctx.submit('A host song');

    const listener = app.get(HostListener);
    await waitFor('lyrics.succeeded', () => listener.succeeded.length === 1);
    expect(listener.succeeded[0]).toMatchObject({ name: 'lyrics.succeeded', owner: 'alice', task: { id, status: 'succeeded' } });
    const [create] = ctx.createsFor('A host song');
    expect(create.callBackUrl).toMatch(new RegExp(`^${ctx.url}/api/v1/lyrics/callback/${id}/`));
    expect((await answeredDeliveries(sandbox, create.taskId!)).map((d) => d.status)).toEqual([200]);
    const task = await ctx.task(id);
    expect(task.variants.map((v: { title: string }) => v.title)).toEqual(sandbox.task(create.taskId!)!.variants.map((v) => v.title));
    expect(listener.succeeded).toHaveLength(1);
  });

  it('calls a rejecting handler again with backoff, with the same event, until it returns', async () => {
    const { app, ctx } = await startHost({}, { headers: { 'x-host-user': 'alice' } });
    const { id } = await ctx.submit('[sandbox:fail] the host is not ready for this one');
    const listener = app.get(HostListener);
    await waitFor('the third call', () => listener.failedCalls.length === 3, { timeoutMs: 20000 });
    const [event] = await ctx.query(`SELECT id FROM lyrics_events WHERE task_id = $1`, [id]);
    for (const call of listener.failedCalls) {
      expect(call).toEqual({ id: event.id, name: 'lyrics.failed', owner: 'alice', task: await ctx.task(id) });
    }
    const [delivery] = await waitFor('the delivery to be recorded', async () => {
      const rows = await ctx.query(
        `SELECT status, attempt_count, attempts FROM lyrics_deliveries WHERE task_id = $1 AND consumer = 'host'`,
        [id],
      );
      return rows[0]?.status === 'delivered' && rows;
    });
    expect(delivery.attempt_count).toBe(3);
    expect(delivery.attempts.map((attempt: { error: string | null }) => attempt.error)).toEqual([
      'the host is not ready (call 1)',
      'the host is not ready (call 2)',
      null,
    ]);
    // Backoff: about 1 s, then about 2 s (each ±20%).
    const at = delivery.attempts.map((attempt: { at: string }) => Date.parse(attempt.at));
    expect(at[1] - at[0]).toBeGreaterThanOrEqual(800 - 50);
    expect(at[2] - at[1]).toBeGreaterThanOrEqual(1600 - 50);
  });

  it('with both controllers off, is driven through LyricsService alone (results by polling)', async () => {
    const { app, ctx } = await startHost({ clientController: false, callbackController: false });
    await request(ctx.url).post('/lyrics').send({ prompt: 'x' }).expect(404);
    const lyrics = app.get(LyricsService);
    const song = { owner: 'team-a', prompt: 'A service song', metadata: { ref: 7 }, idempotencyKey: 'host-1' };
    const first = await lyrics.submit(song);
    expect(first).toMatchObject({ created: true, task: { status: 'queued', metadata: { ref: 7 } } });
    expect(await lyrics.submit(song)).toMatchObject({ created: false, task: { id: first.task.id } });
    const done = await lyrics.waitForFinal('team-a', first.task.id, { timeoutMs: 15000 });
    expect(done).toMatchObject({ id: first.task.id, status: 'succeeded' });
    const [create] = ctx.createsFor('A service song');
    expect(create.callBackUrl).not.toContain(ctx.url);
    expect(await lyrics.get('team-a', first.task.id)).toEqual(done);
    expect((await lyrics.list({ owner: 'team-a', limit: 10 })).items.map((t) => t.id)).toEqual([first.task.id]);
    await expect(lyrics.waitForFinal('team-a', '7a4c1c39-5a0e-4a54-9d8a-000000000000')).rejects.toThrow('not found');
  });

  it("keeps each owner's tasks to that owner, through LyricsService as through the routes", async () => {
    const { app, ctx } = await startHost({ routePrefix: 'api/v1' }, { basePath: '/api/v1', headers: { 'x-host-user': 'alice' } });
    await request(ctx.url).post('/api/v1/lyrics').send({ prompt: 'Nobody' }).expect(401);
    const { id } = await ctx.submit('Alice only');
    const lyrics = app.get(LyricsService);
    expect(await lyrics.get('bob', id)).toBeUndefined();
    expect((await lyrics.list({ owner: 'bob', limit: 10 })).items).toEqual([]);
    await expect(lyrics.waitForFinal('bob', id, { timeoutMs: 100 })).rejects.toThrow('not found');
    await request(ctx.url).get(`/api/v1/lyrics/${id}`).set('x-host-user', 'bob').expect(404);
    expect((await lyrics.get('alice', id))?.id).toBe(id);
  });
});

describe('LyricsModule registration', () => {
  @Injectable()
  class NeedsLyrics {
    constructor(readonly lyrics: LyricsService) {}
  }

  /** A feature module that does not import LyricsModule itself. */
  @Module({ providers: [NeedsLyrics] })
  class FeatureModule {}

  const base = { kie: { apiKey: 'k', baseUrl: 'http://127.0.0.1:9' }, runWorkers: false, resolveOwner: () => 'tester' };
  let database: TestDatabase;

  beforeAll(async () => {
    database = await createTestDatabase();
  });

  afterAll(async () => {
    await database.drop();
  });

  // No connection is opened (manualInitialization): these tests are about the module's wiring, and a failed
  // compile would leave an opened one behind.
  const compile = (lyricsModule: ReturnType<typeof LyricsModule.forRoot>, ...others: (typeof FeatureModule)[]) =>
    Test.createTestingModule({
      imports: [
        TypeOrmModule.forRoot({ type: 'postgres', url: database.url, autoLoadEntities: true, manualInitialization: true }),
        lyricsModule,
        ...others,
      ],
    }).compile();

  it.each([
    ['forRoot', () => LyricsModule.forRoot({ ...base, isGlobal: true })],
    ['forRootAsync', () => LyricsModule.forRootAsync({ useFactory: () => base, isGlobal: true })],
  ])('%s with isGlobal makes LyricsService injectable in modules that do not import it', async (_, lyricsModule) => {
    const moduleRef = await compile(lyricsModule(), FeatureModule);
    expect(moduleRef.get(NeedsLyrics).lyrics).toBeInstanceOf(LyricsService);
    await moduleRef.close();
  });

  it.each([
    ['forRoot', () => LyricsModule.forRoot(base)],
    ['forRootAsync', () => LyricsModule.forRootAsync({ useFactory: () => base })],
  ])('%s without isGlobal keeps LyricsService to the modules that import it', async (_, lyricsModule) => {
    await expect(compile(lyricsModule(), FeatureModule)).rejects.toThrow(/LyricsService/);
  });

  it('refuses invalid options at start, naming the option', async () => {
    await expect(compile(LyricsModule.forRoot({ kie: { apiKey: '' } }))).rejects.toThrow(
      'LyricsModule: kie.apiKey (or kie.accounts) is required',
    );
    await expect(compile(LyricsModule.forRoot({ ...base, createBudget: 0 }))).rejects.toThrow(
      'LyricsModule: createBudget must be an integer from 1 to 10000',
    );
    await expect(compile(LyricsModule.forRoot({ ...base, resolveOwner: undefined }))).rejects.toThrow(
      'LyricsModule: resolveOwner is required when the client controller is mounted',
    );
    const withoutClientApi = await compile(LyricsModule.forRoot({ ...base, resolveOwner: undefined, clientController: false }));
    await withoutClientApi.close();
  });
});

describe('the npm package', () => {
  it('contains the built module, its types and its migrations, and no tests', async () => {
    const root = join(__dirname, '..');
    const { stdout } = await promisify(execFile)('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: root });
    const files: string[] = JSON.parse(stdout)[0].files.map((file: { path: string }) => file.path);
    expect(files).toEqual(
      expect.arrayContaining([
        'package.json',
        'README.md',
        'dist/lyrics/index.js',
        'dist/lyrics/index.d.ts',
        'dist/lyrics/lyrics.module.js',
      ]),
    );
    expect(files.filter((file) => /^dist\/lyrics\/migrations\/\d+-\w+\.js$/.test(file)).length).toBeGreaterThan(0);
    expect(files.filter((file) => /spec|test|sandbox|\.map$/.test(file))).toEqual([]);
    expect(files.every((file) => file.startsWith('dist/lyrics/') || ['package.json', 'README.md'].includes(file))).toBe(true);
  });
});
