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

const message = (error: unknown) => (error instanceof Error ? error.message : String(error));

async function bootstrap(): Promise<void> {
  const config = readConfig();
  const logger = new AppLogger({ json: config.nodeEnv === 'production', level: config.logLevel });
  Logger.overrideLogger(logger);

  let stack: LocalStack | undefined;
  let app: INestApplication | undefined;
  let started = false;
  let signalledDuringStart = false;
  let stopping: Promise<void> | undefined;

  // The app first (draining, then every shutdown hook, in-flight requests, the pool), the local stack last.
  const stop = (exitCode: number) =>
    (stopping ??= (async () => {
      try {
        if (app) {
          app.get(ShutdownState).draining = true;
          await app.close();
        }
        await stack?.stop();
      } catch (error) {
        logger.error(`Shutdown failed: ${message(error)}`, undefined, 'Bootstrap');
        exitCode = 1;
      }
      process.exit(exitCode);
    })());

  // We own the signals (rather than app.enableShutdownHooks) so that the embedded database stops after the app,
  // and so that a signal during start-up still stops whatever was already started.
  const onSignal = (signal: NodeJS.Signals) => {
    logger.log(`${signal} received: ${started ? 'draining, then shutting down' : 'stopping start-up'}`, 'Bootstrap');
    if (started) void stop(0);
    else signalledDuringStart = true;
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  try {
    stack = await LocalStack.start(config, logger);
    if (signalledDuringStart) return stop(0);
    // abortOnError off: a failure to start must reach the catch below, which stops the local stack.
    app = await NestFactory.create(AppModule.forRoot(stack.config), { logger, bodyParser: false, abortOnError: false });
    setupApp(app, stack.config, logger);
    await app.listen(config.port);
    if (signalledDuringStart) return stop(0);
  } catch (error) {
    process.stderr.write(`Failed to start: ${message(error)}\n`);
    return stop(1);
  }
  started = true;
  logger.log(`Listening on http://localhost:${config.port} (API docs at /docs)`, 'Bootstrap');
  if (!stack.config.publicBaseUrl)
    logger.warn('PUBLIC_BASE_URL is not set: KIE cannot call back; results arrive by polling only', 'Bootstrap');
  if (config.apiKeys.length === 0) logger.warn('API_KEYS is not set: the client API is open to anyone (development only)', 'Bootstrap');
}

bootstrap().catch((error: unknown) => {
  process.stderr.write(`Failed to start: ${message(error)}\n`);
  process.exit(1);
});
