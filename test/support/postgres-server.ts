import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { DataSource } from 'typeorm';
import { EmbeddedPostgres } from '../../src/database/embedded-postgres';
import { typeOrmOptions } from '../../src/database/typeorm-options';

/**
 * The PostgreSQL server a test run uses: the one DATABASE_URL names, or an embedded one started for the run.
 * The run migrates one template database; every test file clones its own from it (test/support/database.ts),
 * so files running in parallel never see each other's rows or background workers.
 */
export interface TestServer {
  adminUrl: string;
  template: string;
  embedded?: EmbeddedPostgres;
  /** The embedded server's folder, removed at the end. */
  workDir?: string;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

export function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.toString();
}

export async function withAdmin<T>(adminUrl: string, fn: (client: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: adminUrl });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

export async function startTestServer(): Promise<TestServer> {
  let embedded: EmbeddedPostgres | undefined;
  let workDir: string | undefined;
  let adminUrl = process.env.DATABASE_URL;
  if (!adminUrl) {
    workDir = mkdtempSync(join(tmpdir(), 'kie-lyrics-test-'));
    chmodSync(workDir, 0o755); // run as root, the server runs as the postgres user, which must reach it
    embedded = await EmbeddedPostgres.start({
      dataDir: join(workDir, 'data'),
      port: await freePort(),
      database: 'postgres',
    });
    adminUrl = embedded.url;
  }
  const template = `lyrics_test_${Date.now().toString(36)}_${process.pid}`;
  await withAdmin(adminUrl, (client) => client.query(`CREATE DATABASE ${template}`));
  const dataSource = new DataSource(typeOrmOptions({ url: withDatabase(adminUrl, template), migrationsRun: false }));
  await dataSource.initialize();
  try {
    await dataSource.runMigrations();
  } finally {
    await dataSource.destroy();
  }
  return { adminUrl, template, embedded, workDir };
}

export async function stopTestServer(server: TestServer): Promise<void> {
  await withAdmin(server.adminUrl, async (client) => {
    const { rows } = await client.query<{ datname: string }>('SELECT datname FROM pg_database WHERE datname LIKE $1', [
      `${server.template}%`,
    ]);
    for (const { datname } of rows) await client.query(`DROP DATABASE IF EXISTS ${datname} WITH (FORCE)`);
  });
  await server.embedded?.stop();
  if (server.workDir) rmSync(server.workDir, { recursive: true, force: true });
}
