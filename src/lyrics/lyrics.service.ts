import { performance } from 'node:perf_hooks';
import { BadRequestException, BeforeApplicationShutdown, ConflictException, Inject, Injectable, Logger, Optional } from '@nestjs/common';
import { EventEmitter2 } from '@nestjs/event-emitter';
import { DispatchSignal } from './workers/dispatch-signal';
import { LyricsEventPageDto } from './dto/lyrics-event.dto';
import { LyricsTaskDto, LyricsTaskPageDto } from './dto/lyrics-task.dto';
import { decodeEventCursor, encodeEventCursor } from './event-cursor';
import { TaskStatus } from './entities/lyrics-task.entity';
import { FinalTaskListener } from './final-task-listener';
import { decodeCursor, encodeCursor } from './lyrics-cursor';
import { LyricsMetrics } from './lyrics.metrics';
import { LYRICS_SETTINGS, LyricsSettings } from './lyrics.options';
import { hashRequest } from './request-hash';
import { AppliedReceipt, TaskRecord, VariantRecord } from './persistence/tasks.sql';
import { EventStore } from './persistence/event.store';
import { DeliveryStore } from './persistence/delivery.store';
import { WebhookSecretStore } from './persistence/webhook-secret.store';
import { DeliverySignal } from './delivery/delivery-signal';
import { LyricsDeliveryListDto } from './dto/lyrics-delivery.dto';
import { LyricsCallbackReceiptListDto } from './dto/lyrics-callback-receipt.dto';
import { ReceiptStore } from './persistence/receipt.store';
import { TaskStore } from './persistence/task.store';
import { databaseRefusal, isTransientDatabaseError } from './persistence/database-errors';
import { FinalResult, isFinalStatus, ResultSource, resultChange, ruleOf, TaskChange } from './task-transitions';

export interface SubmitLyricsInput {
  /** Who the task belongs to: only this owner can read, list or replay it. */
  owner: string;
  prompt: string;
  metadata?: Record<string, unknown> | null;
  /** Where the task's final events are POSTed (an absolute http(s) URL; the controller checks it). */
  webhookUrl?: string | null;
  idempotencyKey?: string;
}

export interface SubmitLyricsResult {
  task: LyricsTaskDto;
  /** false when an earlier submission with the same idempotency key and body is returned. */
  created: boolean;
}

export interface ListLyricsInput {
  owner: string;
  status?: TaskStatus;
  limit: number;
  cursor?: string;
}

export class LyricsTaskNotFoundError extends Error {
  override readonly name = 'LyricsTaskNotFoundError';
}

export class LyricsWaitTimeoutError extends Error {
  override readonly name = 'LyricsWaitTimeoutError';
}

/** The owner already has as many unfinished tasks as it may (maxActivePerOwner): nothing was stored. */
export class LyricsQuotaExceededError extends Error {
  override readonly name = 'LyricsQuotaExceededError';

  constructor(
    readonly maxActive: number,
    /** A fair guess at when to try again: one create window, in which the queue moves on. */
    readonly retryAfterSeconds: number,
  ) {
    super(`The owner already has ${maxActive} unfinished tasks`);
  }
}

export interface TransitionOutcome {
  applied: boolean;
  /** The task as it is after the transaction (unchanged when not applied); undefined for an unknown id. */
  task: TaskRecord | undefined;
}

@Injectable()
export class LyricsService implements BeforeApplicationShutdown {
  private readonly logger = new Logger(LyricsService.name);
  /** Long polls waiting in this instance (see getWhenFinal). */
  private longPolls = 0;
  /** Ends every wait at shutdown, so that no request holds the instance open for its full waitSeconds. */
  private readonly stopping = new AbortController();

  constructor(
    @Inject(LYRICS_SETTINGS) private readonly settings: LyricsSettings,
    private readonly tasks: TaskStore,
    private readonly eventStore: EventStore,
    private readonly deliveries: DeliveryStore,
    private readonly webhookSecrets: WebhookSecretStore,
    private readonly receipts: ReceiptStore,
    private readonly dispatchSignal: DispatchSignal,
    private readonly deliverySignal: DeliverySignal,
    private readonly finalTasks: FinalTaskListener,
    private readonly metrics: LyricsMetrics,
    /** The host's emitter (EventEmitterModule.forRoot()); without one, final events are not owed to host handlers. */
    @Optional() private readonly emitter?: EventEmitter2,
  ) {}

