import { createHmac, createSecretKey, KeyObject } from 'node:crypto';
import { ClientRequest, Agent as HttpAgent, IncomingMessage, OutgoingHttpHeaders, request as httpRequest } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { isIP, LookupFunction } from 'node:net';
import { performance } from 'node:perf_hooks';
import { urlToHttpOptions } from 'node:url';
import { errorMessage } from '../error-message';
import { parseHttpDate } from '../kie/kie-http';
import { checkDestination, DestinationCheck, DestinationPolicy, ResolvedAddress, Resolver } from './webhook-destination';

export interface WebhookAttempt {
  /** The receiver's HTTP status, or null when no response came (refused destination, connection error, timeout). */
  httpStatus: number | null;
  /** Why the attempt did not deliver, in one line; null when delivered (2xx). Never contains a secret or the body. */
  error: string | null;
  durationMs: number;
  /** Retry-After of a 429 or 503 answer, in ms (seconds or HTTP-date form), when present and valid. */
  retryAfterMs?: number;
  /** The destination policy refused the URL: no connection was made. */
  refused: boolean;
}

export interface WebhookSenderOptions {
  timeoutMs: number;
  policy: DestinationPolicy;
  resolve?: Resolver;
  userAgent?: string;
  /** How long a host name's passed check (its addresses, the one to connect to) is reused; default 5 s, 0 never. */
  checkCacheMs?: number;
}

type Outcome = Omit<WebhookAttempt, 'durationMs'>;
/** A webhook URL, parsed, and the request options it makes. */
type Target = { url: URL; options: ReturnType<typeof urlToHttpOptions> };
type SendInput = Parameters<WebhookSender['send']>[0];

/** The answer's body means nothing to us; past this much the connection is dropped rather than read further. */
const MAX_ANSWER_BYTES = 64 * 1024;
/**
 * Connections to one receiver (host:port) at a time; further requests wait in the agent, inside their deadline.
 * At ~1,000 deliveries a second and ~100 ms answers about 100 are busy, so this leaves room without letting one
 * slow receiver take thousands of sockets.
 */
const MAX_SOCKETS_PER_RECEIVER = 128;
/** Passed destination checks (host names), parsed URLs and signing keys, kept at most; past it a cache starts again empty. */
const MAX_CACHED_CHECKS = 1000;
const MAX_PARSED_URLS = 1000;
const MAX_SIGNING_KEYS = 1000;
const DEFAULT_CHECK_CACHE_MS = 5000;

export class WebhookSender {
  /**
   * Keep-alive agents of this sender's own rather than `agent: false`: at the relay's rate a TCP (and TLS) handshake
   * per POST would cost more than the POST. The agent pools sockets by host name and port, not by address, and a
   * new socket connects through its request's pinned lookup; so a reused socket goes to an address that was checked
   * for the same host name under this sender's policy, if on an earlier lookup than the current request's. The name
   * may point elsewhere by now, but no connection ever reaches an address that did not pass the check, which is
   * what the pinning is for. Idle sockets are unref'd by node, so they do not hold the process open.
   */
  private readonly agents = {
    http: new HttpAgent({ keepAlive: true, maxSockets: MAX_SOCKETS_PER_RECEIVER }),
    https: new HttpsAgent({ keepAlive: true, maxSockets: MAX_SOCKETS_PER_RECEIVER }),
  };

  /**
   * Passed checks by protocol and host name, with when they lapse. A lookup per POST costs more than the POST on a
   * kept-alive socket; reusing a check for seconds is what a resolver's cache does, and keeps its guarantee: the
   * connection still goes only to an address that passed the check.
   */
  private readonly checks = new Map<string, { check: DestinationCheck & { ok: true }; until: number }>();

  /**
   * Webhook URLs as parsed, with their request options: most deliveries go to a URL delivered to before, and parsing
   * it and turning it into request options was a visible share of each send. A URL's text alone decides both.
   */
  private readonly parsed = new Map<string, Target>();

  /**
   * Signing keys by secret, checked and decoded once: the owners' secrets repeat from one delivery to the next, and an
   * HMAC keyed by a KeyObject skips the import of raw bytes (2.3 against 3.1 µs a signature, in a loop here).
   */
  private readonly keys = new Map<string, KeyObject>();

  constructor(private readonly options: WebhookSenderOptions) {}

