import { Inject, Injectable, Logger } from '@nestjs/common';
import { performance } from 'node:perf_hooks';
import { KieAccounts } from '../accounts/kie-accounts';
import { KieRecordOutcome } from '../kie/kie.types';
import { LyricsMetrics } from '../lyrics.metrics';
import { LYRICS_SETTINGS, LyricsSettings } from '../lyrics.options';
import { LyricsService } from '../lyrics.service';
import { FinalResult, TaskChange } from '../task-transitions';
import { LyricsDatabase, SqlExecutor } from '../persistence/lyrics-database';
import { RateSlotStore } from '../persistence/rate-slot.store';
import { DueCheck, TaskStore } from '../persistence/task.store';
import { BackgroundWorker, MIN_WAIT_MS } from './background-worker';
import { backoffMs } from './backoff';
import { RateBudget } from './rate-budget';
import { errorMessage } from '../error-message';

/**
 * A due check, the budget slot it holds, and when the task reaches its maximum age (counted from submission by the
 * database's clock at the claim, then on the monotonic clock: no instance's wall clock takes part).
 */
type ClaimedCheck = DueCheck & { slot: number; deadline: number };

/**
 * The safety net (polling is not the main road): reads record-info for submitted tasks whose check is due, claimed with
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
    private readonly database: LyricsDatabase,
    private readonly tasks: TaskStore,
    slots: RateSlotStore,
    private readonly accounts: KieAccounts,
    private readonly lyrics: LyricsService,
    private readonly metrics: LyricsMetrics,
  ) {
    super(settings.runWorkers, settings.dispatchIntervalMs);
    this.budget = RateBudget.recordInfo(slots, settings);
  }

  protected override async prepare(): Promise<void> {
    await this.budget.ensureSlots();
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
    await this.tasks.releaseChecks(ids);
    this.logger.warn(`Released ${ids.length} record-info checks still running at shutdown`);
  }

  private claim(limit: number): Promise<{ checks: ClaimedCheck[]; waitMs: number }> {
    return this.database.transaction(async (tx) => {
      const budget = await this.budget.claim(tx, limit, (count) =>
        this.tasks.lockDueChecks(tx, { limit: count, maxAgeMs: this.settings.taskMaxAgeMs }),
      );
      if ('budgetWaitMs' in budget) {
        this.metrics.budgetWait(this.budget.bucket);
        return { checks: [], waitMs: budget.budgetWaitMs };
      }
      const claimedAt = performance.now();
      const checks = budget.claimed.map((check) => ({ ...check, deadline: claimedAt + check.msLeft }));
      if (checks.length === 0) return { checks: [], waitMs: await this.msUntilNextDue(tx) };
      await this.tasks.leaseChecks(tx, { ids: checks.map((check) => check.id), leaseMs: this.settings.leaseMs });
      return { checks, waitMs: checks.length < budget.slotsFree ? await this.msUntilNextDue(tx) : 0 };
    });
  }

  private async msUntilNextDue(tx: SqlExecutor): Promise<number> {
    return (await this.tasks.msUntilDue('check', tx)) ?? this.settings.dispatchIntervalMs;
  }

  private async check(check: ClaimedCheck): Promise<void> {
    const log = { taskId: check.id, kieTaskId: check.kieTaskId };
    try {
      // With the key of the account that created it: KIE shows an account only its own tasks.
      const outcome = await this.accounts.ofTask(check.kieAccount).client.getLyricsRecord(check.kieTaskId);
      if (this.abandoned.has(check.id)) return;
      await this.budget.markAnswered(check.slot);
      if (outcome.kind === 'retry' || outcome.kind === 'rejected') {
        this.logger.warn(`Task record-info ${outcome.kind}: ${outcome.message}`, log);
      }
      if (outcome.kind === 'record' && outcome.result.state !== 'pending') {
        await this.storeResult(check, outcome.result);
      } else {
        await this.lyrics.transition(check.id, this.nextStep(check, outcome));
      }
    } catch (error) {
      // The lease expires and the check is claimed again, or the task times out at its maximum age.
      this.logger.error(`Task check failed: ${errorMessage(error)}`, log);
    }
  }

  /**
   * Stores a final result read from record-info. A refused one ends the task (applyResult); while the database keeps
   * failing the write, the maximum age still holds: past it, the task times out instead of being read again.
   */
  private async storeResult(check: ClaimedCheck, result: FinalResult): Promise<void> {
    try {
      await this.lyrics.applyResult(check.id, { source: 'poll', kieTaskId: check.kieTaskId, result });
    } catch (error) {
      if (performance.now() < check.deadline) throw error;
      this.logger.error(`Task result could not be stored before its maximum age: ${errorMessage(error)}`, {
        taskId: check.id,
        kieTaskId: check.kieTaskId,
      });
      await this.lyrics.transition(check.id, { type: 'timed_out', maxAgeMs: this.settings.taskMaxAgeMs });
    }
  }

  private nextStep(check: ClaimedCheck, outcome: Exclude<KieRecordOutcome, { kind: 'record'; result: FinalResult }>): TaskChange {
    const maxAgeMs = this.settings.taskMaxAgeMs;
    if (performance.now() >= check.deadline) return { type: 'timed_out', maxAgeMs };
    // Retry-After is honoured up to the poll cap, so that one odd header cannot park a task past its maximum age.
    const retryAfterMs = outcome.kind === 'retry' ? Math.min(outcome.retryAfterMs ?? 0, this.settings.pollMaxIntervalMs) : 0;
    const backoff = backoffMs(check.polls, this.settings.pollIntervalMs, this.settings.pollMaxIntervalMs);
    // Never later than the maximum age (the rule caps it by the database's clock), so a task gets one last check.
    return { type: 'poll_deferred', nextCheckInMs: Math.max(backoff, retryAfterMs), maxAgeMs };
  }
}
