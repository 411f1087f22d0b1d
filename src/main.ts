import { INestApplication, Logger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { existsSync } from 'node:fs';
import { AppModule } from './app.module';
import { setupApp } from './app.setup';
import { AppConfig, loadConfig } from './config/app-config';
import { ConfigError } from './config/environment';
import { ShutdownState } from './lifecycle/shutdown-state';
import { LocalStack } from './local-stack';
import { AppLogger } from './logging/app-logger';

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
  const logger = new AppLogger({ json: config.nodeEnv === 'production', level: config.logLevel });
  Logger.overrideLogger(logger);

  const stack = await LocalStack.start(config, logger);
  let app: INestApplication;
  try {
    app = await NestFactory.create(AppModule.forRoot(stack.config), { logger, bodyParser: false });
    setupApp(app, stack.config, logger);
    await app.listen(config.port);
  } catch (error) {
    await stack.stop();
    throw error;
  }
  logger.log(`Listening on http://localhost:${config.port} (API docs at /docs)`, 'Bootstrap');
  if (!stack.config.publicBaseUrl) logger.warn('PUBLIC_BASE_URL is not set: KIE cannot call back; results arrive by polling only', 'Bootstrap');
  if (config.apiKeys.length === 0) logger.warn('API_KEYS is not set: the client API is open to anyone (development only)', 'Bootstrap');

  // We own the signals (rather than app.enableShutdownHooks) so that the local stack stops only after
  // app.close() has run every shutdown hook, let in-flight requests finish and closed the pool.
  let stopping = false;
  const shutdown = async (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    logger.log(`${signal} received: draining, then shutting down`, 'Bootstrap');
    app.get(ShutdownState).draining = true;
    try {
      await app.close();
      await stack.stop();
      process.exit(0);
    } catch (error) {
      logger.error(`Shutdown failed: ${error instanceof Error ? error.message : String(error)}`, undefined, 'Bootstrap');
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
