import { TaskErrorCode, TaskStatus } from './entities/lyrics-task.entity';
import { KieFailureCode, KieTaskResult, KieVariant } from './kie/kie.types';

export type FinalResult = Exclude<KieTaskResult, { state: 'pending' }>;
export type ResultSource = 'callback' | 'poll';
/** How a task reached its final state (a metrics label). */
export type FinalPath = 'create' | 'orphan' | 'callback' | 'poll' | 'timeout';

/**
 * Every change a task's state can go through. LyricsService.transition applies each through the one door: one
 * transaction, guarded by the states the change may start from (TASK_TRANSITIONS); a change whose guard no longer
 * holds does nothing.
 */
export type TaskChange =
  /** KIE accepted the create. */
  | { type: 'create_accepted'; kieTaskId: string; firstCheckAt: Date }
  /** KIE certainly did not take the create (throttled, maintenance, not sent): tried again later. */
  | { type: 'create_deferred'; retryAt: Date; reason: string }
  /** KIE refused the create, or may have taken it without our knowing: never sent again. */
  | { type: 'create_failed'; code: 'upstream_rejected' | 'submit_outcome_unknown'; message: string }
  /** The instance sending the create died before storing the answer (its lease expired). */
  | { type: 'create_orphaned' }
  /** record-info shows no final result yet (or could not be read): checked again later. */
  | { type: 'poll_deferred'; nextCheckAt: Date }
  /** No final result within the task's maximum age. */
  | { type: 'timed_out'; maxAgeMs: number }
  /** KIE's final success, by callback or by poll. */
  | { type: 'result_succeeded'; source: ResultSource; kieTaskId: string; variants: KieVariant[] }
  /** KIE's final failure, by callback or by poll. */
  | { type: 'result_failed'; source: ResultSource; kieTaskId: string; code: KieFailureCode; message: string };

export type TaskChangeType = TaskChange['type'];

/** A state a change may start from: a status, narrowed to one error code or to an expired lease where needed. */
export interface FromState {
  status: TaskStatus;
  errorCode?: TaskErrorCode;
  /** Only while a lease is held and has run out (its holder stopped). */
  leaseExpired?: true;
}

/** The database's clock at the transition (never the instance's). */
export const NOW = Symbol('now');
/** Keeps the column's value when it has one, else sets `value` (an early callback may precede the create's answer). */
export interface IfUnset {
  ifUnset: unknown;
}
const ifUnset = (value: unknown): IfUnset => ({ ifUnset: value });

/** The task columns a change may set beyond those that follow from its target status (see TransitionRule). */
export interface TaskAssignments {
  kieTaskId?: string | IfUnset;
  submittedAt?: typeof NOW | IfUnset;
  nextAttemptAt?: Date;
  resultSource?: ResultSource;
}

interface RuleBase<C> {
  from: readonly FromState[];
  /** The status the task is left in. Every transition also releases the task's lease. */
  to: TaskStatus;
  set?: (change: C) => TaskAssignments;
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
const QUEUED_LEASE_EXPIRED: FromState = { status: 'queued', leaseExpired: true };
const SUBMITTED: FromState = { status: 'submitted' };
/** Final states are sticky, except that a timed-out task still takes a success KIE reports late (it was billed). */
const TIMED_OUT: FromState = { status: 'failed', errorCode: 'timed_out' };

/** The state machine as data: a change type without an entry here does not compile. */
export const TASK_TRANSITIONS: TransitionTable = {
  create_accepted: {
    from: [QUEUED],
    to: 'submitted',
    final: false,
    set: (change) => ({ kieTaskId: change.kieTaskId, submittedAt: NOW, nextAttemptAt: change.firstCheckAt }),
  },
  create_deferred: {
    from: [QUEUED],
    to: 'queued',
    final: false,
    set: (change) => ({ nextAttemptAt: change.retryAt }),
  },
  create_failed: {
    from: [QUEUED],
    to: 'failed',
    final: true,
    path: () => 'create',
    error: (change) => ({ code: change.code, message: change.message }),
  },
  create_orphaned: {
    from: [QUEUED_LEASE_EXPIRED],
    to: 'failed',
    final: true,
    path: () => 'orphan',
    error: () => ({
      code: 'submit_outcome_unknown',
      message: 'The create was being sent by an instance that stopped before storing its answer',
    }),
  },
  poll_deferred: {
    from: [SUBMITTED],
    to: 'submitted',
    final: false,
    set: (change) => ({ nextAttemptAt: change.nextCheckAt }),
  },
  timed_out: {
    from: [SUBMITTED],
    to: 'failed',
    final: true,
    path: () => 'timeout',
    error: (change) => ({
      code: 'timed_out',
      message: `KIE gave no final result within ${Math.round(change.maxAgeMs / 60000)} minutes of submission`,
    }),
  },
  result_succeeded: {
    from: [QUEUED, SUBMITTED, TIMED_OUT],
    to: 'succeeded',
    final: true,
    path: (change) => change.source,
    set: (change) => resultIdentity(change),
    variants: (change) => change.variants,
  },
  result_failed: {
    from: [QUEUED, SUBMITTED],
    to: 'failed',
    final: true,
    path: (change) => change.source,
    set: (change) => resultIdentity(change),
    error: (change) => ({ code: change.code, message: change.message }),
  },
};

/** A result may arrive before the create's answer was stored: it then supplies KIE's id and the submission time. */
function resultIdentity(change: { source: ResultSource; kieTaskId: string }): TaskAssignments {
  return { resultSource: change.source, kieTaskId: ifUnset(change.kieTaskId), submittedAt: ifUnset(NOW) };
}

export function ruleOf<C extends TaskChange>(change: C): TransitionRule<C> {
  return TASK_TRANSITIONS[change.type] as TransitionRule<C>;
}

/** The statuses a task never leaves by itself (see TIMED_OUT for the one way back). */
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