  /**
   * Stores a new queued task for its owner (row first: it exists before any upstream call) and wakes the dispatcher.
   * With an idempotency key, a replay of the same request by the same owner returns the first task; another request
   * with the key is a conflict; a key older than idempotencyTtlHours makes a new task. Concurrent first uses of one key
   * all see one task. Throws LyricsQuotaExceededError when the owner holds maxActivePerOwner unfinished tasks.
   */
  async submit(input: SubmitLyricsInput): Promise<SubmitLyricsResult> {
    const metadata = input.metadata ?? null;
    const webhookUrl = input.webhookUrl ?? null;
    if (webhookUrl !== null && this.settings.webhooks.publicOnly && new URL(webhookUrl).protocol !== 'https:') {
      throw new BadRequestException({ statusCode: 400, error: 'Bad Request', message: ['webhookUrl must be an https URL'] });
    }
    const requestHash = input.idempotencyKey ? hashRequest(input.prompt, metadata, webhookUrl) : null;
    const outcome = await this.tasks.submit({
      owner: input.owner,
      prompt: input.prompt,
      metadataJson: metadata === null ? null : JSON.stringify(metadata),
      webhookUrl,
      idempotencyKey: input.idempotencyKey ?? null,
      requestHash,
      maxActive: this.settings.maxActivePerOwner,
      idempotencyTtlHours: this.settings.idempotencyTtlHours,
    });
    switch (outcome.kind) {
      case 'created':
        this.dispatchSignal.notify();
        return { task: toTaskDto(outcome.task, []), created: true };
      case 'existing':
        if (outcome.task.requestHash !== requestHash) {
          throw new ConflictException('Idempotency-Key was already used with a different request');
        }
        return { task: await this.toDto(outcome.task), created: false };
      case 'over_quota':
        throw new LyricsQuotaExceededError(this.settings.maxActivePerOwner, Math.ceil(this.settings.createWindowMs / 1000));
    }
  }

  /**
   * Resolves with the task once it is final (succeeded or failed), whichever instance finishes it. Waits on
   * PostgreSQL notifications, not by reading the table in a loop. Rejects with LyricsTaskNotFoundError for an unknown
   * id and LyricsWaitTimeoutError after `timeoutMs` (default 60 s).
   */
  async waitForFinal(owner: string, id: string, { timeoutMs = 60000 }: { timeoutMs?: number } = {}): Promise<LyricsTaskDto> {
    // A span, so the monotonic clock: a wall clock stepped meanwhile must not cut the wait short or stretch it.
    const deadline = performance.now() + timeoutMs;
    let wake = () => {};
    // Subscribed once for the whole wait: a wake that gave the LISTEN connection back, only to take it again for the
    // next read, would put a connect and a LISTEN between the notification and the answer.
    const unsubscribe = await this.finalTasks.subscribe(id, () => wake());
    try {
      for (;;) {
        const woken = new Promise<void>((resolve) => (wake = resolve));
        await this.finalTasks.listening();
        const task = await this.get(owner, id);
        if (!task) throw new LyricsTaskNotFoundError(`Lyrics task ${id} not found`);
        if (isFinalStatus(task.status)) return task;
        const remaining = deadline - performance.now();
        if (remaining <= 0) throw new LyricsWaitTimeoutError(`Lyrics task ${id} is still ${task.status} after ${timeoutMs} ms`);
        if (this.stopping.signal.aborted) throw new LyricsWaitTimeoutError(`Lyrics task ${id} is still ${task.status}: shutting down`);
        let timer: NodeJS.Timeout | undefined;
        const stop = () => wake();
        this.stopping.signal.addEventListener('abort', stop);
        await Promise.race([woken, new Promise<void>((resolve) => (timer = setTimeout(resolve, remaining)))]);
        clearTimeout(timer);
        this.stopping.signal.removeEventListener('abort', stop);
      }
    } finally {
      unsubscribe();
    }
  }

  beforeApplicationShutdown(): void {
    this.stopping.abort();
  }

