import { Injectable } from '@nestjs/common';

/** Tells this instance's dispatcher that new work was queued, so it need not wait for its next round. */
@Injectable()
export class DispatchSignal {
  private listener: (() => void) | undefined;

  notify(): void {
    this.listener?.();
  }

  listen(listener: () => void): void {
    this.listener = listener;
  }
}
