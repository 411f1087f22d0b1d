import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  envelopeMessage,
  isKieTaskId,
  KIE_TASK_ID_PATTERN,
  KiePayloadError,
  MAX_VARIANTS,
  parseCallback,
  parseJobsRecord,
  parseRecordInfo,
} from './kie-payloads';

const fixture = (name: string): any => JSON.parse(readFileSync(join(__dirname, '..', '..', '..', 'test', 'fixtures', 'kie', name), 'utf8'));

const HARBOR_NIGHT = {
  title: 'Harbor Night',
  text: "[Verse]\nLamplight on the harbor wall\nGulls asleep, the tide is small\n\n[Chorus]\nHold the night, don't let it go\nEvery wave is moving slow",
  status: 'complete',
  errorMessage: null,
};
const CITY_SLEEPS = {
  title: 'City Sleeps',
  text: '[Verse]\nStreets are quiet, rain has passed\nNeon fading, shadows cast\n\n[Chorus]\nCity sleeps beneath the sky\nStars keep watch as hours fly',
  status: 'complete',
  errorMessage: null,
};

/** The result a callback body carries (it must carry one). */
function result(body: unknown) {
  const callback = parseCallback(body);
  if (callback.kind !== 'result') throw new Error(`no result: ${callback.reason}`);
  return callback.result;
}

describe('parseCallback', () => {
  it("reads KIE's documented snake_case success", () => {
    expect(parseCallback(fixture('callback-success-kie-snake_case.json'))).toEqual({
      kind: 'result',
      kieTaskId: 'a41f7c2e9b8d4e0f9c3a6b5d2e1f0a97',
      result: { state: 'succeeded', variants: [HARBOR_NIGHT, CITY_SLEEPS], droppedVariants: 0 },
    });
  });

  it('reads the camelCase variant to the same record', () => {
    expect(parseCallback(fixture('callback-success-camelCase-variant.json'))).toEqual(
      parseCallback(fixture('callback-success-kie-snake_case.json')),
    );
  });

  it('reads the lyricsData array key', () => {
    const body = fixture('callback-success-camelCase-variant.json');
    body.data.lyricsData = body.data.data;
    delete body.data.data;
    expect(result(body)).toEqual({ state: 'succeeded', variants: [HARBOR_NIGHT, CITY_SLEEPS], droppedVariants: 0 });
  });

  it('reads a failure with data: null, keeping KIE message, moderation as sensitive_content', () => {
    expect(parseCallback(fixture('callback-failure-kie.json'))).toEqual({
      kind: 'result',
      kieTaskId: 'c0d9e8f7a6b54c3d2e1f0a9b8c7d6e5f',
      result: { state: 'failed', code: 'sensitive_content', message: 'Song Description flagged for moderation' },
    });
  });

  it("reads sunoapi.org's callbackType error as a generation failure", () => {
    const body = { code: 400, msg: 'Lyrics generation failed', data: { callbackType: 'error', taskId: '11dc8b0f', data: null } };
    expect(parseCallback(body)).toEqual({
      kind: 'result',
      kieTaskId: '11dc8b0f',
      result: { state: 'failed', code: 'generation_failed', message: 'Lyrics generation failed' },
    });
  });

  it('keeps a failed variant and its message', () => {
    const body = fixture('callback-success-kie-snake_case.json');
    body.data.data[1] = { ...body.data.data[1], status: 'failed', error_message: 'flagged' };
    expect(result(body)).toEqual({
      state: 'succeeded',
      variants: [HARBOR_NIGHT, { ...CITY_SLEEPS, status: 'failed', errorMessage: 'flagged' }],
      droppedVariants: 0,
    });
  });

  it.each([
    ['no data', { code: 200, msg: 'ok', taskId: 'a' }, 'a'],
    ['no task id', { code: 200, msg: 'ok', data: { callbackType: 'complete', data: [] } }, undefined],
    ['no code', { msg: 'ok', data: { task_id: 'a', data: [] } }, 'a'],
    ['a success without an array', { code: 200, msg: 'ok', data: { task_id: 'a', callbackType: 'complete', data: null } }, 'a'],
    ['an unknown shape with a top-level id', { event: 'done', taskId: 'a' }, 'a'],
    ['an empty object', {}, undefined],
    ['a Jobs state that is not final', { code: 200, msg: 'ok', data: { taskId: 'a', state: 'generating', resultJson: null } }, 'a'],
    [
      'a Jobs success without lyrics',
      { code: 200, msg: 'ok', data: { taskId: 'a', state: 'success', resultJson: '{"resultUrls":[]}' } },
      'a',
    ],
    [
      'a Jobs success whose resultJson is not JSON',
      { code: 200, msg: 'ok', data: { taskId: 'a', state: 'success', resultJson: '{' } },
      'a',
    ],
  ])('finds no result in %s, keeping the id it carries', (_, body, kieTaskId) => {
    expect(parseCallback(body)).toEqual({ kind: 'unrecognised', kieTaskId, reason: expect.any(String) });
  });

  it.each([
    ['not an object', 'text'],
    ['an array', [{ code: 200 }]],
    ['an empty task id', { code: 200, msg: 'ok', data: { task_id: '', data: [] } }],
    ['a task id with a space', { code: 200, msg: 'ok', data: { task_id: 'a b', data: [] } }],
    ['a task id with NUL', { code: 200, msg: 'ok', data: { taskId: 'a\u0000', data: [] } }],
    ['a 65-character task id', { code: 200, msg: 'ok', data: { task_id: 'a'.repeat(65), data: [] } }],
    ['a task id that is not a string', { code: 200, msg: 'ok', data: { task_id: 42, data: [] } }],
    ['an invalid top-level task id', { taskId: 'a b' }],
  ])('refuses a malformed body: %s', (_, body) => {
    expect(() => parseCallback(body)).toThrow(KiePayloadError);
  });
});

