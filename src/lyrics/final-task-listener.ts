import { Injectable, Logger, OnModuleDestroy } from '@nestjs/common';
import { LyricsDatabase, Listening } from './persistence/lyrics-database';
import { FINAL_TASK_CHANNEL } from './persistence/tasks.sql';

/**
 * Hears, through PostgreSQL's LISTEN/NOTIFY, when any instance makes a task final, so that waiting for a task costs
 * no polling of the database. One pooled connection is held while anyone waits, and given back when nobody does.
 */
@Injectable()
export class FinalTaskListener implements OnModuleDestroy {
  private readonly logger = new Logger(FinalTaskListener.name);
  private readonly waiters = new Map<string, Set<() => void>>();
  private connection: Promise<Listening> | undefined;

  constructor(private readonly database: LyricsDatabase) {}

  /**
   * Calls `wake` when `taskId` may have become final (its notification, or a lost connection after which nothing
   * is known). Resolves once listening, so that a read made afterwards cannot miss the change; returns the
   * unsubscribe function.
   */
  async subscribe(taskId: string, wake: () => void): Promise<() => void> {
    const set = this.waiters.get(taskId) ?? new Set();
    set.add(wake);
    this.waiters.set(taskId, set);
    const unsubscribe = () => {
      set.delete(wake);
      if (set.size === 0) this.waiters.delete(taskId);
      if (this.waiters.size === 0) void this.disconnect();
    };
    try {
      await this.listening();
    } catch (error) {
      unsubscribe();
      throw error;
    }
    return unsubscribe;
  }

  /**
   * Resolves once listening: at once while the connection holds, after listening again when it was lost. A waiter
   * that stays subscribed across wakes awaits this before each read, so that no change after the read is missed.
   */
  async listening(): Promise<void> {
    await this.connect();
  }

  async onModuleDestroy(): Promise<void> {
    this.wakeAll();
    await this.disconnect();
  }

  private connect(): Promise<Listening> {
    this.connection ??= this.database
      .listen(
        FINAL_TASK_CHANNEL,
        (taskId) => this.waiters.get(taskId)?.forEach((wake) => wake()),
        (error) => {
          this.logger.warn(`Lost the LISTEN connection: ${error.message}`);
          this.connection = undefined;
          this.wakeAll();
        },
      )
      .catch((error: unknown) => {
        this.connection = undefined;
        throw error;
      });
    return this.connection;
  }

  private async disconnect(): Promise<void> {
    const connection = this.connection;
    this.connection = undefined;
    const listening = await connection?.catch(() => undefined);
    await listening?.stop();
  }

  private wakeAll(): void {
    this.waiters.forEach((set) => set.forEach((wake) => wake()));
  }
}
