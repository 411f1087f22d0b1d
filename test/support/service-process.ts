import { ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { appendServiceLog } from './service-logs';
import { waitFor } from './wait';

const root = join(__dirname, '..', '..');

/**
 * The built service (`node dist/main.js`, what `npm start` runs) as a child process. Its output is kept for the test
 * (`logs`, and the errors of waitForHealthy and exitCode) and copied, line by line, to the test file's service log.
 */
export class ServiceProcess {
  private output = '';
  /** The output's last line while it is incomplete, held back from the service log. */
  private partialLine = '';
  private readonly exited: Promise<number | null>;

  private constructor(readonly child: ChildProcess) {
    child.stdout?.on('data', (chunk: Buffer) => this.record(chunk.toString()));
    child.stderr?.on('data', (chunk: Buffer) => this.record(chunk.toString()));
    this.exited = once(child, 'exit').then(([code, signal]) => {
      this.record(`${this.partialLine === '' ? '' : '\n'}exited with ${signal ?? code}\n`, false);
      return code as number | null;
    });
  }

  private record(text: string, keep = true): void {
    if (keep) this.output += text;
    const lines = (this.partialLine + text).split('\n');
    this.partialLine = lines.pop()!;
    if (lines.length > 0) appendServiceLog(lines.map((line) => `[service ${this.child.pid}] ${line}\n`).join(''));
  }

  /** Starts the service with exactly `env` (plus PATH and HOME): nothing leaks in from the test's own environment. */
  static start(env: Record<string, string>): ServiceProcess {
    const child = spawn(process.execPath, [join(root, 'dist', 'main.js')], {
      cwd: root,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    return new ServiceProcess(child);
  }

  get logs(): string {
    return this.output;
  }

  exitCode(timeoutMs = 30000): Promise<number | null> {
    return Promise.race([
      this.exited,
      new Promise<never>((_, reject) =>
        setTimeout(() => reject(new Error(`service did not exit within ${timeoutMs} ms:\n${this.output}`)), timeoutMs).unref(),
      ),
    ]);
  }

  /** Waits for /health to answer 200; fails, with the output so far, as soon as the service exits or at the deadline. */
  async waitForHealthy(baseUrl: string, timeoutMs = 60000): Promise<void> {
    const outcome = await waitFor(
      `${baseUrl}/health to answer 200`,
      async () => {
        if (this.child.exitCode !== null || this.child.signalCode !== null) return 'exited';
        const response = await fetch(`${baseUrl}/health`).catch(() => undefined);
        return response?.status === 200 && 'healthy';
      },
      { timeoutMs, intervalMs: 200 },
    ).catch((error: Error) => {
      throw new Error(`${error.message}; the service's output:\n${this.output}`);
    });
    if (outcome === 'exited') {
      throw new Error(`service exited with ${this.child.exitCode ?? this.child.signalCode} before /health answered:\n${this.output}`);
    }
  }

  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
    if (this.child.exitCode === null) this.child.kill(signal);
    return this.exitCode();
  }
}
