import { INestApplication, LoggerService, ValidationPipe } from '@nestjs/common';
import { NestExpressApplication } from '@nestjs/platform-express';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import { json } from 'express';
import helmet from 'helmet';
import { AppConfig } from './config/app-config';
import { refuseWhileDraining, ShutdownState } from './lifecycle/shutdown-state';
import { requestContext } from './logging/request-context';
import { CALLBACK_ROUTE, callbackBodyParser } from './lyrics';
import { MetricsService } from './metrics/metrics.service';

/** Client request bodies: a prompt and at most 4 KiB of metadata, with room to spare. */
const CLIENT_BODY_LIMIT = '64kb';

/**
 * What both the entry point and the tests apply to the app (created with `bodyParser: false`), so that tests
 * exercise the service as it runs. Order matters: request id first (every later line carries it), then the drain
 * check, security headers, metrics, and the body parsers (the callback route's first).
 */
export function setupApp(app: INestApplication, config: AppConfig, logger: LoggerService): INestApplication {
  const express = app as NestExpressApplication;
  if (config.http.trustProxy !== undefined) express.set('trust proxy', config.http.trustProxy);
  express.disable('x-powered-by');
  app.use(requestContext(logger));
  app.use(refuseWhileDraining(app.get(ShutdownState)));
  // upgrade-insecure-requests would send a plain-HTTP deployment's Swagger UI assets to https and break /docs.
  app.use(helmet({ contentSecurityPolicy: { directives: { upgradeInsecureRequests: null } } }));
  if (config.http.corsOrigins.length > 0) app.enableCors({ origin: config.http.corsOrigins });
  app.use(app.get(MetricsService).httpMiddleware());
  app.use(`/${CALLBACK_ROUTE}`, callbackBodyParser());
  app.use(json({ limit: CLIENT_BODY_LIMIT }));
  app.useGlobalPipes(new ValidationPipe({ whitelist: true, forbidNonWhitelisted: true, transform: true }));

  const document = SwaggerModule.createDocument(
    app,
    new DocumentBuilder()
      .setTitle('nestjs-kie-lyrics')
      .setDescription("Durable lyrics generation on top of KIE.AI's asynchronous Suno lyrics API.")
      .setVersion('1')
      .addBearerAuth({
        type: 'http',
        scheme: 'bearer',
        bearerFormat: 'opaque API key',
        description: 'One of the keys in API_KEYS, an opaque string; it names the client that owns the tasks it submits',
      })
      .build(),
  );
  SwaggerModule.setup('docs', app, document, { jsonDocumentUrl: 'docs-json' });
  return app;
}
