import { ConflictException, Inject, Injectable, Logger, Optional } from '@nestjs/common';
import { EventEmitter2 } from '@nestjs/event-emitter';
import { DataSource } from 'typeorm';
import { DispatchSignal } from './workers/dispatch-signal';
import { LyricsTaskDto, LyricsTaskPageDto } from './dto/lyrics-task.dto';
import { LyricsTaskEntity, TaskErrorCode, TaskStatus } from './entities/lyrics-task.entity';
import { LyricsVariantEntity } from './entities/lyrics-variant.entity';
import { FINAL_TASK_CHANNEL, FinalTaskListener } from './final-task-listener';
import { decodeCursor, encodeCursor } from './lyrics-cursor';
import { LyricsFailedEvent, LyricsFinalEvent, LyricsSucceededEvent } from './lyrics.events';
import { FinalPath, LyricsMetrics } from './lyrics.metrics';
import { hashRequest } from './request-hash';
import { KieVariant } from './kie/kie.types';
import { taskFromRow, TaskRow } from './task-row';
import { TaskTransition } from './task-transition';
import { LYRICS_DATA_SOURCE } from './lyrics.tokens';

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

/** The receipt of a callback whose result the transition applies (written in the same statement). */
export interface AppliedReceipt {
  kieTaskId: string | null;
  remoteAddress: string | null;
  body: string;
  bodyTruncated: boolean;
}

export interface TransitionOutcome {
  applied: boolean;
  /** The task as it is after the transaction (unchanged when not applied); undefined for an unknown id. */
  task: LyricsTaskEntity | undefined;
}

const FINAL_STATUSES: TaskStatus[] = ['succeeded', 'failed'];
/** The changes that end in a final state when they apply. */
const FINAL_CHANGES = new Set<TaskTransition['type']>(['result', 'timed_out', 'create_failed', 'create_orphaned']);

@Injectable()
export class LyricsService {
  private readonly logger = new Logger(LyricsService.name);

  constructor(
    @Inject(LYRICS_DATA_SOURCE) private readonly dataSource: DataSource,
    private readonly dispatchSignal: DispatchSignal,
    private readonly finalTasks: FinalTaskListener,
    private readonly metrics: LyricsMetrics,
    /** The host's emitter (EventEmitterModule.forRoot()); without one, no events are published. */
    @Optional() private readonly events?: EventEmitter2,
  ) {}

  /**
   * Stores a new queued task (the row exists before any upstream call: invariant 1) and wakes the dispatcher.
   * With an idempotency key, a replay of the same request returns the first task; another request with the same
   * key is a conflict. Concurrent first uses of one key wait on the unique index and all see one task.
   */
  async submit(input: SubmitLyricsInput): Promise<SubmitLyricsResult> {
    const metadata = input.metadata ?? null;
    const requestHash = input.idempotencyKey ? hashRequest(input.prompt, metadata) : null;
    const [inserted]: TaskRow[] = await this.dataSource.query(
      `INSERT INTO lyrics_tasks (status, prompt, metadata, idempotency_key, request_hash, next_attempt_at)
       VALUES ('queued', $1, $2, $3, $4, clock_timestamp())
       ON CONFLICT (idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
       RETURNING *`,
      [input.prompt, metadata === null ? null : JSON.stringify(metadata), input.idempotencyKey ?? null, requestHash],
    );
    if (inserted) {
      this.dispatchSignal.notify();
      return { task: toTaskDto(taskFromRow(inserted), []), created: true };
    }
    const existing = await this.dataSource.getRepository(LyricsTaskEntity).findOneByOrFail({ idempotencyKey: input.idempotencyKey });
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
        if (FINAL_STATUSES.includes(task.status)) return task;
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
    const task = await this.dataSource.getRepository(LyricsTaskEntity).findOneBy({ id });
    return task ? this.toDto(task) : undefined;
  }

