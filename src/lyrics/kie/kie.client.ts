import { Logger } from '@nestjs/common';
import { envelopeCode, envelopeMessage, KiePayloadError, parseRecordInfo } from './kie-payloads';
import { HttpAnswer, HttpTransportError, sendHttp } from './kie-http';
import { KieCreateOutcome, KieCreditsOutcome, KieRecordOutcome, KieRejected, KieRetry } from './kie.types';

export interface KieClientOptions {
  apiKey: string;
  baseUrl: string;
  /** One request's time limit; a create that outlives it is ambiguous, so never resent. */
  timeoutMs: number;
  connectTimeoutMs: number;
}

/** Told of every exchange with KIE (for metrics): endpoint path, outcome kind, seconds. */
export type KieObserver = (endpoint: string, outcome: string, seconds: number) => void;

/** Body codes that mean "slow down": 405 and 430 in KIE's legacy table, 429 in the newer one. */
const THROTTLE_CODES = new Set([405, 429, 430]);
const FREQUENCY_MESSAGE = /frequen/i;

/**
 * KIE's lyrics endpoints. The only code that knows KIE's wire format: it classifies every answer by both the HTTP
 * status and the body code (KIE's envelope has a code of its own, which may disagree with the status), normalises records to KieTaskResult, and never lets the API
 * key into a log line or an error.
 */
export class KieClient {
  private readonly logger = new Logger(KieClient.name);

  constructor(
    private readonly options: KieClientOptions,
    private readonly observe: KieObserver = () => undefined,
  ) {}

  createLyricsTask(prompt: string, callBackUrl: string): Promise<KieCreateOutcome> {
    return this.observed('create', this.create(prompt, callBackUrl));
  }

  /** `timeoutMs` overrides the client's time limit for this read (a caller with a deadline of its own). */
  getLyricsRecord(kieTaskId: string, options: { timeoutMs?: number } = {}): Promise<KieRecordOutcome> {
    return this.observed('record-info', this.recordInfo(kieTaskId, options.timeoutMs ?? this.options.timeoutMs));
  }

  getCredits(): Promise<KieCreditsOutcome> {
    return this.observed('credit', this.credit());
  }

  private async observed<T extends { kind: string; reason?: string }>(endpoint: string, outcome: Promise<T>): Promise<T> {
    const started = process.hrtime.bigint();
    const result = await outcome;
    const kind = 'reason' in result && result.reason ? `${result.kind}:${result.reason}` : result.kind;
    this.observe(endpoint, kind, Number(process.hrtime.bigint() - started) / 1e9);
    return result;
  }

  private async create(prompt: string, callBackUrl: string): Promise<KieCreateOutcome> {
    let answer: HttpAnswer;
    try {
      answer = await this.send('POST', '/api/v1/lyrics', { prompt, callBackUrl });
    } catch (error) {
      if (!(error instanceof HttpTransportError)) throw error;
      return error.sent
        ? { kind: 'ambiguous', message: `create sent but not answered: ${error.message}` }
        : { kind: 'retry', reason: 'not_sent', message: `create not sent: ${error.message}` };
    }
    const body = parseJson(answer.body);
    const refusal = classifyRefusal(answer, body);
    if (refusal) return refusal;
    const data = (body as { data?: { taskId?: unknown } } | undefined)?.data;
    if (typeof data?.taskId === 'string' && data.taskId.length > 0) return { kind: 'accepted', kieTaskId: data.taskId };
    // A 200 without a task id: KIE may have created the task, and we cannot know which.
    return { kind: 'ambiguous', message: `create answered ${answer.status} without a task id` };
  }