describe('parseRecordInfo', () => {
  it('reads a pending record with response: null', () => {
    expect(parseRecordInfo(fixture('record-info-pending.json').data)).toEqual({ state: 'pending' });
  });

  it('reads a success in the lyricsData spelling, and in the data spelling', () => {
    const body = fixture('record-info-success.json');
    expect(parseRecordInfo(body.data)).toEqual({ state: 'succeeded', variants: [HARBOR_NIGHT, CITY_SLEEPS], droppedVariants: 0 });
    body.data.response.data = body.data.response.lyricsData;
    delete body.data.response.lyricsData;
    expect(parseRecordInfo(body.data)).toEqual({ state: 'succeeded', variants: [HARBOR_NIGHT, CITY_SLEEPS], droppedVariants: 0 });
  });

  it('reads SENSITIVE_WORD_ERROR as sensitive_content with the message', () => {
    expect(parseRecordInfo(fixture('record-info-failed-sensitive-word.json').data)).toEqual({
      state: 'failed',
      code: 'sensitive_content',
      message: 'Song Description flagged for moderation',
    });
  });

  it.each(['GENERATE_LYRICS_FAILED', 'CREATE_TASK_FAILED', 'CALLBACK_EXCEPTION'])('reads %s as generation_failed', (status) => {
    const data = { ...fixture('record-info-failed-sensitive-word.json').data, status, errorMessage: null };
    expect(parseRecordInfo(data)).toEqual({ state: 'failed', code: 'generation_failed', message: status });
  });

  it('treats an unknown status as still running, even one named like an Object.prototype key', () => {
    expect(parseRecordInfo({ status: 'TEXT_SUCCESS', response: null })).toEqual({ state: 'pending' });
    expect(parseRecordInfo({ status: 'constructor', response: null })).toEqual({ state: 'pending' });
  });
});

describe('KIE task ids', () => {
  it.each([
    ['32 hex digits (legacy)', 'a41f7c2e9b8d4e0f9c3a6b5d2e1f0a97', true],
    ['a Jobs-style id', 'task_lyrics-1759748400_AbC.9:x', true],
    ['one character', 'a', true],
    ['64 visible characters', '~'.repeat(64), true],
    ['empty', '', false],
    ['65 characters', 'a'.repeat(65), false],
    ['a space', 'ab cd', false],
    ['a tab', 'ab\tcd', false],
    ['a newline', 'abcd\n', false],
    ['NUL', 'ab\u0000', false],
    ['DEL', 'ab\u007f', false],
    ['non-ASCII', 'abé', false],
    ['a number', 42, false],
    ['undefined', undefined, false],
  ])('%s', (_, value, valid) => {
    expect(isKieTaskId(value)).toBe(valid);
    if (typeof value === 'string') expect(KIE_TASK_ID_PATTERN.test(value)).toBe(valid);
  });
});

