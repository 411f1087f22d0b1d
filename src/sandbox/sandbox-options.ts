import { MIX_KEYS, SandboxMix } from './sandbox-behaviours';
import type { ArrayKey, SandboxRoute } from './sandbox-records';

/** The callback shape of tasks created on the Jobs route: always one, or the two in turn (market first). */
export type JobsCallbackShape = 'market' | 'legacy' | 'alternate';
const JOBS_CALLBACK_SHAPES: readonly JobsCallbackShape[] = ['market', 'legacy', 'alternate'];

type CreateLimit = { max: number; windowMs: number };

/** One KIE account the sandbox plays: its bearer key selects it, and it has its own signing key, create window and credits. */
export interface SandboxAccountOptions {
  /** How the inspection routes, setAccount() and the records name it. */
  name: string;
  apiKey: string;
  /** The account's webhookHmacKey: when set, the callbacks of its tasks are signed with it; otherwise they are unsigned. */
  hmacKey?: string;
  /** Default: the top-level createLimit. */
  createLimit?: CreateLimit;
  /** Default: the top-level credits. */
  credits?: number;
}

export interface KieSandboxOptions {
  /** Default 0: a free port. */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  /**
   * Which of KIE's APIs it serves: 'legacy' (default; POST /api/v1/lyrics, GET /api/v1/lyrics/record-info) or 'jobs'
   * (POST /api/v1/jobs/createTask, GET /api/v1/jobs/recordInfo). The other route's paths answer 404, as KIE would once
   * it switched them off.
   */
  route?: SandboxRoute;
  /** The callbacks of Jobs tasks: the Market shape (default), the legacy one, or the two in turn. */
  jobsCallbackShape?: JobsCallbackShape;
  /** Accepted bearer keys; undefined or empty: any non-empty bearer is accepted. Not with `accounts`. */
  apiKeys?: string[];
  /** When set, every callback carries X-Webhook-Timestamp and X-Webhook-Signature. Not with `accounts`. */
  hmacKey?: string;
  /**
   * Several KIE accounts, each selected by its own apiKey (any other key is refused 401), each with its own signing
   * key, create window and credits; a task belongs to the account that created it. Without it, the sandbox is one
   * account (named `default`) that `apiKeys` (or any bearer) selects, with a create window per bearer key.
   */
  accounts?: SandboxAccountOptions[];
  /**
   * Accepted creates per bearer key in any window (a sliding window); with `accounts`, the limit of each account that has
   * none of its own. Default 20 per 10000 ms, KIE's limit.
   */
  createLimit?: CreateLimit;
  /** From an accepted create until the result is ready and the callback is sent. Default 1000. */
  resultDelayMs?: number;
  /** Wait between callback delivery attempts. Default 1000. */
  callbackRetryDelayMs?: number;
  /** A callback attempt with no answer within this time failed. Default 15000, KIE's documented limit. */
  callbackTimeoutMs?: number;
  /** Default 10000; each accepted create costs one. With `accounts`, the credits of each account that gives none. */
  credits?: number;
  /** Time record-info takes to answer (a slow upstream); default 0. */
  recordInfoLatencyMs?: number;
  /** The variants' key in record-info; default 'data'. The marker `lyricsData` overrides it per task. */
  recordInfoArrayKey?: ArrayKey;
  /** Probabilities 0..1 for tasks without a marker; default all 0. */
  mix?: Partial<SandboxMix>;
  /** Seed of the mix's PRNG; default 1. */
  seed?: number;
  /** Silent by default. */
  log?: (line: string) => void;
}

export interface ResolvedSandboxAccount {
  name: string;
  apiKey: string;
  hmacKey?: string;
  createLimit: CreateLimit;
  credits: number;
}

export interface ResolvedSandboxOptions {
  port: number;
  host: string;
  route: SandboxRoute;
  jobsCallbackShape: JobsCallbackShape;
  apiKeys: ReadonlySet<string>;
  hmacKey?: string;
  /** Undefined: the one account of apiKeys, hmacKey, createLimit and credits. */
  accounts?: ResolvedSandboxAccount[];
  createLimit: CreateLimit;
  resultDelayMs: number;
  callbackRetryDelayMs: number;
  callbackTimeoutMs: number;
  credits: number;
  recordInfoLatencyMs: number;
  recordInfoArrayKey: ArrayKey;
  mix: SandboxMix;
  seed: number;
  log?: (line: string) => void;
}

function wholeNumber(name: string, value: number, min = 0): number {
  if (!Number.isSafeInteger(value) || value < min) throw new RangeError(`${name} must be an integer of at least ${min}, got ${value}`);
  return value;
}

