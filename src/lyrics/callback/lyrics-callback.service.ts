import { Inject, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { callbackTokenMatches } from '../callback-token';
import { ReceiptOutcome } from '../entities/lyrics-callback-receipt.entity';
import { TaskErrorCode } from '../entities/lyrics-task.entity';
import { KiePayloadError, parseCallback } from '../kie/kie-payloads';
import { verifyWebhook } from '../kie/kie-signature';
import { KieAccount, KieAccounts } from '../accounts/kie-accounts';
import { KieCallback } from '../kie/kie.types';
import { LyricsMetrics } from '../lyrics.metrics';
import { LYRICS_SETTINGS, LyricsSettings } from '../lyrics.options';
import { LyricsService } from '../lyrics.service';
import { DatabaseClock } from '../persistence/database-clock';
import { LyricsDatabase } from '../persistence/lyrics-database';
import { RateSlotStore } from '../persistence/rate-slot.store';
import { ReceiptStore } from '../persistence/receipt.store';
import { TaskStore } from '../persistence/task.store';
import { TaskRecord } from '../persistence/tasks.sql';
import { FinalResult, isFinalStatus } from '../task-transitions';
import { LyricsPoller } from '../workers/lyrics-poller.service';
import { RateBudget } from '../workers/rate-budget';
import { UnmatchedCallbackReason, UnmatchedCallbackWarnings } from './unmatched-callbacks';

export interface IncomingCallback {
  taskId: string;
  token: string;
  /** The exact bytes (from callbackBodyParser), or a body a host's JSON parser already read. */
  body: Buffer | unknown;
  timestamp: string | undefined;
  signature: string | undefined;
  remoteAddress: string | undefined;
}

export interface CallbackAnswer {
  status: 200 | 400 | 401;
  outcome: ReceiptOutcome;
  message: string;
}

/** A confirming read's time limit: KIE gives up on a callback after 15 s, and the answer must be stored before that. */
export const CONFIRM_TIMEOUT_MS = 5000;

/** The final states that still take an authenticated late result (see TIMED_OUT and OUTCOME_UNKNOWN in task-transitions). */
const LATE_RESULT_TAKERS: ReadonlySet<TaskErrorCode> = new Set(['timed_out', 'submit_outcome_unknown']);

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * KIE's callbacks (authenticated, idempotent, fast): authenticated by the per-task token in the URL and, where a webhook key
 * is configured, by KIE's signature; applied through the one door. A callback whose task and token matched is recorded as
 * a receipt whatever happens, up to receiptsPerTask per task; one that matched nothing stores nothing (the route is open,
 * so only a token holder can make rows). Nothing here calls KIE unless confirmation is turned on.
 */
@Injectable()
export class LyricsCallbackService implements OnApplicationBootstrap {
  private readonly logger = new Logger(LyricsCallbackService.name);
  private readonly unmatchedWarnings = new UnmatchedCallbackWarnings(this.logger);
  /** The record-info budget the poller uses: a confirming (or woken) read is one more read of KIE's. */
  private readonly readBudget: RateBudget;

  constructor(
    @Inject(LYRICS_SETTINGS) private readonly settings: LyricsSettings,
    private readonly tasks: TaskStore,
    private readonly receipts: ReceiptStore,
    private readonly lyrics: LyricsService,
    private readonly accounts: KieAccounts,
    private readonly metrics: LyricsMetrics,
    private readonly clock: DatabaseClock,
    private readonly database: LyricsDatabase,
    private readonly poller: LyricsPoller,
    slots: RateSlotStore,
  ) {
    this.readBudget = RateBudget.recordInfo(slots, settings);
  }

  async onApplicationBootstrap(): Promise<void> {
    // The poller makes the slots too, but an instance may serve callbacks (and their confirming or woken reads) without
    // running workers.
    await this.readBudget.ensureSlots();
  }

  async handle(incoming: IncomingCallback): Promise<CallbackAnswer> {
    const validId = UUID.test(incoming.taskId);
    const task = validId ? await this.tasks.callbackTarget(incoming.taskId) : undefined;
    if (!task) return this.unmatched(validId ? 'unknown_task' : 'invalid_task_id', incoming);
    if (!callbackTokenMatches(incoming.token, task.callbackTokenHash)) return this.unmatched('wrong_token', incoming);
    const receipt = new ReceiptDraft(task.id, incoming, this.settings.receiptBodyMaxBytes);

    let callback: KieCallback;
    try {
      callback = parseCallback(receipt.json());
    } catch (error) {
      if (!(error instanceof KiePayloadError)) throw error;
      return this.refuse(receipt, 400, 'malformed', `malformed callback: ${error.message}`);
    }
    // KIE signs the id the body carries; a body that carries none (an unrecognised one) can only be about the id KIE gave us.
    const kieTaskId = callback.kieTaskId ?? task.kieTaskId;
    if (kieTaskId === null) {
      return this.refuse(receipt, 400, 'malformed', 'malformed callback: no task id in the body, and the task has no KIE task id yet');
    }
    receipt.kieTaskId = kieTaskId;

    // The key of the account the task's create went out on: each account signs its own callbacks.
    const account = this.accounts.ofTask(task.kieAccount);
    const hmacKey = account.webhookHmacKey;
    if (hmacKey) {
      const check = verifyWebhook({
        taskId: kieTaskId,
        timestamp: incoming.timestamp,
        signature: incoming.signature,
        hmacKey,
        toleranceSeconds: this.settings.signatureToleranceSeconds,
        // The window is the database's, like every other time decision: an instance's wrong clock refuses nothing.
        nowMs: await this.clock.nowMs(),
      });
      if (!check.valid) return this.refuse(receipt, 401, 'unauthorized', `signature refused: ${check.reason}`);
    }
    if (task.kieTaskId !== null && task.kieTaskId !== kieTaskId) {
      return this.refuse(receipt, 401, 'mismatch', "the body's task id is not this callback URL's task");
    }
    if (callback.kind === 'unrecognised') return this.wake(receipt, account, kieTaskId, callback.reason);

    const result = this.settings.confirmCallbacks ? await this.confirm(account, callback.kieTaskId) : callback.result;
    if (!result) {
      await this.record(receipt, 'unconfirmed', 'record-info does not show a final result yet');
      return { status: 200, outcome: 'unconfirmed', message: 'received; the result will be read by polling' };
    }

    const {
      applied,
      unstorable,
      task: after,
    } = await this.lyrics.applyResult(
      task.id,
      { source: 'callback', kieTaskId: callback.kieTaskId, result },
      {
        kieTaskId: receipt.kieTaskId,
        remoteAddress: receipt.remoteAddress,
        ...receipt.storedBody(),
        perTaskLimit: this.settings.receiptsPerTask,
      },
    );
    // A result the database refused ended the task; answering 200 stops KIE from sending it again and again.
    if (unstorable) {
      await this.record(receipt, 'unstorable', after?.errorMessage ?? null);
      return { status: 200, outcome: 'unstorable', message: 'received; the result could not be stored' };
    }
    // The applied receipt was written with the transition; a repeated or late callback's is written here.
    const outcome: ReceiptOutcome = applied ? 'applied' : sameResult(after, result) ? 'duplicate' : 'already_final';
    if (applied) this.metrics.callbackReceipt(outcome);
    else await this.record(receipt, outcome, null);
    return { status: 200, outcome, message: 'received' };
  }

  /**
   * An authenticated callback we cannot read a result from: the task's record-info check is made due at once (through
   * the one door, by the database's clock) and this instance's poller woken, so the check reads what KIE now knows. A
   * task that timed out or whose create's answer was lost is no longer polled, yet takes a late result: its record is
   * read here, within the callback's time (like a confirming read). Any other final task is already_final; a task still
   * queued without KIE's id has nothing to check, and the callback is refused as malformed.
   */
  private async wake(receipt: ReceiptDraft, account: KieAccount, kieTaskId: string, reason: string): Promise<CallbackAnswer> {
    const detail = `unrecognised callback (${reason})`;
    const { applied, task: after } = await this.lyrics.transition(receipt.taskId, { type: 'check_woken' });
    if (applied) {
      this.poller.wake();
      await this.record(receipt, 'woken', `${detail}: record-info checked at once`);
      return { status: 200, outcome: 'woken', message: 'received; the result will be read from record-info' };
    }
    if (after?.errorCode && LATE_RESULT_TAKERS.has(after.errorCode)) {
      const result = await this.confirm(account, kieTaskId);
      if (result) {
        await this.lyrics.applyResult(receipt.taskId, { source: 'poll', kieTaskId, result });
        await this.record(receipt, 'woken', `${detail}: record-info read at once`);
        return { status: 200, outcome: 'woken', message: 'received; the result was read from record-info' };
      }
    }
    if (after && isFinalStatus(after.status)) {
      await this.record(receipt, 'already_final', detail);
      return { status: 200, outcome: 'already_final', message: 'received' };
    }
    return this.refuse(receipt, 400, 'malformed', `malformed callback: ${reason}, and the task has no KIE task to check yet`);
  }

  /**
   * KIE does not sign the body; with confirmation on, the stored result is the one record-info gives. The read takes
   * a slot of the record-info budget and must answer well within KIE's 15 s callback timeout; without a free slot, or
   * without a final answer, the callback is only recorded and polling reads the result.
   */
  private async confirm(account: KieAccount, kieTaskId: string): Promise<FinalResult | undefined> {
    const slot = await this.readBudget.takeOne(this.database);
    if (slot === undefined) {
      this.metrics.budgetWait(this.readBudget.bucket);
      return undefined;
    }
    try {
      const record = await account.client.getLyricsRecord(kieTaskId, {
        timeoutMs: Math.min(CONFIRM_TIMEOUT_MS, this.settings.kie.timeoutMs),
      });
      return record.kind === 'record' && record.result.state !== 'pending' ? record.result : undefined;
    } finally {
      await this.readBudget.markAnswered(slot);
    }
  }

  /** Answered like any refusal, but neither stored nor logged one by one: anyone can send these, as fast as they like. */
  private unmatched(reason: UnmatchedCallbackReason, incoming: IncomingCallback): CallbackAnswer {
    this.metrics.unmatchedCallback(reason);
    this.unmatchedWarnings.refused(reason, incoming.remoteAddress?.slice(0, 64) ?? null);
    return { status: 401, outcome: 'unauthorized', message: 'callback not authenticated' };
  }

  private async refuse(receipt: ReceiptDraft, status: 400 | 401, outcome: ReceiptOutcome, detail: string): Promise<CallbackAnswer> {
    this.logger.warn(`Callback refused (${outcome}): ${detail}`, {
      taskId: receipt.taskId,
      kieTaskId: receipt.kieTaskId,
      remoteAddress: receipt.remoteAddress,
    });
    await this.record(receipt, outcome, detail);
    return { status, outcome, message: status === 401 ? 'callback not authenticated' : detail };
  }

  private async record(receipt: ReceiptDraft, outcome: ReceiptOutcome, detail: string | null): Promise<void> {
    const { body, bodyTruncated } = receipt.storedBody();
    const stored = await this.receipts.insert(
      {
        taskId: receipt.taskId,
        kieTaskId: receipt.kieTaskId,
        outcome,
        detail,
        remoteAddress: receipt.remoteAddress,
        body,
        bodyTruncated,
      },
      this.settings.receiptsPerTask,
    );
    this.metrics.callbackReceipt(outcome);
    if (!stored) this.metrics.callbackReceiptNotStored(outcome);
  }
}

function sameResult(task: TaskRecord | undefined, result: FinalResult): boolean {
  if (!task) return false;
  return result.state === 'succeeded' ? task.status === 'succeeded' : task.status === 'failed' && task.errorCode === result.code;
}

/** What a receipt will say, gathered as the callback is checked. */
class ReceiptDraft {
  kieTaskId: string | null = null;
  readonly remoteAddress: string | null;
  private readonly text: string;
  private stored: { body: string; bodyTruncated: boolean } | undefined;

  constructor(
    readonly taskId: string,
    incoming: IncomingCallback,
    private readonly maxBytes: number,
  ) {
    this.remoteAddress = incoming.remoteAddress?.slice(0, 64) ?? null;
    this.text = Buffer.isBuffer(incoming.body) ? incoming.body.toString('utf8') : JSON.stringify(incoming.body ?? null);
  }

  json(): unknown {
    try {
      return JSON.parse(this.text);
    } catch {
      throw new KiePayloadError('body is not valid JSON');
    }
  }

  /** The body as its receipt keeps it; worked out once, since a repeated callback's receipt needs it twice. */
  storedBody(): { body: string; bodyTruncated: boolean } {
    return (this.stored ??= this.cut());
  }

  private cut(): { body: string; bodyTruncated: boolean } {
    const bytes = Buffer.from(this.text, 'utf8');
    const truncated = bytes.length > this.maxBytes;
    const text = truncated ? bytes.subarray(0, this.maxBytes).toString('utf8') : this.text;
    // PostgreSQL text cannot hold NUL characters.
    return { body: text.replaceAll('\u0000', '\uFFFD'), bodyTruncated: truncated };
  }
}
