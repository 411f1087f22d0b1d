import { Statement } from './lyrics-database';

/**
 * Collects a statement's values while its text is written, so that every value is a parameter ($1, $2, ...) and
 * never part of the text.
 */
export class Params {
  readonly values: unknown[] = [];

  constructor(...initial: unknown[]) {
    this.values.push(...initial);
  }

  /** Adds a value and returns its placeholder. */
  add(value: unknown): string {
    return `$${this.values.push(value)}`;
  }
}

/**
 * Every name is prefixed: the module shares the host's pool, and a prepared statement's name is per connection, so
 * the host's own named statements must not collide with ours.
 */
export function named(name: string, text: string, values: unknown[]): Statement {
  return { name: `lyrics.${name}`, text, values };
}

export function unnamed(text: string, values: unknown[]): Statement {
  return { text, values };
}

/** Milliseconds (a parameter) as an interval. */
export const msInterval = (placeholder: string) => `make_interval(secs => ${placeholder}::double precision / 1000)`;

/** `column AS "alias"` for every entry: rows then arrive with the record's own (camelCase) property names. */
export function aliasedColumns<T>(columns: { [K in keyof T]-?: string }): string {
  return Object.entries(columns as Record<string, string>)
    .map(([alias, column]) => (alias === column ? column : `${column} AS "${alias}"`))
    .join(', ');
}

/**
 * The `"waitMs"` of a "how long until the next one is due" statement, in whole milliseconds and never negative;
 * undefined when it found nothing to wait for (no row, or NULL).
 */
export function waitMsOf(rows: { waitMs: number | null }[]): number | undefined {
  const waitMs = rows[0]?.waitMs;
  return waitMs === null || waitMs === undefined ? undefined : Math.max(0, Math.ceil(waitMs));
}
