import request from 'supertest';
import { startLyricsApp } from './support/lyrics-client';
import { OwnPostgres } from './support/own-postgres';
import { teardownAfterEach } from './support/teardown';
import { waitFor } from './support/wait';

describe('GET /health and /health/live', () => {
  const afterTest = teardownAfterEach();

  it('answers 200 while the database is up, 503 once it is stopped, and 200 again when it is back', async () => {
    const postgres = afterTest.add(await OwnPostgres.start(), (own) => own.destroy());
    const { url } = await startLyricsApp(afterTest, { database: postgres.database });
    const up = await request(url).get('/health').expect(200);
    expect(up.body).toMatchObject({ status: 'ok', info: { database: { status: 'up' } } });
    await postgres.pause();
    const down = await request(url).get('/health').expect(503);
    expect(down.body).toMatchObject({ status: 'error', error: { database: { status: 'down' } } });
    await request(url).get('/health/live').expect(200, { status: 'ok' });
    await postgres.resume();
    await waitFor('readiness to come back', async () => (await request(url).get('/health')).status === 200);
  });

  describe('with a KIE credits floor (HEALTH_KIE_MIN_CREDITS)', () => {
    it.each([
      [500, 200, 'up'],
      [50, 503, 'down'],
    ])('with %s credits left answers %s (kie %s), reading credits once per cache period', async (credits, status, kie) => {
      const ctx = await startLyricsApp(afterTest, {
        sandbox: { credits },
        env: { HEALTH_KIE_MIN_CREDITS: '100', HEALTH_KIE_CACHE_MS: '60000' },
      });
      for (let i = 0; i < 3; i++) {
        const { body } = await request(ctx.url).get('/health').expect(status);
        expect(body.details.kie).toMatchObject({ status: kie, credits: { default: credits } });
      }
      expect(ctx.sandbox.requests.map((r) => r.endpoint)).toEqual(['credit']);
    });
  });
});
