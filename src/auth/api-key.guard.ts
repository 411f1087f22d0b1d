import { CanActivate, ExecutionContext, Injectable, UnauthorizedException } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { Request, Response } from 'express';
import { createHash, timingSafeEqual } from 'node:crypto';
import { AppConfig } from '../config/app-config';

/** The request's client, by a digest of its API key (set by ApiKeyGuard; used to throttle per client). */
export const CLIENT_ID = Symbol('clientId');
export type AuthenticatedRequest = Request & { [CLIENT_ID]?: string };

const digest = (key: string) => createHash('sha256').update(key, 'utf8').digest();

/**
 * The standalone service's client authentication: `Authorization: Bearer <one of API_KEYS>`, compared in constant
 * time (digests of equal length, every key compared, no early exit). With no API_KEYS (development only; production
 * refuses to start without them) every request passes, and the entry point warns about it at start.
 */
@Injectable()
export class ApiKeyGuard implements CanActivate {
  private readonly keys: Buffer[];

  constructor(config: ConfigService<AppConfig, true>) {
    this.keys = config.get('apiKeys', { infer: true }).map(digest);
  }

  get open(): boolean {
    return this.keys.length === 0;
  }

  canActivate(context: ExecutionContext): boolean {
    if (this.open) return true;
    const request = context.switchToHttp().getRequest<AuthenticatedRequest>();
    const match = /^Bearer\s+(\S+)\s*$/i.exec(request.headers.authorization ?? '');
    const given = digest(match?.[1] ?? '');
    let known = false;
    for (const key of this.keys) known = timingSafeEqual(key, given) || known;
    if (!match || !known) {
      context.switchToHttp().getResponse<Response>().setHeader('WWW-Authenticate', 'Bearer');
      throw new UnauthorizedException(match ? 'Invalid API key' : 'An API key is required (Authorization: Bearer <key>)');
    }
    request[CLIENT_ID] = given.toString('hex').slice(0, 16);
    return true;
  }
}
