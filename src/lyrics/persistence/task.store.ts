import { Injectable } from '@nestjs/common';
import { TaskChange } from '../task-transitions';
import { LyricsDatabase, SqlExecutor } from './lyrics-database';
import * as sql from './tasks.sql';
import { AppliedReceipt, TaskQueue, TaskRecord, VariantRecord } from './tasks.sql';
import { waitMsOf } from './sql';

export interface TaskPage {
  tasks: TaskRecord[];
  /** The last task's creation time as PostgreSQL writes it (for the next cursor), when another page follows. */
  nextAfter: { createdAt: string; id: string } | undefined;
}

export type NewTask = Parameters<typeof sql.insertQueuedTask>[0];

export type SubmitOutcome =
  | { kind: 'created'; task: TaskRecord }
  /** The owner's earlier task with the same idempotency key (the caller compares the requests). */
  | { kind: 'existing'; task: TaskRecord }
  /** The owner has as many unfinished tasks as it may: nothing was stored. */
  | { kind: 'over_quota' };

export interface DueCreate {
  id: string;
  prompt: string;
  attempts: number;
}

export interface DueCheck {
  id: string;
  kieTaskId: string;
  /** The account the create went out on (null: sent before accounts were recorded). */
  kieAccount: string | null;
  polls: number;
  /** Until the task's maximum age, by the database's clock at the claim (negative once past it). */
  msLeft: number;
}

export interface OrphanedCreate {
  id: string;
  /** Whether its create had gone out (then KIE may have billed it; else it is simply sent again). */
  sent: boolean;
}

/** lyrics_tasks and lyrics_variants: the task resource, the one door's statement, and the work queues' claims. */
@Injectable()
export class TaskStore {
  constructor(private readonly db: LyricsDatabase) {}

  /**
   * Stores a new queued task for its owner, in one transaction that holds the owner's submission lock: an expired
   * use of the idempotency key is released first, the quota counts every earlier submission, and a key already in
   * use gives back its task instead.
   */
  submit(input: NewTask & { idempotencyTtlHours: number }): Promise<SubmitOutcome> {
    return this.db.transaction(async (tx) => {
      await tx.rows(sql.lockOwnerSubmissions(input.owner));
      const { idempotencyKey, owner } = input;
      if (idempotencyKey !== null) {
        await tx.count(sql.releaseExpiredIdempotencyKey({ owner, idempotencyKey, ttlHours: input.idempotencyTtlHours }));
      }
      const [created] = await tx.rows<TaskRecord>(sql.insertQueuedTask(input));
      if (created) return { kind: 'created', task: created };
      const [existing] = idempotencyKey === null ? [] : await tx.rows<TaskRecord>(sql.taskByIdempotencyKey({ owner, idempotencyKey }));
      return existing ? { kind: 'existing', task: existing } : { kind: 'over_quota' };
    });
  }

  /** The owner's task; undefined when there is none or it is another owner's. */
  async byId(owner: string, id: string): Promise<TaskRecord | undefined> {
    const [task] = await this.db.rows<TaskRecord>(sql.taskById({ owner, id }));
    return task;
  }

  /** A task whoever owns it, for the module's own work (never for a client's read). */
  async anyById(id: string): Promise<TaskRecord | undefined> {
    const [task] = await this.db.rows<TaskRecord>(sql.anyTaskById(id));
    return task;
  }

  async page(input: Parameters<typeof sql.taskPage>[0]): Promise<TaskPage> {
    const rows = await this.db.rows<TaskRecord & { cursorCreatedAt: string }>(sql.taskPage(input));
    const tasks = rows.slice(0, input.limit).map(({ cursorCreatedAt: _, ...task }) => task);
    const last = rows.length > input.limit ? rows[input.limit - 1] : undefined;
    return { tasks, nextAfter: last ? { createdAt: last.cursorCreatedAt, id: last.id } : undefined };
  }

  /** Frees up to `batch` expired idempotency keys; returns how many. */
  releaseExpiredIdempotencyKeys(ttlHours: number, batch: number): Promise<number> {
    return this.db.count(sql.releaseExpiredIdempotencyKeys({ ttlHours, batch }));
  }

