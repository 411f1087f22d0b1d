import { DynamicModule, Module } from '@nestjs/common';
import { ConfigModule, ConfigService } from '@nestjs/config';
import { EventEmitterModule } from '@nestjs/event-emitter';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AppConfig } from './config/app-config';
import { typeOrmOptions } from './database/typeorm-options';
import { HealthModule } from './health/health.module';
import { LyricsEventLogger } from './logging/lyrics-event-logger';
import { LyricsModule } from './lyrics/lyrics.module';

/**
 * A configuration whose outside parts have been settled by the entry point: the database (configured, or the
 * embedded one) and KIE (configured, or the sandbox).
 */
export type ResolvedAppConfig = AppConfig & { database: { url: string }; kie: { apiKey: string } };

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
        HealthModule,
        // Composed like any host app would (README: "Use it inside your Nest app").
        LyricsModule.forRootAsync({
          inject: [ConfigService],
          useFactory: (configService: ConfigService<ResolvedAppConfig, true>) => {
            const kie = configService.get('kie', { infer: true });
            return {
              ...configService.get('lyrics', { infer: true }),
              kie: {
                apiKey: kie.apiKey,
                baseUrl: kie.baseUrl,
                timeoutMs: kie.timeoutMs,
                connectTimeoutMs: kie.connectTimeoutMs,
                webhookHmacKey: kie.webhookHmacKey,
              },
              publicBaseUrl: configService.get('publicBaseUrl', { infer: true }),
            };
          },
        }),
      ],
      providers: [LyricsEventLogger],
    };
  }
}
