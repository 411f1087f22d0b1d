import { CanActivate, ExecutionContext, HttpException, HttpStatus, Injectable, UnauthorizedException } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { Request, Response } from 'express';
import { createHash, timingSafeEqual } from 'node:crypto';
import { AppConfig } from '../config/app-config';
import { FailedAuthLimiter } from './failed-auth-limiter';

/** The request's client (set by ApiKeyGuard): the owner of what it submits, and its throttling bucket. */
export const CLIENT_NAME = Symbol('clientName');
export type AuthenticatedRequest = Request & { [CLIENT_NAME]?: string };

/** The client every caller is when API_KEYS is unset (development only). */
export const ANONYMOUS_CLIENT = 'anonymous';

const digest = (key: string) => createHash('sha256').update(key, 'utf8').digest();

/**
 * The standalone service's client authentication: `Authorization: Bearer <one of API_KEYS>`, compared in constant
 * time (digests of equal length, every key compared, no early exit), naming the request's client. With no API_KEYS
 * (development only; production refuses to start without them) every request passes as `anonymous`, and the entry
 * point warns about it at start. Failed attempts are limited per address (FailedAuthLimiter): this guard runs before the
 * request throttle, which counts per client and so cannot see who is guessing.
 */
@Injectable()
export class ApiKeyGuard implements CanActivate {
  private readonly clients: { name: string; digest: Buffer }[];
  private readonly failures: FailedAuthLimiter;

  constructor(config: ConfigService<AppConfig, true>) {
    this.clients = config.get('apiKeys', { infer: true }).map(({ name, key }) => ({ name, digest: digest(key) }));
    const { authFailureLimit, authFailureWindowMs } = config.get('http', { infer: true });
    this.failures = new FailedAuthLimiter(authFailureLimit, authFailureWindowMs);
  }

  get open(): boolean {
    return this.clients.length === 0;
  }

  canActivate(context: ExecutionContext): boolean {
    const request = context.switchToHttp().getRequest<AuthenticatedRequest>();
    if (this.open) {
      request[CLIENT_NAME] = ANONYMOUS_CLIENT;
      return true;
    }
    const response = context.switchToHttp().getResponse<Response>();
    const address = request.ip ?? 'unknown';
    const blockedForMs = this.failures.blockedForMs(address);
    if (blockedForMs > 0) {
      response.setHeader('Retry-After', String(Math.ceil(blockedForMs / 1000)));
      throw new HttpException('Too many failed authentications from this address', HttpStatus.TOO_MANY_REQUESTS);
    }
    const match = /^Bearer\s+(\S+)\s*$/i.exec(request.headers.authorization ?? '');
    const given = digest(match?.[1] ?? '');
    let client: string | undefined;
    for (const { name, digest: known } of this.clients) if (timingSafeEqual(known, given) && client === undefined) client = name;
    if (!match || client === undefined) {
      this.failures.recordFailure(address);
      response.setHeader('WWW-Authenticate', 'Bearer');
      throw new UnauthorizedException(match ? 'Invalid API key' : 'An API key is required (Authorization: Bearer <key>)');
    }
    request[CLIENT_NAME] = client;
    return true;
  }
}
