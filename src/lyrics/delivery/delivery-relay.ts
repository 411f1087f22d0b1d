import { performance } from 'node:perf_hooks';
import { DeliveryConsumer, DeliveryStatus } from '../entities/lyrics-delivery.entity';
import { errorMessage } from '../error-message';
import { LyricsMetrics } from '../lyrics.metrics';
import { ClaimedDelivery, DeliveryOutcome } from '../persistence/deliveries.sql';
import { DeliveryStore } from '../persistence/delivery.store';
import { BackgroundWorker } from '../workers/background-worker';
import { DeliverySignal } from './delivery-signal';

/** What one attempt came to: the delivery's next state, and the attempt as recorded. */
export type AttemptResult = Pick<DeliveryOutcome, 'status' | 'retryInMs' | 'attempt'>;

export interface RelayConfig {
  enabled: boolean;
  consumer: DeliveryConsumer;
  /** Deliveries in flight at once in this instance. */
  concurrency: number;
  /** One owner's deliveries in flight at once (see claimDueDeliveries). */
  perOwner: number;
  /** How long a claim holds a delivery: longer than one attempt may take. */
  leaseMs: number;
  /** How often an idle relay looks for due deliveries made by other instances, or due again. */
  idleMs: number;
  /** At shutdown, how long attempts in flight may run before their claims are given back. */
  graceMs: number;
  /** Attempts kept per delivery (the oldest dropped beyond it). */
  keepAttempts: number;
}

/**
 * Delivers the outbox to one consumer, at least once: claims due rows of lyrics_deliveries with a lease (the table is
 * the queue, so a delivery whose instance died is claimed again once its lease ends, and one committed by an instance
 * that died before its relay ran is simply due), makes one attempt each, and records it. A claim that outlived its
 * lease records nothing (another claim made the attempt that counts); a crash between the attempt and its record
 * repeats the attempt, which consumers absorb by deduping on the event id.
 */
export abstract class DeliveryRelay extends BackgroundWorker {
  private readonly held = new Map<string, ClaimedDelivery>();
  private readonly released = new Set<string>();
  /** Attempts made and waiting for the write in progress to end (see record). */
  private readonly unrecorded: Unrecorded[] = [];
  private writing = false;

  protected constructor(
    protected readonly config: RelayConfig,
    private readonly deliveries: DeliveryStore,
    signal: DeliverySignal,
    private readonly relayMetrics: LyricsMetrics,
  ) {
    super(config.enabled, config.idleMs);
    signal.listen(() => this.wake());
  }

  /** Makes one attempt: a consumer's failure is an attempt result; a throw (our database) lets the claim lapse. */
  protected abstract attempt(delivery: ClaimedDelivery): Promise<AttemptResult>;

  protected async round(): Promise<number> {
    const free = this.config.concurrency - this.busy;
    if (free <= 0) return this.config.idleMs;
    const claimed = await this.deliveries.claim({
      consumer: this.config.consumer,
      limit: free,
      perOwner: this.config.perOwner,
      leaseMs: this.config.leaseMs,
    });
    for (const delivery of claimed) {
      this.held.set(delivery.id, delivery);
      this.track(this.deliver(delivery));
    }
    return claimed.length === free ? 0 : this.config.idleMs;
  }

  protected override async drain(inFlight: Promise<void>[]): Promise<void> {
    const deadline = new Promise<void>((resolve) => setTimeout(resolve, this.config.graceMs).unref());
    await Promise.race([Promise.allSettled(inFlight), deadline]);
    const unfinished = [...this.held.values()];
    if (unfinished.length === 0) return;
    unfinished.forEach((delivery) => this.released.add(delivery.id));
    await this.deliveries.release(unfinished);
    this.logger.warn(`Released ${unfinished.length} ${this.config.consumer} deliveries still running at shutdown`);
  }

  /**
   * Records an attempt; resolves whether the claim still held it. While one write runs, the attempts that finish
   * meanwhile wait and then go in one statement together (like a group commit): one write per attempt at low rates,
   * few at high ones. A crash loses only unwritten records, whose claims lapse and whose deliveries are made again.
   */
  private record(outcome: Omit<DeliveryOutcome, 'startedMsAgo'>, startedAt: number): Promise<boolean> {
    return new Promise((settle, fail) => {
      this.unrecorded.push({ outcome, startedAt, settle, fail });
      if (!this.writing) void this.writeRecords();
    });
  }

  private async writeRecords(): Promise<void> {
    this.writing = true;
    while (this.unrecorded.length > 0) {
      const batch = this.unrecorded.splice(0, MAX_RECORD_BATCH);
      const now = performance.now();
      try {
        const outcomes = batch.map(({ outcome, startedAt }) => ({ ...outcome, startedMsAgo: now - startedAt }));
        const recorded = await this.deliveries.record(outcomes, this.config.keepAttempts);
        batch.forEach(({ outcome, settle }) => settle(recorded.has(outcome.id)));
      } catch (error) {
        batch.forEach(({ fail }) => fail(error));
      }
    }
    this.writing = false;
  }

  private async deliver(delivery: ClaimedDelivery): Promise<void> {
    try {
      const startedAt = performance.now();
      const result = await this.attempt(delivery);
      if (this.released.has(delivery.id)) return;
      const recorded = await this.record({ id: delivery.id, leaseToken: delivery.leaseToken, ...result }, startedAt);
      if (recorded) this.relayMetrics.delivery(this.config.consumer, outcomeOf(result.status));
    } catch (error) {
      // The claim lapses and the delivery is made again: at least once.
      this.logger.error(`A ${this.config.consumer} delivery was not recorded: ${errorMessage(error)}`, { taskId: delivery.taskId });
    } finally {
      this.held.delete(delivery.id);
    }
  }
}

/** Outcomes written together at most (one statement's arrays). */
const MAX_RECORD_BATCH = 256;

interface Unrecorded {
  outcome: Omit<DeliveryOutcome, 'startedMsAgo'>;
  startedAt: number;
  settle: (recorded: boolean) => void;
  fail: (error: unknown) => void;
}

export type DeliveryMetricOutcome = 'delivered' | 'retried' | 'failed' | 'stopped';

const outcomeOf = (status: DeliveryStatus): DeliveryMetricOutcome => (status === 'pending' ? 'retried' : status);
