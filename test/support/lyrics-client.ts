import request from 'supertest';
import { KieSandbox, KieSandboxOptions, SandboxEndpoint, SandboxRequest } from '../../src/sandbox/kie-sandbox';
import { TestDatabase } from './database';
import { Teardown, teardownAfterAll } from './teardown';
import { startTestApp, TestApp } from './test-app';
import { waitFor } from './wait';

/** A task as the API answers it: parsed JSON, whose shape the assertions check. */
export type TaskBody = any;
/** A lyrics_tasks row, as PostgreSQL returns it (snake_case columns). */
export type TaskRow = Record<string, any>;
export type TaskStatus = 'queued' | 'submitted' | 'succeeded' | 'failed' | 'cancelled';

export interface SubmitOptions {
  metadata?: unknown;
  idempotencyKey?: string;
  /** Sent as a bearer key instead of the context's own headers. */
  apiKey?: string;
  /** 202 (the default) for a new task, 200 for a replay. */
  expectStatus?: 200 | 202;
}

export interface WaitOptions {
  timeoutMs?: number;
  intervalMs?: number;
}

/** Where the lyrics API under test lives: its URL, its database, and the KIE it talks to. */
export interface LyricsTarget {
  url: string;
  query<T = any>(sql: string, params?: unknown[]): Promise<T[]>;
  sandbox?: KieSandbox;
  /** The app, when it runs in the test's own process. */
  testApp?: TestApp;
  /** Headers every API request carries: a client key, or a host app's own authentication. */
  headers?: Record<string, string>;
  /** The routes' prefix in a host app, such as '/api/v1'. */
  basePath?: string;
}

export interface LyricsAppOptions {
  /** Options for a sandbox of the app's own, or a sandbox to share; without one, KIE is a closed port. */
  sandbox?: KieSandboxOptions | KieSandbox;
  /** Environment variables on top of the test defaults. */
  env?: Record<string, string>;
  /** A database to share with other instances; by default the app gets a fresh one. */
  database?: TestDatabase;
  /** A client key every API request carries as a bearer. */
  apiKey?: string;
}

export const bearer = (key: string) => ({ Authorization: `Bearer ${key}` });

/**
 * A test's view of the lyrics service, in the domain's verbs: submit a prompt, wait for a task's status, read its
 * row, see what KIE (the sandbox) received. Tests arrange with it, act through it or through raw HTTP, and assert.
 */
export class LyricsContext {
  constructor(private target?: LyricsTarget) {}

  /** Binds a context made before its app started (useLyricsApp makes one at the start of a block). */
  bind(target: LyricsTarget): void {
    this.target = target;
  }

  private get bound(): LyricsTarget {
    if (!this.target) throw new Error('The lyrics app is not started yet: use the context in tests and hooks, after its beforeAll');
    return this.target;
  }

  get url(): string {
    return this.bound.url;
  }

  get testApp(): TestApp {
    const { testApp } = this.bound;
    if (!testApp) throw new Error('This lyrics context has no in-process app');
    return testApp;
  }

  get sandbox(): KieSandbox {
    const { sandbox } = this.bound;
    if (!sandbox) throw new Error('This lyrics context has no sandbox');
    return sandbox;
  }

  query<T = any>(sql: string, params?: unknown[]): Promise<T[]> {
    return this.bound.query<T>(sql, params);
  }

  /** POST /lyrics with `prompt` (and the given metadata and Idempotency-Key): the task as answered. */
  async submit(prompt: string, options: SubmitOptions = {}): Promise<TaskBody> {
    const headers = {
      ...(options.apiKey === undefined ? this.bound.headers : bearer(options.apiKey)),
      ...(options.idempotencyKey === undefined ? {} : { 'Idempotency-Key': options.idempotencyKey }),
    };
    const body = options.metadata === undefined ? { prompt } : { prompt, metadata: options.metadata };
    const response = await request(this.url)
      .post(this.path('/lyrics'))
      .set(headers)
      .send(body)
      .expect(options.expectStatus ?? 202);
    return response.body;
  }

  /** GET /lyrics/:id, which must answer 200. */
  async task(id: string): Promise<TaskBody> {
    const response = await request(this.url)
      .get(this.path(`/lyrics/${id}`))
      .set(this.bound.headers ?? {})
      .expect(200);
    return response.body;
  }

