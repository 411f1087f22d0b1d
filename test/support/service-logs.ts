import { LogLevel } from '@nestjs/common';
import { appendFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { stripVTControlCharacters } from 'node:util';
import { AppLogger, LogLevelName } from '../../src/logging/app-logger';

let lastHeading: string | undefined;
/** Known while the test file loads; jest removes `expect` from the globals once the file is done. */
const testPath = expect.getState().testPath ?? 'outside-a-test-file';
let testFileDone = false;
// A hook of the importing test file's root block: once it has run, jest may remove `expect`.
afterAll(() => {
  testFileDone = true;
});

/** This test file's service log: one file per test file, in the run's folder (made by global-setup.ts). */
export function serviceLogFile(): string {
  const dir = process.env.TEST_LOG_DIR;
  if (!dir) throw new Error('TEST_LOG_DIR is not set: run the tests through jest (its global setup sets it)');
  return join(dir, `${basename(testPath)}.log`);
}

/**
 * Appends service output to this test file's log, under a heading naming the test that was running, so that a
 * failure's report (test/support/service-log-reporter.js) shows which test each line came with.
 */
export function appendServiceLog(text: string): void {
  const running = testFileDone ? 'after the test file ended' : (expect.getState().currentTestName ?? 'hooks (beforeAll, afterAll)');
  const heading = `--- ${running} ---\n`;
  const prefix = heading === lastHeading ? '' : heading;
  lastHeading = heading;
  const entry = prefix + stripVTControlCharacters(text);
  try {
    appendFileSync(serviceLogFile(), entry);
  } catch (error) {
    // Output that cannot reach the file (a process outliving its run's folder) is shown rather than lost.
    process.stderr.write(`Service log not written (${error instanceof Error ? error.message : String(error)}):\n${entry}`);
  }
}

/**
 * The service's logger (its format, redaction and request ids) writing to this test file's log instead of stdout:
 * a green run prints jest's report only. Nest's ConsoleLogger writes what formatMessage returns, so it returns ''.
 */
export class FileLogger extends AppLogger {
  constructor(level: LogLevelName = 'warn') {
    super({ json: false, level });
  }

  protected override formatMessage(
    logLevel: LogLevel,
    message: unknown,
    pidMessage: string,
    formattedLogLevel: string,
    contextMessage: string,
    timestampDiff: string,
    params?: Record<string, unknown>,
  ): string {
    appendServiceLog(super.formatMessage(logLevel, message, pidMessage, formattedLogLevel, contextMessage, timestampDiff, params));
    return '';
  }

  protected override printStackTrace(stack: string): void {
    if (stack) appendServiceLog(`${stack}\n`);
  }
}
