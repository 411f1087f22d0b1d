import request from 'supertest';
import { bareKeyClientName } from '../src/config/api-keys';
import { IdempotencyKeyReleaser } from '../src/lyrics/workers/idempotency-key-releaser.service';
import { bearer, useLyricsApp } from './support/lyrics-client';

const ALICE = 'alice-key-0123456789';
const ALICE_ROTATED = 'alice-key-rotated-0001';
const BOB = 'bob-key-0123456789abc';
const CAROL_BARE = 'carol-bare-key-0123456789';

/** Clients own their tasks: every read, list and idempotency look-up is per owner, and each owner has a quota. */
describe('owners: clients of API_KEYS', () => {
  // No KIE here: tasks stay queued, so the quota counts every one of them.
  const ctx = useLyricsApp({
    env: { API_KEYS: `alice:${ALICE}, alice:${ALICE_ROTATED}, bob:${BOB}, ${CAROL_BARE}`, LYRICS_MAX_ACTIVE_PER_OWNER: '5' },
  });

  const as = (key: string) => ({ apiKey: key });
  const ownerOf = async (id: string) => (await ctx.query('SELECT owner FROM lyrics_tasks WHERE id = $1', [id]))[0]?.owner;
  const rowsOf = async (owner: string) =>
    Number((await ctx.query('SELECT count(*) AS n FROM lyrics_tasks WHERE owner = $1', [owner]))[0].n);

  afterEach(async () => {
    await ctx.query('DELETE FROM lyrics_tasks');
  });

  it('stores the client that submitted a task as its owner; a bare key is a client named after its digest', async () => {
    const alices = await ctx.submit('mine', as(ALICE));
    const carols = await ctx.submit('bare', as(CAROL_BARE));
    expect(await ownerOf(alices.id)).toBe('alice');
    expect(await ownerOf(carols.id)).toBe(bareKeyClientName(CAROL_BARE));
    expect(bareKeyClientName(CAROL_BARE)).toMatch(/^key-[0-9a-f]{8}$/);
  });

  it("answers 404 for another owner's task, exactly as for an unknown one", async () => {
    const { id } = await ctx.submit('private', as(ALICE));
    const bobs = await request(ctx.url).get(`/lyrics/${id}`).set(bearer(BOB)).expect(404);
    const unknown = await request(ctx.url).get('/lyrics/7a4c1c39-5a0e-4a54-9d8a-000000000000').set(bearer(BOB)).expect(404);
    expect(bobs.body.message.replace(id, '<id>')).toBe(unknown.body.message.replace('7a4c1c39-5a0e-4a54-9d8a-000000000000', '<id>'));
    await request(ctx.url).get(`/lyrics/${id}`).set(bearer(ALICE)).expect(200);
  });

  it("lists only the caller's tasks, across all of a client's keys", async () => {
    const first = await ctx.submit('one', as(ALICE));
    const second = await ctx.submit('two', as(ALICE_ROTATED));
    await ctx.submit('bob', as(BOB));
    const alices = await request(ctx.url).get('/lyrics').set(bearer(ALICE_ROTATED)).expect(200);
    expect(alices.body.items.map((task: { id: string }) => task.id)).toEqual([second.id, first.id]);
    const bobs = await request(ctx.url).get('/lyrics').set(bearer(BOB)).expect(200);
    expect(bobs.body.items.map((task: { prompt: string }) => task.prompt)).toEqual(['bob']);
  });

  it("gives another owner replaying an Idempotency-Key with the same body a task of its own, not the first owner's", async () => {
    const alices = await ctx.submit('same body', { ...as(ALICE), idempotencyKey: 'order-17' });
    const bobs = await ctx.submit('same body', { ...as(BOB), idempotencyKey: 'order-17' });
    expect(bobs.id).not.toBe(alices.id);
    expect(await ownerOf(bobs.id)).toBe('bob');
    const replay = await ctx.submit('same body', { ...as(ALICE_ROTATED), idempotencyKey: 'order-17', expectStatus: 200 });
    expect(replay.id).toBe(alices.id);
  });

  it('gives concurrent first uses of one key by one owner one task', async () => {
    const answers = await Promise.all(
      Array.from({ length: 8 }, () =>
        request(ctx.url).post('/lyrics').set(bearer(ALICE)).set('Idempotency-Key', 'burst').send({ prompt: 'once' }),
      ),
    );
    expect(answers.map((answer) => answer.status).sort()).toEqual([200, 200, 200, 200, 200, 200, 200, 202]);
    expect(new Set(answers.map((answer) => answer.body.id)).size).toBe(1);
    expect(await rowsOf('alice')).toBe(1);
  });

  it('frees an Idempotency-Key after LYRICS_IDEMPOTENCY_TTL_HOURS: the same key then makes a new task', async () => {
    const first = await ctx.submit('daily report', { ...as(ALICE), idempotencyKey: 'report-1' });
    await ctx.query(`UPDATE lyrics_tasks SET created_at = created_at - interval '25 hours' WHERE id = $1`, [first.id]);
    const second = await ctx.submit('daily report', { ...as(ALICE), idempotencyKey: 'report-1' });
    expect(second.id).not.toBe(first.id);
    const rows = await ctx.query('SELECT id, idempotency_key FROM lyrics_tasks WHERE owner = $1 ORDER BY created_at', ['alice']);
    expect(rows).toEqual([
      { id: first.id, idempotency_key: null },
      { id: second.id, idempotency_key: 'report-1' },
    ]);
  });

  it('releases expired keys in the background too, and keeps live ones', async () => {
    const old = await ctx.submit('old', { ...as(BOB), idempotencyKey: 'old-key' });
    const fresh = await ctx.submit('fresh', { ...as(BOB), idempotencyKey: 'fresh-key' });
    await ctx.query(`UPDATE lyrics_tasks SET created_at = created_at - interval '25 hours' WHERE id = $1`, [old.id]);
    await ctx.testApp.app.get(IdempotencyKeyReleaser).release();
    const keys = await ctx.query('SELECT id, idempotency_key FROM lyrics_tasks WHERE owner = $1 ORDER BY created_at', ['bob']);
    expect(keys).toEqual([
      { id: old.id, idempotency_key: null },
      { id: fresh.id, idempotency_key: 'fresh-key' },
    ]);
  });

  it('refuses a submission beyond LYRICS_MAX_ACTIVE_PER_OWNER with 429 and Retry-After, storing nothing, for that owner only', async () => {
    for (let i = 0; i < 5; i++) await ctx.submit(`task ${i}`, as(ALICE));
    const refused = await request(ctx.url).post('/lyrics').set(bearer(ALICE_ROTATED)).send({ prompt: 'one too many' }).expect(429);
    expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
    expect(refused.body.message).toBe('At most 5 unfinished tasks per client');
    expect(await rowsOf('alice')).toBe(5);
    await ctx.submit('bob is not held back', as(BOB));
  });

  it('holds the quota under concurrent submissions', async () => {
    const answers = await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        request(ctx.url)
          .post('/lyrics')
          .set(bearer(BOB))
          .send({ prompt: `racing ${i}` }),
      ),
    );
    expect(answers.filter((answer) => answer.status === 202)).toHaveLength(5);
    expect(answers.filter((answer) => answer.status === 429)).toHaveLength(7);
    expect(await rowsOf('bob')).toBe(5);
  });

  it('counts only unfinished tasks against the quota', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push((await ctx.submit(`finished ${i}`, as(ALICE))).id);
    await ctx.query(`UPDATE lyrics_tasks SET status = 'failed', error_code = 'upstream_rejected', error_message = 'x' WHERE id = ANY($1)`, [
      ids,
    ]);
    await ctx.submit('room again', as(ALICE));
  });
});
