import { Statement } from './lyrics-database';
import { msInterval, named, unnamed } from './sql';

/** Every statement lyrics_rate_slots sees: one row per slot of an upstream rate budget ("bucket"). */

/** Adds the bucket's missing slots up to `size` (unused: free at once). */
export function addSlots(input: { bucket: string; size: number }): Statement {
  return unnamed(`INSERT INTO lyrics_rate_slots (bucket, slot) SELECT $1, generate_series(1, $2) ON CONFLICT (bucket, slot) DO NOTHING`, [
    input.bucket,
    input.size,
  ]);
}

/** Removes the bucket's slots beyond `size`. */
export function removeSlotsBeyond(input: { bucket: string; size: number }): Statement {
  return unnamed(`DELETE FROM lyrics_rate_slots WHERE bucket = $1 AND slot > $2`, [input.bucket, input.size]);
}

/** Locks up to `count` slots last used at least one window ago, least recently used first. */
export function lockFreeSlots(input: { bucket: string; windowMs: number; count: number }): Statement {
  return named(
    'lock_free_slots',
    `SELECT slot FROM lyrics_rate_slots
     WHERE bucket = $1 AND used_at <= now() - ${msInterval('$2')}
     ORDER BY used_at LIMIT $3
     FOR UPDATE SKIP LOCKED`,
    [input.bucket, input.windowMs, input.count],
  );
}

export function markSlotsUsed(input: { bucket: string; slots: number[] }): Statement {
  return named('mark_slots_used', `UPDATE lyrics_rate_slots SET used_at = clock_timestamp() WHERE bucket = $1 AND slot = ANY($2::int[])`, [
    input.bucket,
    input.slots,
  ]);
}

/** Milliseconds until the bucket's next slot frees (0 when one may be free now); NULL before any slot was used. */
export function msUntilNextSlot(input: { bucket: string; windowMs: number }): Statement {
  return named(
    'ms_until_next_slot',
    `SELECT GREATEST(0, EXTRACT(EPOCH FROM (MIN(used_at) + ${msInterval('$2')} - clock_timestamp())) * 1000)::float8 AS "waitMs"
     FROM lyrics_rate_slots WHERE bucket = $1 AND used_at > '-infinity'`,
    [input.bucket, input.windowMs],
  );
}
