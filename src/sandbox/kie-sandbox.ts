import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as wait } from 'node:timers/promises';
import { AccountState, SandboxAccounts } from './sandbox-accounts';
import { drawFromMix, MarkerError, MixRandom, mixRandom, parseMarkers, SandboxBehaviours } from './sandbox-behaviours';
import { CallbackDispatcher } from './sandbox-callbacks';
import { writeLyrics } from './sandbox-lyrics';
import { KieSandboxOptions, ResolvedSandboxOptions, resolveSandboxOptions } from './sandbox-options';
import {
  Envelope,
  errorBody,
  FAILURES,
  gatewayPage,
  jobsRecordData,
  MAX_PROMPT_LENGTH,
  parseCreateRequest,
  RECORD_INFO_NULL,
  recordInfoData,
  spelled,
  success,
} from './sandbox-payloads';
import type {
  ArrayKey,
  CallbackShape,
  SandboxAccount,
  SandboxAccountChange,
  SandboxDelivery,
  SandboxEndpoint,
  SandboxRequest,
  SandboxRoute,
  SandboxTask,
} from './sandbox-records';

export type { JobsCallbackShape, KieSandboxOptions, SandboxAccountOptions } from './sandbox-options';
export type { SandboxBehaviours, SandboxMix, SandboxOutcome, FailureStatus } from './sandbox-behaviours';
export type {
  ArrayKey,
  CallbackShape,
  SandboxAccount,
  SandboxAccountChange,
  SandboxDelivery,
  SandboxEndpoint,
  SandboxRequest,
  SandboxRoute,
  SandboxTask,
} from './sandbox-records';

const MAX_BODY_BYTES = 1024 * 1024;

type Answer = (status: number, body: Envelope, headers?: Record<string, string>) => void;
/** An answer without KIE's envelope: a body of this content type, or none. */
type AnswerText = (status: number, content?: { type: string; text: string }) => void;

/**
 * A simulator of KIE.AI's Suno lyrics API on plain node:http, on the legacy route or the Jobs route: the same endpoints,
 * envelopes and callbacks, for one account or several (each with its key, signing key, create window and credits), with
 * per-task misbehaviour chosen by prompt markers or a seeded random mix. It records every request and callback attempt,
 * and serves them (and its tasks and accounts) under /sandbox/ for tests and benchmarks.
 */
export class KieSandbox {
  readonly requests: SandboxRequest[] = [];
  readonly callbacks: SandboxDelivery[] = [];
  private readonly taskMap = new Map<string, SandboxTask>();
  private readonly kieAccounts: SandboxAccounts;
  /** Creates seen per prompt, for the throttle markers. */
  private readonly throttleCounts = new Map<string, number>();
  /** Tasks created on the Jobs route, for jobsCallbackShape 'alternate'. */
  private jobsCreated = 0;
  private readonly dispatcher: CallbackDispatcher;
  private random: MixRandom;
  /** Aborted by stop(): ends the holds of delayed answers. */
  private readonly stopping = new AbortController();
  private stopped?: Promise<void>;

  private constructor(
    private readonly options: ResolvedSandboxOptions,
    private readonly server: Server,
    readonly url: string,
  ) {
    this.kieAccounts = new SandboxAccounts(options);
    this.random = mixRandom(options.seed);
    this.dispatcher = new CallbackDispatcher(
      {
        hmacKeyOf: (task) => this.kieAccounts.hmacKeyOf(task.account),
        retryDelayMs: options.callbackRetryDelayMs,
        timeoutMs: options.callbackTimeoutMs,
        log: options.log,
      },
      (delivery) => this.callbacks.push(delivery),
    );
    server.on('request', (req: IncomingMessage, res: ServerResponse) => this.handle(req, res));
  }

