import { KIE_MESSAGES } from './sandbox-payloads';
import type { CallbackShape } from './sandbox-records';
import { seededRandom } from './sandbox-random';

export const FAILURE_STATUSES = ['GENERATE_LYRICS_FAILED', 'CREATE_TASK_FAILED', 'CALLBACK_EXCEPTION', 'SENSITIVE_WORD_ERROR'] as const;
export type FailureStatus = (typeof FAILURE_STATUSES)[number];
export type SandboxOutcome = 'success' | FailureStatus | 'never';

/** How one task behaves, from its prompt's markers or, without any, drawn from the mix. */
export interface SandboxBehaviours {
  source: 'markers' | 'mix';
  outcome: SandboxOutcome;
  /** No callback at all. */
  drop: boolean;
  /** Callback copies sent (KIE may deliver one task more than once). */
  copies: number;
  spelling: 'snake' | 'camel';
  /** The envelope's message spelled `message` rather than `msg`, in the create's answer, record-info and the callback. */
  messageKey?: boolean;
  /** The callback's shape; undefined: the route's (legacy, or the sandbox's jobsCallbackShape). */
  callbackShape?: CallbackShape;
  /** `lyricsData` instead of `data` as the variants' key, in the callback and in record-info. */
  lyricsData: boolean;
  /** Callbacks signed with a wrong key. */
  forge: boolean;
  /** Ready at once, and the callback is delivered before the create is answered. */
  early: boolean;
  /** This task's result delay; undefined: the sandbox's resultDelayMs. */
  delayMs?: number;
  /** record-info answers HTTP 429 this many times first (with `retryAfterSeconds` as Retry-After)... */
  throttlePolls: number;
  /** ...then 422 "recordInfo is null" this many times... */
  nullPolls: number;
  /** ...then PENDING at least this many times, even when the result is ready. */
  pendingPolls: number;
  /** The first `throttle` creates of this exact prompt get body code 430, the next `throttleHttp` HTTP 429. */
  throttle: number;
  throttleHttp: number;
  /** A `Retry-After` header, in seconds, on those throttled answers (and on throttled record-info reads). */
  retryAfterSeconds?: number;
  /** Every create of this prompt is refused with HTTP 200 and this body code. */
  reject?: number;
  /** Every create of this prompt is refused with this HTTP status. */
  httpStatus?: number;
  /** The task is created (and billed) but the create is never answered. */
  hang: boolean;
  /**
   * How a create that made the task is answered: KIE's success envelope with the task id, a gateway's HTML error page
   * (a gateway that forwarded the create and lost KIE's answer), or an empty body; with this HTTP status.
   */
  acceptedAnswer: { body: 'envelope' | 'html' | 'empty'; status: number };
  /** The accepted create's answer is held this long (the callbacks keep their schedule). */
  answerDelayMs: number;
}

/**
 * What the mix can draw for a task without markers: failure means GENERATE_LYRICS_FAILED; hang, a create never
 * answered; gateway, a create answered 502 or 504 with a gateway's HTML page (half each). Both still make the task.
 */
export const MIX_KEYS = ['drop', 'duplicate', 'camelCase', 'forged', 'failure', 'hang', 'gateway'] as const;
export type SandboxMix = Record<(typeof MIX_KEYS)[number], number>;

/**
 * The mix's seeded streams. The create-answer keys (hang, gateway) came later and draw from a stream of their own, so
 * that every seed still draws the same callback and outcome behaviours for every task as it did before them.
 */
export interface MixRandom {
  behaviours: () => number;
  answers: () => number;
}

export function mixRandom(seed: number): MixRandom {
  // The seed mixed with a fixed constant: a second sequence, still decided by the one seed.
  return { behaviours: seededRandom(seed), answers: seededRandom((seed ^ 0x9e3779b9) >>> 0) };
}

/** A marker the sandbox does not understand: the create is refused (body code 400) rather than silently ignored. */
export class MarkerError extends Error {}

const MARKER_BLOCK = /\[sandbox:([^\]]*)\]/g;
const CALLBACK_SHAPES: readonly CallbackShape[] = ['legacy', 'market', 'unknown'];

function plainBehaviours(source: SandboxBehaviours['source']): SandboxBehaviours {
  return {
    source,
    outcome: 'success',
    drop: false,
    copies: 1,
    spelling: 'snake',
    lyricsData: false,
    forge: false,
    early: false,
    throttlePolls: 0,
    nullPolls: 0,
    pendingPolls: 0,
    throttle: 0,
    throttleHttp: 0,
    hang: false,
    acceptedAnswer: { body: 'envelope', status: 200 },
    answerDelayMs: 0,
  };
}

function integer(name: string, value: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
  const parsed = /^\d+$/.test(value) ? Number(value) : NaN;
  if (!(parsed >= min && parsed <= max))
    throw new MarkerError(`sandbox marker ${name} needs an integer from ${min} to ${max}, got "${value}"`);
  return parsed;
}

const FLAG_MARKERS = new Map<string, (b: SandboxBehaviours) => void>([
  ['drop', (b) => (b.drop = true)],
  ['duplicate', (b) => (b.copies = 2)],
  ['camel', (b) => (b.spelling = 'camel')],
  ['lyricsData', (b) => (b.lyricsData = true)],
  ['forge', (b) => (b.forge = true)],
  ['early', (b) => (b.early = true)],
  ['fail', (b) => (b.outcome = 'GENERATE_LYRICS_FAILED')],
  ['never', (b) => (b.outcome = 'never')],
  ['hang', (b) => (b.hang = true)],
  ['message', (b) => (b.messageKey = true)],
]);

