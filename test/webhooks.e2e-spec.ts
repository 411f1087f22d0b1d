import request from 'supertest';
import { bearer, LyricsContext, startLyricsApp, useLyricsApp } from './support/lyrics-client';
import { teardownAfterAll, teardownAfterEach } from './support/teardown';
import { waitFor } from './support/wait';
import { WebhookReceiver } from './support/webhook-receiver';
import { metricSample } from './support/metrics';

const ALICE = 'alice-webhook-key-0001';
const BOB = 'bob-webhook-key-000001';
const CAROL = 'carol-webhook-key-0001';
const DAVE = 'dave-webhook-key-00001';
const CLIENTS = `alice:${ALICE}, bob:${BOB}, carol:${CAROL}, dave:${DAVE}`;

type Delivery = {
  eventId: string;
  type: string;
  url: string;
  status: 'pending' | 'delivered' | 'failed' | 'stopped';
  attempts: { at: string; httpStatus: number | null; error: string | null; durationMs: number }[];
  nextAttemptAt: string | null;
};

async function submit(ctx: LyricsContext, key: string, prompt: string, webhookUrl: string): Promise<{ id: string; webhookUrl: string }> {
  return (await request(ctx.url).post('/lyrics').set(bearer(key)).send({ prompt, webhookUrl }).expect(202)).body;
}

async function deliveriesOf(ctx: LyricsContext, key: string, id: string): Promise<Delivery[]> {
  return (await request(ctx.url).get(`/lyrics/${id}/deliveries`).set(bearer(key)).expect(200)).body.items;
}

/** Waits until the task's one webhook delivery has `status`, and returns it. */
async function settled(ctx: LyricsContext, key: string, id: string, status: Delivery['status']): Promise<Delivery> {
  return waitFor(`the delivery of ${id} to be ${status}`, async () => {
    const [delivery] = await deliveriesOf(ctx, key, id);
    return delivery?.status === status && delivery;
  });
}

