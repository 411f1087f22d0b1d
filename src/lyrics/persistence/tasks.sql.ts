import { LyricsTaskEntity, TaskStatus } from '../entities/lyrics-task.entity';
import { LyricsVariantEntity } from '../entities/lyrics-variant.entity';
import { AgeGuard, DueIn, FromState, IfUnset, NOW, ruleOf, TaskAssignments, TaskChange } from '../task-transitions';
import { Statement } from './lyrics-database';
import { aliasedColumns, msInterval, named, Params, unnamed } from './sql';

/**
 * Every statement lyrics_tasks and lyrics_variants see. Each is a pure builder returning its text and values; the
 * hot paths (submit, the callback's token read and transition, the claims) are named, so prepared once per
 * connection.
 */

/** A lyrics_tasks row, with the entity's property names. */
export type TaskRecord = Omit<LyricsTaskEntity, 'variants'>;
export type VariantRecord = Omit<LyricsVariantEntity, 'task'>;

/** The one column list: every statement that returns tasks returns these, so one mapping serves them all. */
export const TASK_COLUMNS = aliasedColumns<TaskRecord>({
  id: 'id',
  owner: 'owner',
  status: 'status',
  prompt: 'prompt',
  metadata: 'metadata',
  webhookUrl: 'webhook_url',
  idempotencyKey: 'idempotency_key',
  requestHash: 'request_hash',
  kieTaskId: 'kie_task_id',
  kieAccount: 'kie_account',
  callbackTokenHash: 'callback_token_hash',
  errorCode: 'error_code',
  errorMessage: 'error_message',
  attempts: 'attempts',
  resultSource: 'result_source',
  polls: 'polls',
  nextAttemptAt: 'next_attempt_at',
  sentAt: 'sent_at',
  leaseUntil: 'lease_until',
  createdAt: 'created_at',
  submittedAt: 'submitted_at',
  completedAt: 'completed_at',
  updatedAt: 'updated_at',
});

const VARIANT_COLUMNS = aliasedColumns<VariantRecord>({
  taskId: 'task_id',
  position: 'position',
  title: 'title',
  text: 'text',
  status: 'status',
  errorMessage: 'error_message',
});

/** The channel the one door notifies, inside its transaction, when a task becomes final (delivered on commit). */
export const FINAL_TASK_CHANNEL = 'lyrics_task_final';

/**
 * Serialises one owner's submissions until the transaction ends, so that the quota count and the insert that follows
 * it see every earlier submission of that owner.
 */
export function lockOwnerSubmissions(owner: string): Statement {
  return named('lock_owner_submissions', `SELECT pg_advisory_xact_lock(hashtext('lyrics.submit'), hashtext($1))`, [owner]);
}

/** Frees the owner's idempotency key when its first use is older than the key's time to live. */
export function releaseExpiredIdempotencyKey(input: { owner: string; idempotencyKey: string; ttlHours: number }): Statement {
  return named(
    'release_expired_idempotency_key',
    `UPDATE lyrics_tasks SET idempotency_key = NULL, request_hash = NULL
     WHERE owner = $1 AND idempotency_key = $2 AND created_at < now() - make_interval(hours => $3)`,
    [input.owner, input.idempotencyKey, input.ttlHours],
  );
}

/**
 * A new queued task, due at once, if its owner has fewer than `maxActive` unfinished tasks. No row when the quota is
 * full or the owner already used the idempotency key (the caller tells which by reading the key's task).
 */
export function insertQueuedTask(input: {
  owner: string;
  prompt: string;
  metadataJson: string | null;
  webhookUrl: string | null;
  idempotencyKey: string | null;
  requestHash: string | null;
  maxActive: number;
}): Statement {
  return named(
    'insert_task',
    `INSERT INTO lyrics_tasks (owner, status, prompt, metadata, idempotency_key, request_hash, webhook_url, next_attempt_at)
     SELECT $1::text, 'queued', $2::text, $3::jsonb, $4::text, $5::text, $7::text, clock_timestamp()
     WHERE (SELECT count(*) FROM lyrics_tasks WHERE owner = $1::text AND status IN ('queued', 'submitted')) < $6::int
     ON CONFLICT (owner, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
     RETURNING ${TASK_COLUMNS}`,
    [input.owner, input.prompt, input.metadataJson, input.idempotencyKey, input.requestHash, input.maxActive, input.webhookUrl],
  );
}

