import request from 'supertest';
import { useLyricsApp } from './support/lyrics-client';

describe('POST /lyrics, GET /lyrics/:id', () => {
  // Results take a minute: these tests look at submission only. The dispatcher's idle round is a minute too,
  // so every create seen here was sent because the submission woke the dispatcher.
  const ctx = useLyricsApp({ sandbox: { resultDelayMs: 60_000 }, env: { LYRICS_DISPATCH_INTERVAL_MS: '60000' } });

  it('answers 202 with the queued task, sends exactly one create with a callBackUrl under PUBLIC_BASE_URL, and shows the KIE id', async () => {
    const prompt = 'A calm song about the sea';
    const created = await ctx.submit(`  ${prompt}  `, { metadata: { customerRef: 'A-17', nested: { list: [1, 2] } } });
    expect(created).toMatchObject({
      status: 'queued',
      prompt,
      metadata: { customerRef: 'A-17', nested: { list: [1, 2] } },
      kieTaskId: null,
      variants: [],
      error: null,
      submittedAt: null,
      completedAt: null,
    });
    expect(created.id).toMatch(/^[0-9a-f-]{36}$/);

    const submitted = await ctx.waitForStatus(created.id, 'submitted');
    const creates = ctx.createsFor(prompt);
    expect(creates).toHaveLength(1);
    expect(creates[0].callBackUrl).toMatch(new RegExp(`^${ctx.url}/lyrics/callback/${created.id}/[A-Za-z0-9_-]{43}$`));
    expect(submitted.kieTaskId).toBe(creates[0].taskId);
    expect(submitted.submittedAt).not.toBeNull();
    expect(ctx.sandbox.task(submitted.kieTaskId)?.prompt).toBe(prompt);
  });

  it('stores only a hash of the callback token', async () => {
    const { id } = await ctx.submit('A song about a lighthouse');
    await ctx.waitForStatus(id, 'submitted');
    const token = ctx.createsFor('A song about a lighthouse')[0].callBackUrl!.split('/').pop()!;
    const [row] = await ctx.query('SELECT row_to_json(t)::text AS json FROM lyrics_tasks t WHERE id = $1', [id]);
    expect(row.json).not.toContain(token);
    expect(row.json).toMatch(/"callback_token_hash":"[0-9a-f]{64}"/);
  });

  it('reads a task back, 404 for an unknown id and 400 for an id that is not a UUID', async () => {
    const created = await ctx.submit('A song about autumn');
    expect(await ctx.task(created.id)).toMatchObject({ id: created.id, prompt: 'A song about autumn', createdAt: created.createdAt });
    await request(ctx.url).get('/lyrics/7a4c1c39-5a0e-4a54-9d8a-000000000000').expect(404);
    const { body: invalid } = await request(ctx.url).get('/lyrics/not-a-uuid').expect(400);
    expect(JSON.stringify(invalid.message)).toContain('uuid');
  });

  describe('refuses bad input with a 400 naming the field, storing and sending nothing', () => {
    const cases: [string, () => request.Test, RegExp][] = [
      ['a missing prompt', () => request(ctx.url).post('/lyrics').send({}), /prompt/],
      ['an empty prompt', () => request(ctx.url).post('/lyrics').send({ prompt: '' }), /prompt should not be empty/],
      ['a blank prompt', () => request(ctx.url).post('/lyrics').send({ prompt: ' \n\t ' }), /prompt should not be empty/],
      ['a prompt that is not a string', () => request(ctx.url).post('/lyrics').send({ prompt: 42 }), /prompt must be a string/],
      [
        'a prompt over 200 characters',
        () =>
          request(ctx.url)
            .post('/lyrics')
            .send({ prompt: 'x'.repeat(201) }),
        /prompt must be shorter than or equal to 200 characters/,
      ],
      [
        'metadata that is an array',
        () =>
          request(ctx.url)
            .post('/lyrics')
            .send({ prompt: 'ok', metadata: [1] }),
        /metadata must be an object/,
      ],
      [
        'metadata that is a string',
        () => request(ctx.url).post('/lyrics').send({ prompt: 'ok', metadata: 'x' }),
        /metadata must be an object/,
      ],
      [
        'metadata over 4 KiB',
        () =>
          request(ctx.url)
            .post('/lyrics')
            .send({ prompt: 'ok', metadata: { blob: 'x'.repeat(4100) } }),
        /metadata must be at most 4096 bytes as JSON/,
      ],
      ['an unknown field', () => request(ctx.url).post('/lyrics').send({ prompt: 'ok', model: 'v5' }), /property model should not exist/],
      ['malformed JSON', () => request(ctx.url).post('/lyrics').set('content-type', 'application/json').send('{"prompt": "ok"'), /JSON/i],
      [
        'an Idempotency-Key over 255 characters',
        () => request(ctx.url).post('/lyrics').set('Idempotency-Key', 'k'.repeat(256)).send({ prompt: 'ok' }),
        /Idempotency-Key must be between 1 and 255 characters/,
      ],
    ];

    it.each(cases)('%s', async (_, send, expected) => {
      // Earlier tests' creates are sent in the background: count once they have all arrived.
      await ctx.waitForNoQueuedTask();
      const tasksBefore = await ctx.taskCount();
      const createsBefore = ctx.requestsTo('create').length;
      const response = await send().expect(400);
      expect(JSON.stringify(response.body.message)).toMatch(expected);
      expect(await ctx.taskCount()).toBe(tasksBefore);
      expect(ctx.requestsTo('create')).toHaveLength(createsBefore);
    });

    it('accepts a prompt of exactly 200 characters', async () => {
      await ctx.submit('y'.repeat(200));
    });
  });

  describe('Idempotency-Key', () => {
    it('replays the same request as 200 with the same task, and sends one create', async () => {
      const metadata = { a: 1, b: { c: 2 } };
      const first = await ctx.submit('A song about keys', { metadata, idempotencyKey: 'replay-1' });
      // The same body with keys in another order is the same request.
      const replay = await request(ctx.url)
        .post('/lyrics')
        .set('Idempotency-Key', 'replay-1')
        .send({ metadata: { b: { c: 2 }, a: 1 }, prompt: 'A song about keys' })
        .expect(200);
      expect(replay.body.id).toBe(first.id);
      await ctx.waitForStatus(first.id, 'submitted');
      await ctx.submit('A song about keys', { metadata, idempotencyKey: 'replay-1', expectStatus: 200 });
      expect(ctx.createsFor('A song about keys')).toHaveLength(1);
    });

    it('answers 409 for the same key with another body, and stores nothing', async () => {
      await ctx.submit('First', { idempotencyKey: 'conflict-1' });
      const tasksBefore = await ctx.taskCount();
      const { body } = await request(ctx.url).post('/lyrics').set('Idempotency-Key', 'conflict-1').send({ prompt: 'Second' }).expect(409);
      expect(body.message).toMatch(/Idempotency-Key/);
      expect(await ctx.taskCount()).toBe(tasksBefore);
      expect(ctx.createsFor('Second')).toHaveLength(0);
    });

    it('makes exactly one task of 20 concurrent requests with one new key', async () => {
      const prompt = 'A song about racing';
      const responses = await Promise.all(
        Array.from({ length: 20 }, () => request(ctx.url).post('/lyrics').set('Idempotency-Key', 'race-1').send({ prompt })),
      );
      expect(responses.map((r) => r.status).every((status) => status === 200 || status === 202)).toBe(true);
      expect(responses.filter((r) => r.status === 202)).toHaveLength(1);
      expect(new Set(responses.map((r) => r.body.id)).size).toBe(1);
      const [{ n }] = await ctx.query('SELECT count(*) AS n FROM lyrics_tasks WHERE idempotency_key = $1', ['race-1']);
      expect(Number(n)).toBe(1);
      await ctx.waitForStatus(responses[0].body.id, 'submitted');
      expect(ctx.createsFor(prompt)).toHaveLength(1);
    });
  });
});
