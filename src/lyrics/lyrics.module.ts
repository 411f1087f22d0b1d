import { Module } from '@nestjs/common';
import { LyricsCallbackService } from './callback/lyrics-callback.service';
import { FinalTaskListener } from './final-task-listener';
import { AccountProber } from './accounts/account-prober.service';
import { KieAccounts } from './accounts/kie-accounts';
import { KieAccountsHealth } from './accounts/kie-accounts-health';
import { KieClient } from './kie/kie.client';
import { AccountStore } from './persistence/account.store';
import { LyricsClientGuard } from './lyrics-client.guard';
import { LyricsMetrics } from './lyrics.metrics';
import { ConfigurableModuleClass, LYRICS_MODULE_OPTIONS } from './lyrics.module-definition';
import { LYRICS_MODULE_EXTRAS, ResolvedLyricsModuleExtras } from './lyrics.tokens';
import { LYRICS_SETTINGS, LyricsModuleOptions, LyricsSettings, resolveLyricsSettings } from './lyrics.options';
import { LyricsService } from './lyrics.service';
import { DatabaseClock } from './persistence/database-clock';
import { EventStore } from './persistence/event.store';
import { LyricsDatabase } from './persistence/lyrics-database';
import { RateSlotStore } from './persistence/rate-slot.store';
import { ReceiptStore } from './persistence/receipt.store';
import { TaskStore } from './persistence/task.store';
import { PromptLengthPipe } from './prompt-length.pipe';
import { DispatchSignal } from './workers/dispatch-signal';
import { DeliverySignal } from './delivery/delivery-signal';
import { HostEventRelay } from './delivery/host-event-relay.service';
import { WebhookRelay } from './delivery/webhook-relay.service';
import { DeliveryStore } from './persistence/delivery.store';
import { WebhookSecretStore } from './persistence/webhook-secret.store';
import { LyricsDispatcher } from './workers/lyrics-dispatcher.service';
import { LyricsPoller } from './workers/lyrics-poller.service';
import { IdempotencyKeyReleaser } from './workers/idempotency-key-releaser.service';
import { RetentionPruner } from './workers/retention-pruner.service';

/**
 * KIE lyrics tasks as a Nest module: `LyricsModule.forRoot(options)` or `forRootAsync({ imports, inject, useFactory })`,
 * with the shape of the module (route prefix, controllers, guards, data source, isGlobal) given beside the options
 * (see LyricsModuleExtras). It works on the host's TypeORM connection and delivers `lyrics.succeeded` /
 * `lyrics.failed` to the host's @OnEvent handlers (through its EventEmitterModule) and to client webhooks. Exports LyricsService, LyricsMetrics (a prom-client
 * registry to merge into the host's) and KieAccountsHealth (paused accounts and credits, for health checks).
 */
@Module({
  providers: [
    {
      provide: LYRICS_SETTINGS,
      inject: [LYRICS_MODULE_OPTIONS, LYRICS_MODULE_EXTRAS],
      useFactory: (options: LyricsModuleOptions, extras: ResolvedLyricsModuleExtras) => resolveLyricsSettings(options, extras),
    },
    LyricsDatabase,
    DatabaseClock,
    TaskStore,
    EventStore,
    DeliveryStore,
    WebhookSecretStore,
    ReceiptStore,
    RateSlotStore,
    AccountStore,
    LyricsMetrics,
    {
      provide: KieAccounts,
      inject: [LYRICS_SETTINGS, LyricsMetrics],
      useFactory: ({ kie }: LyricsSettings, metrics: LyricsMetrics) =>
        new KieAccounts(
          kie.accounts.map(({ name, apiKey, webhookHmacKey }) => ({
            name,
            webhookHmacKey,
            client: new KieClient(
              { apiKey, baseUrl: kie.baseUrl, route: kie.route, timeoutMs: kie.timeoutMs, connectTimeoutMs: kie.connectTimeoutMs },
              (endpoint, outcome, seconds) => metrics.upstreamRequest(name, endpoint, outcome, seconds),
            ),
          })),
        ),
    },
    KieAccountsHealth,
    DispatchSignal,
    DeliverySignal,
    FinalTaskListener,
    LyricsService,
    LyricsDispatcher,
    LyricsPoller,
    AccountProber,
    HostEventRelay,
    WebhookRelay,
    LyricsCallbackService,
    RetentionPruner,
    IdempotencyKeyReleaser,
    LyricsClientGuard,
    PromptLengthPipe,
  ],
  exports: [LyricsService, LyricsMetrics, KieAccountsHealth],
})
export class LyricsModule extends ConfigurableModuleClass {}
