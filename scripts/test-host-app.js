// npm run test:host-app: examples/host-app as a user meets it. Checks that README.md shows its files as they are,
// packs this package (prepack builds dist/), installs the tarball with the example's own dependencies into a
// temporary copy of the example, compiles it with its own tsc, then starts the KIE sandbox (dist/sandbox) and the
// example against a fresh PostgreSQL database on the server DATABASE_URL names (default
// postgres://postgres@127.0.0.1:5432/postgres), submits a prompt through its API and waits for its lyrics.succeeded
// handler's log line. Everything it made (processes, database, temporary folder) is removed at the end;
// HOST_APP_KEEP=1 keeps the folder. Exits 1 with one line saying what failed, and the logs.
const { spawn } = require('node:child_process');
const { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } = require('node:fs');
const { createServer } = require('node:net');
const { tmpdir } = require('node:os');
const { join, relative, sep } = require('node:path');
const { Client } = require('pg');

const root = join(__dirname, '..');
const example = join(root, 'examples', 'host-app');
const adminUrl = process.env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/postgres';
const KIE_KEY = 'host-app-kie-key';
const HMAC_KEY = 'host-app-hmac-key';
const CLIENT_KEY = 'host-app-client-key';
const TEAM = 'team-a';

const started = Date.now();
const work = mkdtempSync(join(tmpdir(), 'lyrics-host-app-'));
const children = [];
let database;

const seconds = () => `${((Date.now() - started) / 1000).toFixed(1)} s`;
const step = (text) => console.log(`[test:host-app ${seconds()}] ${text}`);

class Failure extends Error {}
function check(condition, message) {
  if (!condition) throw new Failure(message);
}

/** The environment for a child npm: none of the outer `npm run`'s npm_* settings (its prefix is this repository). */
function childEnv(extra = {}) {
  const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !/^npm_/i.test(name) && name !== 'INIT_CWD'));
  return { ...env, NO_COLOR: '1', ...extra };
}

/** Runs a command to its end and gives its stdout; all its output goes to a log file, printed if it fails. */
function run(name, command, args, cwd) {
  const log = join(work, `${name}.log`);
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd, env: childEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    const chunks = [];
    const stdout = [];
    child.stdout.on('data', (chunk) => chunks.push(chunk) && stdout.push(chunk));
    child.stderr.on('data', (chunk) => chunks.push(chunk));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      const output = Buffer.concat(chunks).toString();
      writeFileSync(log, output);
      if (code === 0) return resolve(Buffer.concat(stdout).toString());
      reject(new Failure(`${command} ${args.join(' ')} (in ${cwd}) exited with ${signal ?? code}:\n${output.slice(-4000)}`));
    });
  });
}

