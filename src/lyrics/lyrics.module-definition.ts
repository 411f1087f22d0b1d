import { ConfigurableModuleBuilder } from '@nestjs/common';
import { LyricsModuleOptions } from './lyrics.options';

export const {
  ConfigurableModuleClass,
  MODULE_OPTIONS_TOKEN: LYRICS_MODULE_OPTIONS,
  OPTIONS_TYPE,
  ASYNC_OPTIONS_TYPE,
} = new ConfigurableModuleBuilder<LyricsModuleOptions>({ moduleName: 'Lyrics' })
  .setClassMethodName('forRoot')
  .setExtras({ isGlobal: false }, (definition, extras) => ({ ...definition, global: extras.isGlobal }))
  .build();
