import { DataSource } from 'typeorm';

/**
 * Milliseconds until the earliest task matching `condition` (SQL on lyrics_tasks, e.g. `status = 'queued'`) falls
 * due, so that a worker can sleep exactly that long; `idleMs` when there is none.
 */
export async function msUntilDue(dataSource: DataSource, condition: string, idleMs: number): Promise<number> {
  const [row]: { wait_ms: number | null }[] = await dataSource.query(
    `SELECT (EXTRACT(EPOCH FROM (MIN(next_attempt_at) - clock_timestamp())) * 1000)::float8 AS wait_ms
     FROM lyrics_tasks WHERE ${condition}`,
  );
  // No matching row gives NULL (GREATEST would have turned it into 0, and an idle worker into a spinning one).
  return row?.wait_ms === null || row?.wait_ms === undefined ? idleMs : Math.max(0, Math.ceil(row.wait_ms));
}
