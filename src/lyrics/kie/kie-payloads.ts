import { KieCallback, KieFailureCode, KieTaskResult, KieVariant } from './kie.types';

/** A body that does not have the shape KIE documents (in any of its spellings). */
export class KiePayloadError extends Error {
  override readonly name = 'KiePayloadError';
}

type Json = Record<string, unknown>;

const isObject = (value: unknown): value is Json => typeof value === 'object' && value !== null && !Array.isArray(value);
const asString = (value: unknown): string | undefined => (typeof value === 'string' ? value : undefined);

/** The body `code` of KIE's envelope, when there is one. */
export function envelopeCode(body: unknown): number | undefined {
  return isObject(body) && typeof body.code === 'number' ? body.code : undefined;
}

export function envelopeMessage(body: unknown): string {
  return isObject(body) && typeof body.msg === 'string' ? body.msg : '';
}

/** KIE's record statuses in our terms; anything unknown is treated as still running. */
const FAILURE_STATUSES: Record<string, KieFailureCode> = {
  GENERATE_LYRICS_FAILED: 'generation_failed',
  CREATE_TASK_FAILED: 'generation_failed',
  CALLBACK_EXCEPTION: 'generation_failed',
  SENSITIVE_WORD_ERROR: 'sensitive_content',
};

/** Callbacks carry no status, only KIE's message: its moderation refusals read like these. */
const MODERATION_MESSAGE = /moderation|flagged|sensitive|artist name|copyright/i;

function variantsOf(container: unknown): KieVariant[] {
  if (!isObject(container)) return [];
  // The array is `data` in KIE's documents and `lyricsData` in others; read whichever is present.
  const items = Array.isArray(container.data) ? container.data : Array.isArray(container.lyricsData) ? container.lyricsData : [];
  return items.filter(isObject).map((item) => {
    const errorMessage = asString(item.errorMessage) ?? asString(item.error_message) ?? '';
    return {
      title: asString(item.title) ?? '',
      text: asString(item.text) ?? '',
      status: item.status === 'failed' ? 'failed' : 'complete',
      errorMessage: errorMessage === '' ? null : errorMessage,
    };
  });
}

/** Reads the `data` of a record-info answer whose body code is 200. */
export function parseRecordInfo(data: unknown): KieTaskResult {
  if (!isObject(data)) throw new KiePayloadError('record-info data is not an object');
  const status = asString(data.status);
  if (status === 'SUCCESS') return { state: 'succeeded', variants: variantsOf(data.response) };
  const failure = status ? FAILURE_STATUSES[status] : undefined;
  if (failure) {
    const message = asString(data.errorMessage) ?? asString((data.response as Json | null)?.errorMessage) ?? status!;
    return { state: 'failed', code: failure, message };
  }
  return { state: 'pending' };
}

/** Reads a callback body in either spelling (snake_case `task_id`/`data`, or camelCase `taskId`/`lyricsData`). */
export function parseCallback(body: unknown): KieCallback {
  if (!isObject(body)) throw new KiePayloadError('body is not a JSON object');
  const data = body.data;
  if (!isObject(data)) throw new KiePayloadError('data is not an object');
  const kieTaskId = asString(data.task_id) ?? asString(data.taskId) ?? asString(body.taskId);
  if (!kieTaskId) throw new KiePayloadError('data.task_id (or data.taskId) is missing');
  const code = envelopeCode(body);
  if (code === undefined) throw new KiePayloadError('code is missing');

  if (code === 200 && data.callbackType !== 'error') {
    if (!Array.isArray(data.data ?? data.lyricsData)) throw new KiePayloadError('a success callback has no data array');
    return { kieTaskId, result: { state: 'succeeded', variants: variantsOf(data) } };
  }
  // Any other code is a failure (KIE's tables disagree on the codes; `data: null` is documented on failure).
  const message = envelopeMessage(body) || `KIE reported code ${code}`;
  return {
    kieTaskId,
    result: { state: 'failed', code: MODERATION_MESSAGE.test(message) ? 'sensitive_content' : 'generation_failed', message },
  };
}
