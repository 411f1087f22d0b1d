import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { LyricsCallbackController } from './callback/lyrics-callback.controller';
import { LyricsCallbackService } from './callback/lyrics-callback.service';
import { ReceiptPruner } from './callback/receipt-pruner.service';
import { DispatchSignal } from './workers/dispatch-signal';
import { LyricsDispatcher } from './workers/lyrics-dispatcher.service';
import { LyricsPoller } from './workers/lyrics-poller.service';
import { LYRICS_ENTITIES } from './entities';
import { KieClient } from './kie/kie.client';
import { LyricsController } from './lyrics.controller';
import { ConfigurableModuleClass, LYRICS_MODULE_OPTIONS } from './lyrics.module-definition';
import { LYRICS_SETTINGS, LyricsModuleOptions, LyricsSettings, resolveLyricsSettings } from './lyrics.options';
import { LyricsService } from './lyrics.service';
import { PromptLengthPipe } from './prompt-length.pipe';

@Module({
  imports: [TypeOrmModule.forFeature(LYRICS_ENTITIES)],
  controllers: [LyricsController, LyricsCallbackController],
  providers: [
    { provide: LYRICS_SETTINGS, inject: [LYRICS_MODULE_OPTIONS], useFactory: (options: LyricsModuleOptions) => resolveLyricsSettings(options) },
    { provide: KieClient, inject: [LYRICS_SETTINGS], useFactory: (settings: LyricsSettings) => new KieClient(settings.kie) },
    DispatchSignal,
    LyricsService,
    LyricsDispatcher,
    LyricsPoller,
    LyricsCallbackService,
    ReceiptPruner,
    PromptLengthPipe,
  ],
  exports: [LyricsService],
})
export class LyricsModule extends ConfigurableModuleClass {}
