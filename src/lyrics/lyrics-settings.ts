import type { LyricsTuningOptions } from './lyrics.options';

/** What a bound can refer to besides another setting of the table: values the module resolves on its own. */
export type LyricsOutsideValue = 'kie.timeoutMs';

export type LyricsSettingName = keyof LyricsTuningOptions;

export type LyricsSettingReference = LyricsSettingName | LyricsOutsideValue;

interface IntegerSetting {
  env: `LYRICS_${string}`;
  type: 'integer';
  /** A number, or one for each mounting when it matters whether KIE is given a callback URL. */
  default: number | { withCallbackUrl: number; withoutCallbackUrl: number };
  min: number;
  max: number;
  /** The setting must also be at least this other value. */
  atLeast?: LyricsSettingReference;
  /** The setting must also be greater than this other value. */
  above?: LyricsSettingReference;
  /** One line for the README's configuration table. */
  doc: string;
}

interface BooleanSetting {
  env: `LYRICS_${string}`;
  type: 'boolean';
  default: boolean;
  doc: string;
}

export type LyricsSettingSpec = IntegerSetting | BooleanSetting;

type SettingFor<Value> = Value extends number ? IntegerSetting : BooleanSetting;

/**
 * Every tuning option of the module, defined once: the environment variable the service reads it from, its type,
 * default, bounds and meaning. resolveLyricsSettings, the service's environment validation and the README's
 * configuration table are derived from it. `satisfies` makes an option without an entry, an entry without an
 * option, or an entry of the wrong type a compile error. The order is the README's.
 */
