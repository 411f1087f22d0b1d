import { Client } from 'pg';
import { recordAndClaimDeliveries } from '../../src/lyrics/persistence/deliveries.sql';
import { createTestDatabase, TestDatabase } from '../support/database';

/**
 * record_and_claim_deliveries while another round's claim is still uncommitted (a relay runs two rounds at once):
 * the second passes over what the first may be claiming, and claims the next deliveries in due order.
 */
describe('two rounds claiming at once', () => {
  let database: TestDatabase;
  const clients: Client[] = [];

  beforeAll(async () => {
    database = await createTestDatabase();
    // Eight tasks of one owner, each with one final event and its webhook delivery, due one second apart.
    for (let i = 0; i < 8; i++) {
      const [task] = await database.query(
        `INSERT INTO lyrics_tasks (owner, status, prompt, completed_at, error_code, error_message)
         VALUES ('acme', 'failed', $1, now(), 'generation_failed', 'no') RETURNING id`,
        [`task ${i}`],
      );
      const [event] = await database.query(
        `INSERT INTO lyrics_events (tx_id, owner, task_id, type, data)
         VALUES (pg_current_xact_id()::text::bigint, 'acme', $1, 'lyrics.failed', '{}') RETURNING seq`,
        [task.id],
      );
      await database.query(
        `INSERT INTO lyrics_deliveries (event_seq, task_id, owner, consumer, url, status, next_attempt_at)
         VALUES ($1, $2, 'acme', 'webhook', 'https://hooks.example/acme', 'pending', now() - make_interval(secs => 100 - $3))`,
        [event.seq, task.id, i],
      );
    }
  });

  afterAll(async () => {
    await Promise.all(clients.map((client) => client.end()));
    await database.drop();
  });

  const connect = async () => {
    const client = new Client({ connectionString: database.url });
    await client.connect();
    clients.push(client);
    return client;
  };
  const claim = (client: Client, skipped?: Map<string, number>) =>
    client.query<{ id: string; recorded: string | null }>(
      recordAndClaimDeliveries({
        consumer: 'webhook',
        outcomes: [],
        keepAttempts: 5,
        limit: 3,
        perOwner: 3,
        allowances: new Map([['acme', 3]]),
        skipped,
        leaseMs: 60_000,
      }),
    );
  const dueOrder = async () =>
    (await database.query<{ id: string }>(`SELECT id::text FROM lyrics_deliveries ORDER BY next_attempt_at`)).map((row) => row.id);

  it('claims nothing when it picks what the first holds, and the next three when it passes over them', async () => {
    const [first, second] = await Promise.all([connect(), connect()]);
    const order = await dueOrder();
    await first.query('BEGIN');
    const firstClaims = (await claim(first)).rows.map((row) => row.id);
    expect(firstClaims.sort()).toEqual(order.slice(0, 3).sort());

    // Its snapshot sees the first's three as claimable; locked, they are skipped, and nothing takes their place.
    expect((await claim(second)).rows).toEqual([]);
    const secondClaims = (await claim(second, new Map([['acme', 3]]))).rows.map((row) => row.id);
    expect(secondClaims.sort()).toEqual(order.slice(3, 6).sort());

    await first.query('COMMIT');
    const leased = await database.query<{ id: string }>(
      `SELECT id::text FROM lyrics_deliveries WHERE lease_until > now() AND attempt_count = 1 ORDER BY next_attempt_at`,
    );
    expect(leased.map((row) => row.id)).toEqual(order.slice(0, 6));
  });
});