  private async recordInfo(kieTaskId: string, timeoutMs: number): Promise<KieRecordOutcome> {
    let answer: HttpAnswer;
    try {
      answer = await this.send('GET', `/api/v1/lyrics/record-info?taskId=${encodeURIComponent(kieTaskId)}`, undefined, timeoutMs);
    } catch (error) {
      if (!(error instanceof HttpTransportError)) throw error;
      return { kind: 'retry', reason: 'not_sent', message: `record-info failed: ${error.message}` };
    }
    const body = parseJson(answer.body);
    if (envelopeCode(body) === 422 && /recordInfo is null/i.test(envelopeMessage(body))) return { kind: 'not_ready' };
    const refusal = classifyRefusal(answer, body);
    if (refusal) return refusal;
    try {
      return { kind: 'record', result: parseRecordInfo((body as { data?: unknown } | undefined)?.data) };
    } catch (error) {
      if (!(error instanceof KiePayloadError)) throw error;
      return { kind: 'retry', reason: 'server_error', message: `unreadable record-info answer: ${error.message}` };
    }
  }

  private async credit(): Promise<KieCreditsOutcome> {
    let answer: HttpAnswer;
    try {
      answer = await this.send('GET', '/api/v1/chat/credit');
    } catch (error) {
      if (!(error instanceof HttpTransportError)) throw error;
      return { kind: 'retry', reason: 'not_sent', message: `credit failed: ${error.message}` };
    }
    const body = parseJson(answer.body);
    const refusal = classifyRefusal(answer, body);
    if (refusal) return refusal;
    const credits = (body as { data?: unknown } | undefined)?.data;
    return typeof credits === 'number'
      ? { kind: 'credits', credits }
      : { kind: 'retry', reason: 'server_error', message: 'credit answer has no number' };
  }

  private async send(method: 'GET' | 'POST', path: string, payload?: object, timeoutMs = this.options.timeoutMs): Promise<HttpAnswer> {
    const started = Date.now();
    const endpoint = path.split('?')[0];
    try {
      const answer = await sendHttp({
        method,
        url: new URL(path, this.options.baseUrl),
        headers: {
          authorization: `Bearer ${this.options.apiKey}`,
          accept: 'application/json',
          ...(payload ? { 'content-type': 'application/json' } : {}),
        },
        body: payload ? JSON.stringify(payload) : undefined,
        connectTimeoutMs: this.options.connectTimeoutMs,
        timeoutMs,
        // Creates get a connection of their own: a stale pooled socket would make a reset look ambiguous.
        keepAlive: method === 'GET',
      });
      this.logger.debug(`${method} ${endpoint} -> ${answer.status} in ${Date.now() - started} ms`);
      return answer;
    } catch (error) {
      if (error instanceof HttpTransportError) {
        this.logger.warn(`${method} ${endpoint} failed after ${Date.now() - started} ms: ${error.message}`);
      }
      throw error;
    }
  }
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function retryAfterMs(answer: HttpAnswer): number | undefined {
  const header = answer.headers['retry-after'];
  const seconds = typeof header === 'string' ? Number(header) : NaN;
  return Number.isFinite(seconds) && seconds >= 0 ? seconds * 1000 : undefined;
}

/**
 * Reads both the HTTP status and the body code (KIE documents codes in the body, but also answers with real
 * HTTP statuses). Returns undefined for any other 2xx answer.
 */
function classifyRefusal(answer: HttpAnswer, body: unknown): KieRetry | KieRejected | undefined {
  const code = envelopeCode(body);
  const message = envelopeMessage(body) || `HTTP ${answer.status}`;
  const retry = (reason: KieRetry['reason']): KieRetry => ({ kind: 'retry', reason, message, retryAfterMs: retryAfterMs(answer) });

  if (answer.status === 429 || (code !== undefined && THROTTLE_CODES.has(code)) || FREQUENCY_MESSAGE.test(message)) {
    return retry('throttled');
  }
  if (code === 455 || answer.status === 503) return retry('maintenance');
  if (code !== undefined && code !== 200) {
    // 5xx body codes are KIE's own failures, except those that name a final answer.
    if (code >= 500 && code !== 501 && code !== 505) return retry('server_error');
    return { kind: 'rejected', code, message };
  }
  if (answer.status >= 500) return retry('server_error');
  if (answer.status < 200 || answer.status >= 300) return { kind: 'rejected', code: answer.status, message };
  // A 2xx: a success envelope, or a body the caller finds unreadable (and treats by what it asked for).
  return undefined;
}
