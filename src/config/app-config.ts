import { LyricsModuleOptions } from '../lyrics/lyrics.options';
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
    /** Unset outside production: the entry point starts the sandbox and fills this in. */
    apiKey?: string;
    baseUrl: string;
    timeoutMs: number;
    connectTimeoutMs?: number;
    webhookHmacKey?: string;
  };
  publicBaseUrl?: string;
  apiKeys: string[];
  /** LYRICS_* tuning; unset fields take the module's defaults. */
  lyrics: Omit<LyricsModuleOptions, 'kie' | 'publicBaseUrl'>;
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
      connectTimeoutMs: env.KIE_CONNECT_TIMEOUT_MS,
      webhookHmacKey: env.KIE_WEBHOOK_HMAC_KEY,
    },
    publicBaseUrl: env.PUBLIC_BASE_URL?.replace(/\/+$/, ''),
    apiKeys: (env.API_KEYS ?? '')
      .split(',')
      .map((key) => key.trim())
      .filter((key) => key.length > 0),
    lyrics: {
      promptMaxChars: env.LYRICS_PROMPT_MAX_CHARS,
      createBudget: env.LYRICS_CREATE_BUDGET,
      createWindowMs: env.LYRICS_CREATE_WINDOW_MS,
      leaseMs: env.LYRICS_LEASE_MS,
      dispatchIntervalMs: env.LYRICS_DISPATCH_INTERVAL_MS,
      dispatchConcurrency: env.LYRICS_DISPATCH_CONCURRENCY,
      createRetryBaseMs: env.LYRICS_CREATE_RETRY_BASE_MS,
      createRetryMaxMs: env.LYRICS_CREATE_RETRY_MAX_MS,
      pollInitialDelayMs: env.LYRICS_POLL_INITIAL_DELAY_MS,
      pollIntervalMs: env.LYRICS_POLL_INTERVAL_MS,
      pollMaxIntervalMs: env.LYRICS_POLL_MAX_INTERVAL_MS,
      pollBudget: env.LYRICS_POLL_BUDGET,
      pollWindowMs: env.LYRICS_POLL_WINDOW_MS,
      pollConcurrency: env.LYRICS_POLL_CONCURRENCY,
      taskMaxAgeMs: env.LYRICS_TASK_MAX_AGE_MS,
      shutdownGraceMs: env.LYRICS_SHUTDOWN_GRACE_MS,
      signatureToleranceSeconds: env.LYRICS_SIGNATURE_TOLERANCE_S,
      confirmCallbacks: env.LYRICS_CONFIRM_CALLBACKS,
      receiptRetentionDays: env.LYRICS_RECEIPT_RETENTION_DAYS,
    },
  };
}

/** Validates `raw` (normally `process.env`) and returns the typed configuration; throws ConfigError. */
export function loadConfig(raw: Record<string, string | undefined>): AppConfig {
  return toAppConfig(validateEnvironment(raw));
}
