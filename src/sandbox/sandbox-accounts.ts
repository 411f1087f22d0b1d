import type { ResolvedSandboxAccount, ResolvedSandboxOptions } from './sandbox-options';
import { SlidingWindow } from './sandbox-rate-limit';

/** The name of the one account the sandbox plays without `accounts`. */
export const POOL_ACCOUNT = 'default';

/** One account as it stands: its settings and what it has left. */
export interface AccountState {
  readonly name: string;
  readonly hmacKey?: string;
  readonly createLimit: { max: number; windowMs: number };
  credits: number;
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
      this.states.set(name, { name, hmacKey, createLimit, credits });
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

  /** Every account's credits as configured, empty windows. */
  reset(): void {
    for (const state of this.states.values()) state.credits = this.startCredits.get(state.name)!;
    this.windows.clear();
  }
}

function poolAccount(options: ResolvedSandboxOptions): Omit<ResolvedSandboxAccount, 'apiKey'> {
  return { name: POOL_ACCOUNT, hmacKey: options.hmacKey, createLimit: options.createLimit, credits: options.credits };
}
