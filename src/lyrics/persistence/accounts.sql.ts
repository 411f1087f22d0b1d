import { Statement } from './lyrics-database';
import { msInterval, named } from './sql';

/** Every statement lyrics_kie_accounts sees: the KIE accounts, whether each takes creates, and the probes of paused ones. */

/** The configured accounts' rows (usable when new; an account keeps its pause across restarts). */
export function registerAccounts(names: string[]): Statement {
  return named('register_accounts', `INSERT INTO lyrics_kie_accounts (name) SELECT unnest($1::text[]) ON CONFLICT (name) DO NOTHING`, [
    names,
  ]);
}

/** Pauses a usable account, its first probe one period from now; returns the name only when it was usable until now. */
export function pauseAccount(input: { name: string; reason: string; probeMs: number }): Statement {
  return named(
    'pause_account',
    `UPDATE lyrics_kie_accounts
     SET paused_reason = $2, paused_at = clock_timestamp(), next_probe_at = clock_timestamp() + ${msInterval('$3')}
     WHERE name = $1 AND paused_reason IS NULL
     RETURNING name`,
    [input.name, input.reason, input.probeMs],
  );
}

/**
 * Claims the paused account whose probe is most overdue, by moving its next probe one period on: the claim is its own
 * lease, so an instance that dies mid-probe only delays the next one.
 */
export function claimDueProbe(input: { names: string[]; probeMs: number }): Statement {
  return named(
    'claim_due_probe',
    `UPDATE lyrics_kie_accounts SET next_probe_at = clock_timestamp() + ${msInterval('$2')}
     WHERE name = (SELECT name FROM lyrics_kie_accounts
                   WHERE name = ANY($1::text[]) AND next_probe_at <= now()
                   ORDER BY next_probe_at LIMIT 1
                   FOR UPDATE SKIP LOCKED)
     RETURNING name, paused_reason AS reason`,
    [input.names, input.probeMs],
  );
}

/** Makes a paused account usable again; returns the name only when it was paused. */
export function resumeAccount(name: string): Statement {
  return named(
    'resume_account',
    `UPDATE lyrics_kie_accounts SET paused_reason = NULL, paused_at = NULL, next_probe_at = NULL
     WHERE name = $1 AND paused_reason IS NOT NULL
     RETURNING name`,
    [name],
  );
}

/** Milliseconds until the next probe of the accounts falls due (negative when overdue); NULL when none is paused. */
export function msUntilNextProbe(names: string[]): Statement {
  return named(
    'ms_until_next_probe',
    `SELECT (EXTRACT(EPOCH FROM (min(next_probe_at) - clock_timestamp())) * 1000)::float8 AS "waitMs"
     FROM lyrics_kie_accounts WHERE name = ANY($1::text[])`,
    [names],
  );
}

/** The accounts as they stand, by name: paused (why, since when) or not. */
export function accountStates(names: string[]): Statement {
  return named(
    'account_states',
    `SELECT name, paused_reason AS "pausedReason", paused_at AS "pausedAt"
     FROM lyrics_kie_accounts WHERE name = ANY($1::text[]) ORDER BY name`,
    [names],
  );
}
