import { DataSource } from 'typeorm';
import { typeOrmOptions } from '../src/database/typeorm-options';
import { LyricsDatabase } from '../src/lyrics/persistence/lyrics-database';
import { TaskStore } from '../src/lyrics/persistence/task.store';
import { TaskChange, TaskChangeType } from '../src/lyrics/task-transitions';
import { createTestDatabase, TestDatabase } from './support/database';

/**
 * The state machine, pair by pair: every change applied to a task in every state it can be in, through the one
 * door's statement on real PostgreSQL. The expected table below is written out by hand, not derived from
 * TASK_TRANSITIONS, so that a wrong rule fails here.
 */

type StateName =
  | 'queued'
  | 'queued, leased'
  | 'queued, lease expired, unsent'
  | 'queued, lease expired, sent'
  | 'queued, a day old'
  | 'submitted'
  | 'submitted, past its maximum age'
  | 'succeeded'
  | 'failed(timed_out)'
  | 'failed(generation_failed)'
  | 'failed(submit_outcome_unknown)'
  | 'failed(queue_expired)'
  | 'cancelled';

const ENDED = { completed_at: 'now()', next_attempt_at: 'NULL' };

/** The columns each starting state is seeded with (SQL expressions, on top of a fresh queued row). */
const STATES: Record<StateName, Record<string, string>> = {
  queued: {},
  'queued, leased': { lease_until: "now() + interval '1 minute'", attempts: '1' },
  'queued, lease expired, unsent': { lease_until: "now() - interval '1 second'", attempts: '1' },
  'queued, lease expired, sent': { lease_until: "now() - interval '1 second'", attempts: '1', sent_at: "now() - interval '1 minute'" },
  'queued, a day old': { created_at: "now() - interval '25 hours'", attempts: '3' },
  submitted: { status: "'submitted'", kie_task_id: "'kie-before'", submitted_at: 'now()' },
  'submitted, past its maximum age': {
    status: "'submitted'",
    kie_task_id: "'kie-before'",
    created_at: "now() - interval '31 minutes'",
    submitted_at: "now() - interval '31 minutes'",
  },
  succeeded: { status: "'succeeded'", kie_task_id: "'kie-before'", submitted_at: 'now()', ...ENDED },
  'failed(timed_out)': {
    status: "'failed'",
    kie_task_id: "'kie-before'",
    submitted_at: 'now()',
    ...ENDED,
    error_code: "'timed_out'",
    error_message: "'late'",
  },
  'failed(generation_failed)': {
    status: "'failed'",
    kie_task_id: "'kie-before'",
    submitted_at: 'now()',
    ...ENDED,
    error_code: "'generation_failed'",
    error_message: "'no'",
  },
  'failed(submit_outcome_unknown)': {
    status: "'failed'",
    sent_at: 'now()',
    ...ENDED,
    error_code: "'submit_outcome_unknown'",
    error_message: "'lost'",
  },
  'failed(queue_expired)': {
    status: "'failed'",
    created_at: "now() - interval '25 hours'",
    ...ENDED,
    error_code: "'queue_expired'",
    error_message: "'never sent'",
  },
  cancelled: { status: "'cancelled'", ...ENDED },
};

const CHANGES: Record<TaskChangeType, TaskChange> = {
  create_accepted: { type: 'create_accepted', kieTaskId: 'kie-accepted', firstCheckInMs: 60_000 },
  create_deferred: { type: 'create_deferred', retryInMs: 60_000, reason: 'throttled' },
  create_failed: { type: 'create_failed', code: 'upstream_rejected', message: 'refused' },
  create_orphaned: { type: 'create_orphaned' },
  create_released: { type: 'create_released' },
  queue_expired: { type: 'queue_expired', maxAgeMs: 86_400_000 },
  poll_deferred: { type: 'poll_deferred', nextCheckInMs: 60_000, maxAgeMs: 1_800_000 },
  check_woken: { type: 'check_woken' },
  timed_out: { type: 'timed_out', maxAgeMs: 1_800_000 },
  result_succeeded: {
    type: 'result_succeeded',
    source: 'callback',
    kieTaskId: 'kie-result',
    variants: [
      { title: 'One', text: 'la', status: 'complete', errorMessage: null },
      { title: 'Two', text: 'da', status: 'complete', errorMessage: null },
    ],
  },
  result_failed: { type: 'result_failed', source: 'poll', kieTaskId: 'kie-result', code: 'sensitive_content', message: 'flagged' },
  result_unstorable: { type: 'result_unstorable', source: 'callback', message: 'refused by the database' },
  cancelled: { type: 'cancelled' },
};

/** What a task looks like after a change applied: its status, error code and KIE id (null: no column change). */
interface After {
  status: string;
  errorCode: string | null;
  kieTaskId: string | null;
}

