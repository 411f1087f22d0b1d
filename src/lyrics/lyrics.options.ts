import type { Request } from 'express';
import { KIE_API_ROUTES, KieApiRoute } from './kie/kie.types';
import { checkLyricsSettings, LYRICS_SETTING_NAMES, rangeProblem } from './lyrics-settings';

/**
 * Says who calls the client API: the caller's owner id (1 to 255 characters), or undefined to refuse with 401. Every
 * task belongs to the owner that submitted it, and only that owner can see or act on it.
 */
export type OwnerResolver = (request: Request) => string | undefined | Promise<string | undefined>;

/**
 * The module's tuning, every option optional. Each one's default and bounds (some relative to another option) are
 * in LYRICS_SETTING_TABLE, along with the LYRICS_* variable the service reads it from.
 */
export interface LyricsTuningOptions {
  /** Unfinished tasks one owner may hold; a submission beyond it is refused (429) and nothing is stored. */
  maxActivePerOwner?: number;
  /** Long polls waiting at once per instance; beyond, the task is answered at once as it is. */
  maxLongPolls?: number;
  /** Hours an Idempotency-Key stays bound to the task it made; later the owner may use it for a new task. */
  idempotencyTtlHours?: number;
  /** Longest prompt accepted, in Unicode code points after trimming (an emoji is one). */
  promptMaxChars?: number;
  /** Creates allowed per window across every instance (KIE's account limit). */
  createBudget?: number;
  /** The create budget's sliding window, in ms. */
  createWindowMs?: number;
  /** How often an idle instance looks for due work it was not told about. */
  dispatchIntervalMs?: number;
  /** Creates in flight at once per instance. */
  dispatchConcurrency?: number;
  /** Backoff of a create KIE throttled or never received: its base, doubling up to createRetryMaxMs. */
  createRetryBaseMs?: number;
  /** Longest backoff of a create; at least createRetryBaseMs. */
  createRetryMaxMs?: number;
  /** How long a claim holds a task, or an event for host handlers; must outlast one upstream request (kie.timeoutMs). */
  leaseMs?: number;
  /** Delay from submission to the first record-info check; shorter without a callback URL, as no callback will come. */
  pollInitialDelayMs?: number;
  /** Wait after the first unfinished check, doubling (with jitter) up to pollMaxIntervalMs. */
  pollIntervalMs?: number;
  /** Longest wait between two checks of one task; at least pollIntervalMs. */
  pollMaxIntervalMs?: number;
  /** record-info reads allowed per window across every instance. */
  pollBudget?: number;
  /** The poll budget's sliding window, in ms. */
  pollWindowMs?: number;
  /** record-info reads in flight at once per instance. */
  pollConcurrency?: number;
  /** A task with no final result this long after submission fails as timed_out. */
  taskMaxAgeMs?: number;
  /** A task still unsent this long after submission fails as queue_expired. */
  queueMaxAgeMs?: number;
  /** How often a paused KIE account's credits endpoint is read, to resume it once it shows credit. */
  accountProbeMs?: number;
  /** At shutdown, how long work in flight may take before its claims are given back. */
  shutdownGraceMs?: number;
  /** Accepted distance of a callback signature's timestamp from now, both ways, in seconds. */
  signatureToleranceSeconds?: number;
  /** Confirm each callback's result with record-info before storing it (KIE does not sign bodies). */
  confirmCallbacks?: boolean;
  /** Days callback receipts are kept; 0 keeps them forever. */
  receiptRetentionDays?: number;
  /** Days final events (the feed) are kept; 0 keeps them forever. */
  eventRetentionDays?: number;
  /** A client webhook's time to answer 2xx, in ms; later, the attempt failed. */
  webhookTimeoutMs?: number;
  /** After a rotation, how long deliveries also carry the old secret's signature, in seconds. */
  webhookSecretOverlapSeconds?: number;
  /** Webhook deliveries in flight at once per instance. */
  webhookConcurrency?: number;
  /** One owner's webhook deliveries in flight at once, so that a slow receiver never holds back other owners. */
  webhookOwnerConcurrency?: number;
  /** Receipts kept per task (so that a leaked token cannot fill the table); later callbacks are handled, not recorded. */
  receiptsPerTask?: number;
}

/** One KIE account: its name (in metrics, logs and /health; never the key), API key and webhook HMAC key. */
export interface KieAccountOptions {
  /** 1 to 32 characters: lower-case letters, digits, `_` and `-`, starting with a letter or digit. */
  name: string;
  apiKey: string;
  /** The account's webhookHmacKey: when set, callbacks of the tasks created on it must carry KIE's valid signature. */
  webhookHmacKey?: string;
}

/** The account a single `kie.apiKey` makes. */
export const DEFAULT_KIE_ACCOUNT = 'default';