describe('poison text', () => {
  it('replaces NUL and lone surrogates in every string of a callback, keeping paired ones', () => {
    const body = fixture('callback-success-kie-snake_case.json');
    body.data.data = [
      { title: 'A\u0000B', text: 'lone high \ud800 and low \udc00, pair 🎵', status: 'failed', error_message: 'bad\u0000\udbff' },
    ];
    expect(result(body)).toEqual({
      state: 'succeeded',
      variants: [
        { title: 'A\ufffdB', text: 'lone high \ufffd and low \ufffd, pair 🎵', status: 'failed', errorMessage: 'bad\ufffd\ufffd' },
      ],
      droppedVariants: 0,
    });
  });

  it("replaces them in a failure callback's message", () => {
    const body = { code: 500, msg: 'Internal\u0000 error \udfff', data: { task_id: 'abc', data: null } };
    expect(result(body)).toEqual({ state: 'failed', code: 'generation_failed', message: 'Internal\ufffd error \ufffd' });
  });

  it('replaces them in record-info variants and failure messages', () => {
    const success = fixture('record-info-success.json').data;
    success.response.lyricsData = [{ title: '\u0000', text: '\ud83c', status: 'complete', errorMessage: '' }];
    expect(parseRecordInfo(success)).toEqual({
      state: 'succeeded',
      variants: [{ title: '\ufffd', text: '\ufffd', status: 'complete', errorMessage: null }],
      droppedVariants: 0,
    });
    const failure = { ...fixture('record-info-failed-sensitive-word.json').data, errorMessage: 'flagged\u0000' };
    expect(parseRecordInfo(failure)).toMatchObject({ state: 'failed', message: 'flagged\ufffd' });
    const nested = { status: 'GENERATE_LYRICS_FAILED', errorMessage: null, response: { errorMessage: '\udc00x' } };
    expect(parseRecordInfo(nested)).toMatchObject({ state: 'failed', message: '\ufffdx' });
  });
});

describe('the variant bound', () => {
  const items = (count: number) =>
    Array.from({ length: count }, (_, i) => ({ title: `Song ${i + 1}`, text: `[Verse]\n${i + 1}`, status: 'complete', error_message: '' }));
  const titles = (count: number) => Array.from({ length: count }, (_, i) => `Song ${i + 1}`);

  it('keeps the first 20 of a callback in KIE order and counts the rest', () => {
    expect(MAX_VARIANTS).toBe(20);
    const body = { code: 200, msg: 'ok', data: { callbackType: 'complete', task_id: 'abc', data: items(25) } };
    const read = result(body);
    expect(read).toMatchObject({ state: 'succeeded', droppedVariants: 5 });
    expect((read as { variants: { title: string }[] }).variants.map((v) => v.title)).toEqual(titles(20));
  });

  it('keeps exactly 20 with nothing dropped, and bounds record-info the same way', () => {
    const body = { code: 200, msg: 'ok', data: { callbackType: 'complete', task_id: 'abc', data: items(20) } };
    expect(result(body)).toMatchObject({ droppedVariants: 0 });
    const record = parseRecordInfo({ status: 'SUCCESS', response: { taskId: 'abc', data: items(21) } });
    expect(record).toMatchObject({ state: 'succeeded', droppedVariants: 1 });
    expect((record as { variants: { title: string }[] }).variants.map((v) => v.title)).toEqual(titles(20));
  });
});

/** A Jobs record as KIE's get-task-detail page documents it, with lyrics as observed live. */
function jobsRecord(overrides: Record<string, unknown> = {}) {
  return {
    taskId: 'task_lyrics_1759748400',
    model: 'ai-music-api/generate-lyrics',
    state: 'success',
    param: '{"model":"ai-music-api/generate-lyrics","input":{"prompt":"A harbor at night"}}',
    resultJson: JSON.stringify({ resultObject: { lyricsData: fixture('record-info-success.json').data.response.lyricsData } }),
    failCode: null,
    failMsg: null,
    costTime: 4200,
    completeTime: 1759748404200,
    createTime: 1759748400000,
    updateTime: 1759748404200,
    ...overrides,
  };
}

const lyricsJson = (shape: object) => JSON.stringify(shape);
const LYRICS = fixture('record-info-success.json').data.response.lyricsData;

