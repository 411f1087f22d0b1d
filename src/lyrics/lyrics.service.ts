import { ConflictException, Injectable, Logger, Optional } from '@nestjs/common';
import { EventEmitter2 } from '@nestjs/event-emitter';
import { DispatchSignal } from './workers/dispatch-signal';
import { LyricsTaskDto, LyricsTaskPageDto } from './dto/lyrics-task.dto';
import { TaskStatus } from './entities/lyrics-task.entity';
import { FinalTaskListener } from './final-task-listener';
import { decodeCursor, encodeCursor } from './lyrics-cursor';
import { LyricsFailedEvent, LyricsFinalEvent, LyricsSucceededEvent } from './lyrics.events';
import { LyricsMetrics } from './lyrics.metrics';
import { hashRequest } from './request-hash';
import { AppliedReceipt, TaskRecord, VariantRecord } from './persistence/tasks.sql';
import { TaskStore } from './persistence/task.store';
import { isFinalStatus, ruleOf, TaskChange } from './task-transitions';

export interface SubmitLyricsInput {
  prompt: string;
  metadata?: Record<string, unknown> | null;
  idempotencyKey?: string;
}

export interface SubmitLyricsResult {
  task: LyricsTaskDto;
  /** false when an earlier submission with the same idempotency key and body is returned. */
  created: boolean;
}

export interface ListLyricsInput {
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

export interface TransitionOutcome {
  applied: boolean;
  /** The task as it is after the transaction (unchanged when not applied); undefined for an unknown id. */
  task: TaskRecord | undefined;
}

@Injectable()
export class LyricsService {
  private readonly logger = new Logger(LyricsService.name);

  constructor(
    private readonly tasks: TaskStore,
    private readonly dispatchSignal: DispatchSignal,
    private readonly finalTasks: FinalTaskListener,
    private readonly metrics: LyricsMetrics,
    /** The host's emitter (EventEmitterModule.forRoot()); without one, no events are published. */
    @Optional() private readonly events?: EventEmitter2,
  ) {}

  /**
   * Stores a new queued task (row first: it exists before any upstream call) and wakes the dispatcher.
   * With an idempotency key, a replay of the same request returns the first task; another request with the same
   * key is a conflict. Concurrent first uses of one key wait on the unique index and all see one task.
   */
  async submit(input: SubmitLyricsInput): Promise<SubmitLyricsResult> {
    const metadata = input.metadata ?? null;
    const requestHash = input.idempotencyKey ? hashRequest(input.prompt, metadata) : null;
    const inserted = await this.tasks.insertQueued({
      prompt: input.prompt,
      metadataJson: metadata === null ? null : JSON.stringify(metadata),
      idempotencyKey: input.idempotencyKey ?? null,
      requestHash,
    });
    if (inserted) {
      this.dispatchSignal.notify();
      return { task: toTaskDto(inserted, []), created: true };
    }
    const existing = await this.tasks.byIdempotencyKey(input.idempotencyKey!);
    // The key's first use committed before our INSERT gave way to it; it is only gone if pruned in between.
    if (!existing) throw new ConflictException('Idempotency-Key was just released; send the request again');
    if (existing.requestHash !== requestHash) {
      throw new ConflictException('Idempotency-Key was already used with a different request');
    }
    return { task: await this.toDto(existing), created: false };
  }

  /**
   * Resolves with the task once it is final (succeeded or failed), whichever instance finishes it. Waits on
   * PostgreSQL notifications, not by reading the table in a loop. Rejects with LyricsTaskNotFoundError for an unknown
   * id and LyricsWaitTimeoutError after `timeoutMs` (default 60 s).
   */
  async waitForFinal(id: string, { timeoutMs = 60000 }: { timeoutMs?: number } = {}): Promise<LyricsTaskDto> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      let wake!: () => void;
      const woken = new Promise<void>((resolve) => (wake = resolve));
      const unsubscribe = await this.finalTasks.subscribe(id, wake);
      try {
        const task = await this.get(id);
        if (!task) throw new LyricsTaskNotFoundError(`Lyrics task ${id} not found`);
        if (isFinalStatus(task.status)) return task;
        const remaining = deadline - Date.now();
        if (remaining <= 0) throw new LyricsWaitTimeoutError(`Lyrics task ${id} is still ${task.status} after ${timeoutMs} ms`);
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([woken, new Promise<void>((resolve) => (timer = setTimeout(resolve, remaining)))]);
        clearTimeout(timer);
      } finally {
        unsubscribe();
      }
    }
  }

  async get(id: string): Promise<LyricsTaskDto | undefined> {
    const task = await this.tasks.byId(id);
    return task ? this.toDto(task) : undefined;
  }

  /** Newest first, by keyset: a page never skips or repeats rows that existed when the listing began. */
  async list({ status, limit, cursor }: ListLyricsInput): Promise<LyricsTaskPageDto> {
    const page = await this.tasks.page({ status, limit, after: cursor ? decodeCursor(cursor) : undefined });
    const variants = await this.tasks.variantsOf(page.tasks.map((task) => task.id));
    return {
      items: page.tasks.map((task) => toTaskDto(task, variants.get(task.id) ?? [])),
      nextCursor: page.nextAfter ? encodeCursor(page.nextAfter) : null,
    };
  }

  /**
   * The one door for state changes: every transition of TASK_TRANSITIONS goes through here, as one statement (so one
   * transaction) guarded by the states the change may start from, that also stores a success's variants and notifies
   * waiters of a final state. A callback's receipt, given as `appliedReceipt`, is written by the same statement when
   * the change applies (a refused or repeated callback's receipt is the caller's). A final transition is published
   * once, after commit.
   */
  async transition(taskId: string, change: TaskChange, appliedReceipt?: AppliedReceipt): Promise<TransitionOutcome> {
    const changed = await this.tasks.applyTransition(taskId, change, appliedReceipt);
    const task = changed ?? (await this.tasks.byId(taskId));
    const rule = ruleOf(change);
    if (changed && rule.final) {
      const path = rule.path(change);
      this.metrics.finalTransition(changed.status, path);
      this.logger.log(`Task ${changed.status} by ${path}`, {
        taskId: changed.id,
        kieTaskId: changed.kieTaskId,
        ...(changed.errorCode ? { errorCode: changed.errorCode } : {}),
      });
      this.publish(changed, rule.variants?.(change) ?? []);
    }
    return { applied: changed !== undefined, task };
  }

  private publish(task: TaskRecord, variants: VariantFields[]): void {
    if (!this.events) return;
    const dto = toTaskDto(task, variants);
    const event: LyricsFinalEvent = task.status === 'succeeded' ? new LyricsSucceededEvent(dto) : new LyricsFailedEvent(dto);
    try {
      this.events.emit(event.name, event);
    } catch (error) {
      // A host listener's failure must not undo or repeat a committed transition.
      this.logger.error(`A ${event.name} listener failed: ${error instanceof Error ? error.message : String(error)}`, {
        taskId: task.id,
        kieTaskId: task.kieTaskId,
      });
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
    kieTaskId: task.kieTaskId,
    variants: variants.map(({ title, text, status, errorMessage }) => ({ title, text, status, errorMessage })),
    error: task.errorCode ? { code: task.errorCode, message: task.errorMessage ?? '' } : null,
    createdAt: task.createdAt.toISOString(),
    submittedAt: task.submittedAt?.toISOString() ?? null,
    completedAt: task.completedAt?.toISOString() ?? null,
    updatedAt: task.updatedAt.toISOString(),
  };
}
