import { stopTestServer, TestServer } from './postgres-server';

export default async function globalTeardown(): Promise<void> {
  const server = (globalThis as { testServer?: TestServer }).testServer;
  if (server) await stopTestServer(server);
}
