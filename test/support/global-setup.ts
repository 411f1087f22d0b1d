import { startTestServer } from './postgres-server';

export default async function globalSetup(): Promise<void> {
  const server = await startTestServer();
  (globalThis as { testServer?: unknown }).testServer = server;
  // Workers start after this and inherit the environment.
  process.env.TEST_DATABASE_ADMIN_URL = server.adminUrl;
  process.env.TEST_DATABASE_TEMPLATE = server.template;
}
