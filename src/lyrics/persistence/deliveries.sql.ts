import { DeliveryAttempt, DeliveryConsumer, DeliveryStatus } from '../entities/lyrics-delivery.entity';
import { LyricsEventType } from '../entities/lyrics-event.entity';
import { Statement } from './lyrics-database';
import { msInterval, named, Params, unnamed } from './sql';

/** A claimed delivery: the event it carries, and the claim (its lease token) that may record its attempt. */
export interface ClaimedDelivery {
  id: string;
  leaseToken: string;
  owner: string;
  taskId: string;
  url: string | null;
  /** The attempt about to start, counting from 1. */
  attempt: number;
  eventId: string;
  type: LyricsEventType;
  /** The event's task resource: host deliveries only (handlers get the object). */
  data: Record<string, unknown> | null;
  /**
   * The webhook's body, `{ id, type, createdAt, data }` as JSON text made by PostgreSQL from the stored event:
   * webhook deliveries only (sent and signed as is, never parsed and stringified again by the relay).
   */
  body: string | null;
  /** The owner's webhook secrets now, when it has any (the webhook relay makes them on first need). */
  secret: string | null;
  previousSecret: string | null;
}

/** The outcome of one attempt, as the relay records it. */
export interface DeliveryOutcome {
  id: string;
  leaseToken: string;
  /** pending: try again after `retryInMs`. */
  status: DeliveryStatus;
  retryInMs?: number;
  attempt: Omit<DeliveryAttempt, 'at'>;
  /** How long ago (ms, as the relay measured it when recording) the attempt started: its `at`. */
  startedMsAgo: number;
}

/** One row of record_and_claim_deliveries: a delivery recorded (only `recorded` set), or one claimed. */
export type RecordedOrClaimed = { recorded: string } | ({ recorded: null } & ClaimedDelivery);

/**
 * The relay's one statement per round (a round trip and a commit for both halves): records the attempts that
 * finished since the last round, and claims up to `limit` due deliveries of `consumer` for `leaseMs`.
 *
 * Recording: each outcome only if its claim still holds the delivery (a claim that lapsed and was taken since records
 * nothing: the other claim's attempt is the one that counts); an attempt is dated when it started; beyond
 * `keepAttempts` per delivery the oldest are dropped (host handlers are retried without end).
 *
 * Claiming: in order per task, a delivery waits while an earlier event of its task is still pending for the same
 * consumer (a task's events are written in its transitions' order, which its row lock serialises, so `event_seq` is
 * that order). Fair among owners: each owner gets at most its allowance (`allowances`, the relay's own count of what
 * it may still claim for an owner it holds claims of; `perOwner` for any other), its most overdue first, every
 * owner's first before anyone's second. The relay keeps the per-owner count itself, of its own claims, so the
 * statement counts no leases (and no index of leases is written on every claim and record): one owner's slow or dead
 * receiver holds at most its share of each instance's places and never delays another owner's deliveries, and a dead
 * instance's claims hold no owner's share anywhere. The owners with due deliveries are found by a loose index scan of
 * lyrics_deliveries_due_idx (one probe per owner), and each owner's candidates by the same index, at most its
 * allowance of them: the cost follows the owners with due work, not the backlog. The owner's webhook secrets come
 * along, so that signing costs no read of its own.
 *
 * Two rounds of one relay may run at once. The second sees the first's picks as claimable (its snapshot predates
 * the first's commit) and would only find them locked (SKIP LOCKED), claiming nothing; so it passes over, per owner,
 * as many due deliveries as the first may claim (`skipped`, `skip`), and picks the next ones. Passing over more than
 * the first claimed only leaves those for a later round.
 *
 * Both halves run on one snapshot, so the claim still sees the rows being recorded as claimed and pending: they are
 * left out of what it may pick (a lapsed claim recorded late must not be taken and recorded by the same statement).
 * A task whose event is recorded here has its next event claimed next round.
 */
