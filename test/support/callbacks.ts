import { EventEmitter2 } from '@nestjs/event-emitter';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { signWebhook } from '../../src/lyrics/kie/kie-signature';
import { LyricsFinalEvent } from '../../src/lyrics/lyrics.events';
import { KieSandbox, SandboxDelivery } from '../../src/sandbox/kie-sandbox';
import { TestApp } from './test-app';
import { waitFor } from './wait';

export function kieFixture(name: string): any {
  return JSON.parse(readFileSync(join(__dirname, '..', 'fixtures', 'kie', name), 'utf8'));
}

/** KIE's signature headers for a callback about `kieTaskId`, as sent at `atSeconds`. */
export function signatureHeaders(kieTaskId: string, hmacKey: string, atSeconds = Math.floor(Date.now() / 1000)) {
  const timestamp = String(atSeconds);
  return { 'X-Webhook-Timestamp': timestamp, 'X-Webhook-Signature': signWebhook(kieTaskId, timestamp, hmacKey) };
}

/** Every lyrics.succeeded / lyrics.failed the app emits, in order. */
export function recordEvents(testApp: TestApp): LyricsFinalEvent[] {
  const events: LyricsFinalEvent[] = [];
  testApp.app.get(EventEmitter2).onAny((name, payload) => {
    if (name === 'lyrics.succeeded' || name === 'lyrics.failed') events.push(payload as LyricsFinalEvent);
  });
  return events;
}

export interface ReceiptRow {
  task_id: string | null;
  kie_task_id: string | null;
  outcome: string;
  detail: string | null;
  remote_address: string | null;
  body: string;
  body_truncated: boolean;
}

export async function receiptsOf(testApp: TestApp, taskId: string): Promise<ReceiptRow[]> {
  return testApp.dataSource.query('SELECT * FROM lyrics_callback_receipts WHERE task_id = $1 ORDER BY id', [taskId]);
}

/** The sandbox's deliveries for one KIE task, once each has been answered (the task can turn final before). */
export function answeredDeliveries(sandbox: KieSandbox, kieTaskId: string): Promise<SandboxDelivery[]> {
  return waitFor(`the callbacks for ${kieTaskId} to be answered`, () => {
    const deliveries = sandbox.callbacks.filter((d) => d.taskId === kieTaskId);
    return deliveries.length > 0 && deliveries.every((d) => d.status !== undefined || d.error !== undefined) ? deliveries : undefined;
  });
}
