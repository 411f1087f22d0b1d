import { Injectable } from '@nestjs/common';

/** Tells this instance's relays that a final event was committed, so they need not wait for their next round. */
@Injectable()
export class DeliverySignal {
  private readonly listeners = new Set<() => void>();

  notify(): void {
    this.listeners.forEach((listener) => listener());
  }

  listen(listener: () => void): void {
    this.listeners.add(listener);
  }
}