export function taskById(input: { owner: string; id: string }): Statement {
  return named('task_by_id', `SELECT ${TASK_COLUMNS} FROM lyrics_tasks WHERE id = $1 AND owner = $2`, [input.id, input.owner]);
}

/** A task by id whoever owns it: for the workers and the one door, never for a client's read. */
export function anyTaskById(id: string): Statement {
  return named('any_task_by_id', `SELECT ${TASK_COLUMNS} FROM lyrics_tasks WHERE id = $1`, [id]);
}

export function taskByIdempotencyKey(input: { owner: string; idempotencyKey: string }): Statement {
  return named('task_by_idempotency_key', `SELECT ${TASK_COLUMNS} FROM lyrics_tasks WHERE owner = $1 AND idempotency_key = $2`, [
    input.owner,
    input.idempotencyKey,
  ]);
}

/** Frees up to `batch` idempotency keys older than their time to live (housekeeping; a reuse frees its own key). */
export function releaseExpiredIdempotencyKeys(input: { ttlHours: number; batch: number }): Statement {
  return unnamed(
    `UPDATE lyrics_tasks SET idempotency_key = NULL, request_hash = NULL
     WHERE id IN (SELECT id FROM lyrics_tasks
                  WHERE idempotency_key IS NOT NULL AND created_at < now() - make_interval(hours => $1)
                  ORDER BY created_at LIMIT $2)`,
    [input.ttlHours, input.batch],
  );
}

/** What a callback needs to authenticate itself: read before anything is written. */
export function callbackTarget(id: string): Statement {
  return named(
    'callback_target',
    `SELECT id, kie_task_id AS "kieTaskId", kie_account AS "kieAccount", callback_token_hash AS "callbackTokenHash"
     FROM lyrics_tasks WHERE id = $1`,
    [id],
  );
}

/**
 * One page of an owner's tasks, newest first, by keyset (created_at, id); `limit + 1` rows say whether another page follows.
 * The cursor's time is PostgreSQL's own text, to the microsecond, which a JS Date would round.
 */
export function taskPage(input: {
  owner: string;
  status?: TaskStatus;
  after?: { createdAt: string; id: string };
  limit: number;
}): Statement {
  const params = new Params(input.limit + 1, input.owner);
  const conditions = [
    'owner = $2',
    input.status ? `status = ${params.add(input.status)}` : '',
    input.after ? `(created_at, id) < (${params.add(input.after.createdAt)}::timestamptz, ${params.add(input.after.id)}::uuid)` : '',
  ].filter(Boolean);
  const variant = [input.status ? 'status' : '', input.after ? 'after' : ''].filter(Boolean).join('_');
  return named(
    `task_page${variant ? `_${variant}` : ''}`,
    `SELECT ${TASK_COLUMNS}, to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS "cursorCreatedAt"
     FROM lyrics_tasks WHERE ${conditions.join(' AND ')}
     ORDER BY created_at DESC, id DESC
     LIMIT $1`,
    params.values,
  );
}

export function variantsOf(taskIds: string[]): Statement {
  return named('variants_of', `SELECT ${VARIANT_COLUMNS} FROM lyrics_variants WHERE task_id = ANY($1::uuid[]) ORDER BY task_id, position`, [
    taskIds,
  ]);
}

/** The receipt of a callback whose result the transition applies, written by the transition's own statement. */
export interface AppliedReceipt {
  kieTaskId: string | null;
  remoteAddress: string | null;
  body: string;
  bodyTruncated: boolean;
  /** Not written when the task already has this many receipts (the webhook's LYRICS_RECEIPTS_PER_TASK); unset: no limit. */
  perTaskLimit?: number;
}

/** The guard of a rule's from-states, as SQL over lyrics_tasks (constants of the code, never input). */
export function fromStatesSql(from: readonly FromState[]): string {
  const lease = { none: 'lease_until IS NULL', expired: 'lease_until < clock_timestamp()' };
  const one = (state: FromState) =>
    [
      `status = '${state.status}'`,
      state.errorCode ? `error_code = '${state.errorCode}'` : '',
      state.lease ? lease[state.lease] : '',
      state.createSent === undefined ? '' : `sent_at IS ${state.createSent ? 'NOT ' : ''}NULL`,
    ]
      .filter(Boolean)
      .join(' AND ');
  return `(${from.map((state) => `(${one(state)})`).join(' OR ')})`;
}

