/** What a host passes to LyricsModule.forRoot / forRootAsync. Only `kie.apiKey` is required. */
export interface LyricsModuleOptions {
  kie: {
    apiKey: string;
    /** Default https://api.kie.ai */
    baseUrl?: string;
    /** One upstream request's time limit; default 15000. A create that outlives it is ambiguous. */
    timeoutMs?: number;
    /** Time to connect to KIE; default 5000. */
    connectTimeoutMs?: number;
    /** The account's webhookHmacKey: when set, every callback must carry KIE's valid signature. */
    webhookHmacKey?: string;
  };
  /** Where KIE can reach this service (without the route prefix); builds each callBackUrl. Unset: polling only. */
  publicBaseUrl?: string;
  /** Longest prompt accepted, in characters after trimming; default 200. */
  promptMaxChars?: number;
  /** Creates allowed per window across every instance; default 20 (KIE's account limit). */
  createBudget?: number;
  /** The create budget's sliding window; default 10000 ms. */
  createWindowMs?: number;
  /** How long a claim holds a task; must outlast one upstream request. Default 60000. */
  leaseMs?: number;
  /** How often an idle instance looks for due work it was not told about; default 1000. */
  dispatchIntervalMs?: number;
  /** Creates in flight at once per instance; default 4. */
  dispatchConcurrency?: number;
  /** Backoff of a create KIE throttled or never received: base and cap; defaults 2000 and 60000. */
  createRetryBaseMs?: number;
  createRetryMaxMs?: number;
  /** Delay from submission to the first record-info check; default 30000, or 3000 without publicBaseUrl. */
  pollInitialDelayMs?: number;
  /** Wait after the first unfinished check, doubling (with jitter) up to pollMaxIntervalMs; default 10000. */
  pollIntervalMs?: number;
  /** Longest wait between two checks of one task; default 300000. */
  pollMaxIntervalMs?: number;
  /** record-info reads allowed per window across every instance; default 100 per 10000 ms. */
  pollBudget?: number;
  pollWindowMs?: number;
  /** record-info reads in flight at once per instance; default 4. */
  pollConcurrency?: number;
  /** A task with no final result this long after submission fails as timed_out; default 1800000 (30 min). */
  taskMaxAgeMs?: number;
  /** At shutdown, how long work in flight may take before its claims are given back; default 10000. */
  shutdownGraceMs?: number;
  /** Accepted distance of a callback signature's timestamp from now, both ways; default 300 s. */
  signatureToleranceSeconds?: number;
  /** Confirm each callback's result with record-info before storing it (KIE does not sign bodies); default false. */
  confirmCallbacks?: boolean;
  /** How much of a callback's body a receipt keeps; default 65536 bytes. */
  receiptBodyMaxBytes?: number;
  /** Days callback receipts are kept; 0 keeps them forever. Default 30. */
  receiptRetentionDays?: number;
  /** Run the background workers (dispatcher) in this process; default true. */
  runWorkers?: boolean;
}

export type LyricsSettings = Required<Omit<LyricsModuleOptions, 'kie' | 'publicBaseUrl'>> & {
  kie: Required<Omit<LyricsModuleOptions['kie'], 'webhookHmacKey'>> & { webhookHmacKey: string | undefined };
  /** Base of every callBackUrl (public address and route prefix); undefined when KIE cannot call back. */
  callbackBaseUrl: string | undefined;
};

export const LYRICS_SETTINGS = Symbol('LYRICS_SETTINGS');

export class LyricsOptionsError extends Error {
  override readonly name = 'LyricsOptionsError';
}

function integer(name: string, value: number | undefined, fallback: number, min: number, max: number): number {
  const resolved = value ?? fallback;
  if (!Number.isInteger(resolved) || resolved < min || resolved > max) {
    throw new LyricsOptionsError(`LyricsModule: ${name} must be an integer from ${min} to ${max}`);
  }
  return resolved;
}