  /**
   * The owner's task once it is final, or after `waitSeconds` as it is then (a long poll, woken by the database's
   * notification of a final transition). At most maxLongPolls wait at once in this instance; beyond, and with
   * `waitSeconds` 0, the task is answered at once. Undefined for an unknown id or another owner's task.
   */
  async getWhenFinal(owner: string, id: string, waitSeconds: number): Promise<LyricsTaskDto | undefined> {
    if (waitSeconds <= 0 || this.longPolls >= this.settings.maxLongPolls) return this.get(owner, id);
    this.metrics.longPollsWaiting(++this.longPolls);
    try {
      return await this.waitForFinal(owner, id, { timeoutMs: waitSeconds * 1000 });
    } catch (error) {
      if (error instanceof LyricsTaskNotFoundError) return undefined;
      if (error instanceof LyricsWaitTimeoutError) return this.get(owner, id);
      throw error;
    } finally {
      this.metrics.longPollsWaiting(--this.longPolls);
    }
  }

  /** The owner's task; undefined when there is none, or it is another owner's (the two look the same). */
  async get(owner: string, id: string): Promise<LyricsTaskDto | undefined> {
    const task = await this.tasks.byId(owner, id);
    return task ? this.toDto(task) : undefined;
  }

  /** Newest first, by keyset: a page never skips or repeats rows that existed when the listing began. */
  async list({ owner, status, limit, cursor }: ListLyricsInput): Promise<LyricsTaskPageDto> {
    const page = await this.tasks.page({ owner, status, limit, after: cursor ? decodeCursor(cursor) : undefined });
    const variants = await this.tasks.variantsOf(page.tasks.map((task) => task.id));
    return {
      items: page.tasks.map((task) => toTaskDto(task, variants.get(task.id) ?? [])),
      nextCursor: page.nextAfter ? encodeCursor(page.nextAfter) : null,
    };
  }

  /**
   * The owner's final events (the outbox), oldest first, after `after` (a cursor this returned). Commit-safe: paging
   * from the returned cursor never skips an event, even one whose transaction committed after a later one's.
   */
  async events({ owner, after, limit }: { owner: string; after?: string; limit: number }): Promise<LyricsEventPageDto> {
    const position = after === undefined ? undefined : decodeEventCursor(after);
    const page = await this.eventStore.page({ owner, after: position, limit });
    const last = page.events[page.events.length - 1];
    return {
      items: page.events.map(({ id, type, createdAt, data }) => ({
        id,
        type,
        createdAt: createdAt.toISOString(),
        data: data as unknown as LyricsTaskDto,
      })),
      nextCursor: last ? encodeEventCursor(last) : (after ?? null),
      hasMore: page.hasMore,
    };
  }

  /**
   * Cancels the owner's task if it is queued and no dispatcher holds it (so nothing was sent for it, and nothing
   * billed): it becomes `cancelled` through the one door, and its lyrics.cancelled event goes to every consumer. A
   * task claimed for sending, submitted or final is left as it is (`cancelled: false`). Undefined for an unknown or
   * another owner's task.
   */
  async cancel(owner: string, id: string): Promise<{ cancelled: boolean; task: LyricsTaskDto } | undefined> {
    if (!(await this.tasks.byId(owner, id))) return undefined;
    const outcome = await this.transition(id, { type: 'cancelled' });
    return { cancelled: outcome.applied, task: await this.toDto(outcome.task!) };
  }

  /** The owner's webhook signing secret (whsec_...), made and stored on first need. */
  async webhookSecret(owner: string): Promise<string> {
    return (await this.webhookSecrets.secretsOf(owner)).secret;
  }

  /**
   * Gives the owner a new signing secret and returns it. For webhookSecretOverlapSeconds deliveries carry a signature
   * by each secret, so a receiver can switch to the new one without failing a delivery.
   */
  rotateWebhookSecret(owner: string): Promise<string> {
    return this.webhookSecrets.rotate(owner, this.settings.webhookSecretOverlapSeconds);
  }

  /** The webhook deliveries of the owner's task, every attempt included; undefined for an unknown or another's task. */
  async webhookDeliveries(owner: string, id: string): Promise<LyricsDeliveryListDto | undefined> {
    const [task, rows] = await Promise.all([this.tasks.byId(owner, id), this.deliveries.webhookDeliveriesOf(owner, id)]);
    if (!task) return undefined;
    return { items: rows.map((row) => ({ ...row, nextAttemptAt: row.nextAttemptAt?.toISOString() ?? null })) };
  }

