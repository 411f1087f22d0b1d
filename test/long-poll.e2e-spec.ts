import request from 'supertest';
import { useLyricsApp } from './support/lyrics-client';
import { waitFor } from './support/wait';

/** GET /lyrics/:id?waitSeconds=N: answered when the task is final (woken by LISTEN/NOTIFY), or after N seconds. */
describe('long polls', () => {
  const ctx = useLyricsApp({ sandbox: { resultDelayMs: 60_000 }, env: { LYRICS_MAX_LONG_POLLS: '1' } });

  const longPoll = (id: string, waitSeconds: number | string) => request(ctx.url).get(`/lyrics/${id}`).query({ waitSeconds });

  it('answers within 100 ms of the final transition', async () => {
    // Three waits, one after another (one long poll place): the median is the wake path's latency, and one wait that
    // the suite's other files on the same two cores slowed does not decide it.
    const latenciesMs: number[] = [];
    for (const n of [1, 2, 3]) {
      const { id } = await ctx.submit(`[sandbox:delay=1500] finished while we wait ${n}`);
      const response = await longPoll(id, 10).expect(200);
      const answeredAt = Date.now();
      expect(response.body.status).toBe('succeeded');
      latenciesMs.push(answeredAt - Date.parse(response.body.completedAt));
    }
    const [, median, slowest] = latenciesMs.sort((a, b) => a - b);
    expect(median).toBeLessThanOrEqual(100);
    // Far below the 10 s wait: each of the three was woken by the transition, none answered by its timeout.
    expect(slowest).toBeLessThan(1000);
  });

  it('answers with the task as it is once waitSeconds have passed', async () => {
    const { id } = await ctx.submit('[sandbox:never,drop] never finishes');
    await ctx.waitForStatus(id, 'submitted');
    const asked = Date.now();
    const response = await longPoll(id, 1).expect(200);
    expect(response.body).toMatchObject({ id, status: 'submitted' });
    expect(Date.now() - asked).toBeGreaterThanOrEqual(1000);
  });

  it('answers at once, as the task is, beyond LYRICS_MAX_LONG_POLLS waiting requests', async () => {
    const { id } = await ctx.submit('[sandbox:never,drop] two waiting on it');
    await ctx.waitForStatus(id, 'submitted');
    let firstDone = false;
    const first = longPoll(id, 3).then((response) => {
      firstDone = true;
      return response;
    });
    await waitFor('the first long poll to wait', async () =>
      /lyrics_long_polls_waiting 1\b/.test((await request(ctx.url).get('/metrics').expect(200)).text),
    );
    // It holds the one place: a second is answered at once, while the first still waits.
    const second = await longPoll(id, 3).expect(200);
    expect(second.body.status).toBe('submitted');
    expect(firstDone).toBe(false);
    expect((await first).body.status).toBe('submitted');
  });

  it.each([61, -1, 'soon'])('refuses waitSeconds=%s with a 400 naming it', async (waitSeconds) => {
    const { id } = await ctx.submit('[sandbox:never,drop] a bad wait');
    const response = await longPoll(id, waitSeconds).expect(400);
    expect(JSON.stringify(response.body.message)).toContain('waitSeconds');
  });

  it('answers 404 at once for an unknown task', async () => {
    await longPoll('7a4c1c39-5a0e-4a54-9d8a-000000000000', 30).expect(404);
  });
});
