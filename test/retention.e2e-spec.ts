import { RetentionPruner } from '../src/lyrics/workers/retention-pruner.service';
import { useLyricsApp } from './support/lyrics-client';

/** Callback receipts and final events are kept LYRICS_RECEIPT_RETENTION_DAYS and LYRICS_EVENT_RETENTION_DAYS. */
describe('retention', () => {
  const ctx = useLyricsApp({ env: { LYRICS_RECEIPT_RETENTION_DAYS: '30', LYRICS_EVENT_RETENTION_DAYS: '7' } });

  it('prunes receipts and delivered events older than their retention (attempts with them), and keeps the rest', async () => {
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
         VALUES (pg_current_xact_id()::text::bigint, 'anonymous', $1, 'lyrics.failed', '{}', now() - $2::interval) RETURNING id, seq`,
        [task.id, age],
      );
    // A delivery that is over goes with its event; one still pending (due next week, so no relay takes it now) keeps it.
    const delivery = (eventSeq: string, status: string) =>
      ctx.query(
        `INSERT INTO lyrics_deliveries (event_seq, task_id, owner, consumer, url, status, next_attempt_at)
         VALUES ($1, $2, 'anonymous', 'webhook', 'http://127.0.0.1:9/', $3::text, CASE WHEN $3::text = 'pending' THEN now() + interval '7 days' END)`,
        [eventSeq, task.id, status],
      );
    const [, [newReceipt], [oldDelivered], [oldPending], [newEvent]] = await Promise.all([
      receipt('31 days'),
      receipt('29 days'),
      event('8 days'),
      event('9 days'),
      event('6 days'),
    ]);
    await delivery(oldDelivered.seq, 'delivered');
    await delivery(oldPending.seq, 'pending');

    await ctx.testApp.app.get(RetentionPruner).prune();

    const receipts = await ctx.query('SELECT id FROM lyrics_callback_receipts WHERE task_id = $1', [task.id]);
    const events = await ctx.query('SELECT id FROM lyrics_events WHERE task_id = $1 ORDER BY created_at', [task.id]);
    expect(receipts.map((row) => row.id)).toEqual([newReceipt.id]);
    expect(events.map((row) => row.id)).toEqual([oldPending.id, newEvent.id]);
    const deliveries = await ctx.query('SELECT status FROM lyrics_deliveries WHERE task_id = $1', [task.id]);
    expect(deliveries).toEqual([{ status: 'pending' }]);
  });
});
