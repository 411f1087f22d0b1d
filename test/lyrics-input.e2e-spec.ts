import request from 'supertest';
import { useLyricsApp } from './support/lyrics-client';

/** A cursor as the API encodes one, around a creation time of our choosing. */
const cursorOf = (createdAt: string) => Buffer.from(`${createdAt}|7a4c1c39-5a0e-4a54-9d8a-000000000000`).toString('base64url');

/** `levels` arrays nested in one another, as JSON text. */
const nestedArrays = (levels: number) => '['.repeat(levels) + ']'.repeat(levels);

describe('the client API refuses any bad input with a 400 naming the field, and stores accepted input exactly', () => {
  // Results take a minute and the dispatcher's idle round is a minute too: every create seen here was sent
  // because a submission woke the dispatcher.
  const ctx = useLyricsApp({ sandbox: { resultDelayMs: 60_000 }, env: { LYRICS_DISPATCH_INTERVAL_MS: '60000' } });

  const postJson = (json: string) => request(ctx.url).post('/lyrics').set('content-type', 'application/json').send(json);

  describe('accepted: the stored row, the returned task and the create KIE received hold exactly what was sent', () => {
    const cases: [string, string][] = [
      ['metadata with a constructor key', JSON.stringify({ prompt: 'Constructor song', metadata: { constructor: { a: 1 } } })],
      ['metadata with a __proto__ key', '{"prompt": "Proto song", "metadata": {"__proto__": {"x": 1}}}'],
      [
        'metadata with prototype keys at every depth',
        '{"prompt": "Deep keys song", "metadata": {"a": {"constructor": "c", "prototype": [1], "__proto__": {"__proto__": null}}, "list": [{"constructor": {}}]}}',
      ],
      [
        'metadata with astral characters in keys and values',
        JSON.stringify({ prompt: 'Astral song', metadata: { '🎵': '😀', ключ: ['海'] } }),
      ],
      ['metadata nested 32 levels deep, the bound', `{"prompt": "Nested song", "metadata": {"a": ${nestedArrays(31)}}}`],
      ['a prompt of 150 emoji', JSON.stringify({ prompt: '😀'.repeat(150) })],
      ['a prompt of 200 emoji, the limit in code points', JSON.stringify({ prompt: '🎵'.repeat(200) })],
      ['a prompt of 200 CJK characters', JSON.stringify({ prompt: '海'.repeat(200) })],
      ['null metadata', JSON.stringify({ prompt: 'No metadata song', metadata: null })],
    ];

    it.each(cases)('%s', async (_, json) => {
      const sent = JSON.parse(json);
      const metadata = sent.metadata === undefined ? null : sent.metadata;
      const { body: created } = await postJson(json).expect(202);
      expect(created.prompt).toBe(sent.prompt);
      expect(created.metadata).toEqual(metadata);
      if (metadata !== null) expect(Object.keys(created.metadata).sort()).toEqual(Object.keys(metadata).sort());

      const row = await ctx.taskRow(created.id);
      expect(row.prompt).toBe(sent.prompt);
      expect(row.metadata).toEqual(metadata);
      expect(await ctx.task(created.id)).toMatchObject({ prompt: sent.prompt, metadata });

      await ctx.waitForStatus(created.id, 'submitted');
      expect(ctx.createsFor(sent.prompt)).toHaveLength(1);
    });
  });

  describe('refused with a 400 naming the field; nothing stored, nothing sent', () => {
    const deepMetadata = `{"prompt": "ok", "metadata": {"a": ${nestedArrays(30000)}}}`;
    const cases: [string, () => request.Test, RegExp][] = [
      ['a prompt with a NUL', () => postJson(JSON.stringify({ prompt: 'a\u0000b' })), /prompt must not contain NUL characters/],
      ['a prompt with a lone surrogate', () => postJson('{"prompt": "a\\ud800b"}'), /prompt must not contain lone surrogates/],
      [
        'a NUL in a metadata value, deep down',
        () => postJson(JSON.stringify({ prompt: 'ok', metadata: { a: [{ b: 'x\u0000' }] } })),
        /metadata must not contain NUL characters or lone surrogates/,
      ],
      [
        'a NUL in a metadata key',
        () => postJson(JSON.stringify({ prompt: 'ok', metadata: { 'a\u0000': 1 } })),
        /metadata must not contain NUL characters or lone surrogates/,
      ],
      [
        'a lone surrogate in a metadata key',
        () => postJson('{"prompt": "ok", "metadata": {"\\ud800": 1}}'),
        /metadata must not contain NUL characters or lone surrogates/,
      ],
      [
        'a lone low surrogate in a nested metadata string',
        () => postJson('{"prompt": "ok", "metadata": {"a": {"b": ["fine", "x\\udc00"]}}}'),
        /metadata must not contain NUL characters or lone surrogates/,
      ],
      [
        'a prompt of 201 emoji',
        () => postJson(JSON.stringify({ prompt: '😀'.repeat(201) })),
        /prompt must be shorter than or equal to 200 characters/,
      ],
      ['metadata nested 30000 levels deep', () => postJson(deepMetadata), /metadata must be nested at most 32 levels deep/],
      [
        'metadata nested 33 levels deep, one past the bound',
        () => postJson(`{"prompt": "ok", "metadata": {"a": ${nestedArrays(32)}}}`),
        /metadata must be nested at most 32 levels deep/,
      ],
      ['metadata that is a number', () => postJson('{"prompt": "ok", "metadata": 5}'), /metadata must be an object/],
      ['a prompt that is an array', () => postJson('{"prompt": ["a", "b"]}'), /prompt must be a string/],
      ['a prompt that is an object with a constructor key', () => postJson('{"prompt": {"constructor": 1}}'), /prompt must be a string/],
      [
        'an unknown field holding a constructor key',
        () => postJson('{"prompt": "ok", "extra": {"constructor": {"a": 1}}}'),
        /property extra should not exist/,
      ],
      ['a body that is JSON null', () => postJson('null'), /JSON/],
      ['a body that is a JSON number', () => postJson('5'), /JSON/],
      ['a body that is a JSON array', () => postJson('[{"prompt": "ok"}]'), /body must be a JSON object/],
      ['an empty JSON body', () => postJson(''), /prompt must be a string/],
      ['no body', () => request(ctx.url).post('/lyrics'), /body must be a JSON object/],
      [
        'a text/plain body',
        () => request(ctx.url).post('/lyrics').set('content-type', 'text/plain').send('ok'),
        /body must be a JSON object/,
      ],
      ['a limit over 100', () => request(ctx.url).get('/lyrics?limit=99999999999999999999'), /limit must not be greater than 100/],
      ['a limit that is not a number', () => request(ctx.url).get('/lyrics?limit=abc'), /limit must be an integer number/],
      ['a fractional limit', () => request(ctx.url).get('/lyrics?limit=1.5'), /limit must be an integer number/],
      ['an empty limit', () => request(ctx.url).get('/lyrics?limit='), /limit must not be less than 1/],
      ['a repeated limit', () => request(ctx.url).get('/lyrics?limit=2&limit=3'), /limit must be an integer number/],
      [
        'a repeated status',
        () => request(ctx.url).get('/lyrics?status=queued&status=failed'),
        /status must be one of the following values/,
      ],
      ['an unknown status', () => request(ctx.url).get('/lyrics?status=done'), /status must be one of the following values/],
      ['a cursor of garbage', () => request(ctx.url).get('/lyrics?cursor=%00%ff%7C'), /cursor is not a cursor this API returned/],
      ['an empty cursor', () => request(ctx.url).get('/lyrics?cursor='), /cursor is not a cursor this API returned/],
      ['a repeated cursor', () => request(ctx.url).get('/lyrics?cursor=a&cursor=b'), /cursor must be a string/],
      [
        'a cursor of the right shape naming an impossible date',
        () => request(ctx.url).get(`/lyrics?cursor=${cursorOf('2026-13-45T25:61:61.000000Z')}`),
        /cursor is not a cursor this API returned/,
      ],
      [
        'a cursor naming year 0',
        () => request(ctx.url).get(`/lyrics?cursor=${cursorOf('0000-01-01T00:00:00.000000Z')}`),
        /cursor is not a cursor this API returned/,
      ],
      [
        'an Idempotency-Key of 300 characters',
        () => request(ctx.url).post('/lyrics').set('Idempotency-Key', 'k'.repeat(300)).send({ prompt: 'Too long a key' }),
        /Idempotency-Key must be between 1 and 255 characters/,
      ],
      ['an unknown query parameter', () => request(ctx.url).get('/lyrics?owner=someone'), /property owner should not exist/],
      ['an id that is a NUL', () => request(ctx.url).get('/lyrics/%00'), /uuid is expected/],
      ['an id that is not valid percent-encoding', () => request(ctx.url).get('/lyrics/%ZZ'), /decode param/],
      ['an id of 5000 characters', () => request(ctx.url).get(`/lyrics/${'a'.repeat(5000)}`), /uuid is expected/],
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
  });
});