const queuedAccepted: After = { status: 'submitted', errorCode: null, kieTaskId: 'kie-accepted' };
const stillQueued: After = { status: 'queued', errorCode: null, kieTaskId: null };
const rejected: After = { status: 'failed', errorCode: 'upstream_rejected', kieTaskId: null };
const orphaned: After = { status: 'failed', errorCode: 'submit_outcome_unknown', kieTaskId: null };
const queueExpired: After = { status: 'failed', errorCode: 'queue_expired', kieTaskId: null };
const stillSubmitted: After = { status: 'submitted', errorCode: null, kieTaskId: 'kie-before' };
const timedOut: After = { status: 'failed', errorCode: 'timed_out', kieTaskId: 'kie-before' };
const succeededEarly: After = { status: 'succeeded', errorCode: null, kieTaskId: 'kie-result' };
const succeeded: After = { status: 'succeeded', errorCode: null, kieTaskId: 'kie-before' };
const failedEarly: After = { status: 'failed', errorCode: 'sensitive_content', kieTaskId: 'kie-result' };
const failed: After = { status: 'failed', errorCode: 'sensitive_content', kieTaskId: 'kie-before' };
const unstorableEarly: After = { status: 'failed', errorCode: 'result_unstorable', kieTaskId: null };
const unstorable: After = { status: 'failed', errorCode: 'result_unstorable', kieTaskId: 'kie-before' };
const cancelled: After = { status: 'cancelled', errorCode: null, kieTaskId: null };

/** A row of the table: the states named here apply the change as given; every other state is left exactly as it was. */
const only = (applies: Partial<Record<StateName, After>>): Record<StateName, After | undefined> =>
  Object.fromEntries((Object.keys(STATES) as StateName[]).map((state) => [state, applies[state]])) as Record<StateName, After | undefined>;

const EVERY_QUEUED = (after: After): Partial<Record<StateName, After>> => ({
  queued: after,
  'queued, leased': after,
  'queued, lease expired, unsent': after,
  'queued, lease expired, sent': after,
  'queued, a day old': after,
});

const EXPECTED: Record<TaskChangeType, Record<StateName, After | undefined>> = {
  create_accepted: only(EVERY_QUEUED(queuedAccepted)),
  create_deferred: only(EVERY_QUEUED(stillQueued)),
  create_failed: only(EVERY_QUEUED(rejected)),
  create_orphaned: only({ 'queued, lease expired, sent': orphaned }),
  create_released: only({ 'queued, lease expired, unsent': stillQueued }),
  queue_expired: only({ 'queued, a day old': queueExpired }),
  poll_deferred: only({ submitted: stillSubmitted, 'submitted, past its maximum age': stillSubmitted }),
  // A check due at once; past the maximum age too, where that check finds the result or times the task out.
  check_woken: only({ submitted: stillSubmitted, 'submitted, past its maximum age': stillSubmitted }),
  timed_out: only({ 'submitted, past its maximum age': timedOut }),
  result_succeeded: only({
    ...EVERY_QUEUED(succeededEarly),
    submitted: succeeded,
    'submitted, past its maximum age': succeeded,
    'failed(timed_out)': succeeded,
    'failed(submit_outcome_unknown)': succeededEarly,
  }),
  result_failed: only({
    ...EVERY_QUEUED(failedEarly),
    submitted: failed,
    'submitted, past its maximum age': failed,
    'failed(timed_out)': failed,
    'failed(submit_outcome_unknown)': failedEarly,
  }),
  result_unstorable: only({
    ...EVERY_QUEUED(unstorableEarly),
    submitted: unstorable,
    'submitted, past its maximum age': unstorable,
    'failed(timed_out)': unstorable,
    'failed(submit_outcome_unknown)': unstorableEarly,
  }),
  // Only while no claim holds it (an expired one is released by the sweep first); never once sent or final.
  cancelled: only({ queued: cancelled, 'queued, a day old': cancelled }),
};

const FINAL = new Set(['succeeded', 'failed', 'cancelled']);

