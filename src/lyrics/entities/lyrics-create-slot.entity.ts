import { Column, Entity, PrimaryColumn } from 'typeorm';

/**
 * The global create budget (DESIGN.md invariant 5) as B slots shared by every instance: a create takes a slot
 * whose last use is at least one window old, so no window ever holds more than B creates. A sliding window, kept
 * in PostgreSQL and claimed with SKIP LOCKED.
 */
@Entity({ name: 'lyrics_create_slots' })
export class LyricsCreateSlotEntity {
  @PrimaryColumn({ type: 'integer' })
  slot: number;

  @Column({ name: 'used_at', type: 'timestamptz', default: () => `'-infinity'` })
  usedAt: Date;
}
