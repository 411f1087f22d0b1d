import request from 'supertest';
import { KieSandbox } from '../src/sandbox/kie-sandbox';
import { createTestDatabase, TestDatabase } from './support/database';
import { bearer, LyricsContext } from './support/lyrics-client';
import { freePort } from './support/postgres-server';
import { ServiceProcess } from './support/service-process';
import { Teardown, teardownAfterEach } from './support/teardown';
import { waitFor } from './support/wait';

const CLIENT_KEY = 'secret-client-key-4f1a';
const KIE_KEY = 'secret-kie-key-9b2c';
const HMAC_KEY = 'secret-hmac-key-77de';

/** The built service in production mode, on the test's database and sandbox; `teardown` kills it if it still runs. */
async function startProduction(teardown: Teardown, database: TestDatabase, sandbox: KieSandbox, env: Record<string, string> = {}) {
  const port = await freePort();
  const service = teardown.add(
    ServiceProcess.start({
      NODE_ENV: 'production',
      PORT: String(port),
      DATABASE_URL: database.url,
      KIE_API_KEY: KIE_KEY,
      KIE_BASE_URL: sandbox.url,
      KIE_WEBHOOK_HMAC_KEY: HMAC_KEY,
      PUBLIC_BASE_URL: `http://127.0.0.1:${port}`,
      API_KEYS: CLIENT_KEY,
      ...env,
    }),
    (started) => started.stop('SIGKILL'),
  );
  const url = `http://127.0.0.1:${port}`;
  await service.waitForHealthy(url);
  return { service, url };
}

describe('the service as a process in production mode', () => {
  let sandbox: KieSandbox;
  let database: TestDatabase;

  beforeAll(async () => {
    sandbox = await KieSandbox.start({ hmacKey: HMAC_KEY, resultDelayMs: 50 });
    database = await createTestDatabase();
  });

  afterAll(async () => {
    await sandbox.stop();
    await database.drop();
  });

  const afterTest = teardownAfterEach();

  it('logs one JSON object per line, with request ids and task ids, and never a secret', async () => {
    const { service, url } = await startProduction(afterTest, database, sandbox, { LOG_LEVEL: 'debug' });
    await request(url).get('/lyrics').set('Authorization', 'Bearer wrong-secret-key-0000').expect(401);
    const { body } = await request(url)
      .post('/lyrics')
      .set('Authorization', `Bearer ${CLIENT_KEY}`)
      .set('X-Request-Id', 'req-redaction-1')
      .send({ prompt: 'A logged song' })
      .expect(202);
    const taskId = body.id;
    const client = new LyricsContext({ url, query: database.query, sandbox, headers: bearer(CLIENT_KEY) });
    await client.waitForStatus(taskId, 'succeeded');
    const callBackUrl = client.createsFor('A logged song')[0].callBackUrl!;
    await request(url)
      .post(`${new URL(callBackUrl).pathname.replace(/[^/]+$/, 'forged-token-aaaa')}`)
      .send({})
      .expect(401);
    expect(await service.stop('SIGTERM')).toBe(0);

    const lines = service.logs.split('\n').filter((line) => line.trim() !== '');
    const records = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
    const token = callBackUrl.split('/').pop()!;
    for (const secret of [CLIENT_KEY, KIE_KEY, HMAC_KEY, 'wrong-secret-key-0000', token, 'forged-token-aaaa', 'Bearer ']) {
      expect(service.logs).not.toContain(secret);
    }
    expect(records.find((r) => r.requestId === 'req-redaction-1' && r.context === 'HTTP')).toMatchObject({
      method: 'POST',
      path: '/lyrics',
      status: 202,
    });
    expect(records.find((r) => r.context === 'HTTP' && String(r.path).startsWith('/lyrics/callback/'))?.path).toMatch(/\/\[REDACTED\]$/);
    expect(records.filter((r) => r.context === 'HTTP').every((r) => typeof r.requestId === 'string')).toBe(true);
    const aboutTask = records.filter((r) => r.taskId === taskId);
    expect(aboutTask.map((r) => r.message)).toEqual(
      expect.arrayContaining(['Task submitted to KIE', 'Task succeeded by callback', 'lyrics.succeeded']),
    );
    expect(aboutTask.every((r) => 'kieTaskId' in r)).toBe(true);
  });

  it('loses nothing to a SIGTERM in the middle of submissions and callbacks', async () => {
    const { service, url } = await startProduction(afterTest, database, sandbox);
    const accepted: string[] = [];
    const answered: number[] = [];
    let refused = 0;
    let sent = 0;
    const client = async () => {
      for (;;) {
        try {
          const response = await request(url)
            .post('/lyrics')
            .set('Authorization', `Bearer ${CLIENT_KEY}`)
            .send({ prompt: `under load ${sent++}` });
          answered.push(response.status);
          if (response.status === 202) accepted.push(response.body.id);
        } catch {
          refused++; // connection refused: the server has stopped accepting
          return;
        }
      }
    };
    const clients = Array.from({ length: 6 }, client);
    await waitFor('some load', () => accepted.length >= 30);
    const exitCode = service.stop('SIGTERM');
    await Promise.all(clients);
    expect(await exitCode).toBe(0);

    expect(refused).toBe(6);
    expect(answered.filter((status) => status !== 202 && status !== 503)).toEqual([]);
    const stored = await database.query<{ id: string }>('SELECT id FROM lyrics_tasks WHERE id = ANY($1)', [accepted]);
    expect(stored).toHaveLength(accepted.length);
    // Every callback the service acknowledged was applied before it stopped.
    const acknowledged = sandbox.callbacks.filter((d) => d.status === 200).map((d) => d.taskId);
    const applied = await database.query<{ kie_task_id: string }>(
      `SELECT kie_task_id FROM lyrics_tasks WHERE kie_task_id = ANY($1) AND status = 'succeeded'`,
      [acknowledged],
    );
    expect(applied.map((row) => row.kie_task_id).sort()).toEqual([...new Set(acknowledged)].sort());
    expect(acknowledged.length).toBeGreaterThan(0);
  });
});
