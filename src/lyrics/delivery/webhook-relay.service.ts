import { Inject, Injectable, Logger } from '@nestjs/common';
import { LyricsMetrics } from '../lyrics.metrics';
import { LYRICS_SETTINGS, LyricsSettings } from '../lyrics.options';
import { ClaimedDelivery } from '../persistence/deliveries.sql';
import { DeliveryStore } from '../persistence/delivery.store';
import { WebhookSecretStore } from '../persistence/webhook-secret.store';
import { AttemptResult, DeliveryRelay } from './delivery-relay';
import { webhookRetryDelay } from './delivery-schedule';
import { DeliverySignal } from './delivery-signal';
import { WebhookSender } from './webhook-sender';

/** A claim outlasts an attempt's time limit by this much (the destination check's DNS lookup, recording). */
const LEASE_MARGIN_MS = 30000;
/** How long a prefetched claim may wait for a place; its lease covers the wait too. */
const MAX_CLAIM_WAIT_MS = 5000;

/**
 * POSTs each final event of a task submitted with a webhookUrl to that URL, signed with its owner's secrets
 * (Standard Webhooks), as DESIGN "Delivery to consumers" says: a 2xx delivers; 410 stops at once; a destination the
 * policy refuses fails at once (it is the URL, not the moment); anything else is retried on the schedule, honouring a
 * 429/503's Retry-After when it is sooner, and fails after the schedule's last delay.
 */
@Injectable()
export class WebhookRelay extends DeliveryRelay {
  protected readonly logger = new Logger(WebhookRelay.name);
  private readonly sender: WebhookSender;

  constructor(
    @Inject(LYRICS_SETTINGS) private readonly settings: LyricsSettings,
    deliveries: DeliveryStore,
    private readonly secrets: WebhookSecretStore,
    signal: DeliverySignal,
    metrics: LyricsMetrics,
  ) {
    super(
      {
        enabled: settings.runWorkers,
        consumer: 'webhook',
        concurrency: settings.webhookConcurrency,
        perOwner: settings.webhookOwnerConcurrency,
        leaseMs: MAX_CLAIM_WAIT_MS + settings.webhookTimeoutMs + LEASE_MARGIN_MS,
        maxClaimWaitMs: MAX_CLAIM_WAIT_MS,
        idleMs: settings.dispatchIntervalMs,
        graceMs: settings.shutdownGraceMs,
        keepAttempts: settings.webhooks.retryMs.length + 10,
      },
      deliveries,
      signal,
      metrics,
    );
    this.sender = new WebhookSender({
      timeoutMs: settings.webhookTimeoutMs,
      policy: { requirePublic: settings.webhooks.publicOnly, allowedHosts: new Set(settings.webhooks.allowedHosts) },
    });
  }

  protected async attempt(delivery: ClaimedDelivery): Promise<AttemptResult> {
    // The claim brings the owner's secrets along, so that signing costs no read and no await of its own.
    const secrets = delivery.secret ? signingSecrets(delivery.secret, delivery.previousSecret) : await this.storedSecrets(delivery.owner);
    const sent = await this.sender.send({ url: delivery.url!, eventId: delivery.eventId, body: delivery.body!, secrets });
    const attempt = { httpStatus: sent.httpStatus, error: sent.error, durationMs: sent.durationMs };
    if (sent.error === null) return { status: 'delivered', attempt };
    if (sent.refused) return { status: 'failed', attempt };
    if (sent.httpStatus === 410) return { status: 'stopped', attempt };
    const retryInMs = webhookRetryDelay(this.settings.webhooks.retryMs, delivery.attempt, sent.retryAfterMs);
    return retryInMs === undefined ? { status: 'failed', attempt } : { status: 'pending', retryInMs, attempt };
  }

  /** The owner's secrets, made on its first delivery. */
  private async storedSecrets(owner: string): Promise<string[]> {
    const { secret, previous } = await this.secrets.secretsOf(owner);
    return signingSecrets(secret, previous);
  }
}

/** The current secret first, then the previous one during a rotation's overlap. */
const signingSecrets = (secret: string, previous: string | null | undefined): string[] => (previous ? [secret, previous] : [secret]);
