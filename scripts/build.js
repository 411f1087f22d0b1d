// Builds dist/ from a clean slate (so that removed sources leave nothing behind). With --if-stale, only when
// dist/ is missing or older than the sources: `npm start` and `npm test` work right after a clone.
const { execFileSync } = require('node:child_process');
const { existsSync, readdirSync, rmSync, statSync } = require('node:fs');
const { join } = require('node:path');

const root = join(__dirname, '..');
const dist = join(root, 'dist');
const output = join(dist, 'main.js');

function newestMtime(path) {
  const stat = statSync(path);
  if (!stat.isDirectory()) return stat.mtimeMs;
  return readdirSync(path).reduce((newest, entry) => Math.max(newest, newestMtime(join(path, entry))), stat.mtimeMs);
}

function isStale() {
  if (!existsSync(output)) return true;
  const inputs = ['src', 'tsconfig.json', 'tsconfig.build.json', 'package-lock.json'].map((p) => join(root, p)).filter(existsSync);
  return Math.max(...inputs.map(newestMtime)) > statSync(output).mtimeMs;
}

if (!process.argv.includes('--if-stale') || isStale()) {
  process.stderr.write('Building dist/ ...\n');
  rmSync(dist, { recursive: true, force: true });
  execFileSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', join(root, 'tsconfig.build.json')], {
    stdio: 'inherit',
    cwd: root,
  });
}
