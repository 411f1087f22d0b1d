import { Agent as HttpAgent, IncomingHttpHeaders, request as httpRequest } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';

export interface HttpAnswer {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

/**
 * A request that got no answer. `sent` tells whether the request had been written out completely: before that,
 * the server cannot have acted on it; after that, it may have.
 */
export class HttpTransportError extends Error {
  override readonly name = 'HttpTransportError';
  constructor(
    message: string,
    readonly sent: boolean,
  ) {
    super(message);
  }
}

export interface HttpRequest {
  method: 'GET' | 'POST';
  url: URL;
  headers: Record<string, string>;
  body?: string;
  /** Time to establish the connection. */
  connectTimeoutMs: number;
  /** Time for the whole exchange. */
  timeoutMs: number;
  /** false: a connection of its own, so that a reset after sending can only mean the request was received. */
  keepAlive: boolean;
}

const MAX_BODY_BYTES = 1024 * 1024;
const keepAliveAgents = { http: new HttpAgent({ keepAlive: true }), https: new HttpsAgent({ keepAlive: true }) };

/** One HTTP exchange on node:http, which (unlike fetch) tells us whether the request left before a failure. */
export function sendHttp(req: HttpRequest): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const secure = req.url.protocol === 'https:';
    const agent = req.keepAlive ? keepAliveAgents[secure ? 'https' : 'http'] : false;
    let sent = false;
    let settled = false;
    const fail = (message: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(totalTimer);
      clearTimeout(connectTimer);
      reject(new HttpTransportError(message, sent));
      request.destroy();
    };

    const request = (secure ? httpsRequest : httpRequest)(req.url, { method: req.method, headers: req.headers, agent });
    const totalTimer = setTimeout(() => fail(`no answer within ${req.timeoutMs} ms`), req.timeoutMs);
    let connectTimer: NodeJS.Timeout | undefined;
    request.on('socket', (socket) => {
      if (!socket.connecting) return;
      connectTimer = setTimeout(() => fail(`could not connect within ${req.connectTimeoutMs} ms`), req.connectTimeoutMs);
      socket.once('connect', () => clearTimeout(connectTimer));
    });
    request.on('finish', () => (sent = true));
    request.on('error', (error: NodeJS.ErrnoException) => fail(error.code ?? error.message));
    request.on('response', (response) => {
      const chunks: Buffer[] = [];
      let size = 0;
      response.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > MAX_BODY_BYTES) return fail('answer larger than 1 MiB');
        chunks.push(chunk);
      });
      response.on('error', (error: NodeJS.ErrnoException) => fail(error.code ?? error.message));
      response.on('end', () => {
        if (settled) return;
        settled = true;
        clearTimeout(totalTimer);
        resolve({ status: response.statusCode ?? 0, headers: response.headers, body: Buffer.concat(chunks).toString('utf8') });
      });
    });
    request.end(req.body);
  });
}

/**
 * Retry-After in milliseconds: delta-seconds, or an HTTP-date measured against the answer's own Date header (so the
 * clock of this machine does not matter) or, without one, against `now`. Never negative; undefined when absent or
 * unreadable.
 */
export function retryAfterMs(answer: HttpAnswer, now = Date.now()): number | undefined {
  const value = answer.headers['retry-after']?.trim();
  if (value === undefined) return undefined;
  if (/^\d+$/.test(value)) return Number(value) * 1000;
  const at = parseHttpDate(value);
  if (at === undefined) return undefined;
  const answeredAt = answer.headers.date === undefined ? undefined : parseHttpDate(answer.headers.date.trim());
  return Math.max(0, at - (answeredAt ?? now));
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const MONTH = `(${MONTHS.join('|')})`;
const DAY = '(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)';
const TIME = '(\\d{2}):(\\d{2}):(\\d{2})';
// The three forms RFC 9110 section 5.6.7 has recipients accept: IMF-fixdate, and the obsolete RFC 850 and asctime.
const IMF_FIXDATE = new RegExp(`^${DAY}, (\\d{2}) ${MONTH} (\\d{4}) ${TIME} GMT$`);
const RFC_850 = new RegExp(`^(?:Mon|Tues|Wednes|Thurs|Fri|Satur|Sun)day, (\\d{2})-${MONTH}-(\\d{2}) ${TIME} GMT$`);
const ASCTIME = new RegExp(`^${DAY} ${MONTH} ([ \\d]\\d) ${TIME} (\\d{4})$`);

/** An HTTP-date as milliseconds since the epoch; undefined for anything else (Date.parse would guess at more). */
export function parseHttpDate(text: string): number | undefined {
  let parts: [day: string, month: string, year: number, hour: string, minute: string, second: string];
  let match: RegExpExecArray | null;
  if ((match = IMF_FIXDATE.exec(text))) {
    parts = [match[1], match[2], Number(match[3]), match[4], match[5], match[6]];
  } else if ((match = RFC_850.exec(text))) {
    // A two-digit year more than 50 years ahead is the latest past year with those digits (RFC 9110).
    const thisYear = new Date().getUTCFullYear();
    let year = thisYear - (thisYear % 100) + Number(match[3]);
    if (year > thisYear + 50) year -= 100;
    parts = [match[1], match[2], year, match[4], match[5], match[6]];
  } else if ((match = ASCTIME.exec(text))) {
    parts = [match[2].trim(), match[1], Number(match[6]), match[3], match[4], match[5]];
  } else {
    return undefined;
  }
  const [day, month, year, hour, minute, second] = parts;
  const fields = [year, MONTHS.indexOf(month), Number(day), Number(hour), Number(minute), Number(second)];
  const date = new Date(0);
  date.setUTCFullYear(fields[0], fields[1], fields[2]);
  date.setUTCHours(fields[3], fields[4], fields[5]);
  // Date rolls 31 Feb over into March; such a date is malformed, not another day.
  const read = [
    date.getUTCFullYear(),
    date.getUTCMonth(),
    date.getUTCDate(),
    date.getUTCHours(),
    date.getUTCMinutes(),
    date.getUTCSeconds(),
  ];
  return read.every((value, index) => value === fields[index]) ? date.getTime() : undefined;
}
