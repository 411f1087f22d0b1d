import { Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { LYRICS_SETTINGS, LyricsSettings } from '../lyrics.options';
import { ReceiptStore } from '../persistence/receipt.store';

const PRUNE_EVERY_MS = 60 * 60 * 1000;
const BATCH = 5000;

/** Deletes callback receipts older than the retention setting, hourly, in small batches. */
@Injectable()
export class ReceiptPruner implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(ReceiptPruner.name);
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;

  constructor(
    @Inject(LYRICS_SETTINGS) private readonly settings: LyricsSettings,
    private readonly receipts: ReceiptStore,
  ) {}

  onApplicationBootstrap(): void {
    if (!this.settings.runWorkers || this.settings.receiptRetentionDays === 0) return;
    const run = () => (this.running = this.prune());
    void run();
    this.timer = setInterval(run, PRUNE_EVERY_MS).unref();
  }

  async onApplicationShutdown(): Promise<void> {
    clearInterval(this.timer);
    await this.running;
  }

  async prune(): Promise<void> {
    try {
      let deleted = 0;
      for (;;) {
        const count = await this.receipts.prune(this.settings.receiptRetentionDays, BATCH);
        deleted += count;
        if (count < BATCH) break;
      }
      if (deleted > 0) this.logger.log(`Pruned ${deleted} callback receipts older than ${this.settings.receiptRetentionDays} days`);
    } catch (error) {
      this.logger.error(`Pruning callback receipts failed: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
}
