import request from 'supertest';
import { withAdmin } from './support/postgres-server';
import { startTestApp, TestApp } from './support/test-app';

describe('GET /health', () => {
  let testApp: TestApp;

  beforeAll(async () => {
    testApp = await startTestApp();
  });

  afterAll(async () => {
    await testApp.close();
  });

  it('answers 200 with the database up', async () => {
    const response = await request(testApp.url).get('/health').expect(200);
    expect(response.body).toMatchObject({ status: 'ok', info: { database: { status: 'up' } } });
  });

  it('answers 503 while the database refuses connections, and 200 once it accepts them again', async () => {
    const name = testApp.database.name;
    const admin = process.env.TEST_DATABASE_ADMIN_URL!;
    await withAdmin(admin, async (client) => {
      await client.query(`ALTER DATABASE ${name} ALLOW_CONNECTIONS false`);
      await client.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1', [name]);
    });
    try {
      const down = await request(testApp.url).get('/health').expect(503);
      expect(down.body).toMatchObject({ status: 'error', error: { database: { status: 'down' } } });
    } finally {
      await withAdmin(admin, (client) => client.query(`ALTER DATABASE ${name} ALLOW_CONNECTIONS true`));
    }
    await request(testApp.url).get('/health').expect(200);
  });
});
