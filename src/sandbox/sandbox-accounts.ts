import type { ResolvedSandboxAccount, ResolvedSandboxOptions } from './sandbox-options';
import { SlidingWindow } from './sandbox-rate-limit';
import type { SandboxAccount, SandboxAccountChange } from './sandbox-records';

/** The name of the one account the sandbox plays without `accounts`. */
export const POOL_ACCOUNT = 'default';

/** One account as it stands: its settings, what it has left, and whether its sub-key limit is reached. */
export interface AccountState {
  readonly name: string;
  readonly hmacKey?: string;
  readonly createLimit: { max: number; windowMs: number };
  credits: number;
  subKeyLimited: boolean;
}

/**
 * The KIE accounts the sandbox plays, and which bearer key selects which. Without `accounts` there is one, `default`,
 * selected by any of `apiKeys` (or any bearer when there are none), so that the single-account sandbox can be driven
 * like any other. Create windows are kept per bearer key: an account's own window with `accounts` (one key each), a
 * window per key of the one account without, as before accounts existed.
 */
export class SandboxAccounts {
  private readonly states = new Map<string, AccountState>();
  private readonly startCredits = new Map<string, number>();
  private readonly windows = new Map<string, SlidingWindow>();
  /** Undefined without `accounts`: every accepted key selects the one account. */
  private readonly byApiKey?: ReadonlyMap<string, AccountState>;

  constructor(private readonly options: ResolvedSandboxOptions) {
    for (const { name, hmacKey, createLimit, credits } of options.accounts ?? [poolAccount(options)]) {
      this.states.set(name, { name, hmacKey, createLimit, credits, subKeyLimited: false });
      this.startCredits.set(name, credits);
    }
    if (options.accounts) this.byApiKey = new Map(options.accounts.map(({ name, apiKey }) => [apiKey, this.states.get(name)!]));
  }

  /** The account a bearer key selects; undefined for a key it does not accept (KIE's 401). */
  select(key: string): AccountState | undefined {
    if (this.byApiKey) return this.byApiKey.get(key);
    const { apiKeys } = this.options;
    return apiKeys.size === 0 || apiKeys.has(key) ? this.states.get(POOL_ACCOUNT) : undefined;
  }

  windowOf(account: AccountState, key: string): SlidingWindow {
    let window = this.windows.get(key);
    if (!window) {
      window = new SlidingWindow(account.createLimit.max, account.createLimit.windowMs);
      this.windows.set(key, window);
    }
    return window;
  }

  /** The key that signs the callbacks of the account's tasks; undefined: they go unsigned. */
  hmacKeyOf(name: string | undefined): string | undefined {
    return name === undefined ? undefined : this.states.get(name)?.hmacKey;
  }

  list(): SandboxAccount[] {
    return [...this.states.values()].map(view);
  }

  has(name: string): boolean {
    return this.states.has(name);
  }

  /** Throws a RangeError for an unknown account or a change that is not one (see checkedChange). */
  set(name: string, change: SandboxAccountChange): SandboxAccount {
    const state = this.states.get(name);
    if (!state) throw new RangeError(`no sandbox account is named "${name}" (there are ${[...this.states.keys()].join(', ')})`);
    const { credits, subKeyLimited } = checkedChange(change);
    if (credits !== undefined) state.credits = credits;
    if (subKeyLimited !== undefined) state.subKeyLimited = subKeyLimited;
    return view(state);
  }

  /** Every account's credits as configured, no sub-key limit, empty windows. */
  reset(): void {
    for (const state of this.states.values()) {
      state.credits = this.startCredits.get(state.name)!;
      state.subKeyLimited = false;
    }
    this.windows.clear();
  }
}

function poolAccount(options: ResolvedSandboxOptions): Omit<ResolvedSandboxAccount, 'apiKey'> {
  return { name: POOL_ACCOUNT, hmacKey: options.hmacKey, createLimit: options.createLimit, credits: options.credits };
}

function view({ name, credits, subKeyLimited, createLimit }: AccountState): SandboxAccount {
  return { name, credits, subKeyLimited, createLimit: { ...createLimit } };
}

/** The change, checked wherever it comes from (code or JSON over HTTP); a RangeError names what is wrong. */
function checkedChange(change: unknown): SandboxAccountChange {
  if (typeof change !== 'object' || change === null || Array.isArray(change)) {
    throw new RangeError('an account change must be an object with credits and/or subKeyLimited');
  }
  const { credits, subKeyLimited, ...rest } = change as Record<string, unknown>;
  const unknown = Object.keys(rest);
  if (unknown.length > 0) throw new RangeError(`an account change has only credits and subKeyLimited, not ${unknown.join(', ')}`);
  if (credits !== undefined && !(typeof credits === 'number' && Number.isSafeInteger(credits) && credits >= 0)) {
    throw new RangeError(`credits must be an integer of at least 0, got ${JSON.stringify(credits)}`);
  }
  if (subKeyLimited !== undefined && typeof subKeyLimited !== 'boolean') {
    throw new RangeError(`subKeyLimited must be true or false, got ${JSON.stringify(subKeyLimited)}`);
  }
  return { credits, subKeyLimited };
}