  /** Newest first, by keyset: a page never skips or repeats rows that existed when the listing began. */
  async list({ status, limit, cursor }: ListLyricsInput): Promise<LyricsTaskPageDto> {
    const query = this.dataSource
      .getRepository(LyricsTaskEntity)
      .createQueryBuilder('task')
      .addSelect(`to_char(task.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`, 'cursor_created_at')
      .orderBy('task.created_at', 'DESC')
      .addOrderBy('task.id', 'DESC')
      .limit(limit + 1);
    if (status) query.andWhere('task.status = :status', { status });
    const after = cursor ? decodeCursor(cursor) : undefined;
    if (after) {
      query.andWhere('(task.created_at, task.id) < (:createdAt::timestamptz, :id::uuid)', after);
    }
    const { entities, raw } = await query.getRawAndEntities<{ cursor_created_at: string }>();
    const page = entities.slice(0, limit);
    const variants = await this.variantsOf(page.map((task) => task.id));
    const last = page.length === limit && entities.length > limit ? page[page.length - 1] : undefined;
    return {
      items: page.map((task) => toTaskDto(task, variants.get(task.id) ?? [])),
      nextCursor: last ? encodeCursor({ createdAt: raw[page.length - 1].cursor_created_at, id: last.id }) : null,
    };
  }

  /**
   * The one door for state changes (DESIGN.md invariant 3): one SQL statement, so one transaction, guarded by the
   * states the change may start from, that also stores a success's variants and notifies waiters of a final state.
   * Final states stay final, except that a verified success may still turn a timed-out task into a succeeded one. A
   * callback's receipt, given as `appliedReceipt`, is written by the same statement when the change applies (a
   * refused or repeated callback's receipt is the caller's). A final transition is published once, after commit
   * (invariant 8).
   */
  async transition(taskId: string, change: TaskTransition, appliedReceipt?: AppliedReceipt): Promise<TransitionOutcome> {
    const changed = await this.applyTransition(taskId, change, appliedReceipt);
    const outcome: TransitionOutcome = { applied: changed !== undefined, task: changed ?? (await this.readTask(taskId)) };
    const { applied, task } = outcome;
    if (applied && task && FINAL_STATUSES.includes(task.status)) {
      const path = finalPath(change);
      this.metrics.finalTransition(task.status, path);
      this.logger.log(`Task ${task.status} by ${path}`, {
        taskId: task.id,
        kieTaskId: task.kieTaskId,
        ...(task.errorCode ? { errorCode: task.errorCode } : {}),
      });
      this.publish(task, change.type === 'result' && change.result.state === 'succeeded' ? change.result.variants : []);
    }
    return outcome;
  }

