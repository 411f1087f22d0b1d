import request from 'supertest';
import { useLyricsApp } from './support/lyrics-client';

describe('API documentation', () => {
  const ctx = useLyricsApp();

  it('serves an OpenAPI 3 document at /docs-json that describes every route', async () => {
    const { body } = await request(ctx.url).get('/docs-json').expect(200);
    expect(body.openapi).toMatch(/^3\./);
    expect(body.info.title).toBe('nestjs-kie-lyrics');
    expect(Object.keys(body.paths).sort()).toEqual(
      ['/health', '/health/live', '/lyrics', '/lyrics/callback/{taskId}/{token}', '/lyrics/{id}', '/metrics'].sort(),
    );
    expect(Object.keys(body.paths['/lyrics'])).toEqual(expect.arrayContaining(['get', 'post']));
    const submit = body.paths['/lyrics'].post;
    expect(Object.keys(submit.responses)).toEqual(expect.arrayContaining(['200', '202', '400', '409']));
    expect(submit.parameters).toEqual(expect.arrayContaining([expect.objectContaining({ name: 'Idempotency-Key', in: 'header' })]));
    expect(body.components.schemas.CreateLyricsDto.required).toEqual(['prompt']);
    expect(body.components.schemas.LyricsTaskDto.properties.status.enum).toEqual(['queued', 'submitted', 'succeeded', 'failed']);
  });

  it('serves the Swagger UI at /docs', async () => {
    const response = await request(ctx.url).get('/docs').expect(200);
    expect(response.headers['content-type']).toMatch(/text\/html/);
    expect(response.text).toContain('swagger-ui');
  });
});
