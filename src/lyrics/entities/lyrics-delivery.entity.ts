import { Check, Column, Entity, Index, JoinColumn, ManyToOne, PrimaryGeneratedColumn } from 'typeorm';
import { LyricsEventEntity } from './lyrics-event.entity';

export const DELIVERY_CONSUMERS = ['host', 'webhook'] as const;
/** host: the host app's @OnEvent handlers; webhook: the task's webhookUrl. */
export type DeliveryConsumer = (typeof DELIVERY_CONSUMERS)[number];

export const DELIVERY_STATUSES = ['pending', 'delivered', 'failed', 'stopped'] as const;
export type DeliveryStatus = (typeof DELIVERY_STATUSES)[number];

/** One attempt, as GET /lyrics/:id/deliveries shows it. */
export interface DeliveryAttempt {
  at: string;
  httpStatus: number | null;
  error: string | null;
  durationMs: number;
}

/**
 * The relay's work queue (the table is the queue): one row per event and consumer, written by the final transition's
 * own statement, so an event is owed to its consumers exactly when it exists. A relay claims due rows with a lease
 * (`lease_token` says which claim holds it, so a claim that outlived its lease cannot record over another's) and
 * records every attempt. No index covers a claim's columns, so that a claim is a HOT update (see HotDeliveryClaims).
 */
@Entity({ name: 'lyrics_deliveries' })
@Check('lyrics_deliveries_consumer_check', `consumer IN ('host', 'webhook')`)
@Check('lyrics_deliveries_status_check', `status IN ('pending', 'delivered', 'failed', 'stopped')`)
// Due deliveries of a consumer by owner, in the order they fall due: only pending rows (the claim's loose index scan).
@Index('lyrics_deliveries_due_idx', ['consumer', 'owner', 'nextAttemptAt'], { where: `status = 'pending'` })
// A task's deliveries, as GET /lyrics/:id/deliveries lists them, and the claim's per-task order check.
@Index('lyrics_deliveries_task_idx', ['taskId', 'consumer', 'eventSeq'])
@Index('lyrics_deliveries_event_idx', ['eventSeq'])
export class LyricsDeliveryEntity {
  @PrimaryGeneratedColumn({ type: 'bigint' })
  id: string;

  @ManyToOne(() => LyricsEventEntity, { onDelete: 'CASCADE', nullable: false })
  @JoinColumn({ name: 'event_seq', referencedColumnName: 'seq' })
  event?: LyricsEventEntity;

  @Column({ name: 'event_seq', type: 'bigint' })
  eventSeq: string;

  @Column({ name: 'task_id', type: 'uuid' })
  taskId: string;

  @Column({ type: 'varchar', length: 255 })
  owner: string;

  @Column({ type: 'varchar', length: 16 })
  consumer: DeliveryConsumer;

  /** The webhook's URL as the task gave it; null for host handlers. */
  @Column({ type: 'varchar', length: 2048, nullable: true })
  url: string | null;

  @Column({ type: 'varchar', length: 16, default: 'pending' })
  status: DeliveryStatus;

  /** Attempts started (claims), including one whose instance died before recording it. */
  @Column({ name: 'attempt_count', type: 'int', default: 0 })
  attemptCount: number;

  @Column({ type: 'jsonb', default: () => `'[]'` })
  attempts: DeliveryAttempt[];

  /** When the next attempt is due; null exactly when the delivery is over (not pending): the claim relies on it. */
  @Column({ name: 'next_attempt_at', type: 'timestamptz', nullable: true, default: () => 'clock_timestamp()' })
  nextAttemptAt: Date | null;

  @Column({ name: 'lease_until', type: 'timestamptz', nullable: true })
  leaseUntil: Date | null;

  @Column({ name: 'lease_token', type: 'uuid', nullable: true })
  leaseToken: string | null;

  @Column({ name: 'created_at', type: 'timestamptz', default: () => 'clock_timestamp()' })
  createdAt: Date;

  @Column({ name: 'completed_at', type: 'timestamptz', nullable: true })
  completedAt: Date | null;
}
