import { Controller, Get, ServiceUnavailableException } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { ApiTags } from '@nestjs/swagger';
import { HealthCheck, HealthCheckService, HealthIndicatorFunction, HealthIndicatorService, TypeOrmHealthIndicator } from '@nestjs/terminus';
import { AppConfig } from '../config/app-config';
import { ShutdownState } from '../lifecycle/shutdown-state';
import { KieCreditsProbe } from '../lyrics';

@ApiTags('operations')
@Controller('health')
export class HealthController {
  private readonly checks: HealthIndicatorFunction[];

  constructor(
    private readonly health: HealthCheckService,
    database: TypeOrmHealthIndicator,
    indicators: HealthIndicatorService,
    credits: KieCreditsProbe,
    config: ConfigService<AppConfig, true>,
    private readonly shutdown: ShutdownState,
  ) {
    const { kieMinCredits, kieCacheMs } = config.get('health', { infer: true });
    this.checks = [() => database.pingCheck('database').withTimeout(2000)];
    if (kieMinCredits !== undefined) {
      // Reads KIE's credits endpoint, at most once per kieCacheMs: never a create.
      this.checks.push(async () => {
        const kie = indicators.check('kie');
        const outcome = await credits.credits(kieCacheMs);
        if (outcome.kind !== 'credits') return kie.down({ message: `KIE credits unreadable: ${outcome.message}` });
        return outcome.credits >= kieMinCredits
          ? kie.up({ credits: outcome.credits })
          : kie.down({ credits: outcome.credits, message: `credits below ${kieMinCredits}` });
      });
    }
  }

  /** Liveness: the process answers. */
  @Get('live')
  live(): { status: 'ok' } {
    return { status: 'ok' };
  }

  /** Readiness: 200 when the database answers (and KIE's credits are above the floor, where configured); else 503. */
  @Get()
  @HealthCheck()
  check() {
    if (this.shutdown.draining) throw new ServiceUnavailableException('Shutting down');
    return this.health.check(this.checks);
  }
}