  /** The callback receipts of the owner's task, oldest first, without bodies; undefined for an unknown or another's task. */
  async callbackReceipts(owner: string, id: string): Promise<LyricsCallbackReceiptListDto | undefined> {
    const [task, rows] = await Promise.all([this.tasks.byId(owner, id), this.receipts.of(owner, id)]);
    if (!task) return undefined;
    return { items: rows.map((row) => ({ ...row, receivedAt: row.receivedAt.toISOString() })) };
  }

  /**
   * The one door for state changes: every transition of TASK_TRANSITIONS goes through here, as one statement (so one
   * transaction) guarded by the states the change may start from, that also stores a success's variants and notifies
   * waiters of a final state. A callback's receipt, given as `appliedReceipt`, is written by the same statement when
   * the change applies (a refused or repeated callback's receipt is the caller's). A final transition's event and its
   * deliveries (the outbox) are written by that statement too; this instance's relays are woken after the commit.
   */
  async transition(taskId: string, change: TaskChange, appliedReceipt?: AppliedReceipt): Promise<TransitionOutcome> {
    const changed = await this.tasks.applyTransition(taskId, change, appliedReceipt, { hostHandlers: this.emitter !== undefined });
    const task = changed ?? (await this.tasks.anyById(taskId));
    const rule = ruleOf(change);
    if (changed && rule.final) {
      const path = rule.path(change);
      this.metrics.finalTransition(changed.status, path);
      this.logger.log(`Task ${changed.status} by ${path}`, {
        taskId: changed.id,
        kieTaskId: changed.kieTaskId,
        ...(changed.errorCode ? { errorCode: changed.errorCode } : {}),
      });
      this.deliverySignal.notify();
    }
    return { applied: changed !== undefined, task };
  }

  /**
   * Applies a final result from KIE through the one door. A result the database refuses to store (its data, not its
   * availability) ends the task as result_unstorable instead of being retried without end; a database that is briefly
   * unreachable is the caller's to retry (the error is rethrown).
   */
  async applyResult(
    taskId: string,
    input: { source: ResultSource; kieTaskId: string; result: FinalResult },
    appliedReceipt?: AppliedReceipt,
  ): Promise<TransitionOutcome & { unstorable: boolean }> {
    const { source, kieTaskId, result } = input;
    if (result.state === 'succeeded' && result.droppedVariants) {
      const sent = result.variants.length + result.droppedVariants;
      this.logger.warn(`KIE sent ${sent} variants: the first ${result.variants.length} are kept`, {
        taskId,
        kieTaskId,
      });
    }
    try {
      return { ...(await this.transition(taskId, resultChange(source, kieTaskId, result), appliedReceipt)), unstorable: false };
    } catch (error) {
      if (isTransientDatabaseError(error)) throw error;
      const reason = databaseRefusal(error);
      this.logger.error(`KIE's result could not be stored: ${reason}`, { taskId, kieTaskId });
      const outcome = await this.transition(taskId, {
        type: 'result_unstorable',
        source,
        message: `KIE's result could not be stored: ${reason}`,
      });
      return { ...outcome, unstorable: true };
    }
  }

  private async toDto(task: TaskRecord): Promise<LyricsTaskDto> {
    return toTaskDto(task, (await this.tasks.variantsOf([task.id])).get(task.id) ?? []);
  }
}

type VariantFields = Pick<VariantRecord, 'title' | 'text' | 'status' | 'errorMessage'>;

function toTaskDto(task: TaskRecord, variants: VariantFields[]): LyricsTaskDto {
  return {
    id: task.id,
    status: task.status,
    prompt: task.prompt,
    metadata: task.metadata,
    webhookUrl: task.webhookUrl,
    kieTaskId: task.kieTaskId,
    variants: variants.map(({ title, text, status, errorMessage }) => ({ title, text, status, errorMessage })),
    error: task.errorCode ? { code: task.errorCode, message: task.errorMessage ?? '' } : null,
    createdAt: task.createdAt.toISOString(),
    submittedAt: task.submittedAt?.toISOString() ?? null,
    completedAt: task.completedAt?.toISOString() ?? null,
    updatedAt: task.updatedAt.toISOString(),
  };
}
