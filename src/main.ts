import { ConsoleLogger, Logger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { existsSync } from 'node:fs';
import { AppModule } from './app.module';
import { setupApp } from './app.setup';
import { AppConfig, loadConfig } from './config/app-config';
import { ConfigError } from './config/environment';
import { EmbeddedPostgres } from './database/embedded-postgres';

function readConfig(): AppConfig {
  if (existsSync('.env')) process.loadEnvFile('.env');
  try {
    return loadConfig(process.env);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    // One line, no stack trace: the message names every wrong variable and never its value.
    process.stderr.write(`${error.message}\n`);
    process.exit(1);
  }
}

async function bootstrap(): Promise<void> {
  const config = readConfig();
  const logger = new ConsoleLogger('Bootstrap', { json: config.nodeEnv === 'production' });
  Logger.overrideLogger(logger);

  let embedded: EmbeddedPostgres | undefined;
  if (!config.database.url) {
    embedded = await EmbeddedPostgres.start({
      dataDir: config.database.embedded.dir,
      port: config.database.embedded.port,
      database: 'lyrics',
      log: (line) => logger.log(line),
    });
    logger.log(`Embedded PostgreSQL at ${embedded.url} (data: ${embedded.dataDir}, log: ${embedded.logFile})`);
  }
  const databaseUrl = config.database.url ?? embedded!.url;

  let app;
  try {
    app = await NestFactory.create(AppModule.forRoot({ ...config, database: { ...config.database, url: databaseUrl } }), {
      logger,
      rawBody: true,
    });
    setupApp(app);
    await app.listen(config.port);
  } catch (error) {
    await embedded?.stop();
    throw error;
  }
  logger.log(`Listening on http://localhost:${config.port} (API docs at /docs)`);

  // We own the signals (rather than app.enableShutdownHooks) so that the embedded database stops only after
  // app.close() has run every shutdown hook, let in-flight requests finish and closed the pool.
  let stopping = false;
  const shutdown = async (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    logger.log(`${signal} received: shutting down`);
    try {
      await app.close();
      await embedded?.stop();
      process.exit(0);
    } catch (error) {
      logger.error(`Shutdown failed: ${error instanceof Error ? error.message : String(error)}`);
      process.exit(1);
    }
  };
  process.once('SIGINT', shutdown);
  process.once('SIGTERM', shutdown);
}

bootstrap().catch((error: unknown) => {
  process.stderr.write(`Failed to start: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
