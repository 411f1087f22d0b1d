import { Controller, Get, ServiceUnavailableException } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { ApiTags } from '@nestjs/swagger';
import { HealthCheck, HealthCheckService, HealthIndicatorFunction, HealthIndicatorService, TypeOrmHealthIndicator } from '@nestjs/terminus';
import { AppConfig } from '../config/app-config';
import { ShutdownState } from '../lifecycle/shutdown-state';
import { KieAccountsHealth } from '../lyrics';

@ApiTags('operations')
@Controller('health')
export class HealthController {
  private readonly checks: HealthIndicatorFunction[];

  constructor(
    private readonly health: HealthCheckService,
    database: TypeOrmHealthIndicator,
    indicators: HealthIndicatorService,
    accounts: KieAccountsHealth,
    config: ConfigService<AppConfig, true>,
    private readonly shutdown: ShutdownState,
  ) {
    const { kieMinCredits, kieCacheMs } = config.get('health', { infer: true });
    this.checks = [
      () => database.pingCheck('database').withTimeout(2000),
      // Paused accounts are reported, never a reason to be unready: every instance shares the accounts, so taking this
      // one out of rotation would not help; tasks wait queued (until LYRICS_QUEUE_MAX_AGE_MS), and reads go on.
      async () => {
        const indicator = indicators.check('kieAccounts');
        const states = await accounts.states().catch(() => undefined);
        if (!states) return indicator.down({ message: 'account states unreadable: the database does not answer' });
        return indicator.up({
          accounts: states.map(({ name, paused }) =>
            paused ? { name, status: 'paused', reason: paused.reason, since: paused.since.toISOString() } : { name, status: 'usable' },
          ),
        });
      },
    ];
    if (kieMinCredits !== undefined) {
      // Reads each account's credits endpoint, at most once per kieCacheMs: never a create. One account at or above the
      // floor is enough, as creates go to whichever account has room.
      this.checks.push(async () => {
        const kie = indicators.check('kie');
        const credits = await accounts.credits(kieCacheMs);
        const details = Object.fromEntries(
          credits.map(({ name, outcome }) => [name, outcome.kind === 'credits' ? outcome.credits : `unreadable: ${outcome.message}`]),
        );
        const enough = credits.some(({ outcome }) => outcome.kind === 'credits' && outcome.credits >= kieMinCredits);
        return enough ? kie.up({ credits: details }) : kie.down({ credits: details, message: `no account has ${kieMinCredits} credits` });
      });
    }
  }

  /** Liveness: the process answers. */
  @Get('live')
  live(): { status: 'ok' } {
    return { status: 'ok' };
  }

  /**
   * Readiness: 200 when the database answers (and some KIE account's credits are at the floor, where configured);
   * else 503. The body lists the KIE accounts, each `usable` or `paused` with its reason.
   */
  @Get()
  @HealthCheck()
  check() {
    if (this.shutdown.draining) throw new ServiceUnavailableException('Shutting down');
    return this.health.check(this.checks);
  }
}
