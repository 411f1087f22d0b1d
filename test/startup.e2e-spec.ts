import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isProcessAlive } from '../src/database/embedded-postgres';
import { freePort } from './support/postgres-server';
import { ServiceProcess } from './support/service-process';

describe('starting the service (node dist/main.js, as npm start runs it)', () => {
  it('refuses to start in production without DATABASE_URL, in one line naming it', async () => {
    const service = ServiceProcess.start({ NODE_ENV: 'production', KIE_API_KEY: 'k', API_KEYS: 'a' });
    expect(await service.exitCode()).toBe(1);
    expect(service.logs.trim()).toBe(
      'Invalid configuration: DATABASE_URL is required when NODE_ENV=production',
    );
  });

  it('refuses a malformed value, naming the variable', async () => {
    const service = ServiceProcess.start({ PORT: 'eighty' });
    expect(await service.exitCode()).toBe(1);
    expect(service.logs.trim()).toBe('Invalid configuration: PORT must be an integer number');
  });

  it('with nothing configured, runs on an embedded PostgreSQL and stops it on SIGINT', async () => {
    const workDir = mkdtempSync(join(tmpdir(), 'kie-lyrics-start-'));
    chmodSync(workDir, 0o755); // run as root, the server runs as the postgres user, which must reach it
    const dataDir = join(workDir, 'postgres');
    const port = await freePort();
    const service = ServiceProcess.start({
      PORT: String(port),
      EMBEDDED_POSTGRES_DIR: dataDir,
      EMBEDDED_POSTGRES_PORT: String(await freePort()),
    });
    try {
      await service.waitForHealthy(`http://127.0.0.1:${port}`);
      const postmasterPid = Number(readFileSync(join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
      expect(isProcessAlive(postmasterPid)).toBe(true);
      expect(service.logs).toContain(`Embedded PostgreSQL at postgres://`);
      expect(service.logs).toContain(join(dataDir, 'server.log'));

      expect(await service.stop('SIGINT')).toBe(0);
      expect(isProcessAlive(postmasterPid)).toBe(false);
      expect(existsSync(join(dataDir, 'postmaster.pid'))).toBe(false);
      expect(existsSync(join(dataDir, 'PG_VERSION'))).toBe(true);
    } finally {
      await service.stop('SIGKILL');
      rmSync(workDir, { recursive: true, force: true });
    }
  });
});