/** What a host passes to LyricsModule.forRoot / forRootAsync. Only KIE's key (`kie.apiKey` or `kie.accounts`) is required. */
export interface LyricsModuleOptions extends LyricsTuningOptions {
  kie: {
    /** One account's API key (the account is named `default`); or give `accounts`. */
    apiKey?: string;
    /**
     * Several accounts, each with its own create budget (createBudget per createWindowMs): a create goes to the usable
     * account with the most room, and the task's reads and callbacks use the account that created it. Instead of
     * apiKey / webhookHmacKey.
     */
    accounts?: KieAccountOptions[];
    /** Default https://api.kie.ai */
    baseUrl?: string;
    /**
     * Which of KIE's APIs carries the lyrics tasks: 'legacy' (default; POST /api/v1/lyrics, GET
     * /api/v1/lyrics/record-info) or 'jobs' (POST /api/v1/jobs/createTask, GET /api/v1/jobs/recordInfo).
     */
    route?: KieApiRoute;
    /** One upstream request's time limit; default 15000. A create that outlives it is ambiguous. */
    timeoutMs?: number;
    /** Time to connect to KIE; default 5000. */
    connectTimeoutMs?: number;
    /** The single account's webhookHmacKey: when set, every callback must carry KIE's valid signature. */
    webhookHmacKey?: string;
  };
  /** Where KIE can reach this service (without the route prefix); builds each callBackUrl. Unset: polling only. */
  publicBaseUrl?: string;
  /** Who the client API's caller is; required when the client controller is mounted (see OwnerResolver). */
  resolveOwner?: OwnerResolver;
  /** How much of a callback's body a receipt keeps; default 65536 bytes. */
  receiptBodyMaxBytes?: number;
  /** Run the background workers (dispatcher) in this process; default true. */
  runWorkers?: boolean;
  /** Client webhooks (a task's webhookUrl): the retry schedule, and where deliveries may go. */
  webhooks?: WebhookOptions;
}

export interface WebhookOptions {
  /**
   * The delay before each retry, in ms, each with up to ±20% jitter; after the last retry the delivery is failed.
   * Default DEFAULT_WEBHOOK_RETRY_MS (5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h: about a day and a half).
   */
  retryMs?: number[];
  /**
   * Deliver only to https URLs whose host resolves only to public addresses, checked at every attempt (the
   * connection goes to the address checked). Default true; the standalone service turns it off outside production.
   */
  publicOnly?: boolean;
  /** Host names exempt from the public-address check (still https-only when publicOnly). */
  allowedHosts?: string[];
}

export const DEFAULT_WEBHOOK_RETRY_MS = [5000, 300000, 1800000, 7200000, 18000000, 36000000, 36000000];

export type LyricsSettings = Required<Omit<LyricsModuleOptions, 'kie' | 'publicBaseUrl' | 'resolveOwner' | 'webhooks'>> & {
  webhooks: Required<WebhookOptions>;
  /** Set whenever the client controller is mounted. */
  resolveOwner: OwnerResolver | undefined;
  kie: Required<Omit<LyricsModuleOptions['kie'], 'apiKey' | 'accounts' | 'webhookHmacKey'>> & {
    /** At least one; the first is the account of tasks that have none recorded (created before accounts were). */
    accounts: ResolvedKieAccount[];
  };
  /** Base of every callBackUrl (public address and route prefix); undefined when KIE cannot call back. */
  callbackBaseUrl: string | undefined;
};

export type ResolvedKieAccount = Required<Omit<KieAccountOptions, 'webhookHmacKey'>> & { webhookHmacKey: string | undefined };

export const LYRICS_SETTINGS = Symbol('LYRICS_SETTINGS');

export class LyricsOptionsError extends Error {
  override readonly name = 'LyricsOptionsError';
}

function integer(name: string, value: number | undefined, fallback: number, min: number, max: number): number {
  const resolved = value ?? fallback;
  if (!Number.isInteger(resolved) || resolved < min || resolved > max)
    throw new LyricsOptionsError(`LyricsModule: ${rangeProblem(name, min, max)}`);
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
  clientController: boolean;
  callbackController: boolean;
}

