import { Column, Entity, PrimaryColumn } from 'typeorm';

/**
 * Each owner's webhook signing secret (whsec_ and base64 of 32 bytes), made on first need. After a rotation the
 * previous secret still signs until `previous_until`, so receivers can switch without losing a delivery. Stored in
 * clear: signing needs the key itself.
 */
@Entity({ name: 'lyrics_webhook_secrets' })
export class LyricsWebhookSecretEntity {
  @PrimaryColumn({ type: 'varchar', length: 255 })
  owner: string;

  @Column({ type: 'varchar', length: 64 })
  secret: string;

  @Column({ name: 'previous_secret', type: 'varchar', length: 64, nullable: true })
  previousSecret: string | null;

  @Column({ name: 'previous_until', type: 'timestamptz', nullable: true })
  previousUntil: Date | null;

  @Column({ name: 'created_at', type: 'timestamptz', default: () => 'clock_timestamp()' })
  createdAt: Date;

  @Column({ name: 'rotated_at', type: 'timestamptz', nullable: true })
  rotatedAt: Date | null;
}
