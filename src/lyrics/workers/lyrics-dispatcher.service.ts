import { Inject, Injectable, Logger } from '@nestjs/common';
import { hashCallbackToken, newCallbackToken } from '../callback-token';
import { KieClient } from '../kie/kie.client';
import { KieCreateOutcome } from '../kie/kie.types';
import { callbackUrl } from '../lyrics-routes';
import { LyricsMetrics } from '../lyrics.metrics';
import { LYRICS_SETTINGS, LyricsSettings } from '../lyrics.options';
import { LyricsService } from '../lyrics.service';
import { TaskChange } from '../task-transitions';
import { LyricsDatabase, SqlExecutor } from '../persistence/lyrics-database';
import { RateSlotStore } from '../persistence/rate-slot.store';
import { DueCreate, TaskStore } from '../persistence/task.store';
import { BackgroundWorker, MIN_WAIT_MS } from './background-worker';
import { backoffMs } from './backoff';
import { DispatchSignal } from './dispatch-signal';
import { RateBudget } from './rate-budget';

/** A due create, the budget slot it holds, and the callback token made for this attempt. */
type ClaimedTask = DueCreate & { slot: number; token: string };

/**
 * Sends queued tasks to KIE. Due rows are claimed with FOR UPDATE SKIP LOCKED and a lease, together with slots of
 * the global create budget, so any number of instances share the work and the budget through PostgreSQL alone.
 * The budget is shared fairly among owners (round-robin, oldest first within an owner; see lockFairDueCreates).
 * A task whose lease expires while still queued was being sent by an instance that died: its create may have
 * reached KIE, so it is failed, never resent (never resubmit an ambiguous create).
 */
@Injectable()
export class LyricsDispatcher extends BackgroundWorker {
  protected readonly logger = new Logger(LyricsDispatcher.name);
  private readonly budget: RateBudget;
  private nextOrphanSweepAt = 0;

  constructor(
    @Inject(LYRICS_SETTINGS) private readonly settings: LyricsSettings,
    private readonly database: LyricsDatabase,
    private readonly tasks: TaskStore,
    slots: RateSlotStore,
    private readonly kie: KieClient,
    private readonly lyrics: LyricsService,
    private readonly signal: DispatchSignal,
    private readonly metrics: LyricsMetrics,
  ) {
    super(settings.runWorkers, settings.dispatchIntervalMs);
    this.budget = new RateBudget(slots, 'create', settings.createBudget, settings.createWindowMs);
  }

  protected override async prepare(): Promise<void> {
    await this.budget.ensureSlots();
    this.signal.listen(() => this.wake());
  }

  protected async round(): Promise<number> {
    await this.failOrphans();
    const free = this.settings.dispatchConcurrency - this.busy;
    if (free <= 0) return this.settings.dispatchIntervalMs; // a finishing create wakes us
    const { tasks, waitMs } = await this.claim(free);
    for (const task of tasks) this.track(this.send(task));
    // Every free place was used: more may be due at once.
    return tasks.length === free ? 0 : Math.max(waitMs, MIN_WAIT_MS);
  }

  private claim(limit: number): Promise<{ tasks: ClaimedTask[]; waitMs: number }> {
    return this.database.transaction(async (tx) => {
      await this.tasks.takeCreateClaimTurn(tx);
      const budget = await this.budget.claim(tx, limit, (count) => this.tasks.lockFairDueCreates(tx, count));
      if ('budgetWaitMs' in budget) {
        this.metrics.budgetWait(this.budget.bucket);
        return { tasks: [], waitMs: budget.budgetWaitMs };
      }
      if (budget.claimed.length === 0) return { tasks: [], waitMs: await this.msUntilNextDue(tx) };
      const tasks = budget.claimed.map((task) => ({ ...task, token: newCallbackToken() }));
      await this.tasks.leaseCreates(tx, {
        ids: tasks.map((task) => task.id),
        tokenHashes: tasks.map((task) => hashCallbackToken(task.token)),
        leaseMs: this.settings.leaseMs,
      });
      return { tasks, waitMs: tasks.length < budget.slotsFree ? await this.msUntilNextDue(tx) : 0 };
    });
  }

  private async msUntilNextDue(tx: SqlExecutor): Promise<number> {
    return (await this.tasks.msUntilDue('create', tx)) ?? this.settings.dispatchIntervalMs;
  }

  private async send(task: ClaimedTask): Promise<void> {
    try {
      const url = callbackUrl(this.settings.callbackBaseUrl, task.id, task.token);
      const outcome = await this.kie.createLyricsTask(task.prompt, url);
      // The slot counts from the answer: KIE received the create no later than that.
      await this.budget.markAnswered(task.slot);
      const { applied } = await this.lyrics.transition(task.id, this.transitionFor(task, outcome));
      if (outcome.kind === 'accepted') {
        this.logger.log(applied ? 'Task submitted to KIE' : 'Task submitted to KIE after its result arrived', {
          taskId: task.id,
          kieTaskId: outcome.kieTaskId,
        });
      } else if (outcome.kind === 'retry') {
        this.logger.warn(`Task create deferred (${outcome.reason}): ${outcome.message}`, { taskId: task.id, kieTaskId: null });
      }
    } catch (error) {
      // The task keeps its lease; when it expires the task is failed as an orphan (its create may have gone out).
      this.logger.error(`Task create could not be completed: ${error instanceof Error ? error.message : String(error)}`, {
        taskId: task.id,
        kieTaskId: null,
      });
    }
  }

  private transitionFor(task: ClaimedTask, outcome: KieCreateOutcome): TaskChange {
    switch (outcome.kind) {
      case 'accepted':
        return {
          type: 'create_accepted',
          kieTaskId: outcome.kieTaskId,
          firstCheckAt: new Date(Date.now() + this.settings.pollInitialDelayMs),
        };
      case 'retry': {
        const delay = Math.max(
          backoffMs(task.attempts, this.settings.createRetryBaseMs, this.settings.createRetryMaxMs),
          outcome.retryAfterMs ?? 0,
        );
        return { type: 'create_deferred', retryAt: new Date(Date.now() + delay), reason: outcome.reason };
      }
      case 'rejected':
        return {
          type: 'create_failed',
          code: 'upstream_rejected',
          message: `KIE refused the create (${outcome.code}): ${outcome.message}`,
        };
      case 'ambiguous':
        return { type: 'create_failed', code: 'submit_outcome_unknown', message: outcome.message };
    }
  }

  private async failOrphans(): Promise<void> {
    if (Date.now() < this.nextOrphanSweepAt) return;
    this.nextOrphanSweepAt = Date.now() + this.settings.dispatchIntervalMs;
    for (const id of await this.tasks.orphanedCreates(100)) {
      const { applied } = await this.lyrics.transition(id, { type: 'create_orphaned' });
      if (applied)
        this.logger.warn('Task failed as submit_outcome_unknown: its sender stopped mid-create', { taskId: id, kieTaskId: null });
    }
  }
}
