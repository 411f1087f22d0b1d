import { Check, Column, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';

export const RECEIPT_OUTCOMES = [
  'applied',
  'duplicate',
  'already_final',
  'unconfirmed',
  'unstorable',
  'unauthorized',
  'malformed',
  'mismatch',
  'woken',
] as const;
export type ReceiptOutcome = (typeof RECEIPT_OUTCOMES)[number];

/** Every callback received, whatever became of it: the audit trail of the webhook. */
@Entity({ name: 'lyrics_callback_receipts' })
@Check(
  'lyrics_callback_receipts_outcome_check',
  `outcome IN ('applied', 'duplicate', 'already_final', 'unconfirmed', 'unstorable', 'unauthorized', 'malformed', 'mismatch', 'woken')`,
)
@Index('lyrics_callback_receipts_received_idx', ['receivedAt'])
@Index('lyrics_callback_receipts_task_idx', ['taskId'], { where: 'task_id IS NOT NULL' })
export class LyricsCallbackReceiptEntity {
  @PrimaryGeneratedColumn({ type: 'bigint' })
  id: string;

  @Column({ name: 'received_at', type: 'timestamptz', default: () => 'clock_timestamp()' })
  receivedAt: Date;

  /** Our task, when the callback's token matched one. */
  @Column({ name: 'task_id', type: 'uuid', nullable: true })
  taskId: string | null;

  /** KIE's task id as the body spells it, when the body could be read. */
  @Column({ name: 'kie_task_id', type: 'varchar', length: 64, nullable: true })
  kieTaskId: string | null;

  @Column({ type: 'varchar', length: 16 })
  outcome: ReceiptOutcome;

  /** Why a callback was refused, in a few words (never a secret). */
  @Column({ type: 'text', nullable: true })
  detail: string | null;

  @Column({ name: 'remote_address', type: 'varchar', length: 64, nullable: true })
  remoteAddress: string | null;

  /** The raw body, cut at the receipt limit. */
  @Column({ type: 'text' })
  body: string;

  @Column({ name: 'body_truncated', type: 'boolean', default: false })
  bodyTruncated: boolean;
}
