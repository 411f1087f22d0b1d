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
  /** One owner's deliveries in flight at once (see recordAndClaimDeliveries). */
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
 *
 * One statement per round, one round at a time: it records every attempt that finished since the last round and
 * claims as many deliveries as places came free (recordAndClaimDeliveries). So a finished attempt's place is taken
 * again in the same round trip that records it, and what finishes while a round runs is recorded together by the
 * next (a group commit). Finished attempts wait for their record in memory only as outcomes: their deliveries stay
 * claimed in the table until then, so a crash loses no delivery, only the record of an attempt, and it is made again.
 */
export abstract class DeliveryRelay extends BackgroundWorker {
  /** Claimed deliveries whose attempt is running. */
  private readonly held = new Map<string, ClaimedDelivery>();
  /** Attempts made and not yet recorded (see round). */
  private finished: Finished[] = [];

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
    const free = this.config.concurrency - this.held.size;
    const finished = this.finished.splice(0, MAX_RECORD_BATCH);
    if (free <= 0 && finished.length === 0) return this.config.idleMs;
    let result;
    try {
      result = await this.deliveries.recordAndClaim({
        consumer: this.config.consumer,
        outcomes: outcomesOf(finished),
        keepAttempts: this.config.keepAttempts,
        limit: Math.max(0, free),
        perOwner: this.config.perOwner,
        leaseMs: this.config.leaseMs,
      });
    } catch (error) {
      // Kept for the next round: their deliveries stay claimed until then (or until their leases end).
      this.finished.unshift(...finished);
      throw error;
    }
    this.counted(finished, result.recorded);
    for (const delivery of result.claimed) {
      this.held.set(delivery.id, delivery);
      this.track(this.deliver(delivery));
    }
    const more = this.finished.length > 0 || (free > 0 && result.claimed.length === free);
    return more ? 0 : this.config.idleMs;
  }

  /**
   * At shutdown: waits up to the grace for the attempts still running, records every attempt made, and gives back
   * the claims of those still running (due again at once for another instance).
   */
  protected override async drain(inFlight: Promise<void>[]): Promise<void> {
    const deadline = new Promise<void>((resolve) => setTimeout(resolve, this.config.graceMs).unref());
    await Promise.race([Promise.allSettled(inFlight), deadline]);
    const unfinished = [...this.held.values()];
    this.held.clear();
    const finished = this.finished.splice(0);
    try {
      if (finished.length > 0) this.counted(finished, await this.deliveries.record(outcomesOf(finished), this.config.keepAttempts));
    } catch (error) {
      this.logger.error(`${finished.length} ${this.config.consumer} attempts were not recorded at shutdown: ${errorMessage(error)}`);
    }
    if (unfinished.length === 0) return;
    await this.deliveries.release(unfinished);
    this.logger.warn(`Released ${unfinished.length} ${this.config.consumer} deliveries still running at shutdown`);
  }

  private counted(finished: Finished[], recorded: Set<string>): void {
    for (const { outcome } of finished) {
      if (recorded.has(outcome.id)) this.relayMetrics.delivery(this.config.consumer, outcomeOf(outcome.status));
    }
  }

  private async deliver(delivery: ClaimedDelivery): Promise<void> {
    try {
      const startedAt = performance.now();
      const result = await this.attempt(delivery);
      // Released at shutdown: the claim is given back, and the attempt is not this relay's to record any more.
      if (!this.held.has(delivery.id)) return;
      this.finished.push({ outcome: { id: delivery.id, leaseToken: delivery.leaseToken, ...result }, startedAt });
    } catch (error) {
      // The claim lapses and the delivery is made again: at least once.
      this.logger.error(`A ${this.config.consumer} delivery failed before its attempt was made: ${errorMessage(error)}`, {
        taskId: delivery.taskId,
      });
    } finally {
      this.held.delete(delivery.id);
    }
  }
}

/** Outcomes written together at most (one statement's arrays). */
const MAX_RECORD_BATCH = 256;

interface Finished {
  outcome: Omit<DeliveryOutcome, 'startedMsAgo'>;
  startedAt: number;
}

function outcomesOf(finished: Finished[]): DeliveryOutcome[] {
  const now = performance.now();
  return finished.map(({ outcome, startedAt }) => ({ ...outcome, startedMsAgo: now - startedAt }));
}

export type DeliveryMetricOutcome = 'delivered' | 'retried' | 'failed' | 'stopped';

const outcomeOf = (status: DeliveryStatus): DeliveryMetricOutcome => (status === 'pending' ? 'retried' : status);
