import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { startTestServer } from './postgres-server';

const DAY_MS = 24 * 60 * 60 * 1000;

export default async function globalSetup(): Promise<void> {
  const server = await startTestServer();
  (globalThis as { testServer?: unknown }).testServer = server;
  // Workers start after this and inherit the environment.
  process.env.TEST_DATABASE_ADMIN_URL = server.adminUrl;
  process.env.TEST_DATABASE_TEMPLATE = server.template;
  process.env.TEST_LOG_DIR = serviceLogFolder();
}

/**
 * A folder of this run's own for the service logs (other runs in the same checkout may be writing theirs). A failed
 * run keeps its folder for reading; folders of runs older than a day are removed here.
 */
function serviceLogFolder(): string {
  const logs = join(__dirname, '..', '..', '.data', 'test-logs');
  mkdirSync(logs, { recursive: true });
  for (const name of readdirSync(logs)) {
    const folder = join(logs, name);
    // Another run may remove its own folder meanwhile.
    const modifiedAt = statSync(folder, { throwIfNoEntry: false })?.mtimeMs ?? Date.now();
    if (name.startsWith('run-') && Date.now() - modifiedAt > DAY_MS) rmSync(folder, { recursive: true, force: true });
  }
  return mkdtempSync(join(logs, 'run-'));
}
