import request from 'supertest';
import { startTestApp, TestApp } from './support/test-app';

describe('API documentation', () => {
  let testApp: TestApp;

  beforeAll(async () => {
    testApp = await startTestApp();
  });

  afterAll(async () => {
    await testApp.close();
  });

  it('serves an OpenAPI 3 document at /docs-json that describes every route', async () => {
    const { body } = await request(testApp.url).get('/docs-json').expect(200);
    expect(body.openapi).toMatch(/^3\./);
    expect(body.info.title).toBe('nestjs-kie-lyrics');
    expect(Object.keys(body.paths)).toEqual(expect.arrayContaining(['/health']));
  });

  it('serves the Swagger UI at /docs', async () => {
    const response = await request(testApp.url).get('/docs').expect(200);
    expect(response.headers['content-type']).toMatch(/text\/html/);
    expect(response.text).toContain('swagger-ui');
  });
});
