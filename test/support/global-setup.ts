import { mkdirSync, mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { startTestServer } from './postgres-server';

export default async function globalSetup(): Promise<void> {
  const server = await startTestServer();
  (globalThis as { testServer?: unknown }).testServer = server;
  // Workers start after this and inherit the environment.
  process.env.TEST_DATABASE_ADMIN_URL = server.adminUrl;
  process.env.TEST_DATABASE_TEMPLATE = server.template;
  // A folder of this run's own: other runs in the same checkout may be writing theirs at the same time.
  const logs = join(__dirname, '..', '..', '.data', 'test-logs');
  mkdirSync(logs, { recursive: true });
  process.env.TEST_LOG_DIR = mkdtempSync(join(logs, 'run-'));
}
