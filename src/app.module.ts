import { DynamicModule, Global, Module } from '@nestjs/common';
import { ConfigModule, ConfigService } from '@nestjs/config';
import { EventEmitterModule } from '@nestjs/event-emitter';
import { ThrottlerModule } from '@nestjs/throttler';
import { TypeOrmModule } from '@nestjs/typeorm';
import { Request } from 'express';
import { ApiKeyGuard, AuthenticatedRequest, CLIENT_NAME } from './auth/api-key.guard';
import { ClientThrottlerGuard } from './auth/client-throttler.guard';
import { AppConfig } from './config/app-config';
import { typeOrmOptions } from './database/typeorm-options';
import { HealthModule } from './health/health.module';
import { ShutdownState } from './lifecycle/shutdown-state';
import { LyricsEventLogger } from './logging/lyrics-event-logger';
import { KieAccountOptions, LyricsModule } from './lyrics';
import { MetricsModule } from './metrics/metrics.module';

/**
 * A configuration whose outside parts have been settled by the entry point: the database (configured, or the
 * embedded one) and KIE (configured, or the sandbox).
 */
export type ResolvedAppConfig = AppConfig & { database: { url: string }; kie: { accounts: KieAccountOptions[] } };

/** What the standalone service's own parts share: its drain state and its client guards. */
@Global()
@Module({
  providers: [ShutdownState, ApiKeyGuard, ClientThrottlerGuard],
  exports: [ShutdownState, ApiKeyGuard, ClientThrottlerGuard],
})
class ServiceCoreModule {}

/** The standalone service's composition root. */
@Module({})
export class AppModule {
  static forRoot(config: ResolvedAppConfig): DynamicModule {
    return {
      module: AppModule,
      imports: [
        ConfigModule.forRoot({ isGlobal: true, ignoreEnvFile: true, load: [() => config] }),
        TypeOrmModule.forRoot({ ...typeOrmOptions(config.database), retryAttempts: 3, retryDelay: 1000 }),
        EventEmitterModule.forRoot(),
        ThrottlerModule.forRoot({ throttlers: [{ name: 'default', limit: config.http.throttleLimit, ttl: config.http.throttleTtlMs }] }),
        ServiceCoreModule,
        // Composed like any host app would (README: "Use it inside your Nest app").
        LyricsModule.forRootAsync({
          inject: [ConfigService],
          useFactory: (configService: ConfigService<ResolvedAppConfig, true>) => {
            const kie = configService.get('kie', { infer: true });
            return {
              ...configService.get('lyrics', { infer: true }),
              kie: {
                accounts: kie.accounts,
                baseUrl: kie.baseUrl,
                route: kie.route,
                timeoutMs: kie.timeoutMs,
                connectTimeoutMs: kie.connectTimeoutMs,
              },
              publicBaseUrl: configService.get('publicBaseUrl', { infer: true }),
              webhooks: configService.get('webhooks', { infer: true }),
              // ApiKeyGuard (a client guard, so it runs first) names the caller's client.
              resolveOwner: (request: Request) => (request as AuthenticatedRequest)[CLIENT_NAME],
            };
          },
          isGlobal: true,
          clientGuards: [ApiKeyGuard, ClientThrottlerGuard],
        }),
        HealthModule,
        MetricsModule.forRoot({ port: config.metricsPort }),
      ],
      providers: [LyricsEventLogger],
    };
  }
}
