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

/** The envelope's message: `msg`, or `message` as some of KIE's Jobs pages print it. */
export function envelopeMessage(body: unknown): string {
  return (isObject(body) && (asText(body.msg) || asText(body.message))) || '';
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

/** Callbacks and Jobs records carry no status naming moderation, only KIE's message: its refusals read like these. */
const MODERATION_MESSAGE = /moderation|flagged|sensitive|artist name|copyright/i;

/** The variants array of a legacy record's `response` or callback's `data`: `data` in KIE's documents, `lyricsData` in others. */
function legacyArray(container: unknown): unknown[] | undefined {
  if (!isObject(container)) return undefined;
  const array = Array.isArray(container.data) ? container.data : container.lyricsData;
  return Array.isArray(array) ? array : undefined;
}

/** A success with these variants: at most MAX_VARIANTS, the rest counted. */
function succeeded(array: unknown[] | undefined): KieSuccess {
  const items = (array ?? []).filter(isObject);
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

/** A failure reported with only a message: KIE's moderation refusals read like MODERATION_MESSAGE. */
function failedWith(message: string): Extract<KieTaskResult, { state: 'failed' }> {
  return { state: 'failed', code: MODERATION_MESSAGE.test(message) ? 'sensitive_content' : 'generation_failed', message };
}

/** Reads the `data` of a record-info answer whose body code is 200. */
export function parseRecordInfo(data: unknown): KieTaskResult {
  if (!isObject(data)) throw new KiePayloadError('record-info data is not an object');
  const status = asString(data.status);
  if (status === 'SUCCESS') return succeeded(legacyArray(data.response));
  // Own keys only: a status such as "constructor" must not find Object.prototype's.
  const failure = status && Object.hasOwn(FAILURE_STATUSES, status) ? FAILURE_STATUSES[status] : undefined;
  if (failure) {
    const response = isObject(data.response) ? data.response : {};
    const message = asText(data.errorMessage) ?? asText(response.errorMessage) ?? status!;
    return { state: 'failed', code: failure, message };
  }
  return { state: 'pending' };
}

/**
 * The lyrics of a Jobs task's `resultJson`: a JSON string (an object is read too), with the variants under
 * `resultObject.lyricsData` (as observed live), `resultObject.data`, `lyricsData` or `data`. Undefined when none holds an array.
 */
function jobsLyrics(resultJson: unknown): unknown[] | undefined {
  let parsed = resultJson;
  if (typeof resultJson === 'string') {
    try {
      parsed = JSON.parse(resultJson);
    } catch {
      return undefined;
    }
  }
  if (!isObject(parsed)) return undefined;
  for (const holder of [parsed.resultObject, parsed]) {
    if (!isObject(holder)) continue;
    const array = Array.isArray(holder.lyricsData) ? holder.lyricsData : holder.data;
    if (Array.isArray(array)) return array;
  }
  return undefined;
}

/** A Jobs failure: `failMsg`, else the envelope's message, else `failCode` (documented a string, seen a number or null). */
function jobsFailure(data: Json, envelopeText: string): Extract<KieTaskResult, { state: 'failed' }> {
  const failCode = typeof data.failCode === 'number' ? String(data.failCode) : asText(data.failCode)?.trim();
  const message = asText(data.failMsg) || envelopeText || (failCode ? `KIE reported failure code ${failCode}` : 'KIE reported a failure');
  return failedWith(message);
}

/**
 * Reads the `data` of a Jobs recordInfo answer whose body code is 200: `state` success (lyrics in `resultJson`), fail,
 * or not final (waiting, queuing, generating; anything unknown is treated as still running too).
 */
export function parseJobsRecord(data: unknown): KieTaskResult {
  if (!isObject(data)) throw new KiePayloadError('recordInfo data is not an object');
  if (data.state === 'success') {
    const lyrics = jobsLyrics(data.resultJson);
    if (!lyrics) throw new KiePayloadError('a success record has no lyrics array in resultJson');
    return succeeded(lyrics);
  }
  if (data.state === 'fail') return jobsFailure(data, '');
  return { state: 'pending' };
}

/**
 * Reads a callback body in any shape KIE is known to send: the legacy one (`data.task_id` or `data.taskId`, the
 * variants in `data.data` or `data.lyricsData`, `data: null` on failure) or the Jobs one (`data.taskId`, `data.state`,
 * `data.resultJson` as a JSON string, `failCode`/`failMsg`), with the task id also at the top level. Throws
 * KiePayloadError only for what is no callback at all (not an object, or a task id we could not even log); any other
 * object we cannot read a final result from is `unrecognised`, so that its task can be checked instead.
 */
export function parseCallback(body: unknown): KieCallback {
  if (!isObject(body)) throw new KiePayloadError('body is not a JSON object');
  const data = isObject(body.data) ? body.data : undefined;
  const given: unknown = data?.task_id ?? data?.taskId ?? body.taskId;
  let kieTaskId: string | undefined;
  if (given !== undefined) {
    // Checked, not cleaned: the signature covers the id exactly as sent.
    if (!isKieTaskId(given)) throw new KiePayloadError('the task id is not 1 to 64 visible ASCII characters');
    kieTaskId = given;
  }
  const unrecognised = (reason: string): KieCallback => ({ kind: 'unrecognised', kieTaskId, reason });
  if (!data) return unrecognised('data is not an object');
  if (kieTaskId === undefined) return unrecognised('no task id in data.task_id, data.taskId or taskId');
  const id = kieTaskId;
  const result = (value: Exclude<KieTaskResult, { state: 'pending' }>): KieCallback => ({ kind: 'result', kieTaskId: id, result: value });

  // The Jobs shape: "identical to the recordInfo response".
  if (typeof data.state === 'string') {
    if (data.state === 'success') {
      const lyrics = jobsLyrics(data.resultJson);
      return lyrics ? result(succeeded(lyrics)) : unrecognised('a success callback with no lyrics array in resultJson');
    }
    return data.state === 'fail' ? result(jobsFailure(data, envelopeMessage(body))) : unrecognised('its state is not final');
  }

  const code = envelopeCode(body);
  if (code === undefined) return unrecognised('code is missing');
  if (code === 200 && data.callbackType !== 'error') {
    const array = legacyArray(data);
    return array ? result(succeeded(array)) : unrecognised('a success callback has no data array');
  }
  // Any other code is a failure (KIE's tables disagree on the codes; `data: null` is documented on failure).
  return result(failedWith(envelopeMessage(body) || `KIE reported code ${code}`));
}
