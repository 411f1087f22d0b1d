import SwaggerParser from '@apidevtools/swagger-parser';
import request from 'supertest';
import { useLyricsApp } from './support/lyrics-client';

describe('API documentation', () => {
  const ctx = useLyricsApp();

  it('serves an OpenAPI 3 document at /docs-json that describes every route', async () => {
    const { body } = await request(ctx.url).get('/docs-json').expect(200);
    expect(body.openapi).toMatch(/^3\./);
    expect(body.info.title).toBe('nestjs-kie-lyrics');
    expect(Object.keys(body.paths).sort()).toEqual(
      [
        '/health',
        '/health/live',
        '/lyrics',
        '/lyrics/callback/{taskId}/{token}',
        '/lyrics/events',
        '/lyrics/webhook-secret',
        '/lyrics/webhook-secret/rotate',
        '/lyrics/{id}',
        '/lyrics/{id}/callbacks',
        '/lyrics/{id}/cancel',
        '/lyrics/{id}/deliveries',
        '/metrics',
      ].sort(),
    );
    expect(Object.keys(body.paths['/lyrics'])).toEqual(expect.arrayContaining(['get', 'post']));
    const submit = body.paths['/lyrics'].post;
    expect(Object.keys(submit.responses)).toEqual(expect.arrayContaining(['200', '202', '400', '409']));
    expect(submit.parameters).toEqual(expect.arrayContaining([expect.objectContaining({ name: 'Idempotency-Key', in: 'header' })]));
    expect(body.components.schemas.CreateLyricsDto.required).toEqual(['prompt']);
    expect(body.components.schemas.CreateLyricsDto.properties.webhookUrl).toMatchObject({ type: 'string', maxLength: 2048 });
    expect(body.components.schemas.LyricsTaskDto.properties.status.enum).toEqual([
      'queued',
      'submitted',
      'succeeded',
      'failed',
      'cancelled',
    ]);
  });

  it('describes the bearer scheme as an opaque key, and the 401, 404 and 429 of every client route', async () => {
    const { body } = await request(ctx.url).get('/docs-json').expect(200);
    expect(body.components.securitySchemes.bearer).toMatchObject({ type: 'http', scheme: 'bearer', bearerFormat: 'opaque API key' });
    expect(JSON.stringify(body.components.securitySchemes)).not.toMatch(/jwt/i);
    const clientRoutes: [string, string, string[]][] = [
      ['/lyrics', 'post', ['401', '429']],
      ['/lyrics', 'get', ['401', '429']],
      ['/lyrics/{id}', 'get', ['401', '404', '429']],
      ['/lyrics/{id}/deliveries', 'get', ['401', '404', '429']],
      ['/lyrics/{id}/callbacks', 'get', ['401', '404', '429']],
      ['/lyrics/{id}/cancel', 'post', ['401', '404', '409', '429']],
      ['/lyrics/webhook-secret', 'get', ['401', '429']],
      ['/lyrics/webhook-secret/rotate', 'post', ['401', '429']],
    ];
    for (const [path, method, statuses] of clientRoutes) {
      expect([path, method, Object.keys(body.paths[path][method].responses)]).toEqual([path, method, expect.arrayContaining(statuses)]);
    }
  });

  it('is a valid OpenAPI document to an outside parser, and gives every error of the lyrics routes its schema', async () => {
    const { body } = await request(ctx.url).get('/docs-json').expect(200);
    await expect(SwaggerParser.validate(structuredClone(body))).resolves.toBeDefined();
    const errors: [string, string, string, unknown][] = [];
    for (const [path, operations] of Object.entries<Record<string, { responses: Record<string, { content?: unknown }> }>>(body.paths)) {
      if (!path.startsWith('/lyrics')) continue;
      for (const [method, operation] of Object.entries(operations)) {
        for (const [status, response] of Object.entries(operation.responses)) {
          if (status.startsWith('4')) errors.push([path, method, status, response.content]);
        }
      }
    }
    expect(errors.length).toBeGreaterThan(30);
    for (const [path, method, status, content] of errors) {
      expect([path, method, status, content]).toEqual([
        path,
        method,
        status,
        { 'application/json': { schema: { $ref: '#/components/schemas/ApiErrorDto' } } },
      ]);
    }
    expect(body.components.schemas.ApiErrorDto.required).toEqual(['statusCode', 'message', 'error']);
  });

  it('serves the Swagger UI at /docs', async () => {
    const response = await request(ctx.url).get('/docs').expect(200);
    expect(response.headers['content-type']).toMatch(/text\/html/);
    expect(response.text).toContain('swagger-ui');
  });
});
