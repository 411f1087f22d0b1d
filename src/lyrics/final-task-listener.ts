import { Inject, Injectable, Logger, OnModuleDestroy } from '@nestjs/common';
import { Notification, Pool, PoolClient } from 'pg';
import { DataSource } from 'typeorm';
import { LYRICS_DATA_SOURCE } from './lyrics.tokens';

/** The channel the one door notifies, inside its transaction, when a task becomes final (delivered on commit). */
export const FINAL_TASK_CHANNEL = 'lyrics_task_final';

/**
 * Hears, through PostgreSQL's LISTEN/NOTIFY, when any instance makes a task final, so that waiting for a task costs
 * no polling of the database. One pooled connection is held while anyone waits, and given back when nobody does.
 */
@Injectable()
export class FinalTaskListener implements OnModuleDestroy {
  private readonly logger = new Logger(FinalTaskListener.name);
  private readonly waiters = new Map<string, Set<() => void>>();
  private connection: Promise<PoolClient> | undefined;

  constructor(@Inject(LYRICS_DATA_SOURCE) private readonly dataSource: DataSource) {}

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
      await this.connect();
    } catch (error) {
      unsubscribe();
      throw error;
    }
    return unsubscribe;
  }

  async onModuleDestroy(): Promise<void> {
    this.wakeAll();
    await this.disconnect();
  }

  private connect(): Promise<PoolClient> {
    this.connection ??= (async () => {
      const pool = (this.dataSource.driver as unknown as { master: Pool }).master;
      const client = await pool.connect();
      client.on('notification', (message: Notification) => {
        if (message.channel === FINAL_TASK_CHANNEL && message.payload) this.waiters.get(message.payload)?.forEach((wake) => wake());
      });
      client.on('error', (error) => {
        this.logger.warn(`Lost the LISTEN connection: ${error.message}`);
        this.connection = undefined;
        client.release(true);
        this.wakeAll();
      });
      await client.query(`LISTEN ${FINAL_TASK_CHANNEL}`);
      return client;
    })().catch((error: unknown) => {
      this.connection = undefined;
      throw error;
    });
    return this.connection;
  }

  private async disconnect(): Promise<void> {
    const connection = this.connection;
    this.connection = undefined;
    if (!connection) return;
    const client = await connection.catch(() => undefined);
    if (!client) return;
    await client.query(`UNLISTEN ${FINAL_TASK_CHANNEL}`).catch(() => undefined);
    client.release();
  }

  private wakeAll(): void {
    this.waiters.forEach((set) => set.forEach((wake) => wake()));
  }
}
