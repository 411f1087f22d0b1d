import { ReceiptOutcome } from '../entities/lyrics-callback-receipt.entity';
import { Statement } from './lyrics-database';
import { named, unnamed } from './sql';

/** Every statement lyrics_callback_receipts sees, except the applied receipt the transition writes itself. */

/** A receipt of a callback whose task and token matched (an unmatched callback stores nothing). */
export interface ReceiptInput {
  taskId: string;
  kieTaskId: string | null;
  outcome: ReceiptOutcome;
  detail: string | null;
  remoteAddress: string | null;
  body: string;
  bodyTruncated: boolean;
}

/**
 * Stores the receipt unless its task already has `perTaskLimit` receipts (lyrics_callback_receipts_task_idx counts
 * them), so that one leaked token cannot fill the table. The count and the insert are one statement but not locked:
 * callbacks racing for a task's last slots may each take one.
 */
export function insertReceipt(receipt: ReceiptInput, perTaskLimit: number): Statement {
  return named(
    'insert_receipt_within_limit',
    `INSERT INTO lyrics_callback_receipts (task_id, kie_task_id, outcome, detail, remote_address, body, body_truncated)
     SELECT $1, $2, $3, $4, $5, $6, $7
     WHERE (SELECT count(*) FROM lyrics_callback_receipts WHERE task_id = $1) < $8`,
    [
      receipt.taskId,
      receipt.kieTaskId,
      receipt.outcome,
      receipt.detail,
      receipt.remoteAddress,
      receipt.body,
      receipt.bodyTruncated,
      perTaskLimit,
    ],
  );
}

/** A receipt as GET /lyrics/:id/callbacks shows it: no body (KIE's payload is ours, not the client's). */
export interface ReceiptRecord {
  receivedAt: Date;
  outcome: ReceiptOutcome;
  remoteAddress: string | null;
}

/** The receipts of the owner's task, oldest first (none for another owner's task). */
export function receiptsOf(input: { owner: string; taskId: string }): Statement {
  return named(
    'receipts_of',
    `SELECT receipt.received_at AS "receivedAt", receipt.outcome, receipt.remote_address AS "remoteAddress"
     FROM lyrics_callback_receipts AS receipt JOIN lyrics_tasks AS task ON task.id = receipt.task_id
     WHERE receipt.task_id = $1 AND task.owner = $2
     ORDER BY receipt.received_at, receipt.id`,
    [input.taskId, input.owner],
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
