import request from 'supertest';
import { bearer, useLyricsApp } from './support/lyrics-client';
import { teardownAfterAll } from './support/teardown';
import { waitFor } from './support/wait';
import { WebhookReceiver } from './support/webhook-receiver';
import { metricSample } from './support/metrics';

const ALICE = 'alice-cancel-key-00001';
const BOB = 'bob-cancel-key-0000001';

/** POST /lyrics/:id/cancel: a queued task nobody is sending ends `cancelled`; anything further along is left alone. */
describe('cancelling a task', () => {
  // One create per hour: the first task takes it (and stays submitted), every later one waits queued and unclaimed.
  const ctx = useLyricsApp({
    sandbox: { resultDelayMs: 3_600_000 },
    env: {
      API_KEYS: `alice:${ALICE}, bob:${BOB}`,
      LYRICS_CREATE_BUDGET: '1',
      LYRICS_CREATE_WINDOW_MS: '3600000',
      LYRICS_POLL_INITIAL_DELAY_MS: '3600000',
      LYRICS_DISPATCH_INTERVAL_MS: '50',
    },
    apiKey: ALICE,
  });
  const afterAllTests = teardownAfterAll();
  let receiver: WebhookReceiver;
  beforeAll(async () => {
    receiver = afterAllTests.add(await WebhookReceiver.start(), (server) => server.stop());
  });

  const cancel = (id: string, key = ALICE) => request(ctx.url).post(`/lyrics/${id}/cancel`).set(bearer(key));

  it('cancels a waiting task (200), delivers lyrics.cancelled, and leaves a sent one alone (409)', async () => {
    const sent = await ctx.submit('[sandbox:drop] takes the only create');
    await ctx.waitForStatus(sent.id, 'submitted');
    const waiting = (
      await request(ctx.url)
        .post('/lyrics')
        .set(bearer(ALICE))
        .send({ prompt: 'waits for the budget', webhookUrl: receiver.url('/alice/cancel') })
        .expect(202)
    ).body;

    const response = await cancel(waiting.id).expect(200);
    expect(response.body).toMatchObject({ id: waiting.id, status: 'cancelled', error: null, kieTaskId: null });
    expect(response.body.completedAt).not.toBeNull();
    expect(await ctx.task(waiting.id)).toEqual(response.body);
    expect(ctx.createsFor('waits for the budget')).toHaveLength(0);

    await waitFor('the webhook', () => receiver.received('/alice/cancel').length === 1);
    const event = WebhookReceiver.verify(receiver.received('/alice/cancel')[0], await ctx.webhookSecret(ALICE));
    expect(event).toMatchObject({ type: 'lyrics.cancelled', data: { id: waiting.id, status: 'cancelled' } });
    const feed = await waitFor('the feed', async () => {
      const { items } = (await request(ctx.url).get('/lyrics/events').set(bearer(ALICE)).expect(200)).body;
      return items.find((item: { id: string }) => item.id === event.id);
    });
    expect(feed.type).toBe('lyrics.cancelled');

    const refused = await cancel(sent.id).expect(409);
    expect(refused.body.message).toContain('is submitted');
    expect((await ctx.task(sent.id)).status).toBe('submitted');
    await cancel(waiting.id).expect(409);

    const listed = (await request(ctx.url).get('/lyrics').query({ status: 'cancelled' }).set(bearer(ALICE)).expect(200)).body.items;
    expect(listed.map((task: { id: string }) => task.id)).toEqual([waiting.id]);
    const metrics = (await request(ctx.url).get('/metrics').set(bearer(ALICE)).expect(200)).text;
    expect(metricSample(metrics, 'lyrics_tasks{status="cancelled"}')).toBe(1);
    expect(metricSample(metrics, 'lyrics_final_transitions_total{status="cancelled",path="cancel"}')).toBe(1);
  });

  it('leaves a task a dispatcher holds alone (409), and answers 404 for another owner or an unknown id', async () => {
    const held = await ctx.submit('held by a dispatcher');
    // As a dispatcher's claim leaves it, about to send.
    await ctx.query(`UPDATE lyrics_tasks SET lease_until = now() + interval '1 minute' WHERE id = $1`, [held.id]);
    await cancel(held.id).expect(409);
    expect((await ctx.taskRow(held.id)).status).toBe('queued');

    const other = await ctx.submit('bob cannot touch this');
    await cancel(other.id, BOB).expect(404);
    expect((await ctx.taskRow(other.id)).status).toBe('queued');
    await cancel('00000000-0000-4000-8000-000000000000').expect(404);
    await cancel('not-a-uuid').expect(400);
  });
});
