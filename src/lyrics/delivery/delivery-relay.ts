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
  /** Attempts running at once in this instance (its places). */
  concurrency: number;
  /** One owner's attempts running at once in this instance (see prefetch, and recordAndClaimDeliveries). */
  perOwner: number;
  /** How long a claim holds a delivery: longer than one attempt may take, plus maxClaimWaitMs. */
  leaseMs: number;
  /** How long a claim may wait for a place before it is given back (see prefetch). */
  maxClaimWaitMs: number;
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
 * One statement per round (at most MAX_ROUNDS_IN_FLIGHT at once): it records every attempt that finished since the
 * last round and claims as many deliveries as places came free (recordAndClaimDeliveries). So a finished attempt's place is taken
 * again in the same round trip that records it, and what finishes while a round runs is recorded together by the
 * next (a group commit). Finished attempts wait for their record in memory only as outcomes: their deliveries stay
 * claimed in the table until then, so a crash loses no delivery, only the record of an attempt, and it is made again.
 *
 * Prefetch: a round claims, beyond the places no claim covers, twice as many deliveries as attempts finished since
 * the last round (about as many finish per place while this round runs; see PREFETCH), each owner likewise beyond
 * its share. Those wait in memory for a place and start the moment one comes free, rather than a round later, so the
 * places stay busy while rounds run. A waiting claim is still a claim in the table (leased), so a crash loses nothing; one that waited
 * maxClaimWaitMs (every place, or its owner's share, held by slow receivers) is given back, for another instance.
 *
 * Owners' shares: at most `perOwner` attempts of one owner run at once here, and the relay counts its own claims per
 * owner (running and waiting) to tell the claim how many more each owner may have; so a slow receiver holds at most
 * its owner's share of this instance's places, whatever other instances hold, and an owner that only this relay
 * flows for gets prefetched as the others do.
 */
export abstract class DeliveryRelay extends BackgroundWorker {
  /** Claimed deliveries whose attempt is running or waiting for a place. */
  private readonly held = new Map<string, ClaimedDelivery>();
  /** Claimed deliveries waiting for a place, oldest claim first (see prefetch). */
  private readonly waiting: Waiting[] = [];
  private running = 0;
  /** This relay's claims per owner: running or waiting, and running. */
  private readonly heldByOwner = new Counter();
  private readonly runningByOwner = new Counter();
  /** Attempts made and not yet recorded (see round). */
  private finished: Finished[] = [];
  /** Rounds whose statement is running, with what each may claim. */
  private readonly rounds = new Map<Promise<void>, RoundClaims>();
  /** After a failed round, no other starts before this (performance.now()): the database gets a pause. */
  private failedUntil = 0;
  /** The last round that claimed got all it asked for: deliveries are waiting in the table (a backlog). */
  private backlogged = false;

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
    if (this.rounds.size >= MAX_ROUNDS_IN_FLIGHT) return this.config.idleMs;
    const pauseMs = this.failedUntil - performance.now();
    if (pauseMs > 0) return pauseMs;
    await this.giveBackStaleClaims();
    const { concurrency } = this.config;
    const pending = [...this.rounds.values()];
    const reserved = pending.reduce((sum, round) => sum + round.limit, 0);
    const claims = this.held.size + reserved;
    // Places no claim covers, and the prefetch (see PREFETCH).
    const finished = this.finished.slice(0, MAX_RECORD_BATCH);
    const places = Math.min(concurrency - claims + PREFETCH * finished.length, (1 + PREFETCH) * concurrency - claims);
    const round = this.allowancesFor(finished, pending, reserved, Math.max(0, places));
    if (round.limit === 0 && finished.length === 0) return this.config.idleMs;
    // A second round only once it has enough to claim: small rounds cost the database more per delivery, and one that
    // would only record would hold the second place from a round that claims (records can wait: the claims hold).
    if (pending.length > 0 && round.limit < SECOND_ROUND_MIN) return this.config.idleMs;
    this.finished.splice(0, finished.length);
    // Not tracked as work: a round's end wakes the loop only when there is more to do (see roundTrip).
    const done = this.roundTrip(finished, round).finally(() => this.rounds.delete(done));
    this.rounds.set(done, round);
    return 0;
  }

  /**
   * What this round may claim, `limit` at most: per owner its share (perOwner running) plus a prefetch of PREFETCH per
   * attempt it finished since the last round, less what this relay holds, and less what a round still in flight may
   * claim for it.
   */
  private allowancesFor(finished: Finished[], pending: RoundClaims[], reserved: number, limit: number): RoundClaims {
    const { perOwner } = this.config;
    const reservedFor = (owner: string) => pending.reduce((sum, round) => sum + (round.allowances.get(owner) ?? round.perOwner), 0);
    const recordedByOwner = new Counter();
    for (const { owner } of finished) recordedByOwner.add(owner);
    const allowances = new Map<string, number>();
    for (const owner of new Set([
      ...this.heldByOwner.keys(),
      ...recordedByOwner.keys(),
      ...pending.flatMap((r) => [...r.allowances.keys()]),
    ])) {
      const prefetch = PREFETCH * Math.min(recordedByOwner.get(owner), perOwner);
      allowances.set(owner, Math.max(0, perOwner + prefetch - this.heldByOwner.get(owner) - reservedFor(owner)));
    }
    const othersReserved = pending.reduce((sum, round) => sum + round.perOwner, 0);
    const others = Math.max(0, perOwner - othersReserved);
    // With a backlog, what the rounds in flight may be claiming is passed over (see recordAndClaimDeliveries): per
    // owner its allowances there, and no more than those rounds may claim in all. Without one, they claim what
    // there is, less than they may: passing over as much would pass over the deliveries just committed.
    const pendingLimit = this.backlogged ? reserved : 0;
    const skipped = new Map([...allowances.keys()].map((owner) => [owner, Math.min(reservedFor(owner), pendingLimit)]));
    // With no share left for owners it does not list, the round can claim no more than the listed allowances: its
    // limit says so, so that a round the owners' shares leave nothing to claim counts as small (SECOND_ROUND_MIN).
    const listed = [...allowances.values()].reduce((sum, n) => sum + n, 0);
    return {
      limit: others > 0 ? limit : Math.min(limit, listed),
      perOwner: others,
      allowances,
      skipped,
      skip: Math.min(othersReserved, pendingLimit),
    };
  }

  /** One statement: records `finished`, claims what `claims` allows, and starts what it claimed. */
  private async roundTrip(finished: Finished[], claims: RoundClaims): Promise<void> {
    let result;
    try {
      result = await this.deliveries.recordAndClaim({
        consumer: this.config.consumer,
        outcomes: outcomesOf(finished),
        keepAttempts: this.config.keepAttempts,
        ...claims,
        leaseMs: this.config.leaseMs,
      });
    } catch (error) {
      // Kept for the next round: their deliveries stay claimed until then (or until their leases end).
      this.finished.unshift(...finished);
      this.failedUntil = performance.now() + this.config.idleMs;
      this.logger.error(`Round failed: ${errorMessage(error)}`);
      return;
    }
    this.counted(finished, result.recorded);
    if (claims.limit > 0) this.backlogged = result.claimed.length === claims.limit;
    const claimedAt = performance.now();
    for (const delivery of result.claimed) {
      this.held.set(delivery.id, delivery);
      this.heldByOwner.add(delivery.owner);
      this.waiting.push({ delivery, claimedAt });
    }
    this.startWaiting();
    // Attempts to record, or all it asked for claimed (there is likely more): the next round need not wait.
    if (this.finished.length > 0 || (claims.limit > 0 && result.claimed.length === claims.limit)) this.wake();
  }

  /**
   * At shutdown: waits up to the grace for the attempts still running, records every attempt made, and gives back
   * the claims of those still running (due again at once for another instance).
   */
  protected override async drain(inFlight: Promise<void>[]): Promise<void> {
    // A round still running may claim: its claims must be held before they can be given back.
    await Promise.allSettled(this.rounds.keys());
    const deadline = new Promise<void>((resolve) => setTimeout(resolve, this.config.graceMs).unref());
    await Promise.race([Promise.allSettled(inFlight), deadline]);
    const unfinished = [...this.held.values()];
    this.held.clear();
    this.waiting.length = 0;
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

  /**
   * Starts waiting claims, oldest first, while places are free, each only while its owner runs fewer than perOwner
   * (none once stopping: shutdown gives them back).
   */
  private startWaiting(): void {
    for (let i = 0; i < this.waiting.length && this.running < this.config.concurrency && !this.stopping;) {
      const { delivery } = this.waiting[i];
      if (this.runningByOwner.get(delivery.owner) >= this.config.perOwner) {
        i++;
        continue;
      }
      this.waiting.splice(i, 1);
      this.running++;
      this.runningByOwner.add(delivery.owner);
      this.track(this.deliver(delivery));
    }
  }

  /**
   * Gives back the claims that waited maxClaimWaitMs for a place, so that they do not wait out their lease here. The
   * waiting claims are in claim order (startWaiting only takes some out), so the stale ones are a prefix.
   */
  private async giveBackStaleClaims(): Promise<void> {
    const oldest = performance.now() - this.config.maxClaimWaitMs;
    const fresh = this.waiting.findIndex((claim) => claim.claimedAt > oldest);
    const stale = this.waiting.splice(0, fresh === -1 ? this.waiting.length : fresh).map(({ delivery }) => delivery);
    if (stale.length === 0) return;
    for (const claim of stale) {
      this.held.delete(claim.id);
      this.heldByOwner.remove(claim.owner);
    }
    await this.deliveries.release(stale);
    this.logger.warn(
      `Gave back ${stale.length} ${this.config.consumer} deliveries that waited ${this.config.maxClaimWaitMs} ms for a place`,
    );
  }

  private async deliver(delivery: ClaimedDelivery): Promise<void> {
    try {
      const startedAt = performance.now();
      const result = await this.attempt(delivery);
      // Released at shutdown: the claim is given back, and the attempt is not this relay's to record any more.
      if (!this.held.has(delivery.id)) return;
      this.finished.push({ outcome: { id: delivery.id, leaseToken: delivery.leaseToken, ...result }, owner: delivery.owner, startedAt });
    } catch (error) {
      // The claim lapses and the delivery is made again: at least once.
      this.logger.error(`A ${this.config.consumer} delivery failed before its attempt was made: ${errorMessage(error)}`, {
        taskId: delivery.taskId,
      });
    } finally {
      this.held.delete(delivery.id);
      this.heldByOwner.remove(delivery.owner);
      this.runningByOwner.remove(delivery.owner);
      this.running--;
      this.startWaiting();
    }
  }
}

/** Outcomes written together at most (one statement's arrays). */
const MAX_RECORD_BATCH = 256;
/**
 * Claims taken ahead per attempt finished since the last round (and at most this many places' worth in all): two,
 * because an attempt to a quick receiver takes less than a round, so about two finish per place while one runs
 * (bench:deliveries drained 3,794/s with two against 3,074-3,286/s with one).
 */
const PREFETCH = 2;
/**
 * Rounds whose statements run at once: while one runs, the next records what finished meanwhile and claims for the
 * places that came free, so a finished attempt's place waits for at most one round, not for the one running and then
 * its own.
 */
const MAX_ROUNDS_IN_FLIGHT = 2;
/** Claims a round must be able to make before it starts while another runs. */
const SECOND_ROUND_MIN = 16;

/** What one round may claim: in all, per listed owner, and for any other owner; and what it passes over for each. */
interface RoundClaims {
  limit: number;
  allowances: Map<string, number>;
  perOwner: number;
  skipped: Map<string, number>;
  skip: number;
}

interface Waiting {
  delivery: ClaimedDelivery;
  /** When its round returned (performance.now()). */
  claimedAt: number;
}

interface Finished {
  outcome: Omit<DeliveryOutcome, 'startedMsAgo'>;
  owner: string;
  startedAt: number;
}

/** Counts per key; a key whose count falls to 0 is gone. */
class Counter {
  private readonly counts = new Map<string, number>();

  get(key: string): number {
    return this.counts.get(key) ?? 0;
  }

  keys(): IterableIterator<string> {
    return this.counts.keys();
  }

  add(key: string): void {
    this.counts.set(key, this.get(key) + 1);
  }

  remove(key: string): void {
    const count = this.get(key) - 1;
    if (count > 0) this.counts.set(key, count);
    else this.counts.delete(key);
  }
}

function outcomesOf(finished: Finished[]): DeliveryOutcome[] {
  const now = performance.now();
  return finished.map(({ outcome, startedAt }) => ({ ...outcome, startedMsAgo: now - startedAt }));
}

export type DeliveryMetricOutcome = 'delivered' | 'retried' | 'failed' | 'stopped';

const outcomeOf = (status: DeliveryStatus): DeliveryMetricOutcome => (status === 'pending' ? 'retried' : status);
