import type { SandboxBehaviours, SandboxOutcome } from './sandbox-behaviours';
import type { LyricsVariant } from './sandbox-lyrics';

export type ArrayKey = 'data' | 'lyricsData';
/** KIE's two APIs for lyrics: the legacy Suno endpoints, or the unified Jobs API. */
export type SandboxRoute = 'legacy' | 'jobs';
/**
 * What a callback looks like: the legacy one (kie-api.md 4a), the Jobs ("Market") one, or a shape nobody documents
 * (the task id at the top level, no `data` object), which a receiver can only answer by checking the task.
 */
export type CallbackShape = 'legacy' | 'market' | 'unknown';
export type SandboxEndpoint = 'create' | 'record-info' | 'credit' | 'unknown';

/** One API request as the sandbox received and answered it. */
export interface SandboxRequest {
  endpoint: SandboxEndpoint;
  method: string;
  /** Path and query string, as requested. */
  path: string;
  /** The account the bearer key selected (`default` without `accounts`); undefined when the key selected none (401). */
  account?: string;
  /** The KIE task id created (create) or asked for (record-info). */
  taskId?: string;
  prompt?: string;
  /** The create's callBackUrl; undefined when it had none (optional on the Jobs route). */
  callBackUrl?: string;
  /** The create's `model` (Jobs route only). */
  model?: string;
  /** 0 until answered (and for ever for a create that hangs). */
  httpStatus: number;
  /** The body's `code`; undefined for an answer without KIE's envelope (an HTML page, an empty body). */
  code?: number;
  startedAt: number;
  /** Undefined while in flight, and for a create that hangs. */
  finishedAt?: number;
}

/** One callback delivery attempt. */
export interface SandboxDelivery {
  taskId: string;
  url: string;
  /** 1.. for the copies of a duplicated callback. */
  copy: number;
  /** 1 for the first try, up to 4 with the 3 retries. */
  attempt: number;
  sentAt: number;
  /** The receiver's HTTP status; undefined when it did not answer. */
  status?: number;
  /** Why no answer came (timeout, network error, or the sandbox stopping). */
  error?: string;
  shape: CallbackShape;
  /** The legacy shape's spelling. */
  spelling: 'snake' | 'camel';
  arrayKey: ArrayKey;
  forged: boolean;
  /** Exactly the JSON sent. */
  body: unknown;
  headers: Record<string, string>;
}

/** A task as KIE would hold it: the record of truth that record-info and the callbacks report. */
export interface SandboxTask {
  taskId: string;
  /** The route that created it, whose record-info shape it is read in. */
  route: SandboxRoute;
  /** The account that created it: only that account's keys read it, and its callbacks carry that account's signature. */
  account?: string;
  prompt: string;
  /** Null when the create gave none: no callback is sent. */
  callBackUrl: string | null;
  callbackShape: CallbackShape;
  behaviours: SandboxBehaviours;
  createdAt: number;
  /** When the result is ready; null for a task that never finishes. */
  readyAt: number | null;
  outcome: SandboxOutcome;
  /** The lyrics; empty on failure. */
  variants: LyricsVariant[];
  errorMessage: string | null;
  recordInfoCalls: number;
}

/** An account as the inspection routes show it: what it has left and whether it is over its sub-key limit, never its keys. */
export interface SandboxAccount {
  name: string;
  credits: number;
  /** Over its sub-key usage limit: its creates answer body code 433. */
  subKeyLimited: boolean;
  createLimit: { max: number; windowMs: number };
}

/** What setAccount() and POST /sandbox/accounts/{name} change; what is left out stays as it is. */
export interface SandboxAccountChange {
  credits?: number;
  subKeyLimited?: boolean;
}
