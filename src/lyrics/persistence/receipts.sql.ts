import { ReceiptOutcome } from '../entities/lyrics-callback-receipt.entity';
import { Statement } from './lyrics-database';
import { named, unnamed } from './sql';

/** Every statement lyrics_callback_receipts sees, except the applied receipt the transition writes itself. */

export interface ReceiptInput {
  taskId: string | null;
  kieTaskId: string | null;
  outcome: ReceiptOutcome;
  detail: string | null;
  remoteAddress: string | null;
  body: string;
  bodyTruncated: boolean;
}

export function insertReceipt(receipt: ReceiptInput): Statement {
  return named(
    'insert_receipt',
    `INSERT INTO lyrics_callback_receipts (task_id, kie_task_id, outcome, detail, remote_address, body, body_truncated)
     VALUES ($1, $2, $3, $4, $5, $6, $7)`,
    [receipt.taskId, receipt.kieTaskId, receipt.outcome, receipt.detail, receipt.remoteAddress, receipt.body, receipt.bodyTruncated],
  );
}

/** Deletes up to `batch` receipts older than `days` (small batches keep each delete's locks short). */
export function pruneReceipts(input: { days: number; batch: number }): Statement {
  return unnamed(
    `DELETE FROM lyrics_callback_receipts WHERE id IN (
       SELECT id FROM lyrics_callback_receipts
       WHERE received_at < now() - make_interval(days => $1) LIMIT $2)`,
    [input.days, input.batch],
  );
}
