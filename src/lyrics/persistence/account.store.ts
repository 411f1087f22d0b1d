import { Injectable } from '@nestjs/common';
import { AccountPauseReason } from '../entities/lyrics-kie-account.entity';
import { LyricsDatabase } from './lyrics-database';
import * as sql from './accounts.sql';
import { waitMsOf } from './sql';

/** A KIE account as the instances see it: usable, or paused since when and why. */
export interface AccountState {
  name: string;
  pausedReason: AccountPauseReason | null;
  pausedAt: Date | null;
}

/** lyrics_kie_accounts: which KIE accounts take creates, and the queue of probes of the paused ones. */
@Injectable()
export class AccountStore {
  constructor(private readonly db: LyricsDatabase) {}

  async register(names: string[]): Promise<void> {
    await this.db.count(sql.registerAccounts(names));
  }

  /** True when this call paused it (it was usable until now). */
  async pause(input: Parameters<typeof sql.pauseAccount>[0]): Promise<boolean> {
    return (await this.db.count(sql.pauseAccount(input))) > 0;
  }

  async claimDueProbe(input: Parameters<typeof sql.claimDueProbe>[0]): Promise<{ name: string; reason: AccountPauseReason } | undefined> {
    return (await this.db.rows<{ name: string; reason: AccountPauseReason }>(sql.claimDueProbe(input)))[0];
  }

  /** True when this call resumed it (it was paused until now). */
  async resume(name: string): Promise<boolean> {
    return (await this.db.count(sql.resumeAccount(name))) > 0;
  }

  /** Milliseconds until the next probe falls due (at least 0); undefined when no account is paused. */
  async msUntilNextProbe(names: string[]): Promise<number | undefined> {
    return waitMsOf(await this.db.rows<{ waitMs: number | null }>(sql.msUntilNextProbe(names)));
  }

  states(names: string[]): Promise<AccountState[]> {
    return this.db.rows<AccountState>(sql.accountStates(names));
  }
}
