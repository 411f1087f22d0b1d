import { randomBytes } from 'node:crypto';
import { withAdmin, withDatabase } from './postgres-server';

export interface TestDatabase {
  name: string;
  url: string;
  /** One query on a connection of its own (for tests that look at rows while no app of theirs is up). */
  query<T = any>(sql: string, params?: unknown[]): Promise<T[]>;
  drop(): Promise<void>;
}

function requireEnv(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: run the tests through jest (its global setup sets it)`);
  return value;
}

/** A fresh, migrated database of this test's own, cloned from the run's template. */
export async function createTestDatabase(): Promise<TestDatabase> {
  const adminUrl = requireEnv('TEST_DATABASE_ADMIN_URL');
  const template = requireEnv('TEST_DATABASE_TEMPLATE');
  const name = `${template}_${randomBytes(4).toString('hex')}`;
  await withAdmin(adminUrl, (client) => client.query(`CREATE DATABASE ${name} TEMPLATE ${template}`));
  const url = withDatabase(adminUrl, name);
  return {
    name,
    url,
    query: (sql, params) => withAdmin(url, async (client) => (await client.query(sql, params)).rows),
    drop: () => withAdmin(adminUrl, (client) => client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)).then(() => undefined),
  };
}
