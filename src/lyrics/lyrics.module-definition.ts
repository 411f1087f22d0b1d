import { ConfigurableModuleBuilder, DynamicModule } from '@nestjs/common';
import { RouterModule } from '@nestjs/core';
import { getDataSourceToken, TypeOrmModule } from '@nestjs/typeorm';
import { LyricsCallbackController } from './callback/lyrics-callback.controller';
import { LYRICS_ENTITIES } from './entities';
import { LyricsController } from './lyrics.controller';
import { LyricsModuleOptions } from './lyrics.options';
import { LYRICS_DATA_SOURCE, LYRICS_MODULE_EXTRAS, LyricsModuleExtras, ResolvedLyricsModuleExtras } from './lyrics.tokens';

const DEFAULT_EXTRAS: ResolvedLyricsModuleExtras = {
  isGlobal: false,
  dataSource: undefined,
  routePrefix: '',
  clientController: true,
  callbackController: true,
  clientGuards: [],
};

function shape(definition: DynamicModule, given: LyricsModuleExtras): DynamicModule {
  const extras: ResolvedLyricsModuleExtras = {
    ...DEFAULT_EXTRAS,
    ...Object.fromEntries(Object.entries(given).filter(([, value]) => value !== undefined)),
    routePrefix: (given.routePrefix ?? '').replace(/^\/+|\/+$/g, ''),
  };
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
  .setExtras<LyricsModuleExtras>({}, shape)
  .build();