  static async start(options: KieSandboxOptions = {}): Promise<KieSandbox> {
    const resolved = resolveSandboxOptions(options);
    const server = createServer();
    server.listen(resolved.port, resolved.host);
    await once(server, 'listening');
    const { port } = server.address() as AddressInfo;
    const host = resolved.host.includes(':') ? `[${resolved.host}]` : resolved.host;
    return new KieSandbox(resolved, server, `http://${host}:${port}`);
  }

  task(kieTaskId: string): SandboxTask | undefined {
    return this.taskMap.get(kieTaskId);
  }

  tasks(): SandboxTask[] {
    return [...this.taskMap.values()];
  }

  /** Every account (`default` alone without `accounts`): its credits, limit and sub-key state, never its keys. */
  accounts(): SandboxAccount[] {
    return this.kieAccounts.list();
  }

  /**
   * Sets an account's credits (0: its creates answer 402) or puts it over its sub-key limit (its creates answer 433) and
   * back; throws a RangeError for an unknown account or a bad change. reset() undoes it.
   */
  setAccount(name: string, change: SandboxAccountChange): SandboxAccount {
    return this.kieAccounts.set(name, change);
  }

  /**
   * Back to the state at start: no history, no tasks, no pending callbacks, every account's credits as configured and
   * none over its sub-key limit, the seed's first draw.
   */
  reset(): void {
    this.dispatcher.cancelAll();
    this.requests.length = 0;
    this.callbacks.length = 0;
    this.taskMap.clear();
    this.kieAccounts.reset();
    this.throttleCounts.clear();
    this.jobsCreated = 0;
    this.random = mixRandom(this.options.seed);
  }

  /** Closes the server and every connection (hanging and held creates too), and stops all callbacks. */
  stop(): Promise<void> {
    this.stopped ??= (async () => {
      this.stopping.abort();
      this.dispatcher.cancelAll();
      const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
      this.server.closeAllConnections();
      await Promise.all([closed, this.dispatcher.settled()]);
    })();
    return this.stopped;
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    this.route(req, res).catch((error: unknown) => {
      this.options.log?.(`sandbox error: ${error instanceof Error ? error.stack : String(error)}`);
      if (!res.headersSent) sendJson(res, 500, errorBody(500));
    });
  }

  private async route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://sandbox');
    if (url.pathname.startsWith('/sandbox/')) return this.inspect(req, url.pathname, res);

    const record: SandboxRequest = {
      endpoint: endpointOf(this.options.route, req.method, url.pathname),
      method: req.method ?? '',
      path: req.url ?? '/',
      httpStatus: 0,
      startedAt: Date.now(),
    };
    this.requests.push(record);
    const finish = (status: number, code: number | undefined, what: string) => {
      record.httpStatus = status;
      record.code = code;
      record.finishedAt = Date.now();
      this.options.log?.(`${record.method} ${url.pathname} -> ${status} ${what}${record.taskId ? ` task ${record.taskId}` : ''}`);
    };
    const answer: Answer = (status, body, headers) => {
      finish(status, body.code, `code ${body.code}`);
      sendJson(res, status, body, headers);
    };
    const answerText: AnswerText = (status, content) => {
      finish(status, undefined, content ? content.type : 'empty');
      res.writeHead(status, { 'Content-Length': Buffer.byteLength(content?.text ?? ''), ...(content && { 'Content-Type': content.type }) });
      res.end(content?.text);
    };