/** A long-running child whose output is kept, to wait for lines in it. */
function startProcess(name, args, cwd, env) {
  const child = spawn(process.execPath, args, { cwd, env: childEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
  const proc = { name, child, output: '', exit: undefined, waiters: new Set() };
  const take = (chunk) => {
    proc.output += chunk.toString().replace(/\x1b\[[0-9;]*m/g, ''); // eslint-disable-line no-control-regex
    for (const waiter of proc.waiters) waiter();
  };
  child.stdout.on('data', take);
  child.stderr.on('data', take);
  proc.exited = new Promise((resolve) => {
    child.on('exit', (code, signal) => {
      proc.exit = { code, signal };
      for (const waiter of proc.waiters) waiter();
      resolve(proc.exit);
    });
  });
  children.push(proc);
  return proc;
}

/** The first match of `pattern` in the process's output, waiting for it up to `timeoutMs`; fails if the process ends first. */
function waitForOutput(proc, pattern, what, timeoutMs = 30000) {
  return new Promise((resolve, reject) => {
    const done = (error, value) => {
      clearTimeout(timer);
      proc.waiters.delete(look);
      if (error) reject(error);
      else resolve(value);
    };
    const look = () => {
      const match = pattern.exec(proc.output);
      if (match) return done(undefined, match);
      if (proc.exit) done(new Failure(`${proc.name} exited (${proc.exit.signal ?? proc.exit.code}) before ${what}`));
    };
    const timer = setTimeout(() => done(new Failure(`no ${what} within ${timeoutMs / 1000} s`)), timeoutMs);
    proc.waiters.add(look);
    look();
  });
}

/** Polls `probe` until it returns a truthy value, up to `timeoutMs`. */
async function waitFor(what, probe, timeoutMs = 30000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Failure(`no ${what} within ${timeoutMs / 1000} s`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

async function createDatabase() {
  const name = `lyrics_host_app_${process.pid}_${Date.now().toString(36)}`;
  const admin = new Client({ connectionString: adminUrl });
  try {
    await admin.connect();
  } catch (error) {
    throw new Failure(
      `test:host-app needs a PostgreSQL server: none answered at ${new URL(adminUrl).host} (${error.message}); set DATABASE_URL to one (it creates and drops its own database there)`,
    );
  }
  try {
    await admin.query(`CREATE DATABASE "${name}"`);
  } finally {
    await admin.end();
  }
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  database = { name, url: url.toString() };
  return database;
}

async function dropDatabase() {
  if (!database) return;
  const admin = new Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    await admin.query(`DROP DATABASE IF EXISTS "${database.name}" WITH (FORCE)`);
  } finally {
    await admin.end();
  }
  database = undefined;
}

async function query(sql, params) {
  const client = new Client({ connectionString: database.url });
  await client.connect();
  try {
    return (await client.query(sql, params)).rows;
  } finally {
    await client.end();
  }
}

async function http(method, url, { body, headers = {} } = {}) {
  const response = await fetch(url, {
    method,
    headers: { ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(10000),
  });
  const text = await response.text();
  let json;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: response.status, json, text };
}

/** Stops one child: SIGTERM, then SIGKILL if it is still there after `graceMs`. */
async function stop(proc, graceMs = 15000) {
  if (proc.exit) return proc.exit;
  proc.child.kill('SIGTERM');
  let timer;
  const exit = await Promise.race([proc.exited, new Promise((resolve) => (timer = setTimeout(resolve, graceMs)))]);
  clearTimeout(timer);
  if (exit) return exit;
  proc.child.kill('SIGKILL');
  await proc.exited;
  return undefined;
}

async function cleanUp() {
  for (const proc of [...children].reverse()) await stop(proc).catch(() => undefined);
  await dropDatabase().catch((error) => console.error(`test:host-app: could not drop database ${database.name}: ${error.message}`));
  if (process.env.HOST_APP_KEEP === '1') console.log(`test:host-app: kept ${work}`);
  else rmSync(work, { recursive: true, force: true });
}

/** The README's host section shows the example's files as they are, each in a block headed by its path. */
function checkReadme() {
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  for (const file of ['src/app.module.ts', 'src/lyrics.listener.ts']) {
    const block = '```ts\n// examples/host-app/' + file + '\n' + readFileSync(join(example, file), 'utf8') + '```';
    check(readme.includes(block), `README.md does not show examples/host-app/${file} as it is (a \`\`\`ts block headed by its path)`);
  }
}

async function main() {
  checkReadme();
  step(`npm pack (its prepack builds dist/) into ${work}`);
  const packed = JSON.parse(await run('pack', 'npm', ['pack', '--json', '--pack-destination', work], root));
  const tarball = join(work, packed[0].filename);

  step('copy examples/host-app and install the tarball with its dependencies');
  const app = join(work, 'app');
  cpSync(example, app, {
    recursive: true,
    filter: (path) =>
      !relative(example, path)
        .split(sep)
        .some((part) => ['node_modules', 'dist', 'package-lock.json'].includes(part)),
  });
  await run('install', 'npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', tarball], app);
  const installed = JSON.parse(readFileSync(join(app, 'node_modules', 'nestjs-kie-lyrics', 'package.json'), 'utf8'));
  check(installed.version === packed[0].version, `installed nestjs-kie-lyrics ${installed.version}, packed ${packed[0].version}`);

  step('compile the example with its own tsc (npm run build)');
  await run('build', 'npm', ['run', 'build'], app);

  step('start the KIE sandbox and the example on a fresh database');
  const { url: databaseUrl } = await createDatabase();
  const sandbox = startProcess(
    'the KIE sandbox',
    [
      join(root, 'dist', 'sandbox', 'main.js'),
      '--port',
      '0',
      '--host',
      '127.0.0.1',
      '--api-key',
      KIE_KEY,
      '--hmac-key',
      HMAC_KEY,
      '--result-delay-ms',
      '200',
    ],
    root,
  );
  const kieUrl = (await waitForOutput(sandbox, /KIE sandbox listening on (http:\/\/\S+)/, "the sandbox's address", 15000))[1];
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const host = startProcess('the example app', [join(app, 'dist', 'main.js')], app, {
    PORT: String(port),
    DATABASE_URL: databaseUrl,
    KIE_API_KEY: KIE_KEY,
    KIE_BASE_URL: kieUrl,
    KIE_WEBHOOK_HMAC_KEY: HMAC_KEY,
    PUBLIC_BASE_URL: base,
    CLIENT_KEYS: `${CLIENT_KEY}=${TEAM}`,
  });
  await waitForOutput(host, /\[HostApp\] Listening on /, 'the example app listening', 30000);
  const migrated = await query('SELECT count(*)::int AS n FROM migrations');
  check(migrated[0].n > 0, 'the example app ran no migrations');

  step('submit through the example API and wait for its lyrics.succeeded handler');
  const anonymous = await http('POST', `${base}/api/v1/lyrics`, { body: { prompt: 'Nobody' } });
  check(anonymous.status === 401, `POST /api/v1/lyrics without a key answered ${anonymous.status}, not 401: ${anonymous.text}`);
  const auth = { authorization: `Bearer ${CLIENT_KEY}` };
  const submitted = await http('POST', `${base}/api/v1/lyrics`, { headers: auth, body: { prompt: 'A calm song about the harbour' } });
  check(submitted.status === 202, `POST /api/v1/lyrics answered ${submitted.status}, not 202: ${submitted.text}`);
  const id = submitted.json.id;
  const handled = await waitForOutput(
    host,
    new RegExp(`\\[LyricsListener\\] lyrics\\.succeeded task=${id} owner=(\\S+) event=(\\S+) variants=(.*)`),
    `lyrics.succeeded for task ${id} in the example's handler`,
    30000,
  );
  check(handled[1] === TEAM, `the handler saw owner ${handled[1]}, not ${TEAM}`);

  const task = await http('GET', `${base}/api/v1/lyrics/${id}`, { headers: auth });
  check(task.status === 200 && task.json.status === 'succeeded', `GET /api/v1/lyrics/${id} answered ${task.status}: ${task.text}`);
  const titles = task.json.variants.map((variant) => variant.title).join(' | ');
  check(task.json.variants.length >= 2 && handled[3] === titles, `the handler saw variants "${handled[3]}", the API "${titles}"`);
  const callbacks = (await http('GET', `${kieUrl}/sandbox/callbacks`)).json;
  const callback = callbacks.find((delivery) => delivery.url.startsWith(`${base}/api/v1/lyrics/callback/${id}/`));
  check(callback?.status === 200, `the sandbox's signed callback to the example: ${JSON.stringify(callback ?? 'none')}`);
  // The relay counts the event handled once the handler returned: then it was called exactly once.
  await waitFor('host delivery marked delivered', async () => {
    const rows = await query(`SELECT status FROM lyrics_deliveries WHERE task_id = $1 AND consumer = 'host'`, [id]);
    return rows.length === 1 && rows[0].status === 'delivered';
  });
  const calls = host.output.split('\n').filter((line) => line.includes(`lyrics.succeeded task=${id}`)).length;
  check(calls === 1, `the handler was called ${calls} times for one event`);

  step('stop the example app (SIGTERM)');
  const exit = await stop(host, 20000);
  check(
    exit !== undefined && (exit.code === 0 || exit.signal === 'SIGTERM'),
    `the example app did not stop cleanly: ${JSON.stringify(exit)}`,
  );
}

let interrupted = false;
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, () => {
    interrupted = true;
    console.error(`test:host-app: ${signal}, cleaning up`);
    void cleanUp().finally(() => process.exit(1));
  });
}

main().then(
  async () => {
    await cleanUp();
    step('passed: the package installed from its tarball, the example compiled, and its handler got lyrics.succeeded');
    process.exit(0);
  },
  async (error) => {
    if (interrupted) return;
    for (const proc of children) console.error(`\n--- output of ${proc.name} ---\n${proc.output.slice(-8000)}`);
    console.error(`\ntest:host-app FAILED after ${seconds()}: ${error instanceof Failure ? error.message : error.stack}`);
    await cleanUp();
    process.exit(1);
  },
);
