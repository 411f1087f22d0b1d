import { LyricsEventType } from '../entities/lyrics-event.entity';
import { Statement } from './lyrics-database';
import { named, unnamed } from './sql';

/** Where a reader of the feed stands: after this transaction's event at this position. */
export interface EventPosition {
  txId: string;
  seq: string;
}

/** An event as consumers see it, with its feed position. */
export interface EventRecord {
  id: string;
  type: LyricsEventType;
  createdAt: Date;
  data: Record<string, unknown>;
  txId: string;
  seq: string;
}

/**
 * One page of an owner's events in commit-safe order. Events are ordered by their writing transaction's id, then
 * their sequence within it, and only events of transactions older than the oldest one still running are returned:
 * such a transaction has committed or aborted, so no event can still appear before the last one returned. A reader
 * paging by cursor therefore never skips an event that committed late with an earlier position; the price is that an
 * event waits for every older transaction still open (a long one, anywhere in the database, holds the feed back).
 */
export function eventPage(input: { owner: string; after?: EventPosition; limit: number }): Statement {
  const after = input.after ?? { txId: '0', seq: '0' };
  return named(
    'event_page',
    `SELECT id, type, created_at AS "createdAt", data, tx_id::text AS "txId", seq::text AS seq
     FROM lyrics_events
     WHERE owner = $1 AND (tx_id, seq) > ($2::bigint, $3::bigint)
       AND tx_id < pg_snapshot_xmin(pg_current_snapshot())::text::bigint
     ORDER BY tx_id, seq
     LIMIT $4`,
    [input.owner, after.txId, after.seq, input.limit + 1],
  );
}

/**
 * Deletes up to `batch` events older than `days` whose deliveries are all over (their attempts go with them), in small
 * batches so that each delete's locks are short. An event still owed to a consumer is kept until it is delivered.
 */
export function pruneEvents(input: { days: number; batch: number }): Statement {
  return unnamed(
    `DELETE FROM lyrics_events WHERE seq IN (
       SELECT event.seq FROM lyrics_events AS event
       WHERE event.created_at < now() - make_interval(days => $1)
         AND NOT EXISTS (SELECT 1 FROM lyrics_deliveries AS d WHERE d.event_seq = event.seq AND d.status = 'pending')
       ORDER BY event.created_at LIMIT $2)`,
    [input.days, input.batch],
  );
}
