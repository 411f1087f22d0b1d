import { Client } from 'pg';
import request from 'supertest';
import { applyTransition } from '../src/lyrics/persistence/tasks.sql';
import { bearer, LyricsContext, startLyricsApp, useLyricsApp } from './support/lyrics-client';
import { createTestDatabase } from './support/database';
import { teardownAfterEach } from './support/teardown';
import { waitFor } from './support/wait';

const ALICE = 'alice-feed-key-000001';
const BOB = 'bob-feed-key-00000001';
const CLIENTS = { API_KEYS: `alice:${ALICE}, bob:${BOB}` };

type FeedEvent = { id: string; type: string; createdAt: string; data: { id: string; status: string; error: { code: string } | null } };
type FeedPage = { items: FeedEvent[]; nextCursor: string | null; hasMore: boolean };

async function feed(ctx: LyricsContext, key: string, query: Record<string, string | number> = {}): Promise<FeedPage> {
  return (await request(ctx.url).get('/lyrics/events').query(query).set(bearer(key)).expect(200)).body;
}

/** Every event of the feed from its start (or `after`), page by page. */
async function readAll(
  ctx: LyricsContext,
  key: string,
  limit: number,
  after?: string,
): Promise<{ events: FeedEvent[]; cursor: string | null }> {
  const events: FeedEvent[] = [];
  let cursor = after ?? null;
  for (;;) {
    const page = await feed(ctx, key, { limit, ...(cursor ? { after: cursor } : {}) });
    events.push(...page.items);
    cursor = page.nextCursor;
    if (!page.hasMore) return { events, cursor };
  }
}

/**
 * The outbox, read as each client's event feed: every final transition writes its event in its own statement, and
 * the feed returns them in an order no late commit can slip in front of.
 */
