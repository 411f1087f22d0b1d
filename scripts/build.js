// Builds dist/ from a clean slate (so that removed sources leave nothing behind): the service and the module
// (tsconfig.build.json), and where bench/ is present the benchmarks' TypeScript into dist/bench/ (tsconfig.bench.json;
// outside dist/lyrics, so not in the npm package). With --if-stale, only when an output is missing or older than the
// sources: `npm start` and `npm test` work right after a clone.
const { execFileSync } = require('node:child_process');
const { existsSync, readdirSync, rmSync, statSync } = require('node:fs');
const { join } = require('node:path');

const root = join(__dirname, '..');
const dist = join(root, 'dist');
// The Docker build copies neither bench/ nor its tsconfig.
const withBench = existsSync(join(root, 'tsconfig.bench.json'));
const projects = ['tsconfig.build.json', ...(withBench ? ['tsconfig.bench.json'] : [])];
const outputs = [join(dist, 'main.js'), ...(withBench ? [join(dist, 'bench', 'lib', 'fault-scenario.js')] : [])];

/** The newest modification time under `path` of what `isSource` accepts (a folder changes when an entry comes or goes). */
function newestMtime(path, isSource = () => true) {
  const stat = statSync(path);
  if (!isSource(path, stat.isDirectory())) return 0;
  if (!stat.isDirectory()) return stat.mtimeMs;
  return readdirSync(path).reduce((newest, entry) => Math.max(newest, newestMtime(join(path, entry), isSource)), stat.mtimeMs);
}

/** The benchmarks' TypeScript and its folders; not the results folder, which every run adds to. */
const isBenchSource = (path, isDirectory) => (isDirectory ? path !== join(root, 'bench', 'results') : path.endsWith('.ts'));

function isStale() {
  if (!outputs.every(existsSync)) return true;
  const inputs = ['src', 'tsconfig.json', ...projects, 'package-lock.json'].map((p) => join(root, p)).filter(existsSync);
  const newestInput = Math.max(
    ...inputs.map((path) => newestMtime(path)),
    ...(withBench ? [newestMtime(join(root, 'bench'), isBenchSource)] : []),
  );
  return newestInput > Math.min(...outputs.map((output) => statSync(output).mtimeMs));
}

if (!process.argv.includes('--if-stale') || isStale()) {
  process.stderr.write('Building dist/ ...\n');
  rmSync(dist, { recursive: true, force: true });
  for (const project of projects) {
    execFileSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', join(root, project)], { stdio: 'inherit', cwd: root });
  }
}
