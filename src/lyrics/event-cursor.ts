import { EventPosition } from './persistence/events.sql';

/** Feed cursors for GET /lyrics/events: the last event's transaction id and sequence, opaque to clients. */
const POSITION = /^(\d{1,19})\.(\d{1,19})$/;
const MAX_BIGINT = 9223372036854775807n;

export function encodeEventCursor(position: EventPosition): string {
  return Buffer.from(`${position.txId}.${position.seq}`, 'utf8').toString('base64url');
}

export function decodeEventCursor(value: string): EventPosition | undefined {
  const match = POSITION.exec(Buffer.from(value, 'base64url').toString('utf8'));
  if (!match || BigInt(match[1]) > MAX_BIGINT || BigInt(match[2]) > MAX_BIGINT) return undefined;
  return { txId: match[1], seq: match[2] };
}