describe('parseJobsRecord', () => {
  it.each([
    ['resultObject.lyricsData (as observed live)', lyricsJson({ resultObject: { lyricsData: LYRICS } })],
    ['resultObject.data', lyricsJson({ resultObject: { data: LYRICS } })],
    ['lyricsData', lyricsJson({ lyricsData: LYRICS })],
    ['data', lyricsJson({ data: LYRICS })],
    ['an object rather than a JSON string', { resultObject: { lyricsData: LYRICS } }],
  ])('reads a success with the lyrics in %s', (_, resultJson) => {
    expect(parseJobsRecord(jobsRecord({ resultJson }))).toEqual({
      state: 'succeeded',
      variants: [HARBOR_NIGHT, CITY_SLEEPS],
      droppedVariants: 0,
    });
  });

  it.each(['waiting', 'queuing', 'generating', 'something new'])('reads state %s as still running', (state) => {
    expect(parseJobsRecord(jobsRecord({ state, resultJson: null }))).toEqual({ state: 'pending' });
  });

  it.each([
    ['a string', '500'],
    ['a number', 500],
    ['null', null],
  ])('reads a failure whose failCode is %s, keeping failMsg, moderation as sensitive_content', (_, failCode) => {
    expect(parseJobsRecord(jobsRecord({ state: 'fail', resultJson: null, failCode, failMsg: 'Internal error' }))).toEqual({
      state: 'failed',
      code: 'generation_failed',
      message: 'Internal error',
    });
    expect(parseJobsRecord(jobsRecord({ state: 'fail', failCode, failMsg: 'Song Description flagged for moderation' }))).toMatchObject({
      code: 'sensitive_content',
    });
  });

  it('names the failCode when there is no failMsg', () => {
    expect(parseJobsRecord(jobsRecord({ state: 'fail', failCode: 501, failMsg: null }))).toEqual({
      state: 'failed',
      code: 'generation_failed',
      message: 'KIE reported failure code 501',
    });
    expect(parseJobsRecord(jobsRecord({ state: 'fail', failCode: null, failMsg: '' }))).toMatchObject({
      message: 'KIE reported a failure',
    });
  });

  it.each([
    ['not an object', null],
    ['a success without lyrics', jobsRecord({ resultJson: '{"resultUrls":[]}' })],
    ['a success whose resultJson is not JSON', jobsRecord({ resultJson: '{"resultObject":' })],
    ['a success without resultJson', jobsRecord({ resultJson: null })],
  ])('refuses %s as unreadable', (_, data) => {
    expect(() => parseJobsRecord(data)).toThrow(KiePayloadError);
  });
});

describe('Jobs callbacks', () => {
  it('reads the Market shape: data.taskId, state success, resultJson a JSON string', () => {
    const body = { code: 200, msg: 'success', data: { ...jobsRecord(), consumeCredits: 0.4, remainedCredits: 99.6 } };
    expect(parseCallback(body)).toEqual({
      kind: 'result',
      kieTaskId: 'task_lyrics_1759748400',
      result: { state: 'succeeded', variants: [HARBOR_NIGHT, CITY_SLEEPS], droppedVariants: 0 },
    });
  });

  it('reads a Market failure, with failCode a string or a number', () => {
    for (const failCode of ['500', 500, null]) {
      const body = {
        code: 501,
        msg: 'Generation failed',
        data: jobsRecord({ state: 'fail', resultJson: null, failCode, failMsg: 'Internal error' }),
      };
      expect(result(body)).toEqual({ state: 'failed', code: 'generation_failed', message: 'Internal error' });
    }
    const noFailMsg = { code: 501, message: 'Generation failed', data: jobsRecord({ state: 'fail', failCode: '500', failMsg: null }) };
    expect(result(noFailMsg)).toEqual({ state: 'failed', code: 'generation_failed', message: 'Generation failed' });
  });

  it('reads the legacy shape with the task id only at the top level (the webhook page example)', () => {
    const body = fixture('callback-success-kie-snake_case.json');
    delete body.data.task_id;
    body.taskId = 'ee9c2715375b7837f8bb51d641ff5863';
    expect(parseCallback(body)).toMatchObject({ kind: 'result', kieTaskId: 'ee9c2715375b7837f8bb51d641ff5863' });
  });

  it('takes the id as the body spells it, data.task_id first, then data.taskId, then the top level', () => {
    const body = { code: 200, msg: 'ok', taskId: 'top', data: { taskId: 'camel', task_id: 'snake', callbackType: 'complete', data: [] } };
    expect(parseCallback(body).kieTaskId).toBe('snake');
    delete (body.data as Record<string, unknown>).task_id;
    expect(parseCallback(body).kieTaskId).toBe('camel');
  });
});

describe('envelopeMessage', () => {
  it('reads msg, or message as some Jobs pages print it', () => {
    expect(envelopeMessage({ code: 422, msg: 'recordInfo is null' })).toBe('recordInfo is null');
    expect(envelopeMessage({ code: 422, message: 'recordInfo is null' })).toBe('recordInfo is null');
    expect(envelopeMessage({ code: 422 })).toBe('');
  });
});