    if (record.endpoint === 'unknown') return answer(404, errorBody(404, 'Not found'));
    const key = bearerKey(req.headers.authorization);
    const account = key === undefined ? undefined : this.kieAccounts.select(key);
    if (key === undefined || account === undefined) return answer(401, errorBody(401));
    record.account = account.name;
    if (record.endpoint === 'create') return this.create(req, { key, account }, record, answer, answerText);
    if (record.endpoint === 'record-info') return this.recordInfo(url.searchParams.get('taskId'), account, record, answer);
    return answer(200, success(account.credits));
  }

  private async create(
    req: IncomingMessage,
    { key, account }: { key: string; account: AccountState },
    record: SandboxRequest,
    answer: Answer,
    answerText: AnswerText,
  ): Promise<void> {
    const text = await readBody(req);
    if (text === undefined) return answer(413, errorBody(413, 'Request body too large'));
    const request = parseCreateRequest(text, this.options.route);
    if ('error' in request) return answer(200, errorBody(request.code, request.error));
    record.prompt = request.prompt;
    record.callBackUrl = request.callBackUrl;
    record.model = request.model;
    // Counted in characters (code points), not UTF-16 units: an emoji is one character.
    if ([...request.prompt].length > MAX_PROMPT_LENGTH) return answer(200, errorBody(413));

    let marked: SandboxBehaviours | undefined;
    try {
      marked = parseMarkers(request.prompt);
    } catch (error) {
      if (error instanceof MarkerError) return answer(200, errorBody(400, error.message));
      throw error;
    }
    // Over its sub-key limit, the account takes no creates at all, whatever its window and credits.
    if (account.subKeyLimited) return answer(200, errorBody(433));
    const window = this.kieAccounts.windowOf(account, key);
    if (!window.hasRoom(record.startedAt)) return answer(429, errorBody(429, rateLimitMessage(account)));
    const refusal = marked && this.markerRefusal(request.prompt, marked, account);
    if (refusal) return answer(refusal.status, spelled(refusal.body, marked?.messageKey === true), refusal.headers);
    if (account.credits <= 0) return answer(200, errorBody(402));

    // Accepted: it counts toward the window, costs the account a credit and makes a task of the account's.
    window.add(record.startedAt);
    account.credits--;
    const behaviours = marked ?? drawFromMix(this.options.mix, this.random);
    const task = this.createTask(request.prompt, request.callBackUrl, account.name, behaviours);
    record.taskId = task.taskId;
    const firstAttempts = this.startCallbacks(task);
    if (task.behaviours.hang) {
      this.options.log?.(`POST ${CREATE_PATHS[this.options.route]} -> (never answered) task ${task.taskId}`);
      return; // the socket stays open until the client gives up or stop() closes it
    }
    await firstAttempts;
    const { acceptedAnswer, answerDelayMs } = task.behaviours;
    if (answerDelayMs > 0 && !(await this.hold(answerDelayMs))) return; // stopping: stop() closes the socket
    if (acceptedAnswer.body === 'envelope') {
      return answer(acceptedAnswer.status, spelled(success({ taskId: task.taskId }), task.behaviours.messageKey === true));
    }
    const { status } = acceptedAnswer;
    answerText(status, acceptedAnswer.body === 'html' ? { type: 'text/html', text: gatewayPage(status) } : undefined);
  }

  /** Waits `ms`; false when stop() came first. */
  private async hold(ms: number): Promise<boolean> {
    try {
      await wait(ms, undefined, { signal: this.stopping.signal });
      return true;
    } catch (error) {
      if (this.stopping.signal.aborted) return false;
      throw error;
    }
  }

  private createTask(prompt: string, callBackUrl: string | undefined, account: string, behaviours: SandboxBehaviours): SandboxTask {
    const { outcome } = behaviours;
    const now = Date.now();
    const delay = behaviours.early ? 0 : (behaviours.delayMs ?? this.options.resultDelayMs);
    const { route } = this.options;
    const task: SandboxTask = {
      taskId: randomBytes(16).toString('hex'),
      route,
      account,
      prompt,
      callBackUrl: callBackUrl ?? null,
      callbackShape: behaviours.callbackShape ?? this.routeCallbackShape(route),
      behaviours,
      createdAt: now,
      readyAt: outcome === 'never' ? null : now + delay,
      outcome,
      variants: outcome === 'success' ? writeLyrics(prompt) : [],
      errorMessage: outcome === 'success' || outcome === 'never' ? null : FAILURES[outcome].message,
      recordInfoCalls: 0,
    };
    this.taskMap.set(task.taskId, task);
    return task;
  }

  /** A new task's callback shape on `route`: legacy on the legacy route; on the Jobs route, as jobsCallbackShape says. */
  private routeCallbackShape(route: SandboxRoute): CallbackShape {
    if (route === 'legacy') return 'legacy';
    const { jobsCallbackShape } = this.options;
    if (jobsCallbackShape !== 'alternate') return jobsCallbackShape;
    return this.jobsCreated++ % 2 === 0 ? 'market' : 'legacy';
  }

  /** Sends or schedules the task's callbacks; the promise waits for the first attempts only when `early`. */
  private async startCallbacks(task: SandboxTask): Promise<void> {
    if (task.readyAt === null || task.behaviours.drop || task.callBackUrl === null) return;
    if (task.behaviours.early) return this.dispatcher.deliver(task);
    this.dispatcher.schedule(task, task.readyAt);
  }

  /** The answer a create-side marker imposes, if any. Refused creates make no task and use no window slot. */
  private markerRefusal(
    prompt: string,
    marked: SandboxBehaviours,
    account: AccountState,
  ): { status: number; body: Envelope; headers?: Record<string, string> } | undefined {
    if (marked.throttle + marked.throttleHttp > 0) {
      const seen = (this.throttleCounts.get(prompt) ?? 0) + 1;
      this.throttleCounts.set(prompt, seen);
      const headers = marked.retryAfterSeconds === undefined ? undefined : { 'Retry-After': String(marked.retryAfterSeconds) };
      if (seen <= marked.throttle) return { status: 200, body: errorBody(430), headers };
      if (seen <= marked.throttle + marked.throttleHttp) return { status: 429, body: errorBody(429, rateLimitMessage(account)), headers };
    }
    if (marked.reject !== undefined) return { status: 200, body: errorBody(marked.reject) };
    if (marked.httpStatus !== undefined) return { status: marked.httpStatus, body: errorBody(marked.httpStatus) };
    return undefined;
  }

  private async recordInfo(taskId: string | null, account: AccountState, record: SandboxRequest, answer: Answer): Promise<void> {
    if (!taskId) return answer(200, errorBody(400, 'taskId is required'));
    record.taskId = taskId;
    if (this.options.recordInfoLatencyMs > 0) await sleep(this.options.recordInfoLatencyMs);
    const task = this.taskMap.get(taskId);
    // KIE shows an account only its own tasks: another account's is as unknown as one that never was.
    if (!task || task.account !== account.name) return answer(200, RECORD_INFO_NULL);
    const call = ++task.recordInfoCalls;
    const { throttlePolls, nullPolls, pendingPolls, retryAfterSeconds, messageKey } = task.behaviours;
    const answerSpelled: Answer = (status, body, headers) => answer(status, spelled(body, messageKey === true), headers);
    if (call <= throttlePolls) {
      const headers = retryAfterSeconds === undefined ? undefined : { 'Retry-After': String(retryAfterSeconds) };
      return answerSpelled(429, errorBody(429, rateLimitMessage(account)), headers);
    }
    if (call <= throttlePolls + nullPolls) return answerSpelled(200, RECORD_INFO_NULL);
    const showResult = call > throttlePolls + nullPolls + pendingPolls && task.readyAt !== null && Date.now() >= task.readyAt;
    const read = task.route === 'jobs' ? jobsRecordData : recordInfoData;
    answerSpelled(200, success(read(task, this.recordInfoArrayKey(task), showResult)));
  }

  private recordInfoArrayKey(task: SandboxTask): ArrayKey {
    return task.behaviours.lyricsData ? 'lyricsData' : this.options.recordInfoArrayKey;
  }

  /** The unauthenticated inspection API: history, tasks and accounts as JSON, the accounts' knobs, and reset. */
  private async inspect(req: IncomingMessage, path: string, res: ServerResponse): Promise<void> {
    const { method } = req;
    const taskPath = /^\/sandbox\/tasks\/([^/]+)$/.exec(path);
    const accountPath = /^\/sandbox\/accounts\/([^/]+)$/.exec(path);
    if (method === 'GET' && path === '/sandbox/requests') return sendJson(res, 200, this.requests);
    if (method === 'GET' && path === '/sandbox/callbacks') return sendJson(res, 200, this.callbacks);
    if (method === 'GET' && path === '/sandbox/tasks') return sendJson(res, 200, this.tasks());
    if (method === 'GET' && path === '/sandbox/accounts') return sendJson(res, 200, this.accounts());
    if (method === 'GET' && taskPath) {
      const task = this.task(decodeURIComponent(taskPath[1]));
      return task ? sendJson(res, 200, task) : sendJson(res, 404, errorBody(404, 'Not found'));
    }
    if (method === 'POST' && accountPath) return this.changeAccount(req, decodeURIComponent(accountPath[1]), res);
    if (method === 'POST' && path === '/sandbox/reset') {
      this.reset();
      return sendJson(res, 200, success(null));
    }
    sendJson(res, 404, errorBody(404, 'Not found'));
  }

  /** POST /sandbox/accounts/{name}: 404 for an unknown account, 400 for a body that is no change, else the account as it now is. */
  private async changeAccount(req: IncomingMessage, name: string, res: ServerResponse): Promise<void> {
    if (!this.kieAccounts.has(name)) return sendJson(res, 404, errorBody(404, 'Not found'));
    const text = await readBody(req);
    let change: unknown;
    try {
      change = JSON.parse(text ?? '');
    } catch {
      return sendJson(res, 400, errorBody(400, 'The body must be JSON: { "credits"?: n, "subKeyLimited"?: bool }'));
    }
    try {
      // setAccount checks the change, which is only JSON here.
      sendJson(res, 200, this.setAccount(name, change as SandboxAccountChange));
    } catch (error) {
      if (!(error instanceof RangeError)) throw error;
      sendJson(res, 400, errorBody(400, error.message));
    }
  }
}