  /**
   * POSTs `body` (JSON text) to `url` with Standard Webhooks headers: webhook-id = eventId, webhook-timestamp = unix
   * seconds of `timestamp` (default now), webhook-signature = space-separated `v1,<sig>` entries, one per secret in
   * `secrets` (the owner's current secret first, then the previous one during a rotation overlap), each made with
   * the scheme of `standardwebhooks` (see signingKey; secrets are `whsec_<base64>` strings). A 2xx within
   * timeoutMs is delivered. Never rejects: whatever goes wrong, an unusable secret included, is an attempt to record.
   */
  async send(input: { url: string; eventId: string; body: string; secrets: string[]; timestamp?: Date }): Promise<WebhookAttempt> {
    const startedAt = performance.now();
    const outcome = await this.attempt(input);
    return { ...outcome, durationMs: Math.round(performance.now() - startedAt) };
  }

  private async attempt(input: SendInput): Promise<Outcome> {
    let headers: OutgoingHttpHeaders;
    try {
      headers = this.headers(input);
    } catch (error) {
      return noAnswer(`cannot sign: ${errorMessage(error)}`);
    }
    const target = this.parsed.get(input.url) ?? this.parse(input.url);
    if (target === undefined) return refusal('webhookUrl is not a URL');
    const { url } = target;

    // One deadline for the whole attempt: resolving, waiting for a pooled socket, connecting, the answer's head.
    const deadline = performance.now() + this.options.timeoutMs;
    const check = this.cachedCheck(url) ?? (await this.checkWithin(url, this.options.timeoutMs));
    if (check === undefined) return this.timedOut();
    if (!check.ok) return refusal(check.reason);
    return this.post(target, headers, input.body, check.address, deadline - performance.now());
  }

  private parse(text: string): Target | undefined {
    if (!URL.canParse(text)) return undefined;
    const url = new URL(text);
    const target = { url, options: urlToHttpOptions(url) };
    if (this.parsed.size >= MAX_PARSED_URLS) this.parsed.clear();
    this.parsed.set(text, target);
    return target;
  }

  /**
   * POSTs `body` to the checked `address` within `remainingMs`. A plain timer rather than an AbortSignal: at the
   * relay's rate the signal's listeners were a visible share of each send.
   */
  private post(
    { url, options }: Target,
    headers: OutgoingHttpHeaders,
    body: string,
    address: ResolvedAddress,
    remainingMs: number,
  ): Promise<Outcome> {
    return new Promise<Outcome>((settle) => {
      const secure = url.protocol === 'https:';
      let request: ClientRequest;
      try {
        request = (secure ? httpsRequest : httpRequest)({
          ...options,
          method: 'POST',
          headers,
          agent: secure ? this.agents.https : this.agents.http,
          lookup: pinnedLookup(address),
          // The address is pinned, but TLS still names the host: SNI, and the certificate is checked against the name.
          // An IP literal (IPv6 ones come bracketed) has no name to send.
          ...(secure && isIP(url.hostname) === 0 && !url.hostname.startsWith('[') ? { servername: url.hostname } : {}),
        });
      } catch (error) {
        // Node refuses header values it cannot send (a control character in the event id, say) before any I/O.
        return settle(noAnswer(errorMessage(error)));
      }
      let expired = false;
      const timer = setTimeout(
        () => {
          expired = true;
          request.destroy(new Error('timed out'));
        },
        Math.max(0, remainingMs),
      );
      // The request closes once its answer has been read or dropped; the deadline also bounds that reading.
      request.on('close', () => clearTimeout(timer));
      request.on('error', (error) => settle(expired ? this.timedOut() : noAnswer(error.message)));
      request.on('response', (response) => {
        settle(answered(response));
        discard(response);
      });
      request.end(body);
    });
  }

  /** The passed check for the same protocol and host from the last checkCacheMs, if any. */
  private cachedCheck(url: URL): DestinationCheck | undefined {
    const cached = this.checks.get(checkKey(url));
    return cached && cached.until > performance.now() ? cached.check : undefined;
  }

