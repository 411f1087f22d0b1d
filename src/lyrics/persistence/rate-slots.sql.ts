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

/** The create budget's bucket of a KIE account. */
export const createBucket = (account: string) => `create:${account}`;

/**
 * For each usable (unpaused) account among `names`: up to `count` of its free create slots, locked, least recently
 * used first, each row with the account's room (its free slots, locked by others or not) in the current window.
 * Accounts with no free slot give no row.
 */
export function lockFreeCreateSlots(input: { names: string[]; windowMs: number; count: number }): Statement {
  const free = (slot: string) => `${slot}.bucket = 'create:' || account.name AND ${slot}.used_at <= now() - ${msInterval('$2')}`;
  return named(
    'lock_free_create_slots',
    `SELECT account.name AS account, locked.slot,
            (SELECT count(*) FROM lyrics_rate_slots AS slot WHERE ${free('slot')})::int AS room
     FROM lyrics_kie_accounts AS account
     CROSS JOIN LATERAL (
       SELECT slot.slot FROM lyrics_rate_slots AS slot WHERE ${free('slot')}
       ORDER BY slot.used_at LIMIT $3
       FOR UPDATE OF slot SKIP LOCKED
     ) AS locked
     WHERE account.name = ANY($1::text[]) AND account.paused_reason IS NULL
     ORDER BY account.name`,
    [input.names, input.windowMs, input.count],
  );
}

/**
 * Milliseconds until the first create slot of a usable account among `names` frees (0 when one may be free now);
 * NULL when every account is paused or no slot was ever used.
 */
export function msUntilNextCreateSlot(input: { names: string[]; windowMs: number }): Statement {
  return named(
    'ms_until_next_create_slot',
    `SELECT GREATEST(0, EXTRACT(EPOCH FROM (MIN(slot.used_at) + ${msInterval('$2')} - clock_timestamp())) * 1000)::float8 AS "waitMs"
     FROM lyrics_kie_accounts AS account
     JOIN lyrics_rate_slots AS slot ON slot.bucket = 'create:' || account.name
     WHERE account.name = ANY($1::text[]) AND account.paused_reason IS NULL AND slot.used_at > '-infinity'`,
    [input.names, input.windowMs],
  );
}