  /** Each task's variants in KIE's order. */
  async variantsOf(taskIds: string[]): Promise<Map<string, VariantRecord[]>> {
    const byTask = new Map<string, VariantRecord[]>();
    if (taskIds.length === 0) return byTask;
    for (const variant of await this.db.rows<VariantRecord>(sql.variantsOf(taskIds))) {
      byTask.set(variant.taskId, [...(byTask.get(variant.taskId) ?? []), variant]);
    }
    return byTask;
  }

  async callbackTarget(id: string): Promise<Pick<TaskRecord, 'id' | 'kieTaskId' | 'kieAccount' | 'callbackTokenHash'> | undefined> {
    const [target] = await this.db.rows<Pick<TaskRecord, 'id' | 'kieTaskId' | 'kieAccount' | 'callbackTokenHash'>>(sql.callbackTarget(id));
    return target;
  }

  /** The one door's statement: the changed task, or undefined when the change's guard did not hold. */
  async applyTransition(
    taskId: string,
    change: TaskChange,
    receipt?: AppliedReceipt,
    options?: sql.TransitionOptions,
  ): Promise<TaskRecord | undefined> {
    const [row] = await this.db.rows<TaskRecord & { notified: unknown }>(sql.applyTransition(taskId, change, receipt, options));
    if (!row) return undefined;
    const { notified: _, ...task } = row;
    return task;
  }

  /** Makes this transaction's create claim the only one running (see lockCreateClaims). */
  async takeCreateClaimTurn(tx: SqlExecutor): Promise<void> {
    await tx.rows(sql.lockCreateClaims());
  }

  /** Due creates, fairly shared among their owners, locked for the transaction; advances the owners' turns. */
  lockFairDueCreates(tx: SqlExecutor, limit: number): Promise<DueCreate[]> {
    return tx.rows<DueCreate>(sql.lockFairDueCreates(limit));
  }

  async leaseCreates(tx: SqlExecutor, input: Parameters<typeof sql.leaseCreates>[0]): Promise<void> {
    await tx.count(sql.leaseCreates(input));
  }

  /** The ids of the claimed creates that may go out now (their claims still hold); see markCreatesSent. */
  async markCreatesSent(input: Parameters<typeof sql.markCreatesSent>[0]): Promise<Set<string>> {
    return new Set((await this.db.rows<{ id: string }>(sql.markCreatesSent(input))).map((row) => row.id));
  }

  orphanedCreates(limit: number): Promise<OrphanedCreate[]> {
    return this.db.rows<OrphanedCreate>(sql.orphanedCreates(limit));
  }

  async expiredQueuedTasks(input: Parameters<typeof sql.expiredQueuedTasks>[0]): Promise<string[]> {
    return (await this.db.rows<{ id: string }>(sql.expiredQueuedTasks(input))).map((row) => row.id);
  }

  lockDueChecks(tx: SqlExecutor, input: Parameters<typeof sql.lockDueChecks>[0]): Promise<DueCheck[]> {
    return tx.rows<DueCheck>(sql.lockDueChecks(input));
  }

  async leaseChecks(tx: SqlExecutor, input: Parameters<typeof sql.leaseChecks>[0]): Promise<void> {
    await tx.count(sql.leaseChecks(input));
  }

  releaseChecks(ids: string[]): Promise<number> {
    return this.db.count(sql.releaseChecks(ids));
  }

  /**
   * Milliseconds until the queue's earliest task falls due (0 when overdue), or undefined when it is empty. Inside a
   * claim, pass its transaction: a transaction that waits for a second pooled connection can deadlock the pool.
   */
  async msUntilDue(queue: TaskQueue, tx: SqlExecutor = this.db): Promise<number | undefined> {
    return waitMsOf(await tx.rows<{ waitMs: number | null }>(sql.msUntilDue(queue)));
  }

  countActive(): Promise<{ status: string; n: number }[]> {
    return this.db.rows(sql.countActiveTasks());
  }

  countFinal(): Promise<{ status: string; n: number }[]> {
    return this.db.rows(sql.countFinalTasks());
  }

  dueBacklog(): Promise<{ queue: TaskQueue; n: number; oldest: number }[]> {
    return this.db.rows(sql.dueBacklog());
  }
}
