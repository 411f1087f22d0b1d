import { Inject, Injectable, Logger } from '@nestjs/common';
import { errorMessage } from '../error-message';
import { LYRICS_SETTINGS, LyricsSettings } from '../lyrics.options';
import { AccountStore } from '../persistence/account.store';
import { BackgroundWorker } from '../workers/background-worker';
import { DispatchSignal } from '../workers/dispatch-signal';
import { KieAccounts } from './kie-accounts';

/**
 * Reads the credits of paused KIE accounts, one probe per account every accountProbeMs across all instances (the
 * probe is claimed in lyrics_kie_accounts, by the database's clock), and resumes an account once its credits endpoint
 * shows credit. KIE's credits do not show a sub-key's usage, so an account paused for its sub-key limit also resumes
 * when credit shows: its next create either goes through or pauses it again (refused creates are not billed).
 */
@Injectable()
export class AccountProber extends BackgroundWorker {
  protected readonly logger = new Logger(AccountProber.name);

  constructor(
    @Inject(LYRICS_SETTINGS) private readonly settings: LyricsSettings,
    private readonly store: AccountStore,
    private readonly accounts: KieAccounts,
    private readonly dispatch: DispatchSignal,
  ) {
    super(settings.runWorkers, settings.accountProbeMs);
  }

  protected async round(): Promise<number> {
    const probeMs = this.settings.accountProbeMs;
    const due = await this.store.claimDueProbe({ names: this.accounts.names, probeMs });
    if (due) {
      await this.probe(due.name, due.reason);
      return 0; // another may be due too
    }
    return (await this.store.msUntilNextProbe(this.accounts.names)) ?? probeMs;
  }

  private async probe(name: string, reason: string): Promise<void> {
    const account = this.accounts.named(name);
    if (!account) return;
    try {
      const outcome = await account.client.getCredits();
      if (outcome.kind !== 'credits') {
        this.logger.warn(`KIE account ${name} (paused: ${reason}) credits unreadable: ${outcome.message}`);
      } else if (outcome.credits <= 0) {
        this.logger.log(`KIE account ${name} stays paused (${reason}): ${outcome.credits} credits`);
      } else if (await this.store.resume(name)) {
        this.logger.log(`KIE account ${name} resumed: ${outcome.credits} credits`);
        this.dispatch.notify();
      }
    } catch (error) {
      this.logger.error(`KIE account ${name} probe failed: ${errorMessage(error)}`);
    }
  }
}
