import { Column, Entity, PrimaryColumn } from 'typeorm';

/**
 * When each owner last had a create dispatched: the fair share of the create budget serves the owners with due work
 * least recently served first, so an owner with a deep queue cannot hold back one that submits a single task.
 */
@Entity({ name: 'lyrics_owner_turns' })
export class LyricsOwnerTurnEntity {
  @PrimaryColumn({ type: 'varchar', length: 255 })
  owner: string;

  @Column({ name: 'served_at', type: 'timestamptz' })
  servedAt: Date;
}
