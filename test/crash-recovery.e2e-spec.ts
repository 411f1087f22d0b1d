import request from 'supertest';
import { KieSandbox } from '../src/sandbox/kie-sandbox';
import { createTestDatabase, TestDatabase } from './support/database';
import { freePort } from './support/postgres-server';
import { ServiceProcess } from './support/service-process';
import { startTestApp } from './support/test-app';
import { waitFor } from './support/wait';

describe('an instance killed with SIGKILL while it holds leases', () => {
  let sandbox: KieSandbox;
  let database: TestDatabase;

  beforeAll(async () => {
    // Slow record-info answers keep the doomed instance's checks (and their leases) in flight.
    sandbox = await KieSandbox.start({ resultDelayMs: 100, recordInfoLatencyMs: 400 });
    database = await createTestDatabase();
  });

  afterAll(async () => {
    await sandbox.stop();
    await database.drop();
  });

  const env = {
    NODE_ENV: 'test',
    DATABASE_URL: '',
    KIE_API_KEY: 'crash-test-key',
    KIE_TIMEOUT_MS: '1000',
    LYRICS_LEASE_MS: '2000',
    LYRICS_POLL_INITIAL_DELAY_MS: '100',
    LYRICS_POLL_INTERVAL_MS: '100',
    LYRICS_POLL_MAX_INTERVAL_MS: '200',
    LYRICS_DISPATCH_INTERVAL_MS: '100',
  };

  it('leaves nothing behind: a restarted instance finishes every task, and no create is repeated', async () => {
    const port = await freePort();
    const doomed = ServiceProcess.start({
      ...env,
      DATABASE_URL: database.url,
      KIE_BASE_URL: sandbox.url,
      PORT: String(port),
      // Callbacks go nowhere: only polling can finish these tasks.
      PUBLIC_BASE_URL: 'http://127.0.0.1:9',
    });
    const prompts = Array.from({ length: 10 }, (_, i) => `[sandbox:drop,pending-polls=2] crash ${i}`);
    let ids: string[] = [];
    try {
      await doomed.waitForHealthy(`http://127.0.0.1:${port}`);
      ids = await Promise.all(
        prompts.map(async (prompt) => (await request(`http://127.0.0.1:${port}`).post('/lyrics').send({ prompt }).expect(202)).body.id),
      );
      await waitFor('checks in flight under lease', async () => {
        const [{ n }] = await database.query(`SELECT count(*) AS n FROM lyrics_tasks WHERE status = 'submitted' AND lease_until > now()`);
        return Number(n) >= 2;
      });
    } finally {
      expect(await doomed.stop('SIGKILL')).toBeNull();
    }
    const [{ leased }] = await database.query(`SELECT count(*) AS leased FROM lyrics_tasks WHERE lease_until > now()`);
    expect(Number(leased)).toBeGreaterThan(0);

    const survivor = await startTestApp({ sandbox, database, env: { ...env, DATABASE_URL: database.url } });
    try {
      await waitFor(
        'every task to succeed',
        async () => {
          const [{ n }] = await database.query(`SELECT count(*) AS n FROM lyrics_tasks WHERE id = ANY($1) AND status = 'succeeded'`, [ids]);
          return Number(n) === prompts.length;
        },
        { timeoutMs: 30000, intervalMs: 100 },
      );
      for (const prompt of prompts) {
        expect(sandbox.requests.filter((r) => r.endpoint === 'create' && r.prompt === prompt)).toHaveLength(1);
      }
    } finally {
      await survivor.close();
    }
  });
});
