import { Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { LYRICS_SETTINGS, LyricsSettings } from '../lyrics.options';
import { TaskStore } from '../persistence/task.store';
import { errorMessage } from '../error-message';

const RELEASE_EVERY_MS = 60 * 60 * 1000;
const BATCH = 5000;

/**
 * Unbinds idempotency keys older than idempotencyTtlHours, hourly, in small batches, so the unique index holds only
 * live keys. (A submission that reuses an expired key frees that key itself, so reuse never waits for this.)
 */
@Injectable()
export class IdempotencyKeyReleaser implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(IdempotencyKeyReleaser.name);
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;

  constructor(
    @Inject(LYRICS_SETTINGS) private readonly settings: LyricsSettings,
    private readonly tasks: TaskStore,
  ) {}

  onApplicationBootstrap(): void {
    if (!this.settings.runWorkers) return;
    const run = () => (this.running = this.release());
    void run();
    this.timer = setInterval(run, RELEASE_EVERY_MS).unref();
  }

  async onApplicationShutdown(): Promise<void> {
    clearInterval(this.timer);
    await this.running;
  }

  async release(): Promise<void> {
    try {
      let released = 0;
      for (;;) {
        const count = await this.tasks.releaseExpiredIdempotencyKeys(this.settings.idempotencyTtlHours, BATCH);
        released += count;
        if (count < BATCH) break;
      }
      if (released > 0) this.logger.log(`Released ${released} idempotency keys older than ${this.settings.idempotencyTtlHours} hours`);
    } catch (error) {
      this.logger.error(`Releasing idempotency keys failed: ${errorMessage(error)}`);
    }
  }
}
