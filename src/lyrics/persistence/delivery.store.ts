import { Injectable } from '@nestjs/common';
import { DeliveryConsumer } from '../entities/lyrics-delivery.entity';
import { LyricsDatabase } from './lyrics-database';
import * as sql from './deliveries.sql';
import { ClaimedDelivery, DeliveryOutcome, DeliveryRecord } from './deliveries.sql';

/** lyrics_deliveries: the relay's work queue, and the record of every attempt. */
@Injectable()
export class DeliveryStore {
  constructor(private readonly db: LyricsDatabase) {}

  /**
   * Records the attempts that finished and claims due deliveries, in one statement: the ids recorded (not those whose
   * claim had lapsed and another holds now), and the deliveries claimed.
   */
  async recordAndClaim(
    input: Parameters<typeof sql.recordAndClaimDeliveries>[0],
  ): Promise<{ recorded: Set<string>; claimed: ClaimedDelivery[] }> {
    const rows = await this.db.rows<sql.RecordedOrClaimed>(sql.recordAndClaimDeliveries(input));
    const recorded = new Set<string>();
    const claimed: ClaimedDelivery[] = [];
    for (const row of rows) {
      if (row.recorded === null) claimed.push(row);
      else recorded.add(row.recorded);
    }
    return { recorded, claimed };
  }

  /** Records the attempts alone; returns the ids recorded. */
  async record(outcomes: DeliveryOutcome[], keepAttempts: number): Promise<Set<string>> {
    const rows = await this.db.rows<{ id: string }>(sql.recordDeliveryAttempts({ outcomes, keepAttempts }));
    return new Set(rows.map((row) => row.id));
  }

  async release(claims: Pick<ClaimedDelivery, 'id' | 'leaseToken'>[]): Promise<void> {
    if (claims.length === 0) return;
    await this.db.count(sql.releaseDeliveryClaims({ ids: claims.map((c) => c.id), leaseTokens: claims.map((c) => c.leaseToken) }));
  }

  webhookDeliveriesOf(owner: string, taskId: string): Promise<DeliveryRecord[]> {
    return this.db.rows<DeliveryRecord>(sql.webhookDeliveriesOf({ owner, taskId }));
  }

  backlog(): Promise<{ consumer: DeliveryConsumer; n: number; oldest: number }[]> {
    return this.db.rows(sql.deliveryBacklog());
  }
}
