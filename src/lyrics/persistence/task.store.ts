import { Injectable } from '@nestjs/common';
import { TaskStatus } from '../entities/lyrics-task.entity';
import { TaskChange } from '../task-transitions';
import { LyricsDatabase, SqlExecutor } from './lyrics-database';
import * as sql from './tasks.sql';
import { AppliedReceipt, TaskQueue, TaskRecord, VariantRecord } from './tasks.sql';

export interface TaskPage {
  tasks: TaskRecord[];
  /** The last task's creation time as PostgreSQL writes it (for the next cursor), when another page follows. */
  nextAfter: { createdAt: string; id: string } | undefined;
}

export interface DueCreate {
  id: string;
  prompt: string;
  attempts: number;
}

export interface DueCheck {
  id: string;
  kieTaskId: string;
  polls: number;
  deadline: Date;
}

/** lyrics_tasks and lyrics_variants: the task resource, the one door's statement, and the work queues' claims. */
@Injectable()
export class TaskStore {
  constructor(private readonly db: LyricsDatabase) {}

  /** The new task, or undefined when its idempotency key was already used. */
  async insertQueued(input: Parameters<typeof sql.insertQueuedTask>[0]): Promise<TaskRecord | undefined> {
    const [task] = await this.db.rows<TaskRecord>(sql.insertQueuedTask(input));
    return task;
  }

  async byId(id: string): Promise<TaskRecord | undefined> {
    const [task] = await this.db.rows<TaskRecord>(sql.taskById(id));
    return task;
  }

  async byIdempotencyKey(idempotencyKey: string): Promise<TaskRecord | undefined> {
    const [task] = await this.db.rows<TaskRecord>(sql.taskByIdempotencyKey(idempotencyKey));
    return task;
  }

  async page(input: { status?: TaskStatus; after?: { createdAt: string; id: string }; limit: number }): Promise<TaskPage> {
    const rows = await this.db.rows<TaskRecord & { cursorCreatedAt: string }>(sql.taskPage(input));
    const tasks = rows.slice(0, input.limit).map(({ cursorCreatedAt: _, ...task }) => task);
    const last = rows.length > input.limit ? rows[input.limit - 1] : undefined;
    return { tasks, nextAfter: last ? { createdAt: last.cursorCreatedAt, id: last.id } : undefined };
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

  async callbackTarget(id: string): Promise<Pick<TaskRecord, 'id' | 'kieTaskId' | 'callbackTokenHash'> | undefined> {
    const [target] = await this.db.rows<Pick<TaskRecord, 'id' | 'kieTaskId' | 'callbackTokenHash'>>(sql.callbackTarget(id));
    return target;
  }

  /** The one door's statement: the changed task, or undefined when the change's guard did not hold. */
  async applyTransition(taskId: string, change: TaskChange, receipt?: AppliedReceipt): Promise<TaskRecord | undefined> {
    const [row] = await this.db.rows<TaskRecord & { notified: unknown }>(sql.applyTransition(taskId, change, receipt));
    if (!row) return undefined;
    const { notified: _, ...task } = row;
    return task;
  }

  lockDueCreates(tx: SqlExecutor, limit: number): Promise<DueCreate[]> {
    return tx.rows<DueCreate>(sql.lockDueCreates(limit));
  }

  async leaseCreates(tx: SqlExecutor, input: Parameters<typeof sql.leaseCreates>[0]): Promise<void> {
    await tx.count(sql.leaseCreates(input));
  }

  async orphanedCreates(limit: number): Promise<string[]> {
    return (await this.db.rows<{ id: string }>(sql.orphanedCreates(limit))).map((row) => row.id);
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

  /** Milliseconds until the queue's earliest task falls due (0 when overdue), or undefined when it is empty. */
  async msUntilDue(queue: TaskQueue): Promise<number | undefined> {
    const [row] = await this.db.rows<{ waitMs: number | null }>(sql.msUntilDue(queue));
    return row?.waitMs === null || row?.waitMs === undefined ? undefined : Math.max(0, Math.ceil(row.waitMs));
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
