import { Check, Column, Entity, PrimaryColumn } from 'typeorm';

export const ACCOUNT_PAUSE_REASONS = ['credits', 'sub_key_limit'] as const;
export type AccountPauseReason = (typeof ACCOUNT_PAUSE_REASONS)[number];

/**
 * The KIE accounts the instances share, and whether each takes creates. An account KIE refused a create for (402 out
 * of credits, 433 over its sub-key's limit) is paused: no create goes to it, and its credits endpoint is read when
 * `next_probe_at` falls due (the table is the probes' queue, claimed with SKIP LOCKED like every other).
 */
@Entity({ name: 'lyrics_kie_accounts' })
@Check('lyrics_kie_accounts_paused_reason_check', `paused_reason IN ('credits', 'sub_key_limit')`)
@Check(
  'lyrics_kie_accounts_pause_check',
  `(paused_reason IS NULL) = (paused_at IS NULL) AND (paused_reason IS NULL) = (next_probe_at IS NULL)`,
)
export class LyricsKieAccountEntity {
  /** The account's name as configured (`default` for a single KIE_API_KEY); never its key. */
  @PrimaryColumn({ type: 'varchar', length: 32 })
  name: string;

  /** Null: usable. */
  @Column({ name: 'paused_reason', type: 'varchar', length: 16, nullable: true })
  pausedReason: AccountPauseReason | null;

  @Column({ name: 'paused_at', type: 'timestamptz', nullable: true })
  pausedAt: Date | null;

  /** When a paused account's credits are next read, by the database's clock. */
  @Column({ name: 'next_probe_at', type: 'timestamptz', nullable: true })
  nextProbeAt: Date | null;
}
