import { TaskErrorCode, TaskStatus } from './entities/lyrics-task.entity';
import { KieFailureCode, KieTaskResult, KieVariant } from './kie/kie.types';

export type FinalResult = Exclude<KieTaskResult, { state: 'pending' }>;
export type ResultSource = 'callback' | 'poll';
/** How a task reached its final state (a metrics label). */
export type FinalPath = 'create' | 'orphan' | 'queue' | 'callback' | 'poll' | 'timeout' | 'cancel';

/**
 * Every change a task's state can go through. LyricsService.transition applies each through the one door: one
 * transaction, guarded by the states the change may start from (TASK_TRANSITIONS); a change whose guard no longer
 * holds does nothing. Due times are delays from the database's clock, never instants of the instance's.
 */
export type TaskChange =
  /** KIE accepted the create. */
  | { type: 'create_accepted'; kieTaskId: string; firstCheckInMs: number }
  /** KIE certainly did not take the create (throttled, maintenance, not sent): tried again later. */
  | { type: 'create_deferred'; retryInMs: number; reason: string }
  /** KIE refused the create, or may have taken it without our knowing: never sent again. */
  | { type: 'create_failed'; code: 'upstream_rejected' | 'submit_outcome_unknown'; message: string }
  /** The instance sending the create died after sending it and before storing the answer (its lease expired). */
  | { type: 'create_orphaned' }
  /** The instance that claimed the create died before sending it: due again at once. */
  | { type: 'create_released' }
  /** Never sent within LYRICS_QUEUE_MAX_AGE_MS of submission (e.g. every attempt throttled). */
  | { type: 'queue_expired'; maxAgeMs: number }
  /** record-info shows no final result yet (or could not be read): checked again later, never after the maximum age. */
  | { type: 'poll_deferred'; nextCheckInMs: number; maxAgeMs: number }
  /**
   * An authenticated callback in a shape we cannot read a result from: record-info is checked at once, instead of at
   * the poll's next due time (which never moves past the maximum age).
   */
  | { type: 'check_woken' }
  /** No final result within the task's maximum age, by the database's clock. */
  | { type: 'timed_out'; maxAgeMs: number }
  /** KIE's final success, by callback or by poll. */
  | { type: 'result_succeeded'; source: ResultSource; kieTaskId: string; variants: KieVariant[] }
  /** KIE's final failure, by callback or by poll. */
  | { type: 'result_failed'; source: ResultSource; kieTaskId: string; code: KieFailureCode; message: string }
  /** KIE's final result could not be stored (the database refused its data): the task ends instead of retrying. */
  | { type: 'result_unstorable'; source: ResultSource; message: string }
  /** The owner cancelled a task no dispatcher holds: nothing was sent for it, so nothing was billed. */
  | { type: 'cancelled' };

export type TaskChangeType = TaskChange['type'];

/** A state a change may start from: a status, narrowed to one error code or to a lease's state where needed. */
export interface FromState {
  status: TaskStatus;
  errorCode?: TaskErrorCode;
  /** 'none': no claim holds the task; 'expired': a claim held it and its holder stopped (the lease ran out). */
  lease?: 'none' | 'expired';
  /** Whether the current create attempt's request went out (sent_at, written just before sending). */
  createSent?: boolean;
}

/** The database's clock at the transition (never the instance's). */
export const NOW = Symbol('now');
/** Keeps the column's value when it has one, else sets `value` (an early callback may precede the create's answer). */
export interface IfUnset {
  ifUnset: unknown;
}
const ifUnset = (value: unknown): IfUnset => ({ ifUnset: value });

/** A due time: `afterMs` from the database's clock, and never later than `maxAgeMs` after submission when given. */
export interface DueIn {
  afterMs: number;
  notAfterAgeMs?: number;
}

/** The task columns a change may set beyond those that follow from its target status (see TransitionRule). */
export interface TaskAssignments {
  kieTaskId?: string | IfUnset;
  submittedAt?: typeof NOW | IfUnset;
  nextAttemptAt?: DueIn;
  resultSource?: ResultSource;
}

/** A guard on the task's age by the database's clock: at least `atLeastMs` since it was created or submitted. */
export interface AgeGuard {
  since: 'created' | 'submitted';
  atLeastMs: number;
}

interface RuleBase<C> {
  from: readonly FromState[];
  /** The status the task is left in. Every transition also releases the task's lease. */
  to: TaskStatus;
  set?: (change: C) => TaskAssignments;
  /** Applies only once the task is this old (so an instance whose clock runs ahead cannot end it early). */
  age?: (change: C) => AgeGuard;
}

/**
 * A final rule also ends the task's work (completed_at, no next attempt), notifies waiters and is counted under its
 * path; a failed one records its error, a succeeded one clears any earlier error and stores the variants.
 */
export type TransitionRule<C> = RuleBase<C> &
  ({ final: false } | { final: true; path: (change: C) => FinalPath; error?: (change: C) => { code: TaskErrorCode; message: string } }) & {
    variants?: (change: C) => KieVariant[];
  };

type TransitionTable = { [T in TaskChangeType]: TransitionRule<Extract<TaskChange, { type: T }>> };

const QUEUED: FromState = { status: 'queued' };
const QUEUED_UNCLAIMED: FromState = { status: 'queued', lease: 'none' };
const QUEUED_ORPHAN_SENT: FromState = { status: 'queued', lease: 'expired', createSent: true };
const QUEUED_ORPHAN_UNSENT: FromState = { status: 'queued', lease: 'expired', createSent: false };
const SUBMITTED: FromState = { status: 'submitted' };
/**
 * Final states are sticky, except these two: KIE may still finish (and bill) a task that timed out or whose create's
 * answer was lost, so an authenticated late result revives it.
 */
