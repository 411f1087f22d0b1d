/**
 * KIE's answers in our own terms. Everything outside src/lyrics/kie/ sees only these shapes; the spellings and
 * code tables of KIE's wire format stay in this folder.
 */

/**
 * Which of KIE's APIs carries the lyrics tasks: the legacy Suno endpoints (`/api/v1/lyrics`) or the unified Jobs API
 * (`/api/v1/jobs/createTask` with the lyrics model). Only src/lyrics/kie/ knows what either looks like on the wire.
 */
export const KIE_API_ROUTES = ['legacy', 'jobs'] as const;
export type KieApiRoute = (typeof KIE_API_ROUTES)[number];

export interface KieVariant {
  title: string;
  text: string;
  status: 'complete' | 'failed';
  errorMessage: string | null;
}

/** The failure codes of our task resource that KIE's answers can lead to. */
export type KieFailureCode = 'generation_failed' | 'sensitive_content';

/**
 * A success: at most MAX_VARIANTS variants in KIE's order; `droppedVariants` counts those beyond (the parsers always
 * set it, 0 normally; optional so that a result made elsewhere need not).
 */
export type KieSuccess = { state: 'succeeded'; variants: KieVariant[]; droppedVariants?: number };

/** A lyrics task as KIE reports it, by record-info or by callback. Every string in it can be stored as it is. */
export type KieTaskResult = { state: 'pending' } | KieSuccess | { state: 'failed'; code: KieFailureCode; message: string };

/** Why KIE certainly did not act on a request, so it may be sent again later. */
export type KieRetryReason = 'throttled' | 'maintenance' | 'server_error' | 'not_sent';

export type KieRetry = { kind: 'retry'; reason: KieRetryReason; message: string; retryAfterMs?: number };
export type KieRejected = { kind: 'rejected'; code: number; message: string };

/** Why an account takes no creates for now: out of credits (402), or over its sub-key's usage limit (433). */
export type KiePauseReason = 'credits' | 'sub_key_limit';

/** How a create ended ("never resubmit an ambiguous create" decides what may be retried). */
export type KieCreateOutcome =
  | { kind: 'accepted'; kieTaskId: string }
  | KieRetry
  | KieRejected
  /** KIE refused the create for the account's sake, not the task's: the task may go out later, on this or another account. */
  | { kind: 'account_paused'; reason: KiePauseReason; message: string }
  /** The request went out and no usable answer came back: KIE may have accepted (and billed) it. */
  | { kind: 'ambiguous'; message: string };

export type KieRecordOutcome =
  | { kind: 'record'; result: KieTaskResult }
  /** KIE's 422 "recordInfo is null": the task is not visible yet. */
  | { kind: 'not_ready' }
  | KieRetry
  | KieRejected;

export type KieCreditsOutcome = { kind: 'credits'; credits: number } | KieRetry | KieRejected;

/** A callback's final result; `kieTaskId` is spelled exactly as the body has it (a valid KIE id), since the signature covers it. */
export interface KieCallbackResult {
  kind: 'result';
  kieTaskId: string;
  result: Exclude<KieTaskResult, { state: 'pending' }>;
}

/**
 * A JSON object in no shape we can read a final result from (a shape KIE has not documented, or a state that is not
 * final). `kieTaskId` is the id the body carries in one of its documented places, if any, spelled as sent.
 */
export interface KieUnrecognisedCallback {
  kind: 'unrecognised';
  kieTaskId: string | undefined;
  /** A few words of ours (never a value from the body). */
  reason: string;
}

export type KieCallback = KieCallbackResult | KieUnrecognisedCallback;
