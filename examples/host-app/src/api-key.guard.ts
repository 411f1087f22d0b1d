import { CanActivate, ExecutionContext, Injectable, UnauthorizedException } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { Request } from 'express';

/** A request this app has authenticated: who the caller is. */
export type AuthenticatedRequest = Request & { user?: { id: string } };

/** The app's own authentication: `Authorization: Bearer <key>`, the keys in CLIENT_KEYS as `key=team,key=team`. */
@Injectable()
export class ApiKeyGuard implements CanActivate {
  private readonly teams: Map<string, string>;

  constructor(config: ConfigService) {
    const entries = config.getOrThrow<string>('CLIENT_KEYS').split(',');
    this.teams = new Map(entries.map((entry) => entry.split('=', 2) as [string, string]));
  }

  canActivate(context: ExecutionContext): boolean {
    const request = context.switchToHttp().getRequest<AuthenticatedRequest>();
    const key = /^Bearer (\S+)$/.exec(request.header('authorization') ?? '')?.[1];
    const team = key === undefined ? undefined : this.teams.get(key);
    if (!team) throw new UnauthorizedException();
    request.user = { id: team };
    return true;
  }
}