const AGE_COLUMNS: Record<AgeGuard['since'], string> = { created: 'created_at', submitted: 'submitted_at' };

const ASSIGNED_COLUMNS: { [K in keyof Required<TaskAssignments>]: string } = {
  kieTaskId: 'kie_task_id',
  submittedAt: 'submitted_at',
  nextAttemptAt: 'next_attempt_at',
  resultSource: 'result_source',
};

const isDueIn = (value: unknown): value is DueIn => value !== null && typeof value === 'object' && 'afterMs' in value;

function assignment(column: string, value: unknown, params: Params): string {
  if (value === NOW) return `${column} = clock_timestamp()`;
  if (isDueIn(value)) {
    const due = `clock_timestamp() + ${msInterval(params.add(value.afterMs))}`;
    // LEAST ignores a NULL submitted_at; the cap keeps the last check at the maximum age, not after it.
    return value.notAfterAgeMs === undefined
      ? `${column} = ${due}`
      : `${column} = LEAST(${due}, submitted_at + ${msInterval(params.add(value.notAfterAgeMs))})`;
  }
  if (value !== null && typeof value === 'object' && 'ifUnset' in value) {
    const fallback = (value as IfUnset).ifUnset;
    return `${column} = COALESCE(${column}, ${fallback === NOW ? 'clock_timestamp()' : params.add(fallback)})`;
  }
  return `${column} = ${params.add(value)}`;
}

