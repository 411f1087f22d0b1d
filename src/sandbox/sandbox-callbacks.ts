import { setMaxListeners } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { signWebhook } from '../lyrics/kie/kie-signature';
import { callbackBody } from './sandbox-payloads';
import type { SandboxDelivery, SandboxTask } from './sandbox-records';

export interface CallbackSettings {
  /** The webhook HMAC key of the task's account; undefined: its callbacks are unsigned. */
  hmacKeyOf: (task: SandboxTask) => string | undefined;
  retryDelayMs: number;
  timeoutMs: number;
  log?: (line: string) => void;
}

/** KIE gives up after 3 failed retries. */
const MAX_ATTEMPTS = 4;

/**
 * Sends tasks' callbacks: every copy POSTed, each failed attempt (network error, timeout, non-2xx) retried,
 * every attempt recorded. cancelAll() stops the scheduled and the running ones, so nothing outlives the sandbox.
 */
export class CallbackDispatcher {
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly running = new Set<Promise<void>>();
  private abort = cancellation();

  constructor(
    private readonly settings: CallbackSettings,
    private readonly record: (delivery: SandboxDelivery) => void,
  ) {}

  schedule(task: SandboxTask, atMs: number): void {
    const timer = setTimeout(
      () => {
        this.timers.delete(timer);
        void this.deliver(task);
      },
      Math.max(0, atMs - Date.now()),
    );
    this.timers.add(timer);
  }

  /** Sends every copy now; resolves once each copy's first attempt has finished (retries go on after). */
  deliver(task: SandboxTask): Promise<void> {
    const { signal } = this.abort;
    const url = task.callBackUrl;
    if (url === null) return Promise.resolve(); // a create without a callBackUrl is never called back
    const firstAttempts = Array.from({ length: task.behaviours.copies }, (_, index) => {
      return new Promise<void>((firstDone) => this.track(this.sendCopy(task, url, index + 1, signal, firstDone)));
    });
    return Promise.all(firstAttempts).then(() => undefined);
  }

  /** Cancels the scheduled callbacks and aborts the running ones; settled() tells when they have stopped. */
  cancelAll(): void {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    this.abort.abort();
    this.abort = cancellation();
  }

  async settled(): Promise<void> {
    await Promise.allSettled([...this.running]);
  }

  private track(delivery: Promise<void>): void {
    this.running.add(delivery);
    void delivery.finally(() => this.running.delete(delivery));
  }

  private async sendCopy(task: SandboxTask, url: string, copy: number, signal: AbortSignal, firstDone: () => void): Promise<void> {
    const spelling = task.behaviours.spelling;
    const arrayKey = task.behaviours.lyricsData ? 'lyricsData' : 'data';
    const body = callbackBody(task, spelling, arrayKey);
    const json = JSON.stringify(body);
    try {
      for (let attempt = 1; attempt <= MAX_ATTEMPTS && !signal.aborted; attempt++) {
        if (attempt > 1) await sleep(this.settings.retryDelayMs, undefined, { signal });
        const headers = this.headers(task);
        const delivery: SandboxDelivery = {
          taskId: task.taskId,
          url,
          copy,
          attempt,
          sentAt: Date.now(),
          shape: task.callbackShape,
          spelling,
          arrayKey,
          forged: task.behaviours.forge,
          body,
          headers,
        };
        this.record(delivery);
        const delivered = await this.post(delivery, json, signal);
        this.settings.log?.(`callback ${task.taskId} copy ${copy} attempt ${attempt} -> ${delivery.status ?? delivery.error}`);
        firstDone();
        if (delivered) return;
      }
    } catch {
      // Only the retry wait throws, when cancelAll() aborts it.
    } finally {
      firstDone();
    }
  }

  private headers(task: SandboxTask): Record<string, string> {
    const headers: Record<string, string> = { 'Content-Type': 'application/json' };
    const hmacKey = this.settings.hmacKeyOf(task);
    // A forged callback is signed even without an hmacKey: it pretends to be a signed KIE callback.
    if (hmacKey || task.behaviours.forge) {
      const timestamp = String(Math.floor(Date.now() / 1000));
      const key = task.behaviours.forge ? `${hmacKey ?? ''}:forged` : (hmacKey as string);
      headers['X-Webhook-Timestamp'] = timestamp;
      headers['X-Webhook-Signature'] = signWebhook(task.taskId, timestamp, key);
    }
    return headers;
  }

  /** One attempt: true when the receiver answered 2xx. */
  private async post(delivery: SandboxDelivery, json: string, signal: AbortSignal): Promise<boolean> {
    // A controller of its own, rather than AbortSignal.any/timeout: under load those keep a 15 s timer and a
    // listener per attempt alive long after the attempt ended.
    const attempt = new AbortController();
    const timer = setTimeout(() => attempt.abort(new DOMException('timeout', 'TimeoutError')), this.settings.timeoutMs);
    const cancel = () => attempt.abort(signal.reason);
    signal.addEventListener('abort', cancel, { once: true });
    try {
      const response = await fetch(delivery.url, { method: 'POST', headers: delivery.headers, body: json, signal: attempt.signal });
      delivery.status = response.status;
      await response.arrayBuffer(); // read to the end, so the connection can be reused
      return response.ok;
    } catch (error) {
      delivery.error = describe(error);
      return false;
    } finally {
      clearTimeout(timer);
      signal.removeEventListener('abort', cancel);
    }
  }
}

/** One listener per running attempt and retry wait is expected, so many at once under load are no leak. */
function cancellation(): AbortController {
  const controller = new AbortController();
  setMaxListeners(0, controller.signal);
  return controller;
}

function describe(error: unknown): string {
  // Checked by name, not instanceof: fetch's errors may come from another realm (a DOMException, or jest's VM).
  const { name, message, cause } = (error ?? {}) as { name?: string; message?: string; cause?: { message?: string } };
  if (name === 'TimeoutError') return 'timeout';
  if (name === 'AbortError') return 'aborted';
  return `${message ?? String(error)}${cause?.message ? `: ${cause.message}` : ''}`;
}
