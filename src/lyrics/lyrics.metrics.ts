import { performance } from 'node:perf_hooks';
import { Inject, Injectable } from '@nestjs/common';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { UnmatchedCallbackReason } from './callback/unmatched-callbacks';
import { ReceiptOutcome } from './entities/lyrics-callback-receipt.entity';
import { TaskStore } from './persistence/task.store';
import { AccountStore } from './persistence/account.store';
import { LYRICS_SETTINGS, LyricsSettings } from './lyrics.options';
import { DeliveryStore } from './persistence/delivery.store';
import { DELIVERY_CONSUMERS, DeliveryConsumer } from './entities/lyrics-delivery.entity';
import { FinalPath } from './task-transitions';
import { TASK_STATUSES } from './entities/lyrics-task.entity';
import type { DeliveryMetricOutcome } from './delivery/delivery-relay';

/**
 * The lyrics module's Prometheus metrics, in a registry of its own (so that several apps in one process, or a host
 * with its own registry, do not collide): merge `registry` into the host's. Gauges about the task table are read
 * from PostgreSQL at scrape time, so they are true across every instance.
 */
@Injectable()
export class LyricsMetrics {
  readonly registry = new Registry();

  private readonly finalTransitions = new Counter({
    name: 'lyrics_final_transitions_total',
    help: 'Tasks made final by this instance, by final status and by the path that decided it',
    labelNames: ['status', 'path'] as const,
    registers: [this.registry],
  });

  private readonly receipts = new Counter({
    name: 'lyrics_callback_receipts_total',
    help: 'Callbacks whose task and token matched, received by this instance, by outcome (stored as a receipt or not)',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });

  private readonly receiptsNotStored = new Counter({
    name: 'lyrics_callback_receipts_not_stored_total',
    help: 'Callbacks whose task already had its LYRICS_RECEIPTS_PER_TASK receipts: handled as usual, no receipt stored, by outcome',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });

  // Apart from the receipts: nothing is stored for these, and their rate alone says someone is probing the webhook.
  private readonly unmatchedCallbacks = new Counter({
    name: 'lyrics_callbacks_unmatched_total',
    help: 'Callbacks refused (401) because no task matches their id and token, so nothing stored, by reason',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });

  private readonly upstreamRequests = new Counter({
    name: 'kie_requests_total',
    help: 'Requests to KIE by this instance, by endpoint, outcome and KIE account',
    labelNames: ['endpoint', 'outcome', 'account'] as const,
    registers: [this.registry],
  });

