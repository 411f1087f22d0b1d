import { CanActivate, ExecutionContext, Inject, Injectable, Type } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import { isObservable, lastValueFrom } from 'rxjs';
import { LYRICS_MODULE_EXTRAS, ResolvedLyricsModuleExtras } from './lyrics.tokens';

/**
 * Runs the host's `clientGuards` (LyricsModuleExtras) before the client API, in order, each resolved from the
 * host's container (or made with its dependencies injected). The webhook has its own authentication and never
 * passes through here.
 */
@Injectable()
export class LyricsClientGuard implements CanActivate {
  private readonly instances = new Map<Type<CanActivate>, Promise<CanActivate>>();

  constructor(
    @Inject(LYRICS_MODULE_EXTRAS) private readonly extras: ResolvedLyricsModuleExtras,
    private readonly moduleRef: ModuleRef,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    for (const guardType of this.extras.clientGuards) {
      const guard = await this.instance(guardType);
      const allowed = guard.canActivate(context);
      if (!(isObservable(allowed) ? await lastValueFrom(allowed) : await allowed)) return false;
    }
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
