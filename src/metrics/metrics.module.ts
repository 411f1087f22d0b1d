import { DynamicModule, Module } from '@nestjs/common';
import { ApiKeyGuard } from '../auth/api-key.guard';
import { MetricsController } from './metrics.controller';
import { METRICS_PORT, MetricsServer } from './metrics-server';
import { MetricsService } from './metrics.service';

/** GET /metrics behind the client API keys, or, with a port, on that port alone. */
@Module({})
export class MetricsModule {
  static forRoot({ port }: { port?: number }): DynamicModule {
    return {
      module: MetricsModule,
      controllers: port ? [] : [MetricsController],
      providers: [MetricsService, ApiKeyGuard, ...(port ? [{ provide: METRICS_PORT, useValue: port }, MetricsServer] : [])],
      exports: [MetricsService],
    };
  }
}