describe('task transitions: every change from every state', () => {
  let database: TestDatabase;
  let dataSource: DataSource;
  let tasks: TaskStore;

  beforeAll(async () => {
    database = await createTestDatabase();
    dataSource = await new DataSource(typeOrmOptions({ url: database.url, migrationsRun: false })).initialize();
    tasks = new TaskStore(new LyricsDatabase(dataSource));
  });

  // KIE ids are unique: each pair starts from an empty table.
  beforeEach(async () => {
    await dataSource.query('TRUNCATE lyrics_tasks, lyrics_variants, lyrics_callback_receipts');
  });

  afterAll(async () => {
    await dataSource.destroy();
    await database.drop();
  });

  async function seed(state: StateName, overrides: Record<string, string> = {}): Promise<string> {
    const columns = Object.entries({
      owner: "'someone'",
      status: "'queued'",
      prompt: "'a song'",
      next_attempt_at: 'now()',
      ...STATES[state],
      ...overrides,
    });
    const [{ id }] = await dataSource.query(
      `INSERT INTO lyrics_tasks (${columns.map(([column]) => column).join(', ')})
       VALUES (${columns.map(([, value]) => value).join(', ')}) RETURNING id`,
    );
    return id;
  }

  const row = async (id: string) => (await dataSource.query('SELECT * FROM lyrics_tasks WHERE id = $1', [id]))[0];
  const variantCount = async (id: string) =>
    Number((await dataSource.query('SELECT count(*) AS n FROM lyrics_variants WHERE task_id = $1', [id]))[0].n);

  const pairs = (Object.keys(EXPECTED) as TaskChangeType[]).flatMap((change) =>
    (Object.keys(STATES) as StateName[]).map((state) => [change, state, EXPECTED[change][state]] as const),
  );

  it('covers every pair of change and state', () => {
    expect(pairs).toHaveLength(Object.keys(CHANGES).length * Object.keys(STATES).length);
  });

  it.each(pairs.filter(([, , after]) => after === undefined))('%s from %s does nothing', async (change, state) => {
    const id = await seed(state);
    const before = await row(id);
    const changed = await tasks.applyTransition(id, CHANGES[change]);
    expect(changed).toBeUndefined();
    expect(await row(id)).toEqual(before);
    expect(await variantCount(id)).toBe(0);
  });

  it.each(pairs.filter(([, , after]) => after !== undefined))('%s from %s applies', async (change, state, after) => {
    const id = await seed(state);
    const changed = await tasks.applyTransition(id, CHANGES[change]);
    const stored = await row(id);
    expect({ status: stored.status, errorCode: stored.error_code, kieTaskId: stored.kie_task_id }).toEqual(after);
    expect(changed).toMatchObject({ id, status: after!.status, errorCode: after!.errorCode, kieTaskId: after!.kieTaskId });
    expect(stored.lease_until).toBeNull();
    expect(stored.completed_at !== null).toBe(FINAL.has(after!.status));
    if (FINAL.has(after!.status)) expect(stored.next_attempt_at).toBeNull();
    if (after!.status === 'failed') expect(stored.error_message).toEqual(expect.any(String));
    else expect(stored.error_message).toBeNull();
    if (after!.status === 'submitted') expect(stored.submitted_at).not.toBeNull();
    expect(await variantCount(id)).toBe(after!.status === 'succeeded' ? 2 : 0);
  });

  it('records where a final result came from', async () => {
    const byCallback = await seed('submitted');
    await tasks.applyTransition(byCallback, CHANGES.result_succeeded);
    const byPoll = await seed('submitted', { kie_task_id: "'kie-other'" });
    await tasks.applyTransition(byPoll, CHANGES.result_failed);
    expect((await row(byCallback)).result_source).toBe('callback');
    expect((await row(byPoll)).result_source).toBe('poll');
  });

  it("sets due times from the database's clock, and never past the maximum age", async () => {
    const accepted = await seed('queued');
    await tasks.applyTransition(accepted, CHANGES.create_accepted);
    const late = await seed('submitted, past its maximum age');
    await tasks.applyTransition(late, CHANGES.poll_deferred);
    const [due] = await dataSource.query(
      `SELECT EXTRACT(EPOCH FROM (a.next_attempt_at - a.submitted_at)) * 1000 AS accepted_ms,
              EXTRACT(EPOCH FROM (l.next_attempt_at - l.submitted_at)) * 1000 AS late_ms
       FROM lyrics_tasks a, lyrics_tasks l WHERE a.id = $1 AND l.id = $2`,
      [accepted, late],
    );
    // The first check is the given delay after submission; a late task's next check is its maximum age exactly.
    expect(Number(due.accepted_ms)).toBeGreaterThan(59_990);
    expect(Number(due.accepted_ms)).toBeLessThan(61_000);
    expect(Number(due.late_ms)).toBe(1_800_000);
  });

  it("makes a woken task's check due at once, by the database's clock, and gives up a check's lease", async () => {
    const woken = await seed('submitted', { next_attempt_at: "now() + interval '1 hour'", lease_until: "now() + interval '1 hour'" });
    await tasks.applyTransition(woken, CHANGES.check_woken);
    const [stored] = await dataSource.query(
      'SELECT next_attempt_at <= clock_timestamp() AS due, lease_until FROM lyrics_tasks WHERE id = $1',
      [woken],
    );
    expect(stored).toEqual({ due: true, lease_until: null });
  });

  it('writes an applied callback receipt only when the change applies', async () => {
    const receipt = { kieTaskId: 'kie-result', remoteAddress: '127.0.0.1', body: '{}', bodyTruncated: false };
    const applied = await seed('submitted');
    await tasks.applyTransition(applied, CHANGES.result_succeeded, receipt);
    const refused = await seed('succeeded', { kie_task_id: "'kie-other'" });
    await tasks.applyTransition(refused, CHANGES.result_succeeded, receipt);
    const receipts = await dataSource.query('SELECT task_id, outcome FROM lyrics_callback_receipts WHERE task_id = ANY($1)', [
      [applied, refused],
    ]);
    expect(receipts).toEqual([{ task_id: applied, outcome: 'applied' }]);
  });
});
