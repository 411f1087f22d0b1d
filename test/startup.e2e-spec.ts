import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { AddressInfo, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import { isProcessAlive } from '../src/database/embedded-postgres';
import { createTestDatabase } from './support/database';
import { freePort } from './support/postgres-server';
import { ServiceProcess } from './support/service-process';
import { teardownAfterEach } from './support/teardown';
import { waitFor } from './support/wait';

describe('starting the service (node dist/main.js, as npm start runs it)', () => {
  const afterTest = teardownAfterEach();
  /** A folder the embedded PostgreSQL (which runs as the postgres user) can reach, removed after the test. */
  const workDirForTest = () => {
    const workDir = afterTest.add(mkdtempSync(join(tmpdir(), 'kie-lyrics-start-')), (dir) => rmSync(dir, { recursive: true, force: true }));
    chmodSync(workDir, 0o755); // run as root, the server runs as the postgres user, which must reach it
    return workDir;
  };

  it('refuses to start in production without DATABASE_URL, in one line naming it', async () => {
    const service = ServiceProcess.start({ NODE_ENV: 'production', KIE_API_KEY: 'k', API_KEYS: 'client:a-key-of-16-chars' });
    expect(await service.exitCode()).toBe(1);
    expect(service.logs.trim()).toBe('Invalid configuration: DATABASE_URL is required when NODE_ENV=production');
  });

  it('refuses production API_KEYS under 16 characters, naming the entry and never the key', async () => {
    const service = ServiceProcess.start({
      NODE_ENV: 'production',
      DATABASE_URL: 'postgres://127.0.0.1:9/x',
      KIE_API_KEY: 'k',
      API_KEYS: 'alice:a-key-of-16-chars,bob:tiny',
    });
    expect(await service.exitCode()).toBe(1);
    expect(service.logs.trim()).toBe('Invalid configuration: API_KEYS entry 2 has a key shorter than 16 characters (production)');
  });

  it('refuses a malformed value, naming the variable', async () => {
    const service = ServiceProcess.start({ PORT: 'eighty' });
    expect(await service.exitCode()).toBe(1);
    expect(service.logs.trim()).toBe('Invalid configuration: PORT must be an integer number');
  });

  it('refuses an unknown KIE_API_ROUTE, naming the choices', async () => {
    const service = ServiceProcess.start({ KIE_API_ROUTE: 'market' });
    expect(await service.exitCode()).toBe(1);
    expect(service.logs.trim()).toBe('Invalid configuration: KIE_API_ROUTE must be one of legacy, jobs');
  });

  it('with KIE_API_ROUTE=jobs and no KIE_API_KEY, plays the Jobs route in-process, calling back in both shapes in turn', async () => {
    const database = afterTest.add(await createTestDatabase(), (own) => own.drop());
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const service = afterTest.add(
      ServiceProcess.start({ PORT: String(port), DATABASE_URL: database.url, KIE_API_ROUTE: 'jobs' }),
      (started) => started.stop('SIGKILL'),
    );
    await service.waitForHealthy(url);
    const sandboxUrl = /built-in KIE sandbox at (http:\/\/[^ ]+) on the jobs route/.exec(service.logs)?.[1];
    expect(sandboxUrl).toBeDefined();

    const ids: string[] = [];
    for (const prompt of ['A first song on the Jobs route', 'A second song on the Jobs route']) {
      ids.push((await request(url).post('/lyrics').send({ prompt }).expect(202)).body.id);
    }
    for (const id of ids) {
      await waitFor(`task ${id} to succeed`, async () => (await request(url).get(`/lyrics/${id}`)).body.status === 'succeeded');
    }
    const requests = (await (await fetch(`${sandboxUrl}/sandbox/requests`)).json()) as { endpoint: string; path: string }[];
    expect(requests.filter((r) => r.endpoint === 'create').map((r) => r.path)).toEqual([
      '/api/v1/jobs/createTask',
      '/api/v1/jobs/createTask',
    ]);
    const callbacks = (await (await fetch(`${sandboxUrl}/sandbox/callbacks`)).json()) as { shape: string; status: number }[];
    expect(callbacks.map((c) => [c.shape, c.status]).sort()).toEqual([
      ['legacy', 200],
      ['market', 200],
    ]);
  });

  it('refuses a LYRICS_* value out of the bounds another variable sets, in one line naming both, without a stack trace', async () => {
    const service = ServiceProcess.start({ LYRICS_POLL_MAX_INTERVAL_MS: '2000' });
    expect(await service.exitCode()).toBe(1);
    expect(service.logs.trim()).toBe('Invalid configuration: LYRICS_POLL_MAX_INTERVAL_MS must be at least LYRICS_POLL_INTERVAL_MS (10000)');
  });

  it('stops the embedded PostgreSQL it started when the app cannot start (port taken), and exits 1', async () => {
    const workDir = workDirForTest();
    const taken = afterTest.add(createServer(), (server) => server.close());
    await new Promise<void>((resolve) => taken.listen(0, resolve));
    const port = (taken.address() as AddressInfo).port;
    const service = afterTest.add(
      ServiceProcess.start({
        PORT: String(port),
        EMBEDDED_POSTGRES_DIR: join(workDir, 'postgres'),
        EMBEDDED_POSTGRES_PORT: String(await freePort()),
      }),
      (started) => started.stop('SIGKILL'),
    );
    expect(await service.exitCode(60000)).toBe(1);
    expect(service.logs).toMatch(/Failed to start: .*EADDRINUSE/);
    expect(service.logs).toContain('Embedded PostgreSQL stopped');
    expect(existsSync(join(workDir, 'postgres', 'postmaster.pid'))).toBe(false);
  });

  it('with nothing configured, runs on an embedded PostgreSQL and stops it on SIGINT', async () => {
    const dataDir = join(workDirForTest(), 'postgres');
    const port = await freePort();
    const service = afterTest.add(
      ServiceProcess.start({
        PORT: String(port),
        EMBEDDED_POSTGRES_DIR: dataDir,
        EMBEDDED_POSTGRES_PORT: String(await freePort()),
      }),
      (started) => started.stop('SIGKILL'),
    );
    await service.waitForHealthy(`http://127.0.0.1:${port}`);
    const postmasterPid = Number(readFileSync(join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
    expect(isProcessAlive(postmasterPid)).toBe(true);
    expect(service.logs).toContain(`Embedded PostgreSQL at postgres://`);
    expect(service.logs).toContain(join(dataDir, 'server.log'));

    expect(await service.stop('SIGINT')).toBe(0);
    expect(isProcessAlive(postmasterPid)).toBe(false);
    expect(existsSync(join(dataDir, 'postmaster.pid'))).toBe(false);
    expect(existsSync(join(dataDir, 'PG_VERSION'))).toBe(true);
  });
});
