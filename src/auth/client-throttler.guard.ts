import { Injectable } from '@nestjs/common';
import { ThrottlerGuard } from '@nestjs/throttler';
import { AuthenticatedRequest, CLIENT_NAME } from './api-key.guard';

/**
 * Request throttling per client: by client once ApiKeyGuard has run (all of a client's keys share one budget), else by
 * address. Applied to the client API
 * only; KIE's callbacks are never throttled by us. Counts are per instance (in memory): a budget for fairness and
 * abuse, not work state.
 */
@Injectable()
export class ClientThrottlerGuard extends ThrottlerGuard {
  protected override async getTracker(request: Record<string, unknown>): Promise<string> {
    const req = request as unknown as AuthenticatedRequest;
    return req[CLIENT_NAME] ? `client:${req[CLIENT_NAME]}` : `ip:${req.ip}`;
  }
}
