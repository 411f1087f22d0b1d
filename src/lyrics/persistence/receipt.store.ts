import { Injectable } from '@nestjs/common';
import { LyricsDatabase } from './lyrics-database';
import { insertReceipt, pruneReceipts, ReceiptInput, ReceiptRecord, receiptsOf } from './receipts.sql';

/** lyrics_callback_receipts: the webhook's audit trail. */
@Injectable()
export class ReceiptStore {
  constructor(private readonly db: LyricsDatabase) {}

  /** Stores the receipt unless its task already has `perTaskLimit`; says whether it stored it. */
  async insert(receipt: ReceiptInput, perTaskLimit: number): Promise<boolean> {
    return (await this.db.count(insertReceipt(receipt, perTaskLimit))) > 0;
  }

  /** The receipts of the owner's task, oldest first. */
  of(owner: string, taskId: string): Promise<ReceiptRecord[]> {
    return this.db.rows<ReceiptRecord>(receiptsOf({ owner, taskId }));
  }

  /** Deletes up to `batch` receipts older than `days`; returns how many it deleted. */
  prune(days: number, batch: number): Promise<number> {
    return this.db.count(pruneReceipts({ days, batch }));
  }
}
