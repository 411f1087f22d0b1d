import { Statement } from './lyrics-database';
import { named } from './sql';

/** The database's wall clock, in Unix milliseconds. */
export function databaseNow(): Statement {
  return named('database_now', `SELECT (EXTRACT(EPOCH FROM clock_timestamp()) * 1000)::float8 AS "nowMs"`, []);
}