const TIMED_OUT: FromState = { status: 'failed', errorCode: 'timed_out' };
const OUTCOME_UNKNOWN: FromState = { status: 'failed', errorCode: 'submit_outcome_unknown' };
/** Every state a result from KIE may land on: early (before the create's answer), expected, or late. */
const AWAITING_RESULT = [QUEUED, SUBMITTED, TIMED_OUT, OUTCOME_UNKNOWN] as const;

/** The state machine as data: a change type without an entry here does not compile. */
export const TASK_TRANSITIONS: TransitionTable = {
  create_accepted: {
    from: [QUEUED],
    to: 'submitted',
    final: false,
    set: (change) => ({ kieTaskId: change.kieTaskId, submittedAt: NOW, nextAttemptAt: { afterMs: change.firstCheckInMs } }),
  },
  create_deferred: {
    from: [QUEUED],
    to: 'queued',
    final: false,
    set: (change) => ({ nextAttemptAt: { afterMs: change.retryInMs } }),
  },
  create_failed: {
    from: [QUEUED],
    to: 'failed',
    final: true,
    path: () => 'create',
    error: (change) => ({ code: change.code, message: change.message }),
  },
  create_orphaned: {
    from: [QUEUED_ORPHAN_SENT],
    to: 'failed',
    final: true,
    path: () => 'orphan',
    error: () => ({
      code: 'submit_outcome_unknown',
      message: 'The create was sent by an instance that stopped before storing its answer',
    }),
  },
  create_released: {
    from: [QUEUED_ORPHAN_UNSENT],
    to: 'queued',
    final: false,
    set: () => ({ nextAttemptAt: { afterMs: 0 } }),
  },
  queue_expired: {
    from: [QUEUED_UNCLAIMED, QUEUED_ORPHAN_UNSENT],
    to: 'failed',
    final: true,
    path: () => 'queue',
    age: (change) => ({ since: 'created', atLeastMs: change.maxAgeMs }),
    error: (change) => ({
      code: 'queue_expired',
      message: `The task could not be sent to KIE within ${formatDuration(change.maxAgeMs)} of submission`,
    }),
  },
  poll_deferred: {
    from: [SUBMITTED],
    to: 'submitted',
    final: false,
    set: (change) => ({ nextAttemptAt: { afterMs: change.nextCheckInMs, notAfterAgeMs: change.maxAgeMs } }),
  },
  check_woken: {
    from: [SUBMITTED],
    to: 'submitted',
    final: false,
    set: () => ({ nextAttemptAt: { afterMs: 0 } }),
  },
  timed_out: {
    from: [SUBMITTED],
    to: 'failed',
    final: true,
    path: () => 'timeout',
    age: (change) => ({ since: 'submitted', atLeastMs: change.maxAgeMs }),
    error: (change) => ({
      code: 'timed_out',
      message: `KIE gave no final result within ${formatDuration(change.maxAgeMs)} of submission`,
    }),
  },
  result_succeeded: {
    from: AWAITING_RESULT,
    to: 'succeeded',
    final: true,
    path: (change) => change.source,
    set: (change) => resultIdentity(change),
    variants: (change) => change.variants,
  },
  result_failed: {
    from: AWAITING_RESULT,
    to: 'failed',
    final: true,
    path: (change) => change.source,
    set: (change) => resultIdentity(change),
    error: (change) => ({ code: change.code, message: change.message }),
  },
  cancelled: {
    // Unclaimed only: a claimed create may be on its way to KIE (and billed), so it is not ours to take back.
    from: [QUEUED_UNCLAIMED],
    to: 'cancelled',
    final: true,
    path: () => 'cancel',
  },
  result_unstorable: {
    from: AWAITING_RESULT,
    to: 'failed',
    final: true,
    path: (change) => change.source,
    set: (change) => ({ resultSource: change.source, submittedAt: ifUnset(NOW) }),
    error: (change) => ({ code: 'result_unstorable', message: change.message }),
  },
};

function formatDuration(ms: number): string {
  const [amount, unit] =
    ms >= 3_600_000 && ms % 3_600_000 === 0
      ? [ms / 3_600_000, 'hour']
      : ms >= 60_000
        ? [Math.round(ms / 60_000), 'minute']
        : [Math.round(ms / 1000), 'second'];
  return `${amount} ${unit}${amount === 1 ? '' : 's'}`;
}

/** A result may arrive before the create's answer was stored: it then supplies KIE's id and the submission time. */
function resultIdentity(change: { source: ResultSource; kieTaskId: string }): TaskAssignments {
  return { resultSource: change.source, kieTaskId: ifUnset(change.kieTaskId), submittedAt: ifUnset(NOW) };
}

export function ruleOf<C extends TaskChange>(change: C): TransitionRule<C> {
  return TASK_TRANSITIONS[change.type] as TransitionRule<C>;
}

/** The statuses a task never leaves by itself (see TIMED_OUT and OUTCOME_UNKNOWN for the way back). */
export const FINAL_STATUSES: readonly TaskStatus[] = [
  ...new Set(
    Object.values(TASK_TRANSITIONS)
      .filter((rule) => rule.final)
      .map((rule) => rule.to),
  ),
];

export function isFinalStatus(status: TaskStatus): boolean {
  return FINAL_STATUSES.includes(status);
}

/** The change a final result from KIE makes. */
export function resultChange(source: ResultSource, kieTaskId: string, result: FinalResult): TaskChange {
  return result.state === 'succeeded'
    ? { type: 'result_succeeded', source, kieTaskId, variants: result.variants }
    : { type: 'result_failed', source, kieTaskId, code: result.code, message: result.message };
}
