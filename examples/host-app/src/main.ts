import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { AppModule } from './app.module';

async function bootstrap(): Promise<void> {
  const app = await NestFactory.create(AppModule);
  app.enableShutdownHooks(); // SIGTERM: the module finishes its work in flight and hands back its claims
  await app.listen(Number(process.env.PORT ?? 3000));
  Logger.log(`Listening on ${await app.getUrl()}`, 'HostApp');
}

void bootstrap();
