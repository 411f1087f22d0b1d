import { Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { LYRICS_SETTINGS, LyricsSettings } from '../lyrics.options';
import { LYRICS_DATA_SOURCE } from '../lyrics.tokens';

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
    @Inject(LYRICS_DATA_SOURCE) private readonly dataSource: DataSource,
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
        const [, count]: [unknown, number] = await this.dataSource.query(
          `DELETE FROM lyrics_callback_receipts WHERE id IN (
             SELECT id FROM lyrics_callback_receipts
             WHERE received_at < now() - make_interval(days => $1) LIMIT $2)`,
          [this.settings.receiptRetentionDays, BATCH],
        );
        deleted += count;
        if (count < BATCH) break;
      }
      if (deleted > 0) this.logger.log(`Pruned ${deleted} callback receipts older than ${this.settings.receiptRetentionDays} days`);
    } catch (error) {
      this.logger.error(`Pruning callback receipts failed: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
}
