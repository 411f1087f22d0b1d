import { LoggerService } from '@nestjs/common';
import { NextFunction, Request, RequestHandler, Response } from 'express';
import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';

export const REQUEST_ID_HEADER = 'X-Request-Id';
const ACCEPTED_REQUEST_ID = /^[\w.:-]{1,128}$/;
/** The token in a callBackUrl is a credential: never printed. */
const CALLBACK_TOKEN = /(\/lyrics\/callback\/[^/?]+\/)[^/?]+/;

interface RequestContext {
  requestId: string;
}

const storage = new AsyncLocalStorage<RequestContext>();

/** The id of the request being served, for log lines written while serving it. */
export function currentRequestId(): string | undefined {
  return storage.getStore()?.requestId;
}

export function redactPath(url: string): string {
  return url.replace(CALLBACK_TOKEN, '$1[REDACTED]');
}

/**
 * Gives every request an id (the caller's X-Request-Id when it is a sane one, else a new UUID), echoes it back, makes
 * it available to every log line written while serving the request, and writes one access line when it ends.
 */
export function requestContext(logger: LoggerService): RequestHandler {
  return (req: Request, res: Response, next: NextFunction) => {
    const given = req.header(REQUEST_ID_HEADER);
    const requestId = given && ACCEPTED_REQUEST_ID.test(given) ? given : randomUUID();
    res.setHeader(REQUEST_ID_HEADER, requestId);
    const started = process.hrtime.bigint();
    res.on('finish', () =>
      storage.run({ requestId }, () => {
        const durationMs = Number(process.hrtime.bigint() - started) / 1e6;
        const path = redactPath(req.originalUrl);
        logger.log(`${req.method} ${path} ${res.statusCode}`, {
          method: req.method,
          path,
          status: res.statusCode,
          durationMs: Math.round(durationMs * 10) / 10,
          context: 'HTTP',
        });
      }),
    );
    storage.run({ requestId }, next);
  };
}
