import { Logger } from '@nestjs/common';
import { createdTaskId, envelopeCode, envelopeMessage, isKieTaskId, KiePayloadError } from './kie-payloads';
import { HttpAnswer, HttpTransportError, retryAfterMs, sendHttp } from './kie-http';
import { KIE_ROUTE_WIRES, KieRouteWire } from './kie-routes';
import { KieApiRoute, KieCreateOutcome, KieCreditsOutcome, KiePauseReason, KieRecordOutcome, KieRejected, KieRetry } from './kie.types';

export interface KieClientOptions {
  apiKey: string;
  baseUrl: string;
  /** Which of KIE's APIs carries the lyrics tasks. */
  route: KieApiRoute;
  /** One request's time limit; a create that outlives it is ambiguous, so never resent. */
  timeoutMs: number;
  connectTimeoutMs: number;
}

/** Told of every exchange with KIE (for metrics): endpoint path, outcome kind, seconds. */
export type KieObserver = (endpoint: string, outcome: string, seconds: number) => void;

/** Body codes that mean "slow down": 405 and 430 in KIE's legacy table, 429 in the newer one. */
const THROTTLE_CODES = new Set([405, 429, 430]);
const FREQUENCY_MESSAGE = /frequen/i;
/** Codes (in the body or as the HTTP status) that pause the account rather than fail the task. */
const PAUSE_CODES: ReadonlyMap<number, KiePauseReason> = new Map([
  [402, 'credits'],
  [433, 'sub_key_limit'],
]);

/**
 * KIE's lyrics endpoints, on the legacy route or the Jobs route (the same envelope and code tables; other paths, create
 * bodies and record shapes, see KIE_ROUTE_WIRES). The only code that knows KIE's wire format: it classifies every
 * answer by both the HTTP status and the body code (KIE's envelope has a code of its own, which may disagree with the
 * status), normalises records to KieTaskResult, and never lets the API key into a log line or an error.
 */
export class KieClient {
  private readonly logger = new Logger(KieClient.name);
  private readonly wire: KieRouteWire;

  constructor(
    private readonly options: KieClientOptions,
    private readonly observe: KieObserver = () => undefined,
  ) {
    this.wire = KIE_ROUTE_WIRES[options.route];
  }

