import { Injectable } from '@nestjs/common';
import { ThrottlerGuard } from '@nestjs/throttler';
import { AuthenticatedRequest, CLIENT_ID } from './api-key.guard';

/**
 * Request throttling per client: by API key once ApiKeyGuard has run, else by address. Applied to the client API
 * only; KIE's callbacks are never throttled by us. Counts are per instance (in memory): a budget for fairness and
 * abuse, not work state.
 */
@Injectable()
export class ClientThrottlerGuard extends ThrottlerGuard {
  protected override async getTracker(request: Record<string, unknown>): Promise<string> {
    const req = request as unknown as AuthenticatedRequest;
    return req[CLIENT_ID] ? `key:${req[CLIENT_ID]}` : `ip:${req.ip}`;
  }
}
