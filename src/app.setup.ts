import { INestApplication, ValidationPipe } from '@nestjs/common';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import { json } from 'express';
import { callbackBodyParser } from './lyrics/callback/callback-body-parser';
import { CALLBACK_ROUTE } from './lyrics/lyrics-routes';

/** Client request bodies: a prompt and at most 4 KiB of metadata, with room to spare. */
const CLIENT_BODY_LIMIT = '64kb';

/**
 * What both the entry point and the tests apply to the app (created with `bodyParser: false`), so that tests
 * exercise the service as it runs.
 */
export function setupApp(app: INestApplication): INestApplication {
  // The callback route keeps its raw bytes (for receipts, and to report unparsable JSON itself); it must come first.
  app.use(`/${CALLBACK_ROUTE}`, callbackBodyParser());
  app.use(json({ limit: CLIENT_BODY_LIMIT }));
  app.useGlobalPipes(new ValidationPipe({ whitelist: true, forbidNonWhitelisted: true, transform: true }));

  const document = SwaggerModule.createDocument(
    app,
    new DocumentBuilder()
      .setTitle('nestjs-kie-lyrics')
      .setDescription("Durable lyrics generation on top of KIE.AI's asynchronous Suno lyrics API.")
      .setVersion('1')
      .build(),
  );
  SwaggerModule.setup('docs', app, document, { jsonDocumentUrl: 'docs-json' });
  return app;
}
