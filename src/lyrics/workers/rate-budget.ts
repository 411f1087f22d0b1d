import { EntityManager } from 'typeorm';

/**
 * One upstream rate budget: `size` slot rows of a bucket in lyrics_rate_slots, shared by every instance. A call may
 * use a slot whose last use is at least one window old, so no window of `windowMs` ever holds more than `size`
 * calls. The caller sets a slot's time when it is taken and again when the answer arrives, so that KIE, whatever
 * the request's latency, never sees more than `size` calls inside its own window.
 */
export class RateBudget {
  constructor(
    readonly bucket: string,
    readonly size: number,
    readonly windowMs: number,
  ) {}

  /** Makes the bucket's slots match the configured size (the last instance to start decides). */
  async ensureSlots(manager: EntityManager): Promise<void> {
    await manager.query(
      `INSERT INTO lyrics_rate_slots (bucket, slot) SELECT $1, generate_series(1, $2) ON CONFLICT (bucket, slot) DO NOTHING`,
      [this.bucket, this.size],
    );
    await manager.query(`DELETE FROM lyrics_rate_slots WHERE bucket = $1 AND slot > $2`, [this.bucket, this.size]);
  }

  /**
   * Inside the caller's transaction: locks up to `limit` free slots, lets `take(n)` claim at most that many due rows,
   * and marks a slot used for each row taken (the other slots are let go at commit). With no free slot, says how
   * long until one frees instead.
   */
  async claim<T>(
    manager: EntityManager,
    limit: number,
    take: (count: number) => Promise<T[]>,
  ): Promise<{ claimed: (T & { slot: number })[]; slotsFree: number } | { claimed: []; budgetWaitMs: number }> {
    const slots = await this.lockFreeSlots(manager, limit);
    if (slots.length === 0) return { claimed: [], budgetWaitMs: await this.msUntilNextSlot(manager) };
    const rows = await take(slots.length);
    const claimed = rows.map((row, index) => ({ ...row, slot: slots[index] }));
    await this.markUsed(
      manager,
      claimed.map((row) => row.slot),
    );
    return { claimed, slotsFree: slots.length };
  }

  /** Locks up to `count` free slots inside the caller's transaction. */
  private async lockFreeSlots(manager: EntityManager, count: number): Promise<number[]> {
    const rows: { slot: number }[] = await manager.query(
      `SELECT slot FROM lyrics_rate_slots
       WHERE bucket = $1 AND used_at <= now() - make_interval(secs => $2::double precision / 1000)
       ORDER BY used_at LIMIT $3
       FOR UPDATE SKIP LOCKED`,
      [this.bucket, this.windowMs, count],
    );
    return rows.map((row) => row.slot);
  }

  async markUsed(manager: EntityManager, slots: number[]): Promise<void> {
    if (slots.length === 0) return;
    await manager.query(`UPDATE lyrics_rate_slots SET used_at = clock_timestamp() WHERE bucket = $1 AND slot = ANY($2)`, [
      this.bucket,
      slots,
    ]);
  }

  /** Milliseconds until the next slot frees (0 when one may be free now, though perhaps locked by another instance). */
  private async msUntilNextSlot(manager: EntityManager): Promise<number> {
    const [row]: { wait_ms: number | null }[] = await manager.query(
      `SELECT GREATEST(0, EXTRACT(EPOCH FROM (MIN(used_at) + make_interval(secs => $2::double precision / 1000) - clock_timestamp())) * 1000)::float8 AS wait_ms
       FROM lyrics_rate_slots WHERE bucket = $1 AND used_at > '-infinity'`,
      [this.bucket, this.windowMs],
    );
    return Math.ceil(row?.wait_ms ?? 0);
  }
}
