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

/** Identifies a submission's content, to tell an idempotent replay from a reuse of its key. */
export function hashRequest(prompt: string, metadata: Record<string, unknown> | null): string {
  return createHash('sha256').update(canonicalJson({ prompt, metadata })).digest('hex');
}
