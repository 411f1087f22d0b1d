import { RetentionPruner } from '../src/lyrics/workers/retention-pruner.service';
import { useLyricsApp } from './support/lyrics-client';

/** Callback receipts and final events are kept LYRICS_RECEIPT_RETENTION_DAYS and LYRICS_EVENT_RETENTION_DAYS. */
describe('retention', () => {
  const ctx = useLyricsApp({ env: { LYRICS_RECEIPT_RETENTION_DAYS: '30', LYRICS_EVENT_RETENTION_DAYS: '7' } });

  it('prunes receipts and events older than their retention, and keeps the rest', async () => {
    const [task] = await ctx.query(
      `INSERT INTO lyrics_tasks (owner, status, prompt, completed_at, error_code, error_message)
       VALUES ('anonymous', 'failed', 'old news', now(), 'generation_failed', 'no') RETURNING id`,
    );
    const receipt = (age: string) =>
      ctx.query(
        `INSERT INTO lyrics_callback_receipts (task_id, outcome, body, body_truncated, received_at)
         VALUES ($1, 'duplicate', '{}', false, now() - $2::interval) RETURNING id`,
        [task.id, age],
      );
    const event = (age: string) =>
      ctx.query(
        `INSERT INTO lyrics_events (tx_id, owner, task_id, type, data, created_at)
         VALUES (pg_current_xact_id()::text::bigint, 'anonymous', $1, 'lyrics.failed', '{}', now() - $2::interval) RETURNING id`,
        [task.id, age],
      );
    const [, [newReceipt], , [newEvent]] = await Promise.all([receipt('31 days'), receipt('29 days'), event('8 days'), event('6 days')]);

    await ctx.testApp.app.get(RetentionPruner).prune();

    const receipts = await ctx.query('SELECT id FROM lyrics_callback_receipts WHERE task_id = $1', [task.id]);
    const events = await ctx.query('SELECT id FROM lyrics_events WHERE task_id = $1', [task.id]);
    expect(receipts.map((row) => row.id)).toEqual([newReceipt.id]);
    expect(events.map((row) => row.id)).toEqual([newEvent.id]);
  });
});
