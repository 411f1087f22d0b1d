import 'reflect-metadata';
import { parseApiKeys } from './api-keys';
import { parseKieAccounts } from './kie-accounts';
import { plainToInstance, Transform, Type } from 'class-transformer';
import { LOG_LEVELS, LogLevelName } from '../logging/app-logger';
import { LyricsEnvironment, readLyricsEnvironment } from './lyrics-environment';
import { KIE_API_ROUTES, KieApiRoute } from '../lyrics';
import { IsIn, IsInt, IsNotEmpty, IsOptional, IsString, IsUrl, Matches, Max, Min, ValidateIf, validateSync } from 'class-validator';

const NODE_ENVS = ['development', 'production', 'test'] as const;
export type NodeEnv = (typeof NODE_ENVS)[number];

const isProduction = (env: Environment): boolean => env.NODE_ENV === 'production';

/** Reads "true"/"false"/"1"/"0" (any case); anything else is left as is so that validation names it. */
const toBoolean = ({ value }: { value: unknown }): unknown => {
  if (typeof value !== 'string') return value;
  const normalised = value.trim().toLowerCase();
  if (normalised === 'true' || normalised === '1') return true;
  if (normalised === 'false' || normalised === '0') return false;
  return value;
};

const emptyToUndefined = ({ value }: { value: unknown }): unknown => (typeof value === 'string' && value.trim() === '' ? undefined : value);

/** An optional whole number within bounds; unset leaves the module's default in force. */
function OptionalInteger(min: number, max: number): PropertyDecorator {
  const toNumber = ({ value }: { value: unknown }): unknown => {
    const trimmed = typeof value === 'string' ? value.trim() : value;
    if (trimmed === '' || trimmed === undefined) return undefined;
    return typeof trimmed === 'string' && /^-?\d+$/.test(trimmed) ? Number(trimmed) : trimmed;
  };
  // Checked from the last decorator up: the type first, then the bounds.
  return (target, key) => [Max(max), Min(min), IsInt(), IsOptional(), Transform(toNumber)].forEach((decorate) => decorate(target, key));
}

/**
 * The process environment as the service accepts it, but for the LYRICS_* variables (see validateEnvironment).
 * Every variable of the README's configuration table is declared, so that a wrong value is refused at start with a
 * message naming it. Messages never echo values: several of these are secrets.
 */
export class Environment {
  @IsIn(NODE_ENVS)
  NODE_ENV: NodeEnv = 'development';

  // class-validator checks a property's decorators from the last one up, and we stop at the first failure.
  @Max(65535)
  @Min(0)
  @IsInt()
  @Type(() => Number)
  PORT = 3000;

  @Transform(emptyToUndefined)
  @ValidateIf((env: Environment) => isProduction(env) || env.DATABASE_URL !== undefined)
  @Matches(/^postgres(ql)?:\/\/\S+$/, { message: 'DATABASE_URL must be a postgres:// or postgresql:// URL' })
  @IsNotEmpty({ message: 'DATABASE_URL is required when NODE_ENV=production' })
  DATABASE_URL?: string;

  @Transform(toBoolean)
  @IsIn([true, false], { message: 'DATABASE_MIGRATIONS_RUN must be true or false' })
  DATABASE_MIGRATIONS_RUN = true;

  @IsNotEmpty()
  @IsString()
  EMBEDDED_POSTGRES_DIR = '.data/postgres';

  @Max(65535)
  @Min(1)
  @IsInt()
  @Type(() => Number)
  EMBEDDED_POSTGRES_PORT = 54329;

  @Transform(emptyToUndefined)
  @ValidateIf((env: Environment) => (isProduction(env) && env.KIE_API_KEYS === undefined) || env.KIE_API_KEY !== undefined)
  @IsNotEmpty({ message: 'KIE_API_KEY (or KIE_API_KEYS) is required when NODE_ENV=production' })
  KIE_API_KEY?: string;

  /** Several accounts, `name:key,...` (see parseKieAccounts); instead of KIE_API_KEY. */
  @Transform(emptyToUndefined)
  @IsOptional()
  @IsString()
  KIE_API_KEYS?: string;

  /** The HMAC keys of some or all of KIE_API_KEYS's accounts, `name:hmacKey,...`. */
  @Transform(emptyToUndefined)
  @IsOptional()
  @IsString()
  KIE_WEBHOOK_HMAC_KEYS?: string;

  @IsUrl({ require_tld: false, protocols: ['http', 'https'], require_protocol: true })
  KIE_BASE_URL = 'https://api.kie.ai';

  @IsIn(KIE_API_ROUTES, { message: `KIE_API_ROUTE must be one of ${KIE_API_ROUTES.join(', ')}` })
  KIE_API_ROUTE: KieApiRoute = 'legacy';

  @Max(600000)
  @Min(100)
  @IsInt()
  @Type(() => Number)
  KIE_TIMEOUT_MS = 15000;

  @OptionalInteger(100, 600000)
  KIE_CONNECT_TIMEOUT_MS?: number;

  @Transform(emptyToUndefined)
  @IsOptional()
  @IsString()
  KIE_WEBHOOK_HMAC_KEY?: string;

  @Transform(emptyToUndefined)
  @IsOptional()
  @IsUrl({ require_tld: false, protocols: ['http', 'https'], require_protocol: true })
  PUBLIC_BASE_URL?: string;