/** An instant as the task resource spells it (JavaScript's toISOString: milliseconds, UTC). */
const isoTime = (column: string) => `to_char(${column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;

/**
 * The event of the task `changed` just left final: its type, its owner, the writing transaction (for the feed's
 * commit-safe order) and the task resource as the transition left it (the shape of LyricsTaskDto), with the variants
 * the same statement stores, read from `variantsFrom` (the statement's own inserts are not visible to it).
 */
function insertEvent(variantsFrom: string | undefined): string {
  const variants = variantsFrom
    ? `(SELECT COALESCE(jsonb_agg(jsonb_build_object('title', v.title, 'text', v.text, 'status', v.status, 'errorMessage', v.error_message)
                                  ORDER BY v.position), '[]'::jsonb) FROM ${variantsFrom} AS v)`
    : `'[]'::jsonb`;
  return `INSERT INTO lyrics_events (tx_id, owner, task_id, type, data)
      SELECT pg_current_xact_id()::text::bigint, changed.owner, changed.id, 'lyrics.' || changed.status,
             jsonb_build_object(
               'id', changed.id, 'status', changed.status, 'prompt', changed.prompt, 'metadata', changed.metadata,
               'kieTaskId', changed.kie_task_id, 'variants', ${variants},
               'error', CASE WHEN changed.error_code IS NULL THEN NULL
                             ELSE jsonb_build_object('code', changed.error_code, 'message', COALESCE(changed.error_message, '')) END,
               'createdAt', ${isoTime('changed.created_at')}, 'submittedAt', ${isoTime('changed.submitted_at')},
               'webhookUrl', changed.webhook_url,
               'completedAt', ${isoTime('changed.completed_at')}, 'updatedAt', ${isoTime('changed.updated_at')})
      FROM changed
      RETURNING seq, task_id, owner`;
}

/**
 * What a final event is owed to, written beside it: the host's handlers when `hostHandlers` (a parameter, so one
 * prepared text serves both) and the task's webhook when it has one.
 */
function insertDeliveries(hostHandlers: string): string {
  return `INSERT INTO lyrics_deliveries (event_seq, task_id, owner, consumer, url)
      SELECT event.seq, event.task_id, event.owner, 'host', NULL FROM event WHERE ${hostHandlers}::boolean
      UNION ALL
      SELECT event.seq, event.task_id, event.owner, 'webhook', changed.webhook_url FROM event, changed
      WHERE changed.webhook_url IS NOT NULL`;
}

export interface TransitionOptions {
  /** Owe each final event to the host's handlers (the module has an event emitter); default false. */
  hostHandlers?: boolean;
}

/**
 * The one door's statement, derived from the change's rule in TASK_TRANSITIONS: the UPDATE guarded by the rule's
 * from-states, a success's variants, a final state's event (the outbox) and its deliveries, and an applied callback's
 * receipt as data-modifying CTEs, and the notification of a final state, all in one statement (so one transaction and
 * one round trip). Returns the changed task, or no row when the guard did not hold. The text depends only on the
 * change's type and on whether a receipt comes with it, so each such pair is one prepared statement.
 */
export function applyTransition(taskId: string, change: TaskChange, receipt?: AppliedReceipt, options: TransitionOptions = {}): Statement {
  const rule = ruleOf(change);
  const params = new Params(taskId);
  const sets = [`status = '${rule.to}'`, 'lease_until = NULL', 'updated_at = clock_timestamp()'];
  if (rule.final) {
    sets.push('completed_at = clock_timestamp()', 'next_attempt_at = NULL');
    const error = rule.error?.(change);
    if (rule.to === 'failed' && error) sets.push(`error_code = ${params.add(error.code)}`, `error_message = ${params.add(error.message)}`);
    if (rule.to === 'succeeded') sets.push('error_code = NULL', 'error_message = NULL');
  }
  for (const [key, value] of Object.entries(rule.set?.(change) ?? {})) {
    if (value !== undefined) sets.push(assignment(ASSIGNED_COLUMNS[key as keyof TaskAssignments], value, params));
  }
  const age = rule.age?.(change);
  const ageGuard = age ? ` AND ${AGE_COLUMNS[age.since]} <= clock_timestamp() - ${msInterval(params.add(age.atLeastMs))}` : '';
  const ctes = [
    `changed AS (UPDATE lyrics_tasks SET ${sets.join(', ')} WHERE id = $1 AND ${fromStatesSql(rule.from)}${ageGuard} RETURNING *)`,
  ];
  const variants = rule.variants?.(change);
  if (variants) {
    ctes.push(`given_variants AS (
      SELECT * FROM unnest(${params.add(variants.map((v) => v.title))}::text[], ${params.add(variants.map((v) => v.text))}::text[],
                           ${params.add(variants.map((v) => v.status))}::text[], ${params.add(variants.map((v) => v.errorMessage))}::text[])
           WITH ORDINALITY AS v(title, text, status, error_message, position))`);
    ctes.push(`variants AS (
      INSERT INTO lyrics_variants (task_id, position, title, text, status, error_message)
      SELECT changed.id, v.position - 1, v.title, v.text, v.status, v.error_message FROM changed, given_variants AS v)`);
  }
  // The outbox: a final transition's event is written by the same statement, so it exists exactly when the change does.
  if (rule.final) {
    ctes.push(`event AS (${insertEvent(variants ? 'given_variants' : undefined)})`);
    ctes.push(`deliveries AS (${insertDeliveries(params.add(options.hostHandlers ?? false))})`);
  }
  if (receipt) {
    ctes.push(`receipt AS (
      INSERT INTO lyrics_callback_receipts (task_id, kie_task_id, outcome, remote_address, body, body_truncated)
      SELECT changed.id, ${params.add(receipt.kieTaskId)}, 'applied', ${params.add(receipt.remoteAddress)},
             ${params.add(receipt.body)}, ${params.add(receipt.bodyTruncated)}
      FROM changed
      WHERE (SELECT count(*) FROM lyrics_callback_receipts WHERE task_id = $1) < ${params.add(receipt.perTaskLimit ?? Number.MAX_SAFE_INTEGER)})`);
  }
  // Delivered at commit, to every instance's waiters (waitForFinal).
  const notify = rule.final ? `pg_notify('${FINAL_TASK_CHANNEL}', changed.id::text)` : 'NULL';
  return named(
    `transition_${change.type}${receipt ? '_with_receipt' : ''}`,
    `WITH ${ctes.join(',\n')}
     SELECT ${TASK_COLUMNS}, ${notify} AS notified FROM changed`,
    params.values,
  );
}

/**
 * Makes the instances' create claims take turns, so that the owners' turns (lyrics_owner_turns) are read and advanced
 * by one claim at a time: a claim is a few milliseconds, and creates are a few per second.
 */
export function lockCreateClaims(): Statement {
  return named('lock_create_claims', `SELECT pg_advisory_xact_lock(hashtext('lyrics.create-claim'))`, []);
}

/**
 * Up to `limit` due creates, shared fairly among the owners with due work: every owner's oldest due task first, the
 * owners least recently served first (never-served ones before all), then every owner's second, and so on. So between
 * two creates of one owner, every other owner with due work gets one. Oldest first within an owner. The owners are
 * found by a loose index scan of lyrics_tasks_owner_due_idx (one probe per owner, not a scan of the queue), each
 * owner's candidates by the same index; the rows are locked for the claiming transaction, and `attempts` is the
 * attempt about to start. Marks each served owner's turn.
 */
export function lockFairDueCreates(limit: number): Statement {
  const due = (task: string) => `${task}.status = 'queued' AND ${task}.lease_until IS NULL AND ${task}.next_attempt_at <= now()`;
  return named(
    'lock_fair_due_creates',
    `WITH RECURSIVE owners AS (
       SELECT (SELECT min(task.owner) FROM lyrics_tasks AS task WHERE ${due('task')}) AS owner
       UNION ALL
       SELECT (SELECT min(task.owner) FROM lyrics_tasks AS task WHERE ${due('task')} AND task.owner > owners.owner)
       FROM owners WHERE owners.owner IS NOT NULL
     ),
     candidates AS (
       SELECT candidate.*, turn.served_at
       FROM owners
       LEFT JOIN lyrics_owner_turns AS turn ON turn.owner = owners.owner
       CROSS JOIN LATERAL (
         SELECT id, owner, prompt, attempts + 1 AS attempts, row_number() OVER (ORDER BY next_attempt_at, id) AS turn_rank
         FROM (SELECT task.id, task.owner, task.prompt, task.attempts, task.next_attempt_at FROM lyrics_tasks AS task
               WHERE task.owner = owners.owner AND ${due('task')}
               ORDER BY task.next_attempt_at, task.id LIMIT $1
               FOR UPDATE SKIP LOCKED) AS locked
       ) AS candidate
       WHERE owners.owner IS NOT NULL
     ),
     picked AS (
       SELECT id, owner, prompt, attempts, turn_rank, served_at FROM candidates
       ORDER BY turn_rank, served_at NULLS FIRST, owner LIMIT $1
     ),
     served AS (
       INSERT INTO lyrics_owner_turns (owner, served_at)
       SELECT owner, clock_timestamp() FROM (SELECT DISTINCT owner FROM picked) AS served_owners
       ON CONFLICT (owner) DO UPDATE SET served_at = EXCLUDED.served_at
     )
     SELECT id, prompt, attempts FROM picked ORDER BY turn_rank, served_at NULLS FIRST, owner`,
    [limit],
  );
}

/** Leases claimed creates to this instance, each with the hash of its new callback token and the account it goes out on. */
export function leaseCreates(input: { ids: string[]; tokenHashes: string[]; accounts: string[]; leaseMs: number }): Statement {
  return named(
    'lease_creates',
    `UPDATE lyrics_tasks AS task
     SET lease_until = clock_timestamp() + ${msInterval('$1')}, sent_at = NULL,
         attempts = task.attempts + 1, callback_token_hash = claimed.hash, kie_account = claimed.account,
         updated_at = clock_timestamp()
     FROM unnest($2::uuid[], $3::text[], $4::text[]) AS claimed(id, hash, account)
     WHERE task.id = claimed.id`,
    [input.leaseMs, input.ids, input.tokenHashes, input.accounts],
  );
}

/**
 * Records that claimed creates are about to be sent: the one write just before their requests go out. Only the claim
 * itself can (its token's hash and a live lease), so a claim released as unsent can never be sent after all; a task
 * missing from the answer lost its claim, and its create must not go out.
 */
export function markCreatesSent(input: { ids: string[]; tokenHashes: string[] }): Statement {
  return named(
    'mark_creates_sent',
    `UPDATE lyrics_tasks AS task SET sent_at = clock_timestamp()
     FROM unnest($1::uuid[], $2::text[]) AS claim(id, hash)
     WHERE task.id = claim.id AND task.callback_token_hash = claim.hash
       AND task.status = 'queued' AND task.lease_until > clock_timestamp()
     RETURNING task.id`,
    [input.ids, input.tokenHashes],
  );
}

/** Queued tasks whose lease ran out (their claimer stopped), and whether their create had been sent. */
export function orphanedCreates(limit: number): Statement {
  return named(
    'orphaned_creates',
    `SELECT id, sent_at IS NOT NULL AS sent FROM lyrics_tasks WHERE lease_until < now() AND status = 'queued' LIMIT $1`,
    [limit],
  );
}

/** Queued tasks older than the queue's maximum age and held by no live claim, oldest first. */
export function expiredQueuedTasks(input: { maxAgeMs: number; limit: number }): Statement {
  return named(
    'expired_queued_tasks',
    `SELECT id FROM lyrics_tasks
     WHERE status = 'queued' AND created_at <= now() - ${msInterval('$1')}
       AND (lease_until IS NULL OR (lease_until < now() AND sent_at IS NULL))
     ORDER BY created_at LIMIT $2`,
    [input.maxAgeMs, input.limit],
  );
}

/**
 * Due record-info checks, locked for the claiming transaction, with the time left until the task's maximum age by the
 * database's clock (negative once past it).
 */
export function lockDueChecks(input: { limit: number; maxAgeMs: number }): Statement {
  return named(
    'lock_due_checks',
    `SELECT id, kie_task_id AS "kieTaskId", kie_account AS "kieAccount", polls + 1 AS polls,
            (EXTRACT(EPOCH FROM (submitted_at + ${msInterval('$2')} - clock_timestamp())) * 1000)::float8 AS "msLeft"
     FROM lyrics_tasks
     WHERE status = 'submitted' AND next_attempt_at <= now()
     ORDER BY next_attempt_at LIMIT $1
     FOR UPDATE SKIP LOCKED`,
    [input.limit, input.maxAgeMs],
  );
}

/** Leases claimed checks; each falls due again when its lease ends, so another instance takes over a dead one's. */
export function leaseChecks(input: { ids: string[]; leaseMs: number }): Statement {
  return named(
    'lease_checks',
    `UPDATE lyrics_tasks SET lease_until = clock_timestamp() + ${msInterval('$1')},
            next_attempt_at = clock_timestamp() + ${msInterval('$1')},
            polls = polls + 1, updated_at = clock_timestamp()
     WHERE id = ANY($2::uuid[])`,
    [input.leaseMs, input.ids],
  );
}

/** Gives checks back to the queue, due at once (at shutdown). */
export function releaseChecks(ids: string[]): Statement {
  return unnamed(
    `UPDATE lyrics_tasks SET lease_until = NULL, next_attempt_at = now() WHERE id = ANY($1::uuid[]) AND status = 'submitted'`,
    [ids],
  );
}

/** The work queues on lyrics_tasks that a worker may sleep on. */
export type TaskQueue = 'create' | 'check';

const QUEUE_CONDITIONS: Record<TaskQueue, string> = {
  create: `status = 'queued' AND lease_until IS NULL`,
  check: `status = 'submitted'`,
};

/** Milliseconds until the queue's earliest task falls due (negative when overdue); NULL when the queue is empty. */
export function msUntilDue(queue: TaskQueue): Statement {
  return named(
    `ms_until_due_${queue}`,
    `SELECT (EXTRACT(EPOCH FROM (MIN(next_attempt_at) - clock_timestamp())) * 1000)::float8 AS "waitMs"
     FROM lyrics_tasks WHERE ${QUEUE_CONDITIONS[queue]}`,
    [],
  );
}

/** Active tasks by status (the partial due index serves it). */
export function countActiveTasks(): Statement {
  return unnamed(`SELECT status, count(*)::int AS n FROM lyrics_tasks WHERE status IN ('queued', 'submitted') GROUP BY status`, []);
}

/** Final tasks by status: reads the whole table, so callers reuse the answer for a while. */
export function countFinalTasks(): Statement {
  return unnamed(
    `SELECT status, count(*)::int AS n FROM lyrics_tasks WHERE status IN ('succeeded', 'failed', 'cancelled') GROUP BY status`,
    [],
  );
}

/** Due work per queue: how many tasks are due now and how long the longest-waiting one has been due, in seconds. */
export function dueBacklog(): Statement {
  return unnamed(
    `SELECT CASE status WHEN 'queued' THEN 'create' ELSE 'check' END AS queue, count(*)::int AS n,
            EXTRACT(EPOCH FROM now() - min(next_attempt_at))::float8 AS oldest
     FROM lyrics_tasks WHERE status IN ('queued', 'submitted') AND next_attempt_at <= now()
     GROUP BY 1`,
    [],
  );
}
