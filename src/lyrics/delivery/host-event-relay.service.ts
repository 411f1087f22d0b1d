import { performance } from 'node:perf_hooks';
import { Inject, Injectable, Logger, Optional } from '@nestjs/common';
import { EventEmitter2 } from '@nestjs/event-emitter';
import { LyricsTaskDto } from '../dto/lyrics-task.dto';
import { errorMessage } from '../error-message';
import { LyricsFinalEvent } from '../lyrics.events';
import { LyricsMetrics } from '../lyrics.metrics';
import { LYRICS_SETTINGS, LyricsSettings } from '../lyrics.options';
import { ClaimedDelivery } from '../persistence/deliveries.sql';
import { DeliveryStore } from '../persistence/delivery.store';
import { AttemptResult, DeliveryRelay } from './delivery-relay';
import { hostRetryDelay } from './delivery-schedule';
import { DeliverySignal } from './delivery-signal';

/** Host handlers in flight at once per instance (each a different task: a task's events are handled in order). */
const HOST_CONCURRENCY = 16;

/**
 * Hands each committed final event to the host's @OnEvent handlers as `{ id, name, owner, task }`, awaiting them
 * (EventEmitter2's emitAsync). The event is handled when every handler returned; a throw or rejection is retried with
 * backoff (hostRetryDelay). Nest's @OnEvent swallows a handler's error unless the handler says
 * `{ suppressErrors: false }`, so only such handlers are retried. Runs only where the module has an event emitter.
 */
@Injectable()
export class HostEventRelay extends DeliveryRelay {
  protected readonly logger = new Logger(HostEventRelay.name);

  constructor(
    @Inject(LYRICS_SETTINGS) settings: LyricsSettings,
    deliveries: DeliveryStore,
    signal: DeliverySignal,
    metrics: LyricsMetrics,
    @Optional() private readonly emitter?: EventEmitter2,
  ) {
    super(
      {
        enabled: settings.runWorkers && emitter !== undefined,
        consumer: 'host',
        concurrency: HOST_CONCURRENCY,
        perOwner: HOST_CONCURRENCY,
        // The tasks' lease (LYRICS_LEASE_MS): what a dead instance's claims cost before another takes them over. A
        // handler still running after it may be called again.
        leaseMs: settings.leaseMs,
        // A quarter of it, so that a prefetched claim has most of its lease left when its handlers start.
        maxClaimWaitMs: settings.leaseMs / 4,
        idleMs: settings.dispatchIntervalMs,
        graceMs: settings.shutdownGraceMs,
        keepAttempts: 10,
      },
      deliveries,
      signal,
      metrics,
    );
  }

  protected async attempt(delivery: ClaimedDelivery): Promise<AttemptResult> {
    const event: LyricsFinalEvent = {
      id: delivery.eventId,
      name: delivery.type,
      owner: delivery.owner,
      task: delivery.data! as unknown as LyricsTaskDto,
    };
    const started = performance.now();
    try {
      await this.emitter!.emitAsync(delivery.type, event);
      return { status: 'delivered', attempt: { httpStatus: null, error: null, durationMs: performance.now() - started } };
    } catch (error) {
      const retryInMs = hostRetryDelay(delivery.attempt);
      const message = errorMessage(error);
      this.logger.warn(`A ${delivery.type} handler failed (attempt ${delivery.attempt}, again in ${retryInMs} ms): ${message}`, {
        taskId: delivery.taskId,
      });
      return { status: 'pending', retryInMs, attempt: { httpStatus: null, error: message, durationMs: performance.now() - started } };
    }
  }
}
