import { LyricsSettings } from '../lyrics.options';
import { AccountStore } from '../persistence/account.store';
import { SqlExecutor } from '../persistence/lyrics-database';
import { createBucket } from '../persistence/rate-slots.sql';
import { FreeCreateSlot, RateSlotStore } from '../persistence/rate-slot.store';

/** A claimed row with the account its create goes out on and the slot of that account's budget it holds. */
export type OnAccount<T> = T & { account: string; slot: number };

/**
 * The create budgets of the KIE accounts: createBudget slots per createWindowMs for each account (KIE limits each
 * account on its own), in lyrics_rate_slots under `create:<account>`. A claim takes free slots of the usable accounts
 * only, and sends each create to the account with the most room left (see assignAccounts), so the load spreads
 * and throughput grows with the number of accounts.
 */
export class CreateBudgets {
  private readonly size: number;
  private readonly windowMs: number;

  constructor(
    private readonly slots: RateSlotStore,
    private readonly accounts: AccountStore,
    private readonly names: string[],
    settings: Pick<LyricsSettings, 'createBudget' | 'createWindowMs'>,
  ) {
    this.size = settings.createBudget;
    this.windowMs = settings.createWindowMs;
  }

  async ensureSlots(): Promise<void> {
    await this.accounts.register(this.names);
    for (const name of this.names) await this.slots.resize(createBucket(name), this.size);
  }

  /**
   * Inside the caller's transaction: locks free slots of the usable accounts, lets `take(n)` claim at most as many due
   * rows as `limit` and the slots allow, and marks a slot used for each row taken. With no free slot, says how long
   * until one frees (undefined: every account is paused).
   */
  async claim<T>(
    tx: SqlExecutor,
    limit: number,
    take: (count: number) => Promise<T[]>,
  ): Promise<{ claimed: OnAccount<T>[]; slotsFree: number } | { claimed: []; budgetWaitMs: number | undefined }> {
    const free = await this.slots.lockFreeCreateSlots(tx, { names: this.names, windowMs: this.windowMs, count: limit });
    if (free.length === 0) {
      return { claimed: [], budgetWaitMs: await this.slots.msUntilNextCreateSlot(tx, { names: this.names, windowMs: this.windowMs }) };
    }
    const rows = await take(Math.min(limit, free.length));
    const places = assignAccounts(rows.length, free);
    const claimed = rows.map((row, index) => ({ ...row, ...places[index] }));
    for (const name of new Set(claimed.map((row) => row.account))) {
      const used = claimed.filter((row) => row.account === name).map((row) => row.slot);
      await this.slots.markUsed(createBucket(name), used, tx);
    }
    return { claimed, slotsFree: Math.min(limit, free.length) };
  }

  /** Counts the slot from now: the create it was taken for has just been answered. */
  markAnswered(account: string, slot: number): Promise<void> {
    return this.slots.markUsed(createBucket(account), [slot]);
  }
}

/**
 * Gives each of `count` creates an account and one of its locked slots: each goes to the account with the most room
 * left in its window (ties to the account named first), its room then one less. So a burst spreads over the
 * accounts by how much each can still take, and an account nearly spent is used last. `free` holds each account's
 * locked slots, least recently used first; `count` is at most their number.
 */
export function assignAccounts(count: number, free: readonly FreeCreateSlot[]): { account: string; slot: number }[] {
  const accounts = new Map<string, { room: number; slots: number[] }>();
  for (const { account, slot, room } of free) {
    const entry = accounts.get(account) ?? { room, slots: [] };
    entry.slots.push(slot);
    accounts.set(account, entry);
  }
  const order = [...accounts.keys()].sort();
  const places: { account: string; slot: number }[] = [];
  while (places.length < count) {
    let best: string | undefined;
    for (const name of order) {
      const entry = accounts.get(name)!;
      if (entry.slots.length > 0 && (best === undefined || entry.room > accounts.get(best)!.room)) best = name;
    }
    if (best === undefined) break;
    const entry = accounts.get(best)!;
    places.push({ account: best, slot: entry.slots.shift()! });
    entry.room -= 1;
  }
  return places;
}
