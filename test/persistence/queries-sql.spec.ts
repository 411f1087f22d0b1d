import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Statement } from '../../src/lyrics/persistence/lyrics-database';
import * as accounts from '../../src/lyrics/persistence/accounts.sql';
import * as clock from '../../src/lyrics/persistence/clock.sql';
import * as deliveries from '../../src/lyrics/persistence/deliveries.sql';
import * as events from '../../src/lyrics/persistence/events.sql';
import * as webhookSecrets from '../../src/lyrics/persistence/webhook-secrets.sql';
import * as rateSlots from '../../src/lyrics/persistence/rate-slots.sql';
import * as receipts from '../../src/lyrics/persistence/receipts.sql';
import * as tasks from '../../src/lyrics/persistence/tasks.sql';
import { TASK_TRANSITIONS, TaskChange, TaskChangeType } from '../../src/lyrics/task-transitions';

/**
 * Every statement the module sends, rendered to src/lyrics/persistence/queries.sql, so that a change to a query shows
 * up in review as a SQL diff. Regenerate with `npm run queries:sql`.
 */
const QUERIES_FILE = join(__dirname, '..', '..', 'src', 'lyrics', 'persistence', 'queries.sql');

const SAMPLE_CHANGES: { [T in TaskChangeType]: Extract<TaskChange, { type: T }> } = {
  create_accepted: { type: 'create_accepted', kieTaskId: 'k', firstCheckInMs: 1 },
  create_deferred: { type: 'create_deferred', retryInMs: 1, reason: 'throttled' },
  create_failed: { type: 'create_failed', code: 'upstream_rejected', message: 'm' },
  create_orphaned: { type: 'create_orphaned' },
  create_released: { type: 'create_released' },
  queue_expired: { type: 'queue_expired', maxAgeMs: 1 },
  poll_deferred: { type: 'poll_deferred', nextCheckInMs: 1, maxAgeMs: 1 },
  check_woken: { type: 'check_woken' },
  timed_out: { type: 'timed_out', maxAgeMs: 1 },
  result_succeeded: { type: 'result_succeeded', source: 'callback', kieTaskId: 'k', variants: [] },
  result_failed: { type: 'result_failed', source: 'poll', kieTaskId: 'k', code: 'generation_failed', message: 'm' },
  result_unstorable: { type: 'result_unstorable', source: 'poll', message: 'm' },
  cancelled: { type: 'cancelled' },
};
const receipt = { kieTaskId: 'k', remoteAddress: null, body: '{}', bodyTruncated: false };
const id = '00000000-0000-0000-0000-000000000000';
const NEW_TASK = { owner: 'o', prompt: 'p', metadataJson: null, webhookUrl: null, idempotencyKey: null, requestHash: null, maxActive: 1 };
const after = { createdAt: '2026-01-01T00:00:00.000000Z', id };
const deliveryOutcome = {
  id: '1',
  leaseToken: id,
  status: 'pending' as const,
  retryInMs: 1,
  attempt: { httpStatus: 500, error: 'HTTP 500', durationMs: 1 },
  startedMsAgo: 1,
};

function statements(): Statement[] {
  const transitions = (Object.keys(TASK_TRANSITIONS) as TaskChangeType[]).flatMap((type) => {
    const change = SAMPLE_CHANGES[type];
    const fromCallback = type === 'result_succeeded' || type === 'result_failed';
    return [tasks.applyTransition(id, change), ...(fromCallback ? [tasks.applyTransition(id, change, receipt)] : [])];
  });
  return [
    tasks.lockOwnerSubmissions('o'),
    tasks.releaseExpiredIdempotencyKey({ owner: 'o', idempotencyKey: 'k', ttlHours: 1 }),
    tasks.insertQueuedTask(NEW_TASK),
    tasks.taskById({ owner: 'o', id }),
    tasks.anyTaskById(id),
    tasks.taskByIdempotencyKey({ owner: 'o', idempotencyKey: 'k' }),
    tasks.releaseExpiredIdempotencyKeys({ ttlHours: 1, batch: 1 }),
    tasks.callbackTarget(id),
    tasks.taskPage({ owner: 'o', limit: 1 }),
    tasks.taskPage({ owner: 'o', limit: 1, status: 'queued' }),
    tasks.taskPage({ owner: 'o', limit: 1, after }),
    tasks.taskPage({ owner: 'o', limit: 1, status: 'queued', after }),
    tasks.variantsOf([id]),
    ...transitions,
    tasks.lockCreateClaims(),
    tasks.lockFairDueCreates(1),
    tasks.leaseCreates({ ids: [id], tokenHashes: ['h'], accounts: ['a'], leaseMs: 1 }),
    tasks.markCreatesSent({ ids: [id], tokenHashes: ['h'] }),
    tasks.orphanedCreates(1),
    tasks.expiredQueuedTasks({ maxAgeMs: 1, limit: 1 }),
    tasks.lockDueChecks({ limit: 1, maxAgeMs: 1 }),
    tasks.leaseChecks({ ids: [id], leaseMs: 1 }),
    tasks.releaseChecks([id]),
    tasks.msUntilDue('create'),
    tasks.msUntilDue('check'),
    tasks.countActiveTasks(),
    tasks.countFinalTasks(),
    tasks.dueBacklog(),
    receipts.insertReceipt({ ...receipt, taskId: id, outcome: 'duplicate', detail: null }, 1),
    receipts.receiptsOf({ owner: 'o', taskId: id }),
    receipts.pruneReceipts({ days: 1, batch: 1 }),
    rateSlots.addSlots({ bucket: 'b', size: 1 }),
    rateSlots.removeSlotsBeyond({ bucket: 'b', size: 1 }),
    rateSlots.lockFreeSlots({ bucket: 'b', windowMs: 1, count: 1 }),
    rateSlots.markSlotsUsed({ bucket: 'b', slots: [1] }),
    rateSlots.msUntilNextSlot({ bucket: 'b', windowMs: 1 }),
    rateSlots.lockFreeCreateSlots({ names: ['a'], windowMs: 1, count: 1 }),
    rateSlots.msUntilNextCreateSlot({ names: ['a'], windowMs: 1 }),
    accounts.registerAccounts(['a']),
    accounts.pauseAccount({ name: 'a', reason: 'credits', probeMs: 1 }),
    accounts.claimDueProbe({ names: ['a'], probeMs: 1 }),
    accounts.resumeAccount('a'),
    accounts.msUntilNextProbe(['a']),
    accounts.accountStates(['a']),
    clock.databaseNow(),
    events.eventPage({ owner: 'o', limit: 1 }),
    events.pruneEvents({ days: 1, batch: 1 }),
    deliveries.recordAndClaimDeliveries({
      consumer: 'webhook',
      outcomes: [deliveryOutcome],
      keepAttempts: 1,
      limit: 1,
      perOwner: 1,
      allowances: new Map([['o', 1]]),
      leaseMs: 1,
    }),
    deliveries.recordDeliveryAttempts({ outcomes: [deliveryOutcome], keepAttempts: 1 }),
    deliveries.releaseDeliveryClaims({ ids: ['1'], leaseTokens: [id] }),
    deliveries.webhookDeliveriesOf({ owner: 'o', taskId: id }),
    deliveries.deliveryBacklog(),
    webhookSecrets.webhookSecrets({ owner: 'o', candidate: 's' }),
    webhookSecrets.rotateWebhookSecret({ owner: 'o', secret: 's', overlapSeconds: 1 }),
  ];
}

