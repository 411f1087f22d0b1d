'use strict';
// Reading a V8 .cpuprofile (node --cpu-prof): where the service's main thread spent a time window, by function
// (self time) and by package, and how much of the window it was idle (waiting on sockets: PostgreSQL, clients).
const { readdirSync, readFileSync } = require('node:fs');
const { join } = require('node:path');
const { pct, printTable } = require('./report');

/** CLOCK_MONOTONIC in microseconds, the clock V8's profiler stamps samples with on Linux. */
const monotonicMicros = () => Number(process.hrtime.bigint() / 1000n);

function packageOf(url, functionName) {
  if (!url) {
    if (functionName.startsWith('(')) return functionName; // (garbage collector), (idle), (program), (root)
    return '(native)';
  }
  if (url.startsWith('node:')) return 'node internals';
  const modules = url.lastIndexOf('/node_modules/');
  if (modules >= 0) {
    const rest = url.slice(modules + '/node_modules/'.length).split('/');
    return rest[0].startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0];
  }
  const dist = url.indexOf('/dist/');
  if (dist >= 0)
    return `service: ${
      url
        .slice(dist + '/dist/'.length)
        .split('/')
        .slice(0, -1)
        .join('/') || '.'
    }`;
  return url;
}

/**
 * Self time per function and per package within [fromMicros, toMicros] (monotonic µs; the whole profile when
 * omitted). Returns shares of the window's sampled time.
 */
function analyseProfile(file, { fromMicros, toMicros, top = 20 } = {}) {
  const profile = JSON.parse(readFileSync(file, 'utf8'));
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const selfByFrame = new Map();
  const selfByPackage = new Map();
  let total = 0;
  let time = profile.startTime;
  for (let i = 0; i < profile.samples.length; i++) {
    time += profile.timeDeltas[i];
    if (fromMicros !== undefined && time < fromMicros) continue;
    if (toMicros !== undefined && time > toMicros) break;
    // A sample's delta is the time since the previous one: attribute it to this sample's frame.
    const delta = profile.timeDeltas[i];
    const node = byId.get(profile.samples[i]);
    const { functionName, url, lineNumber } = node.callFrame;
    const name = functionName || '(anonymous)';
    const where = url ? `${url.replace(/^file:\/\//, '').replace(/^.*\/(node_modules|dist)\//, '$1/')}:${lineNumber + 1}` : '';
    const key = `${name} ${where}`.trim();
    selfByFrame.set(key, (selfByFrame.get(key) ?? 0) + delta);
    const pkg = packageOf(url, name);
    selfByPackage.set(pkg, (selfByPackage.get(pkg) ?? 0) + delta);
    total += delta;
  }
  const ranked = (map) =>
    [...map.entries()]
      .sort((a, b) => b[1] - a[1])
      .map(([name, micros]) => ({ name, ms: micros / 1000, share: total > 0 ? micros / total : 0 }));
  const idle = (selfByPackage.get('(idle)') ?? 0) / (total || 1);
  return {
    sampledMs: total / 1000,
    idleShare: idle,
    frames: ranked(selfByFrame).slice(0, top),
    packages: ranked(selfByPackage).slice(0, top),
  };
}

/** The newest .cpuprofile in a folder. */
function newestProfile(dir) {
  const files = readdirSync(dir)
    .filter((f) => f.endsWith('.cpuprofile'))
    .sort();
  if (files.length === 0) throw new Error(`no .cpuprofile in ${dir}`);
  return join(dir, files[files.length - 1]);
}

/** The profile's self time by package and its top frames, as two tables. */
function printProfile(p, { packages = 15 } = {}) {
  printTable(
    'Self time by package',
    ['package', 'ms', 'share'],
    p.packages.slice(0, packages).map((x) => [x.name, x.ms, pct(x.share)]),
  );
  printTable(
    'Top frames (self time)',
    ['frame', 'ms', 'share'],
    p.frames.slice(0, 20).map((x) => [x.name.slice(0, 100), x.ms, pct(x.share)]),
  );
}

module.exports = { analyseProfile, newestProfile, monotonicMicros, printProfile };
