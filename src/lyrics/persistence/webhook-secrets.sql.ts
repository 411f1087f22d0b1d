import { Statement } from './lyrics-database';
import { named } from './sql';

/** The secrets that sign an owner's deliveries now: the current one, and the previous one during a rotation's overlap. */
export interface WebhookSecrets {
  secret: string;
  previous: string | null;
}

/**
 * The owner's secrets, storing `candidate` as the secret when the owner has none yet. The inserted row is invisible
 * to the statement's own read, hence the two branches; when a concurrent first use wins the insert, neither branch
 * sees a row (the read's snapshot predates that commit) and the caller asks again.
 */
export function webhookSecrets(input: { owner: string; candidate: string }): Statement {
  return named(
    'webhook_secrets',
    `WITH made AS (
       INSERT INTO lyrics_webhook_secrets (owner, secret) VALUES ($1, $2) ON CONFLICT (owner) DO NOTHING RETURNING secret
     )
     SELECT secret, NULL AS previous FROM made
     UNION ALL
     SELECT secret, CASE WHEN previous_until > now() THEN previous_secret END AS previous
     FROM lyrics_webhook_secrets WHERE owner = $1`,
    [input.owner, input.candidate],
  );
}

/** Makes `secret` the owner's secret; the one it replaces still signs for `overlapSeconds`. */
export function rotateWebhookSecret(input: { owner: string; secret: string; overlapSeconds: number }): Statement {
  return named(
    'rotate_webhook_secret',
    `INSERT INTO lyrics_webhook_secrets (owner, secret) VALUES ($1, $2)
     ON CONFLICT (owner) DO UPDATE SET
       previous_secret = lyrics_webhook_secrets.secret,
       previous_until = clock_timestamp() + make_interval(secs => $3),
       secret = EXCLUDED.secret,
       rotated_at = clock_timestamp()
     RETURNING secret`,
    [input.owner, input.secret, input.overlapSeconds],
  );
}
