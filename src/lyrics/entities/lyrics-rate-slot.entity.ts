import { Column, Entity, PrimaryColumn } from 'typeorm';

/**
 * Upstream rate budgets (one create budget per account) as slots shared by every instance, one set per bucket (creates,
 * record-info reads). A call takes a slot whose last use is at least one window old, so no window ever holds more
 * calls than the bucket has slots: a sliding window, kept in PostgreSQL and claimed with SKIP LOCKED.
 */
@Entity({ name: 'lyrics_rate_slots' })
export class LyricsRateSlotEntity {
  /** `create:<account>` or `record-info`. */
  @PrimaryColumn({ type: 'varchar', length: 64 })
  bucket: string;

  @PrimaryColumn({ type: 'integer' })
  slot: number;

  @Column({ name: 'used_at', type: 'timestamptz', default: () => `'-infinity'` })
  usedAt: Date;
}
