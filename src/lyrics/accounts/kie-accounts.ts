import { KieClient } from '../kie/kie.client';

/** One configured KIE account: its name, a client speaking with its key, and its webhook HMAC key. */
export interface KieAccount {
  readonly name: string;
  readonly client: KieClient;
  readonly webhookHmacKey: string | undefined;
}

/**
 * The configured KIE accounts, in their configured order. A task's record-info reads and callback checks use the
 * account its create went out on; a task with no account recorded (sent before accounts were), or sent on an account
 * no longer configured, uses the first (keep an account configured until its tasks are final).
 */
export class KieAccounts {
  readonly names: string[];
  private readonly byName: ReadonlyMap<string, KieAccount>;

  constructor(readonly all: readonly KieAccount[]) {
    if (all.length === 0) throw new Error('KieAccounts needs at least one account');
    this.names = all.map((account) => account.name);
    this.byName = new Map(all.map((account) => [account.name, account]));
  }

  get first(): KieAccount {
    return this.all[0];
  }

  named(name: string): KieAccount | undefined {
    return this.byName.get(name);
  }

  /** The account a task was sent on (see the class). */
  ofTask(kieAccount: string | null): KieAccount {
    return (kieAccount === null ? undefined : this.byName.get(kieAccount)) ?? this.first;
  }
}
