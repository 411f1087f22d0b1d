import request from 'supertest';
import { answeredDeliveries } from './support/callbacks';
import { bearer, startLyricsApp, useLyricsApp } from './support/lyrics-client';
import { teardownAfterEach } from './support/teardown';
import { metricSample } from './support/metrics';

const KEY = 'client-key-one';
const OTHER_KEY = 'client-key-two';

describe('the standalone service in front of clients', () => {
  const ctx = useLyricsApp({
    sandbox: { resultDelayMs: 30 },
    env: { API_KEYS: `${KEY}, ${OTHER_KEY}`, THROTTLE_LIMIT: '20', THROTTLE_TTL_MS: '60000' },
    apiKey: KEY,
  });
  const afterTest = teardownAfterEach();

  describe('API keys', () => {
    it('refuses the client API without a key, or with a wrong one (401, WWW-Authenticate), and stores nothing', async () => {
      const missing = await request(ctx.url).post('/lyrics').send({ prompt: 'no key' }).expect(401);
      expect(missing.headers['www-authenticate']).toBe('Bearer');
      await request(ctx.url).post('/lyrics').set(bearer('not-a-key')).send({ prompt: 'wrong key' }).expect(401);
      await request(ctx.url).post('/lyrics').set({ Authorization: KEY }).send({ prompt: 'not bearer' }).expect(401);
      await request(ctx.url).get('/lyrics').expect(401);
      const [{ n }] = await ctx.query(`SELECT count(*) AS n FROM lyrics_tasks WHERE prompt IN ('no key', 'wrong key', 'not bearer')`);
      expect(Number(n)).toBe(0);
    });

    it('accepts either configured key, and leaves the callback route to its own authentication', async () => {
      const { id } = await ctx.submit('keyed', { apiKey: OTHER_KEY });
      // The sandbox's callback carries no API key: it is authenticated by its token alone.
      await ctx.waitForAll([id], 'succeeded');
      // Two bare keys are two clients: each sees only its own tasks.
      await request(ctx.url).get(`/lyrics/${id}`).set(bearer(OTHER_KEY)).expect(200);
      await request(ctx.url).get(`/lyrics/${id}`).set(bearer(KEY)).expect(404);
      const [create] = ctx.createsFor('keyed');
      expect((await answeredDeliveries(ctx.sandbox, create.taskId!)).map((d) => d.status)).toEqual([200]);
    });

    it('keeps /health and /health/live open, and /metrics behind the keys', async () => {
      await request(ctx.url).get('/health').expect(200);
      await request(ctx.url).get('/health/live').expect(200);
      await request(ctx.url).get('/metrics').expect(401);
      await request(ctx.url).get('/metrics').set(bearer(KEY)).expect(200);
    });
  });

  describe('failed authentication', () => {
    it('is limited per address: past AUTH_FAILURE_LIMIT failures the address gets 429, even with a good key, others do not', async () => {
      const guarded = await startLyricsApp(afterTest, {
        env: { API_KEYS: `alice:${KEY}`, AUTH_FAILURE_LIMIT: '3', AUTH_FAILURE_WINDOW_MS: '60000', TRUST_PROXY: 'true' },
      });
      const from = (address: string) => ({ 'X-Forwarded-For': address });
      for (let i = 0; i < 3; i++) {
        await request(guarded.url)
          .get('/lyrics')
          .set(from('203.0.113.7'))
          .set(bearer(`guess-${i}`))
          .expect(401);
      }
      const refused = await request(guarded.url).get('/lyrics').set(from('203.0.113.7')).set(bearer('guess-3')).expect(429);
      expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
      await request(guarded.url).get('/lyrics').set(from('203.0.113.7')).set(bearer(KEY)).expect(429);
      await request(guarded.url).get('/lyrics').set(from('198.51.100.1')).set(bearer('guess-4')).expect(401);
      await request(guarded.url).get('/lyrics').set(from('198.51.100.1')).set(bearer(KEY)).expect(200);
    });
  });

  describe('throttling per client key', () => {
    it('answers 429 with Retry-After past the limit, counts each key apart, and never throttles callbacks', async () => {
      const throttled = await startLyricsApp(afterTest, {
        sandbox: ctx.sandbox,
        env: { API_KEYS: `${KEY},${OTHER_KEY}`, THROTTLE_LIMIT: '3', THROTTLE_TTL_MS: '60000' },
      });
      for (let i = 0; i < 3; i++) await request(throttled.url).get('/lyrics').set(bearer(KEY)).expect(200);
      const refused = await request(throttled.url).get('/lyrics').set(bearer(KEY)).expect(429);
      expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
      await request(throttled.url).get('/lyrics').set(bearer(OTHER_KEY)).expect(200);
      // Ten callbacks in a row (refused for their token, but never for their rate).
      for (let i = 0; i < 10; i++) {
        await request(throttled.url).post('/lyrics/callback/7a4c1c39-5a0e-4a54-9d8a-000000000000/x').send({}).expect(401);
      }
    });
  });

  describe('metrics', () => {
    it('exposes every family, and the values move when tasks move', async () => {
      const scrape = async () => (await request(ctx.url).get('/metrics').set(bearer(KEY)).expect(200)).text;
      const before = await scrape();
      for (const family of [
        'lyrics_tasks',
        'lyrics_final_transitions_total',
        'lyrics_callback_receipts_total',
        'kie_requests_total',
        'kie_request_duration_seconds',
        'lyrics_due_backlog',
        'lyrics_oldest_due_age_seconds',
        'lyrics_budget_waits_total',
        'kie_account_paused',
        'http_request_duration_seconds',
        'process_resident_memory_bytes',
      ]) {
        expect(before).toContain(`# TYPE ${family} `);
      }
      const queuedBefore = metricSample(before, 'lyrics_tasks{status="queued"}') ?? 0;
      const byCallbackBefore = metricSample(before, 'lyrics_final_transitions_total{status="succeeded",path="callback"}') ?? 0;
      const appliedBefore = metricSample(before, 'lyrics_callback_receipts_total{outcome="applied"}') ?? 0;
      const createsBefore = metricSample(before, 'kie_requests_total{endpoint="create",outcome="accepted",account="default"}') ?? 0;

      const { id } = await ctx.submit('measured');
      await ctx.waitForStatus(id, 'succeeded');

      // A task KIE keeps throttling stays queued: the table's gauge follows it at once.
      await ctx.submit('[sandbox:throttle=1000] kept waiting');

      const after = await scrape();
      expect(metricSample(after, 'lyrics_tasks{status="queued"}')).toBe(queuedBefore + 1);
      expect(metricSample(after, 'lyrics_final_transitions_total{status="succeeded",path="callback"}')).toBe(byCallbackBefore + 1);
      expect(metricSample(after, 'lyrics_callback_receipts_total{outcome="applied"}')).toBe(appliedBefore + 1);
      expect(metricSample(after, 'kie_requests_total{endpoint="create",outcome="accepted",account="default"}')).toBe(createsBefore + 1);
      expect(metricSample(after, 'kie_request_duration_seconds_count{endpoint="create"}')).toBeGreaterThan(0);
      expect(after).toMatch(/http_request_duration_seconds_count\{method="POST",route="\/lyrics",status="202"\} \d+/);
      expect(after).not.toMatch(/route="\/lyrics\/callback\/[0-9a-f]/);
    });
  });

  describe('request ids and headers', () => {
    it('echoes a given X-Request-Id, makes one when there is none or it is unusable', async () => {
      const given = await request(ctx.url).get('/health/live').set('X-Request-Id', 'req-abc.123').expect(200);
      expect(given.headers['x-request-id']).toBe('req-abc.123');
      const made = await request(ctx.url).get('/health/live').expect(200);
      expect(made.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
      const replaced = await request(ctx.url).get('/health/live').set('X-Request-Id', 'x'.repeat(300)).expect(200);
      expect(replaced.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    });

    it('sends security headers and no CORS headers unless configured', async () => {
      const response = await request(ctx.url).get('/health/live').set('Origin', 'https://example.com').expect(200);
      expect(response.headers['x-content-type-options']).toBe('nosniff');
      expect(response.headers['x-powered-by']).toBeUndefined();
      expect(response.headers['access-control-allow-origin']).toBeUndefined();
    });

    it('allows the configured CORS origins', async () => {
      const cors = await startLyricsApp(afterTest, { env: { CORS_ORIGINS: 'https://app.example.com' } });
      const allowed = await request(cors.url).get('/health/live').set('Origin', 'https://app.example.com').expect(200);
      expect(allowed.headers['access-control-allow-origin']).toBe('https://app.example.com');
      const other = await request(cors.url).get('/health/live').set('Origin', 'https://evil.example.com').expect(200);
      expect(other.headers['access-control-allow-origin']).toBeUndefined();
    });
  });
});
