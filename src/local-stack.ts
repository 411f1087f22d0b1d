import { LoggerService } from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import { ResolvedAppConfig } from './app.module';
import { AppConfig, kieAccountsOf } from './config/app-config';
import { EmbeddedPostgres } from './database/embedded-postgres';
import { KieSandbox } from './sandbox/kie-sandbox';

/**
 * The stand-ins a development run uses for what production configures: an embedded PostgreSQL when DATABASE_URL
 * is unset, and the KIE sandbox when neither KIE_API_KEY nor KIE_API_KEYS is set. Production (validated earlier) never gets here
 * without both.
 */
export class LocalStack {
  private constructor(
    readonly config: ResolvedAppConfig,
    private readonly database: EmbeddedPostgres | undefined,
    private readonly sandbox: KieSandbox | undefined,
  ) {}

  static async start(config: AppConfig, logger: LoggerService): Promise<LocalStack> {
    let database: EmbeddedPostgres | undefined;
    let sandbox: KieSandbox | undefined;
    try {
      if (!config.database.url) {
        database = await EmbeddedPostgres.start({
          dataDir: config.database.embedded.dir,
          port: config.database.embedded.port,
          database: 'lyrics',
          log: (line) => logger.log(line, 'LocalStack'),
        });
        logger.log(`Embedded PostgreSQL at ${database.url} (data: ${database.dataDir}, log: ${database.logFile})`, 'LocalStack');
      }
      let kie = config.kie;
      let publicBaseUrl = config.publicBaseUrl;
      if (!config.kie.apiKey && !config.kie.accounts) {
        // Both sides of a local run share made-up secrets, so the default run shows signed callbacks.
        const apiKey = `sandbox-${randomBytes(12).toString('hex')}`;
        const webhookHmacKey = config.kie.webhookHmacKey ?? randomBytes(24).toString('base64url');
        // The sandbox plays the route the service speaks; on the Jobs route it posts both callback shapes, in turn.
        sandbox = await KieSandbox.start({
          apiKeys: [apiKey],
          hmacKey: webhookHmacKey,
          route: config.kie.route,
          jobsCallbackShape: 'alternate',
        });
        kie = { ...config.kie, apiKey, baseUrl: sandbox.url, webhookHmacKey };
        publicBaseUrl ??= `http://127.0.0.1:${config.port}`;
        logger.log(
          `KIE_API_KEY is not set: using the built-in KIE sandbox at ${sandbox.url} on the ${config.kie.route} route (no real lyrics, no credits spent); callbacks go to ${publicBaseUrl}`,
          'LocalStack',
        );
      }
      const databaseUrl = config.database.url ?? database!.url;
      return new LocalStack(
        { ...config, database: { ...config.database, url: databaseUrl }, kie: { ...kie, accounts: kieAccountsOf(kie) }, publicBaseUrl },
        database,
        sandbox,
      );
    } catch (error) {
      await sandbox?.stop();
      await database?.stop();
      throw error;
    }
  }

  /** After the app has closed: the sandbox, then the database. */
  async stop(): Promise<void> {
    await this.sandbox?.stop();
    await this.database?.stop();
  }
}
