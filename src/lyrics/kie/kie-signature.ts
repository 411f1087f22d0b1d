import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * KIE's webhook signature: base64(HMAC-SHA256(key, `${taskId}.${timestamp}`)), where
 * `taskId` is the id as the callback body spells it and `timestamp` is the X-Webhook-Timestamp header verbatim
 * (Unix seconds). KIE signs only these two, never the body.
 */
export function signWebhook(taskId: string, timestamp: string, hmacKey: string): string {
  return createHmac('sha256', hmacKey).update(`${taskId}.${timestamp}`, 'utf8').digest('base64');
}

export type SignatureCheck =
  | { valid: true }
  | { valid: false; reason: 'missing_headers' | 'bad_timestamp' | 'stale_timestamp' | 'future_timestamp' | 'bad_signature' };

export interface VerifyWebhookInput {
  taskId: string;
  timestamp: string | undefined;
  signature: string | undefined;
  hmacKey: string;
  /** Accepted distance between the timestamp and now, both ways. */
  toleranceSeconds: number;
  nowMs?: number;
}

/** Verifies a callback's signature headers in constant time, with a timestamp window in both directions. */
export function verifyWebhook(input: VerifyWebhookInput): SignatureCheck {
  const { taskId, timestamp, signature, hmacKey, toleranceSeconds } = input;
  if (!timestamp || !signature) return { valid: false, reason: 'missing_headers' };
  if (!/^\d{1,12}$/.test(timestamp)) return { valid: false, reason: 'bad_timestamp' };
  const skew = Number(timestamp) - Math.floor((input.nowMs ?? Date.now()) / 1000);
  if (skew < -toleranceSeconds) return { valid: false, reason: 'stale_timestamp' };
  if (skew > toleranceSeconds) return { valid: false, reason: 'future_timestamp' };
  const expected = Buffer.from(signWebhook(taskId, timestamp, hmacKey), 'utf8');
  const given = Buffer.from(signature, 'utf8');
  // timingSafeEqual needs equal lengths; a length difference reveals nothing the attacker does not know.
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
    return { valid: false, reason: 'bad_signature' };
  }
  return { valid: true };
}
