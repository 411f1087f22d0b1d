import { ApiClient, parseApiKeys } from './api-keys';
import { LogLevelName } from '../logging/app-logger';
import { DEFAULT_KIE_ACCOUNT, KieAccountOptions, KieApiRoute, LyricsTuningOptions, WebhookOptions } from '../lyrics';
import { parseKieAccounts } from './kie-accounts';
import { NodeEnv, validateEnvironment, ValidatedEnvironment } from './environment';
import { lyricsOptionsFrom } from './lyrics-environment';

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
    /**
     * KIE_API_KEY, one account; unset (and no accounts) outside production: the entry point starts the sandbox and
     * fills this in.
     */
    apiKey?: string;
    /** KIE_API_KEYS with KIE_WEBHOOK_HMAC_KEYS: several accounts, instead of apiKey and webhookHmacKey. */
    accounts?: KieAccountOptions[];
    baseUrl: string;
    /** Which of KIE's APIs carries the lyrics tasks (KIE_API_ROUTE). */
    route: KieApiRoute;
    timeoutMs: number;
    connectTimeoutMs?: number;
    webhookHmacKey?: string;
  };
  publicBaseUrl?: string;
  /** Our clients and their keys (API_KEYS); empty: the client API is open and every caller is `anonymous`. */
  apiKeys: ApiClient[];
  logLevel: LogLevelName;
  http: {
    /** Client API requests allowed per client key (or address) per window. */
    throttleLimit: number;
    throttleTtlMs: number;
    /** Origins allowed by CORS; empty: CORS off. */
    corsOrigins: string[];
    /** Express's `trust proxy`, when behind a gateway; undefined: not trusted. */
    trustProxy: boolean | number | string | undefined;
    /** Failed client authentications allowed per address per window, before that address is refused (429). */
    authFailureLimit: number;
    authFailureWindowMs: number;
  };
  /** Serve /metrics on this port only (unauthenticated, for a private network); unset: on PORT, behind API_KEYS. */
  metricsPort?: number;
  health: {
    /** Readiness also requires KIE's credits at or above this (checked through the credits endpoint); unset: not checked. */
    kieMinCredits?: number;
    kieCacheMs: number;
  };
  /** LYRICS_* tuning; unset fields take the module's defaults. */
  lyrics: LyricsTuningOptions;
  /** Client webhooks: public https destinations only in production; the retry schedule and exempt hosts as set. */
  webhooks: WebhookOptions;
}

function splitList(value: string | undefined): string[] {
  return (value ?? '')
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item.length > 0);
}

/** Express's `trust proxy`: true/false, a hop count, or addresses and subnets (kept as given). */
function parseTrustProxy(value: string | undefined): boolean | number | string | undefined {
  if (value === undefined) return undefined;
  if (/^(true|false)$/i.test(value)) return value.toLowerCase() === 'true';
  return /^\d+$/.test(value) ? Number(value) : value;
}

export function toAppConfig(env: ValidatedEnvironment): AppConfig {
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
      accounts: env.KIE_API_KEYS === undefined ? undefined : parseKieAccounts(env.KIE_API_KEYS, env.KIE_WEBHOOK_HMAC_KEYS).accounts,
      baseUrl: env.KIE_BASE_URL.replace(/\/+$/, ''),
      route: env.KIE_API_ROUTE,
      timeoutMs: env.KIE_TIMEOUT_MS,
      connectTimeoutMs: env.KIE_CONNECT_TIMEOUT_MS,
      webhookHmacKey: env.KIE_WEBHOOK_HMAC_KEY,
    },
    publicBaseUrl: env.PUBLIC_BASE_URL?.replace(/\/+$/, ''),
    apiKeys: parseApiKeys(env.API_KEYS, env.NODE_ENV === 'production').clients,
    logLevel: env.LOG_LEVEL,
    http: {
      throttleLimit: env.THROTTLE_LIMIT ?? 1000,
      throttleTtlMs: env.THROTTLE_TTL_MS ?? 10000,
      corsOrigins: splitList(env.CORS_ORIGINS),
      trustProxy: parseTrustProxy(env.TRUST_PROXY),
      authFailureLimit: env.AUTH_FAILURE_LIMIT ?? 20,
      authFailureWindowMs: env.AUTH_FAILURE_WINDOW_MS ?? 60000,
    },
    metricsPort: env.METRICS_PORT,
    health: { kieMinCredits: env.HEALTH_KIE_MIN_CREDITS, kieCacheMs: env.HEALTH_KIE_CACHE_MS ?? 60000 },
    lyrics: lyricsOptionsFrom(env),
    webhooks: {
      publicOnly: env.NODE_ENV === 'production',
      retryMs: env.LYRICS_WEBHOOK_RETRY_MS === undefined ? undefined : splitList(env.LYRICS_WEBHOOK_RETRY_MS).map(Number),
      allowedHosts: splitList(env.LYRICS_WEBHOOK_ALLOWED_HOSTS),
    },
  };
}

/** KIE_API_KEYS's accounts, or the one account of KIE_API_KEY (named as the module names a single key's account). */
export function kieAccountsOf(kie: AppConfig['kie']): KieAccountOptions[] {
  if (kie.accounts) return kie.accounts;
  if (!kie.apiKey) throw new Error('No KIE account: neither KIE_API_KEY nor KIE_API_KEYS is set');
  return [{ name: DEFAULT_KIE_ACCOUNT, apiKey: kie.apiKey, webhookHmacKey: kie.webhookHmacKey }];
}

/** Validates `raw` (normally `process.env`) and returns the typed configuration; throws ConfigError. */
export function loadConfig(raw: Record<string, string | undefined>): AppConfig {
  return toAppConfig(validateEnvironment(raw));
}