  @Transform(emptyToUndefined)
  @ValidateIf((env: Environment) => isProduction(env) || env.API_KEYS !== undefined)
  @IsNotEmpty({ message: 'API_KEYS is required when NODE_ENV=production' })
  API_KEYS?: string;

  @IsIn(LOG_LEVELS)
  LOG_LEVEL: LogLevelName = 'log';

  @OptionalInteger(1, 1000000)
  THROTTLE_LIMIT?: number;

  @OptionalInteger(1, 3600000)
  THROTTLE_TTL_MS?: number;

  @OptionalInteger(1, 1000000)
  AUTH_FAILURE_LIMIT?: number;

  @OptionalInteger(1000, 86400000)
  AUTH_FAILURE_WINDOW_MS?: number;

  @Transform(emptyToUndefined)
  @IsOptional()
  @Matches(/^\S+(\s*,\s*\S+)*$/, { message: 'CORS_ORIGINS must be a comma-separated list of origins' })
  CORS_ORIGINS?: string;

  @Transform(emptyToUndefined)
  @IsOptional()
  @IsString()
  TRUST_PROXY?: string;

  // LYRICS_* variables outside LYRICS_SETTING_TABLE (which holds numbers and switches only): lists.
  @Transform(emptyToUndefined)
  @IsOptional()
  @Matches(/^\s*\d{1,9}(\s*,\s*\d{1,9}){0,19}\s*$/, {
    message: 'LYRICS_WEBHOOK_RETRY_MS must be a comma-separated list of at most 20 delays in ms (1 to 604800000)',
  })
  LYRICS_WEBHOOK_RETRY_MS?: string;

  @Transform(emptyToUndefined)
  @IsOptional()
  @Matches(/^\s*[A-Za-z0-9.-]+(\s*,\s*[A-Za-z0-9.-]+)*\s*$/, {
    message: 'LYRICS_WEBHOOK_ALLOWED_HOSTS must be a comma-separated list of host names',
  })
  LYRICS_WEBHOOK_ALLOWED_HOSTS?: string;

  @OptionalInteger(1, 65535)
  METRICS_PORT?: number;

  @OptionalInteger(0, 1000000000)
  HEALTH_KIE_MIN_CREDITS?: number;

  @OptionalInteger(1000, 86400000)
  HEALTH_KIE_CACHE_MS?: number;
}

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/** Several accounts (KIE_API_KEYS, KIE_WEBHOOK_HMAC_KEYS) or one (KIE_API_KEY, KIE_WEBHOOK_HMAC_KEY), never both. */
function kieAccountProblems(env: Environment): string[] {
  if (env.KIE_API_KEYS === undefined) {
    return env.KIE_WEBHOOK_HMAC_KEYS === undefined
      ? []
      : ['KIE_WEBHOOK_HMAC_KEYS needs KIE_API_KEYS (use KIE_WEBHOOK_HMAC_KEY with KIE_API_KEY)'];
  }
  if (env.KIE_API_KEY !== undefined || env.KIE_WEBHOOK_HMAC_KEY !== undefined) {
    return ['set KIE_API_KEY and KIE_WEBHOOK_HMAC_KEY for one account, or KIE_API_KEYS and KIE_WEBHOOK_HMAC_KEYS for several, not both'];
  }
  return typeof env.KIE_API_KEYS === 'string' ? parseKieAccounts(env.KIE_API_KEYS, env.KIE_WEBHOOK_HMAC_KEYS).problems : [];
}

/** The environment as validated: the variables above, and the LYRICS_* ones. */
export type ValidatedEnvironment = Environment & LyricsEnvironment;

/**
 * Validates the environment; throws a ConfigError whose one-line message names every wrong variable.
 *
 * The LYRICS_* variables are not decorated properties of Environment: they are read from LYRICS_SETTING_TABLE, whose
 * bounds can refer to another setting or to KIE_TIMEOUT_MS, defaults included. The module's own check of the table
 * does that; class-validator would need each relation written again as a custom constraint.
 */
export function validateEnvironment(raw: Record<string, string | undefined>): ValidatedEnvironment {
  const env = plainToInstance(Environment, raw, { exposeDefaultValues: true });
  const errors = validateSync(env, { stopAtFirstError: true });
  const { lyrics, problems } = readLyricsEnvironment(raw, env, new Set(errors.map((error) => error.property)));
  problems.unshift(...errors.flatMap((error) => Object.values(error.constraints ?? {})));
  if (typeof env.API_KEYS === 'string') problems.push(...parseApiKeys(env.API_KEYS, isProduction(env)).problems);
  problems.push(...kieAccountProblems(env));
  if (typeof env.LYRICS_WEBHOOK_RETRY_MS === 'string' && !errors.some((error) => error.property === 'LYRICS_WEBHOOK_RETRY_MS')) {
    const delays = env.LYRICS_WEBHOOK_RETRY_MS.split(',').map(Number);
    if (delays.some((ms) => ms < 1 || ms > 604800000)) problems.push('LYRICS_WEBHOOK_RETRY_MS delays must be from 1 to 604800000 ms');
  }
  if (problems.length > 0) throw new ConfigError(`Invalid configuration: ${problems.join('; ')}`);
  return Object.assign(env, lyrics);
}