/** One statement per block: its name (prepared) or "unnamed", then its text with each line's indentation evened. */
function render(all: Statement[]): string {
  const blocks = all.map((statement) => {
    const lines = statement.text.split('\n').map((line) => line.trimEnd());
    const indent = Math.min(
      ...lines
        .slice(1)
        .filter((line) => line.trim())
        .map((line) => line.match(/^ */)![0].length),
    );
    const text = [lines[0], ...lines.slice(1).map((line) => line.slice(Number.isFinite(indent) ? indent : 0))].join('\n');
    return `-- ${statement.name ?? 'unnamed'}\n${text.replaceAll(tasks.TASK_COLUMNS, '<TASK_COLUMNS>')};\n`;
  });
  return [
    '-- Every statement of src/lyrics/persistence, rendered by test/persistence/queries-sql.spec.ts (npm run queries:sql).',
    `-- <TASK_COLUMNS> stands for: ${tasks.TASK_COLUMNS}`,
    '',
    blocks.join('\n'),
  ].join('\n');
}

describe('src/lyrics/persistence/queries.sql', () => {
  it('shows every statement the module sends, as the builders write them', () => {
    const rendered = render(statements());
    if (process.env.UPDATE_QUERIES_SQL === '1') writeFileSync(QUERIES_FILE, rendered);
    expect(readFileSync(QUERIES_FILE, 'utf8')).toBe(rendered);
  });

  it('gives a statement name one text, whatever the values', () => {
    const variants = [1, 2, 3].map((n) => ({ title: `t${n}`, text: 'x', status: 'complete' as const, errorMessage: null }));
    const pairs: [Statement, Statement][] = [
      [
        tasks.applyTransition(id, SAMPLE_CHANGES.result_succeeded),
        tasks.applyTransition('other', { ...SAMPLE_CHANGES.result_succeeded, source: 'poll', variants }),
      ],
      [
        tasks.applyTransition(id, SAMPLE_CHANGES.result_failed, undefined, { hostHandlers: true }),
        tasks.applyTransition(id, SAMPLE_CHANGES.result_failed, undefined, { hostHandlers: false }),
      ],
      [
        tasks.applyTransition(id, SAMPLE_CHANGES.create_failed, receipt),
        tasks.applyTransition(id, { type: 'create_failed', code: 'submit_outcome_unknown', message: 'other' }, receipt),
      ],
      [
        tasks.insertQueuedTask(NEW_TASK),
        tasks.insertQueuedTask({
          owner: 'p',
          prompt: 'q',
          metadataJson: '{}',
          webhookUrl: 'https://x',
          idempotencyKey: 'k',
          requestHash: 'h',
          maxActive: 9,
        }),
      ],
      [
        tasks.taskPage({ owner: 'o', limit: 1, status: 'queued', after }),
        tasks.taskPage({ owner: 'p', limit: 50, status: 'failed', after: { ...after, id: 'x' } }),
      ],
    ];
    for (const [one, other] of pairs) {
      expect(other.name).toBe(one.name);
      expect(other.text).toBe(one.text);
    }
    const names = statements().flatMap((statement) => (statement.name ? [statement.name] : []));
    expect(names.length).toBe(new Set(names).size);
  });
});
