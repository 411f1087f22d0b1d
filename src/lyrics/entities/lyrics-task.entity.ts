import { Check, Column, Entity, Index, OneToMany, PrimaryGeneratedColumn } from 'typeorm';
import { LyricsVariantEntity } from './lyrics-variant.entity';

export const TASK_STATUSES = ['queued', 'submitted', 'succeeded', 'failed', 'cancelled'] as const;
export type TaskStatus = (typeof TASK_STATUSES)[number];

export const TASK_ERROR_CODES = [
  'upstream_rejected',
  'generation_failed',
  'sensitive_content',
  'timed_out',
  'submit_outcome_unknown',
  'queue_expired',
  'result_unstorable',
] as const;
export type TaskErrorCode = (typeof TASK_ERROR_CODES)[number];

/**
 * A lyrics task, and the work queue itself (the table is the queue): `next_attempt_at` says when a dispatcher or
 * poller should next look at it, `lease_until` which claim currently holds it.
 */
@Entity({ name: 'lyrics_tasks' })
@Check('lyrics_tasks_status_check', `status IN ('queued', 'submitted', 'succeeded', 'failed', 'cancelled')`)
@Check('lyrics_tasks_result_source_check', `result_source IN ('callback', 'poll')`)
@Check('lyrics_tasks_error_check', `(status = 'failed') = (error_code IS NOT NULL)`)
// Due work: only active rows, in the order they fall due.
@Index('lyrics_tasks_due_idx', ['status', 'nextAttemptAt'], { where: `status IN ('queued', 'submitted')` })
// Claims whose holder may have died: only leased rows, which are few.
@Index('lyrics_tasks_lease_idx', ['leaseUntil'], { where: 'lease_until IS NOT NULL' })
// An owner's keyset listing, newest first, with and without a status filter.
@Index('lyrics_tasks_owner_created_idx', ['owner', 'createdAt', 'id'])
@Index('lyrics_tasks_owner_status_created_idx', ['owner', 'status', 'createdAt', 'id'])
// Due creates by owner, oldest first: the fair-share claim walks the owners with due work through it.
@Index('lyrics_tasks_owner_due_idx', ['owner', 'nextAttemptAt'], { where: `status = 'queued' AND lease_until IS NULL` })
// An owner's unfinished tasks, counted against its quota at every submission.
@Index('lyrics_tasks_owner_active_idx', ['owner'], { where: `status IN ('queued', 'submitted')` })
// Idempotency keys are per owner, and are released after their time to live (oldest first).
@Index('lyrics_tasks_owner_idempotency_key_key', ['owner', 'idempotencyKey'], { unique: true, where: 'idempotency_key IS NOT NULL' })
@Index('lyrics_tasks_idempotency_created_idx', ['createdAt'], { where: 'idempotency_key IS NOT NULL' })
// Queued tasks oldest first: the sweep that ends tasks unsent past LYRICS_QUEUE_MAX_AGE_MS.
@Index('lyrics_tasks_queued_created_idx', ['createdAt'], { where: `status = 'queued'` })
@Index('lyrics_tasks_kie_task_id_key', ['kieTaskId'], { unique: true, where: 'kie_task_id IS NOT NULL' })
export class LyricsTaskEntity {
  @PrimaryGeneratedColumn('uuid')
  id: string;

  /** Who submitted the task (a client of the service, or the host's resolveOwner): the only one who can see it. */
  @Column({ type: 'varchar', length: 255 })
  owner: string;

  @Column({ type: 'varchar', length: 16 })
  status: TaskStatus;

  @Column({ type: 'text' })
  prompt: string;

  @Column({ type: 'jsonb', nullable: true })
  metadata: Record<string, unknown> | null;

  /** Where the task's final events are POSTed (signed, retried; see LyricsDeliveryEntity); null: no webhook. */
  @Column({ name: 'webhook_url', type: 'varchar', length: 2048, nullable: true })
  webhookUrl: string | null;

  @Column({ name: 'idempotency_key', type: 'varchar', length: 255, nullable: true })
  idempotencyKey: string | null;

  /** SHA-256 (hex) of the normalised request that came with the idempotency key. */
  @Column({ name: 'request_hash', type: 'char', length: 64, nullable: true })
  requestHash: string | null;

  @Column({ name: 'kie_task_id', type: 'varchar', length: 64, nullable: true })
  kieTaskId: string | null;

  /**
   * The KIE account the create was last sent on (set with the claim, before it goes out); its key reads the record and
   * its HMAC key checks the callbacks. Null: never sent, or sent before accounts were recorded (the first account's).
   */
  @Column({ name: 'kie_account', type: 'varchar', length: 32, nullable: true })
  kieAccount: string | null;

  /**
   * SHA-256 (hex) of the callback token. The token is made when the create is sent and exists only in the
   * callBackUrl given to KIE.
   */
  @Column({ name: 'callback_token_hash', type: 'char', length: 64, nullable: true })
  callbackTokenHash: string | null;

  @Column({ name: 'error_code', type: 'varchar', length: 32, nullable: true })
  errorCode: TaskErrorCode | null;

  @Column({ name: 'error_message', type: 'text', nullable: true })
  errorMessage: string | null;

  /** Create attempts started (a throttled or unsent attempt is retried; see the dispatcher). */
  @Column({ type: 'integer', default: 0 })
  attempts: number;

  /** Which path delivered the final result from KIE. */
  @Column({ name: 'result_source', type: 'varchar', length: 16, nullable: true })
  resultSource: 'callback' | 'poll' | null;

  /** record-info reads made for this task. */
  @Column({ type: 'integer', default: 0 })
  polls: number;

  @Column({ name: 'next_attempt_at', type: 'timestamptz', nullable: true })
  nextAttemptAt: Date | null;

  /**
   * When the current create attempt's request went out (written just before sending; NULL while it is unsent). A
   * claim whose lease ran out without it never reached KIE, so it is sent again; with it, KIE may have billed it.
   */
  @Column({ name: 'sent_at', type: 'timestamptz', nullable: true })
  sentAt: Date | null;

  @Column({ name: 'lease_until', type: 'timestamptz', nullable: true })
  leaseUntil: Date | null;

  @Column({ name: 'created_at', type: 'timestamptz', default: () => 'clock_timestamp()' })
  createdAt: Date;

  @Column({ name: 'submitted_at', type: 'timestamptz', nullable: true })
  submittedAt: Date | null;

  @Column({ name: 'completed_at', type: 'timestamptz', nullable: true })
  completedAt: Date | null;

  @Column({ name: 'updated_at', type: 'timestamptz', default: () => 'clock_timestamp()' })
  updatedAt: Date;

  @OneToMany(() => LyricsVariantEntity, (variant) => variant.task)
  variants?: LyricsVariantEntity[];
}
