import { Environment, NodeEnv, validateEnvironment } from './environment';

/** The service's configuration, typed and grouped; built once from the environment at start. */
export interface AppConfig {
  nodeEnv: NodeEnv;
  port: number;
  database: {
    /** Unset outside production: the entry point starts an embedded PostgreSQL and fills this in. */
    url?: string;
    migrationsRun: boolean;
    embedded: { dir: string; port: number };
  };
  kie: {
    apiKey?: string;
    baseUrl: string;
    timeoutMs: number;
    webhookHmacKey?: string;
  };
  publicBaseUrl?: string;
  apiKeys: string[];
}

export function toAppConfig(env: Environment): AppConfig {
  return {
    nodeEnv: env.NODE_ENV,
    port: env.PORT,
    database: {
      url: env.DATABASE_URL,
      migrationsRun: env.DATABASE_MIGRATIONS_RUN,
      embedded: { dir: env.EMBEDDED_POSTGRES_DIR, port: env.EMBEDDED_POSTGRES_PORT },
    },
    kie: {
      apiKey: env.KIE_API_KEY,
      baseUrl: env.KIE_BASE_URL.replace(/\/+$/, ''),
      timeoutMs: env.KIE_TIMEOUT_MS,
      webhookHmacKey: env.KIE_WEBHOOK_HMAC_KEY,
    },
    publicBaseUrl: env.PUBLIC_BASE_URL?.replace(/\/+$/, ''),
    apiKeys: (env.API_KEYS ?? '')
      .split(',')
      .map((key) => key.trim())
      .filter((key) => key.length > 0),
  };
}

/** Validates `raw` (normally `process.env`) and returns the typed configuration; throws ConfigError. */
export function loadConfig(raw: Record<string, string | undefined>): AppConfig {
  return toAppConfig(validateEnvironment(raw));
}
