import { STATUS_CODES } from 'node:http';
import type { FailureStatus } from './sandbox-behaviours';
import type { ArrayKey, SandboxTask } from './sandbox-records';

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

export interface Envelope {
  code: number;
  msg: string;
  data?: unknown;
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

/** The callback body: KIE's documented snake_case, or the camelCase variant seen in the wild. */
export function callbackBody(task: SandboxTask, spelling: 'snake' | 'camel', arrayKey: ArrayKey): object {
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

export type CreateRequest = { prompt: string; callBackUrl: string } | { error: string };

/** The create body's two required strings, or the body-code-400 message saying what is wrong. */
export function parseCreateRequest(text: string): CreateRequest {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return { error: 'Request body must be JSON' };
  }
  const fields = (typeof body === 'object' && body !== null ? body : {}) as Record<string, unknown>;
  const { prompt, callBackUrl } = fields;
  if (typeof prompt !== 'string' || prompt.trim() === '') return { error: 'prompt is required' };
  if (typeof callBackUrl !== 'string' || callBackUrl.trim() === '') return { error: 'callBackUrl is required' };
  if (!isHttpUrl(callBackUrl)) return { error: 'callBackUrl must be an http(s) URL' };
  return { prompt, callBackUrl };
}

function isHttpUrl(text: string): boolean {
  try {
    return ['http:', 'https:'].includes(new URL(text).protocol);
  } catch {
    return false;
  }
}
