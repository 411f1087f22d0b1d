import { LyricsDatabase, SqlExecutor } from '../persistence/lyrics-database';
import { LyricsSettings } from '../lyrics.options';
import { RateSlotStore } from '../persistence/rate-slot.store';

/**
 * One upstream rate budget (the record-info reads'; creates have one per KIE account, see CreateBudgets): `size`
 * slot rows of a bucket in lyrics_rate_slots, shared by every instance. A call may use a slot whose last use is at
 * least one window old, so no window of `windowMs` ever holds more than `size` calls. The caller sets a slot's time
 * when it is taken and again when the answer arrives, so that KIE, whatever the request's latency, never sees more
 * than `size` calls inside its own window.
 */
export class RateBudget {
  /** The record-info budget, shared by every instance's poller and confirming callbacks. */
  static recordInfo(slots: RateSlotStore, settings: LyricsSettings): RateBudget {
    return new RateBudget(slots, 'record-info', settings.pollBudget, settings.pollWindowMs);
  }

  constructor(
    private readonly slots: RateSlotStore,
    readonly bucket: string,
    readonly size: number,
    readonly windowMs: number,
  ) {}

  ensureSlots(): Promise<void> {
    return this.slots.resize(this.bucket, this.size);
  }

  /**
   * Inside the caller's transaction: locks up to `limit` free slots, lets `take(n)` claim at most that many due rows,
   * and marks a slot used for each row taken (the other slots are let go at commit). With no free slot, says how
   * long until one frees instead.
   */
  async claim<T>(
    tx: SqlExecutor,
    limit: number,
    take: (count: number) => Promise<T[]>,
  ): Promise<{ claimed: (T & { slot: number })[]; slotsFree: number } | { claimed: []; budgetWaitMs: number }> {
    const free = await this.slots.lockFree(tx, { bucket: this.bucket, windowMs: this.windowMs, count: limit });
    if (free.length === 0) {
      return { claimed: [], budgetWaitMs: await this.slots.msUntilNextSlot(tx, { bucket: this.bucket, windowMs: this.windowMs }) };
    }
    const rows = await take(free.length);
    const claimed = rows.map((row, index) => ({ ...row, slot: free[index] }));
    await this.slots.markUsed(
      this.bucket,
      claimed.map((row) => row.slot),
      tx,
    );
    return { claimed, slotsFree: free.length };
  }

  /** One slot for a call of its own (not a claim of due rows), or undefined when none is free right now. */
  takeOne(database: LyricsDatabase): Promise<number | undefined> {
    return database.transaction(async (tx) => {
      const [slot] = await this.slots.lockFree(tx, { bucket: this.bucket, windowMs: this.windowMs, count: 1 });
      if (slot !== undefined) await this.slots.markUsed(this.bucket, [slot], tx);
      return slot;
    });
  }

  /** Counts the slot from now: the upstream call it was taken for has just been answered. */
  markAnswered(slot: number): Promise<void> {
    return this.slots.markUsed(this.bucket, [slot]);
  }
}
