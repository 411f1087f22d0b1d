import { Inject, Injectable, Logger } from '@nestjs/common';
import { performance } from 'node:perf_hooks';
import { hashCallbackToken, newCallbackToken } from '../callback-token';
import { CreateBudgets, OnAccount } from '../accounts/create-budgets';
import { KieAccounts } from '../accounts/kie-accounts';
import { KieCreateOutcome } from '../kie/kie.types';
import { callbackUrl } from '../lyrics-routes';
import { LyricsMetrics } from '../lyrics.metrics';
import { LYRICS_SETTINGS, LyricsSettings } from '../lyrics.options';
import { LyricsService } from '../lyrics.service';
import { TaskChange } from '../task-transitions';
import { LyricsDatabase, SqlExecutor } from '../persistence/lyrics-database';
import { AccountStore } from '../persistence/account.store';
import { RateSlotStore } from '../persistence/rate-slot.store';
import { DueCreate, TaskStore } from '../persistence/task.store';
import { BackgroundWorker, MIN_WAIT_MS } from './background-worker';
import { backoffMs } from './backoff';
import { retryWhileTransient } from './database-retry';
import { DispatchSignal } from './dispatch-signal';
import { errorMessage } from '../error-message';

/**
 * A due create, the account it goes out on and the slot of that account's budget it holds, the callback token made for
 * this attempt (and its hash, which identifies the claim), and until when the claim's lease holds on the monotonic clock.
 */
type ClaimedTask = OnAccount<DueCreate> & { token: string; tokenHash: string; leaseEnds: number };

/**
 * Sends queued tasks to KIE. Due rows are claimed with FOR UPDATE SKIP LOCKED and a lease, together with slots of
 * the usable accounts' create budgets, so any number of instances share the work and the budgets through PostgreSQL
 * alone. The budgets are shared fairly among owners (round-robin, oldest first within an owner; see
 * lockFairDueCreates), and each create goes to the account with the most room (see CreateBudgets). An account KIE
 * refuses a create for its own sake (credits, sub-key limit) is paused, and the task waits for another create.
 * Just before a create goes out its claim records the moment (sent_at). A task whose lease expires while still
 * queued was claimed by an instance that died: without sent_at its create never left, so it is queued again; with it,
 * the create may have reached KIE, so it is failed as submit_outcome_unknown, never resent (never resubmit an
 * ambiguous create), and its callback still revives it. A task still unsent LYRICS_QUEUE_MAX_AGE_MS after submission
 * fails as queue_expired.
 */
@Injectable()
export class LyricsDispatcher extends BackgroundWorker {
  protected readonly logger = new Logger(LyricsDispatcher.name);
  private readonly budgets: CreateBudgets;
  /** performance.now() of the next sweep of orphaned claims and expired queued tasks. */
  private nextSweepAt = 0;

  constructor(
    @Inject(LYRICS_SETTINGS) private readonly settings: LyricsSettings,
    private readonly database: LyricsDatabase,
    private readonly tasks: TaskStore,
    slots: RateSlotStore,
    private readonly accountStore: AccountStore,
    private readonly accounts: KieAccounts,
    private readonly lyrics: LyricsService,
    private readonly signal: DispatchSignal,
    private readonly metrics: LyricsMetrics,
  ) {
    super(settings.runWorkers, settings.dispatchIntervalMs);
    this.budgets = new CreateBudgets(slots, accountStore, accounts.names, settings);
  }

  protected override async prepare(): Promise<void> {
    await this.budgets.ensureSlots();
    this.signal.listen(() => this.wake());
  }

  protected async round(): Promise<number> {
    await this.sweep();
    const free = this.settings.dispatchConcurrency - this.busy;
    if (free <= 0) return this.settings.dispatchIntervalMs; // a finishing create wakes us
    const { tasks, waitMs } = await this.claim(free);
    const sendable = await this.markSent(tasks);
    // In claim order, so that KIE receives each owner's creates oldest first.
    for (const task of tasks) if (sendable.has(task.id)) this.track(this.send(task));
    // Every free place was used: more may be due at once.
    return tasks.length === free ? 0 : Math.max(waitMs, MIN_WAIT_MS);
  }

  private claim(limit: number): Promise<{ tasks: ClaimedTask[]; waitMs: number }> {
    return this.database.transaction(async (tx) => {
      await this.tasks.takeCreateClaimTurn(tx);
      const budget = await this.budgets.claim(tx, limit, (count) => this.tasks.lockFairDueCreates(tx, count));
      if ('budgetWaitMs' in budget) {
        this.metrics.budgetWait('create');
        // Every account paused: a resumed one wakes the dispatchers (DispatchSignal).
        return { tasks: [], waitMs: budget.budgetWaitMs ?? this.settings.dispatchIntervalMs };
      }
      if (budget.claimed.length === 0) return { tasks: [], waitMs: await this.msUntilNextDue(tx) };
      const leaseEnds = performance.now() + this.settings.leaseMs;
      const tasks = budget.claimed.map((task) => {
        const token = newCallbackToken();
        return { ...task, token, tokenHash: hashCallbackToken(token), leaseEnds };
      });
      await this.tasks.leaseCreates(tx, {
        ids: tasks.map((task) => task.id),
        tokenHashes: tasks.map((task) => task.tokenHash),
        accounts: tasks.map((task) => task.account),
        leaseMs: this.settings.leaseMs,
      });
      return { tasks, waitMs: tasks.length < budget.slotsFree ? await this.msUntilNextDue(tx) : 0 };
    });
  }

  private async msUntilNextDue(tx: SqlExecutor): Promise<number> {
    return (await this.tasks.msUntilDue('create', tx)) ?? this.settings.dispatchIntervalMs;
  }

