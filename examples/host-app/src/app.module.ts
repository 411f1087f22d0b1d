import { Module } from '@nestjs/common';
import { ConfigModule, ConfigService } from '@nestjs/config';
import { EventEmitterModule } from '@nestjs/event-emitter';
import { TypeOrmModule } from '@nestjs/typeorm';
import { LYRICS_MIGRATIONS, LyricsModule } from 'nestjs-kie-lyrics';
import { ApiKeyGuard, AuthenticatedRequest } from './api-key.guard';
import { LyricsListener } from './lyrics.listener';

@Module({
  imports: [
    ConfigModule.forRoot({ isGlobal: true }),
    EventEmitterModule.forRoot(), // for lyrics.succeeded / lyrics.failed / lyrics.cancelled
    TypeOrmModule.forRootAsync({
      inject: [ConfigService],
      useFactory: (config: ConfigService) => ({
        type: 'postgres',
        url: config.getOrThrow<string>('DATABASE_URL'),
        autoLoadEntities: true, // picks up the module's entities (or list LYRICS_ENTITIES)
        migrations: [...LYRICS_MIGRATIONS /*, your own */],
        migrationsRun: true, // the module's tables, created and upgraded at start
        synchronize: false,
      }),
    }),
    LyricsModule.forRootAsync({
      inject: [ConfigService],
      useFactory: (config: ConfigService) => ({
        kie: {
          apiKey: config.getOrThrow<string>('KIE_API_KEY'),
          baseUrl: config.get<string>('KIE_BASE_URL'), // unset: https://api.kie.ai
          route: config.get<'legacy' | 'jobs'>('KIE_API_ROUTE'), // unset: legacy; jobs: KIE's Jobs API
          webhookHmacKey: config.get<string>('KIE_WEBHOOK_HMAC_KEY'), // set: every callback must be signed with it
        },
        // Where KIE can reach this app: callbacks come to <publicBaseUrl>/api/v1/lyrics/callback/... (unset: polling only).
        publicBaseUrl: config.get<string>('PUBLIC_BASE_URL'),
        // Who the caller is (the owner of what it submits and all it may see), or undefined for 401; runs after clientGuards.
        resolveOwner: (request: AuthenticatedRequest) => request.user?.id,
      }),
      // The module's shape, decided at import:
      routePrefix: 'api/v1', // /api/v1/lyrics, /api/v1/lyrics/callback/...
      clientGuards: [ApiKeyGuard], // on the client API only (KIE's webhook has its own authentication)
    }),
  ],
  providers: [ApiKeyGuard, LyricsListener],
})
export class AppModule {}
