import request from 'supertest';
import { useLyricsApp } from './support/lyrics-client';

describe('GET /lyrics', () => {
  // No KIE here: the tasks stay queued, which is all a listing needs.
  const ctx = useLyricsApp();
  const created: string[] = [];

  beforeAll(async () => {
    for (let i = 0; i < 25; i++) created.push((await ctx.submit(`listed ${i}`)).id);
  });

  async function readAll(query: Record<string, string>, whileReading?: () => Promise<void>) {
    const seen: { id: string; createdAt: string }[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const { body }: { body: { items: { id: string; createdAt: string }[]; nextCursor: string | null } } = await request(ctx.url)
        .get('/lyrics')
        .query({ ...query, ...(cursor ? { cursor } : {}) })
        .expect(200);
      seen.push(...body.items);
      cursor = body.nextCursor;
      pages++;
      await whileReading?.();
    } while (cursor);
    return { seen, pages };
  }

  it('returns every task once, newest first, through nextCursor pages', async () => {
    const { seen, pages } = await readAll({ limit: '10' });
    expect(pages).toBe(3);
    expect(seen.map((task) => task.id)).toEqual([...created].reverse());
  });

  it('misses and repeats nothing while new tasks are being inserted', async () => {
    let inserted = 0;
    const { seen } = await readAll({ limit: '4' }, async () => {
      await ctx.submit(`inserted while listing ${inserted++}`);
    });
    const ids = seen.map((task) => task.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids).toEqual(expect.arrayContaining(created));
    const times = seen.map((task) => task.createdAt);
    expect([...times].sort().reverse()).toEqual(times);
  });

  it('filters by status', async () => {
    await ctx.query(`UPDATE lyrics_tasks SET status = 'failed', error_code = 'timed_out' WHERE id = ANY($1)`, [created.slice(0, 3)]);
    const { body } = await request(ctx.url).get('/lyrics').query({ status: 'failed' }).expect(200);
    expect(body.items.map((task: { id: string }) => task.id)).toEqual(created.slice(0, 3).reverse());
    expect(body.nextCursor).toBeNull();
  });

  it('defaults to 20 items', async () => {
    const { body } = await request(ctx.url).get('/lyrics').expect(200);
    expect(body.items).toHaveLength(20);
    expect(typeof body.nextCursor).toBe('string');
  });

  it.each([
    [{ limit: '0' }, /limit must not be less than 1/],
    [{ limit: '101' }, /limit must not be greater than 100/],
    [{ limit: 'ten' }, /limit must be an integer number/],
    [{ status: 'done' }, /status must be one of the following values/],
    [{ cursor: 'bm90LWEtY3Vyc29y' }, /cursor is not a cursor this API returned/],
  ])('refuses %j with a 400 naming the parameter', async (query, expected) => {
    const { body } = await request(ctx.url).get('/lyrics').query(query).expect(400);
    expect(JSON.stringify(body.message)).toMatch(expected);
  });
});