  /** checkDestination, kept for checkCacheMs when it passed; undefined when it took longer than `timeoutMs`. */
  private async checkWithin(url: URL, timeoutMs: number): Promise<DestinationCheck | undefined> {
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), timeoutMs)));
    const check = await Promise.race([checkDestination(url, this.options.policy, this.options.resolve), expired]);
    clearTimeout(timer);
    const cacheMs = this.options.checkCacheMs ?? DEFAULT_CHECK_CACHE_MS;
    if (check?.ok && cacheMs > 0) {
      if (this.checks.size >= MAX_CACHED_CHECKS) this.checks.clear();
      this.checks.set(checkKey(url), { check, until: performance.now() + cacheMs });
    }
    return check;
  }

  private timedOut(): Outcome {
    return noAnswer(`timed out after ${this.options.timeoutMs} ms`);
  }

  private headers({ eventId, body, secrets, timestamp = new Date() }: SendInput) {
    if (secrets.length === 0) throw new Error('no signing secret');
    const seconds = Math.floor(timestamp.getTime() / 1000);
    const signed = `${eventId}.${seconds}.${body}`;
    return {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(body),
      'user-agent': this.options.userAgent ?? 'nestjs-kie-lyrics',
      'webhook-id': eventId,
      'webhook-timestamp': String(seconds),
      'webhook-signature': secrets
        .map((secret) => `v1,${createHmac('sha256', this.keyOf(secret)).update(signed).digest('base64')}`)
        .join(' '),
    };
  }

  private keyOf(secret: string): KeyObject {
    let key = this.keys.get(secret);
    if (key === undefined) {
      key = signingKey(secret);
      if (this.keys.size >= MAX_SIGNING_KEYS) this.keys.clear();
      this.keys.set(secret, key);
    }
    return key;
  }
}

/**
 * The key of Standard Webhooks' v1 signature (the base64 of the HMAC-SHA256 of `id.timestamp.body`): the secret's
 * base64 part, decoded. Signed with node:crypto rather than the standardwebhooks package's sign(), whose SHA-256 is
 * JavaScript (fast-sha256) and was the relay's largest frame of its own at a thousand deliveries a second; the
 * sender's tests check the two agree, and receivers verify with the package.
 */
function signingKey(secret: string): KeyObject {
  const encoded = secret.startsWith(SECRET_PREFIX) ? secret.slice(SECRET_PREFIX.length) : secret;
  if (!BASE64.test(encoded)) throw new Error('the secret is not base64');
  const key = Buffer.from(encoded, 'base64');
  if (key.length === 0) throw new Error('the secret is empty');
  return createSecretKey(key);
}

const SECRET_PREFIX = 'whsec_';
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** A lookup that answers only the checked address, so that DNS cannot send the connection elsewhere (rebinding). */
function pinnedLookup(address: ResolvedAddress): LookupFunction {
  // Node 20 connects with autoSelectFamily, which asks for `all` addresses; plain callers want one.
  return (_hostname, options, callback) => {
    if (options.all) callback(null, [address]);
    else callback(null, address.address, address.family);
  };
}

const checkKey = (url: URL) => `${url.protocol}//${url.hostname}`;

function answered(response: IncomingMessage): Outcome {
  const status = response.statusCode ?? 0;
  if (status >= 200 && status < 300) return { httpStatus: status, error: null, refused: false };
  const retryAfterMs = status === 429 || status === 503 ? parseRetryAfter(response.headers['retry-after']) : undefined;
  return { httpStatus: status, error: `HTTP ${status}`, refused: false, ...(retryAfterMs === undefined ? {} : { retryAfterMs }) };
}

/** Reads the answer's body to its end, so the socket can go back to the pool, or drops the connection past the cap. */
function discard(response: IncomingMessage): void {
  let size = 0;
  response.on('data', (chunk: Buffer) => {
    size += chunk.length;
    if (size > MAX_ANSWER_BYTES) response.destroy();
  });
  // The outcome is already settled: a body cut short, by the cap or the deadline, changes nothing.
  response.on('error', () => undefined);
}

/** Retry-After in ms from now: delay-seconds or an HTTP-date; undefined when absent, unreadable or in the past. */
function parseRetryAfter(value: string | undefined): number | undefined {
  const text = value?.trim();
  if (text === undefined) return undefined;
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const at = parseHttpDate(text);
  const now = Date.now();
  return at === undefined || at < now ? undefined : at - now;
}

function noAnswer(error: string): Outcome {
  return { httpStatus: null, error, refused: false };
}

function refusal(reason: string): Outcome {
  return { httpStatus: null, error: `refused: ${reason}`, refused: true };
}
