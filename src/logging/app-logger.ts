import { ConsoleLogger, LogLevel } from '@nestjs/common';
import { currentRequestId } from './request-context';

/** Keys whose values are never printed, at any depth of a logged object (Nest's ConsoleLogger redaction). */
export const REDACTED_KEYS = [
  'authorization',
  'apiKey',
  'apiKeys',
  'token',
  'callbackToken',
  'hmacKey',
  'webhookHmacKey',
  'x-webhook-signature',
  'password',
  'secret',
];

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'log', 'debug', 'verbose'] as const;
export type LogLevelName = (typeof LOG_LEVELS)[number];

/**
 * Nest's console logger with the service's conventions: one JSON object per line in production, structured
 * parameters as top-level fields, secrets redacted, and the current request's id on every line written while
 * serving a request.
 */
export class AppLogger extends ConsoleLogger {
  constructor(options: { json: boolean; level: LogLevelName }) {
    super({
      json: options.json,
      logLevels: LOG_LEVELS.slice(0, LOG_LEVELS.indexOf(options.level) + 1) as LogLevel[],
      flattenParams: true,
      redact: REDACTED_KEYS,
    });
  }

  protected override printMessages(
    messages: unknown[],
    context?: string,
    logLevel?: LogLevel,
    writeStreamType?: 'stdout' | 'stderr',
    errorStack?: unknown,
    params?: Record<string, unknown>,
  ): void {
    const requestId = currentRequestId();
    const { context: paramContext, ...rest } = params ?? {};
    const withRequest = requestId ? { requestId, ...rest } : rest;
    super.printMessages(
      messages,
      typeof paramContext === 'string' ? paramContext : context,
      logLevel,
      writeStreamType,
      errorStack,
      Object.keys(withRequest).length > 0 ? withRequest : undefined,
    );
  }
}