export const LYRICS_SETTING_TABLE = {
  maxActivePerOwner: {
    env: 'LYRICS_MAX_ACTIVE_PER_OWNER',
    type: 'integer',
    default: 10000,
    min: 1,
    max: 10000000,
    doc: 'unfinished (queued or submitted) tasks one owner may hold; beyond, POST /lyrics answers 429',
  },
  maxLongPolls: {
    env: 'LYRICS_MAX_LONG_POLLS',
    type: 'integer',
    default: 1000,
    min: 0,
    max: 100000,
    doc: 'long polls (`GET /lyrics/:id?waitSeconds=N`) waiting at once per instance; beyond, the task is answered at once as it is',
  },
  idempotencyTtlHours: {
    env: 'LYRICS_IDEMPOTENCY_TTL_HOURS',
    type: 'integer',
    default: 24,
    min: 1,
    max: 8760,
    doc: 'hours an Idempotency-Key stays bound to its task after first use; later it may be used again',
  },
  promptMaxChars: {
    env: 'LYRICS_PROMPT_MAX_CHARS',
    type: 'integer',
    default: 200,
    min: 1,
    max: 100000,
    doc: 'longest prompt, in Unicode code points after trimming',
  },
  createBudget: {
    env: 'LYRICS_CREATE_BUDGET',
    type: 'integer',
    default: 20,
    min: 1,
    max: 10000,
    doc: "creates allowed per sliding window, across all instances (KIE's account limit)",
  },
  createWindowMs: {
    env: 'LYRICS_CREATE_WINDOW_MS',
    type: 'integer',
    default: 10000,
    min: 1,
    max: 3600000,
    doc: "the create budget's sliding window",
  },
  dispatchIntervalMs: {
    env: 'LYRICS_DISPATCH_INTERVAL_MS',
    type: 'integer',
    default: 1000,
    min: 10,
    max: 600000,
    doc: 'how often an idle instance looks for due work (creates, checks and deliveries)',
  },
  dispatchConcurrency: {
    env: 'LYRICS_DISPATCH_CONCURRENCY',
    type: 'integer',
    default: 4,
    min: 1,
    max: 100,
    doc: 'creates in flight at once per instance',
  },
  createRetryBaseMs: {
    env: 'LYRICS_CREATE_RETRY_BASE_MS',
    type: 'integer',
    default: 2000,
    min: 1,
    max: 3600000,
    doc: 'first backoff of a throttled or unsent create',
  },
  createRetryMaxMs: {
    env: 'LYRICS_CREATE_RETRY_MAX_MS',
    type: 'integer',
    default: 60000,
    min: 1,
    max: 86400000,
    atLeast: 'createRetryBaseMs',
    doc: "longest backoff of a throttled or unsent create, and the cap on KIE's `Retry-After` for creates",
  },
  leaseMs: {
    env: 'LYRICS_LEASE_MS',
    type: 'integer',
    default: 60000,
    min: 1000,
    max: 3600000,
    above: 'kie.timeoutMs',
    doc: 'how long a claim holds a task, or an event for host handlers (a claim must outlast an upstream request)',
  },
  pollInitialDelayMs: {
    env: 'LYRICS_POLL_INITIAL_DELAY_MS',
    type: 'integer',
    // Without a callback URL there is no callback to wait for.
    default: { withCallbackUrl: 30000, withoutCallbackUrl: 3000 },
    min: 0,
    max: 86400000,
    doc: 'first record-info check after submission',
  },
  pollIntervalMs: {
    env: 'LYRICS_POLL_INTERVAL_MS',
    type: 'integer',
    default: 10000,
    min: 1,
    max: 86400000,
    doc: 'wait after the first unfinished check, doubling (with jitter) up to the longest wait',
  },
  pollMaxIntervalMs: {
    env: 'LYRICS_POLL_MAX_INTERVAL_MS',
    type: 'integer',
    default: 300000,
    min: 1,
    max: 86400000,
    atLeast: 'pollIntervalMs',
    doc: "longest wait between two checks of one task, and the cap on KIE's `Retry-After` for record-info",
  },
  pollBudget: {
    env: 'LYRICS_POLL_BUDGET',
    type: 'integer',
    default: 100,
    min: 1,
    max: 100000,
    doc: 'record-info reads allowed per sliding window, across all instances',
  },
  pollWindowMs: {
    env: 'LYRICS_POLL_WINDOW_MS',
    type: 'integer',
    default: 10000,
    min: 1,
    max: 3600000,
    doc: "the poll budget's sliding window",
  },
  pollConcurrency: {
    env: 'LYRICS_POLL_CONCURRENCY',
    type: 'integer',
    default: 4,
    min: 1,
    max: 100,
    doc: 'record-info reads in flight at once per instance',
  },
  taskMaxAgeMs: {
    env: 'LYRICS_TASK_MAX_AGE_MS',
    type: 'integer',
    default: 1800000,
    min: 1000,
    max: 30 * 86400000,
    doc: 'a task unfinished this long after submission fails as `timed_out`',
  },
  queueMaxAgeMs: {
    env: 'LYRICS_QUEUE_MAX_AGE_MS',
    type: 'integer',
    default: 86400000,
    min: 1000,
    max: 30 * 86400000,
    doc: 'a task still unsent this long after submission (every account throttled or out of credits) fails as `queue_expired`',
  },
  accountProbeMs: {
    env: 'LYRICS_ACCOUNT_PROBE_MS',
    type: 'integer',
    default: 60000,
    min: 100,
    max: 86400000,
    doc: "how often a paused KIE account's credits are read (paused by a 402 or 433 answer; it resumes once credits show)",
  },
  shutdownGraceMs: {
    env: 'LYRICS_SHUTDOWN_GRACE_MS',
    type: 'integer',
    default: 10000,
    min: 0,
    max: 600000,
    doc: 'at shutdown, how long work in flight may run before its claims are given back',
  },
  signatureToleranceSeconds: {
    env: 'LYRICS_SIGNATURE_TOLERANCE_S',
    type: 'integer',
    default: 300,
    min: 1,
    max: 86400,
    doc: "accepted age (either way) of a callback signature's timestamp, in seconds",
  },
  confirmCallbacks: {
    env: 'LYRICS_CONFIRM_CALLBACKS',
    type: 'boolean',
    default: false,
    doc: "confirm each callback's result with record-info before storing it (KIE does not sign bodies)",
  },
  receiptRetentionDays: {
    env: 'LYRICS_RECEIPT_RETENTION_DAYS',
    type: 'integer',
    default: 30,
    min: 0,
    max: 36500,
    doc: 'days callback receipts are kept (0: forever)',
  },
  eventRetentionDays: {
    env: 'LYRICS_EVENT_RETENTION_DAYS',
    type: 'integer',
    default: 30,
    min: 0,
    max: 36500,
    doc: 'days final events (the feed) are kept (0: forever)',
  },
  webhookTimeoutMs: {
    env: 'LYRICS_WEBHOOK_TIMEOUT_MS',
    type: 'integer',
    default: 15000,
    min: 100,
    max: 120000,
    doc: "a client webhook's time to answer 2xx; later, the attempt failed and is retried",
  },
  webhookSecretOverlapSeconds: {
    env: 'LYRICS_WEBHOOK_SECRET_OVERLAP_S',
    type: 'integer',
    default: 86400,
    min: 0,
    max: 30 * 86400,
    doc: "after a webhook secret's rotation, how long deliveries also carry the old secret's signature, in seconds",
  },
  webhookConcurrency: {
    env: 'LYRICS_WEBHOOK_CONCURRENCY',
    type: 'integer',
    // Sixteen owners' worth of the per-owner cap: that many slow receivers before a fast one waits for a place.
    default: 128,
    min: 1,
    max: 1000,
    doc: 'webhook deliveries in flight at once per instance',
  },
  webhookOwnerConcurrency: {
    env: 'LYRICS_WEBHOOK_OWNER_CONCURRENCY',
    type: 'integer',
    default: 8,
    min: 1,
    max: 1000,
    doc: "one owner's webhook deliveries in flight at once per instance: a slow receiver holds no more of its places",
  },
  receiptsPerTask: {
    env: 'LYRICS_RECEIPTS_PER_TASK',
    type: 'integer',
    default: 50,
    min: 1,
    max: 10000,
    doc: "receipts kept per task; a task's later callbacks are handled and counted but not stored",
  },
} as const satisfies { [Name in LyricsSettingName]-?: SettingFor<NonNullable<LyricsTuningOptions[Name]>> };