export function recordAndClaimDeliveries(input: {
  consumer: DeliveryConsumer;
  outcomes: DeliveryOutcome[];
  keepAttempts: number;
  limit: number;
  perOwner: number;
  /** What may still be claimed for each owner the relay holds claims of (or records attempts of). */
  allowances: Map<string, number>;
  /** Each listed owner's due deliveries to pass over, first in due order: what a round still running may claim. */
  skipped?: Map<string, number>;
  /** The same for any other owner. */
  skip?: number;
  leaseMs: number;
}): Statement {
  const params = new Params(input.consumer, input.limit, input.perOwner, input.leaseMs);
  const recorded = recordOutcomes(params, input.outcomes, input.keepAttempts);
  const owners = [...input.allowances.keys()];
  const allowanceOwners = params.add(owners);
  const allowanceCounts = params.add([...input.allowances.values()]);
  const allowanceSkips = params.add(owners.map((owner) => input.skipped?.get(owner) ?? 0));
  const skip = params.add(input.skip ?? 0);
  const due = (d: string) => `${d}.consumer = $1 AND ${d}.status = 'pending' AND ${d}.next_attempt_at <= now()`;
  return named(
    'record_and_claim_deliveries',
    `WITH RECURSIVE recorded AS (
       ${recorded.text}
     ), owners AS (
       SELECT (SELECT min(d.owner) FROM lyrics_deliveries AS d WHERE ${due('d')}) AS owner
       UNION ALL
       SELECT (SELECT min(d.owner) FROM lyrics_deliveries AS d WHERE ${due('d')} AND d.owner > owners.owner)
       FROM owners WHERE owners.owner IS NOT NULL
     ), candidates AS (
       SELECT candidate.id, candidate.next_attempt_at, candidate.turn
       FROM owners
       LEFT JOIN unnest(${allowanceOwners}::text[], ${allowanceCounts}::int[], ${allowanceSkips}::int[]) AS allowance(owner, n, skip)
         ON allowance.owner = owners.owner
       CROSS JOIN LATERAL (
         SELECT d.id, d.next_attempt_at, row_number() OVER (ORDER BY d.next_attempt_at) AS turn
         FROM lyrics_deliveries AS d
         WHERE ${due('d')} AND d.owner = owners.owner AND (d.lease_until IS NULL OR d.lease_until <= now())
           -- Its task's first pending event for this consumer: one probe of lyrics_deliveries_task_idx. Pending is
           -- tested as "has a next attempt time" (only pending deliveries have one), which matches no partial index:
           -- with status = 'pending' the planner walks the due index instead when its statistics count no pending rows.
           AND d.event_seq = (SELECT min(earlier.event_seq) FROM lyrics_deliveries AS earlier
                              WHERE earlier.task_id = d.task_id AND earlier.consumer = d.consumer
                                AND earlier.next_attempt_at IS NOT NULL)
         ORDER BY d.next_attempt_at
         LIMIT COALESCE(allowance.n, $3) OFFSET COALESCE(allowance.skip, ${skip})
       ) AS candidate
       WHERE owners.owner IS NOT NULL
     ), picked AS (
       -- By primary key, locked, and claimable still once locked (a row another instance claimed or recorded since
       -- this snapshot is read again). Due is tested by next_attempt_at alone (a delivery that is not pending has
       -- none): no test here matches the due index's predicate, so no statistics can make this a walk of the backlog.
       SELECT d.id FROM lyrics_deliveries AS d
       WHERE d.id = ANY (ARRAY(SELECT id FROM candidates ORDER BY turn, next_attempt_at LIMIT $2))
         AND d.next_attempt_at <= now() AND (d.lease_until IS NULL OR d.lease_until <= now()) AND d.id <> ALL (${recorded.ids}::bigint[])
       FOR UPDATE SKIP LOCKED
     ), claimed AS (
       UPDATE lyrics_deliveries AS d
       SET lease_until = now() + ${msInterval('$4')}, lease_token = gen_random_uuid(), attempt_count = d.attempt_count + 1
       FROM picked, lyrics_events AS event
         LEFT JOIN lyrics_webhook_secrets AS secrets ON secrets.owner = event.owner
       WHERE d.id = picked.id AND event.seq = d.event_seq
       RETURNING d.id::text AS id, d.lease_token AS "leaseToken", d.owner, d.task_id AS "taskId", d.url,
                 d.attempt_count AS attempt, event.id AS "eventId", event.type,
                 CASE WHEN $1 = 'host' THEN event.data END AS data,
                 CASE WHEN $1 = 'webhook' THEN jsonb_build_object(
                   'id', event.id, 'type', event.type,
                   'createdAt', to_char(event.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
                   'data', event.data)::text END AS body,
                 secrets.secret, CASE WHEN secrets.previous_until > now() THEN secrets.previous_secret END AS "previousSecret"
     )
     SELECT NULL AS recorded, claimed.* FROM claimed
     UNION ALL
     SELECT recorded.id::text, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL FROM recorded`,
    params.values,
  );
}

/**
 * Records attempts alone, in one statement, as recordAndClaimDeliveries does: what finished while a relay stopped.
 * Returns the ids recorded.
 */
