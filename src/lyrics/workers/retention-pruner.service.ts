import { Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { LYRICS_SETTINGS, LyricsSettings } from '../lyrics.options';
import { EventStore } from '../persistence/event.store';
import { ReceiptStore } from '../persistence/receipt.store';
import { errorMessage } from '../error-message';

const PRUNE_EVERY_MS = 60 * 60 * 1000;
const BATCH = 5000;

/** A table whose rows are kept `days` (0: forever), and the statement that deletes a batch of older ones. */
interface Retention {
  what: string;
  days: number;
  prune: (days: number, batch: number) => Promise<number>;
}

/** Deletes callback receipts and final events older than their retention settings, hourly, in small batches. */
@Injectable()
export class RetentionPruner implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(RetentionPruner.name);
  private readonly retentions: Retention[];
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;

  constructor(
    @Inject(LYRICS_SETTINGS) private readonly settings: LyricsSettings,
    receipts: ReceiptStore,
    events: EventStore,
  ) {
    const all: Retention[] = [
      { what: 'callback receipts', days: settings.receiptRetentionDays, prune: (days, batch) => receipts.prune(days, batch) },
      { what: 'events', days: settings.eventRetentionDays, prune: (days, batch) => events.prune(days, batch) },
    ];
    this.retentions = all.filter((retention) => retention.days > 0);
  }

  onApplicationBootstrap(): void {
    if (!this.settings.runWorkers || this.retentions.length === 0) return;
    const run = () => (this.running = this.prune());
    void run();
    this.timer = setInterval(run, PRUNE_EVERY_MS).unref();
  }

  async onApplicationShutdown(): Promise<void> {
    clearInterval(this.timer);
    await this.running;
  }

  async prune(): Promise<void> {
    for (const { what, days, prune } of this.retentions) {
      try {
        let deleted = 0;
        for (;;) {
          const count = await prune(days, BATCH);
          deleted += count;
          if (count < BATCH) break;
        }
        if (deleted > 0) this.logger.log(`Pruned ${deleted} ${what} older than ${days} days`);
      } catch (error) {
        this.logger.error(`Pruning ${what} failed: ${errorMessage(error)}`);
      }
    }
  }
}
