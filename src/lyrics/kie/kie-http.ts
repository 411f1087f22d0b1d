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
