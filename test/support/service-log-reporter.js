const { existsSync, readFileSync, rmSync } = require('node:fs');
const { basename, join, relative } = require('node:path');

/** The most lines of one file's log printed under a failure; the whole log stays on disk. */
const MAX_LINES = 300;

/**
 * Shows the service logs (test/support/service-logs.ts writes one file per test file) of each test file that failed,
 * or of every test file with TEST_LOGS=1, after jest's report of that file. A green run prints the report only and
 * removes its logs; any other run keeps them and names their folder.
 */
class ServiceLogReporter {
  constructor(globalConfig) {
    this.rootDir = globalConfig.rootDir;
    this.always = process.env.TEST_LOGS === '1';
  }

  onTestResult(test, result) {
    const failed = result.numFailingTests > 0 || result.testExecError !== undefined;
    if (!failed && !this.always) return;
    const file = join(process.env.TEST_LOG_DIR, `${basename(test.path)}.log`);
    const name = relative(this.rootDir, test.path);
    if (!existsSync(file)) {
      process.stderr.write(`\nNo service logs for ${name}.\n`);
      return;
    }
    const lines = readFileSync(file, 'utf8').trimEnd().split('\n');
    const shown = lines.slice(-MAX_LINES);
    const omitted = lines.length > shown.length ? `, its last ${shown.length} of ${lines.length} lines` : '';
    process.stderr.write(`\nService logs of ${name} (${relative(this.rootDir, file)}${omitted}):\n${shown.join('\n')}\n`);
  }

  onRunComplete(_contexts, results) {
    const dir = process.env.TEST_LOG_DIR;
    if (!dir || !existsSync(dir)) return;
    // results.success is only set after the reporters have run.
    const green = results.numFailedTests === 0 && results.numRuntimeErrorTestSuites === 0 && !results.runExecError;
    if (green && !this.always) rmSync(dir, { recursive: true, force: true });
    else process.stderr.write(`\nService logs of this run: ${relative(this.rootDir, dir)}\n`);
  }
}

module.exports = ServiceLogReporter;
