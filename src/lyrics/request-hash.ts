import { createHash } from 'node:crypto';

/** JSON with object keys sorted at every depth, so that equal objects serialise equally. */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.keys(value)
      .sort()
      .map((key) => `${JSON.stringify(key)}:${canonicalJson((value as Record<string, unknown>)[key])}`);
    return `{${entries.join(',')}}`;
  }
  return JSON.stringify(value ?? null);
}

/**
 * Identifies a submission's content, to tell an idempotent replay from a reuse of its key. Without a webhook URL the
 * content is hashed as before there were any, so keys stored then still match their replays.
 */
export function hashRequest(prompt: string, metadata: Record<string, unknown> | null, webhookUrl: string | null = null): string {
  const content = webhookUrl === null ? { prompt, metadata } : { prompt, metadata, webhookUrl };
  return createHash('sha256').update(canonicalJson(content)).digest('hex');
}