  private readonly upstreamDuration = new Histogram({
    name: 'kie_request_duration_seconds',
    help: 'Time of requests to KIE, by endpoint',
    labelNames: ['endpoint'] as const,
    buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 15],
    registers: [this.registry],
  });

  private readonly waitingLongPolls = new Gauge({
    name: 'lyrics_long_polls_waiting',
    help: 'Long polls (GET /lyrics/:id?waitSeconds=N) waiting in this instance',
    registers: [this.registry],
  });

  private readonly budgetWaits = new Counter({
    name: 'lyrics_budget_waits_total',
    help: 'Rounds in which this instance found an upstream rate budget used up, by bucket',
    labelNames: ['bucket'] as const,
    registers: [this.registry],
  });

  private readonly deliveries = new Counter({
    name: 'lyrics_deliveries_total',
    help: 'Delivery attempts recorded by this instance, by consumer (host, webhook) and outcome (delivered, retried, failed, stopped)',
    labelNames: ['consumer', 'outcome'] as const,
    registers: [this.registry],
  });

  constructor(
    tasks: TaskStore,
    deliveryStore: DeliveryStore,
    accountStore: AccountStore,
    @Inject(LYRICS_SETTINGS) settings: Pick<LyricsSettings, 'kie'>,
  ) {
    const accountNames = settings.kie.accounts.map((account) => account.name);
    new Gauge({
      name: 'kie_account_paused',
      help: 'Whether a KIE account is paused (1: out of credits or over its sub-key limit, no creates go to it), by account (all instances)',
      labelNames: ['account'] as const,
      registers: [this.registry],
      async collect() {
        const states = await accountStore.states(accountNames);
        for (const account of accountNames) {
          this.set({ account }, states.find((state) => state.name === account)?.pausedReason ? 1 : 0);
        }
      },
    });
    // Active counts are exact at every scrape (the partial due index serves them); counting the final states reads
    // the whole table (about 0.2 s at a million rows), so that count is reused for 30 s.
    const finalCounts = memo(30_000, () => tasks.countFinal());
    new Gauge({
      name: 'lyrics_tasks',
      help: 'Tasks in the table, by status (all instances; succeeded and failed recounted every 30 s)',
      labelNames: ['status'] as const,
      registers: [this.registry],
      async collect() {
        const [active, final]: { status: string; n: number }[][] = await Promise.all([tasks.countActive(), finalCounts()]);
        const rows = [...active, ...final];
        for (const status of TASK_STATUSES) {
          this.set({ status }, rows.find((row) => row.status === status)?.n ?? 0);
        }
      },
    });
    // Both gauges below come from one query per scrape.
    const due = memo(1_000, () => tasks.dueBacklog());
    new Gauge({
      name: 'lyrics_due_backlog',
      help: 'Tasks whose create (queue=create) or record-info check (queue=check) is due now (all instances)',
      labelNames: ['queue'] as const,
      registers: [this.registry],
      async collect() {
        const rows = await due();
        for (const queue of ['create', 'check']) this.set({ queue }, rows.find((row) => row.queue === queue)?.n ?? 0);
      },
    });
    new Gauge({
      name: 'lyrics_oldest_due_age_seconds',
      help: 'How long the longest-waiting due create or check has been due (all instances)',
      labelNames: ['queue'] as const,
      registers: [this.registry],
      async collect() {
        const rows = await due();
        for (const queue of ['create', 'check']) this.set({ queue }, rows.find((row) => row.queue === queue)?.oldest ?? 0);
      },
    });
    const backlog = memo(1_000, () => deliveryStore.backlog());
    new Gauge({
      name: 'lyrics_delivery_backlog',
      help: 'Final events not yet delivered, by consumer (all instances)',
      labelNames: ['consumer'] as const,
      registers: [this.registry],
      async collect() {
        const rows = await backlog();
        for (const consumer of DELIVERY_CONSUMERS) this.set({ consumer }, rows.find((row) => row.consumer === consumer)?.n ?? 0);
      },
    });
    new Gauge({
      name: 'lyrics_delivery_oldest_pending_age_seconds',
      help: 'Age of the oldest final event not yet delivered, by consumer (all instances)',
      labelNames: ['consumer'] as const,
      registers: [this.registry],
      async collect() {
        const rows = await backlog();
        for (const consumer of DELIVERY_CONSUMERS) this.set({ consumer }, rows.find((row) => row.consumer === consumer)?.oldest ?? 0);
      },
    });
  }

  delivery(consumer: DeliveryConsumer, outcome: DeliveryMetricOutcome): void {
    this.deliveries.inc({ consumer, outcome });
  }

  longPollsWaiting(count: number): void {
    this.waitingLongPolls.set(count);
  }

  finalTransition(status: string, path: FinalPath): void {
    this.finalTransitions.inc({ status, path });
  }

  callbackReceipt(outcome: ReceiptOutcome): void {
    this.receipts.inc({ outcome });
  }

  callbackReceiptNotStored(outcome: ReceiptOutcome): void {
    this.receiptsNotStored.inc({ outcome });
  }

  unmatchedCallback(reason: UnmatchedCallbackReason): void {
    this.unmatchedCallbacks.inc({ reason });
  }

  upstreamRequest(account: string, endpoint: string, outcome: string, seconds: number): void {
    this.upstreamRequests.inc({ endpoint, outcome, account });
    this.upstreamDuration.observe({ endpoint }, seconds);
  }

  budgetWait(bucket: string): void {
    this.budgetWaits.inc({ bucket });
  }
}

/** The last result of `load`, reused for `maxAgeMs` (a failed load is not kept). */
function memo<T>(maxAgeMs: number, load: () => Promise<T>): () => Promise<T> {
  let cached: { at: number; value: Promise<T> } | undefined;
  return () => {
    if (!cached || performance.now() - cached.at > maxAgeMs) {
      const value = load();
      cached = { at: performance.now(), value };
      value.catch(() => (cached = undefined));
    }
    return cached.value;
  };
}
