import { STATUS_CODES } from 'node:http';
import type { FailureStatus } from './sandbox-behaviours';
import type { ArrayKey, SandboxRoute, SandboxTask } from './sandbox-records';

/** The model of the Jobs API that writes lyrics. */
export const JOBS_LYRICS_MODEL = 'ai-music-api/generate-lyrics';

/** KIE's message for each body code it documents for the lyrics endpoints. */
export const KIE_MESSAGES: Readonly<Record<number, string>> = {
  400: 'Invalid parameters',
  401: 'You do not have access permissions',
  402: 'Insufficient credits',
  404: 'Not found',
  405: 'Rate limit exceeded',
  408: 'Upstream has returned no result for over 10 minutes',
  413: 'Theme or prompt too long',
  422: 'Validation error',
  429: 'Rate limited',
  430: 'Your call frequency is too high. Please try again later.',
  433: 'Request Limit - Sub-key Usage Exceeds Limit',
  455: 'Service unavailable: system maintenance',
  500: 'Server Error - An unexpected error occurred while processing the request',
  501: 'Generation failed',
  505: 'Feature disabled',
};

/** What each failure status reports, in record-info's errorCode/errorMessage and as the callback's code/msg. */
export const FAILURES: Readonly<Record<FailureStatus, { code: 400 | 500; message: string }>> = {
  SENSITIVE_WORD_ERROR: { code: 400, message: 'Song Description flagged for moderation' },
  GENERATE_LYRICS_FAILED: { code: 400, message: 'Unable to generate lyrics from song description' },
  CREATE_TASK_FAILED: { code: 500, message: 'Internal error, please try again later' },
  CALLBACK_EXCEPTION: { code: 500, message: 'Internal error, please try again later' },
};

export const MAX_PROMPT_LENGTH = 200;

/** KIE's envelope; its message is `msg`, or `message` as some of KIE's Jobs pages print it. */
export type Envelope = { code: number; data?: unknown } & ({ msg: string } | { message: string });

/** The envelope with its message spelled `message` (the `message` marker), or as it is. */
export function spelled(envelope: Envelope, asMessage: boolean): Envelope {
  if (!asMessage || !('msg' in envelope)) return envelope;
  const { msg, ...rest } = envelope;
  return { ...rest, message: msg };
}

export function success(data: unknown): Envelope {
  return { code: 200, msg: 'success', data };
}

/** KIE's error envelope. Its 401 has no `data` key, exactly as KIE's docs print it. */
export function errorBody(code: number, msg = KIE_MESSAGES[code] ?? STATUS_CODES[code] ?? 'Error'): Envelope {
  return code === 401 ? { code, msg } : { code, msg, data: null };
}

/** The HTML error page a gateway in front of KIE (nginx, Cloudflare) answers when it lost KIE's answer. */
export function gatewayPage(status: number): string {
  const title = `${status} ${STATUS_CODES[status] ?? 'Error'}`;
  return `<html>\r\n<head><title>${title}</title></head>\r\n<body>\r\n<center><h1>${title}</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n`;
}

export const RECORD_INFO_NULL: Envelope = { code: 422, msg: 'recordInfo is null', data: null };

/** record-info's `data`: PENDING until the result may be shown, then the task's final state. */
export function recordInfoData(task: SandboxTask, arrayKey: ArrayKey, showResult: boolean): object {
  const head = { taskId: task.taskId, param: JSON.stringify({ prompt: task.prompt, callBackUrl: task.callBackUrl }) };
  if (!showResult || task.outcome === 'never') {
    return { ...head, response: null, status: 'PENDING', type: 'LYRICS', errorCode: null, errorMessage: null };
  }
  if (task.outcome === 'success') {
    const items = task.variants.map(({ text, title }) => ({ text, title, status: 'complete', errorMessage: '' }));
    return {
      ...head,
      response: { taskId: task.taskId, [arrayKey]: items },
      status: 'SUCCESS',
      type: 'LYRICS',
      errorCode: null,
      errorMessage: null,
    };
  }
  const failure = FAILURES[task.outcome];
  return {
    ...head,
    response: { taskId: task.taskId, [arrayKey]: [] },
    status: task.outcome,
    type: 'LYRICS',
    errorCode: failure.code,
    errorMessage: failure.message,
  };
}

/** Unix milliseconds, as the Jobs records carry their times. */
function jobsTimes(task: SandboxTask, final: boolean): object {
  const updateTime = final && task.readyAt !== null ? task.readyAt : Date.now();
  return {
    costTime: final && task.readyAt !== null ? task.readyAt - task.createdAt : 0,
    completeTime: final ? task.readyAt : null,
    createTime: task.createdAt,
    updateTime,
  };
}

/**
 * A Jobs record (recordInfo's `data`, and the Market callback's): `state` waiting, then queuing, then generating until
 * the result may be shown, then success (the lyrics in `resultJson`, a JSON string, under `resultObject`) or fail
 * (`failCode` a string here, as documented, and `failMsg`).
 */
