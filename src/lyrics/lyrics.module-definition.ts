import { ConfigurableModuleBuilder, DynamicModule } from '@nestjs/common';
import { RouterModule } from '@nestjs/core';
import { getDataSourceToken, TypeOrmModule } from '@nestjs/typeorm';
import { LyricsCallbackController } from './callback/lyrics-callback.controller';
import { LYRICS_ENTITIES } from './entities';
import { LyricsController } from './lyrics.controller';
import { LyricsModuleOptions } from './lyrics.options';
import { LYRICS_DATA_SOURCE, LYRICS_MODULE_EXTRAS, LyricsModuleExtras, ResolvedLyricsModuleExtras } from './lyrics.tokens';

/**
 * The extras' real defaults. Nest's builder also uses this object's keys to keep the extras out of the options
 * provider, so every extra must have a key here (undefined included).
 */
const DEFAULT_EXTRAS: ResolvedLyricsModuleExtras = {
  isGlobal: false,
  dataSource: undefined,
  routePrefix: '',
  clientController: true,
  callbackController: true,
  clientGuards: [],
};

/** The extras alone (forRoot hands `shape` its whole argument, options included), with defaults for those unset. */
function resolveExtras(given: LyricsModuleExtras): ResolvedLyricsModuleExtras {
  const pick = <K extends keyof ResolvedLyricsModuleExtras>(key: K): ResolvedLyricsModuleExtras[K] =>
    (given[key] ?? DEFAULT_EXTRAS[key]) as ResolvedLyricsModuleExtras[K];
  return {
    isGlobal: pick('isGlobal'),
    dataSource: pick('dataSource'),
    routePrefix: pick('routePrefix').replace(/^\/+|\/+$/g, ''),
    clientController: pick('clientController'),
    callbackController: pick('callbackController'),
    clientGuards: pick('clientGuards'),
  };
}

function shape(definition: DynamicModule, given: LyricsModuleExtras): DynamicModule {
  const extras = resolveExtras(given);
  const controllers = [
    ...(extras.clientController ? [LyricsController] : []),
    ...(extras.callbackController ? [LyricsCallbackController] : []),
  ];
  return {
    ...definition,
    global: extras.isGlobal,
    controllers,
    imports: [
      ...(definition.imports ?? []),
      TypeOrmModule.forFeature(LYRICS_ENTITIES, extras.dataSource),
      ...(extras.routePrefix ? [RouterModule.register([{ path: extras.routePrefix, module: definition.module }])] : []),
    ],
    providers: [
      ...(definition.providers ?? []),
      { provide: LYRICS_MODULE_EXTRAS, useValue: extras },
      { provide: LYRICS_DATA_SOURCE, useExisting: getDataSourceToken(extras.dataSource) },
    ],
  };
}

export const {
  ConfigurableModuleClass,
  MODULE_OPTIONS_TOKEN: LYRICS_MODULE_OPTIONS,
  OPTIONS_TYPE,
  ASYNC_OPTIONS_TYPE,
} = new ConfigurableModuleBuilder<LyricsModuleOptions>({ moduleName: 'Lyrics' })
  .setClassMethodName('forRoot')
  .setExtras<LyricsModuleExtras>(DEFAULT_EXTRAS, shape)
  .build();
