import { raw, RequestHandler } from 'express';

/** A few hundred KiB: KIE's callbacks are a few KiB of lyrics; anything far larger is not KIE. */
export const CALLBACK_BODY_LIMIT_BYTES = 256 * 1024;

/**
 * Keeps the callback's body as the exact bytes received, whatever its content type, so that the callback
 * controller can record the raw body and report unparsable JSON itself (as a `malformed` receipt). Mount it on the
 * callback route before any JSON parser; a body over the limit is refused with 413 before it is read whole.
 */
export function callbackBodyParser(limitBytes = CALLBACK_BODY_LIMIT_BYTES): RequestHandler {
  return raw({ type: () => true, limit: limitBytes });
}
