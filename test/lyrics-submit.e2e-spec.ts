import request from 'supertest';
import { KieSandbox } from '../src/sandbox/kie-sandbox';
import { startTestApp, TestApp } from './support/test-app';
import { waitFor } from './support/wait';

describe('POST /lyrics, GET /lyrics/:id', () => {
  let sandbox: KieSandbox;
  let testApp: TestApp;

  beforeAll(async () => {
    // Results take a minute: these tests look at submission only. The dispatcher's idle round is a minute too,
    // so every create seen here was sent because the submission woke the dispatcher.
    sandbox = await KieSandbox.start({ resultDelayMs: 60_000 });
    testApp = await startTestApp({ sandbox, env: { LYRICS_DISPATCH_INTERVAL_MS: '60000' } });
  });

  afterAll(async () => {
    await testApp.close();
    await sandbox.stop();
  });

  const taskRows = async (): Promise<number> => Number((await testApp.dataSource.query('SELECT count(*) AS n FROM lyrics_tasks'))[0].n);
  const createsFor = (prompt: string) => sandbox.requests.filter((r) => r.endpoint === 'create' && r.prompt === prompt);
  const waitForStatus = (id: string, status: string) =>
    waitFor(`task ${id} to be ${status}`, async () => {
      const { body } = await request(testApp.url).get(`/lyrics/${id}`).expect(200);
      return body.status === status ? body : undefined;
    });

  it('answers 202 with the queued task, sends exactly one create with a callBackUrl under PUBLIC_BASE_URL, and shows the KIE id', async () => {
    const prompt = 'A calm song about the sea';
    const { body: created } = await request(testApp.url)
      .post('/lyrics')
      .send({ prompt: `  ${prompt}  `, metadata: { customerRef: 'A-17', nested: { list: [1, 2] } } })
      .expect(202);
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

    const submitted = await waitForStatus(created.id, 'submitted');
    const creates = createsFor(prompt);
    expect(creates).toHaveLength(1);
    expect(creates[0].callBackUrl).toMatch(new RegExp(`^${testApp.url}/lyrics/callback/${created.id}/[A-Za-z0-9_-]{43}$`));
    expect(submitted.kieTaskId).toBe(creates[0].taskId);
    expect(submitted.submittedAt).not.toBeNull();
    expect(sandbox.task(submitted.kieTaskId)?.prompt).toBe(prompt);
  });

  it('stores only a hash of the callback token', async () => {
    const { body } = await request(testApp.url).post('/lyrics').send({ prompt: 'A song about a lighthouse' }).expect(202);
    await waitForStatus(body.id, 'submitted');
    const token = createsFor('A song about a lighthouse')[0].callBackUrl!.split('/').pop()!;
    const [row] = await testApp.dataSource.query('SELECT row_to_json(t)::text AS json FROM lyrics_tasks t WHERE id = $1', [body.id]);
    expect(row.json).not.toContain(token);
    expect(row.json).toMatch(/"callback_token_hash":"[0-9a-f]{64}"/);
  });

  it('reads a task back, 404 for an unknown id and 400 for an id that is not a UUID', async () => {
    const { body } = await request(testApp.url).post('/lyrics').send({ prompt: 'A song about autumn' }).expect(202);
    const { body: read } = await request(testApp.url).get(`/lyrics/${body.id}`).expect(200);
    expect(read).toMatchObject({ id: body.id, prompt: 'A song about autumn', createdAt: body.createdAt });
    await request(testApp.url).get('/lyrics/7a4c1c39-5a0e-4a54-9d8a-000000000000').expect(404);
    const { body: invalid } = await request(testApp.url).get('/lyrics/not-a-uuid').expect(400);
    expect(JSON.stringify(invalid.message)).toContain('uuid');
  });

  describe('refuses bad input with a 400 naming the field, storing and sending nothing', () => {
    const cases: [string, () => request.Test, RegExp][] = [
      ['a missing prompt', () => request(testApp.url).post('/lyrics').send({}), /prompt/],
      ['an empty prompt', () => request(testApp.url).post('/lyrics').send({ prompt: '' }), /prompt should not be empty/],
      ['a blank prompt', () => request(testApp.url).post('/lyrics').send({ prompt: ' \n\t ' }), /prompt should not be empty/],
      ['a prompt that is not a string', () => request(testApp.url).post('/lyrics').send({ prompt: 42 }), /prompt must be a string/],
      [
        'a prompt over 200 characters',
        () =>
          request(testApp.url)
            .post('/lyrics')
            .send({ prompt: 'x'.repeat(201) }),
        /prompt must be shorter than or equal to 200 characters/,
      ],
      [
        'metadata that is an array',
        () =>
          request(testApp.url)
            .post('/lyrics')
            .send({ prompt: 'ok', metadata: [1] }),
        /metadata must be an object/,
      ],
      [
        'metadata that is a string',
        () => request(testApp.url).post('/lyrics').send({ prompt: 'ok', metadata: 'x' }),
        /metadata must be an object/,
      ],
      [
        'metadata over 4 KiB',
        () =>
          request(testApp.url)
            .post('/lyrics')
            .send({ prompt: 'ok', metadata: { blob: 'x'.repeat(4100) } }),
        /metadata must be at most 4096 bytes as JSON/,
      ],
      [
        'an unknown field',
        () => request(testApp.url).post('/lyrics').send({ prompt: 'ok', model: 'v5' }),
        /property model should not exist/,
      ],
      [
        'malformed JSON',
        () => request(testApp.url).post('/lyrics').set('content-type', 'application/json').send('{"prompt": "ok"'),
        /JSON/i,
      ],
      [
        'an Idempotency-Key over 255 characters',
        () => request(testApp.url).post('/lyrics').set('Idempotency-Key', 'k'.repeat(256)).send({ prompt: 'ok' }),
        /Idempotency-Key must be between 1 and 255 characters/,
      ],
    ];

    it.each(cases)('%s', async (_, send, expected) => {
      const before = await taskRows();
      const createsBefore = sandbox.requests.filter((r) => r.endpoint === 'create').length;
      const response = await send().expect(400);
      expect(JSON.stringify(response.body.message)).toMatch(expected);
      expect(await taskRows()).toBe(before);
      expect(sandbox.requests.filter((r) => r.endpoint === 'create')).toHaveLength(createsBefore);
    });

    it('accepts a prompt of exactly 200 characters', async () => {
      await request(testApp.url)
        .post('/lyrics')
        .send({ prompt: 'y'.repeat(200) })
        .expect(202);
    });
  });

  describe('Idempotency-Key', () => {
    it('replays the same request as 200 with the same task, and sends one create', async () => {
      const body = { prompt: 'A song about keys', metadata: { a: 1, b: { c: 2 } } };
      const first = await request(testApp.url).post('/lyrics').set('Idempotency-Key', 'replay-1').send(body).expect(202);
      // The same body with keys in another order is the same request.
      const replay = await request(testApp.url)
        .post('/lyrics')
        .set('Idempotency-Key', 'replay-1')
        .send({ metadata: { b: { c: 2 }, a: 1 }, prompt: 'A song about keys' })
        .expect(200);
      expect(replay.body.id).toBe(first.body.id);
      await waitForStatus(first.body.id, 'submitted');
      await request(testApp.url).post('/lyrics').set('Idempotency-Key', 'replay-1').send(body).expect(200);
      expect(createsFor('A song about keys')).toHaveLength(1);
    });

    it('answers 409 for the same key with another body, and stores nothing', async () => {
      await request(testApp.url).post('/lyrics').set('Idempotency-Key', 'conflict-1').send({ prompt: 'First' }).expect(202);
      const before = await taskRows();
      const { body } = await request(testApp.url)
        .post('/lyrics')
        .set('Idempotency-Key', 'conflict-1')
        .send({ prompt: 'Second' })
        .expect(409);
      expect(body.message).toMatch(/Idempotency-Key/);
      expect(await taskRows()).toBe(before);
      expect(createsFor('Second')).toHaveLength(0);
    });

    it('makes exactly one task of 20 concurrent requests with one new key', async () => {
      const prompt = 'A song about racing';
      const responses = await Promise.all(
        Array.from({ length: 20 }, () => request(testApp.url).post('/lyrics').set('Idempotency-Key', 'race-1').send({ prompt })),
      );
      expect(responses.map((r) => r.status).every((status) => status === 200 || status === 202)).toBe(true);
      expect(responses.filter((r) => r.status === 202)).toHaveLength(1);
      expect(new Set(responses.map((r) => r.body.id)).size).toBe(1);
      const [{ n }] = await testApp.dataSource.query('SELECT count(*) AS n FROM lyrics_tasks WHERE idempotency_key = $1', ['race-1']);
      expect(Number(n)).toBe(1);
      await waitForStatus(responses[0].body.id, 'submitted');
      expect(createsFor(prompt)).toHaveLength(1);
    });
  });
});
