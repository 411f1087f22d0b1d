import { createHash } from 'node:crypto';

/** One of our own clients: its name (the owner of the tasks it submits) and one of its keys. */
export interface ApiClient {
  name: string;
  key: string;
}

const CLIENT_NAME = /^[a-z0-9][a-z0-9_-]{0,63}$/;
/** Keys a production deployment may use: long enough not to be guessed. */
export const PRODUCTION_KEY_MIN_LENGTH = 16;

/** A bare key is a client of its own, named after a digest of the key (never the key itself). */
export function bareKeyClientName(key: string): string {
  return `key-${createHash('sha256').update(key, 'utf8').digest('hex').slice(0, 8)}`;
}

/**
 * Reads API_KEYS: comma-separated `client:key` entries (a client may have several keys, for rotation) or bare keys.
 * An entry is `client:key` when the part before its first colon is a valid client name; otherwise the whole entry
 * is a bare key. Problems name the entry by its position, never by its value.
 */
export function parseApiKeys(value: string | undefined, production: boolean): { clients: ApiClient[]; problems: string[] } {
  const clients: ApiClient[] = [];
  const problems: string[] = [];
  const entries = (value ?? '').split(',').map((entry) => entry.trim());
  if (entries.length === 1 && entries[0] === '') return { clients, problems };
  const positions = new Map<string, number>();
  entries.forEach((entry, index) => {
    const position = index + 1;
    const colon = entry.indexOf(':');
    const named = colon > 0 && CLIENT_NAME.test(entry.slice(0, colon));
    const key = named ? entry.slice(colon + 1).trim() : entry;
    if (key === '' || /\s/.test(key)) {
      problems.push(`API_KEYS entry ${position} must be a key or client:key, with a non-empty key and no spaces`);
      return;
    }
    if (production && key.length < PRODUCTION_KEY_MIN_LENGTH) {
      problems.push(`API_KEYS entry ${position} has a key shorter than ${PRODUCTION_KEY_MIN_LENGTH} characters (production)`);
    }
    const first = positions.get(key);
    if (first !== undefined) problems.push(`API_KEYS entries ${first} and ${position} have the same key`);
    positions.set(key, first ?? position);
    clients.push({ name: named ? entry.slice(0, colon) : bareKeyClientName(key), key });
  });
  return { clients, problems };
}
