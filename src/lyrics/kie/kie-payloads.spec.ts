import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { KiePayloadError, parseCallback, parseRecordInfo } from './kie-payloads';

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

describe('parseCallback', () => {
  it("reads KIE's documented snake_case success", () => {
    expect(parseCallback(fixture('callback-success-kie-snake_case.json'))).toEqual({
      kieTaskId: 'a41f7c2e9b8d4e0f9c3a6b5d2e1f0a97',
      result: { state: 'succeeded', variants: [HARBOR_NIGHT, CITY_SLEEPS] },
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
    expect(parseCallback(body).result).toEqual({ state: 'succeeded', variants: [HARBOR_NIGHT, CITY_SLEEPS] });
  });

  it('reads a failure with data: null, keeping KIE message, moderation as sensitive_content', () => {
    expect(parseCallback(fixture('callback-failure-kie.json'))).toEqual({
      kieTaskId: 'c0d9e8f7a6b54c3d2e1f0a9b8c7d6e5f',
      result: { state: 'failed', code: 'sensitive_content', message: 'Song Description flagged for moderation' },
    });
  });

  it("reads sunoapi.org's callbackType error as a generation failure", () => {
    const body = { code: 400, msg: 'Lyrics generation failed', data: { callbackType: 'error', taskId: '11dc8b0f', data: null } };
    expect(parseCallback(body)).toEqual({
      kieTaskId: '11dc8b0f',
      result: { state: 'failed', code: 'generation_failed', message: 'Lyrics generation failed' },
    });
  });

  it('keeps a failed variant and its message', () => {
    const body = fixture('callback-success-kie-snake_case.json');
    body.data.data[1] = { ...body.data.data[1], status: 'failed', error_message: 'flagged' };
    expect(parseCallback(body).result).toMatchObject({
      state: 'succeeded',
      variants: [HARBOR_NIGHT, { ...CITY_SLEEPS, status: 'failed', errorMessage: 'flagged' }],
    });
  });

  it.each([
    ['not an object', 'text'],
    ['no data', { code: 200, msg: 'ok' }],
    ['no task id', { code: 200, msg: 'ok', data: { callbackType: 'complete', data: [] } }],
    ['no code', { msg: 'ok', data: { task_id: 'a', data: [] } }],
    ['a success without an array', { code: 200, msg: 'ok', data: { task_id: 'a', callbackType: 'complete', data: null } }],
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
    expect(parseRecordInfo(body.data)).toEqual({ state: 'succeeded', variants: [HARBOR_NIGHT, CITY_SLEEPS] });
    body.data.response.data = body.data.response.lyricsData;
    delete body.data.response.lyricsData;
    expect(parseRecordInfo(body.data)).toEqual({ state: 'succeeded', variants: [HARBOR_NIGHT, CITY_SLEEPS] });
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

  it('treats an unknown status as still running', () => {
    expect(parseRecordInfo({ status: 'TEXT_SUCCESS', response: null })).toEqual({ state: 'pending' });
  });
});