  /** The claimed tasks whose creates may go out, recorded as sent (see markCreatesSent). */
  private async markSent(tasks: ClaimedTask[]): Promise<Set<string>> {
    if (tasks.length === 0) return new Set();
    try {
      const sendable = await this.tasks.markCreatesSent({
        ids: tasks.map((task) => task.id),
        tokenHashes: tasks.map((task) => task.tokenHash),
      });
      for (const task of tasks) {
        if (!sendable.has(task.id))
          this.logger.warn('Task create not sent: its claim ended before it could go out', { taskId: task.id, kieTaskId: null });
      }
      return sendable;
    } catch (error) {
      // Not sent: when the leases run out, the tasks are queued again (their sent_at is unset).
      this.logger.error(`${tasks.length} task creates not sent, the database is unreachable: ${errorMessage(error)}`);
      return new Set();
    }
  }

  private async send(task: ClaimedTask): Promise<void> {
    const log = { taskId: task.id, kieTaskId: null };
    let outcome: KieCreateOutcome | undefined;
    try {
      const url = callbackUrl(this.settings.callbackBaseUrl, task.id, task.token);
      const answer = await this.accounts.ofTask(task.account).client.createLyricsTask(task.prompt, url);
      outcome = answer;
      // Paused before the task is due again, so that its next claim takes another account.
      if (answer.kind === 'account_paused') await retryWhileTransient(() => this.pause(task, answer), task.leaseEnds);
      const change = this.transitionFor(task, outcome);
      // KIE has answered (and, if it accepted, billed): the answer is stored even through a brief database outage.
      const { applied } = await retryWhileTransient(() => this.lyrics.transition(task.id, change), task.leaseEnds);
      if (outcome.kind === 'accepted') {
        this.logger.log(applied ? 'Task submitted to KIE' : 'Task submitted to KIE after its result arrived', {
          taskId: task.id,
          kieTaskId: outcome.kieTaskId,
        });
      } else if (outcome.kind === 'retry') {
        this.logger.warn(`Task create deferred (${outcome.reason}): ${outcome.message}`, log);
      }
      // The slot counts from the answer: KIE received the create no later than that.
      await retryWhileTransient(() => this.budgets.markAnswered(task.account, task.slot), task.leaseEnds);
    } catch (error) {
      // The lease runs out and, the create having been sent, the task fails as submit_outcome_unknown; a callback for it
      // (KIE's task id included) still revives it.
      this.logger.error(`Task create's answer could not be stored: ${errorMessage(error)}`, {
        ...log,
        kieTaskId: outcome?.kind === 'accepted' ? outcome.kieTaskId : null,
      });
    }
  }

  private transitionFor(task: ClaimedTask, outcome: KieCreateOutcome): TaskChange {
    switch (outcome.kind) {
      case 'accepted':
        return { type: 'create_accepted', kieTaskId: outcome.kieTaskId, firstCheckInMs: this.settings.pollInitialDelayMs };
      case 'retry': {
        // Retry-After is honoured up to the cap, so that one odd header cannot park a task for years.
        const retryAfterMs = Math.min(outcome.retryAfterMs ?? 0, this.settings.createRetryMaxMs);
        const backoff = backoffMs(task.attempts, this.settings.createRetryBaseMs, this.settings.createRetryMaxMs);
        return { type: 'create_deferred', retryInMs: Math.max(backoff, retryAfterMs), reason: outcome.reason };
      }
      case 'rejected':
        return {
          type: 'create_failed',
          code: 'upstream_rejected',
          message: `KIE refused the create (${outcome.code}): ${outcome.message}`,
        };
      case 'ambiguous':
        return { type: 'create_failed', code: 'submit_outcome_unknown', message: outcome.message };
      case 'account_paused':
        return { type: 'create_deferred', retryInMs: 0, reason: `account_paused:${outcome.reason}` };
    }
  }

  private async pause(task: ClaimedTask, outcome: PausedOutcome): Promise<void> {
    const probeMs = this.settings.accountProbeMs;
    if (!(await this.accountStore.pause({ name: task.account, reason: outcome.reason, probeMs }))) return;
    this.logger.warn(
      `KIE account ${task.account} paused (${outcome.reason}): ${outcome.message}; its creates wait, and its credits are read every ${probeMs} ms`,
      { taskId: task.id, kieTaskId: null },
    );
  }

  /** Settles claims whose instance stopped, and ends tasks unsent for longer than the queue's maximum age. */
  private async sweep(): Promise<void> {
    if (performance.now() < this.nextSweepAt) return;
    this.nextSweepAt = performance.now() + this.settings.dispatchIntervalMs;
    for (const orphan of await this.tasks.orphanedCreates(SWEEP_BATCH)) {
      const log = { taskId: orphan.id, kieTaskId: null };
      const { applied } = await this.lyrics.transition(orphan.id, { type: orphan.sent ? 'create_orphaned' : 'create_released' });
      if (!applied) continue;
      if (orphan.sent) this.logger.warn('Task failed as submit_outcome_unknown: its sender stopped mid-create', log);
      else this.logger.warn('Task queued again: its claimer stopped before sending the create', log);
    }
    const maxAgeMs = this.settings.queueMaxAgeMs;
    for (const id of await this.tasks.expiredQueuedTasks({ maxAgeMs, limit: SWEEP_BATCH })) {
      const { applied } = await this.lyrics.transition(id, { type: 'queue_expired', maxAgeMs });
      if (applied) this.logger.warn('Task failed as queue_expired: it could not be sent in time', { taskId: id, kieTaskId: null });
    }
  }
}

const SWEEP_BATCH = 100;

type PausedOutcome = Extract<KieCreateOutcome, { kind: 'account_paused' }>;
