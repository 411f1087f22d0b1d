import { performance } from 'node:perf_hooks';
import { LoggerService } from '@nestjs/common';

/** Why no task matched a callback: its id is not a UUID, no task has that id, or the token is not that task's. */
export type UnmatchedCallbackReason = 'invalid_task_id' | 'unknown_task' | 'wrong_token';

/**
 * Warns about unmatched callbacks at most once per interval on this instance, saying how many it kept quiet about
 * since the previous warning: the webhook is open, so a flood of refusals must not become a flood of log lines (the
 * metric counts every one). Nothing the caller sent is logged but its address: the id and token are theirs to choose.
 */
export class UnmatchedCallbackWarnings {
  private lastWarnedAt: number | undefined;
  private suppressed = 0;

  constructor(
    private readonly logger: Pick<LoggerService, 'warn'>,
    private readonly intervalMs = 10_000,
    private readonly now: () => number = () => performance.now(),
  ) {}

  refused(reason: UnmatchedCallbackReason, remoteAddress: string | null): void {
    const at = this.now();
    if (this.lastWarnedAt !== undefined && at - this.lastWarnedAt < this.intervalMs) {
      this.suppressed += 1;
      return;
    }
    const suppressed = this.suppressed;
    this.lastWarnedAt = at;
    this.suppressed = 0;
    this.logger.warn(
      `Callback refused (${reason}): no task matches its id and token; nothing stored` +
        (suppressed > 0 ? ` (${suppressed} more unmatched callbacks refused without a warning since the last one)` : ''),
      { reason, remoteAddress, suppressed },
    );
  }
}
