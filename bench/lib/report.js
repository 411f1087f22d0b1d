'use strict';
// Printing (readable tables) and saving (bench/results/<name>-<timestamp>.json) of benchmark results, with a
// description of the machine they were measured on.
const { execFileSync } = require('node:child_process');
const { mkdirSync, readFileSync, writeFileSync } = require('node:fs');
const os = require('node:os');
const { join } = require('node:path');

const RESULTS_DIR = join(__dirname, '..', 'results');

/** Formats a number for a table: ms with 1-2 decimals, ratios with 2, big counts with thousands separators. */
function fmt(value, digits) {
  if (value === null || value === undefined || Number.isNaN(value)) return '-';
  if (typeof value !== 'number') return String(value);
  if (digits !== undefined) return value.toFixed(digits);
  if (Number.isInteger(value)) return value.toLocaleString('en-US');
  if (Math.abs(value) >= 100) return value.toFixed(0);
  if (Math.abs(value) >= 10) return value.toFixed(1);
  return value.toFixed(2);
}

const pct = (share) => (share === null || share === undefined ? '-' : `${(share * 100).toFixed(1)}%`);

/** Prints rows (arrays of cells) under a title, columns padded to fit. */
function printTable(title, header, rows) {
  const cells = [header, ...rows].map((row) => row.map((cell) => (typeof cell === 'string' ? cell : fmt(cell))));
  const widths = header.map((_, i) => Math.max(...cells.map((row) => (row[i] ?? '').length)));
  const line = (row) => row.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]) : cell.padStart(widths[i]))).join('  ');
  console.log(`\n${title}`);
  console.log(line(cells[0]));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const row of cells.slice(1)) console.log(line(row));
}

/** Prints target checks: [description, measured, met]. */
function printTargets(targets) {
  printTable(
    'Targets',
    ['target', 'measured', 'met'],
    targets.map((t) => [t.target, t.measured, t.met === null ? 'n/a' : t.met ? 'yes' : 'MISSED']),
  );
}

function safeExec(file, args) {
  try {
    return execFileSync(file, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return null;
  }
}

/** nproc, memory, CPU model, Node and PostgreSQL versions, load average at the time. */
function machineInfo(postgresVersion) {
  let cpuModel = null;
  try {
    cpuModel = /model name\s*:\s*(.*)/.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? null;
  } catch {
    // not Linux
  }
  return {
    nproc: Number(safeExec('nproc', [])) || os.cpus().length,
    memoryMiB: Math.round(os.totalmem() / 1048576),
    cpuModel,
    node: process.version,
    postgres: postgresVersion ?? null,
    kernel: os.release(),
    loadAverage: os.loadavg().map((v) => Number(v.toFixed(2))),
  };
}

/** Writes bench/results/<name>-<timestamp>.json and returns its path. */
function saveResults(name, results) {
  mkdirSync(RESULTS_DIR, { recursive: true });
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const file = join(RESULTS_DIR, `${name}-${stamp}.json`);
  writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);
  console.log(`\nResults written to ${file}`);
  return file;
}

/** A small --flag value / --flag=value / --bool parser, with defaults and types from `spec`. */
function parseFlags(spec, argv = process.argv.slice(2)) {
  const values = {};
  for (const [name, { default: fallback }] of Object.entries(spec)) values[name] = fallback;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--help' || arg === '-h') {
      console.log('Flags:');
      for (const [name, { default: fallback, help }] of Object.entries(spec)) console.log(`  --${name} (default ${fallback}): ${help}`);
      process.exit(0);
    }
    const match = /^--([^=]+)(?:=(.*))?$/.exec(arg);
    if (!match || !(match[1] in spec)) throw new Error(`unknown flag ${arg} (try --help)`);
    const name = match[1];
    const type = typeof spec[name].default;
    if (type === 'boolean') {
      values[name] = match[2] === undefined ? true : match[2] !== 'false';
      continue;
    }
    const raw = match[2] ?? argv[++i];
    if (raw === undefined) throw new Error(`--${name} needs a value`);
    if (type === 'number') {
      const number = Number(raw);
      if (!Number.isFinite(number)) throw new Error(`--${name} must be a number, got "${raw}"`);
      values[name] = number;
    } else {
      values[name] = raw;
    }
  }
  return values;
}

module.exports = { fmt, pct, printTable, printTargets, machineInfo, saveResults, parseFlags, RESULTS_DIR };
