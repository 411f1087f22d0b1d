import { CanActivate, ExecutionContext, Inject, Injectable, Logger, Type, UnauthorizedException } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import { Request } from 'express';
import { isObservable, lastValueFrom } from 'rxjs';
import { LYRICS_SETTINGS, LyricsSettings } from './lyrics.options';
import { LYRICS_MODULE_EXTRAS, ResolvedLyricsModuleExtras } from './lyrics.tokens';
import { OWNER_MAX_LENGTH, setRequestOwner } from './request-owner';

/**
 * Runs the host's `clientGuards` (LyricsModuleExtras) before the client API, in order, each resolved from the
 * host's container (or made with its dependencies injected), then asks the host's `resolveOwner` who the caller is:
 * no owner, no access (401). The webhook has its own authentication and never passes through here.
 */
@Injectable()
export class LyricsClientGuard implements CanActivate {
  private readonly instances = new Map<Type<CanActivate>, Promise<CanActivate>>();

  private readonly logger = new Logger(LyricsClientGuard.name);

  constructor(
    @Inject(LYRICS_MODULE_EXTRAS) private readonly extras: ResolvedLyricsModuleExtras,
    @Inject(LYRICS_SETTINGS) private readonly settings: LyricsSettings,
    private readonly moduleRef: ModuleRef,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    for (const guardType of this.extras.clientGuards) {
      const guard = await this.instance(guardType);
      const allowed = guard.canActivate(context);
      if (!(isObservable(allowed) ? await lastValueFrom(allowed) : await allowed)) return false;
    }
    const request = context.switchToHttp().getRequest<Request>();
    const owner = await this.settings.resolveOwner!(request);
    if (owner === undefined || owner === '') throw new UnauthorizedException('The caller could not be identified');
    if (typeof owner !== 'string' || owner.length > OWNER_MAX_LENGTH) {
      this.logger.warn(
        `resolveOwner gave ${typeof owner === 'string' ? `an owner id over ${OWNER_MAX_LENGTH} characters` : 'a non-string'}`,
      );
      throw new UnauthorizedException('The caller could not be identified');
    }
    setRequestOwner(request, owner);
    return true;
  }

  private instance(guardType: Type<CanActivate>): Promise<CanActivate> {
    let instance = this.instances.get(guardType);
    if (!instance) {
      instance = this.resolve(guardType);
      this.instances.set(guardType, instance);
    }
    return instance;
  }

  private async resolve(guardType: Type<CanActivate>): Promise<CanActivate> {
    try {
      const provided = this.moduleRef.get(guardType, { strict: false });
      if (provided) return provided;
    } catch {
      // Not a provider anywhere: made below, like Nest makes an unregistered guard.
    }
    return this.moduleRef.create(guardType);
  }
}