export function recordDeliveryAttempts(input: { outcomes: DeliveryOutcome[]; keepAttempts: number }): Statement {
  const params = new Params();
  return named('record_delivery_attempts', recordOutcomes(params, input.outcomes, input.keepAttempts).text, params.values);
}

/**
 * The UPDATE that records `outcomes` (as eight arrays, ids sorted so that two statements lock rows in one order),
 * keeping at most `keepAttempts` attempts per delivery; returns the ids recorded. Its values go into `params`; `ids`
 * is the placeholder of the ids' array.
 */
function recordOutcomes(params: Params, outcomes: DeliveryOutcome[], keepAttempts: number): { text: string; ids: string } {
  const sorted = [...outcomes].sort((a, b) => Number(a.id) - Number(b.id));
  const column = <T>(pick: (outcome: DeliveryOutcome) => T) => params.add(sorted.map(pick));
  const ids = column((o) => o.id);
  const arrays = [
    `${ids}::bigint[]`,
    `${column((o) => o.leaseToken)}::uuid[]`,
    `${column((o) => o.status)}::text[]`,
    `${column((o) => o.attempt.httpStatus)}::int[]`,
    `${column((o) => o.attempt.error)}::text[]`,
    `${column((o) => Math.round(o.attempt.durationMs))}::int[]`,
    `${column((o) => o.retryInMs ?? 0)}::double precision[]`,
    `${column((o) => o.startedMsAgo)}::double precision[]`,
  ].join(', ');
  const keep = params.add(keepAttempts);
  const text = `UPDATE lyrics_deliveries AS d SET
         status = o.status,
         attempts = (CASE WHEN jsonb_array_length(d.attempts) >= ${keep} THEN d.attempts - 0 ELSE d.attempts END)
                    || jsonb_build_array(jsonb_build_object(
                         'at', to_char((clock_timestamp() - ${msInterval('o.started_ms_ago')}) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
                         'httpStatus', o.http_status, 'error', o.error, 'durationMs', o.duration_ms)),
         next_attempt_at = CASE WHEN o.status = 'pending' THEN clock_timestamp() + ${msInterval('o.retry_in_ms')} END,
         completed_at = CASE WHEN o.status <> 'pending' THEN clock_timestamp() END,
         lease_until = NULL, lease_token = NULL
       FROM unnest(${arrays})
            AS o(id, lease_token, status, http_status, error, duration_ms, retry_in_ms, started_ms_ago)
       WHERE d.id = o.id AND d.lease_token = o.lease_token
       RETURNING d.id::text AS id`;
  return { text, ids };
}

/** Gives back claims unrecorded at shutdown: due again at once, the attempt not counted. */
export function releaseDeliveryClaims(input: { ids: string[]; leaseTokens: string[] }): Statement {
  return named(
    'release_delivery_claims',
    `UPDATE lyrics_deliveries AS d SET lease_until = NULL, lease_token = NULL, attempt_count = d.attempt_count - 1
     FROM unnest($1::bigint[], $2::uuid[]) AS claim(id, lease_token)
     WHERE d.id = claim.id AND d.lease_token = claim.lease_token`,
    [input.ids, input.leaseTokens],
  );
}

/** A task's webhook deliveries as GET /lyrics/:id/deliveries shows them, oldest event first. */
export interface DeliveryRecord {
  eventId: string;
  type: LyricsEventType;
  url: string;
  status: DeliveryStatus;
  attempts: DeliveryAttempt[];
  nextAttemptAt: Date | null;
}

export function webhookDeliveriesOf(input: { owner: string; taskId: string }): Statement {
  return named(
    'webhook_deliveries_of',
    `SELECT event.id AS "eventId", event.type, d.url, d.status, d.attempts, d.next_attempt_at AS "nextAttemptAt"
     FROM lyrics_deliveries AS d JOIN lyrics_events AS event ON event.seq = d.event_seq
     WHERE d.task_id = $1 AND d.consumer = 'webhook' AND d.owner = $2
     ORDER BY d.event_seq`,
    [input.taskId, input.owner],
  );
}

/** Pending deliveries per consumer (all instances), and how long the oldest has waited since its event. */
export function deliveryBacklog(): Statement {
  return unnamed(
    `SELECT consumer, count(*)::int AS n, COALESCE(EXTRACT(EPOCH FROM now() - min(created_at)), 0)::float8 AS oldest
     FROM lyrics_deliveries WHERE status = 'pending'
     GROUP BY consumer`,
    [],
  );
}