/** Client webhooks: each final event POSTed to the task's webhookUrl, signed per owner, retried, every attempt kept. */
describe('client webhooks', () => {
  const afterAllTests = teardownAfterAll();
  const afterTest = teardownAfterEach();
  let receiver: WebhookReceiver;
  beforeAll(async () => {
    receiver = afterAllTests.add(await WebhookReceiver.start(), (server) => server.stop());
  });

  describe('in development (loopback receivers allowed)', () => {
    const ctx = useLyricsApp({
      sandbox: { resultDelayMs: 20 },
      env: {
        API_KEYS: CLIENTS,
        LYRICS_WEBHOOK_RETRY_MS: '1500,300',
        LYRICS_WEBHOOK_TIMEOUT_MS: '4000',
        LYRICS_WEBHOOK_OWNER_CONCURRENCY: '2',
        LYRICS_DISPATCH_INTERVAL_MS: '100',
      },
      apiKey: ALICE,
    });

    it('delivers the final event once, signed with the owner secret (Standard Webhooks), and records the attempt', async () => {
      const url = receiver.url('/alice/ok');
      const task = await submit(ctx, ALICE, '[sandbox:] a delivered song', url);
      expect(task.webhookUrl).toBe(url);
      await waitFor('the delivery', () => receiver.received('/alice/ok').length === 1);
      const [received] = receiver.received('/alice/ok');

      const event = WebhookReceiver.verify(received, await ctx.webhookSecret(ALICE));
      expect(event).toMatchObject({ type: 'lyrics.succeeded', data: { id: task.id, status: 'succeeded', webhookUrl: url } });
      expect(event.data).toEqual(await ctx.task(task.id));
      expect(received.headers['webhook-id']).toBe(event.id);
      expect(received.headers['content-type']).toMatch(/^application\/json/);
      // The feed shows an event once every older transaction has ended (see eventPage): a moment later, at most.
      const feedEvent = await waitFor('the event in the feed', async () => {
        const { items } = (await request(ctx.url).get('/lyrics/events').set(bearer(ALICE)).expect(200)).body;
        return items.find((item: { data: { id: string } }) => item.data.id === task.id);
      });
      expect(feedEvent.id).toBe(event.id);

      const delivery = await settled(ctx, ALICE, task.id, 'delivered');
      expect(delivery).toMatchObject({ eventId: event.id, type: 'lyrics.succeeded', url, nextAttemptAt: null });
      expect(delivery.attempts).toEqual([{ at: expect.any(String), httpStatus: 200, error: null, durationMs: expect.any(Number) }]);
      expect(receiver.received('/alice/ok')).toHaveLength(1);
      expect(Math.abs(Number(received.headers['webhook-timestamp']) - Date.now() / 1000)).toBeLessThan(30);
      // Another owner's task is unknown to Bob, its deliveries and its callbacks too.
      await request(ctx.url).get(`/lyrics/${task.id}/deliveries`).set(bearer(BOB)).expect(404);
      await request(ctx.url).get(`/lyrics/${task.id}/callbacks`).set(bearer(BOB)).expect(404);
      const callbacks = (await request(ctx.url).get(`/lyrics/${task.id}/callbacks`).set(bearer(ALICE)).expect(200)).body.items;
      expect(callbacks.map((item: { outcome: string }) => item.outcome)).toEqual(['applied']);

      const metrics = (await request(ctx.url).get('/metrics').set(bearer(ALICE)).expect(200)).text;
      expect(metricSample(metrics, 'lyrics_deliveries_total{consumer="webhook",outcome="delivered"}')).toBeGreaterThanOrEqual(1);
      expect(metricSample(metrics, 'lyrics_deliveries_total{consumer="host",outcome="delivered"}')).toBeGreaterThanOrEqual(1);
      expect(metricSample(metrics, 'lyrics_delivery_backlog{consumer="webhook"}')).toEqual(expect.any(Number));
      expect(metricSample(metrics, 'lyrics_delivery_oldest_pending_age_seconds{consumer="host"}')).toEqual(expect.any(Number));
    });

    it("does not verify with another owner's secret: each owner signs with its own", async () => {
      const task = await submit(ctx, BOB, '[sandbox:] bob signs alone', receiver.url('/bob/own'));
      await waitFor('the delivery', () => receiver.received('/bob/own').length === 1);
      const [received] = receiver.received('/bob/own');
      expect(WebhookReceiver.verify(received, await ctx.webhookSecret(BOB)).data.id).toBe(task.id);
      const alices = await ctx.webhookSecret(ALICE);
      expect(() => WebhookReceiver.verify(received, alices)).toThrow();
    });

    it('retries a failed attempt with the same webhook-id, then delivers', async () => {
      receiver.script('/alice/flaky', [500, 200]);
      const task = await submit(ctx, ALICE, '[sandbox:fail] a failure worth retrying', receiver.url('/alice/flaky'));
      const delivery = await settled(ctx, ALICE, task.id, 'delivered');
      expect(delivery.type).toBe('lyrics.failed');
      expect(delivery.attempts.map((attempt) => [attempt.httpStatus, attempt.error])).toEqual([
        [500, 'HTTP 500'],
        [200, null],
      ]);
      const received = receiver.received('/alice/flaky');
      expect(received.map((r) => r.headers['webhook-id'])).toEqual([delivery.eventId, delivery.eventId]);
      // The first retry waits the schedule's first delay (1500 ms, ±20%).
      expect(received[1].at - received[0].at).toBeGreaterThanOrEqual(1200 - 50);
    });

    it("honours a 429's Retry-After when it is sooner than the schedule's next delay", async () => {
      receiver.script('/alice/busy', [{ status: 429, headers: { 'Retry-After': '0' } }, 200]);
      const task = await submit(ctx, ALICE, '[sandbox:] busy receiver', receiver.url('/alice/busy'));
      const delivery = await settled(ctx, ALICE, task.id, 'delivered');
      expect(delivery.attempts.map((attempt) => attempt.httpStatus)).toEqual([429, 200]);
      const received = receiver.received('/alice/busy');
      expect(received[1].at - received[0].at).toBeLessThan(1200);
    });

    it('stops at once on 410', async () => {
      receiver.script('/alice/gone', [410]);
      const task = await submit(ctx, ALICE, '[sandbox:] a receiver that is gone', receiver.url('/alice/gone'));
      const delivery = await settled(ctx, ALICE, task.id, 'stopped');
      expect(delivery.attempts.map((attempt) => attempt.httpStatus)).toEqual([410]);
      expect(delivery.nextAttemptAt).toBeNull();
      expect(receiver.received('/alice/gone')).toHaveLength(1);
    });

    it('fails after the last delay of the schedule, every attempt recorded', async () => {
      receiver.script('/alice/down', [503]);
      const task = await submit(ctx, ALICE, '[sandbox:] a receiver that stays down', receiver.url('/alice/down'));
      const delivery = await settled(ctx, ALICE, task.id, 'failed');
      expect(delivery.attempts.map((attempt) => attempt.httpStatus)).toEqual([503, 503, 503]);
      expect(delivery.nextAttemptAt).toBeNull();
      expect(receiver.received('/alice/down')).toHaveLength(3);
      const metrics = (await request(ctx.url).get('/metrics').set(bearer(ALICE)).expect(200)).text;
      expect(metricSample(metrics, 'lyrics_deliveries_total{consumer="webhook",outcome="failed"}')).toBeGreaterThanOrEqual(1);
      expect(metricSample(metrics, 'lyrics_deliveries_total{consumer="webhook",outcome="retried"}')).toBeGreaterThanOrEqual(2);
    });

    it('records a receiver that cannot be reached, and retries it', async () => {
      const closed = await WebhookReceiver.start();
      const url = closed.url('/nobody');
      await closed.stop();
      const task = await submit(ctx, ALICE, '[sandbox:] nobody listens', url);
      const delivery = await waitFor('two attempts', async () => {
        const [found] = await deliveriesOf(ctx, ALICE, task.id);
        return found?.attempts.length >= 1 && found;
      });
      expect(delivery.attempts[0]).toMatchObject({ httpStatus: null, error: expect.stringContaining('ECONNREFUSED') });
      expect(delivery.status).toBe('pending');
      expect(delivery.nextAttemptAt).not.toBeNull();
    });

    it('signs with both secrets during a rotation, so a receiver can verify with either', async () => {
      const before = await ctx.webhookSecret(BOB);
      const rotated = (await request(ctx.url).post('/lyrics/webhook-secret/rotate').set(bearer(BOB)).expect(200)).body.secret;
      expect(rotated).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
      expect(rotated).not.toBe(before);
      expect(await ctx.webhookSecret(BOB)).toBe(rotated);

      await submit(ctx, BOB, '[sandbox:] after the rotation', receiver.url('/bob/rotated'));
      await waitFor('the delivery', () => receiver.received('/bob/rotated').length === 1);
      const [received] = receiver.received('/bob/rotated');
      expect(received.headers['webhook-signature'].split(' ')).toHaveLength(2);
      expect(WebhookReceiver.verify(received, rotated).type).toBe('lyrics.succeeded');
      expect(WebhookReceiver.verify(received, before).type).toBe('lyrics.succeeded');
    });

    it("never lets one owner's slow receiver delay another owner's deliveries", async () => {
      receiver.script('/carol/slow', ['hang']);
      const carols = [];
      for (const n of [1, 2, 3, 4, 5]) carols.push(await submit(ctx, CAROL, `[sandbox:] carol ${n}`, receiver.url('/carol/slow')));
      await waitFor("carol's receiver to hold two deliveries", () => receiver.received('/carol/slow').length === 2);
      const dave = await submit(ctx, DAVE, '[sandbox:] dave is not kept waiting', receiver.url('/dave/ok'));
      await settled(ctx, DAVE, dave.id, 'delivered');
      // Carol's receiver still holds its two (LYRICS_WEBHOOK_OWNER_CONCURRENCY) and got no more.
      expect(receiver.received('/carol/slow')).toHaveLength(2);
      expect((await deliveriesOf(ctx, CAROL, carols[0].id))[0].status).toBe('pending');
    });

    it('makes the webhookUrl part of an idempotent request: a replay returns the task, another URL is a conflict', async () => {
      const send = (webhookUrl: string) =>
        request(ctx.url)
          .post('/lyrics')
          .set(bearer(ALICE))
          .set('Idempotency-Key', 'hook-key-1')
          .send({ prompt: '[sandbox:] once', webhookUrl });
      const first = (await send(receiver.url('/alice/once')).expect(202)).body;
      expect((await send(receiver.url('/alice/once')).expect(200)).body.id).toBe(first.id);
      await send(receiver.url('/alice/elsewhere')).expect(409);
    });

    it('refuses a webhookUrl that is not an absolute http(s) URL of at most 2048 characters, and stores nothing', async () => {
      const refused = ['ftp://example.com/x', '/relative', 'not a url', `https://example.com/${'a'.repeat(2048)}`, 42];
      for (const webhookUrl of refused) {
        const response = await request(ctx.url).post('/lyrics').set(bearer(ALICE)).send({ prompt: 'refused url', webhookUrl }).expect(400);
        expect(JSON.stringify(response.body.message)).toContain('webhookUrl');
      }
      const [{ n }] = await ctx.query(`SELECT count(*) AS n FROM lyrics_tasks WHERE prompt = 'refused url'`);
      expect(Number(n)).toBe(0);
    });
  });

  describe('with one place (prefetched claims)', () => {
    const ctx = useLyricsApp({
      sandbox: { resultDelayMs: 20 },
      env: {
        API_KEYS: CLIENTS,
        LYRICS_WEBHOOK_CONCURRENCY: '1',
        LYRICS_WEBHOOK_OWNER_CONCURRENCY: '1',
        // The held attempt must still be running when the waiting claim is given back.
        LYRICS_WEBHOOK_TIMEOUT_MS: '60000',
        LYRICS_DISPATCH_INTERVAL_MS: '100',
      },
      apiKey: ALICE,
    });
    const deliveryRow = async (taskId: string) =>
      (
        await ctx.query<{ leased: boolean; attempt_count: number; status: string }>(
          `SELECT lease_until IS NOT NULL AS leased, attempt_count, status FROM lyrics_deliveries WHERE task_id = $1 AND consumer = 'webhook'`,
          [taskId],
        )
      )[0];

    it('gives back a claim that waited too long for a place, without an attempt', async () => {
      // The first answer comes late, so that the next two are due when it does; the second never comes.
      receiver.script('/alice/one-place', [{ status: 200, afterMs: 3000 }, 'hang']);
      const first = await submit(ctx, ALICE, '[sandbox:] first through the one place', receiver.url('/alice/one-place'));
      await waitFor('the first delivery in flight', () => receiver.received('/alice/one-place').length === 1);
      const second = await submit(ctx, ALICE, '[sandbox:] second', receiver.url('/alice/one-place'));
      const third = await submit(ctx, ALICE, '[sandbox:] third', receiver.url('/alice/one-place'));
      await ctx.waitForAll([second.id, third.id], 'succeeded');
      expect(receiver.received('/alice/one-place')).toHaveLength(1);

      // The round that records the first claims ahead for the owner whose attempt finished: one of the next two runs
      // (its receiver holds it), the other waits in memory, leased and counted as a started attempt.
      await settled(ctx, ALICE, first.id, 'delivered');
      await waitFor('both claimed', async () => (await deliveryRow(second.id)).leased && (await deliveryRow(third.id)).leased);
      const running = await waitFor('one of them sent', () => {
        const sent = receiver.received('/alice/one-place').slice(1);
        return sent.length === 1 && (JSON.parse(sent[0].body).data.id as string);
      });
      const waiting = running === second.id ? third.id : second.id;
      expect([second.id, third.id]).toContain(running);
      // After 5 s waiting (the relay's limit) it is given back: no lease, no attempt counted, none made.
      await waitFor('the waiting claim given back', async () => !(await deliveryRow(waiting)).leased, { timeoutMs: 15000 });
      expect(await deliveryRow(waiting)).toEqual({ leased: false, attempt_count: 0, status: 'pending' });
      expect(await deliveryRow(running)).toEqual({ leased: true, attempt_count: 1, status: 'pending' });
      expect(receiver.received('/alice/one-place')).toHaveLength(2);
      expect(await deliveriesOf(ctx, ALICE, waiting)).toEqual([expect.objectContaining({ status: 'pending', attempts: [] })]);
    });
  });

  describe('in production', () => {
    const PROD_KEY = 'prod-webhook-client-key';
    let ctx: LyricsContext;

    beforeEach(async () => {
      ctx = await startLyricsApp(afterTest, {
        sandbox: { resultDelayMs: 20 },
        env: { NODE_ENV: 'production', API_KEYS: `erin:${PROD_KEY}`, LYRICS_DISPATCH_INTERVAL_MS: '100' },
      });
    });

    it('refuses an http webhookUrl at submit (400), and stores nothing', async () => {
      const response = await request(ctx.url)
        .post('/lyrics')
        .set(bearer(PROD_KEY))
        .send({ prompt: 'plain http', webhookUrl: receiver.url('/erin/http') })
        .expect(400);
      expect(response.body.message).toEqual(['webhookUrl must be an https URL']);
      const [{ n }] = await ctx.query(`SELECT count(*) AS n FROM lyrics_tasks WHERE prompt = 'plain http'`);
      expect(Number(n)).toBe(0);
    });

    it('refuses to deliver to a host that resolves to a non-public address, without connecting to it', async () => {
      const url = `https://localhost:${receiver.port}/erin/private`;
      const task = await submit(ctx, PROD_KEY, '[sandbox:] a private destination', url);
      const delivery = await settled(ctx, PROD_KEY, task.id, 'failed');
      expect(delivery.attempts).toHaveLength(1);
      expect(delivery.attempts[0]).toMatchObject({ httpStatus: null, error: expect.stringMatching(/^refused: .*non-public/) });
      expect(receiver.received('/erin/private')).toEqual([]);
    });
  });
});
