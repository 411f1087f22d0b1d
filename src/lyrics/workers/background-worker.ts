import { BeforeApplicationShutdown, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { errorMessage } from '../error-message';

/** Floor of the pause between rounds when work exists but is held by others (locked rows or slots). */
export const MIN_WAIT_MS = 20;

/**
 * A loop that claims due rows from the task table in rounds (the table is the queue). Between rounds it sleeps for
 * as long as the round said, unless woken; the work a round starts runs concurrently and is tracked, so that a
 * shutdown stops claiming first and then lets that work finish.
 */
export abstract class BackgroundWorker implements OnApplicationBootstrap, BeforeApplicationShutdown {
  protected abstract readonly logger: Logger;
  private readonly inFlight = new Set<Promise<void>>();
  private loop: Promise<void> | undefined;
  private stopped = false;
  private wakeUp: (() => void) | undefined;
  private woken = false;

  constructor(
    private readonly enabled: boolean,
    private readonly idleMs: number,
  ) {}

  /** Claims and starts what is due; returns how long to wait before the next round. */
  protected abstract round(): Promise<number>;

  /** Runs once before the first round. */
  protected async prepare(): Promise<void> {}

  /** Waits for the work in flight at shutdown; override to bound the wait. */
  protected async drain(inFlight: Promise<void>[]): Promise<void> {
    await Promise.allSettled(inFlight);
  }

  async onApplicationBootstrap(): Promise<void> {
    if (!this.enabled) return;
    await this.prepare();
    this.loop = this.run();
  }

  async beforeApplicationShutdown(): Promise<void> {
    this.stopped = true;
    this.wake();
    await this.loop;
    await this.drain([...this.inFlight]);
  }

  wake(): void {
    this.woken = true;
    this.wakeUp?.();
  }

  /** Shutdown has begun: no new work may start. */
  protected get stopping(): boolean {
    return this.stopped;
  }

  protected get busy(): number {
    return this.inFlight.size;
  }

  /** Runs `work` alongside the loop; its end wakes the loop, since it frees a place. */
  protected track(work: Promise<void>): void {
    const tracked: Promise<void> = work.finally(() => {
      this.inFlight.delete(tracked);
      this.wake();
    });
    this.inFlight.add(tracked);
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      let waitMs = this.idleMs;
      try {
        waitMs = Math.min(waitMs, await this.round());
      } catch (error) {
        this.logger.error(`Round failed: ${errorMessage(error)}`);
      }
      await this.sleep(waitMs);
    }
  }

  private sleep(ms: number): Promise<void> {
    if (this.woken || this.stopped) {
      this.woken = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.wakeUp = undefined;
        this.woken = false;
        resolve();
      };
      const timer = setTimeout(done, Math.max(0, ms));
      this.wakeUp = done;
    });
  }
}
