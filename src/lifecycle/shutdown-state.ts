import { Injectable } from '@nestjs/common';
import { NextFunction, Request, RequestHandler, Response } from 'express';

/** Whether the service is draining for shutdown (set by the entry point on SIGTERM/SIGINT). */
@Injectable()
export class ShutdownState {
  draining = false;
}

/**
 * While draining, new requests (on connections that were already open) get 503 and `Connection: close`, so that
 * load balancers and clients move on; liveness still answers. Requests already in flight finish normally.
 */
export function refuseWhileDraining(state: ShutdownState): RequestHandler {
  return (req: Request, res: Response, next: NextFunction) => {
    if (!state.draining || req.path === '/health/live') return next();
    res.setHeader('Connection', 'close');
    res.status(503).json({ statusCode: 503, message: 'Shutting down', error: 'Service Unavailable' });
  };
}
