import { INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { AppModule } from '../../src/app.module';
import { setupApp } from '../../src/app.setup';
import { loadConfig } from '../../src/config/app-config';
import { createTestDatabase, TestDatabase } from './database';

export interface TestApp {
  app: INestApplication;
  /** Base URL of the app, listening on a real port of 127.0.0.1. */
  url: string;
  database: TestDatabase;
  close(): Promise<void>;
}

/** Boots the standalone service (as main.ts composes it) on its own fresh database and a free port. */
export async function startTestApp(env: Record<string, string> = {}): Promise<TestApp> {
  const database = await createTestDatabase();
  const config = loadConfig({ NODE_ENV: 'test', DATABASE_URL: database.url, ...env });
  const moduleRef = await Test.createTestingModule({
    imports: [AppModule.forRoot({ ...config, database: { ...config.database, url: database.url } })],
  }).compile();
  const app = setupApp(moduleRef.createNestApplication({ rawBody: true, logger: ['error', 'warn'] }));
  await app.listen(0, '127.0.0.1');
  const address = app.getHttpServer().address();
  return {
    app,
    url: `http://127.0.0.1:${address.port}`,
    database,
    close: async () => {
      await app.close();
      await database.drop();
    },
  };
}
