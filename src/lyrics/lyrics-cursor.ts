/**
 * Keyset cursors for GET /lyrics: the last row's creation time (PostgreSQL's microseconds, which a JS Date would
 * round) and id, opaque to clients.
 */
export interface ListCursor {
  createdAt: string;
  id: string;
}

const TIMESTAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export function encodeCursor(cursor: ListCursor): string {
  return Buffer.from(`${cursor.createdAt}|${cursor.id}`, 'utf8').toString('base64url');
}

export function decodeCursor(value: string): ListCursor | undefined {
  const [createdAt, id, ...rest] = Buffer.from(value, 'base64url').toString('utf8').split('|');
  if (rest.length > 0 || !TIMESTAMP.test(createdAt ?? '') || !UUID.test(id ?? '') || !isRealInstant(createdAt)) return undefined;
  return { createdAt, id };
}

/**
 * The shape alone admits month 13, 25 o'clock or year 0, which PostgreSQL would refuse: the instant must exist as
 * written, in years 1 to 9999.
 */
function isRealInstant(timestamp: string): boolean {
  const millis = Date.parse(timestamp);
  return !timestamp.startsWith('0000') && Number.isFinite(millis) && new Date(millis).toISOString().slice(0, 19) === timestamp.slice(0, 19);
}
