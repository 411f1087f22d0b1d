import { errorMessage } from '../error-message';

/**
 * What a failed statement says about retrying it. PostgreSQL's SQLSTATE classes tell a database that is briefly
 * unreachable or busy (worth another try) from one that refused the data itself (never worth one).
 */
const TRANSIENT_CLASSES = new Set([
  '08', // connection exception
  '40', // transaction rollback: serialization failure, deadlock
  '53', // insufficient resources: too many connections, disk full
  '57', // operator intervention: admin shutdown, cannot connect now
  '58', // system error
]);

const SQLSTATE = /^[0-9A-Z]{5}$/;

/** A PostgreSQL error's SQLSTATE, when the error came from the server. */
function sqlState(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && SQLSTATE.test(code) ? code : undefined;
}

/**
 * True when the statement may well succeed if sent again: the server was unreachable (no SQLSTATE: a refused or
 * dropped connection, a pool timeout) or answered with a transient class. False for a refusal of the data or of the
 * statement, which a retry would only repeat.
 */
export function isTransientDatabaseError(error: unknown): boolean {
  const state = sqlState(error);
  return state === undefined || TRANSIENT_CLASSES.has(state.slice(0, 2));
}

/** The server's reason for refusing a statement, cut short enough for a task's error message. */
export function databaseRefusal(error: unknown): string {
  const state = sqlState(error);
  const message = errorMessage(error);
  return `${message.slice(0, 200)}${state ? ` (SQLSTATE ${state})` : ''}`;
}
