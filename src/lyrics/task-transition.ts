import { KieTaskResult } from './kie/kie.types';

export type FinalResult = Exclude<KieTaskResult, { state: 'pending' }>;

/**
 * Every change a task's state can go through (DESIGN.md invariant 3). LyricsService.transition applies each in
 * one transaction, guarded by the state it may start from; a change whose guard no longer holds does nothing.
 */
export type TaskTransition =
  /** KIE accepted the create: queued -> submitted. */
  | { type: 'create_accepted'; kieTaskId: string; firstCheckAt: Date }
  /** KIE certainly did not take the create (throttled, maintenance, not sent): stays queued, tried again later. */
  | { type: 'create_deferred'; retryAt: Date; reason: string }
  /** KIE refused the create, or may have taken it without our knowing: queued -> failed, never sent again. */
  | { type: 'create_failed'; code: 'upstream_rejected' | 'submit_outcome_unknown'; message: string }
  /** The instance sending the create died before storing the answer (its lease expired): queued -> failed. */
  | { type: 'create_orphaned' }
  /** record-info shows no final result yet (or could not be read): submitted, checked again later. */
  | { type: 'poll_deferred'; nextCheckAt: Date }
  /** No final result within the task's maximum age: submitted -> failed (a verified late success still counts). */
  | { type: 'timed_out'; maxAgeMs: number }
  /** A final result from KIE, by callback or by poll. */
  | { type: 'result'; source: 'callback' | 'poll'; kieTaskId: string; result: FinalResult };
