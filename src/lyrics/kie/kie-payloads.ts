import { KieCallback, KieFailureCode, KieSuccess, KieTaskResult, KieVariant } from './kie.types';

/** A body that does not have the shape KIE documents (in any of its spellings). */
export class KiePayloadError extends Error {
  override readonly name = 'KiePayloadError';
}

type Json = Record<string, unknown>;

const isObject = (value: unknown): value is Json => typeof value === 'object' && value !== null && !Array.isArray(value);
const asString = (value: unknown): string | undefined => (typeof value === 'string' ? value : undefined);

/** With the u flag a pair is one code point, so this matches only unpaired surrogates. */
const LONE_SURROGATE = /\p{Surrogate}/gu;

/**
 * KIE's text made storable: PostgreSQL text cannot hold U+0000, and a lone surrogate has no UTF-8 form. Both become
 * U+FFFD, as String.prototype.toWellFormed does for surrogates (not declared by the ES2022 lib this compiles against).
 */
function storable(text: string): string {
  return text.replaceAll('\u0000', '\uFFFD').replace(LONE_SURROGATE, '\uFFFD');
}

const asText = (value: unknown): string | undefined => (typeof value === 'string' ? storable(value) : undefined);

/**
 * What a KIE task id may be: 1 to 64 visible ASCII characters (no spaces or controls). Legacy ids are 32 hex digits;
 * Jobs ids have other forms, so only what our varchar(64) column and a log line can safely hold is required.
 */
export const KIE_TASK_ID_PATTERN = /^[\x21-\x7e]{1,64}$/;

export function isKieTaskId(value: unknown): value is string {
  return typeof value === 'string' && KIE_TASK_ID_PATTERN.test(value);
}

/** KIE documents 2-3 variants per task; more than this is kept to the first ones, in KIE's order. */
export const MAX_VARIANTS = 20;

/** The body `code` of KIE's envelope, when there is one. */
export function envelopeCode(body: unknown): number | undefined {
  return isObject(body) && typeof body.code === 'number' ? body.code : undefined;
}

export function envelopeMessage(body: unknown): string {
  return (isObject(body) && asText(body.msg)) || '';
}

/** The `data.taskId` string of a create's answer, whether or not it is a valid id; undefined when there is none. */
export function createdTaskId(body: unknown): string | undefined {
  return isObject(body) && isObject(body.data) ? asString(body.data.taskId) : undefined;
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

/** The success of a record or callback whose variants are in `container`: at most MAX_VARIANTS, the rest counted. */
function succeeded(container: unknown): KieSuccess {
  // The array is `data` in KIE's documents and `lyricsData` in others; read whichever is present.
  const array = !isObject(container) ? [] : Array.isArray(container.data) ? container.data : container.lyricsData;
  const items = (Array.isArray(array) ? array : []).filter(isObject);
  const variants = items.slice(0, MAX_VARIANTS).map((item): KieVariant => {
    const errorMessage = asText(item.errorMessage) ?? asText(item.error_message) ?? '';
    return {
      title: asText(item.title) ?? '',
      text: asText(item.text) ?? '',
      status: item.status === 'failed' ? 'failed' : 'complete',
      errorMessage: errorMessage === '' ? null : errorMessage,
    };
  });
  return { state: 'succeeded', variants, droppedVariants: items.length - variants.length };
}

/** Reads the `data` of a record-info answer whose body code is 200. */
export function parseRecordInfo(data: unknown): KieTaskResult {
  if (!isObject(data)) throw new KiePayloadError('record-info data is not an object');
  const status = asString(data.status);
  if (status === 'SUCCESS') return succeeded(data.response);
  // Own keys only: a status such as "constructor" must not find Object.prototype's.
  const failure = status && Object.hasOwn(FAILURE_STATUSES, status) ? FAILURE_STATUSES[status] : undefined;
  if (failure) {
    const response = isObject(data.response) ? data.response : {};
    const message = asText(data.errorMessage) ?? asText(response.errorMessage) ?? status!;
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
  if (kieTaskId === undefined) throw new KiePayloadError('data.task_id (or data.taskId) is missing');
  // Checked, not cleaned: the signature covers the id exactly as sent.
  if (!isKieTaskId(kieTaskId)) throw new KiePayloadError('the task id is not 1 to 64 visible ASCII characters');
  const code = envelopeCode(body);
  if (code === undefined) throw new KiePayloadError('code is missing');

  if (code === 200 && data.callbackType !== 'error') {
    if (!Array.isArray(data.data ?? data.lyricsData)) throw new KiePayloadError('a success callback has no data array');
    return { kieTaskId, result: succeeded(data) };
  }
  // Any other code is a failure (KIE's tables disagree on the codes; `data: null` is documented on failure).
  const message = envelopeMessage(body) || `KIE reported code ${code}`;
  return {
    kieTaskId,
    result: { state: 'failed', code: MODERATION_MESSAGE.test(message) ? 'sensitive_content' : 'generation_failed', message },
  };
}
