import { Check, Column, Entity, Generated, Index, PrimaryGeneratedColumn } from 'typeorm';

export const EVENT_TYPES = ['lyrics.succeeded', 'lyrics.failed', 'lyrics.cancelled'] as const;
export type LyricsEventType = (typeof EVENT_TYPES)[number];

/**
 * The outbox: one row per final transition, written by the transition's own statement, so an event exists exactly
 * when its transition committed. `data` is the task resource as that transition left it. The feed reads an owner's
 * events in (tx_id, seq) order, and only those of transactions older than every one still running (see eventPage),
 * so a reader paging by cursor never skips an event that committed late with an earlier position.
 */
@Entity({ name: 'lyrics_events' })
@Check('lyrics_events_type_check', `type IN ('lyrics.succeeded', 'lyrics.failed', 'lyrics.cancelled')`)
@Index('lyrics_events_id_key', ['id'], { unique: true })
// An owner's feed, in commit-safe order.
@Index('lyrics_events_owner_feed_idx', ['owner', 'txId', 'seq'])
@Index('lyrics_events_created_idx', ['createdAt'])
export class LyricsEventEntity {
  /** Order within a transaction (and a compact key). */
  @PrimaryGeneratedColumn({ type: 'bigint' })
  seq: string;

  /** The event's stable id: consumers dedupe by it. */
  @Column({ type: 'uuid' })
  @Generated('uuid')
  id: string;

  /** The writing transaction's id (pg_current_xact_id(), 64-bit, never wraps). */
  @Column({ name: 'tx_id', type: 'bigint' })
  txId: string;

  @Column({ type: 'varchar', length: 255 })
  owner: string;

  @Column({ name: 'task_id', type: 'uuid' })
  taskId: string;

  @Column({ type: 'varchar', length: 32 })
  type: LyricsEventType;

  @Column({ type: 'jsonb' })
  data: Record<string, unknown>;

  @Column({ name: 'created_at', type: 'timestamptz', default: () => 'clock_timestamp()' })
  createdAt: Date;
}