  /** `callBackUrl` undefined: KIE cannot reach us, and the result is read by polling. */
  createLyricsTask(prompt: string, callBackUrl: string | undefined): Promise<KieCreateOutcome> {
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

  private async create(prompt: string, callBackUrl: string | undefined): Promise<KieCreateOutcome> {
    let answer: HttpAnswer;
    try {
      answer = await this.send('POST', this.wire.createPath, this.wire.createBody(prompt, callBackUrl));
    } catch (error) {
      if (!(error instanceof HttpTransportError)) throw error;
      return error.sent
        ? { kind: 'ambiguous', message: `create sent but not answered: ${error.message}` }
        : { kind: 'retry', reason: 'not_sent', message: `create not sent: ${error.message}` };
    }
    return classifyCreate(answer, parseJson(answer.body));
  }

  private async recordInfo(kieTaskId: string, timeoutMs: number): Promise<KieRecordOutcome> {
    let answer: HttpAnswer;
    try {
      answer = await this.send('GET', this.wire.recordInfoPath(kieTaskId), undefined, timeoutMs);
    } catch (error) {
      if (!(error instanceof HttpTransportError)) throw error;
      return { kind: 'retry', reason: 'not_sent', message: `record-info failed: ${error.message}` };
    }
    const body = parseJson(answer.body);
    if (envelopeCode(body) === 422 && /recordInfo is null/i.test(envelopeMessage(body))) return { kind: 'not_ready' };
    const refusal = classifyReadRefusal(answer, body);
    if (refusal) return refusal;
    try {
      return { kind: 'record', result: this.wire.parseRecord((body as { data?: unknown } | undefined)?.data) };
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
    const refusal = classifyReadRefusal(answer, body);
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

const retry = (answer: HttpAnswer, reason: KieRetry['reason'], message: string): KieRetry => ({
  kind: 'retry',
  reason,
  message,
  retryAfterMs: retryAfterMs(answer),
});

const throttled = (answer: HttpAnswer, code: number | undefined, message: string): boolean =>
  answer.status === 429 || (code !== undefined && THROTTLE_CODES.has(code)) || FREQUENCY_MESSAGE.test(message);

/** KIE's envelope with a body code other than 200 (and not a throttle): KIE's own word that it did not act. */
function envelopeRefusal(answer: HttpAnswer, code: number, message: string): KieRetry | KieRejected {
  if (code === 455 || answer.status === 503) return retry(answer, 'maintenance', message);
  // 5xx body codes are KIE's own failures, except those that name a final answer.
  if (code >= 500 && code !== 501 && code !== 505) return retry(answer, 'server_error', message);
  return { kind: 'rejected', code, message };
}

/**
 * A create's answer ("never resubmit an ambiguous create"): retried only where KIE certainly did not take it. A
 * task id means KIE took it (and billed it), whatever the status or body code. Only KIE's own envelope can say it
 * refused; an answer without one comes from whatever stands in front of KIE, which may have forwarded the create.
 */
function classifyCreate(answer: HttpAnswer, body: unknown): KieCreateOutcome {
  const taskId = createdTaskId(body);
  if (taskId !== undefined) {
    if (isKieTaskId(taskId)) return { kind: 'accepted', kieTaskId: taskId };
    return {
      kind: 'ambiguous',
      message: `create answered ${answer.status} with an invalid task id (not 1 to 64 visible ASCII characters)`,
    };
  }
  const code = envelopeCode(body);
  const pause = PAUSE_CODES.get(code ?? answer.status);
  if (pause) return { kind: 'account_paused', reason: pause, message: envelopeMessage(body) || `HTTP ${answer.status}` };
  if (code === undefined) {
    const message = `HTTP ${answer.status} without KIE's envelope`;
    if (answer.status === 429) return retry(answer, 'throttled', message);
    // A redirect or a client error: refused before any handling (redirects are not followed).
    if (answer.status >= 300 && answer.status < 500) return { kind: 'rejected', code: answer.status, message };
    // A 2xx or 5xx: a gateway's error page (502, 504, 52x) may follow a create it forwarded.
    return { kind: 'ambiguous', message: `create answered ${message}` };
  }
  const message = envelopeMessage(body) || `HTTP ${answer.status}`;
  if (throttled(answer, code, message)) return retry(answer, 'throttled', message);
  // A success without a task id: KIE may have created the task, and we cannot know which.
  if (code === 200) return { kind: 'ambiguous', message: `create answered ${answer.status} with code 200 but no task id` };
  return envelopeRefusal(answer, code, message);
}

/**
 * A read's refusal, by both the HTTP status and the body code (KIE documents codes in the body, but also answers with
 * real HTTP statuses). Reads are safe to repeat, so any 5xx is retried. Returns undefined for any other 2xx answer.
 */
function classifyReadRefusal(answer: HttpAnswer, body: unknown): KieRetry | KieRejected | undefined {
  const code = envelopeCode(body);
  const message = envelopeMessage(body) || `HTTP ${answer.status}`;
  if (throttled(answer, code, message)) return retry(answer, 'throttled', message);
  if (code !== undefined && code !== 200) return envelopeRefusal(answer, code, message);
  if (answer.status === 503) return retry(answer, 'maintenance', message);
  if (answer.status >= 500) return retry(answer, 'server_error', message);
  if (answer.status < 200 || answer.status >= 300) return { kind: 'rejected', code: answer.status, message };
  // A 2xx: a success envelope, or a body the caller finds unreadable (and treats by what it asked for).
  return undefined;
}
