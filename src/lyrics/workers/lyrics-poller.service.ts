import { Inject, Injectable, Logger } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { KieClient } from '../kie/kie.client';
import { KieRecordOutcome } from '../kie/kie.types';
import { LyricsMetrics } from '../lyrics.metrics';
import { LYRICS_SETTINGS, LyricsSettings } from '../lyrics.options';
import { LyricsService } from '../lyrics.service';
import { TaskTransition } from '../task-transition';
import { BackgroundWorker, MIN_WAIT_MS } from './background-worker';
import { backoffMs } from './backoff';
import { msUntilDue } from './due-work';
import { RateBudget } from './rate-budget';
import { LYRICS_DATA_SOURCE } from '../lyrics.tokens';

interface ClaimedCheck {
  id: string;
  kieTaskId: string;
  polls: number;
  /** When the task reaches its maximum age (counted from submission). */
  deadline: Date;
  slot: number;
}

/**
 * The safety net (DESIGN.md invariant 7): reads record-info for submitted tasks whose check is due, claimed with
 * FOR UPDATE SKIP LOCKED and a lease, so one instance at a time checks a task. A claim moves the check's due time
 * to the lease's end, so a lease left by an instance that died simply makes the check due again (a read is safe to
 * repeat). Checks start only after
 * LYRICS_POLL_INITIAL_DELAY_MS, since a callback usually comes first, and back off up to LYRICS_POLL_MAX_INTERVAL_MS;
 * a task still unfinished at its maximum age fails as timed_out.
 */
@Injectable()
export class LyricsPoller extends BackgroundWorker {
  protected readonly logger = new Logger(LyricsPoller.name);
  private readonly budget: RateBudget;
  private readonly held = new Set<string>();
  /** Checks given back at shutdown: their late answers are dropped, the task belongs to the queue again. */
  private readonly abandoned = new Set<string>();

  constructor(
    @Inject(LYRICS_SETTINGS) private readonly settings: LyricsSettings,
    @Inject(LYRICS_DATA_SOURCE) private readonly dataSource: DataSource,
    private readonly kie: KieClient,
    private readonly lyrics: LyricsService,
    private readonly metrics: LyricsMetrics,
  ) {
    super(settings.runWorkers, settings.dispatchIntervalMs);
    this.budget = new RateBudget('record-info', settings.pollBudget, settings.pollWindowMs);
  }

  protected override async prepare(): Promise<void> {
    await this.budget.ensureSlots(this.dataSource.manager);
  }

  protected async round(): Promise<number> {
    const free = this.settings.pollConcurrency - this.busy;
    if (free <= 0) return this.settings.dispatchIntervalMs;
    const { checks, waitMs } = await this.claim(free);
    for (const check of checks) {
      this.held.add(check.id);
      this.track(this.check(check).finally(() => this.held.delete(check.id)));
    }
    return checks.length === free ? 0 : Math.max(waitMs, MIN_WAIT_MS);
  }

  /** Gives checks still running at the deadline back to the queue, for this or another instance to redo. */
  protected override async drain(inFlight: Promise<void>[]): Promise<void> {
    const deadline = new Promise<void>((resolve) => setTimeout(resolve, this.settings.shutdownGraceMs).unref());
    await Promise.race([Promise.allSettled(inFlight), deadline]);
    if (this.held.size === 0) return;
    const ids = [...this.held];
    ids.forEach((id) => this.abandoned.add(id));
    await this.dataSource.query(
      `UPDATE lyrics_tasks SET lease_until = NULL, next_attempt_at = now() WHERE id = ANY($1) AND status = 'submitted'`,
      [ids],
    );
    this.logger.warn(`Released ${ids.length} record-info checks still running at shutdown`);
  }

  private claim(limit: number): Promise<{ checks: ClaimedCheck[]; waitMs: number }> {
    return this.dataSource.transaction(async (manager) => {
      const budget = await this.budget.claim(manager, limit, async (count) => {
        const rows: { id: string; kie_task_id: string; polls: number; deadline: Date }[] = await manager.query(
          `SELECT id, kie_task_id, polls + 1 AS polls,
                  submitted_at + make_interval(secs => $2::double precision / 1000) AS deadline
           FROM lyrics_tasks
           WHERE status = 'submitted' AND next_attempt_at <= now()
           ORDER BY next_attempt_at LIMIT $1
           FOR UPDATE SKIP LOCKED`,
          [count, this.settings.taskMaxAgeMs],
        );
        return rows.map((row) => ({ id: row.id, kieTaskId: row.kie_task_id, polls: row.polls, deadline: row.deadline }));
      });
      if ('budgetWaitMs' in budget) {
        this.metrics.budgetWait(this.budget.bucket);
        return { checks: [], waitMs: budget.budgetWaitMs };
      }
      const checks = budget.claimed;
      if (checks.length === 0) return { checks: [], waitMs: await this.msUntilNextDue() };
      // The check falls due again when its lease ends: if this instance dies, another takes it over then.
      await manager.query(
        `UPDATE lyrics_tasks SET lease_until = clock_timestamp() + make_interval(secs => $1::double precision / 1000),
                next_attempt_at = clock_timestamp() + make_interval(secs => $1::double precision / 1000),
                polls = polls + 1, updated_at = clock_timestamp()
         WHERE id = ANY($2)`,
        [this.settings.leaseMs, checks.map((check) => check.id)],
      );
      return { checks, waitMs: checks.length < budget.slotsFree ? await this.msUntilNextDue() : 0 };
    });
  }

  private msUntilNextDue(): Promise<number> {
    return msUntilDue(this.dataSource, `status = 'submitted'`, this.settings.dispatchIntervalMs);
  }

  private async check(check: ClaimedCheck): Promise<void> {
    try {
      const outcome = await this.kie.getLyricsRecord(check.kieTaskId);
      if (this.abandoned.has(check.id)) return;
      await this.budget.markUsed(this.dataSource.manager, [check.slot]);
      if (outcome.kind === 'retry' || outcome.kind === 'rejected') {
        this.logger.warn(`Task record-info ${outcome.kind}: ${outcome.message}`, { taskId: check.id, kieTaskId: check.kieTaskId });
      }
      await this.lyrics.transition(check.id, this.transitionFor(check, outcome));
    } catch (error) {
      // The lease expires and the check is claimed again.
      this.logger.error(`Task check failed: ${error instanceof Error ? error.message : String(error)}`, {
        taskId: check.id,
        kieTaskId: check.kieTaskId,
      });
    }
  }

  private transitionFor(check: ClaimedCheck, outcome: KieRecordOutcome): TaskTransition {
    if (outcome.kind === 'record' && outcome.result.state !== 'pending') {
      return { type: 'result', source: 'poll', kieTaskId: check.kieTaskId, result: outcome.result };
    }
    const now = Date.now();
    if (now >= check.deadline.getTime()) return { type: 'timed_out', maxAgeMs: this.settings.taskMaxAgeMs };
    const delay = Math.max(
      backoffMs(check.polls, this.settings.pollIntervalMs, this.settings.pollMaxIntervalMs),
      outcome.kind === 'retry' ? (outcome.retryAfterMs ?? 0) : 0,
    );
    // Never later than the deadline, so that a task times out at its maximum age, after one last check.
    return { type: 'poll_deferred', nextCheckAt: new Date(Math.min(now + delay, check.deadline.getTime())) };
  }
}