/** Fills the defaults and refuses invalid options with one message naming the option (and the option bounding it). */
export function resolveLyricsSettings(options: LyricsModuleOptions, mounting: LyricsMounting): LyricsSettings {
  const accounts = resolveKieAccounts(options?.kie);
  if (mounting.clientController && typeof options.resolveOwner !== 'function') {
    throw new LyricsOptionsError(
      "LyricsModule: resolveOwner is required when the client controller is mounted (return the caller's owner id, or undefined for 401)",
    );
  }
  const route = options.kie.route ?? 'legacy';
  if (!(KIE_API_ROUTES as readonly unknown[]).includes(route)) {
    throw new LyricsOptionsError(`LyricsModule: kie.route must be one of ${KIE_API_ROUTES.join(', ')}`);
  }
  const timeoutMs = integer('kie.timeoutMs', options.kie.timeoutMs, 15000, 100, 600000);
  const publicBaseUrl = options.publicBaseUrl ? httpUrl('publicBaseUrl', options.publicBaseUrl) : undefined;
  const callbackBaseUrl =
    publicBaseUrl && mounting.callbackController ? [publicBaseUrl, mounting.routePrefix].filter(Boolean).join('/') : undefined;
  const given = Object.fromEntries(LYRICS_SETTING_NAMES.map((name) => [name, options[name]]));
  const tuning = checkLyricsSettings(given, {
    callbackUrl: callbackBaseUrl !== undefined,
    outside: { 'kie.timeoutMs': timeoutMs },
    nameOf: (reference) => reference,
  });
  if (tuning.problems.length > 0) throw new LyricsOptionsError(`LyricsModule: ${tuning.problems[0]}`);
  return {
    kie: {
      accounts,
      baseUrl: httpUrl('kie.baseUrl', options.kie.baseUrl ?? 'https://api.kie.ai'),
      route,
      timeoutMs,
      connectTimeoutMs: integer('kie.connectTimeoutMs', options.kie.connectTimeoutMs, 5000, 100, 600000),
    },
    callbackBaseUrl,
    resolveOwner: options.resolveOwner,
    ...tuning.values,
    receiptBodyMaxBytes: integer('receiptBodyMaxBytes', options.receiptBodyMaxBytes, 65536, 0, 1048576),
    runWorkers: options.runWorkers ?? true,
    webhooks: resolveWebhookOptions(options.webhooks ?? {}),
  };
}

/** A KIE account's name: 1 to 32 lower-case letters, digits, `_` and `-`, starting with a letter or digit. */
export const KIE_ACCOUNT_NAME = /^[a-z0-9][a-z0-9_-]{0,31}$/;

/** `kie.apiKey` (one account, `default`) or `kie.accounts`; problems name the account by position or name, never a key. */
function resolveKieAccounts(kie: LyricsModuleOptions['kie'] | undefined): ResolvedKieAccount[] {
  if (kie?.accounts !== undefined) {
    if (kie.apiKey !== undefined || kie.webhookHmacKey !== undefined) {
      throw new LyricsOptionsError('LyricsModule: give kie.apiKey (and kie.webhookHmacKey) or kie.accounts, not both');
    }
    if (!Array.isArray(kie.accounts) || kie.accounts.length === 0 || kie.accounts.length > 100) {
      throw new LyricsOptionsError('LyricsModule: kie.accounts must list 1 to 100 accounts');
    }
    const names = new Set<string>();
    const keys = new Set<string>();
    return kie.accounts.map((account, index) => {
      const label = `kie.accounts[${index}]`;
      if (typeof account?.name !== 'string' || !KIE_ACCOUNT_NAME.test(account.name)) {
        throw new LyricsOptionsError(
          `LyricsModule: ${label}.name must be 1 to 32 lower-case letters, digits, _ or -, starting with a letter or digit`,
        );
      }
      if (names.has(account.name)) throw new LyricsOptionsError(`LyricsModule: kie.accounts has two accounts named ${account.name}`);
      if (typeof account.apiKey !== 'string' || account.apiKey === '') {
        throw new LyricsOptionsError(`LyricsModule: kie.accounts ${account.name} needs an apiKey`);
      }
      if (keys.has(account.apiKey)) throw new LyricsOptionsError(`LyricsModule: kie.accounts ${account.name} has another account's apiKey`);
      names.add(account.name);
      keys.add(account.apiKey);
      return { name: account.name, apiKey: account.apiKey, webhookHmacKey: account.webhookHmacKey || undefined };
    });
  }
  if (!kie?.apiKey) throw new LyricsOptionsError('LyricsModule: kie.apiKey (or kie.accounts) is required');
  return [{ name: DEFAULT_KIE_ACCOUNT, apiKey: kie.apiKey, webhookHmacKey: kie.webhookHmacKey || undefined }];
}

function resolveWebhookOptions(options: WebhookOptions): Required<WebhookOptions> {
  const retryMs = options.retryMs ?? DEFAULT_WEBHOOK_RETRY_MS;
  if (!Array.isArray(retryMs) || retryMs.length > 20 || retryMs.some((ms) => !Number.isInteger(ms) || ms < 1 || ms > 7 * 86400000)) {
    throw new LyricsOptionsError('LyricsModule: webhooks.retryMs must be at most 20 integers from 1 to 604800000');
  }
  const allowedHosts = options.allowedHosts ?? [];
  if (!Array.isArray(allowedHosts) || allowedHosts.some((host) => typeof host !== 'string' || !/^[a-z0-9.-]+$/i.test(host))) {
    throw new LyricsOptionsError('LyricsModule: webhooks.allowedHosts must be host names');
  }
  return { retryMs: [...retryMs], publicOnly: options.publicOnly ?? true, allowedHosts: allowedHosts.map((host) => host.toLowerCase()) };
}
