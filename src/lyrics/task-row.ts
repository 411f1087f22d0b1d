import { LyricsTaskEntity } from './entities/lyrics-task.entity';

/** A lyrics_tasks row as `RETURNING *` or `SELECT *` gives it (pg has already parsed dates and jsonb). */
export type TaskRow = Record<string, unknown>;

/** Maps a raw row to the entity, for the statements the hot paths write in SQL rather than through TypeORM. */
export function taskFromRow(row: TaskRow): LyricsTaskEntity {
  return Object.assign(new LyricsTaskEntity(), {
    id: row.id,
    status: row.status,
    prompt: row.prompt,
    metadata: row.metadata,
    idempotencyKey: row.idempotency_key,
    requestHash: row.request_hash,
    kieTaskId: row.kie_task_id,
    callbackTokenHash: row.callback_token_hash,
    errorCode: row.error_code,
    errorMessage: row.error_message,
    resultSource: row.result_source,
    attempts: row.attempts,
    polls: row.polls,
    nextAttemptAt: row.next_attempt_at,
    leaseUntil: row.lease_until,
    createdAt: row.created_at,
    submittedAt: row.submitted_at,
    completedAt: row.completed_at,
    updatedAt: row.updated_at,
  } as Partial<LyricsTaskEntity>);
}
