import request from 'supertest';
import { KieSandbox } from '../src/sandbox/kie-sandbox';
import { OwnPostgres } from './support/own-postgres';
import { startTestApp } from './support/test-app';
import { waitFor } from './support/wait';

describe('GET /health and /health/live', () => {
  it('answers 200 while the database is up, 503 once it is stopped, and 200 again when it is back', async () => {
    const postgres = await OwnPostgres.start();
    const testApp = await startTestApp({ database: postgres.database });
    try {
      const up = await request(testApp.url).get('/health').expect(200);
      expect(up.body).toMatchObject({ status: 'ok', info: { database: { status: 'up' } } });
      await postgres.pause();
      const down = await request(testApp.url).get('/health').expect(503);
      expect(down.body).toMatchObject({ status: 'error', error: { database: { status: 'down' } } });
      await request(testApp.url).get('/health/live').expect(200, { status: 'ok' });
      await postgres.resume();
      await waitFor('readiness to come back', async () => (await request(testApp.url).get('/health')).status === 200);
    } finally {
      await testApp.close();
      await postgres.destroy();
    }
  });

  describe('with a KIE credits floor (HEALTH_KIE_MIN_CREDITS)', () => {
    it.each([
      [500, 200, 'up'],
      [50, 503, 'down'],
    ])('with %s credits left answers %s (kie %s), reading credits once per cache period', async (credits, status, kie) => {
      const sandbox = await KieSandbox.start({ credits });
      const testApp = await startTestApp({ sandbox, env: { HEALTH_KIE_MIN_CREDITS: '100', HEALTH_KIE_CACHE_MS: '60000' } });
      try {
        for (let i = 0; i < 3; i++) {
          const { body } = await request(testApp.url).get('/health').expect(status);
          expect(body.details.kie).toMatchObject({ status: kie, credits });
        }
        expect(sandbox.requests.map((r) => r.endpoint)).toEqual(['credit']);
      } finally {
        await testApp.close();
        await sandbox.stop();
      }
    });
  });
});