describe('the event feed (GET /lyrics/events)', () => {
  describe('one app', () => {
    const ctx = useLyricsApp({ sandbox: { resultDelayMs: 50 }, env: CLIENTS, apiKey: ALICE });

    it('holds one event per final transition, carrying the task exactly as GET /lyrics/:id shows it, for its owner only', async () => {
      const start = await feed(ctx, ALICE);
      const won = await ctx.submit('[sandbox:] a song that works out');
      const lost = await ctx.submit('[sandbox:fail] a song that fails');
      const bobs = await ctx.submit('[sandbox:] bob hears only of his own', { apiKey: BOB });
      await ctx.waitForStatus(won.id, 'succeeded');
      await ctx.waitForStatus(lost.id, 'failed');
      await waitFor("bob's task to be final", async () => (await ctx.taskRow(bobs.id)).status === 'succeeded');

      const { events } = await readAll(ctx, ALICE, 10, start.nextCursor ?? undefined);
      expect(events.map((event) => [event.data.id, event.type])).toEqual(
        expect.arrayContaining([
          [won.id, 'lyrics.succeeded'],
          [lost.id, 'lyrics.failed'],
        ]),
      );
      expect(events).toHaveLength(2);
      for (const event of events) {
        expect(event.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
        expect(new Date(event.createdAt).toISOString()).toBe(event.createdAt);
        expect(event.data).toEqual(await ctx.task(event.data.id));
      }
      const bobsEvents = (await readAll(ctx, BOB, 10)).events;
      expect(bobsEvents.map((event) => event.data.id)).toEqual([bobs.id]);
    });

    it('pages by cursor: limit, hasMore, and a cursor to come back with later', async () => {
      const start = (await feed(ctx, ALICE)).nextCursor ?? undefined;
      const ids = [];
      for (const n of [1, 2, 3]) ids.push((await ctx.submit(`[sandbox:] paged ${n}`)).id);
      await ctx.waitForAll(ids, 'succeeded');
      await waitFor('the three events to be readable', async () => (await readAll(ctx, ALICE, 10, start)).events.length === 3);

      const first = await feed(ctx, ALICE, { limit: 2, ...(start ? { after: start } : {}) });
      expect(first.items).toHaveLength(2);
      expect(first.hasMore).toBe(true);
      const second = await feed(ctx, ALICE, { limit: 2, after: first.nextCursor! });
      expect(second.items).toHaveLength(1);
      expect(second.hasMore).toBe(false);
      expect([...first.items, ...second.items].map((event) => event.data.id).sort()).toEqual([...ids].sort());
      // Nothing new: the same cursor comes back, for the next look.
      const idle = await feed(ctx, ALICE, { after: second.nextCursor! });
      expect(idle).toEqual({ items: [], nextCursor: second.nextCursor, hasMore: false });
    });

    it.each([
      [{ after: 'not-a-cursor' }, 'after'],
      [{ after: Buffer.from('1.99999999999999999999').toString('base64url') }, 'after'],
      [{ limit: 0 }, 'limit'],
      [{ limit: 101 }, 'limit'],
    ])('refuses %j with a 400 naming the field', async (query, field) => {
      const response = await request(ctx.url).get('/lyrics/events').query(query).set(bearer(ALICE)).expect(400);
      expect(JSON.stringify(response.body.message)).toContain(field);
    });
  });

  describe('under concurrent commits', () => {
    const afterTest = teardownAfterEach();

    it('never lets a reader skip an event whose transaction committed after a later one', async () => {
      const ctx = await startLyricsApp(afterTest, { sandbox: { resultDelayMs: 50 }, env: CLIENTS, apiKey: ALICE });
      const [held] = await ctx.query(
        `INSERT INTO lyrics_tasks (owner, status, prompt, kie_task_id, submitted_at, next_attempt_at)
         VALUES ('alice', 'submitted', 'held open', 'kie-held', now(), now() + interval '1 hour') RETURNING id`,
      );
      // A transition whose transaction stays open: its event exists, uncommitted, with the older transaction id.
      const open = new Client({ connectionString: ctx.testApp.database.url });
      await open.connect();
      afterTest.add(open, (client) => client.end());
      await open.query('BEGIN');
      const statement = applyTransition(held.id, {
        type: 'result_failed',
        source: 'poll',
        kieTaskId: 'kie-held',
        code: 'generation_failed',
        message: 'held',
      });
      await open.query(statement.text, statement.values);

      // Meanwhile another task ends and commits: a later transaction.
      const later = await ctx.submit('[sandbox:] committed first, written second');
      await ctx.waitForStatus(later.id, 'succeeded');
      const whileOpen = await readAll(ctx, ALICE, 10);
      expect(whileOpen.events).toEqual([]);

      await open.query('COMMIT');
      const after = await readAll(ctx, ALICE, 10, whileOpen.cursor ?? undefined);
      expect(after.events.map((event) => event.data.id)).toEqual([held.id, later.id]);
    });

    it('gives a paging reader every event exactly once while two instances commit them', async () => {
      const database = await createTestDatabase();
      afterTest.add(database, (own) => own.drop());
      const first = await startLyricsApp(afterTest, { sandbox: { resultDelayMs: 20 }, env: CLIENTS, apiKey: ALICE, database });
      const second = await startLyricsApp(afterTest, { sandbox: first.sandbox, env: CLIENTS, apiKey: ALICE, database });
      const ids: string[] = [];
      const submitting = Promise.all(
        Array.from({ length: 40 }, async (_, i) => ids.push((await (i % 2 ? first : second).submit(`[sandbox:] concurrent ${i}`)).id)),
      );
      const seen: FeedEvent[] = [];
      let cursor: string | undefined;
      await waitFor(
        'the reader to see all 40 events',
        async () => {
          const page = await readAll(first, ALICE, 3, cursor);
          seen.push(...page.events);
          cursor = page.cursor ?? undefined;
          return seen.length >= 40;
        },
        { timeoutMs: 30_000, intervalMs: 20 },
      );
      await submitting;
      expect(new Set(seen.map((event) => event.id)).size).toBe(seen.length);
      expect(seen.map((event) => event.data.id).sort()).toEqual([...ids].sort());
      const stored = await first.query(`SELECT id FROM lyrics_events WHERE owner = 'alice' ORDER BY tx_id, seq`);
      expect(seen.map((event) => event.id)).toEqual(stored.map((row: { id: string }) => row.id));
    });
  });
});