const VALUE_MARKERS = new Map<string, (b: SandboxBehaviours, value: string) => void>([
  ['duplicate', (b, v) => (b.copies = integer('duplicate', v, 1, 100))],
  ['delay', (b, v) => (b.delayMs = integer('delay', v, 0))],
  ['throttle-polls', (b, v) => (b.throttlePolls = integer('throttle-polls', v, 0))],
  ['null-polls', (b, v) => (b.nullPolls = integer('null-polls', v, 0))],
  ['pending-polls', (b, v) => (b.pendingPolls = integer('pending-polls', v, 0))],
  ['throttle', (b, v) => (b.throttle = integer('throttle', v, 0))],
  ['throttle-http', (b, v) => (b.throttleHttp = integer('throttle-http', v, 0))],
  ['http-status', (b, v) => (b.httpStatus = integer('http-status', v, 400, 599))],
  ['gateway', (b, v) => (b.acceptedAnswer = { body: 'html', status: integer('gateway', v, 500, 599) })],
  ['empty-answer', (b, v) => (b.acceptedAnswer = { body: 'empty', status: integer('empty-answer', v, 200, 599) })],
  ['answer-status', (b, v) => (b.acceptedAnswer = { body: 'envelope', status: integer('answer-status', v, 200, 599) })],
  ['answer-delay', (b, v) => (b.answerDelayMs = integer('answer-delay', v, 0))],
  ['retry-after', (b, v) => (b.retryAfterSeconds = integer('retry-after', v, 0))],
  [
    'shape',
    (b, v) => {
      if (!(CALLBACK_SHAPES as readonly string[]).includes(v))
        throw new MarkerError(`sandbox marker shape must be one of ${CALLBACK_SHAPES.join(', ')}`);
      b.callbackShape = v as CallbackShape;
    },
  ],
  [
    'status',
    (b, v) => {
      if (!(FAILURE_STATUSES as readonly string[]).includes(v))
        throw new MarkerError(`sandbox marker status must be one of ${FAILURE_STATUSES.join(', ')}`);
      b.outcome = v as FailureStatus;
    },
  ],
  [
    'reject',
    (b, v) => {
      const code = integer('reject', v, 400, 599);
      if (!KIE_MESSAGES[code]) throw new MarkerError(`sandbox marker reject knows the codes ${Object.keys(KIE_MESSAGES).join(', ')}`);
      b.reject = code;
    },
  ],
]);

/**
 * The behaviours a prompt asks for with `[sandbox:m1,m2=v,...]` blocks (anywhere, any number of them), or
 * undefined when it has none. An empty block `[sandbox:]` asks for a plain task and keeps the mix out of it.
 */
export function parseMarkers(prompt: string): SandboxBehaviours | undefined {
  const blocks = [...prompt.matchAll(MARKER_BLOCK)];
  if (blocks.length === 0) return undefined;
  const behaviours = plainBehaviours('markers');
  for (const block of blocks) {
    for (const marker of block[1]
      .split(',')
      .map((m) => m.trim())
      .filter(Boolean)) {
      const equals = marker.indexOf('=');
      const name = equals < 0 ? marker : marker.slice(0, equals).trim();
      if (equals < 0) {
        const apply = FLAG_MARKERS.get(name);
        if (!apply)
          throw new MarkerError(VALUE_MARKERS.has(name) ? `sandbox marker ${name} needs a value` : `unknown sandbox marker "${name}"`);
        apply(behaviours);
      } else {
        const apply = VALUE_MARKERS.get(name);
        if (!apply)
          throw new MarkerError(FLAG_MARKERS.has(name) ? `sandbox marker ${name} takes no value` : `unknown sandbox marker "${name}"`);
        apply(behaviours, marker.slice(equals + 1).trim());
      }
    }
  }
  return behaviours;
}

/** Behaviours of a task without markers, drawn from the mix's probabilities. */
export function drawFromMix(mix: SandboxMix, random: MixRandom): SandboxBehaviours {
  // The same draws for every task, whatever the probabilities, so each task's draw depends only on its position.
  const next = random.behaviours;
  const [drop, duplicate, camelCase, forged, failure] = [next(), next(), next(), next(), next()];
  const [hang, gateway] = [random.answers(), random.answers()];
  const behaviours = plainBehaviours('mix');
  behaviours.drop = drop < mix.drop;
  behaviours.copies = duplicate < mix.duplicate ? 2 : 1;
  behaviours.spelling = camelCase < mix.camelCase ? 'camel' : 'snake';
  behaviours.forge = forged < mix.forged;
  behaviours.outcome = failure < mix.failure ? 'GENERATE_LYRICS_FAILED' : 'success';
  behaviours.hang = hang < mix.hang;
  // The gateway draw's lower half of its share answers 502, the upper half 504.
  if (gateway < mix.gateway) behaviours.acceptedAnswer = { body: 'html', status: gateway < mix.gateway / 2 ? 502 : 504 };
  return behaviours;
}