function httpUrl(name: string, value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new LyricsOptionsError(`LyricsModule: ${name} must be an http(s) URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new LyricsOptionsError(`LyricsModule: ${name} must be an http(s) URL`);
  }
  return value.replace(/\/+$/, '');
}

/** How the module was mounted (see LyricsModuleExtras) as far as its behaviour depends on it. */
export interface LyricsMounting {
  routePrefix: string;
  callbackController: boolean;
}

/** Fills the defaults and refuses invalid options with one message naming the option. */
export function resolveLyricsSettings(options: LyricsModuleOptions, mounting: LyricsMounting): LyricsSettings {
  if (!options?.kie?.apiKey) throw new LyricsOptionsError('LyricsModule: kie.apiKey is required');
  const timeoutMs = integer('kie.timeoutMs', options.kie.timeoutMs, 15000, 100, 600000);
  const leaseMs = integer('leaseMs', options.leaseMs, 60000, 1000, 3600000);
  if (leaseMs <= timeoutMs) {
    throw new LyricsOptionsError('LyricsModule: leaseMs must be longer than kie.timeoutMs (a claim must outlast a request)');
  }
  const createRetryBaseMs = integer('createRetryBaseMs', options.createRetryBaseMs, 2000, 1, 3600000);
  const pollIntervalMs = integer('pollIntervalMs', options.pollIntervalMs, 10000, 1, 86400000);
  const publicBaseUrl = options.publicBaseUrl ? httpUrl('publicBaseUrl', options.publicBaseUrl) : undefined;
  const callbackBaseUrl =
    publicBaseUrl && mounting.callbackController ? [publicBaseUrl, mounting.routePrefix].filter(Boolean).join('/') : undefined;
  return {
    kie: {
      apiKey: options.kie.apiKey,
      baseUrl: httpUrl('kie.baseUrl', options.kie.baseUrl ?? 'https://api.kie.ai'),
      timeoutMs,
      connectTimeoutMs: integer('kie.connectTimeoutMs', options.kie.connectTimeoutMs, 5000, 100, 600000),
      webhookHmacKey: options.kie.webhookHmacKey || undefined,
    },
    callbackBaseUrl,
    promptMaxChars: integer('promptMaxChars', options.promptMaxChars, 200, 1, 100000),
    createBudget: integer('createBudget', options.createBudget, 20, 1, 10000),
    createWindowMs: integer('createWindowMs', options.createWindowMs, 10000, 1, 3600000),
    leaseMs,
    dispatchIntervalMs: integer('dispatchIntervalMs', options.dispatchIntervalMs, 1000, 10, 600000),
    dispatchConcurrency: integer('dispatchConcurrency', options.dispatchConcurrency, 4, 1, 100),
    createRetryBaseMs,
    createRetryMaxMs: integer('createRetryMaxMs', options.createRetryMaxMs, 60000, createRetryBaseMs, 86400000),
    // Without a callback URL there is no callback to wait for.
    pollInitialDelayMs: integer('pollInitialDelayMs', options.pollInitialDelayMs, callbackBaseUrl ? 30000 : 3000, 0, 86400000),
    pollIntervalMs,
    pollMaxIntervalMs: integer('pollMaxIntervalMs', options.pollMaxIntervalMs, 300000, pollIntervalMs, 86400000),
    pollBudget: integer('pollBudget', options.pollBudget, 100, 1, 100000),
    pollWindowMs: integer('pollWindowMs', options.pollWindowMs, 10000, 1, 3600000),
    pollConcurrency: integer('pollConcurrency', options.pollConcurrency, 4, 1, 100),
    taskMaxAgeMs: integer('taskMaxAgeMs', options.taskMaxAgeMs, 1800000, 1000, 30 * 86400000),
    shutdownGraceMs: integer('shutdownGraceMs', options.shutdownGraceMs, 10000, 0, 600000),
    signatureToleranceSeconds: integer('signatureToleranceSeconds', options.signatureToleranceSeconds, 300, 1, 86400),
    confirmCallbacks: options.confirmCallbacks ?? false,
    receiptBodyMaxBytes: integer('receiptBodyMaxBytes', options.receiptBodyMaxBytes, 65536, 0, 1048576),
    receiptRetentionDays: integer('receiptRetentionDays', options.receiptRetentionDays, 30, 0, 36500),
    runWorkers: options.runWorkers ?? true,
  };
}
