import { CanActivate, Type } from '@nestjs/common';

/**
 * What must be known when the module is imported, because it decides the module's shape (routes, controllers,
 * connection) rather than its behaviour. Given beside the options in forRoot and forRootAsync alike.
 */
export interface LyricsModuleExtras {
  /** Make LyricsService injectable everywhere without importing the module again. */
  isGlobal?: boolean;
  /** The host's TypeORM data source to use, by name; default: the default one. */
  dataSource?: string;
  /** Prefix of the module's routes, e.g. 'api/v1' for /api/v1/lyrics and /api/v1/lyrics/callback/...; default none. */
  routePrefix?: string;
  /** Mount the client API (POST /lyrics, GET /lyrics, GET /lyrics/:id); default true. */
  clientController?: boolean;
  /** Mount KIE's webhook; default true. Without it KIE gets no callBackUrl and results arrive by polling. */
  callbackController?: boolean;
  /** Guards run before every client API handler (never before the webhook), e.g. the host's authentication. */
  clientGuards?: Type<CanActivate>[];
}

export type ResolvedLyricsModuleExtras = Required<Omit<LyricsModuleExtras, 'dataSource'>> & { dataSource: string | undefined };

export const LYRICS_MODULE_EXTRAS = Symbol('LYRICS_MODULE_EXTRAS');
/** The data source the module works on (the host's default one, or the one named in the extras). */
export const LYRICS_DATA_SOURCE = Symbol('LYRICS_DATA_SOURCE');