export function jobsRecordData(task: SandboxTask, arrayKey: ArrayKey, showResult: boolean): object {
  const head = {
    taskId: task.taskId,
    model: JOBS_LYRICS_MODEL,
    param: JSON.stringify({ model: JOBS_LYRICS_MODEL, callBackUrl: task.callBackUrl ?? undefined, input: { prompt: task.prompt } }),
  };
  if (!showResult || task.outcome === 'never') {
    // Through the three states that are not final, by the share of the result delay gone by.
    const delay = task.readyAt === null ? Infinity : task.readyAt - task.createdAt;
    const share = (Date.now() - task.createdAt) / Math.max(delay, 1);
    const state = share < 1 / 3 ? 'waiting' : share < 2 / 3 ? 'queuing' : 'generating';
    return { ...head, state, resultJson: null, failCode: null, failMsg: null, ...jobsTimes(task, false) };
  }
  if (task.outcome === 'success') {
    const items = task.variants.map(({ text, title }) => ({ text, title, status: 'complete', errorMessage: '' }));
    const resultJson = JSON.stringify({ resultObject: { taskId: task.taskId, [arrayKey]: items } });
    return { ...head, state: 'success', resultJson, failCode: null, failMsg: null, ...jobsTimes(task, true) };
  }
  const failure = FAILURES[task.outcome];
  return { ...head, state: 'fail', resultJson: null, failCode: String(failure.code), failMsg: failure.message, ...jobsTimes(task, true) };
}

/** The callback body, in the task's shape (see CallbackShape). */
export function callbackBody(task: SandboxTask, spelling: 'snake' | 'camel', arrayKey: ArrayKey): object {
  const asMessage = task.behaviours.messageKey === true;
  switch (task.callbackShape) {
    case 'legacy':
      return spelled(legacyCallbackBody(task, spelling, arrayKey), asMessage);
    case 'market':
      return spelled(marketCallbackBody(task, arrayKey), asMessage);
    case 'unknown':
      // Nothing a reader can take a result from: only the id, where KIE's webhook example puts one.
      return { taskId: task.taskId, event: 'task.finished', detail: { finished: true } };
  }
}

/**
 * The Market callback: the record as recordInfo shows it, in the envelope, with the credits it cost. A failure's
 * `failCode` is a number here (as seen live, though documented a string), and its body code 501.
 */
function marketCallbackBody(task: SandboxTask, arrayKey: ArrayKey): Envelope {
  const record = { ...jobsRecordData(task, arrayKey, true), consumeCredits: 0.4, remainedCredits: 1000 } as Record<string, unknown>;
  if (task.outcome === 'success') return { code: 200, msg: 'success', data: record };
  return { code: 501, msg: String(record.failMsg), data: { ...record, failCode: Number(record.failCode) } };
}

/** The legacy callback body: KIE's documented snake_case, or the camelCase variant seen in the wild. */
function legacyCallbackBody(task: SandboxTask, spelling: 'snake' | 'camel', arrayKey: ArrayKey): Envelope {
  const idKey = spelling === 'snake' ? 'task_id' : 'taskId';
  if (task.outcome === 'success') {
    const errorKey = spelling === 'snake' ? 'error_message' : 'errorMessage';
    const items = task.variants.map(({ text, title }) => ({ text, title, status: 'complete', [errorKey]: '' }));
    return { code: 200, msg: 'All generated successfully.', data: { callbackType: 'complete', [idKey]: task.taskId, [arrayKey]: items } };
  }
  // Only finished tasks are called back, so the outcome is a failure here.
  const failure = FAILURES[task.outcome as FailureStatus];
  const callbackType = spelling === 'snake' ? 'complete' : 'error';
  return { code: failure.code, msg: failure.message, data: { callbackType, [idKey]: task.taskId, [arrayKey]: null } };
}

/** A readable create, or the body code and message of its refusal. */
export type CreateRequest = { prompt: string; callBackUrl?: string; model?: string } | { error: string; code: number };

/**
 * The create body of the route, or the body-code message saying what is wrong: legacy `{ prompt, callBackUrl }`, both
 * required (400); Jobs `{ model, callBackUrl?, input: { prompt } }`, the model the lyrics one (422).
 */
export function parseCreateRequest(text: string, route: SandboxRoute): CreateRequest {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return { error: 'Request body must be JSON', code: route === 'jobs' ? 422 : 400 };
  }
  const fields = asFields(body);
  if (route === 'jobs') {
    if (fields.model !== JOBS_LYRICS_MODEL) return { error: `model must be ${JOBS_LYRICS_MODEL}`, code: 422 };
    const { prompt } = asFields(fields.input);
    if (typeof prompt !== 'string' || prompt.trim() === '') return { error: 'input.prompt is required', code: 422 };
    if (fields.callBackUrl === undefined) return { prompt, model: JOBS_LYRICS_MODEL };
    if (typeof fields.callBackUrl !== 'string' || !isHttpUrl(fields.callBackUrl)) {
      return { error: 'callBackUrl must be an http(s) URL', code: 422 };
    }
    return { prompt, callBackUrl: fields.callBackUrl, model: JOBS_LYRICS_MODEL };
  }
  const { prompt, callBackUrl } = fields;
  if (typeof prompt !== 'string' || prompt.trim() === '') return { error: 'prompt is required', code: 400 };
  if (typeof callBackUrl !== 'string' || callBackUrl.trim() === '') return { error: 'callBackUrl is required', code: 400 };
  if (!isHttpUrl(callBackUrl)) return { error: 'callBackUrl must be an http(s) URL', code: 400 };
  return { prompt, callBackUrl };
}

const asFields = (value: unknown): Record<string, unknown> =>
  (typeof value === 'object' && value !== null && !Array.isArray(value) ? value : {}) as Record<string, unknown>;

function isHttpUrl(text: string): boolean {
  try {
    return ['http:', 'https:'].includes(new URL(text).protocol);
  } catch {
    return false;
  }
}
