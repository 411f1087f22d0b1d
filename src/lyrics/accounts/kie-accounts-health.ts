import { performance } from 'node:perf_hooks';
import { Injectable } from '@nestjs/common';
import { AccountPauseReason } from '../entities/lyrics-kie-account.entity';
import { KieCreditsOutcome } from '../kie/kie.types';
import { AccountStore } from '../persistence/account.store';
import { KieAccounts } from './kie-accounts';

/** A KIE account as a health check reports it: its name (never its key), and why and since when it is paused. */
export interface KieAccountState {
  name: string;
  paused: { reason: AccountPauseReason; since: Date } | null;
}

/**
 * The KIE accounts for health checks: which are paused (as every instance sees it, from PostgreSQL) and their
 * remaining credits (read from KIE at most once per period and account, never by a create).
 */
@Injectable()
export class KieAccountsHealth {
  private readonly cachedCredits = new Map<string, { at: number; outcome: Promise<KieCreditsOutcome> }>();

  constructor(
    private readonly accounts: KieAccounts,
    private readonly store: AccountStore,
  ) {}

  /** Every configured account, in configured order. */
  async states(): Promise<KieAccountState[]> {
    const rows = await this.store.states(this.accounts.names);
    return this.accounts.names.map((name) => {
      const row = rows.find((state) => state.name === name);
      return { name, paused: row?.pausedReason && row.pausedAt ? { reason: row.pausedReason, since: row.pausedAt } : null };
    });
  }

  /** Every configured account's credits, each read at most once per `maxAgeMs`. */
  credits(maxAgeMs: number): Promise<{ name: string; outcome: KieCreditsOutcome }[]> {
    return Promise.all(
      this.accounts.all.map(async ({ name, client }) => {
        let cached = this.cachedCredits.get(name);
        if (!cached || performance.now() - cached.at > maxAgeMs) {
          cached = { at: performance.now(), outcome: client.getCredits() };
          this.cachedCredits.set(name, cached);
        }
        return { name, outcome: await cached.outcome };
      }),
    );
  }
}