function rateLimitMessage({ createLimit: { max, windowMs } }: AccountState): string {
  return `Rate limit exceeded: up to ${max} requests per ${windowMs / 1000} seconds`;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms).unref());

const CREATE_PATHS: Record<SandboxRoute, string> = { legacy: '/api/v1/lyrics', jobs: '/api/v1/jobs/createTask' };
const RECORD_INFO_PATHS: Record<SandboxRoute, string> = { legacy: '/api/v1/lyrics/record-info', jobs: '/api/v1/jobs/recordInfo' };

/** The route's endpoints only: the other route's paths are unknown here, as on a KIE that switched them off. */
function endpointOf(route: SandboxRoute, method: string | undefined, path: string): SandboxEndpoint {
  if (method === 'POST' && path === CREATE_PATHS[route]) return 'create';
  if (method === 'GET' && path === RECORD_INFO_PATHS[route]) return 'record-info';
  if (method === 'GET' && path === '/api/v1/chat/credit') return 'credit';
  return 'unknown';
}

function bearerKey(authorization: string | undefined): string | undefined {
  const match = /^Bearer\s+(\S.*)$/i.exec(authorization ?? '');
  return match?.[1].trim() || undefined;
}

/** The body as text, or undefined when it is larger than MAX_BODY_BYTES (read to the end all the same, so it can be answered). */
async function readBody(req: IncomingMessage): Promise<string | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size <= MAX_BODY_BYTES) chunks.push(chunk);
  }
  return size > MAX_BODY_BYTES ? undefined : Buffer.concat(chunks).toString('utf8');
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const json = JSON.stringify(body);
  res.writeHead(status, { ...headers, 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(json) });
  res.end(json);
}