  /** GET /lyrics/webhook-secret, as the client with `apiKey` (the context's own headers by default): its signing secret. */
  async webhookSecret(apiKey?: string): Promise<string> {
    const response = await request(this.url)
      .get(this.path('/lyrics/webhook-secret'))
      .set(apiKey === undefined ? (this.bound.headers ?? {}) : bearer(apiKey))
      .expect(200);
    return response.body.secret;
  }

  /** The task as the API answers it once it has `status`. */
  waitForStatus(id: string, status: TaskStatus, options: WaitOptions = {}): Promise<TaskBody> {
    return waitFor(
      `task ${id} to be ${status}`,
      async () => {
        const task = await this.task(id);
        return task.status === status ? task : undefined;
      },
      options,
    );
  }

  /** Waits, reading the database, until every task of `ids` has `status`. */
  async waitForAll(ids: string[], status: TaskStatus, options: WaitOptions = {}): Promise<void> {
    await waitFor(
      `all ${ids.length} tasks to be ${status}`,
      async () => {
        const [{ n }] = await this.query('SELECT count(*) AS n FROM lyrics_tasks WHERE id = ANY($1) AND status = $2', [ids, status]);
        return Number(n) === ids.length;
      },
      options,
    );
  }

  /** Waits until no task is queued: every create the app had to send has reached KIE and been answered. */
  async waitForNoQueuedTask(options: WaitOptions = {}): Promise<void> {
    await waitFor('no task to be queued', async () => (await this.taskCount('queued')) === 0, options);
  }

  /** The task's row in lyrics_tasks. */
  async taskRow(id: string): Promise<TaskRow> {
    const [row] = await this.query<TaskRow>('SELECT * FROM lyrics_tasks WHERE id = $1', [id]);
    if (!row) throw new Error(`lyrics_tasks has no row ${id}`);
    return row;
  }

  /** How many tasks are stored (with `status`, when given). */
  async taskCount(status?: TaskStatus): Promise<number> {
    const [{ n }] =
      status === undefined
        ? await this.query('SELECT count(*) AS n FROM lyrics_tasks')
        : await this.query('SELECT count(*) AS n FROM lyrics_tasks WHERE status = $1', [status]);
    return Number(n);
  }

  /** The requests KIE received at `endpoint` (about one KIE task, when `kieTaskId` is given), in arrival order. */
  requestsTo(endpoint: SandboxEndpoint, kieTaskId?: string): SandboxRequest[] {
    return this.sandbox.requests.filter((r) => r.endpoint === endpoint && (kieTaskId === undefined || r.taskId === kieTaskId));
  }

  /** The creates KIE received with exactly this prompt. */
  createsFor(prompt: string): SandboxRequest[] {
    return this.requestsTo('create').filter((r) => r.prompt === prompt);
  }

  /** The create that made KIE task `kieTaskId`. */
  createOf(kieTaskId: string): SandboxRequest {
    const [create] = this.requestsTo('create', kieTaskId);
    if (!create) throw new Error(`KIE received no create that made task ${kieTaskId}`);
    return create;
  }

  /** The path of the callBackUrl the app gave KIE for KIE task `kieTaskId`. */
  callbackPathOf(kieTaskId: string): string {
    return new URL(this.createOf(kieTaskId).callBackUrl!).pathname;
  }

  private path(route: string): string {
    return `${this.bound.basePath ?? ''}${route}`;
  }
}

async function startTarget(teardown: Teardown, options: LyricsAppOptions): Promise<LyricsTarget> {
  const sandbox =
    options.sandbox === undefined || options.sandbox instanceof KieSandbox
      ? options.sandbox
      : teardown.add(await KieSandbox.start(options.sandbox), (own) => own.stop());
  const testApp = teardown.add(await startTestApp({ sandbox, env: options.env, database: options.database }), (app) => app.close());
  return {
    url: testApp.url,
    query: (sql, params) => testApp.dataSource.query(sql, params),
    sandbox,
    testApp,
    headers: options.apiKey === undefined ? {} : bearer(options.apiKey),
  };
}

/** Starts an app (and a sandbox of its own, when given options for one) now; `teardown` closes them, the app first. */
export async function startLyricsApp(teardown: Teardown, options: LyricsAppOptions = {}): Promise<LyricsContext> {
  return new LyricsContext(await startTarget(teardown, options));
}

/** One app (and sandbox) for all the tests of the enclosing block: started before the first, closed after the last. */
export function useLyricsApp(options: LyricsAppOptions = {}): LyricsContext {
  const ctx = new LyricsContext();
  const teardown = teardownAfterAll();
  beforeAll(async () => ctx.bind(await startTarget(teardown, options)));
  return ctx;
}
