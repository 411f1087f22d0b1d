import { createParamDecorator, ExecutionContext } from '@nestjs/common';
import { Request } from 'express';

/** Where LyricsClientGuard leaves the caller's owner id for the handlers. */
const OWNER = Symbol('lyricsOwner');
type OwnedRequest = Request & { [OWNER]?: string };

/** The longest owner id the tasks table holds. */
export const OWNER_MAX_LENGTH = 255;

export function setRequestOwner(request: Request, owner: string): void {
  (request as OwnedRequest)[OWNER] = owner;
}

/** The owner LyricsClientGuard resolved for this request (the guard runs before every client handler). */
export const RequestOwner = createParamDecorator((_: unknown, context: ExecutionContext): string => {
  const owner = context.switchToHttp().getRequest<OwnedRequest>()[OWNER];
  if (owner === undefined) throw new Error('LyricsClientGuard did not run before this handler');
  return owner;
});
