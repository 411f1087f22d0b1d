import { join } from 'node:path';
import { KieSandbox } from '../src/sandbox/kie-sandbox';
import { createTestDatabase, TestDatabase } from './support/database';
import { LyricsContext, startLyricsApp } from './support/lyrics-client';
import { freePort } from './support/postgres-server';
import { ServiceProcess } from './support/service-process';
import { teardownAfterAll, teardownAfterEach } from './support/teardown';
import { waitFor } from './support/wait';

describe('an instance killed with SIGKILL while it holds leases', () => {
  const afterAllTests = teardownAfterAll();
  const afterTest = teardownAfterEach();
  let sandbox: KieSandbox;
  let database: TestDatabase;

  beforeAll(async () => {
    // Slow record-info answers keep the doomed instance's checks (and their leases) in flight.
    sandbox = afterAllTests.add(await KieSandbox.start({ resultDelayMs: 100, recordInfoLatencyMs: 400 }), (kie) => kie.stop());
    database = afterAllTests.add(await createTestDatabase(), (own) => own.drop());
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
    const doomedProcess = afterTest.add(
      ServiceProcess.start({
        ...env,
        DATABASE_URL: database.url,
        KIE_BASE_URL: sandbox.url,
        PORT: String(port),
        // Callbacks go nowhere: only polling can finish these tasks.
        PUBLIC_BASE_URL: 'http://127.0.0.1:9',
      }),
      (service) => service.stop('SIGKILL'),
    );
    const doomed = new LyricsContext({ url: `http://127.0.0.1:${port}`, query: database.query, sandbox });
    const prompts = Array.from({ length: 10 }, (_, i) => `[sandbox:drop,pending-polls=2] crash ${i}`);
    await doomedProcess.waitForHealthy(doomed.url);
    const ids = (await Promise.all(prompts.map((prompt) => doomed.submit(prompt)))).map((task) => task.id as string);
    // Killed with every create answered (one cut off would rightly fail as submit_outcome_unknown) and checks in flight.
    await waitFor('every task to be submitted, and checks in flight under lease', async () => {
      const [{ queued, checking }] = await database.query(
        `SELECT count(*) FILTER (WHERE status = 'queued') AS queued,
                count(*) FILTER (WHERE status = 'submitted' AND lease_until > now()) AS checking
           FROM lyrics_tasks`,
      );
      return Number(queued) === 0 && Number(checking) >= 2;
    });
    expect(await doomedProcess.stop('SIGKILL')).toBeNull();
    const [{ leased }] = await database.query(`SELECT count(*) AS leased FROM lyrics_tasks WHERE lease_until > now()`);
    expect(Number(leased)).toBeGreaterThan(0);

    const survivor = await startLyricsApp(afterTest, { sandbox, database, env: { ...env, DATABASE_URL: database.url } });
    await survivor.waitForAll(ids, 'succeeded', { timeoutMs: 30000, intervalMs: 100 });
    for (const prompt of prompts) expect(survivor.createsFor(prompt)).toHaveLength(1);
  });

  it('delivers to host handlers an event committed by an instance that died before handling it', async () => {
    const doomedPort = await freePort();
    const doomedProcess = afterTest.add(
      ServiceProcess.start({
        ...env,
        DATABASE_URL: database.url,
        KIE_BASE_URL: sandbox.url,
        PORT: String(doomedPort),
        PUBLIC_BASE_URL: `http://127.0.0.1:${doomedPort}`,
        // Dies the moment the success's transition has committed: before its relay, or anything else, can run.
        NODE_OPTIONS: `--require "${join(__dirname, 'support', 'die-after-commit.js')}"`,
        DIE_AFTER_STATEMENT: 'lyrics.transition_result_succeeded',
      }),
      (service) => service.stop('SIGKILL'),
    );
    const doomed = new LyricsContext({ url: `http://127.0.0.1:${doomedPort}`, query: database.query, sandbox });
    await doomedProcess.waitForHealthy(doomed.url);
    const { id } = await doomed.submit('[sandbox:] committed, then the instance died');
    expect(await doomedProcess.exitCode()).toBeNull();
    expect(doomedProcess.child.signalCode).toBe('SIGKILL');

    const [event] = await database.query(`SELECT id, type FROM lyrics_events WHERE task_id = $1`, [id]);
    expect(event.type).toBe('lyrics.succeeded');
    const [owed] = await database.query(`SELECT status, attempt_count FROM lyrics_deliveries WHERE task_id = $1 AND consumer = 'host'`, [
      id,
    ]);
    // Owed and unhandled. Usually unclaimed too; but an idle round of the dying instance may claim it in the instant
    // between the commit and the kill (its statement, sent, still runs), and that claim's lease must lapse first.
    expect(owed.status).toBe('pending');
    expect([0, 1]).toContain(owed.attempt_count);
    expect(doomedProcess.logs).not.toContain(event.id);

    const survivorPort = await freePort();
    const survivor = afterTest.add(
      ServiceProcess.start({ ...env, DATABASE_URL: database.url, KIE_BASE_URL: sandbox.url, PORT: String(survivorPort) }),
      (service) => service.stop(),
    );
    const handled = await waitFor(
      'the survivor to hand the event to the host handlers',
      async () => {
        const [row] = await database.query(`SELECT status, attempt_count FROM lyrics_deliveries WHERE task_id = $1 AND consumer = 'host'`, [
          id,
        ]);
        return row.status === 'delivered' && row;
      },
      { timeoutMs: 30000 },
    );
    expect(handled).toEqual({ status: 'delivered', attempt_count: owed.attempt_count + 1 });
    // The service's own handler (LyricsEventLogger) logs each event it is handed, with the event's id.
    const handlerLines = survivor.logs.split('\n').filter((line) => line.includes('lyrics.succeeded') && line.includes(event.id));
    expect(handlerLines).toHaveLength(1);
  });
});
