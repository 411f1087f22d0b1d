import { DynamicModule, Module } from '@nestjs/common';
import { ConfigModule } from '@nestjs/config';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AppConfig } from './config/app-config';
import { typeOrmOptions } from './database/typeorm-options';
import { HealthModule } from './health/health.module';

/** A configuration whose database has been settled (configured, or the embedded one started). */
export type ResolvedAppConfig = AppConfig & { database: { url: string } };

/** The standalone service's composition root. */
@Module({})
export class AppModule {
  static forRoot(config: ResolvedAppConfig): DynamicModule {
    return {
      module: AppModule,
      imports: [
        ConfigModule.forRoot({ isGlobal: true, ignoreEnvFile: true, load: [() => config] }),
        TypeOrmModule.forRoot({ ...typeOrmOptions(config.database), retryAttempts: 3, retryDelay: 1000 }),
        HealthModule,
      ],
    };
  }
}