/** Options with their defaults, checked: a wrong value fails at start, naming the option. */
export function resolveSandboxOptions(options: KieSandboxOptions = {}): ResolvedSandboxOptions {
  const mix: SandboxMix = { drop: 0, duplicate: 0, camelCase: 0, forged: 0, failure: 0, hang: 0, gateway: 0, ...options.mix };
  for (const [name, probability] of Object.entries(mix)) {
    if (!(MIX_KEYS as readonly string[]).includes(name)) throw new RangeError(`mix has no "${name}" (it has ${MIX_KEYS.join(', ')})`);
    if (!(probability >= 0 && probability <= 1)) throw new RangeError(`mix.${name} must be a probability from 0 to 1, got ${probability}`);
  }
  const arrayKey = options.recordInfoArrayKey ?? 'data';
  if (arrayKey !== 'data' && arrayKey !== 'lyricsData')
    throw new RangeError(`recordInfoArrayKey must be data or lyricsData, got ${arrayKey}`);
  const route = options.route ?? 'legacy';
  if (route !== 'legacy' && route !== 'jobs') throw new RangeError(`route must be legacy or jobs, got ${String(route)}`);
  const jobsCallbackShape = options.jobsCallbackShape ?? 'market';
  if (!JOBS_CALLBACK_SHAPES.includes(jobsCallbackShape)) {
    throw new RangeError(`jobsCallbackShape must be one of ${JOBS_CALLBACK_SHAPES.join(', ')}, got ${String(jobsCallbackShape)}`);
  }
  const createLimit = resolveCreateLimit('createLimit', options.createLimit ?? { max: 20, windowMs: 10000 });
  const credits = wholeNumber('credits', options.credits ?? 10000);
  return {
    port: wholeNumber('port', options.port ?? 0),
    host: options.host ?? '127.0.0.1',
    route,
    jobsCallbackShape,
    apiKeys: new Set(options.apiKeys ?? []),
    hmacKey: options.hmacKey || undefined,
    accounts: options.accounts && resolveAccounts(options, { createLimit, credits }),
    createLimit,
    resultDelayMs: wholeNumber('resultDelayMs', options.resultDelayMs ?? 1000),
    callbackRetryDelayMs: wholeNumber('callbackRetryDelayMs', options.callbackRetryDelayMs ?? 1000),
    callbackTimeoutMs: wholeNumber('callbackTimeoutMs', options.callbackTimeoutMs ?? 15000, 1),
    credits,
    recordInfoLatencyMs: wholeNumber('recordInfoLatencyMs', options.recordInfoLatencyMs ?? 0),
    recordInfoArrayKey: arrayKey,
    mix,
    seed: wholeNumber('seed', options.seed ?? 1),
    log: options.log,
  };
}

function resolveCreateLimit(name: string, limit: CreateLimit): CreateLimit {
  return { max: wholeNumber(`${name}.max`, limit.max, 1), windowMs: wholeNumber(`${name}.windowMs`, limit.windowMs, 1) };
}

function nonEmpty(name: string, value: unknown): string {
  if (typeof value !== 'string' || value === '') throw new RangeError(`${name} must be a non-empty string`);
  return value;
}

/**
 * The accounts, each with the top-level limit and credits unless it has its own. Names and API keys are unique: a
 * key selects one account, and a name is how one is told apart. The keys are never printed, since errors are logged.
 */
function resolveAccounts(options: KieSandboxOptions, defaults: { createLimit: CreateLimit; credits: number }): ResolvedSandboxAccount[] {
  if (options.apiKeys !== undefined || options.hmacKey !== undefined) {
    throw new RangeError('accounts replaces apiKeys and hmacKey: give each account its apiKey and hmacKey instead');
  }
  if (!Array.isArray(options.accounts) || options.accounts.length === 0) throw new RangeError('accounts must list at least one account');
  const names = new Set<string>();
  const keys = new Map<string, string>();
  return options.accounts.map((account, index) => {
    const label = `accounts[${index}]`;
    const name = nonEmpty(`${label}.name`, account?.name);
    if (names.has(name)) throw new RangeError(`accounts has two accounts named "${name}"`);
    names.add(name);
    const apiKey = nonEmpty(`${label}.apiKey`, account.apiKey);
    const holder = keys.get(apiKey);
    if (holder !== undefined) throw new RangeError(`${label}.apiKey is also the apiKey of account "${holder}"`);
    keys.set(apiKey, name);
    return {
      name,
      apiKey,
      hmacKey: account.hmacKey === undefined ? undefined : nonEmpty(`${label}.hmacKey`, account.hmacKey),
      createLimit: account.createLimit ? resolveCreateLimit(`${label}.createLimit`, account.createLimit) : defaults.createLimit,
      credits: account.credits === undefined ? defaults.credits : wholeNumber(`${label}.credits`, account.credits),
    };
  });
}
