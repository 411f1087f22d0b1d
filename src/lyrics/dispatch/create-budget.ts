import { EntityManager } from 'typeorm';

/**
 * The global create budget (DESIGN.md invariant 5): B slot rows in PostgreSQL, shared by every instance. A create
 * may use a slot whose last use is at least one window old, so no window of W ms ever holds more than B creates.
 * A slot's time is set when it is taken and again when the create's answer arrives, so that KIE, whatever the
 * request's latency, never sees B + 1 creates inside a window.
 */
export class CreateBudget {
  constructor(
    readonly size: number,
    readonly windowMs: number,
  ) {}

  /** Makes the slot table match the configured size (the last instance to start decides). */
  async ensureSlots(manager: EntityManager): Promise<void> {
    await manager.query(
      `INSERT INTO lyrics_create_slots (slot) SELECT generate_series(1, $1) ON CONFLICT (slot) DO NOTHING`,
      [this.size],
    );
    await manager.query(`DELETE FROM lyrics_create_slots WHERE slot > $1`, [this.size]);
  }

  /** Locks up to `count` free slots inside the caller's transaction. */
  async lockFreeSlots(manager: EntityManager, count: number): Promise<number[]> {
    const rows: { slot: number }[] = await manager.query(
      `SELECT slot FROM lyrics_create_slots
       WHERE used_at <= clock_timestamp() - make_interval(secs => $1::double precision / 1000)
       ORDER BY used_at LIMIT $2
       FOR UPDATE SKIP LOCKED`,
      [this.windowMs, count],
    );
    return rows.map((row) => row.slot);
  }

  async markUsed(manager: EntityManager, slots: number[]): Promise<void> {
    if (slots.length === 0) return;
    await manager.query(`UPDATE lyrics_create_slots SET used_at = clock_timestamp() WHERE slot = ANY($1)`, [slots]);
  }

  /** Milliseconds until the next slot frees (0 if one is free now). */
  async msUntilNextSlot(manager: EntityManager): Promise<number> {
    const [row]: { wait_ms: number | null }[] = await manager.query(
      `SELECT GREATEST(0, EXTRACT(EPOCH FROM (MIN(used_at) + make_interval(secs => $1::double precision / 1000) - clock_timestamp())) * 1000)::float8 AS wait_ms
       FROM lyrics_create_slots WHERE used_at > '-infinity'`,
      [this.windowMs],
    );
    return Math.ceil(row?.wait_ms ?? 0);
  }
}
