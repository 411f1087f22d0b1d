import { performance } from 'node:perf_hooks';
import { Injectable } from '@nestjs/common';
import { KieClient } from './kie.client';
import { KieCreditsOutcome } from './kie.types';

/** KIE's remaining credits for health checks, cached so that a busy probe costs one upstream read per period. */
@Injectable()
export class KieCreditsProbe {
  private cached: { at: number; outcome: Promise<KieCreditsOutcome> } | undefined;

  constructor(private readonly kie: KieClient) {}

  credits(maxAgeMs: number): Promise<KieCreditsOutcome> {
    if (!this.cached || performance.now() - this.cached.at > maxAgeMs) {
      this.cached = { at: performance.now(), outcome: this.kie.getCredits() };
    }
    return this.cached.outcome;
  }
}