export const LYRICS_SETTING_NAMES = Object.keys(LYRICS_SETTING_TABLE) as LyricsSettingName[];

export type LyricsTuningValues = Required<LyricsTuningOptions>;

export interface LyricsSettingContext {
  /** Whether KIE is given a callback URL: some defaults depend on it. */
  callbackUrl: boolean;
  /** The outside values bounds refer to; undefined when already refused, so that no bound repeats the problem. */
  outside: Record<LyricsOutsideValue, number | undefined>;
  /** How messages name a setting or an outside value: the module by option, the service by environment variable. */
  nameOf: (reference: LyricsSettingReference) => string;
}

export function lyricsSettingSpec(name: LyricsSettingName): LyricsSettingSpec {
  return LYRICS_SETTING_TABLE[name];
}

export function rangeProblem(label: string, min: number, max: number): string {
  return `${label} must be an integer from ${min} to ${max}`;
}

function defaultValue(spec: LyricsSettingSpec, context: LyricsSettingContext): number | boolean {
  if (typeof spec.default !== 'object') return spec.default;
  return context.callbackUrl ? spec.default.withCallbackUrl : spec.default.withoutCallbackUrl;
}

function isValid(spec: LyricsSettingSpec, value: unknown): boolean {
  if (spec.type === 'boolean') return typeof value === 'boolean';
  return typeof value === 'number' && Number.isInteger(value) && value >= spec.min && value <= spec.max;
}

/**
 * Fills the defaults of `given` (unset: undefined) and checks every value against its type and bounds, bounds that
 * refer to another value included. The values are usable only when there are no problems; each problem is one
 * sentence naming the setting (and the setting it is bounded by, with its value) as `context.nameOf` does, never echoing
 * the value refused.
 */
export function checkLyricsSettings(
  given: Partial<Record<LyricsSettingName, unknown>>,
  context: LyricsSettingContext,
): { values: LyricsTuningValues; problems: string[] } {
  const values = Object.fromEntries(
    LYRICS_SETTING_NAMES.map((name) => [name, given[name] ?? defaultValue(lyricsSettingSpec(name), context)]),
  ) as Record<LyricsSettingName, unknown>;
  const valid = (reference: LyricsSettingReference): number | undefined => {
    if (reference in context.outside) return context.outside[reference as LyricsOutsideValue];
    const name = reference as LyricsSettingName;
    return isValid(lyricsSettingSpec(name), values[name]) ? (values[name] as number) : undefined;
  };
  const problems: string[] = [];
  for (const name of LYRICS_SETTING_NAMES) {
    const spec = lyricsSettingSpec(name);
    const label = context.nameOf(name);
    if (!isValid(spec, values[name])) {
      problems.push(spec.type === 'boolean' ? `${label} must be true or false` : rangeProblem(label, spec.min, spec.max));
      continue;
    }
    if (spec.type === 'boolean') continue;
    const value = values[name] as number;
    if (spec.atLeast) {
      const floor = valid(spec.atLeast);
      if (floor !== undefined && value < floor) problems.push(`${label} must be at least ${context.nameOf(spec.atLeast)} (${floor})`);
    }
    if (spec.above) {
      const floor = valid(spec.above);
      if (floor !== undefined && value <= floor) problems.push(`${label} must be greater than ${context.nameOf(spec.above)} (${floor})`);
    }
  }
  return { values: values as LyricsTuningValues, problems };
}
