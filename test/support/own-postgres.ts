import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EmbeddedPostgres } from '../../src/database/embedded-postgres';
import { TestDatabase } from './database';
import { freePort, withAdmin } from './postgres-server';

/** A PostgreSQL server of a test's own, which it may stop and start again (the shared one must stay up). */
export class OwnPostgres {
  private server: EmbeddedPostgres | undefined;

  private constructor(
    private readonly workDir: string,
    private readonly port: number,
  ) {}

  static async start(): Promise<OwnPostgres> {
    const workDir = mkdtempSync(join(tmpdir(), 'kie-lyrics-own-pg-'));
    chmodSync(workDir, 0o755); // run as root, the server runs as the postgres user, which must reach it
    const own = new OwnPostgres(workDir, await freePort());
    await own.resume();
    return own;
  }

  get database(): TestDatabase {
    const url = `postgres://postgres@127.0.0.1:${this.port}/lyrics`;
    return {
      name: 'lyrics',
      url,
      query: (sql, params) => withAdmin(url, async (client) => (await client.query(sql, params)).rows),
      drop: async () => undefined,
    };
  }

  async resume(): Promise<void> {
    this.server = await EmbeddedPostgres.start({ dataDir: join(this.workDir, 'data'), port: this.port, database: 'lyrics' });
  }

  async pause(): Promise<void> {
    await this.server?.stop();
    this.server = undefined;
  }

  async destroy(): Promise<void> {
    await this.pause();
    rmSync(this.workDir, { recursive: true, force: true });
  }
}