  private publish(task: LyricsTaskEntity, variants: KieVariant[]): void {
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

  private async readTask(taskId: string): Promise<LyricsTaskEntity | undefined> {
    const [row]: TaskRow[] = await this.dataSource.query('SELECT * FROM lyrics_tasks WHERE id = $1', [taskId]);
    return row ? taskFromRow(row) : undefined;
  }

  /**
   * One statement: the guarded UPDATE, the variants of a success and the notification of a final state, so that a
   * transition costs one round trip. Returns the changed task, or undefined when the guard did not hold.
   */
  private async applyTransition(
    taskId: string,
    change: TaskTransition,
    appliedReceipt: AppliedReceipt | undefined,
  ): Promise<LyricsTaskEntity | undefined> {
    const params: unknown[] = [taskId];
    const param = (value: unknown) => `$${params.push(value)}`;
    const released = `lease_until = NULL, updated_at = clock_timestamp()`;
    const ended = `${released}, completed_at = clock_timestamp(), next_attempt_at = NULL`;
    const failed = (code: TaskErrorCode, message: string) =>
      `${ended}, status = 'failed', error_code = ${param(code)}, error_message = ${param(message)}`;
    let set: string;
    let guard: string;
    let variants: KieVariant[] = [];
    switch (change.type) {
      case 'create_accepted':
        set = `${released}, status = 'submitted', kie_task_id = ${param(change.kieTaskId)}, submitted_at = clock_timestamp(), next_attempt_at = ${param(change.firstCheckAt)}`;
        guard = `status = 'queued'`;
        break;
      case 'create_deferred':
        set = `${released}, next_attempt_at = ${param(change.retryAt)}`;
        guard = `status = 'queued'`;
        break;
      case 'create_failed':
        set = failed(change.code, change.message);
        guard = `status = 'queued'`;
        break;
      case 'create_orphaned':
        set = failed('submit_outcome_unknown', 'The create was being sent by an instance that stopped before storing its answer');
        guard = `status = 'queued' AND lease_until < clock_timestamp()`;
        break;
      case 'poll_deferred':
        set = `${released}, next_attempt_at = ${param(change.nextCheckAt)}`;
        guard = `status = 'submitted'`;
        break;
      case 'timed_out':
        set = failed('timed_out', `KIE gave no final result within ${Math.round(change.maxAgeMs / 60000)} minutes of submission`);
        guard = `status = 'submitted'`;
        break;
      case 'result': {
        const { result } = change;
        // An early callback can finish a task whose create answer has not been stored yet.
        const identity = `result_source = ${param(change.source)}, kie_task_id = COALESCE(kie_task_id, ${param(change.kieTaskId)}), submitted_at = COALESCE(submitted_at, clock_timestamp())`;
        if (result.state === 'failed') {
          set = `${failed(result.code, result.message)}, ${identity}`;
          guard = `status IN ('queued', 'submitted')`;
        } else {
          set = `${ended}, status = 'succeeded', error_code = NULL, error_message = NULL, ${identity}`;
          guard = `(status IN ('queued', 'submitted') OR (status = 'failed' AND error_code = 'timed_out'))`;
          variants = result.variants;
        }
        break;
      }
    }
    const insertVariants = variants.length
      ? `, variants AS (
           INSERT INTO lyrics_variants (task_id, position, title, text, status, error_message)
           SELECT changed.id, v.position - 1, v.title, v.text, v.status, v.error_message
           FROM changed, unnest(${param(variants.map((v) => v.title))}::text[], ${param(variants.map((v) => v.text))}::text[],
                                ${param(variants.map((v) => v.status))}::text[], ${param(variants.map((v) => v.errorMessage))}::text[])
                WITH ORDINALITY AS v(title, text, status, error_message, position))`
      : '';
    const insertReceipt = appliedReceipt
      ? `, receipt AS (
           INSERT INTO lyrics_callback_receipts (task_id, kie_task_id, outcome, remote_address, body, body_truncated)
           SELECT changed.id, ${param(appliedReceipt.kieTaskId)}, 'applied', ${param(appliedReceipt.remoteAddress)},
                  ${param(appliedReceipt.body)}, ${param(appliedReceipt.bodyTruncated)}
           FROM changed)`
      : '';
    // Delivered at commit, to every instance's waiters (waitForFinal).
    const notify = FINAL_CHANGES.has(change.type) ? `pg_notify(${param(FINAL_TASK_CHANNEL)}, changed.id::text)` : 'NULL';
    const [row]: TaskRow[] = await this.dataSource.query(
      `WITH changed AS (UPDATE lyrics_tasks SET ${set} WHERE id = $1 AND ${guard} RETURNING *)${insertVariants}${insertReceipt}
       SELECT changed.*, ${notify} AS notified FROM changed`,
      params,
    );
    return row ? taskFromRow(row) : undefined;
  }

  private async toDto(task: LyricsTaskEntity): Promise<LyricsTaskDto> {
    return toTaskDto(task, (await this.variantsOf([task.id])).get(task.id) ?? []);
  }

  private async variantsOf(taskIds: string[]): Promise<Map<string, LyricsVariantEntity[]>> {
    const byTask = new Map<string, LyricsVariantEntity[]>();
    if (taskIds.length === 0) return byTask;
    const variants = await this.dataSource
      .getRepository(LyricsVariantEntity)
      .createQueryBuilder('variant')
      .where('variant.task_id = ANY(:taskIds)', { taskIds })
      .orderBy('variant.task_id')
      .addOrderBy('variant.position')
      .getMany();
    for (const variant of variants) byTask.set(variant.taskId, [...(byTask.get(variant.taskId) ?? []), variant]);
    return byTask;
  }
}

function finalPath(change: TaskTransition): FinalPath {
  switch (change.type) {
    case 'result':
      return change.source;
    case 'timed_out':
      return 'timeout';
    case 'create_orphaned':
      return 'orphan';
    default:
      return 'create';
  }
}

function toTaskDto(
  task: LyricsTaskEntity,
  variants: Pick<LyricsVariantEntity, 'title' | 'text' | 'status' | 'errorMessage'>[],
): LyricsTaskDto {
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
