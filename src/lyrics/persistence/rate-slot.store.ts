import { Injectable } from '@nestjs/common';
import { LyricsDatabase, SqlExecutor } from './lyrics-database';
import * as sql from './rate-slots.sql';
import { waitMsOf } from './sql';

/** One locked free create slot, of an account with `room` free slots in its window. */
export interface FreeCreateSlot {
  account: string;
  slot: number;
  room: number;
}

/** lyrics_rate_slots: the upstream rate budgets every instance shares (see RateBudget). */
@Injectable()
export class RateSlotStore {
  constructor(private readonly db: LyricsDatabase) {}

  /** Makes the bucket's slots match `size` (the last instance to start decides). */
  async resize(bucket: string, size: number): Promise<void> {
    await this.db.count(sql.addSlots({ bucket, size }));
    await this.db.count(sql.removeSlotsBeyond({ bucket, size }));
  }

  async lockFree(tx: SqlExecutor, input: Parameters<typeof sql.lockFreeSlots>[0]): Promise<number[]> {
    return (await tx.rows<{ slot: number }>(sql.lockFreeSlots(input))).map((row) => row.slot);
  }

  async markUsed(bucket: string, slots: number[], tx: SqlExecutor = this.db): Promise<void> {
    if (slots.length > 0) await tx.count(sql.markSlotsUsed({ bucket, slots }));
  }

  /** Free create slots of the usable accounts, locked (see lockFreeCreateSlots). */
  lockFreeCreateSlots(tx: SqlExecutor, input: Parameters<typeof sql.lockFreeCreateSlots>[0]): Promise<FreeCreateSlot[]> {
    return tx.rows<FreeCreateSlot>(sql.lockFreeCreateSlots(input));
  }

  /** Milliseconds until a usable account's next create slot frees; undefined when none is usable or none was used. */
  async msUntilNextCreateSlot(tx: SqlExecutor, input: Parameters<typeof sql.msUntilNextCreateSlot>[0]): Promise<number | undefined> {
    return waitMsOf(await tx.rows<{ waitMs: number | null }>(sql.msUntilNextCreateSlot(input)));
  }

  /** Milliseconds until the bucket's next slot frees (0 when one may be free now, though perhaps locked). */
  async msUntilNextSlot(tx: SqlExecutor, input: Parameters<typeof sql.msUntilNextSlot>[0]): Promise<number> {
    const [row] = await tx.rows<{ waitMs: number | null }>(sql.msUntilNextSlot(input));
    return Math.ceil(row?.waitMs ?? 0);
  }
}
