import { INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { DataSource } from 'typeorm';
import { AppModule } from '../../src/app.module';
import { setupApp } from '../../src/app.setup';
import { kieAccountsOf, loadConfig } from '../../src/config/app-config';
import { KieSandbox } from '../../src/sandbox/kie-sandbox';
import { createTestDatabase, TestDatabase } from './database';
import { freePort } from './postgres-server';
import { FileLogger } from './service-logs';

export interface TestApp {
  app: INestApplication;
  /** Base URL of the app, listening on a real port of 127.0.0.1 (also its PUBLIC_BASE_URL). */
  url: string;
  database: TestDatabase;
  dataSource: DataSource;
  /** Stops the app (its workers give their leases back) and leaves its database, to look at what it left. */
  shutdown(): Promise<void>;
  /** Stops the app and drops the database it made; a second call does nothing. */
  close(): Promise<void>;
}

export interface TestAppOptions {
  /** Environment variables on top of the test defaults. */
  env?: Record<string, string>;
  /** The KIE the app talks to; without one, KIE_BASE_URL points at a closed port. */
  sandbox?: KieSandbox;
  /** Share another app's database (several instances); by default the app gets a fresh one of its own. */
  database?: TestDatabase;
}

/** Boots the standalone service (as main.ts composes it) on a free port, over HTTP like a client sees it. */
export async function startTestApp(options: TestAppOptions = {}): Promise<TestApp> {
  const database = options.database ?? (await createTestDatabase());
  const port = await freePort();
  const config = loadConfig({
    NODE_ENV: 'test',
    DATABASE_URL: database.url,
    // Several accounts (KIE_API_KEYS) replace the one key.
    ...(options.env?.KIE_API_KEYS === undefined && { KIE_API_KEY: 'test-kie-key' }),
    KIE_BASE_URL: options.sandbox?.url ?? 'http://127.0.0.1:9',
    PUBLIC_BASE_URL: `http://127.0.0.1:${port}`,
    ...options.env,
  });
  // Set on the builder too: what the modules log while they start (a database that will not connect) goes to the file.
  const logger = new FileLogger('warn');
  const moduleRef = await Test.createTestingModule({
    imports: [
      AppModule.forRoot({
        ...config,
        database: { ...config.database, url: database.url },
        kie: { ...config.kie, accounts: kieAccountsOf(config.kie) },
      }),
    ],
  })
    .setLogger(logger)
    .compile();
  const app = setupApp(moduleRef.createNestApplication({ bodyParser: false, logger }), config, logger);
  await app.listen(port, '127.0.0.1');
  let stopped: Promise<void> | undefined;
  let closed: Promise<void> | undefined;
  const shutdown = () => (stopped ??= app.close());
  return {
    app,
    url: `http://127.0.0.1:${port}`,
    database,
    dataSource: app.get(DataSource),
    shutdown,
    close: () =>
      (closed ??= (async () => {
        await shutdown();
        if (!options.database) await database.drop();
      })()),
  };
}
